"""Helpers of the aggregate job: date sets as SQL conditions (the catalog as of a
date is debut.core.catalog.to_catalog_as_of)."""
from __future__ import annotations

import datetime as dt
from typing import Iterable, List


def expand_dates(dates: Iterable[dt.date], *, before: int = 0, after: int = 0) -> List[dt.date]:
    """Every date within [d - before, d + after] of some d in ``dates``, sorted."""
    out = {d + dt.timedelta(days=k) for d in dates for k in range(-before, after + 1)}
    return sorted(out)


MAX_DATE_TERMS = 8     # OR terms in a date predicate before it becomes one IN list


def _date_in(column: str, days: List[dt.date]) -> str:
    if len(days) == 1:
        return f"`{column}` = DATE'{days[0].isoformat()}'"
    return f"`{column}` IN (" + ", ".join(f"DATE'{d.isoformat()}'" for d in days) + ")"


def date_condition(column: str, dates: Iterable[dt.date]) -> str:
    """SQL predicate ``column`` in ``dates``: BETWEEN ranges for runs of three or more consecutive
    days, the other days in one IN list (short, and prunes partitions); one IN list of every day
    when that would still take more than MAX_DATE_TERMS terms (scattered late or odd dates: a long OR
    chain outgrows the JVM's 64 KB method limit in Delta's file pruning, an IN list becomes a hash
    set); ``false`` for no dates."""
    days = sorted(set(dates))
    if not days:
        return "false"
    runs, lo, hi = [], days[0], days[0]
    for d in days[1:]:
        if d == hi + dt.timedelta(days=1):
            hi = d
            continue
        runs.append((lo, hi))
        lo = hi = d
    runs.append((lo, hi))
    parts, loose = [], []
    for a, b in runs:
        if (b - a).days >= 2:
            parts.append(f"`{column}` BETWEEN DATE'{a.isoformat()}' AND DATE'{b.isoformat()}'")
        else:
            loose += [a + dt.timedelta(days=k) for k in range((b - a).days + 1)]
    if loose:
        parts.append(_date_in(column, loose))
    if len(parts) > MAX_DATE_TERMS:
        return _date_in(column, days)
    return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"
