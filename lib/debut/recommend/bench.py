"""Benchmark (on demand, not a test): Spark ML ALS against the `implicit` library on the same data.

    .venv/bin/python -m debut.recommend.bench                 # 5M interactions, rank 32, 10 iterations
    .venv/bin/python -m debut.recommend.bench --interactions 1000000 --rank 16

Synthetic implicit feedback: power-law (Zipf-like) customer activity and item
popularity, distinct (user, item) pairs with a log1p count rating. Spark runs
on local[N] (--cores, default 2); `implicit` (CPU, conjugate-gradient solver)
runs with the same number of threads, rank, regularisation, alpha and
iterations. Prints both fit times and their ratio (goal: Spark <= 3x implicit).
Needs `implicit` in the venv (pip install implicit==0.7.2); without it the
reference is a numpy/scipy conjugate-gradient ALS of the same algorithm.
"""
from __future__ import annotations

import argparse
import time
from typing import Tuple

import numpy as np
import pandas as pd


def synthetic_interactions(n: int, *, users: int, items: int, seed: int,
                           user_exponent: float = 0.8, item_exponent: float = 1.0) -> pd.DataFrame:
    """``n`` distinct (user_idx, item_idx, rating) pairs, power-law in both dimensions."""
    rng = np.random.default_rng(seed)
    pu = 1.0 / np.arange(1, users + 1) ** user_exponent
    pi = 1.0 / np.arange(1, items + 1) ** item_exponent
    pu, pi = pu / pu.sum(), pi / pi.sum()
    keys = np.zeros(0, dtype=np.int64)
    counts = np.zeros(0, dtype=np.int64)
    draw = int(n * 1.5)
    while len(keys) < n:
        u = rng.permutation(users)[rng.choice(users, draw, p=pu)]     # ranks scattered over ids
        i = rng.permutation(items)[rng.choice(items, draw, p=pi)]
        k = np.concatenate([keys, u.astype(np.int64) * items + i])
        c = np.concatenate([counts, np.ones(draw, dtype=np.int64)])
        keys, inv = np.unique(k, return_inverse=True)
        counts = np.bincount(inv, weights=c).astype(np.int64)
        draw = int((n - len(keys)) * 3) + 1000
    pick = np.sort(rng.choice(len(keys), n, replace=False))
    keys, counts = keys[pick], counts[pick]
    return pd.DataFrame({"user_idx": (keys // items).astype(np.int32), "item_idx": (keys % items).astype(np.int32),
                         "rating": np.log1p(counts).astype(np.float32)})


def time_spark(df: pd.DataFrame, *, cores: int, rank: int, reg: float, alpha: float, iters: int, seed: int,
               driver_memory: str) -> float:
    from debut.config import load_config
    from debut.recommend.als import fit_als
    from debut.spark import get_spark

    conf = load_config("local", [f"spark.master=local[{cores}]", f"spark.driver_memory={driver_memory}",
                                 "spark.ui_enabled=false", f"spark.shuffle_partitions={2 * cores}"])
    spark = get_spark(conf, app_name="debut-als-bench")
    sdf = spark.createDataFrame(df).repartition(2 * cores).cache()
    sdf.count()
    t0 = time.time()
    model = fit_als(sdf, rank=rank, reg_param=reg, alpha=alpha, max_iter=iters, seed=seed, checkpoint_interval=-1)
    model.userFactors.count()          # the fit is lazy up to here on some paths: force the factors
    model.itemFactors.count()
    return time.time() - t0


def time_implicit(df: pd.DataFrame, *, cores: int, users: int, items: int, rank: int, reg: float, alpha: float,
                  iters: int, seed: int) -> Tuple[float, str]:
    from scipy import sparse

    m = sparse.csr_matrix((df["rating"].to_numpy(np.float32), (df["user_idx"], df["item_idx"])),
                          shape=(users, items))
    try:
        from implicit.cpu.als import AlternatingLeastSquares
        import implicit
    except ImportError:
        t0 = time.time()
        cg_als(m, rank=rank, reg=reg, alpha=alpha, iters=iters, seed=seed)
        return time.time() - t0, "numpy/scipy CG ALS (implicit not installed)"
    model = AlternatingLeastSquares(factors=rank, regularization=reg, alpha=alpha, iterations=iters,
                                    random_state=seed, num_threads=cores, calculate_training_loss=False)
    from threadpoolctl import threadpool_limits

    t0 = time.time()
    with threadpool_limits(1, "blas"):      # implicit parallelises over rows itself
        model.fit(m, show_progress=False)
    return time.time() - t0, f"implicit {implicit.__version__} (CPU, conjugate gradient, {cores} threads)"


def cg_als(m, *, rank: int, reg: float, alpha: float, iters: int, seed: int, cg_steps: int = 3):
    """Implicit ALS (confidence 1 + alpha r) with a few conjugate-gradient steps per row (Takacs et al.)."""
    rng = np.random.default_rng(seed)
    U = rng.normal(0, 0.01, (m.shape[0], rank))
    V = rng.normal(0, 0.01, (m.shape[1], rank))

    def half(X, Y, C):
        YtY = Y.T @ Y + reg * np.eye(rank)
        for u in range(C.shape[0]):
            lo, hi = C.indptr[u], C.indptr[u + 1]
            idx, c = C.indices[lo:hi], alpha * C.data[lo:hi]
            Yi = Y[idx]
            x = X[u]
            r = Yi.T @ (1.0 + c) - YtY @ x - Yi.T @ (c * (Yi @ x))
            p, rs = r.copy(), r @ r
            for _ in range(cg_steps):
                if rs < 1e-10:
                    break
                Ap = YtY @ p + Yi.T @ (c * (Yi @ p))
                a = rs / (p @ Ap)
                x = x + a * p
                r = r - a * Ap
                rs_new = r @ r
                p, rs = r + (rs_new / rs) * p, rs_new
            X[u] = x

    mt = m.T.tocsr()
    for _ in range(iters):
        half(U, V, m)
        half(V, U, mt)
    return U, V


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--interactions", type=int, default=5_000_000)
    p.add_argument("--users", type=int, default=200_000)
    p.add_argument("--items", type=int, default=20_000)
    p.add_argument("--rank", type=int, default=32)
    p.add_argument("--reg", type=float, default=0.05)
    p.add_argument("--alpha", type=float, default=20.0)
    p.add_argument("--iterations", type=int, default=10)
    p.add_argument("--cores", type=int, default=2)
    p.add_argument("--driver-memory", default="6g")
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args(argv)
    t0 = time.time()
    df = synthetic_interactions(a.interactions, users=a.users, items=a.items, seed=a.seed)
    print(f"data: {len(df):,} interactions, {df['user_idx'].nunique():,} users x {df['item_idx'].nunique():,} "
          f"items ({time.time() - t0:.0f}s to generate); rank {a.rank}, {a.iterations} iterations, "
          f"reg {a.reg}, alpha {a.alpha}, {a.cores} cores", flush=True)
    ref_s, ref_name = time_implicit(df, cores=a.cores, users=a.users, items=a.items, rank=a.rank, reg=a.reg,
                                    alpha=a.alpha, iters=a.iterations, seed=a.seed)
    print(f"{ref_name}: {ref_s:.1f}s", flush=True)
    spark_s = time_spark(df, cores=a.cores, rank=a.rank, reg=a.reg, alpha=a.alpha, iters=a.iterations,
                         seed=a.seed, driver_memory=a.driver_memory)
    print(f"Spark ML ALS local[{a.cores}] (exact normal equations): {spark_s:.1f}s", flush=True)
    print(f"ratio Spark / reference: {spark_s / ref_s:.2f}x (goal <= 3x)")


if __name__ == "__main__":
    main()
