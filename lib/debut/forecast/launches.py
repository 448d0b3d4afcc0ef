"""Launch-history and candidate files as they come: pandas only, checked row by row.

A launch table has one row per launch: item_id, weekly units ``week_1 ..
week_N`` (NaN where a week is not known) and whatever else the file has:
launch_date, a category path ("home > kitchen > mugs"), price, seller or
brand, title, attributes. Files come wide (``week_1..week_N`` columns) or long
(``week`` + ``units``). Negative units (net returns) are counted and clipped
to 0; a row with a bad value (an unreadable number or date, an empty or
repeated id, no known week) is reported as (row, column, reason) and left out
while the rest goes on; only a file with no usable row is an error.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np
import pandas as pd

from debut.config import ConfigError

WEEK = re.compile(r"^week_?(\d+)$")
# columns with a meaning of their own; everything else is an attribute
ID, DATE, CATEGORY, PRICE = "item_id", "launch_date", "category", "price"
NUMERIC_KNOWN = ("price", "unit_cost")
SHOWN_ISSUES = 10


def week_cols(h: int) -> List[str]:
    return [f"week_{k}" for k in range(1, h + 1)]


def horizon_of(df: pd.DataFrame) -> int:
    """Number of week_k columns of a launch table."""
    return sum(1 for c in df.columns if WEEK.match(c))


@dataclass
class Issue:
    row: int                 # 1 = the first data row of the file
    column: str
    reason: str


@dataclass
class Cleaned:
    table: pd.DataFrame
    read: int                # rows read (launch x week rows for a long file)
    issues: List[Issue] = field(default_factory=list)
    negatives: int = 0       # weekly cells below 0 (returns), clipped to 0
    left_out: int = 0        # launches (or candidates) left out for a bad value

    def report(self, what: str, say=print) -> None:
        """Print the counts and the first issues."""
        say(f"[{what}] {len(self.table)} usable of {self.read} row(s) read; {self.left_out} left out "
            f"for a bad value; {self.negatives} negative weekly value(s) (returns) clipped to 0")
        for i in self.issues[:SHOWN_ISSUES]:
            say(f"[{what}]   row {i.row}, column {i.column}: {i.reason}")
        if len(self.issues) > SHOWN_ISSUES:
            say(f"[{what}]   ... and {len(self.issues) - SHOWN_ISSUES} more")


def read_file(path: str) -> pd.DataFrame:
    """A CSV (header row, every column as text) or a Parquet file/directory, with pandas/pyarrow."""
    p = str(path).rstrip("/")
    try:
        if p.endswith(".parquet"):
            return pd.read_parquet(p)
        return pd.read_csv(p, dtype=str, keep_default_na=False, na_values=[""])
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise ConfigError(f"{path}: cannot be read ({exc})") from None


def _lower(pdf: pd.DataFrame, path: str) -> pd.DataFrame:
    names = [str(c).strip().lower() for c in pdf.columns]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ConfigError(f"{path}: repeated column name(s) {', '.join(dup)}")
    out = pdf.copy()
    out.columns = names
    return out


def _blank(s: pd.Series) -> pd.Series:
    return s.isna() | s.astype(str).str.strip().isin(["", "nan", "None", "NaN", "NaT"])


def _numbers(s: pd.Series):
    """(values, bad mask): NaN where blank, bad where not blank and not a number."""
    if pd.api.types.is_numeric_dtype(s):
        v = pd.to_numeric(s, errors="coerce").astype(float)
        return v, pd.Series(False, index=s.index)
    blank = _blank(s)
    v = pd.to_numeric(s.where(~blank).astype(str).str.strip().str.replace(",", "", regex=False)
                      .where(~blank), errors="coerce")
    return v.astype(float), (~blank) & v.isna()


def _check_common(pdf: pd.DataFrame, rownum: pd.Series, issues: List[Issue]) -> pd.Series:
    """Bad-row mask for id, launch_date and price; normalises those columns in place."""
    bad = pd.Series(False, index=pdf.index)
    ids = pdf[ID]
    empty = _blank(ids)
    for i in pdf.index[empty]:
        issues.append(Issue(int(rownum[i]), ID, "empty"))
    bad |= empty
    pdf[ID] = ids.astype(str).str.strip()
    if DATE in pdf.columns:
        blank = _blank(pdf[DATE])
        d = pd.to_datetime(pdf[DATE].where(~blank), errors="coerce", utc=False)
        wrong = ~blank & d.isna()
        for i in pdf.index[wrong]:
            issues.append(Issue(int(rownum[i]), DATE, f"not a date: {pdf.at[i, DATE]!r}"))
        bad |= wrong
        pdf[DATE] = d.dt.tz_localize(None) if getattr(d.dt, "tz", None) is not None else d
    for c in NUMERIC_KNOWN:
        if c in pdf.columns:
            v, wrong = _numbers(pdf[c])
            wrong = wrong | (v <= 0) if c == PRICE else wrong | (v < 0)
            for i in pdf.index[wrong]:
                issues.append(Issue(int(rownum[i]), c, f"not a positive number: {pdf.at[i, c]!r}"
                                    if c == PRICE else f"not a number >= 0: {pdf.at[i, c]!r}"))
            bad |= wrong
            pdf[c] = v
    if CATEGORY in pdf.columns:
        pdf[CATEGORY] = pdf[CATEGORY].where(~_blank(pdf[CATEGORY])).map(
            lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip())
    return bad


def _long_to_wide(pdf: pd.DataFrame, path: str, issues: List[Issue]) -> pd.DataFrame:
    rownum = pd.Series(np.arange(1, len(pdf) + 1), index=pdf.index)
    week, bad_w = _numbers(pdf["week"])
    bad_w = bad_w | week.isna() | (week < 1) | (week != np.floor(week))
    for i in pdf.index[bad_w]:
        issues.append(Issue(int(rownum[i]), "week", f"not a week number >= 1: {pdf.at[i, 'week']!r}"))
    units, bad_u = _numbers(pdf["units"])
    for i in pdf.index[bad_u]:
        issues.append(Issue(int(rownum[i]), "units", f"not a number: {pdf.at[i, 'units']!r}"))
    bad_ids = set(pdf.loc[bad_w | bad_u, ID].astype(str))
    pdf = pdf.assign(week=week, units=units, _row=rownum)
    pdf = pdf[~pdf[ID].astype(str).isin(bad_ids)]
    attrs = [c for c in pdf.columns if c not in ("week", "units")]
    base = pdf.sort_values("_row").drop_duplicates(ID)[attrs]
    w = (pdf.dropna(subset=["week"]).pivot_table(index=ID, columns="week", values="units", aggfunc="sum",
                                                 dropna=False))
    w.columns = [f"week_{int(k)}" for k in w.columns]
    out = base.set_index(ID).join(w, how="left").reset_index()
    return out


def clean_history(raw: pd.DataFrame, path: str = "history", horizon: Optional[int] = None) -> Cleaned:
    """A history file's frame (wide or long) -> a launch table with week_1..week_H floats."""
    pdf = _lower(raw, path)
    weeks = {c: int(WEEK.match(c).group(1)) for c in pdf.columns if WEEK.match(c)}
    if ID not in pdf.columns:
        raise ConfigError(f"{path}: missing column item_id (has {', '.join(pdf.columns)})")
    issues: List[Issue] = []
    n_read = len(pdf)
    if weeks and "week" in pdf.columns:
        raise ConfigError(f"{path}: both week_N columns and a week column")
    if not weeks:
        if not {"week", "units"} <= set(pdf.columns):
            raise ConfigError(f"{path}: no weeks (week_1 .. week_N columns, or week and units)")
        pdf = _long_to_wide(pdf, path, issues)
        rownum = pdf.pop("_row")
        weeks = {c: int(WEEK.match(c).group(1)) for c in pdf.columns if WEEK.match(c)}
    else:
        rownum = pd.Series(np.arange(1, len(pdf) + 1), index=pdf.index)
        pdf = pdf.rename(columns={c: f"week_{k}" for c, k in weeks.items()})
    h = horizon or (max(weeks.values()) if weeks else 0)
    if h < 1:
        raise ConfigError(f"{path}: no week columns")
    bad = _check_common(pdf, rownum, issues)
    negatives = 0
    for k in range(1, h + 1):
        c = f"week_{k}"
        if c not in pdf.columns:
            pdf[c] = np.nan
            continue
        v, wrong = _numbers(pdf[c])
        for i in pdf.index[wrong]:
            issues.append(Issue(int(rownum[i]), c, f"not a number: {pdf.at[i, c]!r}"))
        bad |= wrong
        neg = (v < 0) & ~bad
        negatives += int(neg.sum())
        pdf[c] = v.clip(lower=0.0)
    extra = [c for c in pdf.columns if WEEK.match(c) and int(WEEK.match(c).group(1)) > h]
    pdf = pdf.drop(columns=extra)
    wc = week_cols(h)
    none_known = pdf[wc].isna().all(axis=1) & ~bad
    for i in pdf.index[none_known]:
        issues.append(Issue(int(rownum[i]), "week_1", "no known week"))
    bad |= none_known
    dup = pdf[ID].duplicated(keep="first") & ~bad
    for i in pdf.index[dup]:
        issues.append(Issue(int(rownum[i]), ID, f"repeated item_id {pdf.at[i, ID]!r} (first kept)"))
    bad |= dup
    table = pdf[~bad].reset_index(drop=True)
    if not len(table):
        first = f" (first: row {issues[0].row}, {issues[0].column}: {issues[0].reason})" if issues else ""
        raise ConfigError(f"{path}: no usable rows{first}")
    issues.sort(key=lambda i: i.row)
    return Cleaned(table, n_read, issues, negatives, int(bad.sum()))


def clean_candidates(raw: pd.DataFrame, path: str = "candidates") -> Cleaned:
    """Candidates (candidate_id or item_id + attributes; price optional) -> a checked table."""
    pdf = _lower(raw, path)
    if "candidate_id" in pdf.columns:
        pdf = pdf.drop(columns=[c for c in (ID,) if c in pdf.columns]).rename(columns={"candidate_id": ID})
    if ID not in pdf.columns:
        raise ConfigError(f"{path}: missing column candidate_id (or item_id) (has {', '.join(pdf.columns)})")
    issues: List[Issue] = []
    rownum = pd.Series(np.arange(1, len(pdf) + 1), index=pdf.index)
    bad = _check_common(pdf, rownum, issues)
    dup = pdf[ID].duplicated(keep="first") & ~bad
    for i in pdf.index[dup]:
        issues.append(Issue(int(rownum[i]), ID, f"repeated candidate id {pdf.at[i, ID]!r} (first kept)"))
    bad |= dup
    table = pdf[~bad].reset_index(drop=True)
    if not len(table):
        raise ConfigError(f"{path}: no usable rows")
    issues.sort(key=lambda i: i.row)
    return Cleaned(table, len(pdf), issues, 0, int(bad.sum()))


def from_long(long: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """Already-typed long rows (item_id, attributes, week, units), e.g. gold.launch_history as
    collected -> a launch table (weeks not in the rows stay NaN)."""
    attrs = [c for c in long.columns if c not in ("week", "units")]
    h = long[(long["week"] >= 1) & (long["week"] <= horizon)]
    base = h.drop_duplicates(ID)[attrs].set_index(ID)
    w = h.pivot_table(index=ID, columns="week", values="units", aggfunc="sum")
    w = w.reindex(columns=range(1, horizon + 1))
    w.columns = week_cols(horizon)
    out = base.join(w.clip(lower=0.0), how="inner").reset_index()
    if DATE in out.columns:
        out[DATE] = pd.to_datetime(out[DATE])
    return out
