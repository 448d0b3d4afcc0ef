"""Benchmarks of the forecaster on data nobody here generated: ``python -m debut.forecast.bench olist``.

olist   derive a launch history from the public Olist export (a product's launch is its first
        sale by shipping_limit_date, its target the units (order_items rows) of its first 8
        weeks, features from products.parquet with English category names, launch price,
        seller) and backtest launches 2018-01-01 .. 2018-06-30 monthly, strictly causally.
speed   ``forecast-file`` on 5,000 synthetic launches x 12 weeks and 500 candidates, timed.
sim     the same backtest on a launch table written by ``debut.simulate`` (a launch-history file).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Optional

import numpy as np
import pandas as pd

from debut.forecast import harness, market
from debut.forecast.global_model import ModelParams
from debut.forecast.launches import week_cols

_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../../.."))
OLIST = os.environ.get("DEBUT_OLIST_DIR") or next(
    (d for d in (os.path.join(_ROOT, "../shared/realdata/olist"), os.path.join(_ROOT, "shared/realdata/olist"),
                 "/work/shared/realdata/olist") if os.path.isdir(d)), "../shared/realdata/olist")
WEEKS = 8
LATE_DAYS = 30           # shipping dates this far past the bulk of the data are typos (up to 2020)


def _olist_lines(root: str):
    """(order lines in time order without the late typos, products with English category names)."""
    items = pd.read_parquet(os.path.join(root, "order_items.parquet"))
    products = pd.read_parquet(os.path.join(root, "products.parquet"))
    names = pd.read_parquet(os.path.join(root, "product_category_name_translation.parquet"))
    t = pd.to_datetime(items["shipping_limit_date"], utc=True).dt.tz_localize(None)
    bulk_end = t.quantile(0.999)
    keep = t <= bulk_end + pd.Timedelta(days=LATE_DAYS)
    items = items[keep].assign(t=t[keep]).sort_values(["t", "order_id", "order_item_id"], kind="stable")
    prod = products.merge(names, on="product_category_name", how="left").set_index("product_id")
    prod["category"] = prod["product_category_name_english"].fillna(prod["product_category_name"])
    return items, prod


def olist_daily(root: str = OLIST) -> pd.DataFrame:
    """Per category and day: units (order lines) and active items (products sold that day), the
    silver.category_daily of the export."""
    items, prod = _olist_lines(root)
    x = items.assign(category=items["product_id"].map(prod["category"]), date=items["t"].dt.normalize())
    x = x[x["category"].notna()]
    return (x.groupby(["category", "date"]).agg(units=("product_id", "size"), active_items=("product_id", "nunique"))
            .reset_index())


def olist_launches(root: str = OLIST, weeks: int = WEEKS) -> pd.DataFrame:
    """One row per product: item_id, launch_date, category, price, seller, seller_state, product
    attributes, week_1..week_N units; rows whose N weeks run past the data's end have NaN weeks."""
    items, prod = _olist_lines(root)
    sellers = pd.read_parquet(os.path.join(root, "sellers.parquet"))
    data_end = items["t"].max()
    first = items.groupby("product_id", sort=False).first()
    launch = first["t"].rename("launch")
    x = items.join(launch, on="product_id")
    week = ((x["t"] - x["launch"]).dt.days // 7 + 1).astype(int)
    x = x[week <= weeks].assign(week=week[week <= weeks])
    w = x.groupby(["product_id", "week"]).size().unstack(fill_value=0).reindex(columns=range(1, weeks + 1),
                                                                                fill_value=0)
    w.columns = week_cols(weeks)
    w = w.astype(float)
    # weeks not over by the data's end are unknown
    lday = launch.reindex(w.index)
    for k in range(1, weeks + 1):
        w.loc[(lday + pd.Timedelta(days=7 * k)) > data_end, f"week_{k}"] = np.nan
    out = pd.DataFrame({"item_id": w.index, "launch_date": lday.dt.normalize().to_numpy()})
    out["category"] = prod["category"].reindex(w.index).to_numpy(object)
    out["price"] = first["price"].reindex(w.index).to_numpy(float)
    out["seller"] = first["seller_id"].reindex(w.index).to_numpy(object)
    out["seller_state"] = first["seller_id"].reindex(w.index).map(
        sellers.set_index("seller_id")["seller_state"]).to_numpy(object)
    for c in ("product_name_lenght", "product_description_lenght", "product_photos_qty", "product_weight_g",
              "product_length_cm", "product_height_cm", "product_width_cm"):
        out[c.replace("lenght", "length")] = pd.to_numeric(prod[c].reindex(w.index), errors="coerce").to_numpy(float)
    out = pd.concat([out.reset_index(drop=True), w.reset_index(drop=True)], axis=1)
    return out.sort_values(["launch_date", "item_id"], kind="stable").reset_index(drop=True)


def backtest_table(table: pd.DataFrame, cutoffs, end=None, csv: Optional[str] = None,
                   params: Optional[ModelParams] = None, test_view=None) -> pd.DataFrame:
    params = params or ModelParams()
    t0 = time.time()
    rows = harness.run(table, cutoffs, end=end, params=params, test_view=test_view)
    summary = harness.summarise(rows, params.quantiles)
    print(harness.table_text(summary))
    for line in harness.verdict(summary):
        print("  " + line)
    d = rows[rows["method"] == "debut"]
    err = (d["actual"] - d["p50"]).abs().groupby(d["cutoff_date"]).sum()
    per = err / d["actual"].groupby(d["cutoff_date"]).sum()
    print("  debut WAPE per cutoff: " + ", ".join(f"{k} {v:.3f}" for k, v in per.items()))
    print(f"  backtest time {time.time() - t0:.1f}s")
    if csv:
        summary.to_csv(csv, index=False)
    return summary


def olist(args) -> None:
    t0 = time.time()
    table = olist_launches(args.data)
    first_half = (table.launch_date >= "2018-01-01") & (table.launch_date < "2018-07-01")
    print(f"[bench] olist: {len(table)} products, launch history derived in {time.time() - t0:.1f}s; "
          f"launches 2018-01..06: {int(first_half.sum())}")
    cutoffs = pd.date_range("2018-01-01", "2018-06-01", freq="MS")
    view = None
    if args.market:
        # past launches: their category's market before their launch day; launches being forecast: before
        # the cutoff (debut.forecast.market), so nothing after the cutoff is seen
        daily = olist_daily(args.data)
        table = market.attach(table, market.levels_from_daily(daily, table))

        def view(test: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
            at_cutoff = test.assign(launch_date=cutoff)
            out = market.attach(at_cutoff, market.levels_from_daily(daily, at_cutoff))
            return out.assign(launch_date=test["launch_date"].to_numpy())
        print(f"[bench] market: {int(table[market.UNITS].notna().sum())} launches with their category's "
              f"28 days before launch (silver.category_daily of the export)")
    backtest_table(table, cutoffs, end=pd.Timestamp("2018-07-01"), csv=args.csv, test_view=view)


def synthetic_history(n: int, weeks: int, seed: int = 0) -> pd.DataFrame:
    """A fashion-like launch file: category path, colour, fabric, season, release date, weeks, no price."""
    rng = np.random.default_rng(seed)
    cats = [f"dept{a} > type{b}" for a in range(6) for b in range(8)]
    cat = rng.choice(cats, n)
    colour = rng.choice(["black", "white", "red", "blue", "green", "beige"], n)
    fabric = rng.choice(["cotton", "wool", "silk", "denim", "linen"], n)
    dates = pd.Timestamp("2022-01-03") + pd.to_timedelta(rng.integers(0, 900, n), unit="D")
    level = np.exp(1.5 + rng.normal(0, 0.6, len(cats)))[np.searchsorted(sorted(cats), cat)]
    level = level * (1.5 * (colour == "black") + 1) * np.exp(rng.normal(0, 0.5, n))
    shape = np.exp(-0.15 * np.arange(weeks))
    units = rng.poisson(level[:, None] * shape[None, :])
    df = pd.DataFrame({"item_id": [f"p{i:05d}" for i in range(n)], "category": cat, "colour": colour,
                       "fabric": fabric, "season": np.where(dates.month.isin([3, 4, 5, 6, 7, 8]), "SS", "AW"),
                       "launch_date": dates.date.astype(str)})
    for k in range(weeks):
        df[f"week_{k + 1}"] = units[:, k]
    return df


def speed(args) -> None:
    import subprocess
    import tempfile

    n, weeks = 5000, 12
    with tempfile.TemporaryDirectory() as tmp:
        hist = synthetic_history(n + 500, weeks)
        cands = hist.iloc[n:].drop(columns=week_cols(weeks)).rename(columns={"item_id": "candidate_id"})
        hist.iloc[:n].to_csv(os.path.join(tmp, "history.csv"), index=False)
        cands.to_csv(os.path.join(tmp, "candidates.csv"), index=False)
        t0 = time.time()
        # the command a user runs, in its own interpreter: the time includes start-up, and the
        # child reports whether pyspark was imported
        probe = ("import sys; import debut.cli as c; rc = c.main(sys.argv[1:]); "
                 "print('pyspark imported:', 'pyspark' in sys.modules); sys.exit(rc)")
        rc = subprocess.call([sys.executable, "-c", probe, "forecast-file",
                              "--history", os.path.join(tmp, "history.csv"),
                              "--candidates", os.path.join(tmp, "candidates.csv"),
                              "--out", os.path.join(tmp, "out.parquet"),
                              "--weeks", str(weeks), "--env", "local", "--run-date", "2024-09-01"])
        took = time.time() - t0
        print(f"[bench] forecast-file on {n} launches x {weeks} weeks, 500 candidates: {took:.1f}s "
              f"(rc {rc}; target < 60 s on 2 cores)")


def sim(args) -> None:
    from debut.forecast.launches import clean_history, read_file
    cleaned = clean_history(read_file(args.history), args.history)
    cleaned.report("bench")
    table = cleaned.table
    cutoffs = harness.monthly_cutoffs(table, table.filter(like="week_").shape[1])
    backtest_table(table, cutoffs, csv=args.csv)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m debut.forecast.bench")
    sub = p.add_subparsers(dest="what", required=True)
    o = sub.add_parser("olist")
    o.add_argument("--data", default=OLIST)
    o.add_argument("--csv", default=None)
    o.add_argument("--no-market", dest="market", action="store_false",
                   help="without the categories' daily sales (the launch history alone)")
    sub.add_parser("speed")
    s = sub.add_parser("sim")
    s.add_argument("--history", required=True)
    s.add_argument("--csv", default=None)
    args = p.parse_args(argv)
    {"olist": olist, "speed": speed, "sim": sim}[args.what](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
