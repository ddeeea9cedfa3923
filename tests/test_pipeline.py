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


def test_published_rank_ranges_agree_with_the_list(sample_results) -> None:
    # The real London build: every area's range holds its rank (in the service and in its
    # borough), in-borough places follow the published rank, the ends sit on the published
    # steps, the chances are shares rounded to 2 decimals, and the band range holds the band.
    import numpy as np

    from firerisk.columns import group_rank_columns
    from firerisk.geo.results import read_results
    from firerisk.risk.uncertainty import rank_step

    areas = read_results(sample_results).areas
    assert (areas["rank_low"] <= areas["rank"]).all()
    assert (areas["rank"] <= areas["rank_high"]).all()
    step = rank_step(len(areas))
    assert ((areas["rank_low"] % step == 0) | (areas["rank_low"] == 1)).all()
    assert ((areas["rank_high"] % step == 0) | (areas["rank_high"] == len(areas))).all()
    rank, low, high, top = group_rank_columns("borough")
    order = areas.sort_values("rank").groupby("borough").cumcount() + 1
    assert areas[rank].equals(order.reindex(areas.index).astype(areas[rank].dtype))
    assert (areas[low] <= areas[rank]).all()
    assert (areas[rank] <= areas[high]).all()
    for col in (top, "band_chance", "p_top10"):
        values = areas[col].to_numpy(dtype=float)
        assert ((values >= 0) & (values <= 1)).all()
        assert np.allclose(values * 100, np.round(values * 100))
    assert (areas["band_index_low"] <= areas["band_index"]).all()
    assert (areas["band_index"] <= areas["band_index_high"]).all()
    # They separate areas, as "band uncertain" (82% of London's areas) did not.
    assert "uncertain_band" not in areas.columns
    assert areas["rank_high"].sub(areas["rank_low"]).nunique() > 100
