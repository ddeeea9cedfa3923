"""Empirical-Bayes rates and SIRs: hand-computed cases and the esda reference."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from esda.smoothing import Empirical_Bayes
from libpysal import examples

from firerisk.risk.smoothing import eb_rate, eb_weights, sir

# Three areas: counts y, exposure n.
Y = pd.Series([1.0, 10.0, 30.0], index=["a", "b", "c"])
N = pd.Series([100.0, 100.0, 200.0], index=["a", "b", "c"])


def test_global_eb_matches_hand_arithmetic() -> None:
    # m  = 41 / 400 = 0.1025;  raw rates r = 0.01, 0.10, 0.15
    # sum n (r - m)^2 = 100 * 0.0925^2 + 100 * 0.0025^2 + 200 * 0.0475^2
    #                 = 0.855625 + 0.000625 + 0.45125 = 1.3075
    # s^2 = 1.3075 / 400 = 0.00326875;  m / mean(n) = 0.1025 / (400 / 3) = 0.00076875
    # A   = 0.00326875 - 0.00076875 = 0.0025
    # w_a = 0.0025 / (0.0025 + 0.1025 / 100) = 0.0025 / 0.003525  = 0.709220
    # w_c = 0.0025 / (0.0025 + 0.1025 / 200) = 0.0025 / 0.0030125 = 0.829876
    # EB_a = 0.709220 * 0.01 + 0.290780 * 0.1025 = 0.036897
    # EB_b = 0.709220 * 0.10 + 0.290780 * 0.1025 = 0.100727
    # EB_c = 0.829876 * 0.15 + 0.170124 * 0.1025 = 0.141919
    got = eb_rate(Y, N)
    assert got.index.tolist() == ["a", "b", "c"]
    assert got.to_numpy() == pytest.approx([0.036897, 0.100727, 0.141919], abs=2e-6)
    assert eb_weights(Y, N).to_numpy() == pytest.approx([0.709220, 0.709220, 0.829876],
                                                        abs=2e-6)


def test_eb_toward_a_per_area_prior_matches_hand_arithmetic() -> None:
    # prior m_i = 0.02, 0.05, 0.20
    # sum n (r - m)^2 = 100 * 0.01^2 + 100 * 0.05^2 + 200 * 0.05^2 = 0.01 + 0.25 + 0.5 = 0.76
    # A = (0.76 - sum m) / sum n = (0.76 - 0.27) / 400 = 0.001225
    # w = A / (A + m/n): 0.001225/0.001425 = 0.859649, 0.001225/0.001725 = 0.710145,
    #                    0.001225/0.002225 = 0.550562
    # EB = 0.859649*0.01 + 0.140351*0.02 = 0.011404
    #      0.710145*0.10 + 0.289855*0.05 = 0.085507
    #      0.550562*0.15 + 0.449438*0.20 = 0.172472
    prior = pd.Series([0.02, 0.05, 0.20], index=Y.index)
    got = eb_rate(Y, N, prior_mean=prior)
    assert got.to_numpy() == pytest.approx([0.011404, 0.085507, 0.172472], abs=2e-6)


def test_constant_prior_equal_to_global_rate_is_the_global_estimator() -> None:
    assert eb_rate(Y, N, prior_mean=41 / 400).to_numpy() == pytest.approx(
        eb_rate(Y, N).to_numpy(), rel=1e-12)


def test_no_extra_variation_shrinks_everything_to_the_mean() -> None:
    # y = 2, 3, 10 on n = 100, 100, 200: m = 0.0375, s^2 = 0.0675 / 400 = 0.00016875 is
    # below m / mean(n) = 0.00028125, so A is negative -> 0 and every area gets m.
    got = eb_rate([2, 3, 10], np.array([100.0, 100.0, 200.0]))
    assert got.to_numpy() == pytest.approx([0.0375] * 3)


def test_proportional_variance_is_the_poisson_gamma_credibility_rate() -> None:
    prior = pd.Series([0.02, 0.05, 0.20], index=Y.index)
    # c = (sum n (r - m)^2 - sum m) / sum n m^2 = (0.76 - 0.27) / (0.04 + 0.25 + 8.0)
    c = 0.49 / 8.29
    k = 1 / c
    expected = [m * (y + k) / (n * m + k) for y, n, m in zip(Y, N, prior, strict=True)]
    got = eb_rate(Y, N, prior_mean=prior, variance="proportional")
    assert got.to_numpy() == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize(("events", "base"), [("SID74", "BIR74"), ("SID79", "BIR79")])
def test_matches_esda_empirical_bayes_on_sids2(events: str, base: str) -> None:
    frame = gpd.read_file(examples.get_path("sids2.shp"))
    ref = Empirical_Bayes(frame[events].to_numpy(), frame[base].to_numpy()).r.ravel()
    got = eb_rate(frame[events], frame[base]).to_numpy()
    assert got == pytest.approx(ref, rel=1e-10)
    # And it does shrink: the smoothed rates vary less than the raw ones.
    raw = frame[events] / frame[base]
    assert got.std() < raw.std()


def test_zero_exposure_gets_the_prior_and_bad_inputs_are_refused() -> None:
    got = eb_rate(pd.Series([0.0, 5.0, 9.0]), pd.Series([0.0, 100.0, 120.0]))
    assert got.iloc[0] == pytest.approx(14 / 220)
    with pytest.raises(ValueError, match="0 or more"):
        eb_rate([1.0, -1.0], [10.0, 10.0])
    with pytest.raises(ValueError, match="same areas"):
        eb_rate(Y, N.rename(index={"a": "z"}))


def test_series_are_aligned_by_area_not_position() -> None:
    assert eb_rate(Y, N.iloc[::-1]).to_numpy() == pytest.approx(eb_rate(Y, N).to_numpy())


def test_sir_hand_case() -> None:
    got = sir(pd.Series([6, 0, 3], index=list("xyz")), pd.Series([3.0, 2.0, 0.0],
                                                                  index=list("xyz")))
    assert got["x"] == pytest.approx(2.0)
    assert got["y"] == pytest.approx(0.0)
    assert np.isnan(got["z"])


def test_relative_prior_variance_and_posterior_spread_match_a_simulation() -> None:
    # Poisson-gamma truth: theta ~ Gamma(1/c, scale c) (mean 1, variance c), exposure
    # n (rate m per unit), y ~ Poisson(n m theta). The method of moments recovers c, and
    # among the areas that had exactly k events the spread of log(theta) is the posterior
    # one the formula gives (by simulation, not by the formula's own algebra).
    from firerisk.risk.smoothing import log_relative_risk_sd, relative_prior_variance

    rng = np.random.default_rng(12)
    c, m, n_areas = 0.3, 0.002, 200_000
    n = rng.integers(2000, 6000, n_areas).astype(float)
    theta = rng.gamma(1 / c, c, n_areas)
    y = rng.poisson(n * m * theta)
    assert relative_prior_variance(y, n, prior_mean=m) == pytest.approx(c, rel=0.05)
    # Same exposure for the posterior check, so areas with k events share one posterior.
    n_same = np.full(n_areas, 4000.0)
    y_same = rng.poisson(n_same * m * theta)
    sd = log_relative_risk_sd(y_same, n_same, prior_mean=m)
    for k in (0, 5, 12):
        sel = y_same == k
        assert sel.sum() > 2000
        assert sd[sel].iloc[0] == pytest.approx(np.log(theta[sel]).std(), rel=0.06), k
    assert log_relative_risk_sd(y_same, n_same, prior_mean=m, use_counts=False).nunique() == 1
    # Poisson noise alone (no spread between areas): c = 0 and no extra uncertainty.
    flat = rng.poisson(n * m)
    assert relative_prior_variance(flat, n, prior_mean=m) == pytest.approx(0.0, abs=0.01)
