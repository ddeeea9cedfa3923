"""Simulation-based uncertainty: reproducibility, interval coverage, top-10% chances."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geo.profile import load_profile
from risk.bands import classify
from risk.features import build_features
from risk.model import FitResult, ModelConfig, fit_predict
from risk.uncertainty import simulate, top_share_mask

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
    # Without history the risk interval reflects parameter uncertainty only: narrow.
    assert rate.uncertain_band.mean() < res.uncertain_band.mean()
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
