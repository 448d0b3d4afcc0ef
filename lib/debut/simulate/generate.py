"""generate(): simulate the history window before run_date and write landing files plus hidden truth."""
from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path
from typing import Dict, List

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from debut.config import SimulateConf
from debut.schemas import EVENT_TYPES, ORDER_STATUSES
from debut.simulate import dirty, landing
from debut.simulate.market import DaySim, Marketplace

DIRTY_DEFINITIONS = {
    "malformed_json": "line cut in half: not valid JSON",
    "malformed_row": "CSV row with 6 of 10 columns",
    "wrong_type_price": 'price / unit_price is the string "abc"',
    "wrong_type_quantity": 'quantity is the string "two"',
    "missing_event_id": "no event_id key", "missing_user_id": "no user_id key",
    "missing_event_time": "no event_time key",
    "missing_order_id": "empty order_id", "missing_item_id": "empty item_id",
    "unknown_event_type": 'event_type "wishlist"',
    "negative_quantity": "quantity below zero",
    "absurd_price": f"price {dirty.ABSURD_PRICE:.0f} (> 1e6)",
    "future_time": f"time {dirty.FUTURE_DAYS[0]}-{dirty.FUTURE_DAYS[1]} days after run_date",
    "ancient_time": f"time {dirty.ANCIENT_DAYS[0]}-{dirty.ANCIENT_DAYS[1]} days before run_date",
    "duplicate": "exact copy of a clean line (same id)",
    "non_utf8": f"Latin-1 bytes ('{dirty.LATIN1_WORD}') in query / user_id",
    "huge_field": f"query of {dirty.HUGE_CHARS} characters",
}


def _write(path: Path, *pieces) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.writelines(pieces)


def _json(path: Path, obj) -> None:
    _write(path, (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode())


def _parquet(df: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), str(path))


class _Tally:
    """Clean and dirty line counts of one source."""

    def __init__(self, kinds):
        self.kinds = kinds
        self.clean = 0
        self.dirty: Counter = Counter()

    def add(self, clean: int, dirty_counts: Counter) -> None:
        self.clean += clean
        self.dirty.update(dirty_counts)

    def as_dict(self) -> dict:
        total = sum(self.dirty.values())
        return {"clean": self.clean, "dirty": {k: self.dirty.get(k, 0) for k in self.kinds},
                "dirty_total": total, "lines": self.clean + total}


class _DayWriter:
    """Writes each simulated day's event and order files (with dirty rows) and keeps the counts."""

    def __init__(self, mp: Marketplace, landing_dir: Path):
        self.mp, self.root = mp, landing_dir
        self.conf = mp.conf
        self.tables = landing.Tables(mp)
        self.events, self.orders = _Tally(dirty.EVENT_KINDS), _Tally(dirty.ORDER_KINDS)
        self.files: Dict[str, dict] = {}
        self.by_type, self.statuses = Counter(), Counter()
        self.sessions = self.n_orders = self.guests = 0
        self.ledgers: List[pd.DataFrame] = []

    def _file(self, rel: str, tally: _Tally, clean: int, counts: Counter, *pieces) -> None:
        _write(self.root / rel, *pieces)
        tally.add(clean, counts)
        self.files[rel] = {"clean": clean, "dirty": dict(sorted(counts.items()))}

    def write(self, sim: DaySim) -> None:
        mp, day, stamp = self.mp, sim.date.isoformat(), sim.date.strftime("%Y%m%d")
        self.sessions += len(sim.s_user)
        self.ledgers.append(sim.ledger)

        lines, types = landing.event_lines(sim, mp, self.tables)
        self.by_type.update(dict(zip(landing.EVENT_TYPE_CODES, np.bincount(types, minlength=4).tolist())))
        next_id = len(lines)                      # dirty rows get fresh ids after the clean ones
        for f, (lo, hi) in enumerate(landing.split_files(len(lines), self.conf.files_per_day)):
            body, offsets = landing.lines_bytes(lines.slice(lo, hi - lo))
            pieces, counts = dirty.inject(
                body, offsets, types[lo:hi], self.conf.dirty_rate, dirty.EVENT_KINDS, dirty.bad_event,
                lambda k, first=next_id: f"E{stamp}-{first + k + 1:08d}", mp.run_date,
                mp.rng_for(30, sim.day, f), dirty.EVENT_BASE_TYPES)
            next_id += sum(counts.values())
            self._file(f"events/date={day}/events-{day}-{f:03d}.jsonl", self.events, hi - lo, counts, *pieces)

        olines, n_orders = landing.order_lines(sim, mp, self.tables)
        body, offsets = landing.lines_bytes(olines)
        pieces, counts = dirty.inject(
            body, offsets, np.zeros(len(olines), np.int64), self.conf.dirty_rate, dirty.ORDER_KINDS,
            dirty.bad_order, lambda k: f"O{stamp}-{n_orders + k + 1:06d}", mp.run_date, mp.rng_for(31, sim.day))
        self._file(f"orders/date={day}/orders-{day}-000.csv", self.orders, len(olines), counts,
                   landing.ORDER_HEADER, *pieces)
        self.n_orders += n_orders
        sess = np.unique(sim.a_sess[sim.a_sold > 0])
        self.guests += int(sim.s_guest[sess].sum())
        self.statuses.update(dict(zip(ORDER_STATUSES, np.bincount(sim.s_status[sess], minlength=3).tolist())))

    def manifest(self) -> dict:
        kinds = sorted(set(dirty.EVENT_KINDS) | set(dirty.ORDER_KINDS))
        return {"dirty_rate": self.conf.dirty_rate, "events": self.events.as_dict(), "orders": self.orders.as_dict(),
                "definitions": {k: DIRTY_DEFINITIONS[k] for k in kinds}, "files": self.files}


def generate(sim_conf: SimulateConf, landing_dir, truth_dir, run_date: dt.date) -> Dict:
    """Write <landing_dir>/{events,orders,catalog,candidates} and <truth_dir>/*; return the summary.

    The history is the sim_conf.days days before run_date; the candidates are for
    the launch window starting on run_date.
    """
    landing_dir, truth_dir = Path(landing_dir), Path(truth_dir)
    run_date = run_date if isinstance(run_date, dt.date) else dt.date.fromisoformat(str(run_date))
    mp = Marketplace(sim_conf, run_date)
    days = _DayWriter(mp, landing_dir)
    for sim in mp.history():
        days.write(sim)
    catalog, candidates = landing.catalog_frame(mp), landing.candidates_frame(mp)
    _write(landing_dir / "catalog" / f"catalog-{run_date.isoformat()}.csv", landing.csv_bytes(catalog))
    _write(landing_dir / "candidates" / f"candidates-{run_date.isoformat()}.csv", landing.csv_bytes(candidates))

    ledger = pd.concat(days.ledgers, ignore_index=True)
    truth = _write_truth(mp, truth_dir, ledger)
    _json(truth_dir / "dirty_manifest.json", days.manifest())
    ev, od = days.events.as_dict(), days.orders.as_dict()
    summary = {
        "run_date": run_date.isoformat(), "seed": mp.seed,
        "window_start": mp.window_start.isoformat(), "window_end": (run_date - dt.timedelta(days=1)).isoformat(),
        "users": mp.users.n, "segments": mp.segments.n, "categories": [c.name for c in mp.categories],
        "catalog_items": int(len(catalog)), "launches": int((mp.items.launch_day >= 0).sum()),
        "delisted": int((catalog["status"] == "delisted").sum()), "candidates": int(len(candidates)),
        "sessions": days.sessions, "events": ev["clean"],
        "events_by_type": {t: days.by_type.get(t, 0) for t in EVENT_TYPES},
        "orders": days.n_orders, "order_lines": od["clean"], "guest_orders": days.guests,
        "order_statuses": {s: days.statuses.get(s, 0) for s in ORDER_STATUSES},
        "units_sold": int(ledger["units_sold"].sum()), "lost_units": int(ledger["lost_units"].sum()),
        "stockout_item_days": int((ledger["lost_units"] > 0).sum()),
        "dirty": {"events": ev["dirty_total"], "orders": od["dirty_total"],
                  "by_kind": dict(sorted((days.events.dirty + days.orders.dirty).items()))},
        "files": {"events": sum(1 for k in days.files if k.startswith("events/")),
                  "orders": sum(1 for k in days.files if k.startswith("orders/"))},
        **truth,
    }
    _json(truth_dir / "summary.json", summary)
    return summary


def _write_truth(mp: Marketplace, truth_dir: Path, ledger: pd.DataFrame) -> dict:
    u = mp.users
    _parquet(pd.DataFrame({"user_id": u.user_id.astype(str), "segment": u.segment.astype(np.int64)}),
             truth_dir / "user_segments.parquet")
    pool = mp.pool
    launched = np.r_[mp.items.launch_day >= 0, np.zeros(mp.candidates.n, dtype=bool)]
    kind = np.where(np.arange(pool.n) >= mp.n_items, "candidate", np.where(launched, "launch", "catalog"))
    items = pd.DataFrame({
        "item_id": pool.ids.astype(str), "kind": kind,
        "category": [mp.categories[c].name for c in pool.cat],
        "appeal": pool.appeal, "appeal_learnable": pool.learnable, "appeal_noise": pool.noise})
    _parquet(items, truth_dir / "item_truth.parquet")
    demand = mp.candidate_truth()
    _parquet(demand, truth_dir / "candidate_demand.parquet")
    _parquet(ledger, truth_dir / "stock_daily.parquet")
    _parquet(ledger.loc[ledger["lost_units"] > 0].reset_index(drop=True), truth_dir / "lost_sales.parquet")
    seg = mp.segments
    return {
        "appeal_signal_share": float(np.var(pool.learnable) / np.var(pool.appeal)) if pool.n > 1 else None,
        "candidate_units": int(demand["units"].sum()),
        "candidate_expected_units": float(round(demand["expected_units"].sum(), 6)),
        "segment_profiles": [
            {"segment": s, "preferred_categories": [mp.categories[c].name for c in seg.preferred[s]],
             "price_level": round(float(seg.price_level[s]), 4),
             "price_sensitivity": round(float(seg.price_sens[s]), 4),
             "activity": round(float(seg.activity[s]), 4), "users": int((u.segment == s).sum())}
            for s in range(seg.n)],
    }
