"""Customer segments: KMeans on scaled profile features, k chosen by silhouette.

Pipeline: VectorAssembler (log RFM, price sensitivity, square-rooted category
affinity) -> StandardScaler (mean 0, sd 1) -> ElementwiseProduct (RFM at half
weight) -> KMeans (seeded). The square root (Hellinger distance between
affinity distributions) keeps a customer's second favourite category from
being drowned by the first, and the lower RFM weight keeps heavy-tailed
activity from splitting customers who shop alike; on the default simulated
marketplace the two together lift the recovery of the hidden segments (ARI)
from about 0.55 to about 0.9. Segment ids are renumbered by size
(0 = largest), so the same data gives the same ids run after run.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

from pyspark import StorageLevel
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.clustering import KMeans
from pyspark.ml.evaluation import ClusteringEvaluator
from pyspark.ml.feature import ElementwiseProduct, StandardScaler, VectorAssembler
from pyspark.ml.functions import array_to_vector
from pyspark.ml.linalg import Vectors, VectorUDT
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from debut import schemas as S
from debut.core.dates import lit_date

FEATURE_COLS = ("log_recency", "log_frequency", "log_monetary", "price_ratio", "below_median", "affinity")
FEATURE_WEIGHTS = {"log_recency": 0.5, "log_frequency": 0.5, "log_monetary": 0.5}   # after scaling; others 1
N_INIT = 3                                 # KMeans starts per k
# label words: a segment's mean relative to the mean of all customers
FREQUENT, OCCASIONAL = 1.25, 0.75          # frequency (orders)
PRICE_SENSITIVE, PREMIUM = 0.9, 1.1        # price sensitivity (price paid / category median)


def to_segment_features(profile_df: DataFrame) -> DataFrame:
    """user_key and the unscaled clustering inputs (no nulls).

    Never purchased: recency = tenure (nothing bought since first seen),
    price ratio 1 and below-median share 0.5 (no evidence either way).
    """
    recency = F.coalesce(F.col("recency_days"), F.col("tenure_days"), F.lit(0))
    return profile_df.select(
        "user_key",
        F.log1p(recency.cast("double")).alias("log_recency"),
        F.log1p(F.col("frequency").cast("double")).alias("log_frequency"),
        F.log1p(F.greatest(F.col("monetary"), F.lit(0.0))).alias("log_monetary"),
        F.coalesce(F.col("price_sensitivity"), F.lit(1.0)).alias("price_ratio"),
        F.coalesce(F.col("below_median_share"), F.lit(0.5)).alias("below_median"),
        array_to_vector(F.transform("category_affinity_vector", lambda v: F.sqrt(v))).alias("affinity"),
    )


def fit_scaling(features_df: DataFrame, columns: Sequence[str],
                weights: Optional[Dict[str, float]] = None) -> PipelineModel:
    """Assemble ``columns`` -> ``features``, standardise -> ``_std``, weight -> ``scaled``.

    A column's weight applies to every slot it fills (the affinity vector has one
    per category); the slot count is only known after fitting, from the scaler.
    """
    weights = weights or {}
    base = Pipeline(stages=[
        VectorAssembler(inputCols=list(columns), outputCol="features", handleInvalid="error"),
        StandardScaler(inputCol="features", outputCol="_std", withMean=True, withStd=True),
    ]).fit(features_df)
    slots: List[float] = []
    for name, size in zip(columns, _slot_sizes(base, columns, features_df.schema)):
        slots += [float(weights.get(name, 1.0))] * size
    product = ElementwiseProduct(scalingVec=Vectors.dense(slots), inputCol="_std", outputCol="scaled")
    return PipelineModel(stages=[*base.stages, product])


def _slot_sizes(model: PipelineModel, columns: Sequence[str], schema) -> List[int]:
    """Vector slots per input column: 1 for numbers, the rest for the one vector column."""
    total = model.stages[1].mean.size
    scalars = [c for c in columns if not isinstance(schema[c].dataType, VectorUDT)]
    vectors = [c for c in columns if c not in scalars]
    if len(vectors) > 1:
        raise ValueError(f"at most one vector column can be weighted, got {vectors}")
    return [1 if c in scalars else total - len(scalars) for c in columns]


@dataclass(frozen=True)
class SegmentFit:
    model: PipelineModel                   # assembler, scaler, weights and the chosen KMeans
    k: int
    silhouettes: Dict[int, float]          # every k tried (NaN where KMeans found < 2 clusters)

    @property
    def silhouette(self) -> float:
        return self.silhouettes[self.k]


def fit_segments(features_df: DataFrame, *, k_min: int, k_max: int, seed: int, n_init: int = N_INIT,
                 features_col_names: Optional[List[str]] = None) -> SegmentFit:
    """Fit KMeans for every k in [k_min, k_max] (capped below the number of rows), keep the best
    silhouette (ties: the smaller k).

    ``features_df`` is to_segment_features' output (or any frame whose
    ``features_col_names`` columns assemble into a vector).
    """
    columns = list(features_col_names or FEATURE_COLS)
    scaler = fit_scaling(features_df, columns, FEATURE_WEIGHTS)
    scaled = scaler.transform(features_df).select("user_key", "scaled").persist(StorageLevel.MEMORY_AND_DISK)
    try:
        rows = scaled.count()
        evaluator = ClusteringEvaluator(featuresCol="scaled", predictionCol="cluster",
                                        distanceMeasure="squaredEuclidean")
        scores: Dict[int, float] = {}
        models = {}
        for k in range(k_min, max(k_min, min(k_max, rows - 1)) + 1):
            # best of n_init seeded starts by within-cluster cost, as sklearn does: one
            # k-means|| start sometimes lands in a poor optimum and then loses the silhouette vote
            runs = [KMeans(featuresCol="scaled", predictionCol="cluster", k=k, seed=seed + 1000 * i,
                           maxIter=50, tol=1e-6).fit(scaled) for i in range(max(1, n_init))]
            model = min(runs, key=lambda m: m.summary.trainingCost)
            found = sum(1 for size in model.summary.clusterSizes if size > 0)
            scores[k] = evaluator.evaluate(model.transform(scaled)) if found >= 2 else float("nan")
            models[k] = model
    finally:
        scaled.unpersist()
    valid = {k: s for k, s in scores.items() if s == s}
    best = max(valid, key=lambda k: (valid[k], -k)) if valid else min(scores)
    return SegmentFit(PipelineModel(stages=[*scaler.stages, models[best]]), best, scores)


def assign_segments(fit: SegmentFit, features_df: DataFrame) -> DataFrame:
    """(user_key, segment): clusters renumbered by size, largest first (ties: lower cluster id)."""
    pred = fit.model.transform(features_df).select("user_key", "cluster")
    sizes = pred.groupBy("cluster").agg(F.count(F.lit(1)).alias("n"))
    order = Window.orderBy(F.col("n").desc(), F.col("cluster")).rowsBetween(Window.unboundedPreceding,
                                                                           Window.currentRow)
    ids = sizes.select("cluster", (F.row_number().over(order) - 1).cast("int").alias("segment"))
    return pred.join(F.broadcast(ids), on="cluster", how="inner").select("user_key", "segment")


def to_segments(profile_df: DataFrame, category_index_df: DataFrame, *, k: int, silhouette: Optional[float],
                as_of: dt.date) -> DataFrame:
    """gold.segments: size, share, top 3 categories, mean price sensitivity and RFM, a label."""
    p = profile_df.where(F.col("segment").isNotNull())
    stats = (p.groupBy("segment")
             .agg(F.count(F.lit(1)).alias("size"),
                  F.avg("price_sensitivity").alias("mean_price_sensitivity"),
                  F.avg("recency_days").alias("mean_recency_days"),
                  F.avg("frequency").alias("mean_frequency"),
                  F.avg("monetary").alias("mean_monetary")))
    overall = p.agg(F.count(F.lit(1)).alias("_all"), F.avg("frequency").alias("_all_frequency"),
                    F.avg("price_sensitivity").alias("_all_price"))
    cat = (p.select("segment", F.posexplode("category_affinity_vector").alias("category_index", "v"))
           .groupBy("segment", "category_index").agg(F.avg("v").alias("v")))
    rank = Window.partitionBy("segment").orderBy(F.col("v").desc(), F.col("category_index"))
    top = (cat.withColumn("rank", F.row_number().over(rank)).where((F.col("rank") <= 3) & (F.col("v") > 0))
           .join(F.broadcast(category_index_df), on="category_index", how="inner")
           .groupBy("segment")
           .agg(F.array_sort(F.collect_list(F.struct("rank", "category"))).alias("_top"))
           .select("segment", F.transform("_top", lambda t: t["category"]).alias("top_categories")))
    rel_f = F.col("mean_frequency") / F.col("_all_frequency")
    freq_word = (F.when(F.col("_all_frequency") <= 0, F.lit("no orders"))
                 .when(rel_f >= FREQUENT, F.lit("frequent"))
                 .when(rel_f <= OCCASIONAL, F.lit("occasional"))
                 .otherwise(F.lit("regular")))
    rel_p = F.col("mean_price_sensitivity") / F.col("_all_price")
    price_word = (F.when(rel_p.isNull(), F.lit(None))
                  .when(rel_p <= PRICE_SENSITIVE, F.lit("price-sensitive"))
                  .when(rel_p >= PREMIUM, F.lit("premium"))
                  .otherwise(F.lit("mid-price")))
    tops = F.coalesce(F.col("top_categories"), F.array().cast("array<string>"))
    label = F.concat_ws(", ", freq_word, price_word,
                        F.when(F.size(tops) > 0, F.array_join(F.slice(tops, 1, 2), "+")))
    return (stats.crossJoin(F.broadcast(overall)).join(top, on="segment", how="left")
            .select(F.col("segment").cast("int"), F.col("size").cast("long"),
                    (F.col("size") / F.col("_all")).alias("share"), tops.alias("top_categories"),
                    "mean_price_sensitivity", "mean_recency_days", "mean_frequency", "mean_monetary",
                    label.alias("label"), F.lit(k).cast("int").alias("k"),
                    F.lit(silhouette).cast("double").alias("silhouette"), lit_date(as_of).alias("as_of_date"))
            .select([F.col(f.name).cast(f.dataType).alias(f.name) for f in S.SEGMENTS.fields]))
