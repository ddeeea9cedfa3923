"""Pipeline helpers that sit between the model and the published tables."""

from __future__ import annotations

import pandas as pd

from firerisk.pipeline import HISTORY_WITHHELD, _published_history


def test_history_sentences_use_the_published_total_or_no_figure_at_all() -> None:
    reasons = pd.DataFrame({"r1": [
        "\x0012\x00 fires in the last 5 years (typical for this many homes: 3)",
        "\x003\x00 fires in the last 5 years (typical for this many homes: 2)",  # total published as <5
        "Households living in flats 80% (service average 54%)",
        None,
        "Fires here in past years 1.3 times the service average",  # total withheld
        "\x007\x00 fires in the last 5 years (typical for this many homes: 4)",  # total withheld as [c]
    ]}, index=list("abcdef"))
    published = pd.Series({"a": "12", "b": "<5", "c": "0", "d": "[c]", "e": "[c]",
                           "f": "[c]"})
    out = _published_history(reasons, published)["r1"].tolist()
    assert out == [
        "12 fires in the last 5 years (typical for this many homes: 3)",
        HISTORY_WITHHELD,
        "Households living in flats 80% (service average 54%)",
        "",
        HISTORY_WITHHELD,
        HISTORY_WITHHELD,
    ]
    assert not any(ch.isdigit() for ch in HISTORY_WITHHELD)
