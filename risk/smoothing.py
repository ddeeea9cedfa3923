"""Rate smoothing: empirical-Bayes rates and standardised incidence ratios.

Small areas with few households have unstable raw rates (one fire in 300 homes looks
alarming). Marshall's (1991) empirical-Bayes estimator pulls each raw rate
``r_i = y_i / n_i`` toward a prior mean ``m`` by a weight that grows with the area's
exposure. The prior variance ``A`` is estimated by the method of moments::

    A   = sum(n_i (r_i - m_i)^2) / sum(n_i) - sum(m_i) / sum(n_i)     (0 if negative)
    w_i = A / (A + m_i / n_i)
    EB_i = w_i r_i + (1 - w_i) m_i

With the global prior ``m_i = m = sum(y) / sum(n)`` the second term is ``m / mean(n)``,
which is Marshall's global estimator (as in ``esda.smoothing.Empirical_Bayes``).
With a per-area prior mean (for example a covariate model's expected rate) the same
moments give ``A`` around that prior instead. ``variance="proportional"`` assumes a
prior variance ``c m_i^2`` (a gamma prior with constant relative spread), which gives
the Poisson-gamma credibility estimate ``m_i (y_i + 1/c) / (n_i m_i + 1/c)``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from firerisk.columns import EXPECTED

__all__ = ["eb_rate", "eb_weights", "log_relative_risk_sd", "relative_prior_variance", "sir"]


def _as_series(values: pd.Series | np.ndarray | list[float], index: pd.Index | None,
               name: str) -> pd.Series:
    """Floats as a Series; a Series is aligned to *index* by label when both are given."""
    if isinstance(values, pd.Series):
        out = values.astype(float)
        if index is not None and not out.index.equals(index):
            if len(out) != len(index) or not out.index.sort_values().equals(
                    index.sort_values()):
                raise ValueError(f"{name} must have the same areas (index) as the counts.")
            out = out.reindex(index)
        return out
    return pd.Series(np.asarray(values, dtype=float), index=index, name=name)


def _inputs(counts: pd.Series | np.ndarray, exposure: pd.Series | np.ndarray,
            prior_mean: pd.Series | np.ndarray | float | None,
            ) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Counts, exposure and prior mean as aligned float Series, checked."""
    y = _as_series(counts, None, "count")
    n = _as_series(exposure, y.index, "exposure")
    if (n < 0).any() or (y < 0).any() or n.isna().any() or y.isna().any():
        raise ValueError("counts and exposure must be numbers of 0 or more.")
    pos = n > 0
    if prior_mean is None:
        m = pd.Series(y[pos].sum() / n[pos].sum(), index=y.index)
    elif np.isscalar(prior_mean):
        m = pd.Series(float(prior_mean), index=y.index)  # type: ignore[arg-type]
    else:
        m = _as_series(prior_mean, y.index, "prior_mean")
    if (m[pos] <= 0).any() or m[pos].isna().any():
        raise ValueError("the prior mean rate must be positive wherever exposure is positive.")
    return y, n, m


def _relative_variance(n: pd.Series, rate: pd.Series, m: pd.Series) -> float:
    """Method-of-moments ``c`` of a prior with mean ``m_i`` and variance ``c m_i**2``."""
    spread = float((n * (rate - m) ** 2).sum())
    return max((spread - float(m.sum())) / float((n * m**2).sum()), 0.0)


def relative_prior_variance(counts: pd.Series | np.ndarray, exposure: pd.Series | np.ndarray,
                            *, prior_mean: pd.Series | np.ndarray | float | None = None
                            ) -> float:
    """``c``: how much areas' true rates vary around the prior mean, relative to it.

    The gamma prior of ``variance="proportional"`` (true rate ``m_i * theta_i`` with
    ``theta_i ~ Gamma(1/c, 1/c)``, mean 1, variance ``c``), estimated by the method of
    moments: ``c = (sum n_i (r_i - m_i)**2 - sum m_i) / sum n_i m_i**2``, 0 if negative
    (Poisson noise alone explains the spread). Areas with no exposure are left out.
    """
    y, n, m = _inputs(counts, exposure, prior_mean)
    pos = n > 0
    rate = (y / n.where(pos)).fillna(0.0)
    return _relative_variance(n[pos], rate[pos], m[pos])


def log_relative_risk_sd(counts: pd.Series | np.ndarray, exposure: pd.Series | np.ndarray, *,
                         prior_mean: pd.Series | np.ndarray | float | None = None,
                         use_counts: bool = True) -> pd.Series:
    """Posterior standard deviation of ``log(theta_i)``, each area's relative risk.

    Under the Poisson-gamma model above, the area's count ``y_i ~ Poisson(n_i m_i theta_i)``
    updates the ``Gamma(1/c, 1/c)`` prior to ``Gamma(1/c + y_i, 1/c + n_i m_i)``, and the
    variance of the log of a gamma variable of shape ``a`` is the trigamma function
    ``psi'(a)``. With ``use_counts=False`` the prior's own spread ``psi'(1/c)`` is
    returned (what is known of an area from its covariates alone). Zero everywhere when
    ``c = 0``; zero-exposure areas get the prior's spread.
    """
    from scipy.special import polygamma

    y, n, m = _inputs(counts, exposure, prior_mean)
    c = relative_prior_variance(y, n, prior_mean=m)
    out = pd.Series(0.0, index=y.index, name="log_relative_risk_sd")
    if c <= 0:
        return out
    shape = 1.0 / c + (y.where(n > 0, 0.0) if use_counts else 0.0)
    out[:] = np.sqrt(polygamma(1, np.asarray(shape, dtype=float)))
    return out


def eb_weights(counts: pd.Series | np.ndarray, exposure: pd.Series | np.ndarray, *,
               prior_mean: pd.Series | np.ndarray | float | None = None,
               variance: Literal["constant", "proportional"] = "constant") -> pd.Series:
    """Shrinkage weights ``w_i`` (1 = trust the area's own rate, 0 = use the prior).

    Parameters are as for :func:`eb_rate`. Areas with zero exposure get weight 0.
    """
    y, n, m = _inputs(counts, exposure, prior_mean)
    pos = n > 0
    rate = (y / n.where(pos)).fillna(0.0)
    npos, rpos, mpos = n[pos], rate[pos], m[pos]
    spread = float((npos * (rpos - mpos) ** 2).sum())
    w = pd.Series(0.0, index=y.index)
    if variance == "constant":
        a = max((spread - float(mpos.sum())) / float(npos.sum()), 0.0)
        w[pos] = a / (a + mpos / npos) if a > 0 else 0.0
    elif variance == "proportional":
        c = _relative_variance(npos, rpos, mpos)
        expected = npos * mpos
        w[pos] = c * expected / (c * expected + 1.0)
    else:
        raise ValueError(f"variance must be 'constant' or 'proportional', got {variance!r}.")
    return w


def eb_rate(counts: pd.Series | np.ndarray, exposure: pd.Series | np.ndarray, *,
            prior_mean: pd.Series | np.ndarray | float | None = None,
            variance: Literal["constant", "proportional"] = "constant") -> pd.Series:
    """Empirical-Bayes smoothed rate per unit of exposure (Marshall, method of moments).

    Parameters
    ----------
    counts : Series or array
        Events per area (for example fires over several years).
    exposure : Series or array
        Exposure per area in the same units as the rate (for example household-years).
    prior_mean : Series, array or float, optional
        Per-area prior rate to shrink toward (for example a covariate model's expected
        rate). Default: the global rate ``sum(counts) / sum(exposure)``.
    variance : {"constant", "proportional"}
        Prior variance ``A`` the same for every area (Marshall), or ``c * m_i**2``.

    Returns
    -------
    Series
        Smoothed rates, indexed like *counts*. Zero-exposure areas get the prior mean.
    """
    y, n, m = _inputs(counts, exposure, prior_mean)
    w = eb_weights(y, n, prior_mean=m, variance=variance)
    rate = (y / n.where(n > 0)).fillna(0.0)
    out = w * rate + (1.0 - w) * m
    out.name = "eb_rate"
    return out


def sir(observed: pd.Series | np.ndarray, expected: pd.Series | np.ndarray) -> pd.Series:
    """Standardised incidence ratio ``observed / expected`` (NaN where expected is 0).

    Parameters
    ----------
    observed : Series or array
        Observed events per area.
    expected : Series or array
        Expected events per area (for example households times the service-wide rate).

    Returns
    -------
    Series
        1 means as expected; 2 means twice as many as expected.
    """
    o = _as_series(observed, None, "observed")
    e = _as_series(expected, o.index, EXPECTED)
    out = o / e.where(e > 0)
    out.name = "sir"
    return out
