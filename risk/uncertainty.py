"""How sure is each area's forecast, and its place on the list? Seeded simulation.

Each simulation draws the model parameters from their asymptotic normal distribution
(estimate, covariance; for NB2 the dispersion ``alpha`` too, kept positive) and every area's
own risk around them: its log risk gets a normal draw with the standard deviation
``FitResult.risk_sd``, the Poisson-gamma posterior spread of its relative risk given its
past fires (an area with many homes and many years of fires is known better). That is the
area's underlying risk in that draw (expected fires per 1,000 households). It then draws
next year's fires around the draw's mean: Poisson, or for NB2 a gamma mixture of Poissons
(``lambda ~ Gamma(1/alpha, alpha * mu)``, ``y ~ Poisson(lambda)``). From the draws:

* ``rank_low``, ``rank_high``: the central 90% range of the area's rank (1 = first) when the
  areas are ordered by their drawn risk, widened if needed to hold its rank on the list;
  and the same inside each group of every grouping column (``groups``, :class:`GroupRanks`);
* ``p_top10``: the share of draws in which the area's risk puts it among the top areas
  holding 10% of households (areas taken in order until the households above them reach
  10% of the total; the area that crosses the line is in), in the service and in each
  group. ``top_by="fires"`` ranks simulated fires next year instead (fires per household
  with ``rank_by="rate"``, ties broken at random), as before issue 15;
* ``band_low``, ``band_high``, ``band_chance``: the bands the range of ranks falls in, and
  the share of draws whose rank is among the ranks of the area's own band on the list
  (bands cut the rate, so each holds a run of ranks);
* ``pi_low``, ``pi_high``: the central 90% prediction interval of next year's fires (5% and
  95% points of the simulated counts, each the smallest count whose simulated share at or
  below it reaches the level);
* ``rate_low``, ``rate_high``: a 90% interval of the area's underlying risk;
* ``uncertain_band`` (kept for comparison; the build no longer publishes it): an interval's
  ends fall more than two bands apart, with ``band_interval="prediction"`` the prediction
  interval as fires per 1,000 households, with ``"rate"`` the risk interval. It flagged most
  London areas and did not separate them; the likely bands and rank ranges do.

The 90% ranges of rank hold the true rank in 85-95% of areas on simulated services
(``tests/test_uncertainty.py``). Everything is vectorised over areas and done in blocks of
simulations.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from firerisk.columns import (
    BAND_CHANCE,
    BAND_INDEX_HIGH,
    BAND_INDEX_LOW,
    P_TOP10,
    PI_HIGH,
    PI_LOW,
    RANK,
    RANK_HIGH,
    RANK_LOW,
    UNCERTAIN_BAND,
)
from firerisk.risk.bands import BandResult
from firerisk.risk.model import FitResult

__all__ = ["GroupRanks", "UncertaintyResult", "coarse_range", "rank_step", "simulate",
           "top_share_mask"]


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
    top_by: str = "risk"
    rank: pd.Series = field(default_factory=pd.Series, compare=False, repr=False)
    rank_low: pd.Series = field(default_factory=pd.Series, compare=False, repr=False)
    rank_high: pd.Series = field(default_factory=pd.Series, compare=False, repr=False)
    band_low: pd.Series = field(default_factory=pd.Series, compare=False, repr=False)
    band_high: pd.Series = field(default_factory=pd.Series, compare=False, repr=False)
    band_chance: pd.Series = field(default_factory=pd.Series, compare=False, repr=False)
    groups: Mapping[str, GroupRanks] = field(default_factory=dict, compare=False, repr=False)

    def frame(self) -> pd.DataFrame:
        """The per-area service-wide columns as one DataFrame."""
        return pd.DataFrame({PI_LOW: self.pi_low, PI_HIGH: self.pi_high,
                             P_TOP10: self.p_top10, UNCERTAIN_BAND: self.uncertain_band,
                             "rate_low": self.rate_low, "rate_high": self.rate_high,
                             RANK_LOW: self.rank_low, RANK_HIGH: self.rank_high,
                             BAND_INDEX_LOW: self.band_low, BAND_INDEX_HIGH: self.band_high,
                             BAND_CHANCE: self.band_chance})


@dataclass(frozen=True)
class GroupRanks:
    """Ranks inside the groups of one grouping column (for example each borough).

    Per area (NaN for areas with no households): ``rank``, its place on the list among
    its group's areas (1 = first); ``rank_low`` .. ``rank_high``, the range that holds
    its rank among them in ``level`` of the simulated draws of every area's risk;
    ``p_top``, the share of draws in which it is among the group's top areas holding
    ``share`` of the group's households; ``size``, the areas in its group.
    """

    label: str
    rank: pd.Series = field(compare=False, repr=False)
    rank_low: pd.Series = field(compare=False, repr=False)
    rank_high: pd.Series = field(compare=False, repr=False)
    p_top: pd.Series = field(compare=False, repr=False)
    size: pd.Series = field(compare=False, repr=False)


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


def rank_step(size: int) -> int:
    """The step a published range of ranks is rounded outward to, among *size* areas."""
    if size <= 50:
        return 1
    if size <= 500:
        return 5
    return 10 if size <= 5000 else 50


def coarse_range(low: np.ndarray, high: np.ndarray,
                 size: int | np.ndarray) -> tuple[pd.array, pd.array]:
    """Ranges of ranks as published: rounded outward to :func:`rank_step` of the group size.

    ``low`` down to a multiple of the step (at least 1), ``high`` up to one (at most the
    group's size), so a range only ever widens: "between 10th and 60th" for 13 to 58 among
    150 areas. Missing ranges (areas with no households) stay missing.
    """
    lo = np.asarray(low, dtype=float)
    hi = np.asarray(high, dtype=float)
    n = np.broadcast_to(np.asarray(size, dtype=float), lo.shape)
    ok = np.isfinite(lo) & np.isfinite(hi) & np.isfinite(n)
    step = np.ones(lo.shape)
    step[ok] = [rank_step(int(v)) for v in n[ok]]
    out_lo = np.where(ok, np.maximum(1.0, np.floor(lo / step) * step), np.nan)
    out_hi = np.where(ok, np.minimum(n, np.ceil(hi / step) * step), np.nan)
    return (pd.array(np.where(ok, out_lo, np.nan), dtype="Float64").astype("Int64"),
            pd.array(np.where(ok, out_hi, np.nan), dtype="Float64").astype("Int64"))


def _check_options(n_sim: int, level: float, share: float, rank_by: str, band_interval: str,
                   top_by: str) -> None:
    if n_sim < 10:
        raise ValueError("n_sim must be at least 10.")
    if not 0 < level < 1 or not 0 < share < 1:
        raise ValueError("level and share must be between 0 and 1.")
    if rank_by not in ("count", "rate") or band_interval not in ("rate", "prediction"):
        raise ValueError("rank_by must be count or rate; band_interval rate or prediction.")
    if top_by not in ("risk", "fires"):
        raise ValueError("top_by must be risk or fires.")


@dataclass(frozen=True, eq=False)
class _Draws:
    """Simulated next-year fires and underlying risk of the areas with households."""

    live: np.ndarray
    households: np.ndarray
    fires: np.ndarray
    risk: np.ndarray


def _draw(fit: FitResult, rng: np.random.Generator, n_sim: int, block: int) -> _Draws:
    """Parameter draws, then per block: risk per 1,000 households (parameters plus the
    area's own uncertainty, ``FitResult.risk_sd``) and next year's fires (NB2 or Poisson
    around the parameter draw's mean)."""
    idx = fit.expected.index
    hh = fit.households.reindex(idx).to_numpy(dtype=float)
    live = hh > 0
    x = fit.design.reindex(idx).to_numpy(dtype=float)[live]
    off = np.log(hh[live])
    p = x.shape[1]
    nb = fit.family == "negative_binomial"
    sd = fit.risk_sd.reindex(idx).fillna(0.0).to_numpy(dtype=float)[live]
    noisy = bool((sd > 0).any())
    draws = rng.multivariate_normal(fit.params.to_numpy(dtype=float),
                                    fit.cov_params.to_numpy(dtype=float), size=n_sim,
                                    method="cholesky")
    n_live = int(live.sum())
    # Simulated counts are small whole numbers: int32 halves the memory of int64 (and
    # sorts faster); a block that would not fit switches the store to int64.
    sims = np.zeros((n_live, n_sim), dtype=np.int32)
    risk = np.zeros((n_live, n_sim))
    for start in range(0, n_sim, block):
        d = draws[start:start + block]
        base = x @ d[:, :p].T
        part = risk[:, start:start + block]
        if noisy:
            z = rng.standard_normal(base.shape)
            z *= sd[:, None]
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
    return _Draws(live=live, households=hh[live], fires=sims, risk=risk)


def _top_by_fires(draws: _Draws, rng: np.random.Generator, share: float, rank_by: str,
                  block: int) -> np.ndarray:
    """Share of simulated years each area is in the top group by simulated fires (ties
    broken at random, after every simulated count, as they always have been)."""
    sims, hh_live = draws.fires, draws.households
    n_live, n_sim = sims.shape
    hits = np.zeros(n_live)
    budget = share * hh_live.sum()
    for start in range(0, n_sim, block):
        y_rows = sims[:, start:start + block].T.astype(float)
        score = y_rows / hh_live[None, :] if rank_by == "rate" else y_rows
        jitter = rng.random((n_live, score.shape[0]))
        above, _, tie_areas = _top_members(score, hh_live, budget, jitter)
        hits += np.count_nonzero(above, axis=0) + np.bincount(tie_areas, minlength=n_live)
    return hits / n_sim


def _point_order(fit: FitResult, live: np.ndarray) -> np.ndarray:
    """Rank (1 = first) of each live area on the list: highest expected fires per
    household first, then highest expected fires, then area id (the published order)."""
    idx = fit.expected.index
    hh = fit.households.reindex(idx).to_numpy(dtype=float)[live]
    exp_ = fit.expected.to_numpy(dtype=float)[live]
    ids = np.asarray(idx.astype(str))[live]
    order = np.lexsort((ids, -exp_, -exp_ / hh))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(1, len(order) + 1)
    return rank


@dataclass(frozen=True, eq=False)
class _Ranked:
    """Per live area: the range of its simulated rank within its group, its rank on the
    list within the group, the chance it is in its group's top group, the group's size."""

    low: np.ndarray
    high: np.ndarray
    point: np.ndarray
    p_top: np.ndarray
    size: np.ndarray


def _rank_draws(risk: np.ndarray, hh: np.ndarray, point: np.ndarray,
                members: np.ndarray | None, share: float, levels: np.ndarray,
                block: int) -> tuple[_Ranked, np.ndarray]:
    """Rank the areas by simulated risk inside each group (one group: all), draw by draw.

    An area is in its group's top group in a draw when the households of the areas
    ranked above it are below *share* of the group's households (as ``top_share_mask``).
    The range always holds the area's rank on the list. Also returns every area's
    simulated ranks, each row sorted (areas x draws).
    """
    n, n_sim = risk.shape
    dtype = np.uint16 if n < np.iinfo(np.uint16).max else np.uint32
    ranks = np.empty((n, n_sim), dtype=dtype)
    hits = np.zeros(n)
    point_in = np.empty(n, dtype=np.int64)
    size = np.empty(n, dtype=np.int64)
    groups = ([np.arange(n)] if members is None else
              [np.flatnonzero(members == g) for g in pd.unique(members)])
    for rows in groups:
        h = hh[rows]
        budget = share * h.sum()
        point_in[rows] = np.argsort(np.argsort(point[rows], kind="stable"), kind="stable") + 1
        size[rows] = len(rows)
        steps = np.arange(1, len(rows) + 1, dtype=dtype)[None, :]
        for start in range(0, n_sim, block):
            # One draw per row (contiguous): sorting rows is much faster than columns.
            sub = np.negative(risk[rows, start:start + block].T)
            order = np.argsort(sub, axis=1)
            r = np.empty(sub.shape, dtype=dtype)
            np.put_along_axis(r, order, steps, axis=1)
            ranks[rows, start:start + block] = r.T
            h_sorted = h[order]
            in_sorted = (np.cumsum(h_sorted, axis=1) - h_sorted) < budget
            inside = np.empty(sub.shape, dtype=bool)
            np.put_along_axis(inside, order, in_sorted, axis=1)
            hits[rows] += np.count_nonzero(inside, axis=0)
    ranks.sort(axis=1)
    q = _quantiles_sorted(ranks, levels, "inverted_cdf").astype(np.int64)
    return (_Ranked(low=np.minimum(q[0], point_in), high=np.maximum(q[1], point_in),
                    point=point_in, p_top=hits / n_sim, size=size), ranks)


def _band_ranges(ranked: _Ranked, sorted_ranks: np.ndarray,
                 band_index: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bands of the service-wide rank range, and the chance each area's rank falls in
    its own band's ranks on the list (bands hold contiguous ranks: they cut the rate)."""
    ok = np.isfinite(band_index)
    bands = np.unique(band_index[ok]).astype(int)
    first = np.array([ranked.point[ok & (band_index == b)].min() for b in bands])
    last = np.array([ranked.point[ok & (band_index == b)].max() for b in bands])
    by_first = np.argsort(first)

    def band_at(rank: np.ndarray) -> np.ndarray:
        pos = np.searchsorted(first[by_first], rank, side="right") - 1
        return bands[by_first][np.clip(pos, 0, len(bands) - 1)].astype(float)

    n = len(band_index)
    chance = np.full(n, np.nan)
    for b, lo, hi in zip(bands, first, last, strict=True):
        rows = np.flatnonzero(ok & (band_index == b))
        srt = sorted_ranks[rows]
        inside = (np.count_nonzero(srt <= hi, axis=1) - np.count_nonzero(srt < lo, axis=1))
        chance[rows] = inside / srt.shape[1]
    return band_at(ranked.high), band_at(ranked.low), chance


def simulate(fit: FitResult, *, n_sim: int = 2000, seed: int = 12345, level: float = 0.90,
             share: float = 0.10, bands: BandResult | None = None,
             rank_by: Literal["count", "rate"] = "count",
             band_interval: Literal["rate", "prediction"] = "rate",
             block: int = 250, groups: Mapping[str, pd.Series] | None = None,
             top_by: Literal["risk", "fires"] = "risk") -> UncertaintyResult:
    """Simulate the areas' risk and next year's fires from the fitted model.

    Parameters
    ----------
    fit : FitResult
        From :func:`risk.model.fit_predict`.
    n_sim : int
        Number of simulated draws (each a parameter draw, the areas' risks, a year).
    seed : int
        Seed of the random generator: the same seed gives the same results.
    level : float
        Coverage of the prediction interval and of the rank ranges.
    share : float
        Household share of the top group for ``p_top10`` and the groups' chances.
    bands : BandResult, optional
        Band breaks (of fires per 1,000 households) for ``uncertain_band`` and the band
        ranges; without them both are empty and ``banded`` is False.
    rank_by : {"count", "rate"}
        With ``top_by="fires"``: rank simulated areas by fires, or fires per household.
    band_interval : {"rate", "prediction"}
        Which interval ``uncertain_band`` maps to the bands (see the module notes).
    block : int
        Simulations per block; part of the random stream's layout, so changing it
        changes the draws. Memory use is about ``areas * n_sim * 14`` bytes for the
        simulated years and ranks, plus 2 bytes per area and draw for each grouping.
    groups : mapping of str to Series, optional
        Grouping columns (label -> group per area, e.g. ``{"borough": ...}``): ranks and
        top-group chances inside each group too.
    top_by : {"risk", "fires"}
        ``p_top10`` from the simulated risk (default: the chance the area's risk puts it
        in the top group), or from simulated fires next year (how often a year's fires
        would).

    Returns
    -------
    UncertaintyResult
    """
    _check_options(n_sim, level, share, rank_by, band_interval, top_by)
    rng = np.random.default_rng(seed)
    idx = fit.expected.index
    draws = _draw(fit, rng, n_sim, block)
    live, hh_live = draws.live, draws.households
    tail = (1.0 - level) / 2.0
    levels = np.asarray([tail, 1.0 - tail])

    point = _point_order(fit, live)
    service, sorted_ranks = _rank_draws(draws.risk, hh_live, point, None, share, levels,
                                        block)
    nan = np.full(int(live.sum()), np.nan)
    band_low, band_high, band_chance = nan, nan, nan
    if bands is not None:
        b_index = bands.band_index.reindex(idx).to_numpy(dtype=float)[live]
        band_low, band_high, band_chance = _band_ranges(service, sorted_ranks, b_index)
    del sorted_ranks
    by_group = {label: _group_ranks(label, column, draws, point, idx, share, levels, block)
                for label, column in (groups or {}).items()}
    p_top = (_top_by_fires(draws, rng, share, rank_by, block) if top_by == "fires"
             else service.p_top)

    # Quantiles from rows sorted in place (numpy's own formulas; see _quantiles_sorted).
    draws.risk.sort(axis=1)
    rq = _quantiles_sorted(draws.risk, levels, "linear")
    draws.fires.sort(axis=1)
    q = _quantiles_sorted(draws.fires, levels, "inverted_cdf")
    lo = np.zeros(len(idx), dtype=np.int64)
    hi = np.zeros(len(idx), dtype=np.int64)
    lo[live], hi[live] = q[0].astype(np.int64), q[1].astype(np.int64)
    r_lo = _spread(rq[0], live, idx, "rate_low").to_numpy()
    r_hi = _spread(rq[1], live, idx, "rate_high").to_numpy()

    flag = np.zeros(len(idx), dtype=bool)
    if bands is not None:
        if band_interval == "prediction":
            flag[live] = _spans_bands(bands, lo[live] * 1000.0 / hh_live,
                                      hi[live] * 1000.0 / hh_live)
        else:
            flag[live] = _spans_bands(bands, r_lo[live], r_hi[live])
    return UncertaintyResult(
        n_sim=n_sim, seed=seed, level=level, share=share, rank_by=rank_by,
        band_interval=band_interval, banded=bands is not None, top_by=top_by,
        pi_low=pd.Series(lo, index=idx, name=PI_LOW),
        pi_high=pd.Series(hi, index=idx, name=PI_HIGH),
        p_top10=_spread(p_top, live, idx, P_TOP10, fill=0.0),
        uncertain_band=pd.Series(flag, index=idx, name=UNCERTAIN_BAND),
        rate_low=pd.Series(r_lo, index=idx, name="rate_low"),
        rate_high=pd.Series(r_hi, index=idx, name="rate_high"),
        rank=_spread(service.point, live, idx, RANK),
        rank_low=_spread(service.low, live, idx, RANK_LOW),
        rank_high=_spread(service.high, live, idx, RANK_HIGH),
        band_low=_spread(band_low, live, idx, BAND_INDEX_LOW),
        band_high=_spread(band_high, live, idx, BAND_INDEX_HIGH),
        band_chance=_spread(band_chance, live, idx, BAND_CHANCE),
        groups=by_group,
    )


def _spans_bands(bands: BandResult, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """The old "band uncertain" flag: the interval's ends more than two bands apart."""
    return np.asarray((bands.band_of(high) - bands.band_of(low)) >= 2)


def _group_ranks(label: str, column: pd.Series, draws: _Draws, point: np.ndarray,
                 idx: pd.Index, share: float, levels: np.ndarray, block: int) -> GroupRanks:
    """Ranks, ranges and top-group chances inside the groups of one grouping column."""
    live = draws.live
    # An area with no group value is ranked among the others without one.
    members = column.reindex(idx).astype(object).fillna("").to_numpy()[live]
    g, _ = _rank_draws(draws.risk, draws.households, point, members, share, levels, block)
    return GroupRanks(label=label, rank=_spread(g.point, live, idx, RANK),
                      rank_low=_spread(g.low, live, idx, RANK_LOW),
                      rank_high=_spread(g.high, live, idx, RANK_HIGH),
                      p_top=_spread(g.p_top, live, idx, P_TOP10, fill=0.0),
                      size=_spread(g.size, live, idx, "size"))


def _spread(values: np.ndarray, live: np.ndarray, idx: pd.Index, name: str,
            fill: float = np.nan) -> pd.Series:
    """Values of the live areas as a Series over every area (*fill* for the others)."""
    out = np.full(len(idx), fill, dtype=float)
    out[live] = values
    return pd.Series(out, index=idx, name=name)
