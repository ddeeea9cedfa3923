"""How sure is each area's forecast? Seeded simulation from the fitted count model.

Each simulation draws the model parameters from their asymptotic normal distribution
(estimate, covariance; for NB2 the dispersion ``alpha`` too, kept positive), computes
every area's expected count, then draws next year's fires: Poisson, or for NB2 a gamma
mixture of Poissons (``lambda ~ Gamma(1/alpha, alpha * mu)``, ``y ~ Poisson(lambda)``).
From the simulated years:

* ``pi_low``, ``pi_high``: the central 90% prediction interval of next year's fires
  (5% and 95% points of the simulated counts, each the smallest count whose simulated
  share at or below it reaches the level);
* ``p_top10``: the share of simulated years in which the area is among the top areas
  holding 10% of households, ranking areas by simulated fires (or fires per household,
  ``rank_by="rate"``) with ties broken at random, and taking areas in rank order until
  their cumulative households reach 10% of the total (the area that crosses the line
  is in);
* ``rate_low``, ``rate_high``: a 90% interval of the area's underlying risk (expected
  fires per 1,000 households), from the parameter draws plus the noise in the area's own
  past rate (the history term drawn from its empirical-Bayes posterior,
  ``FitResult.history_sd``);
* ``uncertain_band``: an interval's ends fall more than two bands apart
  (``band(high) - band(low) >= 2``) under the given band breaks. With
  ``band_interval="prediction"`` the interval is the prediction interval of next year's
  fires, as fires per 1,000 households; with ``band_interval="rate"`` (default) it is
  the risk interval above. On London LSOAs (about one fire a year each) the prediction
  interval runs from 0 to 3 fires almost everywhere, which spans every band, so the
  prediction-based flag is true for every area and tells nothing; the risk interval
  flags the areas whose band is genuinely in doubt.

Everything is vectorised over areas and done in blocks of simulations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from risk.bands import BandResult
from risk.model import FitResult

__all__ = ["UncertaintyResult", "simulate", "top_share_mask"]


@dataclass(frozen=True)
class UncertaintyResult:
    """Per-area prediction intervals, chance of being in the top 10%, and band flags."""

    n_sim: int
    seed: int
    level: float
    share: float
    rank_by: str
    band_interval: str
    banded: bool
    pi_low: pd.Series = field(compare=False, repr=False)
    pi_high: pd.Series = field(compare=False, repr=False)
    p_top10: pd.Series = field(compare=False, repr=False)
    uncertain_band: pd.Series = field(compare=False, repr=False)
    rate_low: pd.Series = field(compare=False, repr=False)
    rate_high: pd.Series = field(compare=False, repr=False)

    def frame(self) -> pd.DataFrame:
        """The per-area columns as one DataFrame."""
        return pd.DataFrame({"pi_low": self.pi_low, "pi_high": self.pi_high,
                             "p_top10": self.p_top10, "uncertain_band": self.uncertain_band,
                             "rate_low": self.rate_low, "rate_high": self.rate_high})


def top_share_mask(scores: np.ndarray, households: np.ndarray, *, share: float = 0.10,
                   rng: np.random.Generator | None = None) -> np.ndarray:
    """Which areas are in the top group holding *share* of households, per column.

    Parameters
    ----------
    scores : array (n_areas, n_columns)
        Higher = higher priority; each column is ranked separately.
    households : array (n_areas,)
        Households per area.
    share : float
        Share of all households the top group reaches.
    rng : Generator, optional
        Breaks ties at random; without it, ties keep area order.

    Returns
    -------
    bool array like *scores*
    """
    s = np.asarray(scores, dtype=float)
    if s.ndim == 1:
        s = s[:, None]
    hh = np.asarray(households, dtype=float)
    jitter = rng.random(s.shape) if rng is not None else np.zeros(s.shape)
    # lexsort-free tie break: sort by score, then by the jitter, both descending.
    order = np.lexsort((-jitter, -s), axis=0)
    cum_before = np.cumsum(hh[order], axis=0) - hh[order]
    in_top_sorted = cum_before < share * hh.sum()
    out = np.zeros(s.shape, dtype=bool)
    np.put_along_axis(out, order, in_top_sorted, axis=0)
    return out


def simulate(fit: FitResult, *, n_sim: int = 2000, seed: int = 12345, level: float = 0.90,
             share: float = 0.10, bands: BandResult | None = None,
             rank_by: Literal["count", "rate"] = "count",
             band_interval: Literal["rate", "prediction"] = "rate",
             block: int = 250) -> UncertaintyResult:
    """Simulate next year's fires from the fitted model.

    Parameters
    ----------
    fit : FitResult
        From :func:`risk.model.fit_predict`.
    n_sim : int
        Number of simulated years.
    seed : int
        Seed of the random generator: the same seed gives the same results.
    level : float
        Coverage of the prediction interval.
    share : float
        Household share of the top group for ``p_top10``.
    bands : BandResult, optional
        Band breaks (of fires per 1,000 households) for ``uncertain_band``; without them
        the flag is False everywhere and ``banded`` is False.
    rank_by : {"count", "rate"}
        Rank simulated areas by fires, or by fires per household.
    band_interval : {"rate", "prediction"}
        Which interval ``uncertain_band`` maps to the bands (see the module notes).
    block : int
        Simulations per block (memory use is about ``areas * block * 40`` bytes).

    Returns
    -------
    UncertaintyResult
    """
    if n_sim < 10:
        raise ValueError("n_sim must be at least 10.")
    if not 0 < level < 1 or not 0 < share < 1:
        raise ValueError("level and share must be between 0 and 1.")
    if rank_by not in ("count", "rate") or band_interval not in ("rate", "prediction"):
        raise ValueError("rank_by must be count or rate; band_interval rate or prediction.")
    rng = np.random.default_rng(seed)
    idx = fit.expected.index
    hh = fit.households.reindex(idx).to_numpy(dtype=float)
    live = hh > 0
    x = fit.design.reindex(idx).to_numpy(dtype=float)[live]
    off = np.log(hh[live])
    p = x.shape[1]
    mean = fit.params.to_numpy(dtype=float)
    cov = fit.cov_params.to_numpy(dtype=float)
    nb = fit.family == "negative_binomial"
    names = list(fit.design.columns)
    h_col = names.index("history") if "history" in names else None
    h_sd = fit.history_sd.reindex(idx).fillna(0.0).to_numpy(dtype=float)[live]

    draws = rng.multivariate_normal(mean, cov, size=n_sim, method="cholesky")
    sims = np.zeros((int(live.sum()), n_sim), dtype=np.int64)
    risk = np.zeros((int(live.sum()), n_sim))
    for start in range(0, n_sim, block):
        d = draws[start:start + block]
        base = x @ d[:, :p].T
        eta = base
        if h_col is not None:
            z = rng.standard_normal(base.shape)
            eta = base + d[:, h_col][None, :] * h_sd[:, None] * z
        risk[:, start:start + block] = np.exp(eta) * 1000.0
        mu = np.exp(base + off[:, None])
        if nb:
            alpha = np.clip(d[:, p], 1e-8, None)
            lam = rng.gamma(shape=1.0 / alpha, scale=alpha * mu)
            sims[:, start:start + block] = rng.poisson(lam)
        else:
            sims[:, start:start + block] = rng.poisson(mu)

    tail = (1.0 - level) / 2.0
    q = np.quantile(sims, [tail, 1.0 - tail], axis=1, method="inverted_cdf")
    lo = np.zeros(len(idx), dtype=np.int64)
    hi = np.zeros(len(idx), dtype=np.int64)
    lo[live], hi[live] = q[0].astype(np.int64), q[1].astype(np.int64)
    rq = np.quantile(risk, [tail, 1.0 - tail], axis=1)
    r_lo = np.full(len(idx), np.nan)
    r_hi = np.full(len(idx), np.nan)
    r_lo[live], r_hi[live] = rq[0], rq[1]
    del risk

    hits = np.zeros(int(live.sum()))
    hh_live = hh[live]
    for start in range(0, n_sim, block):
        y = sims[:, start:start + block].astype(float)
        score = y / hh_live[:, None] if rank_by == "rate" else y
        hits += top_share_mask(score, hh_live, share=share, rng=rng).sum(axis=1)
    p_top = np.zeros(len(idx))
    p_top[live] = hits / n_sim

    flag = np.zeros(len(idx), dtype=bool)
    if bands is not None:
        if band_interval == "prediction":
            per_1000 = 1000.0 / hh[live]
            b_lo = bands.band_of(lo[live] * per_1000)
            b_hi = bands.band_of(hi[live] * per_1000)
        else:
            b_lo, b_hi = bands.band_of(r_lo[live]), bands.band_of(r_hi[live])
        flag[live] = (b_hi - b_lo) >= 2
    return UncertaintyResult(
        n_sim=n_sim, seed=seed, level=level, share=share, rank_by=rank_by,
        band_interval=band_interval, banded=bands is not None,
        pi_low=pd.Series(lo, index=idx, name="pi_low"),
        pi_high=pd.Series(hi, index=idx, name="pi_high"),
        p_top10=pd.Series(p_top, index=idx, name="p_top10"),
        uncertain_band=pd.Series(flag, index=idx, name="uncertain_band"),
        rate_low=pd.Series(r_lo, index=idx, name="rate_low"),
        rate_high=pd.Series(r_hi, index=idx, name="rate_high"),
    )
