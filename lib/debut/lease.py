"""One writer per lake: a lease row in the Delta table ``ops.leases``.

Every stage reads tables that earlier stages write, and a stage's writes are
several Delta commits (data, quarantine, bookkeeping), so two runs on one lake
at the same time can interleave into a state neither would leave alone. A run
that writes therefore claims the lake first: a MERGE on the single ``lake`` row
that Delta's optimistic concurrency lets only one claimant commit (the other's
MERGE read the row set and fails with a concurrent-modification conflict, then
sees the holder). It works wherever Delta commits atomically (local disk, HDFS,
object stores with Delta's log store), with no lock service.

A holder that died is taken over: its lease expires (``TTL``), and on the same
host a holder whose process is gone is stale at once (a killed run is retried
without waiting). The lease is renewed as a pipeline moves through its stages.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import os
import socket
import uuid
from dataclasses import dataclass
from typing import Optional

from pyspark.sql import SparkSession

from debut import io
from debut import schemas as S
from debut.config import Config

TABLE = "ops.leases"
LAKE = "lake"
TTL = dt.timedelta(hours=12)
EXIT_CODE = 4           # debut's exit code when another run holds the lake

SCHEMA = S.LEASES


@dataclass(frozen=True)
class Lease:
    job: str
    run_id: str
    owner: str
    acquired_at: dt.datetime
    expires_at: dt.datetime
    created_lake: bool = False   # this claim made the lake's first table (ops.leases itself)

    def describe(self) -> str:
        return (f"{self.job} (run {self.run_id}, {self.owner}, since {self.acquired_at:%Y-%m-%d %H:%M:%S} UTC, "
                f"lease expires {self.expires_at:%Y-%m-%d %H:%M:%S} UTC)")


class LeaseHeld(RuntimeError):
    """Another run holds the lake; the message names it."""

    def __init__(self, where: str, holder: Optional[Lease]):
        self.holder = holder
        who = holder.describe() if holder else "another run (it claimed the lake at the same moment)"
        super().__init__(f"{where} is in use by {who}; not started: run again when it has finished")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)


def _conflicts():
    from delta import exceptions as de
    return (de.ConcurrentAppendException, de.ConcurrentDeleteReadException, de.ConcurrentDeleteDeleteException,
            de.ConcurrentTransactionException, de.ConcurrentWriteException, de.MetadataChangedException,
            de.ProtocolChangedException, de.DeltaConcurrentModificationException)


def _ensure_table(spark: SparkSession, conf: Config) -> bool:
    """Create ops.leases when missing; True when this call created it."""
    if io.exists(spark, conf, TABLE):
        return False
    try:
        io.append(spark.createDataFrame([], SCHEMA), conf, TABLE)
        return True
    except Exception:  # noqa: BLE001 - a concurrent run created it first: fine when it exists now
        if conf.storage.mode != "catalog":
            # Delta keeps the log it failed to commit to cached at "no table": a read refreshes it
            spark.read.format("delta").load(io.location(conf, TABLE)).schema  # noqa: B018
        if not io.exists(spark, conf, TABLE):
            raise
        return False


def holder(spark: SparkSession, conf: Config) -> Optional[Lease]:
    """The lease row, if any (one row at most: the table's key is the lease name)."""
    if not io.exists(spark, conf, TABLE):
        return None
    rows = io.read(spark, conf, TABLE).where(f"lease = '{LAKE}'").collect()
    if not rows:
        return None
    r = rows[0]
    return Lease(r.job, r.run_id, r.owner, r.acquired_at, r.expires_at)


def is_stale(lease: Lease, now: dt.datetime) -> bool:
    """Expired, or held by a process of this host that no longer runs."""
    if lease.expires_at < now:
        return True
    host, _, pid = lease.owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def _claim(spark: SparkSession, conf: Config, mine: Lease, replacing: Optional[str]) -> None:
    """MERGE our row in: insert when there is none, update only the row we judged stale."""
    row = spark.createDataFrame([(LAKE, mine.job, mine.run_id, mine.owner, mine.acquired_at, mine.expires_at)],
                                SCHEMA)
    m = io.delta_table(spark, conf, TABLE).alias("t").merge(row.alias("s"), "t.lease = s.lease")
    if replacing is not None:
        m = m.whenMatchedUpdateAll(condition=f"t.run_id = '{replacing}'")
    m.whenNotMatchedInsertAll().execute()


def acquire(spark: SparkSession, conf: Config, job: str, ttl: dt.timedelta = TTL) -> Lease:
    """Claim the lake for ``job`` or raise LeaseHeld naming the holder."""
    where = (f"the lake {conf.storage.database_prefix}_*" if conf.storage.mode == "catalog"
             else f"the lake at {os.path.abspath(conf.paths.data_dir)}")
    now = _now()
    mine = Lease(job, uuid.uuid4().hex[:12], f"{socket.gethostname()}:{os.getpid()}", now, now + ttl)
    created = _ensure_table(spark, conf) and not any(io.exists(spark, conf, n) for n in io.TABLES if n != TABLE)
    if created:
        mine = dataclasses.replace(mine, created_lake=True)
    for _ in range(3):
        current = holder(spark, conf)
        if current is not None and not is_stale(current, _now()):
            raise LeaseHeld(where, current)
        try:
            _claim(spark, conf, mine, current.run_id if current else None)
        except _conflicts():
            continue  # someone else committed first: look again
        got = holder(spark, conf)
        if got is not None and got.run_id == mine.run_id:
            if current is not None:
                print(f"[debut] took over the lease of {current.describe()}: its run is gone", flush=True)
            return mine
        raise LeaseHeld(where, got)
    raise LeaseHeld(where, holder(spark, conf))


def renew(spark: SparkSession, conf: Config, lease: Lease, ttl: dt.timedelta = TTL) -> Lease:
    """Push the expiry out when half the lease has run (one small MERGE, not every stage)."""
    now = _now()
    if now < lease.expires_at - ttl / 2:
        return lease
    renewed = Lease(lease.job, lease.run_id, lease.owner, lease.acquired_at, now + ttl)
    _claim(spark, conf, renewed, lease.run_id)
    return renewed


def release(spark: SparkSession, conf: Config, lease: Lease) -> None:
    """Drop our row (only ours: a run that took over a stale lease keeps its own).

    A run that found an empty lake and wrote nothing (its input was missing)
    leaves no table behind, not even ops.leases.
    """
    for attempt in range(3):
        try:
            io.delta_table(spark, conf, TABLE).delete(f"lease = '{LAKE}' AND run_id = '{lease.run_id}'")
            break
        except _conflicts():  # a claimant's MERGE committed meanwhile: delete again from the new version
            if attempt == 2:
                raise
    if (lease.created_lake and conf.storage.mode != "catalog"
            and not any(io.exists(spark, conf, n) for n in io.TABLES if n != TABLE)
            and io.read(spark, conf, TABLE).isEmpty()):
        jvm = spark.sparkContext._jvm
        path = jvm.org.apache.hadoop.fs.Path(io.location(conf, TABLE))
        path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).delete(path, True)
