"""Safe display of text that comes from data files, and the forecast year in words."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from firerisk.geo.results import Results

__all__ = ["forecast_year", "in_forecast_year", "md_escape"]

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:])")


def md_escape(text: object) -> str:
    """Escape Markdown (and inline HTML) syntax so data text renders literally.

    ``st.markdown``/``st.caption`` would otherwise turn ``![x](http://...)`` in an area name into
    an image fetched from the internet, or ``**x**`` into bold.
    """
    return _MD_SPECIAL.sub(r"\\\1", "" if text is None else str(text))


def _year(value: Any) -> int | None:
    try:
        year = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return year if 1900 <= year <= 2200 else None


def forecast_year(results: Results) -> int | None:
    """The year the list estimates dwelling fires for, as recorded in the results file.

    ``years.next_year`` of the ``run`` layer (what the PDFs print as "estimate for ..."),
    else ``model.target_year``; None when neither is recorded.
    """
    for section, key in (("years", "next_year"), ("model", "target_year")):
        info = results.run.get(section)
        if isinstance(info, dict) and info.get(key) is not None:
            year = _year(info[key])
            if year is not None:
                return year
    return None


def in_forecast_year(results: Results, *, preposition: str = "in") -> str:
    """``"in 2024"`` (or ``"for 2024"`` with ``preposition="for"``) for the forecast year of
    *results*; ``"next year"`` when the file records none."""
    year = forecast_year(results)
    return f"{preposition} {year}" if year is not None else "next year"
