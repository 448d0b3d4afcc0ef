"""MLflow: log a trained model with its signature, register it, load it back.

A logged deep model holds two things:

* the MLflow pytorch flavour in the safe ``pt2`` (torch.export) format, so
  ``mlflow.pyfunc.load_model(uri).predict(float32 array [n, width])`` serves
  it anywhere without debut installed;
* ``extra_files/model_spec.json`` (task, dims, architecture settings) and
  ``extra_files/state_dict.pt`` (weights only), from which
  :func:`load_registered` rebuilds the native :class:`ServingModel` with its
  attributes (widths, quantiles, categories) that scoring needs. Loading
  never unpickles code.
"""
from __future__ import annotations

import functools
import json
import logging
import os
import tempfile
from importlib import metadata
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

import numpy as np

from debut import tracking
from debut.config import Config
from debut.deep.conf import DeepConf
from debut.deep.models import ServingModel

JOB = "train_deep"
SPEC_FILE, STATE_FILE = "model_spec.json", "state_dict.pt"
ARCH_FIELDS = ("embed_dim", "hidden_dim", "dropout", "seq_len", "quantiles")
log = logging.getLogger(__name__)


def _version_of(dist: str) -> Optional[str]:
    try:
        return metadata.version(dist).split("+")[0]   # drop local tags such as +cpu / +cu130
    except metadata.PackageNotFoundError:
        return None


def pip_requirements() -> List[str]:
    """What loading a logged model needs, pinned to this environment (explicit: MLflow drops +cpu)."""
    reqs = []
    for dist in ("torch", "numpy", "pandas", "cloudpickle", "mlflow"):
        v = _version_of(dist)
        if v:
            reqs.append(f"{dist}=={v}")
    return reqs


def model_spec(task: str, dims: Mapping[str, int], deep: DeepConf) -> Dict[str, Any]:
    """What rebuilding the module needs besides its weights."""
    arch = {k: getattr(deep, k) for k in ARCH_FIELDS}
    arch["quantiles"] = list(arch["quantiles"])
    return {"format": 1, "task": task, "dims": dict(dims), "arch": arch}


def build_from_spec(spec: Mapping[str, Any], state: bytes) -> ServingModel:
    from debut.deep.loop import load_state
    from debut.deep.tasks import get_task

    arch = dict(spec["arch"])
    arch["quantiles"] = tuple(arch["quantiles"])
    deep = DeepConf(**arch)
    model = get_task(spec["task"]).build_model(spec["dims"], deep)
    return ServingModel(load_state(model, state))


def log_model(serving: ServingModel, x_example: np.ndarray, name: Optional[str],
              spec: Mapping[str, Any]) -> Any:
    """Log ``serving`` under the active run as ``model`` (signature, example, spec, weights).

    Registers it as ``name`` unless ``name`` is None. ``x_example`` needs at
    least 2 rows (torch.export keeps a batch of 1 static).
    """
    import mlflow
    import torch
    from mlflow.models import infer_signature

    from debut.deep.loop import state_bytes

    if len(x_example) < 2:
        x_example = np.repeat(x_example[:1], 2, axis=0)
    with torch.no_grad():
        y = serving(torch.from_numpy(x_example)).numpy()
    signature = infer_signature(x_example, y)
    with tempfile.TemporaryDirectory() as tmp:
        spec_path, state_path = os.path.join(tmp, SPEC_FILE), os.path.join(tmp, STATE_FILE)
        with open(spec_path, "w") as f:
            json.dump(spec, f, indent=1, sort_keys=True)
        with open(state_path, "wb") as f:
            f.write(state_bytes(serving.model))
        kwargs = dict(name="model", signature=signature, input_example=x_example,
                      pip_requirements=pip_requirements(), registered_model_name=name,
                      extra_files=[spec_path, state_path], metadata={"debut_task": spec["task"]})
        try:
            return mlflow.pytorch.log_model(serving, serialization_format="pt2", **kwargs)
        except Exception as exc:  # a model torch.export cannot trace: still loadable via the spec
            log.warning("torch.export failed (%s); logging the model in pickle format", exc)
            return mlflow.pytorch.log_model(serving, serialization_format="pickle", **kwargs)


def resolve_version(conf: Config, name: str, version: Union[int, str] = "latest") -> int:
    """A registered model's version number; ``"latest"`` is the highest one."""
    import mlflow

    tracking.setup(conf, JOB)
    if version != "latest":
        return int(version)
    client = mlflow.tracking.MlflowClient()
    versions = [int(v.version) for v in client.search_model_versions(f"name='{name}'")]
    if not versions:
        raise LookupError(f"no registered versions of model {name!r} at {tracking.tracking_uri(conf)}")
    return max(versions)


def model_uri(name: str, version: int) -> str:
    return f"models:/{name}/{int(version)}"


def load_uri(uri: str) -> Tuple[ServingModel, Dict[str, Any]]:
    """(native ServingModel in eval mode on CPU, its spec) from a logged model's extra files."""
    import mlflow

    with tempfile.TemporaryDirectory() as tmp:
        local = mlflow.artifacts.download_artifacts(artifact_uri=f"{uri}/extra_files", dst_path=tmp)
        files = {}
        for fname in (SPEC_FILE, STATE_FILE):
            with open(os.path.join(local, fname), "rb") as f:
                files[fname] = f.read()
    spec = json.loads(files[SPEC_FILE])
    return build_from_spec(spec, files[STATE_FILE]).eval(), spec


def load_registered(conf: Config, name: str, version: Union[int, str] = "latest") -> Tuple[ServingModel, int]:
    """(the registered model as a ServingModel in eval mode on CPU, its version number)."""
    v = resolve_version(conf, name, version)
    model, _ = load_uri(model_uri(name, v))
    return model, v


@functools.lru_cache(maxsize=4)
def load_cached(tracking_uri: str, registry_uri: Optional[str], uri: str) -> ServingModel:
    """Load once per Python worker process (Spark reuses workers across partitions)."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    if registry_uri:
        mlflow.set_registry_uri(registry_uri)
    return load_uri(uri)[0]


def uris(conf: Config) -> Dict[str, Optional[str]]:
    return {"tracking_uri": tracking.tracking_uri(conf), "registry_uri": conf.mlflow.registry_uri}
