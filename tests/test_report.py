"""report: sections from tiny tables, self-contained HTML, the job on Delta tables, a Chromium screenshot."""
from __future__ import annotations

import datetime as dt
import os
import re
from html.parser import HTMLParser

import pandas as pd
import pytest

from debut.report import build
from debut.report.screenshot import find_chromium, screenshot
from tests.conftest import as_table

RUN = dt.date(2026, 10, 1)


def _no_external_urls(text: str) -> None:
    bare = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", text)
    assert not re.search(r"https?:|ftp:|src=\"//|href=\"//|url\(|@import", bare, flags=re.I), "external URL"
    assert "<script" not in text and "<link" not in text


def test_every_section_renders_with_a_note_when_its_table_is_missing():
    text = build.render({}, RUN, None)
    for anchor in build.SECTIONS:
        assert f'id="{anchor}"' in text
    assert text.count("section omitted") == len(build.SECTIONS) - 1      # the summary always renders
    _no_external_urls(text)


def test_headline_prefers_the_warm_slice():
    ev = pd.DataFrame([("recommend", "ndcg@10", "warm.popularity", 0.1), ("recommend", "ndcg@10", "warm", 0.3),
                       ("evaluate", "profit_pct_oracle", "all", 81.5), ("forecast", "wape", "blend", 0.4)],
                      columns=["component", "metric", "slice", "value"])
    h = build.headline(ev)
    assert (h["ndcg@10_warm"], h["profit_pct_oracle"], h["backtest_wape"], h["forecast_wape"]) == (0.3, 81.5, 0.4, None)


class _Page(HTMLParser):
    """Rows of the plan section's tables and the summary tiles, as a browser would see their text."""

    def __init__(self):
        super().__init__()
        self.section, self.rows, self.tiles, self.headings = None, [], [], []
        self._cell, self._tile, self._h3 = None, None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section":
            self.section = a.get("id")
        elif tag == "tr" and self.section == "plan":
            self.rows.append([])
        elif tag in ("td", "th") and self.section == "plan":
            self._cell = []
        elif tag == "div" and "kpi" in (a.get("class") or "").split():
            self._tile = []
        elif tag == "h3" and self.section == "plan":
            self._h3 = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None
        elif tag == "div" and self._tile is not None:
            self.tiles.append(" ".join(self._tile))
            self._tile = None
        elif tag == "h3" and self._h3 is not None:
            self.headings.append("".join(self._h3))
            self._h3 = None

    def handle_data(self, data):
        for part in (self._cell, self._tile, self._h3):
            if part is not None:
                part.append(data)


def _parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    return page


def _plan_frames(n: int, title=lambda i: f"item {i}", category="uncategorised"):
    plan = pd.DataFrame({"plan_date": RUN, "category": category, "candidate_id": [f"C{i:03d}" for i in range(n)],
                         "launch": [i < 2 for i in range(n)], "quantity": [30 if i < 2 else 0 for i in range(n)],
                         "expected_profit": [100.0 - i for i in range(n)], "profit_p10": -5.0,
                         "stockout_prob": 0.2, "margin_rate": 0.4, "reason": "negative expected profit",
                         "decision_rank": range(1, n + 1)})
    fc = pd.DataFrame({"candidate_id": plan["candidate_id"], "category": category,
                       "title": [title(i) for i in range(n)], "p10": 2.0, "p50": 5.0, "p90": 9.0,
                       "neighbours": [[{"item_id": "I1", "title": title(i), "similarity": 0.5, "units": 3.0}]
                                      for i in range(n)]})
    return {"plan": plan, "forecast": fc}


def test_candidate_title_is_escaped_everywhere():
    evil = "<script>alert(1)</script>"
    d = _plan_frames(1, title=lambda i: evil, category="<b>bags</b>")
    d["segment_mix"] = pd.DataFrame({"candidate_id": ["C000"], "segment": [0], "share": [1.0]})
    d["segments"] = pd.DataFrame({"segment": [0], "label": [evil], "size": [1], "share": [1.0],
                                  "top_categories": [["x"]]})
    text = build.render(d, RUN, RUN)
    assert "<script" not in text and "<b>bags" not in text
    assert text.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 4    # title, neighbour, audience, segments table
    row = _parse(text).rows[1]
    assert row[1] == evil and row[-2] == f"{evil} (3 units, sim 0.50)" and row[-1] == f"{evil} 100%"


def test_plan_table_lists_every_row_of_a_plan_larger_than_a_page():
    text = build.render(_plan_frames(110), RUN, RUN, page_rows=40)
    page = _parse(text)
    body = [r for r in page.rows if r and r[0].startswith("C")]
    assert [r[0] for r in body] == [f"C{i:03d}" for i in range(110)]        # launched first, then by rank
    assert page.headings == ["uncategorised: 2 launched of 110"]
    assert "All 110 rows, 40 per page in 3 pages" in text
    assert [m for m in re.findall(r"<summary>([^<]*)</summary>", text)] == [
        "rows 1-40 of 110", "rows 41-80 of 110", "rows 81-110 of 110"]


def test_plan_of_one_page_has_no_pager():
    text = build.render(_plan_frames(3), RUN, RUN, page_rows=40)
    assert "<details" not in text and len([r for r in _parse(text).rows if r and r[0].startswith("C")]) == 3


def test_plan_status_rows_become_notes_not_candidates():
    d = _plan_frames(2)
    status = d["plan"].iloc[[0]].assign(candidate_id=None, launch=False, solver_status="infeasible",
                                        reason="budget below the minimum order")
    d["plan"] = pd.concat([d["plan"], status], ignore_index=True)
    text = build.render(d, RUN, RUN)
    assert "uncategorised: infeasible: budget below the minimum order" in text
    assert _parse(text).headings == ["uncategorised: 2 launched of 2"]


def test_empty_summary_tile_says_why():
    ev = pd.DataFrame([("forecast", "wape", "blend", 0.4)], columns=["component", "metric", "slice", "value"])
    tiles = _parse(build.render({**_plan_frames(3), "evaluation": ev}, RUN, RUN)).tiles
    assert tiles[0] == ("Plan profit, % of oracle n/a no simulator truth: profit vs oracle needs evaluate "
                        "on later sales")
    assert tiles[2] == "Forecast WAPE, backtest 0.40"
    assert all(" - " not in t and not t.endswith("-") for t in tiles)


# ------------------------------------------------------------- the job on Delta tables
def _write_tables(spark, conf):
    from debut import io
    from debut.evaluate.schema import LAUNCH_OUTCOMES
    from debut.forecast.schema import LAUNCH_FORECAST
    from debut.schemas import EVALUATION, SEGMENT_MIX, SEGMENTS

    plan = spark.createDataFrame(
        [(RUN, "bags", "C1", True, 40, 310.0, -20.0, 0.25, 0.6, "launch: best expected profit in bags", 1),
         (RUN, "bags", "C2", False, 0, 0.0, None, None, 0.2, "not launched: margin 20% too thin", 2)],
        "plan_date date, category string, candidate_id string, launch boolean, quantity int, expected_profit double, "
        "profit_p10 double, stockout_prob double, margin_rate double, reason string, decision_rank int")
    io.merge(as_table(plan, "gold.launch_plan"), conf, "gold.launch_plan")
    fc = []
    for cid, title, p50 in (("C1", "Canvas tote", 30.0), ("C2", "Leather clutch", 8.0)):
        fc.append({"candidate_id": cid, "plan_date": RUN, "category": "bags", "subcategory": "totes",
                   "brand": "acme", "title": title, "price": 25.0, "unit_cost": 10.0, "price_band": 2,
                   "horizon_weeks": 2, "mean_units": p50, "units_p10": p50 / 2, "units_p50": p50,
                   "units_p90": 2 * p50, "weekly_p10": [p50 / 4] * 2, "weekly_p50": [p50 / 2] * 2,
                   "weekly_p90": [p50] * 2, "quantile_levels": [0.1, 0.5, 0.9],
                   "quantile_units": [p50 / 2, p50, 2 * p50], "knn_units": p50, "net_units": None,
                   "audience_units": None, "weights": {"knn": 1.0},
                   "neighbours": [{"item_id": "I9", "title": "Jute tote bag", "similarity": 0.91, "units": 33.0}],
                   "method": "blend", "n_history": 12, "as_of_date": RUN})
    io.merge(spark.createDataFrame(pd.DataFrame(fc), LAUNCH_FORECAST), conf, "gold.launch_forecast")
    io.merge(spark.createDataFrame([("C1", 0, 150, 0.75, 0.8), ("C1", None, 50, 0.25, 0.2)], SEGMENT_MIX),
             conf, "gold.audience_segment_mix")
    io.merge(spark.createDataFrame([(0, 300, 0.6, ["bags", "shoes"], 0.9, 12.0, 3.0, 120.0,
                                     "frequent shoppers of bags", 3, 0.41, RUN)], SEGMENTS), conf, "gold.segments")
    now = dt.datetime(2026, 10, 1, 12)
    ev = [(RUN, "evaluate", "profit_pct_oracle", "all", 84.0, 2, now),
          (RUN, "evaluate", "forecast_wape", "all", 0.35, 2, now),
          (RUN, "recommend", "ndcg@10", "warm", 0.21, 150, now)]
    io.merge(spark.createDataFrame(ev, EVALUATION), conf, "gold.evaluation")
    out = []
    for policy, src, cid, launched, q, demand, profit, actions in [
            ("plan", "truth", "C1", True, 40, 35, 300.0, ""), ("plan", "truth", "C2", False, 0, 5, 0.0, ""),
            ("oracle", "truth", "C1", True, 35, 35, 350.0, ""), ("oracle", "truth", "C2", False, 0, 5, 0.0, ""),
            ("static", "play_forward", "C1", True, 40, 50, 280.0, ""),
            ("adjusted", "play_forward", "C1", True, 40, 50, 330.0, "day 14: reorder 12")]:
        out.append((RUN, policy, cid, "bags", src, launched, q, 0, 0, demand, [demand // 2, demand - demand // 2],
                    min(q, demand), max(demand - q, 0), max(q - demand, 0), 25.0 * min(q, demand), 10.0 * q, 300.0,
                    0.0, profit, actions, RUN))
    io.merge(spark.createDataFrame(out, LAUNCH_OUTCOMES), conf, "gold.launch_outcomes")


@pytest.fixture(scope="module")
def rendered(spark, tmp_path_factory):
    from conftest import make_conf
    from debut.report import job

    conf = make_conf(tmp_path_factory.mktemp("report"))
    _write_tables(spark, conf)
    path = job.run(spark, conf, RUN)
    with open(path, encoding="utf-8") as fh:
        return conf, path, fh.read()


def test_report_job_writes_the_page_with_its_sections(rendered):
    conf, path, text = rendered
    assert path == os.path.join(os.path.abspath(conf.paths.reports_dir), "2026-10-01", "index.html")
    for needle in ("Launch plan per category", "bags: 1 launched of 2", "launch: best expected profit in bags",
                   "not launched: margin 20% too thin", "Jute tote bag (33 units", "frequent shoppers of bags 75%",
                   "no profile 25%", "84.0%", "0.210", "day 14: reorder 12", "frequent shoppers of bags"):
        assert needle in text, needle
    # four plots: forecast vs actual, calibration, policies, static vs adjusted
    assert text.count('src="data:image/png;base64,') == 4
    # sections without their table say so
    assert "gold.launch_adjustments (no launched plan has been reviewed yet)" in text
    assert "gold.forecast_backtest is not available" in text
    _no_external_urls(text)


def test_report_renders_in_headless_chromium(rendered, tmp_path):
    if find_chromium() is None:
        pytest.skip("no chromium binary on PATH (apt-get install -y chromium)")
    _, path, _ = rendered
    png = screenshot(path, str(tmp_path / "report.png"), height=2400)
    with open(png, "rb") as fh:
        head = fh.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    assert (width, height) == (1280, 2400)
