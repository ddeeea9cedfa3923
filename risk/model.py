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
``counts`` may hold only full years before ``target_year`` = ``t`` (checked). The model
is fitted with the response ``counts[t-1]`` and the history term built from the years
before ``t-1`` (at most ``history_window``; by default every year the data have); it then
predicts year ``t`` with the history term rebuilt from the years before ``t``, which is
one year more when the window is limited by the data (``same_window=False``, default;
``True`` keeps the prediction window as long as the training one). With
``training_years = m > 1`` the response years ``t-m .. t-1`` are pooled (one row per area
and year, with a year effect per year; the prediction uses the latest year's level).

Defaults were chosen on the London sample's rolling-origin backtest (origins
2015..2023, capture of next year's fires by the areas holding 10% of households): all
past years with a decay of 0.9 did better than a 5-year equal-weight window and shrinking
toward a covariate prior, and as well as (within 0.1 percentage point) pooling training
years, IMD domains or the neighbours' term, which are therefore left off.

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
from firerisk.risk.smoothing import eb_rate, eb_weights

__all__ = [
    "HISTORY",
    "INTERCEPT",
    "LAG",
    "Coefficient",
    "FitResult",
    "ModelConfig",
    "MoranResult",
    "fit_predict",
    "history_design",
]

HISTORY = "history"
LAG = "neighbours_history"
INTERCEPT = "const"
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
    spatial_lag : bool
        Include the neighbours' pooled history (needs ``weights``).
    training_years : int
        Number of response years pooled in the fit (1 = the year before the target).
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
    history_decay: float = 0.9
    history_prior: Literal["global", "covariates"] = "global"
    eb_variance: Literal["constant", "proportional"] = "constant"
    spatial_lag: bool = False
    training_years: int = 1
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
        if self.training_years < 1:
            problems.append(f"training_years must be at least 1, got {self.training_years}")
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
    full years and the number expected at the service-wide rate. ``history_sd`` is the
    approximate standard deviation of each area's history term (how noisy its past rate
    is), used by :mod:`risk.uncertainty`.
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
    history_sd: pd.Series = field(compare=False, repr=False)
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
    rate = eb_rate(y[pos], n[pos], prior_mean=prior_pos, variance=config.eb_variance)
    rate = rate.clip(lower=1e-3 * overall)  # EB rates are >= 0; keep the log finite
    out = pd.DataFrame(index=counts.index)
    out[HISTORY] = 0.0
    out.loc[pos, HISTORY] = np.log(rate / overall)
    if with_sd:
        w = eb_weights(y[pos], n[pos], prior_mean=prior_pos, variance=config.eb_variance)
        m = pd.Series(prior_pos, index=w.index) if prior is None else prior[pos]
        out["history_sd"] = 0.0
        out.loc[pos, "history_sd"] = np.sqrt(w * m / n[pos]) / rate
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


# --------------------------------------------------------------------------- fitting


def _fit_quiet(model: Any, **kwargs: Any) -> tuple[Any, list[str]]:
    """Fit a statsmodels model, collecting warnings instead of raising them."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = model.fit(disp=0, **kwargs)
    return res, [str(w.message) for w in caught]


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


def fit_predict(counts: pd.DataFrame, covariates: pd.DataFrame, *, target_year: int,
                config: ModelConfig, weights: Any = None) -> FitResult:
    """Fit the count model on years before *target_year* and forecast that year.

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
    years, feats = _check_inputs(counts, covariates, target_year, config, weights)
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

    # Response years, the training history window and the prediction window.
    last_train = target_year - 1
    m = min(config.training_years, len(years) - (1 if config.history else 0))
    train_years = list(range(last_train - m + 1, last_train + 1))
    missing_years = [y for y in train_years if y not in years]
    if missing_years:
        raise ModelInputError([Problem(_SOURCE, f"the year(s) {missing_years} before "
                                       f"{target_year} are missing from the counts.",
                                       "give every full year up to the year before the target.")])
    window = 0
    if config.history:
        window = min(train_years) - min(years)
        if config.history_window is not None:
            window = min(window, config.history_window)
    lag = _lag_matrix(weights, counts.index) if (config.spatial_lag and config.history) else None

    pred_window = window
    if config.history and not config.same_window:
        pred_window = target_year - min(years)
        if config.history_window is not None:
            pred_window = min(pred_window, config.history_window)

    def design(year: int) -> pd.DataFrame:
        d = x.copy()
        if config.history:
            span = pred_window if year == target_year else window
            past = list(range(year - span, year))
            d = d.join(history_design(counts, hh, years=past, config=config, x=x,
                                      fit_rows=usable, lag_matrix=lag,
                                      with_sd=year == target_year))
        return d

    blocks, ys, offs, year_tag = [], [], [], []
    for yr in train_years:
        d = design(yr).loc[usable]
        blocks.append(d)
        ys.append(counts.loc[usable, yr].to_numpy(dtype=float))
        offs.append(np.log(hh[usable].to_numpy()))
        year_tag.append(np.full(len(d), yr))
    xt = pd.concat(blocks)
    tags = np.concatenate(year_tag)
    for yr in train_years[:-1]:
        xt[f"year_{yr}"] = (tags == yr).astype(float)
    notes: list[str] = []
    flat = [c for c in xt.columns if np.ptp(xt[c].to_numpy(dtype=float)) == 0]
    if flat:
        xt = xt.drop(columns=flat)
        notes.append(f"Left out of the model because they do not vary between areas: "
                     f"{', '.join(flat)}."
                     + (" (Past fires vary no more than chance would make them, so the "
                        "history term carries no information.)" if HISTORY in flat else ""))
    xt.insert(0, INTERCEPT, 1.0)
    y = np.concatenate(ys)
    off = np.concatenate(offs)
    names = list(xt.columns)
    exog = xt.to_numpy(dtype=float)

    try:
        pois, pois_warn = _fit_quiet(Poisson(y, exog, offset=off), method="newton",
                                     maxiter=100)
    except np.linalg.LinAlgError as exc:
        raise ModelInputError([Problem(
            _SOURCE, f"the model cannot be fitted: the covariates are collinear ({exc}).",
            "remove features that are copies or sums of others.")]) from exc
    family = "poisson" if config.family == "poisson" else "negative_binomial"
    fell_back, reason = False, ""
    nb = None
    lr_stat: float | None = None
    lr_p: float | None = None
    test_name = ("likelihood-ratio test of alpha = 0 (NB2 against Poisson, boundary-"
                 "corrected: p = 0.5 * P(chi2_1 > LR))")
    if config.family != "poisson":
        nb_model = NegativeBinomial(y, exog, loglike_method="nb2", offset=off)
        # BFGS works on log(alpha), so it cannot step to a negative alpha when the data are
        # (nearly) Poisson; Newton then polishes an interior optimum.
        start = np.append(pois.params, 0.1)
        nb, nb_warn = _fit_quiet(nb_model, start_params=start, method="bfgs", maxiter=1000)
        if float(nb.params[-1]) > 1e-3:
            polished, p_warn = _fit_quiet(nb_model, start_params=np.asarray(nb.params),
                                          method="newton", maxiter=100)
            if polished.mle_retvals.get("converged", False) and \
                    np.all(np.isfinite(polished.bse)):
                nb, nb_warn = polished, p_warn
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

    res = pois if family == "poisson" else nb
    assert res is not None
    params = np.asarray(res.params, dtype=float)
    cov_p = np.asarray(res.cov_params(), dtype=float)
    bse = np.asarray(res.bse, dtype=float)
    beta = params[: len(names)]
    alpha = float(params[-1]) if family == "negative_binomial" else None
    alpha_se = float(bse[-1]) if family == "negative_binomial" else None
    z = stats.norm.ppf(0.975)
    coefs = tuple(Coefficient(n_, float(b), float(s), float(b - z * s), float(b + z * s))
                  for n_, b, s in zip(names, beta, bse[: len(names)], strict=True))

    mu = np.exp(exog @ beta + off)
    fam = (sm.families.Poisson() if alpha is None
           else sm.families.NegativeBinomial(alpha=alpha))
    deviance = float(fam.deviance(y, mu))
    var = mu if alpha is None else mu + alpha * mu**2
    pearson = (y - mu) / np.sqrt(var)

    moran = None
    if weights is not None:
        last = tags == train_years[-1]
        moran = _moran(pearson[last], counts.index[usable], weights, config.moran_permutations)

    # Prediction for target_year.
    xp = design(target_year)
    history_sd = (xp.pop("history_sd") if "history_sd" in xp
                  else pd.Series(0.0, index=xp.index)).rename("history_sd")
    for yr in train_years[:-1]:
        xp[f"year_{yr}"] = 0.0
    xp.insert(0, INTERCEPT, 1.0)
    xp = xp[names]
    log_mu = xp.to_numpy(dtype=float) @ beta + np.log(hh.where(~zero, 1.0).to_numpy())
    expected = pd.Series(np.where(zero, 0.0, np.exp(log_mu)), index=counts.index,
                         name=EXPECTED)

    recent = [y_ for y_ in years if y_ >= target_year - config.history_years]
    rec_obs = counts[recent].sum(axis=1).astype(int).rename("recent_observed")
    rate_recent = float(rec_obs[~zero].sum() / (hh[~zero].sum() * len(recent)))
    rec_exp = (hh * rate_recent * len(recent)).rename("recent_expected")

    means_out = dict(means)
    if config.history:
        means_out[HISTORY] = 0.0
        if lag is not None:
            means_out[LAG] = 0.0
    param_names = [*names, "alpha"] if alpha is not None else names
    values = xp.drop(columns=[c for c in xp.columns if c == INTERCEPT
                              or c.startswith("year_")])
    for c in feats:
        values[c] = raw[c].fillna(means[c])

    return FitResult(
        target_year=target_year,
        config=config,
        family=family,
        fell_back_to_poisson=fell_back,
        fallback_reason=reason,
        coefficients=coefs,
        alpha=alpha,
        alpha_std_err=alpha_se,
        overdispersion_test=test_name if config.family != "poisson" else "not tested",
        overdispersion_stat=lr_stat,
        overdispersion_p=lr_p,
        aic=float(res.aic),
        deviance=deviance,
        llf=float(res.llf),
        n=len(y),
        training_years=tuple(train_years),
        history_window=tuple(range(target_year - pred_window, target_year)),
        recent_years=tuple(recent),
        notes=tuple(notes),
        residual_moran=moran,
        feature_means=means_out,
        expected=expected,
        flags=flags,
        households=hh,
        design=xp,
        feature_values=values,
        params=pd.Series(params, index=param_names),
        cov_params=pd.DataFrame(cov_p, index=param_names, columns=param_names),
        recent_observed=rec_obs,
        recent_expected=rec_exp,
        history_sd=history_sd,
        results=res,
    )
