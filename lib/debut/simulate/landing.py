"""Landing files in the layout of debut.schemas: JSON-lines events, CSV orders, catalogue, candidates.

Lines are assembled column-wise with Arrow string kernels (the simulator must
write hundreds of thousands of events per second), from small lookup tables of
pre-formatted fragments. Output bytes depend only on the simulated arrays.
"""
from __future__ import annotations

from functools import lru_cache
from typing import List, Tuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from debut.schemas import CANDIDATE_FIELDS, CATALOG_FIELDS, CHANNELS, ORDER_FIELDS, ORDER_STATUSES
from debut.simulate import vocab
from debut.simulate.market import DAY_S, QUERY_PATTERNS, DaySim, Marketplace

EVENT_TYPE_CODES = ("view", "cart", "purchase", "search")   # codes 0..3 used in `types` arrays


@lru_cache(maxsize=1)
def _time_of_day() -> pa.Array:
    s = np.arange(DAY_S)
    return pa.array([f"{h:02d}:{m:02d}:{x:02d}" for h, m, x in zip(s // 3600, s // 60 % 60, s % 60)])


def _take(table: pa.Array, idx: np.ndarray) -> pa.Array:
    """table[idx]; -1 means the table's last entry (the null fragment)."""
    idx = np.asarray(idx, dtype=np.int64)
    return table.take(pa.array(np.where(idx < 0, len(table) - 1, idx)))


def _seq(n: int, width: int, start: int = 1) -> pa.Array:
    return pc.utf8_lpad(pc.cast(pa.array(np.arange(start, start + n, dtype=np.int64)), pa.string()), width, "0")


def iso(ts: np.ndarray) -> np.ndarray:
    """datetime64[s] -> 'YYYY-MM-DDTHH:MM:SSZ'."""
    return np.char.add(np.datetime_as_string(ts.astype("datetime64[s]"), unit="s"), "Z")


class Tables:
    """Per-marketplace lookup tables of JSON/CSV fragments."""

    def __init__(self, mp: Marketplace):
        pool = mp.pool
        self.user = pa.array(mp.users.user_id.astype(str))
        self.item_csv = pa.array(list(pool.ids) + [""])
        self.price = pa.array([f"{p:.2f}" for p in pool.price] + ["null"])
        self.item_price_json = pa.array([f'"item_id":"{i}","price":{p:.2f}' for i, p in zip(pool.ids, pool.price)]
                                        + ['"item_id":null,"price":null'])
        self.qty_json = pa.array(["null", "1", "2", "3"] + [str(q) for q in range(4, 10)])
        self.channel = pa.array(list(CHANNELS))
        self.etype = pa.array(list(EVENT_TYPE_CODES))
        self.status = pa.array(list(ORDER_STATUSES))
        queries = []
        for i in range(pool.n):
            cat = mp.categories[pool.cat[i]]
            noun = cat.subcategories[pool.sub[i]]
            colour, material = vocab.COLOURS[pool.colour[i]], cat.materials[pool.material[i]]
            words = (f"{colour} {noun}", f"{material} {noun}", f"{colour} {material} {noun}",
                     f"{vocab.STYLES[pool.style[i]]} {noun}", noun, f"{cat.brands[pool.brand[i]].lower()} {noun}")
            queries += [f'"{w}"' for w in words]
        self.query_json = pa.array(queries + ["null"])
        self.n_patterns = QUERY_PATTERNS


def lines_bytes(arr: pa.Array) -> Tuple[memoryview, np.ndarray]:
    """The concatenated values of a string array (each ends in a newline), zero-copy, and their offsets."""
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset:arr.offset + len(arr) + 1]
    data = arr.buffers()[2]
    if data is None or len(arr) == 0:
        return memoryview(b""), np.zeros(1, dtype=np.int64)
    body = memoryview(data.slice(int(offsets[0]), int(offsets[-1] - offsets[0])))
    return body, (offsets - offsets[0]).astype(np.int64)


def event_lines(sim: DaySim, mp: Marketplace, t: Tables) -> Tuple[pa.Array, np.ndarray]:
    """JSON lines of one day in time order, and their event-type codes."""
    S = len(sim.s_user)
    srch = np.flatnonzero(sim.s_search)
    buy = np.flatnonzero(sim.a_sold > 0)
    n_v, n_c, n_s = len(sim.v_sess), len(sim.c_sess), len(srch)
    typ = np.concatenate([np.zeros(n_v, np.int64), np.ones(n_c, np.int64), np.full(len(buy), 2), np.full(n_s, 3)])
    sess = np.concatenate([sim.v_sess, sim.c_sess, sim.a_sess[buy], srch])
    time = np.concatenate([sim.v_time, sim.c_time, sim.s_checkout[sim.a_sess[buy]], sim.s_start[srch]])
    item = np.concatenate([sim.v_item, sim.c_item, sim.a_item[buy], np.full(n_s, -1)])
    qty = np.concatenate([np.zeros(n_v, np.int64), sim.c_qty, sim.a_sold[buy], np.zeros(n_s, np.int64)])
    first_item = sim.v_item[sim.s_first_view[srch]] if n_s else np.zeros(0, np.int64)
    query = np.full(len(typ), -1, dtype=np.int64)
    query[len(typ) - n_s:] = first_item * t.n_patterns + sim.s_query[srch]
    # session ids in order of session start; events in time order (search < view < cart < purchase on ties)
    s_order = np.lexsort((np.arange(S), sim.s_start))
    s_rank = np.empty(S, dtype=np.int64)
    s_rank[s_order] = np.arange(S)
    kind_rank = np.array([1, 2, 3, 0])[typ]
    order = np.lexsort((np.arange(len(typ)), kind_rank, s_rank[sess], time))
    typ, sess, time, item, qty, query = (a[order] for a in (typ, sess, time, item, qty, query))

    stamp = sim.date.strftime("%Y%m%d")
    n = len(typ)
    line = pc.binary_join_element_wise(
        f'{{"event_id":"E{stamp}-', _seq(n, 8),
        f'","event_time":"{sim.date.isoformat()}T', _take(_time_of_day(), time),
        'Z","event_type":"', _take(t.etype, typ),
        '","user_id":"', _take(t.user, sim.s_user[sess]),
        f'","session_id":"S{stamp}-', _take(_seq(S, 6), s_rank[sess]),
        '",', _take(t.item_price_json, item),
        ',"quantity":', _take(t.qty_json, qty),
        ',"query":', _take(t.query_json, query),
        ',"channel":"', _take(t.channel, sim.s_channel[sess]), '"}\n', "")
    return line, typ


def order_lines(sim: DaySim, mp: Marketplace, t: Tables) -> Tuple[pa.Array, int]:
    """CSV lines (no header) of the day's order lines, and the number of orders.

    A status that would only happen after the export (run_date 00:00) is not known
    yet: such an order is still 'completed' as of the export.
    """
    buy = np.flatnonzero(sim.a_sold > 0)
    if len(buy) == 0:
        return pa.array([], pa.string()), 0
    sess = sim.a_sess[buy]
    order = np.lexsort((buy, sess, sim.s_checkout[sess]))
    buy, sess = buy[order], sess[order]
    new = np.r_[True, sess[1:] != sess[:-1]]
    order_no = np.cumsum(new)
    start_idx = np.maximum.accumulate(np.where(new, np.arange(len(sess)), 0))
    line_no = np.arange(len(sess)) - start_idx + 1
    checkout = sim.s_checkout[sess]
    cutoff = (mp.days - sim.day) * DAY_S
    status = sim.s_status[sess]
    delay = sim.s_status_delay[sess]
    late = checkout + delay >= cutoff
    status = np.where(late, 0, status)
    delay = np.where(late, np.minimum(600, cutoff - checkout - 1), delay)
    day0 = np.datetime64(sim.date.isoformat(), "s")
    user = pa.array(np.where(sim.s_guest[sess], "", mp.users.user_id[sim.s_user[sess]]).astype(str))
    line = pc.binary_join_element_wise(
        "O", sim.date.strftime("%Y%m%d"), "-", _take(_seq(int(order_no[-1]), 6), order_no - 1),
        ",", pc.cast(pa.array(line_no), pa.string()),
        ",", pa.array(iso(day0 + checkout.astype("timedelta64[s]"))),
        ",", user,
        ",", _take(t.item_csv, sim.a_item[buy]),
        ",", pc.cast(pa.array(sim.a_sold[buy]), pa.string()),
        ",", _take(t.price, sim.a_item[buy]),
        ",", _take(t.channel, sim.s_channel[sess]),
        ",", _take(t.status, status),
        ",", pa.array(iso(day0 + (checkout + delay).astype("timedelta64[s]"))), "\n", "")
    return line, int(order_no[-1])


ORDER_HEADER = (",".join(ORDER_FIELDS) + "\n").encode()


def catalog_frame(mp: Marketplace) -> pd.DataFrame:
    """Snapshot as of run_date: every item launched by then; delisted ones say so."""
    it = mp.items
    keep = it.launch_day < mp.days
    df = _product_frame(mp, it)
    df["launch_date"] = [mp.date_of(d).isoformat() for d in it.launch_day]
    df["status"] = np.where(it.delist_day < mp.days, "delisted", "active")
    return df.loc[keep, list(CATALOG_FIELDS)].reset_index(drop=True)


def candidates_frame(mp: Marketplace) -> pd.DataFrame:
    df = _product_frame(mp, mp.candidates)
    df = df.rename(columns={"item_id": "candidate_id"})
    df["min_order_qty"] = mp.min_order_qty
    return df[list(CANDIDATE_FIELDS)]


def _product_frame(mp: Marketplace, p) -> pd.DataFrame:
    cats = mp.categories
    return pd.DataFrame({
        "item_id": p.ids,
        "category": [cats[c].name for c in p.cat],
        "subcategory": [cats[c].subcategories[s] for c, s in zip(p.cat, p.sub)],
        "brand": [cats[c].brands[b] for c, b in zip(p.cat, p.brand)],
        "title": p.titles,
        "colour": [vocab.COLOURS[c] for c in p.colour],
        "material": [cats[c].materials[m] for c, m in zip(p.cat, p.material)],
        "style": [vocab.STYLES[s] for s in p.style],
        "price": [f"{x:.2f}" for x in p.price],
        "unit_cost": [f"{x:.2f}" for x in p.unit_cost],
    })


def csv_bytes(df: pd.DataFrame) -> bytes:
    return df.to_csv(index=False, lineterminator="\n").encode("utf-8")


def split_files(n: int, files: int) -> List[Tuple[int, int]]:
    """Contiguous [lo, hi) line ranges of `files` files."""
    edges = np.linspace(0, n, files + 1).round().astype(int)
    return [(int(edges[i]), int(edges[i + 1])) for i in range(files)]



