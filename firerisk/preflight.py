"""The build's plan, checked before any model is fitted: what ``check`` must refuse too.

``prepare`` (shared by ``check``, ``build`` and ``evaluate``) runs these after the inputs
are read, so a profile that ``build`` would refuse half-way (an unknown band scheme,
backtest origins the data cannot support, model options the model refuses) is refused by
``check`` as well, in one message that names the profile key to change.

Backtest origins follow :func:`firerisk.risk.evaluate.backtest`: an origin year must be a
full year with the ``window_years`` full years before it. By default the origins run from
the first such year (the first full year plus ``window_years``) to the last full year;
``[evaluation] first`` and ``last`` narrow them, and every origin they name must qualify.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import numpy as np
import pandas as pd

from firerisk.errors import FireRiskError, Problem, ProfileError
from firerisk.specs import EvaluationSpec, Profile

__all__ = ["band_problems", "evaluation_origins", "model_problems", "plan_problems"]


def _span(years: Sequence[int]) -> str:
    return f"{years[0]}-{years[-1]}" if years else "none"


def band_problems(profile: Profile) -> list[Problem]:
    """The ``[bands]`` settings tried on made-up values, as the build will use them."""
    from firerisk.risk.bands import SCHEMES, classify

    b = profile.bands
    try:
        classify(pd.Series(np.linspace(0.0, 10.0, 200)), scheme=b.scheme, k=b.k,
                 labels=b.labels, title=b.title)
    except FireRiskError as exc:
        close = difflib.get_close_matches(str(b.scheme).lower(), list(SCHEMES), n=1, cutoff=0.5)
        fix = (f'set scheme = "{close[0]}" under [bands] (or another of those names).'
               if close else None)
        return [Problem(str(profile.source), f"[bands] scheme = {b.scheme!r}: {p.message}",
                        fix if fix and "scheme" in p.message else p.fix)
                for p in exc.problems]
    return []


def evaluation_origins(spec: EvaluationSpec, full_years: Sequence[int], *,
                       where: str = "[evaluation]", file: str = "profile",
                       origins: tuple[int, int] | None = None
                       ) -> tuple[list[int], list[Problem]]:
    """The backtest's origin years, and the problems with the settings that chose them.

    Parameters
    ----------
    spec : EvaluationSpec
        ``first``, ``last`` and ``window_years``.
    full_years : sequence of int
        The full years of the data.
    where : str
        How the settings are named in messages: ``"[evaluation]"`` or ``"--origins"``.
    file : str
        The profile file, for the messages.
    origins : (first, last), optional
        Origins given on the command line instead of ``spec.first`` and ``spec.last``.
    """
    full = sorted(int(y) for y in full_years)
    fullset, window = set(full), spec.window_years
    first, last = origins if origins is not None else (spec.first, spec.last)

    def set_first(year: int) -> str:
        if origins is not None:
            return f"use --origins {year}-{last if last is not None else full[-1]}"
        return f"set first = {year} under {where}"

    valid = [t for t in full if all(t - j in fullset for j in range(1, window + 1))]
    if first is None and last is None:
        if not valid:
            return [], [Problem(file, f"the backtest needs {window + 1} full years in a row "
                                f"({window} before each origin year, window_years = {window}); "
                                f"the data have {len(full)} ({_span(full)}).",
                                f"set window_years = {max(len(full) - 1, 1)} under {where}, or "
                                "build with --no-evaluate.")]
        return valid, []
    chosen = [t for t in full if (first is None or t >= first) and (last is None or t <= last)]
    if not chosen:
        span = f"{first if first is not None else ''}-{last if last is not None else ''}"
        return [], [Problem(file, f"no full year lies in the origins {span} (the full years "
                            f"are {_span(full)}).", (set_first(valid[0]) if valid else
                                                     "give more years of incidents") +
                            (f", and remove last from {where}" if last is not None and
                             origins is None else "") + ".")]
    bad = [t for t in chosen if t not in valid]
    if not bad:
        return chosen, []
    ok = [t for t in valid if last is None or t <= last]
    before = 0
    while chosen[0] - before - 1 in fullset:
        before += 1
    if ok:
        fix = f"{set_first(ok[0])} (the first year with {window} full years before it)"
    elif valid and origins is not None:
        fix = f"use --origins {valid[0]}-{valid[-1]}"
    elif valid:
        fix = (f"set first = {valid[0]} and last = {valid[-1]} under {where} (the years with "
               f"{window} full years before them)")
    else:
        fix = "give more years of incidents"
    if before:
        fix += f", or set window_years = {before} under [evaluation]"
    return [], [Problem(file, f"origin year(s) {', '.join(map(str, bad))} lack the "
                        f"{window} full years before them that window_years = {window} needs "
                        f"(the full years are {_span(full)}).",
                        f"{fix}.")]


def model_problems(profile: Profile) -> list[Problem]:
    """The model options as the model will read them."""
    from firerisk.pipeline import model_config

    try:
        model_config(profile)
    except FireRiskError as exc:
        return [Problem(str(profile.source), p.message, p.fix) for p in exc.problems]
    return []


def plan_problems(profile: Profile, full_years: Sequence[int], *, evaluate: bool = True,
                  origins: tuple[int, int] | None = None) -> None:
    """Raise one :class:`ProfileError` for every setting the build would refuse.

    Parameters
    ----------
    profile : Profile
    full_years : sequence of int
        The full years the inputs cover.
    evaluate : bool
        Whether the backtest will run (its origins are checked only then).
    origins : (first, last), optional
        Origins from the command line (``firerisk evaluate --origins``).
    """
    problems = band_problems(profile) + model_problems(profile)
    if evaluate:
        problems += evaluation_origins(
            profile.evaluation, full_years, file=str(profile.source), origins=origins,
            where="--origins" if origins is not None else "[evaluation]")[1]
    if problems:
        raise ProfileError(problems)
