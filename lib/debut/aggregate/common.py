"""Helpers of the aggregate job: date sets as SQL conditions (the catalog as of a
date is debut.core.catalog.to_catalog_as_of)."""
from __future__ import annotations

import datetime as dt
from typing import Iterable, List


def expand_dates(dates: Iterable[dt.date], *, before: int = 0, after: int = 0) -> List[dt.date]:
    """Every date within [d - before, d + after] of some d in ``dates``, sorted."""
    out = {d + dt.timedelta(days=k) for d in dates for k in range(-before, after + 1)}
    return sorted(out)


def date_condition(column: str, dates: Iterable[dt.date]) -> str:
    """SQL predicate ``column`` in ``dates``, as BETWEEN ranges of consecutive days
    (short, and prunes partitions); ``false`` for no dates."""
    days = sorted(set(dates))
    if not days:
        return "false"
    ranges, lo, hi = [], days[0], days[0]
    for d in days[1:]:
        if d == hi + dt.timedelta(days=1):
            hi = d
            continue
        ranges.append((lo, hi))
        lo = hi = d
    ranges.append((lo, hi))
    parts = [f"`{column}` = DATE'{a.isoformat()}'" if a == b else
             f"`{column}` BETWEEN DATE'{a.isoformat()}' AND DATE'{b.isoformat()}'" for a, b in ranges]
    return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"
