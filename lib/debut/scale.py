"""Scale runs and the ingest/aggregate benchmark (on demand, never in CI).

    python -m debut.scale run --events 10M [--stages ingest,aggregate,build_features,train_als]
    python -m debut.scale duckdb --events 10M      # ingest + item_daily: debut on Spark vs DuckDB
    python -m debut.scale floor --events 1M        # debut ingest + aggregate vs plain Spark on the same files

``run`` sizes the simulator for the requested number of events (users scale,
the 120-day history and the sessions per user stay as in base.yaml; items go
to ``--items``), then runs the stages in one local Spark session and prints,
per stage: wall time, events/s, shuffle spill (memory and disk) and the peak
JVM heap, read from Spark's own REST API (the same numbers the Spark UI shows).
Peak process RSS of the driver JVM (which in local mode holds the executors
too) is sampled every second with psutil.

``duckdb`` is the named alternative for the logs layer: DuckDB reads the same
landing JSON, drops duplicate event ids and computes the item x day funnel
(views, carts, purchases, units, revenue) that silver.item_daily holds. debut
does more (quarantine with reasons, per-file reconciliation, pseudonymisation,
orders, sessions, incremental MERGE), so the ratio is an upper bound on what
that work costs.

``floor`` is the plain-Spark floor of the same work, in the same session on the
same files: text + from_json, dedup on event_id, a partitioned Delta bronze
write, the item x day funnel from bronze and its Delta silver write. Then
debut's ingest and aggregate run, the item x day rows of both are compared
(views, carts, purchases, units: 0 rows may differ) and the report gives both
times, the ratio, events/s, Spark jobs and Delta commits per stage, and DuckDB's
time as a reference column when duckdb is installed. The load average is printed
with the figures: on a shared machine the ratio is what to read.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import sys
import time
import urllib.request
from typing import Dict, List, Optional

from debut.core.memory import RssSampler

RUN_DATE = dt.date(2026, 10, 1)
EVENTS_PER_USER = 85.0          # default simulator: ~255k events for 3,000 users over 120 days


def parse_count(text: str) -> int:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([kKmM]?)", text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"not a count: {text!r} (e.g. 500k, 10M)")
    return int(float(m.group(1)) * {"": 1, "k": 1e3, "K": 1e3, "m": 1e6, "M": 1e6}[m.group(2)])


def scaled_conf(base: str, events: int, items: int, driver_memory: str, users: Optional[int] = None):
    """The local conf for a scale run. ``users`` (default events / 85) fixes the customer count;
    the sessions per customer then scale so the history still holds about ``events`` events."""
    from debut.config import load_config

    default_users = max(1000, int(events / EVENTS_PER_USER))
    users = users or default_users
    sessions = load_config("local").simulate.sessions_per_user_day * default_users / users
    categories = 50 if items >= 20_000 else 8
    return load_config("local", [
        f"paths.data_dir={base}/data", f"paths.landing_dir={base}/landing", f"paths.truth_dir={base}/truth",
        f"paths.reports_dir={base}/reports", f"paths.checkpoint_dir={base}/data/_checkpoints",
        f"paths.petastorm_cache={base}/data/_petastorm",
        f"simulate.users={users}", f"simulate.sessions_per_user_day={sessions:.6g}",
        f"simulate.categories={categories}",
        f"simulate.items_per_category={max(10, items // categories)}",
        f"simulate.files_per_day={max(1, events // 2_000_000)}",
        # clean input: DuckDB's side applies no quarantine rules, so the item x day rows must agree exactly
        "simulate.dirty_rate=0.0",
        "spark.ui_enabled=true", f"spark.driver_memory={driver_memory}",
        # one ALS fit at scale: the grid search is for the demo-sized tuning runs
        "recommend.grid_ranks=[]", "recommend.grid_reg_params=[]", "recommend.grid_alphas=[]",
        # ranking metrics on a 100k-customer sample: at 1M customers the random baseline alone would
        # draw 10^11 scores
        "recommend.eval_max_customers=100000",
    ])


def _rest(spark, path: str):
    url = spark.sparkContext.uiWebUrl
    if not url:
        return None
    app = spark.sparkContext.applicationId
    try:
        with urllib.request.urlopen(f"{url}/api/v1/applications/{app}/{path}", timeout=10) as r:
            return json.loads(r.read().decode())
    except OSError:
        return None


def spark_metrics(spark) -> Dict[str, float]:
    """Shuffle spill over all completed stages and the executors' peak JVM heap (bytes)."""
    stages = _rest(spark, "stages?status=complete") or []
    execs = _rest(spark, "allexecutors") or []
    peak_heap = max((e.get("peakMemoryMetrics", {}).get("JVMHeapMemory", 0) for e in execs), default=0)
    return {"spill_memory": float(sum(s.get("memoryBytesSpilled", 0) for s in stages)),
            "spill_disk": float(sum(s.get("diskBytesSpilled", 0) for s in stages)),
            "peak_heap": float(peak_heap), "stages": float(len(stages))}


def _gb(x: float) -> str:
    return f"{x / 2 ** 30:.2f} GB"


def run(base: str, events: int, items: int, stages: List[str], driver_memory: str, fresh: bool,
        users: Optional[int] = None) -> List[Dict]:
    from debut.cli import run_job
    from debut.spark import get_spark

    if fresh and os.path.exists(base):
        shutil.rmtree(base)
    conf = scaled_conf(base, events, items, driver_memory, users)
    rows = []
    with RssSampler() as rss:
        if "simulate" in stages or not os.path.exists(os.path.join(base, "truth", "summary.json")):
            t0 = time.time()
            run_job("simulate", conf, RUN_DATE)
            rows.append({"stage": "simulate", "seconds": time.time() - t0})
        summary = json.load(open(os.path.join(base, "truth", "summary.json")))
        n_events = summary["events"]
        print(f"[scale] {n_events:,} events, {summary['users']:,} customers, {summary['catalog_items']:,} items, "
              f"{summary['order_lines']:,} order lines", flush=True)
        spark = get_spark(conf, app_name="debut-scale")
        before = spark_metrics(spark)
        for stage in [s for s in stages if s != "simulate"]:
            t0 = time.time()
            run_job(stage, conf, RUN_DATE, spark=spark)
            after = spark_metrics(spark)
            rows.append({"stage": stage, "seconds": time.time() - t0,
                         "spill_memory": after["spill_memory"] - before["spill_memory"],
                         "spill_disk": after["spill_disk"] - before["spill_disk"],
                         "peak_heap": after["peak_heap"], "peak_rss": float(rss.peak)})
            before = after
            r = rows[-1]
            print(f"[scale] {stage}: {r['seconds']:.1f}s ({n_events / r['seconds']:,.0f} events/s), spill "
                  f"{_gb(r['spill_memory'])} mem / {_gb(r['spill_disk'])} disk, peak heap {_gb(r['peak_heap'])}, "
                  f"peak RSS {_gb(r['peak_rss'])}", flush=True)
    print(json.dumps({"events": n_events, "users": summary["users"], "items": summary["catalog_items"],
                      "stages": rows}, indent=1))
    return rows


DUCKDB_ITEM_DAILY = """
CREATE OR REPLACE TABLE item_daily AS
WITH ev AS (
  SELECT * FROM read_json('{glob}', format='newline_delimited', ignore_errors=true,
    columns={{event_id: 'VARCHAR', event_time: 'VARCHAR', event_type: 'VARCHAR', user_id: 'VARCHAR',
             session_id: 'VARCHAR', item_id: 'VARCHAR', price: 'DOUBLE', quantity: 'BIGINT',
             query: 'VARCHAR', channel: 'VARCHAR'}})
  WHERE event_id IS NOT NULL AND event_time IS NOT NULL
  QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY event_time) = 1
)
SELECT item_id, CAST(try_cast(event_time AS TIMESTAMP) AS DATE) AS date,
       count(*) FILTER (WHERE event_type = 'view') AS views,
       count(*) FILTER (WHERE event_type = 'cart') AS carts,
       count(*) FILTER (WHERE event_type = 'purchase') AS purchases,
       coalesce(sum(quantity) FILTER (WHERE event_type = 'purchase'), 0) AS units,
       coalesce(sum(price * quantity) FILTER (WHERE event_type = 'purchase'), 0) AS revenue
FROM ev WHERE item_id IS NOT NULL GROUP BY ALL
"""


def duckdb_item_daily(landing: str, out_parquet: str, threads: int = 2) -> Dict[str, float]:
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET threads={threads}")
    t0 = time.time()
    con.execute(DUCKDB_ITEM_DAILY.format(glob=os.path.join(landing, "events", "**", "*.jsonl")))
    seconds = time.time() - t0
    rows, units = con.execute("SELECT count(*), sum(units) FROM item_daily").fetchone()
    con.execute(f"COPY item_daily TO '{out_parquet}' (FORMAT parquet)")
    return {"seconds": seconds, "rows": float(rows), "units": float(units or 0)}


def item_daily_mismatches(spark, conf, duck_parquet: str) -> int:
    """(item, day) rows where silver.item_daily and DuckDB disagree on the event funnel."""
    from pyspark.sql import functions as F

    from debut import io

    cols = ["views", "carts", "purchases", "units"]
    ours = (io.read(spark, conf, "silver.item_daily").select("item_id", "date", *cols)
            .where(" + ".join(cols) + " > 0"))
    theirs = spark.read.parquet(duck_parquet).select("item_id", "date", *[F.col(c).cast("long") for c in cols])
    joined = ours.alias("a").join(theirs.alias("b"), ["item_id", "date"], "full_outer")
    differ = F.lit(False)
    for c in cols:
        differ = differ | ~F.coalesce(F.col(f"a.{c}"), F.lit(0)).eqNullSafe(F.coalesce(F.col(f"b.{c}"), F.lit(0)))
    return joined.where(differ).count()


def compare_duckdb(base: str, events: int, items: int, driver_memory: str, fresh: bool) -> Dict[str, float]:
    from debut import io
    from debut.spark import get_spark

    rows = run(base, events, items, ["ingest", "aggregate"], driver_memory, fresh)
    conf = scaled_conf(base, events, items, driver_memory)
    spark = get_spark(conf)
    n_events = json.load(open(os.path.join(base, "truth", "summary.json")))["events"]
    debut_s = sum(r["seconds"] for r in rows if r["stage"] in ("ingest", "aggregate"))
    debut_units = io.read(spark, conf, "silver.item_daily").agg({"units": "sum"}).first()[0]
    duck_out = os.path.join(base, "duckdb_item_daily.parquet")
    duck = duckdb_item_daily(conf.paths.landing_dir, duck_out)
    mismatches = item_daily_mismatches(spark, conf, duck_out)
    out = {"events": n_events, "debut_seconds": debut_s, "duckdb_seconds": duck["seconds"],
           "debut_events_per_s": n_events / debut_s, "duckdb_events_per_s": n_events / duck["seconds"],
           "ratio_debut_over_duckdb": debut_s / duck["seconds"],
           "units_debut": float(debut_units or 0), "units_duckdb": duck["units"],
           "item_day_rows_that_differ": mismatches}
    print(f"[scale] ingest+aggregate on {n_events:,} events: debut (Spark local[2]) {debut_s:.1f}s "
          f"({out['debut_events_per_s']:,.0f} events/s) vs DuckDB item_daily only {duck['seconds']:.1f}s "
          f"({out['duckdb_events_per_s']:,.0f} events/s): debut takes {out['ratio_debut_over_duckdb']:.1f}x; "
          f"units {out['units_debut']:,.0f} vs {out['units_duckdb']:,.0f}; item x day rows that differ: {mismatches}")
    print(json.dumps(out, indent=1))
    return out


def _jobs(spark) -> int:
    from debut.cli import spark_jobs_started
    return spark_jobs_started(spark)


def _commits(spark, conf) -> int:
    """Delta commits across every table of the lake (sum of versions + 1)."""
    from debut import io
    return sum(io.version(spark, conf, n) + 1 for n in io.TABLES if io.exists(spark, conf, n))


def floor_spark(spark, landing: str, out: str) -> List[Dict]:
    """The plain-Spark floor: text + from_json, dedup, partitioned Delta bronze, item x day, Delta silver."""
    from pyspark.sql import functions as F

    from debut import schemas

    rows = []
    t0, j0 = time.time(), _jobs(spark)
    lines = spark.read.text(os.path.join(landing, "events", "*", "*.jsonl"))
    ev = (lines.select(F.from_json("value", schemas.RAW_EVENT).alias("j")).select("j.*")
          .withColumn("event_time", F.to_timestamp("event_time"))
          .withColumn("event_date", F.to_date("event_time"))
          .withColumn("price", F.col("price").cast("double")).withColumn("quantity", F.col("quantity").cast("int"))
          .where(F.col("event_id").isNotNull() & F.col("event_time").isNotNull())
          .dropDuplicates(["event_id"]))
    bronze = os.path.join(out, "bronze_events")
    ev.repartition("event_date").write.format("delta").mode("overwrite").partitionBy("event_date").save(bronze)
    rows.append({"stage": "floor ingest", "seconds": time.time() - t0, "jobs": _jobs(spark) - j0, "commits": 1})
    t0, j0 = time.time(), _jobs(spark)
    b = spark.read.format("delta").load(bronze).where(F.col("item_id").isNotNull())
    is_p = F.col("event_type") == "purchase"
    daily = (b.groupBy("item_id", F.col("event_date").alias("date"))
             .agg(F.count(F.when(F.col("event_type") == "view", 1)).alias("views"),
                  F.count(F.when(F.col("event_type") == "cart", 1)).alias("carts"),
                  F.count(F.when(is_p, 1)).alias("purchases"),
                  F.coalesce(F.sum(F.when(is_p, F.col("quantity"))), F.lit(0)).cast("long").alias("units"),
                  F.coalesce(F.sum(F.when(is_p, F.col("price") * F.col("quantity"))), F.lit(0.0)).alias("revenue")))
    daily.write.format("delta").mode("overwrite").save(os.path.join(out, "silver_item_daily"))
    rows.append({"stage": "floor aggregate", "seconds": time.time() - t0, "jobs": _jobs(spark) - j0, "commits": 1})
    return rows


def floor_mismatches(spark, conf, floor_out: str) -> int:
    """(item, day) rows where debut's silver.item_daily and the floor's disagree on the event funnel."""
    from pyspark.sql import functions as F

    from debut import io

    cols = ["views", "carts", "purchases", "units"]
    ours = (io.read(spark, conf, "silver.item_daily").select("item_id", "date", *cols)
            .where(" + ".join(cols) + " > 0"))
    theirs = spark.read.format("delta").load(os.path.join(floor_out, "silver_item_daily")).select(
        "item_id", "date", *[F.col(c).cast("long") for c in cols])
    joined = ours.alias("a").join(theirs.alias("b"), ["item_id", "date"], "full_outer")
    differ = F.lit(False)
    for c in cols:
        differ = differ | ~F.coalesce(F.col(f"a.{c}"), F.lit(0)).eqNullSafe(F.coalesce(F.col(f"b.{c}"), F.lit(0)))
    return joined.where(differ).count()


def compare_floor(base: str, events: int, items: int, driver_memory: str, fresh: bool) -> Dict:
    """Plain-Spark floor, then debut ingest + aggregate, in one session on the same files."""
    from debut.cli import run_job
    from debut.spark import get_spark

    if fresh and os.path.exists(base):
        shutil.rmtree(base)
    conf = scaled_conf(base, events, items, driver_memory)
    if not os.path.exists(os.path.join(base, "truth", "summary.json")):
        run_job("simulate", conf, RUN_DATE)
    n_events = json.load(open(os.path.join(base, "truth", "summary.json")))["events"]
    for d in ("data", "floor"):  # debut's and the floor's tables start empty; the landing files stay
        shutil.rmtree(os.path.join(base, d), ignore_errors=True)
    spark = get_spark(conf, app_name="debut-floor")
    load = os.getloadavg()[0]
    floor_out = os.path.join(base, "floor")
    rows = floor_spark(spark, conf.paths.landing_dir, floor_out)
    for stage in ("ingest", "aggregate"):
        t0, j0, c0 = time.time(), _jobs(spark), _commits(spark, conf)
        run_job(stage, conf, RUN_DATE, spark=spark)
        rows.append({"stage": f"debut {stage}", "seconds": time.time() - t0, "jobs": _jobs(spark) - j0,
                     "commits": _commits(spark, conf) - c0})
    mismatches = floor_mismatches(spark, conf, floor_out)
    duck = None
    try:
        duck = duckdb_item_daily(conf.paths.landing_dir, os.path.join(base, "duckdb_item_daily.parquet"))
    except ImportError:
        pass
    floor_s = sum(r["seconds"] for r in rows if r["stage"].startswith("floor"))
    debut_s = sum(r["seconds"] for r in rows if r["stage"].startswith("debut"))
    for r in rows:
        print(f"[floor] {r['stage']:<16} {r['seconds']:8.1f}s  {n_events / r['seconds']:>10,.0f} events/s  "
              f"{r['jobs']:4d} Spark jobs  {r['commits']:3d} Delta commits")
    print(f"[floor] {n_events:,} events, load average {load:.1f} at start, {os.getloadavg()[0]:.1f} at end: "
          f"plain Spark {floor_s:.1f}s, debut {debut_s:.1f}s: ratio {debut_s / floor_s:.2f}x; "
          + (f"DuckDB (item x day only) {duck['seconds']:.1f}s; " if duck else "DuckDB not installed; ")
          + f"item x day rows that differ: {mismatches}")
    out = {"events": n_events, "load_start": load, "stages": rows, "floor_seconds": floor_s,
           "debut_seconds": debut_s, "ratio": debut_s / floor_s, "item_day_rows_that_differ": mismatches,
           "duckdb_seconds": duck["seconds"] if duck else None}
    print(json.dumps(out, indent=1))
    return out


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m debut.scale")
    p.add_argument("command", choices=["run", "duckdb", "floor"])
    p.add_argument("--events", type=parse_count, default=parse_count("10M"))
    p.add_argument("--items", type=parse_count, default=parse_count("100k"))
    p.add_argument("--users", type=parse_count, default=None,
                   help="customers (default: events / 85, the demo's activity per customer)")
    p.add_argument("--stages", default="simulate,ingest,aggregate,build_features,train_als")
    p.add_argument("--base", default="/tmp/debut-scale")
    p.add_argument("--driver-memory", default="14g")
    p.add_argument("--keep", action="store_true", help="reuse the tables under --base instead of starting fresh")
    a = p.parse_args(argv)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    base = os.path.abspath(a.base)
    if a.command == "run":
        run(base, a.events, a.items, [s for s in a.stages.split(",") if s], a.driver_memory, fresh=not a.keep,
            users=a.users)
    elif a.command == "floor":
        compare_floor(base, a.events, a.items, a.driver_memory, fresh=not a.keep)
    else:
        compare_duckdb(base, a.events, a.items, a.driver_memory, fresh=not a.keep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
