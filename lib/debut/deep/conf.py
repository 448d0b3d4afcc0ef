"""``DeepConf``: settings of the train_deep stage (to become ``Config.deep``).

Until it is wired into :class:`debut.config.Config`, every function of
``debut.deep`` takes it as an argument; :func:`deep_conf` returns
``conf.deep`` when it exists, else the defaults.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

from debut.config import Config, ConfigError

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
    torch_threads: int = 0                 # per training process; 0: cores / local processes
    score_batch_size: int = 4096           # rows per forward pass when scoring
    ctr_model_name: str = "debut_ctr"
    sequence_model_name: str = "debut_sequence"
    demand_model_name: str = "debut_demand"

    def __post_init__(self) -> None:
        def fail(key: str, msg: str) -> None:
            raise ConfigError(f"key 'deep.{key}' {msg}")

        if self.backend not in BACKENDS:
            fail("backend", f"must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        for key in ("num_proc", "epochs", "batch_size", "patience", "seq_len", "embed_dim",
                    "hidden_dim", "score_batch_size", "start_timeout"):
            if getattr(self, key) < 1:
                fail(key, f"must be >= 1, got {getattr(self, key)}")
        if self.lr <= 0:
            fail("lr", f"must be > 0, got {self.lr}")
        if not 0.0 < self.val_fraction < 1.0:
            fail("val_fraction", f"must be in (0, 1), got {self.val_fraction}")
        if not 0.0 <= self.dropout < 1.0:
            fail("dropout", f"must be in [0, 1), got {self.dropout}")
        qs = tuple(self.quantiles)
        if not qs or any(not 0.0 < q < 1.0 for q in qs) or any(a >= b for a, b in zip(qs, qs[1:])):
            fail("quantiles", f"must be strictly increasing values in (0, 1), got {qs}")
        if self.shuffle_buffer < 0 or self.torch_threads < 0:
            fail("shuffle_buffer" if self.shuffle_buffer < 0 else "torch_threads", "must be >= 0")

    def model_name(self, task: str) -> str:
        """Registered MLflow model name of a task (ctr | sequence | demand)."""
        if task not in TASK_NAMES:
            raise ValueError(f"unknown deep task {task!r} (known: {', '.join(TASK_NAMES)})")
        return getattr(self, f"{task}_model_name")


def deep_conf(conf: Config, deep: Optional[DeepConf] = None) -> DeepConf:
    """The explicit ``deep`` if given, else ``conf.deep`` once wired in, else defaults."""
    if deep is not None:
        return deep
    found = getattr(conf, "deep", None)
    return found if isinstance(found, DeepConf) else DeepConf()


def petastorm_cache_url(conf: Config, deep: DeepConf) -> str:
    """Petastorm's parent cache dir as a URL (``file://`` for local paths)."""
    import os

    path = deep.petastorm_cache or conf.paths.petastorm_cache
    if "://" in path:
        return path
    return "file://" + os.path.abspath(path)
