"""Training sets of the three deep models, assembled by Spark from the lakehouse tables.

Time is what keeps labels out of features. With ``H = deep.holdout_days`` and
``cutoff = run_date - H``:

* ctr and sequence: an example set is built for a label window
  ``[start, start + H)`` from features computed *as of* ``start`` (data
  strictly before it, the same definitions as build_features). The holdout is
  the window ``[cutoff, run_date)``; training uses the ``deep.train_windows``
  windows before it (``[cutoff - jH, cutoff - (j-1)H)``). Serving uses the
  gold snapshots as of run_date (:func:`ctr_pairs`, gold.behaviour_sequences).
* demand: one example per launch whose first ``forecast.horizon_weeks`` weeks
  are complete; features are content plus a category context computed only
  from the days *before* the launch date. The last ``H`` days of complete
  launches (``run_date - 7 * horizon_weeks - H + 1`` ..
  ``run_date - 7 * horizon_weeks``) are the holdout.

Feature vectors (fixed length, the order is the contract the models learn):

user_features (from a CUSTOMER_PROFILE row), length 14 + C + 3 + E
    has_purchased, log1p recency_days (0 if never), log1p frequency, units,
    monetary, returned_value, tenure_days, sessions, mean_session_minutes,
    events_per_session, purchase_session_share, price_sensitivity (1 if none),
    below_median_share, has_taste; category_affinity_vector (C categories);
    channel_mix (3); taste_embedding (E = features.embedding_dim, zeros if none)
attributes (from a gold.item_features row), length 5 + B + C + ATTRIBUTE_DIM
    log1p price, relative_price (1 if none), log1p relative_price,
    margin_rate (0 if none), has_text; price_band one-hot (B = features.price_bands);
    category one-hot (C, by category_index); attribute_vector
item_features (ctr) = attributes followed by the text embedding (E, zeros if none)
category_context (demand), length 9, over the context_days before the as-of date
    log1p mean daily units of the category, trend (log1p mean daily units of
    the recent half minus the older half), log1p mean daily views, log1p mean
    daily active items, log1p mean daily units per active item, log1p launches
    in the category, relative_price (1 if none), price-band position in [0, 1],
    share of the window the history covers
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from debut import io
from debut import schemas as S
from debut.config import Config
from debut.core.dates import lit_date
from debut.schemas import CANCELLED

# oversampling of negative draws per wanted negative: draws that hit one of the
# customer's own purchases, or repeat an item, are discarded before keeping k
NEGATIVE_OVERSAMPLE = 3
USER_SCALARS = 14
ITEM_SCALARS = 5
CONTEXT_WIDTH = 9


# ===================================================================== windows
@dataclass(frozen=True)
class LabelWindow:
    """A label window [start, end); features are as of ``start``."""
    start: dt.date
    end: dt.date


def holdout_window(run_date: dt.date, holdout_days: int) -> LabelWindow:
    return LabelWindow(run_date - dt.timedelta(days=holdout_days), run_date)


def train_windows(run_date: dt.date, holdout_days: int, n: int) -> List[LabelWindow]:
    """The ``n`` label windows before the holdout, newest first."""
    cutoff = holdout_window(run_date, holdout_days).start
    h = dt.timedelta(days=holdout_days)
    return [LabelWindow(cutoff - j * h, cutoff - (j - 1) * h) for j in range(1, n + 1)]


def demand_split_date(run_date: dt.date, horizon_weeks: int, holdout_days: int) -> dt.date:
    """Launches on or after this date (with complete weeks) are the demand holdout.

    The latest launch with ``horizon_weeks`` complete weeks is on run_date - 7 * horizon_weeks;
    the holdout is the ``holdout_days`` days of launches ending there.
    """
    return run_date - dt.timedelta(days=7 * horizon_weeks + holdout_days - 1)


# ============================================================ feature vectors
def _zeros(n: int) -> Column:
    return F.array_repeat(F.lit(0.0).cast("float"), n)


def _one_hot(value: Column, first: int, n: int) -> Column:
    """``n`` floats, 1.0 where ``value`` equals first..first+n-1 (all zero for null)."""
    if n < 1:
        return F.array().cast("array<float>")
    return F.transform(F.sequence(F.lit(first), F.lit(first + n - 1)),
                       lambda i: F.when(i == value, F.lit(1.0)).otherwise(F.lit(0.0)).cast("float"))


def _floats(*cols: Column) -> Column:
    return F.array(*[c.cast("float") for c in cols])


def _sized(vec: Column, width: int) -> Column:
    """``vec`` when it has ``width`` elements, else null (the row is then skipped or scored null)."""
    return F.when(F.size(vec) == width, vec)


def user_width(n_categories: int, embedding_dim: int) -> int:
    return USER_SCALARS + n_categories + len(S.CHANNELS) + embedding_dim


def attributes_width(n_categories: int, bands: int) -> int:
    return ITEM_SCALARS + bands + n_categories + S.ATTRIBUTE_DIM


def user_vector(n_categories: int, embedding_dim: int) -> Column:
    """user_features of a CUSTOMER_PROFILE row (see the module docstring for the layout)."""
    log1p0 = lambda c: F.log1p(F.greatest(F.coalesce(F.col(c), F.lit(0)).cast("double"), F.lit(0.0)))  # noqa: E731
    scalars = _floats(
        F.col("recency_days").isNotNull(), log1p0("recency_days"), log1p0("frequency"), log1p0("units"),
        log1p0("monetary"), log1p0("returned_value"), log1p0("tenure_days"), log1p0("sessions"),
        log1p0("mean_session_minutes"), log1p0("events_per_session"),
        F.coalesce(F.col("purchase_session_share"), F.lit(0.0)),
        F.coalesce(F.col("price_sensitivity"), F.lit(1.0)),
        F.coalesce(F.col("below_median_share"), F.lit(0.0)),
        F.col("taste_embedding").isNotNull())
    vec = F.concat(scalars, F.col("category_affinity_vector").cast("array<float>"),
                   F.col("channel_mix").cast("array<float>"),
                   F.coalesce(F.col("taste_embedding").cast("array<float>"), _zeros(embedding_dim)))
    return _sized(vec, user_width(n_categories, embedding_dim))


def attributes_vector(n_categories: int, bands: int) -> Column:
    """attributes of a gold.item_features row (content only, no text)."""
    rel = F.coalesce(F.col("relative_price"), F.lit(1.0))
    scalars = _floats(F.log1p(F.greatest(F.col("price"), F.lit(0.0))), rel, F.log1p(F.greatest(rel, F.lit(0.0))),
                      F.coalesce(F.col("margin_rate"), F.lit(0.0)), F.col("text_embedding").isNotNull())
    vec = F.concat(scalars, _one_hot(F.col("price_band"), 1, bands), _one_hot(F.col("category_index"), 0, n_categories),
                   F.col("attribute_vector").cast("array<float>"))
    return _sized(vec, attributes_width(n_categories, bands))


def text_vector(embedding_dim: int) -> Column:
    return _sized(F.coalesce(F.col("text_embedding").cast("array<float>"), _zeros(embedding_dim)), embedding_dim)


def to_user_vectors(profile_df: DataFrame, *, n_categories: int, embedding_dim: int) -> DataFrame:
    """(user_key, user_features) of every profile row."""
    return profile_df.select("user_key", user_vector(n_categories, embedding_dim).alias("user_features"))


def to_item_vectors(item_features_df: DataFrame, *, n_categories: int, bands: int, embedding_dim: int) -> DataFrame:
    """(item_id, item_features) of every gold.item_features row: attributes then text embedding."""
    return item_features_df.select(
        "item_id", F.concat(attributes_vector(n_categories, bands), text_vector(embedding_dim)).alias("item_features"))


def n_categories(item_features_df: DataFrame) -> int:
    """Categories of the catalog (max category_index + 1): the width of one-hots and affinities."""
    top = item_features_df.agg(F.max("category_index")).first()[0]   # one number
    return 0 if top is None else int(top) + 1


# ========================================================================= ctr
def ctr_positives(orders_df: DataFrame, *, start: dt.date, end: dt.date) -> DataFrame:
    """(user_key, item_id): customers' order lines not cancelled, ordered in [start, end)."""
    return (orders_df
            .where(F.col("user_key").isNotNull() & (F.col("status") != F.lit(CANCELLED))
                   & (F.col("order_date") >= lit_date(start)) & (F.col("order_date") < lit_date(end)))
            .select("user_key", "item_id").distinct())


def negative_pool(item_daily_df: DataFrame, *, start: dt.date, end: dt.date) -> DataFrame:
    """(item_id, weight): items on show in [start, end) (a view, cart or purchase), weight = purchases + 1."""
    return (item_daily_df
            .where((F.col("date") >= lit_date(start)) & (F.col("date") < lit_date(end)))
            .groupBy("item_id")
            .agg(F.sum("views").alias("_v"), F.sum("carts").alias("_c"), F.sum("purchases").alias("_p"))
            .where(F.col("_v") + F.col("_c") + F.col("_p") > 0)
            .select("item_id", (F.col("_p") + 1).cast("long").alias("weight")))


def sample_negatives(positives_df: DataFrame, pool_df: DataFrame, *, k: int, seed: int,
                     oversample: int = NEGATIVE_OVERSAMPLE) -> DataFrame:
    """Up to ``k`` sampled items per positive (user_key, item_id) that the customer did not buy.

    Items are drawn with probability proportional to their pool weight: the
    pool is laid out as ``sum(weight)`` numbered slots (a running sum over the
    item table) and every draw hashes (seed, customer, positive item, draw
    number) to a slot, so the sample is reproducible and needs only equi-joins.
    Of ``k * oversample`` draws per positive, those hitting one of
    the customer's purchases are dropped, repeats are dropped, and the first
    ``k`` remain. Output: user_key, item_id (the negative), pos_item_id.
    """
    if k < 1:
        return positives_df.select("user_key", "item_id", F.col("item_id").alias("pos_item_id")).limit(0)
    running = Window.orderBy("item_id").rowsBetween(Window.unboundedPreceding, Window.currentRow)
    slots = (pool_df.where(F.col("weight") > 0)
             .withColumn("_hi", F.sum("weight").over(running))      # item table: small, one partition
             .select("item_id", F.explode(F.sequence(F.col("_hi") - F.col("weight"), F.col("_hi") - 1)).alias("_slot")))
    total = pool_df.where(F.col("weight") > 0).agg(F.sum("weight").alias("_total"))
    draws = (positives_df.select("user_key", F.col("item_id").alias("pos_item_id"))
             .withColumn("_draw", F.explode(F.sequence(F.lit(1), F.lit(k * oversample))))
             .crossJoin(F.broadcast(total))
             .where(F.col("_total") > 0)
             .withColumn("_slot", F.pmod(F.xxhash64(F.lit(seed), "user_key", "pos_item_id", "_draw"), F.col("_total")))
             .join(slots, on="_slot", how="inner")
             .join(positives_df.select("user_key", "item_id"), on=["user_key", "item_id"], how="left_anti"))
    first = (draws.groupBy("user_key", "pos_item_id", "item_id").agg(F.min("_draw").alias("_draw")))
    order = Window.partitionBy("user_key", "pos_item_id").orderBy("_draw")
    return (first.withColumn("_rn", F.row_number().over(order)).where(F.col("_rn") <= k)
            .select("user_key", "item_id", "pos_item_id"))


def ctr_examples(orders_df: DataFrame, item_daily_df: DataFrame, *, window: LabelWindow, negatives: int,
                 seed: int) -> DataFrame:
    """(user_key, item_id, label) of one label window: purchases (1) and sampled negatives (0)."""
    pos = ctr_positives(orders_df, start=window.start, end=window.end)
    pool = negative_pool(item_daily_df, start=window.start, end=window.end)
    window_seed = seed * 100003 + window.start.toordinal()
    neg = sample_negatives(pos, pool, k=negatives, seed=window_seed)
    return (pos.select("user_key", "item_id", F.lit(1.0).alias("label"))
            .unionByName(neg.select("user_key", "item_id", F.lit(0.0).alias("label"))))


def with_ctr_features(pairs_df: DataFrame, profile_df: DataFrame, item_features_df: DataFrame, *,
                      n_cat: int, bands: int, embedding_dim: int, how: str = "left") -> DataFrame:
    """``pairs_df`` (user_key, item_id, ...) + user_features + item_features."""
    users = to_user_vectors(profile_df, n_categories=n_cat, embedding_dim=embedding_dim)
    items = to_item_vectors(item_features_df, n_categories=n_cat, bands=bands, embedding_dim=embedding_dim)
    return pairs_df.join(users, on="user_key", how=how).join(items, on="item_id", how=how)


def ctr_pairs(spark: SparkSession, conf: Config, pairs_df: DataFrame, *, profile_df: Optional[DataFrame] = None,
              item_features_df: Optional[DataFrame] = None) -> DataFrame:
    """Any (user_key, item_id, ...) frame -> the ctr model's input columns, from the gold snapshots.

    Customers come from gold.customer_profile, items (catalog items and
    candidates alike: content only) from gold.item_features. Every input row
    is kept; a customer or item without features gets null features, which
    the scorer turns into a null p_purchase.
    """
    missing = [c for c in ("user_key", "item_id") if c not in pairs_df.columns]
    if missing:
        raise ValueError(f"ctr_pairs: input lacks column(s) {', '.join(missing)}")
    profile = profile_df if profile_df is not None else io.read(spark, conf, "gold.customer_profile")
    items = item_features_df if item_features_df is not None else io.read(spark, conf, "gold.item_features")
    return with_ctr_features(pairs_df, profile, items, n_cat=n_categories(items), bands=conf.features.price_bands,
                             embedding_dim=conf.features.embedding_dim)


# ==================================================================== sequence
def next_category_labels(events_df: DataFrame, item_categories_df: DataFrame, *, start: dt.date,
                         end: dt.date) -> DataFrame:
    """(user_key, next_category): category id (category_index + 1) of the customer's first item
    interaction in [start, end) whose item has a catalog category."""
    ev = (events_df
          .where(F.col("item_id").isNotNull() & (F.col("event_date") >= lit_date(start))
                 & (F.col("event_date") < lit_date(end)))
          .join(item_categories_df.where(F.col("category_index").isNotNull()).select("item_id", "category_index"),
                on="item_id", how="inner"))
    first = ev.groupBy("user_key").agg(F.min(F.struct("event_time", "event_id", "category_index")).alias("_f"))
    return first.select("user_key", (F.col("_f.category_index") + 1).cast("int").alias("next_category"))


def intent_labels(orders_df: DataFrame, *, start: dt.date, end: dt.date) -> DataFrame:
    """(user_key, purchase_intent = 1.0) for customers with an order line not cancelled in [start, end)."""
    return ctr_positives(orders_df, start=start, end=end).select("user_key").distinct().withColumn(
        "purchase_intent", F.lit(1.0))


def sequence_examples(events_df: DataFrame, orders_df: DataFrame, item_categories_df: DataFrame, *,
                      window: LabelWindow, seq_len: int) -> DataFrame:
    """Customers with history before the window and an interaction in it:
    user_key, seq_* (as of window.start), seq_length, next_category, purchase_intent."""
    from debut.core.sequences import to_behaviour_sequences

    seqs = to_behaviour_sequences(events_df, item_categories_df, as_of=window.start, length=seq_len)
    return (seqs.select("user_key", "seq_category", "seq_event", "seq_gap", "seq_length")
            .join(next_category_labels(events_df, item_categories_df, start=window.start, end=window.end),
                  on="user_key", how="inner")
            .join(intent_labels(orders_df, start=window.start, end=window.end), on="user_key", how="left")
            .withColumn("purchase_intent", F.coalesce(F.col("purchase_intent"), F.lit(0.0))))


def category_counts(events_df: DataFrame, item_categories_df: DataFrame, *, as_of: dt.date) -> DataFrame:
    """(user_key, category_id, n, last_time): item interactions per customer and category before ``as_of``."""
    return (events_df.where(F.col("item_id").isNotNull() & (F.col("event_date") < lit_date(as_of)))
            .join(item_categories_df.where(F.col("category_index").isNotNull()).select("item_id", "category_index"),
                  on="item_id", how="inner")
            .groupBy("user_key", (F.col("category_index") + 1).cast("int").alias("category_id"))
            .agg(F.count(F.lit(1)).alias("n"), F.max("event_time").alias("last_time")))


def top_categories(counts_df: DataFrame, *, k: int, by: Tuple[str, ...] = ("user_key",)) -> DataFrame:
    """(*by, top): the ``k`` category ids with most interactions (then most recent, then lowest id)."""
    ranked = F.array_sort(F.collect_list(F.struct((-F.col("n")).alias("neg_n"),
                                                  (-F.col("last_time").cast("double")).alias("neg_t"),
                                                  F.col("category_id").alias("c"))))
    grouped = counts_df.groupBy(*by) if by else counts_df.groupBy()
    return grouped.agg(F.slice(F.transform(ranked, lambda s: s["c"]), 1, k).alias("top"))


# ====================================================================== demand
def launch_targets(launch_history_df: DataFrame, *, horizon_weeks: int) -> DataFrame:
    """(item_id, category, launch_date, units, demand_log1p) of launches whose weeks
    1..horizon_weeks are all complete; units summed over those weeks."""
    lh = launch_history_df.where(F.col("week").between(1, horizon_weeks))
    return (lh.groupBy("item_id", "category", "launch_date")
            .agg(F.count(F.when(F.col("is_complete"), F.lit(1))).alias("_complete"),
                 F.sum("units").alias("units"))
            .where(F.col("_complete") == horizon_weeks)
            .select("item_id", "category", "launch_date", F.col("units").cast("long").alias("units"),
                    F.log1p(F.col("units").cast("double")).alias("demand_log1p")))


def category_context(items_df: DataFrame, category_daily_df: DataFrame, launches_df: DataFrame, *,
                     context_days: int, bands: int) -> DataFrame:
    """(item_id, as_of_date, category_context) from the ``context_days`` before each item's ``as_of_date``.

    ``items_df``: item_id, category, as_of_date, relative_price, price_band.
    ``launches_df``: item_id, category, launch_date of past launches.
    Only days strictly before as_of_date count; days before the history's
    first day are not counted as zero-sale days (rates divide by the days the
    history covers).
    """
    d, half = context_days, context_days // 2
    first_day = category_daily_df.agg(F.min("date").alias("_first_day"))
    it = (items_df.select("item_id", "category", "as_of_date", "relative_price", "price_band")
          .crossJoin(F.broadcast(first_day)))
    cd = category_daily_df.where(F.col("category").isNotNull()).select(
        F.col("category").alias("_cat"), "date", "units", "views", "active_items")
    cond = ((it["category"] == cd["_cat"]) & (cd["date"] < it["as_of_date"])
            & (cd["date"] >= F.date_sub(it["as_of_date"], d)))
    recent = F.col("date") >= F.date_sub(F.col("as_of_date"), half)
    days = (it.join(cd, on=cond, how="left")
            .groupBy("item_id", "category", "as_of_date", "relative_price", "price_band", "_first_day")
            .agg(F.coalesce(F.sum("units"), F.lit(0)).alias("_units"),
                 F.coalesce(F.sum(F.when(recent, F.col("units"))), F.lit(0)).alias("_units_recent"),
                 F.coalesce(F.sum("views"), F.lit(0)).alias("_views"),
                 F.coalesce(F.sum("active_items"), F.lit(0)).alias("_active")))

    ln = launches_df.select(F.col("category").alias("_lcat"), F.col("launch_date").alias("_ldate"),
                            F.col("item_id").alias("_litem")).distinct()
    lcond = ((days["category"] == ln["_lcat"]) & (ln["_ldate"] < days["as_of_date"])
             & (ln["_ldate"] >= F.date_sub(days["as_of_date"], d)) & (ln["_litem"] != days["item_id"]))
    counted = (days.join(ln, on=lcond, how="left")
               .groupBy(*[c for c in days.columns])
               .agg(F.count("_litem").alias("_launches")))

    def observed(lo_days_back: int, hi_days_back: int) -> Column:
        """Days of [as_of - lo_days_back, as_of - hi_days_back) on or after the history's first day."""
        lo = F.greatest(F.date_sub(F.col("as_of_date"), lo_days_back), F.col("_first_day"))
        return F.coalesce(F.greatest(F.datediff(F.date_sub(F.col("as_of_date"), hi_days_back), lo), F.lit(0)),
                          F.lit(0))

    obs_all, obs_recent, obs_old = observed(d, 0), observed(half, 0), observed(d, half)

    def rate(num: Column, den: Column) -> Column:
        return F.when(den > 0, num.cast("double") / den).otherwise(F.lit(0.0))

    units_rate = rate(F.col("_units"), obs_all)
    active_rate = rate(F.col("_active"), obs_all)
    trend = F.when((obs_recent > 0) & (obs_old > 0),
                   F.log1p(rate(F.col("_units_recent"), obs_recent))
                   - F.log1p(rate(F.col("_units") - F.col("_units_recent"), obs_old))).otherwise(F.lit(0.0))
    band_pos = (F.coalesce(((F.col("price_band") - 1) / F.lit(max(bands - 1, 1))).cast("double"), F.lit(0.5))
                if bands > 1 else F.lit(0.5))
    ctx = _floats(F.log1p(units_rate), trend, F.log1p(rate(F.col("_views"), obs_all)), F.log1p(active_rate),
                  F.log1p(F.when(active_rate > 0, units_rate / active_rate).otherwise(F.lit(0.0))),
                  F.log1p(F.col("_launches")), F.coalesce(F.col("relative_price"), F.lit(1.0)), band_pos,
                  obs_all / F.lit(float(d)))
    return counted.select("item_id", "as_of_date", ctx.alias("category_context"))


def with_demand_features(items_df: DataFrame, item_features_df: DataFrame, category_daily_df: DataFrame,
                         launches_df: DataFrame, *, n_cat: int, bands: int, embedding_dim: int,
                         context_days: int, as_of_col: str = "as_of_date") -> DataFrame:
    """``items_df`` (item_id, ``as_of_col``, ...) + category + attributes, text_embedding, category_context.

    Every input row is kept; an item missing from gold.item_features gets null features.
    """
    feats = item_features_df.select(
        "item_id", F.col("category").alias("_category"), F.col("relative_price").alias("_relative_price"),
        F.col("price_band").alias("_price_band"),
        attributes_vector(n_cat, bands).alias("attributes"), text_vector(embedding_dim).alias("text_embedding"))
    base = items_df.join(feats, on="item_id", how="left")
    if "category" in items_df.columns:
        base = base.withColumn("category", F.coalesce(F.col("category"), F.col("_category"))).drop("_category")
    else:
        base = base.withColumnRenamed("_category", "category")
    keyed = base.where(F.col("category").isNotNull()).select(
        "item_id", "category", F.col(as_of_col).alias("as_of_date"), F.col("_relative_price").alias("relative_price"),
        F.col("_price_band").alias("price_band")).distinct()
    ctx = category_context(keyed, category_daily_df, launches_df, context_days=context_days, bands=bands)
    ctx = ctx.select(F.col("item_id").alias("_ctx_item"), F.col("as_of_date").alias("_ctx_as_of"),
                     "category_context")
    cond = (F.col("item_id") == F.col("_ctx_item")) & (F.col(as_of_col) == F.col("_ctx_as_of"))
    return (base.drop("_relative_price", "_price_band").join(ctx, on=cond, how="left")
            .drop("_ctx_item", "_ctx_as_of"))


def launches_of(launch_history_df: DataFrame) -> DataFrame:
    return launch_history_df.select("item_id", "category", "launch_date").distinct()


def demand_examples(launch_history_df: DataFrame, item_features_df: DataFrame, category_daily_df: DataFrame, *,
                    horizon_weeks: int, n_cat: int, bands: int, embedding_dim: int,
                    context_days: int) -> DataFrame:
    """item_id, category, launch_date, units, demand_log1p + the three demand feature columns."""
    targets = launch_targets(launch_history_df, horizon_weeks=horizon_weeks).withColumn(
        "as_of_date", F.col("launch_date"))
    return with_demand_features(targets, item_features_df, category_daily_df, launches_of(launch_history_df),
                                n_cat=n_cat, bands=bands, embedding_dim=embedding_dim,
                                context_days=context_days).drop("as_of_date")


def demand_inputs(spark: SparkSession, conf: Config, items_df: DataFrame, as_of: dt.date, *,
                  item_features_df: Optional[DataFrame] = None, category_daily_df: Optional[DataFrame] = None,
                  launch_history_df: Optional[DataFrame] = None) -> DataFrame:
    """The demand model's input columns for any items (candidates included), as of a date.

    ``items_df`` needs ``item_id`` (a candidate's candidate_id); an optional
    ``launch_date`` column gives an item its own as-of date (else ``as_of``:
    the plan date). Content comes from gold.item_features, the category
    context from silver.category_daily and gold.launch_history before the
    as-of date. Output: the input columns + category (when absent) +
    attributes, text_embedding, category_context.
    """
    if "item_id" not in items_df.columns:
        raise ValueError("demand_inputs: input lacks column item_id (a candidate's candidate_id)")
    items = item_features_df if item_features_df is not None else io.read(spark, conf, "gold.item_features")
    daily = category_daily_df if category_daily_df is not None else io.read(spark, conf, "silver.category_daily")
    history = launch_history_df if launch_history_df is not None else io.read(spark, conf, "gold.launch_history")
    as_of_col = lit_date(as_of)
    if "launch_date" in items_df.columns:
        as_of_col = F.coalesce(F.col("launch_date").cast("date"), as_of_col)
    out = with_demand_features(items_df.withColumn("_as_of", as_of_col), items, daily, launches_of(history),
                               n_cat=n_categories(items), bands=conf.features.price_bands,
                               embedding_dim=conf.features.embedding_dim, context_days=conf.deep.context_days,
                               as_of_col="_as_of")
    keep = list(items_df.columns) + [c for c in ("category",) if c not in items_df.columns]
    return out.select(*keep, "attributes", "text_embedding", "category_context")


# ================================================================== as-of data
def profiles_as_of(conf: Config, *, events_df: DataFrame, orders_df: DataFrame, sessions_df: DataFrame,
                   item_categories_df: DataFrame, category_index_df: DataFrame, medians_df: DataFrame,
                   item_features_df: DataFrame, as_ofs: Sequence[dt.date]) -> DataFrame:
    """gold.customer_profile's definition recomputed from the data before each date of ``as_ofs``
    (segment null), all dates in one pass: one row per customer and date, the date in as_of_date."""
    from debut.core.profile import to_customer_profiles

    return to_customer_profiles(events_df, orders_df, sessions_df, item_categories_df, category_index_df,
                                medians_df, item_features_df.where(~F.col("is_candidate")), as_ofs=as_ofs,
                                event_weights=conf.aggregate.event_weights,
                                half_life_days=conf.aggregate.decay_half_life_days)


def hash_split(df: DataFrame, *, key_cols: Tuple[str, ...], fraction: float, seed: int) -> Tuple[DataFrame, DataFrame]:
    """(train, validation): a reproducible split by a hash of the key columns."""
    bucket = F.pmod(F.xxhash64(F.lit(seed), *[F.col(c) for c in key_cols]), F.lit(10000)) / F.lit(10000.0)
    flagged = df.withColumn("_val", bucket < F.lit(fraction))
    return flagged.where(~F.col("_val")).drop("_val"), flagged.where(F.col("_val")).drop("_val")

