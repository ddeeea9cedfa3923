"""Plain-language reasons: a hand-computed three-area case and a fitted model."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from firerisk.risk.explain import contributions, explain, explain_fit
from firerisk.risk.model import HISTORY, INTERCEPT, ModelConfig, fit_predict
from firerisk.specs import FeatureSpec

FEATURES = (
    FeatureSpec(name="social", label="Social renting", numerator=("a",), denominator="b",
                unit="percent"),
    FeatureSpec(name="imd", label="Deprivation score", column="IMD", unit="score"),
    FeatureSpec(name="flats", label="Living in flats", numerator=("c",), denominator="b",
                unit="percent"),
)
COEFS = {"social": 1.0, "imd": 0.02, "flats": 0.5, HISTORY: 0.8, INTERCEPT: -7.0}
MEANS = {"social": 0.23, "imd": 20.0, "flats": 0.50, HISTORY: 0.0}
VALUES = pd.DataFrame(
    {"social": [0.48, 0.10, 0.20], "imd": [30.0, 10.0, 15.0], "flats": [0.40, 0.30, 0.90],
     HISTORY: [math.log(2.0), -0.5, -0.1]},
    index=["A", "B", "C"])
OBSERVED = pd.Series([7, 0, 3], index=["A", "B", "C"])
EXPECTED = pd.Series([3.2, 2.5, 4.0], index=["A", "B", "C"])


def _small(n: int) -> str:
    return "<5" if 1 <= n <= 4 else str(n)


def test_contributions_are_coefficient_times_distance_from_the_average() -> None:
    got = contributions(VALUES, coefficients=COEFS, means=MEANS)
    # Area A: social 1.0 * (0.48 - 0.23) = 0.25; imd 0.02 * (30 - 20) = 0.2;
    #         flats 0.5 * (0.40 - 0.50) = -0.05; history 0.8 * ln 2 = 0.5545
    assert got.loc["A"].to_dict() == pytest.approx(
        {"social": 0.25, "imd": 0.2, "flats": -0.05, HISTORY: 0.8 * math.log(2)})
    # Area C: social -0.03, imd -0.1, flats 0.5 * 0.4 = 0.2, history -0.08
    assert got.loc["C"].to_dict() == pytest.approx(
        {"social": -0.03, "imd": -0.1, "flats": 0.2, HISTORY: -0.08})
    assert INTERCEPT not in got.columns


def test_three_area_sentences() -> None:
    out = explain(VALUES, coefficients=COEFS, means=MEANS, features=FEATURES,
                  recent_observed=OBSERVED, recent_expected=EXPECTED, history_years=5)
    assert out.columns.tolist() == ["reason_1", "reason_2", "reason_3"]
    # A: history (0.55) > social (0.25) > imd (0.2); flats is negative and left out.
    assert out.loc["A"].tolist() == [
        "7 fires in the last 5 years (typical for this many homes: 3)",
        "Social renting 48% (service average 23%)",
        "Deprivation score 30.0 (service average 20.0)",
    ]
    # B is below the service average on every factor: no reasons.
    assert out.loc["B"].tolist() == ["", "", ""]
    # C: only flats raises the risk.
    assert out.loc["C"].tolist() == ["Living in flats 90% (service average 50%)", "", ""]


def test_counts_go_through_the_formatter() -> None:
    values = VALUES.copy()
    observed = OBSERVED.copy()
    observed["A"] = 4  # 4 > expected 3, but a small number
    out = explain(values, coefficients=COEFS, means=MEANS, features=FEATURES,
                  recent_observed=observed, recent_expected=EXPECTED,
                  count_formatter=_small)
    assert out.loc["A", "reason_1"] == "<5 fires in the last 5 years (typical for this many homes: 3)"
    observed["A"] = 1
    expected = EXPECTED.copy()
    expected["A"] = 0.3
    out = explain(values, coefficients=COEFS, means=MEANS, features=FEATURES,
                  recent_observed=observed, recent_expected=expected)
    assert out.loc["A", "reason_1"] == "1 fire in the last 5 years (typical for this many homes: 0)"
    # If the recent count is not above expected, the sentence speaks of past years.
    observed["A"] = 2
    out = explain(values, coefficients=COEFS, means=MEANS, features=FEATURES,
                  recent_observed=observed, recent_expected=EXPECTED)
    assert out.loc["A", "reason_1"] == "Fires here in past years 2.0 times the service average"


def test_fitted_contributions_add_up_to_the_forecast() -> None:
    rng = np.random.default_rng(0)
    n = 300
    idx = [f"x{i}" for i in range(n)]
    cov = pd.DataFrame({"households": rng.integers(300, 900, n).astype(float),
                        "social": rng.uniform(0, 0.8, n), "imd": rng.uniform(5, 60, n),
                        "flats": rng.uniform(0, 1, n)}, index=idx)
    rate = 0.002 * np.exp(0.8 * cov["social"] + 0.02 * cov["imd"])
    counts = pd.DataFrame({y: rng.poisson(rate * cov["households"]) for y in range(2015, 2021)},
                          index=idx)
    fit = fit_predict(counts, cov, target_year=2021, config=ModelConfig())
    coefs = {c.name: c.estimate for c in fit.coefficients}
    parts = contributions(fit.feature_values, coefficients=coefs, means=fit.feature_means)
    assert set(parts.columns) == {"social", "imd", "flats", HISTORY}
    # log(expected / households) = intercept + sum of contributions, for every area.
    log_rate = np.log(fit.expected / fit.households)
    np.testing.assert_allclose(parts.sum(axis=1) + coefs[INTERCEPT], log_rate, rtol=1e-10)
    out = explain_fit(fit, features=FEATURES, count_formatter=_small)
    top = parts.idxmax(axis=1)
    area = parts.max(axis=1).idxmax()
    label = {"social": "Social renting", "imd": "Deprivation score", "flats": "Living in flats",
             HISTORY: "fire"}[top[area]]
    assert label in out.loc[area, "reason_1"]


def test_skipped_factors_are_never_reasons() -> None:
    out = explain(VALUES, coefficients=COEFS, means=MEANS, features=FEATURES,
                  recent_observed=OBSERVED, recent_expected=EXPECTED, skip=[HISTORY])
    assert out.loc["A"].tolist() == [
        "Social renting 48% (service average 23%)",
        "Deprivation score 30.0 (service average 20.0)",
        "",
    ]


def test_explain_fit_leaves_out_unclear_effects() -> None:
    rng = np.random.default_rng(1)
    n = 400
    idx = [f"y{i}" for i in range(n)]
    cov = pd.DataFrame({"households": 600.0, "social": rng.uniform(0, 0.8, n),
                        "imd": rng.uniform(5, 60, n), "flats": rng.uniform(0, 1, n)},
                       index=idx)
    rate = 0.003 * np.exp(0.04 * cov["imd"])  # social renting and flats have no effect
    counts = pd.DataFrame({2020: rng.poisson(rate * 600)}, index=idx)
    fit = fit_predict(counts, cov, target_year=2021, config=ModelConfig(history=False))
    table = fit.coef_table()
    unclear = [f for f in ("social", "flats")
               if table.loc[f, "ci_low"] <= 0 <= table.loc[f, "ci_high"]]
    assert unclear  # with no true effect, at least one interval includes 0 here
    text = " ".join(explain_fit(fit, features=FEATURES).to_numpy().ravel())
    labels = {"social": "Social renting", "flats": "Living in flats"}
    for f in unclear:
        assert labels[f] not in text
    assert "Deprivation score" in text
    everything = " ".join(explain_fit(fit, features=FEATURES, clear_effects_only=False)
                          .to_numpy().ravel())
    assert any(labels[f] in everything for f in unclear)


def test_places_and_chances_in_words() -> None:
    from firerisk.risk.explain import band_range_text, chance_text, ordinal, place_text

    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111, 2510)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st", "111th",
        "2,510th"]
    assert place_text(47, 10, 120, of=229, where="Croydon") == (
        "47th of 229 in Croydon (likely between 10th and 120th)")
    assert place_text(1, 1, 1, of=None) == "1st (likely 1st)"
    assert place_text(5, None, None, of=4994) == "5th of 4,994"
    assert place_text(float("nan"), 1, 2, of=10) == ""
    assert [chance_text(p) for p in (1.0, 0.98, 0.94, 0.63, 0.5, 0.06, 0.03, 0.001)] == [
        "almost certainly", "almost certainly", "about 9 in 10", "about 6 in 10",
        "about 5 in 10", "about 1 in 10", "less than 1 in 10", "almost never"]
    assert chance_text(None) == ""
    assert band_range_text("High", "Very high") == "High to Very high"
    assert band_range_text("Low", "Low") == "only Low"
    assert band_range_text(None, "Low") == ""
