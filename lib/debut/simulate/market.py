"""The marketplace: a seeded world (users, catalogue, candidates) and its day-by-day behaviour.

One day is simulated in a handful of vectorised steps: sessions per user
(Poisson, weekly seasonality and a mild trend), a browsed category per session,
views drawn by a softmax of segment-item utility, then a cart/purchase funnel
whose conversion depends on appeal and price fit, and a stock check in time
order (out-of-stock items are viewed but not bought: lost sales). The same step
writes the history and plays a launch plan forward.

Views use the segment's price fit (so a day needs one CDF per segment and
category, not per user); carts and purchases use the user's own. Stock never
changes what is viewed or wanted, only what is sold, so demand draws are the
same whatever the stock.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterator, Optional, Sequence

import numpy as np
import pandas as pd

from debut.config import SimulateConf
from debut.simulate import catalog as catalog_mod
from debut.simulate import users as users_mod
from debut.simulate.catalog import Products

DAY_S = 86400
WEEKLY = np.array([0.95, 0.92, 0.95, 1.0, 1.02, 1.12, 1.15])     # Monday..Sunday
WEEKLY = WEEKLY / WEEKLY.mean()
TREND_PER_YEAR = 0.15
HOURLY = np.array([0.3, 0.2, 0.15, 0.1, 0.1, 0.15, 0.3, 0.6, 0.9, 1.0, 1.0, 1.1,
                   1.2, 1.1, 1.0, 1.0, 1.05, 1.1, 1.3, 1.5, 1.6, 1.4, 1.0, 0.6])
HOURLY = HOURLY / HOURLY.sum()
NOVELTY, NOVELTY_DAYS = 0.6, 21.0   # exposure boost of new items, decaying
EXTRA_VIEWS = 3.5                   # views per session = 1 + Poisson(EXTRA_VIEWS)
VIEW_GAP_S = 40.0
SEARCH_P = 0.4
QTY_P = np.array([0.8, 0.15, 0.05])
MEAN_QTY = float(QTY_P @ np.arange(1, 4))
PRICE_FIT = 0.25                    # utility loss per unit of (z - level)^2 and of sensitivity
CART_BASE, CART_APPEAL = -1.8, 0.4
BUY_BASE, BUY_PRICE, BUY_FIT = 0.1, -0.3, 0.3
RESTOCK_DAYS = 14
DELIST_SHARE = 0.08
GUEST_P, CANCEL_P, RETURN_P = 0.02, 0.03, 0.05
NEVER = np.iinfo(np.int32).max
UNLIMITED = np.int64(1) << 50
QUERY_PATTERNS = 6                  # query shapes, see landing.Tables


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass
class DaySim:
    """Everything that happened on one day, as index arrays into users / pool."""
    day: int
    date: dt.date
    # sessions (S)
    s_user: np.ndarray
    s_cat: np.ndarray
    s_channel: np.ndarray
    s_start: np.ndarray        # second of day
    s_search: np.ndarray       # bool: starts with a search
    s_query: np.ndarray        # query pattern
    s_checkout: np.ndarray     # second of day of the checkout
    s_first_view: np.ndarray   # index into views
    s_status: np.ndarray       # order status code (0 completed, 1 cancelled, 2 returned)
    s_status_delay: np.ndarray  # seconds from checkout to the status
    s_guest: np.ndarray
    # views (V)
    v_sess: np.ndarray
    v_item: np.ndarray
    v_time: np.ndarray
    # carts (subset of views)
    c_sess: np.ndarray
    c_item: np.ndarray
    c_time: np.ndarray
    c_qty: np.ndarray
    # purchase attempts (subset of carts), in cart order
    a_sess: np.ndarray
    a_item: np.ndarray
    a_qty: np.ndarray          # wanted
    a_sold: np.ndarray         # filled from stock (0..a_qty)
    # stock ledger of the live items (history only)
    ledger: Optional[pd.DataFrame] = None


class Marketplace:
    """A seeded marketplace whose history is the `conf.days` days before `run_date`.

    Day indices count from the window start (day 0); `run_date` is day `days`, the
    first day of the next launch window. The catalogue (initial items, launches
    during the window, delistings), the users and the candidates are fixed at
    construction; behaviour is drawn per day from (seed, stream, day).
    """

    def __init__(self, conf: SimulateConf, run_date: dt.date, seed: Optional[int] = None):
        self.conf = conf
        self.seed = conf.seed if seed is None else int(seed)
        self.run_date = run_date
        self.days = conf.days
        self.window_start = run_date - dt.timedelta(days=conf.days)
        self.segments = users_mod.make_segments(conf.segments, conf.categories, self.rng_for(1))
        self.users = users_mod.make_users(conf.users, conf.sessions_per_user_day, self.segments, conf.days,
                                          self.rng_for(2))
        self.categories = catalog_mod.make_categories(conf.categories, self.rng_for(3))
        self.items = self._make_items()
        self.candidates = self._make_candidates()
        self.pool = Products.concat([self.items, self.candidates])
        self.n_items = self.items.n
        self.candidate_index = {cid: self.n_items + i for i, cid in enumerate(self.candidates.ids)}
        self._stock_policy()

    # ------------------------------------------------------------------ world
    def rng_for(self, *keys: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, *keys])

    def _make_items(self) -> Products:
        conf, C = self.conf, self.conf.categories
        rng = self.rng_for(4)
        n_total = C * (conf.items_per_category + conf.launches_per_category)
        width = max(6, len(str(n_total)))
        initial = catalog_mod.make_products(self.categories, conf.items_per_category, rng, prefix="I",
                                            first_number=1, width=width)
        initial.launch_day[:] = -rng.integers(30, 720, initial.n)
        delisted = rng.random(initial.n) < DELIST_SHARE
        initial.delist_day[:] = np.where(delisted, rng.integers(1, max(conf.days, 2), initial.n), NEVER)
        if conf.launches_per_category == 0:
            return initial
        launches = catalog_mod.make_products(self.categories, conf.launches_per_category, self.rng_for(5),
                                             prefix="I", first_number=initial.n + 1, width=width,
                                             launch_days=self._launch_days(self.rng_for(5, 1)))
        return Products.concat([initial, launches])

    def _launch_days(self, rng: np.random.Generator) -> np.ndarray:
        """Spread-out launch days so that most launches have full launch windows in the history."""
        n, days = self.conf.launches_per_category, self.days
        lo = min(7, days - 1)
        hi = days - 7 * self.conf.launch_window_weeks
        if hi - lo < 14:
            hi = max(lo + 1, days - 14)
        grid = np.linspace(lo, hi, n, endpoint=False) if n > 1 else np.array([float(lo)])
        step = (hi - lo) / max(n, 1)
        out = [np.clip(np.round(grid + rng.uniform(0, step, n)), 0, days - 1) for _ in range(self.conf.categories)]
        return np.stack(out).astype(np.int64)

    def _make_candidates(self) -> Products:
        conf = self.conf
        rng = self.rng_for(6)
        width = max(5, len(str(conf.categories * conf.candidates_per_category)))
        cands = catalog_mod.make_products(self.categories, conf.candidates_per_category, rng, prefix="C",
                                          first_number=1, width=width)
        cands.launch_day[:] = NEVER      # not live unless launched by play_forward
        self.min_order_qty = np.where(cands.price < 40, rng.choice([20, 50], cands.n), rng.choice([10, 20], cands.n))
        return cands

    def _stock_policy(self) -> None:
        """Restock every RESTOCK_DAYS up to a target that covers 0.6-1.8 cycles of expected demand."""
        rng = self.rng_for(7)
        n = self.n_items
        daily = np.zeros(n)
        ref = np.maximum(self.items.launch_day, 0)
        for day in np.unique(ref):
            live = self._live_items(int(day))
            idx = np.flatnonzero(ref == day)
            daily[idx] = self._approx_daily_units(int(day), live, self.pool.launch_day)[idx]
        cover = rng.uniform(0.6, 1.8, n)
        self.stock_target = np.maximum(2, np.ceil(daily * RESTOCK_DAYS * cover)).astype(np.int64)
        launched_in_window = self.items.launch_day >= 0
        self.restock_offset = np.where(launched_in_window, self.items.launch_day % RESTOCK_DAYS,
                                       rng.integers(0, RESTOCK_DAYS, n))
        start = np.round(self.stock_target * rng.uniform(0.3, 1.0, n)).astype(np.int64)
        self.initial_stock = np.where(launched_in_window, self.stock_target, start)

    # ---------------------------------------------------------------- helpers
    def date_of(self, day: int) -> dt.date:
        return self.window_start + dt.timedelta(days=int(day))

    def day_of(self, date: dt.date) -> int:
        return (date - self.window_start).days

    def season(self, day: int) -> float:
        return float(WEEKLY[self.date_of(day).weekday()] * (1.0 + TREND_PER_YEAR * day / 365.0))

    def _live_items(self, day: int) -> np.ndarray:
        it = self.items
        return np.flatnonzero((it.launch_day <= day) & (it.delist_day > day))

    def _exposure(self, day: int, launch_day: np.ndarray) -> np.ndarray:
        """Item part of the view utility over the pool: appeal + novelty boost."""
        age = day - launch_day.astype(np.float64)
        return self.pool.appeal + np.where(age >= 0, NOVELTY * np.exp(-np.maximum(age, 0) / NOVELTY_DAYS), 0.0)

    def _view_probs(self, day: int, live: np.ndarray, launch_day: np.ndarray):
        """Per category c: (items of c that are live, P[segment, item]) of a view landing on the item."""
        seg = self.segments
        expo = self._exposure(day, launch_day)
        out = []
        for c in range(len(self.categories)):
            idx = live[self.pool.cat[live] == c]
            if len(idx) == 0:
                out.append((idx, np.zeros((seg.n, 0))))
                continue
            fit = -PRICE_FIT * seg.price_sens[:, None] * (self.pool.z[idx][None, :] - seg.price_level[:, None]) ** 2
            util = expo[idx][None, :] + fit
            p = np.exp(util - util.max(axis=1, keepdims=True))
            out.append((idx, p / p.sum(axis=1, keepdims=True)))
        return out

    def _view_table(self, probs):
        """Concatenated CDFs for groups g = segment * C + category: value g + cdf, and the item of each entry."""
        C = len(self.categories)
        values, items = [], []
        for s in range(self.segments.n):
            for c in range(C):
                idx, p = probs[c]
                if len(idx):
                    cum = np.cumsum(p[s])
                    cum[-1] = 1.0
                    values.append(s * C + c + cum)
                    items.append(idx)
        if not values:
            return np.zeros(0), np.zeros(0, dtype=np.int64)
        return np.concatenate(values), np.concatenate(items)

    def _conversion(self, user: np.ndarray, item: np.ndarray):
        """(p_cart, p_buy) of a view by user of item; arrays broadcast."""
        u = self.users
        fit = -PRICE_FIT * u.price_sens[user] * (self.pool.z[item] - u.price_level[user]) ** 2
        p_cart = _sigmoid(CART_BASE + CART_APPEAL * self.pool.appeal[item] + fit)
        p_buy = _sigmoid(BUY_BASE + BUY_PRICE * self.pool.z[item] + BUY_FIT * fit)
        return p_cart, p_buy

    def _approx_daily_units(self, day: int, live: np.ndarray, launch_day: np.ndarray) -> np.ndarray:
        """Segment-level expected units per pool item on `day` (for stocking decisions)."""
        u, seg = self.users, self.segments
        active = u.signup_day <= day
        reach = np.stack([np.bincount(u.segment, weights=u.rate * active * u.cat_prob[:, c], minlength=seg.n)
                          for c in range(len(self.categories))], axis=1)      # (S, C)
        out = np.zeros(self.pool.n)
        for c, (idx, p) in enumerate(self._view_probs(day, live, launch_day)):
            if not len(idx):
                continue
            fit = -PRICE_FIT * seg.price_sens[:, None] * (self.pool.z[idx][None, :] - seg.price_level[:, None]) ** 2
            pc = _sigmoid(CART_BASE + CART_APPEAL * self.pool.appeal[idx][None, :] + fit)
            pb = _sigmoid(BUY_BASE + BUY_PRICE * self.pool.z[idx][None, :] + BUY_FIT * fit)
            out[idx] = (reach[:, c:c + 1] * p * pc * pb).sum(axis=0)
        return out * self.season(day) * (1 + EXTRA_VIEWS) * MEAN_QTY

    # ------------------------------------------------------------- one day
    def simulate_day(self, day: int, live: np.ndarray, launch_day: np.ndarray, stock: np.ndarray,
                     rng: np.random.Generator) -> DaySim:
        """Simulate one day; `stock` (over the pool) is decremented in place by what sells."""
        u, C = self.users, len(self.categories)
        probs = self._view_probs(day, live, launch_day)
        cdf, lookup = self._view_table(probs)
        has_items = np.array([len(p[0]) > 0 for p in probs])

        # sessions
        lam = u.rate * self.season(day) * (u.signup_day <= day)
        s_user = np.repeat(np.arange(u.n), rng.poisson(lam))
        S = len(s_user)
        s_cat = np.minimum((u.cat_cum[s_user] < rng.random(S)[:, None]).sum(axis=1), C - 1)
        s_channel = np.where(rng.random(S) < users_mod.PREFERRED_CHANNEL_P, u.channel[s_user],
                             rng.integers(0, 3, S))
        s_start = rng.choice(24, S, p=HOURLY) * 3600 + rng.integers(0, 3600, S)
        s_search = rng.random(S) < SEARCH_P
        s_query = rng.integers(0, QUERY_PATTERNS, S)
        k = 1 + rng.poisson(EXTRA_VIEWS, S)
        status_r = rng.random(S)
        s_status = np.where(status_r < CANCEL_P, 1, np.where(status_r < CANCEL_P + RETURN_P, 2, 0))
        s_status_delay = np.where(s_status == 0, rng.integers(60, 1800, S),
                                  np.where(s_status == 1, rng.integers(300, 2 * DAY_S, S),
                                           rng.integers(3 * DAY_S, 20 * DAY_S, S)))
        s_guest = rng.random(S) < GUEST_P
        checkout_extra = rng.integers(20, 180, S)
        keep = has_items[s_cat]               # a category with nothing live gets no sessions
        if not keep.all():
            s_user, s_cat, s_channel, s_start, s_search, s_query, k, s_status, s_status_delay, s_guest, \
                checkout_extra = (a[keep] for a in (s_user, s_cat, s_channel, s_start, s_search, s_query, k,
                                                    s_status, s_status_delay, s_guest, checkout_extra))
            S = len(s_user)

        # views: item by segment-category softmax; times by exponential gaps
        V = int(k.sum())
        v_sess = np.repeat(np.arange(S), k)
        first = np.cumsum(k) - k
        last = first + k - 1
        group = u.segment[s_user][v_sess] * C + s_cat[v_sess]
        pos = np.searchsorted(cdf, group + rng.random(V), side="right")
        v_item = lookup[np.minimum(pos, len(lookup) - 1)]
        gaps = np.ceil(rng.exponential(VIEW_GAP_S, V)).astype(np.int64)
        cs = np.cumsum(gaps)
        v_rel = cs - (cs[first] - gaps[first])[v_sess]
        s_checkout_rel = v_rel[last] + 60 + checkout_extra
        # every session ends (checkout plus a status minute) before midnight
        s_start = np.clip(np.minimum(s_start, DAY_S - 61 - s_checkout_rel), 0, None)
        v_time = s_start[v_sess] + np.minimum(v_rel, DAY_S - 62)
        s_checkout = np.minimum(s_start + s_checkout_rel, DAY_S - 61)

        # funnel
        v_user = s_user[v_sess]
        p_cart, p_buy = self._conversion(v_user, v_item)
        is_cart = rng.random(V) < p_cart
        cart_delay = rng.integers(3, 60, V)
        qty = 1 + rng.choice(3, V, p=QTY_P)
        is_buy = is_cart & (rng.random(V) < p_buy)
        c_idx = np.flatnonzero(is_cart)
        a_idx = np.flatnonzero(is_buy)
        a_sess, a_item, a_qty = v_sess[a_idx], v_item[a_idx], qty[a_idx]

        # stock: fill attempts in checkout-time order, item by item
        a_sold = np.zeros(len(a_idx), dtype=np.int64)
        if len(a_idx):
            order = np.lexsort((np.arange(len(a_idx)), s_checkout[a_sess], a_item))
            it, q = a_item[order], a_qty[order]
            cs_q = np.cumsum(q)
            new = np.r_[True, it[1:] != it[:-1]]
            base = np.maximum.accumulate(np.where(new, np.arange(len(it)), 0))
            before = cs_q - q - (cs_q[base] - q[base])
            a_sold[order] = np.clip(stock[it] - before, 0, q)
            np.subtract.at(stock, a_item, a_sold)

        return DaySim(day=day, date=self.date_of(day), s_user=s_user, s_cat=s_cat, s_channel=s_channel,
                      s_start=s_start, s_search=s_search, s_query=s_query, s_checkout=s_checkout,
                      s_first_view=first, s_status=s_status, s_status_delay=s_status_delay, s_guest=s_guest,
                      v_sess=v_sess, v_item=v_item, v_time=v_time,
                      c_sess=v_sess[c_idx], c_item=v_item[c_idx],
                      c_time=np.minimum(v_time[c_idx] + cart_delay[c_idx], DAY_S - 61), c_qty=qty[c_idx],
                      a_sess=a_sess, a_item=a_item, a_qty=a_qty, a_sold=a_sold)

    # -------------------------------------------------------------- history
    def history(self) -> Iterator[DaySim]:
        """The window's days in order, with restocking, stockouts and a stock ledger per day."""
        stock = np.zeros(self.pool.n, dtype=np.int64)
        stock[:self.n_items] = self.initial_stock
        for day in range(self.days):
            live = self._live_items(day)
            due = ((day - self.restock_offset[live]) % RESTOCK_DAYS == 0) & (self.items.launch_day[live] != day)
            restock = np.where(due, np.maximum(self.stock_target[live] - stock[live], 0), 0)
            stock[live] += restock
            start = stock[live].copy()
            sim = self.simulate_day(day, live, self.pool.launch_day, stock, self.rng_for(10, day))
            wanted = np.bincount(sim.a_item, weights=sim.a_qty, minlength=self.pool.n)[live]
            sold = np.bincount(sim.a_item, weights=sim.a_sold, minlength=self.pool.n)[live]
            sim.ledger = pd.DataFrame({
                "item_id": self.pool.ids[live], "date": sim.date, "stock_start": start,
                "restocked": restock, "units_sold": sold.astype(np.int64),
                "lost_units": (wanted - sold).astype(np.int64), "stock_end": stock[live].copy()})
            yield sim

    # --------------------------------------------------------- launch window
    def _window(self, start_date: dt.date, candidate_idx: np.ndarray):
        day0 = self.day_of(start_date)
        if day0 < self.days:
            raise ValueError(f"start_date {start_date} is before run_date {self.run_date}: "
                             "the launch window starts on or after the plan date")
        launch_day = self.pool.launch_day.copy()
        launch_day[candidate_idx] = day0
        live = np.union1d(self._live_items(self.days), candidate_idx)
        return day0, launch_day, live

    def _candidate_idx(self, ids) -> np.ndarray:
        try:
            return np.array([self.candidate_index[c] for c in ids], dtype=np.int64)
        except KeyError as exc:
            raise KeyError(f"unknown candidate_id {exc.args[0]!r}") from None

    def play_forward(self, start_date: dt.date, n_days: int, launched: pd.DataFrame,
                     seed: Optional[int] = None) -> pd.DataFrame:
        """Launch `launched` (candidate_id, stock) on start_date and simulate n_days.

        Candidates get their stock once (no reorders); catalogue items never run
        out. Returns one row per launched candidate and day: candidate_id, date,
        day (1..n_days), demand (units wanted), units_sold, lost_units. Demand
        draws do not depend on stock, so with unlimited stock units_sold == demand
        and with stock s the total sold is min(s, total demand).
        """
        ids = list(launched["candidate_id"])
        cidx = self._candidate_idx(ids)
        day0, launch_day, live = self._window(start_date, cidx)
        stock = np.full(self.pool.n, UNLIMITED, dtype=np.int64)
        stock[cidx] = np.minimum(np.asarray(launched["stock"], dtype=np.float64), float(UNLIMITED)).astype(np.int64)
        seed = self.seed if seed is None else int(seed)
        frames = []
        for d in range(n_days):
            day = day0 + d
            sim = self.simulate_day(day, live, launch_day, stock, np.random.default_rng([seed, 20, day]))
            wanted = np.bincount(sim.a_item, weights=sim.a_qty, minlength=self.pool.n)[cidx]
            sold = np.bincount(sim.a_item, weights=sim.a_sold, minlength=self.pool.n)[cidx]
            frames.append(pd.DataFrame({"candidate_id": ids, "date": sim.date, "day": d + 1,
                                        "demand": wanted.astype(np.int64), "units_sold": sold.astype(np.int64),
                                        "lost_units": (wanted - sold).astype(np.int64)}))
        cols = ["candidate_id", "date", "day", "demand", "units_sold", "lost_units"]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)

    def expected_demand(self, start_date: dt.date, n_days: int, candidate_ids=None,
                        user_chunk: int = 50_000) -> pd.DataFrame:
        """Exact expectation of play_forward's daily demand (candidate_id, day, expected_units).

        E[units_i on d] = season(d) E[views] E[qty] sum_s P_s(view lands on i | d) A[s, i] with
        A[s, i] = sum over users u of segment s of rate_u P_u(category of i) p_cart(u, i) p_buy(u, i).
        """
        ids = list(self.candidates.ids if candidate_ids is None else candidate_ids)
        cidx = self._candidate_idx(ids)
        day0, launch_day, live = self._window(start_date, cidx)
        u, S = self.users, self.segments.n
        A = np.zeros((S, len(cidx)))
        active = (u.signup_day <= day0).astype(np.float64)
        onehot = np.eye(S)[u.segment]                                  # (U, S)
        for lo in range(0, u.n, user_chunk):
            sl = slice(lo, lo + user_chunk)
            users = np.arange(u.n)[sl]
            p_cart, p_buy = self._conversion(users[:, None], cidx[None, :])
            w = (u.rate[sl] * active[sl])[:, None] * u.cat_prob[sl][:, self.pool.cat[cidx]]
            A += onehot[sl].T @ (w * p_cart * p_buy)
        rows = []
        pos = {int(i): j for j, i in enumerate(cidx)}
        for d in range(n_days):
            day = day0 + d
            e = np.zeros(len(cidx))
            for c, (idx, p) in enumerate(self._view_probs(day, live, launch_day)):
                sel = [pos[int(i)] for i in idx if int(i) in pos]
                if not sel:
                    continue
                cols = np.flatnonzero(np.isin(idx, cidx))
                e[sel] = (p[:, cols] * A[:, sel]).sum(axis=0)
            rows.append(pd.DataFrame({"candidate_id": ids, "day": d + 1,
                                      "expected_units": e * self.season(day) * (1 + EXTRA_VIEWS) * MEAN_QTY}))
        return pd.concat(rows, ignore_index=True)

    def expected_totals_by_noise(self, start_date: dt.date, n_days: int, candidate_ids,
                                 noise_values: Sequence[float]) -> np.ndarray:
        """(candidates x noise values): expected units over the window if every candidate's
        unlearnable appeal part were the given value (its attributes unchanged).

        E[units | attributes] integrates this over the noise's distribution: the
        demand a forecaster that knew exactly how attributes act could expect
        before launch. The candidates' own noise is restored afterwards.
        """
        ids = list(candidate_ids)
        cidx = self._candidate_idx(ids)
        saved = self.pool.noise[cidx].copy()
        out = np.zeros((len(ids), len(noise_values)))
        try:
            for j, v in enumerate(noise_values):
                self.pool.noise[cidx] = float(v)
                e = self.expected_demand(start_date, n_days, ids)
                out[:, j] = e.groupby("candidate_id", sort=False)["expected_units"].sum().reindex(ids).to_numpy()
        finally:
            self.pool.noise[cidx] = saved
        return out

    def candidate_truth(self, seed: Optional[int] = None) -> pd.DataFrame:
        """Per candidate and week of the window at run_date, all candidates live with unlimited stock:
        realised demand (units) and its expectation (expected_units)."""
        n_days = 7 * self.conf.launch_window_weeks
        all_in = pd.DataFrame({"candidate_id": self.candidates.ids, "stock": UNLIMITED})
        real = self.play_forward(self.run_date, n_days, all_in, seed=seed)
        exp = self.expected_demand(self.run_date, n_days)
        df = real.merge(exp, on=["candidate_id", "day"], how="left")
        df["week"] = (df["day"] - 1) // 7 + 1
        out = df.groupby(["candidate_id", "week"], sort=True).agg(
            units=("demand", "sum"), expected_units=("expected_units", "sum")).reset_index()
        cat = dict(zip(self.candidates.ids, (self.categories[c].name for c in self.candidates.cat)))
        out.insert(1, "category", out["candidate_id"].map(cat))
        out["units"] = out["units"].astype(np.int64)
        return out[["candidate_id", "category", "week", "units", "expected_units"]]
