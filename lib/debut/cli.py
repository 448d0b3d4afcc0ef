"""Command line: ``debut run <job>``, ``debut pipeline``, ``debut tables``, ``debut verify``.

The same functions back ``jobs/<job>.py`` (spark-submit) and the Databricks
``python_wheel_task`` entry point, so every launcher shares one path.
Exit codes: 0 ok, 1 job failed, 2 configuration error, 3 missing input table,
4 another run holds the lake (``debut.lease``), 5 the Spark driver JVM died
(most likely out of memory; one line names the stage). ``debut verify`` (and
the end of ``debut pipeline``) exits 1 when an invariant does not hold.

A command that writes the lake (``run`` of a Spark job, ``pipeline``,
``import``) holds the lake's lease while it runs: a second one started
meanwhile refuses with one line naming the holder and exit code 4.
"""
from __future__ import annotations

import argparse
import datetime as dt
import importlib
import importlib.util
import sys
import time
from contextlib import contextmanager
from typing import Callable, Dict, Iterator, List, Optional, Sequence

from debut.config import Config, ConfigError, load_config
from debut.core.stages import STAGES

# Stages in data-flow order: job name -> module with run(spark, conf, run_date) (debut.core.stages).
JOBS: Dict[str, str] = {s.job: s.module for s in STAGES}
# Jobs that never need a SparkSession.
NO_SPARK = {s.job for s in STAGES if not s.needs_spark}
EXIT_LEASE_HELD = 4
EXIT_JVM_DIED = 5
_current_stage: List[str] = []  # the stage running now, for the one-line report of a JVM that died


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
    imp.add_argument("format", help="rees46 | uci_retail | order_lines | launch_history")
    imp.add_argument("path", help="file or directory (any Hadoop path)")
    imp.add_argument("--items", default=None, help="order_lines: item-attributes file, CSV or Parquet "
                     "(ingest.items_file)")
    imp.add_argument("--categories", default=None, help="item_id,category[,subcategory] file (ingest.categories_file)")
    imp.add_argument("--category-names", default=None, help="category renames: exported name, name to use "
                     "(ingest.category_names_file)")
    imp.add_argument("--preset", default=None, help="order_lines: a known export's columns, e.g. olist "
                     "(ingest.order_lines_preset)")
    imp.add_argument("--column", dest="columns", action="append", default=[], metavar="FIELD=COLUMN",
                     help="order_lines: the lines file's column for a field, e.g. item_id=product_id (repeatable)")
    imp.add_argument("--item-column", dest="item_columns", action="append", default=[], metavar="FIELD=COLUMN",
                     help="order_lines: the items file's column for item_id, category, subcategory, brand, title")
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
    ver = sub.add_parser("verify", help="check the lake's invariants (exit 1 naming each that fails)")
    ver.add_argument("--tables", default=None, help="comma-separated table names (default: all that exist)")
    _common(ver)
    sub.add_parser("jobs", help="list the jobs of this build")
    return parser


def import_conf(conf: Config, args: argparse.Namespace) -> Config:
    """``debut import`` flags as ingest.* config values (a flag wins over the files)."""
    def pairs(values: Sequence[str], flag: str) -> Dict[str, str]:
        out = {}
        for v in values:
            if "=" not in v:
                raise ConfigError(f"{flag} {v!r}: expected FIELD=COLUMN")
            k, col = v.split("=", 1)
            out[k.strip()] = col.strip()
        return out
    over = {f"ingest.{key}": value for key, value in (
        ("items_file", args.items), ("categories_file", args.categories),
        ("category_names_file", args.category_names), ("order_lines_preset", args.preset)) if value}
    if args.columns:
        over["ingest.order_lines_columns"] = {**conf.ingest.order_lines_columns, **pairs(args.columns, "--column")}
    if args.item_columns:
        over["ingest.items_columns"] = {**conf.ingest.items_columns, **pairs(args.item_columns, "--item-column")}
    return conf.replace(**over) if over else conf


def _spark(conf: Config, job: str):
    from debut.spark import get_spark
    spark = get_spark(conf, app_name=f"debut-{job}")
    print(f"[debut] Spark {spark.version}, master {spark.sparkContext.master}", flush=True)
    return spark


def run_job(job: str, conf: Config, run_date: dt.date, spark=None) -> None:
    fn = _job_fn(job)
    if spark is None and job not in NO_SPARK:
        spark = _spark(conf, job)
    _current_stage[:] = [job]
    fn(spark, conf, run_date)
    _current_stage[:] = []


@contextmanager
def holding_lake(spark, conf: Config, job: str) -> Iterator[object]:
    """Hold the lake's lease (debut.lease) while the body runs; LeaseHeld when another run has it."""
    from debut import lease
    held = lease.acquire(spark, conf, job)
    try:
        yield held
    finally:
        try:
            lease.release(spark, conf, held)
        except Exception:  # noqa: BLE001 - a dead JVM cannot release; the lease goes stale with this process
            pass


def spark_jobs_started(spark) -> int:
    """How many Spark jobs this SparkContext has started (its next job id)."""
    try:
        return int(spark.sparkContext._jsc.sc().dagScheduler().nextJobId().get())
    except Exception:  # noqa: BLE001 - fall back to the status tracker's retained jobs
        ids = spark.sparkContext.statusTracker().getJobIdsForGroup(None)
        return max(ids) + 1 if ids else 0


def _stages(start: Optional[str], stop: Optional[str]) -> List[str]:
    jobs = available_jobs()
    for label, value in (("--from", start), ("--to", stop)):
        if value is not None and value not in jobs:
            raise ConfigError(f"{label} {value!r}: not an available stage ({', '.join(jobs)})")
    lo = jobs.index(start) if start else 0
    hi = jobs.index(stop) if stop else len(jobs) - 1
    return jobs[lo:hi + 1]


def run_pipeline(conf: Config, run_date: dt.date, stages: Sequence[str]) -> Dict[str, float]:
    """Run ``stages`` in order in one Spark session, holding the lake's lease from the first Spark stage.

    Prints per stage its time, Spark jobs and peak resident memory (this process and its
    children: in local mode the driver JVM, which holds the executors, and Python workers).
    """
    from debut import lease
    from debut.core.memory import RssSampler, gib
    times: Dict[str, float] = {}
    jobs: Dict[str, int] = {}
    peaks: Dict[str, int] = {}
    pss: Dict[str, int] = {}
    spark, held = None, None
    try:
        with RssSampler() as rss:
            for i, job in enumerate(stages, 1):
                print(f"[debut] stage {i}/{len(stages)}: {job} (run_date {run_date})", flush=True)
                t0 = time.time()
                rss.mark()
                if spark is None and job not in NO_SPARK:
                    spark = _spark(conf, "pipeline")
                    held = lease.acquire(spark, conf, "pipeline")
                elif held is not None:
                    held = lease.renew(spark, conf, held)
                n0 = spark_jobs_started(spark) if spark is not None else 0
                run_job(job, conf, run_date, spark=spark)
                times[job] = time.time() - t0
                jobs[job] = spark_jobs_started(spark) - n0 if spark is not None else 0
                rss.sample()
                peaks[job], pss[job] = rss.window_peak, rss.window_peak_pss
                print(f"[debut] stage {job} done in {times[job]:.1f}s ({jobs[job]} Spark jobs, "
                      f"peak RSS {gib(peaks[job])}, PSS {gib(pss[job])})", flush=True)
            total = sum(times.values())
            print("[debut] stage times: " + ", ".join(f"{k} {v:.1f}s/{jobs[k]} jobs" for k, v in times.items())
                  + f"; total {total:.1f}s, {sum(jobs.values())} Spark jobs; peak RSS {gib(rss.peak)} "
                  f"(in {max(peaks, key=peaks.get) if peaks else '-'}; driver JVM + Python, summed), "
                  f"PSS {gib(rss.peak_pss)} (shared pages counted once)", flush=True)
        if spark is not None:
            from debut.report.summary import print_pipeline_summary
            print_pipeline_summary(spark, conf, run_date)
            _verify(spark, conf)
    finally:
        if held is not None:
            try:
                lease.release(spark, conf, held)
            except Exception:  # noqa: BLE001 - a dead JVM cannot release; the lease goes stale with this process
                pass
    return times


def _jvm_died(exc: BaseException) -> bool:
    """A py4j error that means the driver JVM is gone (killed, out of memory), not a job error."""
    try:
        from py4j.protocol import Py4JError, Py4JNetworkError
    except ImportError:  # pragma: no cover - pyspark always ships py4j
        return False
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, (Py4JNetworkError, ConnectionRefusedError, ConnectionResetError)):
            return True
        if isinstance(exc, Py4JError) and "Answer from Java side is empty" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _jvm_death_message(conf: Config) -> str:
    stage = _current_stage[0] if _current_stage else "start-up"
    mem = conf.spark.driver_memory or "the launcher's default"
    return (f"debut: the Spark driver JVM died during stage {stage}: most likely out of memory (the kernel's "
            f"OOM killer or the JVM's own limit); spark.driver.memory is {mem}: give the machine more free "
            f"memory, or lower spark.driver_memory / the data size, then run again")


def _verify(spark, conf: Config, tables: Optional[Sequence[str]] = None) -> None:
    """``debut verify``: print every invariant; VerificationFailed naming those that do not hold."""
    from debut import verify
    t0 = time.time()
    checks = verify.verify(spark, conf, tables)
    print(f"[debut] verify done in {time.time() - t0:.1f}s", flush=True)
    failed = [c.name for c in checks if not c.ok]
    if failed:
        raise verify.VerificationFailed(f"invariants that do not hold: {', '.join(failed)}")


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
            if args.job in NO_SPARK:
                run_job(args.job, conf, run_date)
            else:
                spark = _spark(conf, args.job)
                with holding_lake(spark, conf, args.job):
                    run_job(args.job, conf, run_date, spark=spark)
            print(f"[debut] {args.job} done in {time.time() - t0:.1f}s")
        elif args.command == "pipeline":
            run_pipeline(conf, run_date, _stages(args.start, args.stop))
        elif args.command == "import":
            from debut.ingest import adapters
            adapters.check_format(args.format)
            conf = import_conf(conf, args)
            spark = _spark(conf, "import")
            with holding_lake(spark, conf, f"import:{args.format}"):
                _current_stage[:] = [f"import:{args.format}"]
                adapters.run_import(spark, conf, run_date, args.format, args.path)
        elif args.command == "forecast-file":
            from debut.forecast.file import run_file      # pandas only: no Spark on this path
            run_file(conf, run_date, args.history, args.candidates, args.out, args.weeks)
        elif args.command == "backtest-file":
            from debut.forecast.file import run_backtest_file
            run_backtest_file(conf, args.history, by=args.by, cutoffs=args.cutoffs, weeks=args.weeks,
                              csv=args.csv)
        elif args.command == "tables":
            _print_tables(conf)
        elif args.command == "verify":
            names = [t.strip() for t in args.tables.split(",") if t.strip()] if args.tables else None
            _verify(_spark(conf, "verify"), conf, names)
    except ConfigError as exc:
        print(f"debut: configuration error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - turn known input problems into clear exits
        from debut.io import MissingTableError
        from debut.lease import LeaseHeld
        from debut.verify import VerificationFailed
        if isinstance(exc, VerificationFailed):
            print(f"debut: verify: {exc}", file=sys.stderr)
            return 1
        if isinstance(exc, MissingTableError):
            print(f"debut: missing input: {exc}", file=sys.stderr)
            return 3
        if isinstance(exc, LeaseHeld):
            print(f"debut: {exc}", file=sys.stderr)
            return EXIT_LEASE_HELD
        if _jvm_died(exc):
            print(_jvm_death_message(conf), file=sys.stderr)
            return EXIT_JVM_DIED
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
