"""report: sections from tiny tables, self-contained HTML, the job on Delta tables, a Chromium screenshot."""
from __future__ import annotations

import datetime as dt
import os
import re

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
