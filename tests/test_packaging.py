"""The Databricks bundle and the spark-submit entry points match the job registry."""
from __future__ import annotations

import os
import subprocess
import sys

import yaml

from debut.cli import JOBS, NO_SPARK, available_jobs, main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_bundle_tasks_are_the_pipeline_stages_in_dependency_order():
    res = yaml.safe_load(open(os.path.join(ROOT, "conf", "databricks", "resources", "debut_job.yml")))
    tasks = res["resources"]["jobs"]["debut_daily"]["tasks"]
    names = [t["task_key"] for t in tasks]
    assert names == [j for j in JOBS if j not in NO_SPARK]
    seen = set()
    for t in tasks:
        deps = {d["task_key"] for d in t.get("depends_on", [])}
        assert deps <= seen, f"{t['task_key']} depends on a later task"
        seen.add(t["task_key"])
        assert t["python_wheel_task"]["entry_point"] == "debut"
        assert t["python_wheel_task"]["parameters"][:2] == ["run", t["task_key"]]


def test_every_available_job_has_a_spark_submit_entry_point():
    for job in available_jobs():
        assert os.path.isfile(os.path.join(ROOT, "jobs", f"{job}.py")), job


def test_jobs_command_lists_available_jobs(capsys):
    assert main(["jobs"]) == 0
    assert capsys.readouterr().out.split() == available_jobs()


def test_build_ships_conf_and_report_templates(tmp_path):
    subprocess.run([sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(tmp_path)], cwd=ROOT,
                   check=True, capture_output=True)
    templates = os.path.join(ROOT, "lib", "debut", "report", "templates")
    for name in sorted(os.listdir(templates)):
        assert os.path.isfile(tmp_path / "debut" / "report" / "templates" / name), name
    assert (tmp_path / "debut" / "_conf" / "base.yaml").read_text() == open(os.path.join(ROOT, "conf", "base.yaml")).read()
