"""Users and their latent segments (the hidden truth the customer-profile stage should recover).

A segment has two strongly preferred categories, a price level (where in a
category's price range it likes to buy), a price sensitivity, an activity level
and a favourite channel. Users scatter around their segment and have
heavy-tailed (lognormal) session rates.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import List, Tuple

import numpy as np

CATEGORY_PREF = 3.5        # logit bonus of a segment's two preferred categories
USER_PREF_NOISE = 0.3      # per-user scatter of category logits
ACTIVITY_SIGMA = 1.0       # lognormal sigma of per-user session rates (heavy tail)
MAX_RATE_FACTOR = 12.0     # cap on a user's rate relative to the mean (bots aside)
PREFERRED_CHANNEL_P = 0.8  # share of a user's sessions on their own channel
SIGNUP_BEFORE_DAYS = 730   # users signed up up to two years before the window
SIGNUP_IN_WINDOW = 0.15    # share of users who sign up during the window


@dataclass(frozen=True)
class Segments:
    preferred: Tuple[Tuple[int, ...], ...]   # category indices each segment prefers
    cat_logit: np.ndarray                    # (S, C)
    price_level: np.ndarray                  # (S,) preferred price position (z units)
    price_sens: np.ndarray                   # (S,)
    activity: np.ndarray                     # (S,) mean session-rate multiplier
    channel_probs: np.ndarray                # (S, 3) over schemas.CHANNELS

    @property
    def n(self) -> int:
        return len(self.price_level)


@dataclass(frozen=True)
class Users:
    user_id: np.ndarray       # (U,) str, "U0000001"
    segment: np.ndarray       # (U,) int
    cat_prob: np.ndarray      # (U, C) chance that a session browses category c
    cat_cum: np.ndarray       # (U, C) its cumulative sum, for sampling
    price_level: np.ndarray   # (U,)
    price_sens: np.ndarray    # (U,)
    rate: np.ndarray          # (U,) sessions per day before seasonality
    channel: np.ndarray       # (U,) preferred channel index
    signup_day: np.ndarray    # (U,) day index relative to the window start (negative: before)

    @property
    def n(self) -> int:
        return len(self.user_id)


def _preferred_pairs(n_segments: int, n_categories: int, rng: np.random.Generator) -> List[Tuple[int, ...]]:
    """Distinct category pairs: disjoint ones first, then shifted ones, then any."""
    order = rng.permutation(n_categories)
    if n_categories == 1:
        return [(int(order[0]),)] * n_segments
    pairs: List[Tuple[int, ...]] = []
    for i in range(0, n_categories - 1, 2):
        pairs.append((order[i], order[i + 1]))
    for i in range(1, n_categories, 2):
        pairs.append((order[i], order[(i + 1) % n_categories]))
    rest = [p for p in combinations(order, 2) if tuple(sorted(p)) not in {tuple(sorted(q)) for q in pairs}]
    pairs += [tuple(p) for p in rng.permutation(np.array(rest, dtype=int))] if rest else []
    pairs = [tuple(int(c) for c in p) for p in pairs]
    return [pairs[s % len(pairs)] for s in range(n_segments)]


def make_segments(n_segments: int, n_categories: int, rng: np.random.Generator) -> Segments:
    preferred = _preferred_pairs(n_segments, n_categories, rng)
    cat_logit = rng.normal(0.0, 0.3, (n_segments, n_categories))
    for s, cats in enumerate(preferred):
        cat_logit[s, list(cats)] += CATEGORY_PREF
    levels = np.linspace(-1.0, 1.0, n_segments) if n_segments > 1 else np.zeros(1)
    price_level = rng.permutation(levels)
    # budget shoppers are the price-sensitive ones
    price_sens = 1.0 - 0.5 * price_level + rng.uniform(-0.1, 0.1, n_segments)
    activity = np.exp(rng.normal(0.0, 0.25, n_segments))
    channel_probs = rng.dirichlet(np.full(3, 0.7), n_segments)
    return Segments(tuple(preferred), cat_logit, price_level, price_sens, activity, channel_probs)


def make_users(n_users: int, sessions_per_user_day: float, segments: Segments, days: int,
               rng: np.random.Generator) -> Users:
    weights = rng.dirichlet(np.full(segments.n, 8.0))
    segment = rng.choice(segments.n, size=n_users, p=weights)
    logit = segments.cat_logit[segment] + rng.normal(0.0, USER_PREF_NOISE, (n_users, segments.cat_logit.shape[1]))
    prob = np.exp(logit - logit.max(axis=1, keepdims=True))
    prob /= prob.sum(axis=1, keepdims=True)
    cum = np.cumsum(prob, axis=1)
    cum[:, -1] = 1.0
    price_level = segments.price_level[segment] + rng.normal(0.0, 0.2, n_users)
    price_sens = segments.price_sens[segment] * np.exp(rng.normal(0.0, 0.2, n_users))
    heavy = np.minimum(rng.lognormal(-ACTIVITY_SIGMA ** 2 / 2, ACTIVITY_SIGMA, n_users), MAX_RATE_FACTOR)
    rate = sessions_per_user_day * segments.activity[segment] * heavy
    rate *= sessions_per_user_day * n_users / max(rate.sum(), 1e-12)
    own = np.array([rng.choice(3, p=segments.channel_probs[s]) for s in range(segments.n)])
    channel = np.where(rng.random(n_users) < 0.85, own[segment], rng.integers(0, 3, n_users))
    in_window = rng.random(n_users) < SIGNUP_IN_WINDOW
    signup_day = np.where(in_window, rng.integers(0, max(days, 1), n_users),
                          -rng.integers(1, SIGNUP_BEFORE_DAYS, n_users))
    width = max(7, len(str(n_users)))
    user_id = np.array([f"U{i:0{width}d}" for i in range(1, n_users + 1)], dtype=object)
    return Users(user_id, segment, prob, cum, price_level, price_sens, rate, channel, signup_day)
