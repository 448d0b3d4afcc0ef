"""The report's blocks as plain data, rendered by the Jinja2 templates in ``templates/`` (autoescape on).

Sections are lists of blocks (text, note, heading, table, plot, kpis, paged);
no HTML is written here, so every value from a table reaches the page escaped.
Plots are base64 PNGs (matplotlib Agg) and the CSS is inline: no external URL.
"""
from __future__ import annotations

import base64
import functools
import io as _io
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence

import jinja2
import numpy as np
import pandas as pd

Block = Dict[str, Any]


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """Templates shipped as package data (debut/report/templates), every ``{{ value }}`` escaped."""
    return jinja2.Environment(loader=jinja2.PackageLoader("debut.report", "templates"), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def fmt(value, digits: Optional[int] = None) -> str:
    """Numbers for tables: thousands separators; digits by magnitude unless given."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "-"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        if digits is None:
            a = abs(float(value))
            if a == 0:
                return "0"
            digits = 3 if a < 1 else 2 if a < 100 else 1
        return f"{float(value):,.{digits}f}"
    return str(value)


def pct(value, digits: int = 0) -> str:
    return "-" if value is None or not np.isfinite(value) else f"{100 * value:.{digits}f}%"


def _cell(value: Any, as_lines: bool) -> Dict[str, Any]:
    if as_lines:
        lines = [] if value is None or (isinstance(value, float) and np.isnan(value)) else \
            [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]
        return {"lines": lines or ["-"], "num": False, "text": ""}
    is_num = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    return {"lines": None, "num": is_num, "text": fmt(value)}


def table(df: pd.DataFrame, columns: Optional[Sequence[str]] = None,
          row_class: Optional[Callable[[Dict[str, Any]], str]] = None, lines: Iterable[str] = (),
          caption: str = "") -> Block:
    """A table block of df; numbers right-aligned; a ``lines`` column holds a list of texts, one per line."""
    columns = list(columns or df.columns)
    lines = set(lines)
    rows = [{"cls": (row_class(rec) if row_class else "") or "",
             "cells": [_cell(rec.get(c), c in lines) for c in columns]}
            for rec in df.to_dict("records")]
    return {"kind": "table", "columns": columns, "rows": rows, "caption": caption}


def paged(title: str, df: pd.DataFrame, page_rows: int, **table_args: Any) -> Block:
    """Every row of df as tables of ``page_rows`` rows, with the count stated (never cut)."""
    page_rows = max(1, int(page_rows))
    pages = [{"first": start + 1, "last": min(start + page_rows, len(df)),
              "table": table(df.iloc[start:start + page_rows], **table_args)}
             for start in range(0, max(len(df), 1), page_rows)]
    return {"kind": "paged", "title": title, "total": len(df), "page_rows": page_rows, "pages": pages}


def text(value: str) -> Block:
    """A muted explanatory paragraph."""
    return {"kind": "text", "text": value}


def para(value: str) -> Block:
    return {"kind": "para", "text": value}


def note(value: str) -> Block:
    return {"kind": "note", "text": value}


def heading(value: str) -> Block:
    return {"kind": "heading", "text": value}


def kpis(tiles: Sequence[Dict[str, Optional[str]]]) -> Block:
    """Summary tiles: {label, value, why}; a tile without a value shows why."""
    return {"kind": "kpis", "tiles": [{"label": t["label"], "value": t.get("value"), "why": t.get("why") or ""}
                                      for t in tiles]}


def png(fig, dpi: int, alt: str = "plot") -> Block:
    """A matplotlib figure as a base64 PNG block; closes the figure."""
    import matplotlib.pyplot as plt

    buf = _io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return {"kind": "plot", "alt": alt, "data": base64.b64encode(buf.getvalue()).decode("ascii")}


def page(title: str, subtitle: str, sections: Sequence[tuple]) -> str:
    """sections: (anchor, heading, blocks)."""
    return environment().get_template("report.html.j2").render(
        title=title, subtitle=subtitle,
        sections=[{"anchor": a, "heading": h, "blocks": list(b)} for a, h, b in sections])
