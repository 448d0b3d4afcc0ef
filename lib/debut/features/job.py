"""build_features: bronze + silver -> gold.item_features, customer_profile, segments,
behaviour_sequences, purchase_intent.

Writes are re-runnable: item features MERGE on item_id (only rows that
changed; embeddings are computed only for texts never embedded before),
intent labels replace their cutoff_date, the as-of-run_date snapshots
(profile, segments, sequences) are overwritten. Segmentation picks k by silhouette and
logs every k's silhouette to MLflow (the segments' recovery of the simulator's
truth is scored on the simulator's side, by the evaluate_truth stage).
"""
from __future__ import annotations

import datetime as dt
import os
from typing import Dict

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from debut import io
from debut import schemas as S
from debut.config import Config, flatten
from debut.core import catalog, profile, sequences, status
from debut.features import embed, intent, items, segments

JOB = "build_features"


def _log(msg: str) -> None:
    print(f"[{JOB}] {msg}", flush=True)


def _check_python_workers(spark: SparkSession) -> None:
    """Warn when local executors run another interpreter: the embedding UDF needs debut,
    pandas and sentence-transformers there (spark-submit/clusters set PYSPARK_PYTHON)."""
    import shutil
    import sys

    sc = spark.sparkContext
    exec_ = getattr(sc, "pythonExec", None)
    if sc.master.startswith("local") and exec_:
        resolved = shutil.which(exec_) or exec_
        if os.path.abspath(resolved) != os.path.abspath(sys.executable):  # not realpath: venvs link
            _log(f"WARNING: Python workers run {exec_!r}, not this interpreter ({sys.executable}); the "
                 f"embedding UDF will fail there unless it has debut and sentence-transformers. "
                 f"Set PYSPARK_PYTHON={sys.executable}")


def _read_or_empty(spark: SparkSession, conf: Config, name: str, schema) -> DataFrame:
    if io.exists(spark, conf, name):
        return io.read(spark, conf, name)
    return spark.createDataFrame([], schema)


def _local(spark: SparkSession, small: DataFrame) -> DataFrame:
    """``small`` (one row per category or so) computed once and held as local rows: every query
    that joins it would otherwise recompute it, with its Delta scans and shuffles."""
    return spark.createDataFrame(small.collect(), small.schema)


def build_item_features(spark: SparkSession, conf: Config, run_date: dt.date, catalog_now: DataFrame,
                        category_index: DataFrame) -> Dict[str, int]:
    """MERGE gold.item_features; embed only the texts not embedded before (by text_hash)."""
    fc = conf.features
    path = fc.embedding_model_path       # None: the packaged model, resolved on each executor
    candidates = _read_or_empty(spark, conf, "bronze.candidates", S.CANDIDATES)
    rows = items.to_item_features(catalog_now, candidates, category_index, run_date=run_date,
                                  bands=fc.price_bands, model_id=embed.model_id(path))
    existing = None
    if io.exists(spark, conf, "gold.item_features"):
        existing = io.read(spark, conf, "gold.item_features")
        known = existing.where(F.col("text_embedding").isNotNull())
        # the item's own embedding when its text is unchanged, else any item's with the same text
        # (a launched candidate keeps its candidate's embedding)
        own = known.select("item_id", "text_hash", F.col("text_embedding").alias("_own"))
        same_text = known.groupBy("text_hash").agg(F.min_by("text_embedding", "item_id").alias("_same"))
        rows = (rows.join(own, on=["item_id", "text_hash"], how="left")
                .join(same_text, on="text_hash", how="left")
                .withColumn("text_embedding", F.coalesce("_own", "_same")).drop("_own", "_same"))
    rows = rows.persist(StorageLevel.MEMORY_AND_DISK)
    fresh = None
    try:
        counts = rows.agg(F.count(F.lit(1)).alias("n"), F.count(F.when(F.col("text_embedding").isNull(), 1))
                          .alias("todo")).first()
        n_rows, n_todo = counts["n"], counts["todo"]
        todo = rows.where(F.col("text_embedding").isNull())
        source = rows
        if n_todo:
            parts = embed.embedding_partitions(n_todo, batch_size=fc.embedding_batch_size,
                                               parallelism=spark.sparkContext.defaultParallelism)
            # Materialised once: MERGE reads its source twice and embeddings are the expensive part.
            fresh = (embed.with_text_embedding(todo.drop("text_embedding"), path=path,
                                               batch_size=fc.embedding_batch_size, dim=fc.embedding_dim,
                                               partitions=parts)
                     .select([f.name for f in S.ITEM_FEATURES.fields])
                     .persist(StorageLevel.MEMORY_AND_DISK))
            fresh.count()
            source = rows.where(F.col("text_embedding").isNotNull()).unionByName(fresh)
        source = io.select_schema(source, S.ITEM_FEATURES)
        if existing is not None:
            # only rows that differ from the table go into the MERGE (a rerun writes nothing)
            same = [source[f.name].eqNullSafe(existing[f.name]) for f in S.ITEM_FEATURES.fields]
            source = source.join(existing, on=same, how="left_anti")
            n_written = source.count()
        else:
            n_written = n_rows                          # no table yet: every row is new
        if n_written:
            io.merge(source, conf, "gold.item_features")
    finally:
        rows.unpersist()
        if fresh is not None:
            fresh.unpersist()
    return {"items": n_rows, "embedded": n_todo, "items_written": n_written}


def build_segments(profile_df: DataFrame, conf: Config, category_index: DataFrame, run_date: dt.date):
    """(profile with segment, gold.segments rows, SegmentFit or None when too few customers, customers).

    ``profile_df`` should be cached: it is read by the count, the fit (scaling,
    the driver sample, cluster sizes) and then by both writes.
    """
    fc = conf.features
    n = profile_df.count()
    keep = [f.name for f in S.CUSTOMER_PROFILE.fields if f.name not in ("user_key", "segment")]
    if n <= fc.segment_k_min:
        _log(f"segments: {n} customers, too few for k >= {fc.segment_k_min}; one segment")
        assigned = profile_df.select("user_key", *keep, F.lit(0).alias("segment"))
        fit = None
        k, sil = 1, None
    else:
        feats = segments.to_segment_features(profile_df, keep=keep)
        fit = segments.fit_segments(feats, k_min=fc.segment_k_min, k_max=fc.segment_k_max, seed=fc.segment_seed)
        for kk, s in sorted(fit.silhouettes.items()):
            _log(f"segments: k={kk} silhouette {s:.4f}{'  <- chosen' if kk == fit.k else ''}")
        assigned = segments.assign_segments(fit, feats, keep=keep)
        k, sil = fit.k, fit.silhouette
    with_seg = assigned.select([F.col(f.name).cast(f.dataType).alias(f.name) for f in S.CUSTOMER_PROFILE.fields])
    seg_rows = segments.to_segments(with_seg, category_index, k=k, silhouette=sil, as_of=run_date)
    return with_seg, seg_rows, fit, n


def run(spark: SparkSession, conf: Config, run_date: dt.date) -> Dict[str, object]:
    from debut import tracking

    no_customers = status.missing_customers(spark, conf)
    if no_customers:
        return run_items_only(spark, conf, run_date, no_customers)
    fc = conf.features
    catalog_df = io.read(spark, conf, "bronze.catalog")
    events = io.read(spark, conf, "bronze.events")
    orders = io.read(spark, conf, "bronze.orders")
    sessions = io.read(spark, conf, "silver.sessions")
    user_item = io.read(spark, conf, "silver.user_item")

    keep = StorageLevel.MEMORY_AND_DISK
    # the catalog on sale: read by the item features, the category index and the medians
    catalog_now = catalog.to_latest_snapshot(catalog_df, run_date=run_date).persist(keep)
    category_index = _local(spark, catalog.to_category_index(catalog_now))   # one row per category
    medians = catalog.to_category_medians(catalog_now)
    # every snapshot's items: used by the profile, the sequences and the labels
    item_cats = catalog.to_item_categories(catalog_df, category_index, run_date=run_date).persist(keep)
    cached = [catalog_now, item_cats]
    out: Dict[str, object] = {}
    params = {f"features.{k}": v for k, v in flatten(fc).items()}
    with tracking.job_run(conf, JOB, run_date.isoformat(), log_conf=False, params=params):
        import mlflow

        try:
            _check_python_workers(spark)
            res = build_item_features(spark, conf, run_date, catalog_now, category_index)
            out.update(res)
            _log(f"item_features: {res['items']:,} items and candidates, {res['embedded']:,} texts embedded, "
                 f"{res['items_written']:,} rows new or changed")

            prof = profile.to_customer_profile(events, orders, sessions, user_item, item_cats, category_index,
                                               medians, io.read(spark, conf, "gold.item_features"),
                                               as_of=run_date).persist(keep)
            cached.append(prof)
            with_seg, seg_rows, fit, out["customers"] = build_segments(prof, conf, category_index, run_date)
            io.overwrite(with_seg, conf, "gold.customer_profile")
            io.overwrite(seg_rows, conf, "gold.segments")
            for r in sorted(seg_rows.collect(), key=lambda r: r["segment"]):  # k rows, already on the driver
                _log(f"segment {r['segment']}: {r['size']:,} customers ({r['share']:.0%}) {r['label']}")
            if fit is not None:
                out["segment_k"] = fit.k
                out["silhouettes"] = dict(fit.silhouettes)
                mlflow.log_param("segment_k", fit.k)
                mlflow.log_metrics({"segment_k": fit.k, **{f"silhouette_k{k}": v for k, v in fit.silhouettes.items()
                                                           if v == v}})

            seqs = sequences.to_behaviour_sequences(events, item_cats, as_of=run_date, length=fc.sequence_length)
            io.overwrite(seqs, conf, "gold.behaviour_sequences")

            out.update(write_purchase_intent(conf, run_date, events, orders, item_cats, category_index))
            mlflow.log_metrics({k: float(out[k]) for k in ("customers", "items", "embedded", "intent_rows",
                                                           "intent_positive_rate")})
        finally:
            for df in cached:
                df.unpersist()
    status.record(spark, conf, JOB, run_date, [("item_features", status.OK, None, out["items"]),
                                               ("customers", status.OK, None, out["customers"])])
    return out


def run_items_only(spark: SparkSession, conf: Config, run_date: dt.date, reason: str) -> Dict[str, object]:
    """No customers (an export without customer ids): item features and text embeddings only;
    profiles, segments, sequences and purchase intent are skipped with ``reason`` in ops.stage_status."""
    from debut import tracking

    catalog_now = catalog.to_latest_snapshot(io.read(spark, conf, "bronze.catalog"), run_date=run_date)
    with tracking.job_run(conf, JOB, run_date.isoformat(), log_conf=False):
        _check_python_workers(spark)
        res = build_item_features(spark, conf, run_date, catalog_now, catalog.to_category_index(catalog_now))
    _log(f"item_features: {res['items']:,} items and candidates, {res['embedded']:,} texts embedded, "
         f"{res['items_written']:,} rows new or changed; no customer profiles, segments, sequences or "
         f"purchase intent")
    status.record(spark, conf, JOB, run_date, [("item_features", status.OK, None, res["items"]),
                                               ("customers", status.SKIPPED, reason, 0)])
    return {**res, "customers": 0, "skipped": reason}


def write_purchase_intent(conf: Config, run_date: dt.date, events: DataFrame, orders: DataFrame,
                          item_cats: DataFrame, category_index: DataFrame) -> Dict[str, float]:
    """Replace the labels of this run's cutoff (earlier cutoffs stay: they are training data)."""
    fc = conf.features
    cutoff = intent.intent_cutoff(run_date, fc.intent_window_days)
    labels = intent.to_purchase_intent(events, orders, item_cats, category_index, run_date=run_date,
                                       window_days=fc.intent_window_days,
                                       event_weights=conf.aggregate.event_weights,
                                       half_life_days=conf.aggregate.decay_half_life_days)
    labels = labels.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        stats = labels.agg(F.count(F.lit(1)).alias("n"), F.avg("label").alias("rate")).first()
        io.replace_where(labels, conf, "gold.purchase_intent", f"cutoff_date = DATE'{cutoff.isoformat()}'")
    finally:
        labels.unpersist()
    _log(f"purchase_intent: cutoff {cutoff}, {stats['n']:,} customer x category rows, "
         f"positive rate {stats['rate'] or 0:.3f}")
    return {"intent_rows": stats["n"], "intent_positive_rate": stats["rate"] or 0.0}
