"""Benchmark of the deep-learning data path (not part of the tests).

    .venv/bin/python -m debut.deep.bench [--rows 100000] [--batch-size 256] [--steps 200] [--epochs 4]

1. Throughput (samples/s, one process): Petastorm loader vs an in-memory
   ``TensorDataset`` ``DataLoader`` over the same rows, reading only and
   reading + one CTR training step per batch. Goal: Petastorm >= 0.5x.
2. Horovod scaling: ``horovod.spark.run`` with 1 vs 2 processes, same data
   and batch size per process; median seconds per epoch (first epoch left out).

Everything is written under a temporary directory, removed at the end.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from typing import Callable, Dict, Iterator

import numpy as np


def synthetic_ctr(spark, rows: int, user_dim: int, item_dim: int, partitions: int):
    """Rows generated on the executors (no driver-side list): id, user_features, item_features, label."""
    from pyspark.sql import functions as F

    def vec(seed: int, dim: int):
        return F.array(*[F.randn(seed * 1000 + j).cast("float") for j in range(dim)])

    df = (spark.range(rows, numPartitions=partitions)
          .select("id", vec(1, user_dim).alias("user_features"), vec(2, item_dim).alias("item_features")))
    score = (F.col("user_features")[0] * 2 + F.col("item_features")[0] * 2
             + F.col("user_features")[1] * F.col("item_features")[1] * 1.5)
    return df.withColumn("label", (score > 0).cast("float"))


def _rate(batches: Iterator, steps: int, step_fn: Callable, warmup: int = 5) -> float:
    for _ in range(warmup):
        step_fn(next(batches))
    t0, n = time.perf_counter(), 0
    for _ in range(steps):
        n += step_fn(next(batches))
    return n / (time.perf_counter() - t0)


def loader_throughput(spark, conf, deep, df, steps: int, repeats: int = 3) -> Dict[str, float]:
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from debut.deep.data import converters, open_loader
    from debut.deep.tasks import get_task, validate_input

    task = get_task("ctr")
    clean, dims, _ = validate_input(df, task, deep)
    torch.manual_seed(0)
    model = task.build_model(dims, deep)
    opt = torch.optim.Adam(model.parameters(), lr=deep.lr)

    def read_only(batch):
        x, _ = task.pack(batch)
        return x.shape[0]

    def train_step(batch):
        x, y = task.pack(batch)
        opt.zero_grad()
        task.loss(model, x, y, deep).backward()
        opt.step()
        return x.shape[0]

    pdf = clean.toPandas()                          # the benchmark's data is bounded by --rows
    tensors = {c: torch.from_numpy(np.stack(pdf[c].to_numpy()).astype(np.float32)) for c in task.features}
    tensors.update({c: torch.from_numpy(pdf[c].to_numpy(np.float32)) for c in task.labels})
    names = list(tensors)
    mem = DataLoader(TensorDataset(*tensors.values()), batch_size=deep.batch_size, shuffle=True, drop_last=True)

    def endless():
        while True:
            for cols in mem:
                yield dict(zip(names, cols))

    # alternate the two sources round by round and keep medians: a shared 2-core VM is noisy
    rates: Dict[str, list] = {}
    with converters(spark, conf, deep, {"bench": clean}) as conv:
        with open_loader(conv["bench"], rank=0, size=1, batch_size=deep.batch_size, shuffle=True,
                         seed=deep.seed, shuffle_buffer=deep.shuffle_buffer) as loader:
            sources = {"petastorm": iter(loader), "memory": endless()}
            for _ in range(repeats):
                for kind, fn in (("read", read_only), ("train", train_step)):
                    for src, it in sources.items():
                        rates.setdefault(f"{src}_{kind}", []).append(_rate(it, steps, fn))
    return {k: statistics.median(v) for k, v in rates.items()}


def horovod_epoch_seconds(spark, conf, deep, df, num_proc: int) -> Dict[str, float]:
    from debut.deep.data import converters, min_shard_rows, steps_per_epoch, val_steps
    from debut.deep.loop import TrainJob
    from debut.deep.tasks import get_task, validate_input
    from debut.deep.train import run_distributed

    deep = deep.replace(num_proc=num_proc, patience=deep.epochs + 1, min_delta=-1e9)
    clean, dims, _ = validate_input(df, get_task("ctr"), deep)
    train_df, val_df = clean.randomSplit([0.9, 0.1], seed=deep.seed)
    with converters(spark, conf, deep, {"train": train_df, "val": val_df}) as conv:
        job = TrainJob(task="ctr", dims=dims, deep=deep, train_converter=conv["train"], val_converter=conv["val"],
                       steps_per_epoch=steps_per_epoch(min_shard_rows(conv["train"], num_proc), deep.batch_size),
                       val_steps=val_steps(min_shard_rows(conv["val"], num_proc), deep.batch_size))
        t0 = time.perf_counter()
        result = run_distributed(spark, job)
        wall = time.perf_counter() - t0
    epochs = [h["epoch_seconds"] for h in result["history"]]
    steady = epochs[1:] or epochs
    return {"epoch_s": statistics.median(steady), "first_epoch_s": epochs[0], "wall_s": wall,
            "steps": job.steps_per_epoch, "rows": len(conv["train"]),
            "samples_per_s": job.steps_per_epoch * deep.batch_size * num_proc / statistics.median(steady)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m debut.deep.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--env", default="local")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=32, help="length of user and of item feature vectors")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=200, help="timed batches per throughput measure")
    parser.add_argument("--repeats", type=int, default=3, help="alternating rounds; medians are shown")
    parser.add_argument("--shuffle-buffer", type=int, default=None, help="default: DeepConf's")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--skip-horovod", action="store_true")
    args = parser.parse_args(argv)

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    warnings.filterwarnings("ignore", category=FutureWarning)      # petastorm on pyarrow 14
    from debut.config import load_config
    from debut.deep.conf import DeepConf
    from debut.spark import get_spark

    root = tempfile.mkdtemp(prefix="debut-deep-bench-")
    conf = load_config(args.env).replace(**{"paths.data_dir": os.path.join(root, "data"),
                                            "paths.petastorm_cache": os.path.join(root, "petastorm"),
                                            "spark.ui_enabled": False})
    deep = DeepConf(batch_size=args.batch_size, epochs=args.epochs)
    if args.shuffle_buffer is not None:
        deep = deep.replace(shuffle_buffer=args.shuffle_buffer)
    spark = get_spark(conf, app_name="debut-deep-bench")
    try:
        path = os.path.join(root, "data", "bench_ctr")
        synthetic_ctr(spark, args.rows, args.dim, args.dim, partitions=8).write.format("delta").save(path)
        df = spark.read.format("delta").load(path)
        print(f"\n== data: {args.rows} rows, user/item vectors {args.dim}+{args.dim} floats, "
              f"batch {args.batch_size}, {os.cpu_count()} cores")

        tp = loader_throughput(spark, conf, deep, df, args.steps, args.repeats)
        print(f"\n== 1. samples/s, one process, median of {args.repeats} alternating rounds of {args.steps} "
              f"batches (Petastorm reader_pool_type='dummy', shuffle buffer {deep.shuffle_buffer})")
        print(f"{'':12}{'petastorm':>12}{'in-memory':>12}{'ratio':>8}")
        for kind in ("read", "train"):
            p, m = tp[f"petastorm_{kind}"], tp[f"memory_{kind}"]
            print(f"{kind + ' only' if kind == 'read' else 'read+train':12}{p:12,.0f}{m:12,.0f}{p / m:8.2f}x")
        print(f"goal: petastorm >= 0.5x in-memory when training -> "
              f"{'met' if tp['petastorm_train'] >= 0.5 * tp['memory_train'] else 'NOT met'}")

        if not args.skip_horovod:
            res = {n: horovod_epoch_seconds(spark, conf, deep, df, n) for n in (1, 2)}
            print(f"\n== 2. horovod.spark.run, {args.epochs} epochs, "
                  f"{res[1]['rows']} training rows, batch {args.batch_size} per process")
            print(f"{'processes':>10}{'steps/ep':>10}{'s/epoch':>10}{'1st ep s':>10}{'samples/s':>12}{'wall s':>9}")
            for n, r in res.items():
                print(f"{n:>10}{r['steps']:>10}{r['epoch_s']:>10.2f}{r['first_epoch_s']:>10.2f}"
                      f"{r['samples_per_s']:>12,.0f}{r['wall_s']:>9.1f}")
            print(f"time per epoch, 1 process / 2 processes: {res[1]['epoch_s'] / res[2]['epoch_s']:.2f}x speed-up")
    finally:
        spark.stop()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
