"""The real app in headless Chromium: the map draws one polygon per area, follows the filter
and the layer, and the page never tries to reach anything but the app's own server."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import sync_playwright

from geo.results import read_results
from tests.browser_helpers import (
    NetworkGuard,
    launch_browser,
    polygon_fills,
    run_app,
    wait_for_polygons,
)
from ui.bands import published_banding
from ui.mapview import LAYERS, layer_style

pytestmark = pytest.mark.browser


def _expected_fills(results, layer: str, area_ids) -> set[str]:
    style = layer_style(results, layer, banding=published_banding(results.areas,
                                                                  results.band_breaks))
    return {style.colour_of(int(c)) for c in style.classes.reindex(list(area_ids))}


def _wait_for_fills(page, expected: set[str], *, timeout: float = 60.0) -> None:
    start = time.monotonic()
    seen: set[str] = set()
    while time.monotonic() - start < timeout:
        seen = polygon_fills(page)
        if seen == expected:
            return
        page.wait_for_timeout(200)
    raise AssertionError(f"map colours {sorted(seen)} never matched {sorted(expected)}")


def test_map_polygons_follow_filter_and_layer_offline(sample_results, tmp_path):
    results = read_results(sample_results)
    areas = results.areas
    column = results.group_columns[0]
    counts = areas[column].astype(str).value_counts()
    value = str(counts.index[len(counts) // 2])
    in_group = areas.loc[areas[column].astype(str) == value, "area_id"]

    with run_app(sample_results, log=tmp_path / "streamlit.log") as base, \
            sync_playwright() as pw:
        context = launch_browser(pw, tmp_path / "chromium-profile")
        try:
            guard = NetworkGuard()
            context.route("**/*", guard)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))

            start = time.monotonic()
            page.goto(base)
            wait_for_polygons(page, len(areas))
            cold = time.monotonic() - start
            assert polygon_fills(page) == _expected_fills(results, "band", areas["area_id"])

            start = time.monotonic()
            page.reload()
            wait_for_polygons(page, len(areas))
            warm = time.monotonic() - start
            print(f"\nfirst polygons: cold {cold:.1f} s, warm {warm:.1f} s "
                  f"({len(areas):,} areas)")

            sidebar = page.get_by_test_id("stSidebar")
            sidebar.get_by_test_id("stSelectbox").filter(
                has_text=column.replace("_", " ").capitalize()).click()
            page.keyboard.type(value)
            page.get_by_role("option", name=value, exact=True).click()
            wait_for_polygons(page, len(in_group))
            _wait_for_fills(page, _expected_fills(results, "band", in_group))

            sidebar.get_by_text(LAYERS["imd"], exact=True).click()
            _wait_for_fills(page, _expected_fills(results, "imd", in_group))
            wait_for_polygons(page, len(in_group))

            assert guard.allowed > 0
            assert guard.blocked == [], f"the page tried to reach the internet: {guard.blocked}"
            assert errors == [], errors
        finally:
            context.close()
