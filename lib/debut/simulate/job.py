"""The simulate job: write the landing files and the hidden truth for run_date, atomically.

Both outputs are built in staging folders beside their targets and swapped in
by rename, so a killed run leaves the previous output whole; the same seed and
run_date give byte-identical files, so a rerun changes nothing.
"""
from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Dict, Union

from debut.config import Config
from debut.simulate.generate import generate


def _as_date(run_date: Union[str, dt.date]) -> dt.date:
    if isinstance(run_date, dt.datetime):
        return run_date.date()
    return run_date if isinstance(run_date, dt.date) else dt.date.fromisoformat(str(run_date))


def _aside(target: Path, what: str) -> Path:
    return target.with_name(f".{target.name}.{what}")


def _recover(target: Path) -> None:
    """Undo what a run killed mid-swap left behind: restore the old output, drop staging."""
    old, staging = _aside(target, "old"), _aside(target, "staging")
    if old.exists() and not target.exists():
        old.rename(target)
    for p in (old, staging):
        if p.exists():
            shutil.rmtree(p)


def _swap(staging: Path, target: Path) -> None:
    old = _aside(target, "old")
    if target.exists():
        target.rename(old)
    staging.rename(target)
    if old.exists():
        shutil.rmtree(old)


def run(spark, conf: Config, run_date: Union[str, dt.date]) -> Dict:
    """Simulate the conf.simulate.days days before run_date into paths.landing_dir / paths.truth_dir.

    spark is not used (the simulator is numpy); it is accepted for the common job signature.
    """
    run_date = _as_date(run_date)
    landing, truth = Path(conf.paths.landing_dir).absolute(), Path(conf.paths.truth_dir).absolute()
    if landing == truth or landing in truth.parents or truth in landing.parents:
        raise ValueError(f"paths.landing_dir ({landing}) and paths.truth_dir ({truth}) must not contain each other")
    for target in (landing, truth):
        target.parent.mkdir(parents=True, exist_ok=True)
        _recover(target)
    stage_landing, stage_truth = _aside(landing, "staging"), _aside(truth, "staging")
    try:
        summary = generate(conf.simulate, stage_landing, stage_truth, run_date)
    except BaseException:
        for p in (stage_landing, stage_truth):
            shutil.rmtree(p, ignore_errors=True)
        raise
    _swap(stage_truth, truth)
    _swap(stage_landing, landing)

    dirty = summary["dirty"]
    print(f"simulate {run_date}: window {summary['window_start']}..{summary['window_end']}, seed {summary['seed']}")
    print(f"  {landing}/events      {summary['files']['events']} files  {summary['events']} events "
          f"(+{dirty['events']} dirty)  {summary['sessions']} sessions")
    print(f"  {landing}/orders      {summary['files']['orders']} files  {summary['order_lines']} lines "
          f"(+{dirty['orders']} dirty)  {summary['orders']} orders")
    print(f"  {landing}/catalog     1 file  {summary['catalog_items']} items ({summary['delisted']} delisted, "
          f"{summary['launches']} launched in the window)")
    print(f"  {landing}/candidates  1 file  {summary['candidates']} candidates")
    print(f"  {truth}  users {summary['users']} in {summary['segments']} segments, "
          f"candidate demand {summary['candidate_units']} units, lost sales {summary['lost_units']} units")
    return summary
