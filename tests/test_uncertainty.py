"""Simulation-based uncertainty: reproducibility, interval coverage, top-10% chances."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pytest

from firerisk.geo.profile import load_profile
from firerisk.risk.bands import classify
from firerisk.risk.features import build_features
from firerisk.risk.model import FitResult, ModelConfig, fit_predict
from firerisk.risk.uncertainty import simulate, top_share_mask

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
FEATURES = ("imd_score", "social_rent_share", "flat_share")


@pytest.fixture(scope="module")
def london() -> pd.DataFrame:
    profile = load_profile(SAMPLE / "london.toml")
    imd = pd.read_csv(SAMPLE / "imd2025_london.csv").set_index("lsoa21_code")
    census = pd.read_csv(SAMPLE / "census2021_households_london.csv").set_index("lsoa21_code")
    return build_features(imd.join(census, how="inner"), features=profile.features,
                          exposure=profile.exposure)


@pytest.fixture(scope="module")
def world(london: pd.DataFrame) -> tuple[FitResult, pd.Series]:
    """A known NB model on the London geography: fit on 2020, the truth for 2021."""
    hh = london["households"].to_numpy()
    x = london[list(FEATURES)].to_numpy()
    mu = hh * 0.004 * np.exp(x @ np.array([0.02, 0.6, 0.3]) - 0.9)
    rng = np.random.default_rng(2024)
    alpha = 0.2

    def draw() -> np.ndarray:
        return rng.poisson(rng.gamma(1 / alpha, alpha * mu))

    counts = pd.DataFrame({2020: draw()}, index=london.index)
    nxt = pd.Series(draw(), index=london.index)
    fit = fit_predict(counts, london, target_year=2021,
                      config=ModelConfig(family="negative_binomial", features=FEATURES,
                                         history=False))
    return fit, nxt


def test_same_seed_same_answer_other_seed_differs(world: tuple[FitResult, pd.Series]) -> None:
    fit, _ = world
    a = simulate(fit, n_sim=300, seed=5)
    b = simulate(fit, n_sim=300, seed=5)
    c = simulate(fit, n_sim=300, seed=6)
    pd.testing.assert_frame_equal(a.frame(), b.frame())
    assert not a.p_top10.equals(c.p_top10)
    assert a == b  # settings compare equal; per-area Series are left out of equality


def test_prediction_interval_covers_about_90_percent(world: tuple[FitResult, pd.Series]
                                                     ) -> None:
    fit, actual = world
    res = simulate(fit, n_sim=1000, seed=1)
    inside = (actual >= res.pi_low) & (actual <= res.pi_high)
    # Counts are whole numbers, so a 90% interval covers at least 90% by construction of
    # its ends; with these means (about 2-8 fires) it should not be far above.
    assert 0.87 <= inside.mean() <= 0.97
    assert (res.pi_low <= fit.expected).all()
    assert (res.pi_high >= np.floor(fit.expected)).all()
    # An interval from parameter draws alone would be far too narrow: the outcome draw
    # matters. The mean interval width is at least 2 sd of an NB count at the mean.
    assert (res.pi_high - res.pi_low).mean() > 2 * np.sqrt(fit.expected.mean())


def test_top10_chances_follow_the_expected_ranking(world: tuple[FitResult, pd.Series]
                                                   ) -> None:
    fit, _ = world
    res = simulate(fit, n_sim=400, seed=3)
    hh = fit.households
    # Each simulated year puts just over 10% of households in the top group.
    share = float((res.p_top10 * hh).sum() / hh.sum())
    assert 0.10 <= share <= 0.11
    top = top_share_mask(fit.expected.to_numpy()[:, None], hh.to_numpy())[:, 0]
    assert res.p_top10[top].mean() > 2 * res.p_top10[~top].mean()
    ranked = res.p_top10.rank().corr(fit.expected.rank())
    assert ranked > 0.7


def test_top_share_mask_hand_case() -> None:
    # Households 50, 30, 20, 100 (total 200, 10% = 20); scores rank areas 2, 0, 3, 1.
    scores = np.array([[5.0], [1.0], [9.0], [2.0]])
    hh = np.array([50.0, 30.0, 20.0, 100.0])
    # Area 2 has 20 households: cumulative before it is 0 < 20 -> in; then 20 is not < 20.
    assert top_share_mask(scores, hh, share=0.10)[:, 0].tolist() == [False, False, True, False]
    # 30% = 60: area 2 (0 before), area 0 (20 before) in; area 3 (70 before) out.
    assert top_share_mask(scores, hh, share=0.30)[:, 0].tolist() == [True, False, True, False]


def test_uncertain_band_flags_intervals_spanning_more_than_two_bands(
        world: tuple[FitResult, pd.Series]) -> None:
    fit, _ = world
    bands = classify(fit.rate_per_1000, scheme="quantiles", k=5)
    res = simulate(fit, n_sim=300, seed=2, bands=bands, band_interval="prediction")
    per_1000 = 1000 / fit.households
    lo = bands.band_of(res.pi_low * per_1000)
    hi = bands.band_of(res.pi_high * per_1000)
    assert res.uncertain_band.tolist() == ((hi - lo) >= 2).tolist()
    rate = simulate(fit, n_sim=300, seed=2, bands=bands)
    assert rate.band_interval == "rate"
    assert (rate.rate_low <= fit.rate_per_1000).all()
    assert (rate.rate_high >= fit.rate_per_1000).all()
    lo_r, hi_r = bands.band_of(rate.rate_low), bands.band_of(rate.rate_high)
    assert rate.uncertain_band.tolist() == ((hi_r - lo_r) >= 2).tolist()
    assert not simulate(fit, n_sim=50, seed=2).uncertain_band.any()


def test_poisson_fit_and_zero_household_areas() -> None:
    rng = np.random.default_rng(8)
    idx = [f"z{i}" for i in range(200)]
    cov = pd.DataFrame({"households": rng.integers(300, 800, 200).astype(float),
                        "imd_score": rng.uniform(5, 50, 200)}, index=idx)
    cov.iloc[0, 0] = 0.0
    counts = pd.DataFrame({y: rng.poisson(0.004 * cov["households"]) for y in (2019, 2020)},
                          index=idx)
    fit = fit_predict(counts, cov, target_year=2021,
                      config=ModelConfig(family="poisson", features=("imd_score",)))
    assert fit.family == "poisson"
    res = simulate(fit, n_sim=200, seed=1)
    assert res.pi_low["z0"] == res.pi_high["z0"] == 0
    assert res.p_top10["z0"] == 0
    assert (res.pi_high[1:] >= 1).all()


# --------------------------------------------------------------------------- fast paths
# simulate() and top_share_mask() avoid a full (score, jitter) sort of every simulated
# year and numpy.quantile's partitioning. These tests hold them to slow, direct versions.


def _walk_top(scores: np.ndarray, hh: np.ndarray, share: float,
              jitter: np.ndarray | None) -> np.ndarray:
    """Column by column: sort by score then jitter (both descending, NaN last, then area
    order), take areas while the households ranked above them are below the budget."""
    n, m = scores.shape
    out = np.zeros((n, m), dtype=bool)
    budget = share * hh.sum()
    for c in range(m):
        def key(i: int, c: int = c) -> tuple[float, float, int]:
            s = scores[i, c]
            return (np.inf if np.isnan(s) else -s,
                    -jitter[i, c] if jitter is not None else 0.0, i)
        used = 0.0
        for i in sorted(range(n), key=key):
            out[i, c] = used < budget
            used += hh[i]
    return out


@pytest.mark.parametrize("case", ["ties", "rates", "nan", "zero_households", "fractional",
                                  "sparse"])
def test_top_share_mask_matches_a_walk_down_each_column(case: str) -> None:
    rng = np.random.default_rng(11)
    n, m = 60, 25
    hh = rng.integers(1, 40, n).astype(float)
    scores = rng.poisson(1.5, (n, m)).astype(float)  # many ties, at the boundary too
    if case == "rates":
        scores = scores / hh[:, None]
    if case == "nan":
        scores[rng.random((n, m)) < 0.3] = np.nan
    if case == "zero_households":
        hh[rng.random(n) < 0.3] = 0.0
    if case == "fractional":
        hh = hh + rng.random(n)
    if case == "sparse":  # almost every area at 0: the boundary block is nearly everyone
        scores = rng.poisson(0.03, (n, m)) / hh[:, None]
    for share in (0.05, 0.1, 0.37, 0.9, 1.0):
        got = top_share_mask(scores, hh, share=share, rng=np.random.default_rng(4))
        jitter = np.random.default_rng(4).random(scores.shape)
        assert np.array_equal(got, _walk_top(scores, hh, share, jitter)), (case, share)
        # without a generator, ties keep area order
        assert np.array_equal(top_share_mask(scores, hh, share=share),
                              _walk_top(scores, hh, share, None)), (case, share)


def test_top_share_mask_edge_inputs() -> None:
    hh = np.array([10.0, 0.0, 5.0, 5.0])
    # one column given as 1-d; all tied, no generator: area order, 0 hh costs nothing
    assert top_share_mask(np.ones(4), hh, share=0.5)[:, 0].tolist() == [True, False, False,
                                                                        False]
    assert top_share_mask(np.ones(4), hh, share=0.6)[:, 0].tolist() == [True, True, True,
                                                                        False]
    # no households at all: nobody is in
    assert not top_share_mask(np.ones((4, 2)), np.zeros(4), share=0.5).any()
    # negative households are nonsense, but the walk down the ranking still decides
    odd = np.array([3.0, -2.0, 4.0, 1.0])
    s = np.array([[4.0], [3.0], [2.0], [1.0]])
    assert np.array_equal(top_share_mask(s, odd, share=0.5), _walk_top(s, odd, 0.5, None))


@pytest.mark.parametrize("method", ["linear", "inverted_cdf"])
def test_quantiles_from_sorted_rows_match_numpy(method: Literal["linear", "inverted_cdf"]) -> None:
    from firerisk.risk.uncertainty import _quantiles_sorted

    rng = np.random.default_rng(5)
    for n in (1, 2, 3, 10, 99, 100, 101, 2000):
        q = np.array([0.0, 0.05, 0.25, 0.5, 0.95, 1.0])
        ints = rng.poisson(2.0, (7, n))
        floats = np.exp(rng.standard_normal((7, n)))
        floats[3, n // 2] = np.nan
        for x in (ints, floats):
            want = np.quantile(x, q, axis=1, method=method)
            got = _quantiles_sorted(np.sort(x, axis=1), q, method)
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(got, want)


def _slow_simulate(fit: FitResult, *, n_sim: int, seed: int, share: float, rank_by: str,
                   block: int) -> pd.DataFrame:
    """simulate() written out plainly: the same draws in the same order, a full sort of
    every simulated year and numpy.quantile."""
    rng = np.random.default_rng(seed)
    idx = fit.expected.index
    hh = fit.households.reindex(idx).to_numpy(dtype=float)
    live = hh > 0
    x = fit.design.reindex(idx).to_numpy(dtype=float)[live]
    p = x.shape[1]
    sd = fit.risk_sd.reindex(idx).fillna(0.0).to_numpy(dtype=float)[live]
    draws = rng.multivariate_normal(fit.params.to_numpy(dtype=float),
                                    fit.cov_params.to_numpy(dtype=float), size=n_sim,
                                    method="cholesky")
    sims = np.zeros((int(live.sum()), n_sim), dtype=np.int64)
    risk = np.zeros((int(live.sum()), n_sim))
    for start in range(0, n_sim, block):
        d = draws[start:start + block]
        base = x @ d[:, :p].T
        eta = base
        if (sd > 0).any():
            eta = base + sd[:, None] * rng.standard_normal(base.shape)
        risk[:, start:start + block] = np.exp(eta) * 1000.0
        mu = np.exp(base + np.log(hh[live])[:, None])
        if fit.family == "negative_binomial":
            alpha = np.clip(d[:, p], 1e-8, None)
            mu = rng.gamma(shape=1.0 / alpha, scale=alpha * mu)
        sims[:, start:start + block] = rng.poisson(mu)
    hits = np.zeros(int(live.sum()))
    for start in range(0, n_sim, block):
        y = sims[:, start:start + block].astype(float)
        score = y / hh[live][:, None] if rank_by == "rate" else y
        jitter = rng.random(score.shape)
        order = np.lexsort((-jitter, -score), axis=0)
        before = np.cumsum(hh[live][order], axis=0) - hh[live][order]
        mask = np.zeros(score.shape, dtype=bool)
        np.put_along_axis(mask, order, before < share * hh[live].sum(), axis=0)
        hits += mask.sum(axis=1)
    out = pd.DataFrame(0.0, index=idx, columns=["pi_low", "pi_high", "p_top10"])
    q = np.quantile(sims, [0.05, 0.95], axis=1, method="inverted_cdf")
    rq = np.quantile(risk, [0.05, 0.95], axis=1)
    out.loc[live, "pi_low"], out.loc[live, "pi_high"] = q[0], q[1]
    out.loc[live, "p_top10"] = hits / n_sim
    out["rate_low"] = out["rate_high"] = np.nan
    out.loc[live, "rate_low"], out.loc[live, "rate_high"] = rq[0], rq[1]
    return out


def test_simulate_matches_the_plain_version(world: tuple[FitResult, pd.Series]) -> None:
    fit, _ = world
    cov = fit.design.copy()
    cov["households"] = fit.households
    cov.iloc[:5, cov.columns.get_loc("households")] = 0.0  # areas without households
    counts = pd.DataFrame({y: np.random.default_rng(y).poisson(fit.expected)
                           for y in (2018, 2019, 2020)}, index=fit.expected.index)
    hist = fit_predict(counts, cov, target_year=2021,
                       config=ModelConfig(family="poisson", features=FEATURES, history=True))
    cols = ["pi_low", "pi_high", "p_top10", "rate_low", "rate_high"]
    for f, rank_by in ((fit, "count"), (hist, "rate")):
        got = simulate(f, n_sim=70, seed=9, rank_by=rank_by, block=30,  # type: ignore[arg-type]
                       top_by="fires").frame()[cols]
        want = _slow_simulate(f, n_sim=70, seed=9, share=0.10, rank_by=rank_by, block=30)
        pd.testing.assert_frame_equal(got.astype(float), want[cols], check_exact=False,
                                      rtol=1e-12, atol=0)


# --------------------------------------------------------------------------- rank ranges


def _ranks_world(cov: pd.DataFrame, seed: int, tau: float
                 ) -> tuple[pd.DataFrame, pd.Series]:
    """Ten years of fires from a known model: covariate effects, a persistent area effect
    (sd *tau* on the log scale, the signal past fires carry), a -3% a year trend and a
    little year-to-year overdispersion. Returns the counts and each area's true relative
    rate, whose order is the true ranking."""
    rng = np.random.default_rng(seed)
    hh = cov["households"].to_numpy()
    x = cov[list(FEATURES)].to_numpy()
    rel = np.exp(x @ np.array([0.02, 0.6, 0.3]) + rng.normal(-tau**2 / 2, tau, len(cov)))
    years = range(2012, 2022)
    alpha = 0.05
    counts = {}
    for k, y in enumerate(years):
        mu = hh * 0.0006 * rel * np.exp(-0.03 * k)
        counts[y] = rng.poisson(rng.gamma(1 / alpha, alpha * mu))
    return pd.DataFrame(counts, index=cov.index), pd.Series(rel, index=cov.index)


def test_rank_ranges_cover_the_true_rank_at_their_nominal_rate(london: pd.DataFrame) -> None:
    # Independent truth: the order of the areas' true rates in a simulated service (800
    # London areas, about one fire a year each). The 90% range of every area's rank, in
    # the whole service and inside each of 8 groups of 100 areas, should hold its true
    # rank in about 90% of areas. Coverage is averaged over three services for each of a
    # weak and a strong history signal.
    cov = london.iloc[:800]
    groups = pd.Series(np.repeat([f"g{i}" for i in range(8)], 100), index=cov.index)
    for tau in (0.25, 0.6):
        service, inside_groups = [], []
        for seed in range(3):
            counts, rel = _ranks_world(cov, 50 + seed, tau)
            fit = fit_predict(counts, cov, target_year=2022, config=ModelConfig(
                features=FEATURES))
            res = simulate(fit, n_sim=1000, seed=seed, groups={"group": groups})
            true_rank = rel.rank(ascending=False)
            service.append(((true_rank >= res.rank_low) & (true_rank <= res.rank_high)).mean())
            g = res.groups["group"]
            true_in = rel.groupby(groups).rank(ascending=False)
            inside_groups.append(((true_in >= g.rank_low) & (true_in <= g.rank_high)).mean())
            # the ranges say something: far narrower than "anywhere"
            assert (res.rank_high - res.rank_low).median() < 0.75 * len(cov)
        assert 0.85 <= np.mean(service) <= 0.95, (tau, service)
        assert 0.85 <= np.mean(inside_groups) <= 0.95, (tau, inside_groups)


def _certain(fit: FitResult) -> FitResult:
    """The same fit with no parameter uncertainty and no uncertainty in any area's risk."""
    from dataclasses import replace

    # (a covariance of 1e-30 on the diagonal: the Cholesky draw needs it positive definite)
    tiny = pd.DataFrame(np.eye(len(fit.params)) * 1e-30, index=fit.cov_params.index,
                        columns=fit.cov_params.columns)
    return replace(fit, cov_params=tiny, risk_sd=fit.risk_sd * 0.0)


def test_rank_ranges_without_uncertainty_are_the_list_itself(
        world: tuple[FitResult, pd.Series]) -> None:
    # With no uncertainty at all every draw is the forecast: each range is the area's own
    # rank on the list, inside the service and inside its group; the chance of the top
    # group is 1 for the areas the list puts there and 0 for the rest; the band range is
    # the band and the chance of the band 1.
    fit = _certain(world[0])
    hh = fit.households
    groups = pd.Series(np.where(np.arange(len(hh)) % 3 == 0, "east", "west"), index=hh.index)
    bands = classify(fit.rate_per_1000, scheme="quantiles", k=5)
    res = simulate(fit, n_sim=40, seed=1, groups={"side": groups}, bands=bands)
    rate = fit.rate_per_1000
    on_list = rate.rank(ascending=False, method="first")
    assert res.rank.tolist() == on_list.tolist()
    assert res.rank_low.tolist() == on_list.tolist()
    assert res.rank_high.tolist() == on_list.tolist()
    g = res.groups["side"]
    in_group = rate.groupby(groups).rank(ascending=False, method="first")
    assert g.rank.tolist() == in_group.tolist()
    assert g.rank_low.tolist() == in_group.tolist()
    assert g.rank_high.tolist() == in_group.tolist()
    assert g.size.tolist() == groups.map(groups.value_counts()).tolist()
    top = top_share_mask(rate.to_numpy()[:, None], hh.to_numpy())[:, 0]
    assert res.p_top10.tolist() == top.astype(float).tolist()
    for side in ("east", "west"):
        rows = (groups == side).to_numpy()
        top_g = top_share_mask(rate.to_numpy()[rows][:, None], hh.to_numpy()[rows])[:, 0]
        assert g.p_top[rows].tolist() == top_g.astype(float).tolist()
    assert (res.band_low == bands.band_index).all()
    assert (res.band_high == bands.band_index).all()
    assert (res.band_chance == 1.0).all()


def test_rank_draws_match_a_direct_ranking_of_every_draw() -> None:
    # The simulation's ranking of every draw inside every group, held to pandas' rank on
    # each draw, and the top group to top_share_mask on each group's draw.
    from firerisk.risk.uncertainty import _rank_draws

    rng = np.random.default_rng(3)
    n, n_sim = 70, 37
    risk = rng.gamma(2.0, 1.0, (n, n_sim))
    hh = rng.integers(50, 400, n).astype(float)
    members = rng.choice(np.array(["a", "b", "c"], dtype=object), n)
    point = rng.permutation(n) + 1
    levels = np.array([0.05, 0.95])
    got, sorted_ranks = _rank_draws(risk, hh, point, members, 0.2, levels, block=8)
    frame = pd.DataFrame(risk)
    want = frame.groupby(members).rank(ascending=False).to_numpy()
    np.testing.assert_array_equal(sorted_ranks, np.sort(want, axis=1))
    q = np.quantile(want, levels, axis=1, method="inverted_cdf")
    point_in = pd.Series(point).groupby(members).rank().to_numpy()
    np.testing.assert_array_equal(got.low, np.minimum(q[0], point_in))
    np.testing.assert_array_equal(got.high, np.maximum(q[1], point_in))
    hits = np.zeros(n)
    for g in "abc":
        rows = members == g
        hits[rows] = top_share_mask(risk[rows], hh[rows], share=0.2).sum(axis=1)
    np.testing.assert_allclose(got.p_top, hits / n_sim)


def test_risk_uncertainty_shrinks_with_the_fires_an_area_has_had(london: pd.DataFrame) -> None:
    # The posterior of an area's relative risk is a gamma of shape 1/c + its past fires:
    # more past fires, a narrower range. Without the history term the model does not use
    # them, and every area keeps the prior's spread.
    counts, _ = _ranks_world(london.iloc[:800], 7, 0.5)
    cov = london.iloc[:800]
    fit = fit_predict(counts, cov, target_year=2022, config=ModelConfig(features=FEATURES))
    past = counts.sum(axis=1)
    assert fit.risk_sd.corr(past, method="spearman") < -0.95
    plain = fit_predict(counts, cov, target_year=2022,
                        config=ModelConfig(features=FEATURES, history=False))
    assert plain.risk_sd.nunique() == 1
    # the prior's spread is what an area with no past fire keeps; any fire narrows it
    assert plain.risk_sd.iloc[0] == pytest.approx(fit.risk_sd[past == 0].max(), rel=0.1)
    assert plain.risk_sd.iloc[0] > fit.risk_sd[past > 0].max()


def test_published_rank_ranges_only_widen_to_round_steps() -> None:
    from firerisk.risk.uncertainty import coarse_range, rank_step

    # by hand: 13-58 of 150 areas (step 5) -> 10-60; 3-7 -> 1-10 (never below 1th);
    # 1-1 of 30 (step 1) stays; 4,987-4,994 of 4,994 (step 10) -> 4,980-4,994 (never past
    # the last); 280-2,507 of 4,994 -> 280-2,510; no households -> missing
    low, high = coarse_range(np.array([13, 3, 1, 4987, 280, np.nan]),
                             np.array([58, 7, 1, 4994, 2507, np.nan]),
                             np.array([150, 150, 30, 4994, 4994, 150]))
    assert low.tolist() == [10, 1, 1, 4980, 280, pd.NA]
    assert high.tolist() == [60, 10, 1, 4994, 2510, pd.NA]
    assert [rank_step(n) for n in (30, 50, 51, 500, 501, 5000, 33755)] == [1, 1, 5, 5, 10, 10,
                                                                           50]
    rng = np.random.default_rng(2)
    lo = rng.integers(1, 200, 500)
    hi = lo + rng.integers(0, 100, 500)
    size = np.maximum(hi, rng.integers(1, 400, 500))
    c_lo, c_hi = coarse_range(lo, hi, size)
    assert (c_lo.to_numpy() <= lo).all()
    assert (c_hi.to_numpy() >= hi).all()
    assert (c_lo.to_numpy() >= 1).all()
    assert (c_hi.to_numpy() <= size).all()
