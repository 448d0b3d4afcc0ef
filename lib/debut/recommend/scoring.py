"""Distributed scoring with factor matrices: top-N items per customer, top-K customers per item.

Item matrices are bounded by the catalog and broadcast; customers stay in
their partitions and are scored in ``mapInPandas`` (a batch of customers x
every item is one matrix product). Per item, each partition keeps only its best
K customers (a running top-K over its batches), so at most partitions x K rows
per item reach the final window that picks the global top K.
"""
from __future__ import annotations

import zlib
from typing import Iterator, Optional, Sequence

import numpy as np
import pandas as pd
from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.window import Window

USER_LIST = T.StructType([
    T.StructField("user_key", T.StringType(), False),
    T.StructField("rank", T.IntegerType(), False),
    T.StructField("item_id", T.StringType(), False),
    T.StructField("score", T.DoubleType(), False),
    T.StructField("is_new", T.BooleanType(), False),
])

FULL_SORT_MAX = 4096       # items per row sorted outright; above, argpartition first
SCORE_BLOCK_BYTES = 64 << 20   # a (customers x items) score block never exceeds this (float64)

_ITEM_TOP = T.StructType([
    T.StructField("item_id", T.StringType(), False),
    T.StructField("user_key", T.StringType(), True),     # null: a reach row
    T.StructField("score", T.DoubleType(), True),
    T.StructField("positive", T.LongType(), True),       # reach rows: customers with a positive score
])


def top_k_indices(scores: np.ndarray, k: int) -> np.ndarray:
    """Per row, the column indices of the k largest scores, best first (ties: lower index first).

    A stable full sort for catalog-sized rows; beyond FULL_SORT_MAX columns an
    argpartition first (ties at the k-th score are then kept in no set order).
    """
    b, n = scores.shape
    k = max(0, min(k, n))
    if k == 0 or b == 0:
        return np.zeros((b, k), dtype=np.int64)
    if n <= FULL_SORT_MAX:
        return np.argsort(-scores, axis=1, kind="stable")[:, :k]
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    return np.stack([p[np.lexsort((p, -scores[r, p]))] for r, p in enumerate(part)])


def select_list(scores: np.ndarray, is_new: np.ndarray, *, list_size: int, n_explore: int) -> np.ndarray:
    """Item indices of each customer's list (rows of ``scores``), best score first.

    The list holds the ``n_explore`` best-scored new items (fewer when fewer
    exist) and is filled up to ``list_size`` with the best remaining items.
    """
    b, n = scores.shape
    size = min(list_size, n)
    new_idx = np.flatnonzero(np.asarray(is_new, bool))
    n_new = min(n_explore, len(new_idx), size)
    top = top_k_indices(scores, size)
    if n_new == 0:
        return top
    top_new = new_idx[top_k_indices(scores[:, new_idx], n_new)]
    out = np.empty((b, size), dtype=np.int64)
    for r in range(b):
        chosen = list(top_new[r])
        taken = set(chosen)
        for i in top[r]:
            if len(chosen) == size:
                break
            if i not in taken:
                chosen.append(i)
                taken.add(i)
        sel = np.asarray(chosen, dtype=np.int64)
        out[r] = sel[np.lexsort((sel, -scores[r, sel]))]
    return out


def row_blocks(pdf: pd.DataFrame, n_items: int, budget: int = SCORE_BLOCK_BYTES,
               min_rows: int = 1) -> Iterator[pd.DataFrame]:
    """Slices of an Arrow batch small enough that its score block fits in ``budget`` bytes
    (but at least ``min_rows`` customers each).

    Arrow batches hold up to 10,000 customers; against a 100k-item catalog one
    unsliced block would be 8 GB per Python worker.
    """
    rows = max(1, min_rows, budget // (8 * max(1, n_items)))
    for start in range(0, len(pdf), rows):
        yield pdf.iloc[start:start + rows]


def _matrix(col: pd.Series) -> np.ndarray:
    return np.stack([np.asarray(v, dtype=np.float64) for v in col]) if len(col) else np.zeros((0, 0))


def _random_scores(keys: pd.Series, n_items: int, seed: int) -> np.ndarray:
    """Uniform scores, reproducible per customer (seeded by the key's CRC)."""
    return np.stack([np.random.default_rng([seed, zlib.crc32(str(k).encode())]).random(n_items) for k in keys])


def top_items_per_user(users_df: DataFrame, item_ids: Sequence[str], item_factors: np.ndarray, *,
                       list_size: int, is_new: Optional[np.ndarray] = None, n_explore: int = 0,
                       random_seed: Optional[int] = None, block_bytes: int = SCORE_BLOCK_BYTES) -> DataFrame:
    """USER_LIST rows: each customer's best ``list_size`` items by user factors . item factors.

    users_df: user_key, factors (array<float>). ``is_new`` flags the items
    eligible for the ``n_explore`` reserved slots. ``random_seed`` replaces the
    scores with seeded uniform noise (the random baseline). Customers are
    scored in blocks of at most ``block_bytes`` of scores.
    """
    spark = users_df.sparkSession
    ids = np.asarray(list(item_ids), dtype=object)
    mat = np.asarray(item_factors, dtype=np.float64).reshape(len(ids), -1)
    new = np.zeros(len(ids), bool) if is_new is None else np.asarray(is_new, bool)
    bc = spark.sparkContext.broadcast((ids, mat, new))

    def score_block(pdf: pd.DataFrame, ids_: np.ndarray, mat_: np.ndarray, new_: np.ndarray) -> pd.DataFrame:
        if random_seed is None:
            s = _matrix(pdf["factors"]) @ mat_.T
        else:
            s = _random_scores(pdf["user_key"], len(ids_), random_seed)
        idx = select_list(s, new_, list_size=list_size, n_explore=n_explore)
        k = idx.shape[1]
        return pd.DataFrame({
            "user_key": np.repeat(pdf["user_key"].to_numpy(), k),
            "rank": np.tile(np.arange(1, k + 1, dtype=np.int32), len(pdf)),
            "item_id": ids_[idx.reshape(-1)],
            "score": np.take_along_axis(s, idx, axis=1).reshape(-1),
            "is_new": new_[idx.reshape(-1)],
        })

    def score(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        ids_, mat_, new_ = bc.value
        for batch in batches:
            if batch.empty or not len(ids_):
                continue
            for pdf in row_blocks(batch, len(ids_), block_bytes):
                yield score_block(pdf, ids_, mat_, new_)

    return users_df.select("user_key", "factors").mapInPandas(score, USER_LIST)


class RunningTop:
    """The best ``k`` customers of every item over customer blocks added one at a time.

    Scores are computed for slices of items so that no temporary exceeds
    ``block_bytes``. Until every item holds k customers, blocks merge densely.
    After that a new score only matters where it beats the item's k-th best, and
    a customer drawn at random is in the top k of S seen with probability k/S:
    such scores go to a buffer of (item, score, customer) entries, merged into
    the best when it holds ``buffer_entries``. Past a few hundred thousand
    customers, scoring then costs the matrix product and one comparison per score.
    """

    def __init__(self, item_factors: np.ndarray, k: int, block_bytes: int = SCORE_BLOCK_BYTES,
                 buffer_entries: Optional[int] = None):
        self.mat, self.k, self.block_bytes = item_factors, k, block_bytes
        n = len(item_factors)
        self.best_s = np.full((k, n), -np.inf)
        self.best_u = np.zeros((k, n), dtype=np.int64)        # positions in ``keys``
        self.kth = np.full(n, -np.inf)                        # each item's k-th best once ``filled == k``
        self.filled = 0                                       # rows of best holding customers (all items alike)
        self.keys: list = []
        self.positive = np.zeros(n, dtype=np.int64)           # customers scoring above zero, per item
        self.cap = buffer_entries or max(1, block_bytes // 24)
        self._buf: list = []                                  # (items, scores, customers) arrays
        self._buffered = 0

    def add(self, users: np.ndarray, keys: Sequence[str]) -> None:
        k, n, b = self.k, len(self.mat), len(keys)
        if not b:
            return
        pos = np.arange(len(self.keys), len(self.keys) + b, dtype=np.int64)
        self.keys.extend(keys)
        full = self.filled == k
        m = self.filled + b
        keep = min(k, m)
        width = max(1, self.block_bytes // (8 * m))
        for j in range(0, n, width):
            cols = np.arange(j, min(n, j + width))
            s = users @ self.mat[cols].T                                  # (b, width)
            self.positive[cols] += (s > 0).sum(axis=0)
            if full:
                r, c = np.nonzero(s > self.kth[cols])
                if len(r):
                    self._buf.append((cols[c], s[r, c], pos[r]))
                    self._buffered += len(r)
                    if self._buffered >= self.cap:
                        self._merge_buffer()
                continue
            cand_s = np.vstack([self.best_s[:self.filled, cols], s])
            cand_u = np.vstack([self.best_u[:self.filled, cols], np.broadcast_to(pos[:, None], s.shape)])
            if keep < m:
                sel = np.argpartition(-cand_s, keep - 1, axis=0)[:keep]
                cand_s = np.take_along_axis(cand_s, sel, axis=0)
                cand_u = np.take_along_axis(cand_u, sel, axis=0)
            self.best_s[:keep, cols], self.best_u[:keep, cols] = cand_s, cand_u
            if keep == k:
                self.kth[cols] = cand_s.min(axis=0)
        self.filled = keep

    def _merge_buffer(self) -> None:
        """Merge the buffered entries into the best k of their items, a chunk of items at a time."""
        if not self._buf:
            return
        item = np.concatenate([e[0] for e in self._buf])
        score = np.concatenate([e[1] for e in self._buf])
        user = np.concatenate([e[2] for e in self._buf])
        self._buf, self._buffered = [], 0
        order = np.argsort(item, kind="stable")
        item, score, user = item[order], score[order], user[order]
        touched, start, counts = np.unique(item, return_index=True, return_counts=True)
        k = self.k
        rows = max(1, self.block_bytes // (8 * (k + int(counts.max()))))
        for a in range(0, len(touched), rows):
            t, st, cn = touched[a:a + rows], start[a:a + rows], counts[a:a + rows]
            w = int(cn.max())
            lo, hi = int(st[0]), int(st[-1] + cn[-1])
            slot = np.arange(lo, hi) - np.repeat(st, cn)                 # place within its item
            row = np.repeat(np.arange(len(t)), cn)
            cand_s = np.full((len(t), k + w), -np.inf)
            cand_u = np.zeros((len(t), k + w), dtype=np.int64)
            cand_s[:, :k], cand_u[:, :k] = self.best_s[:, t].T, self.best_u[:, t].T
            cand_s[row, k + slot], cand_u[row, k + slot] = score[lo:hi], user[lo:hi]
            sel = np.argpartition(-cand_s, k - 1, axis=1)[:, :k]
            new_s = np.take_along_axis(cand_s, sel, axis=1)
            self.best_s[:, t] = new_s.T
            self.best_u[:, t] = np.take_along_axis(cand_u, sel, axis=1).T
            self.kth[t] = new_s.min(axis=1)

    def slices(self, rows: int) -> Iterator[tuple]:
        """(item positions, user keys, scores) in slices of about ``rows`` rows, row-major (rank-free)."""
        self._merge_buffer()
        key_arr = np.asarray(self.keys, dtype=object)
        n, f = len(self.mat), self.filled
        step = max(1, rows // max(1, f))
        for j in range(0, n, step):
            cols = np.arange(j, min(n, j + step))
            yield cols, key_arr[self.best_u[:f, cols].reshape(-1)], self.best_s[:f, cols].reshape(-1)


def top_users_per_item(users_df: DataFrame, item_ids: Sequence[str], item_factors: np.ndarray, *,
                       k: int, block_bytes: int = SCORE_BLOCK_BYTES, cached: Optional[list] = None):
    """(top, reach) for every item: its ``k`` best customers and how many score above zero.

    Customers are coalesced to the cluster's parallelism first: each partition
    sends k rows per item to the final window, so the shuffle grows with
    partitions x k x items, not with customers. Within a partition, blocks of at
    least 2k customers go to a ``RunningTop`` (which bounds its temporaries by
    ``block_bytes``). Both outputs read one
    scoring pass: pass ``cached`` (a list) to have it persisted there, for the
    caller to unpersist.

    top: item_id, user_key, score, rank (1 = best; ties by user_key);
    reach: item_id, reach (customers with a positive score, over all customers).
    """
    spark = users_df.sparkSession
    ids = np.asarray(list(item_ids), dtype=object)
    mat = np.asarray(item_factors, dtype=np.float64).reshape(len(ids), -1)
    bc = spark.sparkContext.broadcast((ids, mat))

    def partition_top(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        ids_, mat_ = bc.value
        if not len(ids_):
            return
        best = RunningTop(mat_, k, block_bytes)
        for batch in batches:
            for pdf in (row_blocks(batch, len(ids_), block_bytes, 2 * k) if not batch.empty else ()):
                best.add(_matrix(pdf["factors"]), pdf["user_key"].tolist())
        if not best.filled:
            return
        # the partition's cut may split ties at the K-th score: the global window settles them by
        # user_key only among rows that got here, which is exact when scores are distinct
        for cols, users, scores in best.slices(1 << 20):
            yield pd.DataFrame({"item_id": np.tile(ids_[cols], best.filled), "user_key": users, "score": scores,
                                "positive": pd.array([None] * len(scores), dtype="Int64")})
        yield pd.DataFrame({"item_id": ids_, "user_key": None, "score": np.nan, "positive": best.positive})

    parts = max(1, spark.sparkContext.defaultParallelism)
    users = users_df.select("user_key", "factors")
    if users.rdd.getNumPartitions() > parts:
        users = users.coalesce(parts)
    rows = users.mapInPandas(partition_top, _ITEM_TOP)
    if cached is not None:
        rows = rows.persist(StorageLevel.MEMORY_AND_DISK)
        cached.append(rows)
    order = Window.partitionBy("item_id").orderBy(F.col("score").desc(), F.col("user_key"))
    top = (rows.where(F.col("user_key").isNotNull())
           .withColumn("rank", F.row_number().over(order).cast("int"))
           .where(F.col("rank") <= k)
           .select("item_id", "user_key", "score", "rank"))
    reach = (rows.where(F.col("user_key").isNull()).groupBy("item_id")
             .agg(F.sum("positive").cast("long").alias("reach")))
    return top, reach
