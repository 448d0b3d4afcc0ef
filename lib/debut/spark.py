"""The one SparkSession builder.

Delta's jars are installed inside pyspark's own jars/ by conf/setup/setup.sh, so
no Maven/Ivy download happens at run time. On a cluster (spark-submit,
Databricks) the master and resources come from the launcher; debut only adds
what it needs (Delta extension and catalog, sane shuffle partitions).
"""
from __future__ import annotations

import os
import sys
import threading
from contextlib import contextmanager
from typing import List, Optional

from pyspark import SparkConf as _SparkConf
from pyspark.sql import SparkSession

from debut.config import Config

DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"


def get_spark(conf: Config, app_name: Optional[str] = None) -> SparkSession:
    """Return the active session, or build one configured from ``conf.spark``."""
    active = SparkSession.getActiveSession()
    if active is not None:
        _check_delta(active)
        return active
    sc = conf.spark
    # Python workers (pandas UDFs, applyInPandas) must run the driver's interpreter,
    # not whatever `python3` is first on PATH, when debut starts the JVM itself.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    if os.environ.get("PYSPARK_GATEWAY_PORT"):
        # Under spark-submit the JVM already runs with the launcher's --master/--conf
        # as system properties; connect first so that SparkConf() can see them.
        from pyspark import SparkContext
        SparkContext._ensure_initialized()
    launcher = _SparkConf()  # spark-submit's --master/--conf win over conf files
    builder = SparkSession.builder.appName(app_name or sc.app_name)
    if not launcher.contains("spark.master"):
        builder = builder.master(sc.master or "local[*]")
    cores = _local_cores(sc.master or launcher.get("spark.master", "local[*]"))
    partitions = sc.shuffle_partitions or max(2, 2 * cores)
    settings = {
        "spark.sql.extensions": DELTA_EXTENSION,
        "spark.sql.catalog.spark_catalog": DELTA_CATALOG,
        "spark.sql.shuffle.partitions": str(partitions),
        "spark.sql.session.timeZone": "UTC",
        # an unparsable timestamp is null (then quarantined), never an exception
        "spark.sql.legacy.timeParserPolicy": "CORRECTED",
        "spark.ui.enabled": str(sc.ui_enabled).lower(),
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.databricks.delta.schema.autoMerge.enabled": "false",
        "spark.sql.sources.partitionOverwriteMode": "static",
        "spark.databricks.delta.snapshotPartitions": str(max(2, partitions)),
        "spark.sql.warehouse.dir": os.path.abspath(os.path.join(conf.paths.data_dir, "_warehouse")),
    }
    if sc.driver_memory and not launcher.contains("spark.driver.memory"):
        settings["spark.driver.memory"] = sc.driver_memory
    settings.update(sc.extra)
    if not os.environ.get("PYSPARK_GATEWAY_PORT"):
        # debut starts the driver JVM itself: it maps Spark's classes from the set-up's archive
        from debut import cds

        key = "spark.driver.extraJavaOptions"
        settings[key] = " ".join(o for o in (settings.get(key), *cds.java_options()) if o)
        if not settings[key]:
            del settings[key]
    for key, value in settings.items():
        if not launcher.contains(key) or key in sc.extra:
            builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(sc.log_level)
    _check_delta(spark)
    return spark


def _local_cores(master: str) -> int:
    if master.startswith("local["):
        inner = master[len("local["):].split(",")[0].rstrip("]")
        return (os.cpu_count() or 2) if inner == "*" else max(1, int(inner))
    if master == "local":
        return 1
    return os.cpu_count() or 2


def _check_delta(spark: SparkSession) -> None:
    ext = spark.conf.get("spark.sql.extensions", "") or ""
    if DELTA_EXTENSION not in ext and "databricks" not in spark.conf.get("spark.app.name", "").lower():
        # Databricks runtimes have Delta built in without the extension setting.
        if not os.environ.get("DATABRICKS_RUNTIME_VERSION"):
            raise RuntimeError(
                "the active SparkSession has no Delta extension; start Spark through "
                "debut.spark.get_spark or pass --conf spark.sql.extensions=" + DELTA_EXTENSION)


POOL_ENV = "DEBUT_PYTHON_POOL"


_POOL_LOCK = threading.Lock()
_POOL_USERS: List[str] = []            # the pool names entered and not yet left, across threads
_POOL_BEFORE: List[Optional[str]] = [None]


@contextmanager
def python_worker_pool(spark: SparkSession, name: str):
    """Python UDFs defined inside run in a pool of Python workers of their own.

    Spark keeps one pool of reusable Python workers per set of environment
    variables a UDF was defined with, and ends a pool's idle workers once the
    pool has had no task for a minute. UDFs that load something large (the
    sentence-embedding model, torch for scoring) are defined with
    ``DEBUT_PYTHON_POOL=<name>``, so their workers go a minute after their last
    task instead of staying in the shared pool, holding the model, for the
    rest of the run.
    """
    env = spark.sparkContext.environment
    # driver threads may score side by side: the variable stays set until the last of them leaves
    # (a different pool entered meanwhile from another thread shares the first one's workers)
    with _POOL_LOCK:
        if not _POOL_USERS:
            _POOL_BEFORE[:] = [env.get(POOL_ENV)]
            env[POOL_ENV] = name
        _POOL_USERS.append(name)
    try:
        yield
    finally:
        with _POOL_LOCK:
            _POOL_USERS.pop()
            if not _POOL_USERS:
                before = _POOL_BEFORE[0]
                if before is None:
                    env.pop(POOL_ENV, None)
                else:
                    env[POOL_ENV] = before
