"""Plausibility of the figures per area: households (the exposure) and the model features.

A value that is a valid number can still be wrong: one household count of 1e9 typed by
mistake, a percentage column on a 0-100 scale where the profile expects shares from 0 to
1, ``inf`` from a spreadsheet formula, 0 households in an area where fires happened. Each
is a wrong answer waiting to happen, so each is named with its file, column, rows and fix.

The building blocks (:func:`non_finite`, :func:`robust_outliers`, :func:`range_rows`) take
plain arrays; :func:`figure_problems` applies them to an exposure and features described
by the profile. None reads a file or raises.

**Rules** (see README, "Dataset profile"):

* not finite (``inf``, ``-inf``, ``nan`` written out): always refused;
* exposure: refused when an area's value lies more than :data:`OUTLIER_Z` robust standard
  deviations (1.4826 x the median absolute deviation, on the log scale) from the median
  *and* at least :data:`OUTLIER_FACTOR` times above (or 20 times below) it; 0 households
  in an area with counted fires is refused;
* ``unit = "percent"`` columns: shares from 0 to 1 after dividing by ``scale``; a column
  that holds values above 1 and none above 100 is named as a 0-100 percentage (fix:
  ``scale = 100``); a share of ``numerator`` over ``denominator`` above 1.25 means the
  columns do not belong together;
* ``score`` and ``number`` features: the same robust test as the exposure (log scale when
  every value is positive, else a linear one at :data:`LINEAR_Z`), unless the profile
  gives the plausible ``range``, which is then enforced instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from firerisk.errors import Problem
from firerisk.specs import ExposureSpec, FeatureSpec

__all__ = [
    "LINEAR_Z",
    "OUTLIER_FACTOR",
    "OUTLIER_Z",
    "Source",
    "figure_problems",
    "non_finite",
    "range_rows",
    "robust_outliers",
    "zero_exposure_problem",
]

#: Robust z (log scale) beyond which a value is far outside the other areas' range.
OUTLIER_Z = 8.0
#: ... and it must also be this many times above the median (or 20 times below it).
OUTLIER_FACTOR = 10.0
_LOW_FACTOR = 20.0
#: Robust z for features that are not all positive (no log scale, no factor).
LINEAR_Z = 12.0
#: A share of numerator over denominator above this is not census perturbation.
SHARE_LIMIT = 1.25


@dataclass(frozen=True)
class Source:
    """Where a column's values come from: its file and each area's 1-based row there."""

    file: str
    rows: pd.Series  # indexed by area id


def non_finite(values: pd.Series) -> np.ndarray:
    """Values that are numbers but not finite (inf, -inf; NaN from a written 'nan')."""
    v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    return np.isinf(v)


def robust_outliers(values: pd.Series, *, z: float = OUTLIER_Z,
                    factor: float | None = OUTLIER_FACTOR) -> np.ndarray:
    """Values far outside the rest: log-scale robust z when all values are positive.

    Parameters
    ----------
    values : Series of float
    z : float
        Robust z (deviation / (1.4826 x MAD)) to exceed.
    factor : float or None
        On the log scale, the value must also be this many times above the median (or 20
        times below it). None for a linear test only.
    """
    v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(v)
    out = np.zeros(len(v), dtype=bool)
    if ok.sum() < 10:
        return out
    positive = bool((v[ok] > 0).all())
    x = np.log(np.where(ok & (v > 0), v, 1.0)) if positive else v
    med = float(np.median(x[ok]))
    mad = 1.4826 * float(np.median(np.abs(x[ok] - med)))
    if mad <= 0:
        return out
    dev = (x - med) / mad
    if positive and factor is not None:
        high = (dev > z) & (x - med > np.log(factor))
        low = (dev < -z) & (med - x > np.log(_LOW_FACTOR))
        out = ok & (high | low)
    else:
        out = ok & (np.abs(dev) > max(z, LINEAR_Z))
    return out


def range_rows(values: pd.Series, low: float, high: float) -> np.ndarray:
    """Finite values outside ``[low, high]``."""
    v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    return np.isfinite(v) & ((v < low) | (v > high))


def _ceiling(v: float) -> int:
    """*v* rounded up to two significant digits (for a suggested range)."""
    if v <= 0:
        return 0
    step = 10 ** max(int(np.floor(np.log10(v))) - 1, 0)
    return int(np.ceil(v / step) * step)


def _fmt(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"


def _problem(source: Source | None, mask: np.ndarray, index: pd.Index, message: str, fix: str,
             column: str) -> Problem:
    ids = index[mask]
    rows: tuple[int, ...] = ()
    file = "covariate tables"
    if source is not None:
        file = source.file
        rows = tuple(sorted(int(r) for r in source.rows.reindex(ids).dropna()))
    eg = ", ".join(map(str, ids[:3]))
    return Problem(file, f"{message} (areas {eg}{', ...' if len(ids) > 3 else ''}).", fix,
                   column=column, rows=rows)


def _spread(values: pd.Series, mask: np.ndarray) -> str:
    rest = pd.to_numeric(values, errors="coerce")[~mask]
    rest = rest[np.isfinite(rest)]
    if rest.empty:
        return ""
    return (f"; the other areas' median is {_fmt(float(rest.median()))} and they range from "
            f"{_fmt(float(rest.min()))} to {_fmt(float(rest.max()))}")


def _exposure_problems(frame: pd.DataFrame, spec: ExposureSpec,
                       sources: Mapping[str, Source]) -> list[Problem]:
    col = spec.column
    values = pd.to_numeric(frame[col], errors="coerce")
    if spec.range is not None:
        lo, hi = spec.range
        bad = range_rows(values, lo, hi)
    else:
        bad = robust_outliers(values)
    if not bad.any():
        return []
    if spec.range is not None:
        what = f"the {spec.label} lie outside the plausible range {_fmt(lo)} to {_fmt(hi)}"
        fix = "correct those values, or widen range under [exposure]."
    else:
        shown = ", ".join(_fmt(float(v)) for v in values[bad].iloc[:3])
        what = (f"the {spec.label} ({shown}) are far outside the range of the other areas"
                f"{_spread(values, bad)}: a typing slip, or a figure for a larger place?")
        top = max(float(values[bad].max()), float(values[~bad].max()))
        fix = ("correct those values; if they are genuine, give the plausible range, e.g. "
               f"range = [0, {_ceiling(top)}] under [exposure].")
    return [_problem(sources.get(col), bad, frame.index, what, fix, col)]


def _percent_problems(values: pd.Series, spec: FeatureSpec, column: str,
                      source: Source | None, index: pd.Index) -> list[Problem]:
    where = f"[features.{spec.name}]"
    v = pd.to_numeric(values, errors="coerce") / spec.scale
    finite = v[np.isfinite(v)]
    lo, hi = spec.range if spec.range is not None else (0.0, 1.0)
    bad = range_rows(v, lo, hi)
    if not bad.any():
        return []
    if spec.range is None and spec.scale == 1.0 and finite.min() >= 0 and 1 < finite.max() <= 100:
        return [_problem(source, bad, index, f"holds values up to {_fmt(float(finite.max()))}, "
                         "which look like percentages on a 0-100 scale, but unit = \"percent\" "
                         f"reads shares from 0 to 1 ({_fmt(float(finite.max()))} would be shown "
                         f"as {100 * float(finite.max()):,.0f} %)",
                         f"set scale = 100 under {where} to read 0-100 percentages, or store "
                         "the shares from 0 to 1.", column)]
    scale = f" after dividing by scale = {spec.scale:g}" if spec.scale != 1 else ""
    return [_problem(source, bad, index, f"holds values outside {100 * lo:g} to {100 * hi:g} "
                     f"%{scale} (e.g. {_fmt(float(v[bad].iloc[0]) * 100)} %)",
                     f"correct those values, or check scale and unit under {where}.", column)]


def _share_problems(frame: pd.DataFrame, spec: FeatureSpec,
                    sources: Mapping[str, Source]) -> list[Problem]:
    num = sum((pd.to_numeric(frame[c], errors="coerce") for c in spec.numerator),
              start=pd.Series(0.0, index=frame.index))
    den = pd.to_numeric(frame[spec.denominator], errors="coerce")
    share = num / den.where(den > 0)
    bad = ((share > SHARE_LIMIT) | (share < 0) | (num < 0)).to_numpy()
    if not bad.any():
        return []
    return [_problem(sources.get(spec.denominator or ""), bad, frame.index,
                     f"feature '{spec.name}': the numerator columns add up to more than "
                     f"{100 * SHARE_LIMIT:.0f} % of the denominator, or are negative (e.g. "
                     f"{100 * float(share[bad].iloc[0]):,.0f} %)",
                     f"check that numerator and denominator under [features.{spec.name}] count "
                     "the same households (the same table and the same kind of count).",
                     str(spec.denominator))]


def _feature_problems(frame: pd.DataFrame, spec: FeatureSpec,
                      sources: Mapping[str, Source]) -> list[Problem]:
    if not spec.column:
        return _share_problems(frame, spec, sources)
    values = pd.to_numeric(frame[spec.column], errors="coerce")
    src = sources.get(spec.column)
    if spec.unit == "percent":
        return _percent_problems(values, spec, spec.column, src, frame.index)
    where = f"[features.{spec.name}]"
    scaled = values / spec.scale
    if spec.range is not None:
        lo, hi = spec.range
        bad = range_rows(scaled, lo, hi)
        what = f"feature '{spec.name}' lies outside its plausible range {_fmt(lo)} to {_fmt(hi)}"
        fix = f"correct those values, or widen range under {where}."
    else:
        bad = robust_outliers(scaled)
        shown = ", ".join(_fmt(float(v)) for v in scaled[bad].iloc[:3])
        what = (f"feature '{spec.name}' ({shown}) is far outside the range of the other areas"
                f"{_spread(scaled, bad)}")
        fix = (f"correct those values; if they are genuine, give the plausible range, e.g. "
               f"range = [lowest, highest] under {where}.")
    return [_problem(src, bad, frame.index, what, fix, spec.column)] if bad.any() else []


def figure_problems(frame: pd.DataFrame, *, exposure: ExposureSpec,
                    features: Sequence[FeatureSpec],
                    sources: Mapping[str, Source]) -> list[Problem]:
    """Every implausible exposure and feature value (module docstring, "Rules").

    Parameters
    ----------
    frame : DataFrame
        Indexed by area id, holding the exposure and feature columns (numbers).
    exposure, features : the profile's [exposure] and [features.*] tables.
    sources : mapping column -> Source
        Where each column came from, for the file and row numbers.
    """
    problems: list[Problem] = []
    columns = [exposure.column]
    for spec in features:
        columns += [spec.column] if spec.column else [*spec.numerator, spec.denominator or ""]
    for col in dict.fromkeys(c for c in columns if c in frame.columns):
        bad = non_finite(frame[col])
        if bad.any():
            problems.append(_problem(sources.get(col), bad, frame.index,
                                     "holds values that are not finite numbers ('inf')",
                                     "replace them with the real figures (a spreadsheet "
                                     "formula that divided by zero?).", col))
    if problems:
        return problems
    if exposure.column in frame.columns:
        problems += _exposure_problems(frame, exposure, sources)
    for spec in features:
        needed = [spec.column] if spec.column else [*spec.numerator, spec.denominator or ""]
        if all(c in frame.columns for c in needed):
            problems += _feature_problems(frame, spec, sources)
    return problems


def zero_exposure_problem(exposure: pd.Series, events: pd.Series, *, spec: ExposureSpec,
                          source: Source | None, what: str = "fires") -> Problem | None:
    """Areas with an exposure of 0 where events were counted (their rate is undefined)."""
    hh = pd.to_numeric(exposure, errors="coerce")
    n = events.reindex(hh.index).fillna(0)
    bad = ((hh == 0) & (n > 0)).to_numpy()
    if not bad.any():
        return None
    most = int(n[bad].max())
    return _problem(source, bad, hh.index,
                    f"{int(bad.sum()):,} area(s) have 0 {spec.label} but had {what} in the "
                    f"study years (up to {most:,} in one area); their rate cannot be worked "
                    "out and they would drop to the bottom of the list",
                    f"correct the {spec.label} of these areas (0 is probably a missing value).",
                    spec.column)
