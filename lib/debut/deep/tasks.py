"""Input contracts of the three deep models, and how each is trained and scored.

Every task reads a Spark DataFrame with fixed-length numeric array feature
columns plus label columns (other columns are ignored for training and
carried through by scoring). Rows with a null feature/label, a null array
element or a wrong array length are dropped from training (and counted in
MLflow as ``rows_invalid``); at scoring time they keep their row with null
predictions.

ctr (P(purchase) of a user for an item, items described by content only)
    user_features     array<float>  length U: customer profile vector (RFM, affinities, taste embedding)
    item_features     array<float>  length I: item content vector (price, category one-hot, text embedding...)
    label             numeric       1 = purchased (within the label window), 0 = not
  scores: p_purchase double

sequence (next category and purchase intent from the last N interactions)
    seq_category      array<int>    length seq_len: category ids 1..C, oldest first, left-padded with 0
    seq_event         array<int>    length seq_len: event type ids 1..E (0 where seq_category is 0)
    seq_gap           array<float>  length seq_len: time gap, e.g. log1p(hours since previous event)
    next_category     int           label, 1..C
    purchase_intent   numeric       label, 1 = purchased in the label window
  scores: next_category_probs array<double> (index = category id, [0] = 0),
          top_category int, p_purchase_intent double

demand (first-N-week demand of a new product)
    attributes        array<float>  length A: numeric attributes (log price, one-hots, ...)
    text_embedding    array<float>  length T: e.g. 384-d sentence embedding of title/description
    category_context  array<float>  length K: category demand level, trend, price position, ...
    demand_log1p      numeric       label: log1p(units sold in the first N weeks)
  scores: demand_q10, demand_q50, demand_q90 (log1p units; names follow deep.quantiles)
          and units_q10, units_q50, units_q90 (expm1 of them)
"""
from __future__ import annotations

from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import pandas as pd
import torch
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T
from torch import nn
from torch.nn import functional as TF

from debut.deep.conf import DeepConf
from debut.deep.models import CTRModel, DemandNet, SequenceModel, pinball_loss

# column names (the contract)
USER_FEATURES, ITEM_FEATURES, LABEL = "user_features", "item_features", "label"
SEQ_CATEGORY, SEQ_EVENT, SEQ_GAP = "seq_category", "seq_event", "seq_gap"
NEXT_CATEGORY, PURCHASE_INTENT = "next_category", "purchase_intent"
ATTRIBUTES, TEXT_EMBEDDING, CATEGORY_CONTEXT, DEMAND_LOG1P = (
    "attributes", "text_embedding", "category_context", "demand_log1p")


class Task:
    """One model's contract: feature/label columns, model, loss, score columns."""

    name: str = ""
    features: Tuple[str, ...] = ()
    labels: Tuple[str, ...] = ()
    int_features: Tuple[str, ...] = ()     # array<int> columns (ids)

    @property
    def columns(self) -> Tuple[str, ...]:
        return self.features + self.labels

    # ------------------------------------------------------------ validation
    def valid_row(self) -> Column:
        """True where every feature and label is present and no array element is null."""
        cond = F.lit(True)
        for c in self.columns:
            cond = cond & F.col(c).isNotNull()
        for c in self.features:
            cond = cond & ~F.exists(F.col(c), lambda v: v.isNull())
        return F.coalesce(cond, F.lit(False))

    def extra_aggs(self) -> List[Column]:
        return []

    def dims_from_stats(self, stats: Mapping[str, int], deep: DeepConf) -> Dict[str, int]:
        """Model dimensions from the validation aggregate; raises on a broken contract."""
        dims: Dict[str, int] = {}
        for c in self.features:
            lo, hi = stats[f"min_len_{c}"], stats[f"max_len_{c}"]
            if lo is None:
                raise ValueError(f"{self.name}: no valid rows (column {c} is null or empty everywhere)")
            if lo != hi or lo < 1:
                raise ValueError(f"{self.name}: column {c} must be a fixed-length non-empty array, "
                                 f"lengths range {lo}..{hi}")
            dims[c] = int(lo)
        return dims

    # ------------------------------------------------------------- modelling
    def build_model(self, dims: Mapping[str, int], deep: DeepConf) -> nn.Module:
        raise NotImplementedError

    def loss(self, model: nn.Module, x: torch.Tensor, y: Mapping[str, torch.Tensor],
             deep: DeepConf) -> torch.Tensor:
        raise NotImplementedError

    def pack(self, batch: Mapping[str, torch.Tensor]) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """A petastorm batch (dict of column tensors) -> (packed x, labels)."""
        b = batch[self.features[0]].shape[0]
        x = torch.cat([torch.as_tensor(batch[c]).reshape(b, -1).float() for c in self.features], dim=1)
        return x, {c: torch.as_tensor(batch[c]) for c in self.labels}

    def pack_pandas(self, pdf: pd.DataFrame,
                    widths: Optional[Sequence[int]] = None) -> Tuple[np.ndarray, np.ndarray]:
        """Rows of ``pdf`` -> (packed float32 x of the valid rows, boolean mask of valid rows).

        A row is valid when every feature array is present, has no null/NaN
        element and has the expected width (``widths``, one per feature
        column; default: the most common width in ``pdf``).
        """
        n = len(pdf)
        valid = np.ones(n, dtype=bool)
        blocks = []
        for j, c in enumerate(self.features):
            arrs = []
            lens = np.full(n, -1)
            for i, v in enumerate(pdf[c].to_numpy()):
                a = None
                if v is not None:
                    try:
                        a = np.asarray(v, dtype=np.float32)
                    except (TypeError, ValueError):  # a null element inside the array
                        a = None
                if a is not None and a.ndim == 1 and not np.isnan(a).any():
                    lens[i] = a.shape[0]
                arrs.append(a)
            if widths is not None:
                expected = int(widths[j])
            else:
                expected = int(np.bincount(lens[lens >= 0]).argmax()) if (lens >= 0).any() else 0
            valid &= lens == expected
            blocks.append((arrs, expected))
        rows = np.flatnonzero(valid)
        x = np.concatenate([np.stack([arrs[i] for i in rows]) if len(rows) else np.zeros((0, w), np.float32)
                            for arrs, w in blocks], axis=1).astype(np.float32, copy=False)
        return x, valid

    def feature_widths(self, model: nn.Module) -> Tuple[int, ...]:
        """Array length of each feature column that ``model`` expects."""
        raise NotImplementedError

    # --------------------------------------------------------------- scoring
    def output_fields(self, model: nn.Module) -> List[T.StructField]:
        raise NotImplementedError

    def outputs(self, preds: np.ndarray, model: nn.Module) -> Dict[str, list]:
        """Prediction array (ServingModel output) -> output column values."""
        raise NotImplementedError


class CTRTask(Task):
    name = "ctr"
    features = (USER_FEATURES, ITEM_FEATURES)
    labels = (LABEL,)

    def build_model(self, dims, deep):
        return CTRModel(dims[USER_FEATURES], dims[ITEM_FEATURES], embed_dim=deep.embed_dim,
                        hidden_dim=deep.hidden_dim, dropout=deep.dropout)

    def loss(self, model, x, y, deep):
        return TF.binary_cross_entropy_with_logits(model(x), y[LABEL].float().view(-1))

    def feature_widths(self, model):
        return (model.user_dim, model.item_dim)

    def output_fields(self, model):
        return [T.StructField("p_purchase", T.DoubleType())]

    def outputs(self, preds, model):
        return {"p_purchase": preds[:, 0].astype(np.float64)}


class SequenceTask(Task):
    name = "sequence"
    features = (SEQ_CATEGORY, SEQ_EVENT, SEQ_GAP)
    labels = (NEXT_CATEGORY, PURCHASE_INTENT)
    int_features = (SEQ_CATEGORY, SEQ_EVENT)

    def extra_aggs(self):
        ok = self.valid_row()
        return [F.max(F.when(ok, F.array_max(SEQ_CATEGORY))).alias("max_category_seq"),
                F.max(F.when(ok, F.col(NEXT_CATEGORY))).alias("max_category_label"),
                F.min(F.when(ok, F.col(NEXT_CATEGORY))).alias("min_category_label"),
                F.max(F.when(ok, F.array_max(SEQ_EVENT))).alias("max_event")]

    def dims_from_stats(self, stats, deep):
        dims = super().dims_from_stats(stats, deep)
        for c in self.features:
            if dims[c] != deep.seq_len:
                raise ValueError(f"sequence: column {c} has length {dims[c]}, deep.seq_len is {deep.seq_len}")
        if (stats["min_category_label"] or 0) < 1:
            raise ValueError(f"sequence: {NEXT_CATEGORY} must be a category id >= 1 "
                             f"(0 is padding), found {stats['min_category_label']}")
        dims["num_categories"] = int(max(stats["max_category_seq"] or 0, stats["max_category_label"] or 0))
        dims["num_event_types"] = int(max(1, stats["max_event"] or 0))
        return dims

    def build_model(self, dims, deep):
        return SequenceModel(deep.seq_len, dims["num_categories"], dims["num_event_types"],
                             embed_dim=deep.embed_dim, hidden_dim=deep.hidden_dim, dropout=deep.dropout)

    def loss(self, model, x, y, deep):
        out = model(x)
        target = y[NEXT_CATEGORY].long().view(-1)
        return (TF.cross_entropy(out[:, :-1], target)
                + deep.intent_weight * TF.binary_cross_entropy_with_logits(
                    out[:, -1], y[PURCHASE_INTENT].float().view(-1)))

    def feature_widths(self, model):
        return (model.seq_len,) * 3

    def output_fields(self, model):
        return [T.StructField("next_category_probs", T.ArrayType(T.DoubleType())),
                T.StructField("top_category", T.IntegerType()),
                T.StructField("p_purchase_intent", T.DoubleType())]

    def outputs(self, preds, model):
        probs = preds[:, :-1].astype(np.float64)
        return {"next_category_probs": list(probs),
                "top_category": probs.argmax(axis=1).astype(np.int32),
                "p_purchase_intent": preds[:, -1].astype(np.float64)}


def quantile_suffix(q: float) -> str:
    """0.1 -> 'q10', 0.975 -> 'q97_5'."""
    return "q" + f"{round(q * 100, 6):g}".replace(".", "_")


class DemandTask(Task):
    name = "demand"
    features = (ATTRIBUTES, TEXT_EMBEDDING, CATEGORY_CONTEXT)
    labels = (DEMAND_LOG1P,)

    def build_model(self, dims, deep):
        return DemandNet(dims[ATTRIBUTES], dims[TEXT_EMBEDDING], dims[CATEGORY_CONTEXT], deep.quantiles,
                         hidden_dim=deep.hidden_dim, dropout=deep.dropout)

    def loss(self, model, x, y, deep):
        return pinball_loss(model(x), y[DEMAND_LOG1P].float().view(-1), deep.quantiles)

    def feature_widths(self, model):
        return (model.attr_dim, model.text_dim, model.context_dim)

    def output_fields(self, model):
        qs = model.quantiles
        return ([T.StructField(f"demand_{quantile_suffix(q)}", T.DoubleType()) for q in qs]
                + [T.StructField(f"units_{quantile_suffix(q)}", T.DoubleType()) for q in qs])

    def outputs(self, preds, model):
        out = {}
        for j, q in enumerate(model.quantiles):
            out[f"demand_{quantile_suffix(q)}"] = preds[:, j].astype(np.float64)
        for j, q in enumerate(model.quantiles):
            out[f"units_{quantile_suffix(q)}"] = np.expm1(preds[:, j].astype(np.float64))
        return out


TASKS: Dict[str, Task] = {t.name: t for t in (CTRTask(), SequenceTask(), DemandTask())}


def get_task(name: str) -> Task:
    try:
        return TASKS[name]
    except KeyError:
        raise ValueError(f"unknown deep task {name!r} (known: {', '.join(TASKS)})") from None


def validate_input(df: DataFrame, task: Task, deep: DeepConf,
                   overrides: Optional[Mapping[str, int]] = None) -> Tuple[DataFrame, Dict[str, int], Dict[str, int]]:
    """Check the contract in one aggregate pass.

    Returns (the valid rows with only the task's columns, model dims, counts
    ``{"rows": n, "rows_invalid": m}``). ``overrides`` fixes dims such as
    ``num_categories`` so a vocabulary is stable across runs.
    """
    missing = [c for c in task.columns if c not in df.columns]
    if missing:
        raise ValueError(f"{task.name}: input lacks column(s) {', '.join(missing)} "
                         f"(contract: features {task.features}, labels {task.labels})")
    for c in task.features:
        dt = df.schema[c].dataType
        if not isinstance(dt, T.ArrayType) or not isinstance(dt.elementType, T.NumericType):
            raise ValueError(f"{task.name}: column {c} must be an array of numbers, got {dt.simpleString()}")
    ok = task.valid_row()
    aggs = [F.count(F.lit(1)).alias("rows"), F.sum(F.when(ok, 0).otherwise(1)).alias("rows_invalid")]
    for c in task.features:
        aggs += [F.min(F.when(ok, F.size(c))).alias(f"min_len_{c}"),
                 F.max(F.when(ok, F.size(c))).alias(f"max_len_{c}")]
    stats = df.agg(*aggs, *task.extra_aggs()).first().asDict()
    dims = task.dims_from_stats(stats, deep)
    dims.update(overrides or {})
    casts = [F.col(c).cast(T.ArrayType(T.IntegerType() if c in task.int_features else T.FloatType())).alias(c)
             for c in task.features]
    casts += [F.col(c).cast(T.IntegerType() if c == NEXT_CATEGORY else T.FloatType()).alias(c)
              for c in task.labels]
    clean = df.where(ok).select(*casts)
    counts = {"rows": int(stats["rows"]), "rows_invalid": int(stats["rows_invalid"] or 0)}
    return clean, dims, counts
