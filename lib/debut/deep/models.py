"""The three torch models of train_deep, importable and testable without Spark.

Every model takes one packed float tensor ``x`` of shape ``[batch, width]``
(its feature columns concatenated in the task's order; ids are stored as
floats, exact below 2**24), so MLflow's pyfunc and the Spark scorer can feed
all three the same way. ``forward`` gives what training needs (logits, raw
quantiles); ``predict`` what consumers need (probabilities, log1p-unit
quantiles); :class:`ServingModel` is the module that is logged to MLflow and
whose ``forward`` is ``predict``.
"""
from __future__ import annotations

from typing import Sequence, Tuple

import torch
from torch import nn
from torch.nn import functional as F


def _mlp(sizes: Sequence[int], dropout: float) -> nn.Sequential:
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU(), nn.Dropout(dropout)]
    return nn.Sequential(*layers)


# ------------------------------------------------------------------------- CTR
class CTRModel(nn.Module):
    """DeepFM over a dense user vector and an item *content* vector -> purchase logit.

    Both vectors are projected to ``num_fields`` field embeddings each; the FM
    term crosses all fields (user x item affinities), the deep MLP sees them
    all, a linear term sees the raw features. Items are described only by
    content, so items with no history can be scored.
    """

    def __init__(self, user_dim: int, item_dim: int, *, num_fields: int = 4, embed_dim: int = 16,
                 hidden_dim: int = 64, dropout: float = 0.1):
        super().__init__()
        self.user_dim, self.item_dim = int(user_dim), int(item_dim)
        self.num_fields, self.embed_dim = int(num_fields), int(embed_dim)
        self.user_fields = nn.Linear(self.user_dim, num_fields * embed_dim)
        self.item_fields = nn.Linear(self.item_dim, num_fields * embed_dim)
        self.linear = nn.Linear(self.user_dim + self.item_dim, 1)
        self.deep = nn.Sequential(_mlp([2 * num_fields * embed_dim, hidden_dim, hidden_dim // 2], dropout),
                                  nn.Linear(hidden_dim // 2, 1))

    @property
    def input_width(self) -> int:
        return self.user_dim + self.item_dim

    def logits(self, user: torch.Tensor, item: torch.Tensor) -> torch.Tensor:
        fields = torch.cat([self.user_fields(user).reshape(-1, self.num_fields, self.embed_dim),
                            self.item_fields(item).reshape(-1, self.num_fields, self.embed_dim)], dim=1)
        summed = fields.sum(dim=1)
        fm = 0.5 * (summed.pow(2) - fields.pow(2).sum(dim=1)).sum(dim=1) / self.embed_dim
        first = self.linear(torch.cat([user, item], dim=1)).squeeze(-1)
        return first + fm + self.deep(fields.flatten(1)).squeeze(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, user_dim + item_dim]`` -> purchase logits ``[B]``."""
        return self.logits(x[:, :self.user_dim], x[:, self.user_dim:self.input_width])

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """P(purchase), ``[B, 1]``."""
        return torch.sigmoid(self.forward(x)).unsqueeze(-1)


# -------------------------------------------------------------------- sequence
class SequenceModel(nn.Module):
    """GRU over the last ``seq_len`` interactions -> next-category logits and intent logit.

    Inputs per position: category id (1..num_categories, 0 = padding), event
    type id (1..num_event_types, 0 = padding) and the time gap (e.g. log1p
    hours since the previous interaction); oldest first. Padded positions
    (category 0) leave the hidden state unchanged, so left padding, right
    padding and an empty history all work; an empty history gives the
    bias-only prediction. The recurrence is an unrolled masked GRUCell (static
    length), which ``torch.export`` can trace. Output class ``c`` is category
    id ``c``; class 0 (padding) is masked out.
    """

    PAD_LOGIT = -1e4

    def __init__(self, seq_len: int, num_categories: int, num_event_types: int, *, embed_dim: int = 16,
                 hidden_dim: int = 64, dropout: float = 0.1):
        super().__init__()
        self.seq_len, self.num_categories = int(seq_len), int(num_categories)
        self.num_event_types, self.hidden_dim = int(num_event_types), int(hidden_dim)
        event_dim = max(4, embed_dim // 2)
        self.cat_emb = nn.Embedding(self.num_categories + 1, embed_dim, padding_idx=0)
        self.event_emb = nn.Embedding(self.num_event_types + 1, event_dim, padding_idx=0)
        self.cell = nn.GRUCell(embed_dim + event_dim + 1, hidden_dim)
        self.drop = nn.Dropout(dropout)
        self.next_head = nn.Linear(hidden_dim, self.num_categories + 1)
        self.intent_head = nn.Linear(hidden_dim, 1)

    @property
    def input_width(self) -> int:
        return 3 * self.seq_len

    @property
    def num_classes(self) -> int:
        return self.num_categories + 1

    def encode(self, cats: torch.Tensor, events: torch.Tensor, gaps: torch.Tensor) -> torch.Tensor:
        cats = cats.long().clamp(0, self.num_categories)
        events = events.long().clamp(0, self.num_event_types)
        present = (cats > 0).unsqueeze(-1)
        inp = torch.cat([self.cat_emb(cats), self.event_emb(events), gaps.float().unsqueeze(-1)], dim=-1)
        h = inp.new_zeros(inp.shape[0], self.hidden_dim)
        for t in range(self.seq_len):
            h = torch.where(present[:, t], self.cell(inp[:, t], h), h)
        return self.drop(h)

    def parts(self, cats: torch.Tensor, events: torch.Tensor,
              gaps: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """(next-category logits ``[B, num_categories + 1]``, intent logit ``[B]``)."""
        h = self.encode(cats, events, gaps)
        logits = self.next_head(h)
        logits = torch.cat([torch.full_like(logits[:, :1], self.PAD_LOGIT), logits[:, 1:]], dim=1)
        return logits, self.intent_head(h).squeeze(-1)

    def split(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n = self.seq_len
        return x[:, :n], x[:, n:2 * n], x[:, 2 * n:3 * n]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, 3 * seq_len]`` -> ``[B, num_categories + 2]``: next logits, then intent logit."""
        logits, intent = self.parts(*self.split(x))
        return torch.cat([logits, intent.unsqueeze(-1)], dim=1)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, num_categories + 2]``: P(next category = c) for c = 0..C (P(0) = 0), then P(intent)."""
        out = self.forward(x)
        return torch.cat([torch.softmax(out[:, :-1], dim=1), torch.sigmoid(out[:, -1:])], dim=1)


# ---------------------------------------------------------------------- demand
class MonotoneQuantileHead(nn.Module):
    """Non-crossing quantiles: a base plus cumulative softplus increments."""

    def __init__(self, in_dim: int, num_quantiles: int):
        super().__init__()
        self.proj = nn.Linear(in_dim, num_quantiles)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        raw = self.proj(h)
        base, inc = raw[:, :1], F.softplus(raw[:, 1:])
        return torch.cat([base, base + torch.cumsum(inc, dim=1)], dim=1)


class DemandNet(nn.Module):
    """Attributes + text embedding + category context -> quantiles of log1p first-weeks units."""

    def __init__(self, attr_dim: int, text_dim: int, context_dim: int,
                 quantiles: Sequence[float] = (0.1, 0.5, 0.9), *, text_proj: int = 32, hidden_dim: int = 64,
                 dropout: float = 0.1):
        super().__init__()
        self.attr_dim, self.text_dim, self.context_dim = int(attr_dim), int(text_dim), int(context_dim)
        self.quantiles = tuple(float(q) for q in quantiles)
        self.register_buffer("taus", torch.tensor(self.quantiles, dtype=torch.float32))
        self.text = nn.Sequential(nn.Linear(self.text_dim, text_proj), nn.ReLU()) if self.text_dim else None
        trunk_in = self.attr_dim + (text_proj if self.text_dim else 0) + self.context_dim
        self.trunk = _mlp([trunk_in, hidden_dim, hidden_dim], dropout)
        self.head = MonotoneQuantileHead(hidden_dim, len(self.quantiles))

    @property
    def input_width(self) -> int:
        return self.attr_dim + self.text_dim + self.context_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, attr + text + context]`` -> non-decreasing quantiles ``[B, Q]`` (log1p units)."""
        a, t = self.attr_dim, self.attr_dim + self.text_dim
        parts = [x[:, :a]]
        if self.text is not None:
            parts.append(self.text(x[:, a:t]))
        parts.append(x[:, t:self.input_width])
        return self.head(self.trunk(torch.cat(parts, dim=1)))

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Quantiles clamped at 0 (demand cannot be negative; clamping keeps them ordered)."""
        return self.forward(x).clamp(min=0.0)


def pinball_loss(pred: torch.Tensor, target: torch.Tensor, quantiles) -> torch.Tensor:
    """Mean quantile (pinball) loss of ``pred [B, Q]`` against ``target [B]``."""
    taus = torch.as_tensor(quantiles, dtype=pred.dtype, device=pred.device).view(1, -1)
    err = target.to(pred.dtype).view(-1, 1) - pred
    return torch.maximum(taus * err, (taus - 1.0) * err).mean()


# --------------------------------------------------------------------- serving
class ServingModel(nn.Module):
    """What is logged to MLflow: ``forward(x) = model.predict(x)``, always in eval mode."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.predict(x.float())
