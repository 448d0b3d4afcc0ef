"""build_features: every transform on tiny inline data, embeddings offline, k by silhouette, the job twice."""
from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from chispa import assert_approx_df_equality, assert_df_equality
from pyspark.sql import functions as F

from debut import io
from debut.aggregate import sessions as agg_sessions
from debut import schemas as S
from debut.core import catalog as core_catalog
from debut.core import profile, sequences
from debut.core import user_item as agg_user_item
from debut.core import ari
from debut.core.dates import explode_as_of
from debut.features import embed, intent, items, segments

D = dt.date
AS_OF = D(2026, 10, 1)
CATALOG_COLS = ("item_id string, category string, subcategory string, brand string, title string, "
                "colour string, material string, style string, price double, unit_cost double, "
                "launch_date date, status string, snapshot_date date")


def ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def catalog(spark, rows):
    """Catalog rows (item_id, category, price[, snapshot_date]) with the other columns defaulted."""
    full = []
    for r in rows:
        item_id, category, price = r[:3]
        snap = r[3] if len(r) > 3 else AS_OF
        full.append((item_id, category, None, "Lumen", f"{category} {item_id}", "black", None, "classic",
                     price, price / 2, None, "active", snap))
    return spark.createDataFrame(full, CATALOG_COLS)


def orders(spark, rows):
    """Order lines (order_id, line_no, order_date, user_key, item_id, quantity, unit_price, status)."""
    return spark.createDataFrame(
        [(o, n, d, u, i, q, p, s) for o, n, d, u, i, q, p, s in rows],
        "order_id string, line_no int, order_date date, user_key string, item_id string, quantity int, "
        "unit_price double, status string")


def events(spark, rows):
    """Events (event_id, event_time, event_type, user_key, item_id[, channel])."""
    return spark.createDataFrame(
        [(e, ts(t), ts(t).date(), typ, u, i, 1, (r[0] if r else "web")) for e, t, typ, u, i, *r in rows],
        "event_id string, event_time timestamp, event_date date, event_type string, user_key string, "
        "item_id string, quantity int, channel string")


def assert_rows(out, expected, keys, **kw):
    """Exact equality after ordering both sides by ``keys`` (map columns cannot be sorted on)."""
    keys = [keys] if isinstance(keys, str) else list(keys)
    assert_df_equality(out.orderBy(*keys), expected.orderBy(*keys), ignore_nullable=True, **kw)


def category_index(spark, names):
    return spark.createDataFrame([(c, i) for i, c in enumerate(sorted(names))], "category string, category_index int")


# ---------------------------------------------------------------- profile pieces
def test_rfm_counts_completed_subtracts_returned_ignores_cancelled(spark):
    o = orders(spark, [
        ("O1", 1, D(2026, 9, 20), "u1", "I1", 2, 10.0, "completed"),
        ("O1", 2, D(2026, 9, 20), "u1", "I2", 1, 50.0, "cancelled"),
        ("O2", 1, D(2026, 9, 25), "u1", "I3", 1, 30.0, "returned"),
        ("O3", 1, D(2026, 9, 28), "u1", "I1", 1, 99.0, "cancelled"),     # a wholly cancelled order
        ("O4", 1, D(2026, 10, 1), "u2", "I1", 1, 5.0, "completed"),      # on the as-of date: not yet
        ("O5", 1, D(2026, 9, 1), "u2", "I1", 3, 1.5, "completed"),
        ("O6", 1, D(2026, 9, 1), None, "I1", 1, 7.0, "completed"),       # guest checkout
        ("O7", 1, D(2026, 9, 30), "u3", "I1", 1, 9.0, "cancelled"),
    ])
    out = profile.agg_rfm(o, as_of=AS_OF)
    expected = spark.createDataFrame([
        ("u1", D(2026, 9, 25), 6, 2, 2, 20.0, 30.0),
        ("u2", D(2026, 9, 1), 30, 1, 3, 4.5, 0.0),
        ("u3", None, None, 0, 0, 0.0, 0.0),
    ], "user_key string, last_purchase_date date, recency_days int, frequency long, units long, "
       "monetary double, returned_value double")
    assert_df_equality(out, expected, ignore_row_order=True, ignore_nullable=True)


def test_category_affinity_shares_in_category_order(spark):
    idx = category_index(spark, ["bags", "kitchen", "shoes"])
    item_cats = spark.createDataFrame([
        ("I1", "shoes", 2), ("I2", "bags", 0), ("I3", "shoes", 2), ("I9", "toys", None),
    ], "item_id string, category string, category_index int")
    ui = spark.createDataFrame([
        ("u1", "I1", 3.0), ("u1", "I2", 1.0), ("u1", "I3", 0.0),
        ("u2", "I9", 5.0),                                   # only a category the catalog lost
        ("u3", "I2", 2.0), ("u3", "I3", 2.0), ("u3", "I404", 2.0),   # an unknown item
        ("u4", "I1", None),
    ], "user_key string, item_id string, weight double")
    out = profile.agg_category_affinity(ui, item_cats, idx)
    expected = spark.createDataFrame([
        ("u1", {"shoes": 0.75, "bags": 0.25}, [0.25, 0.0, 0.75]),
        ("u3", {"bags": 0.5, "shoes": 0.5}, [0.5, 0.0, 0.5]),
    ], "user_key string, category_affinity map<string,double>, category_affinity_vector array<float>")
    assert_rows(out, expected, "user_key")


def test_price_sensitivity_is_price_paid_over_category_median(spark):
    now = catalog(spark, [("I1", "shoes", 80.0), ("I3", "shoes", 100.0), ("I4", "shoes", 120.0),
                          ("I2", "bags", 40.0), ("I5", "bags", 60.0)])
    idx = core_catalog.to_category_index(now)
    item_cats = core_catalog.to_item_categories(now, idx, run_date=AS_OF)
    o = orders(spark, [
        ("O1", 1, D(2026, 9, 1), "u1", "I1", 1, 80.0, "completed"),     # 0.8, below
        ("O1", 2, D(2026, 9, 1), "u1", "I5", 2, 60.0, "returned"),      # 1.2
        ("O2", 1, D(2026, 9, 2), "u1", "I1", 1, 10.0, "cancelled"),     # ignored
        ("O3", 1, D(2026, 9, 3), "u2", "I404", 1, 10.0, "completed"),   # no known category
        ("O4", 1, D(2026, 9, 3), "u3", "I3", 1, 100.0, "completed"),    # at the median: not below
        ("O5", 1, D(2026, 9, 3), None, "I3", 1, 1.0, "completed"),
    ])
    out = profile.agg_price_sensitivity(o, item_cats, core_catalog.to_category_medians(now), as_of=AS_OF)
    expected = spark.createDataFrame([("u1", 1.0, 0.5), ("u3", 1.0, 0.0)],
                                     "user_key string, price_sensitivity double, below_median_share double")
    assert_df_equality(out, expected, ignore_row_order=True, ignore_nullable=True)


def test_channel_mix_and_tenure(spark):
    ev = events(spark, [
        ("e1", "2026-09-01T10:00:00", "view", "u1", "I1", "web"),
        ("e2", "2026-09-02T10:00:00", "view", "u1", "I1", "app"),
        ("e3", "2026-09-03T10:00:00", "search", "u1", None, "app"),
        ("e4", "2026-09-04T10:00:00", "view", "u1", "I1", None),
        ("e5", "2026-10-01T10:00:00", "view", "u1", "I1", "store"),   # on the as-of date
        ("e6", "2026-09-21T10:00:00", "view", "u2", "I1", "store"),
    ])
    o = orders(spark, [("O1", 1, D(2026, 8, 31), "u2", "I1", 1, 1.0, "cancelled")])
    mix = profile.agg_channel_mix(ev, as_of=AS_OF)
    assert_df_equality(mix, spark.createDataFrame([("u1", [1 / 3, 2 / 3, 0.0]), ("u2", [0.0, 0.0, 1.0])],
                                                  "user_key string, channel_mix array<float>"),
                       ignore_row_order=True, ignore_nullable=True)
    tenure = profile.agg_tenure(ev, o, as_of=AS_OF)
    assert_df_equality(tenure, spark.createDataFrame([("u1", D(2026, 9, 1), 30), ("u2", D(2026, 8, 31), 31)],
                                                     "user_key string, first_seen_date date, tenure_days int"),
                       ignore_row_order=True, ignore_nullable=True)


def test_taste_embedding_is_the_weighted_mean_of_item_embeddings(spark):
    feats = spark.createDataFrame([("I1", [1.0, 0.0]), ("I2", [0.0, 1.0]), ("I3", None)],
                                  "item_id string, text_embedding array<float>")
    ui = spark.createDataFrame([("u1", "I1", 3.0), ("u1", "I2", 1.0), ("u1", "I3", 5.0), ("u2", "I3", 1.0),
                                ("u3", "I2", 0.0)], "user_key string, item_id string, weight double")
    out = profile.agg_taste_embedding(ui, feats)
    expected = spark.createDataFrame([("u1", [0.75, 0.25])], "user_key string, taste_embedding array<float>")
    assert_df_equality(out, expected, ignore_nullable=True)


def test_taste_embedding_carries_a_customer_across_arrow_batches(spark):
    rng = np.random.default_rng(5)
    items = [f"I{i}" for i in range(6)]
    vecs = rng.normal(size=(6, 3)).round(3)
    feats = spark.createDataFrame([(i, [float(x) for x in v]) for i, v in zip(items, vecs)],
                                  "item_id string, text_embedding array<float>")
    rows = [(f"u{u}", items[i], float(rng.integers(1, 5))) for u in range(4) for i in range(6) if (u + i) % 2 == 0]
    ui = spark.createDataFrame(rows, "user_key string, item_id string, weight double").coalesce(1)
    before = spark.conf.get("spark.sql.execution.arrow.maxRecordsPerBatch")
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", "2")      # every customer straddles batches
    try:
        got = {r.user_key: list(r.taste_embedding) for r in profile.agg_taste_embedding(ui, feats).collect()}
    finally:
        spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", before)
    assert sorted(got) == ["u0", "u1", "u2", "u3"]
    for u in got:
        mine = [(items.index(i), w) for k, i, w in rows if k == u]
        want = sum(w * vecs.astype(np.float32)[i].astype(float) for i, w in mine) / sum(w for _, w in mine)
        np.testing.assert_allclose(got[u], want, rtol=1e-5)


# ---------------------------------------------------------------- sequences and labels
def test_profiles_of_several_dates_in_one_pass_equal_one_profile_per_date(spark):
    now = catalog(spark, [("I1", "shoes", 80.0), ("I2", "bags", 40.0), ("I3", "shoes", 120.0)])
    idx = core_catalog.to_category_index(now)
    item_cats = core_catalog.to_item_categories(now, idx, run_date=AS_OF)
    feats = spark.createDataFrame([("I1", [1.0, 0.0]), ("I2", [0.0, 1.0]), ("I3", [0.5, 0.5])],
                                  "item_id string, text_embedding array<float>")
    ev = events(spark, [
        ("e1", "2026-09-01T10:00:00", "view", "u1", "I1", "web"),
        ("e2", "2026-09-10T10:00:00", "purchase", "u1", "I2", "app"),
        ("e3", "2026-09-20T09:00:00", "cart", "u1", "I3", "app"),        # on the second cut-off: not in it
        ("e4", "2026-09-12T10:00:00", "view", "u2", "I3", "store"),
        ("e5", "2026-09-25T10:00:00", "view", "u3", "I1", "web"),        # u3: only in the last profile
    ])
    o = orders(spark, [
        ("O1", 1, D(2026, 9, 10), "u1", "I2", 1, 40.0, "completed"),
        ("O2", 1, D(2026, 9, 3), "u2", "I1", 2, 60.0, "returned"),
        ("O3", 1, D(2026, 9, 26), "u2", "I3", 1, 130.0, "completed"),
    ])
    sess = spark.createDataFrame([
        ("u1", D(2026, 9, 1), 300, 1, False), ("u1", D(2026, 9, 10), 60, 1, True),
        ("u2", D(2026, 9, 12), 30, 2, False), ("u3", D(2026, 9, 25), 10, 1, False),
    ], "user_key string, session_date date, duration_s long, n_events long, has_purchase boolean")
    medians = core_catalog.to_category_medians(now)
    weights, half_life = {"view": 1.0, "cart": 3.0, "purchase": 5.0}, 14.0
    cuts = [D(2026, 9, 5), D(2026, 9, 20), AS_OF]
    exploded = explode_as_of(ev, date_col="event_date", as_ofs=cuts)
    assert sorted((r["as_of_date"], r["event_id"]) for r in exploded.collect()) == [
        (D(2026, 9, 5), "e1"), (D(2026, 9, 20), "e1"), (D(2026, 9, 20), "e2"), (D(2026, 9, 20), "e4"),
        (D(2026, 10, 1), "e1"), (D(2026, 10, 1), "e2"), (D(2026, 10, 1), "e3"), (D(2026, 10, 1), "e4"),
        (D(2026, 10, 1), "e5")]
    multi = profile.to_customer_profiles(ev, o, sess, item_cats, idx, medians, feats, as_ofs=cuts[1:],
                                         event_weights=weights, half_life_days=half_life).collect()
    assert sorted((r["as_of_date"], r["user_key"]) for r in multi) == [
        (D(2026, 9, 20), "u1"), (D(2026, 9, 20), "u2"),
        (D(2026, 10, 1), "u1"), (D(2026, 10, 1), "u2"), (D(2026, 10, 1), "u3")]
    # the values as of 2026-09-20 (the cart on that day left out, weights decayed to it) equal its own profile
    cut = cuts[1]
    ui = agg_user_item.to_user_item_as_of(ev, as_of=cut, event_weights=weights, half_life_days=half_life)
    one = profile.to_customer_profile(ev, o, sess, ui, item_cats, idx, medians, feats, as_of=cut).collect()
    assert sorted([r.asDict() for r in multi if r["as_of_date"] == cut], key=lambda r: r["user_key"]) == \
        sorted([r.asDict() for r in one], key=lambda r: r["user_key"])


def test_sequences_are_left_padded_truncated_and_before_the_as_of_date(spark):
    item_cats = spark.createDataFrame([("I1", "shoes", 2), ("I2", "bags", 0)],
                                      "item_id string, category string, category_index int")
    ev = events(spark, [
        ("e1", "2026-09-01T10:00:00", "view", "u1", "I1"),
        ("e2", "2026-09-01T11:00:00", "cart", "u1", "I1"),
        ("e3", "2026-09-02T11:00:00", "view", "u1", "I2"),
        ("e4", "2026-09-03T11:00:00", "purchase", "u1", "I2"),
        ("e5", "2026-09-03T12:00:00", "search", "u1", None),       # no item: not an interaction
        ("e6", "2026-10-01T09:00:00", "view", "u1", "I1"),         # on the as-of date
        ("e7", "2026-09-10T10:00:00", "view", "u2", "I404"),       # an item of no known category
    ])
    out = sequences.to_behaviour_sequences(ev, item_cats, as_of=AS_OF, length=3)
    f = lambda x: float(np.float32(x))  # noqa: E731
    expected = spark.createDataFrame([
        ("u1", ["I1", "I2", "I2"], [3, 1, 1], [2, 1, 3], [f(math.log1p(1)), f(math.log1p(24)), f(math.log1p(24))],
         3, AS_OF),
        ("u2", [None, None, "I404"], [0, 0, 0], [0, 0, 1], [0.0, 0.0, 0.0], 1, AS_OF),
    ], S.BEHAVIOUR_SEQUENCES)
    assert_df_equality(out, expected, ignore_row_order=True, ignore_nullable=True)


def test_intent_labels_at_the_window_edges(spark):
    run_date = D(2026, 10, 15)     # window 14 days: cutoff 2026-10-01, labels for [10-01, 10-15)
    idx = category_index(spark, ["bags", "shoes"])
    item_cats = spark.createDataFrame([("S1", "shoes", 1), ("B1", "bags", 0)],
                                      "item_id string, category string, category_index int")
    ev = events(spark, [
        ("e1", "2026-09-25T10:00:00", "view", "u1", "S1"),
        ("e2", "2026-09-26T10:00:00", "cart", "u1", "S1"),
        ("e3", "2026-09-20T10:00:00", "view", "u2", "S1"),
        ("e4", "2026-10-05T10:00:00", "view", "u3", "S1"),          # first seen after the cutoff
    ])
    o = orders(spark, [
        ("O1", 1, D(2026, 9, 30), "u1", "S1", 1, 100.0, "completed"),  # the day before the cutoff: a feature
        ("O2", 1, D(2026, 10, 1), "u1", "B1", 1, 50.0, "completed"),   # the cutoff day: label
        ("O3", 1, D(2026, 10, 14), "u2", "S1", 1, 90.0, "returned"),   # last day of the window: label
        ("O4", 1, D(2026, 10, 15), "u2", "B1", 1, 50.0, "completed"),  # run_date: outside
        ("O5", 1, D(2026, 9, 10), "u2", "B1", 1, 50.0, "cancelled"),
        ("O6", 1, D(2026, 10, 2), "u2", "B1", 1, 50.0, "cancelled"),   # cancelled: no label
        ("O7", 1, D(2026, 10, 2), None, "B1", 1, 50.0, "completed"),
    ])
    out = intent.to_purchase_intent(ev, o, item_cats, idx, run_date=run_date, window_days=14,
                                    event_weights={"view": 1.0, "cart": 3.0, "purchase": 8.0, "search": 0.0},
                                    half_life_days=45.0)
    c = D(2026, 10, 1)
    expected = spark.createDataFrame([
        ("u1", "bags", c, 0, 1, 1, 100.0, 6, 0.0, 0, 0, 0, None, 1),
        ("u1", "shoes", c, 1, 1, 1, 100.0, 6, 1.0, 1, 1, 1, 5, 0),
        ("u2", "bags", c, 0, None, 0, 0.0, 21, 0.0, 0, 0, 0, None, 0),
        ("u2", "shoes", c, 1, None, 0, 0.0, 21, 1.0, 1, 0, 0, 11, 1),
    ], S.PURCHASE_INTENT)
    assert_df_equality(out, expected, ignore_row_order=True, ignore_nullable=True)


# ---------------------------------------------------------------- items
def test_price_bands_place_candidates_among_catalog_cut_points(spark):
    now = catalog(spark, [("I1", "shoes", 10.0), ("I2", "shoes", 20.0), ("I3", "shoes", 30.0),
                          ("I4", "shoes", 40.0), ("I5", "shoes", 50.0), ("I6", "bags", 100.0)])
    cands = spark.createDataFrame([
        ("C1", "shoes", 20.0, AS_OF), ("C2", "shoes", 45.0, AS_OF), ("C3", "shoes", 5.0, AS_OF),
        ("C4", "toys", 10.0, AS_OF), ("C5", "bags", 150.0, AS_OF),
        ("C6", "shoes", 45.0, D(2026, 9, 1)),                       # another plan
        ("I2", "shoes", 999.0, AS_OF),                               # already in the catalog: the catalog row wins
    ], "candidate_id string, category string, price double, plan_date date")
    for col in ("subcategory", "brand", "title", "colour", "material", "style"):
        cands = cands.withColumn(col, F.lit(None).cast("string"))
    cands = cands.withColumn("unit_cost", F.lit(1.0))
    rows = items.to_item_rows(now, cands, run_date=AS_OF)
    out = items.with_price_bands(rows, bands=5).select("item_id", "is_candidate", "price_band", "relative_price")
    expected = spark.createDataFrame([
        ("I1", False, 1, 10 / 30), ("I2", False, 2, 20 / 30), ("I3", False, 3, 1.0), ("I4", False, 4, 40 / 30),
        ("I5", False, 5, 50 / 30), ("I6", False, 1, 1.0),
        ("C1", True, 2, 20 / 30), ("C2", True, 5, 1.5), ("C3", True, 1, 5 / 30), ("C4", True, None, None),
        ("C5", True, 5, 1.5),
    ], "item_id string, is_candidate boolean, price_band int, relative_price double")
    assert_df_equality(out, expected, ignore_row_order=True, ignore_nullable=True)


def test_attribute_vector_is_fixed_length_hashed_one_hot(spark):
    df = spark.createDataFrame([
        ("a", "shoes", "boots", "Lumen", "Black", "leather", "classic"),
        ("b", "shoes", "boots", "Lumen", "black ", "leather", "classic"),   # same tokens after lower/trim
        ("c", "shoes", None, None, None, None, None),
    ], "item_id string, category string, subcategory string, brand string, colour string, material string, "
       "style string")
    out = {r["item_id"]: r["attribute_vector"] for r in items.with_attribute_vector(df).collect()}
    assert [len(v) for v in out.values()] == [S.ATTRIBUTE_DIM] * 3
    assert out["a"] == out["b"] and sum(out["a"]) == 6.0 and sum(out["c"]) == 1.0
    assert set(out["c"]) == {0.0, 1.0} and out["c"][out["c"].index(1.0)] == out["a"][out["c"].index(1.0)]


def test_text_hash_moves_with_the_text_and_the_model(spark):
    df = spark.createDataFrame([
        ("a", "Black boots", "shoes", "boots", "Lumen", "black", None, None),
        ("b", "Black boots", "shoes", "boots", "Lumen", "black", None, None),
        ("c", "Black boots!", "shoes", "boots", "Lumen", "black", None, None),
        ("d", None, "home_textiles", None, None, None, None, None),
    ], "item_id string, title string, category string, subcategory string, brand string, colour string, "
       "material string, style string")
    one = {r["item_id"]: r for r in items.with_item_text(df, model_id="m1").collect()}
    two = {r["item_id"]: r["text_hash"] for r in items.with_item_text(df, model_id="m2").collect()}
    assert one["a"]["text"] == "Black boots. shoes boots Lumen black" and one["d"]["text"] == "home textiles"
    assert one["a"]["text_hash"] == one["b"]["text_hash"] != one["c"]["text_hash"]
    assert all(one[k]["text_hash"] != two[k] for k in one)


# ---------------------------------------------------------------- segments
def test_kmeans_picks_three_for_three_well_separated_blobs(spark):
    rng = np.random.default_rng(3)
    centres = [(0.0, 0.0), (10.0, 0.0), (0.0, 10.0)]
    rows = [(f"u{b}_{i}", float(cx + rng.normal(0, 0.5)), float(cy + rng.normal(0, 0.5)), b)
            for b, (cx, cy) in enumerate(centres) for i in range(12)]
    df = spark.createDataFrame(rows, "user_key string, x double, y double, blob int")
    fit = segments.fit_segments(df, k_min=2, k_max=4, seed=11, n_init=1, features_col_names=["x", "y"])
    assert fit.k == 3 and sorted(fit.silhouettes) == [2, 3, 4]
    assert fit.silhouettes[3] == max(fit.silhouettes.values())
    assigned = segments.assign_segments(fit, df).join(df.select("user_key", F.col("blob").alias("true")),
                                                      on="user_key", how="inner")
    assert ari.adjusted_rand_index(assigned.withColumnRenamed("segment", "predicted")) == 1.0



def test_silhouette_is_spark_clustering_evaluators(spark):
    """k is chosen on the driver with scikit-learn: its squared-Euclidean silhouette is the one
    Spark's ClusteringEvaluator gives for the same points and clusters."""
    from pyspark.ml.evaluation import ClusteringEvaluator
    from pyspark.ml.linalg import Vectors
    from sklearn.metrics import silhouette_score

    x = np.array([[0.0, 0.0], [0.5, 0.2], [0.1, 0.9], [5.0, 5.0], [5.5, 4.0], [9.0, 0.0], [8.0, 1.0], [8.5, 0.5]])
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    df = spark.createDataFrame([(Vectors.dense(v), int(c)) for v, c in zip(x, labels)], ["scaled", "cluster"])
    theirs = ClusteringEvaluator(featuresCol="scaled", predictionCol="cluster",
                                 distanceMeasure="squaredEuclidean").evaluate(df)
    assert silhouette_score(x, labels, metric="sqeuclidean") == pytest.approx(theirs, abs=1e-12)


def test_segments_fit_on_a_sample_and_are_numbered_by_size_on_every_customer(spark):
    rng = np.random.default_rng(5)
    sizes = {(0.0, 0.0): 30, (10.0, 0.0): 10, (0.0, 10.0): 20}
    rows = [(f"u{b}_{i:02d}", float(cx + rng.normal(0, 0.5)), float(cy + rng.normal(0, 0.5)), b)
            for b, ((cx, cy), n) in enumerate(sizes.items()) for i in range(n)]
    df = spark.createDataFrame(rows, "user_key string, x double, y double, blob int")
    fit = segments.fit_segments(df, k_min=2, k_max=4, seed=11, features_col_names=["x", "y"], sample_rows=40)
    again = segments.fit_segments(df, k_min=2, k_max=4, seed=11, features_col_names=["x", "y"], sample_rows=40)
    assert (fit.k, fit.rows) == (3, 40) and fit.silhouettes == again.silhouettes
    assert np.array_equal(fit.centers, again.centers)
    out = {r["user_key"]: (r["blob"], r["segment"])
           for r in segments.assign_segments(fit, df, keep=["blob"]).collect()}
    assert len(out) == 60                                    # every customer, not only the sample
    assert {blob: seg for blob, seg in out.values()} == {0: 0, 2: 1, 1: 2}   # 30, 20, 10 customers
    assert len(set(out.values())) == 3

def test_segments_describe_size_categories_and_label(spark):
    idx = category_index(spark, ["bags", "kitchen", "shoes"])
    prof = spark.createDataFrame([
        ("u1", 0, 5, 200.0, 0.7, [0.1, 0.1, 0.8]),
        ("u2", 0, 3, 100.0, 0.8, [0.3, 0.0, 0.7]),
        ("u3", 1, 1, 50.0, 1.3, [0.0, 1.0, 0.0]),
        ("u4", 1, 0, 0.0, None, [0.0, 0.0, 0.0]),
        ("u5", None, 9, 9.0, 9.0, [1.0, 0.0, 0.0]),      # no segment: left out
    ], "user_key string, segment int, frequency long, monetary double, price_sensitivity double, "
       "category_affinity_vector array<float>").withColumn("recency_days", F.lit(10))
    out = segments.to_segments(prof, idx, k=2, silhouette=0.5, as_of=AS_OF)
    expected = spark.createDataFrame([
        (0, 2, 0.5, ["shoes", "bags", "kitchen"], 0.75, 10.0, 4.0, 150.0, "frequent, price-sensitive, shoes+bags",
         2, 0.5, AS_OF),
        (1, 2, 0.5, ["kitchen"], 1.3, 10.0, 0.5, 25.0, "occasional, premium, kitchen", 2, 0.5, AS_OF),
    ], S.SEGMENTS)
    assert_df_equality(out, expected, ignore_row_order=True, ignore_nullable=True)


def test_segments_with_thousands_of_categories_take_one_vector_mean(spark):
    """3,000 categories (a real export's tiny ones): one vector mean per segment, tops by mean share."""
    n = 3000
    idx = category_index(spark, [f"c{i:04d}" for i in range(n)])

    def vec(pairs):
        v = [0.0] * n
        for i, x in pairs:
            v[i] = x
        return v

    prof = spark.createDataFrame([
        ("u1", 0, 2, 20.0, 1.0, vec([(2999, 0.6), (17, 0.4)])),
        ("u2", 0, 2, 20.0, 1.0, vec([(2999, 0.2), (5, 0.5), (17, 0.3)])),
        ("u3", 1, 1, 10.0, 1.0, vec([(1234, 1.0)])),
    ], "user_key string, segment int, frequency long, monetary double, price_sensitivity double, "
       "category_affinity_vector array<float>").withColumn("recency_days", F.lit(3))
    out = {r["segment"]: r["top_categories"] for r in segments.to_segments(prof, idx, k=2, silhouette=None,
                                                                           as_of=AS_OF).collect()}
    # segment 0: c2999 0.4, c17 0.35, c5 0.25
    assert out == {0: ["c2999", "c0017", "c0005"], 1: ["c1234"]}


def test_adjusted_rand_index_matches_sklearn(spark):
    from sklearn.metrics import adjusted_rand_score

    true = [0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 1]
    pred = [0, 0, 1, 1, 1, 2, 2, 2, 2, 0, 5]
    rows = [(t, p) for t, p in zip(true, pred)] + [(None, 1), (2, None)]
    df = spark.createDataFrame(rows, "true int, predicted int")
    assert ari.adjusted_rand_index(df) == pytest.approx(adjusted_rand_score(true, pred), abs=1e-12)
    same = spark.createDataFrame([(0, 7), (0, 7), (1, 3), (2, 4)], "true int, predicted int")
    assert ari.adjusted_rand_index(same) == 1.0
    one = spark.createDataFrame([(0, 0), (0, 0), (0, 0)], "true int, predicted int")
    assert ari.adjusted_rand_index(one) == adjusted_rand_score([0, 0, 0], [0, 0, 0])


# ---------------------------------------------------------------- embeddings
def test_text_embeddings_offline_similar_titles_are_closer(spark):
    path = embed.model_path(None)
    assert isinstance(path, str) and embed.model_id(None).startswith("all-MiniLM-L6-v2")
    titles = spark.createDataFrame([("a", "Black leather ankle boots"), ("b", "Black leather boots by Lumen"),
                                    ("c", "Stainless steel saucepan with glass lid")], "item_id string, text string")
    out = embed.with_text_embedding(titles, path=path, batch_size=2, dim=384, partitions=1)
    pairs = (out.alias("x").crossJoin(out.alias("y")).where(F.col("x.item_id") < F.col("y.item_id"))
             .select(F.concat("x.item_id", "y.item_id").alias("pair"),
                     embed.cosine(F.col("x.text_embedding"), F.col("y.text_embedding")).alias("cos")))
    cos = {r["pair"]: r["cos"] for r in pairs.collect()}
    vecs = {r["item_id"]: np.array(r["text_embedding"]) for r in out.collect()}
    assert {k: v.shape for k, v in vecs.items()} == {"a": (384,), "b": (384,), "c": (384,)}
    assert all(abs(np.linalg.norm(v) - 1.0) < 1e-4 for v in vecs.values())
    assert cos["ab"] > cos["ac"] + 0.2 and cos["ab"] > cos["bc"] + 0.2


# ---------------------------------------------------------------- the job
RUN = D(2026, 10, 1)
TABLES = ("gold.item_features", "gold.customer_profile", "gold.segments", "gold.behaviour_sequences",
          "gold.purchase_intent")


def _bronze_and_silver(spark, conf, users):
    """Two kinds of customers (shoes people, bags people) over two weeks, written with io.merge."""
    snap_old, snap_new = D(2026, 9, 1), D(2026, 9, 30)
    cat_rows = []
    for snap in (snap_old, snap_new, D(2026, 10, 2)):          # the last one is after run_date: ignored
        for i, (cat, price) in enumerate([("shoes", 80.0), ("shoes", 100.0), ("shoes", 120.0),
                                          ("bags", 40.0), ("bags", 60.0), ("bags", None)]):
            if price is None:
                continue
            title = f"{'Black leather' if cat == 'shoes' else 'Canvas'} {cat} {i}"
            if snap == snap_old and i == 0:
                title = "an old title"
            cat_rows.append((f"I{i}", cat, "sub" if i % 2 else None, "Lumen", title, "black", None, "classic",
                             price, price / 2, None, "active", snap, "f.csv", snap, "given", None))
    io.merge(spark.createDataFrame(cat_rows, S.CATALOG), conf, "bronze.catalog")
    cands = [("C1", "shoes", None, "Aster", "Suede shoes", "red", "suede", None, 110.0, 50.0, 10, RUN, "c.csv", RUN),
             ("C2", "bags", "tote", "Aster", "Straw tote bag", None, "straw", "boho", 30.0, 12.0, None, RUN,
              "c.csv", RUN),
             ("C3", "bags", "tote", "Aster", "Another plan", None, None, None, 30.0, 12.0, None, D(2026, 9, 1),
              "c.csv", RUN)]
    io.merge(spark.createDataFrame(cands, S.CANDIDATES), conf, "bronze.candidates")

    ev, od = [], []
    for u, (key, kind) in enumerate(users):
        items_ = ["I0", "I1", "I2"] if kind == "shoes" else ["I3", "I4"]
        for day in range(4):                       # 09-15, 09-19, 09-23, 09-27: the last in the label window
            d = D(2026, 9, 15 + 4 * day)
            t0 = dt.datetime.combine(d, dt.time(10, u))
            bought = day % 2 == 1
            for j, typ in enumerate(["view", "view", "cart"] + (["purchase"] if bought else [])):
                ev.append((f"e{u}-{day}-{j}", t0 + dt.timedelta(minutes=3 * j), d, typ, key, f"s{u}-{day}",
                           items_[(day + j) % len(items_)], None, 1, None, "web", "e.jsonl", d))
            if bought:
                od.append((f"O{u}-{day}", 1, t0 + dt.timedelta(minutes=9), d, key, items_[day % len(items_)], 1,
                           90.0 if kind == "shoes" else 45.0, "web", "returned" if day == 3 else "completed",
                           None, "o.csv", d, None))
    ev.append(("e-late", dt.datetime(2026, 10, 1, 8), RUN, "view", users[0][0], "s-late", "I0", None, 1, None,
               "web", "e.jsonl", RUN))
    io.merge(spark.createDataFrame(ev, S.EVENTS), conf, "bronze.events")
    io.merge(spark.createDataFrame(od, S.ORDERS), conf, "bronze.orders")
    # silver from bronze with the aggregate stage's own transforms (no aggregate job run)
    ev_df = spark.createDataFrame(ev, S.EVENTS)
    io.merge(agg_sessions.to_sessions(ev_df, gap_minutes=30, run_date=RUN), conf, "silver.sessions")
    io.merge(agg_user_item.to_user_item(ev_df, run_date=RUN, event_weights=conf.aggregate.event_weights,
                                        half_life_days=conf.aggregate.decay_half_life_days),
             conf, "silver.user_item")


def _snapshot(spark, conf):
    return {name: sorted(tuple(r) for r in io.read(spark, conf, name).collect()) for name in TABLES}


@pytest.mark.slow   # two whole build_features runs, ~1.5 min
def test_job_twice_gives_identical_tables_and_embeds_only_new_texts(spark, conf):
    from debut.features import job
    from debut.core.pseudonym import hash_key, hmac_reference

    conf = conf.replace(**{"features.segment_k_min": 2, "features.segment_k_max": 2,
                           "features.sequence_length": 4, "features.intent_window_days": 7})
    key = hash_key(conf)
    raw = [(f"U{i}", "shoes" if i < 4 else "bags") for i in range(8)]
    users = [(hmac_reference(key, uid), kind) for uid, kind in raw]
    _bronze_and_silver(spark, conf, users)

    first = job.run(spark, conf, RUN)
    before = _snapshot(spark, conf)
    second = job.run(spark, conf, RUN)
    assert _snapshot(spark, conf) == before
    assert (first["items"], first["embedded"], second["embedded"]) == (7, 7, 0)
    assert first["customers"] == 8 and first["segment_k"] == 2

    feats = {r["item_id"]: r for r in io.read(spark, conf, "gold.item_features").collect()}
    assert sorted(feats) == ["C1", "C2", "I0", "I1", "I2", "I3", "I4"]
    assert feats["I0"]["title"] == "Black leather shoes 0" and len(feats["C2"]["text_embedding"]) == 384
    assert (feats["C1"]["is_candidate"], feats["C1"]["price_band"], feats["C2"]["price_band"]) == (True, 4, 1)
    prof = {r["user_key"]: r for r in io.read(spark, conf, "gold.customer_profile").collect()}
    shoe = prof[users[0][0]]
    assert list(shoe["category_affinity_vector"]) == [0.0, 1.0] and len(shoe["taste_embedding"]) == 384
    seg = io.read(spark, conf, "gold.segments").orderBy("segment").collect()
    assert [(r["size"], r["top_categories"][0]) for r in seg] in ([(4, "shoes"), (4, "bags")],
                                                                [(4, "bags"), (4, "shoes")])
    seqs = {r["user_key"]: r for r in io.read(spark, conf, "gold.behaviour_sequences").collect()}
    assert seqs[users[0][0]]["seq_length"] == 4 and seqs[users[0][0]]["seq_event"] == [1, 1, 2, 3]
    intent_rows = io.read(spark, conf, "gold.purchase_intent").where(F.col("label") == 1).collect()
    assert sorted((r["category"], r["cutoff_date"]) for r in intent_rows) == [("bags", D(2026, 9, 24))] * 4 + \
        [("shoes", D(2026, 9, 24))] * 4

    import mlflow
    from debut import tracking
    tracking.setup(conf, "build_features")
    runs = mlflow.search_runs(experiment_names=[tracking.experiment_name(conf, "build_features")])
    assert len(runs) == 2 and set(runs["metrics.segment_k"]) == {2.0}
    assert set(runs["metrics.silhouette_k2"]) == {first["silhouettes"][2]}
