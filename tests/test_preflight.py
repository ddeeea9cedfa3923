"""firerisk.preflight: the plan a build would refuse is refused before any fit.

Truth for the backtest origins is brute force: an origin is valid exactly when it and the
``window_years`` years before it are all full years, as risk.evaluate.backtest checks;
and every origin the function returns is fed to the real backtest's own check.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import product
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from firerisk.errors import ProfileError
from firerisk.geo.profile import load_profile
from firerisk.preflight import band_problems, evaluation_origins, plan_problems
from firerisk.risk.evaluate import _check_inputs
from firerisk.specs import BandsSpec, EvaluationSpec


def _valid(t: int, full: set[int], window: int) -> bool:
    return t in full and all(t - j in full for j in range(1, window + 1))


@pytest.mark.parametrize(("full", "window", "first", "last"), list(product(
    [tuple(range(2009, 2024)), tuple(range(2017, 2024)), (2015, 2016, 2018, 2019, 2020)],
    [1, 5, 8], [None, 2010, 2016], [None, 2023])))
def test_origins_are_exactly_the_years_the_backtest_accepts(full: tuple[int, ...], window: int,
                                                           first: int | None,
                                                           last: int | None) -> None:
    spec = EvaluationSpec(first=first, last=last, window_years=window)
    got, problems = evaluation_origins(spec, full, file="p.toml")
    fullset = set(full)
    wanted = [t for t in full if (first is None or t >= first) and (last is None or t <= last)]
    if first is None and last is None:
        wanted = [t for t in full if _valid(t, fullset, window)]
    if wanted and all(_valid(t, fullset, window) for t in wanted):
        assert (got, problems) == (wanted, [])
        counts = pd.DataFrame(np.ones((3, len(full)), dtype=int), columns=list(full))
        cov = pd.DataFrame({"households": [1.0, 2.0, 3.0]})
        _check_inputs(counts, cov, list(full), got, window, None, 0)  # the backtest agrees
    else:
        assert got == []
        assert len(problems) == 1
        assert problems[0].file == "p.toml"
        assert "window_years" in problems[0].message + problems[0].fix or not wanted


def test_origin_messages_name_the_key_and_the_year_that_works() -> None:
    full = tuple(range(2012, 2024))
    _, (p,) = evaluation_origins(EvaluationSpec(first=2015), full, file="p")
    assert "origin year(s) 2015, 2016" in p.message
    assert "set first = 2017 under [evaluation]" in p.fix
    assert "window_years = 3 under [evaluation]" in p.fix
    _, (p,) = evaluation_origins(EvaluationSpec(), full, origins=(2013, 2020), file="p")
    assert "use --origins 2017-2020" in p.fix
    _, (p,) = evaluation_origins(EvaluationSpec(window_years=12), full, file="p")
    assert "needs 13 full years in a row" in p.message
    assert "window_years = 11" in p.fix


def test_band_schemes_are_checked_with_the_choices(sample_profile: Path) -> None:
    profile = load_profile(sample_profile)
    assert band_problems(profile) == []
    (p,) = band_problems(replace(profile, bands=BandsSpec(scheme="quintiles")))
    assert "quantiles, equal_interval" in p.message
    assert 'set scheme = "quantiles" under [bands]' in p.fix
    assert band_problems(replace(profile, bands=BandsSpec(scheme="Natural Breaks"))) == []
    (p,) = band_problems(replace(profile, bands=BandsSpec(scheme="user_defined")))
    assert "bins" in p.message
    with pytest.raises(ProfileError, match="quintiles"):
        plan_problems(replace(profile, bands=BandsSpec(scheme="quintiles")), range(2009, 2024))
    plan_problems(profile, range(2009, 2024))
