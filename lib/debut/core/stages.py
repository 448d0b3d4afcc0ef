"""The one table of stage names: job, package, config sections, MLflow experiment, metric component.

A job is what ``debut run <job>`` and ``jobs/<job>.py`` call; its package is
``debut.<package>`` with ``job.run(spark, conf, run_date)``; its settings are
the config sections logged as MLflow params of its run; its experiment is
``<mlflow.experiment_prefix>/<experiment>``; its metrics go to gold.evaluation
under ``component`` (train_deep: ``deep.<task>``). The names differ for
historical reasons (MLflow experiments and gold.evaluation rows keep theirs);
everything that needs one looks it up here instead of guessing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple


@dataclass(frozen=True)
class Stage:
    job: str
    package: str
    sections: Tuple[str, ...]       # config sections: the run's settings
    experiment: str
    component: str
    needs_spark: bool = True
    entry: str = "job"              # the module of the package that holds run()

    @property
    def module(self) -> str:
        """The module holding ``run(spark, conf, run_date)``."""
        return f"debut.{self.package}.{self.entry}"


# In data-flow order.
STAGES: Tuple[Stage, ...] = (
    Stage("simulate", "simulate", ("simulate",), "simulate", "simulate", needs_spark=False),
    Stage("ingest", "ingest", ("ingest",), "ingest", "ingest"),
    Stage("aggregate", "aggregate", ("aggregate",), "aggregate", "aggregate"),
    Stage("build_features", "features", ("features",), "build_features", "features"),
    Stage("train_als", "recommend", ("recommend",), "train_als", "recommend"),
    Stage("train_deep", "deep", ("deep",), "train_deep", "deep"),
    Stage("forecast_launch", "forecast", ("forecast",), "forecast", "forecast"),
    Stage("optimize_launch", "optimize", ("optimize",), "optimize_launch", "optimize"),
    Stage("evaluate", "evaluate", ("evaluate",), "evaluate", "evaluate"),
    # the simulator's side: the only stage that reads paths.truth_dir
    Stage("evaluate_truth", "simulate", ("evaluate", "adjust"), "evaluate_truth", "evaluate",
          entry="truth_eval"),
    Stage("adjust_launch", "adjust", ("adjust",), "adjust", "adjust"),
    Stage("report", "report", (), "report", "report"),
)

JOBS: Dict[str, Stage] = {s.job: s for s in STAGES}
_BY_PACKAGE: Dict[str, Stage] = {s.package: s for s in STAGES if s.entry == "job"}


def stage(name: str) -> Stage:
    """The stage of a job name (``train_als``) or of its package name (``recommend``)."""
    found = JOBS.get(name) or _BY_PACKAGE.get(name)
    if found is None:
        raise KeyError(f"unknown stage '{name}' (jobs: {', '.join(JOBS)})")
    return found
