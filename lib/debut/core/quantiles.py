"""Names of forecast quantile columns: one rule for every table and stage."""
from __future__ import annotations

from typing import Sequence, Tuple


def quantile_name(q: float) -> str:
    """0.1 -> 'p10', 0.975 -> 'p97_5'."""
    return "p" + f"{round(q * 100, 6):g}".replace(".", "_")


def quantile_names(quantiles: Sequence[float]) -> Tuple[str, str, str]:
    """Names of the lowest, middle and highest of ``quantiles`` (p10, p50, p90 by default)."""
    qs = tuple(sorted(quantiles))
    if not qs:
        raise ValueError("quantile_names: no quantiles given")
    return quantile_name(qs[0]), quantile_name(qs[len(qs) // 2]), quantile_name(qs[-1])
