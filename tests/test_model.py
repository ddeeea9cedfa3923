"""The count model: parameter recovery, family choice, leakage guard, history and space."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from libpysal.weights import lat2W

from firerisk.errors import ModelInputError
from firerisk.geo.profile import load_profile
from firerisk.risk.features import build_features
from firerisk.risk.model import HISTORY, INTERCEPT, LAG, FitResult, ModelConfig, fit_predict

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
FEATURES = ("imd_score", "social_rent_share", "flat_share")
TRUE = {INTERCEPT: np.log(0.002), "imd_score": 0.02, "social_rent_share": 0.5,
        "flat_share": 0.3}
ALPHA = 0.3


@pytest.fixture(scope="module")
def london() -> pd.DataFrame:
    """The real London LSOA covariates (IMD 2025, Census 2021) as the model sees them."""
    profile = load_profile(SAMPLE / "london.toml")
    imd = pd.read_csv(SAMPLE / "imd2025_london.csv").set_index("lsoa21_code")
    census = pd.read_csv(SAMPLE / "census2021_households_london.csv").set_index("lsoa21_code")
    raw = imd.join(census, how="inner")
    raw.index.name = "area_id"
    return build_features(raw, features=profile.features, exposure=profile.exposure)


def _true_mu(cov: pd.DataFrame) -> np.ndarray:
    """Expected counts under TRUE, features centred on their household-weighted means."""
    hh = cov["households"].to_numpy(dtype=float)
    eta = np.full(len(cov), TRUE[INTERCEPT]) + np.log(np.where(hh > 0, hh, 1.0))
    for f in FEATURES:
        x = cov[f].to_numpy(dtype=float)
        ok = np.isfinite(x) & (hh > 0)
        eta += TRUE[f] * np.where(ok, x - np.average(x[ok], weights=hh[ok]), 0.0)
    return np.where(hh > 0, np.exp(eta), 0.0)


def _nb(rng: np.random.Generator, mu: np.ndarray, alpha: float) -> np.ndarray:
    return rng.poisson(rng.gamma(1 / alpha, alpha * mu))


def _one_year(y: np.ndarray, index: pd.Index, year: int = 2020) -> pd.DataFrame:
    return pd.DataFrame({year: y.astype(int)}, index=index)


def test_parameter_recovery_on_the_london_geography(london: pd.DataFrame) -> None:
    mu = _true_mu(london)
    cfg = ModelConfig(family="negative_binomial", features=FEATURES, history=False)
    inside = dict.fromkeys([*TRUE, "alpha"], 0)
    for seed in range(50):
        y = _nb(np.random.default_rng(seed), mu, ALPHA)
        fit = fit_predict(_one_year(y, london.index), london, target_year=2021, config=cfg)
        assert fit.family == "negative_binomial"
        for c in fit.coefficients:
            inside[c.name] += c.ci_low <= TRUE[c.name] <= c.ci_high
        assert fit.alpha is not None
        assert fit.alpha_std_err is not None
        half = 1.96 * fit.alpha_std_err
        inside["alpha"] += fit.alpha - half <= ALPHA <= fit.alpha + half
    assert all(n >= 45 for n in inside.values()), inside


def test_poisson_data_fall_back_to_poisson_and_say_why(london: pd.DataFrame) -> None:
    y = np.random.default_rng(7).poisson(_true_mu(london))
    fit = fit_predict(_one_year(y, london.index), london, target_year=2021,
                      config=ModelConfig(features=FEATURES, history=False))
    assert fit.family == "poisson"
    assert fit.fell_back_to_poisson
    assert "not overdispersed" in fit.fallback_reason
    assert fit.overdispersion_p is not None
    assert fit.overdispersion_p >= 0.05
    assert "likelihood-ratio" in fit.overdispersion_test
    assert fit.alpha is None
    table = fit.coef_table()
    for name, value in TRUE.items():
        assert table.loc[name, "ci_low"] <= value <= table.loc[name, "ci_high"]
    assert table.loc["social_rent_share", "rate_ratio"] == pytest.approx(
        np.exp(table.loc["social_rent_share", "estimate"]))


def test_overdispersed_data_keep_the_negative_binomial(london: pd.DataFrame) -> None:
    y = _nb(np.random.default_rng(3), _true_mu(london), ALPHA)
    fit = fit_predict(_one_year(y, london.index), london, target_year=2021,
                      config=ModelConfig(features=FEATURES, history=False))
    assert fit.family == "negative_binomial"
    assert not fit.fell_back_to_poisson
    assert fit.fallback_reason == ""
    assert fit.overdispersion_p is not None
    assert fit.overdispersion_p < 1e-6
    assert fit.deviance > 0
    assert fit.n == len(london)
    # The forecast for a covariate-only model is the fitted mean: households x rate.
    np.testing.assert_allclose(fit.expected.sum(), y.sum(), rtol=0.05)


def test_counts_from_the_target_year_or_later_are_refused(london: pd.DataFrame) -> None:
    counts = pd.DataFrame({2019: 1, 2020: 2, 2021: 0}, index=london.index[:50])
    with pytest.raises(ModelInputError, match=r"\[2021\].*leak"):
        fit_predict(counts, london, target_year=2021, config=ModelConfig())
    with pytest.raises(ModelInputError, match=r"\[2020, 2021\]"):
        fit_predict(counts, london, target_year=2020, config=ModelConfig())


def test_bad_inputs_are_reported_together(london: pd.DataFrame) -> None:
    counts = pd.DataFrame({2018: [1, -1], 2020: [0, 2]}, index=["nowhere", london.index[0]])
    with pytest.raises(ModelInputError) as info:
        fit_predict(counts, london, target_year=2021,
                    config=ModelConfig(features=("imd_score", "no_such"), spatial_lag=True))
    text = str(info.value)
    for part in ("not consecutive", "whole numbers", "no covariates", "no_such",
                 "spatial weights"):
        assert part in text
    with pytest.raises(ModelInputError, match="history_decay"):
        ModelConfig(history_decay=0.0)


def _panel(cov: pd.DataFrame, years: range, frailty_sd: float, seed: int) -> pd.DataFrame:
    """Yearly NB counts with a persistent area effect (the 'history' signal)."""
    rng = np.random.default_rng(seed)
    mu = _true_mu(cov) * np.exp(rng.normal(-frailty_sd**2 / 2, frailty_sd, len(cov)))
    return pd.DataFrame({y: _nb(rng, mu, 0.05) for y in years}, index=cov.index)


def test_history_term_uses_only_past_years_and_improves_the_forecast(
        london: pd.DataFrame) -> None:
    panel = _panel(london, range(2009, 2016), frailty_sd=0.6, seed=11)
    past = panel[list(range(2009, 2015))]
    fit = fit_predict(past, london, target_year=2015, config=ModelConfig(features=FEATURES))
    assert fit.training_years == (2012, 2013, 2014)
    assert fit.history_window == tuple(range(2009, 2015))
    assert fit.recent_years == tuple(range(2010, 2015))
    assert fit.recent_observed.equals(past[list(range(2010, 2015))].sum(axis=1)
                                      .astype(int).rename("recent_observed"))
    hist = fit.coef_table().loc[HISTORY]
    assert hist["ci_low"] > 0
    same = fit_predict(past, london, target_year=2015,
                       config=ModelConfig(features=FEATURES, same_window=True))
    assert same.history_window == tuple(range(2010, 2015))
    # Out of sample, on year 2015 which the fit never saw: history beats covariates only.
    plain = fit_predict(past, london, target_year=2015,
                        config=ModelConfig(features=FEATURES, history=False))
    actual = panel[2015].to_numpy()

    def poisson_deviance(mu: pd.Series) -> float:
        m = mu.to_numpy()
        term = np.where(actual > 0, actual * np.log(np.where(actual > 0, actual, 1) / m), 0)
        return float(2 * np.sum(term - (actual - m)))

    assert poisson_deviance(fit.expected) < poisson_deviance(plain.expected) - 100


def test_changing_a_future_year_does_not_change_the_forecast(london: pd.DataFrame) -> None:
    panel = _panel(london, range(2012, 2018), frailty_sd=0.4, seed=5)
    cfg = ModelConfig(features=FEATURES)
    a = fit_predict(panel[[2012, 2013, 2014, 2015]], london, target_year=2016, config=cfg)
    b = fit_predict(panel[[2012, 2013, 2014, 2015]], london, target_year=2016, config=cfg)
    assert a == b  # the statsmodels object and the Series are kept out of equality
    assert a.expected.equals(b.expected)
    pooled = fit_predict(panel[[2012, 2013, 2014, 2015]], london, target_year=2016,
                         config=ModelConfig(features=FEATURES, training_years=2,
                                            year_effect="separate"))
    assert pooled.training_years == (2014, 2015)
    assert pooled.n == 2 * len(london)
    assert "year_2014" in pooled.coef_table().index
    assert "year_2014" not in pooled.feature_values.columns


def test_pooled_years_recover_the_coefficients_and_the_year_trend(
        london: pd.DataFrame) -> None:
    # Known truth on the London geography: the covariate effects of TRUE, a year trend of
    # -4% a year (log scale) and NB2 alpha 0.3, independent over area-years. Four response
    # years are pooled; the trend term is (year - target), so the intercept is the level
    # of the target year, 2021.
    trend = -0.04
    mu = _true_mu(london)
    years = range(2017, 2021)
    cfg = ModelConfig(family="negative_binomial", features=FEATURES, history=False,
                      training_years=None, year_effect="trend")
    truth = {**TRUE, "year_trend": trend}
    inside = dict.fromkeys([*truth, "alpha"], 0)
    for seed in range(20):
        rng = np.random.default_rng(100 + seed)
        # TRUE's intercept is the level of the target year; earlier years are higher.
        counts = pd.DataFrame({y: _nb(rng, mu * np.exp(trend * (y - 2021)), ALPHA)
                               for y in years}, index=london.index)
        fit = fit_predict(counts, london, target_year=2021, config=cfg)
        assert fit.training_years == tuple(years)
        assert fit.n == 4 * len(london)
        for c in fit.coefficients:
            inside[c.name] += c.ci_low <= truth[c.name] <= c.ci_high
        assert fit.alpha is not None
        assert fit.alpha_std_err is not None
        inside["alpha"] += abs(fit.alpha - ALPHA) <= 1.96 * fit.alpha_std_err
        # The forecast is at the trend's level in 2021, a year past the last data (an
        # extrapolation 2.5 years past the years' mean: its standard error is about 1.7%).
        assert fit.expected.sum() == pytest.approx(mu.sum(), rel=0.06)
    assert all(n >= 17 for n in inside.values()), inside
    # One level per year instead: the year indicators are the trend's steps from 2020.
    sep = fit_predict(counts, london, target_year=2021,
                      config=ModelConfig(family="negative_binomial", features=FEATURES,
                                         history=False, training_years=None,
                                         year_effect="separate"))
    table = sep.coef_table()
    for y in (2017, 2018, 2019):
        assert table.loc[f"year_{y}", "ci_low"] <= trend * (y - 2020) <= table.loc[
            f"year_{y}", "ci_high"]


def test_pooled_history_terms_use_only_years_before_their_response_year(
        london: pd.DataFrame) -> None:
    # With a persistent area effect and the history term on, each pooled response year's
    # history is built from the years before it: the stacked design must equal
    # history_design on those years, and the trend is still recovered.
    from firerisk.risk.model import CountModel, history_design

    cov = london.iloc[:1500]
    rng = np.random.default_rng(21)
    frailty = np.exp(rng.normal(-0.18, 0.6, len(cov)))
    mu = _true_mu(cov) * frailty
    counts = pd.DataFrame({y: _nb(rng, mu * np.exp(-0.05 * (y - 2021)), 0.05)
                           for y in range(2012, 2021)}, index=cov.index)
    cfg = ModelConfig(features=FEATURES, training_years=3)
    model = CountModel.from_counts(counts, cov, target_year=2021, config=cfg)
    design = model.design
    assert design.train_years == [2018, 2019, 2020]
    assert design.spans == {2018: 6, 2019: 7, 2020: 8, 2021: 9}
    col = design.names.index(HISTORY)
    for yr in design.train_years:
        want = history_design(counts, cov["households"], years=list(range(2012, yr)),
                              config=cfg)[HISTORY]
        rows = design.year_of_row == yr
        np.testing.assert_allclose(design.exog[rows, col], want.to_numpy(), rtol=0, atol=0)
    fit = model.fit()
    table = fit.coef_table()
    assert table.loc["year_trend", "ci_low"] <= -0.05 <= table.loc["year_trend", "ci_high"]
    assert table.loc[HISTORY, "ci_low"] > 0.5


def test_zero_households_are_left_out_expected_zero_and_flagged(
        london: pd.DataFrame) -> None:
    cov = london.iloc[:400].copy()
    cov.iloc[0, cov.columns.get_loc("households")] = 0
    cov.iloc[0, cov.columns.get_loc("social_rent_share")] = np.nan
    cov.iloc[1, cov.columns.get_loc("flat_share")] = np.nan
    panel = _panel(cov, range(2016, 2020), frailty_sd=0.3, seed=2)
    panel.iloc[0] = 0
    fit = fit_predict(panel, cov, target_year=2020, config=ModelConfig(features=FEATURES))
    first, second = cov.index[0], cov.index[1]
    assert fit.expected[first] == 0
    assert "no households" in fit.flags[first]
    assert "flat_share" in fit.flags[second]
    assert fit.expected[second] > 0
    assert fit.n == 3 * 398  # three response years pooled
    assert (fit.flags != "").sum() == 2
    assert np.isnan(fit.rate_per_1000[first])


def test_residual_moran_detects_spatial_structure_and_spatial_lag_runs() -> None:
    side = 30
    w = lat2W(side, side, rook=False)
    ids = [f"g{i}" for i in range(side * side)]
    w.remap_ids(ids)
    rng = np.random.default_rng(4)
    cov = pd.DataFrame({"households": 500.0, "imd_score": rng.normal(20, 8, side * side)},
                       index=ids)
    rows, cols = np.divmod(np.arange(side * side), side)
    smooth = np.sin(rows / 5.0) + np.cos(cols / 4.0)  # a spatial pattern not in the model
    base = 500 * 0.004 * np.exp(0.03 * (cov["imd_score"].to_numpy() - 20))
    clustered = pd.DataFrame({y: rng.poisson(base * np.exp(0.5 * smooth))
                              for y in range(2015, 2019)}, index=ids)
    plain = pd.DataFrame({y: rng.poisson(base) for y in range(2015, 2019)}, index=ids)
    cfg = ModelConfig(features=("imd_score",), history=False)
    m_clustered = fit_predict(clustered, cov, target_year=2019, config=cfg, weights=w)
    m_plain = fit_predict(plain, cov, target_year=2019, config=cfg, weights=w)
    assert m_clustered.residual_moran is not None
    assert m_plain.residual_moran is not None
    assert m_clustered.residual_moran.i > 0.2
    assert m_clustered.residual_moran.p_value < 0.001
    assert m_plain.residual_moran.p_value > 0.001
    assert fit_predict(plain, cov, target_year=2019, config=cfg).residual_moran is None
    lagged = fit_predict(clustered, cov, target_year=2019,
                         config=ModelConfig(features=("imd_score",), spatial_lag=True),
                         weights=w)
    assert LAG in lagged.coef_table().index
    assert lagged.coef_table().loc[LAG, "estimate"] > 0


def test_fit_result_is_frozen_and_summarises(london: pd.DataFrame) -> None:
    y = _nb(np.random.default_rng(9), _true_mu(london), ALPHA)
    fit = fit_predict(_one_year(y, london.index), london, target_year=2021,
                      config=ModelConfig(features=FEATURES, history=False))
    assert isinstance(fit, FitResult)
    with pytest.raises(AttributeError):
        fit.family = "poisson"  # type: ignore[misc]
    summary = fit.summary()
    assert summary["family"] == "negative_binomial"
    assert [c["name"] for c in summary["coefficients"]] == [INTERCEPT, *FEATURES]
    assert "results" not in repr(fit)
    assert set(fit.feature_means) == set(FEATURES)
