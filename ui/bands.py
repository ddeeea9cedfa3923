"""Band schemes offered in the app, and a thin adapter over :func:`risk.bands.classify`.

This module holds no statistics of its own: it maps the app's scheme choices onto the
classifier and tidies the answer into :class:`Banding`, keyed by ``area_id``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from firerisk.columns import AREA_ID, BAND_INDEX
from firerisk.risk.bands import classify

__all__ = ["AS_PUBLISHED", "SCHEMES", "Banding", "classify_rates", "published_banding"]

#: Scheme key meaning "the bands stored in the results file".
AS_PUBLISHED = "as_published"

#: Scheme key -> label shown in the app.
SCHEMES: dict[str, str] = {
    AS_PUBLISHED: "As published in the results file",
    "quantiles": "Equal numbers of areas in each band (quantiles)",
    "natural_breaks": "Natural breaks in the values",
    "equal_interval": "Equal-width ranges of the rate",
}


@dataclass(frozen=True)
class Banding:
    """Band of every area under one scheme.

    Attributes
    ----------
    scheme : str
        Scheme key (see :data:`SCHEMES`).
    band_index : pandas.Series
        1..k (k = highest priority) indexed by ``area_id``; 0 where the rate is missing.
    labels : tuple of str
        Band labels, lowest priority first.
    upper, lower : tuple of float
        Upper and lower bound of each band (expected fires per 1,000 households).
    note : str
        What the classifier had to say (for example fewer bands than asked for).
    """

    scheme: str
    band_index: pd.Series
    labels: tuple[str, ...]
    upper: tuple[float, ...]
    lower: tuple[float, ...] = ()
    note: str = ""

    def label_of(self) -> pd.Series:
        """Band label per area (empty text where the rate is missing)."""
        names = np.array(("", *self.labels), dtype=object)
        return pd.Series(names[self.band_index.to_numpy()], index=self.band_index.index)


def published_banding(areas: pd.DataFrame, band_breaks: pd.DataFrame) -> Banding:
    """The bands stored in the results file, as a :class:`Banding`."""
    breaks = band_breaks.sort_values(BAND_INDEX)
    index = pd.Series(areas[BAND_INDEX].fillna(0).astype(int).to_numpy(),
                      index=areas[AREA_ID].to_numpy())
    return Banding(scheme=AS_PUBLISHED, band_index=index,
                   labels=tuple(str(v) for v in breaks["label"]),
                   upper=tuple(float(v) for v in breaks["upper"]),
                   lower=tuple(float(v) for v in breaks["lower"]))


def classify_rates(
    area_ids: Sequence[str],
    rates: Sequence[float],
    *,
    scheme: str,
    labels: Sequence[str],
) -> Banding:
    """Band areas by their expected fires per 1,000 households under *scheme*.

    Parameters
    ----------
    area_ids, rates : sequence
        Area codes and their rates, same length. Missing rates get band 0.
    scheme : str
        A key of :data:`SCHEMES` other than :data:`AS_PUBLISHED`.
    labels : sequence of str
        Band labels, lowest priority first; their number is the number of bands asked for
        (a scheme may make fewer; then the classifier's plain labels are used).
    """
    values = pd.Series(np.asarray(rates, dtype=float), index=list(area_ids))
    result = classify(values, scheme=scheme, k=len(labels), labels=list(labels))
    index = result.band_index.fillna(0).astype(int)
    return Banding(scheme=scheme, band_index=index, labels=tuple(result.labels),
                   upper=tuple(float(hi) for _, hi in result.breaks),
                   lower=tuple(float(lo) for lo, _ in result.breaks), note=result.note)
