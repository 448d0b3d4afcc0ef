"""``python -m debut.realdemo`` (``make demo-real``): the whole pipeline on a real export, planned
at a past date and scored on what sold after it.

A retailer backtesting debut on its own history does what this does with the
public Olist order lines (../shared/realdata/olist, or $DEBUT_REALDATA/olist):

1. The export as it stood on the planning date: the order lines are split by
   their time into the lines before --plan-date and the rest (two Parquet
   folders under <data_dir>/exports; every line lands in exactly one).
2. ``debut import order_lines <before>`` with run date --plan-date: the lake
   holds only what was known when the plan was made.
3. Candidates: the products first sold in the --days days from --plan-date
   (from the whole export), at their launch price, described by the items
   file as the catalog describes them, unit cost = ingest.unit_cost_share x
   price (debut.ingest.adapters.order_lines.first_sold_candidates), written
   to <landing>/candidates/candidates-<plan-date>.csv.
4. ``debut pipeline --from ingest`` at --plan-date: forecast, plan, report.
5. ``debut import order_lines <rest>`` with run date --eval-date, then
   aggregate, evaluate and report at --eval-date: evaluate finds the plan of
   --plan-date and scores it, the oracle and the naive policies on the
   candidates' real first weeks (printed, and in gold.launch_outcomes and the
   report).

The plan never sees a line after --plan-date: those lines enter the lake only
in step 5, after the plan is written. The demo's tables live under the env's
paths (conf/envs/olist.yaml: data/olist, reports/olist); ``--fresh`` removes
them first. Olist has no customer ids, so the customer stages write a skipped
status row and the pipeline goes on.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import time
from typing import List, Optional, Sequence

from debut import cli
from debut.config import load_config

OLIST_DIRS = ("../shared/realdata/olist", "shared/realdata/olist", "/work/shared/realdata/olist")


def _olist_dir() -> str:
    root = os.environ.get("DEBUT_REALDATA")
    for d in ([os.path.join(root, "olist")] if root else []) + list(OLIST_DIRS):
        if os.path.isdir(d):
            return d
    return OLIST_DIRS[0]


def _step(title: str) -> None:
    print(f"\n[demo-real] {title}", flush=True)


def _cli(argv: Sequence[str]) -> None:
    print(f"[demo-real] $ debut {' '.join(argv)}", flush=True)
    rc = cli.main(list(argv))
    if rc != 0:
        raise SystemExit(f"[demo-real] `debut {' '.join(argv)}` exited {rc}")


def split_export(spark, path: str, time_column: str, plan_date: dt.date, out_dir: str) -> List[str]:
    """Write the lines of ``path`` dated before ``plan_date`` and the others (later, or with no
    readable time: import quarantines those) to two Parquet folders; returns their paths."""
    from pyspark.sql import functions as F

    from debut.ingest.adapters import base, order_lines
    df = base.read_parquet(spark, path)
    t = order_lines.parse_time(F.col(f"`{time_column}`").cast("string"))
    early = F.coalesce(t < F.lit(dt.datetime.combine(plan_date, dt.time())), F.lit(False))
    before = os.path.join(out_dir, f"lines-before-{plan_date}")
    rest = os.path.join(out_dir, f"lines-from-{plan_date}")
    df.where(early).write.mode("overwrite").parquet(before)
    df.where(~early).write.mode("overwrite").parquet(rest)
    n, a, r = df.count(), spark.read.parquet(before).count(), spark.read.parquet(rest).count()
    if a + r != n:
        raise RuntimeError(f"split of {path}: {a:,} + {r:,} lines != {n:,} read")
    print(f"[demo-real] {path}: {n:,} lines = {a:,} before {plan_date} + {r:,} from then on", flush=True)
    return [before, rest]


def write_candidates(spark, conf, export: str, plan_date: dt.date, days: int, eval_date: dt.date) -> int:
    """The products first sold in [plan_date, plan_date + days) -> the plan's candidates file."""
    from pyspark.sql import functions as F

    from debut.ingest import common as c
    from debut.ingest.adapters import order_lines
    files = c.list_landing_files(spark, export, order_lines.ADAPTER.suffixes)
    good = (order_lines.validate(order_lines.read(spark, files), eval_date, conf.ingest, c.hash_key(conf))
            .where(F.col("_reason").isNull()))
    cands = order_lines.first_sold_candidates(spark, conf, good, start=plan_date,
                                              end=plan_date + dt.timedelta(days=days))
    pdf = cands.orderBy("candidate_id").toPandas()          # bounded by the window's launches
    target = os.path.join(conf.paths.landing_dir, "candidates", f"candidates-{plan_date}.csv")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    pdf.to_csv(target, index=False)
    print(f"[demo-real] {len(pdf):,} candidates (first sold {plan_date} .. "
          f"{plan_date + dt.timedelta(days=days - 1)}; median launch price {pdf['price'].median():.2f}, "
          f"{pdf['category'].nunique()} categories) -> {target}", flush=True)
    return len(pdf)


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m debut.realdemo", description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=None, help="the Olist folder (default: $DEBUT_REALDATA/olist or "
                                                 "../shared/realdata/olist)")
    ap.add_argument("--env", default="olist")
    ap.add_argument("--plan-date", default="2018-05-01")
    ap.add_argument("--days", type=int, default=30, help="candidates: first sold within this many days")
    ap.add_argument("--eval-date", default="2018-10-01", help="after the candidates' first weeks")
    ap.add_argument("--fresh", action="store_true", help="remove the env's data and reports folders first")
    args = ap.parse_args(argv)
    data = args.data or _olist_dir()
    os.environ.setdefault("DEBUT_REALDATA", os.path.dirname(os.path.abspath(data)))
    plan_date, eval_date = dt.date.fromisoformat(args.plan_date), dt.date.fromisoformat(args.eval_date)
    conf = load_config(args.env)
    # Olist has no customer ids: the key pseudonymises nothing here, but import requires one
    os.environ.setdefault(conf.ingest.hash_key_env, os.urandom(32).hex())
    if args.fresh:
        for d in (conf.paths.data_dir, conf.paths.reports_dir):
            shutil.rmtree(d, ignore_errors=True)
    t0 = time.time()
    from debut.spark import get_spark
    spark = get_spark(conf, app_name="debut-demo-real")
    common = ["--env", args.env]

    _step(f"1/5 the export as it stood on {plan_date}")
    export = os.path.join(data, "order_items.parquet")
    before, rest = split_export(spark, export, "shipping_limit_date", plan_date,
                                os.path.join(conf.paths.data_dir, "exports"))
    _step(f"2/5 import what was known on {plan_date}")
    _cli(["import", "order_lines", before, *common, "--run-date", str(plan_date)])
    _step(f"3/5 candidates: the products first sold in the {args.days} days from {plan_date}")
    write_candidates(spark, conf, export, plan_date, args.days, eval_date)
    _step(f"4/5 the pipeline at {plan_date}: forecast, plan, report")
    _cli(["pipeline", "--from", "ingest", *common, "--run-date", str(plan_date)])
    _step(f"5/5 the sales after {plan_date}, and the plan scored on them at {eval_date}")
    _cli(["import", "order_lines", rest, *common, "--run-date", str(eval_date)])
    for job in ("aggregate", "evaluate", "report"):
        _cli(["run", job, *common, "--run-date", str(eval_date)])
    print(f"[demo-real] done in {time.time() - t0:.0f}s; report under {conf.paths.reports_dir}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
