"""One session-scoped Spark for the whole suite (start-up is ~15 s), Delta on."""
from __future__ import annotations

import os
import sys

import pytest

os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from debut.config import Config, load_config  # noqa: E402


# Spark JVMs that tests start in subprocesses run a few seconds of work each: the client
# compiler alone and the serial collector start them in about half the time (an ingest of the
# concurrency tests' landing dir: 32-35 s against 54-66 s on a loaded 2-core machine). The
# session JVM of the suite keeps the defaults, which are faster over its long life.
SHORT_JVM_ENV = {"JAVA_TOOL_OPTIONS": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"}


def make_conf(root) -> Config:
    """The test env with every path under ``root``."""
    root = str(root)
    return load_config("test").replace(**{
        "paths.data_dir": os.path.join(root, "data"),
        "paths.landing_dir": os.path.join(root, "landing"),
        "paths.truth_dir": os.path.join(root, "truth"),
        "paths.reports_dir": os.path.join(root, "reports"),
        "paths.checkpoint_dir": os.path.join(root, "checkpoints"),
        "paths.petastorm_cache": os.path.join(root, "petastorm"),
    })


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    from debut.spark import get_spark

    conf = make_conf(tmp_path_factory.mktemp("spark-session"))
    session = get_spark(conf, app_name="debut-tests")
    yield session
    session.stop()


@pytest.fixture
def conf(tmp_path) -> Config:
    return make_conf(tmp_path)


def as_table(df, name: str, conf=None):
    """``df`` with the registered table's other columns as typed nulls: a test writes only the
    columns the code under test reads, and io's schema check still sees the whole contract."""
    from pyspark.sql import functions as F

    from debut import io

    schema = io.spec(name).struct(conf)
    return df.select([F.col(f.name) if f.name in df.columns else F.lit(None).cast(f.dataType).alias(f.name)
                      for f in schema.fields])
