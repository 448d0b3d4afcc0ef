"""Customer profile: one row per user_key, as of a date (data strictly before it).

Every ``agg_*`` returns one row per customer it knows something about;
``to_customer_profile`` left-joins them onto every customer seen in events or
orders and fills the "nothing seen" values (0 orders, an all-zero affinity).
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from scipy import sparse

from debut import schemas as S
from debut.core.catalog import with_n_categories
from debut.core.dates import days_between, filter_before, lit_date
from debut.schemas import CANCELLED, COMPLETED, RETURNED


def filter_customer_orders(orders_df: DataFrame, *, as_of: dt.date) -> DataFrame:
    """Order lines of known customers (not guest checkouts) dated before ``as_of``."""
    return filter_before(orders_df, date_col="order_date", as_of=as_of).where(F.col("user_key").isNotNull())


def agg_rfm(orders_df: DataFrame, *, as_of: dt.date) -> DataFrame:
    """Recency, frequency, monetary per customer from bronze.orders.

    A line's status is its latest one. Cancelled lines never count. Returned
    lines count as purchases (recency, frequency) but their value is taken off
    again: monetary = completed + returned - returned = the value of completed
    lines; ``returned_value`` keeps what was returned.
    """
    o = filter_customer_orders(orders_df, as_of=as_of)
    value = F.col("quantity") * F.col("unit_price")
    kept = F.col("status") != F.lit(CANCELLED)
    return (o.groupBy("user_key")
            .agg(F.max(F.when(kept, F.col("order_date"))).alias("last_purchase_date"),
                 F.countDistinct(F.when(kept, F.col("order_id"))).alias("frequency"),
                 F.sum(F.when(F.col("status") == COMPLETED, F.col("quantity")).otherwise(0)).alias("units"),
                 F.sum(F.when(F.col("status").isin(COMPLETED, RETURNED), value).otherwise(0.0)).alias("_gross"),
                 F.sum(F.when(F.col("status") == RETURNED, value).otherwise(0.0)).alias("returned_value"))
            .select("user_key", "last_purchase_date",
                    days_between(lit_date(as_of), F.col("last_purchase_date")).alias("recency_days"),
                    F.col("frequency").cast("long").alias("frequency"),
                    F.col("units").cast("long").alias("units"),
                    (F.col("_gross") - F.col("returned_value")).alias("monetary"),
                    F.col("returned_value").cast("double").alias("returned_value")))


def agg_tenure(events_df: DataFrame, orders_df: DataFrame, *, as_of: dt.date) -> DataFrame:
    """first_seen_date (first event or order) and tenure_days up to ``as_of``."""
    ev = filter_before(events_df, date_col="event_date", as_of=as_of).select("user_key", F.col("event_date").alias("d"))
    od = filter_customer_orders(orders_df, as_of=as_of).select("user_key", F.col("order_date").alias("d"))
    return (ev.unionByName(od).groupBy("user_key").agg(F.min("d").alias("first_seen_date"))
            .select("user_key", "first_seen_date",
                    days_between(lit_date(as_of), F.col("first_seen_date")).alias("tenure_days")))


def dense_vector(pairs: Column, n: Column, dtype: str = "float") -> Column:
    """A fixed-length array from an array of (index, value) structs: missing indices are 0.

    ``n`` is the length (a column); indices outside [0, n) are ignored.
    """
    m = F.map_from_entries(F.filter(pairs, lambda p: p["idx"].isNotNull()))
    vec = F.transform(F.sequence(F.lit(0), n - 1), lambda i: F.coalesce(m[i], F.lit(0.0)).cast(dtype))
    # sequence(0, -1) counts down: an empty category list must give an empty array
    return F.when(n > 0, vec).otherwise(F.array().cast(f"array<{dtype}>"))


def agg_category_affinity(user_item_df: DataFrame, item_categories_df: DataFrame,
                          category_index_df: DataFrame) -> DataFrame:
    """Share of each customer's interaction weight per category.

    category_affinity: map category -> share (categories with weight only);
    category_affinity_vector: the same as array<float> by category_index
    (length = number of catalog categories). Items outside the current
    categories are left out of the shares.
    """
    per_cat = (user_item_df.where(F.col("weight") > 0)
               .join(item_categories_df.where(F.col("category_index").isNotNull()), on="item_id", how="inner")
               .groupBy("user_key", "category", "category_index").agg(F.sum("weight").alias("w")))
    shares = (per_cat.groupBy("user_key")
              .agg(F.collect_list(F.struct(F.col("category_index").alias("idx"), F.col("category"),
                                           F.col("w"))).alias("_cats"),
                   F.sum("w").alias("_total")))
    return (with_n_categories(shares, category_index_df)
            .select("user_key",
                    F.map_from_entries(F.transform(F.col("_cats"), lambda c: F.struct(
                        c["category"], c["w"] / F.col("_total")))).alias("category_affinity"),
                    dense_vector(F.transform(F.col("_cats"), lambda c: F.struct(
                        c["idx"].alias("idx"), (c["w"] / F.col("_total")).alias("v"))),
                        F.col("_n_categories")).alias("category_affinity_vector")))


def agg_price_sensitivity(orders_df: DataFrame, item_categories_df: DataFrame, medians_df: DataFrame, *,
                          as_of: dt.date) -> DataFrame:
    """Mean of price paid / category median price, and the share of purchases below the median.

    Over order lines not cancelled; lines of items without a known category
    median are left out.
    """
    lines = (filter_customer_orders(orders_df, as_of=as_of).where(F.col("status") != F.lit(CANCELLED))
             .join(item_categories_df.select("item_id", "category"), on="item_id", how="inner")
             .join(F.broadcast(medians_df), on="category", how="inner")
             .where(F.col("median_price") > 0))
    return (lines.groupBy("user_key")
            .agg(F.avg(F.col("unit_price") / F.col("median_price")).alias("price_sensitivity"),
                 F.avg(F.when(F.col("unit_price") < F.col("median_price"), 1.0).otherwise(0.0))
                 .alias("below_median_share"))
            .select("user_key", "price_sensitivity", "below_median_share"))


def agg_channel_mix(events_df: DataFrame, *, as_of: dt.date) -> DataFrame:
    """Share of a customer's events per channel, as array<float> in CHANNELS order."""
    idx = F.expr(f"array_position(array({', '.join(repr(c) for c in S.CHANNELS)}), channel)") - 1
    per = (filter_before(events_df, date_col="event_date", as_of=as_of)
           .where(F.col("channel").isin(*S.CHANNELS))
           .groupBy("user_key", idx.cast("int").alias("idx")).agg(F.count(F.lit(1)).alias("n")))
    return (per.groupBy("user_key")
            .agg(F.collect_list(F.struct("idx", "n")).alias("_ch"), F.sum("n").alias("_total"))
            .select("user_key",
                    dense_vector(F.transform(F.col("_ch"), lambda c: F.struct(
                        c["idx"].alias("idx"), (c["n"] / F.col("_total")).alias("v"))),
                        F.lit(len(S.CHANNELS))).alias("channel_mix")))


def agg_session_stats(sessions_df: DataFrame, *, as_of: dt.date) -> DataFrame:
    """Sessions, mean session length (minutes), events per session, share of sessions with a purchase."""
    s = filter_before(sessions_df, date_col="session_date", as_of=as_of).where(F.col("user_key").isNotNull())
    return (s.groupBy("user_key")
            .agg(F.count(F.lit(1)).alias("sessions"),
                 F.avg(F.col("duration_s") / 60.0).alias("mean_session_minutes"),
                 F.avg("n_events").alias("events_per_session"),
                 F.avg(F.col("has_purchase").cast("double")).alias("purchase_session_share"))
            .select("user_key", F.col("sessions").cast("long").alias("sessions"), "mean_session_minutes",
                    F.col("events_per_session").cast("double").alias("events_per_session"),
                    "purchase_session_share"))


TASTE_SCHEMA = "user_key string, taste_embedding array<float>"


def agg_taste_embedding(user_item_df: DataFrame, item_features_df: DataFrame) -> DataFrame:
    """Weighted mean of the text embeddings of the items a customer interacted with.

    The embeddings are bounded by the catalog, so they are broadcast as one
    float32 matrix; customer x item weights are sorted by customer within
    partitions and each Arrow batch becomes one sparse (customers x items)
    product with it. A customer whose rows straddle two batches is carried over.
    Joining every pair with its embedding and aggregating vectors instead (a
    Summarizer) sort-spilled pairs x dimensions: tens of GB at 1M customers.
    """
    spark = user_item_df.sparkSession
    emb = (item_features_df.where(F.col("text_embedding").isNotNull())
           .select("item_id", "text_embedding").toPandas())
    if emb.empty:
        return spark.createDataFrame([], TASTE_SCHEMA)
    width = len(emb["text_embedding"].iloc[0])
    emb = emb[[v is not None and len(v) == width for v in emb["text_embedding"]]]
    ids = pd.Index(emb["item_id"].to_numpy(object))
    mat = np.stack([np.asarray(v, dtype=np.float32) for v in emb["text_embedding"]])
    bc = spark.sparkContext.broadcast((ids, mat))

    def taste(batches):
        ids_, mat_ = bc.value
        carry_key, carry_sum, carry_w = None, None, 0.0
        for pdf in batches:
            pos = ids_.get_indexer(pdf["item_id"].to_numpy(object))
            keep = pos >= 0
            if not keep.any():
                continue
            keys = pdf["user_key"].to_numpy(object)[keep]
            codes, uniq = pd.factorize(keys, sort=False)             # rows are sorted: order of appearance
            w = pdf["weight"].to_numpy(np.float64)[keep]
            W = sparse.csr_matrix((w, (codes, pos[keep])), shape=(len(uniq), len(ids_)))
            sums = np.asarray(W @ mat_, dtype=np.float64)
            wsum = np.bincount(codes, weights=w, minlength=len(uniq))
            if carry_key is not None:
                if uniq[0] == carry_key:
                    sums[0] += carry_sum
                    wsum[0] += carry_w
                else:
                    yield _taste_rows([carry_key], carry_sum[None, :], np.array([carry_w]))
            carry_key, carry_sum, carry_w = uniq[-1], sums[-1].copy(), float(wsum[-1])
            if len(uniq) > 1:
                yield _taste_rows(uniq[:-1], sums[:-1], wsum[:-1])
        if carry_key is not None:
            yield _taste_rows([carry_key], carry_sum[None, :], np.array([carry_w]))

    pairs = (user_item_df.where(F.col("weight") > 0).select("user_key", "item_id", "weight")
             .repartition("user_key").sortWithinPartitions("user_key"))
    return pairs.mapInPandas(taste, TASTE_SCHEMA)


def _taste_rows(keys, sums: np.ndarray, wsum: np.ndarray) -> pd.DataFrame:
    means = (sums / wsum[:, None]).astype(np.float32)
    return pd.DataFrame({"user_key": list(keys), "taste_embedding": list(means)})


def to_customer_profile(events_df: DataFrame, orders_df: DataFrame, sessions_df: DataFrame,
                        user_item_df: DataFrame, item_categories_df: DataFrame, category_index_df: DataFrame,
                        medians_df: DataFrame, item_features_df: DataFrame, *, as_of: dt.date) -> DataFrame:
    """gold.customer_profile rows (segment null: segmentation comes after)."""
    customers = with_n_categories(agg_tenure(events_df, orders_df, as_of=as_of), category_index_df)
    zero_cat = dense_vector(F.array().cast("array<struct<idx:int,v:double>>"), F.col("_n_categories"))
    zero_ch = F.array(*[F.lit(0.0).cast("float") for _ in S.CHANNELS])
    out = (customers
           .join(agg_rfm(orders_df, as_of=as_of), on="user_key", how="left")
           .join(agg_category_affinity(user_item_df, item_categories_df, category_index_df), on="user_key",
                 how="left")
           .join(agg_price_sensitivity(orders_df, item_categories_df, medians_df, as_of=as_of), on="user_key",
                 how="left")
           .join(agg_session_stats(sessions_df, as_of=as_of), on="user_key", how="left")
           .join(agg_channel_mix(events_df, as_of=as_of), on="user_key", how="left")
           .join(agg_taste_embedding(user_item_df, item_features_df), on="user_key", how="left"))
    filled = {
        "frequency": F.coalesce("frequency", F.lit(0)), "units": F.coalesce("units", F.lit(0)),
        "monetary": F.coalesce("monetary", F.lit(0.0)), "returned_value": F.coalesce("returned_value", F.lit(0.0)),
        "sessions": F.coalesce("sessions", F.lit(0)),
        "category_affinity": F.coalesce("category_affinity", F.create_map().cast("map<string,double>")),
        "category_affinity_vector": F.coalesce(F.col("category_affinity_vector"), zero_cat),
        "channel_mix": F.coalesce("channel_mix", zero_ch),
        "segment": F.lit(None), "as_of_date": lit_date(as_of),
    }
    return out.select([filled.get(f.name, F.col(f.name)).cast(f.dataType).alias(f.name)
                       for f in S.CUSTOMER_PROFILE.fields])
