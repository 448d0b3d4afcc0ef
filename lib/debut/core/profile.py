"""Customer profile: one row per user_key, as of a date (data strictly before it).

Every ``agg_*`` returns one row per customer it knows something about;
``to_customer_profile`` left-joins them onto every customer seen in events or
orders and fills the "nothing seen" values (0 orders, an all-zero affinity).

Several dates at once (``to_customer_profiles``): the inputs carry each row's
cut-off in ``as_of_date`` (``dates.explode_as_of``), ``as_of`` is that column
and every aggregation groups by ``keys`` = (user_key, as_of_date): one pass for
all the dates instead of one per date.
"""
from __future__ import annotations

import datetime as dt
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from scipy import sparse

from debut import schemas as S
from debut.core.catalog import with_n_categories
from debut.core.dates import AS_OF, AsOf, as_of_col, days_between, explode_as_of, filter_before
from debut.core.user_item import to_user_item_as_of
from debut.schemas import CANCELLED, COMPLETED, RETURNED


KEYS = ("user_key",)


def filter_customer_orders(orders_df: DataFrame, *, as_of: AsOf) -> DataFrame:
    """Order lines of known customers (not guest checkouts) dated before ``as_of``."""
    return filter_before(orders_df, date_col="order_date", as_of=as_of).where(F.col("user_key").isNotNull())


def agg_rfm(orders_df: DataFrame, *, as_of: AsOf, keys: Sequence[str] = KEYS) -> DataFrame:
    """Recency, frequency, monetary per customer from bronze.orders.

    A line's status is its latest one. Cancelled lines never count. Returned
    lines count as purchases (recency, frequency) but their value is taken off
    again: monetary = completed + returned - returned = the value of completed
    lines; ``returned_value`` keeps what was returned.
    """
    o = filter_customer_orders(orders_df, as_of=as_of)
    value = F.col("quantity") * F.col("unit_price")
    kept = F.col("status") != F.lit(CANCELLED)
    return (o.groupBy(*keys)
            .agg(F.max(F.when(kept, F.col("order_date"))).alias("last_purchase_date"),
                 F.countDistinct(F.when(kept, F.col("order_id"))).alias("frequency"),
                 F.sum(F.when(F.col("status") == COMPLETED, F.col("quantity")).otherwise(0)).alias("units"),
                 F.sum(F.when(F.col("status").isin(COMPLETED, RETURNED), value).otherwise(0.0)).alias("_gross"),
                 F.sum(F.when(F.col("status") == RETURNED, value).otherwise(0.0)).alias("returned_value"))
            .select(*keys, "last_purchase_date",
                    days_between(as_of_col(as_of), F.col("last_purchase_date")).alias("recency_days"),
                    F.col("frequency").cast("long").alias("frequency"),
                    F.col("units").cast("long").alias("units"),
                    (F.col("_gross") - F.col("returned_value")).alias("monetary"),
                    F.col("returned_value").cast("double").alias("returned_value")))


def agg_tenure(events_df: DataFrame, orders_df: DataFrame, *, as_of: AsOf, keys: Sequence[str] = KEYS) -> DataFrame:
    """first_seen_date (first event or order) and tenure_days up to ``as_of``."""
    ev = filter_before(events_df, date_col="event_date", as_of=as_of).select(*keys, F.col("event_date").alias("d"))
    od = filter_customer_orders(orders_df, as_of=as_of).select(*keys, F.col("order_date").alias("d"))
    return (ev.unionByName(od).groupBy(*keys).agg(F.min("d").alias("first_seen_date"))
            .select(*keys, "first_seen_date",
                    days_between(as_of_col(as_of), F.col("first_seen_date")).alias("tenure_days")))


def dense_vector(pairs: Column, n: Column, dtype: str = "float") -> Column:
    """A fixed-length array from an array of (index, value) structs: missing indices are 0.

    ``n`` is the length (a column); indices outside [0, n) are ignored.
    """
    m = F.map_from_entries(F.filter(pairs, lambda p: p["idx"].isNotNull()))
    vec = F.transform(F.sequence(F.lit(0), n - 1), lambda i: F.coalesce(m[i], F.lit(0.0)).cast(dtype))
    # sequence(0, -1) counts down: an empty category list must give an empty array
    return F.when(n > 0, vec).otherwise(F.array().cast(f"array<{dtype}>"))


def agg_category_affinity(user_item_df: DataFrame, item_categories_df: DataFrame,
                          category_index_df: DataFrame, keys: Sequence[str] = KEYS) -> DataFrame:
    """Share of each customer's interaction weight per category.

    category_affinity: map category -> share (categories with weight only);
    category_affinity_vector: the same as array<float> by category_index
    (length = number of catalog categories). Items outside the current
    categories are left out of the shares.
    """
    per_cat = (user_item_df.where(F.col("weight") > 0)
               .join(item_categories_df.where(F.col("category_index").isNotNull()), on="item_id", how="inner")
               .groupBy(*keys, "category", "category_index").agg(F.sum("weight").alias("w")))
    shares = (per_cat.groupBy(*keys)
              .agg(F.collect_list(F.struct(F.col("category_index").alias("idx"), F.col("category"),
                                           F.col("w"))).alias("_cats"),
                   F.sum("w").alias("_total")))
    return (with_n_categories(shares, category_index_df)
            .select(*keys,
                    F.map_from_entries(F.transform(F.col("_cats"), lambda c: F.struct(
                        c["category"], c["w"] / F.col("_total")))).alias("category_affinity"),
                    dense_vector(F.transform(F.col("_cats"), lambda c: F.struct(
                        c["idx"].alias("idx"), (c["w"] / F.col("_total")).alias("v"))),
                        F.col("_n_categories")).alias("category_affinity_vector")))


def agg_price_sensitivity(orders_df: DataFrame, item_categories_df: DataFrame, medians_df: DataFrame, *,
                          as_of: AsOf, keys: Sequence[str] = KEYS) -> DataFrame:
    """Mean of price paid / category median price, and the share of purchases below the median.

    Over order lines not cancelled; lines of items without a known category
    median are left out.
    """
    lines = (filter_customer_orders(orders_df, as_of=as_of).where(F.col("status") != F.lit(CANCELLED))
             .join(item_categories_df.select("item_id", "category"), on="item_id", how="inner")
             .join(F.broadcast(medians_df), on="category", how="inner")
             .where(F.col("median_price") > 0))
    return (lines.groupBy(*keys)
            .agg(F.avg(F.col("unit_price") / F.col("median_price")).alias("price_sensitivity"),
                 F.avg(F.when(F.col("unit_price") < F.col("median_price"), 1.0).otherwise(0.0))
                 .alias("below_median_share"))
            .select(*keys, "price_sensitivity", "below_median_share"))


def agg_channel_mix(events_df: DataFrame, *, as_of: AsOf, keys: Sequence[str] = KEYS) -> DataFrame:
    """Share of a customer's events per channel, as array<float> in CHANNELS order."""
    idx = F.expr(f"array_position(array({', '.join(repr(c) for c in S.CHANNELS)}), channel)") - 1
    per = (filter_before(events_df, date_col="event_date", as_of=as_of)
           .where(F.col("channel").isin(*S.CHANNELS))
           .groupBy(*keys, idx.cast("int").alias("idx")).agg(F.count(F.lit(1)).alias("n")))
    return (per.groupBy(*keys)
            .agg(F.collect_list(F.struct("idx", "n")).alias("_ch"), F.sum("n").alias("_total"))
            .select(*keys,
                    dense_vector(F.transform(F.col("_ch"), lambda c: F.struct(
                        c["idx"].alias("idx"), (c["n"] / F.col("_total")).alias("v"))),
                        F.lit(len(S.CHANNELS))).alias("channel_mix")))


def agg_session_stats(sessions_df: DataFrame, *, as_of: AsOf, keys: Sequence[str] = KEYS) -> DataFrame:
    """Sessions, mean session length (minutes), events per session, share of sessions with a purchase."""
    s = filter_before(sessions_df, date_col="session_date", as_of=as_of).where(F.col("user_key").isNotNull())
    return (s.groupBy(*keys)
            .agg(F.count(F.lit(1)).alias("sessions"),
                 F.avg(F.col("duration_s") / 60.0).alias("mean_session_minutes"),
                 F.avg("n_events").alias("events_per_session"),
                 F.avg(F.col("has_purchase").cast("double")).alias("purchase_session_share"))
            .select(*keys, F.col("sessions").cast("long").alias("sessions"), "mean_session_minutes",
                    F.col("events_per_session").cast("double").alias("events_per_session"),
                    "purchase_session_share"))


TASTE_SCHEMA = "user_key string, taste_embedding array<float>"


def _split_as_of(df: DataFrame) -> DataFrame:
    """``user_key`` made of "<user_key>|<as_of_date>" (``agg_taste_embedding``'s key by date) back
    into the two columns."""
    return df.select(F.expr("substring(user_key, 1, length(user_key) - 11)").alias("user_key"),
                     F.to_date(F.expr("substring(user_key, -10, 10)")).alias(AS_OF),
                     *[c for c in df.columns if c != "user_key"])


def agg_taste_embedding(user_item_df: DataFrame, item_features_df: DataFrame, keys: Sequence[str] = KEYS) -> DataFrame:
    """Weighted mean of the text embeddings of the items a customer interacted with.

    The embeddings are bounded by the catalog, so they are broadcast as one
    float32 matrix; customer x item weights are sorted by customer within
    partitions and each Arrow batch becomes one sparse (customers x items)
    product with it. A customer whose rows straddle two batches is carried over.
    Joining every pair with its embedding and aggregating vectors instead (a
    Summarizer) sort-spilled pairs x dimensions: tens of GB at 1M customers.
    With ``keys`` (user_key, as_of_date) a customer is a customer at a date: the
    two travel as one key "<user_key>|<yyyy-mm-dd>" through the batches.
    """
    if tuple(keys) not in (KEYS, (KEYS[0], AS_OF)):
        raise ValueError(f"agg_taste_embedding: keys must be {KEYS} or {(KEYS[0], AS_OF)}, not {tuple(keys)}")
    by_date = tuple(keys) != KEYS
    spark = user_item_df.sparkSession
    emb = (item_features_df.where(F.col("text_embedding").isNotNull())
           .select("item_id", "text_embedding").toPandas())
    if emb.empty:
        empty = spark.createDataFrame([], TASTE_SCHEMA)
        return _split_as_of(empty) if by_date else empty
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

    key = (F.concat_ws("|", "user_key", F.date_format(AS_OF, "yyyy-MM-dd")) if by_date
           else F.col("user_key")).alias("user_key")
    pairs = (user_item_df.where(F.col("weight") > 0).select(key, "item_id", "weight")
             .repartition("user_key").sortWithinPartitions("user_key"))
    out = pairs.mapInPandas(taste, TASTE_SCHEMA)
    return _split_as_of(out) if by_date else out


def _taste_rows(keys, sums: np.ndarray, wsum: np.ndarray) -> pd.DataFrame:
    means = (sums / wsum[:, None]).astype(np.float32)
    return pd.DataFrame({"user_key": list(keys), "taste_embedding": list(means)})


def to_customer_profile(events_df: DataFrame, orders_df: DataFrame, sessions_df: DataFrame,
                        user_item_df: DataFrame, item_categories_df: DataFrame, category_index_df: DataFrame,
                        medians_df: DataFrame, item_features_df: DataFrame, *, as_of: AsOf,
                        keys: Sequence[str] = KEYS) -> DataFrame:
    """gold.customer_profile rows (segment null: segmentation comes after)."""
    on = list(keys)
    customers = with_n_categories(agg_tenure(events_df, orders_df, as_of=as_of, keys=keys), category_index_df)
    zero_cat = dense_vector(F.array().cast("array<struct<idx:int,v:double>>"), F.col("_n_categories"))
    zero_ch = F.array(*[F.lit(0.0).cast("float") for _ in S.CHANNELS])
    out = (customers
           .join(agg_rfm(orders_df, as_of=as_of, keys=keys), on=on, how="left")
           .join(agg_category_affinity(user_item_df, item_categories_df, category_index_df, keys=keys), on=on,
                 how="left")
           .join(agg_price_sensitivity(orders_df, item_categories_df, medians_df, as_of=as_of, keys=keys), on=on,
                 how="left")
           .join(agg_session_stats(sessions_df, as_of=as_of, keys=keys), on=on, how="left")
           .join(agg_channel_mix(events_df, as_of=as_of, keys=keys), on=on, how="left")
           .join(agg_taste_embedding(user_item_df, item_features_df, keys=keys), on=on, how="left"))
    filled = {
        "frequency": F.coalesce("frequency", F.lit(0)), "units": F.coalesce("units", F.lit(0)),
        "monetary": F.coalesce("monetary", F.lit(0.0)), "returned_value": F.coalesce("returned_value", F.lit(0.0)),
        "sessions": F.coalesce("sessions", F.lit(0)),
        "category_affinity": F.coalesce("category_affinity", F.create_map().cast("map<string,double>")),
        "category_affinity_vector": F.coalesce(F.col("category_affinity_vector"), zero_cat),
        "channel_mix": F.coalesce("channel_mix", zero_ch),
        "segment": F.lit(None), AS_OF: as_of_col(as_of),
    }
    return out.select([filled.get(f.name, F.col(f.name)).cast(f.dataType).alias(f.name)
                       for f in S.CUSTOMER_PROFILE.fields])


def to_customer_profiles(events_df: DataFrame, orders_df: DataFrame, sessions_df: DataFrame,
                         item_categories_df: DataFrame, category_index_df: DataFrame, medians_df: DataFrame,
                         item_features_df: DataFrame, *, as_ofs: Iterable[dt.date],
                         event_weights: Mapping[str, float], half_life_days: float) -> DataFrame:
    """``to_customer_profile`` as of each date of ``as_ofs`` (user_item decayed to each), in one pass:
    one row per customer and date, the date in ``as_of_date``. The same rows as one profile per
    date (sums may differ in the last bits: the order of addition is Spark's)."""
    keys, as_of = (KEYS[0], AS_OF), F.col(AS_OF)
    ev = explode_as_of(events_df, date_col="event_date", as_ofs=as_ofs)
    od = explode_as_of(orders_df, date_col="order_date", as_ofs=as_ofs)
    se = explode_as_of(sessions_df, date_col="session_date", as_ofs=as_ofs)
    user_item = to_user_item_as_of(ev, as_of=as_of, event_weights=event_weights, half_life_days=half_life_days,
                                   keys=keys)
    return to_customer_profile(ev, od, se, user_item, item_categories_df, category_index_df, medians_df,
                               item_features_df, as_of=as_of, keys=keys)
