"""The few lines `debut pipeline` ends with: headline metrics of the run date and the report's path."""
from __future__ import annotations

import os

from pyspark.sql import functions as F

from debut import io
from debut.config import Config


def print_pipeline_summary(spark, conf: Config, run_date) -> None:
    """Plan profit as % of oracle, forecast WAPE, NDCG@10 (warm), static vs adjusted; whatever exists."""
    from debut.report.build import headline
    from debut.report.job import report_path

    if not io.exists(spark, conf, "gold.evaluation"):
        print("[debut] summary: gold.evaluation is absent (no stage recorded metrics)")
    else:
        ev = (io.read(spark, conf, "gold.evaluation").where(F.col("run_date") == F.lit(run_date))
              .select("component", "metric", "slice", "value").toPandas())
        h = headline(ev)
        parts = []
        if h["profit_pct_oracle"] is not None:
            parts.append(f"plan profit {h['profit_pct_oracle']:.1f}% of oracle")
        if h["forecast_wape"] is not None:
            parts.append(f"forecast WAPE {h['forecast_wape']:.3f} (candidates vs truth)")
        if h["backtest_wape"] is not None:
            parts.append(f"backtest WAPE {h['backtest_wape']:.3f}")
        if h["ndcg@10_warm"] is not None:
            parts.append(f"NDCG@10 warm {h['ndcg@10_warm']:.3f}")
        if h["closed_loop_static"] is not None and h["closed_loop_adjusted"] is not None:
            parts.append(f"simulated profit static {h['closed_loop_static']:,.0f} vs adjusted "
                         f"{h['closed_loop_adjusted']:,.0f}")
        print("[debut] summary: " + ("; ".join(parts) if parts else f"no headline metrics for {run_date}"))
    path = report_path(conf, run_date)
    print(f"[debut] report: {path}" if os.path.exists(path) else "[debut] report: not written in this run")
