"""Rolling-origin backtest: would a ranking have found the next year's dwelling fires?

For each origin year ``t`` the model is fitted on incidents dated before 1 January of
``t`` only, areas are ranked, and the ranking is scored on year ``t``'s counts. The same
metrics are computed, in the same run and on the same bootstrap resamples, for five
simple rankings, so the model is always judged against what a service could do without
it.

Definitions
-----------
capture@k
    The share of year ``t``'s incidents found in the top-ranked areas that hold ``k``%
    of all households. Areas are taken in ranking order, accumulating households, until
    the budget ``B = k/100 * total households`` is spent:

    * **boundary area** -- the area that crosses the budget line is included
      *fractionally*: if it holds ``h`` households and ``r`` of the budget remains, it
      contributes ``(r / h)`` of its incidents. The household share visited is therefore
      exactly ``k``%.
    * **ties** -- areas with equal scores form one block that is treated as a single
      unit: if the budget line falls inside the block, every tied area contributes the
      same fraction of its incidents (``remaining budget / block households``). The
      result does not depend on the order of the input rows.
    * **zero households** -- an area with no households uses none of the budget. It is
      counted in full when the households ranked above it do not exceed the budget.
    * **missing scores** (NaN, e.g. a rate for an area with no households, or a missing
      IMD score) rank last, as one tied block.
PAI@k
    Predictive accuracy index on households: capture share / household share
    (``capture@k / (k/100)``). 1 is what a random ranking achieves on average.
deviance
    Mean Poisson unit deviance per area (per area-year when pooled) of the count
    forecast, ``2 [y log(y/mu) - (y - mu)]`` (statsmodels' Poisson family). Defined only
    for rankings that are count forecasts (not for ``imd``). A forecast of zero for an
    area that then has a fire gives infinite deviance, so, **for the deviance only**,
    forecasts are floored at half an incident over the years they are based on
    (0.5 for ``last_year``, 0.5/5 = 0.1 for a five-year window).
calibration
    Areas are grouped into deciles of their forecast (by average rank, so tied forecasts
    share a decile; decile 10 = highest forecasts) and the mean forecast is set beside
    the mean observed count.
pooled
    Ratio of sums over origins: the incidents captured in every origin year divided by
    all the incidents of those years (each year's budget is ``k``% of households, so the
    pooled household share is ``k``% too). Pooled deviance is the mean over all
    area-years.
95% intervals
    Percentile intervals over ``bootstrap`` resamples of *areas* (with replacement,
    seeded). One set of resamples is drawn per run and shared by every origin and every
    ranking, so pooled intervals treat an area's whole history as one unit and the
    comparisons are paired: ``draws = numpy.random.default_rng(seed).integers(0,
    n_areas, (bootstrap, n_areas))``, resample ``b`` being the areas ``draws[b]``.
    Metrics are recomputed on each resample with the same rules (a drawn area's
    copies tie with each other) and vectorised over resamples.

Rankings
--------
``model``        the fitted model's expected count in year ``t``, ranked by count
                 (default) or, with ``model_rank="rate"``, by count per household.
``last_year``    the count in year ``t-1``; forecast = that count.
``history_5y``   the count over the ``window_years`` (default 5) years before ``t``;
                 forecast = that count / ``window_years``.
``eb_rate``      the empirical-Bayes smoothed rate per household over the same window
                 (``risk.smoothing.eb_rate`` with household-years as exposure), ranked by
                 rate; forecast = rate x households.
``imd``          the deprivation score alone, most deprived first (the "most deprived
                 20%" rule). Not a count forecast: no deviance or calibration.
``stable_rate``  the rate per household in every *other* full year, past and future
                 (never year ``t``), ranked by rate; forecast = mean count in those years.
                 Not a forecast anyone could make: it shows how far a ranking built on
                 stable area rates could go.

The model is given the ``window_years`` full years before ``t``, or more when its
configuration asks for them (``training_years`` plus ``history_window``, or
``history_years`` when that is None), but never year ``t`` or later. Covariates
(census, IMD) are taken as given for every origin; they are measured once, sometimes
after the origin year. Only incident counts are cut at the origin.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import statsmodels.api as sm

from firerisk.errors import FireRiskError, Problem, describe_rows
from firerisk.risk.model import ModelConfig, fit_predict
from firerisk.risk.smoothing import eb_rate

__all__ = [
    "BASELINES",
    "CAPTURE_KS",
    "DEFAULT_SEED",
    "BacktestResult",
    "EvaluationError",
    "OriginResult",
    "RankingMetrics",
    "backtest",
    "calibration_table",
    "capture_curve",
    "capture_difference",
    "capture_share",
    "compare_models",
    "format_table",
    "group_capture_table",
    "unit_deviance",
    "worst_decile",
]

CAPTURE_KS: tuple[int, ...] = (5, 10, 20)
MODEL = "model"
BASELINES: tuple[str, ...] = ("last_year", "history_5y", "eb_rate", "imd", "stable_rate")
RANKINGS: tuple[str, ...] = (MODEL, *BASELINES)
DEFAULT_SEED = 20240601  # the profile's [evaluation] seed default
EXPOSURE = "households"
CURVE_SHARES = np.round(np.linspace(0.0, 1.0, 101), 10)

_LABELS = {
    MODEL: "Model",
    "last_year": "Last year's count",
    "history_5y": "Count, previous years",
    "eb_rate": "Smoothed rate, previous years",
    "imd": "Deprivation (IMD) alone",
    "stable_rate": "Average of the other years' rates (future included)",
}


class EvaluationError(FireRiskError):
    """The backtest was given inputs it cannot use (years, areas or households)."""

    headline = "The backtest cannot run"


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class RankingMetrics:
    """Capture, PAI, deviance and calibration of one ranking (one origin, or pooled).

    ``capture`` and ``pai`` map k (percent of households) to a value; ``ci`` maps metric
    names (``capture_10``, ``pai_10``, ``deviance``...) to a 95% interval, and is empty
    when no bootstrap was run. ``deviance`` and ``calibration`` are None for rankings
    that are not count forecasts. ``replicates`` holds capture@k on every bootstrap
    resample (the same resamples for every ranking), for paired comparisons.
    """

    capture: Mapping[int, float]
    pai: Mapping[int, float]
    deviance: float | None
    ci: Mapping[str, tuple[float, float]]
    calibration: pd.DataFrame | None = field(default=None, repr=False)
    replicates: Mapping[int, np.ndarray] = field(default_factory=dict, repr=False,
                                                 compare=False)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able document (NaN and infinities become None)."""
        out: dict[str, Any] = {}
        for k, v in self.capture.items():
            out[f"capture_{k}"] = _num(v)
        for k, v in self.pai.items():
            out[f"pai_{k}"] = _num(v)
        out["deviance"] = _num(self.deviance)
        out["ci"] = {name: [_num(lo), _num(hi)] for name, (lo, hi) in self.ci.items()}
        if self.calibration is None:
            out["calibration"] = None
        else:
            out["calibration"] = [
                {"decile": int(r.decile), "areas": int(r.areas),
                 "mean_predicted": _num(r.mean_predicted), "mean_observed": _num(r.mean_observed)}
                for r in self.calibration.itertuples(index=False)
            ]
        return out


@dataclass(frozen=True)
class OriginResult:
    """One origin year: what the model saw, and every ranking's metrics on year ``origin``.

    ``scores`` holds the ranking score of every area per ranking (higher = visited
    first) and ``predictions`` the count forecast per ranking (NaN column for ``imd``);
    both are indexed by ``area_id``.
    """

    origin: int
    train_years: tuple[int, ...]
    incidents: int
    metrics: Mapping[str, RankingMetrics]
    scores: pd.DataFrame = field(repr=False)
    predictions: pd.DataFrame = field(repr=False)
    residual_moran: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able document for this origin."""
        return {
            "origin": self.origin,
            "train_years": list(self.train_years),
            "incidents": self.incidents,
            "model": self.metrics[MODEL].to_dict(),
            "baselines": {b: self.metrics[b].to_dict() for b in BASELINES if b in self.metrics},
            "residual_moran": _num(self.residual_moran),
        }


@dataclass(frozen=True)
class BacktestResult:
    """Every origin's metrics, the pooled metrics and the pooled capture curve."""

    origins: tuple[OriginResult, ...]
    pooled: Mapping[str, RankingMetrics]
    curve: pd.DataFrame = field(repr=False)
    ks: tuple[int, ...] = CAPTURE_KS
    window_years: int = 5
    bootstrap: int = 500
    seed: int = DEFAULT_SEED
    areas: int = 0
    model_rank: str = "count"
    groups: pd.DataFrame | None = field(default=None, repr=False)
    group_label: str | None = None
    group_k: int = 10

    @property
    def rankings(self) -> tuple[str, ...]:
        """Names of the rankings scored (``model`` first)."""
        return tuple(self.pooled)

    @property
    def residual_moran(self) -> float | None:
        """Mean residual Moran's I over origins, when the model reports it."""
        values = [o.residual_moran for o in self.origins if o.residual_moran is not None]
        return float(np.mean(values)) if values else None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able document: settings, per-origin metrics and pooled metrics."""
        return {
            "settings": {
                "origins": [o.origin for o in self.origins],
                "window_years": self.window_years,
                "bootstrap": self.bootstrap,
                "seed": self.seed,
                "areas": self.areas,
                "model_rank": self.model_rank,
                "ks": list(self.ks),
                "capture": "share of the year's incidents in the top-ranked areas holding k% "
                           "of households; the boundary area counts fractionally; tied areas "
                           "share the boundary in proportion",
                "pooled": "ratio of sums over origins (captured incidents / incidents)",
                "deviance": "mean Poisson unit deviance per area-year; forecasts floored at "
                            "0.5 incident over the years they are based on",
                "interval": "95% percentile bootstrap over areas",
            },
            "origins": [o.to_dict() for o in self.origins],
            "pooled": {
                "model": self.pooled[MODEL].to_dict(),
                "baselines": {b: self.pooled[b].to_dict() for b in BASELINES if b in self.pooled},
                "residual_moran": _num(self.residual_moran),
                "model_vs_baselines": {
                    b: {f"capture_{k}": _difference_doc(self, b, k) for k in self.ks}
                    for b in BASELINES if b in self.pooled},
            },
            "groups": self._groups_doc(),
        }

    def _groups_doc(self) -> dict[str, Any] | None:
        """Capture inside each group (shares only: a group's own fire totals are counts the
        disclosure rules protect, so they are left out)."""
        if self.groups is None:
            return None
        rows = [{"group": str(r.group), "ranking": str(r.ranking), "areas": int(r.areas),
                 "capture": _num(None if pd.isna(r.capture) else round(float(r.capture), 3))}
                for r in self.groups.itertuples(index=False)]
        return {"label": self.group_label, "k": self.group_k, "rows": rows}


def _difference_doc(result: BacktestResult, baseline: str, k: int) -> dict[str, Any]:
    diff, lo, hi = capture_difference(result, MODEL, baseline, k=k)
    return {"difference": _num(diff), "ci": [_num(lo), _num(hi)]}


def capture_difference(result: BacktestResult, a: str, b: str, *, k: int = 10,
                       origin: int | None = None) -> tuple[float, float, float]:
    """Capture@k of ranking *a* minus ranking *b*, with a paired 95% bootstrap interval.

    Parameters
    ----------
    result : BacktestResult
    a, b : str
        Ranking names (``model``, ``last_year``, ...).
    k : int
        Percent of households.
    origin : int, optional
        One origin year; default the pooled figures.

    Returns
    -------
    tuple of float
        ``(difference, low, high)`` as fractions; the interval is NaN without bootstrap.
        Both rankings are scored on the same resamples of areas, so the interval is
        narrower than the two separate intervals suggest.
    """
    if origin is None:
        metrics = result.pooled
    else:
        found = [o.metrics for o in result.origins if o.origin == origin]
        if not found:
            raise EvaluationError([Problem("backtest result", f"origin {origin} was not run.",
                                           "pick one of the result's origins.")])
        metrics = found[0]
    unknown = [r for r in (a, b) if r not in metrics]
    if unknown:
        raise EvaluationError([Problem("backtest result", f"no ranking named {unknown}.",
                                       f"use one of {list(metrics)}.")])
    diff = metrics[a].capture[k] - metrics[b].capture[k]
    ra, rb = metrics[a].replicates.get(k), metrics[b].replicates.get(k)
    if ra is None or rb is None:
        return (float(diff), float("nan"), float("nan"))
    lo, hi = _interval(ra - rb)
    return (float(diff), lo, hi)


def _num(value: float | None) -> float | None:
    """A plain float, or None for missing / non-finite values (JSON has neither)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


# --------------------------------------------------------------------------- core metrics


def _order_blocks(score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Descending order of *score* (NaN last) and the start of each tie block in it."""
    key = np.where(np.isnan(score), -np.inf, score)
    order = np.argsort(-key, kind="stable")
    ranked = key[order]
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
    return order, starts


def _captured(order: np.ndarray, starts: np.ndarray, households: np.ndarray,
              observed: np.ndarray, shares: Sequence[float],
              mult: np.ndarray | None = None) -> np.ndarray:
    """Incidents captured at each household share, shape (resamples, shares).

    *mult* holds how many times each area is drawn in each bootstrap resample
    (resamples x areas); None means the data as they are (one row).
    """
    if mult is None:
        h = households[order][None, :]
        y = observed[order][None, :]
    else:
        m = mult[:, order]
        h = m * households[order]
        y = m * observed[order]
    c_end = np.cumsum(h, axis=1)
    y_cum = np.cumsum(y, axis=1)
    if len(starts) < h.shape[1]:  # ties: keep the running totals at the end of each block
        ends = np.r_[starts[1:] - 1, h.shape[1] - 1]
        c_end = c_end[:, ends]
        y_cum = y_cum[:, ends]
        h = np.diff(c_end, axis=1, prepend=0.0)
        y = np.diff(y_cum, axis=1, prepend=0.0)
    n_rep, n_blocks = c_end.shape
    total = c_end[:, -1]
    # Rows of c_end are non-decreasing; shift each row above the previous one so one
    # searchsorted on the flattened array finds every row's boundary block.
    shift = (np.arange(n_rep) * (float(total.max()) * 2.0 + 1.0))[:, None]
    flat = (c_end + shift).ravel()
    out = np.empty((n_rep, len(shares)))
    rows = np.arange(n_rep)
    for j, share in enumerate(shares):
        budget = share * total
        # number of blocks wholly inside the budget (households ranked through them <= budget)
        inside = np.searchsorted(flat, budget + shift[:, 0], side="right") - rows * n_blocks
        full = np.where(inside > 0, y_cum[rows, np.maximum(inside - 1, 0)], 0.0)
        before = np.where(inside > 0, c_end[rows, np.maximum(inside - 1, 0)], 0.0)
        nxt = np.minimum(inside, n_blocks - 1)
        h_next = h[rows, nxt]
        frac = np.divide(budget - before, h_next, out=np.zeros(n_rep),
                         where=(inside < n_blocks) & (h_next > 0))
        out[:, j] = full + np.clip(frac, 0.0, 1.0) * np.where(inside < n_blocks, y[rows, nxt], 0.0)
    return out


@dataclass(frozen=True)
class _Resamples:
    """Bootstrap multiplicities, as the backtest uses them.

    ``mult`` (resamples x areas, float) for the matrix products; ``small`` (the same,
    as small ints) and ``households`` / ``total`` (whole numbers) for the fast capture,
    or None when the households are not whole numbers.
    """

    mult: np.ndarray
    small: np.ndarray | None
    households: np.ndarray | None
    total: np.ndarray | None


def _resamples(flat_ids: np.ndarray, households: np.ndarray) -> _Resamples:
    """Multiplicities from the resamples' draws, as ``draw + resample * n_areas``
    (resamples x n_areas)."""
    boot, n = flat_ids.shape
    counts = np.bincount(flat_ids.ravel(), minlength=boot * n).reshape(boot, n)
    whole = _whole(households)
    if whole is None:
        return _Resamples(counts.astype(float), None, None, None)
    small = counts.astype(np.uint8 if counts.max() <= np.iinfo(np.uint8).max else np.int32)
    return _Resamples(counts.astype(float), small, whole, counts @ whole.astype(np.int64))


def _whole(values: np.ndarray) -> np.ndarray | None:
    """*values* as ints when they are whole numbers >= 0, else None.

    int32 when a resample's running totals stay below 2**31 (a resample of n areas sums
    to at most n x the largest value), int64 when below 2**52 (exact in float64 too).
    """
    v = np.asarray(values, dtype=float)
    if v.size == 0 or not np.isfinite(v).all() or (v < 0).any() or (v != np.round(v)).any():
        return None
    bound = float(v.max()) * v.size
    if bound < 2.0 ** 31:
        return v.astype(np.int32)
    return v.astype(np.int64) if bound < 2.0 ** 52 else None


def _captured_boot(order: np.ndarray, starts: np.ndarray, households: np.ndarray,
                   observed: np.ndarray, shares: Sequence[float],
                   res: _Resamples) -> np.ndarray:
    """:func:`_captured` on every resample, shape (resamples, shares).

    The ranking is fixed, so a resample only reweights it: running totals of resampled
    households and incidents along the ranking are cumulative sums of multiplicity x
    value, in whole numbers (exact, as the float sums they replace are for whole
    numbers). Only the head of the ranking that every resample's largest budget falls
    inside is summed; it grows until it covers them all.
    """
    obs = _whole(observed)
    if res.small is None or res.households is None or res.total is None or obs is None:
        return _captured(order, starts, households, observed, shares, res.mult)
    n = len(order)
    n_rep = res.small.shape[0]
    n_blocks = len(starts)
    ends = np.r_[starts[1:] - 1, n - 1]
    h_ord = res.households[order]
    y_ord = obs[order]
    total = res.total.astype(float)
    biggest = max(shares) * total
    # Start with the blocks holding the top (largest share + 5%) of all households.
    running = np.cumsum(h_ord, dtype=np.int64)
    target = min(1.0, max(shares) + 0.05) * float(running[-1])
    k = min(n_blocks, int(np.count_nonzero(running[ends] < target)) + 1)
    while True:
        head = ends[k - 1] + 1
        m = res.small[:, order[:head]]
        c_end = np.cumsum(m * h_ord[None, :head], axis=1, dtype=h_ord.dtype)[:, ends[:k]]
        # Enough once every resample's largest budget ends inside the head.
        if k == n_blocks or bool((c_end[:, -1] > biggest).all()):
            break
        k = min(n_blocks, 2 * k)
    y_cum = np.cumsum(m * y_ord[None, :head], axis=1, dtype=y_ord.dtype)[:, ends[:k]]
    h_blk = np.diff(c_end, axis=1, prepend=0)
    y_blk = np.diff(y_cum, axis=1, prepend=0)
    rows = np.arange(n_rep)
    out = np.empty((n_rep, len(shares)))
    for j, share in enumerate(shares):
        budget = share * total
        # number of blocks wholly inside the budget (households ranked through them <= budget)
        inside = np.count_nonzero(c_end <= budget[:, None], axis=1)
        last = np.maximum(inside - 1, 0)
        full = np.where(inside > 0, y_cum[rows, last], 0.0)
        before = np.where(inside > 0, c_end[rows, last], 0.0)
        nxt = np.minimum(inside, k - 1)  # k - 1 < n_blocks - 1 only when every inside < k
        h_next = h_blk[rows, nxt].astype(float)
        frac = np.divide(budget - before, h_next, out=np.zeros(n_rep),
                         where=(inside < n_blocks) & (h_next > 0))
        out[:, j] = full + np.clip(frac, 0.0, 1.0) * np.where(inside < n_blocks,
                                                               y_blk[rows, nxt], 0.0)
    return out


def capture_share(score: Sequence[float] | np.ndarray | pd.Series,
                  households: Sequence[float] | np.ndarray | pd.Series,
                  observed: Sequence[float] | np.ndarray | pd.Series, *,
                  share: float) -> float:
    """Share of incidents found in the top-ranked areas holding *share* of households.

    Parameters
    ----------
    score : array-like
        Ranking score per area; higher is visited first. NaN ranks last.
    households : array-like
        Households per area (>= 0); zero-household areas use none of the budget.
    observed : array-like
        Incidents per area in the evaluation year.
    share : float
        Household share, 0..1 (0.1 for capture@10).

    Returns
    -------
    float
        Captured incidents / all incidents (NaN if there are none). The area crossing
        the budget line counts fractionally; tied areas share it in proportion (see the
        module docstring).
    """
    s = np.asarray(score, dtype=float)
    h = np.asarray(households, dtype=float)
    y = np.asarray(observed, dtype=float)
    if not (s.shape == h.shape == y.shape) or s.ndim != 1:
        raise ValueError("score, households and observed must be 1-d and the same length.")
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share must be between 0 and 1, got {share}.")
    total = y.sum()
    if total <= 0:
        return float("nan")
    order, starts = _order_blocks(s)
    return float(_captured(order, starts, h, y, [share])[0, 0] / total)


def unit_deviance(observed: np.ndarray | pd.Series, expected: np.ndarray | pd.Series) -> np.ndarray:
    """Poisson unit deviance ``2 [y log(y/mu) - (y - mu)]`` per area (statsmodels).

    Parameters
    ----------
    observed, expected : array-like
        Counts and their forecasts (forecasts must be > 0 where counts are > 0).
    """
    y = np.asarray(observed, dtype=float)
    mu = np.asarray(expected, dtype=float)
    resid = sm.families.Poisson().resid_dev(y, mu)
    return np.asarray(resid, dtype=float) ** 2


def _deciles(pred: np.ndarray) -> np.ndarray:
    """Decile 1..10 of *pred* by average rank (tied forecasts share a decile)."""
    ranks = pd.Series(pred).rank(method="average").to_numpy()
    return np.minimum(((ranks - 0.5) / len(pred) * 10).astype(int) + 1, 10)


def _calibration_table(deciles: np.ndarray, pred: np.ndarray, obs: np.ndarray) -> pd.DataFrame:
    df = pd.DataFrame({"decile": deciles, "p": pred, "o": obs})
    g = df.groupby("decile", sort=True)
    return pd.DataFrame({
        "decile": g.size().index.astype(int),
        "areas": g.size().to_numpy(),
        "mean_predicted": g["p"].mean().to_numpy(),
        "mean_observed": g["o"].mean().to_numpy(),
    })


def _interval(values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return (float("nan"), float("nan"))
    lo, hi = np.percentile(finite, [2.5, 97.5])
    return (float(lo), float(hi))


# --------------------------------------------------------------------------- checks


def _check_inputs(counts: pd.DataFrame, covariates: pd.DataFrame, full_years: Sequence[int],
                  origins: Sequence[int] | None, window_years: int, imd_column: str | None,
                  bootstrap: int) -> tuple[list[int], pd.Series, pd.Series | None]:
    """Collect every problem with the backtest's inputs, raise once; return origins, households, IMD."""
    problems: list[Problem] = []
    src_c, src_v = "counts table", "covariates table"
    if window_years < 1:
        problems.append(Problem("backtest settings", f"window_years must be at least 1, got "
                                f"{window_years}.", "set window_years = 5 (for example)."))
    if bootstrap < 0:
        problems.append(Problem("backtest settings", f"bootstrap must be 0 or more, got {bootstrap}.",
                                "set bootstrap = 500, or 0 for no intervals."))
    if counts.index.has_duplicates:
        dup = np.flatnonzero(counts.index.duplicated(keep=False))
        problems.append(Problem(src_c, "area ids must be unique.",
                                "aggregate the counts to one row per area.",
                                rows=tuple(int(i) + 1 for i in dup)))
    full = sorted(int(y) for y in full_years)
    missing_years = [y for y in full if y not in counts.columns]
    if missing_years:
        problems.append(Problem(src_c, f"has no column for full years {missing_years[:5]}"
                                f"{' ...' if len(missing_years) > 5 else ''}.",
                                "give one column per year, named by the year as an int."))
    present = [y for y in full if y in counts.columns]
    if present:
        block = counts[present].to_numpy(dtype=float)
        bad = np.flatnonzero(~np.isfinite(block).all(axis=1) | (block < 0).any(axis=1)
                             | (block != np.round(block)).any(axis=1))
        if bad.size:
            problems.append(Problem(src_c, "counts must be whole numbers, 0 or more, with no gaps.",
                                    "fill missing years with 0 and check the aggregation.",
                                    rows=tuple(int(i) + 1 for i in bad)))
    households = pd.Series(np.nan, index=counts.index)
    if EXPOSURE not in covariates.columns:
        problems.append(Problem(src_v, f"has no '{EXPOSURE}' column (the exposure).",
                                "build the covariates with risk.features.build_features.",
                                column=EXPOSURE))
    else:
        absent = ~counts.index.isin(covariates.index)
        if absent.any():
            ids = ", ".join(map(str, counts.index[absent][:3]))
            problems.append(Problem(src_v, f"has no row for {int(absent.sum()):,} areas of the "
                                    f"counts (e.g. {ids}).", "give covariates for every area.",
                                    rows=tuple(int(i) + 1 for i in np.flatnonzero(absent))))
        households = pd.to_numeric(covariates[EXPOSURE].reindex(counts.index), errors="coerce")
        bad_h = np.flatnonzero((households.isna() | (households < 0)).to_numpy() & ~absent)
        if bad_h.size:
            problems.append(Problem(src_v, "households must be a number, 0 or more, for every area.",
                                    "correct the exposure column.", column=EXPOSURE,
                                    rows=tuple(int(i) + 1 for i in bad_h)))
    imd: pd.Series | None = None
    if imd_column is not None:
        if imd_column not in covariates.columns:
            problems.append(Problem(src_v, f"has no '{imd_column}' column for the deprivation "
                                    "baseline.", "pass imd_column=<score column>, or "
                                    "imd_column=None to leave that baseline out.",
                                    column=imd_column))
        else:
            imd = pd.to_numeric(covariates[imd_column].reindex(counts.index), errors="coerce")
    fullset = set(full)
    if origins is None:
        chosen = [t for t in full
                  if all(t - j in fullset for j in range(1, window_years + 1))]
        if not chosen and window_years >= 1:
            problems.append(Problem(src_c, f"no full year has {window_years} full years before it.",
                                    "give more years of incidents or a shorter window_years."))
    else:
        chosen = sorted(int(t) for t in origins)
        for t in chosen:
            lacking = [t - j for j in range(1, window_years + 1) if t - j not in fullset]
            if t not in fullset:
                problems.append(Problem(src_c, f"origin {t} is not a full year.",
                                        "use full calendar years only (partial years are "
                                        "never scored)."))
            elif lacking:
                problems.append(Problem(src_c, f"origin {t} needs the {window_years} full years "
                                        f"before it; missing {sorted(lacking)}.",
                                        "start the origins later or shorten window_years."))
        if not chosen:
            problems.append(Problem("backtest settings", "no origin years were given.",
                                    "pass origins=None for every possible origin."))
    if problems:
        raise EvaluationError(problems)
    return chosen, households.astype(float), imd


def _model_years(t: int, fullset: set[int], window_years: int, config: ModelConfig) -> list[int]:
    """Full years handed to the model for origin *t*, always before *t*.

    The window, or more when the model asks for it: ``training_years`` response years
    plus, with a history term, ``history_window`` (or, when that is None,
    ``history_years``) years behind the earliest of them. Stops at the first year that
    is not a full year, so the years are consecutive.
    """
    # training_years None: every response year the data allow
    training = (len(fullset) if config.training_years is None
                else max(int(config.training_years), 1))
    want = max(window_years, training)
    if config.history:
        look_back = config.history_window
        if look_back is None:
            look_back = config.history_years
        want = max(want, training + int(look_back))
    years: list[int] = []
    y = t - 1
    while len(years) < want and y in fullset:
        years.append(y)
        y -= 1
    return sorted(years)


# --------------------------------------------------------------------------- backtest


@dataclass(frozen=True, eq=False)
class _Setup:
    """What every origin shares: the origins, the areas' households, the IMD score, the
    rankings scored and the bootstrap resamples (None without bootstrap)."""

    origins: list[int]
    fullset: set[int]
    areas: pd.Index
    households: np.ndarray
    imd: pd.Series | None
    names: list[str]
    resamples: _Resamples | None
    groups: np.ndarray | None
    group_label: str | None

    @property
    def mult(self) -> np.ndarray | None:
        """Multiplicities of the areas in each resample (resamples x areas)."""
        return None if self.resamples is None else self.resamples.mult


def _setup(counts: pd.DataFrame, covariates: pd.DataFrame, *, full_years: Sequence[int],
           origins: Sequence[int] | None, window_years: int, imd_column: str | None,
           bootstrap: int, seed: int, model_rank: str,
           groups: pd.Series | None) -> _Setup:
    """Check every input (raising once), and draw the resamples shared by every origin."""
    if model_rank not in ("count", "rate"):
        raise EvaluationError([Problem("backtest settings", f"model_rank must be 'count' or "
                                       f"'rate', got {model_rank!r}.",
                                       "use model_rank='count' or 'rate'.")])
    chosen, hh, imd = _check_inputs(counts, covariates, full_years, origins, window_years,
                                    imd_column, bootstrap)
    n = len(counts.index)
    h = hh.to_numpy()
    resamples: _Resamples | None = None
    if bootstrap > 0:
        rng = np.random.default_rng(seed)
        draws = rng.integers(0, n, size=(bootstrap, n))
        draws += (np.arange(bootstrap) * n)[:, None]
        resamples = _resamples(draws, h)
        del draws
    group_values = None
    if groups is not None:
        group_values = groups.reindex(counts.index).astype(object).to_numpy()
    return _Setup(origins=chosen, fullset={int(y) for y in full_years}, areas=counts.index,
                  households=h, imd=imd,
                  names=[r for r in RANKINGS if not (r == "imd" and imd is None)],
                  resamples=resamples, groups=group_values,
                  group_label=None if groups is None else str(groups.name or "group"))


def _model_forecast(t: int, counts: pd.DataFrame, covariates: pd.DataFrame, setup: _Setup, *,
                    window_years: int, config: ModelConfig, fit: Callable[..., Any],
                    weights: Any) -> tuple[list[int], np.ndarray, float | None]:
    """Fit on the full years before *t* only; the forecast for every area and Moran's I."""
    years = _model_years(t, setup.fullset, window_years, config)
    train = counts.loc[:, years].copy()
    if any(int(c) >= t for c in train.columns):  # pragma: no cover - defensive
        raise EvaluationError(f"internal error: year >= {t} in the training counts")
    result = fit(train, covariates, target_year=t, config=config, weights=weights)
    expected = pd.Series(result.expected).reindex(setup.areas).astype(float)
    bad = np.flatnonzero((expected.isna() | (expected < 0)).to_numpy())
    if bad.size:
        raise EvaluationError([Problem(
            "model forecast", f"origin {t}: the model gave no or a negative forecast for "
            f"{describe_rows(tuple(int(i) + 1 for i in bad))} (areas "
            f"{', '.join(map(str, setup.areas[bad][:3]))}).",
            "check the model's inputs for those areas.")])
    return years, expected.to_numpy(), _moran_value(getattr(result, "residual_moran", None))


@dataclass(frozen=True, eq=False)
class _Rankings:
    """One origin's ranking score, count forecast and deviance floor, per ranking."""

    scores: dict[str, np.ndarray]
    preds: dict[str, np.ndarray]
    floors: dict[str, float]


def _rankings(t: int, counts: pd.DataFrame, setup: _Setup, *, window_years: int,
              model_years: list[int], expected: np.ndarray, model_rank: str) -> _Rankings:
    """The model's and the simple rules' scores and forecasts for origin *t*."""
    h, areas = setup.households, setup.areas
    window = [t - j for j in range(window_years, 0, -1)]
    last = counts[t - 1].to_numpy(dtype=float)
    hist = counts[window].to_numpy(dtype=float).sum(axis=1)
    others = [y for y in sorted(setup.fullset) if y != t and y in counts.columns]
    other_sum = counts[others].to_numpy(dtype=float).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        stable = np.where(h > 0, other_sum / (h * len(others)), np.nan)
        model_score = (expected if model_rank == "count"
                       else np.where(h > 0, expected / h, np.nan))
    eb = _eb_rate(pd.Series(hist, index=areas), pd.Series(h * window_years, index=areas))
    scores = {MODEL: model_score, "last_year": last, "history_5y": hist,
              "eb_rate": eb, "stable_rate": stable}
    preds: dict[str, np.ndarray] = {
        MODEL: expected, "last_year": last, "history_5y": hist / window_years,
        "eb_rate": np.where(h > 0, np.nan_to_num(eb) * h, 0.0),
        "stable_rate": other_sum / len(others)}
    floors = {MODEL: 0.5 / len(model_years), "last_year": 0.5,
              "history_5y": 0.5 / window_years, "eb_rate": 0.5 / window_years,
              "stable_rate": 0.5 / len(others)}
    if setup.imd is not None:
        scores["imd"] = setup.imd.to_numpy(dtype=float)
        preds["imd"] = np.full(len(areas), np.nan)
    return _Rankings(scores=scores, preds=preds, floors=floors)


def _group_captured(score: np.ndarray, setup: _Setup, obs: np.ndarray,
                    share: float) -> dict[Any, float]:
    """Fires captured at *share* of each group's households, ranking its areas alone."""
    out: dict[Any, float] = {}
    if setup.groups is None:
        return out
    for g in pd.unique(setup.groups):
        rows = np.flatnonzero(setup.groups == g)
        order, starts = _order_blocks(score[rows])
        out[g] = float(_captured(order, starts, setup.households[rows], obs[rows],
                                 [share])[0, 0])
    return out


@dataclass
class _Pool:
    """Per-ranking pieces of every origin, pooled into ratio-of-sums metrics at the end."""

    names: list[str]
    ks: tuple[int, ...]
    parts: dict[str, dict[str, list[Any]]] = field(default_factory=dict)
    totals: list[float] = field(default_factory=list)
    totals_b: list[np.ndarray] = field(default_factory=list)
    group_rows: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.parts = {r: {k: [] for k in ("cap", "cap_b", "curve", "dev", "dev_b", "dec",
                                          "pred", "obs")} for r in self.names}

    def pooled(self, mult: np.ndarray | None) -> tuple[dict[str, RankingMetrics], pd.DataFrame]:
        """Pooled metrics per ranking and the pooled capture curve."""
        pooled: dict[str, RankingMetrics] = {}
        curve_rows: list[pd.DataFrame] = []
        grand = float(np.sum(self.totals))
        grand_b = np.sum(self.totals_b, axis=0) if self.totals_b else None
        for r in self.names:
            a = self.parts[r]
            cap = np.sum(a["cap"], axis=0)
            cap_b = np.sum(a["cap_b"], axis=0) if mult is not None else None
            dev = dev_b = calib = None
            if a["dev"]:
                dev = float(np.mean(np.concatenate(a["dev"])))
                if mult is not None:
                    dev_b = np.mean(a["dev_b"], axis=0)
                calib = _calibration_table(np.concatenate(a["dec"]),
                                           np.concatenate(a["pred"]), np.concatenate(a["obs"]))
            pooled[r] = _metrics(cap, grand, cap_b, grand_b, dev, dev_b, self.ks, calib)
            found = np.sum(a["curve"], axis=0)
            curve_rows.append(pd.DataFrame({
                "ranking": r, "household_share": CURVE_SHARES,
                "incident_share": found / grand if grand > 0 else np.nan}))
        return pooled, pd.concat(curve_rows, ignore_index=True)

    def groups(self, label: str | None) -> pd.DataFrame | None:
        """Capture inside each group, pooled over origins (ratio of sums)."""
        if label is None:
            return None
        cols = ["group", "ranking", "areas", "incidents", "captured", "capture"]
        if not self.group_rows:
            return pd.DataFrame(columns=cols)
        df = pd.DataFrame(self.group_rows)
        out = df.groupby(["group", "ranking"], sort=False, as_index=False).agg(
            areas=("areas", "first"), incidents=("incidents", "sum"),
            captured=("captured", "sum"))
        with np.errstate(divide="ignore", invalid="ignore"):
            out["capture"] = np.where(out["incidents"] > 0,
                                      out["captured"] / out["incidents"], np.nan)
        return out[cols]


def _score_origin(t: int, rankings: _Rankings, obs: np.ndarray, setup: _Setup,
                  pool: _Pool, group_k: int) -> dict[str, RankingMetrics]:
    """Every ranking's capture, curve, deviance and calibration on year *t*, added to *pool*."""
    h, mult, ks = setup.households, setup.mult, pool.ks
    shares = [k / 100 for k in ks]
    total = float(obs.sum())
    total_b = mult @ obs if mult is not None else None
    pool.totals.append(total)
    if total_b is not None:
        pool.totals_b.append(total_b)
    if setup.groups is not None:
        group_fires = pd.Series(obs).groupby(setup.groups).sum()
        group_areas = pd.Series(setup.groups).value_counts()
    metrics: dict[str, RankingMetrics] = {}
    for r in pool.names:
        acc = pool.parts[r]
        score = rankings.scores[r]
        order, starts = _order_blocks(score)
        cap = _captured(order, starts, h, obs, shares)[0]
        curve = _captured(order, starts, h, obs, list(CURVE_SHARES))[0]
        cap_b = (_captured_boot(order, starts, h, obs, shares, setup.resamples)
                 if setup.resamples is not None else None)
        dev: float | None = None
        dev_b: np.ndarray | None = None
        calib: pd.DataFrame | None = None
        pred = rankings.preds.get(r)
        if pred is not None and r != "imd":
            d = unit_deviance(obs, np.maximum(pred, rankings.floors[r]))
            dev = float(d.mean())
            dev_b = (mult @ d) / len(obs) if mult is not None else None
            dec = _deciles(pred)
            calib = _calibration_table(dec, pred, obs)
            for key, value in (("dev", d), ("dev_b", dev_b), ("dec", dec), ("pred", pred),
                               ("obs", obs)):
                acc[key].append(value)
        acc["cap"].append(cap)
        acc["cap_b"].append(cap_b)
        acc["curve"].append(curve)
        metrics[r] = _metrics(cap, total, cap_b, total_b, dev, dev_b, ks, calib)
        for g, found in _group_captured(score, setup, obs, group_k / 100).items():
            pool.group_rows.append({"origin": t, "group": g, "ranking": r,
                                    "areas": int(group_areas[g]),
                                    "incidents": float(group_fires[g]), "captured": found})
    return metrics


def backtest(counts: pd.DataFrame, covariates: pd.DataFrame, *, full_years: Sequence[int],
             origins: Sequence[int] | None = None, config: ModelConfig,
             window_years: int = 5, imd_column: str | None = "imd_score",
             bootstrap: int = 500, seed: int = DEFAULT_SEED, weights: Any = None,
             fit: Callable[..., Any] = fit_predict,
             model_rank: Literal["count", "rate"] = "count",
             groups: pd.Series | None = None, group_k: int = 10) -> BacktestResult:
    """Rolling-origin backtest of the model and five baseline rankings.

    Steps: check the inputs and draw the resamples (:func:`_setup`); for each origin, fit
    on the years before it (:func:`_model_forecast`), score the model and the simple rules
    (:func:`_rankings`, :func:`_score_origin`); pool the origins (:class:`_Pool`).

    Parameters
    ----------
    counts : DataFrame
        Incidents per area (index ``area_id``) and year (int columns).
    covariates : DataFrame
        Indexed by ``area_id``: ``households``, the model features and *imd_column*.
    full_years : sequence of int
        The full calendar years; partial years are never used.
    origins : sequence of int, optional
        Years to forecast. Default: every full year with *window_years* full years before.
    config : risk.model.ModelConfig
        Passed to *fit* unchanged.
    window_years : int
        Full years of history behind the baselines and the model. The model gets more if
        its configuration asks (``training_years`` + ``history_window``, or
        ``history_years`` when that is None), as far as the full years go; never a year
        on or after the origin.
    imd_column : str or None
        Deprivation score, higher = more deprived; None leaves the ``imd`` baseline out.
    bootstrap : int
        Area resamples for the 95% intervals (0 for none).
    seed : int
        Seed of the resamples.
    weights : optional
        Spatial weights, passed to *fit*.
    fit : callable
        ``fit(counts, covariates, *, target_year, config, weights) -> FitResult`` with an
        ``expected`` Series (and optionally ``residual_moran``); default
        :func:`risk.model.fit_predict`.
    model_rank : {"count", "rate"}
        Rank the model's areas by expected count, or by expected count per household
        (the order of ``risk_per_1000``). Capture is measured per household visited, so
        ranking by rate is the better order for it; choose the order the priority
        list uses.
    groups : Series, optional
        A group per area (for example the borough; its name labels the groups): every
        ranking is also scored inside each group alone, at *group_k*% of the group's
        households, as a station manager ranking only their own areas would use it.
    group_k : int
        Percent of each group's households for the within-group capture.

    Returns
    -------
    BacktestResult

    Raises
    ------
    EvaluationError
        Listing every problem with the years, areas and households at once.
    """
    setup = _setup(counts, covariates, full_years=full_years, origins=origins,
                   window_years=window_years, imd_column=imd_column, bootstrap=bootstrap,
                   seed=seed, model_rank=model_rank, groups=groups)
    pool = _Pool(names=setup.names, ks=CAPTURE_KS)
    per_origin: list[OriginResult] = []
    for t in setup.origins:
        years, expected, moran = _model_forecast(t, counts, covariates, setup,
                                                 window_years=window_years, config=config,
                                                 fit=fit, weights=weights)
        rankings = _rankings(t, counts, setup, window_years=window_years, model_years=years,
                             expected=expected, model_rank=model_rank)
        obs = counts[t].to_numpy(dtype=float)
        metrics = _score_origin(t, rankings, obs, setup, pool, group_k)
        per_origin.append(OriginResult(
            origin=t, train_years=tuple(years), incidents=int(obs.sum()), metrics=metrics,
            scores=pd.DataFrame({r: rankings.scores[r] for r in setup.names},
                                index=setup.areas),
            predictions=pd.DataFrame({r: rankings.preds[r] for r in setup.names},
                                     index=setup.areas),
            residual_moran=moran))
    pooled, curve = pool.pooled(setup.mult)
    return BacktestResult(origins=tuple(per_origin), pooled=pooled, curve=curve,
                          ks=CAPTURE_KS, window_years=window_years, bootstrap=bootstrap,
                          seed=seed, areas=len(setup.areas), model_rank=model_rank,
                          groups=pool.groups(setup.group_label),
                          group_label=setup.group_label, group_k=group_k)


def _moran_value(moran: Any) -> float | None:
    """Moran's I from a FitResult attribute: a number, or an object with ``i`` (or ``I``)."""
    if moran is None:
        return None
    value = getattr(moran, "i", getattr(moran, "I", moran))
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _eb_rate(events: pd.Series, exposure: pd.Series) -> np.ndarray:
    """EB-smoothed rate per unit exposure; NaN for areas with no exposure."""
    out = np.full(len(events), np.nan)
    pos = (exposure > 0).to_numpy()
    if pos.any():
        rate = pd.Series(eb_rate(events[pos], exposure[pos]))
        out[pos] = rate.reindex(events.index[pos]).to_numpy(dtype=float)
    return out


def _metrics(cap: np.ndarray, total: float, cap_b: np.ndarray | None,
             total_b: np.ndarray | None, dev: float | None, dev_b: np.ndarray | None,
             ks: Sequence[int], calib: pd.DataFrame | None) -> RankingMetrics:
    """Point estimates and intervals from captured counts (per k) and unit deviances."""
    capture = {k: (float(cap[j] / total) if total > 0 else float("nan")) for j, k in enumerate(ks)}
    pai = {k: capture[k] / (k / 100) for k in ks}
    ci: dict[str, tuple[float, float]] = {}
    if cap_b is not None and total_b is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            share_b = cap_b / total_b[:, None]
        for j, k in enumerate(ks):
            ci[f"capture_{k}"] = _interval(share_b[:, j])
        for k in ks:
            lo, hi = ci[f"capture_{k}"]
            ci[f"pai_{k}"] = (lo / (k / 100), hi / (k / 100))
        if dev_b is not None:
            ci["deviance"] = _interval(dev_b)
    replicates = ({k: share_b[:, j] for j, k in enumerate(ks)}
                  if cap_b is not None and total_b is not None else {})
    return RankingMetrics(capture=capture, pai=pai, deviance=dev, ci=ci, calibration=calib,
                          replicates=replicates)


# --------------------------------------------------------------------------- outputs


def calibration_table(result: BacktestResult, ranking: str = MODEL) -> pd.DataFrame | None:
    """The pooled per-decile calibration of a ranking's count forecast.

    Returns
    -------
    DataFrame or None
        One row per decile of the forecast (1 = lowest; areas are put in deciles within
        each origin, then pooled): ``decile``, ``areas`` (area-years), ``mean_predicted``,
        ``mean_observed`` and ``error`` = ``mean_predicted / mean_observed - 1`` (NaN
        where nothing was observed). None for a ranking that makes no count forecast.
    """
    metrics = result.pooled.get(ranking)
    if metrics is None or metrics.calibration is None:
        return None
    cal = metrics.calibration.copy()
    obs = cal["mean_observed"].where(cal["mean_observed"] > 0)
    cal["error"] = cal["mean_predicted"] / obs - 1.0
    return cal


def worst_decile(result: BacktestResult, ranking: str = MODEL) -> tuple[int, float] | None:
    """The decile whose forecast errs most (relative), and that error (signed)."""
    cal = calibration_table(result, ranking)
    if cal is None or not cal["error"].notna().any():
        return None
    row = cal.loc[cal["error"].abs().idxmax()]
    return int(row["decile"]), float(row["error"])


def group_capture_table(result: BacktestResult) -> pd.DataFrame | None:
    """Capture at ``group_k``% of each group's households, one row per group.

    Returns
    -------
    DataFrame or None
        Index: the group names, then ``"Whole service"`` (the pooled service-wide
        capture at the same share, for comparison); one column per ranking, plus
        ``areas``. None when the backtest was run without groups.
    """
    if result.groups is None:
        return None
    g = result.groups
    wide = g.pivot_table(index="group", columns="ranking", values="capture", sort=True)
    wide = wide[[r for r in result.rankings if r in wide.columns]]
    wide.columns.name = None
    wide.insert(0, "areas", g.groupby("group")["areas"].first().reindex(wide.index))
    k = result.group_k
    service = {r: result.pooled[r].capture.get(k, float("nan")) for r in wide.columns
               if r in result.pooled}
    service["areas"] = result.areas
    wide.loc["Whole service"] = pd.Series(service)
    return wide


def capture_curve(result: BacktestResult) -> pd.DataFrame:
    """Pooled capture curve per ranking, for the app's plot.

    Returns
    -------
    DataFrame
        Columns ``ranking``, ``household_share`` (0..1 in steps of 0.01) and
        ``incident_share`` (share of all origin years' incidents found). A random
        ranking follows the diagonal.
    """
    return result.curve.copy()


def _fmt_ci(value: float, ci: tuple[float, float] | None) -> str:
    if not math.isfinite(value):
        return "n/a"
    text = f"{100 * value:5.1f}%"
    if ci is not None and all(math.isfinite(c) for c in ci):
        text += f" ({100 * ci[0]:.1f}-{100 * ci[1]:.1f})"
    return text


def format_table(result: BacktestResult) -> str:
    """A plain-text table of the pooled metrics: model and baselines.

    Columns: capture@5/10/20% of households (with 95% intervals), PAI@10, mean
    Poisson deviance per area-year and, for each baseline, how many percentage points
    more of the fires the model found at 10% of households (paired 95% interval).
    """
    years = [o.origin for o in result.origins]
    span = f"{years[0]}-{years[-1]}" if years else "no origins"
    head = (f"Backtest, origins {span} ({len(years)} years, {result.areas:,} areas); pooled "
            f"over years. Capture = share of the year's fires in the top-ranked areas holding "
            f"k% of households")
    if result.bootstrap:
        head += f"; 95% intervals from {result.bootstrap} resamples of areas"
    cap_cols = [f"capture@{k}%" for k in result.ks]
    cols = ["ranking", *cap_cols, "PAI@10", "deviance", "model minus this @10%"]
    rows: list[list[str]] = []
    for r in result.rankings:
        m = result.pooled[r]
        cells = [_LABELS.get(r, r)]
        for k in result.ks:
            cells.append(_fmt_ci(m.capture[k], m.ci.get(f"capture_{k}")))
        pai10 = m.pai.get(10, float("nan"))
        cells.append(f"{pai10:.2f}" if math.isfinite(pai10) else "n/a")
        cells.append(f"{m.deviance:.3f}" if m.deviance is not None else "n/a")
        if r == MODEL or 10 not in result.ks:
            cells.append("")
        else:
            diff, lo, hi = capture_difference(result, MODEL, r, k=10)
            text = f"{100 * diff:+.1f}"
            if math.isfinite(lo) and math.isfinite(hi):
                text += f" ({100 * lo:+.1f} to {100 * hi:+.1f})"
            cells.append(text)
        rows.append(cells)
    widths = [max(len(c), *(len(row[i]) for row in rows)) for i, c in enumerate(cols)]
    lines = [head, "",
             "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cols, widths, strict=True))),
             "  ".join("-" * w for w in widths)]
    for row in rows:
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(row, widths, strict=True))))
    lines.append("")
    lines.append("Deviance is not defined for the deprivation ranking (not a count forecast). "
                 "The other-years row averages each area's rate over every other year, future "
                 "ones included: a reference nobody could compute in advance, not a ceiling.")
    lines += _group_lines(result)
    return "\n".join(lines)


def _group_lines(result: BacktestResult) -> list[str]:
    """Within-group capture in two lines: the model against the best simple rule."""
    table = group_capture_table(result)
    if table is None or MODEL not in table.columns:
        return []
    groups = table.drop(index="Whole service")
    rules = [r for r in ("last_year", "history_5y", "eb_rate", "imd") if r in groups.columns]
    model = groups[MODEL]
    k = result.group_k
    text = (f"Inside each {result.group_label} ({len(groups)}; its own areas ranked alone, "
            f"top {k}% of its households): model median {100 * model.median():.1f}% "
            f"(range {100 * model.min():.1f}-{100 * model.max():.1f}), whole service "
            f"{100 * table.loc['Whole service', MODEL]:.1f}%")
    if rules:  # the rule that did best service-wide, the same rule in every group
        best = max(rules, key=lambda r: table.at["Whole service", r])
        ahead = int((model >= groups[best]).sum())
        text += (f"; {_LABELS[best].lower()} (best simple rule) median "
                 f"{100 * groups[best].median():.1f}%, the model at least as good in "
                 f"{ahead} of {len(groups)}.")
    return ["", text]


def compare_models(counts: pd.DataFrame, covariates: pd.DataFrame, *,
                   configs: Mapping[str, ModelConfig], full_years: Sequence[int],
                   origins: Sequence[int] | None = None, window_years: int = 5,
                   imd_column: str | None = "imd_score", bootstrap: int = 200,
                   seed: int = DEFAULT_SEED, weights: Any = None,
                   fit: Callable[..., Any] = fit_predict,
                   model_rank: Literal["count", "rate"] = "count") -> pd.DataFrame:
    """Backtest several model configurations; one row per configuration, plus the baselines.

    Parameters
    ----------
    counts, covariates, full_years, origins, window_years, imd_column, seed, weights, fit, model_rank
        As for :func:`backtest`.
    configs : mapping of str to ModelConfig
        Configurations by name.
    bootstrap : int
        Resamples for the capture@10 interval (0 for none).

    Returns
    -------
    DataFrame
        Indexed by name (configurations, then ``baseline: <name>`` rows from the first
        run), columns ``kind``, ``capture_5``, ``capture_10``, ``capture_10_low``,
        ``capture_10_high``, ``capture_20``, ``deviance``, ``calib_max_error`` (max over
        pooled deciles of |mean forecast / mean observed - 1|), ``calib_ratio`` (all
        forecast / all observed), ``calib_slope`` (slope of log forecast in a Poisson
        GLM of the observed counts; 1 is ideal, below 1 means forecasts too spread) and
        ``residual_moran`` (mean over origins, when the model reports it).
    """
    if not configs:
        raise EvaluationError([Problem("compare_models", "no model configurations were given.",
                                       "pass configs={'name': ModelConfig(...)}.")])
    rows: dict[str, dict[str, Any]] = {}
    first: BacktestResult | None = None
    for name, cfg in configs.items():
        res = backtest(counts, covariates, full_years=full_years, origins=origins, config=cfg,
                       window_years=window_years, imd_column=imd_column, bootstrap=bootstrap,
                       seed=seed, weights=weights, fit=fit, model_rank=model_rank)
        rows[name] = _summary_row(res, MODEL, "model", counts)
        rows[name]["residual_moran"] = res.residual_moran
        if first is None:
            first = res
    assert first is not None
    for b in first.rankings:
        if b != MODEL:
            rows[f"baseline: {b}"] = _summary_row(first, b, "baseline", counts)
    return pd.DataFrame.from_dict(rows, orient="index")


def _summary_row(res: BacktestResult, ranking: str, kind: str,
                 counts: pd.DataFrame) -> dict[str, Any]:
    m = res.pooled[ranking]
    lo, hi = m.ci.get("capture_10", (float("nan"), float("nan")))
    row: dict[str, Any] = {"kind": kind}
    for k in res.ks:
        row[f"capture_{k}"] = m.capture[k]
    row["capture_10_low"], row["capture_10_high"] = lo, hi
    row["deviance"] = m.deviance
    row["calib_max_error"] = row["calib_ratio"] = row["calib_slope"] = None
    row["residual_moran"] = None
    if m.calibration is not None:
        cal = m.calibration
        ok = cal["mean_observed"] > 0
        row["calib_max_error"] = float(
            (cal.loc[ok, "mean_predicted"] / cal.loc[ok, "mean_observed"] - 1).abs().max())
        mu = np.concatenate([o.predictions[ranking].to_numpy(dtype=float) for o in res.origins])
        obs = np.concatenate([counts[o.origin].to_numpy(dtype=float) for o in res.origins])
        row["calib_ratio"] = float(mu.sum() / obs.sum()) if obs.sum() > 0 else None
        row["calib_slope"] = _glm_slope(obs, mu)
    return row


def _glm_slope(obs: np.ndarray, mu: np.ndarray) -> float | None:
    """Calibration slope: coefficient of log(mu) in a Poisson GLM of obs (mu > 0 only)."""
    keep = mu > 0
    if keep.sum() < 3 or np.ptp(np.log(mu[keep])) == 0:
        return None
    exog = sm.add_constant(np.log(mu[keep]))
    fitted = sm.GLM(obs[keep], exog, family=sm.families.Poisson()).fit()
    return float(fitted.params[1])
