"""The count model: expected dwelling fires per area next year.

Model
-----
A negative binomial (NB2) regression with the dispersion ``alpha`` estimated by maximum
likelihood (``statsmodels.discrete.discrete_model.NegativeBinomial``), a
``log(households)`` offset, and covariates:

* the profile's area features (for London: IMD score, share of households renting
  socially, share living in flats), centred on their service-wide (household-weighted)
  averages, so the intercept is the log rate of an area at the service average;
* ``history``: the area's own past fires as an empirical-Bayes-shrunk rate (Marshall's
  method of moments, :func:`risk.smoothing.eb_rate`), entered as
  ``log(EB rate / service-wide rate)`` (0 = the service average). Past years can be
  down-weighted by age (``history_decay``: a year ``k`` years before the latest one
  counts ``decay**k``);
* optionally ``neighbours_history``: the same for the area's queen-contiguity
  neighbours pooled together (``spatial_lag``).

Training design (no leakage)
----------------------------
``counts`` may hold only full years before ``target_year`` = ``t`` (checked). By default
the fit pools the response years ``t-3 .. t-1`` (``training_years``; None = every year
with a past year before it), one row per area and year. Each response year's history
term is built from the years before it only (``history_span="expanding"``, at most
``history_window``), and the forecast's from every year before ``t``. A log-linear year
trend over the response years (``year_effect="trend"``) carries the service-wide level to
year ``t``: the trend term is ``year - t``, so the intercept is the level in ``t``. With
``year_effect="separate"`` each response year has its own level and the forecast stays at
the latest one; with ``training_years=1`` there is no year term at all (the latest level).

The history term's empirical-Bayes step is given the effective exposure of the
age-weighted count (``history_exposure="effective"``, see :func:`_eb_scale`), so a decay
below 1 does not over-shrink it.

Defaults were chosen by the rolling-origin backtest on London (origins 2015..2023) and on
synthetic services drawn from a known model (``bench.synth``: 1,000 and 4,000 areas,
strong, weak and no history signal, with and without a trend;
``scripts/compare_models.py``): pooling three response years with a trend kept London's
capture of next year's fires (within 0.1 point) and brought every London forecast decile
within 5% of what happened (the single-year fit missed the lowest decile by 10%), and it
came closer to the true ranking where past fires carry no signal. A decay of 0.95 had the
lowest deviance; IMD domains, shrinking toward a covariate prior and the neighbours' term
did not improve capture and are left off.

Family
------
``family="auto"`` fits both Poisson and NB2 and keeps NB2 only when a likelihood-ratio
test of ``alpha = 0`` rejects at ``overdispersion_level`` (the boundary-corrected test,
``p = 0.5 * P(chi2_1 > LR)``); otherwise it falls back to Poisson and says why. An NB2 fit
that fails to converge also falls back, with the reason.

Areas with 0 households are left out of the fit, get ``expected = 0`` and are flagged;
areas with a missing feature value are left out of the fit and predicted at the service
average for that feature (flagged).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats
from statsmodels.discrete.discrete_model import NegativeBinomial, Poisson

from firerisk.columns import EXPECTED, RISK_PER_1000
from firerisk.errors import ModelInputError, Problem
from firerisk.risk.features import EXPOSURE
from firerisk.risk.smoothing import eb_rate, eb_weights, log_relative_risk_sd

__all__ = [
    "HISTORY",
    "INTERCEPT",
    "LAG",
    "YEAR_PREFIX",
    "YEAR_TREND",
    "Coefficient",
    "CountModel",
    "Design",
    "FitResult",
    "ModelConfig",
    "MoranResult",
    "fit_predict",
    "history_design",
]

HISTORY = "history"
LAG = "neighbours_history"
INTERCEPT = "const"
#: Prefix of the per-year indicators of a pooled fit (``year_effect="separate"``).
YEAR_PREFIX = "year_"
#: The log-linear trend term of a pooled fit (``year_effect="trend"``), years before the target.
YEAR_TREND = "year_trend"
_SOURCE = "model inputs"
_RESERVED = (HISTORY, LAG, INTERCEPT, EXPOSURE)


@dataclass(frozen=True)
class ModelConfig:
    """Options of the count model.

    Parameters
    ----------
    family : {"auto", "poisson", "negative_binomial"}
        ``auto`` chooses NB2 when overdispersed (LR test), else Poisson.
    features : tuple of str
        Covariate columns to use; empty means every column of ``covariates`` except
        ``households``.
    history : bool
        Include the area's own past fires (EB-shrunk rate).
    history_years : int
        Years counted as "recent" in explanations ("7 fires in the last 5 years").
    history_window : int or None
        Years the history term looks back over (default 15: on the London sample every
        year available); None means every full year available.
    history_decay : float
        Weight of a past year relative to the year after it (1 = equal weights).
    history_prior : {"global", "covariates"}
        Shrink past rates toward the service-wide rate, or toward a covariate-only
        Poisson model's expected rate for the area.
    eb_variance : {"constant", "proportional"}
        Prior variance of the EB step (see :mod:`risk.smoothing`).
    history_exposure : {"effective", "weighted"}
        Exposure the EB step is given for an age-weighted count: the household-years an
        unweighted count as noisy would cover ("effective", Kish's effective sample size)
        or the weighted household-years ("weighted", which over-shrinks when
        ``history_decay < 1``). Identical when the decay is 1.
    spatial_lag : bool
        Include the neighbours' pooled history (needs ``weights``).
    training_years : int or None
        Number of response years pooled in the fit (1 = the year before the target; None =
        every year that has a past year before it, or every year without history).
    year_effect : {"separate", "trend"}
        With several response years: one level per year, the forecast at the latest
        year's level ("separate"); or a log-linear trend over the response years, the
        forecast at the trend's level in the target year ("trend").
    history_span : {"equal", "expanding"}
        With several response years: every year's history term looks back as far as the
        earliest one can ("equal"), or each looks back over every year before it, up to
        ``history_window`` ("expanding").
    same_window : bool
        Build the prediction's history term from as many years as the training one (True),
        or from every year within ``history_window`` (False: one more year than training
        when the window is limited by the data).
    overdispersion_level : float
        Significance level of the LR test of ``alpha = 0`` used by ``auto``.
    moran_permutations : int
        Permutations for the residual Moran's I (0 = normal approximation only).
    """

    family: Literal["auto", "poisson", "negative_binomial"] = "auto"
    features: tuple[str, ...] = ()
    history: bool = True
    history_years: int = 5
    history_window: int | None = 15
    history_decay: float = 0.95
    history_prior: Literal["global", "covariates"] = "global"
    eb_variance: Literal["constant", "proportional"] = "constant"
    history_exposure: Literal["effective", "weighted"] = "effective"
    spatial_lag: bool = False
    training_years: int | None = 3
    year_effect: Literal["separate", "trend"] = "trend"
    history_span: Literal["equal", "expanding"] = "expanding"
    same_window: bool = False
    overdispersion_level: float = 0.05
    moran_permutations: int = 0

    def __post_init__(self) -> None:
        problems = []
        if self.family not in ("auto", "poisson", "negative_binomial"):
            problems.append(f"family must be auto, poisson or negative_binomial, "
                            f"got {self.family!r}")
        if self.history_years < 1:
            problems.append(f"history_years must be at least 1, got {self.history_years}")
        if self.history_window is not None and self.history_window < 1:
            problems.append(f"history_window must be at least 1, got {self.history_window}")
        if not 0 < self.history_decay <= 1:
            problems.append(f"history_decay must be in (0, 1], got {self.history_decay}")
        if self.history_prior not in ("global", "covariates"):
            problems.append(f"history_prior must be global or covariates, "
                            f"got {self.history_prior!r}")
        if self.eb_variance not in ("constant", "proportional"):
            problems.append(f"eb_variance must be constant or proportional, "
                            f"got {self.eb_variance!r}")
        if self.history_exposure not in ("effective", "weighted"):
            problems.append(f"history_exposure must be effective or weighted, "
                            f"got {self.history_exposure!r}")
        if self.training_years is not None and self.training_years < 1:
            problems.append(f"training_years must be at least 1, got {self.training_years}")
        if self.year_effect not in ("separate", "trend"):
            problems.append(f"year_effect must be separate or trend, got {self.year_effect!r}")
        if self.history_span not in ("equal", "expanding"):
            problems.append(f"history_span must be equal or expanding, "
                            f"got {self.history_span!r}")
        if not 0 < self.overdispersion_level < 1:
            problems.append("overdispersion_level must be between 0 and 1")
        if problems:
            raise ModelInputError([Problem("model configuration", p + ".",
                                           "correct the [model] options.") for p in problems])


@dataclass(frozen=True)
class Coefficient:
    """One row of the coefficient table (log scale; ``rate_ratio = exp(estimate)``)."""

    name: str
    estimate: float
    std_err: float
    ci_low: float
    ci_high: float

    @property
    def rate_ratio(self) -> float:
        """Multiplicative change in the expected rate per unit of the covariate."""
        return math.exp(self.estimate)


@dataclass(frozen=True)
class MoranResult:
    """Moran's I of the fit's Pearson residuals over the given spatial weights."""

    i: float
    expected: float
    z: float
    p_value: float
    method: str


@dataclass(frozen=True)
class FitResult:
    """What :func:`fit_predict` returns: predictions, the fitted model and its checks.

    ``design`` is the prediction design matrix (centred features, history terms) in the
    order of ``params``; ``expected = exp(design @ params[:p]) * households``.
    ``feature_values`` holds the uncentred values (features, history) used in
    explanations, and ``feature_means`` the service-wide averages they are compared with.
    ``recent_observed`` / ``recent_expected`` are the fires in the last ``history_years``
    full years and the number expected at the service-wide rate. ``risk_sd`` is the
    standard deviation of each area's log relative risk given its past fires (a
    Poisson-gamma posterior around the covariates: how far its true risk may lie from
    the forecast), used by :mod:`risk.uncertainty` for ranges of ranks.
    """

    target_year: int
    config: ModelConfig
    family: str
    fell_back_to_poisson: bool
    fallback_reason: str
    coefficients: tuple[Coefficient, ...]
    alpha: float | None
    alpha_std_err: float | None
    overdispersion_test: str
    overdispersion_stat: float | None
    overdispersion_p: float | None
    aic: float
    deviance: float
    llf: float
    n: int
    training_years: tuple[int, ...]
    history_window: tuple[int, ...]
    recent_years: tuple[int, ...]
    notes: tuple[str, ...]
    residual_moran: MoranResult | None
    feature_means: Mapping[str, float]
    expected: pd.Series = field(compare=False, repr=False)
    flags: pd.Series = field(compare=False, repr=False)
    households: pd.Series = field(compare=False, repr=False)
    design: pd.DataFrame = field(compare=False, repr=False)
    feature_values: pd.DataFrame = field(compare=False, repr=False)
    params: pd.Series = field(compare=False, repr=False)
    cov_params: pd.DataFrame = field(compare=False, repr=False)
    recent_observed: pd.Series = field(compare=False, repr=False)
    recent_expected: pd.Series = field(compare=False, repr=False)
    risk_sd: pd.Series = field(compare=False, repr=False)
    results: Any = field(default=None, compare=False, repr=False)

    def coef_table(self) -> pd.DataFrame:
        """The coefficient table: estimate, std err, 95% CI and rate ratio with its CI."""
        rows = [{"name": c.name, "estimate": c.estimate, "std_err": c.std_err,
                 "ci_low": c.ci_low, "ci_high": c.ci_high, "rate_ratio": c.rate_ratio,
                 "rate_ratio_low": math.exp(c.ci_low), "rate_ratio_high": math.exp(c.ci_high)}
                for c in self.coefficients]
        return pd.DataFrame(rows).set_index("name")

    @property
    def rate_per_1000(self) -> pd.Series:
        """Expected fires next year per 1,000 households (NaN where no households)."""
        hh = self.households
        return (self.expected / hh.where(hh > 0) * 1000.0).rename(RISK_PER_1000)

    def summary(self) -> dict[str, Any]:
        """A plain, JSON-ready summary for the run report."""
        return {
            "target_year": self.target_year,
            "family": self.family,
            "fell_back_to_poisson": self.fell_back_to_poisson,
            "fallback_reason": self.fallback_reason,
            "alpha": self.alpha,
            "overdispersion_test": self.overdispersion_test,
            "overdispersion_stat": self.overdispersion_stat,
            "overdispersion_p": self.overdispersion_p,
            "aic": self.aic,
            "deviance": self.deviance,
            "n": self.n,
            "training_years": list(self.training_years),
            "history_window": list(self.history_window),
            "residual_moran_i": None if self.residual_moran is None else self.residual_moran.i,
            "residual_moran_p": (None if self.residual_moran is None
                                 else self.residual_moran.p_value),
            "coefficients": self.coef_table().reset_index().to_dict(orient="records"),
            "flagged_areas": int((self.flags != "").sum()),
            "notes": list(self.notes),
        }


# --------------------------------------------------------------------------- inputs


def _check_inputs(counts: pd.DataFrame, covariates: pd.DataFrame, target_year: int,
                  config: ModelConfig, weights: Any) -> tuple[list[int], list[str]]:
    """Validate everything at once; return the sorted years and the feature names."""
    problems: list[Problem] = []
    years: list[int] = []
    bad_cols = []
    for c in counts.columns:
        try:
            years.append(int(c))
        except (TypeError, ValueError):
            bad_cols.append(str(c))
    if bad_cols:
        problems.append(Problem(_SOURCE, f"count columns must be years; got {bad_cols[:5]}.",
                                "pass one column per full year, named by the year."))
    late = sorted(y for y in years if y >= target_year)
    if late:
        problems.append(Problem(
            _SOURCE, f"the counts include year(s) {late} that are not before the target "
            f"year {target_year}; fitting on them would leak the answer into the forecast.",
            f"pass only full years before {target_year}."))
    if years and not late:
        need = 2 if config.history else 1
        if len(years) < need:
            problems.append(Problem(_SOURCE, f"{len(years)} year(s) of counts given; the "
                                    f"model needs at least {need}.",
                                    "give more full years of incidents."))
        if sorted(years) != list(range(min(years), max(years) + 1)):
            problems.append(Problem(_SOURCE, f"the count years are not consecutive: "
                                    f"{sorted(years)}.", "include every year, zeros too."))
    values = counts.to_numpy(dtype=float, na_value=np.nan)
    if np.isnan(values).any() or (values < 0).any() or (values != np.round(values)).any():
        problems.append(Problem(_SOURCE, "counts must be whole numbers of 0 or more, with no "
                                "gaps.", "fill areas with no incidents with 0."))
    if counts.index.has_duplicates:
        problems.append(Problem(_SOURCE, "area ids in the counts are not unique.",
                                "aggregate to one row per area."))
    missing_areas = counts.index.difference(covariates.index)
    if len(missing_areas):
        problems.append(Problem(
            _SOURCE, f"{len(missing_areas)} area(s) have counts but no covariates "
            f"(e.g. {', '.join(map(str, missing_areas[:3]))}).",
            "give covariates for every area."))
    feats = list(config.features) or [c for c in covariates.columns if c != EXPOSURE]
    absent = [c for c in [EXPOSURE, *feats] if c not in covariates.columns]
    if absent:
        problems.append(Problem(_SOURCE, f"covariates lack column(s) {absent}; present: "
                                f"{list(covariates.columns)}.",
                                "build covariates with risk.features.build_features."))
    clash = [f for f in feats if f in _RESERVED]
    if clash:
        problems.append(Problem(_SOURCE, f"feature name(s) {clash} are reserved.",
                                "rename the features in the profile."))
    if config.spatial_lag and weights is None:
        problems.append(Problem(_SOURCE, "spatial_lag needs spatial weights.",
                                "pass weights=libpysal.weights.Queen.from_dataframe(areas)."))
    if weights is not None:
        ids = set(getattr(weights, "id_order", []))
        lost = [a for a in counts.index if a not in ids]
        if lost:
            problems.append(Problem(_SOURCE, f"{len(lost)} area(s) are not in the spatial "
                                    f"weights (e.g. {lost[:3]}).",
                                    "build the weights from the same areas, ids = area_id."))
    if problems:
        raise ModelInputError(problems)
    return sorted(years), feats


# --------------------------------------------------------------------------- design


def _weighted_history(counts: pd.DataFrame, households: pd.Series, years: list[int],
                      decay: float) -> tuple[pd.Series, pd.Series]:
    """Age-weighted fire count and household-years over *years* (latest weighs 1)."""
    latest = max(years)
    w = np.array([decay ** (latest - y) for y in years])
    y_sum = (counts[years].to_numpy(dtype=float) * w).sum(axis=1)
    return (pd.Series(y_sum, index=counts.index), households * float(w.sum()))


def _eb_scale(years: list[int], config: ModelConfig) -> float:
    """Factor turning age-weighted household-years into the EB step's exposure.

    A count weighted ``w_k`` per year has Poisson variance ``sum(w_k**2) * mu`` but mean
    ``sum(w_k) * mu``: as a rate it is as noisy as an unweighted count over
    ``(sum w)**2 / sum(w**2)`` years (Kish's effective sample size), not ``sum(w)``.
    Scaling count and exposure by ``sum(w) / sum(w**2)`` keeps the rate and gives
    Marshall's method of moments the right sampling variance; with the weighted exposure
    (``history_exposure="weighted"``) it over-shrinks low and high rates alike, and the
    lowest forecast decile came out about 10% too high on London. 1 with equal weights.
    """
    if config.history_exposure == "weighted" or not years:
        return 1.0
    latest = max(years)
    w = np.array([config.history_decay ** (latest - y) for y in years])
    return float(w.sum() / (w**2).sum())


def _covariate_prior(counts: pd.DataFrame, households: pd.Series, years: list[int],
                     x: pd.DataFrame, fit_rows: pd.Series) -> pd.Series:
    """Expected rate per household-year from a covariate-only Poisson fit on *years*."""
    y = counts.loc[fit_rows, years].to_numpy(dtype=float).sum(axis=1)
    exog = sm.add_constant(x.loc[fit_rows].to_numpy(), has_constant="add")
    off = np.log(households[fit_rows].to_numpy() * len(years))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sm.GLM(y, exog, family=sm.families.Poisson(), offset=off).fit()
    full = sm.add_constant(x.to_numpy(), has_constant="add")
    return pd.Series(np.exp(full @ res.params), index=x.index)


def history_design(counts: pd.DataFrame, households: pd.Series, *, years: list[int],
                   config: ModelConfig, x: pd.DataFrame | None = None,
                   fit_rows: pd.Series | None = None,
                   lag_matrix: Any = None, with_sd: bool = False) -> pd.DataFrame:
    """History covariates for one forecast, built from *years* only.

    Parameters
    ----------
    counts, households : DataFrame, Series
        Counts per area and year, households per area.
    years : list of int
        The past years the history term looks at.
    config : ModelConfig
        Decay, prior and EB options.
    x, fit_rows : DataFrame, Series of bool
        Centred features and the rows usable for a fit (for ``history_prior="covariates"``).
    lag_matrix : sparse matrix, optional
        Binary contiguity (rows and columns in ``counts`` order) for the neighbours term.
    with_sd : bool
        Also return ``history_sd``: the approximate posterior standard deviation of the
        history term (EB posterior variance ``w_i m_i / n_i``, delta method on the log).

    Returns
    -------
    DataFrame
        ``history`` = log(EB rate / service-wide rate) and, with a lag matrix,
        ``neighbours_history``.
    """
    y, n = _weighted_history(counts, households, years, config.history_decay)
    pos = households > 0
    overall = float(y[pos].sum() / n[pos].sum())
    if overall <= 0:
        overall = 0.5 / float(n[pos].sum())  # no fires at all: every area is average
    prior: pd.Series | None = None
    if config.history_prior == "covariates" and x is not None and fit_rows is not None:
        prior = _covariate_prior(counts, households, years, x, fit_rows)
    prior_pos = overall if prior is None else prior[pos]
    # The EB step reads count / exposure as a Poisson rate; give it the exposure whose
    # Poisson variance the age-weighted count really has (same rate, see _eb_scale).
    k = _eb_scale(years, config)
    y_eb, n_eb = y[pos] * k, n[pos] * k
    rate = eb_rate(y_eb, n_eb, prior_mean=prior_pos, variance=config.eb_variance)
    rate = rate.clip(lower=1e-3 * overall)  # EB rates are >= 0; keep the log finite
    out = pd.DataFrame(index=counts.index)
    out[HISTORY] = 0.0
    out.loc[pos, HISTORY] = np.log(rate / overall)
    if with_sd:
        w = eb_weights(y_eb, n_eb, prior_mean=prior_pos, variance=config.eb_variance)
        m = pd.Series(prior_pos, index=w.index) if prior is None else prior[pos]
        out["history_sd"] = 0.0
        out.loc[pos, "history_sd"] = np.sqrt(w * m / n_eb) / rate
    if lag_matrix is not None:
        ny = lag_matrix @ y.where(pos, 0.0).to_numpy()
        nn = lag_matrix @ n.where(pos, 0.0).to_numpy()
        has = nn > 0
        lag = np.zeros(len(out))
        lag[has] = np.log((ny[has] + 0.5) / nn[has] / overall)
        out[LAG] = lag
    return out


def _lag_matrix(weights: Any, index: pd.Index) -> Any:
    """Binary contiguity matrix in *index* order from a libpysal W."""
    import scipy.sparse as sp

    w_sparse = sp.csr_matrix(weights.sparse)
    w_sparse.data = np.ones_like(w_sparse.data)
    pos = {a: i for i, a in enumerate(weights.id_order)}
    order = np.array([pos[a] for a in index])
    return w_sparse[order][:, order]


# --------------------------------------------------------------------------- areas


@dataclass(frozen=True, eq=False)
class _AreaInputs:
    """Per-area inputs of one fit: households, features (raw and centred) and flags.

    ``usable`` marks the areas the fit can use (households and every feature);
    ``x`` holds the features centred on their household-weighted means over those areas,
    with missing values at the mean (0).
    """

    counts: pd.DataFrame
    years: list[int]
    features: list[str]
    households: pd.Series
    raw: pd.DataFrame
    x: pd.DataFrame
    means: dict[str, float]
    zero: pd.Series
    usable: pd.Series
    flags: pd.Series


def _area_inputs(counts: pd.DataFrame, covariates: pd.DataFrame, years: list[int],
                 feats: list[str]) -> _AreaInputs:
    """Households, centred features and the areas left out of the fit (with their flags)."""
    counts = counts.copy()
    counts.columns = [int(c) for c in counts.columns]
    cov = covariates.loc[counts.index]
    hh = cov[EXPOSURE].astype(float)
    raw = cov[feats].astype(float)
    flags = pd.Series("", index=counts.index, dtype=object)
    zero = hh <= 0
    flags[zero] = "no households: left out of the model, expected 0"
    missing = raw.isna().any(axis=1) & ~zero
    for a in raw.index[missing]:
        cols = ", ".join(c for c in feats if pd.isna(raw.at[a, c]))
        flags[a] = f"missing {cols}: left out of the fit, predicted at the service average"
    usable = ~zero & ~missing
    if usable.sum() < len(feats) + 3:
        raise ModelInputError([Problem(_SOURCE, f"only {int(usable.sum())} area(s) have "
                                       "households and every feature.",
                                       "check the covariate tables.")])
    w_hh = hh.where(usable, 0.0)
    means = {c: float(np.average(raw.loc[usable, c], weights=w_hh[usable])) for c in feats}
    x = (raw - pd.Series(means)).fillna(0.0)
    return _AreaInputs(counts=counts, years=years, features=feats, households=hh, raw=raw,
                       x=x, means=means, zero=zero, usable=usable, flags=flags)


# --------------------------------------------------------------------------- design


def _response_years(years: list[int], target_year: int, config: ModelConfig) -> list[int]:
    """The years whose counts are the fit's response (the latest is ``target_year - 1``)."""
    available = len(years) - (1 if config.history else 0)
    m = available if config.training_years is None else min(config.training_years, available)
    last = target_year - 1
    train_years = list(range(last - m + 1, last + 1))
    missing_years = [y for y in train_years if y not in years]
    if missing_years:
        raise ModelInputError([Problem(_SOURCE, f"the year(s) {missing_years} before "
                                       f"{target_year} are missing from the counts.",
                                       "give every full year up to the year before the target.")])
    return train_years


def _history_spans(years: list[int], train_years: list[int], target_year: int,
                   config: ModelConfig) -> dict[int, int]:
    """How many past years the history term looks at, per response year and for the target.

    ``history_span="equal"``: every response year looks back as far as the earliest one
    can; ``"expanding"``: each looks back over every year before it. Both are capped at
    ``history_window``. The target year looks back over every year before it (capped),
    or, with ``same_window``, as far as the latest response year. 0 without history.
    """
    if not config.history:
        return dict.fromkeys([*train_years, target_year], 0)
    cap = config.history_window
    first = min(years)

    def limit(n: int) -> int:
        return n if cap is None else min(n, cap)

    if config.history_span == "equal":
        spans = dict.fromkeys(train_years, limit(min(train_years) - first))
    else:
        spans = {yr: limit(yr - first) for yr in train_years}
    spans[target_year] = (spans[train_years[-1]] if config.same_window
                          else limit(target_year - first))
    return spans


@dataclass(frozen=True, eq=False)
class Design:
    """The fit's design: the stacked response years and the forecast year's rows.

    ``exog`` (with ``names``), ``endog`` and ``offset`` hold one row per usable area and
    response year (``year_of_row``); ``predict`` is the forecast design for every area
    in the order of ``names``; ``risk_sd`` how uncertain each area's own risk is
    (:func:`_risk_sd`).
    """

    names: list[str]
    exog: np.ndarray
    endog: np.ndarray
    offset: np.ndarray
    year_of_row: np.ndarray
    train_years: list[int]
    spans: dict[int, int]
    predict: pd.DataFrame
    risk_sd: pd.Series
    notes: tuple[str, ...]
    year_columns: tuple[str, ...] = ()
    lag: Any = None


def _risk_sd(areas: _AreaInputs, years: list[int], config: ModelConfig) -> pd.Series:
    """How far each area's true risk may lie from the forecast: sd of its log relative risk.

    A Poisson-gamma model of the area's (age-weighted, effective) fires over *years*
    around a covariate-only Poisson fit: the posterior sd of the log relative risk given
    its past fires (:func:`risk.smoothing.log_relative_risk_sd`), or the prior's spread
    when the model has no history term and so does not learn from them. 0 for areas with
    no households.
    """
    hh, usable = areas.households, areas.usable
    out = pd.Series(0.0, index=areas.counts.index, name="risk_sd")
    if not years or usable.sum() < 2:
        return out
    prior = _covariate_prior(areas.counts, hh, years, areas.x, usable)
    y, n = _weighted_history(areas.counts, hh, years, config.history_decay)
    k = _eb_scale(years, config)
    pos = hh > 0
    out[pos] = log_relative_risk_sd(y[pos] * k, n[pos] * k, prior_mean=prior[pos],
                                    use_counts=config.history).to_numpy()
    return out


def _year_design(areas: _AreaInputs, year: int, span: int, config: ModelConfig, lag: Any,
                 *, with_sd: bool) -> pd.DataFrame:
    """Centred features plus the history terms built from the *span* years before *year*."""
    d = areas.x.copy()
    if config.history:
        past = list(range(year - span, year))
        d = d.join(history_design(areas.counts, areas.households, years=past, config=config,
                                  x=areas.x, fit_rows=areas.usable, lag_matrix=lag,
                                  with_sd=with_sd))
    return d


def _year_columns(tags: np.ndarray, train_years: list[int], target_year: int,
                  config: ModelConfig) -> dict[str, np.ndarray]:
    """Year-effect columns of the stacked rows (none with a single response year).

    ``"separate"``: one indicator per response year but the latest (the forecast is at the
    latest year's level); ``"trend"``: ``year - target_year`` (a log-linear trend; the
    forecast row is 0, so the intercept is the trend's level in the target year).
    """
    if len(train_years) < 2:
        return {}
    if config.year_effect == "trend":
        return {YEAR_TREND: (tags - target_year).astype(float)}
    return {f"{YEAR_PREFIX}{yr}": (tags == yr).astype(float) for yr in train_years[:-1]}


def _design(areas: _AreaInputs, target_year: int, config: ModelConfig,
            weights: Any) -> Design:
    """Stack the response years' rows and build the forecast rows."""
    train_years = _response_years(areas.years, target_year, config)
    spans = _history_spans(areas.years, train_years, target_year, config)
    lag = (_lag_matrix(weights, areas.counts.index)
           if (config.spatial_lag and config.history) else None)
    usable, hh = areas.usable, areas.households
    blocks, ys, tags = [], [], []
    for yr in train_years:
        d = _year_design(areas, yr, spans[yr], config, lag, with_sd=False).loc[usable]
        blocks.append(d)
        ys.append(areas.counts.loc[usable, yr].to_numpy(dtype=float))
        tags.append(np.full(len(d), yr))
    xt = pd.concat(blocks)
    year_of_row = np.concatenate(tags)
    year_cols = _year_columns(year_of_row, train_years, target_year, config)
    for name, column in year_cols.items():
        xt[name] = column
    notes: list[str] = []
    flat = [c for c in xt.columns if np.ptp(xt[c].to_numpy(dtype=float)) == 0]
    if flat:
        xt = xt.drop(columns=flat)
        notes.append(f"Left out of the model because they do not vary between areas: "
                     f"{', '.join(flat)}."
                     + (" (Past fires vary no more than chance would make them, so the "
                        "history term carries no information.)" if HISTORY in flat else ""))
    xt.insert(0, INTERCEPT, 1.0)
    names = list(xt.columns)

    xp = _year_design(areas, target_year, spans[target_year], config, lag, with_sd=False)
    past = list(range(target_year - spans[target_year], target_year)) if config.history \
        else list(areas.years)
    risk_sd = _risk_sd(areas, past, config)
    kept_years = tuple(c for c in year_cols if c in names)
    for name in kept_years:
        xp[name] = 0.0
    xp.insert(0, INTERCEPT, 1.0)
    return Design(names=names, exog=xt.to_numpy(dtype=float), endog=np.concatenate(ys),
                  offset=np.tile(np.log(hh[usable].to_numpy()), len(train_years)),
                  year_of_row=year_of_row, train_years=train_years, spans=spans,
                  predict=xp[names], risk_sd=risk_sd, notes=tuple(notes),
                  year_columns=kept_years, lag=lag)


# --------------------------------------------------------------------------- family


def _fit_quiet(model: Any, **kwargs: Any) -> tuple[Any, list[str]]:
    """Fit a statsmodels model, collecting warnings instead of raising them."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = model.fit(disp=0, **kwargs)
    return res, [str(w.message) for w in caught]


_LR_TEST = ("likelihood-ratio test of alpha = 0 (NB2 against Poisson, boundary-corrected: "
            "p = 0.5 * P(chi2_1 > LR))")


@dataclass(frozen=True, eq=False)
class _FamilyChoice:
    """The statsmodels results kept, the family they belong to, and why."""

    results: Any
    family: str
    fell_back: bool
    reason: str
    lr_stat: float | None
    lr_p: float | None
    test: str


def _fit_poisson(design: Design) -> tuple[Any, list[str]]:
    try:
        return _fit_quiet(Poisson(design.endog, design.exog, offset=design.offset),
                          method="newton", maxiter=100)
    except np.linalg.LinAlgError as exc:
        raise ModelInputError([Problem(
            _SOURCE, f"the model cannot be fitted: the covariates are collinear ({exc}).",
            "remove features that are copies or sums of others.")]) from exc


def _fit_negative_binomial(design: Design, start: np.ndarray) -> tuple[Any, list[str]]:
    """NB2 by BFGS from the Poisson estimates, polished by Newton when alpha is interior.

    BFGS works on log(alpha), so it cannot step to a negative alpha when the data are
    (nearly) Poisson; Newton then polishes an interior optimum.
    """
    model = NegativeBinomial(design.endog, design.exog, loglike_method="nb2",
                             offset=design.offset)
    nb, nb_warn = _fit_quiet(model, start_params=np.append(start, 0.1), method="bfgs",
                             maxiter=1000)
    if float(nb.params[-1]) > 1e-3:
        polished, p_warn = _fit_quiet(model, start_params=np.asarray(nb.params),
                                      method="newton", maxiter=100)
        if polished.mle_retvals.get("converged", False) and np.all(np.isfinite(polished.bse)):
            nb, nb_warn = polished, p_warn
    return nb, nb_warn


def _choose_family(design: Design, config: ModelConfig) -> _FamilyChoice:
    """Fit Poisson and (unless asked for Poisson) NB2; keep NB2 when the LR test says so."""
    pois, pois_warn = _fit_poisson(design)
    family = "poisson" if config.family == "poisson" else "negative_binomial"
    fell_back, reason = False, ""
    nb = None
    lr_stat: float | None = None
    lr_p: float | None = None
    if config.family != "poisson":
        nb, nb_warn = _fit_negative_binomial(design, np.asarray(pois.params))
        converged = bool(nb.mle_retvals.get("converged", False))
        alpha_hat = float(nb.params[-1])
        if np.isfinite(nb.llf):
            lr_stat = max(2.0 * (float(nb.llf) - float(pois.llf)), 0.0)
            lr_p = float(0.5 * stats.chi2.sf(lr_stat, 1)) if lr_stat > 0 else 1.0
        usable_nb = converged and np.all(np.isfinite(nb.bse)) and alpha_hat > 0
        if config.family == "auto" and lr_p is not None and \
                not lr_p < config.overdispersion_level:
            fell_back = True
            reason = (f"the counts are not overdispersed (LR test of alpha = 0: LR = "
                      f"{lr_stat or 0.0:.2f}, p = {lr_p:.3f} >= {config.overdispersion_level})"
                      ", so the simpler Poisson model was used.")
        elif not usable_nb:
            fell_back = True
            reason = ("the negative binomial fit did not converge"
                      + (f" ({nb_warn[0]})" if nb_warn else "")
                      + ", so a Poisson model was used.")
        if fell_back:
            family = "poisson"
    if family == "poisson" and not pois.mle_retvals.get("converged", True):
        raise ModelInputError([Problem(_SOURCE, "the Poisson model did not converge"
                                       + (f" ({pois_warn[0]})" if pois_warn else "") + ".",
                                       "check for features that are constant or collinear.")])
    results = pois if family == "poisson" else nb
    assert results is not None
    return _FamilyChoice(results=results, family=family, fell_back=fell_back, reason=reason,
                         lr_stat=lr_stat, lr_p=lr_p,
                         test=_LR_TEST if config.family != "poisson" else "not tested")


# --------------------------------------------------------------------------- results


def _moran(resid: np.ndarray, ids: pd.Index, weights: Any, permutations: int) -> MoranResult:
    import esda
    from libpysal.weights import w_subset

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sub = w_subset(weights, list(ids))
        sub.transform = "r"
        mi = esda.Moran(resid, sub, permutations=permutations)
    if permutations > 0:
        return MoranResult(float(mi.I), float(mi.EI), float(mi.z_sim), float(mi.p_sim),
                           f"permutation ({permutations} permutations)")
    return MoranResult(float(mi.I), float(mi.EI), float(mi.z_norm), float(mi.p_norm),
                       "normal approximation")


def _in_sample_checks(design: Design, beta: np.ndarray, alpha: float | None, areas: _AreaInputs,
                      weights: Any, config: ModelConfig) -> tuple[float, MoranResult | None]:
    """Deviance of the fit, and Moran's I of the latest response year's Pearson residuals."""
    y = design.endog
    mu = np.exp(design.exog @ beta + design.offset)
    fam = (sm.families.Poisson() if alpha is None
           else sm.families.NegativeBinomial(alpha=alpha))
    deviance = float(fam.deviance(y, mu))
    if weights is None:
        return deviance, None
    var = mu if alpha is None else mu + alpha * mu**2
    pearson = (y - mu) / np.sqrt(var)
    last = design.year_of_row == design.train_years[-1]
    return deviance, _moran(pearson[last], areas.counts.index[areas.usable], weights,
                            config.moran_permutations)


def _forecast(design: Design, beta: np.ndarray, areas: _AreaInputs) -> pd.Series:
    """Expected fires in the target year (0 for areas with no households)."""
    hh, zero = areas.households, areas.zero
    log_mu = (design.predict.to_numpy(dtype=float) @ beta
              + np.log(hh.where(~zero, 1.0).to_numpy()))
    return pd.Series(np.where(zero, 0.0, np.exp(log_mu)), index=areas.counts.index,
                     name=EXPECTED)


def _recent(areas: _AreaInputs, target_year: int,
            config: ModelConfig) -> tuple[list[int], pd.Series, pd.Series]:
    """The 'recent' years, each area's fires in them, and the number typical for its homes."""
    counts, hh, zero = areas.counts, areas.households, areas.zero
    recent = [y_ for y_ in areas.years if y_ >= target_year - config.history_years]
    rec_obs = counts[recent].sum(axis=1).astype(int).rename("recent_observed")
    rate_recent = float(rec_obs[~zero].sum() / (hh[~zero].sum() * len(recent)))
    rec_exp = (hh * rate_recent * len(recent)).rename("recent_expected")
    return recent, rec_obs, rec_exp


@dataclass(frozen=True, eq=False)
class CountModel:
    """The count model for one forecast, before fitting (statsmodels' "model" half).

    Build it with :meth:`from_counts` (every input check, the areas' features and the
    design), then :meth:`fit` it to get a :class:`FitResult` (the "results" half).
    """

    target_year: int
    config: ModelConfig
    areas: _AreaInputs = field(repr=False)
    design: Design = field(repr=False)
    weights: Any = field(default=None, repr=False)

    @classmethod
    def from_counts(cls, counts: pd.DataFrame, covariates: pd.DataFrame, *, target_year: int,
                    config: ModelConfig, weights: Any = None) -> CountModel:
        """Check the inputs and build the design; arguments as for :func:`fit_predict`."""
        years, feats = _check_inputs(counts, covariates, target_year, config, weights)
        areas = _area_inputs(counts, covariates, years, feats)
        return cls(target_year=target_year, config=config, areas=areas,
                   design=_design(areas, target_year, config, weights), weights=weights)

    def fit(self) -> FitResult:
        """Choose the family, fit it and forecast the target year."""
        config, design, areas = self.config, self.design, self.areas
        choice = _choose_family(design, config)
        res = choice.results
        names = design.names
        params = np.asarray(res.params, dtype=float)
        bse = np.asarray(res.bse, dtype=float)
        beta = params[: len(names)]
        nb = choice.family == "negative_binomial"
        alpha = float(params[-1]) if nb else None
        z = stats.norm.ppf(0.975)
        coefs = tuple(Coefficient(n_, float(b), float(s), float(b - z * s), float(b + z * s))
                      for n_, b, s in zip(names, beta, bse[: len(names)], strict=True))
        deviance, moran = _in_sample_checks(design, beta, alpha, areas, self.weights, config)
        recent, rec_obs, rec_exp = _recent(areas, self.target_year, config)
        means_out = dict(areas.means)
        if config.history:
            means_out[HISTORY] = 0.0
            if design.lag is not None:
                means_out[LAG] = 0.0
        param_names = [*names, "alpha"] if nb else names
        values = design.predict.drop(columns=[INTERCEPT, *design.year_columns])
        for c in areas.features:
            values[c] = areas.raw[c].fillna(areas.means[c])
        cov_p = np.asarray(res.cov_params(), dtype=float)
        pred_span = design.spans[self.target_year]
        return FitResult(
            target_year=self.target_year, config=config, family=choice.family,
            fell_back_to_poisson=choice.fell_back, fallback_reason=choice.reason,
            coefficients=coefs, alpha=alpha, alpha_std_err=float(bse[-1]) if nb else None,
            overdispersion_test=choice.test, overdispersion_stat=choice.lr_stat,
            overdispersion_p=choice.lr_p, aic=float(res.aic), deviance=deviance,
            llf=float(res.llf), n=len(design.endog), training_years=tuple(design.train_years),
            history_window=tuple(range(self.target_year - pred_span, self.target_year)),
            recent_years=tuple(recent), notes=design.notes, residual_moran=moran,
            feature_means=means_out, expected=_forecast(design, beta, areas),
            flags=areas.flags, households=areas.households, design=design.predict,
            feature_values=values, params=pd.Series(params, index=param_names),
            cov_params=pd.DataFrame(cov_p, index=param_names, columns=param_names),
            recent_observed=rec_obs, recent_expected=rec_exp, risk_sd=design.risk_sd,
            results=res)


def fit_predict(counts: pd.DataFrame, covariates: pd.DataFrame, *, target_year: int,
                config: ModelConfig, weights: Any = None) -> FitResult:
    """Fit the count model on years before *target_year* and forecast that year.

    ``CountModel.from_counts(...).fit()``: check the inputs, build the design, choose the
    family, fit and forecast.

    Parameters
    ----------
    counts : DataFrame
        Indexed by ``area_id``, one int column per FULL year, all before *target_year*.
    covariates : DataFrame
        From :func:`risk.features.build_features`: ``households`` and the features.
    target_year : int
        The year to forecast.
    config : ModelConfig
        Model options.
    weights : libpysal.weights.W, optional
        Spatial weights keyed by ``area_id``: used for the neighbours term and the
        residual Moran's I.

    Returns
    -------
    FitResult

    Raises
    ------
    ModelInputError
        If the counts include ``target_year`` or later (leakage), or inputs are unusable.
    """
    return CountModel.from_counts(counts, covariates, target_year=target_year, config=config,
                                  weights=weights).fit()
