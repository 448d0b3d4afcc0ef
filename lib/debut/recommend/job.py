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
from typing import Dict, List, Tuple

import numpy as np
import pandas as pd
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from debut import io
from debut.config import Config
from debut.core import status
from debut.recommend import als, coldstart, data, metrics, scoring

JOB = "train_als"
KEEP = StorageLevel.MEMORY_AND_DISK


def _log(msg: str) -> None:
    print(f"[{JOB}] {msg}", flush=True)


def _lit_date(d: dt.date):
    return F.lit(d.isoformat()).cast("date")


# ------------------------------------------------------------------ driver-side item data (catalog-bounded)
def load_items(spark: SparkSession, conf: Config, run_date: dt.date) -> pd.DataFrame:
    """gold.item_features content columns plus the latest catalog status and launch date, sorted by item_id."""
    from debut.features.common import latest_catalog

    feats = io.read(spark, conf, "gold.item_features").select(
        *coldstart.CONTENT_COLUMNS, "is_candidate", "plan_date", "category")
    cat = latest_catalog(io.read(spark, conf, "bronze.catalog"), run_date=run_date).select(
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
    daily = io.read(spark, conf, "silver.item_daily").where(F.col("date") < _lit_date(run_date))
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
def evaluate_split(spark: SparkSession, conf: Config, run_date: dt.date, events: DataFrame,
                   items: pd.DataFrame, user_ids: DataFrame, item_ids: DataFrame,
                   n_categories: int) -> Dict[str, object]:
    """Grid search on the time split; metrics of the best point against the baselines."""
    import mlflow

    rc = conf.recommend
    ks = sorted(set(rc.eval_k))
    max_k = max(ks)
    cutoff = run_date - dt.timedelta(days=rc.validation_days)
    from debut.features.common import latest_catalog
    from debut.features.profile import to_user_item_as_of

    catalog_now = latest_catalog(io.read(spark, conf, "bronze.catalog"), run_date=run_date)
    cold = data.to_cold_items(catalog_now, cutoff=cutoff, share=rc.cold_holdout_share, seed=rc.seed)
    train_ui = (to_user_item_as_of(events, as_of=cutoff, event_weights=conf.aggregate.event_weights,
                                   half_life_days=conf.aggregate.decay_half_life_days)
                .join(cold, on="item_id", how="left_anti"))
    ratings = data.to_ratings(train_ui, user_ids, item_ids, transform=rc.rating_transform).persist(KEEP)
    relevant = data.relevant_pairs(events, start=cutoff, end=run_date,
                                   event_weights=conf.aggregate.event_weights)
    relevant = data.sample_customers(relevant, rc.eval_max_customers, seed=rc.seed).persist(KEEP)
    n_ratings = ratings.count()
    if n_ratings == 0:
        raise ValueError(f"no interactions before the validation cut-off {cutoff} "
                         f"(recommend.validation_days={rc.validation_days}); lower it or ingest more history")
    # popularity: distinct training customers per item (bounded by the catalog)
    pop = (train_ui.where(F.col("weight") > 0).groupBy("item_id")
           .agg(F.countDistinct("user_key").alias("n")).toPandas())
    popularity = dict(zip(pop["item_id"], pop["n"]))
    cold_ids = sorted(r[0] for r in cold.collect())
    cached = [ratings, relevant]
    grid = list(itertools.product(rc.grid_ranks or (rc.rank,), rc.grid_reg_params or (rc.reg_param,),
                                  rc.grid_alphas or (rc.alpha,)))
    select_metric = f"ndcg@{ks[0]}"
    results = []
    best = None
    try:
        for rank, reg, alpha in grid:
            t0 = time.time()
            model = als.fit_als(ratings, rank=rank, reg_param=reg, alpha=alpha, max_iter=rc.max_iter,
                                seed=rc.seed, checkpoint_interval=rc.checkpoint_interval)
            ufac = als.user_factors(model, user_ids)
            warm_ids, warm_mat = _collect_factors(als.item_factors(model, item_ids))
            warm_set = set(warm_ids)
            users = ufac.join(relevant.select("user_key").distinct(), on="user_key", how="inner").persist(KEEP)
            rel_warm = _restrict(relevant, warm_ids)
            recs = scoring.top_items_per_user(users, warm_ids, warm_mat, list_size=max_k)
            row = metrics.ranking_metrics(recs, rel_warm, ks=ks, n_items=len(warm_ids)).first()
            point = {"rank": rank, "reg_param": reg, "alpha": alpha, "seconds": time.time() - t0,
                     **{f"{m}@{k}": float(row[f"{m}@{k}"]) for m in metrics.METRICS for k in ks},
                     "users": int(row["users"])}
            results.append(point)
            with mlflow.start_run(run_name=f"als-r{rank}-l{reg}-a{alpha}", nested=True):
                mlflow.log_params({"rank": rank, "reg_param": reg, "alpha": alpha, "max_iter": rc.max_iter})
                mlflow.log_metrics({k.replace("@", "_at_"): v for k, v in point.items()
                                    if k not in ("rank", "reg_param", "alpha")})
            _log(f"grid rank={rank} reg={reg} alpha={alpha}: {select_metric} {point[select_metric]:.4f} "
                 f"recall@{max_k} {point[f'recall@{max_k}']:.4f} ({point['seconds']:.0f}s)")
            if best is None or point[select_metric] > best[0][select_metric]:
                if best is not None:
                    best[3].unpersist()
                best = (point, model, (warm_ids, warm_mat), users)
            else:
                users.unpersist()
        point, model, (warm_ids, warm_mat), users = best
        cached.append(users)
        warm_set = set(warm_ids)
        warm_pos = {i: k for k, i in enumerate(warm_ids)}
        out: Dict[Tuple[str, str, int], float] = {}
        rel_warm = _restrict(relevant, warm_ids)
        # warm: ALS against popularity and random
        warm_pop = sorted(warm_ids, key=lambda i: (-popularity.get(i, 0), i))
        out.update(_score_slices("warm", users, warm_ids, warm_mat, warm_pop, rel_warm, ks, rc.seed))
        # cold: held-out items scored through a map fitted on this model's warm items
        cold_rows = items[items["item_id"].isin(cold_ids) & ~items["item_id"].isin(warm_set)
                          & ~items["is_candidate"]]
        if len(cold_rows):
            eval_map, fit_rows = fit_served_map(conf, items, warm_ids, warm_mat, exclude=set(),
                                                n_categories=n_categories)
            cold_mat = map_items(conf, eval_map, cold_rows, n_categories)
            c_ids = list(cold_rows["item_id"])
            rel_cold = _restrict(relevant, c_ids)
            # the non-personal reference for a never-sold item: its category's popularity
            cat_of = dict(zip(items["item_id"], items["category"]))
            cat_pop: Dict[str, int] = {}
            for i, n in popularity.items():
                cat_pop[cat_of.get(i)] = cat_pop.get(cat_of.get(i), 0) + int(n)
            cold_pop = sorted(c_ids, key=lambda i: (-cat_pop.get(cat_of.get(i), 0), i))
            out.update(_score_slices("cold", users, c_ids, cold_mat, cold_pop, rel_cold, ks, rc.seed))
            # the audience direction: does a cold item's top-K audience hold who came for it?
            k_aud = conf.features.audience_top_k
            all_users = als.user_factors(model, user_ids)
            top, _ = scoring.top_users_per_item(all_users, c_ids, cold_mat, k=k_aud)
            rel_items = rel_cold.select("item_id", "user_key")
            r = metrics.audience_recall(top, rel_items).first()
            out[(f"audience_recall@{k_aud}", "cold", int(r["items"]))] = float(r["recall"])
            active = (train_ui.groupBy("user_key").agg(F.sum("weight").alias("w"))
                      .orderBy(F.col("w").desc(), F.col("user_key")).limit(k_aud).select("user_key"))
            items_df = spark.createDataFrame([(i,) for i in c_ids], "item_id string")
            r = metrics.audience_recall(items_df.crossJoin(F.broadcast(active)), rel_items).first()
            out[(f"audience_recall@{k_aud}", "cold.popularity", int(r["items"]))] = float(r["recall"])
            out[("cold_map_r2_in_sample", "cold", len(fit_rows))] = coldstart.r2_score(
                warm_mat[[warm_pos[i] for i in fit_rows["item_id"]]],
                map_items(conf, eval_map, fit_rows, n_categories))
        out[("cold_items", "cold", None)] = float(len(cold_rows))
        return {"best": point, "grid": results, "metrics": out, "cutoff": cutoff, "ratings": n_ratings}
    finally:
        for df in cached:
            df.unpersist()


def _score_slices(prefix: str, users: DataFrame, ids: List[str], mat: np.ndarray, popularity_order: List[str],
                  relevant: DataFrame, ks: List[int], seed: int) -> Dict[Tuple[str, str, int], float]:
    """Ranking metrics of the model's lists over ``ids`` and of the popularity and random
    baselines over the same items (slices prefix, prefix.popularity, prefix.random)."""
    max_k = max(ks)
    out: Dict[Tuple[str, str, int], float] = {}
    for label, recs in (
            (prefix, scoring.top_items_per_user(users, ids, mat, list_size=max_k)),
            (f"{prefix}.popularity", _fixed_list(users, popularity_order[:max_k])),
            (f"{prefix}.random", scoring.top_items_per_user(users, ids, np.zeros((len(ids), 1)),
                                                            list_size=max_k, random_seed=seed))):
        row = metrics.ranking_metrics(recs, relevant, ks=ks, n_items=len(ids)).first()
        out.update(metrics.to_metric_dict(row, ks=ks, slice_=label))
    return out


def _restrict(df: DataFrame, item_ids: List[str]) -> DataFrame:
    """Rows of ``df`` whose item_id is one of ``item_ids`` (a broadcast join, not a long IN list)."""
    ids = df.sparkSession.createDataFrame([(i,) for i in item_ids], "item_id string")
    return df.join(F.broadcast(ids), on="item_id", how="inner")


def _fixed_list(users_df: DataFrame, item_ids: List[str]) -> DataFrame:
    """The same ranked list for every customer (a non-personal baseline)."""
    spark = users_df.sparkSession
    lst = spark.createDataFrame([(i, r) for r, i in enumerate(item_ids, 1)], "item_id string, rank int")
    return users_df.select("user_key").crossJoin(F.broadcast(lst))


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


# ------------------------------------------------------------------ outputs
def to_launch_audience(top: DataFrame, profile: DataFrame, *, plan_date: dt.date) -> DataFrame:
    """gold.launch_audience rows from top_users_per_item output restricted to candidates."""
    return (top.join(profile.select("user_key", "segment"), on="user_key", how="left")
            .select(F.col("item_id").alias("candidate_id"), _lit_date(plan_date).alias("plan_date"),
                    "user_key", F.col("score").cast("double"), F.col("rank").cast("int"),
                    F.col("segment").cast("int")))


def to_item_audience(top: DataFrame, reach: DataFrame, profile: DataFrame, item_flags: DataFrame, *,
                     as_of: dt.date) -> DataFrame:
    """gold.item_audience: per item the top-K score sum and mean, reach, top segment and its share."""
    from pyspark.sql.window import Window

    seg = top.join(profile.select("user_key", "segment"), on="user_key", how="left")
    per_seg = seg.where(F.col("segment").isNotNull()).groupBy("item_id", "segment").agg(F.count(F.lit(1)).alias("n"))
    first = Window.partitionBy("item_id").orderBy(F.col("n").desc(), F.col("segment"))
    top_seg = (per_seg.withColumn("_r", F.row_number().over(first)).where(F.col("_r") == 1)
               .select("item_id", F.col("segment").alias("top_segment"), F.col("n").alias("_seg_n")))
    agg = top.groupBy("item_id").agg(F.sum("score").alias("audience_score_sum"),
                                     F.avg("score").alias("audience_score_mean"),
                                     F.count(F.lit(1)).alias("_n"))
    return (item_flags.join(agg, on="item_id", how="left").join(reach, on="item_id", how="left")
            .join(top_seg, on="item_id", how="left")
            .select("item_id", F.col("is_candidate").cast("boolean"),
                    F.coalesce(F.col("audience_score_sum"), F.lit(0.0)).alias("audience_score_sum"),
                    F.col("audience_score_mean").cast("double"),
                    F.coalesce(F.col("reach"), F.lit(0)).cast("long").alias("audience_reach"),
                    F.col("top_segment").cast("int"),
                    (F.col("_seg_n") / F.col("_n")).cast("double").alias("top_segment_share"),
                    _lit_date(as_of).alias("as_of_date")))


def run(spark: SparkSession, conf: Config, run_date: dt.date) -> Dict[str, object]:
    import mlflow

    from debut import tracking
    from debut.features.segments import audience_segment_mix

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
    n_categories = int(np.nanmax(pd.to_numeric(items["category_index"], errors="coerce").to_numpy()) + 1) \
        if items["category_index"].notna().any() else 0

    user_ids = data.to_id_table(user_item.where(F.col("weight") > 0), "user_key", "user_idx").persist(KEEP)
    item_ids = data.to_id_table(user_item.where(F.col("weight") > 0), "item_id", "item_idx").persist(KEEP)
    cached: List[DataFrame] = [user_ids, item_ids]
    out: Dict[str, object] = {}
    with tracking.job_run(conf, JOB, run_date.isoformat()):
        try:
            ev = evaluate_split(spark, conf, run_date, events, items, user_ids, item_ids, n_categories)
            best = ev["best"]
            out.update(best=best, grid=ev["grid"], metrics=ev["metrics"])
            mlflow.log_params({"best.rank": best["rank"], "best.reg_param": best["reg_param"],
                               "best.alpha": best["alpha"], "validation_cutoff": ev["cutoff"].isoformat()})
            print_metrics(ev["metrics"], rc.eval_k)

            # refit on everything with the chosen parameters
            ratings = data.to_ratings(user_item, user_ids, item_ids, transform=rc.rating_transform).persist(KEEP)
            cached.append(ratings)
            t0 = time.time()
            model = als.fit_als(ratings, rank=best["rank"], reg_param=best["reg_param"], alpha=best["alpha"],
                                max_iter=rc.max_iter, seed=rc.seed, checkpoint_interval=rc.checkpoint_interval)
            _log(f"refit on {ratings.count():,} interactions in {time.time() - t0:.0f}s")
            ufac = als.user_factors(model, user_ids).persist(KEEP)
            cached.append(ufac)
            warm_ids, warm_mat = _collect_factors(als.item_factors(model, item_ids))
            served, fit_rows = fit_served_map(conf, items, warm_ids, warm_mat,
                                              exclude=past_launches(spark, conf) if rc.map_exclude_launches
                                              else set(), n_categories=n_categories)
            mapped = map_items(conf, served, items, n_categories)          # every item, by content
            item_pos = {i: k for k, i in enumerate(items["item_id"])}

            # gold.als_item_factors: warm from ALS, the rest (candidates, never-seen items) mapped
            warm_pos = {i: k for k, i in enumerate(warm_ids)}
            rows = [(i, [float(x) for x in warm_mat[k]], False) for i, k in warm_pos.items()]
            rows += [(i, [float(x) for x in mapped[item_pos[i]]], True) for i in items["item_id"] if i not in warm_pos]
            item_fac = (spark.createDataFrame(rows, "item_id string, factors array<float>, is_cold boolean")
                        .withColumn("as_of_date", _lit_date(run_date)))

            # audiences from content-mapped factors, every item at once; candidates feed launch_audience
            k_aud = conf.features.audience_top_k
            top, reach = scoring.top_users_per_item(ufac, list(items["item_id"]), mapped, k=k_aud,
                                                    cached=cached)
            top = top.persist(KEEP)
            cached.append(top)
            flags = spark.createDataFrame(items[["item_id", "is_candidate"]].astype({"is_candidate": bool}))
            item_aud = to_item_audience(top, reach, profile, flags, as_of=run_date)
            cands = items[items["is_candidate"] & (items["plan_date"].notna())]
            plan_date = max(d for d in cands["plan_date"] if d <= run_date) if len(cands) else None
            plan_ids = list(cands[cands["plan_date"] == plan_date]["item_id"]) if plan_date else []
            audience = to_launch_audience(_restrict(top, plan_ids), profile, plan_date=plan_date) \
                if plan_ids else None

            # recommendation lists: live, in-stock catalog items; new ones get reserved slots
            stocked_out = stocked_out_items(spark, conf, run_date) if rc.exclude_stockout_suspected else set()
            live, is_new = live_items(items, excluded=rc.excluded_statuses, stocked_out=stocked_out,
                                      run_date=run_date, new_item_days=rc.new_item_days)
            live_mat = np.stack([warm_mat[warm_pos[i]] if i in warm_pos else mapped[item_pos[i]]
                                 for i in live["item_id"]]) if len(live) else np.zeros((0, best["rank"]))
            n_explore = int(round(rc.list_size * rc.exploration_share))
            recs = (scoring.top_items_per_user(ufac, list(live["item_id"]), live_mat, list_size=rc.list_size,
                                               is_new=is_new, n_explore=n_explore)
                    .withColumn("as_of_date", _lit_date(run_date)))
            _log(f"lists: {len(live):,} live items ({int(is_new.sum())} new, {n_explore} reserved slots), "
                 f"{len(stocked_out)} stocked out excluded")

            # writes: one commit per table
            io.overwrite(ufac.withColumn("as_of_date", _lit_date(run_date)), conf, "gold.als_user_factors")
            io.overwrite(item_fac, conf, "gold.als_item_factors")
            io.overwrite(item_aud, conf, "gold.item_audience")
            if audience is not None:
                audience = audience.persist(KEEP)
                cached.append(audience)
                io.replace_where(audience, conf, "gold.launch_audience", f"plan_date = DATE'{plan_date.isoformat()}'")
                io.overwrite(audience_segment_mix(audience, profile), conf, "gold.audience_segment_mix")
            io.overwrite(recs, conf, "gold.recommendations")

            _log_model(conf, model, served, best)
            tracking.record_metrics(spark, conf, run_date, "recommend", ev["metrics"])
            out.update(plan_date=plan_date, candidates=len(plan_ids), warm_items=len(warm_ids),
                       cold_items=len(items) - len(warm_ids), live_items=len(live))
            _log(f"wrote factors ({len(warm_ids):,} warm items, {len(rows) - len(warm_ids):,} mapped), "
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
