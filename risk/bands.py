"""Priority bands: cut expected risk (per 1,000 households) into named bands.

The banding scheme is chosen by name from mapclassify's classifiers. Band 1 is the
lowest priority and band ``k`` the highest. Classes are mapclassify's
``(lower, upper]`` intervals; the lowest band also holds its lower end.

This is the one banding API of the project, and it takes any set of rates: :func:`classify`
cuts the values it is given (every area, or the areas of one group) into bands, and
:func:`band_of` puts any values into bands with given upper bounds (for example a group's
household-weighted rate into the published bands). The app (``ui/bands.py``, ``ui/mapview.py``)
and the PDFs (``report/mapsheet.py``) call these two and nothing else.

``natural_breaks`` and ``fisher_jenks`` both mean Jenks' optimal breaks (mapclassify
``FisherJenks``). That algorithm is quadratic in the number of values, so above 1,000
values it runs on 1,000 evenly spaced order statistics of the values (deterministic, unlike
mapclassify's random-sample ``FisherJenksSampled``) and the breaks are then applied to
every value.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from firerisk.columns import BAND, BAND_INDEX
from firerisk.errors import BandSchemeError, Problem
from firerisk.specs import DEFAULT_BAND_LABELS

__all__ = ["DEFAULT_LABELS", "SCHEMES", "TITLE", "BandResult", "band_of", "classify"]

DEFAULT_LABELS: tuple[str, ...] = DEFAULT_BAND_LABELS
TITLE = "Priority for a home fire safety visit"
_JENKS_MAX = 1000


def _fisher_jenks(y: np.ndarray, k: int, **_: Any) -> Any:
    sample = y if len(y) <= _JENKS_MAX else np.quantile(y, np.linspace(0, 1, _JENKS_MAX),
                                                        method="inverted_cdf")
    fj = _mc().FisherJenks(sample, k=k)
    if len(y) <= _JENKS_MAX:
        return fj
    bins = np.unique(np.append(fj.bins[:-1], y.max()))
    return _mc().UserDefined(y, bins=list(bins))


def _mc() -> Any:
    """mapclassify, imported on first use (it takes ~2 s to import; the app's first map
    only needs the published bands)."""
    import mapclassify

    return mapclassify


def _k_scheme(name: str) -> Callable[..., Any]:
    return lambda y, k, **_: getattr(_mc(), name)(y, k=k)


# Canonical name -> builder(y, k, **options). Options: pct, multiples, hinge, bins.
SCHEMES: dict[str, Callable[..., Any]] = {
    "quantiles": _k_scheme("Quantiles"),
    "equal_interval": _k_scheme("EqualInterval"),
    "fisher_jenks": _fisher_jenks,
    "natural_breaks": _fisher_jenks,
    "jenks_caspall": _k_scheme("JenksCaspall"),
    "maximum_breaks": _k_scheme("MaximumBreaks"),
    "head_tail_breaks": lambda y, k, **_: _mc().HeadTailBreaks(y),
    "std_mean": lambda y, k, multiples=(-2, -1, 1, 2), **_: _mc().StdMean(
        y, multiples=list(multiples)),
    "percentiles": lambda y, k, pct=(1, 10, 50, 90, 99, 100), **_: _mc().Percentiles(
        y, pct=list(pct)),
    "box_plot": lambda y, k, hinge=1.5, **_: _mc().BoxPlot(y, hinge=hinge),
    "user_defined": lambda y, k, bins=None, **_: _mc().UserDefined(y, bins=list(bins)),
}


def _canonical(scheme: str) -> str | None:
    """Match a scheme name loosely: case, spaces, hyphens and underscores are ignored."""
    key = "".join(ch for ch in scheme.lower() if ch.isalnum())
    for name in SCHEMES:
        if name.replace("_", "") == key:
            return name
    return {"jenks": "fisher_jenks", "boxplot": "box_plot"}.get(key)


def band_of(values: pd.Series | np.ndarray | Sequence[float],
            upper: Sequence[float]) -> np.ndarray:
    """Band (1..k) of each value under bands with these upper bounds, lowest first.

    The rule of :func:`classify`: a value equal to an upper bound belongs to the lower band
    (``(lower, upper]``), values past either end go to the end bands, and a missing value
    (NaN) gets 0. With no bands every value gets 0.
    """
    v = np.asarray(values, dtype=float)
    if len(upper) == 0:
        return np.zeros(v.shape, dtype=int)
    inner = np.asarray(upper[:-1], dtype=float)
    band = np.searchsorted(inner, np.nan_to_num(v), side="left") + 1
    return np.where(np.isfinite(v), band, 0).astype(int)


@dataclass(frozen=True)
class BandResult:
    """Bands per area and the breaks that define them.

    ``band_index`` is 1..k (k = highest priority; <NA> where the value is missing),
    ``breaks`` holds ``(lower, upper)`` per band, lowest first.
    """

    scheme: str
    k: int
    labels: tuple[str, ...]
    breaks: tuple[tuple[float, float], ...]
    title: str = TITLE
    note: str = ""
    band_index: pd.Series = field(default_factory=lambda: pd.Series(dtype="Int64"),
                                  compare=False, repr=False)

    @property
    def band_label(self) -> pd.Series:
        """The band label per area (missing where the value is missing)."""
        lab = pd.Series(self.labels, index=range(1, self.k + 1))
        return self.band_index.map(lambda b: lab[b] if pd.notna(b) else None).rename(BAND)

    def band_of(self, values: pd.Series | np.ndarray | Sequence[float]) -> np.ndarray:
        """Band (1..k) of arbitrary values under these breaks (:func:`band_of`): values past
        the ends are put in the end bands, missing values get 0."""
        return band_of(values, [u for _, u in self.breaks])

    def breaks_table(self) -> pd.DataFrame:
        """One row per band: band_index, label, lower, upper, areas."""
        counts = self.band_index.value_counts()
        return pd.DataFrame({
            BAND_INDEX: range(1, self.k + 1),
            "label": self.labels,
            "lower": [lo for lo, _ in self.breaks],
            "upper": [hi for _, hi in self.breaks],
            "areas": [int(counts.get(i, 0)) for i in range(1, self.k + 1)],
        })


def classify(values: pd.Series, *, scheme: str = "quantiles", k: int = 5,
             labels: Sequence[str] = DEFAULT_LABELS, title: str = TITLE,
             **options: Any) -> BandResult:
    """Cut *values* into priority bands with a mapclassify scheme chosen by name.

    Parameters
    ----------
    values : Series
        One value per area (for example expected fires per 1,000 households).
    scheme : str
        One of :data:`SCHEMES` (case, spaces and hyphens are ignored).
    k : int
        Number of bands, for schemes that take one.
    labels : sequence of str
        One label per band, lowest priority first. If the scheme gives a different
        number of bands (head/tail breaks, percentiles, or too few distinct values),
        plain labels "Band 1 (lowest)" .. "Band n (highest)" are used and noted.
    title : str
        Legend title.
    **options
        ``pct`` (percentiles), ``multiples`` (std_mean), ``hinge`` (box_plot),
        ``bins`` (user_defined).

    Returns
    -------
    BandResult

    Raises
    ------
    BandSchemeError
        For an unknown scheme (the message lists the choices) or no usable values.
    """
    name = _canonical(str(scheme))
    if name is None:
        raise BandSchemeError([Problem(
            "bands", f"unknown banding scheme {scheme!r}. Choose one of: "
            f"{', '.join(SCHEMES)}.", "set [bands] scheme to one of those names.")])
    if name == "user_defined" and not options.get("bins"):
        raise BandSchemeError([Problem("bands", "the user_defined scheme needs bins.",
                                       "give the upper break of each band, e.g. bins=[1, 2, 5].")])
    if k < 2:
        raise BandSchemeError([Problem("bands", f"k must be at least 2, got {k}.",
                                       "set [bands] k = 5.")])
    s = pd.Series(values, dtype=float)
    ok = s.notna() & np.isfinite(s)
    if not ok.any():
        raise BandSchemeError([Problem("bands", "there are no values to band.",
                                       "check that the model produced expected values.")])
    y = s[ok].to_numpy()
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf = SCHEMES[name](y, k, **options)
    notes += [str(w.message) for w in caught if "Numba" not in str(w.message)]
    bins = np.asarray(clf.bins, dtype=float)
    n_bands = len(bins)
    yb = np.asarray(clf.yb, dtype=int)
    index = pd.Series(pd.NA, index=s.index, dtype="Int64")
    index[ok] = yb + 1
    lowers = [float(min(y.min(), bins[0]))] + [float(b) for b in bins[:-1]]
    breaks = tuple(zip(lowers, (float(b) for b in bins), strict=True))
    labs = tuple(labels)
    if len(labs) != n_bands:
        notes.append(f"The {name} scheme made {n_bands} bands, not {len(labs)}; "
                     "plain band names are used.")
        labs = tuple(f"Band {i}" + (" (lowest)" if i == 1 else " (highest)" if i == n_bands
                                    else "") for i in range(1, n_bands + 1))
    return BandResult(scheme=name, k=n_bands, labels=labs, breaks=breaks, title=title,
                      note=" ".join(notes), band_index=index)
