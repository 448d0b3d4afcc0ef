"""Self-contained HTML: inline CSS, plots as base64 PNG (matplotlib Agg), no external URL."""
from __future__ import annotations

import base64
import html
import io as _io
from typing import Iterable, List, Optional, Sequence

import numpy as np
import pandas as pd

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#1d2330;max-width:1280px}
h1{font-size:24px;margin-bottom:4px} h2{font-size:19px;border-bottom:2px solid #d9dee8;padding-bottom:4px;margin-top:32px}
h3{font-size:15px;margin:18px 0 6px} .muted{color:#6b7385;font-size:13px}
table{border-collapse:collapse;font-size:12.5px;margin:6px 0 12px;width:100%}
th,td{border:1px solid #d9dee8;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f1f4f9} td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.launch td{background:#f3fbf4} .note{background:#fff8e5;border:1px solid #f0d58a;padding:6px 10px;font-size:13px}
.kpis{display:flex;gap:12px;flex-wrap:wrap} .kpi{border:1px solid #d9dee8;border-radius:6px;padding:8px 14px;min-width:150px}
.kpi b{display:block;font-size:20px} img{max-width:100%;border:1px solid #eef1f6;margin:6px 0}
nav a{margin-right:10px;font-size:13px;color:#2b5fb3;text-decoration:none}
"""


def esc(value) -> str:
    return html.escape("" if value is None else str(value))


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


def table(df: pd.DataFrame, columns: Optional[Sequence[str]] = None, row_class=None, raw: Iterable[str] = ()) -> str:
    """An HTML table of df; numbers right-aligned; columns in ``raw`` are inserted unescaped (already HTML)."""
    columns = list(columns or df.columns)
    raw = set(raw)
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    rows: List[str] = []
    for rec in df.to_dict("records"):
        cls = f' class="{row_class(rec)}"' if row_class and row_class(rec) else ""
        cells = []
        for c in columns:
            v = rec.get(c)
            if c in raw:
                cells.append(f"<td>{'' if v is None else v}</td>")
            elif isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_)):
                cells.append(f'<td class="num">{fmt(v)}</td>')
            else:
                cells.append(f"<td>{esc(fmt(v))}</td>")
        rows.append(f"<tr{cls}>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def note(text: str) -> str:
    return f'<p class="note">{esc(text)}</p>'


def png(fig, dpi: int) -> str:
    """Embed a matplotlib figure as a base64 PNG <img> and close it."""
    import matplotlib.pyplot as plt

    buf = _io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="plot" src="data:image/png;base64,{data}"/>'


def page(title: str, subtitle: str, sections: Sequence[tuple]) -> str:
    """sections: (anchor, heading, body html)."""
    nav = "".join(f'<a href="#{a}">{esc(h)}</a>' for a, h, _ in sections)
    body = "".join(f'<section id="{a}"><h2>{esc(h)}</h2>{b}</section>' for a, h, b in sections)
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{esc(title)}</title>"
            f"<style>{CSS}</style></head><body><h1>{esc(title)}</h1><p class=\"muted\">{esc(subtitle)}</p>"
            f"<nav>{nav}</nav>{body}</body></html>")
