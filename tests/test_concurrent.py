"""Ten users at once on one app server: each browser session keeps its own borough and its
own layer (Streamlit session state is per session), nothing breaks, nothing leaves the
machine."""

from __future__ import annotations

import numpy as np
import pytest

from bench.load import drive_sessions, pick_groups
from firerisk.geo.results import read_results
from firerisk.ui.bands import published_banding
from firerisk.ui.mapview import LAYERS, layer_style
from tests.browser_helpers import NetworkGuard, run_app

pytestmark = pytest.mark.browser

SESSIONS = 10


def test_ten_concurrent_sessions_keep_their_own_borough_and_layer(sample_results, tmp_path):
    results = read_results(sample_results)
    areas = results.areas
    label, groups, n_areas = pick_groups(sample_results, sessions=SESSIONS)
    column = results.group_columns[0]
    assert len({g for g, _ in groups}) == SESSIONS  # ten different boroughs

    # Independent truth from the results file: each borough's rows and its IMD colours.
    values = areas[column].astype(str).to_numpy()
    positions = {g: set(np.flatnonzero(values == g).tolist()) for g, _ in groups}
    for g, n in groups:
        assert len(positions[g]) == n
    banding = published_banding(areas, results.band_breaks)
    band = layer_style(results, "band", banding=banding)
    imd = layer_style(results, "imd", banding=banding)
    ids = areas["area_id"]
    band_fills = {g: {band.colour_of(int(c)) for c in band.classes.reindex(ids[values == g])}
                  for g, _ in groups}
    imd_fills = {g: {imd.colour_of(int(c)) for c in imd.classes.reindex(ids[values == g])}
                 for g, _ in groups}

    log = tmp_path / "streamlit.log"
    guard = NetworkGuard()
    with run_app(sample_results, log=log) as base:
        sessions = drive_sessions(base, label=label, groups=groups, n_areas=n_areas,
                                  layer_label=LAYERS["imd"], guard=guard,
                                  expected_fills=imd_fills, timeout=90)

    assert [s.group for s in sessions] == [g for g, _ in groups]
    for s in sessions:
        # Its own borough only: the polygon count and the very areas drawn.
        assert s.count == s.expected == len(positions[s.group]), (s.group, s.count)
        assert s.positions == positions[s.group], s.group
        # Before the layer change it showed its borough in priority bands; after, in IMD.
        assert s.count_before_layer == s.expected, (s.group, s.count_before_layer)
        assert s.fills_before_layer == band_fills[s.group], s.group
        assert s.fills == imd_fills[s.group], s.group
        assert s.fills != s.fills_before_layer, s.group
        # No error shown in the page.
        assert s.exception_blocks == 0, s.group
        assert not s.traceback_in_page, s.group
        assert s.page_errors == [], (s.group, s.page_errors)

    server_log = log.read_text(errors="replace")
    assert "Traceback" not in server_log, server_log[-3000:]
    assert "Error" not in server_log, server_log[-3000:]
    assert guard.allowed > 0
    assert guard.blocked == [], f"a page tried to reach the internet: {guard.blocked}"
    slowest = max(s.layer_s for s in sessions)
    print(f"\n{SESSIONS} concurrent sessions on one server: slowest session {slowest:.1f} s "
          f"from opening to its borough in the new layer")
