"""Class data sharing for the driver JVM that debut starts itself (local mode).

A fresh Spark JVM spends seconds finding, reading and verifying the classes of Spark, Delta and
Hadoop in ~250 jars (a cold import of a twelve-line file took 25-27 s, 8 s in a warm JVM). Java's
class data sharing maps them from an archive instead: ``make setup`` runs a small workload of the
operations debut uses in a JVM that writes the classes it loaded to an archive at exit
(``-XX:ArchiveClassesAtExit``), and every later JVM that debut starts reads it
(``-XX:SharedArchiveFile``). Measured: the same cold import 21.1-21.3 s instead of 24.7-26.9 s, the
session's start 2.3-3.3 s instead of 3.7-4.0 s.

The archive lives in the virtual environment, named after what it depends on (the java binary and
the jars), so a changed JDK or jar set gets a new one from the next ``make setup``. The JVM checks
the archive itself and ignores one that does not match (``-Xshare:auto``, the default): a stale or
missing archive costs only the time it would have saved. ``DEBUT_CLASS_ARCHIVE=off`` turns it off.
Under spark-submit or Databricks the JVM is already running and nothing here applies.

    python -m debut.cds build     # what make setup runs (about a minute, once)
    python -m debut.cds path      # the archive this environment uses, and whether it exists
"""
from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
import time
from typing import List, Optional

ENV = "DEBUT_CLASS_ARCHIVE"


def _fingerprint() -> str:
    import pyspark

    h = hashlib.sha256()
    java = shutil.which("java")
    if os.environ.get("JAVA_HOME"):
        java = os.path.join(os.environ["JAVA_HOME"], "bin", "java")
    if java and os.path.exists(java):
        real = os.path.realpath(java)
        st = os.stat(real)
        h.update(f"{real}:{st.st_size}:{int(st.st_mtime)}".encode())
    jars = os.path.join(os.path.dirname(pyspark.__file__), "jars")
    for name in sorted(os.listdir(jars)) if os.path.isdir(jars) else ():
        h.update(f"{name}:{os.path.getsize(os.path.join(jars, name))}".encode())
    return h.hexdigest()[:16]


def archive_path() -> str:
    """Where this environment's archive is (whether or not it exists)."""
    return os.path.join(sys.prefix, "share", "debut", f"spark-classes-{_fingerprint()}.jsa")


def java_options() -> List[str]:
    """The driver JVM's options that read the archive; none when it is off or missing."""
    if os.environ.get(ENV, "").lower() in ("off", "0", "false", "no"):
        return []
    path = archive_path()
    return [f"-XX:SharedArchiveFile={path}"] if os.path.isfile(path) else []


def _workload(spark, root: str) -> None:
    """The kinds of work debut's stages do, on a few rows: the classes they load are archived."""
    import pandas as pd
    from pyspark.ml.evaluation import BinaryClassificationEvaluator
    from pyspark.ml.recommendation import ALS
    from pyspark.sql import Window
    from pyspark.sql import functions as F
    from delta.tables import DeltaTable

    text = os.path.join(root, "events.jsonl")
    with open(text, "w") as f:
        for i in range(200):
            f.write(f'{{"event_id": "e{i}", "user_id": "u{i % 13}", "item_id": "i{i % 17}", '
                    f'"event_type": "{["view", "cart", "purchase"][i % 3]}", '
                    f'"event_time": "2026-09-{1 + i % 28:02d}T10:00:00Z", "price": {1 + i % 7}.5}}\n')
    csv = os.path.join(root, "orders.csv")
    pd.DataFrame({"order_id": range(50), "item_id": [f"i{i % 17}" for i in range(50)],
                  "units": [1 + i % 3 for i in range(50)]}).to_csv(csv, index=False)
    schema = ("event_id string, user_id string, item_id string, event_type string, "
              "event_time string, price double")
    ev = (spark.read.text(text).select(F.from_json("value", schema).alias("j"), "value").select("j.*", "value")
          .withColumn("ts", F.to_timestamp("event_time")).withColumn("date", F.to_date("ts"))
          .withColumn("user_key", F.sha2(F.concat_ws("|", F.lit("k"), "user_id"), 256))
          .withColumn("_r", F.row_number().over(Window.partitionBy("event_id").orderBy(F.col("ts").desc())))
          .where("_r = 1").drop("_r"))
    ev = ev.persist()
    path = os.path.join(root, "bronze")
    ev.write.format("delta").partitionBy("date").save(path)
    ev.limit(20).write.format("delta").mode("append").save(path)
    t = DeltaTable.forPath(spark, path)
    (t.alias("t").merge(ev.alias("s"), "t.event_id = s.event_id")
     .whenMatchedUpdateAll().whenNotMatchedInsertAll().execute())
    ev.where("date = '2026-09-01'").write.format("delta").mode("overwrite") \
        .option("replaceWhere", "date = '2026-09-01'").save(path)
    t.history().count()
    spark.read.format("delta").option("versionAsOf", 0).load(path).count()
    orders = spark.read.option("header", True).option("inferSchema", True).csv(csv)
    daily = (spark.read.format("delta").load(path).groupBy("item_id", "date")
             .agg(F.count(F.when(F.col("event_type") == "view", 1)).alias("views"),
                  F.countDistinct("user_key").alias("users"), F.collect_list("price").alias("prices"),
                  F.percentile_approx("price", [0.1, 0.5, 0.9]).alias("q"))
             .join(orders.groupBy("item_id").agg(F.sum("units").alias("units")), "item_id", "left")
             .withColumn("cum", F.sum("views").over(Window.partitionBy("item_id").orderBy("date")))
             .withColumn("top", F.slice(F.array_sort(F.transform("prices", lambda p: -p)), 1, 3))
             .select("*", F.explode_outer("q").alias("qv")))
    daily.write.format("delta").save(os.path.join(root, "silver"))

    def per_item(pdf: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"item_id": [pdf["item_id"].iloc[0]], "n": [float(len(pdf))]})

    ev.groupBy("item_id").applyInPandas(per_item, "item_id string, n double").collect()

    def doubled(x):
        return x * 2

    doubled.__annotations__ = {"x": pd.Series, "return": pd.Series}   # real types, not this module's strings
    ev.select(F.pandas_udf(doubled, "double")("price")).toPandas()
    ratings = (ev.select(F.abs(F.hash("user_id") % 13).alias("u"), F.abs(F.hash("item_id") % 17).alias("i"))
               .groupBy("u", "i").agg(F.count(F.lit(1)).cast("float").alias("r")))
    model = ALS(rank=2, maxIter=2, implicitPrefs=True, userCol="u", itemCol="i", ratingCol="r", seed=1).fit(ratings)
    scored = (model.transform(ratings).withColumn("label", (F.col("r") > 1).cast("double"))
              .withColumn("prediction", F.col("prediction").cast("double")))
    BinaryClassificationEvaluator(rawPredictionCol="prediction", labelCol="label").evaluate(scored)
    ev.unpersist()


def build(path: Optional[str] = None, quiet: bool = True) -> str:
    """Run the workload in a fresh JVM that writes the archive at exit; returns its path."""
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    from debut.spark import DELTA_CATALOG, DELTA_EXTENSION

    path = path or archive_path()
    if SparkSession.getActiveSession() is not None:
        raise RuntimeError("debut.cds.build needs a process without a Spark session: it starts its own JVM")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)   # workers need this interpreter's pandas
    partial = f"{path}.partial-{os.getpid()}"
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="debut-cds-") as root:
        log = f"file={os.path.join(root, 'cds.log')}" if quiet else ""
        # the archive's notes (classes it cannot hold: signed jars, old class files) go to a file
        opts = f"-XX:ArchiveClassesAtExit={partial}" + (f" -Xlog:disable -Xlog:cds*=warning:{log}" if log else "")
        spark = (SparkSession.builder.master("local[2]").appName("debut-cds")
                 .config("spark.driver.extraJavaOptions", opts)
                 .config("spark.sql.extensions", DELTA_EXTENSION)
                 .config("spark.sql.catalog.spark_catalog", DELTA_CATALOG)
                 .config("spark.sql.shuffle.partitions", "2")
                 .config("spark.ui.enabled", "true")
                 .config("spark.ui.showConsoleProgress", "false")
                 .config("spark.sql.warehouse.dir", os.path.join(root, "warehouse"))
                 .getOrCreate())
        spark.sparkContext.setLogLevel("ERROR")
        proc = SparkContext._gateway.proc
        try:
            _workload(spark, root)
        finally:
            spark.stop()
            SparkContext._gateway.shutdown()
            proc.stdin.close()      # the gateway JVM exits when its stdin closes, writing the archive
            proc.wait(timeout=300)
    if not os.path.isfile(partial):
        raise RuntimeError(f"the JVM wrote no class archive at {partial}")
    os.replace(partial, path)
    print(f"[cds] {path}: {os.path.getsize(path) / 2 ** 20:.0f} MiB, built in {time.time() - started:.0f} s",
          flush=True)
    return path


def main(argv: Optional[List[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    cmd = args[0] if args else "path"
    if cmd == "path":
        p = archive_path()
        print(f"{p} ({'exists' if os.path.isfile(p) else 'missing: python -m debut.cds build'})")
        return 0
    if cmd == "build":
        if os.path.isfile(archive_path()) and "--force" not in args:
            print(f"[cds] up to date: {archive_path()}")
            return 0
        build()
        return 0
    print("usage: python -m debut.cds [path | build [--force]]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
