"""Tests for the rolling-origin backtest (risk/evaluate.py).

Truth comes from tiny cases worked out by hand (in the comments), a brute-force
capture computed area by area, statsmodels/esda for deviance and EB rates, and a
naive loop over explicit bootstrap resamples.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from esda.smoothing import Empirical_Bayes

from firerisk.risk.evaluate import (
    BASELINES,
    BacktestResult,
    EvaluationError,
    backtest,
    capture_curve,
    capture_difference,
    capture_share,
    compare_models,
    format_table,
    unit_deviance,
)
from firerisk.risk.model import ModelConfig, fit_predict

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"

# --------------------------------------------------------------------------- helpers


@dataclass
class _Fit:
    expected: pd.Series
    residual_moran: float | None = None


@dataclass
class _Spy:
    """A fit that records what it was given and forecasts the mean of what it saw
    (plus 1 when the config asks for a Poisson family, to tell configs apart)."""

    seen: list[tuple[int, list[int], pd.DataFrame]] = field(default_factory=list)

    def __call__(self, counts: pd.DataFrame, covariates: pd.DataFrame, *, target_year: int,
                 config: ModelConfig, weights: Any = None) -> _Fit:
        self.seen.append((target_year, [int(c) for c in counts.columns], counts.copy()))
        shift = 1.0 if config.family == "poisson" else 0.0
        return _Fit(counts.mean(axis=1) + 0.05 + shift, residual_moran=0.1)


def _fixed_fit(expected: dict[str, float]) -> Callable[..., _Fit]:
    def fit(counts: pd.DataFrame, covariates: pd.DataFrame, *, target_year: int,
            config: ModelConfig, weights: Any = None) -> _Fit:
        return _Fit(pd.Series(expected))
    return fit


def _brute_capture(score: list[float], h: list[float], y: list[float], share: float) -> float:
    """Area by area, no ties: walk down the ranking, last area counted fractionally."""
    order = sorted(range(len(score)), key=lambda i: -score[i])
    budget = share * sum(h)
    used = found = 0.0
    for i in order:
        if h[i] == 0:
            if used <= budget:
                found += y[i]
            continue
        take = min(max(budget - used, 0.0), h[i])
        found += y[i] * take / h[i]
        used += h[i]
    return found / sum(y)


# The hand-built example used by several tests.
#   area  households  2013 2014 2015 2016   imd
#   A         10        1    2    4    3     10
#   B        150        0    1    1    2     30
#   C         40        2    0    3    4     30
#   D          0        0    5    0    1      5
# 10 + 150 + 40 + 0 = 200 households, so budgets are 10 / 20 / 40 households
# for k = 5 / 10 / 20. Origin 2016 has 3 + 2 + 4 + 1 = 10 incidents.
def _tiny() -> tuple[pd.DataFrame, pd.DataFrame]:
    idx = pd.Index(["A", "B", "C", "D"], name="area_id")
    counts = pd.DataFrame({2013: [1, 0, 2, 0], 2014: [2, 1, 0, 5], 2015: [4, 1, 3, 0],
                           2016: [3, 2, 4, 1]}, index=idx)
    cov = pd.DataFrame({"households": [10.0, 150.0, 40.0, 0.0],
                        "imd_score": [10.0, 30.0, 30.0, 5.0]}, index=idx)
    return counts, cov


def _tiny_result(**kw: Any) -> BacktestResult:
    counts, cov = _tiny()
    fit = _fixed_fit({"A": 1.0, "B": 5.0, "C": 2.0, "D": 0.5})
    args: dict[str, Any] = {"full_years": [2013, 2014, 2015, 2016], "origins": [2016],
                            "config": ModelConfig(), "window_years": 2, "bootstrap": 0, "fit": fit}
    args.update(kw)
    return backtest(counts, cov, **args)


def _synthetic(n: int = 300, years: range = range(2010, 2021),
               seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Areas with stable, varied rates per household: a realistic small test bed."""
    rng = np.random.default_rng(seed)
    idx = pd.Index([f"E{i:04d}" for i in range(n)], name="area_id")
    hh = rng.integers(300, 900, n).astype(float)
    imd = rng.gamma(3.0, 8.0, n)
    rate = 0.0005 * np.exp(0.03 * imd) * rng.gamma(4.0, 0.25, n)
    counts = pd.DataFrame({y: rng.poisson(rate * hh) for y in years}, index=idx)
    cov = pd.DataFrame({"households": hh, "imd_score": imd}, index=idx)
    return counts, cov


# --------------------------------------------------------------------------- capture


def test_capture_equal_households_no_ties() -> None:
    # 4 areas of 100 households, 10 incidents. 25% = 100 households = the top area: 5/10.
    # 30% = 120 households = top area + 20/100 of the second: (5 + 0.2*3)/10 = 0.56.
    h, y, s = [100, 100, 100, 100], [5, 3, 2, 0], [4, 3, 2, 1]
    assert capture_share(s, h, y, share=0.25) == pytest.approx(0.5)
    assert capture_share(s, h, y, share=0.30) == pytest.approx(0.56)
    assert capture_share(s, h, y, share=0.0) == 0.0
    assert capture_share(s, h, y, share=1.0) == pytest.approx(1.0)


def test_capture_ties_share_the_boundary_and_ignore_input_order() -> None:
    # Scores 4, 3, 3, 1: the two tied areas (3+2 incidents, 200 households) form one block.
    # 50% = 200 households: top area (5) + 100/200 of the block (0.5*5) = 7.5 of 10.
    h, y, s = [100, 100, 100, 100], [5, 3, 2, 0], [4, 3, 3, 1]
    assert capture_share(s, h, y, share=0.5) == pytest.approx(0.75)
    for perm in itertools.permutations(range(4)):
        p = list(perm)
        assert capture_share(np.array(s)[p], np.array(h)[p], np.array(y)[p],
                             share=0.5) == pytest.approx(0.75)


def test_capture_household_weights() -> None:
    # households 50, 300, 50, 100 (500); 20% = 100 households: the first area (50 hh,
    # 2 incidents) plus 50/300 of the second (6 incidents -> 1): 3 of 10 = 0.3.
    h, y, s = [50, 300, 50, 100], [2, 6, 1, 1], [4, 3, 2, 1]
    assert capture_share(s, h, y, share=0.2) == pytest.approx(0.3)
    # ranked by rate instead the small areas go first: 50+50 hh = 20% holds 2+1 = 0.3
    assert capture_share([4, 1, 3, 2], h, y, share=0.2) == pytest.approx(0.3)


def test_capture_zero_household_area() -> None:
    # households 0, 100, 100; 10% = 20 households. The zero-household area (2 incidents)
    # costs nothing, then 20/100 of the next (3 -> 0.6): 2.6 of 10.
    h, y = [0, 100, 100], [2, 3, 5]
    assert capture_share([9, 5, 1], h, y, share=0.1) == pytest.approx(0.26)
    # ranked last it is still found when every household is visited
    assert capture_share([1, 5, 9], h, y, share=1.0) == pytest.approx(1.0)
    # at an exact boundary it counts: 50% = 100 hh = first area; households above the
    # zero area (100) do not exceed the budget, so it is in: (1 + 1) / 4
    assert capture_share([3, 2, 1], [100, 0, 100], [1, 1, 2], share=0.5) == pytest.approx(0.5)


def test_capture_missing_scores_rank_last() -> None:
    # NaN ranks below everything: 50% = the area scored 2 (5 incidents) of 10.
    assert capture_share([np.nan, 1, 2], [100, 100, 200], [4, 1, 5],
                         share=0.25) == pytest.approx(0.5 * 5 / 10)


def test_capture_matches_brute_force_without_ties() -> None:
    rng = np.random.default_rng(7)
    for _ in range(30):
        n = int(rng.integers(2, 30))
        s = rng.permutation(n).astype(float)
        h = rng.integers(0, 50, n).astype(float)
        h[0] = max(h[0], 1.0)
        y = rng.poisson(2.0, n).astype(float)
        y[0] += 1
        for share in (0.05, 0.1, 0.2, 0.37, 1.0):
            assert capture_share(s, h, y, share=share) == pytest.approx(
                _brute_capture(list(s), list(h), list(y), share))


def test_ties_equal_the_average_over_every_order() -> None:
    # With equal households inside a tie block, sharing the boundary in proportion is the
    # average, over every order of the tied areas, of the area-by-area walk.
    rng = np.random.default_rng(3)
    h = np.array([20, 20, 20, 20, 35, 10, 35], dtype=float)
    s = np.array([5, 5, 5, 5, 2, 1, 9], dtype=float)
    y = rng.poisson(3.0, 7).astype(float) + 1
    tied = [0, 1, 2, 3]
    for share in (0.1, 0.3, 0.55, 0.8):
        runs = []
        for perm in itertools.permutations(tied):
            s2 = s.copy()
            s2[list(perm)] = 5 + np.array([0.4, 0.3, 0.2, 0.1])
            runs.append(_brute_capture(list(s2), list(h), list(y), share))
        assert capture_share(s, h, y, share=share) == pytest.approx(np.mean(runs))


# --------------------------------------------------------------------------- deviance


def test_unit_deviance_by_hand() -> None:
    # 2[y log(y/mu) - (y - mu)]: y=0, mu=0.5 -> 1; y=1, mu=1 -> 0; y=3, mu=1 -> 2(3 ln 3 - 2)
    got = unit_deviance(np.array([0.0, 1.0, 3.0]), np.array([0.5, 1.0, 1.0]))
    assert got == pytest.approx([1.0, 0.0, 2 * (3 * math.log(3) - 2)])


# --------------------------------------------------------------------------- backtest, hand-built


def test_backtest_hand_built_captures_and_pai() -> None:
    res = _tiny_result()
    m = res.origins[0].metrics
    assert res.origins[0].incidents == 10
    # last_year (2015 counts 4,1,3,0) -> order A(10 hh), C(40), B(150), D(0 hh).
    #  5% = 10 hh: A (3) -> 0.3 ; 10% = 20 hh: A + 10/40 of C (4 -> 1) -> 0.4 ;
    #  20% = 40 hh: A + 30/40 of C (3) -> 0.6
    assert [m["last_year"].capture[k] for k in (5, 10, 20)] == pytest.approx([0.3, 0.4, 0.6])
    assert [m["last_year"].pai[k] for k in (5, 10, 20)] == pytest.approx([6.0, 4.0, 3.0])
    # history over 2014-2015: A 6, B 2, C 3, D 5 -> A, D (0 hh, free), C, B.
    #  5%: A 3 + D 1 = 0.4 ; 10%: + 10/40 of C (1) = 0.5 ; 20%: + 30/40 of C (3) = 0.7
    assert [m["history_5y"].capture[k] for k in (5, 10, 20)] == pytest.approx([0.4, 0.5, 0.7])
    # imd: B and C tie at 30 (190 hh, 6 incidents), then A, then D.
    #  budget 10/20/40 hh falls inside the tie block: 6 * b/190 of 10 incidents
    assert [m["imd"].capture[k] for k in (5, 10, 20)] == pytest.approx(
        [0.6 * 10 / 190, 0.6 * 20 / 190, 0.6 * 40 / 190])
    # stable rate (2013-2015 only): A 7/30, B 2/450, C 5/120, D undefined (0 hh) -> A, C, B, D
    assert [m["stable_rate"].capture[k] for k in (5, 10, 20)] == pytest.approx([0.3, 0.4, 0.6])
    # model forecast A 1, B 5, C 2, D 0.5 -> B first: b/150 of B's 2 incidents
    assert [m["model"].capture[k] for k in (5, 10, 20)] == pytest.approx(
        [0.2 * 10 / 150, 0.2 * 20 / 150, 0.2 * 40 / 150])
    # a single origin pools to itself
    for r in res.rankings:
        assert res.pooled[r].capture == pytest.approx(m[r].capture)


def test_backtest_hand_built_deviance_and_forecasts() -> None:
    res = _tiny_result()
    o = res.origins[0]
    # last_year forecasts 4, 1, 3, 0 (floored at 0.5 for the deviance); observed 3, 2, 4, 1
    d = [2 * (3 * math.log(3 / 4) + 1), 2 * (2 * math.log(2) - 1),
         2 * (4 * math.log(4 / 3) - 1), 2 * (math.log(1 / 0.5) - 0.5)]
    assert o.metrics["last_year"].deviance == pytest.approx(sum(d) / 4)
    # history over a 2-year window is a mean annual count: (6, 2, 3, 5) / 2
    assert o.predictions["history_5y"].tolist() == pytest.approx([3.0, 1.0, 1.5, 2.5])
    # the stable-rate forecast is the mean count of the other years: 7/3, 2/3, 5/3, 5/3
    assert o.predictions["stable_rate"].tolist() == pytest.approx([7 / 3, 2 / 3, 5 / 3, 5 / 3])
    assert o.metrics["imd"].deviance is None
    assert o.metrics["imd"].calibration is None
    assert o.metrics["model"].deviance == pytest.approx(
        float(np.mean(unit_deviance(np.array([3, 2, 4, 1.0]), np.array([1, 5, 2, 0.5])))))


def test_model_ranked_by_rate() -> None:
    # expected per household: A 1/10, B 5/150, C 2/40, D none (0 hh) -> A, C, B, D,
    # the last_year order: 0.3 / 0.4 / 0.6
    res = _tiny_result(model_rank="rate")
    assert [res.pooled["model"].capture[k] for k in (5, 10, 20)] == pytest.approx([0.3, 0.4, 0.6])
    assert res.to_dict()["settings"]["model_rank"] == "rate"


def test_eb_baseline_matches_esda() -> None:
    counts, cov = _synthetic(n=80)
    res = backtest(counts, cov, full_years=list(counts.columns), origins=[2018],
                   config=ModelConfig(), bootstrap=0, fit=_Spy())
    window = [2013, 2014, 2015, 2016, 2017]
    e = counts[window].sum(axis=1).to_numpy(dtype=float)
    b = cov["households"].to_numpy() * 5
    truth = Empirical_Bayes(e, b).r.ravel()
    assert res.origins[0].scores["eb_rate"].to_numpy() == pytest.approx(truth)
    assert res.origins[0].predictions["eb_rate"].to_numpy() == pytest.approx(
        truth * cov["households"].to_numpy())


def test_calibration_table_by_deciles() -> None:
    counts, cov = _synthetic(n=200)
    res = backtest(counts, cov, full_years=list(counts.columns), origins=[2019, 2020],
                   config=ModelConfig(), bootstrap=0, fit=_Spy())
    cal = res.origins[0].metrics["history_5y"].calibration
    assert cal is not None
    assert cal["areas"].sum() == 200
    # by hand: decile of each area's forecast by average rank, then means per decile
    pred = res.origins[0].predictions["history_5y"]
    obs = counts[2019]
    rank = pred.rank(method="average")
    dec = np.minimum(((rank - 0.5) / 200 * 10).astype(int) + 1, 10)
    for row in cal.itertuples():
        sel = dec == row.decile
        assert row.mean_predicted == pytest.approx(pred[sel].mean())
        assert row.mean_observed == pytest.approx(obs[sel].mean())
    pooled_cal = res.pooled["history_5y"].calibration
    assert pooled_cal is not None
    assert pooled_cal["areas"].sum() == 400


# --------------------------------------------------------------------------- leakage


def test_no_leakage_model_sees_only_years_before_origin() -> None:
    counts, cov = _synthetic(n=60)
    counts[2021] = 999  # a partial year that is never a full year
    spy = _Spy()
    res = backtest(counts, cov, full_years=range(2010, 2021), origins=None,
                   config=ModelConfig(history=True, history_years=6, history_window=None),
                   window_years=4,
                   bootstrap=0, fit=spy)
    assert [t for t, _, _ in spy.seen] == list(range(2014, 2021))
    for t, cols, seen in spy.seen:
        assert cols, "the model was given no years"
        assert max(cols) < t  # no incident dated on or after 1 January of year t
        assert max(cols) == t - 1
        # training_years (3) + history_years (6), as far as the data go
        assert len(cols) == min(9, t - 2010)
        pd.testing.assert_frame_equal(seen, counts[cols])
    assert [o.origin for o in res.origins] == list(range(2014, 2021))


def test_model_years_follow_the_config() -> None:
    # training_years 2 + history_window 3 = 5 years, more than the 4-year window
    counts, cov = _synthetic(n=40)
    spy = _Spy()
    backtest(counts, cov, full_years=list(counts.columns), origins=[2018, 2020],
             config=ModelConfig(history_window=3, training_years=2), window_years=4,
             bootstrap=0, fit=spy)
    assert [cols for _, cols, _ in spy.seen] == [list(range(2013, 2018)),
                                                 list(range(2015, 2020))]
    # no history term: the window alone
    spy = _Spy()
    backtest(counts, cov, full_years=list(counts.columns), origins=[2018],
             config=ModelConfig(history=False), window_years=4, bootstrap=0, fit=spy)
    assert spy.seen[0][1] == [2014, 2015, 2016, 2017]


def test_stable_rate_excludes_the_origin_year() -> None:
    counts, cov = _synthetic(n=50)
    years = list(counts.columns)
    res = backtest(counts, cov, full_years=years, origins=[2016], config=ModelConfig(),
                   bootstrap=0, fit=_Spy())
    others = [y for y in years if y != 2016]
    expected = counts[others].sum(axis=1) / (cov["households"] * len(others))
    assert res.origins[0].scores["stable_rate"].to_numpy() == pytest.approx(expected.to_numpy())
    changed = counts.copy()
    changed[2016] = changed[2016] * 7 + 3
    res2 = backtest(changed, cov, full_years=years, origins=[2016], config=ModelConfig(),
                    bootstrap=0, fit=_Spy())
    pd.testing.assert_series_equal(res.origins[0].scores["stable_rate"],
                                   res2.origins[0].scores["stable_rate"])


def test_result_does_not_depend_on_row_order() -> None:
    counts, cov = _synthetic(n=120)
    kw: dict[str, Any] = {"full_years": list(counts.columns), "origins": [2018, 2019, 2020],
                          "config": ModelConfig(), "bootstrap": 0, "fit": _Spy()}
    a = backtest(counts, cov, **kw).to_dict()
    perm = np.random.default_rng(0).permutation(len(counts))
    b = backtest(counts.iloc[perm], cov.iloc[perm[::-1]], **kw).to_dict()
    assert _close(a["pooled"], b["pooled"])


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_close(x, z) for x, z in zip(a, b, strict=True))
    if isinstance(a, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return bool(a == b)


# --------------------------------------------------------------------------- bootstrap


def test_bootstrap_interval_contains_estimate_and_is_reproducible() -> None:
    counts, cov = _synthetic(n=300)
    kw: dict[str, Any] = {"full_years": list(counts.columns), "origins": [2018, 2019, 2020],
                          "config": ModelConfig(), "bootstrap": 200, "fit": _Spy()}
    a = backtest(counts, cov, seed=11, **kw)
    b = backtest(counts, cov, seed=11, **kw)
    c = backtest(counts, cov, seed=12, **kw)
    assert a.to_dict() == b.to_dict()
    assert a.pooled["model"].ci != c.pooled["model"].ci
    for res_part in [a.pooled, *(o.metrics for o in a.origins)]:
        for name, m in res_part.items():
            for k in (5, 10, 20):
                lo, hi = m.ci[f"capture_{k}"]
                assert lo <= m.capture[k] <= hi, (name, k)
                assert lo < hi
                assert m.ci[f"pai_{k}"] == pytest.approx((lo * 100 / k, hi * 100 / k))
            if m.deviance is not None:
                lo, hi = m.ci["deviance"]
                assert lo <= m.deviance <= hi


def test_bootstrap_matches_explicit_resamples() -> None:
    # The documented scheme: rng = default_rng(seed); draws = rng.integers(0, n, (B, n));
    # resample b is areas draws[b]. Redo it the slow way, one resample at a time.
    counts, cov = _synthetic(n=40, years=range(2010, 2018))
    seed, boot = 5, 60
    res = backtest(counts, cov, full_years=list(counts.columns), origins=[2016, 2017],
                   config=ModelConfig(), bootstrap=boot, seed=seed, fit=_Spy())
    draws = np.random.default_rng(seed).integers(0, 40, size=(boot, 40))
    h = cov["households"].to_numpy()
    pooled_reps = {}
    for ranking in ("last_year", "imd", "model"):
        found = np.zeros((boot, 2))
        total = np.zeros(boot)
        for j, o in enumerate(res.origins):
            s = o.scores[ranking].to_numpy()
            y = counts[o.origin].to_numpy(dtype=float)
            for b in range(boot):
                idx = draws[b]
                found[b, j] = capture_share(s[idx], h[idx], y[idx], share=0.1) * y[idx].sum()
                total[b] += y[idx].sum()
            shares = found[:, j] / np.array([y[draws[b]].sum() for b in range(boot)])
            assert o.metrics[ranking].ci["capture_10"] == pytest.approx(
                tuple(np.percentile(shares, [2.5, 97.5])))
        pooled = found.sum(axis=1) / total
        pooled_reps[ranking] = pooled
        assert res.pooled[ranking].ci["capture_10"] == pytest.approx(
            tuple(np.percentile(pooled, [2.5, 97.5])))
    # paired difference: the same resamples for both rankings
    diff = pooled_reps["model"] - pooled_reps["imd"]
    point = res.pooled["model"].capture[10] - res.pooled["imd"].capture[10]
    assert capture_difference(res, "model", "imd", k=10) == pytest.approx(
        (point, *np.percentile(diff, [2.5, 97.5])))
    assert capture_difference(res, "imd", "imd", k=10) == pytest.approx((0.0, 0.0, 0.0))
    with pytest.raises(EvaluationError, match="no ranking named"):
        capture_difference(res, "model", "coin_toss")


# --------------------------------------------------------------------------- outputs


def test_to_dict_table_and_curve() -> None:
    counts, cov = _synthetic(n=150)
    res = backtest(counts, cov, full_years=list(counts.columns), origins=None,
                   config=ModelConfig(), bootstrap=50, fit=_Spy())
    doc = json.loads(json.dumps(res.to_dict(), allow_nan=False))
    assert [o["origin"] for o in doc["origins"]] == list(range(2015, 2021))
    assert set(doc["pooled"]["baselines"]) == set(BASELINES)
    for key in ("capture_5", "capture_10", "capture_20", "pai_5", "pai_10", "pai_20",
                "deviance", "ci"):
        assert key in doc["pooled"]["model"]
    assert doc["pooled"]["baselines"]["imd"]["deviance"] is None
    assert doc["pooled"]["residual_moran"] == pytest.approx(0.1)
    vs = doc["pooled"]["model_vs_baselines"]["history_5y"]["capture_10"]
    assert vs["difference"] == pytest.approx(doc["pooled"]["model"]["capture_10"]
                                             - doc["pooled"]["baselines"]["history_5y"]["capture_10"])
    assert vs["ci"][0] <= vs["difference"] <= vs["ci"][1]
    table = format_table(res)
    assert "Model" in table
    assert "Deprivation (IMD) alone" in table
    assert "capture@10%" in table
    curve = capture_curve(res)
    assert set(curve["ranking"]) == {"model", *BASELINES}
    for _, g in curve.groupby("ranking"):
        v = g.sort_values("household_share")["incident_share"].to_numpy()
        assert v[0] == 0.0
        assert v[-1] == pytest.approx(1.0)
        assert (np.diff(v) >= -1e-12).all()
    at10 = curve[(curve.ranking == "model") & np.isclose(curve.household_share, 0.1)]
    assert at10["incident_share"].iloc[0] == pytest.approx(res.pooled["model"].capture[10])


def test_pooled_is_ratio_of_sums() -> None:
    counts, cov = _synthetic(n=100)
    res = backtest(counts, cov, full_years=list(counts.columns), origins=[2019, 2020],
                   config=ModelConfig(), bootstrap=0, fit=_Spy())
    found = sum(o.metrics["last_year"].capture[20] * o.incidents for o in res.origins)
    assert res.pooled["last_year"].capture[20] == pytest.approx(
        found / sum(o.incidents for o in res.origins))


def test_compare_models() -> None:
    counts, cov = _synthetic(n=100)
    spy = _Spy()
    table = compare_models(counts, cov, configs={"plain": ModelConfig(), "shifted": ModelConfig(family="poisson")},
                           full_years=list(counts.columns), origins=[2019, 2020], bootstrap=20,
                           fit=spy)
    assert list(table.index[:2]) == ["plain", "shifted"]
    assert {f"baseline: {b}" for b in BASELINES} <= set(table.index)
    assert all(max(cols) < t for t, cols, _ in spy.seen)
    # adding 1 to every forecast does not change the ranking, only the calibration
    assert table.loc["plain", "capture_10"] == pytest.approx(table.loc["shifted", "capture_10"])
    assert table.loc["shifted", "calib_ratio"] > table.loc["plain", "calib_ratio"]
    assert table.loc["plain", "residual_moran"] == pytest.approx(0.1)


def test_input_problems_reported_together() -> None:
    counts, cov = _tiny()
    bad_counts = counts.copy()
    bad_counts.loc["B", 2014] = -1
    with pytest.raises(EvaluationError) as err:
        backtest(bad_counts, cov.drop(columns="households"), full_years=[2013, 2014, 2015, 2016],
                 origins=[2014], config=ModelConfig(), window_years=2, fit=_Spy())
    text = str(err.value)
    assert "3 problems" in text
    assert "households" in text
    assert "origin 2014" in text
    assert "whole numbers" in text


# --------------------------------------------------------------------------- real London data


@pytest.fixture(scope="module")
def london() -> tuple[pd.DataFrame, pd.DataFrame]:
    """London dwelling fires per LSOA and year (built here with a plain spatial join)."""
    import geopandas as gpd

    from firerisk.geo.profile import load_profile
    from firerisk.risk.features import build_features

    areas = gpd.read_file(SAMPLE / "london_lsoa21.geojson").to_crs(27700)
    fires = pd.read_csv(SAMPLE / "lfb_dwelling_fires_2009_2024.csv.gz",
                        usecols=["date", "easting_rounded", "northing_rounded"])
    fires = fires.dropna()
    pts = gpd.GeoDataFrame(
        {"year": pd.to_datetime(fires["date"]).dt.year.to_numpy()},
        geometry=gpd.points_from_xy(fires["easting_rounded"], fires["northing_rounded"]),
        crs=27700)
    joined = gpd.sjoin(pts, areas[["lsoa21_code", "geometry"]], predicate="within")
    joined = joined[~joined.index.duplicated()]
    counts = (joined.groupby(["lsoa21_code", "year"]).size().unstack(fill_value=0)
              .reindex(areas["lsoa21_code"], fill_value=0))
    counts.columns = [int(c) for c in counts.columns]
    counts.index.name = "area_id"
    profile = load_profile(SAMPLE / "london.toml")
    raw = (pd.read_csv(SAMPLE / "imd2025_london.csv").set_index("lsoa21_code")
           .join(pd.read_csv(SAMPLE / "census2021_households_london.csv")
                 .set_index("lsoa21_code"), how="outer")
           .reindex(counts.index))
    cov = build_features(raw, features=profile.features, exposure=profile.exposure)
    return counts, cov


def test_london_backtest_with_the_real_model(london: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    counts, cov = london
    seen: list[tuple[int, list[int]]] = []

    def spy_fit(c: pd.DataFrame, v: pd.DataFrame, *, target_year: int, config: ModelConfig,
                weights: Any = None) -> Any:
        seen.append((target_year, [int(y) for y in c.columns]))
        return fit_predict(c, v, target_year=target_year, config=config, weights=weights)

    res = backtest(counts, cov, full_years=range(2009, 2024), origins=range(2015, 2024),
                   config=ModelConfig(), bootstrap=100, fit=spy_fit)
    assert [t for t, _ in seen] == list(range(2015, 2024))
    # the default model looks back over every full year (history_window 15 > years available)
    assert all(max(cols) == t - 1 and len(cols) == t - 2009 for t, cols in seen)
    doc = json.loads(json.dumps(res.to_dict(), allow_nan=False))
    assert len(doc["origins"]) == 9
    assert sum(o["incidents"] for o in doc["origins"]) == int(
        counts[list(range(2015, 2024))].to_numpy().sum())
    pooled = doc["pooled"]
    assert set(pooled["baselines"]) == set(BASELINES)
    for name, m in [("model", pooled["model"]), *pooled["baselines"].items()]:
        for k in (5, 10, 20):
            assert 0.0 <= m[f"capture_{k}"] <= 1.0, name
            lo, hi = m["ci"][f"capture_{k}"]
            assert 0.0 <= lo <= m[f"capture_{k}"] <= hi <= 1.0, name
            assert m[f"pai_{k}"] == pytest.approx(m[f"capture_{k}"] * 100 / k)
        assert m["capture_5"] <= m["capture_10"] <= m["capture_20"]
        # every ranking finds more fires per household visited than chance
        assert m["pai_10"] > 1.0, name
        assert (m["deviance"] is None) == (name == "imd")
    # the model's forecasts are of the right size overall (within 15% of what happened)
    cal = pd.DataFrame(pooled["model"]["calibration"])
    ratio = ((cal["mean_predicted"] * cal["areas"]).sum()
             / (cal["mean_observed"] * cal["areas"]).sum())
    assert 0.85 < ratio < 1.15
    assert "Model" in format_table(res)


def test_london_capture_matches_the_reference_baselines(
        london: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    # ../shared/data/REFERENCE_RESULTS.md (computed independently on LSOA 2011 areas):
    # rank LSOAs by 2009-2016 fires, score on 2017-2023; top 10% / 20% of LSOAs capture
    # 19.7% / 34.0%; ranked by IMD (2019 there, 2025 here) 14.6% / 28.2%. Counting areas,
    # not households, is capture with one "household" per area.
    counts, cov = london
    past = counts[list(range(2009, 2017))].sum(axis=1)
    later = counts[list(range(2017, 2024))].sum(axis=1)
    one = np.ones(len(counts))
    assert capture_share(past, one, later, share=0.1) == pytest.approx(0.197, abs=0.01)
    assert capture_share(past, one, later, share=0.2) == pytest.approx(0.340, abs=0.01)
    assert capture_share(cov["imd_score"], one, later, share=0.1) == pytest.approx(0.146, abs=0.01)
    assert capture_share(cov["imd_score"], one, later, share=0.2) == pytest.approx(0.282, abs=0.01)


# --------------------------------------------------------------------------- fast bootstrap
# The backtest scores every resample by cumulative sums of multiplicity x value along the
# fixed ranking, over the head of it that the budgets reach. Hold it to capture_share run
# on each explicit resample, and to the dense version on the whole ranking.


@pytest.mark.parametrize("case", ["ties", "distinct", "zero_households", "fractional"])
def test_bootstrap_capture_matches_each_resample(case: str) -> None:
    from firerisk.risk.evaluate import _captured, _captured_boot, _order_blocks, _resamples

    rng = np.random.default_rng(21)
    shares = [0.0, 0.05, 0.1, 0.2, 0.5, 1.0]
    for n in (1, 2, 9, 40, 200):
        h = rng.integers(1, 60, n).astype(float)
        h[rng.random(n) < 0.1] = 300.0  # a few large areas: budgets land far down
        y = rng.poisson(1.2, n).astype(float)
        score = rng.poisson(2.0, n).astype(float)  # tie blocks
        if case == "distinct":
            score = rng.permutation(n).astype(float)
        if case == "zero_households":
            h[rng.random(n) < 0.3] = 0.0
        if case == "fractional":  # not whole numbers: the dense path
            h = h + rng.random(n)
        draws = rng.integers(0, n, size=(150, n))
        res = _resamples(draws + (np.arange(150) * n)[:, None], h)
        assert (res.small is None) == (case == "fractional")
        order, starts = _order_blocks(score)
        got = _captured_boot(order, starts, h, y, shares, res)
        dense = _captured(order, starts, h, y, shares, res.mult)
        np.testing.assert_allclose(got, dense, rtol=1e-12, atol=1e-12)
        for b in range(0, 150, 7):
            idx = draws[b]
            if y[idx].sum() == 0:
                continue
            for j, share in enumerate(shares):
                want = capture_share(score[idx], h[idx], y[idx], share=share) * y[idx].sum()
                assert got[b, j] == pytest.approx(want, rel=1e-9, abs=1e-9), (case, n, b, share)


def test_bootstrap_capture_head_grows_to_every_budget() -> None:
    # The head first covers the top 25% of households (largest share 20% + 5%); resamples
    # that draw the first area many times need far more of the ranking.
    from firerisk.risk.evaluate import _captured, _captured_boot, _order_blocks, _resamples

    n = 30
    h = np.full(n, 10.0)
    h[0] = 1.0
    y = np.arange(n, dtype=float) + 1
    draws = np.zeros((3, n), dtype=int)
    draws[1] = np.arange(n)
    draws[2, : n // 2] = np.arange(n // 2)
    res = _resamples(draws + (np.arange(3) * n)[:, None], h)
    order, starts = _order_blocks(-np.arange(n, dtype=float))  # area 0 ranked last
    got = _captured_boot(order, starts, h, y, [0.05, 0.1, 0.2], res)
    np.testing.assert_array_equal(got, _captured(order, starts, h, y, [0.05, 0.1, 0.2],
                                                 res.mult))
    # resample 0 is area 0 (1 household, 1 incident) thirty times: 30 households, 30
    # incidents, all tied, so k% of households finds k% of the 30 incidents.
    assert got[0] == pytest.approx([1.5, 3.0, 6.0])


# --------------------------------------------------------------------------- calibration


def test_per_decile_calibration_by_hand_pooled_over_origins() -> None:
    from firerisk.risk.evaluate import calibration_table, worst_decile

    # 20 areas of 100 households; the model forecasts i fires for area i (1..20) in every
    # origin, so each decile holds two areas: decile d = areas 2d-1 and 2d, mean forecast
    # 2d - 0.5. Observed: i fires, except area 1 (0) and area 2 (1) in 2015 and area 20
    # (30) in 2015. Pooled over the origins 2015 and 2016 (4 area-years per decile):
    #   decile 1: forecasts 1, 2, 1, 2 (1.5); observed 0, 1, 1, 2 (1.0)  -> +50%
    #   decile 10: forecasts 19, 20, 19, 20 (19.5); observed 19, 30, 19, 20 (22.0)
    #              -> 19.5 / 22 - 1 = -11.36%
    #   deciles 2..9: forecast = observed -> 0
    idx = pd.Index([f"A{i:02d}" for i in range(1, 21)], name="area_id")
    i = np.arange(1, 21)
    y2015 = i.copy()
    y2015[0], y2015[1], y2015[19] = 0, 1, 30
    counts = pd.DataFrame({2013: i, 2014: i, 2015: y2015, 2016: i}, index=idx)
    cov = pd.DataFrame({"households": 100.0, "imd_score": i.astype(float)}, index=idx)
    fit = _fixed_fit(dict(zip(idx, i.astype(float), strict=True)))
    res = backtest(counts, cov, full_years=[2013, 2014, 2015, 2016], origins=[2015, 2016],
                   config=ModelConfig(), window_years=2, bootstrap=0, fit=fit)
    cal = calibration_table(res)
    assert cal is not None
    assert cal["decile"].tolist() == list(range(1, 11))
    assert cal["areas"].tolist() == [4] * 10
    assert cal["mean_predicted"].tolist() == pytest.approx([2 * d - 0.5 for d in range(1, 11)])
    want_obs = [1.0, *[2 * d - 0.5 for d in range(2, 10)], 22.0]
    assert cal["mean_observed"].tolist() == pytest.approx(want_obs)
    assert cal["error"].tolist() == pytest.approx([0.5, *[0.0] * 8, 19.5 / 22 - 1])
    assert worst_decile(res) == (1, pytest.approx(0.5))
    # The deprivation rule makes no count forecast: no table.
    assert calibration_table(res, "imd") is None
    assert worst_decile(res, "imd") is None


# --------------------------------------------------------------------------- groups


def test_capture_inside_each_group_by_hand() -> None:
    from firerisk.risk.evaluate import group_capture_table

    # _tiny with A, B in "north" (10 + 150 households) and C, D in "south" (40 + 0).
    # Origin 2016 (observed A 3, B 2, C 4, D 1), 10% of each group's households:
    #  north budget 16: model (B 5 > A 1) takes 16/150 of B's 2 fires -> 0.21333 / 5 fires;
    #                   last year (A 4 > B 1) takes A (3) and 6/150 of B (0.08) -> 3.08 / 5
    #  south budget 4:  both rank C first and take 4/40 of its 4 fires -> 0.4 / 5; D (no
    #                   households) comes after C's 40 households, over the budget: not in.
    groups = pd.Series({"A": "north", "B": "north", "C": "south", "D": "south"},
                       name="district")
    res = _tiny_result(groups=groups)
    table = group_capture_table(res)
    assert table is not None
    assert table.loc["north", "model"] == pytest.approx(2 * 16 / 150 / 5)
    assert table.loc["south", "model"] == pytest.approx(0.4 / 5)
    assert table.loc["north", "last_year"] == pytest.approx(3.08 / 5)
    assert table.loc["south", "last_year"] == pytest.approx(0.4 / 5)
    assert table.loc["north", "areas"] == 2
    # beside it, the service-wide capture at 10% of all households (model: 20/150 of B's 2)
    assert table.loc["Whole service", "model"] == pytest.approx(0.2 * 20 / 150)
    doc = res.to_dict()["groups"]
    assert doc["label"] == "district"
    assert doc["k"] == 10
    assert {"group", "ranking", "areas", "capture"} == set(doc["rows"][0])  # no fire counts
    assert group_capture_table(_tiny_result()) is None


def test_group_capture_pools_origins_as_a_ratio_of_sums() -> None:
    from firerisk.risk.evaluate import group_capture_table

    counts, cov = _synthetic(n=90)
    groups = pd.Series(np.repeat(["g1", "g2", "g3"], 30), index=counts.index, name="ward")
    res = backtest(counts, cov, full_years=list(counts.columns), origins=[2018, 2019, 2020],
                   config=ModelConfig(), bootstrap=0, fit=_Spy(), groups=groups)
    table = group_capture_table(res)
    assert table is not None
    for g in ("g1", "g2", "g3"):
        rows = (groups == g).to_numpy()
        for r in ("model", "eb_rate", "imd"):
            found = fires = 0.0
            for o in res.origins:  # each origin scored on the group's areas alone
                obs = counts[o.origin].to_numpy(dtype=float)[rows]
                share = capture_share(o.scores[r].to_numpy()[rows],
                                      cov["households"].to_numpy()[rows], obs, share=0.1)
                found += share * obs.sum()
                fires += obs.sum()
            assert table.loc[g, r] == pytest.approx(found / fires), (g, r)
