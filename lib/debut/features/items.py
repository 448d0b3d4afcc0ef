"""Item content features: one row per catalog item and per candidate of the plan.

Candidates are described exactly like catalog items and priced against the
catalog (its price-band cut points and median price per category), so a
candidate's "band 4" means what it means for the items already on sale.
The text embedding is filled in by ``debut.features.embed`` (only for new or
changed texts).
"""
from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from debut import schemas as S
from debut.core.dates import lit_date

ATTRIBUTE_FIELDS = ("category", "subcategory", "brand", "colour", "material", "style")
PERCENTILE_ACCURACY = 10000    # percentile_approx: exact below this many items per category


def to_item_rows(catalog_now_df: DataFrame, candidates_df: DataFrame, *, run_date: dt.date) -> DataFrame:
    """Catalog items of the current snapshot plus the candidates planned for run_date.

    An id in both (a candidate already launched) is the catalog item.
    """
    cols = ["item_id", "category", "subcategory", "brand", "title", "colour", "material", "style",
            "price", "unit_cost"]
    catalog = catalog_now_df.select(*cols, F.lit(False).alias("is_candidate"),
                                    F.lit(None).cast("date").alias("plan_date"), F.col("status"))
    cands = (candidates_df.where(F.col("plan_date") == lit_date(run_date))
             .withColumnRenamed("candidate_id", "item_id")
             .select(*cols, F.lit(True).alias("is_candidate"), F.col("plan_date"),
                     F.lit("candidate").alias("status")))
    cands = cands.join(catalog.select("item_id"), on="item_id", how="left_anti")
    return catalog.unionByName(cands)


def with_price_bands(items_df: DataFrame, *, bands: int) -> DataFrame:
    """price_band (1..bands, quantile bands of the catalog's prices in the category) and
    relative_price (price / the catalog's median price in the category).

    Cut points come from catalog rows only; candidates are placed among them.
    A price equal to a cut point falls in the lower band.
    """
    probs = [i / bands for i in range(1, bands)]
    catalog = items_df.where(~F.col("is_candidate"))
    ref = catalog.groupBy("category").agg(
        (F.percentile_approx("price", probs, PERCENTILE_ACCURACY) if probs
         else F.array().cast("array<double>")).alias("_cuts"),
        F.median("price").alias("_median"))
    band = F.size(F.filter(F.col("_cuts"), lambda c: c < F.col("price"))) + 1
    return (items_df.join(F.broadcast(ref), on="category", how="left")
            .withColumn("price_band", F.when(F.col("_cuts").isNotNull(), band).cast("int"))
            .withColumn("relative_price", F.when(F.col("_median") > 0, F.col("price") / F.col("_median")))
            .drop("_cuts", "_median"))


def with_attribute_vector(df: DataFrame, *, dim: int = S.ATTRIBUTE_DIM) -> DataFrame:
    """attribute_vector: hashed one-hot of "field=value" tokens (lower-cased), fixed length ``dim``.

    Hashing (xxhash64, fixed seed) needs no vocabulary, so candidates with new
    brands or materials get a vector without a refit. Null attributes add nothing.
    """
    tokens = F.array(*[F.concat(F.lit(f"{f}="), F.lower(F.trim(F.col(f)))) for f in ATTRIBUTE_FIELDS])
    buckets = F.transform(F.filter(tokens, lambda t: t.isNotNull()), lambda t: F.pmod(F.xxhash64(t), F.lit(dim)))
    vec = F.transform(F.sequence(F.lit(0), F.lit(dim - 1)),
                      lambda i: F.when(F.array_contains(buckets, i.cast("long")), F.lit(1.0)).otherwise(F.lit(0.0))
                      .cast("float"))
    return df.withColumn("attribute_vector", vec)


def with_item_text(df: DataFrame, *, model_id: str) -> DataFrame:
    """text: the title followed by the attributes; text_hash: sha2 of model id + text.

    The hash is what decides whether an item's embedding must be recomputed.
    """
    attrs = F.concat_ws(" ", F.regexp_replace(F.col("category"), "_", " "), "subcategory", "brand",
                        "colour", "material", "style")
    text = F.concat_ws(". ", F.col("title"), F.when(attrs != "", attrs))
    return (df.withColumn("text", text)
            .withColumn("text_hash", F.sha2(F.concat_ws("\u0001", F.lit(model_id), F.col("text")), 256)))


def to_item_features(catalog_now_df: DataFrame, candidates_df: DataFrame, category_index_df: DataFrame, *,
                     run_date: dt.date, bands: int, model_id: str) -> DataFrame:
    """gold.item_features rows without embeddings (text_embedding null)."""
    return (to_item_rows(catalog_now_df, candidates_df, run_date=run_date)
            .transform(lambda d: with_price_bands(d, bands=bands))
            .transform(with_attribute_vector)
            .transform(lambda d: with_item_text(d, model_id=model_id))
            .join(F.broadcast(category_index_df), on="category", how="left")
            .withColumn("margin_rate", F.when(F.col("price") > 0,
                                              (F.col("price") - F.col("unit_cost")) / F.col("price")))
            .withColumn("text_embedding", F.lit(None).cast("array<float>"))
            .withColumn("as_of_date", lit_date(run_date))
            .select([F.col(f.name).cast(f.dataType).alias(f.name) for f in S.ITEM_FEATURES.fields]))
