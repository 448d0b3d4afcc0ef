"""debut.simulate: landing contract, dirty-row accounting, stock, truth, play_forward, determinism."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from debut.config import SimulateConf
from debut.schemas import CANDIDATE_FIELDS, CATALOG_FIELDS, CHANNELS, EVENT_FIELDS, EVENT_TYPES, ORDER_FIELDS, \
    ORDER_STATUSES
from debut.simulate import Marketplace, generate, job

RUN = dt.date(2026, 10, 1)
TINY = SimulateConf(seed=11, users=150, categories=3, items_per_category=8, days=21, segments=3,
                    launches_per_category=2, candidates_per_category=3, launch_window_weeks=2)
DIRTY = SimulateConf(**{**TINY.__dict__, "dirty_rate": 0.15, "files_per_day": 2})
SUMMARY_KEY = {"events": "events", "orders": "order_lines"}
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def _files(root: Path) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _time(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")


def _window(conf: SimulateConf) -> tuple:
    return (dt.datetime.combine(RUN - dt.timedelta(days=conf.days), dt.time()), dt.datetime.combine(RUN, dt.time()))


def _lines(path: Path):
    return path.read_bytes().splitlines(keepends=False)


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    root = tmp_path_factory.mktemp("clean")
    summary = generate(TINY, root / "landing", root / "truth", RUN)
    return root, summary


@pytest.fixture(scope="module")
def dirty_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("dirty")
    summary = generate(DIRTY, root / "landing", root / "truth", RUN)
    return root, summary


@pytest.fixture(scope="module")
def events(clean) -> pd.DataFrame:
    root, _ = clean
    rows = [json.loads(line) for p in sorted((root / "landing" / "events").rglob("*.jsonl")) for line in _lines(p)]
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ determinism
def test_same_seed_and_run_date_give_identical_bytes(dirty_run, tmp_path):
    root, _ = dirty_run
    generate(DIRTY, tmp_path / "landing", tmp_path / "truth", RUN)
    assert _files(tmp_path) == _files(root)


def test_another_seed_gives_other_events(clean, tmp_path):
    root, _ = clean
    generate(SimulateConf(**{**TINY.__dict__, "seed": 12}), tmp_path / "landing", tmp_path / "truth", RUN)
    day = f"events/date={RUN - dt.timedelta(days=1)}/events-{RUN - dt.timedelta(days=1)}-000.jsonl"
    assert (tmp_path / "landing" / day).read_bytes() != (root / "landing" / day).read_bytes()


# ------------------------------------------------------------------ contract
def test_landing_layout(clean):
    root, _ = clean
    files = set(_files(root / "landing"))
    days = [RUN - dt.timedelta(days=i) for i in range(TINY.days, 0, -1)]
    expected = ({f"events/date={d}/events-{d}-000.jsonl" for d in days}
                | {f"orders/date={d}/orders-{d}-000.csv" for d in days}
                | {f"catalog/catalog-{RUN}.csv", f"candidates/candidates-{RUN}.csv"})
    assert files == expected


def test_every_event_line_has_exactly_the_contract_fields(clean, events):
    _, summary = clean
    assert len(events) == summary["events"]
    assert tuple(events.columns) == EVENT_FIELDS
    root = clean[0]
    for p in (root / "landing" / "events").rglob("*.jsonl"):
        for line in _lines(p):
            obj = json.loads(line)
            assert tuple(obj) == EVENT_FIELDS
            has_qty = obj["event_type"] in ("cart", "purchase")
            if has_qty:
                assert type(obj["quantity"]) is int and 1 <= obj["quantity"] <= 3
            else:
                assert obj["quantity"] is None
            assert obj["price"] is None or type(obj["price"]) in (int, float)
    assert events["event_id"].is_unique
    assert set(events["event_type"]) == set(EVENT_TYPES)
    assert set(events["channel"]) <= set(CHANNELS)
    assert events["event_time"].str.match(TIME_RE).all()
    times = events["event_time"].map(_time)
    assert times.min() >= dt.datetime.combine(RUN - dt.timedelta(days=TINY.days), dt.time())
    assert times.max() < dt.datetime.combine(RUN, dt.time())
    search = events["event_type"] == "search"
    assert events.loc[search, ["item_id", "price", "quantity"]].isna().all().all()
    assert events.loc[search, "query"].map(lambda q: isinstance(q, str) and len(q) > 0).all()
    assert events.loc[~search, "query"].isna().all()
    assert events.loc[~search, "item_id"].str.match(r"^I\d{6}$").all()
    assert (events.loc[~search, "price"].astype(float) > 0).all()


def test_orders_catalog_and_candidates_follow_the_contract(clean):
    root, summary = clean
    orders = pd.concat([pd.read_csv(p, dtype=str, keep_default_na=False)
                        for p in sorted((root / "landing" / "orders").rglob("*.csv"))])
    assert tuple(orders.columns) == ORDER_FIELDS
    assert len(orders) == summary["order_lines"]
    assert orders["order_id"].nunique() == summary["orders"]
    assert not orders.duplicated(["order_id", "line_no"]).any()
    assert set(orders["status"]) <= set(ORDER_STATUSES)
    assert (orders["status_time"].map(_time) > orders["order_time"].map(_time)).all()
    assert (orders["status_time"].map(_time) < dt.datetime.combine(RUN, dt.time())).all()
    assert (orders["quantity"].astype(int) >= 1).all()
    assert (orders["user_id"] == "").sum() == summary["guest_orders"]
    catalog = pd.read_csv(root / "landing" / "catalog" / f"catalog-{RUN}.csv")
    assert tuple(catalog.columns) == CATALOG_FIELDS
    assert len(catalog) == TINY.categories * (TINY.items_per_category + TINY.launches_per_category)
    assert set(catalog["status"]) <= {"active", "delisted"}
    assert (catalog["unit_cost"] / catalog["price"]).between(0.39, 0.71).all()
    cands = pd.read_csv(root / "landing" / "candidates" / f"candidates-{RUN}.csv")
    assert tuple(cands.columns) == CANDIDATE_FIELDS
    assert len(cands) == TINY.categories * TINY.candidates_per_category
    assert cands["candidate_id"].str.match(r"^C\d{5}$").all()
    assert cands["min_order_qty"].isin([10, 20, 50]).all()


def test_launches_sell_only_from_their_launch_date(clean, events):
    root, _ = clean
    catalog = pd.read_csv(root / "landing" / "catalog" / f"catalog-{RUN}.csv")
    launched = catalog[pd.to_datetime(catalog["launch_date"]).dt.date >= RUN - dt.timedelta(days=TINY.days)]
    assert len(launched) == TINY.categories * TINY.launches_per_category
    first = events.dropna(subset=["item_id"]).groupby("item_id")["event_time"].min().str[:10]
    seen = launched.set_index("item_id")["launch_date"].to_frame().join(first, how="inner")
    assert len(seen) > 0
    assert (seen["event_time"] >= seen["launch_date"]).all()


# ------------------------------------------------------------------ dirty rows
def _classify_event(raw: bytes, window: tuple) -> str:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return "non_utf8"
    if len(raw) > 100_000:
        return "huge_field"
    try:
        obj = json.loads(raw)
    except ValueError:
        return "malformed_json"
    for field in ("event_id", "user_id", "event_time"):
        if field not in obj:
            return f"missing_{field}"
    if obj["event_type"] not in EVENT_TYPES:
        return "unknown_event_type"
    if isinstance(obj["price"], str):
        return "wrong_type_price"
    if isinstance(obj["quantity"], str):
        return "wrong_type_quantity"
    if obj["quantity"] is not None and obj["quantity"] < 0:
        return "negative_quantity"
    if obj["price"] is not None and obj["price"] > 1e6:
        return "absurd_price"
    t = _time(obj["event_time"])
    if t >= window[1]:
        return "future_time"
    if t < window[0]:
        return "ancient_time"
    return "clean"


def _classify_order(raw: bytes, window: tuple) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "non_utf8"
    f = next(csv.reader(io.StringIO(text)))
    if len(f) != len(ORDER_FIELDS):
        return "malformed_row"
    rec = dict(zip(ORDER_FIELDS, f))
    if rec["order_id"] == "":
        return "missing_order_id"
    if rec["item_id"] == "":
        return "missing_item_id"
    if not re.fullmatch(r"-?\d+", rec["quantity"]):
        return "wrong_type_quantity"
    if not re.fullmatch(r"-?\d+(\.\d+)?", rec["unit_price"]):
        return "wrong_type_price"
    if int(rec["quantity"]) < 0:
        return "negative_quantity"
    if float(rec["unit_price"]) > 1e6:
        return "absurd_price"
    t = _time(rec["order_time"])
    if t >= window[1]:
        return "future_time"
    if t < window[0]:
        return "ancient_time"
    return "clean"


def test_dirty_manifest_counts_what_is_in_the_files(dirty_run):
    root, summary = dirty_run
    manifest = json.loads((root / "truth" / "dirty_manifest.json").read_text())
    window = _window(DIRTY)
    for source, classify, header in (("events", _classify_event, 0), ("orders", _classify_order, 1)):
        total, clean_total = Counter(), 0
        for p in sorted((root / "landing" / source).rglob("*.*")):
            rel = str(p.relative_to(root / "landing"))
            kinds = [(raw, classify(raw, window)) for raw in _lines(p)[header:]]
            found = Counter(kind for _, kind in kinds if kind != "clean")
            clean_lines = [raw for raw, kind in kinds if kind == "clean"]
            found["duplicate"] = len(clean_lines) - len(set(clean_lines))
            assert len(set(clean_lines)) == manifest["files"][rel]["clean"], rel
            assert +found == Counter(manifest["files"][rel]["dirty"]), rel
            total += found
            clean_total += len(set(clean_lines))
        assert clean_total == manifest[source]["clean"] == summary[SUMMARY_KEY[source]]
        assert +total == +Counter(manifest[source]["dirty"])
        assert sum(total.values()) == manifest[source]["dirty_total"] == summary["dirty"][source]
    assert all(n > 0 for n in manifest["events"]["dirty"].values())
    assert abs(manifest["events"]["dirty_total"] / summary["events"] - DIRTY.dirty_rate) < 0.02


def test_dirty_rows_leave_the_clean_rows_unchanged(clean, dirty_run):
    """Dirty rows are extra lines; the clean content is the same as without them."""
    window = _window(TINY)

    def kept(root):
        return sorted({raw for p in (root / "landing" / "events").rglob("*.jsonl") for raw in _lines(p)
                       if _classify_event(raw, window) == "clean"})
    assert kept(dirty_run[0]) == kept(clean[0])


# ------------------------------------------------------------------ behaviour
def test_funnel_is_monotone_per_item(events):
    counts = events.dropna(subset=["item_id"]).pivot_table(
        index="item_id", columns="event_type", values="event_id", aggfunc="count", fill_value=0)
    assert counts["purchase"].sum() > 0
    assert (counts["view"] >= counts["cart"]).all()
    assert (counts["cart"] >= counts["purchase"]).all()


def test_purchases_respect_stock(clean, events):
    root, _ = clean
    ledger = pd.read_parquet(root / "truth" / "stock_daily.parquet")
    bought = events[events["event_type"] == "purchase"].assign(date=lambda d: d["event_time"].str[:10])
    units = bought.groupby(["item_id", "date"])["quantity"].sum().rename("bought")
    ledger["date"] = ledger["date"].astype(str)
    joined = ledger.set_index(["item_id", "date"]).join(units, how="outer").fillna({"bought": 0})
    assert joined["stock_start"].notna().all()                       # nothing sold that was not live
    assert (joined["bought"] == joined["units_sold"]).all()
    assert (joined["bought"] <= joined["stock_start"]).all()
    assert (joined.loc[joined["stock_start"] == 0, "bought"] == 0).all()
    assert (joined.loc[joined["lost_units"] > 0, "stock_end"] == 0).all()
    assert joined["lost_units"].sum() > 0                            # the case is exercised
    lost = pd.read_parquet(root / "truth" / "lost_sales.parquet")
    assert lost["lost_units"].sum() == joined["lost_units"].sum()


def test_segments_are_recoverable_from_behaviour():
    sk = pytest.importorskip("sklearn")
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score
    from sklearn.preprocessing import StandardScaler
    assert sk
    mp = Marketplace(SimulateConf(users=1500, days=90), RUN)
    n, C = mp.users.n, len(mp.categories)
    weight, price, views, sessions = np.zeros((n, C)), np.zeros(n), np.zeros(n), np.zeros(n)
    for sim in mp.history():
        u = sim.s_user[sim.v_sess]
        np.add.at(weight, (u, mp.pool.cat[sim.v_item]), 1.0)
        np.add.at(weight, (sim.s_user[sim.c_sess], mp.pool.cat[sim.c_item]), 3.0)
        np.add.at(price, u, mp.pool.z[sim.v_item])
        np.add.at(views, u, 1.0)
        np.add.at(sessions, sim.s_user, 1.0)
    active = views > 0
    X = np.c_[weight[active] / weight[active].sum(1, keepdims=True), price[active] / views[active],
              np.log1p(sessions[active])]
    labels = KMeans(mp.segments.n, n_init=10, random_state=0).fit_predict(StandardScaler().fit_transform(X))
    assert adjusted_rand_score(mp.users.segment[active], labels) >= 0.6


# ------------------------------------------------------------------ truth
def test_candidate_truth_has_one_row_per_candidate_and_week(clean):
    root, _ = clean
    demand = pd.read_parquet(root / "truth" / "candidate_demand.parquet")
    cands = pd.read_csv(root / "landing" / "candidates" / f"candidates-{RUN}.csv")
    assert list(demand.columns) == ["candidate_id", "category", "week", "units", "expected_units"]
    assert len(demand) == len(cands) * TINY.launch_window_weeks
    assert set(map(tuple, demand[["candidate_id", "week"]].values)) == \
        {(c, w) for c in cands["candidate_id"] for w in range(1, TINY.launch_window_weeks + 1)}
    both = demand.merge(cands, on="candidate_id", suffixes=("_truth", "_landing"))
    assert (both["category_truth"] == both["category_landing"]).all()
    assert (demand["units"] >= 0).all() and (demand["expected_units"] > 0).all()
    truth = pd.read_parquet(root / "truth" / "item_truth.parquet")
    assert np.allclose(truth["appeal"], truth["appeal_learnable"] + truth["appeal_noise"])
    assert set(truth.loc[truth["kind"] == "candidate", "item_id"]) == set(cands["candidate_id"])
    segments = pd.read_parquet(root / "truth" / "user_segments.parquet")
    assert len(segments) == TINY.users and set(segments["segment"]) == set(range(TINY.segments))


def test_learnable_appeal_explains_launch_demand():
    mp = Marketplace(SimulateConf(candidates_per_category=40), RUN)
    expected = mp.expected_demand(RUN, 28).groupby("candidate_id", sort=False)["expected_units"].sum()
    learnable = pd.Series(mp.candidates.learnable, index=mp.candidates.ids)
    assert learnable.corr(expected.reindex(learnable.index), method="spearman") > 0.4


def test_expected_demand_is_the_mean_of_simulated_demand():
    mp = Marketplace(TINY, RUN)
    everything = pd.DataFrame({"candidate_id": mp.candidates.ids, "stock": 10 ** 9})
    runs = [mp.play_forward(RUN, 7, everything, seed=s)["demand"].sum() for s in range(40)]
    expected = mp.expected_demand(RUN, 7)["expected_units"].sum()
    assert np.mean(runs) == pytest.approx(expected, rel=0.06)


def test_expected_totals_by_noise_set_only_the_unlearnable_part_and_restore_it():
    mp = Marketplace(TINY, RUN)
    ids = list(mp.candidates.ids[:3])
    before = mp.expected_demand(RUN, 7, ids)["expected_units"].to_numpy()
    table = mp.expected_totals_by_noise(RUN, 7, ids, [-1.0, 0.0, 1.0])
    np.testing.assert_array_equal(mp.expected_demand(RUN, 7, ids)["expected_units"].to_numpy(), before)
    assert table.shape == (3, 3) and (np.diff(table, axis=1) > 0).all()     # more appeal, more demand
    cidx = mp._candidate_idx(ids)
    mp.pool.noise[cidx] = 0.0
    at_zero = mp.expected_demand(RUN, 7, ids).groupby("candidate_id", sort=False)["expected_units"].sum()
    np.testing.assert_allclose(table[:, 1], at_zero.reindex(ids).to_numpy())


# ------------------------------------------------------------------ play_forward
def test_play_forward_with_no_stock_sells_nothing():
    mp = Marketplace(TINY, RUN)
    out = mp.play_forward(RUN, 14, pd.DataFrame({"candidate_id": mp.candidates.ids, "stock": 0}))
    assert len(out) == 14 * mp.candidates.n
    assert out["units_sold"].sum() == 0
    assert (out["lost_units"] == out["demand"]).all() and out["demand"].sum() > 0


def test_play_forward_with_huge_stock_equals_truth_demand(clean):
    root, _ = clean
    truth = pd.read_parquet(root / "truth" / "candidate_demand.parquet")
    mp = Marketplace(TINY, RUN)
    out = mp.play_forward(RUN, 7 * TINY.launch_window_weeks,
                          pd.DataFrame({"candidate_id": mp.candidates.ids, "stock": 10 ** 12}))
    assert out["lost_units"].sum() == 0
    weekly = out.assign(week=(out["day"] - 1) // 7 + 1).groupby(["candidate_id", "week"])["units_sold"].sum()
    assert weekly.to_dict() == truth.set_index(["candidate_id", "week"])["units"].to_dict()


def test_play_forward_stock_caps_total_sales():
    mp = Marketplace(TINY, RUN)
    ids = list(mp.candidates.ids)
    plan = pd.DataFrame({"candidate_id": ids, "stock": [3 * (i % 4) for i in range(len(ids))]})
    capped = mp.play_forward(RUN, 14, plan, seed=5).groupby("candidate_id")[["units_sold", "demand"]].sum()
    free = mp.play_forward(RUN, 14, plan.assign(stock=10 ** 9), seed=5).groupby("candidate_id")["demand"].sum()
    assert (capped["demand"] == free).all()
    stock = plan.set_index("candidate_id")["stock"]
    assert (capped["units_sold"] == np.minimum(stock, free)).all()


def test_play_forward_rejects_unknown_candidates_and_past_dates():
    mp = Marketplace(TINY, RUN)
    with pytest.raises(KeyError, match="C99999"):
        mp.play_forward(RUN, 7, pd.DataFrame({"candidate_id": ["C99999"], "stock": [1]}))
    with pytest.raises(ValueError, match="before run_date"):
        mp.play_forward(RUN - dt.timedelta(days=1), 7, pd.DataFrame({"candidate_id": ["C00001"], "stock": [1]}))


# ------------------------------------------------------------------ job
def test_job_rerun_changes_nothing(conf, capsys):
    job.run(None, conf, RUN)
    first = _files(Path(conf.paths.landing_dir)), _files(Path(conf.paths.truth_dir))
    job.run(None, conf, RUN.isoformat())
    assert (_files(Path(conf.paths.landing_dir)), _files(Path(conf.paths.truth_dir))) == first
    out = capsys.readouterr().out
    assert out.count("/events ") == 2 and out.count("/candidates ") == 2


def test_job_killed_midway_keeps_previous_output(conf, monkeypatch):
    job.run(None, conf, RUN)
    before = _files(Path(conf.paths.landing_dir))

    def dies(sim_conf, landing_dir, truth_dir, run_date):
        (Path(landing_dir) / "events").mkdir(parents=True)
        (Path(landing_dir) / "events" / "half.jsonl").write_text("{")
        raise KeyboardInterrupt

    monkeypatch.setattr(job, "generate", dies)
    with pytest.raises(KeyboardInterrupt):
        job.run(None, conf, RUN + dt.timedelta(days=1))
    assert _files(Path(conf.paths.landing_dir)) == before
    leftovers = [p.name for p in Path(conf.paths.landing_dir).parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []
