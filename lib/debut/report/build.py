"""The report's sections from small pandas frames (one per table, None when the table is missing).

Each section is a list of blocks (debut.report.html) that the Jinja2 templates
render with autoescape on; the plan shows every row, a page at a time.

Frames (all bounded by candidates, categories, segments or metrics):
  plan        gold.launch_plan rows of the plan date
  forecast    gold.launch_forecast rows of the plan date (P10/P50/P90 as p10/p50/p90, neighbours)
  segment_mix gold.audience_segment_mix of the plan's candidates
  segments    gold.segments
  outcomes    gold.launch_outcomes of the plan date
  evaluation  gold.evaluation of the run date
  adjustments gold.launch_adjustments of the latest review
  backtest    gold.forecast_backtest summarised per cutoff and method
  not_done    ops.stage_status rows of the run date that were skipped or failed
"""
from __future__ import annotations

from typing import Dict, List, Optional

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from debut.report import html as H  # noqa: E402

SECTIONS = ("summary", "plan", "forecast", "calibration", "profit", "closed-loop", "recommend",
            "segments", "adjustments", "backtest")


def _missing(what: str) -> List[H.Block]:
    return [H.note(f"{what} is not available for this run: section omitted.")]


def _metric(ev: Optional[pd.DataFrame], component: str, metric: str, slice_: str = "all") -> Optional[float]:
    if ev is None or ev.empty:
        return None
    m = ev[(ev["component"] == component) & (ev["metric"] == metric) & (ev["slice"] == slice_)]
    return None if m.empty or pd.isna(m["value"].iloc[0]) else float(m["value"].iloc[0])


def headline(ev: Optional[pd.DataFrame]) -> Dict[str, Optional[float]]:
    """The numbers the pipeline prints at its end and the report shows first."""
    ndcg = None
    if ev is not None and not ev.empty:
        rec = ev[ev["component"].str.startswith("recommend") & ev["metric"].str.lower().str.startswith("ndcg@10")]
        warm = rec[rec["slice"] == "warm"]
        pick = warm if not warm.empty else rec[rec["slice"] == "all"]
        ndcg = None if pick.empty else float(pick["value"].iloc[0])
    return {"profit_pct_oracle": _metric(ev, "evaluate", "profit_pct_oracle"),
            "forecast_wape": _metric(ev, "evaluate", "forecast_wape"),
            "backtest_wape": _metric(ev, "forecast", "wape", "blend"),
            "forecast_coverage": _metric(ev, "evaluate", "forecast_coverage_p10_p90"),
            "ndcg@10_warm": ndcg,
            "closed_loop_static": _metric(ev, "evaluate", "closed_loop_profit", "policy=static"),
            "closed_loop_adjusted": _metric(ev, "evaluate", "closed_loop_profit", "policy=adjusted")}


def _has(df: Optional[pd.DataFrame]) -> bool:
    return df is not None and not df.empty


def _tiles(d: Dict) -> List[Dict[str, Optional[str]]]:
    """The summary tiles; a missing number says what it needs."""
    ev, out, h = d.get("evaluation"), d.get("outcomes"), headline(d.get("evaluation"))
    has_plan, has_fc, has_ev = _has(d.get("plan")), _has(d.get("forecast")), _has(ev)
    has_truth = _has(out) and bool((out["demand_source"] != "play_forward").any())
    has_play = _has(out) and bool((out["demand_source"] == "play_forward").any())
    no_ev = "no metrics: gold.evaluation has no rows for this run date"

    def why(*rules) -> str:
        return next(text for cond, text in rules if cond)

    profit_why = why((not has_plan, "no launch plan for this run: profit vs oracle needs optimize, then evaluate"),
                     (not has_truth, "no simulator truth: profit vs oracle needs evaluate on later sales"),
                     (not has_ev, no_ev),
                     (True, "evaluate recorded no profit_pct_oracle for this run date"))
    forecast_why = why((not has_fc, "no launch forecast for this run: run forecast_launch"),
                       (not has_truth, "no simulator truth: the candidates' forecast is scored by evaluate on later sales"),
                       (not has_ev, no_ev),
                       (True, "evaluate recorded no forecast score for this run date"))
    backtest_why = why((not has_ev, no_ev),
                       (True, "forecast_launch recorded no backtest WAPE for this run date "
                              "(it needs past launches before its cutoffs)"))
    ndcg_why = why((not has_ev, no_ev),
                   (True, "no recommendation metrics for this run date: train_als did not run "
                          "(it needs identified customers)"))
    loop_why = why((not has_play, "simulator only: the closed loop replays the launches in the simulated marketplace"),
                   (True, "evaluate recorded no closed-loop profit for this run date"))

    def tile(label: str, value: Optional[float], shown: str, reason: str) -> Dict[str, Optional[str]]:
        return {"label": label, "value": None if value is None else shown, "why": reason}

    p = h["profit_pct_oracle"]
    return [tile("Plan profit, % of oracle", p, H.fmt(p, 1) + "%", profit_why),
            tile("Forecast WAPE, candidates", h["forecast_wape"], H.fmt(h["forecast_wape"], 2), forecast_why),
            tile("Forecast WAPE, backtest", h["backtest_wape"], H.fmt(h["backtest_wape"], 2), backtest_why),
            tile("P10-P90 coverage", h["forecast_coverage"], H.pct(h["forecast_coverage"]), forecast_why),
            tile("NDCG@10 (warm)", h["ndcg@10_warm"], H.fmt(h["ndcg@10_warm"], 3), ndcg_why),
            tile("Static plan profit (simulated)", h["closed_loop_static"], H.fmt(h["closed_loop_static"], 0),
                 loop_why),
            tile("Adjusted plan profit (simulated)", h["closed_loop_adjusted"], H.fmt(h["closed_loop_adjusted"], 0),
                 loop_why)]


def _summary(d: Dict) -> List[H.Block]:
    blocks = [H.kpis(_tiles(d))]
    plan = _candidate_rows(d.get("plan"))
    if _has(plan):
        launched = plan[plan["launch"].astype(bool)]
        blocks.append(H.para(f"{len(launched)} of {len(plan)} candidates launched in {plan['category'].nunique()} "
                             f"categories, {H.fmt(int(launched['quantity'].sum()))} units of stock, expected profit "
                             f"{H.fmt(float(launched['expected_profit'].sum()), 0)}."))
    if _has(d.get("not_done")):  # ops.stage_status: parts skipped for lack of an input (e.g. no customer ids)
        blocks += [H.heading("What this run could not do"), H.table(d["not_done"])]
    return blocks


def _candidate_rows(plan: Optional[pd.DataFrame]) -> Optional[pd.DataFrame]:
    """The plan's candidate rows (a per-category status row has no candidate_id)."""
    return plan if plan is None else plan[plan["candidate_id"].notna()]


def _neighbours_lines(nbrs) -> List[str]:
    if nbrs is None or len(nbrs) == 0:
        return ["-"]
    parts = []
    for n in list(nbrs)[:3]:
        n = n if isinstance(n, dict) else n.asDict() if hasattr(n, "asDict") else dict(n)
        parts.append(f"{n.get('title') or n.get('item_id')} ({H.fmt(n.get('units'), 0)} units, "
                     f"sim {H.fmt(n.get('similarity'), 2)})")
    return parts


def _segments_lines(mix: Optional[pd.DataFrame], labels: Dict) -> Dict[str, List[str]]:
    if mix is None or mix.empty:
        return {}
    out = {}
    for cid, g in mix.sort_values("share", ascending=False).groupby("candidate_id", sort=False):
        parts = []
        for r in g.head(2).to_dict("records"):
            seg = r["segment"]
            name = "no profile" if seg is None or pd.isna(seg) else labels.get(int(seg), f"segment {int(seg)}")
            parts.append(f"{name} {H.pct(r['share'])}")
        out[cid] = parts
    return out


def _plan(d: Dict, page_rows: int) -> List[H.Block]:
    plan, fc = d.get("plan"), d.get("forecast")
    if plan is None or plan.empty:
        return _missing("gold.launch_plan")
    status = plan[plan["candidate_id"].isna()]
    df = _candidate_rows(plan).copy()
    if fc is not None and not fc.empty:
        keep = [c for c in ("candidate_id", "title", "brand", "price", "unit_cost", "p10", "p50", "p90",
                            "neighbours") if c in fc.columns and (c == "candidate_id" or c not in df.columns)]
        df = df.merge(fc[keep], on="candidate_id", how="left")
    else:
        df["title"], df["p10"], df["p90"], df["neighbours"] = None, np.nan, np.nan, None
    labels = {}
    seg = d.get("segments")
    if seg is not None and not seg.empty:
        labels = dict(zip(seg["segment"].astype(int), seg["label"]))
    segs = _segments_lines(d.get("segment_mix"), labels)
    df["audience"] = [segs.get(cid, ["-"]) for cid in df["candidate_id"]]
    df["closest past launches"] = [_neighbours_lines(n) for n in df.get("neighbours", [None] * len(df))]
    df["P10-P90"] = [f"{H.fmt(a, 0)}-{H.fmt(b, 0)}" for a, b in zip(df["p10"], df["p90"])]
    df["margin"] = [H.pct(m) for m in df.get("margin_rate", [np.nan] * len(df))]
    df["stockout"] = [H.pct(x) for x in df.get("stockout_prob", [np.nan] * len(df))]
    df["launch?"] = df["launch"].map(lambda x: "LAUNCH" if x else "no")
    cols = ["candidate_id", "title", "launch?", "quantity", "expected_profit", "profit_p10", "P10-P90", "stockout",
            "margin", "reason", "closest past launches", "audience"]
    cols = [c for c in cols if c in df.columns]
    blocks = [H.text("Why each candidate was or was not launched: the optimizer's reason, its closest "
                     "past launches and how many units they sold over the horizon (the forecast's neighbours), the "
                     "customer segments of its predicted audience, its margin and its risk (P10-P90 units, "
                     "probability of selling out, profit in a bad case). Every candidate is listed, launched first.")]
    for r in status.to_dict("records"):
        blocks.append(H.note(f"{r['category']}: {r.get('solver_status') or 'status'}: {r.get('reason') or ''}"))
    sort_cols = [c for c in ("decision_rank", "expected_profit") if c in df.columns]
    for cat, g in df.groupby("category"):
        g = g.sort_values(["launch"] + sort_cols, ascending=[False] + [c == "decision_rank" for c in sort_cols])
        n_l = int(g["launch"].astype(bool).sum())
        blocks.append(H.paged(f"{cat}: {n_l} launched of {len(g)}", g, page_rows, columns=cols,
                              row_class=lambda r: "launch" if r.get("launch?") == "LAUNCH" else "",
                              lines=("closest past launches", "audience")))
    return blocks


def _actuals(d: Dict) -> Optional[pd.DataFrame]:
    out, fc = d.get("outcomes"), d.get("forecast")
    if out is None or out.empty or fc is None or fc.empty:
        return None
    truth = out[out["policy"] == "oracle"][["candidate_id", "demand", "demand_source"]]
    if truth.empty:
        return None
    return fc[["candidate_id", "category", "p10", "p50", "p90"]].merge(truth, on="candidate_id", how="inner")


def _forecast(d: Dict, dpi: int) -> List[H.Block]:
    df = _actuals(d)
    if df is None:
        return _missing("forecast actuals (gold.launch_forecast with gold.launch_outcomes)")
    cats = sorted(df["category"].unique())
    ncol = min(3, len(cats))
    nrow = int(np.ceil(len(cats) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.3 * ncol, 3.0 * nrow), squeeze=False)
    for ax, cat in zip(axes.ravel(), cats):
        g = df[df["category"] == cat].sort_values("p50").reset_index(drop=True)
        x = np.arange(len(g))
        ax.vlines(x, g["p10"], g["p90"], color="#9bb3d9", lw=5, label="P10-P90")
        ax.scatter(x, g["p50"], marker="_", s=120, color="#2b5fb3", label="P50")
        ax.scatter(x, g["demand"], color="#d0452f", s=14, zorder=3, label="actual")
        ax.set_title(cat, fontsize=10)
        ax.set_xticks([])
        ax.set_ylabel("units over horizon", fontsize=8)
    for ax in axes.ravel()[len(cats):]:
        ax.axis("off")
    axes[0, 0].legend(fontsize=7)
    src = ", ".join(sorted(df["demand_source"].unique()))
    return [H.text(f"Each candidate's forecast interval and what it would have sold over the horizon "
                   f"(source: {src}), sorted by P50 within its category."), H.png(fig, dpi, "forecast against actual")]


def _calibration(d: Dict, dpi: int) -> List[H.Block]:
    df = _actuals(d)
    ev = d.get("evaluation")
    if df is None:
        return _missing("forecast actuals")
    a = df["demand"].to_numpy(float)
    below, above = float(np.mean(a < df["p10"])), float(np.mean(a > df["p90"]))
    inside = 1.0 - below - above
    fig, ax = plt.subplots(figsize=(5.5, 2.6))
    ax.bar(["below P10", "inside P10-P90", "above P90"], [below, inside, above], color=["#d0452f", "#5c9c5c", "#d0452f"])
    ax.axhline(0.1, color="#777", ls=":", lw=1)
    ax.axhline(0.8, color="#777", ls=":", lw=1)
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of candidates")
    rows = []
    if ev is not None and not ev.empty:
        m = ev[(ev["component"] == "evaluate") & ev["metric"].str.startswith("forecast_")]
        if not m.empty:
            wide = m.assign(metric=m["metric"].str.replace("forecast_", "", regex=False)).pivot_table(
                index="slice", columns="metric", values="value", aggfunc="first").reset_index()
            rows.append(H.table(wide))
    return [H.text("A calibrated forecast has about 10% of actuals below P10, 80% inside and 10% "
                   "above P90 (dotted lines)."), H.png(fig, dpi, "calibration")] + rows


def _profit(d: Dict, dpi: int) -> List[H.Block]:
    out = d.get("outcomes")
    if out is None or out.empty or not (out["demand_source"] != "play_forward").any():
        return _missing("policy outcomes (gold.launch_outcomes against truth or later sales)")
    o = out[out["demand_source"] != "play_forward"]
    tot = o.groupby("policy")["profit"].sum().sort_values()
    oracle = tot.get("oracle")
    fig, ax = plt.subplots(figsize=(6.5, 0.45 * len(tot) + 1.0))
    colors = ["#2b5fb3" if p == "plan" else "#444" if p == "oracle" else "#9aa3b5" for p in tot.index]
    ax.barh(tot.index, tot.values, color=colors)
    ax.set_xlabel("realised profit over the horizon")
    t = tot.reset_index().rename(columns={"profit": "profit"})
    t["% of oracle"] = [None if not oracle or oracle <= 0 else 100 * v / oracle for v in t["profit"]]
    by_cat = (o[o["policy"].isin(["plan", "oracle"])].pivot_table(index="category", columns="policy", values="profit",
                                                                  aggfunc="sum").reset_index())
    if {"plan", "oracle"} <= set(by_cat.columns):
        by_cat["% of oracle"] = np.where(by_cat["oracle"] > 0, 100 * by_cat["plan"] / by_cat["oracle"], np.nan)
    return [H.png(fig, dpi, "profit per policy"), H.table(t.sort_values("profit", ascending=False)),
            H.heading("Per category"), H.table(by_cat)]


def _closed_loop(d: Dict, dpi: int) -> List[H.Block]:
    out = d.get("outcomes")
    if out is None or out.empty or not (out["demand_source"] == "play_forward").any():
        return _missing("the closed loop (simulator only)")
    o = out[out["demand_source"] == "play_forward"]
    piv = o.pivot_table(index="category", columns="policy", values="profit", aggfunc="sum").fillna(0.0)
    fig, ax = plt.subplots(figsize=(7, 3))
    x = np.arange(len(piv))
    for i, pol in enumerate([p for p in ("static", "adjusted") if p in piv.columns]):
        ax.bar(x + (i - 0.5) * 0.38, piv[pol], width=0.38, label=pol, color="#9aa3b5" if pol == "static" else "#2b5fb3")
    ax.set_xticks(x)
    ax.set_xticklabels(piv.index, fontsize=8, rotation=20)
    ax.set_ylabel("profit")
    ax.legend(fontsize=8)
    adj = o[(o["policy"] == "adjusted") & (o["actions"].fillna("") != "")]
    totals = o.groupby("policy")[["profit", "units_sold", "lost_units", "leftover", "reorder_units"]].sum().reset_index()
    return [H.text("The launched candidates replayed day by day in the simulator: the static plan against "
                   "the plan adjusted by the post-launch rules (reorders arrive after the lead time; delisting "
                   "salvages the stock; a markdown cuts the price and assumes a demand lift set in conf)."),
            H.png(fig, dpi, "static against adjusted plan"), H.table(totals), H.heading("Adjustments taken"),
            H.table(adj[["category", "candidate_id", "actions", "quantity", "reorder_units", "units_sold",
                         "leftover", "profit"]]) if not adj.empty else H.para("No adjustment was taken.")]


def _recommend(d: Dict) -> List[H.Block]:
    ev = d.get("evaluation")
    if ev is None or ev.empty:
        return _missing("gold.evaluation")
    m = ev[ev["component"].str.startswith("recommend") | ev["component"].str.startswith("deep")]
    if m.empty:
        return _missing("recommendation metrics")
    return [H.table(m[["component", "metric", "slice", "value", "n"]].sort_values(["component", "metric", "slice"]))]


def _segments(d: Dict) -> List[H.Block]:
    seg = d.get("segments")
    if seg is None or seg.empty:
        return _missing("gold.segments")
    s = seg.copy()
    s["top_categories"] = s["top_categories"].map(lambda v: ", ".join(v) if v is not None else "-")
    s["share"] = s["share"].map(H.pct)
    cols = [c for c in ("segment", "label", "size", "share", "top_categories", "mean_price_sensitivity",
                        "mean_recency_days", "mean_frequency", "mean_monetary") if c in s.columns]
    return [H.table(s.sort_values("segment"), cols)]


def _adjustments(d: Dict) -> List[H.Block]:
    adj = d.get("adjustments")
    if adj is None or adj.empty:
        return _missing("gold.launch_adjustments (no launched plan has been reviewed yet)")
    cols = [c for c in ("category", "candidate_id", "as_of_date", "days_observed", "units_sold", "censored_days",
                        "pace_ratio", "posterior_rate", "remaining_p10", "remaining_p50", "remaining_p90",
                        "stock_on_hand", "reorder_qty", "action", "reason") if c in adj.columns]
    return [H.table(adj.sort_values(["category", "candidate_id"]), cols)]


def _backtest(d: Dict) -> List[H.Block]:
    bt = d.get("backtest")
    ev = d.get("evaluation")
    parts = []
    if bt is not None and not bt.empty:
        parts += [H.text("The forecast stage's rolling-origin backtest over past launches."), H.table(bt)]
    if ev is not None and not ev.empty:
        r = ev[(ev["component"] == "evaluate") & (ev["metric"] == "replay_profit_pct_oracle")]
        if not r.empty:
            parts += [H.heading("Stock decision replayed at the backtest cutoffs"),
                      H.text("Newsvendor quantity from each past launch's backtest quantiles vs ordering its P50, "
                             "as % of ordering exactly what sold (per launch; no budget or shelf limits)."),
                      H.table(r[["slice", "value", "n"]])]
    return parts or _missing("gold.forecast_backtest")


def render(d: Dict[str, Optional[pd.DataFrame]], run_date, plan_date, dpi: int = 90, page_rows: int = 40) -> str:
    """The whole page; the plan lists every candidate, ``page_rows`` rows per page."""
    sections: List[tuple] = [
        ("summary", "Summary", _summary(d)),
        ("plan", "Launch plan per category", _plan(d, page_rows)),
        ("forecast", "Forecast against actual", _forecast(d, dpi)),
        ("calibration", "Calibration", _calibration(d, dpi)),
        ("profit", "Profit against oracle and naive policies", _profit(d, dpi)),
        ("closed-loop", "Static against adjusted plan", _closed_loop(d, dpi)),
        ("recommend", "Recommendation metrics", _recommend(d)),
        ("segments", "Segment profiles", _segments(d)),
        ("adjustments", "Post-launch adjustments", _adjustments(d)),
        ("backtest", "Backtests", _backtest(d)),
    ]
    return H.page(f"debut launch report {run_date}", f"plan date {plan_date or '-'}; run date {run_date}", sections)
