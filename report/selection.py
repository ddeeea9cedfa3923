"""Which areas a report shows: check group columns and values, with clear errors."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from firerisk.columns import AREA_ID, AREA_NAME, BAND, MODEL_NOTE, OBS_RECENT
from firerisk.errors import Problem, ReportRequestError
from firerisk.geo.results import Results

__all__ = [
    "available_group_columns",
    "check_group_column",
    "group_values",
    "resolve_group_values",
    "selection_mask",
]

_RESERVED = {AREA_ID, AREA_NAME, BAND, "geometry", MODEL_NOTE, OBS_RECENT}
_FIX_REBUILD = "rebuild the results with the grouping in the profile's [areas] groups table."


def _source(results: Results) -> str:
    return str(results.path)


def available_group_columns(results: Results) -> list[str]:
    """Grouping columns a report can use: the groups recorded in the results.

    A results file that records no groups (an older build) offers its text columns instead.
    """
    cols = [c for c in results.group_columns if c in results.areas.columns]
    if cols:
        return cols
    for c in results.areas.columns:
        if c in cols or c in _RESERVED or c.startswith(("obs_", "reason_")):
            continue
        s = results.areas[c]
        if (pd.api.types.is_string_dtype(s) or s.dtype == object) and s.nunique() < len(s):
            cols.append(c)
    return cols


def check_group_column(results: Results, column: str) -> str:
    """Return *column* if the results can group by it, else raise :class:`ReportRequestError`."""
    available = available_group_columns(results)
    if column in available:
        return column
    close = difflib.get_close_matches(column, available, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    listed = ", ".join(repr(c) for c in available) or "none"
    raise ReportRequestError([Problem(
        _source(results), f"there is no group column {column!r}.{hint} Available: {listed}.",
        "pass one of the available group columns" if available else _FIX_REBUILD,
        column=column)])


def group_values(results: Results, column: str) -> list[str]:
    """The distinct non-empty values of *column*, sorted alphabetically."""
    s = results.areas[column].dropna().astype(str).str.strip()
    return sorted(v for v in s.unique() if v)


def _norm(v: str) -> str:
    return " ".join(str(v).casefold().split())


def resolve_group_values(results: Results, column: str, wanted: Iterable[str]) -> list[str]:
    """Map each wanted value onto a value of *column* (exact, else ignoring case and spaces).

    Every unknown value is reported at once, each with its closest matches.
    """
    values = group_values(results, column)
    by_norm: dict[str, list[str]] = {}
    for v in values:
        by_norm.setdefault(_norm(v), []).append(v)
    found: list[str] = []
    problems: list[Problem] = []
    for want in wanted:
        want = str(want)
        if want in values:
            found.append(want)
            continue
        matches = by_norm.get(_norm(want), [])
        if len(matches) == 1:
            found.append(matches[0])
            continue
        close = difflib.get_close_matches(want, values, n=3, cutoff=0.6)
        if not close:
            lower = {v.casefold(): v for v in values}
            close = [lower[c] for c in difflib.get_close_matches(want.casefold(), list(lower),
                                                                n=3, cutoff=0.6)]
        hint = (f"Close matches: {', '.join(repr(c) for c in close)}." if close
                else f"It has {len(values)} values, for example "
                     f"{', '.join(repr(v) for v in values[:5])}.")
        problems.append(Problem(_source(results), f"no area has {column} = {want!r}. {hint}",
                                f"use a value of the {column!r} column exactly as it is spelt.",
                                column=column))
    if problems:
        raise ReportRequestError(problems)
    return list(dict.fromkeys(found))


def selection_mask(results: Results, column: str | None, values: Sequence[str] | None
                   ) -> np.ndarray:
    """Boolean mask over ``results.areas``: the areas whose *column* is one of *values*.

    With no column, every area. Raises :class:`ReportRequestError` when nothing is selected.
    """
    areas = results.areas
    if column is None:
        mask = np.ones(len(areas), dtype=bool)
        what = "the results"
    else:
        mask = areas[column].astype(str).str.strip().isin(list(values or [])).to_numpy()
        what = f"{column} = {', '.join(repr(v) for v in values or []) or '(nothing)'}"
    if not mask.any():
        raise ReportRequestError([Problem(
            _source(results), f"the selection is empty: no area matches {what}.",
            "choose at least one group that has areas (check the spelling), or rebuild the "
            "results if the areas layer is empty.", column=column)])
    return mask
