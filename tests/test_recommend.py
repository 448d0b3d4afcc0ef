"""train_als: metrics, cold-start map, audiences and lists on tiny inline data; the job on the test simulator."""
from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from chispa import assert_approx_df_equality
from pyspark.sql import functions as F

from debut import io
from debut import schemas as S
from debut.recommend import audience, coldstart, data, job, metrics, scoring

D = dt.date
RUN = D(2026, 10, 1)


def log2(x: float) -> float:
    return math.log(x, 2)


# ------------------------------------------------------------------ metrics
def test_ranking_metrics_match_hand_computed_values(spark):
    recs = spark.createDataFrame([
        ("A", "i1", 1), ("A", "i2", 2), ("A", "i3", 3),
        ("B", "i3", 1), ("B", "i2", 2), ("B", "i4", 3),
        ("D", "i9", 1),                                   # no relevant items: not evaluated
    ], "user_key string, item_id string, rank int")
    relevant = spark.createDataFrame([("A", "i1"), ("A", "i3"), ("B", "i2"), ("C", "i5")],
                                     "user_key string, item_id string")   # C has no list: scores 0
    row = metrics.ranking_metrics(recs, relevant, ks=[2, 3], n_items=10).first()
    idcg2 = 1 + 1 / log2(3)
    ndcg_a2, ndcg_a3 = 1 / idcg2, (1 + 1 / log2(4)) / idcg2
    ndcg_b = (1 / log2(3)) / 1.0
    expected = {
        "users": 3,
        "precision@2": (0.5 + 0.5) / 3, "recall@2": (0.5 + 1.0) / 3,
        "ndcg@2": (ndcg_a2 + ndcg_b) / 3, "map@2": (0.5 + 0.5) / 3,
        "precision@3": (2 / 3 + 1 / 3) / 3, "recall@3": (1.0 + 1.0) / 3,
        "ndcg@3": (ndcg_a3 + ndcg_b) / 3, "map@3": ((1 + 2 / 3) / 2 + 0.5) / 3,
        "coverage@2": 3 / 10, "coverage@3": 4 / 10,
    }
    for key, value in expected.items():
        assert row[key] == pytest.approx(value, abs=1e-9), key


def test_ranking_metrics_in_one_pass_equal_the_join_based_metrics(spark):
    """Model, fixed-list and random slices from factors agree with ranking_metrics on the lists
    scoring gives the same customers (relevant items outside the item set ignored, a customer
    without factors evaluated with no list, one without relevant items not evaluated)."""
    rng = np.random.default_rng(5)
    ids = [f"i{j}" for j in range(12)]
    mat = np.round(rng.normal(size=(12, 3)), 1)
    mat[7] = mat[3]                                        # tied scores: the lower index ranks first
    fac = {f"u{u}": [float(x) for x in rng.normal(size=3)] for u in range(9)}
    rel_rows = [(u, ids[j]) for u in fac for j in rng.choice(12, size=int(rng.integers(1, 5)), replace=False)]
    rel_rows += [("u0", "other"), ("u8", "other"), ("x1", "i2"), ("x1", "i5")]   # x1: no factors
    rel_rows = [r for r in rel_rows if r[0] != "u8"] + [("u8", "other")]         # u8: nothing in the set
    relevant = spark.createDataFrame(rel_rows, "user_key string, item_id string")
    users = spark.createDataFrame([(u, v) for u, v in fac.items()], "user_key string, factors array<float>")
    frame = (relevant.groupBy("user_key").agg(F.collect_list("item_id").alias("relevant"))
             .join(users, on="user_key", how="left").repartition(3))
    pop = ["i4", "i0", "i9", "i1", "i11"]
    ks = [2, 5]
    got = metrics.ranking_metrics_in_one_pass(frame, ids, [("m", "factors", mat), ("p", "fixed", pop),
                                                           ("r", "random", 7)], ks=ks, block_bytes=8 * 12 * 2)
    rel_in = relevant.where(F.col("item_id").isin(ids))
    lists = {"m": scoring.top_items_per_user(users, ids, mat, list_size=5),
             "p": users.select("user_key").crossJoin(spark.createDataFrame(
                 [(i, r) for r, i in enumerate(pop, 1)], "item_id string, rank int")),
             "r": scoring.top_items_per_user(users, ids, np.zeros((12, 1)), list_size=5, random_seed=7)}
    for name, recs in lists.items():
        want = metrics.ranking_metrics(recs, rel_in, ks=ks, n_items=12).first().asDict()
        assert got[name]["users"] == want["users"] == 9, name
        for key in want:
            assert got[name][key] == pytest.approx(want[key], abs=1e-12), (name, key)


def test_audience_recall_is_the_mean_share_of_each_items_buyers_reached(spark):
    top = spark.createDataFrame([("x", "u1"), ("x", "u2"), ("y", "u3")], "item_id string, user_key string")
    rel = spark.createDataFrame([("x", "u1"), ("x", "u4"), ("y", "u3"), ("z", "u1")],
                                "item_id string, user_key string")
    row = metrics.audience_recall(top, rel).first()
    assert row["items"] == 3
    assert row["recall"] == pytest.approx((0.5 + 1.0 + 0.0) / 3)


def test_audience_recall_by_slice_equals_each_slice_alone(spark):
    top = spark.createDataFrame([("a", "x", "u1"), ("a", "x", "u2"), ("a", "y", "u3"), ("b", "x", "u4"),
                                 ("b", "z", "u1")], "slice string, item_id string, user_key string")
    rel = spark.createDataFrame([("x", "u1"), ("x", "u4"), ("y", "u3"), ("z", "u1"), ("z", "u2")],
                                "item_id string, user_key string")
    got = metrics.audience_recall_by_slice(top, rel, ["a", "b", "none"])
    for s in ("a", "b", "none"):
        alone = metrics.audience_recall(top.where(F.col("slice") == s), rel).first()
        assert got[s][0] == pytest.approx(alone["recall"]) and got[s][1] == alone["items"] == 3, s
    assert got["a"][0] == pytest.approx((0.5 + 1.0 + 0.0) / 3) and got["b"][0] == pytest.approx((0.5 + 0.5) / 3)


# ------------------------------------------------------------------ cold-start map
def test_ridge_map_recovers_a_known_linear_map():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 12))
    W = rng.normal(size=(12, 4))
    b = np.array([0.5, -1.0, 2.0, 0.0])
    fitted = coldstart.RidgeMap(alphas=(1e-6, 1.0, 100.0)).fit(X, X @ W + b)
    assert fitted.alpha == 1e-6                       # noiseless: leave-one-out wants no shrinkage
    X_new = rng.normal(size=(50, 12))
    np.testing.assert_allclose(fitted.predict(X_new), X_new @ W + b, atol=1e-4)
    assert coldstart.r2_score(X_new @ W + b, fitted.predict(X_new)) == pytest.approx(1.0, abs=1e-8)


def test_ridge_leave_one_out_matches_refitting_without_each_row():
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(15, 4)), rng.normal(size=(15, 2))
    fitted = coldstart.RidgeMap(alphas=(2.0,)).fit(X, Y)
    errs = []
    for i in range(len(X)):
        keep = np.arange(len(X)) != i
        one = coldstart.RidgeMap(alphas=(2.0,)).fit(X[keep], Y[keep])
        errs.append((Y[i] - one.predict(X[i:i + 1])[0]) ** 2)
    assert fitted.loo_mse[2.0] == pytest.approx(float(np.mean(errs)), rel=1e-9)


@pytest.mark.parametrize("n", [8, 40])            # fewer items than features (SVD), more (Gram, in blocks)
def test_ridge_in_blocks_equals_the_whole_matrix_fit(n):
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(n, 10)), rng.normal(size=(n, 3))
    whole = coldstart.RidgeMap(alphas=(0.5, 5.0))._fit_svd(X, Y)
    blocks = coldstart.RidgeMap(alphas=(0.5, 5.0)).fit_blocks(lambda: iter([X[:3], X[3:7], X[7:]]), Y)
    assert blocks.alpha == whole.alpha
    for a in (0.5, 5.0):
        assert blocks.loo_mse[a] == pytest.approx(whole.loo_mse[a], rel=1e-8)
    X_new = rng.normal(size=(5, 10))
    np.testing.assert_allclose(blocks.predict(X_new), whole.predict(X_new), rtol=1e-8, atol=1e-10)


def test_fit_map_reads_the_catalog_in_blocks():
    rng = np.random.default_rng(3)
    n = 30
    items = pd.DataFrame({
        "item_id": [f"i{k}" for k in range(n)], "category_index": rng.integers(0, 2, n),
        "attribute_vector": [list(map(float, rng.integers(0, 2, 3))) for _ in range(n)],
        "text_embedding": [list(rng.normal(size=2)) for _ in range(n)],
        "relative_price": rng.uniform(0.5, 2.0, n), "price_band": rng.integers(1, 3, n)})
    Y = rng.normal(size=(n, 2))
    kw = dict(n_categories=2, price_bands=2, cross_category=True, alphas=(1.0, 10.0))
    one = coldstart.fit_map("ridge", items, Y, rows=n, **kw)
    many = coldstart.fit_map("ridge", items, Y, rows=7, **kw)
    assert many.alpha == one.alpha
    got = coldstart.predict_items(many, items, n_categories=2, price_bands=2, cross_category=True, rows=4)
    np.testing.assert_allclose(got, one.predict(coldstart.content_matrix(items, n_categories=2, price_bands=2,
                                                                         cross_category=True)), rtol=1e-9)


def test_content_matrix_blocks():
    items = pd.DataFrame({
        "item_id": ["a", "b"], "category_index": [1, None],
        "attribute_vector": [[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]],
        "text_embedding": [[3.0, 4.0], None],
        "relative_price": [math.e, None], "price_band": [2, None]})
    X = coldstart.content_matrix(items, n_categories=2, price_bands=2, cross_category=True)
    # category(2) attributes(3) text(2) logp logp^2 bands(2) cross(2 x 3)
    expected_a = [0, 1, 1, 0, 1, 0.6, 0.8, 1, 1, 0, 1, 0, 0, 0, 1, 0, 1]
    expected_b = [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    np.testing.assert_allclose(X, np.array([expected_a, expected_b], float))
    sparse = coldstart.content_matrix(items, n_categories=2, price_bands=2, cross_category=True, sparse=True)
    np.testing.assert_allclose(sparse.toarray(), X)


# ------------------------------------------------------------------ scoring
def test_select_list_reserves_slots_for_the_best_new_items():
    scores = np.array([[0.9, 0.8, 0.7, 0.1, 0.05]])
    is_new = np.array([False, False, False, True, True])
    assert scoring.select_list(scores, is_new, list_size=3, n_explore=0).tolist() == [[0, 1, 2]]
    assert scoring.select_list(scores, is_new, list_size=3, n_explore=1).tolist() == [[0, 1, 3]]
    assert scoring.select_list(scores, is_new, list_size=3, n_explore=2).tolist() == [[0, 3, 4]]
    # a new item already among the best counts toward its reserved slots
    assert scoring.select_list(np.array([[0.1, 0.9, 0.5]]), np.array([False, True, False]),
                               list_size=2, n_explore=1).tolist() == [[1, 2]]


def test_top_items_per_user_with_exploration(spark):
    users = spark.createDataFrame([("u1", [1.0, 0.0]), ("u2", [0.0, 1.0])], "user_key string, factors array<float>")
    ids = ["a", "b", "c", "n"]
    mat = np.array([[3.0, 0.0], [2.0, 1.0], [0.0, 3.0], [0.5, 0.5]])
    out = scoring.top_items_per_user(users, ids, mat, list_size=2, is_new=np.array([0, 0, 0, 1], bool),
                                     n_explore=1)
    got = sorted((r["user_key"], r["rank"], r["item_id"], r["score"], r["is_new"]) for r in out.collect())
    assert got == [("u1", 1, "a", 3.0, False), ("u1", 2, "n", 0.5, True),
                   ("u2", 1, "c", 3.0, False), ("u2", 2, "n", 0.5, True)]


def test_row_blocks_bound_the_score_block():
    pdf = pd.DataFrame({"user_key": [f"u{i}" for i in range(10)]})
    sizes = [len(b) for b in scoring.row_blocks(pdf, n_items=100, budget=8 * 100 * 4)]
    assert sizes == [4, 4, 2]
    assert [len(b) for b in scoring.row_blocks(pdf, n_items=10 ** 9, budget=1)] == [1] * 10
    assert [len(b) for b in scoring.row_blocks(pdf, n_items=10 ** 9, budget=1, min_rows=6)] == [6, 4]


def test_scoring_in_one_row_blocks_gives_the_same_lists(spark):
    users = spark.createDataFrame([(f"u{i}", [float(i), float(5 - i)]) for i in range(6)],
                                  "user_key string, factors array<float>").coalesce(1)
    ids, mat = ["x", "y", "z"], np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])

    def lists(**kw):
        return sorted(tuple(r) for r in scoring.top_items_per_user(users, ids, mat, list_size=2, **kw).collect())

    def tops(**kw):
        return sorted(tuple(r) for r in scoring.top_users_per_item(users, ids, mat, k=2, **kw)[0].collect())

    assert lists(block_bytes=1) == lists() and len(lists()) == 12
    assert tops(block_bytes=1) == tops() and len(tops()) == 6


def test_top_users_per_item_across_partitions(spark):
    users = spark.createDataFrame([(f"u{i}", [float(i), float(5 - i)]) for i in range(6)],
                                  "user_key string, factors array<float>").repartition(3)
    top, reach = scoring.top_users_per_item(users, ["x", "y"], np.array([[1.0, 0.0], [-1.0, 0.0]]), k=2)
    got = sorted((r["item_id"], r["rank"], r["user_key"], r["score"]) for r in top.collect())
    assert got == [("x", 1, "u5", 5.0), ("x", 2, "u4", 4.0), ("y", 1, "u0", 0.0), ("y", 2, "u1", -1.0)]
    assert sorted((r["item_id"], r["reach"]) for r in reach.collect()) == [("x", 5), ("y", 0)]


def test_live_items_exclude_delisted_out_of_stock_and_unlaunched_candidates():
    items = pd.DataFrame({
        "item_id": ["act", "del", "oos", "flag", "new", "cand"],
        "catalog_status": ["active", "delisted", "out_of_stock", "active", "active", None],
        "launch_date": [D(2025, 1, 1), D(2025, 1, 1), None, D(2026, 9, 1), D(2026, 9, 20), None]})
    live, is_new = job.live_items(items, excluded=("delisted", "out_of_stock"), stocked_out={"flag"},
                                  run_date=RUN, new_item_days=28)
    assert list(live["item_id"]) == ["act", "new"]
    assert is_new.tolist() == [False, True]


def test_stocked_out_items_are_the_flags_of_the_last_day(spark, conf):
    rows = [("a", D(2026, 9, 29), True), ("a", D(2026, 9, 30), False), ("b", D(2026, 9, 30), True),
            ("c", D(2026, 9, 28), True), ("d", D(2026, 10, 1), True)]        # d: run_date itself, not seen
    flags = spark.createDataFrame(rows, "item_id string, date date, is_stockout_suspected boolean")
    # the table's other columns null: the job reads only these three
    io.overwrite(flags.select([F.col(f.name) if f.name in flags.columns else F.lit(None).cast(f.dataType).alias(f.name)
                               for f in S.ITEM_DAILY.fields]), conf, "silver.item_daily")
    assert job.stocked_out_items(spark, conf, RUN) == {"b"}


def test_id_table_numbers_sorted_distinct_values(spark):
    df = spark.createDataFrame([("b",), ("a",), ("b",), (None,), ("c",)], "user_key string")
    got = sorted(tuple(r) for r in data.to_id_table(df, "user_key", "user_idx").collect())
    assert got == [("a", 0), ("b", 1), ("c", 2)]


def test_item_audience_and_launch_audience_rows(spark):
    top = spark.createDataFrame([("x", "u1", 2.0, 1), ("x", "u2", 1.0, 2), ("x", "u3", -0.5, 3),
                                 ("y", "u3", 0.5, 1)], "item_id string, user_key string, score double, rank int")
    reach = spark.createDataFrame([("x", 2), ("y", 1)], "item_id string, reach long")
    profile = spark.createDataFrame([("u1", 1), ("u2", 1), ("u3", 0)], "user_key string, segment int")
    flags = spark.createDataFrame([("x", True), ("y", False), ("z", False)], "item_id string, is_candidate boolean")
    got = {r["item_id"]: r for r in audience.to_item_audience(top, reach, profile, flags, as_of=RUN).collect()}
    assert (got["x"]["audience_score_sum"], got["x"]["audience_score_mean"], got["x"]["audience_reach"],
            got["x"]["top_segment"]) == (2.5, pytest.approx(2.5 / 3), 2, 1)
    assert got["x"]["top_segment_share"] == pytest.approx(2 / 3)
    assert (got["y"]["top_segment"], got["y"]["top_segment_share"], got["y"]["is_candidate"]) == (0, 1.0, False)
    assert (got["z"]["audience_score_sum"], got["z"]["audience_reach"], got["z"]["top_segment"]) == (0.0, 0, None)
    aud = audience.to_launch_audience(top.where("item_id = 'x'"), profile, plan_date=RUN)
    assert sorted(tuple(r) for r in aud.collect()) == [
        ("x", RUN, "u1", 2.0, 1, 1), ("x", RUN, "u2", 1.0, 2, 1), ("x", RUN, "u3", -0.5, 3, 0)]


def test_audience_segment_mix_shares(spark):
    prof = spark.createDataFrame([("u1", 0), ("u2", 0), ("u3", 1), ("u4", None)], "user_key string, segment int")
    aud = spark.createDataFrame([
        ("C1", "u1", 0.5), ("C1", "u2", 0.3), ("C1", "u3", 0.2),
        ("C2", "u3", 1.0), ("C2", "u4", 1.0), ("C2", "u9", None),   # u9 has no profile
    ], "candidate_id string, user_key string, score double")
    out = audience.audience_segment_mix(aud, prof)
    expected = spark.createDataFrame([
        ("C1", 0, 2, 2 / 3, 0.8), ("C1", 1, 1, 1 / 3, 0.2),
        ("C2", 1, 1, 1 / 3, 0.5), ("C2", None, 2, 2 / 3, 0.5),
    ], S.SEGMENT_MIX)
    assert_approx_df_equality(out, expected, 1e-12, ignore_row_order=True, ignore_nullable=True)


# ------------------------------------------------------------------ the job
# The fixture runs simulate -> build_features first (minutes on two loaded cores): slow.
def JOB_TEST(fn):
    return pytest.mark.slow(pytest.mark.timeout(2400)(fn))

@pytest.fixture(scope="module")
def built(spark, tmp_path_factory):
    """The test simulator through build_features, then train_als once (a one-point grid)."""
    from debut.cli import run_job
    from tests.conftest import make_conf

    conf = make_conf(tmp_path_factory.mktemp("recommend-job")).replace(**{
        "recommend.grid_ranks": [8], "recommend.grid_reg_params": [0.1], "recommend.grid_alphas": [10.0],
        "recommend.max_iter": 5, "features.audience_top_k": 20})
    for j in ("simulate", "ingest", "aggregate", "build_features"):
        run_job(j, conf, RUN, spark=spark)
    result = job.run(spark, conf, RUN)
    return conf, result


def _dupes(df, keys):
    return df.groupBy(*keys).count().where("count > 1").count()


@JOB_TEST
def test_job_writes_unique_factor_tables(spark, built):
    conf, result = built
    users = io.read(spark, conf, "gold.als_user_factors")
    items = io.read(spark, conf, "gold.als_item_factors")
    feats = io.read(spark, conf, "gold.item_features")
    assert _dupes(users, ["user_key"]) == 0 and _dupes(items, ["item_id"]) == 0
    assert users.where(F.size("factors") != 8).count() == 0 and items.where(F.size("factors") != 8).count() == 0
    # every candidate has factors, all of them from the cold map
    cands = feats.where("is_candidate").select("item_id")
    cold = cands.join(items, on="item_id", how="left").select(F.col("is_cold")).distinct().collect()
    assert [r[0] for r in cold] == [True]
    assert users.count() == io.read(spark, conf, "silver.user_item").where("weight > 0").select("user_key") \
        .distinct().count()


@JOB_TEST
def test_job_gives_every_candidate_a_full_audience(spark, built):
    conf, result = built
    aud = io.read(spark, conf, "gold.launch_audience")
    n_users = io.read(spark, conf, "gold.als_user_factors").count()
    k = min(conf.features.audience_top_k, n_users)
    per = aud.groupBy("candidate_id").agg(F.count(F.lit(1)).alias("n"), F.min("rank").alias("lo"),
                                          F.max("rank").alias("hi")).collect()
    cands = io.read(spark, conf, "gold.item_features").where(F.col("is_candidate") & (F.col("plan_date") == RUN))
    assert {r["candidate_id"] for r in per} == {r[0] for r in cands.select("item_id").collect()}
    assert {(r["n"], r["lo"], r["hi"]) for r in per} == {(k, 1, k)}
    assert _dupes(aud, ["candidate_id", "user_key"]) == 0
    mix = io.read(spark, conf, "gold.audience_segment_mix")
    sums = mix.groupBy("candidate_id").agg(F.sum("share").alias("s")).collect()
    assert len(sums) == len(per) and all(abs(r["s"] - 1.0) < 1e-9 for r in sums)
    ia = io.read(spark, conf, "gold.item_audience")
    assert ia.count() == io.read(spark, conf, "gold.item_features").count() and _dupes(ia, ["item_id"]) == 0


@JOB_TEST
def test_job_lists_respect_size_exploration_and_exclusions(spark, built):
    conf, result = built
    rc = conf.recommend
    recs = io.read(spark, conf, "gold.recommendations")
    assert _dupes(recs, ["user_key", "rank"]) == 0 and _dupes(recs, ["user_key", "item_id"]) == 0
    assert recs.agg(F.max("rank")).first()[0] == rc.list_size
    from debut.core.catalog import to_latest_snapshot
    cat = to_latest_snapshot(io.read(spark, conf, "bronze.catalog"), run_date=RUN)
    bad = recs.join(cat.where(F.col("status").isin(*rc.excluded_statuses)).select("item_id"), on="item_id",
                    how="inner").count()
    not_listed = recs.join(cat.select("item_id"), on="item_id", how="left_anti").count()
    assert (bad, not_listed) == (0, 0)
    # when new items exist every list carries at least the reserved number of them
    n_explore = int(round(rc.list_size * rc.exploration_share))
    new_per_user = recs.groupBy("user_key").agg(F.sum(F.col("is_new").cast("int")).alias("n"))
    n_new_live = recs.where("is_new").select("item_id").distinct().count()
    if n_new_live:
        assert new_per_user.agg(F.min("n")).first()[0] >= min(n_explore, n_new_live)


@JOB_TEST
def test_job_records_metrics_for_every_slice(spark, built):
    conf, result = built
    ev = io.read(spark, conf, "gold.evaluation").where("component = 'recommend'")
    got = {(r["metric"], r["slice"]) for r in ev.select("metric", "slice").collect()}
    for s in ("warm", "warm.popularity", "warm.random"):
        for k in conf.recommend.eval_k:
            assert {(f"ndcg@{k}", s), (f"recall@{k}", s), (f"map@{k}", s), (f"precision@{k}", s),
                    (f"coverage@{k}", s)} <= got
    assert result["best"]["rank"] == 8


def test_top_users_per_item_in_item_slices_matches_a_full_sort(spark):
    rng = np.random.default_rng(3)
    uf, mat = rng.normal(size=(40, 3)), rng.normal(size=(7, 3))
    users = spark.createDataFrame([(f"u{i:02d}", [float(x) for x in uf[i]]) for i in range(40)],
                                  "user_key string, factors array<float>").repartition(4)
    cached = []
    # 200 bytes: 2k-customer blocks scored against one or two items at a time
    top, reach = scoring.top_users_per_item(users, list("abcdefg"), mat, k=3, block_bytes=200, cached=cached)
    scores = np.asarray(uf, np.float32).astype(np.float64) @ mat.T
    want = sorted((item, r + 1, f"u{u:02d}") for j, item in enumerate("abcdefg")
                  for r, u in enumerate(np.argsort(-scores[:, j])[:3]))
    assert sorted((t["item_id"], t["rank"], t["user_key"]) for t in top.collect()) == want
    assert sorted((t["item_id"], t["reach"]) for t in reach.collect()) == \
        [(item, int((scores[:, j] > 0).sum())) for j, item in enumerate("abcdefg")]
    assert len(cached) == 1 and cached[0].is_cached
    cached[0].unpersist()


def test_sample_customers_keeps_whole_customers_reproducibly(spark):
    pairs = spark.createDataFrame([(f"u{u:03d}", f"i{i}") for u in range(200) for i in range(2)],
                                  "user_key string, item_id string")
    assert data.sample_customers(pairs, 0, seed=7).count() == 400
    assert data.sample_customers(pairs, 200, seed=7).count() == 400
    got = data.sample_customers(pairs, 50, seed=7).groupBy("user_key").count().collect()
    assert all(r["count"] == 2 for r in got)                # a sampled customer keeps every pair
    assert 25 <= len(got) <= 75
    again = data.sample_customers(pairs, 50, seed=7).select("user_key").distinct().collect()
    assert sorted(r[0] for r in again) == sorted(r["user_key"] for r in got)
    other = data.sample_customers(pairs, 50, seed=8).select("user_key").distinct().collect()
    assert sorted(r[0] for r in other) != sorted(r["user_key"] for r in got)


@pytest.mark.parametrize("cap", [None, 7])
def test_running_top_over_blocks_equals_a_full_sort(cap):
    rng = np.random.default_rng(5)
    uf, mat = rng.normal(size=(300, 4)), rng.normal(size=(11, 4))
    best = scoring.RunningTop(mat, 5, block_bytes=8 * 40, buffer_entries=cap)
    for start in range(0, 300, 13):                  # blocks of 13 customers, 1-3 items per slice
        best.add(uf[start:start + 13], [f"u{i:03d}" for i in range(start, min(300, start + 13))])
    got = {}
    for cols, users, scores in best.slices(17):
        for c, u, s in zip(np.tile(cols, best.filled), users, scores):
            got.setdefault(int(c), []).append((round(-s, 9), u))
    scores = uf @ mat.T
    for j in range(11):
        want = sorted((round(-scores[i, j], 9), f"u{i:03d}") for i in np.argsort(-scores[:, j])[:5])
        assert sorted(got[j]) == want
    assert best.positive.tolist() == (scores > 0).sum(axis=0).tolist()
