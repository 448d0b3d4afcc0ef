"""Command line: ``debut run <job>``, ``debut pipeline``, ``debut tables``.

The same functions back ``jobs/<job>.py`` (spark-submit) and the Databricks
``python_wheel_task`` entry point, so every launcher shares one path.
Exit codes: 0 ok, 1 job failed, 2 configuration error, 3 missing input table.
"""
from __future__ import annotations

import argparse
import datetime as dt
import importlib
import importlib.util
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence

from debut.config import Config, ConfigError, load_config

# Stages in data-flow order: job name -> module with run(spark, conf, run_date).
JOBS: Dict[str, str] = {
    "simulate": "debut.simulate.job",
    "ingest": "debut.ingest.job",
    "aggregate": "debut.aggregate.job",
    "build_features": "debut.features.job",
    "train_als": "debut.recommend.job",
    "train_deep": "debut.deep.job",
    "forecast_launch": "debut.forecast.job",
    "optimize_launch": "debut.optimize.job",
    "evaluate": "debut.evaluate.job",
    "adjust_launch": "debut.adjust.job",
    "report": "debut.report.job",
}
# Jobs that never need a SparkSession.
NO_SPARK = {"simulate"}


def _exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # the parent package is missing
        return False


def available_jobs() -> List[str]:
    """Jobs whose module exists in this build, in pipeline order."""
    return [name for name, mod in JOBS.items() if _exists(mod)]


def _job_fn(name: str) -> Callable:
    if name not in JOBS:
        raise ConfigError(f"unknown job '{name}' (known: {', '.join(JOBS)})")
    if not _exists(JOBS[name]):
        raise ConfigError(f"job '{name}' is not part of this build yet (available: {', '.join(available_jobs())})")
    return importlib.import_module(JOBS[name]).run


def parse_run_date(text: Optional[str], conf: Config) -> dt.date:
    value = text or conf.run_date
    if value is None:
        return dt.date.today()  # the CLI is the only place that reads the clock
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"--run-date: expected YYYY-MM-DD, got {value!r}") from None


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--env", default="local", help="conf/envs/<env>.yaml (default: local)")
    p.add_argument("--run-date", default=None, help="YYYY-MM-DD (default: conf run_date, else today)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set simulate.users=500 (repeatable)")
    p.add_argument("--conf-dir", default=None, help="directory holding base.yaml and envs/")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="debut", description="New-product launch planning on Spark + Delta")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run one job")
    run.add_argument("job", help="one of: " + ", ".join(JOBS))
    _common(run)
    pipe = sub.add_parser("pipeline", help="run every available stage in order")
    pipe.add_argument("--from", dest="start", default=None, help="first stage to run")
    pipe.add_argument("--to", dest="stop", default=None, help="last stage to run")
    _common(pipe)
    imp = sub.add_parser("import", help="load a public export format into the bronze tables")
    imp.add_argument("format", help="rees46 | uci_retail | launch_history")
    imp.add_argument("path", help="file or directory (any Hadoop path)")
    _common(imp)
    ff = sub.add_parser("forecast-file", help="forecast candidates from a launch-history file alone")
    ff.add_argument("--history", required=True, help="past launches: CSV or Parquet (week_1..week_N, or week+units)")
    ff.add_argument("--candidates", required=True, help="candidate products: CSV or Parquet")
    ff.add_argument("--out", required=True, help="output file (.parquet, else CSV)")
    ff.add_argument("--weeks", type=int, default=None, help="horizon in weeks (default: forecast.horizon_weeks)")
    _common(ff)
    bf = sub.add_parser("backtest-file", help="strictly causal backtest of a launch-history file (no Spark)")
    bf.add_argument("--history", required=True, help="past launches: CSV or Parquet with launch_date")
    bf.add_argument("--by", default="month", help="cutoffs at every month start (default)")
    bf.add_argument("--cutoffs", default=None, help="cutoff dates YYYY-MM-DD,YYYY-MM-DD (instead of --by)")
    bf.add_argument("--weeks", type=int, default=None, help="horizon in weeks (default: forecast.horizon_weeks)")
    bf.add_argument("--csv", default=None, help="also write the table to this CSV")
    _common(bf)
    tables = sub.add_parser("tables", help="list tables with row count and Delta version")
    _common(tables)
    sub.add_parser("jobs", help="list the jobs of this build")
    return parser


def _spark(conf: Config, job: str):
    from debut.spark import get_spark
    spark = get_spark(conf, app_name=f"debut-{job}")
    print(f"[debut] Spark {spark.version}, master {spark.sparkContext.master}", flush=True)
    return spark


def run_job(job: str, conf: Config, run_date: dt.date, spark=None) -> None:
    fn = _job_fn(job)
    if spark is None and job not in NO_SPARK:
        spark = _spark(conf, job)
    fn(spark, conf, run_date)


def _stages(start: Optional[str], stop: Optional[str]) -> List[str]:
    jobs = available_jobs()
    for label, value in (("--from", start), ("--to", stop)):
        if value is not None and value not in jobs:
            raise ConfigError(f"{label} {value!r}: not an available stage ({', '.join(jobs)})")
    lo = jobs.index(start) if start else 0
    hi = jobs.index(stop) if stop else len(jobs) - 1
    return jobs[lo:hi + 1]


def run_pipeline(conf: Config, run_date: dt.date, stages: Sequence[str]) -> Dict[str, float]:
    times: Dict[str, float] = {}
    spark = None
    for i, job in enumerate(stages, 1):
        print(f"[debut] stage {i}/{len(stages)}: {job} (run_date {run_date})", flush=True)
        t0 = time.time()
        if spark is None and job not in NO_SPARK:
            spark = _spark(conf, "pipeline")
        run_job(job, conf, run_date, spark=spark)
        times[job] = time.time() - t0
        print(f"[debut] stage {job} done in {times[job]:.1f}s", flush=True)
    total = sum(times.values())
    print("[debut] stage times: " + ", ".join(f"{k} {v:.1f}s" for k, v in times.items()) + f"; total {total:.1f}s")
    if spark is not None:
        from debut.report.summary import print_pipeline_summary
        print_pipeline_summary(spark, conf, run_date)
    return times


def _print_tables(conf: Config) -> None:
    from debut import io
    spark = _spark(conf, "tables")
    rows = io.describe_tables(spark, conf)
    width = max(len(r["table"]) for r in rows)
    print(f"{'table'.ljust(width)}  {'rows':>12}  {'version':>7}  location")
    for r in rows:
        count = "-" if r["rows"] is None else f"{r['rows']:,}"
        ver = "-" if r["version"] is None else str(r["version"])
        print(f"{r['table'].ljust(width)}  {count:>12}  {ver:>7}  {r['location']}")


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "jobs":
        print("\n".join(available_jobs()))
        return 0
    try:
        conf = load_config(args.env, args.overrides, args.conf_dir)
        run_date = parse_run_date(args.run_date, conf)
        if args.command == "run":
            _job_fn(args.job)  # fail on a bad job name before Spark starts
            t0 = time.time()
            run_job(args.job, conf, run_date)
            print(f"[debut] {args.job} done in {time.time() - t0:.1f}s")
        elif args.command == "pipeline":
            run_pipeline(conf, run_date, _stages(args.start, args.stop))
        elif args.command == "import":
            from debut.ingest import adapters
            adapters.check_format(args.format)
            adapters.run_import(_spark(conf, "import"), conf, run_date, args.format, args.path)
        elif args.command == "forecast-file":
            from debut.forecast.file import run_file      # pandas only: no Spark on this path
            run_file(conf, run_date, args.history, args.candidates, args.out, args.weeks)
        elif args.command == "backtest-file":
            from debut.forecast.file import run_backtest_file
            run_backtest_file(conf, args.history, by=args.by, cutoffs=args.cutoffs, weeks=args.weeks,
                              csv=args.csv)
        elif args.command == "tables":
            _print_tables(conf)
    except ConfigError as exc:
        print(f"debut: configuration error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - turn known input problems into clear exits
        from debut.io import MissingTableError
        if isinstance(exc, MissingTableError):
            print(f"debut: missing input: {exc}", file=sys.stderr)
            return 3
        raise
    return 0


def _package_origin(init_file: str) -> str:
    """The wheel/zip or directory the package was imported from."""
    marker = ".whl" + "/"
    if marker in init_file:
        return init_file.split(marker)[0] + ".whl"
    return init_file.rsplit("/debut/", 1)[0]


def job_main(job: str, argv: Optional[Sequence[str]] = None) -> None:
    """Entry for jobs/<job>.py under spark-submit: ``debut run <job>`` with the same flags."""
    argv = list(sys.argv[1:] if argv is None else argv)
    import debut
    print(f"[debut] {job}: debut {debut.__version__} loaded from {_package_origin(debut.__file__)}", flush=True)
    sys.exit(main(["run", job, *argv]))


if __name__ == "__main__":
    sys.exit(main())
