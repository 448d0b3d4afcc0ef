"""A real Spark standalone cluster on this machine, to try debut as it runs on a cluster.

One master and N workers on loopback addresses (127.0.0.1, 127.0.0.2, ...),
started through the installed pyspark's own ``spark-class`` (the pip package
has no start-master script). Jobs go in with spark-submit, the built wheel in
``--py-files`` and ``conf/envs/cluster.yaml``, exactly as on a real cluster.

    python -m debut.cluster demo            # up, wheel, the pipeline stage by stage, check, down
    python -m debut.cluster up | status | down
    python -m debut.cluster submit ingest --run-date 2026-10-01
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from typing import Dict, List, Optional, Sequence

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MASTER_HOST = "127.0.0.1"
MASTER_PORT = 7077
UI_PORT = 8080


def _state_dir(base: str) -> str:
    path = os.path.join(base, "_cluster")
    os.makedirs(path, exist_ok=True)
    return path


def _spark_home() -> str:
    import pyspark
    return os.path.dirname(pyspark.__file__)


def _env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    env = dict(os.environ)
    env.setdefault("SPARK_HOME", _spark_home())
    env.setdefault("PYSPARK_PYTHON", sys.executable)
    env.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    env["SPARK_LOCAL_IP"] = MASTER_HOST
    env.update(extra or {})
    return env


def master_url() -> str:
    return f"spark://{MASTER_HOST}:{MASTER_PORT}"


def _spawn(name: str, args: List[str], state: str, env: Dict[str, str]) -> int:
    log = open(os.path.join(state, f"{name}.log"), "ab")
    proc = subprocess.Popen([os.path.join(_spark_home(), "bin", "spark-class"), *args], stdout=log,
                            stderr=subprocess.STDOUT, env=env, start_new_session=True)
    with open(os.path.join(state, f"{name}.pid"), "w") as f:
        f.write(str(proc.pid))
    return proc.pid


def master_json(timeout: float = 2.0) -> Optional[dict]:
    try:
        with urllib.request.urlopen(f"http://{MASTER_HOST}:{UI_PORT}/json/", timeout=timeout) as r:
            return json.loads(r.read().decode())
    except OSError:
        return None


def up(state_base: str, workers: int = 2, cores: int = 1, memory: str = "5g", wait_s: float = 90) -> dict:
    """Start the master and ``workers`` workers; wait until all are ALIVE."""
    state = _state_dir(state_base)
    if master_json() is None:
        _spawn("master", ["org.apache.spark.deploy.master.Master", "--host", MASTER_HOST,
                          "--port", str(MASTER_PORT), "--webui-port", str(UI_PORT)], state, _env())
    for i in range(workers):
        host = f"127.0.0.{i + 2}"
        work_dir = os.path.join(state, f"worker-{i + 1}")
        os.makedirs(work_dir, exist_ok=True)
        _spawn(f"worker-{i + 1}", ["org.apache.spark.deploy.worker.Worker", master_url(), "--host", host,
                                   "--cores", str(cores), "--memory", memory, "--work-dir", work_dir,
                                   "--webui-port", str(UI_PORT + 1 + i)],
               state, _env({"SPARK_LOCAL_IP": host}))
    deadline = time.time() + wait_s
    while time.time() < deadline:
        info = master_json()
        if info and sum(w.get("state") == "ALIVE" for w in info.get("workers", [])) >= workers:
            return info
        time.sleep(1)
    raise RuntimeError(f"cluster did not come up in {wait_s}s; logs in {state}")


def down(state_base: str) -> None:
    state = _state_dir(state_base)
    for pid_file in glob.glob(os.path.join(state, "*.pid")):
        try:
            pid = int(open(pid_file).read().strip())
            os.killpg(pid, signal.SIGTERM)
        except (ValueError, ProcessLookupError, PermissionError):
            pass
        os.remove(pid_file)


def build_wheel(out_dir: str) -> str:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", out_dir, ROOT], check=True)
    wheels = sorted(glob.glob(os.path.join(out_dir, "debut-*.whl")), key=os.path.getmtime)
    return wheels[-1]


def submit(job: str, wheel: str, args: Sequence[str] = (), executor_memory: str = "4g",
           env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
    """spark-submit one job to the standalone cluster in client mode."""
    cmd = [os.path.join(_spark_home(), "bin", "spark-submit"), "--master", master_url(),
           "--deploy-mode", "client", "--executor-memory", executor_memory, "--executor-cores", "1",
           "--conf", "spark.ui.showConsoleProgress=false",
           "--py-files", wheel, os.path.join(ROOT, "jobs", f"{job}.py"), "--env", "cluster", *args]
    print("[cluster] " + " ".join(cmd), flush=True)
    return subprocess.run(cmd, env=_env(env), capture_output=True, text=True)


def demo(base: str, stages: Sequence[str], run_date: str, workers: int = 2) -> int:
    from debut.cli import available_jobs

    env = {"DEBUT_DATA_DIR": os.path.join(base, "data"), "DEBUT_LANDING_DIR": os.path.join(base, "landing"),
           "DEBUT_TRUTH_DIR": os.path.join(base, "truth"), "DEBUT_REPORTS_DIR": os.path.join(base, "reports")}
    os.environ.update(env)
    stages = [s for s in (stages or available_jobs()) if s in available_jobs()]
    info = up(base, workers=workers)
    print(f"[cluster] master {master_url()} with workers: "
          + ", ".join(f"{w['host']} ({w['cores']} cores, {w['memory']} MB)" for w in info["workers"]))
    try:
        wheel = build_wheel(os.path.join(base, "dist"))
        for job in stages:
            t0 = time.time()
            res = submit(job, wheel, ["--run-date", run_date], env=env)
            sys.stdout.write(res.stdout)
            if res.returncode != 0:
                sys.stderr.write(res.stderr[-5000:])
                print(f"[cluster] {job} FAILED (exit {res.returncode})")
                return res.returncode
            hosts = sorted({line.split("on hostPort ")[-1].split(":")[0] for line in res.stderr.splitlines()
                            if "Granted executor ID" in line})
            print(f"[cluster] {job} ok in {time.time() - t0:.1f}s; executors granted on: {', '.join(hosts) or '-'}")
    finally:
        down(base)
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m debut.cluster")
    p.add_argument("command", choices=["up", "down", "status", "submit", "demo"])
    p.add_argument("job", nargs="?")
    p.add_argument("--base", default=os.environ.get("DEBUT_CLUSTER_DIR", "/tmp/debut-cluster"))
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--run-date", default="2026-10-01")
    p.add_argument("--stages", default="", help="comma-separated; default: every stage of this build")
    a = p.parse_args(argv)
    if a.command == "up":
        print(json.dumps(up(a.base, workers=a.workers), indent=1))
    elif a.command == "down":
        down(a.base)
    elif a.command == "status":
        print(json.dumps(master_json(), indent=1))
    elif a.command == "submit":
        res = submit(a.job, build_wheel(os.path.join(a.base, "dist")), ["--run-date", a.run_date])
        sys.stdout.write(res.stdout)
        sys.stderr.write(res.stderr[-5000:])
        return res.returncode
    elif a.command == "demo":
        return demo(a.base, [s for s in a.stages.split(",") if s], a.run_date, workers=a.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
