"""Model features: turn raw covariate tables into the model's covariate frame.

The profile names each feature either as one column (divided by its ``scale``, 1 unless
the profile says otherwise), or as a share ``sum(numerator) / denominator`` (0..1). The exposure column (households) is kept
under the name ``households``. Areas whose share denominator is 0 get NaN for that
share; they are listed in ``result.attrs["notes"]`` so the run report can say so.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from firerisk.columns import HOUSEHOLDS
from firerisk.errors import FeatureError, Problem, describe_rows
from firerisk.specs import ExposureSpec, FeatureSpec

__all__ = ["EXPOSURE", "build_features"]

EXPOSURE = HOUSEHOLDS
_SOURCE = "covariate tables"


def _numeric(raw: pd.DataFrame, column: str, feature: str, problems: list[Problem]) -> pd.Series:
    """Column *column* as floats, recording a problem for values that are not numbers."""
    values = pd.to_numeric(raw[column], errors="coerce")
    bad = values.isna() & raw[column].notna()
    if bad.any():
        rows = tuple(int(i) + 1 for i in np.flatnonzero(bad.to_numpy()))
        ids = ", ".join(str(a) for a in raw.index[bad][:3])
        problems.append(Problem(
            _SOURCE, f"feature '{feature}' needs numbers, but {describe_rows(rows)} "
            f"(areas {ids}) are not numbers.",
            "correct those cells or leave them empty.", column=column))
    return values.astype(float)


def build_features(raw: pd.DataFrame, *, features: Sequence[FeatureSpec],
                   exposure: ExposureSpec) -> pd.DataFrame:
    """Build the covariate frame the model uses.

    Parameters
    ----------
    raw : DataFrame
        Covariate tables already joined, indexed by ``area_id``.
    features : sequence of FeatureSpec
        One column copy, or a share ``sum(numerator) / denominator``, per feature.
    exposure : ExposureSpec
        The exposure column, renamed to ``households``.

    Returns
    -------
    DataFrame
        Indexed like *raw*: ``households`` then one column per feature name. Shares
        are 0..1; a 0 denominator gives NaN, described in ``attrs["notes"]``.

    Raises
    ------
    FeatureError
        Naming every missing or non-numeric column, negative or missing households, and
        features with no value in any area or the same value in every area.

    Notes
    -----
    Shares above 100% (census tables are perturbed, so parts can exceed the total by a
    few households) are capped at 100% and noted.
    """
    problems: list[Problem] = []
    available = ", ".join(map(str, raw.columns[:8])) + (" ..." if raw.shape[1] > 8 else "")
    needed: dict[str, list[str]] = {}
    wanted: list[tuple[str, list[str]]] = [("exposure", [exposure.column])]
    for spec in features:
        cols = ([spec.column] if spec.column else list(spec.numerator)
                + ([spec.denominator] if spec.denominator else []))
        wanted.append((f"feature '{spec.name}'", cols))
    for owner, cols in wanted:
        for col in cols:
            if col not in raw.columns:
                needed.setdefault(col, []).append(owner)
    for col, owners in needed.items():
        problems.append(Problem(
            _SOURCE, f"the column is missing (needed by {', '.join(owners)}). "
            f"Columns present: {available}.",
            "check the spelling in the profile or add the column to a covariate table.",
            column=col))
    names = [f.name for f in features]
    dupes = sorted({n for n in names if names.count(n) > 1 or n == EXPOSURE})
    if dupes:
        problems.append(Problem(_SOURCE, f"feature names must be unique and not "
                                f"'{EXPOSURE}': {', '.join(dupes)}.", "rename the features."))
    if problems:
        raise FeatureError(problems)

    out = pd.DataFrame(index=raw.index)
    hh = _numeric(raw, exposure.column, "exposure", problems)
    bad_hh = raw[exposure.column].isna() | (hh < 0)
    if bad_hh.any():
        rows = tuple(int(i) + 1 for i in np.flatnonzero(bad_hh.to_numpy()))
        problems.append(Problem(
            _SOURCE, f"the exposure ({exposure.label}) is missing or negative in "
            f"{describe_rows(rows)} (areas {', '.join(map(str, raw.index[bad_hh][:3]))}).",
            "every area needs a household count of 0 or more.", column=exposure.column))
    out[EXPOSURE] = hh
    notes: list[str] = []
    for spec in features:
        if spec.column:  # divided by the profile's scale (100 for a 0-100 percentage)
            out[spec.name] = _numeric(raw, spec.column, spec.name, problems) / spec.scale
            continue
        num = sum((_numeric(raw, c, spec.name, problems) for c in spec.numerator),
                  start=pd.Series(0.0, index=raw.index))
        assert spec.denominator is not None
        den = _numeric(raw, spec.denominator, spec.name, problems)
        zero = den == 0
        share = num / den.where(~zero)
        out[spec.name] = share
        if zero.any():
            ids = ", ".join(map(str, raw.index[zero][:5]))
            notes.append(f"{spec.label}: {int(zero.sum())} area(s) have no "
                         f"{spec.denominator}, so the share is unknown there ({ids}).")
        over = share > 1
        if over.any():
            # Census counts are perturbed for disclosure control, so parts can exceed the whole
            # by a few households: cap at 100% and say so.
            out[spec.name] = share.clip(upper=1.0)
            ids = ", ".join(map(str, raw.index[over][:5]))
            notes.append(f"{spec.label}: {int(over.sum())} area(s) add up to more than "
                         f"{spec.denominator} (census figures are perturbed); capped at 100% "
                         f"({ids}).")
    for spec in features:
        if spec.name not in out.columns:
            continue
        finite = out[spec.name].replace([np.inf, -np.inf], np.nan).dropna()
        source = spec.column or spec.denominator
        if finite.empty:
            problems.append(Problem(
                _SOURCE, f"feature '{spec.name}' has no value in any area.",
                "check that the column holds this dataset's figures, or remove the feature "
                "from the profile.", column=source))
        elif finite.nunique() == 1 and len(out) > 1:
            problems.append(Problem(
                _SOURCE, f"feature '{spec.name}' is {finite.iloc[0]:g} in every area with a "
                "value, so it cannot tell areas apart.",
                "remove the feature from the profile, or give it a column that varies.",
                column=source))
    if problems:
        raise FeatureError(problems)
    out.attrs["notes"] = tuple(notes)
    return out
