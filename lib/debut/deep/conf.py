"""``DeepConf`` (``Config.deep``, defined in :mod:`debut.config`) and helpers.

Every function of ``debut.deep`` accepts an explicit DeepConf (tests use tiny
ones); :func:`deep_conf` falls back to ``conf.deep``.
"""
from __future__ import annotations

from typing import Optional

from debut.config import BACKENDS, TASK_NAMES, Config, ConfigError, DeepConf  # noqa: F401  (re-exported)


def deep_conf(conf: Config, deep: Optional[DeepConf] = None) -> DeepConf:
    """The explicit ``deep`` if given, else ``conf.deep``."""
    return deep if deep is not None else conf.deep


def petastorm_cache_url(conf: Config, deep: DeepConf) -> str:
    """Petastorm's parent cache dir as a URL (``file://`` for local paths)."""
    import os

    path = deep.petastorm_cache or conf.paths.petastorm_cache
    if "://" in path:
        return path
    return "file://" + os.path.abspath(path)
