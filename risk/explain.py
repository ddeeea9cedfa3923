"""Plain-language reasons: why is an area's priority higher than average?

Each factor's contribution to an area's log-risk, relative to the service-wide average,
is ``coefficient * (value - service average)``. For a feature the service average is
its household-weighted mean; for the history term it is 0 (an area whose past fires
match the service-wide rate). The three largest positive contributions become short
sentences, for example::

    Households renting from a council or housing association 48% (service average 23%)
    7 fires in the last 5 years (typical for this many homes: 3)

:func:`explain_fit` leaves out factors whose effect is not clearly different from none
(95% interval includes 0). Counts of fires pass through ``count_formatter`` so the disclosure layer can show
small numbers as "<5".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping, Sequence

import numpy as np
import pandas as pd

from firerisk.risk.model import HISTORY, LAG, FitResult
from firerisk.specs import FeatureSpec

__all__ = ["TYPICAL", "band_range_text", "chance_text", "contributions", "explain",
           "explain_fit", "format_value", "ordinal", "place_text", "top_chance_note"]

#: Words before the number of fires an area with as many households would have had at the
#: service-wide rate (the history sentence's comparison; not next year's estimate).
TYPICAL = "typical for this many homes:"


def contributions(values: pd.DataFrame, *, coefficients: Mapping[str, float],
                  means: Mapping[str, float]) -> pd.DataFrame:
    """``coefficient * (value - mean)`` per area and factor (log-risk scale).

    Parameters
    ----------
    values : DataFrame
        Factor values per area (features on their own scale, history terms).
    coefficients : mapping
        Fitted coefficient per factor; factors without one are skipped.
    means : mapping
        Service-wide average per factor.

    Returns
    -------
    DataFrame
        One column per factor present in *values*, *coefficients* and *means*.
    """
    cols = [c for c in values.columns if c in coefficients and c in means]
    out = pd.DataFrame(index=values.index)
    for c in cols:
        out[c] = float(coefficients[c]) * (values[c].astype(float) - float(means[c]))
    return out


def format_value(value: float, unit: str) -> str:
    """A feature value as people read it: shares as whole percents, scores to 1 dp."""
    if unit == "percent":
        return f"{value * 100:.0f}%"
    if unit == "score":
        return f"{value:.1f}"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _fires(n: int, fmt: Callable[[int], str]) -> str:
    text = fmt(int(n))
    return f"{text} fire" if text == "1" else f"{text} fires"


def explain(values: pd.DataFrame, *, coefficients: Mapping[str, float],
            means: Mapping[str, float], features: Sequence[FeatureSpec],
            recent_observed: pd.Series | None = None,
            recent_expected: pd.Series | None = None, history_years: int = 5,
            count_formatter: Callable[[int], str] = str, top: int = 3,
            skip: Collection[str] = ()) -> pd.DataFrame:
    """The top *top* reasons per area, as sentences.

    Parameters
    ----------
    values : DataFrame
        Factor values per area: feature columns (named by ``FeatureSpec.name``) and
        optionally ``history`` / ``neighbours_history`` (log ratio to the service rate).
    coefficients, means : mapping
        Fitted coefficients and service-wide averages per factor.
    features : sequence of FeatureSpec
        Labels and units for the sentences.
    recent_observed, recent_expected : Series, optional
        Fires in the last *history_years* years and the number expected at the
        service-wide rate (for the history sentence).
    history_years : int
        The years the history sentence speaks of.
    count_formatter : callable
        Turns a count of fires into text (default ``str``; disclosure control passes one
        that shows 1..4 as "<5").
    top : int
        Number of reasons per area.
    skip : collection of str
        Factors never given as reasons (for example those whose effect is not clearly
        different from none).

    Returns
    -------
    DataFrame
        Columns ``reason_1`` .. ``reason_<top>`` (empty text where fewer factors raise
        the area above average).
    """
    contrib = contributions(values, coefficients=coefficients, means=means)
    contrib = contrib.drop(columns=[c for c in contrib.columns if c in set(skip)])
    specs = {f.name: f for f in features}
    cols = list(contrib.columns)
    c = contrib.to_numpy(dtype=float)
    c = np.where(np.isfinite(c), c, 0.0)
    # Largest first; a stable sort keeps the factor order for ties.
    order = np.argsort(-c, axis=1, kind="stable")
    reasons = np.full((len(contrib), top), "", dtype=object)
    for i, area in enumerate(contrib.index):
        for k, j in enumerate(order[i][:top]):
            if c[i, j] <= 0:
                break
            reasons[i, k] = _sentence(cols[j], area, values, means, specs, recent_observed,
                                      recent_expected, history_years, count_formatter)
    return pd.DataFrame(reasons, index=contrib.index,
                        columns=[f"reason_{i}" for i in range(1, top + 1)])


def _sentence(factor: str, area: object, values: pd.DataFrame, means: Mapping[str, float],
              specs: Mapping[str, FeatureSpec], recent_observed: pd.Series | None,
              recent_expected: pd.Series | None, history_years: int,
              fmt: Callable[[int], str]) -> str:
    if factor == HISTORY:
        if recent_observed is not None and recent_expected is not None:
            obs = int(recent_observed[area])
            exp_ = round(float(recent_expected[area]))
            if obs > exp_:
                return (f"{_fires(obs, fmt)} in the last {history_years} years "
                        f"({TYPICAL} {exp_})")
        # The history term also weighs earlier years; say so when the recent count alone
        # would not show why.
        ratio = math.exp(float(values.at[area, factor]))
        return f"Fires here in past years {ratio:.1f} times the service average"
    if factor == LAG:
        ratio = math.exp(float(values.at[area, factor]))
        return f"Fires in neighbouring areas {ratio:.1f} times the service average"
    spec = specs.get(factor)
    label = spec.label if spec else factor
    unit = spec.unit if spec else "number"
    value = format_value(float(values.at[area, factor]), unit)
    mean = format_value(float(means[factor]), unit)
    return f"{label} {value} (service average {mean})"


def explain_fit(fit: FitResult, *, features: Sequence[FeatureSpec],
                count_formatter: Callable[[int], str] = str, top: int = 3,
                clear_effects_only: bool = True) -> pd.DataFrame:
    """:func:`explain` for a fitted model's forecast areas.

    With *clear_effects_only*, a factor whose 95% confidence interval includes "no
    effect" is not given as a reason: after the history term, a weak covariate can have
    a small negative coefficient, and "5% social renting (service average 23%)" would
    then read as a reason for priority. Areas with no households get no reasons.
    """
    coefs = {c.name: c.estimate for c in fit.coefficients}
    skip = ([c.name for c in fit.coefficients if c.ci_low <= 0 <= c.ci_high]
            if clear_effects_only else [])
    out = explain(fit.feature_values, coefficients=coefs, means=fit.feature_means,
                  features=features, recent_observed=fit.recent_observed,
                  recent_expected=fit.recent_expected,
                  history_years=len(fit.recent_years), count_formatter=count_formatter,
                  top=top, skip=skip)
    no_homes = fit.households.reindex(out.index) <= 0
    out.loc[no_homes, :] = ""
    return out


# --------------------------------------------------------------------------- ranges in words


def ordinal(n: int) -> str:
    """``1st``, ``2nd``, ``3rd``, ``11th``, ``22nd``, ``1,001st``."""
    n = int(n)
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n:,}{suffix}"


def place_text(rank: float | None, low: float | None, high: float | None, *, of: int | None,
               where: str | None = None) -> str:
    """An area's place on the list with its 90% range, in words.

    ``place_text(47, 10, 120, of=229, where="Croydon")`` is "47th of 229 in Croydon (likely
    between 10th and 120th)"; without a place, "... of 4,994". Empty when the rank is
    missing; the range is left out when it is.
    """
    if rank is None or pd.isna(rank):
        return ""
    text = ordinal(int(rank)) + (f" of {int(of):,}" if of else "")
    if where:
        text += f" in {where}"
    if low is not None and high is not None and not pd.isna(low) and not pd.isna(high):
        lo, hi = int(low), int(high)
        text += (f" (likely {ordinal(lo)})" if lo == hi
                 else f" (likely between {ordinal(lo)} and {ordinal(hi)})")
    return text


def chance_text(p: float | None) -> str:
    """A chance in words a manager can repeat: "about 6 in 10", "almost certainly"."""
    if p is None or pd.isna(p):
        return ""
    p = float(p)
    if p >= 0.975:
        return "almost certainly"
    if p >= 0.05:
        return f"about {max(1, min(9, round(p * 10)))} in 10"
    return "almost never" if p < 0.005 else "less than 1 in 10"


def top_chance_note(where: str, *, simulations: int | None = None, share: float = 0.10) -> str:
    """What "chance of being in the top 10%" means, for the group the reader looks at."""
    runs = f"{simulations:,}" if simulations else "many"
    pct = f"{100 * share:.0f}%"
    return (f"Chance in {where}'s top {pct}: the model's estimate of every area's risk was "
            f"played out {runs} times, each time as uncertain as the fires it has seen allow. "
            f"This is how often the area came among the top areas of {where} that hold "
            f"{pct} of {where}'s households (the list you would visit first). About 9 in 10 "
            f"means it belongs there in nearly every version; about 5 in 10 is a toss-up.")


def band_range_text(low_label: str | None, high_label: str | None) -> str:
    """The bands the area's likely range of ranks falls in: "High to Very high"."""
    if not low_label or not high_label:
        return ""
    return f"only {low_label}" if low_label == high_label else f"{low_label} to {high_label}"
