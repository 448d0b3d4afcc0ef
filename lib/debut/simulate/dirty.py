"""Dirty rows: extra malformed lines mixed into landing files, each counted by kind.

Every dirty line has exactly one defect, so that ingest can reconcile
read = accepted + quarantined + duplicates: a `duplicate` is an exact copy of
a clean line (same id), every other kind is a new line that must be quarantined.
"""
from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from typing import Callable, Dict, List, Sequence, Tuple

import numpy as np

from debut.simulate.vocab import LATIN1_WORD

HUGE_CHARS = 120_000          # > 100 kB
ABSURD_PRICE = 2_500_000.0    # > 1e6
FUTURE_DAYS = (30, 400)       # after run_date
ANCIENT_DAYS = (4_000, 9_000)  # before run_date: older than any history window

EVENT_KINDS = ("malformed_json", "wrong_type_price", "wrong_type_quantity", "missing_event_id",
               "missing_user_id", "missing_event_time", "unknown_event_type", "negative_quantity",
               "absurd_price", "future_time", "ancient_time", "duplicate", "non_utf8", "huge_field")
ORDER_KINDS = ("malformed_row", "wrong_type_price", "wrong_type_quantity", "missing_order_id",
               "missing_item_id", "negative_quantity", "absurd_price", "future_time", "ancient_time",
               "duplicate", "non_utf8")
# event-type codes (landing.EVENT_TYPE_CODES) a base line must have for the defect to make sense
_PRICED = (0, 1, 2)
_WITH_QTY = (1, 2)
EVENT_BASE_TYPES = {"wrong_type_price": _PRICED, "absurd_price": _PRICED,
                    "wrong_type_quantity": _WITH_QTY, "negative_quantity": _WITH_QTY}


def _stamp(run_date: dt.date, days: int, second: int) -> str:
    t = dt.datetime.combine(run_date, dt.time()) + dt.timedelta(days=days, seconds=second)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _dump(obj: dict) -> bytes:
    return (json.dumps(obj, separators=(",", ":")) + "\n").encode("utf-8")


def bad_event(kind: str, line: bytes, new_id: str, run_date: dt.date, rng: np.random.Generator) -> bytes:
    if kind == "duplicate":
        return line
    obj = json.loads(line)
    obj["event_id"] = new_id
    if kind == "malformed_json":
        text = _dump(obj)
        return text[: len(text) // 2] + b"\n"
    if kind == "wrong_type_price":
        obj["price"] = "abc"
    elif kind == "wrong_type_quantity":
        obj["quantity"] = "two"
    elif kind.startswith("missing_"):
        del obj[kind[len("missing_"):]]
    elif kind == "unknown_event_type":
        obj["event_type"] = "wishlist"
    elif kind == "negative_quantity":
        obj["quantity"] = -int(obj["quantity"] or 1)
    elif kind == "absurd_price":
        obj["price"] = ABSURD_PRICE
    elif kind == "future_time":
        obj["event_time"] = _stamp(run_date, int(rng.integers(*FUTURE_DAYS)), int(rng.integers(0, 86400)))
    elif kind == "ancient_time":
        obj["event_time"] = _stamp(run_date, -int(rng.integers(*ANCIENT_DAYS)), int(rng.integers(0, 86400)))
    elif kind == "non_utf8":
        obj["query"] = f"{LATIN1_WORD} {obj.get('query') or 'wool'}"
        return (json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n").encode("latin-1")
    elif kind == "huge_field":
        obj["query"] = ("wool coat " * (HUGE_CHARS // 10 + 1))[:HUGE_CHARS]
    else:
        raise ValueError(f"unknown dirty kind {kind!r}")
    return _dump(obj)


def bad_order(kind: str, line: bytes, new_id: str, run_date: dt.date, rng: np.random.Generator) -> bytes:
    if kind == "duplicate":
        return line
    f = line.decode("utf-8").rstrip("\n").split(",")
    # fields: order_id line_no order_time user_id item_id quantity unit_price channel status status_time
    f[0], f[1] = new_id, "1"
    if kind == "malformed_row":
        f = f[:6]
    elif kind == "wrong_type_price":
        f[6] = "abc"
    elif kind == "wrong_type_quantity":
        f[5] = "two"
    elif kind == "missing_order_id":
        f[0] = ""
    elif kind == "missing_item_id":
        f[4] = ""
    elif kind == "negative_quantity":
        f[5] = f"-{f[5]}"
    elif kind == "absurd_price":
        f[6] = f"{ABSURD_PRICE:.2f}"
    elif kind in ("future_time", "ancient_time"):
        days = int(rng.integers(*FUTURE_DAYS)) if kind == "future_time" else -int(rng.integers(*ANCIENT_DAYS))
        second = int(rng.integers(0, 80000))
        f[2], f[9] = _stamp(run_date, days, second), _stamp(run_date, days, second + 600)
    elif kind == "non_utf8":
        f[3] = f"{f[3] or 'guest'}-{LATIN1_WORD}"
        return (",".join(f) + "\n").encode("latin-1")
    else:
        raise ValueError(f"unknown dirty kind {kind!r}")
    return (",".join(f) + "\n").encode("utf-8")


def inject(body, offsets: np.ndarray, types: np.ndarray, rate: float, kinds: Sequence[str],
           make: Callable[[str, bytes, str, dt.date, np.random.Generator], bytes], new_id: Callable[[int], str],
           run_date: dt.date, rng: np.random.Generator,
           base_types: Dict[str, Tuple[int, ...]] | None = None) -> Tuple[List, Counter]:
    """Mix round(rate x clean lines) dirty lines into `body` at random positions.

    body/offsets: the clean lines (a bytes-like object; offsets has n+1 entries);
    types: a code per line for base_types; new_id(k) gives the k-th fresh id of
    this file. Returns the file as a list of byte pieces (no copy of the clean
    part) and the count of each kind.
    """
    n = len(offsets) - 1
    n_dirty = int(np.floor(rate * n + rng.random())) if n and rate > 0 else 0
    if n_dirty == 0:
        return [body], Counter()
    base_types = base_types or {}
    kind_of = rng.choice(len(kinds), n_dirty)
    counts: Counter = Counter()
    eligible = {kind: np.flatnonzero(np.isin(types, codes)) for kind, codes in base_types.items()}
    rows = []
    for k, ki in enumerate(kind_of):
        kind = kinds[ki]
        allowed = eligible.get(kind)
        i = int(rng.choice(allowed)) if allowed is not None and len(allowed) else int(rng.integers(0, n))
        rows.append(make(kind, bytes(body[offsets[i]:offsets[i + 1]]), new_id(k), run_date, rng))
        counts[kind] += 1
    where = np.sort(rng.integers(0, n + 1, n_dirty), kind="stable")
    pieces, prev = [], 0
    for pos, row in zip(where, rows):
        pieces.append(body[offsets[prev]:offsets[pos]])
        pieces.append(row)
        prev = pos
    pieces.append(body[offsets[prev]:offsets[n]])
    return pieces, counts
