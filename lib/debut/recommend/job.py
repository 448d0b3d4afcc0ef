"""train_als: ALS on silver.user_item, a content -> factor map for cold items, audiences, lists, metrics.

1. Validation split (debut.recommend.data): weights before run_date -
   validation_days train, the last validation_days are held out; cold
   evaluation items lose all their training interactions.
2. Grid over rank x regParam x alpha, each point a nested MLflow run with its
   warm metrics; the best by warm NDCG@<first eval_k> wins. For that point:
   cold metrics through the content map, popularity and random baselines.
3. Refit with the best parameters on all of silver.user_item; the model and
   the served cold map are logged to MLflow.
4. Tables (each one commit, snapshots as of run_date overwritten, the plan's
   audience replaced by plan_date):
   gold.als_user_factors, gold.als_item_factors, gold.launch_audience,
   gold.audience_segment_mix, gold.item_audience, gold.recommendations.

gold.item_audience scores every item from its content-mapped factors. With
recommend.map_exclude_launches the served map is fitted on warm items that
are not past launches (gold.launch_history), so a past launch is scored the
way a candidate is, by a map that never saw it. A weaker leak remains: the
user factors were fitted on all interactions, past launches' included.
"""
from __future__ import annotations

import datetime as dt
import itertools
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

import numpy as np
import pandas as pd
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from debut import io
from debut.config import Config
from debut.core.catalog import to_latest_snapshot
from debut.core.dates import lit_date
from debut.core.user_item import to_user_item_as_of
from debut.core import status
from debut.recommend import als, coldstart, data, metrics, scoring
from debut.recommend.audience import audience_segment_mix, to_item_audience, to_launch_audience

JOB = "train_als"
KEEP = StorageLevel.MEMORY_AND_DISK


def _log(msg: str) -> None:
    print(f"[{JOB}] {msg}", flush=True)


# ------------------------------------------------------------------ driver-side item data (catalog-bounded)
def load_items(spark: SparkSession, conf: Config, run_date: dt.date) -> pd.DataFrame:
    """gold.item_features content columns plus the latest catalog status and launch date, sorted by item_id."""
    feats = io.read(spark, conf, "gold.item_features").select(
        *coldstart.CONTENT_COLUMNS, "is_candidate", "plan_date", "category")
    cat = to_latest_snapshot(io.read(spark, conf, "bronze.catalog"), run_date=run_date).select(
        "item_id", F.col("status").alias("catalog_status"), "launch_date")
    pdf = feats.join(cat, on="item_id", how="left").toPandas()
    return pdf.sort_values("item_id").reset_index(drop=True)


def past_launches(spark: SparkSession, conf: Config) -> set:
    if not io.exists(spark, conf, "gold.launch_history"):
        return set()
    return {r[0] for r in io.read(spark, conf, "gold.launch_history").select("item_id").distinct().collect()}


def stocked_out_items(spark: SparkSession, conf: Config, run_date: dt.date) -> set:
    """Items flagged is_stockout_suspected on the last day silver.item_daily holds before run_date."""
    if not io.exists(spark, conf, "silver.item_daily"):
        return set()
    daily = io.read(spark, conf, "silver.item_daily").where(F.col("date") < lit_date(run_date))
    last = daily.agg(F.max("date")).first()[0]
    if last is None:
        return set()
    return {r[0] for r in daily.where((F.col("date") == F.lit(last)) & F.col("is_stockout_suspected"))
            .select("item_id").collect()}


def live_items(items: pd.DataFrame, *, excluded, stocked_out: set, run_date: dt.date,
               new_item_days: int) -> Tuple[pd.DataFrame, np.ndarray]:
    """(items that may be recommended, is_new flags).

    Recommendable: in the latest catalog snapshot (``catalog_status`` not null,
    so candidates only once launched), status not in ``excluded`` and not
    stocked out. New: launched within ``new_item_days`` up to run_date.
    """
    status = items["catalog_status"]
    live = items[status.notna() & ~status.isin(list(excluded)) & ~items["item_id"].isin(stocked_out)]
    new_from = run_date - dt.timedelta(days=new_item_days)
    is_new = np.array([d is not None and not pd.isna(d) and new_from <= d <= run_date
                       for d in live["launch_date"]], bool)
    return live.reset_index(drop=True), is_new


def _collect_factors(df: DataFrame) -> Tuple[List[str], np.ndarray]:
    """(item ids sorted, factor matrix) of an item-factor frame (bounded by the catalog)."""
    pdf = df.toPandas().sort_values("item_id")
    mat = np.stack([np.asarray(v, float) for v in pdf["factors"]]) if len(pdf) else np.zeros((0, 0))
    return list(pdf["item_id"]), mat


# ------------------------------------------------------------------ the map
def fit_served_map(conf: Config, items: pd.DataFrame, warm_ids: List[str], warm_mat: np.ndarray,
                   exclude: set, n_categories: int):
    """The cold map fitted on warm items with content, minus ``exclude``; returns (map, items fitted on)."""
    rc = conf.recommend
    pos = {i: k for k, i in enumerate(warm_ids)}
    rows = items[items["item_id"].isin(pos) & ~items["item_id"].isin(exclude) & ~items["is_candidate"]]
    if len(rows) < 2:  # too few non-launch items: fit on every warm item rather than fail
        rows = items[items["item_id"].isin(pos) & ~items["is_candidate"]]
    Y = warm_mat[[pos[i] for i in rows["item_id"]]]
    alphas = rc.ridge_alphas or (rc.ridge_alpha,)
    fitted = coldstart.fit_map(rc.cold_map, rows, Y, n_categories=n_categories,
                               price_bands=conf.features.price_bands, cross_category=rc.cross_category,
                               alphas=alphas, hidden=rc.mlp_hidden, max_iter=rc.mlp_max_iter, seed=rc.seed)
    return fitted, rows


def map_items(conf: Config, fitted, rows: pd.DataFrame, n_categories: int) -> np.ndarray:
    return coldstart.predict_items(fitted, rows, n_categories=n_categories, price_bands=conf.features.price_bands,
                                   cross_category=conf.recommend.cross_category)


# ------------------------------------------------------------------ evaluation
@dataclass
class Split:
    """The time split of the evaluation: training ratings before ``cutoff``, relevant pairs after it."""
    cutoff: dt.date
    train_ui: DataFrame            # persisted: (user_key, item_id, weight) before the cut-off, cold items removed
    ratings: DataFrame             # persisted
    relevant: DataFrame            # persisted: (user_key, item_id) that happened in [cutoff, run_date)
    n_ratings: int
    popularity: Dict[str, int]     # distinct training customers per item
    cold_ids: List[str]            # evaluation items that lost all their training interactions


@dataclass
class GridPoint:
    """The best grid point and what it fitted."""
    point: Dict[str, object]
    model: object
    warm_ids: List[str]
    warm_mat: np.ndarray
    users: DataFrame               # persisted: evaluated customers (user_key, relevant, factors or null)


def validation_split(spark: SparkSession, conf: Config, run_date: dt.date, events: DataFrame,
                     user_ids: DataFrame, item_ids: DataFrame) -> Split:
    """Interactions before run_date - validation_days train; the last validation_days are held out."""
    rc = conf.recommend
    cutoff = run_date - dt.timedelta(days=rc.validation_days)
    catalog_now = to_latest_snapshot(io.read(spark, conf, "bronze.catalog"), run_date=run_date)
    cold_ids = sorted(r[0] for r in data.to_cold_items(catalog_now, cutoff=cutoff, share=rc.cold_holdout_share,
                                                       seed=rc.seed).collect())   # catalog-bounded
    cold = spark.createDataFrame([(i,) for i in cold_ids], "item_id string")
    # persisted: the ratings, the popularity and the most active customers all read it
    train_ui = (to_user_item_as_of(events, as_of=cutoff, event_weights=conf.aggregate.event_weights,
                                   half_life_days=conf.aggregate.decay_half_life_days)
                .join(F.broadcast(cold), on="item_id", how="left_anti")).persist(KEEP)
    ratings = data.to_ratings(train_ui, user_ids, item_ids, transform=rc.rating_transform).persist(KEEP)
    relevant = data.relevant_pairs(events, start=cutoff, end=run_date,
                                   event_weights=conf.aggregate.event_weights)
    relevant = data.sample_customers(relevant, rc.eval_max_customers, seed=rc.seed).persist(KEEP)
    n_ratings = ratings.count()
    if n_ratings == 0:
        for df in (train_ui, ratings, relevant):
            df.unpersist()
        raise ValueError(f"no interactions before the validation cut-off {cutoff} "
                         f"(recommend.validation_days={rc.validation_days}); lower it or ingest more history")
    # popularity: distinct training customers per item (bounded by the catalog)
    pop = (train_ui.where(F.col("weight") > 0).groupBy("item_id")
           .agg(F.countDistinct("user_key").alias("n")).toPandas())
    return Split(cutoff=cutoff, train_ui=train_ui, ratings=ratings, relevant=relevant, n_ratings=n_ratings,
                 popularity=dict(zip(pop["item_id"], pop["n"])), cold_ids=cold_ids)


def to_eval_users(relevant: DataFrame, user_ids: DataFrame) -> DataFrame:
    """(user_key, relevant array<string>, user_idx or null): one row per customer with held-out pairs,
    hash-partitioned by user_idx (as a join on it shuffles), so that once persisted each grid
    point's join with the model's factors shuffles the factors only."""
    parts = int(relevant.sparkSession.conf.get("spark.sql.shuffle.partitions"))
    return (relevant.groupBy("user_key").agg(F.collect_list("item_id").alias("relevant"))
            .join(user_ids, on="user_key", how="left").repartition(parts, "user_idx"))


def with_factors(eval_users: DataFrame, model) -> DataFrame:
    """``eval_users`` with the model's factors (null for a customer it has none for)."""
    fac = model.userFactors.select(F.col("id").alias("user_idx"), F.col("features").alias("factors"))
    return eval_users.join(fac, on="user_idx", how="left").select("user_key", "relevant", "factors")


def grid_search(conf: Config, split: Split, eval_users: DataFrame, item_ids: DataFrame,
                ks: List[int]) -> Tuple[GridPoint, List[Dict[str, object]], Dict[str, Dict[str, float]]]:
    """Every rank x regParam x alpha point fitted on the split, each a nested MLflow run; the best
    by warm NDCG@<first eval_k> (its customers' factors stay persisted, the others' are released).

    Each point is scored in one pass over the evaluated customers (metrics.ranking_metrics_in_one_pass).
    Every point is fitted on the same ratings, so every point has the same warm items and the same
    customers with factors: the popularity and random baselines, which depend on nothing else, are
    scored once, in the first point's pass. Returns (best, grid rows, warm metrics of every slice).
    """
    rc = conf.recommend
    grid = list(itertools.product(rc.grid_ranks or (rc.rank,), rc.grid_reg_params or (rc.reg_param,),
                                  rc.grid_alphas or (rc.alpha,)))
    select_metric = f"ndcg@{ks[0]}"
    max_k = max(ks)

    def fit_point(pos: int, rank: int, reg: float, alpha: float):
        t0 = time.time()
        model = als.fit_als(split.ratings, rank=rank, reg_param=reg, alpha=alpha, max_iter=rc.max_iter,
                            seed=rc.seed, checkpoint_interval=rc.checkpoint_interval)
        warm_ids, warm_mat = _collect_factors(als.item_factors(model, item_ids))
        users = with_factors(eval_users, model).persist(KEEP)
        slices = [("warm", "factors", warm_mat)]
        if pos == 0:
            warm_pop = sorted(warm_ids, key=lambda i: (-split.popularity.get(i, 0), i))
            slices += [("warm.popularity", "fixed", warm_pop[:max_k]), ("warm.random", "random", rc.seed)]
        scored = metrics.ranking_metrics_in_one_pass(users, warm_ids, slices, ks=ks)
        return model, warm_ids, warm_mat, users, scored, time.time() - t0

    results: List[Dict[str, object]] = []
    warm: Dict[str, Dict[str, float]] = {}
    best = None
    # grid points fitted concurrently (Spark jobs from several threads, as CrossValidator's
    # parallelism does): on small data each ALS job is mostly scheduling latency. The points are
    # taken in grid order, so the winner (the first of the best) and the logs do not depend on
    # which finished first; at most grid_parallelism + 1 points' customers are persisted at once.
    with ThreadPoolExecutor(max_workers=max(1, min(rc.grid_parallelism, len(grid)))) as pool:
        fitted = pool.map(lambda args: fit_point(*args), [(k, *g) for k, g in enumerate(grid)])
        for (rank, reg, alpha), (model, warm_ids, warm_mat, users, scored, seconds) in zip(grid, fitted):
            row = scored.pop("warm")
            warm.update(scored)
            point = {"rank": rank, "reg_param": reg, "alpha": alpha, "seconds": seconds,
                     **{f"{m}@{k}": float(row[f"{m}@{k}"]) for m in metrics.METRICS for k in ks},
                     "users": int(row["users"])}
            results.append(point)
            _log_grid_point(point, rc.max_iter)
            _log(f"grid rank={rank} reg={reg} alpha={alpha}: {select_metric} {point[select_metric]:.4f} "
                 f"recall@{max_k} {point[f'recall@{max_k}']:.4f} ({point['seconds']:.0f}s)")
            if best is None or point[select_metric] > best.point[select_metric]:
                if best is not None:
                    best.users.unpersist()
                best = GridPoint(point, model, warm_ids, warm_mat, users)
                warm["warm"] = row
            else:
                users.unpersist()
    return best, results, warm


def _log_grid_point(point: Dict[str, object], max_iter: int) -> None:
    import mlflow

    with mlflow.start_run(run_name=f"als-r{point['rank']}-l{point['reg_param']}-a{point['alpha']}", nested=True):
        mlflow.log_params({"rank": point["rank"], "reg_param": point["reg_param"], "alpha": point["alpha"],
                           "max_iter": max_iter})
        mlflow.log_metrics({k.replace("@", "_at_"): v for k, v in point.items()
                            if k not in ("rank", "reg_param", "alpha")})


def cold_metrics(spark: SparkSession, conf: Config, split: Split, best: GridPoint, items: pd.DataFrame,
                 user_ids: DataFrame, n_categories: int, ks: List[int]) -> Dict[Tuple[str, str, int], float]:
    """Held-out cold items scored through a map fitted on the best model's warm items, against the
    category-popularity and random baselines; audience recall; the map's in-sample r2."""
    rc = conf.recommend
    warm_set = set(best.warm_ids)
    warm_pos = {i: k for k, i in enumerate(best.warm_ids)}
    out: Dict[Tuple[str, str, int], float] = {}
    cold_rows = items[items["item_id"].isin(split.cold_ids) & ~items["item_id"].isin(warm_set)
                      & ~items["is_candidate"]]
    if len(cold_rows):
        eval_map, fit_rows = fit_served_map(conf, items, best.warm_ids, best.warm_mat, exclude=set(),
                                            n_categories=n_categories)
        cold_mat = map_items(conf, eval_map, cold_rows, n_categories)
        c_ids = list(cold_rows["item_id"])
        rel_cold = _restrict(split.relevant, c_ids)
        # the non-personal reference for a never-sold item: its category's popularity
        cat_of = dict(zip(items["item_id"], items["category"]))
        cat_pop: Dict[str, int] = {}
        for i, n in split.popularity.items():
            cat_pop[cat_of.get(i)] = cat_pop.get(cat_of.get(i), 0) + int(n)
        cold_pop = sorted(c_ids, key=lambda i: (-cat_pop.get(cat_of.get(i), 0), i))
        scored = metrics.ranking_metrics_in_one_pass(
            best.users, c_ids, [("cold", "factors", cold_mat), ("cold.popularity", "fixed", cold_pop[:max(ks)]),
                                ("cold.random", "random", rc.seed)], ks=ks)
        for label, row in scored.items():
            out.update(metrics.to_metric_dict(row, ks=ks, slice_=label))
        out.update(audience_recall(spark, conf, split, best, user_ids, c_ids, cold_mat, rel_cold))
        out[("cold_map_r2_in_sample", "cold", len(fit_rows))] = coldstart.r2_score(
            best.warm_mat[[warm_pos[i] for i in fit_rows["item_id"]]],
            map_items(conf, eval_map, fit_rows, n_categories))
    out[("cold_items", "cold", None)] = float(len(cold_rows))
    return out


def audience_recall(spark: SparkSession, conf: Config, split: Split, best: GridPoint, user_ids: DataFrame,
                    c_ids: List[str], cold_mat: np.ndarray,
                    rel_cold: DataFrame) -> Dict[Tuple[str, str, int], float]:
    """Does a cold item's top-K audience hold who came for it? Against the K most active customers."""
    k_aud = conf.features.audience_top_k
    all_users = als.user_factors(best.model, user_ids)
    top, _ = scoring.top_users_per_item(all_users, c_ids, cold_mat, k=k_aud)
    active = (split.train_ui.groupBy("user_key").agg(F.sum("weight").alias("w"))
              .orderBy(F.col("w").desc(), F.col("user_key")).limit(k_aud).select("user_key"))
    items_df = spark.createDataFrame([(i,) for i in c_ids], "item_id string")
    audiences = (top.select(F.lit("cold").alias("slice"), "item_id", "user_key")
                 .unionByName(items_df.crossJoin(F.broadcast(active))
                              .select(F.lit("cold.popularity").alias("slice"), "item_id", "user_key")))
    got = metrics.audience_recall_by_slice(audiences, rel_cold, ["cold", "cold.popularity"])
    return {(f"audience_recall@{k_aud}", s, n): r for s, (r, n) in got.items()}


def evaluate_split(spark: SparkSession, conf: Config, run_date: dt.date, events: DataFrame,
                   items: pd.DataFrame, user_ids: DataFrame, item_ids: DataFrame,
                   n_categories: int) -> Dict[str, object]:
    """Grid search on the time split; metrics of the best point against the baselines."""
    ks = sorted(set(conf.recommend.eval_k))
    split = validation_split(spark, conf, run_date, events, user_ids, item_ids)
    eval_users = to_eval_users(split.relevant, user_ids).persist(KEEP)
    cached = [split.train_ui, split.ratings, split.relevant, eval_users]
    try:
        best, results, warm = grid_search(conf, split, eval_users, item_ids, ks)
        cached.append(best.users)
        # warm: ALS (the best point's own grid pass) against popularity and random
        out: Dict[Tuple[str, str, int], float] = {}
        for label in ("warm", "warm.popularity", "warm.random"):
            out.update(metrics.to_metric_dict(warm[label], ks=ks, slice_=label))
        out.update(cold_metrics(spark, conf, split, best, items, user_ids, n_categories, ks))
        return {"best": best.point, "grid": results, "metrics": out, "cutoff": split.cutoff,
                "ratings": split.n_ratings}
    finally:
        for df in cached:
            df.unpersist()


def _restrict(df: DataFrame, item_ids: List[str]) -> DataFrame:
    """Rows of ``df`` whose item_id is one of ``item_ids`` (a broadcast join, not a long IN list)."""
    ids = df.sparkSession.createDataFrame([(i,) for i in item_ids], "item_id string")
    return df.join(F.broadcast(ids), on="item_id", how="inner")


def print_metrics(out: Dict[tuple, float], ks) -> None:
    slices = ["warm", "warm.popularity", "warm.random", "cold", "cold.popularity", "cold.random"]
    names = [f"{m}@{k}" for k in sorted(set(ks)) for m in ("precision", "recall", "ndcg", "map", "coverage")]
    table = {(m, s): v for (m, s, *_), v in out.items()}
    _log(f"{'metric':<14}" + "".join(f"{s:>17}" for s in slices))
    for n in names:
        _log(f"{n:<14}" + "".join(f"{table[(n, s)]:>17.4f}" if (n, s) in table else f"{'-':>17}"
                                  for s in slices))
    for (m, s), v in sorted(table.items()):
        if m.startswith("audience_recall") or m.startswith("cold_map"):
            _log(f"{m} [{s}]: {v:.4f}")


# ------------------------------------------------------------------ the served model and its outputs
@dataclass
class Served:
    """The refitted model, its factors and every item's content-mapped factors."""
    model: object
    ufac: DataFrame                # persisted: (user_key, factors) of every customer
    warm_ids: List[str]
    warm_mat: np.ndarray
    cold_map: object               # the content -> factor map served for cold items
    mapped: np.ndarray             # every row of ``items``, by content

    def factors_of(self, item_ids: Sequence[str], items: pd.DataFrame) -> np.ndarray:
        """Warm factors from ALS where the item has them, else content-mapped."""
        warm_pos = {i: k for k, i in enumerate(self.warm_ids)}
        item_pos = {i: k for k, i in enumerate(items["item_id"])}
        return np.stack([self.warm_mat[warm_pos[i]] if i in warm_pos else self.mapped[item_pos[i]]
                         for i in item_ids])


def refit(spark: SparkSession, conf: Config, items: pd.DataFrame, user_item: DataFrame, user_ids: DataFrame,
          item_ids: DataFrame, best: Dict[str, object], n_categories: int, cached: List[DataFrame]) -> Served:
    """ALS with the chosen parameters on all of silver.user_item, and the served cold map."""
    rc = conf.recommend
    ratings = data.to_ratings(user_item, user_ids, item_ids, transform=rc.rating_transform).persist(KEEP)
    cached.append(ratings)
    t0 = time.time()
    model = als.fit_als(ratings, rank=best["rank"], reg_param=best["reg_param"], alpha=best["alpha"],
                        max_iter=rc.max_iter, seed=rc.seed, checkpoint_interval=rc.checkpoint_interval)
    _log(f"refit on {ratings.count():,} interactions in {time.time() - t0:.0f}s")
    ufac = als.user_factors(model, user_ids).persist(KEEP)
    cached.append(ufac)
    warm_ids, warm_mat = _collect_factors(als.item_factors(model, item_ids))
    served, _ = fit_served_map(conf, items, warm_ids, warm_mat,
                               exclude=past_launches(spark, conf) if rc.map_exclude_launches else set(),
                               n_categories=n_categories)
    mapped = map_items(conf, served, items, n_categories)
    return Served(model, ufac, warm_ids, warm_mat, served, mapped)


def to_item_factors(spark: SparkSession, items: pd.DataFrame, served: Served, *, run_date: dt.date) -> DataFrame:
    """gold.als_item_factors: warm from ALS, the rest (candidates, never-seen items) mapped."""
    warm = set(served.warm_ids)
    rows = [(i, [float(x) for x in served.warm_mat[k]], False) for k, i in enumerate(served.warm_ids)]
    rows += [(i, [float(x) for x in served.mapped[k]], True) for k, i in enumerate(items["item_id"]) if i not in warm]
    return (spark.createDataFrame(rows, "item_id string, factors array<float>, is_cold boolean")
            .withColumn("as_of_date", lit_date(run_date)))


def audiences(spark: SparkSession, conf: Config, items: pd.DataFrame, served: Served, profile: DataFrame, *,
              run_date: dt.date, cached: List[DataFrame]):
    """(gold.item_audience rows, gold.launch_audience rows or None, plan_date, plan's candidate ids).

    Audiences come from content-mapped factors, every item at once; the
    candidates of the latest plan up to run_date feed launch_audience.
    """
    top, reach = scoring.top_users_per_item(served.ufac, list(items["item_id"]), served.mapped,
                                            k=conf.features.audience_top_k, cached=cached)
    top = top.persist(KEEP)
    cached.append(top)
    flags = spark.createDataFrame(items[["item_id", "is_candidate"]].astype({"is_candidate": bool}))
    item_aud = to_item_audience(top, reach, profile, flags, as_of=run_date)
    cands = items[items["is_candidate"] & (items["plan_date"].notna())]
    plan_date = max(d for d in cands["plan_date"] if d <= run_date) if len(cands) else None
    plan_ids = list(cands[cands["plan_date"] == plan_date]["item_id"]) if plan_date else []
    audience = to_launch_audience(_restrict(top, plan_ids), profile, plan_date=plan_date) if plan_ids else None
    return item_aud, audience, plan_date, plan_ids


def recommendation_lists(spark: SparkSession, conf: Config, items: pd.DataFrame, served: Served, *,
                         run_date: dt.date, rank: int) -> Tuple[DataFrame, int]:
    """(gold.recommendations rows, live items): live, in-stock catalog items; new ones get reserved slots."""
    rc = conf.recommend
    stocked_out = stocked_out_items(spark, conf, run_date) if rc.exclude_stockout_suspected else set()
    live, is_new = live_items(items, excluded=rc.excluded_statuses, stocked_out=stocked_out,
                              run_date=run_date, new_item_days=rc.new_item_days)
    live_mat = served.factors_of(live["item_id"], items) if len(live) else np.zeros((0, rank))
    n_explore = int(round(rc.list_size * rc.exploration_share))
    recs = (scoring.top_items_per_user(served.ufac, list(live["item_id"]), live_mat, list_size=rc.list_size,
                                       is_new=is_new, n_explore=n_explore)
            .withColumn("as_of_date", lit_date(run_date)))
    _log(f"lists: {len(live):,} live items ({int(is_new.sum())} new, {n_explore} reserved slots), "
         f"{len(stocked_out)} stocked out excluded")
    return recs, len(live)


def _n_categories(items: pd.DataFrame) -> int:
    if not items["category_index"].notna().any():
        return 0
    return int(np.nanmax(pd.to_numeric(items["category_index"], errors="coerce").to_numpy()) + 1)


def _log_best(ev: Dict[str, object]) -> None:
    import mlflow

    best = ev["best"]
    mlflow.log_params({"best.rank": best["rank"], "best.reg_param": best["reg_param"],
                       "best.alpha": best["alpha"], "validation_cutoff": ev["cutoff"].isoformat()})


def run(spark: SparkSession, conf: Config, run_date: dt.date) -> Dict[str, object]:
    from debut import tracking

    no_customers = status.missing_customers(spark, conf)
    if no_customers:  # no ALS, factors, audiences or lists; forecast goes on without an audience
        status.record(spark, conf, JOB, run_date, [("als", status.SKIPPED, no_customers, 0)])
        return {"skipped": no_customers}
    rc = conf.recommend
    events = io.read(spark, conf, "bronze.events")
    user_item = io.read(spark, conf, "silver.user_item")
    profile = io.read(spark, conf, "gold.customer_profile")
    items = load_items(spark, conf, run_date)
    if items.empty:
        raise ValueError("gold.item_features has no rows: run build_features first")
    ckpt = os.path.join(conf.paths.checkpoint_dir, JOB)
    spark.sparkContext.setCheckpointDir(ckpt if "://" in ckpt else os.path.abspath(ckpt))
    n_categories = _n_categories(items)

    user_ids = data.to_id_table(user_item.where(F.col("weight") > 0), "user_key", "user_idx").persist(KEEP)
    item_ids = data.to_id_table(user_item.where(F.col("weight") > 0), "item_id", "item_idx").persist(KEEP)
    cached: List[DataFrame] = [user_ids, item_ids]
    out: Dict[str, object] = {}
    with tracking.job_run(conf, JOB, run_date.isoformat()):
        try:
            ev = evaluate_split(spark, conf, run_date, events, items, user_ids, item_ids, n_categories)
            best = ev["best"]
            out.update(best=best, grid=ev["grid"], metrics=ev["metrics"])
            _log_best(ev)
            print_metrics(ev["metrics"], rc.eval_k)

            served = refit(spark, conf, items, user_item, user_ids, item_ids, best, n_categories, cached)
            item_fac = to_item_factors(spark, items, served, run_date=run_date)
            item_aud, audience, plan_date, plan_ids = audiences(spark, conf, items, served, profile,
                                                                run_date=run_date, cached=cached)
            recs, n_live = recommendation_lists(spark, conf, items, served, run_date=run_date, rank=best["rank"])

            # writes: one commit per table
            io.overwrite(served.ufac.withColumn("as_of_date", lit_date(run_date)), conf, "gold.als_user_factors")
            io.overwrite(item_fac, conf, "gold.als_item_factors")
            io.overwrite(item_aud, conf, "gold.item_audience")
            if audience is not None:
                audience = audience.persist(KEEP)
                cached.append(audience)
                io.replace_where(audience, conf, "gold.launch_audience", f"plan_date = DATE'{plan_date.isoformat()}'")
                io.overwrite(audience_segment_mix(audience, profile), conf, "gold.audience_segment_mix")
            io.overwrite(recs, conf, "gold.recommendations")

            _log_model(conf, served.model, served.cold_map, best)
            tracking.record_metrics(spark, conf, run_date, "recommend", ev["metrics"])
            n_warm = len(served.warm_ids)
            n_mapped = int((~items["item_id"].isin(set(served.warm_ids))).sum())
            out.update(plan_date=plan_date, candidates=len(plan_ids), warm_items=n_warm,
                       cold_items=len(items) - n_warm, live_items=n_live)
            _log(f"wrote factors ({n_warm:,} warm items, {n_mapped:,} mapped), "
                 f"audiences of {len(plan_ids)} candidates (plan {plan_date}), lists for every customer")
        finally:
            for df in cached:
                df.unpersist()
    status.record(spark, conf, JOB, run_date, [("als", status.OK, None, None)])
    return out


def _log_model(conf: Config, model, served, best: dict) -> None:
    """The ALS model (Spark ML format) and the served cold map (pickle) as MLflow artifacts."""
    import pickle
    import tempfile

    import mlflow

    import mlflow.spark

    mlflow.spark.log_model(model, artifact_path="als_model", pip_requirements=[f"pyspark=={_pyspark_version()}"])
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "cold_map.pkl"), "wb") as fh:
            pickle.dump(served, fh)
        mlflow.log_artifact(os.path.join(tmp, "cold_map.pkl"))
    mlflow.log_params({"cold_map": conf.recommend.cold_map,
                       "cold_map.alpha": getattr(served, "alpha", float("nan"))})


def _pyspark_version() -> str:
    import pyspark

    return pyspark.__version__
