"""Priority bands chosen by scheme name."""

from __future__ import annotations

import warnings

import mapclassify
import numpy as np
import pandas as pd
import pytest

from firerisk.errors import BandSchemeError
from firerisk.risk.bands import SCHEMES, TITLE, band_of, classify

VALUES = pd.Series(np.arange(1, 101, dtype=float), index=[f"a{i}" for i in range(100)])


def test_quantiles_by_name_give_five_equal_bands_highest_last() -> None:
    res = classify(VALUES, scheme="quantiles", k=5)
    assert res.scheme == "quantiles"
    assert res.k == 5
    assert res.labels == ("Very low", "Low", "Medium", "High", "Very high")
    assert res.title == TITLE == "Priority for a home fire safety visit"
    # 1..20 -> band 1, ..., 81..100 -> band 5
    assert res.band_index.tolist() == [i // 20 + 1 for i in range(100)]
    assert [hi for _, hi in res.breaks] == pytest.approx([20.8, 40.6, 60.4, 80.2, 100.0])
    assert res.breaks[0][0] == 1.0
    assert res.band_label["a99"] == "Very high"
    table = res.breaks_table()
    assert table["areas"].tolist() == [20, 20, 20, 20, 20]
    assert table.columns.tolist() == ["band_index", "label", "lower", "upper", "areas"]


def test_equal_interval_breaks_are_hand_computable() -> None:
    res = classify(VALUES, scheme="equal_interval", k=3)
    # width (100 - 1) / 3 = 33: upper breaks 34, 67, 100
    assert [hi for _, hi in res.breaks] == pytest.approx([34.0, 67.0, 100.0])
    assert res.labels[0] == "Band 1 (lowest)"  # 3 bands, 5 default labels
    assert "3 bands" in res.note


@pytest.mark.parametrize("name", ["Fisher-Jenks", "fisherjenks", "natural_breaks",
                                  "Natural Breaks"])
def test_jenks_aliases_match_mapclassify_on_small_data(name: str) -> None:
    y = pd.Series([1.0, 1.2, 1.1, 5.0, 5.2, 9.0, 9.5, 9.1, 20.0, 21.0])
    res = classify(y, scheme=name, k=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Numba not installed"
        ref = mapclassify.FisherJenks(y.to_numpy(), k=4)
    assert res.scheme in ("fisher_jenks", "natural_breaks")
    assert [hi for _, hi in res.breaks] == pytest.approx(list(ref.bins))
    assert (res.band_index.to_numpy() == ref.yb + 1).all()


def test_jenks_on_many_values_is_deterministic_and_close_to_the_obvious_groups() -> None:
    rng = np.random.default_rng(0)
    y = pd.Series(np.concatenate([rng.normal(m, 0.1, 700) for m in (1, 3, 6)]))
    a = classify(y, scheme="fisher_jenks", k=3)
    b = classify(y, scheme="fisher_jenks", k=3)
    assert a.breaks == b.breaks
    assert a.band_index.value_counts().sort_index().tolist() == [700, 700, 700]


def test_head_tail_breaks_choose_their_own_number_of_bands() -> None:
    y = pd.Series(np.random.default_rng(1).pareto(1.5, 2000))
    res = classify(y, scheme="head_tail_breaks")
    ref = mapclassify.HeadTailBreaks(y.to_numpy())
    assert res.k == len(ref.bins)
    assert len(res.labels) == res.k
    assert res.labels[-1].endswith("(highest)")


def test_other_schemes_by_name_and_options() -> None:
    normal = pd.Series(np.random.default_rng(2).normal(0, 1, 500))
    sm = classify(normal, scheme="std_mean")
    assert sm.k == 5
    assert [hi for _, hi in sm.breaks][:4] == pytest.approx(
        [normal.mean() + m * normal.std(ddof=1) for m in (-2, -1, 1, 2)])
    pct = classify(VALUES, scheme="percentiles", pct=[25, 50, 75, 100], labels=list("ABCD"))
    assert pct.labels == ("A", "B", "C", "D")
    user = classify(VALUES, scheme="user_defined", bins=[10, 50, 100], k=3,
                    labels=["Lower", "Middle", "Upper"])
    assert user.band_index["a9"] == 1  # the value 10 is in (.., 10]
    assert user.band_index["a10"] == 2
    assert classify(VALUES, scheme="box_plot").k == mapclassify.BoxPlot(VALUES.to_numpy()).k
    with pytest.raises(BandSchemeError, match="needs bins"):
        classify(VALUES, scheme="user_defined")


def test_unknown_scheme_lists_every_choice() -> None:
    with pytest.raises(BandSchemeError) as info:
        classify(VALUES, scheme="kmeans")
    assert isinstance(info.value, ValueError)
    text = str(info.value)
    assert "kmeans" in text
    for name in SCHEMES:
        assert name in text


def test_missing_values_get_no_band_and_band_of_agrees() -> None:
    v = VALUES.copy()
    v.iloc[[3, 50]] = np.nan
    res = classify(v, scheme="quantiles", k=4)
    assert res.band_index.isna().sum() == 2
    assert res.band_label.isna().sum() == 2
    ok = v.notna()
    assert (res.band_of(v[ok]) == res.band_index[ok].to_numpy()).all()
    # Values beyond the ends go to the end bands.
    assert res.band_of([-5.0, 1e9]).tolist() == [1, 4]


def test_ties_are_noted_not_raised() -> None:
    y = pd.Series([0.0] * 50 + [1.0, 2.0, 3.0])
    res = classify(y, scheme="quantiles", k=5)
    assert res.k < 5
    assert "Not enough unique values" in res.note


def test_band_of_puts_any_rates_into_given_bands() -> None:
    # Hand cases for the bands (0, 2], (2, 4], (4, 8]: an upper bound belongs to the lower
    # band, values past the ends go to the end bands, a missing rate gets no band (0).
    upper = [2.0, 4.0, 8.0]
    values = [-1.0, 0.0, 2.0, 2.0001, 4.0, 7.9, 8.0, 100.0, np.nan]
    assert band_of(values, upper).tolist() == [1, 1, 1, 2, 2, 3, 3, 3, 0]
    assert band_of(np.array([1.0, np.nan]), []).tolist() == [0, 0]


def test_band_of_agrees_with_mapclassify_on_a_subset_of_areas() -> None:
    # "Bands within one group": classify only some areas' rates, then put every rate into
    # those bands. On the rates it classified, band_of gives mapclassify's own classes.
    rng = np.random.default_rng(4)
    rates = pd.Series(rng.gamma(2.0, 1.5, 400))
    group = rates.iloc[::3]
    res = classify(group, scheme="quantiles", k=5, labels=list("ABCDE"))
    ref = mapclassify.Quantiles(group.to_numpy(), k=5)
    upper = [hi for _, hi in res.breaks]
    assert band_of(group, upper).tolist() == (ref.yb + 1).tolist()
    assert res.band_of(group).tolist() == res.band_index.tolist()
    # Every other area lands in the band whose range holds its rate.
    others = rates.drop(group.index).to_numpy()
    got = band_of(others, upper)
    lows = np.array([-np.inf, *upper[:-1]])
    highs = np.array([*upper[:-1], np.inf])
    assert ((others > lows[got - 1]) & (others <= highs[got - 1])).all()
