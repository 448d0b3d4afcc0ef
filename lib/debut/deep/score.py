"""Batch scoring of a Spark DataFrame with a registered model, through ``mapInPandas``.

The version is resolved once on the driver (every partition uses the same
one); each Python worker loads the model from the registry once and keeps it
for the partitions it serves. A model already in memory (the version just
registered) travels with the tasks instead. Rows whose features break the contract keep
their row with null predictions.
"""
from __future__ import annotations

from typing import Any, Dict, Iterator, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import types as T

from debut.config import Config
from debut.deep.conf import DeepConf, deep_conf
from debut.deep.loop import state_bytes
from debut.deep.models import ServingModel
from debut.deep.registry import load_registered, model_uri, uris
from debut.deep.tasks import get_task
from debut.spark import python_worker_pool


def score(df: DataFrame, conf: Config, task: str, *, version: Union[int, str] = "latest",
          name: Optional[str] = None, keep: Optional[Sequence[str]] = None,
          deep: Optional[DeepConf] = None, model: Optional[Tuple[ServingModel, Mapping[str, Any]]] = None
          ) -> DataFrame:
    """``df`` (the task's feature columns + anything else) -> kept columns + prediction columns.

    ``keep`` defaults to every column that is not a feature array (keys, labels). ``model``:
    (the model, its spec) already in memory, e.g. the version just registered: its weights travel
    with the tasks instead of every Python worker downloading them from the registry.
    """
    deep = deep_conf(conf, deep)
    t = get_task(task)
    name = name or deep.model_name(task)
    if model is None:
        serving, v = load_registered(conf, name, version)
        source: Dict[str, Any] = {"uri": model_uri(name, v), **uris(conf)}
    else:
        serving, spec = model
        source = {"spec": dict(spec), "state": state_bytes(serving.model)}
    inner = serving.model
    widths = t.feature_widths(inner)
    keep = list(keep) if keep is not None else [c for c in df.columns if c not in t.features]
    missing = [c for c in t.features if c not in df.columns]
    if missing:
        raise ValueError(f"{task}: cannot score, input lacks feature column(s) {', '.join(missing)}")
    out_fields = t.output_fields(inner)
    schema = T.StructType([df.schema[c] for c in keep] + out_fields)
    fn = _partition_scorer(task=task, source=source, widths=tuple(widths), keep=keep,
                           batch_size=deep.score_batch_size)
    with python_worker_pool(df.sparkSession, "torch"):   # workers holding torch end after scoring
        return df.select(*dict.fromkeys(keep + list(t.features))).mapInPandas(fn, schema)


def _load(source: Mapping[str, Any]) -> ServingModel:
    from debut.deep.registry import build_from_spec, load_cached

    if "uri" in source:
        return load_cached(source["tracking_uri"], source.get("registry_uri"), source["uri"])
    return build_from_spec(source["spec"], source["state"]).eval()


def _partition_scorer(*, task: str, source: Mapping[str, Any], widths, keep, batch_size: int):
    def score_partitions(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        import torch

        torch.set_num_threads(1)   # one Spark task per core
        t = get_task(task)
        model = None
        for pdf in batches:
            if model is None:
                model = _load(source)
            x, valid = t.pack_pandas(pdf, widths)
            with torch.no_grad():
                preds = [model(torch.from_numpy(x[i:i + batch_size])).numpy()
                         for i in range(0, len(x), batch_size)]
            out = pdf[keep].reset_index(drop=True)
            values = t.outputs(np.concatenate(preds), model.model) if preds else {}
            rows = np.flatnonzero(valid)
            for field in t.output_fields(model.model):
                out[field.name] = _fill(len(pdf), rows, values.get(field.name))
            yield out
    return score_partitions


def _fill(n: int, rows: np.ndarray, values) -> pd.Series:
    """A column of ``n`` nulls with ``values`` at ``rows`` (values may be arrays)."""
    col = np.empty(n, dtype=object)
    if values is not None:
        packed = np.empty(len(rows), dtype=object)
        packed[:] = list(values)
        col[rows] = packed
    return pd.Series(col, dtype=object)
