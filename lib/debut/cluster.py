"""A real Spark standalone cluster on this machine, to try debut as it runs on a cluster.

One master and N workers on loopback addresses (127.0.0.1, 127.0.0.2, ...),
started through the installed pyspark's own ``spark-class`` (the pip package
has no start-master script). Jobs go in with spark-submit, the built wheel in
``--py-files`` and ``conf/envs/cluster.yaml``, exactly as on a real cluster.

    python -m debut.cluster demo            # up, wheel, the pipeline stage by stage, check, down
    python -m debut.cluster faults          # a worker killed in the middle of ingest; the job still finishes
    python -m debut.cluster up | status | down
    python -m debut.cluster submit ingest --run-date 2026-10-01

The pseudonymisation key is a random one per demo, passed to the jobs in the
environment (DEBUT_HASH_KEY) and never written anywhere.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
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


def submit_cmd(job: str, wheel: str, args: Sequence[str] = (), executor_memory: str = "4g") -> List[str]:
    """The spark-submit command line of one job (client mode, the wheel in --py-files)."""
    return [os.path.join(_spark_home(), "bin", "spark-submit"), "--master", master_url(),
            "--deploy-mode", "client", "--executor-memory", executor_memory, "--executor-cores", "1",
            "--conf", "spark.ui.showConsoleProgress=false",
            "--py-files", wheel, os.path.join(ROOT, "jobs", f"{job}.py"), "--env", "cluster", *args]


def submit(job: str, wheel: str, args: Sequence[str] = (), executor_memory: str = "4g",
           env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
    """spark-submit one job to the standalone cluster in client mode."""
    cmd = submit_cmd(job, wheel, args, executor_memory)
    print("[cluster] " + " ".join(cmd), flush=True)
    return subprocess.run(cmd, env=_env(env), capture_output=True, text=True)


def _demo_env(base: str) -> Dict[str, str]:
    env = {"DEBUT_DATA_DIR": os.path.join(base, "data"), "DEBUT_LANDING_DIR": os.path.join(base, "landing"),
           "DEBUT_TRUTH_DIR": os.path.join(base, "truth"), "DEBUT_REPORTS_DIR": os.path.join(base, "reports")}
    env.setdefault("DEBUT_HASH_KEY", os.environ.get("DEBUT_HASH_KEY") or os.urandom(32).hex())
    os.environ.update(env)
    return env


def executor_hosts(driver_log: str) -> List[str]:
    """Hosts the master granted executors on, from the driver's log."""
    return sorted({line.split("on hostPort ")[-1].split(":")[0] for line in driver_log.splitlines()
                   if "Granted executor ID" in line and "on hostPort " in line})


def _check(res: subprocess.CompletedProcess, job: str, t0: float) -> int:
    sys.stdout.write(res.stdout)
    if res.returncode != 0:
        sys.stderr.write(res.stderr[-5000:])
        print(f"[cluster] {job} FAILED (exit {res.returncode})", flush=True)
        return res.returncode
    hosts = executor_hosts(res.stderr)
    print(f"[cluster] {job} ok in {time.time() - t0:.1f}s; executors granted on: {', '.join(hosts) or '-'}",
          flush=True)
    return 0


def demo(base: str, stages: Sequence[str], run_date: str, workers: int = 2) -> int:
    from debut.cli import available_jobs

    env = _demo_env(base)
    stages = [s for s in (stages or available_jobs()) if s in available_jobs()]
    info = up(base, workers=workers)
    print(f"[cluster] master {master_url()} with workers: "
          + ", ".join(f"{w['host']} ({w['cores']} cores, {w['memory']} MB)" for w in info["workers"]), flush=True)
    t_all = time.time()
    try:
        wheel = build_wheel(os.path.join(base, "dist"))
        for job in stages:
            t0 = time.time()
            code = _check(submit(job, wheel, ["--run-date", run_date], env=env), job, t0)
            if code:
                return code
    finally:
        down(base)
    print(f"[cluster] pipeline of {len(stages)} stages done in {time.time() - t_all:.1f}s", flush=True)
    return 0


def _worker_pid(state: str, n: int) -> int:
    return int(open(os.path.join(state, f"worker-{n}.pid")).read().strip())


def faults(base: str, run_date: str, kill_after_s: float = 20.0) -> int:
    """Kill worker 2 (and its executor) while ingest runs; the job must finish and reconcile.

    Spark reschedules the lost tasks on the surviving worker; Delta commits only
    when the job's write finishes, so the tables hold each row once. Checked:
    the ingest exit code, read = accepted + quarantined + duplicates per source,
    and bronze.events holding exactly the simulator's clean events.
    """
    env = _demo_env(base)
    for sub in ("data", "landing", "truth"):
        shutil.rmtree(os.path.join(base, sub), ignore_errors=True)
    state = _state_dir(base)
    up(base, workers=2)
    try:
        wheel = build_wheel(os.path.join(base, "dist"))
        t0 = time.time()
        if _check(submit("simulate", wheel, ["--run-date", run_date], env=env), "simulate", t0):
            return 1
        cmd_env = _env(env)
        cmd = submit_cmd("ingest", wheel, ["--run-date", run_date], executor_memory="3g")
        log_path = os.path.join(state, "faults-ingest.log")
        with open(log_path, "w") as log:
            proc = subprocess.Popen(cmd, env=cmd_env, stdout=log, stderr=subprocess.STDOUT)
            deadline = time.time() + 300
            while time.time() < deadline and len(executor_hosts(open(log_path).read())) < 2:
                time.sleep(1)
            time.sleep(kill_after_s)
            killed = proc.poll() is None
            if killed:
                pid = _worker_pid(state, 2)
                os.killpg(pid, signal.SIGKILL)  # the worker JVM and the executor it launched
                print(f"[cluster] killed worker-2 (pid {pid}) and its executor while ingest was running", flush=True)
            code = proc.wait()
        out = open(log_path).read()
        print("\n".join(line for line in out.splitlines() if line.startswith("[")), flush=True)
        lost = [line for line in out.splitlines() if "Lost executor" in line or "ExecutorLostFailure" in line]
        print(f"[cluster] ingest exit {code}; executor-loss lines in the driver log: {len(lost)}", flush=True)
        if code != 0 or not killed:
            print("[cluster] FAULT CHECK FAILED: " + ("ingest failed" if code else "ingest ended before the kill"))
            return 1
        return _verify_ingest(base, run_date)
    finally:
        down(base)


def _verify_ingest(base: str, run_date: str) -> int:
    from debut import io
    from debut.config import load_config
    from debut.spark import get_spark

    conf = load_config("cluster", ["spark.master=local[2]", "spark.ui_enabled=false"])
    spark = get_spark(conf, app_name="debut-fault-check")
    summary = json.load(open(os.path.join(conf.paths.truth_dir, "summary.json")))
    events = io.read(spark, conf, "bronze.events")
    n, distinct = events.count(), events.select("event_id").distinct().count()
    log = io.read(spark, conf, "ops.run_log").collect()
    ok = n == distinct == summary["events"] and all(
        r.read == r.accepted + r.quarantined + r.duplicates for r in log)
    print(f"[cluster] bronze.events {n:,} rows, {distinct:,} distinct ids, simulator wrote {summary['events']:,} "
          f"clean events; run_log reconciles: {all(r.read == r.accepted + r.quarantined + r.duplicates for r in log)}"
          f" -> {'OK' if ok else 'FAILED'}", flush=True)
    spark.stop()
    return 0 if ok else 1


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m debut.cluster")
    p.add_argument("command", choices=["up", "down", "status", "submit", "demo", "faults"])
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
    elif a.command == "faults":
        return faults(a.base, a.run_date)
    return 0


if __name__ == "__main__":
    sys.exit(main())
