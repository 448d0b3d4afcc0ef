"""Purchase-intent labels per customer x category, with features as of the cut-off.

cutoff = run_date - intent_window_days, so the whole label window
[cutoff, cutoff + intent_window_days) = [cutoff, run_date) is observed.
Features use data strictly before the cutoff; the label is 1 when the customer
has an order line (not cancelled) in the category inside the window. Rows:
every customer seen before the cutoff x every catalog category.

bronze.orders keeps only a line's latest status, so a line ordered before the
cutoff and cancelled after it already counts as cancelled in the features.
"""
from __future__ import annotations

import datetime as dt
from typing import Mapping

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from debut import schemas as S
from debut.core.dates import days_between, filter_before, lit_date
from debut.core.profile import agg_rfm, agg_tenure, filter_customer_orders
from debut.core.user_item import to_user_item_as_of
from debut.schemas import CANCELLED

RECENT_DAYS = 28      # look-back of the recent-activity counts


def intent_cutoff(run_date: dt.date, window_days: int) -> dt.date:
    return run_date - dt.timedelta(days=window_days)


def to_purchase_intent(events_df: DataFrame, orders_df: DataFrame, item_categories_df: DataFrame,
                       category_index_df: DataFrame, *, run_date: dt.date, window_days: int,
                       event_weights: Mapping[str, float], half_life_days: float) -> DataFrame:
    """gold.purchase_intent rows for cutoff = run_date - window_days."""
    cutoff = intent_cutoff(run_date, window_days)
    cats = item_categories_df.where(F.col("category_index").isNotNull()).select("item_id", "category")
    customers = agg_tenure(events_df, orders_df, as_of=cutoff)
    grid = customers.crossJoin(F.broadcast(category_index_df))

    weights = (to_user_item_as_of(events_df, as_of=cutoff, event_weights=event_weights,
                                  half_life_days=half_life_days)
               .join(cats, on="item_id", how="inner")
               .groupBy("user_key", "category").agg(F.sum("weight").alias("w")))
    share = (weights.join(weights.groupBy("user_key").agg(F.sum("w").alias("_total")), on="user_key", how="inner")
             .select("user_key", "category", (F.col("w") / F.col("_total")).alias("category_share")))

    recent_from = lit_date(cutoff - dt.timedelta(days=RECENT_DAYS))
    ev = (filter_before(events_df, date_col="event_date", as_of=cutoff).where(F.col("item_id").isNotNull())
          .join(cats, on="item_id", how="inner"))
    activity = (ev.groupBy("user_key", "category")
                .agg(F.count(F.when((F.col("event_type") == "view") & (F.col("event_date") >= recent_from), 1))
                     .alias("category_views_28d"),
                     F.count(F.when((F.col("event_type") == "cart") & (F.col("event_date") >= recent_from), 1))
                     .alias("category_carts_28d"),
                     F.max("event_date").alias("_last")))

    kept = orders_df.where(F.col("user_key").isNotNull() & (F.col("status") != F.lit(CANCELLED)))
    bought = (filter_customer_orders(kept, as_of=cutoff).join(cats, on="item_id", how="inner")
              .groupBy("user_key", "category").agg(F.count(F.lit(1)).alias("category_purchases")))
    label = (kept.where((F.col("order_date") >= lit_date(cutoff)) & (F.col("order_date") < lit_date(run_date)))
             .join(cats, on="item_id", how="inner")
             .select("user_key", "category").distinct().withColumn("_bought", F.lit(1)))

    out = (grid.join(agg_rfm(orders_df, as_of=cutoff), on="user_key", how="left")
           .join(share, on=["user_key", "category"], how="left")
           .join(activity, on=["user_key", "category"], how="left")
           .join(bought, on=["user_key", "category"], how="left")
           .join(label, on=["user_key", "category"], how="left"))
    filled = {
        "cutoff_date": lit_date(cutoff),
        "frequency": F.coalesce("frequency", F.lit(0)), "monetary": F.coalesce("monetary", F.lit(0.0)),
        "category_share": F.coalesce("category_share", F.lit(0.0)),
        "category_views_28d": F.coalesce("category_views_28d", F.lit(0)),
        "category_carts_28d": F.coalesce("category_carts_28d", F.lit(0)),
        "category_purchases": F.coalesce("category_purchases", F.lit(0)),
        "days_since_category_event": days_between(lit_date(cutoff), F.col("_last")),
        "label": F.coalesce("_bought", F.lit(0)),
    }
    return out.select([filled.get(f.name, F.col(f.name)).cast(f.dataType).alias(f.name)
                       for f in S.PURCHASE_INTENT.fields])
