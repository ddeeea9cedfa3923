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

from firerisk.columns import P_TOP10, PI_HIGH, PI_LOW, UNCERTAIN_BAND
from firerisk.risk.bands import BandResult
from firerisk.risk.model import FitResult

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
        return pd.DataFrame({PI_LOW: self.pi_low, PI_HIGH: self.pi_high,
                             P_TOP10: self.p_top10, UNCERTAIN_BAND: self.uncertain_band,
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

    Notes
    -----
    Areas are taken in order of score (ties by a uniform jitter drawn from *rng*, both
    descending) while the households ranked above them are below the budget. Only the
    tie block that the budget line falls in needs the jitter order, so each column is
    sorted once by score and only that block is ordered by jitter.
    """
    s = np.asarray(scores, dtype=float)
    if s.ndim == 1:
        s = s[:, None]
    hh = np.asarray(households, dtype=float)
    jitter = rng.random(s.shape) if rng is not None else None
    budget = share * hh.sum()
    out = np.zeros(s.shape, dtype=bool)
    if not _plain_households(hh):
        return _top_share_mask_sorted(s, hh, budget, jitter)
    above, tie_cols, tie_areas = _top_members(np.ascontiguousarray(s.T), hh, budget, jitter)
    out[:] = above.T
    out[tie_areas, tie_cols] = True
    return out


def _plain_households(hh: np.ndarray) -> bool:
    """Households the fast path handles: finite and not negative (sums need no order)."""
    return bool(np.isfinite(hh).all() and (hh >= 0).all())


def _top_share_mask_sorted(s: np.ndarray, hh: np.ndarray, budget: float,
                           jitter: np.ndarray | None) -> np.ndarray:
    """Reference version: sort every column by (score, jitter) and walk down it."""
    jit = jitter if jitter is not None else np.zeros(s.shape)
    order = np.lexsort((-jit, -s), axis=0)
    cum_before = np.cumsum(hh[order], axis=0) - hh[order]
    out = np.zeros(s.shape, dtype=bool)
    np.put_along_axis(out, order, cum_before < budget, axis=0)
    return out


def _exact_weights(hh: np.ndarray) -> np.ndarray:
    """*hh* as int64 when they are whole numbers whose sum fits (running totals are then
    exact and faster to take), otherwise as they are."""
    if hh.size and hh.sum() < 2.0 ** 52 and (hh == np.round(hh)).all():
        return hh.astype(np.int64)
    return hh


def _top_members(rows: np.ndarray, hh: np.ndarray, budget: float,
                 jitter: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's top group: the areas ranked above its boundary tie block, and the
    members of that block that are in.

    *rows* holds one ranking per row (n_rows, n_areas), higher first; *jitter*
    (n_areas, n_rows) breaks ties, descending (None: area order). An area is in when the
    households ranked above it are below *budget*.

    Returns
    -------
    above : bool array (n_rows, n_areas)
        Areas in every tie block before the boundary block (all in, whatever the jitter).
    tie_rows, tie_areas : int arrays
        The boundary blocks' members that are in, as (row, area) pairs.
    """
    n_rows, n = rows.shape
    empty = np.zeros(0, dtype=np.intp)
    if n_rows == 0 or n == 0 or not budget > 0:
        return np.zeros(rows.shape, dtype=bool), empty, empty
    w = _exact_weights(hh)
    key = -rows  # ascending key = descending score; NaN sorts last
    order = np.argsort(key, axis=1)
    cum = np.cumsum(w[order], axis=1)
    # The first position whose running total reaches the budget lies in the boundary
    # tie block, whatever the order inside blocks: the blocks before it are in, the
    # blocks after it out, and inside it the jitter decides.
    p = np.count_nonzero(cum < budget, axis=1)
    above = np.ones(rows.shape, dtype=bool)
    brow = np.flatnonzero(p < n)
    if brow.size == 0:
        return above, empty, empty
    kb = key[brow]
    v = kb[np.arange(brow.size), order[brow, p[brow]]]
    with np.errstate(invalid="ignore"):
        above[brow] = kb < v[:, None]
        tie = kb == v[:, None]
    nan_v = np.isnan(v)
    if nan_v.any():
        nan_k = np.isnan(kb[nan_v])
        above[brow[nan_v]] = ~nan_k
        tie[nan_v] = nan_k
    del kb
    n_above = np.count_nonzero(above[brow], axis=1)
    base = np.where(n_above > 0, cum[brow, np.maximum(n_above - 1, 0)], 0)
    seg, area = np.nonzero(tie)
    del tie
    r = brow[seg]
    if jitter is not None and (w >= 0).all():
        seg, area, r = _likely_members(seg, area, r, w, jitter, budget - base)
    second = area if jitter is None else -jitter[area, r]
    idx = np.lexsort((second, seg))
    seg, area, r = seg[idx], area[idx], r[idx]
    h = w[area]
    run = np.cumsum(h) - h
    first = np.flatnonzero(np.r_[True, seg[1:] != seg[:-1]])
    start = np.repeat(run[first], np.diff(np.r_[first, seg.size]))
    keep = base[seg] + (run - start) < budget
    return above, r[keep], area[keep]


def _likely_members(seg: np.ndarray, area: np.ndarray, r: np.ndarray, w: np.ndarray,
                    jitter: np.ndarray, room: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The boundary blocks' members that can be in, before they are sorted.

    Inside a block the members go in by descending jitter until the households reach
    *room* (the budget left by the blocks above). With no negative households, members
    whose jitter is below a threshold can only be in if the members above the threshold
    hold fewer households than *room*. So keep, per block, the members above a threshold
    chosen to hold about twice the room, and every member of a block where they would not
    be enough. The answer is exactly that of sorting every member; on sparse simulated
    years (one block of almost every area at zero fires) it sorts a small share of them.
    """
    n_seg = room.size
    jit = jitter[area, r]
    total = np.bincount(seg, weights=w[area], minlength=n_seg)
    with np.errstate(divide="ignore", invalid="ignore"):
        need = np.where(total > 0, room / total, 1.0)
    cut = 1.0 - np.clip(2.0 * need + 0.01, 0.0, 1.0)
    take = jit >= cut[seg]
    held = np.bincount(seg[take], weights=w[area[take]], minlength=n_seg)
    # "Enough" with a margin, so float rounding in the sums can never drop a member.
    short = ~(held > room + 1e-9 * np.maximum(1.0, np.abs(room)))
    take |= short[seg]
    return seg[take], area[take], r[take]


def _quantiles_sorted(srt: np.ndarray, q: np.ndarray, method: str) -> np.ndarray:
    """``numpy.quantile(x, q, axis=1, method=method)`` from rows already sorted.

    Only ``linear`` and ``inverted_cdf``, with numpy's index and interpolation
    formulas; rows holding NaN give NaN, as in numpy.
    """
    n = srt.shape[1]
    if method == "inverted_cdf":
        index = n * q - 1
        prev = np.floor(index)
        take = np.where(index - prev == 0, prev, prev + 1).astype(np.intp)
        take[take < 0] = 0
        out = srt[:, take].T
    else:
        virtual = (n - 1) * q
        prev = np.floor(virtual)
        gamma = virtual - prev
        lo = np.clip(prev, 0, n - 1).astype(np.intp)
        hi = np.clip(prev + 1, 0, n - 1).astype(np.intp)
        a, b = srt[:, lo].T, srt[:, hi].T
        t = gamma[:, None]
        diff = b - a
        out = a + diff * t
        np.subtract(b, diff * (1 - t), out=out, where=np.broadcast_to(t >= 0.5, out.shape))
    if np.issubdtype(srt.dtype, np.floating):
        out[:, np.isnan(srt[:, -1])] = np.nan
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
        Simulations per block; part of the random stream's layout, so changing it
        changes the draws. Memory use is about ``areas * n_sim * 12`` bytes for the
        simulated years, plus ``areas * block * 32`` bytes while drawing a block.

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
    n_live = int(live.sum())
    # Simulated counts are small whole numbers: int32 halves the memory of int64 (and
    # sorts faster); a block that would not fit switches the store to int64.
    sims = np.zeros((n_live, n_sim), dtype=np.int32)
    risk = np.zeros((n_live, n_sim))
    for start in range(0, n_sim, block):
        d = draws[start:start + block]
        base = x @ d[:, :p].T
        part = risk[:, start:start + block]
        if h_col is not None:
            z = rng.standard_normal(base.shape)
            z *= d[:, h_col][None, :] * h_sd[:, None]
            np.add(base, z, out=part)
            del z
        else:
            part[:] = base
        np.exp(part, out=part)
        part *= 1000.0
        base += off[:, None]
        mu = np.exp(base, out=base)
        if nb:
            alpha = np.clip(d[:, p], 1e-8, None)
            mu *= alpha
            mu = rng.gamma(shape=1.0 / alpha, scale=mu)
        y = rng.poisson(mu)
        del base, mu
        if sims.dtype != np.int64 and y.size and y.max() > np.iinfo(np.int32).max:
            sims = sims.astype(np.int64)
        sims[:, start:start + block] = y
        del y, part

    tail = (1.0 - level) / 2.0
    levels = np.asarray([tail, 1.0 - tail])
    # Quantiles from rows sorted in place (numpy's own formulas; see _quantiles_sorted).
    risk.sort(axis=1)
    rq = _quantiles_sorted(risk, levels, "linear")
    del risk
    r_lo = np.full(len(idx), np.nan)
    r_hi = np.full(len(idx), np.nan)
    r_lo[live], r_hi[live] = rq[0], rq[1]

    # The top group of every simulated year (the random tie-breaks come after every
    # simulated count, as they always have, so a seed gives the same answer).
    hits = np.zeros(n_live)
    hh_live = hh[live]
    budget = share * hh_live.sum()
    for start in range(0, n_sim, block):
        y_rows = sims[:, start:start + block].T.astype(float)
        score = y_rows / hh_live[None, :] if rank_by == "rate" else y_rows
        jitter = rng.random((n_live, score.shape[0]))
        above, _, tie_areas = _top_members(score, hh_live, budget, jitter)
        hits += np.count_nonzero(above, axis=0) + np.bincount(tie_areas, minlength=n_live)
    p_top = np.zeros(len(idx))
    p_top[live] = hits / n_sim

    sims.sort(axis=1)
    q = _quantiles_sorted(sims, levels, "inverted_cdf")
    del sims
    lo = np.zeros(len(idx), dtype=np.int64)
    hi = np.zeros(len(idx), dtype=np.int64)
    lo[live], hi[live] = q[0].astype(np.int64), q[1].astype(np.int64)

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
        pi_low=pd.Series(lo, index=idx, name=PI_LOW),
        pi_high=pd.Series(hi, index=idx, name=PI_HIGH),
        p_top10=pd.Series(p_top, index=idx, name=P_TOP10),
        uncertain_band=pd.Series(flag, index=idx, name=UNCERTAIN_BAND),
        rate_low=pd.Series(r_lo, index=idx, name="rate_low"),
        rate_high=pd.Series(r_hi, index=idx, name="rate_high"),
    )
