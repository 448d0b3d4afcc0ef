"""train_deep job: training-set builders on tiny inline frames (exact outputs), then the job
on the tiny simulated marketplace (three models trained through Petastorm + Horovod, registered,
evaluated, and the registered versions scoring candidates)."""
from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from pyspark.sql import functions as F

from debut.deep import datasets as D

DAY = dt.date
RUN = DAY(2026, 10, 1)


def ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def orders(spark, rows):
    """(order_date, user_key, item_id, status)."""
    return spark.createDataFrame(
        [(f"o{i}", 1, d, u, it, 1, 10.0, s) for i, (d, u, it, s) in enumerate(rows)],
        "order_id string, line_no int, order_date date, user_key string, item_id string, quantity int, "
        "unit_price double, status string")


def item_daily(spark, rows):
    """(item_id, date, views, purchases)."""
    return spark.createDataFrame([(i, d, v, 0, p) for i, d, v, p in rows],
                                 "item_id string, date date, views long, carts long, purchases long")


def events(spark, rows):
    """(event_id, event_time, event_type, user_key, item_id)."""
    return spark.createDataFrame(
        [(e, ts(t), ts(t).date(), typ, u, i) for e, t, typ, u, i in rows],
        "event_id string, event_time timestamp, event_date date, event_type string, user_key string, "
        "item_id string")


def item_cats(spark, rows):
    return spark.createDataFrame(rows, "item_id string, category string, category_index int")


# ===================================================================== windows
def test_label_windows_tile_the_time_before_run_date():
    assert D.holdout_window(RUN, 14) == D.LabelWindow(DAY(2026, 9, 17), RUN)
    assert D.train_windows(RUN, 14, 2) == [D.LabelWindow(DAY(2026, 9, 3), DAY(2026, 9, 17)),
                                           D.LabelWindow(DAY(2026, 8, 20), DAY(2026, 9, 3))]
    # demand: week 8 is complete for launches up to run_date - 56 (08-06); the holdout is their last 14 days
    assert D.demand_split_date(RUN, 8, 14) == DAY(2026, 7, 24)     # launches 07-24 .. 08-06


def test_hash_split_is_disjoint_complete_and_reproducible(spark):
    df = spark.range(400).withColumnRenamed("id", "k")
    a, b = D.hash_split(df, key_cols=("k",), fraction=0.25, seed=3)
    a2, b2 = D.hash_split(df, key_cols=("k",), fraction=0.25, seed=3)
    ka, kb = {r.k for r in a.collect()}, {r.k for r in b.collect()}
    assert ka.isdisjoint(kb) and len(ka | kb) == 400
    assert {r.k for r in b2.collect()} == kb and {r.k for r in a2.collect()} == ka
    assert 60 <= len(kb) <= 140


# ========================================================================= ctr
def test_ctr_positives_are_customer_lines_not_cancelled_inside_the_window(spark):
    o = orders(spark, [(DAY(2026, 9, 20), "u1", "A", "completed"),
                       (DAY(2026, 9, 21), "u1", "A", "returned"),     # same pair twice: one positive
                       (DAY(2026, 9, 21), "u1", "B", "cancelled"),
                       (DAY(2026, 9, 22), None, "C", "completed"),    # guest checkout
                       (DAY(2026, 9, 17), "u2", "B", "completed"),    # first day: inside
                       (DAY(2026, 10, 1), "u2", "C", "completed")])   # end day: outside
    got = sorted(tuple(r) for r in D.ctr_positives(o, start=DAY(2026, 9, 17), end=RUN).collect())
    assert got == [("u1", "A"), ("u2", "B")]


def test_negative_pool_is_items_on_show_in_the_window_weighted_by_purchases(spark):
    d = item_daily(spark, [("A", DAY(2026, 9, 20), 5, 2), ("A", DAY(2026, 9, 21), 1, 1),
                           ("B", DAY(2026, 9, 20), 3, 0), ("C", DAY(2026, 9, 20), 0, 0),
                           ("D", DAY(2026, 9, 1), 9, 4)])     # before the window
    got = sorted(tuple(r) for r in D.negative_pool(d, start=DAY(2026, 9, 17), end=RUN).collect())
    assert got == [("A", 4), ("B", 1)]


def test_negatives_exclude_the_customers_purchases_k_distinct_per_positive(spark):
    pos = spark.createDataFrame([("u1", "A"), ("u2", "A"), ("u2", "B")], "user_key string, item_id string")
    pool = spark.createDataFrame([("A", 3), ("B", 2), ("C", 1), ("D", 1)], "item_id string, weight long")
    # a large oversample so that every positive certainly finds k valid items
    neg = D.sample_negatives(pos, pool, k=2, seed=5, oversample=50).collect()
    by_pos = {}
    for r in neg:
        by_pos.setdefault((r.user_key, r.pos_item_id), []).append(r.item_id)
    assert sorted(by_pos) == [("u1", "A"), ("u2", "A"), ("u2", "B")]
    assert sorted(by_pos[("u2", "A")]) == ["C", "D"] and sorted(by_pos[("u2", "B")]) == ["C", "D"]
    u1 = by_pos[("u1", "A")]
    assert len(u1) == 2 and len(set(u1)) == 2 and set(u1) <= {"B", "C", "D"}
    assert len(neg) == 6
    again = sorted(tuple(r) for r in D.sample_negatives(pos, pool, k=2, seed=5, oversample=50).collect())
    assert again == sorted(tuple(r) for r in neg)


def test_negatives_follow_popularity(spark):
    pos = spark.range(3000).select(F.concat(F.lit("u"), F.col("id").cast("string")).alias("user_key"),
                                   F.lit("Z").alias("item_id"))
    pool = spark.createDataFrame([("A", 9), ("B", 1)], "item_id string, weight long")
    neg = D.sample_negatives(pos, pool, k=1, seed=1)
    share = neg.agg(F.avg((F.col("item_id") == "A").cast("double"))).first()[0]
    assert neg.count() == 3000 and 0.87 < share < 0.93          # 9 / 10


def test_ctr_examples_label_purchases_1_and_sampled_items_0(spark):
    o = orders(spark, [(DAY(2026, 9, 20), "u1", "A", "completed"), (DAY(2026, 9, 21), "u2", "B", "completed")])
    d = item_daily(spark, [(i, DAY(2026, 9, 20), 1, 0) for i in "ABCDEFGH"])
    ex = D.ctr_examples(o, d, window=D.holdout_window(RUN, 14), negatives=3, seed=7)
    rows = ex.collect()
    assert sorted((r.user_key, r.item_id) for r in rows if r.label == 1.0) == [("u1", "A"), ("u2", "B")]
    negs = [(r.user_key, r.item_id) for r in rows if r.label == 0.0]
    assert len(negs) == 6 and ("u1", "A") not in negs and ("u2", "B") not in negs


# ============================================================ feature vectors
def profile_row(spark, rows):
    return spark.createDataFrame(rows, (
        "user_key string, recency_days int, frequency long, units long, monetary double, returned_value double, "
        "tenure_days int, sessions long, mean_session_minutes double, events_per_session double, "
        "purchase_session_share double, price_sensitivity double, below_median_share double, "
        "category_affinity_vector array<float>, channel_mix array<float>, taste_embedding array<float>"))


def test_user_vector_layout(spark):
    p = profile_row(spark, [
        ("u1", 3, 2, 4, math.e - 1, 0.0, 10, 5, 1.0, 3.0, 0.4, 0.9, 0.5, [0.25, 0.75], [1.0, 0.0, 0.0], [0.5, -0.5]),
        ("u2", None, 0, 0, 0.0, 0.0, 2, 1, None, None, None, None, None, [0.0, 0.0], [0.0, 1.0, 0.0], None),
        ("u3", None, 0, 0, 0.0, 0.0, 2, 1, None, None, None, None, None, [1.0], [0.0, 1.0, 0.0], None)])  # stale width
    got = {r.user_key: r.user_features for r in
           D.to_user_vectors(p, n_categories=2, embedding_dim=2).collect()}
    l1 = math.log1p
    expected_u1 = [1, l1(3), l1(2), l1(4), 1.0, 0, l1(10), l1(5), l1(1), l1(3), 0.4, 0.9, 0.5, 1,
                   0.25, 0.75, 1, 0, 0, 0.5, -0.5]
    expected_u2 = [0, 0, 0, 0, 0, 0, l1(2), l1(1), 0, 0, 0, 1.0, 0, 0, 0, 0, 0, 1, 0, 0, 0]
    assert D.user_width(2, 2) == 21
    np.testing.assert_allclose(got["u1"], expected_u1, rtol=1e-6)
    np.testing.assert_allclose(got["u2"], expected_u2, rtol=1e-6)
    assert got["u3"] is None


ITEM_COLS = ("item_id string, is_candidate boolean, category string, category_index int, price double, "
             "relative_price double, margin_rate double, price_band int, attribute_vector array<float>, "
             "text_embedding array<float>")


def attr(*hot):
    v = [0.0] * 128
    for h in hot:
        v[h] = 1.0
    return v


def test_item_vector_layout(spark):
    items = spark.createDataFrame([
        ("A", False, "bags", 1, math.e - 1, 1.5, 0.4, 2, attr(3), [0.1, 0.2]),
        ("C1", True, "hats", None, 0.0, None, None, None, attr(), None)], ITEM_COLS)
    got = {r.item_id: r.item_features for r in
           D.to_item_vectors(items, n_categories=2, bands=3, embedding_dim=2).collect()}
    a = [1.0, 1.5, math.log1p(1.5), 0.4, 1.0] + [0, 1, 0] + [0, 1] + attr(3) + [0.1, 0.2]
    c1 = [0.0, 1.0, math.log1p(1.0), 0.0, 0.0] + [0, 0, 0] + [0, 0] + attr() + [0.0, 0.0]
    np.testing.assert_allclose(got["A"], a, rtol=1e-6)
    np.testing.assert_allclose(got["C1"], c1, rtol=1e-6)


def test_ctr_pairs_keeps_every_pair_and_nulls_the_unknown(spark, conf):
    p = profile_row(spark, [("u1", 3, 2, 4, 1.0, 0.0, 10, 5, 1.0, 3.0, 0.4, 0.9, 0.5, [0.25, 0.75],
                             [1.0, 0.0, 0.0], None)])
    items = spark.createDataFrame([("A", False, "bags", 1, 10.0, 1.0, 0.4, 2, attr(), None)], ITEM_COLS)
    pairs = spark.createDataFrame([("u1", "A", 1), ("u9", "A", 2), ("u1", "Z", 3)],
                                  "user_key string, item_id string, id int")
    c = conf.replace(**{"features.embedding_dim": 2, "features.price_bands": 3})
    out = {r.id: r for r in D.ctr_pairs(spark, c, pairs, profile_df=p, item_features_df=items).collect()}
    assert sorted(out) == [1, 2, 3]
    assert len(out[1].user_features) == D.user_width(2, 2) and len(out[1].item_features) == 5 + 3 + 2 + 128 + 2
    assert out[2].user_features is None and out[3].item_features is None


# ==================================================================== sequence
def test_sequence_examples_cut_features_at_the_window_start(spark):
    cats = item_cats(spark, [("A", "bags", 0), ("B", "hats", 1), ("X", "gone", None)])
    ev = events(spark, [
        ("e1", "2026-09-10 10:00:00", "view", "u1", "A"),
        ("e2", "2026-09-12 10:00:00", "cart", "u1", "B"),
        ("e3", "2026-09-17 08:00:00", "view", "u1", "X"),     # in the window, no category: not a label
        ("e4", "2026-09-17 09:00:00", "view", "u1", "B"),     # first categorised interaction -> label 2
        ("e5", "2026-09-18 09:00:00", "view", "u1", "A"),
        ("e6", "2026-09-11 09:00:00", "view", "u2", "A"),     # u2: history, nothing in the window
        ("e7", "2026-09-20 09:00:00", "view", "u3", "A")])    # u3: no history before the window
    o = orders(spark, [(DAY(2026, 9, 19), "u1", "A", "completed")])
    win = D.LabelWindow(DAY(2026, 9, 17), RUN)
    rows = D.sequence_examples(ev, o, cats, window=win, seq_len=4).collect()
    assert len(rows) == 1
    r = rows[0]
    assert (r.user_key, r.next_category, r.purchase_intent, r.seq_length) == ("u1", 2, 1.0, 2)
    assert r.seq_category == [0, 0, 1, 2] and r.seq_event == [0, 0, 1, 2]
    assert r.seq_gap[:3] == [0.0, 0.0, 0.0] and r.seq_gap[3] == pytest.approx(math.log1p(48.0))


def test_top_categories_rank_by_count_then_recency(spark):
    cats = item_cats(spark, [("A", "a", 0), ("B", "b", 1), ("C", "c", 2)])
    ev = events(spark, [("e1", "2026-09-01 10:00:00", "view", "u1", "A"),
                        ("e2", "2026-09-02 10:00:00", "view", "u1", "A"),
                        ("e3", "2026-09-03 10:00:00", "view", "u1", "C"),
                        ("e4", "2026-09-04 10:00:00", "view", "u1", "B"),   # B and C tie: B is more recent
                        ("e5", "2026-09-30 10:00:00", "view", "u1", "C")])  # after the as-of date
    counts = D.category_counts(ev, cats, as_of=DAY(2026, 9, 17))
    got = D.top_categories(counts, k=3).collect()
    assert [(r.user_key, r.top) for r in got] == [("u1", [1, 2, 3])]


# ====================================================================== demand
def launch_history(spark, rows):
    """(item_id, category, launch_date, week, units, is_complete)."""
    return spark.createDataFrame(rows, "item_id string, category string, launch_date date, week int, "
                                       "units long, is_complete boolean")


def test_launch_targets_need_every_horizon_week_complete(spark):
    lh = launch_history(spark, [("A", "bags", DAY(2026, 8, 1), 1, 3, True), ("A", "bags", DAY(2026, 8, 1), 2, 5, True),
                                ("A", "bags", DAY(2026, 8, 1), 3, 100, True),           # beyond the horizon
                                ("B", "bags", DAY(2026, 9, 20), 1, 4, True),
                                ("B", "bags", DAY(2026, 9, 20), 2, 1, False)])          # week 2 not complete
    got = [tuple(r) for r in D.launch_targets(lh, horizon_weeks=2).collect()]
    assert got == [("A", "bags", DAY(2026, 8, 1), 8, pytest.approx(math.log1p(8)))]


def category_daily(spark, rows):
    """(category, date, units, views, active_items)."""
    return spark.createDataFrame(rows, "category string, date date, units long, views long, active_items long")


def test_category_context_uses_only_days_before_the_launch(spark):
    launch = DAY(2026, 9, 11)
    daily = category_daily(spark, [
        ("bags", DAY(2026, 9, 1), 2, 20, 2),        # first day of the history
        ("bags", DAY(2026, 9, 6), 6, 30, 3),        # recent half (last 5 of 10 days)
        ("bags", DAY(2026, 9, 10), 4, 10, 1),
        ("bags", launch, 1000, 1000, 50),           # launch day and later: never seen
        ("bags", DAY(2026, 9, 20), 1000, 1000, 50),
        ("hats", DAY(2026, 9, 5), 1000, 1000, 50)])  # another category
    launches = spark.createDataFrame([("A", "bags", launch), ("P", "bags", DAY(2026, 9, 4)),
                                      ("Q", "bags", DAY(2026, 8, 1)), ("R", "bags", DAY(2026, 9, 12))],
                                     "item_id string, category string, launch_date date")
    items = spark.createDataFrame([("A", "bags", launch, 1.2, 2)],
                                  "item_id string, category string, as_of_date date, relative_price double, "
                                  "price_band int")
    got = D.category_context(items, daily, launches, context_days=10, bands=3).collect()
    # window 09-01..09-10 (10 days, all in the history); recent half 09-06..09-10, older 09-01..09-05
    units_rate, views_rate, active_rate = 12 / 10, 60 / 10, 6 / 10
    expected = [math.log1p(units_rate), math.log1p(10 / 5) - math.log1p(2 / 5), math.log1p(views_rate),
                math.log1p(active_rate), math.log1p(units_rate / active_rate), math.log1p(1),  # only P
                1.2, 0.5, 1.0]
    assert [r.item_id for r in got] == ["A"] and got[0].as_of_date == launch
    np.testing.assert_allclose(got[0].category_context, expected, rtol=1e-6)


def test_category_context_counts_only_the_history_it_has(spark):
    daily = category_daily(spark, [("bags", DAY(2026, 9, 8), 6, 0, 2), ("bags", DAY(2026, 9, 9), 0, 0, 0)])
    launches = spark.createDataFrame([], "item_id string, category string, launch_date date")
    items = spark.createDataFrame([("A", "bags", DAY(2026, 9, 11), None, None)],
                                  "item_id string, category string, as_of_date date, relative_price double, "
                                  "price_band int")
    ctx = D.category_context(items, daily, launches, context_days=10, bands=3).first().category_context
    # history starts 09-08: 3 observed days (08, 09, 10), all in the recent half: no trend
    np.testing.assert_allclose(ctx, [math.log1p(2.0), 0.0, 0.0, math.log1p(2 / 3), math.log1p(3.0), 0.0,
                                     1.0, 0.5, 0.3], rtol=1e-6)


def test_demand_inputs_for_candidates_as_of_the_plan_date(spark, conf):
    items = spark.createDataFrame([
        ("C1", True, "bags", 0, 20.0, 1.0, 0.5, 1, attr(1), [0.3, 0.4]),
        ("C2", True, "shoes", None, 5.0, None, None, None, attr(), None),       # unknown category
        ("A", False, "bags", 0, 10.0, 0.5, 0.5, 1, attr(2), [0.1, 0.1])], ITEM_COLS)
    daily = category_daily(spark, [("bags", DAY(2026, 9, 30), 7, 0, 1), ("bags", RUN, 500, 0, 1)])
    lh = launch_history(spark, [("A", "bags", DAY(2026, 9, 25), 1, 3, False)])
    c = conf.replace(**{"features.embedding_dim": 2, "features.price_bands": 2, "deep.context_days": 4})
    cands = spark.createDataFrame([("C1", 1), ("C2", 2), ("C9", 3)], "item_id string, n int")
    out = {r.item_id: r for r in D.demand_inputs(spark, c, cands, RUN, item_features_df=items,
                                                 category_daily_df=daily, launch_history_df=lh).collect()}
    assert list(D.demand_inputs(spark, c, cands, RUN, item_features_df=items, category_daily_df=daily,
                                launch_history_df=lh).columns) == [
        "item_id", "n", "category", "attributes", "text_embedding", "category_context"]
    assert sorted(out) == ["C1", "C2", "C9"]
    c1 = out["C1"]
    assert c1.category == "bags" and len(c1.attributes) == 5 + 2 + 1 + 128 and c1.text_embedding == [
        pytest.approx(0.3), pytest.approx(0.4)]
    # history starts 09-30: one observed day of the 4 before 10-01; launch A (09-25) is outside the 4 days
    np.testing.assert_allclose(c1.category_context, [math.log1p(7), 0, 0, math.log1p(1), math.log1p(7), 0,
                                                     1.0, 0.0, 0.25], rtol=1e-6)
    assert out["C2"].text_embedding == [0.0, 0.0] and out["C2"].category == "shoes"
    assert out["C9"].attributes is None and out["C9"].category_context is None


# ======================================================== demand_net_predictions
def test_demand_items_are_every_past_launch_and_the_plan_dates_candidates(spark):
    from debut.deep.predictions import demand_items

    history = spark.createDataFrame([("L1", DAY(2026, 6, 1), 1), ("L1", DAY(2026, 6, 1), 2), ("L2", DAY(2026, 7, 1), 1)],
                                    "item_id string, launch_date date, week int")
    cands = spark.createDataFrame([("C1", RUN), ("C2", DAY(2026, 9, 1)), ("L2", RUN)],
                                  "candidate_id string, plan_date date")
    out = {r.item_id: (r.is_candidate, r.launch_date) for r in demand_items(history, cands, plan_date=RUN).collect()}
    assert out == {"L1": (False, DAY(2026, 6, 1)), "L2": (True, DAY(2026, 7, 1)), "C1": (True, None)}
    assert {r.item_id for r in demand_items(history, None, plan_date=RUN).collect()} == {"L1", "L2"}


def test_demand_net_predictions_carry_the_split_and_the_model_version(spark):
    from debut import schemas as S
    from debut.deep.predictions import to_demand_net_predictions

    scored = spark.createDataFrame(
        [("L1", False, DAY(2026, 6, 1), 1.0, 2.0, 3.0), ("C1", True, None, 0.5, 1.5, 2.5),
         ("C9", True, None, None, None, None)],
        "item_id string, is_candidate boolean, launch_date date, demand_q10 double, demand_q50 double, "
        "demand_q90 double")
    out = to_demand_net_predictions(scored, run_date=RUN, trained_before=DAY(2026, 7, 24), model_name="debut_demand",
                                    model_version=3, quantiles=(0.1, 0.5, 0.9))
    assert [(f.name, f.dataType.simpleString()) for f in out.schema] == \
        [(f.name, f.dataType.simpleString()) for f in S.DEMAND_NET_PREDICTIONS]
    rows = {r.item_id: r for r in out.collect()}
    assert rows["L1"].quantile_log1p == [1.0, 2.0, 3.0] and rows["C1"].quantile_log1p == [0.5, 1.5, 2.5]
    assert rows["C9"].quantile_log1p is None                      # no features: kept with null predictions
    assert {(r.run_date, r.as_of_date, r.trained_before, r.model_version, tuple(r.quantile_levels))
            for r in rows.values()} == {(RUN, RUN, DAY(2026, 7, 24), 3, (0.1, 0.5, 0.9))}


def test_demand_holdout_scores_pinball_wape_and_coverage():
    import pandas as pd

    from debut.deep.job import demand_scores

    y = np.log1p([9.0, 3.0])
    pdf = pd.DataFrame({"demand_log1p": y, "units": [9, 3], "_bq": [[0.0, 1.0, 2.0], [0.0, 1.0, 2.0]],
                        "_bmean": [5.0, 5.0], "demand_q10": [1.0, 1.5], "demand_q50": [np.log1p(8.0), np.log1p(5.0)],
                        "demand_q90": [3.0, 2.0]})
    m = demand_scores(pdf, (0.1, 0.5, 0.9))
    assert m["wape"] == pytest.approx((1 + 2) / 12) and m["wape_base"] == pytest.approx((4 + 2) / 12)
    assert m["coverage"] == 0.5                           # log1p(3) = 1.39 lies below 1.5

    def loss(a, f, q):
        return q * (a - f) if a >= f else (1 - q) * (f - a)
    net = [[1.0, np.log1p(8.0), 3.0], [1.5, np.log1p(5.0), 2.0]]
    expected = np.mean([loss(a, f, q) for a, fs in zip(y, net) for f, q in zip(fs, (0.1, 0.5, 0.9))])
    assert m["pinball"] == pytest.approx(expected)
    base = np.mean([loss(a, f, q) for a in y for f, q in zip((0.0, 1.0, 2.0), (0.1, 0.5, 0.9))])
    assert m["pinball_base"] == pytest.approx(base)


# ========================================================= the job, end to end
def _tiny_deep(conf, **extra):
    return conf.replace(**{"deep.epochs": 1, "deep.batch_size": 32, "deep.hidden_dim": 16, "deep.embed_dim": 8,
                           "deep.patience": 1, "deep.holdout_days": 7, "deep.train_windows": 2,
                           "deep.min_train_rows": 8, "deep.min_steps_per_epoch": 2, "deep.context_days": 7,
                           "deep.lr_max_iter": 10, "forecast.horizon_weeks": 1,
                           "simulate.launches_per_category": 8, **extra})


@pytest.fixture(scope="module")
def market(spark, tmp_path_factory):
    """The tiny simulated marketplace up to build_features (minutes; once per module, slow tests only)."""
    from conftest import make_conf

    from debut.cli import run_job

    conf = _tiny_deep(make_conf(tmp_path_factory.mktemp("deep-job")))
    for job in ("simulate", "ingest", "aggregate", "build_features"):
        run_job(job, conf, RUN, spark=spark)
    return conf


def _evaluation(spark, conf, component):
    from debut import io

    rows = (io.read(spark, conf, "gold.evaluation").where(F.col("component") == component)
            .where(F.col("run_date") == F.lit(RUN)).collect())
    return {(r.metric, r.slice): r.value for r in rows}


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_train_deep_job_skips_tasks_without_enough_data(spark, market):
    from debut.deep.job import run

    conf = market.replace(**{"deep.min_train_rows": 10 ** 9})
    out = run(spark, conf, RUN)
    assert sorted(out) == ["ctr", "demand", "sequence"]
    assert all("fewer than deep.min_train_rows" in out[t]["skipped"] for t in out)
    for task in out:
        assert _evaluation(spark, conf, f"deep.{task}") == {("skipped", "all"): 1.0, ("evaluated", "all"): 0.0}


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_train_deep_job_trains_registers_and_scores_candidates(spark, market):
    import mlflow

    from debut import io
    from debut.deep.job import run
    from debut.deep.score import score

    conf = market
    out = run(spark, conf, RUN)
    for task in ("ctr", "sequence", "demand"):
        assert "skipped" not in out[task], out[task]
        assert out[task]["model_name"] == f"debut_{task}" and out[task]["version"] >= 1
    client = mlflow.tracking.MlflowClient()
    for task in ("ctr", "sequence", "demand"):
        versions = client.search_model_versions(f"name='debut_{task}'")
        assert max(int(v.version) for v in versions) == out[task]["version"]
        ev = _evaluation(spark, conf, f"deep.{task}")
        assert ev[("skipped", "all")] == 0.0 and ev[("model_version", "all")] == out[task]["version"]
    ctr = _evaluation(spark, conf, "deep.ctr")
    assert 0.0 <= ctr[("auc", "all")] <= 1.0 and 0.0 <= ctr[("auc", "baseline=logistic_regression")] <= 1.0
    seq = _evaluation(spark, conf, "deep.sequence")
    assert {("top1_accuracy", "all"), ("top3_accuracy", "baseline=customer_most_frequent"),
            ("top1_accuracy", "baseline=global_most_frequent")} <= set(seq)
    assert seq[("top1_accuracy", "all")] <= seq[("top3_accuracy", "all")]

    # the forecaster's path: candidates of the plan scored by the registered versions
    cands = (io.read(spark, conf, "gold.item_features").where(F.col("is_candidate"))
             .select("item_id", "plan_date"))
    n_cands = cands.count()
    demand = score(D.demand_inputs(spark, conf, cands, RUN), conf, "demand",
                   version=out["demand"]["version"]).collect()
    assert len(demand) == n_cands > 0
    assert all(r.demand_q10 <= r.demand_q50 <= r.demand_q90 for r in demand)
    assert all(r.units_q50 == pytest.approx(math.expm1(r.demand_q50)) for r in demand)
    # the same network's predictions as a table for the forecaster: every past launch and candidate
    preds = io.read(spark, conf, "gold.demand_net_predictions").where(F.col("run_date") == F.lit(RUN))
    launches = io.read(spark, conf, "gold.launch_history").select("item_id").distinct().count()
    assert preds.count() == out["demand"]["predictions"] == launches + n_cands
    assert {(r.trained_before, r.model_version) for r in preds.select("trained_before", "model_version").distinct()
            .collect()} == {(D.demand_split_date(RUN, 1, 7), out["demand"]["version"])}
    by_id = {r.item_id: r.quantile_log1p for r in preds.where(F.col("is_candidate")).collect()}
    assert all(by_id[r.item_id] == pytest.approx([r.demand_q10, r.demand_q50, r.demand_q90]) for r in demand)
    users = io.read(spark, conf, "gold.customer_profile").select("user_key").limit(3)
    ctr_scored = score(D.ctr_pairs(spark, conf, users.crossJoin(cands.select("item_id"))), conf, "ctr").collect()
    assert len(ctr_scored) == 3 * n_cands and all(0.0 < r.p_purchase < 1.0 for r in ctr_scored)
    seqs = io.read(spark, conf, "gold.behaviour_sequences")
    seq_scored = score(seqs, conf, "sequence").collect()
    assert len(seq_scored) == seqs.count() and all(r.top_category >= 1 for r in seq_scored)


# ------------------------------------------------------------------ the ctr baseline
def _ctr_pairs(spark, n, seed):
    rng = np.random.default_rng(seed)
    u, it = rng.normal(size=(n, 3)), rng.normal(size=(n, 2))
    score = 1.5 * u[:, 0] - 1.0 * it[:, 1] + 0.5 * u[:, 2] * 3.0 + rng.normal(scale=1.0, size=n)
    rows = [(f"u{k}", f"i{k}", DAY(2026, 9, 1), [float(v) for v in u[k] * [1.0, 10.0, 3.0]],
             [float(v) for v in it[k]], int(score[k] > 0)) for k in range(n)]
    return spark.createDataFrame(rows, "user_key string, item_id string, window_start date, "
                                       "user_features array<float>, item_features array<float>, label int")


def test_logistic_baseline_matches_spark_ml_and_bounds_its_sample(spark):
    """The driver-side baseline fits the model Spark ML's LogisticRegression fits (standardised
    features, the same L2 penalty): the same holdout AUC to 1e-3; above max_rows it fits a sample."""
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.evaluation import BinaryClassificationEvaluator
    from pyspark.ml.functions import array_to_vector

    from debut.deep.job import logistic_baseline_auc

    train, hold = _ctr_pairs(spark, 600, 1), _ctr_pairs(spark, 300, 2)

    def vectors(df):
        return df.select(array_to_vector(F.concat("user_features", "item_features")).alias("features"),
                         F.col("label").cast("double").alias("label"))

    spark_lr = LogisticRegression(maxIter=30, regParam=0.05).fit(vectors(train))
    expected = BinaryClassificationEvaluator(rawPredictionCol="rawPrediction", labelCol="label").evaluate(
        spark_lr.transform(vectors(hold)))
    got = logistic_baseline_auc(train, hold, rows=600, reg=0.05, max_iter=30, max_rows=100_000, seed=7)
    assert 0.8 < expected < 0.99
    assert got == pytest.approx(expected, abs=1e-3)
    # a sample of about 150 of the 600 rows: a different (still informative) fit
    sampled = logistic_baseline_auc(train, hold, rows=600, reg=0.05, max_iter=30, max_rows=150, seed=7)
    assert sampled != got and sampled > 0.75


def test_logistic_baseline_sample_is_bounded_by_bytes_as_well_as_rows():
    from debut.deep.job import LR_SAMPLE_BYTES, lr_sample_rows

    assert LR_SAMPLE_BYTES == 64 << 20
    assert lr_sample_rows(200_000, 811) == 20_687   # (64 << 20) // (4 * 811): the demo's ctr width
    assert lr_sample_rows(200_000, 20) == 200_000                              # narrow: the row cap binds
    assert lr_sample_rows(500, 811) == 500
