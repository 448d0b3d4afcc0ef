"""``debut verify``: check the invariants the lake promises, each printed with its figures.

  keys          natural keys are unique in every table (``debut.io.TABLES``)
  ingest runs   per ingest run and source, bronze rows written = accepted in ops.run_log
                (orders: at most, since an order line whose status moves on is rewritten later)
  files         per landing file, read = accepted + quarantined + duplicates, none negative
  pseudonyms    no raw customer id past ingest: every user_key in bronze/silver/gold is a
                64-hex HMAC, and no table there has a user_id column
  plan          every gold.launch_plan row has a solver status, every candidate row a forecast
  history       Delta versions are contiguous, and every bronze table's last ingest batch
                has its bookkeeping (no commit left half-done by a run that died)

Counts and aggregates only; what reaches the driver is one row per table, per
ingest run or per offender shown (at most ``SHOWN``). Exit status 0 when all
hold, 1 naming each that does not. The per-table queries are small Spark jobs whose
cost is mostly the driver's (Delta log, planning, scheduling), so a check runs them
from ``THREADS`` driver threads at once.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, TypeVar

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from debut import io
from debut.config import Config, ConfigError

SHOWN = 5
THREADS = 4
HMAC_HEX = "^[0-9a-f]{64}$"
APPEND_ONLY = {"events": "bronze.events", "catalog": "bronze.catalog", "candidates": "bronze.candidates"}
UPDATABLE = {"orders": "bronze.orders"}
SOURCE_TABLES = {**APPEND_ONLY, **UPDATABLE}
T = TypeVar("T")


@dataclass
class Check:
    name: str
    figures: str = ""
    problems: List[str] = field(default_factory=list)
    skipped: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    def line(self) -> str:
        status = "skip" if self.skipped else ("ok" if self.ok else "FAIL")
        out = f"[verify] {self.name:<11} {status:<4}  {self.figures}"
        for p in self.problems[:SHOWN]:
            out += f"\n[verify]   {p}"
        if len(self.problems) > SHOWN:
            out += f"\n[verify]   ... and {len(self.problems) - SHOWN} more"
        return out


class VerificationFailed(RuntimeError):
    """An invariant does not hold; the message names each."""


class _Lake:
    """The selected tables that exist; reads once per name."""

    def __init__(self, spark: SparkSession, conf: Config, names: Optional[Sequence[str]]):
        self.spark, self.conf = spark, conf
        for n in names or ():
            if n not in io.TABLES:
                raise ConfigError(f"--tables: unknown table {n!r} (known: {', '.join(sorted(io.TABLES))})")
        self.names = [n for n in (names or sorted(io.TABLES)) if io.exists(spark, conf, n)]
        self._dfs: Dict[str, DataFrame] = {}

    def has(self, *names: str) -> bool:
        return all(n in self.names for n in names)

    def read(self, name: str) -> DataFrame:
        if name not in self._dfs:   # two threads may both read a name: the same table, harmless
            self._dfs[name] = io.read(self.spark, self.conf, name)
        return self._dfs[name]

    def each(self, fn: Callable[[str], T], names: Sequence[str]) -> List[T]:
        """``fn(name)`` for every name, from THREADS driver threads; results in the order of names."""
        with ThreadPoolExecutor(max_workers=THREADS) as pool:
            return list(pool.map(fn, names))


# ------------------------------------------------------------------ the checks
def check_keys(lake: _Lake) -> Check:
    c = Check("keys")

    def counts(name: str):
        keys = list(io.spec(name).keys)
        return keys, *lake.read(name).agg(F.count(F.lit(1)), F.countDistinct(F.struct(*keys))).first()

    rows_total = 0
    for name, (keys, rows, distinct) in zip(lake.names, lake.each(counts, lake.names)):
        rows_total += rows
        if rows != distinct:
            c.problems.append(f"{name}: {rows:,} rows for {distinct:,} distinct ({', '.join(keys)}): "
                              f"{rows - distinct:,} duplicated")
    c.figures = f"{len(lake.names)} tables, {rows_total:,} rows, each key once" if c.ok else \
        f"{len(c.problems)} of {len(lake.names)} tables hold a key twice"
    return c


def check_ingest_runs(lake: _Lake) -> Check:
    c = Check("ingest runs")
    if not lake.has("ops.run_log", "ops.ingest_files"):
        c.skipped, c.figures = True, "no ops.run_log / ops.ingest_files"
        return c
    files = lake.read("ops.ingest_files").select("source_file", "source")
    log = (lake.read("ops.run_log").where(F.col("job") == "ingest")
           .select("source", F.col("run_date").alias("ingest_run_date"), "accepted"))

    def reconcile(source: str):
        table = SOURCE_TABLES[source]
        written = (lake.read(table).groupBy("source_file", "ingest_run_date").agg(F.count(F.lit(1)).alias("n"))
                   .join(files.where(F.col("source") == source), on="source_file", how="inner")
                   .groupBy("ingest_run_date").agg(F.sum("n").alias("rows")))
        joined = (written.join(log.where(F.col("source") == source), on="ingest_run_date", how="full_outer")
                  .select("ingest_run_date", F.coalesce("rows", F.lit(0)).alias("rows"),
                          F.coalesce("accepted", F.lit(0)).alias("accepted")))
        bad = (F.col("rows") != F.col("accepted")) if source in APPEND_ONLY else (F.col("rows") > F.col("accepted"))
        n, total, offenders = joined.agg(F.count(F.lit(1)), F.sum("rows"), F.count(F.when(bad, 1))).first()
        shown = joined.where(bad).orderBy("ingest_run_date").limit(SHOWN).collect() if offenders else []
        return n, total, shown

    sources = [s for s, table in SOURCE_TABLES.items() if lake.has(table)]
    pairs, rows_total = 0, 0
    for source, (n, total, shown) in zip(sources, lake.each(reconcile, sources)):
        pairs, rows_total = pairs + n, rows_total + (total or 0)
        table = SOURCE_TABLES[source]
        for r in shown:
            rel = "=" if source in APPEND_ONLY else "<="
            c.problems.append(f"{table}: ingest run {r.ingest_run_date}: {r.rows:,} rows written, run_log "
                              f"accepted {r.accepted:,} (expected rows {rel} accepted)")
    c.figures = (f"{pairs} run x source pairs, {rows_total:,} bronze rows = accepted in ops.run_log "
                 f"(orders <=)" if c.ok else "bronze rows and ops.run_log disagree")
    return c


def check_files(lake: _Lake) -> Check:
    c = Check("files")
    if not lake.has("ops.ingest_files"):
        c.skipped, c.figures = True, "no ops.ingest_files"
        return c
    f = lake.read("ops.ingest_files")
    bad = ((F.col("read") != F.col("accepted") + F.col("quarantined") + F.col("duplicates"))
           | (F.least("accepted", "quarantined", "duplicates") < 0))
    n, read, offenders = f.agg(F.count(F.lit(1)), F.sum("read"), F.count(F.when(bad, 1))).first()
    for r in f.where(bad).limit(SHOWN).collect():
        c.problems.append(f"{r.source_file}: read {r.read:,} != accepted {r.accepted:,} + quarantined "
                          f"{r.quarantined:,} + duplicates {r.duplicates:,}")
    c.figures = (f"{n:,} files, {read or 0:,} records: read = accepted + quarantined + duplicates each"
                 if c.ok else f"{offenders:,} of {n:,} files do not reconcile")
    return c


def check_pseudonyms(lake: _Lake) -> Check:
    c = Check("pseudonyms")
    names = [n for n in lake.names if n.startswith(("bronze.", "silver.", "gold."))]

    def keys(name: str):
        cols = lake.read(name).columns
        if "user_key" not in cols:
            return "user_id" in cols, None, None
        key = F.col("user_key")
        return ("user_id" in cols,
                *lake.read(name).agg(F.count(key), F.count(F.when(~key.rlike(HMAC_HEX), 1))).first())

    checked, keys_total = 0, 0
    for name, (has_user_id, n, raw) in zip(names, lake.each(keys, names)):
        if has_user_id:
            c.problems.append(f"{name}: has a user_id column (raw customer ids stop at ingest)")
        if n is None:
            continue
        checked += 1
        keys_total += n
        if raw:
            c.problems.append(f"{name}: {raw:,} of {n:,} user_key values are not a 64-hex HMAC (raw ids?)")
    c.figures = (f"{checked} tables with user_key, {keys_total:,} values, all 64-hex HMACs; no user_id column"
                 if c.ok else "raw customer ids past ingest")
    return c


def check_plan(lake: _Lake) -> Check:
    c = Check("plan")
    if not lake.has("gold.launch_plan"):
        c.skipped, c.figures = True, "no gold.launch_plan"
        return c
    plan = lake.read("gold.launch_plan")
    rows, no_status = plan.agg(F.count(F.lit(1)), F.count(F.when(F.col("solver_status").isNull(), 1))).first()
    cands = plan.where(F.col("candidate_id").isNotNull())
    if lake.has("gold.launch_forecast"):
        fc = lake.read("gold.launch_forecast").select("candidate_id", "plan_date")
        no_fc = cands.join(fc, on=["candidate_id", "plan_date"], how="left_anti").count()
    else:
        no_fc = cands.count()
    if no_status:
        c.problems.append(f"gold.launch_plan: {no_status:,} of {rows:,} rows have no solver_status")
    if no_fc:
        c.problems.append(f"gold.launch_plan: {no_fc:,} candidate rows have no gold.launch_forecast row "
                          "(candidate_id, plan_date)")
    c.figures = f"{rows:,} plan rows, each with a status, each candidate with a forecast" if c.ok else \
        "plan rows without a forecast or a status"
    return c


def check_history(lake: _Lake) -> Check:
    from debut.ingest import job as ingest_job  # the batch markers its commits carry

    c = Check("history")

    def versions(name: str):
        h = io.delta_table(lake.spark, lake.conf, name).history().select("version")
        return h.agg(F.count(F.lit(1)), F.min("version"), F.max("version")).first()

    commits = 0
    for name, (n, lo, hi) in zip(lake.names, lake.each(versions, lake.names)):
        commits += n
        if hi - lo + 1 != n:
            c.problems.append(f"{name}: versions {lo}..{hi} with {hi - lo + 1 - n} missing")
    sources = [src for src in ingest_job.SOURCES if lake.has(src.table)]
    unrecorded = lake.each(lambda src: _unrecorded_batch(lake, src, ingest_job), sources)
    for src, half_done in zip(sources, unrecorded):
        if half_done:
            c.problems.append(f"{src.table}: its last ingest batch committed data but not its ops.ingest_files "
                              f"rows (a run died between them; the next `debut run ingest` completes it)")
    c.figures = (f"{len(lake.names)} tables, {commits:,} commits, versions contiguous, every ingest batch "
                 f"recorded" if c.ok else "commits left half-done")
    return c


def _unrecorded_batch(lake: _Lake, src, ingest_job) -> bool:
    version, meta = io.last_commit(lake.spark, lake.conf, src.table)
    batch = (meta or {}).get(ingest_job.BATCH)
    if not batch:
        return False
    paths = [(p, int(size)) for p, size, *_ in batch["files"]]
    if not io.exists(lake.spark, lake.conf, "ops.ingest_files"):  # selected or not: it decides
        return True
    known = {(r.source_file, r.file_size) for r in io.read(lake.spark, lake.conf, "ops.ingest_files")
             .where(F.col("source_file").isin([p for p, _ in paths])).select("source_file", "file_size").collect()}
    if all(p in known for p in paths):
        return False
    return ingest_job._recorded_up_to(lake.spark, lake.conf, src.name) < version


CHECKS: Dict[str, Callable[[_Lake], Check]] = {
    "keys": check_keys, "ingest runs": check_ingest_runs, "files": check_files,
    "pseudonyms": check_pseudonyms, "plan": check_plan, "history": check_history,
}


def verify(spark: SparkSession, conf: Config, tables: Optional[Sequence[str]] = None) -> List[Check]:
    """Run every check on the selected tables (default: all that exist) and print each."""
    lake = _Lake(spark, conf, tables)
    out = []
    for fn in CHECKS.values():
        check = fn(lake)
        print(check.line(), flush=True)
        out.append(check)
    failed = [c.name for c in out if not c.ok]
    print(f"[verify] {'all invariants hold' if not failed else 'FAILED: ' + ', '.join(failed)}"
          f" ({len(lake.names)} tables)", flush=True)
    return out


def exit_code(checks: Sequence[Check]) -> int:
    return 0 if all(c.ok for c in checks) else 1
