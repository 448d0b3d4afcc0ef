"""train_deep: build each model's training set from the lakehouse, train it with Horovod
(or TorchDistributor) over Petastorm, register it in MLflow, and measure it on a time-based holdout.

All the tasks' sets are built first; one launch of the training processes then trains every
model in turn (each launch costs process start, imports and a rendezvous); each model is then
registered and scored on its holdout with the weights in memory (the registered version's).

For every task of ``deep.tasks`` (sets: :mod:`debut.deep.datasets`):

ctr       AUC on the holdout window's purchases + sampled negatives, against an
          L2 logistic regression on the same features (scikit-learn, bounded sample)
sequence  top-1 / top-3 accuracy of the next category against the customer's
          most frequent categories and the globally most frequent ones; AUC of
          purchase intent
demand    pinball loss (log1p units) and WAPE of the P50 (units) against
          per-category quantiles / the category mean of the training launches;
          P10-P90 coverage

Metrics are printed and recorded under component ``deep.<task>`` (gold.evaluation
and this job's MLflow run; each model has a nested run of its own). A task
with too little data is skipped with a printed reason and ``skipped = 1``; any
other failure fails the job. Without customer ids ctr and sequence are skipped
before their sets are built. Written to the lakehouse: gold.evaluation rows and
one ops.stage_status row per task (MERGE on run_date, so a rerun replaces them),
and gold.demand_net_predictions (the demand network on every past launch and
candidate, replaceWhere run_date: what forecast_launch reads instead of the model).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import functools
import math
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple

import numpy as np
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from debut import io
from debut import schemas as S
from debut.config import Config, flatten
from debut.core.catalog import to_category_index, to_category_medians, to_item_categories
from debut.core.catalog import to_latest_snapshot as latest_catalog
from debut.core.dates import lit_date
from debut.core import metrics as M
from debut.core import status
from debut.deep import datasets as D

JOB = "train_deep"
CUSTOMER_TASKS = ("ctr", "sequence")
ROWS_PER_FILE = 50_000       # Petastorm row groups: one file per process at least, about this many rows each


def _log(msg: str) -> None:
    # one write per line: the tasks' evaluations log from several threads at once
    sys.stdout.write(f"[{JOB}] {msg}\n")
    sys.stdout.flush()


class SkipTask(Exception):
    """Too little data to train or evaluate a task; the job goes on with the next one."""


# ====================================================================== inputs
class Sources:
    """The job's input tables, read on first use (only the chosen tasks' tables are needed)."""

    def __init__(self, spark: SparkSession, conf: Config, run_date: dt.date):
        self.spark, self.conf, self.run_date = spark, conf, run_date
        self._cached: List[DataFrame] = []
        self._task_cached: Dict[Optional[str], List[DataFrame]] = {}
        self.building: Optional[str] = None      # the task whose sets keep_for_task holds

    def table(self, name: str) -> DataFrame:
        return io.read(self.spark, self.conf, name)

    # bronze's bookkeeping columns and search text: no set or profile reads them
    _UNUSED = ("source_file", "ingest_run_date", "query")

    @functools.cached_property
    def events(self) -> DataFrame:
        """bronze.events, persisted: the as-of profiles, sequences and baselines scan it about 50
        times (46 Delta scans for the ctr sets alone); from the cache the ctr build takes a quarter
        less CPU."""
        return self.keep(self.table("bronze.events").drop(*self._UNUSED))

    @functools.cached_property
    def orders(self) -> DataFrame:
        return self.keep(self.table("bronze.orders").drop(*self._UNUSED))

    @functools.cached_property
    def item_features(self) -> DataFrame:
        return self.table("gold.item_features")

    @functools.cached_property
    def catalog_now(self) -> DataFrame:
        return latest_catalog(self.table("bronze.catalog"), run_date=self.run_date)

    @functools.cached_property
    def category_index(self) -> DataFrame:
        return to_category_index(self.catalog_now)

    @functools.cached_property
    def item_categories(self) -> DataFrame:
        df = to_item_categories(self.table("bronze.catalog"), self.category_index, run_date=self.run_date)
        return self.keep(df)

    @functools.cached_property
    def n_categories(self) -> int:
        return D.n_categories(self.item_features)

    def profiles_as_of(self, as_ofs: Sequence[dt.date]) -> DataFrame:
        """Customer profiles as of each date, one pass for all (user_key, as_of_date, ...)."""
        return D.profiles_as_of(self.conf, events_df=self.events, orders_df=self.orders,
                                sessions_df=self.table("silver.sessions"), item_categories_df=self.item_categories,
                                category_index_df=self.category_index,
                                medians_df=to_category_medians(self.catalog_now),
                                item_features_df=self.item_features, as_ofs=as_ofs)

    def keep(self, df: DataFrame) -> DataFrame:
        df = df.persist(StorageLevel.MEMORY_AND_DISK)
        self._cached.append(df)
        return df

    def keep_for_task(self, df: DataFrame) -> DataFrame:
        df = df.persist(StorageLevel.MEMORY_AND_DISK)
        self._task_cached.setdefault(self.building, []).append(df)
        return df

    def release_task(self, task: Optional[str] = None) -> None:
        for df in self._task_cached.pop(task, []):
            df.unpersist()

    def release(self) -> None:
        for task in list(self._task_cached):
            self.release_task(task)
        for df in self._cached:
            df.unpersist()
        self._cached.clear()


class Trained(NamedTuple):
    """A registered version and the same model in memory (model, spec) to score the holdout with."""
    version: int
    model: Tuple[Any, Mapping[str, Any]]


@dataclass
class TaskData:
    """One task's example sets (persisted) and what is needed to evaluate it."""
    train: DataFrame
    val: DataFrame
    holdout: DataFrame
    counts: Dict[str, int]
    dims: Dict[str, int] = field(default_factory=dict)
    info: Dict[str, Any] = field(default_factory=dict)


def _materialise(src: Sources, frames: Mapping[str, DataFrame], num_proc: int,
                 split_from: Optional[DataFrame] = None) -> Dict[str, Any]:
    """Persist and count each frame; repartition the training ones into Petastorm-sized files.

    When train and val are filters of ``split_from`` (two sides of a split, or of a date), that
    frame is persisted instead of each side, so the features behind them are computed once, not
    once per side."""
    out: Dict[str, Any] = {}
    if split_from is not None:
        src.keep_for_task(split_from)
    for name, df in frames.items():
        if split_from is None or name not in ("train", "val"):
            df = src.keep_for_task(df)
        n = df.count()
        if name in ("train", "val"):
            files = num_proc * max(1, math.ceil(n / (num_proc * ROWS_PER_FILE)))
            if files == num_proc:
                # round-robin from one partition: every file gets rows whenever n >= num_proc
                df = df.coalesce(1)
            df = df.repartition(files)
        out[name], out[f"{name}_rows"] = df, n
    return out


def _window_text(w: D.LabelWindow) -> str:
    return f"{w.start}..{w.end - dt.timedelta(days=1)}"


# ========================================================================= ctr
def build_ctr(src: Sources) -> TaskData:
    conf, deep = src.conf, src.conf.deep
    fc = conf.features
    hold = D.holdout_window(src.run_date, deep.holdout_days)
    wins = D.train_windows(src.run_date, deep.holdout_days, deep.train_windows)
    item_daily = src.table("silver.item_daily")
    # every window's customers as of its start, in one pass, kept on local disk while the sets are
    # built (each window reads its date; the heap is left to the sets and the holdout's scoring)
    profiles = src.profiles_as_of([w.start for w in [*wins, hold]]).persist(StorageLevel.DISK_ONLY)

    def window_set(w: D.LabelWindow) -> DataFrame:
        examples = D.ctr_examples(src.orders, item_daily, window=w, negatives=deep.ctr_negatives, seed=deep.seed)
        profile = profiles.where(F.col("as_of_date") == lit_date(w.start))
        return (D.with_ctr_features(examples, profile, src.item_features,
                                    n_cat=src.n_categories, bands=fc.price_bands,
                                    embedding_dim=fc.embedding_dim, how="inner")
                .withColumn("window_start", lit_date(w.start)))

    train_all = functools.reduce(DataFrame.unionByName, [window_set(w) for w in wins])
    train, val = D.hash_split(train_all, key_cols=("user_key", "item_id", "window_start"),
                              fraction=deep.val_fraction, seed=deep.seed)
    try:
        m = _materialise(src, {"train": train, "val": val, "holdout": window_set(hold)}, deep.num_proc,
                         split_from=train_all)
    finally:
        profiles.unpersist()    # the sets are persisted; a lost block of theirs recomputes its profiles
    return TaskData(m["train"], m["val"], m["holdout"],
                    {k: m[f"{k}_rows"] for k in ("train", "val", "holdout")},
                    info={"holdout": _window_text(hold), "train": [_window_text(w) for w in wins]})


def evaluate_ctr(src: Sources, data: TaskData, trained: Trained) -> Dict[Any, float]:
    from pyspark.ml.evaluation import BinaryClassificationEvaluator

    from debut.deep.score import score

    deep = src.conf.deep
    n = data.counts["holdout"]
    classes = data.holdout.agg(F.countDistinct("label").alias("k"), F.avg("label").alias("rate")).first()
    if classes["k"] < 2:
        raise SkipTask(f"holdout {data.info['holdout']} has {n} rows of a single class: no AUC")
    scored = (score(data.holdout, src.conf, "ctr", version=trained.version, model=trained.model)
              .where(F.col("p_purchase").isNotNull()))
    auc = BinaryClassificationEvaluator(rawPredictionCol="p_purchase", labelCol="label").evaluate(scored)

    width = data.holdout.select((F.size("user_features") + F.size("item_features")).alias("w")).first()["w"]
    auc_lr = logistic_baseline_auc(data.train.unionByName(data.val), data.holdout,
                                   rows=data.counts["train"] + data.counts["val"], reg=deep.lr_reg_param,
                                   max_iter=deep.lr_max_iter, max_rows=lr_sample_rows(deep.lr_max_rows, width),
                                   seed=deep.seed)
    _log(f"ctr: holdout {data.info['holdout']}, {n:,} pairs ({classes['rate']:.0%} purchases): "
         f"AUC {auc:.4f} vs logistic regression {auc_lr:.4f}")
    return {("auc", "all", n): auc, ("auc", "baseline=logistic_regression", n): auc_lr,
            ("auc_lift", "baseline=logistic_regression", n): auc - auc_lr,
            ("positive_rate", "holdout", n): classes["rate"]}


LR_SAMPLE_BYTES = 64 << 20     # the baseline's sample as float32 features, what the driver collects


def lr_sample_rows(max_rows: int, width: int) -> int:
    """Rows of the logistic baseline's sample: ``deep.lr_max_rows``, and no more than LR_SAMPLE_BYTES
    of float32 features. The sample passes through the driver JVM's heap outside Spark's managed
    memory (a task result): 200,000 rows of the demo's 811 features would be 650 MB."""
    return max(1, min(int(max_rows), LR_SAMPLE_BYTES // (4 * max(1, int(width or 1)))))


def logistic_baseline_auc(train: DataFrame, holdout: DataFrame, *, rows: int, reg: float, max_iter: int,
                          max_rows: int, seed: int) -> float:
    """Holdout AUC of an L2 logistic regression on the ctr features (user_features ++ item_features).

    Fitted with scikit-learn on the driver, on a hash sample of at most ``max_rows`` of the ``rows``
    training rows (a linear model of a hundred-odd features needs no more); the features are
    standardised and the penalty is Spark ML's (``reg / 2 * |w|^2`` on the mean log loss, so
    C = 1 / (reg * n)). The holdout is scored in Spark with the coefficients and its AUC taken by
    Spark's BinaryClassificationEvaluator. Spark ML's LogisticRegression ran one Spark job per
    L-BFGS iteration (about a hundred) for the same model."""
    from pyspark.ml.evaluation import BinaryClassificationEvaluator
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    feats = F.concat("user_features", "item_features")
    if rows > max_rows:
        train = train.where(F.pmod(F.xxhash64(F.lit(seed), "user_key", "item_id", "window_start"),
                                   F.lit(1_000_000)) < F.lit(int(1_000_000 * max_rows / rows)))
    # bounded: at most max_rows rows (about max_rows / rows of the training set)
    pdf = train.select(feats.alias("x"), F.col("label").cast("double").alias("y")).toPandas()
    x, y = np.stack(pdf["x"].to_numpy()).astype(np.float64), pdf["y"].to_numpy()
    if len(np.unique(y)) < 2:
        return float("nan")
    scaler = StandardScaler().fit(x)
    model = LogisticRegression(C=1.0 / max(reg * len(y), 1e-12), max_iter=max_iter).fit(scaler.transform(x), y)
    # margin = b + sum_j w_j (x_j - mean_j) / scale_j = b' + sum_j (w_j / scale_j) x_j
    w = model.coef_[0] / scaler.scale_
    b = float(model.intercept_[0] - np.dot(w, scaler.mean_))
    coef = F.array(*[F.lit(float(v)) for v in w])
    margin = F.aggregate(F.zip_with(feats, coef, lambda a, c: a.cast("double") * c), F.lit(b),
                         lambda acc, v: acc + v)
    scored = holdout.select(margin.alias("margin"), F.col("label").cast("double").alias("label"))
    return BinaryClassificationEvaluator(rawPredictionCol="margin", labelCol="label").evaluate(scored)


# ==================================================================== sequence
def build_sequence(src: Sources) -> TaskData:
    deep = src.conf.deep
    hold = D.holdout_window(src.run_date, deep.holdout_days)
    wins = D.train_windows(src.run_date, deep.holdout_days, deep.train_windows)

    def window_set(w: D.LabelWindow) -> DataFrame:
        return (D.sequence_examples(src.events, src.orders, src.item_categories, window=w, seq_len=deep.seq_len)
                .withColumn("window_start", lit_date(w.start)))

    train_all = functools.reduce(DataFrame.unionByName, [window_set(w) for w in wins])
    train, val = D.hash_split(train_all, key_cols=("user_key", "window_start"), fraction=deep.val_fraction,
                              seed=deep.seed)
    m = _materialise(src, {"train": train, "val": val, "holdout": window_set(hold)}, deep.num_proc,
                     split_from=train_all)
    # a vocabulary from the catalog, not from the sample: stable across runs
    dims = {"num_categories": src.n_categories, "num_event_types": len(S.EVENT_TYPES)}
    return TaskData(m["train"], m["val"], m["holdout"],
                    {k: m[f"{k}_rows"] for k in ("train", "val", "holdout")}, dims=dims,
                    info={"holdout": _window_text(hold), "cutoff": hold.start})


def _top_k_hits(arr: str, k: int):
    return F.array_contains(F.slice(F.col(arr), 1, k), F.col("next_category")).cast("double")


def evaluate_sequence(src: Sources, data: TaskData, trained: Trained) -> Dict[Any, float]:
    from pyspark.ml.evaluation import BinaryClassificationEvaluator

    from debut.deep.score import score

    n = data.counts["holdout"]
    if n == 0:
        raise SkipTask(f"no customer active in the holdout {data.info['holdout']}")
    counts = D.category_counts(src.events, src.item_categories, as_of=data.info["cutoff"])
    per_user = D.top_categories(counts, k=3).withColumnRenamed("top", "user_top")
    overall = D.top_categories(counts.groupBy("category_id").agg(F.sum("n").alias("n"),
                                                                  F.max("last_time").alias("last_time")),
                               k=3, by=()).withColumnRenamed("top", "global_top")
    scored = score(data.holdout, src.conf, "sequence", version=trained.version, model=trained.model)
    ranked = F.transform(F.array_sort(F.transform("next_category_probs", lambda p, i: F.struct(
        (-p).alias("neg_p"), i.alias("c")))), lambda s: s["c"])
    joined = (scored.where(F.col("next_category_probs").isNotNull())
              .withColumn("model_top", F.slice(ranked, 1, 3))
              .join(per_user, on="user_key", how="left")
              .crossJoin(F.broadcast(overall))
              .withColumn("user_top", F.coalesce("user_top", F.array().cast("array<int>")))
              # customers with fewer than 3 categories of their own: filled from the global ranking
              .withColumn("user_top", F.slice(F.concat("user_top", F.filter(
                  "global_top", lambda c: ~F.array_contains(F.col("user_top"), c))), 1, 3)))
    r = joined.agg(F.count(F.lit(1)).alias("n"),
                   *[F.avg(_top_k_hits(a, k)).alias(f"{a}_{k}") for a in ("model_top", "user_top", "global_top")
                     for k in (1, 3)],
                   F.countDistinct("purchase_intent").alias("intent_classes"),
                   F.avg("purchase_intent").alias("intent_rate")).first()
    scored_n = r["n"]
    out = {}
    for name, col in (("all", "model_top"), ("baseline=customer_most_frequent", "user_top"),
                      ("baseline=global_most_frequent", "global_top")):
        out[("top1_accuracy", name, scored_n)] = r[f"{col}_1"]
        out[("top3_accuracy", name, scored_n)] = r[f"{col}_3"]
    msg = (f"sequence: holdout {data.info['holdout']}, {scored_n:,} customers: next-category top-1 "
           f"{r['model_top_1']:.3f} / top-3 {r['model_top_3']:.3f} vs customer's most frequent "
           f"{r['user_top_1']:.3f} / {r['user_top_3']:.3f} vs global most frequent "
           f"{r['global_top_1']:.3f} / {r['global_top_3']:.3f}")
    if r["intent_classes"] == 2:
        auc = BinaryClassificationEvaluator(rawPredictionCol="p_purchase_intent", labelCol="purchase_intent") \
            .evaluate(scored.where(F.col("p_purchase_intent").isNotNull()))
        out[("intent_auc", "all", scored_n)] = auc
        msg += f"; purchase-intent AUC {auc:.4f} (rate {r['intent_rate']:.0%})"
    _log(msg)
    return out


# ====================================================================== demand
def build_demand(src: Sources) -> TaskData:
    conf, deep = src.conf, src.conf.deep
    fc, horizon = conf.features, conf.forecast.horizon_weeks
    if horizon > conf.aggregate.launch_weeks:
        raise SkipTask(f"forecast.horizon_weeks={horizon} exceeds the {conf.aggregate.launch_weeks} weeks "
                       f"gold.launch_history keeps (aggregate.launch_weeks)")
    examples = D.demand_examples(src.table("gold.launch_history"), src.item_features,
                                 src.table("silver.category_daily"), horizon_weeks=horizon,
                                 n_cat=src.n_categories, bands=fc.price_bands, embedding_dim=fc.embedding_dim,
                                 context_days=deep.context_days)
    split = D.demand_split_date(src.run_date, horizon, deep.holdout_days)
    earlier = examples.where(F.col("launch_date") < lit_date(split))
    train, val = D.hash_split(earlier, key_cols=("item_id",), fraction=deep.val_fraction, seed=deep.seed)
    m = _materialise(src, {"train": train, "val": val,
                           "holdout": examples.where(F.col("launch_date") >= lit_date(split))}, deep.num_proc,
                     split_from=examples)
    return TaskData(m["train"], m["val"], m["holdout"],
                    {k: m[f"{k}_rows"] for k in ("train", "val", "holdout")},
                    info={"holdout": f"launches from {split} with {horizon} complete weeks", "split": split})


def demand_scores(pdf, qs) -> Dict[str, Optional[float]]:
    """The demand holdout's scores (debut.core.metrics) from one row per launch: demand_log1p, units,
    the network's demand_q* columns, the baseline's quantiles ``_bq`` (log1p) and mean ``_bmean`` (units).

    pinball: mean pinball loss over ``qs`` in log1p units (the baseline's too); wape: of the
    network's middle quantile in units against the category mean's; coverage of the outer quantiles.
    """
    from debut.deep.tasks import quantile_suffix

    names = [f"demand_{quantile_suffix(q)}" for q in qs]
    mid = min(range(len(qs)), key=lambda j: abs(qs[j] - 0.5))
    y, units = pdf["demand_log1p"].to_numpy(float), pdf["units"].to_numpy(float)
    base_q = np.stack(pdf["_bq"].to_list()).astype(float) if len(pdf) else np.zeros((0, len(qs)))
    return {"pinball": M.mean_pinball(y, {q: pdf[c].to_numpy(float) for q, c in zip(qs, names)}),
            "pinball_base": M.mean_pinball(y, {q: base_q[:, j] for j, q in enumerate(qs)}),
            "wape": _finite(M.wape(units, np.expm1(pdf[names[mid]].to_numpy(float)))),
            "wape_base": _finite(M.wape(units, pdf["_bmean"].to_numpy(float))),
            "coverage": M.coverage(y, pdf[names[0]].to_numpy(float), pdf[names[-1]].to_numpy(float))}


def evaluate_demand(src: Sources, data: TaskData, trained: Trained) -> Dict[Any, float]:
    from debut.deep.score import score
    from debut.deep.tasks import quantile_suffix

    qs = tuple(src.conf.deep.quantiles)
    n = data.counts["holdout"]
    if n == 0:
        raise SkipTask(f"no holdout launches ({data.info['holdout']})")
    mid = min(range(len(qs)), key=lambda j: abs(qs[j] - 0.5))
    names = [f"demand_{quantile_suffix(q)}" for q in qs]
    known = data.train.unionByName(data.val)
    per_cat = known.groupBy("category").agg(F.percentile_approx("demand_log1p", list(qs)).alias("_bq"),
                                            F.avg("units").alias("_bmean"))
    overall = known.agg(F.percentile_approx("demand_log1p", list(qs)).alias("_gq"), F.avg("units").alias("_gmean"))
    scored = (score(data.holdout, src.conf, "demand", version=trained.version, model=trained.model)
              .where(F.col(names[0]).isNotNull())
              .join(F.broadcast(per_cat), on="category", how="left").crossJoin(F.broadcast(overall))
              .withColumn("_bq", F.coalesce("_bq", "_gq")).withColumn("_bmean", F.coalesce("_bmean", "_gmean")))
    # one row per holdout launch (bounded by launches)
    pdf = scored.select("demand_log1p", "units", "_bq", "_bmean", *names).toPandas()
    m = demand_scores(pdf, qs)
    pinball, pinball_base, wape, wape_base, coverage = (m[k] for k in ("pinball", "pinball_base", "wape",
                                                                       "wape_base", "coverage"))
    scored_n = len(pdf)
    cover = f"P{qs[0] * 100:g}-P{qs[-1] * 100:g}"
    _log(f"demand: holdout {data.info['holdout']}: {scored_n} launches: WAPE(P{qs[mid] * 100:g}) "
         f"{_fmt(wape)} vs category mean {_fmt(wape_base)}; pinball(log1p units) {pinball:.4f} vs "
         f"category quantiles {pinball_base:.4f}; {cover} coverage {coverage:.0%}")
    return {("pinball_log1p", "all", scored_n): pinball,
            ("pinball_log1p", "baseline=category_quantiles", scored_n): pinball_base,
            ("wape_p50", "all", scored_n): wape, ("wape_p50", "baseline=category_mean", scored_n): wape_base,
            (f"coverage_{cover.lower().replace('-', '_')}", "all", scored_n): coverage}


def _finite(x: float) -> Optional[float]:
    return float(x) if np.isfinite(x) else None


def _fmt(x: Optional[float]) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def predict_demand(src: Sources, data: TaskData, trained: Trained) -> Dict[str, Any]:
    """gold.demand_net_predictions for every past launch and candidate, with the split it trained on."""
    from debut.deep.predictions import TABLE, write_demand_predictions

    n = write_demand_predictions(src.spark, src.conf, src.run_date, version=trained.version,
                                 trained_before=data.info["split"], model=trained.model)
    _log(f"demand: {n:,} predictions (past launches and candidates) written to {TABLE}; "
         f"trained on launches before {data.info['split']}")
    return {"predictions": n}


# tasks whose predictions other stages read: written as a table after registration
PREDICTORS: Dict[str, Callable[[Sources, TaskData, Trained], Dict[str, Any]]] = {"demand": predict_demand}

BUILDERS: Dict[str, Callable[[Sources], TaskData]] = {
    "ctr": build_ctr, "sequence": build_sequence, "demand": build_demand}
EVALUATORS: Dict[str, Callable[[Sources, TaskData, Trained], Dict[Any, float]]] = {
    "ctr": evaluate_ctr, "sequence": evaluate_sequence, "demand": evaluate_demand}


# ========================================================================= job
def check_sizes(task: str, data: TaskData, conf: Config) -> None:
    deep = conf.deep
    c = data.counts
    if c["train"] < deep.min_train_rows:
        raise SkipTask(f"{c['train']} training rows, fewer than deep.min_train_rows={deep.min_train_rows}")
    if c["val"] < deep.num_proc:
        raise SkipTask(f"{c['val']} validation rows for {deep.num_proc} training processes")


def _skipped(spark: SparkSession, conf: Config, run_date: dt.date, task: str, exc: SkipTask) -> Dict[str, Any]:
    import mlflow

    from debut import tracking

    component = f"deep.{task}"
    _log(f"{task}: SKIPPED: {exc}")
    mlflow.set_tag(f"{component}.skipped", str(exc)[:5000])
    tracking.record_metrics(spark, conf, run_date, component, {"skipped": 1.0, "evaluated": 0.0})
    return {"skipped": str(exc)}


def build_task(src: Sources, task: str) -> TaskData:
    """One task's example sets (persisted until ``src.release``), checked big enough to train."""
    started = time.perf_counter()
    src.building = task
    try:
        data = BUILDERS[task](src)
    finally:
        src.building = None
    data.info["build_seconds"] = time.perf_counter() - started
    _log(f"{task}: {data.counts['train']:,} training / {data.counts['val']:,} validation / "
         f"{data.counts['holdout']:,} holdout rows ({data.info['build_seconds']:.0f} s)")
    check_sizes(task, data, src.conf)
    return data


def finish_task(task: str, src: Sources, data: TaskData, result: Any) -> Tuple[Dict[str, Any], Dict[Any, Any]]:
    """A trained and registered task: its predictions table (if any), its holdout evaluation; returns
    (its summary, its metrics for gold.evaluation)."""
    out: Dict[str, Any] = {"counts": dict(data.counts)}
    out.update(model_name=result.model_name, version=result.version, run_id=result.run_id,
               train_seconds=result.seconds, best_val_loss=result.best_val_loss, epochs=len(result.history))
    _log(f"{task}: registered {result.model_name} v{result.version}: best validation loss "
         f"{result.best_val_loss:.4f} at epoch {result.best_epoch + 1} of {len(result.history)}, "
         f"{result.seconds:.0f} s")
    # the version just registered, from memory (the same weights the registry holds)
    model = Trained(result.version, (result.model, result.spec))
    if task in PREDICTORS:
        out.update(PREDICTORS[task](src, data, model))
    metrics: Dict[Any, Any] = {"skipped": 0.0, "model_version": float(result.version),
                               "train_seconds": result.seconds, "build_seconds": data.info["build_seconds"],
                               "best_val_loss": result.best_val_loss,
                               **{(f"{k}_rows"): float(v) for k, v in data.counts.items()}}
    try:
        metrics.update(EVALUATORS[task](src, data, model))
    except SkipTask as exc:
        _log(f"{task}: not evaluated: {exc}")
        metrics["evaluated"] = 0.0
        out["not_evaluated"] = str(exc)
    else:
        metrics["evaluated"] = 1.0
    out["metrics"] = {(k if isinstance(k, str) else "/".join(map(str, k[:2]))): v for k, v in metrics.items()}
    src.release_task(task)
    return out, metrics


def train_tasks(spark: SparkSession, conf: Config, run_date: dt.date, src: Sources,
                tasks: Sequence[str]) -> Dict[str, Dict[str, Any]]:
    """Build every task's sets, train all of them in one launch of the training processes, then
    evaluate each (the tasks side by side, one driver thread each); their metrics go to
    gold.evaluation in one commit. A SkipTask is printed and recorded for its task, not raised."""
    from petastorm.errors import NoDataAvailableError

    from debut import tracking
    from debut.deep.train import fit, prepare

    out: Dict[str, Dict[str, Any]] = {}
    built: Dict[str, TaskData] = {}
    for task in tasks:
        try:
            built[task] = build_task(src, task)
        except SkipTask as exc:
            src.release_task(task)
            out[task] = _skipped(spark, conf, run_date, task, exc)
    with contextlib.ExitStack() as stack:     # the Petastorm caches, deleted once trained
        prepared = []
        for task, data in built.items():
            try:
                prepared.append(prepare(spark, conf, data.train, task, stack, val_df=data.val,
                                        dims=data.dims or None))
            except NoDataAvailableError as exc:
                src.release_task(task)
                out[task] = _skipped(spark, conf, run_date, task, SkipTask(
                    f"too little data for {conf.deep.num_proc} Petastorm shards: {exc}"))
        if prepared:
            _log(f"training {', '.join(p.task for p in prepared)} in one launch of {conf.deep.num_proc} "
                 f"{conf.deep.backend} processes")
        results = fit(spark, conf, prepared, run_date=run_date.isoformat())
    # each task's registration check, predictions and holdout evaluation are many small Spark jobs
    # and a driver-side fit (the ctr baseline): from one thread per task they overlap
    with ThreadPoolExecutor(max_workers=max(1, len(prepared))) as pool:
        finished = list(pool.map(lambda pr: finish_task(pr[0].task, src, built[pr[0].task], pr[1]),
                                 zip(prepared, results)))
    metrics = {}
    for p, (task_out, task_metrics) in zip(prepared, finished):
        out[p.task], metrics[f"deep.{p.task}"] = task_out, task_metrics
    tracking.record_components(spark, conf, run_date, metrics)
    return {task: out[task] for task in tasks if task in out}


def run(spark: SparkSession, conf: Config, run_date: dt.date) -> Dict[str, Any]:
    from debut import tracking

    deep = conf.deep
    params = {f"deep.{k}": v for k, v in flatten(deep).items()}
    params["forecast.horizon_weeks"] = conf.forecast.horizon_weeks
    out: Dict[str, Any] = {}
    _log(f"tasks {', '.join(deep.tasks)}; holdout {deep.holdout_days} days before {run_date}; "
         f"{deep.num_proc} {deep.backend} processes")
    # ctr and sequence learn from customers; the demand net only from launch history
    no_customers = status.missing_customers(spark, conf) if set(deep.tasks) & set(CUSTOMER_TASKS) else None
    with tracking.job_run(conf, JOB, run_date.isoformat(), params=params, log_conf=False):
        src = Sources(spark, conf, run_date)
        try:
            for task in deep.tasks:
                if no_customers and task in CUSTOMER_TASKS:
                    out[task] = {"skipped": no_customers}
            trained = train_tasks(spark, conf, run_date, src, [t for t in deep.tasks if t not in out])
            out = {task: out.get(task) or trained[task] for task in deep.tasks}
        finally:
            src.release()
    status.record(spark, conf, JOB, run_date, [
        (task, status.SKIPPED if "skipped" in res else status.OK, res.get("skipped"), None)
        for task, res in out.items()])
    return out
