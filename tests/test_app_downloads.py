"""Downloads (map PDF, atlas, residents' leaflet) and the "Data and method" and "How good is
this list?" pages, on the real London results.

A download button's bytes cannot be read back in AppTest, so the builders in
``ui.downloads`` are tested directly and the pages only for their widgets and text.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pypdf import PdfReader
from streamlit.testing.v1 import AppTest

from firerisk.errors import ReportRequestError
from firerisk.geo.results import Results, read_results, write_results
from firerisk.report.explainer import LEAFLET_MODE_STATEMENT
from firerisk.ui.downloads import (
    atlas_pdf_bytes,
    explainer_pdf_bytes,
    map_pdf_bytes,
    mode_statement,
)
from firerisk.ui.exports import CHANCE, RATE, targets_csv, targets_table

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
SAMPLE = ROOT / "sample_data"


@pytest.fixture(scope="module")
def results(sample_results: Path) -> Results:
    return read_results(sample_results)


@pytest.fixture(scope="module")
def two_boroughs(results: Results) -> tuple[str, str]:
    """Two small boroughs (fewest areas), for quick atlases."""
    counts = results.areas[results.group_columns[0]].astype(str).value_counts()
    small = sorted(counts.index[-2:])
    return small[0], small[1]


@pytest.fixture(scope="module")
def small_results(results: Results, two_boroughs: tuple[str, str],
                  tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The London results cut to two boroughs, written as a results file."""
    column = results.group_columns[0]
    keep_a = results.areas[column].astype(str).isin(two_boroughs)
    keep_t = results.targets[column].astype(str).isin(two_boroughs)
    out = tmp_path_factory.mktemp("small") / "two_boroughs.gpkg"
    return write_results(out, areas=results.areas.loc[keep_a].copy(),
                         targets=results.targets.loc[keep_t].copy(), run=results.run,
                         provenance=results.provenance, band_breaks=results.band_breaks,
                         extra=results.extra)


def pdf_text(data: bytes) -> tuple[PdfReader, list[str]]:
    """The reader and each page's text with runs of whitespace made single spaces."""
    reader = PdfReader(io.BytesIO(data))
    return reader, [" ".join(page.extract_text().split()) for page in reader.pages]


def meta(reader: PdfReader) -> dict[str, object]:
    """The document information dictionary (empty if the PDF has none)."""
    return dict(reader.metadata or {})


def flat(text: str) -> str:
    return " ".join(text.split())


def start(path: Path, monkeypatch: pytest.MonkeyPatch, page: str) -> AppTest:
    monkeypatch.setenv("FIRERISK_RESULTS", str(path))
    at = AppTest.from_file(APP, default_timeout=180)
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


# --------------------------------------------------------------------------- builders


def test_map_pdf_names_the_group_mode_sources_and_every_checksum(results):
    column = results.group_columns[0]
    value = str(results.targets.sort_values("rank")[column].iloc[0])  # the top area's borough
    data = map_pdf_bytes(results, group_column=column, group_value=value)
    assert data.startswith(b"%PDF-")
    reader, pages = pdf_text(data)
    everything = " ".join(pages)
    assert f"Priority for a home fire safety visit: {value}" in pages[0]
    assert "For internal use" in pages[0]  # the report's footer states the mode
    assert flat(results.attribution())[:60] in everything
    # the annex: mode in words, and every input with its full checksum
    annex = pages[-1]
    assert annex.startswith("Sources and provenance")
    assert "Output mode: internal" in annex
    for row in results.provenance.itertuples():
        assert str(row.sha256) in annex, row.file
        assert str(row.file) in annex
    assert meta(reader)["/OutputMode"] == "internal"
    assert str(results.provenance["sha256"].iloc[0])[:12] in str(meta(reader)["/Provenance"])
    # the top-ranked area of that borough is in the list pages
    top = results.targets.sort_values("rank")
    top_name = str(top.loc[top[column].astype(str) == value, "area_name"].iloc[0])
    assert top_name in everything


def test_map_pdf_paper_and_orientation_are_honoured(results, two_boroughs):
    column = results.group_columns[0]
    data = map_pdf_bytes(results, group_column=column, group_value=two_boroughs[0],
                         paper="A3", orientation="portrait")
    reader, _ = pdf_text(data)
    for page in reader.pages:  # every page, the annex too, is A3 portrait (297 x 420 mm)
        w, h = float(page.mediabox.width), float(page.mediabox.height)
        assert w == pytest.approx(297 / 25.4 * 72, abs=1)
        assert h == pytest.approx(420 / 25.4 * 72, abs=1)


def test_map_pdf_refuses_an_unknown_group(results):
    with pytest.raises(ReportRequestError, match="Atlantis"):
        map_pdf_bytes(results, group_column=results.group_columns[0], group_value="Atlantis")


def test_atlas_has_a_map_per_group_then_the_sources(results, small_results, two_boroughs):
    small = read_results(small_results)
    by = small.group_columns[0]
    data = atlas_pdf_bytes(small, by=by)
    assert data.startswith(b"%PDF-")
    reader, pages = pdf_text(data)
    everything = " ".join(pages)
    for name in two_boroughs:  # a map page and a list page for each borough
        assert f"{by.capitalize()}: {name}" in everything, name
        assert f"Priority list: {name}" in everything, name
    assert all("For internal use" in p for p in pages[:-1])  # footer on every report page
    assert flat(small.attribution())[:60] in everything
    assert pages[-1].startswith("Sources and provenance")
    assert all(str(s) in pages[-1] for s in small.provenance["sha256"])
    assert meta(reader)["/OutputMode"] == "internal"


def test_leaflet_is_one_page_with_area_contact_mode_and_attribution(results):
    row = results.targets.sort_values("rank").iloc[3]
    contact = "Community safety team, 0800 000 0000"
    data = explainer_pdf_bytes(results, area_id=str(row["area_id"]), contact=contact)
    assert data.startswith(b"%PDF-")
    reader, pages = pdf_text(data)
    assert len(pages) == 1
    text = pages[0]
    assert str(row["area_name"]) in text
    assert contact in text
    # Left with residents, the leaflet follows the public rules even from an internal file.
    assert flat(LEAFLET_MODE_STATEMENT) in flat(text)
    assert "Output mode: public" in text
    assert flat(results.attribution())[:60] in text
    assert meta(reader)["/OutputMode"] == "public"


def test_the_mode_stated_follows_the_results_file(results):
    run = {**results.run, "disclosure": {**results.run["disclosure"], "mode": "public"}}
    public = replace(results, run=run)
    assert mode_statement(public).startswith("Output mode: public")
    row = results.targets.sort_values("rank").iloc[0]
    data = explainer_pdf_bytes(public, area_id=str(row["area_id"]), contact="Call us")
    reader, pages = pdf_text(data)
    assert "Output mode: public" in pages[0]
    assert "Output mode: internal" not in pages[0]
    assert meta(reader)["/OutputMode"] == "public"


def test_leaflet_needs_a_contact(results):
    with pytest.raises(ReportRequestError, match="contact"):
        explainer_pdf_bytes(results, area_id=str(results.targets["area_id"].iloc[0]),
                            contact="  ")


# --------------------------------------------------------------------------- pages


def test_list_page_offers_every_download(sample_results, results, monkeypatch):
    at = start(sample_results, monkeypatch, "ui/page_list.py")
    labels = {b.key: b.label for b in at.download_button}
    by = results.group_columns[0]
    assert labels == {
        "download_targets": "Download this list (CSV)",
        "download_targets_xlsx": "Download this list (Excel)",
        "download_map_pdf": "Download PDF (map and list)",
        "download_atlas_pdf": f"Download atlas by {by}",
        "download_leaflet_pdf": "Download leaflet for residents",
    }
    assert at.button(key="make_atlas").label == f"Make the atlas by {by}"
    assert at.download_button(key="download_atlas_pdf").disabled  # nothing made yet
    captions = " ".join(c.value for c in at.caption)
    assert "Output mode\\: internal" in captions
    # the leaflet's area list is the current list, highest priority first
    ranked = results.targets.sort_values("rank")
    options = at.selectbox(key="leaflet_area").options
    assert options[:3] == [f"{int(r['rank']):,}. {r['area_name']} ({r['area_id']})"
                           for _, r in ranked.head(3).iterrows()]
    assert len(options) == len(results.targets)


def test_list_page_filter_narrows_the_leaflet_areas(sample_results, results, two_boroughs,
                                                     monkeypatch):
    at = start(sample_results, monkeypatch, "ui/page_list.py")
    column = results.group_columns[0]
    value = two_boroughs[0]
    at.sidebar.selectbox(key="group_value").set_value(value).run()
    assert not at.exception
    inside = results.targets.loc[results.targets[column].astype(str) == value]
    codes = [m.group(1) for o in at.selectbox(key="leaflet_area").options
             if (m := re.search(r"\((\w+)\)$", o))]
    assert codes == list(inside.sort_values("rank")["area_id"].astype(str))
    assert any(value in m.value for m in at.markdown if "Map and list" in m.value)


def test_atlas_is_made_on_request_then_offered(small_results, two_boroughs, monkeypatch):
    at = start(small_results, monkeypatch, "ui/page_list.py")
    assert at.download_button(key="download_atlas_pdf").disabled
    at.button(key="make_atlas").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert not at.download_button(key="download_atlas_pdf").disabled
    held = at.session_state["atlas_pdf"]
    assert held[1].startswith(b"%PDF-")
    _, pages = pdf_text(held[1])
    assert all(any(name in p for p in pages) for name in two_boroughs)


def test_data_page_shows_register_checksums_rows_and_disclosure(sample_results, results,
                                                                monkeypatch):
    at = start(sample_results, monkeypatch, "ui/page_data.py")
    register = next(d.value for d in at.dataframe if "SHA-256" in d.value.columns)
    assert {"Input", "File", "Publisher", "Licence or agreement", "Date", "Rows read",
            "Rows used", "Rows dropped", "SHA-256", "Attribution"} <= set(register.columns)
    for file in results.provenance["file"]:
        expected = hashlib.sha256((SAMPLE / str(file)).read_bytes()).hexdigest()
        shown = register.loc[register["File"] == file, "SHA-256"]
        assert list(shown) == [expected], file
    # every incident row of the file is read, and the page says how many
    n_rows = len(pd.read_csv(SAMPLE / "lfb_dwelling_fires_2009_2024.csv.gz"))
    assert n_rows == 90146
    text = " ".join(m.value for m in at.markdown)
    assert f"**{n_rows:,}** incident rows were read" in text
    assert "90,146" in text
    # each drop reason with its count; used + dropped = read
    acc = next(d.value for d in at.dataframe if "What happened" in d.value.columns)
    dropped = results.run["accounting"]["dropped"]
    for reason, n in dropped.items():
        assert int(acc.loc[acc["Reason"] == f"dropped: {reason}", "Rows"].iloc[0]) == n
    used = int(acc.loc[acc["Reason"] == "used", "Rows"].iloc[0])
    assert used + sum(dropped.values()) == n_rows
    # partial year, disclosure report, mode, threshold, the rule and no person-level data
    assert "2024 is a partial year" in text
    assert any(c.value == results.run["disclosure"]["text"] for c in at.code)
    assert f"Output mode: **{results.mode}**" in text
    assert f"threshold: **{results.threshold}**" in text
    assert f"from 1 to {results.threshold - 1}" in text
    assert any("No person-level data was read" in s.value for s in at.success)
    labels = {b.key: b.label for b in at.download_button}
    assert labels == {"download_register": "Download the register (CSV)",
                      "download_data_summary": "Download the data protection summary (text)"}


def test_register_csv_and_data_summary_carry_mode_checksums_and_rows(results, sample_results):
    from firerisk.ui.exports import data_summary_text, register_csv

    data = register_csv(results)
    text = data.decode("utf-8-sig")
    header = [line for line in text.splitlines() if line.startswith("#")]
    assert any(f"Output mode: {results.mode}" in line for line in header)
    assert any(line.startswith("# Attribution:") and flat(results.attribution())[:60] in line
               for line in header)
    back = pd.read_csv(io.BytesIO(data), comment="#", encoding="utf-8-sig")
    assert list(back["File"]) == list(results.provenance["file"])
    for file, sha in zip(back["File"], back["SHA-256"], strict=True):
        assert sha == hashlib.sha256((SAMPLE / file).read_bytes()).hexdigest(), file

    summary = data_summary_text(results)
    assert results.run["disclosure"]["text"].strip() in summary
    assert f"Results file SHA-256: {hashlib.sha256(sample_results.read_bytes()).hexdigest()}" \
        in summary
    assert f"Output mode: {results.mode}. Small-number threshold: {results.threshold}." \
        in summary
    assert "Person-level data read: none." in summary
    assert "read: 90,146" in summary
    for reason, n in results.run["accounting"]["dropped"].items():
        assert f"dropped: {reason}: {n:,}" in summary
    for sha in results.provenance["sha256"]:
        assert f"SHA-256: {sha}" in summary


def test_evaluation_page_shows_all_six_rankings_and_the_model(sample_results, results,
                                                              monkeypatch):
    at = start(sample_results, monkeypatch, "ui/page_evaluation.py")
    table = next(d.value for d in at.dataframe if "List" in d.value.columns)
    assert list(table["List"]) == [
        "This list (the model)", "Last year's count", "Count over the previous years",
        "Smoothed rate over the previous years", "Deprivation (IMD) alone",
        "Average of the other years' rates (future years included)"]
    ev = results.extra["evaluation"].set_index("ranking")
    model = table.iloc[0]
    assert model["Top 10% of households"] == (
        f"{100 * ev.at['model', 'capture_10']:.1f}% ({100 * ev.at['model', 'capture_10_low']:.1f}"
        f" to {100 * ev.at['model', 'capture_10_high']:.1f})")
    assert model["Times random (top 10%)"] == f"{ev.at['model', 'pai_10']:.2f}×"
    assert table.iloc[4]["Forecast error (lower is better)"] == "not a forecast"  # IMD
    headline = " ".join(s.value for s in at.success)
    assert f"where {100 * ev.at['model', 'capture_10']:.0f}% of the following year" in headline
    assert f"{100 * ev.at['last_year', 'capture_10']:.0f}% using last year" in headline
    assert f"{100 * ev.at['imd', 'capture_10']:.0f}% using deprivation alone" in headline
    assert at.get("vega_lite_chart"), "the capture curve is not drawn"
    facts = next(d.value for d in at.dataframe if "Figure" in d.value.columns)
    model_run = results.run["model"]
    shown = dict(zip(facts["Figure"], facts["Value"], strict=True))
    assert shown["Dispersion (alpha)"] == f"{model_run['alpha']:.3f}"
    assert shown["AIC"] == f"{model_run['aic']:,.1f}"
    assert shown["Residual Moran's I"].startswith(f"{model_run['residual_moran_i']:.3f}")
    coefs = next(d.value for d in at.dataframe if "Rate ratio" in d.value.columns)
    assert len(coefs) == len(results.extra["coefficients"])
    # the forecast beside what happened, tenth by tenth, as the backtest recorded it
    calib = next(d.value for d in at.dataframe
                 if "Forecast against what happened" in d.value.columns)
    recorded = results.run["evaluation"]["pooled"]["model"]["calibration"]
    assert len(calib) == len(recorded) == 10
    for row, rec in zip(calib.itertuples(index=False), recorded, strict=True):
        assert row[-1] == f"{100 * (rec['mean_predicted'] / rec['mean_observed'] - 1):+.1f}%"
    assert any("in every tenth of areas the forecast was within 5%" in m.value
               for m in at.markdown)


def test_factor_sentences_quote_steps_people_can_picture(results):
    from firerisk.ui.page_evaluation import factor_sentences

    coefs = pd.DataFrame({
        "name": ["const", "imd_score", "flat_share", "history"],
        # 2 per 1,000; x1.5 per 10 score points; x0.9 per 10 percentage points; x1.25 per doubling
        "estimate": [math.log(0.002), math.log(1.5) / 10, math.log(0.9) / 0.1,
                     math.log(1.25) / math.log(2)],
        "ci_low": [math.log(0.0019), math.log(1.2) / 10, math.log(0.8) / 0.1, 0.1],
        "ci_high": [math.log(0.0021), math.log(1.8) / 10, math.log(1.1) / 0.1, 0.5],
    })
    hand = replace(results, extra={**results.extra, "coefficients": coefs})
    said = factor_sentences(hand)
    assert said[0] == ("An area at the service average on every factor: about 2.00 dwelling "
                       "fires per 1,000 households a year.")
    assert said[1].startswith("Deprivation score (IMD 2025), 10 points higher: 50% more fires "
                              "expected (95% interval +20% to +80%)")
    assert said[2].startswith("Households living in flats, 10 percentage points more: 10% "
                              "fewer fires expected (95% interval -20% to +10%; could be no "
                              "effect)")
    assert said[3].startswith("An area whose own past fire rate was twice the service "
                              "average: 25% more fires expected")


# --------------------------------------------------------------------------- the list's CSV


def csv_rows(data: bytes) -> tuple[list[str], pd.DataFrame]:
    """The comment lines and the table of a list CSV, every cell read as text."""
    text = data.decode("utf-8-sig")
    comments = [line for line in text.splitlines() if line.startswith("#")]
    return comments, pd.read_csv(io.StringIO(text), comment="#", dtype=str,
                                 keep_default_na=False)


def test_list_csv_shows_the_rate_whole_households_and_percentages(results):
    column = results.group_columns[0]
    value = str(results.targets.sort_values("rank")[column].iloc[0])
    comments, table = csv_rows(targets_csv(results, group=column, value=value))
    assert list(table.columns[:3]) == ["Rank", f"Rank in {column}", RATE]
    truth = results.targets.set_index("area_id")
    rows = truth.loc[table["Code"]]
    assert np.allclose(table[RATE].astype(float), rows["risk_per_1000"].astype(float))
    assert any(f"ranked by {RATE.lower()}" in line for line in comments)
    # households are whole numbers: "544", never "544.0"
    assert table["Households"].str.fullmatch(r"\d+").all(), table["Households"].head()
    assert list(table["Households"].astype(int)) == [round(h) for h in rows["households"]]
    # the chance carries its unit: "64%"
    assert table[CHANCE].str.fullmatch(r"\d{1,3}%").all(), table[CHANCE].head()
    assert list(table[CHANCE]) == [f"{round(100 * p)}%" for p in rows["p_top10"]]


@pytest.mark.parametrize("how", ["no column", "empty column"])
def test_list_without_rates_leaves_the_rate_out(results, how):
    def strip(table: pd.DataFrame) -> pd.DataFrame:
        if how == "no column":
            return table.drop(columns="risk_per_1000")
        return table.assign(risk_per_1000=np.nan)

    public = replace(results, areas=strip(results.areas), targets=strip(results.targets))
    table = targets_table(public)
    assert RATE not in table.columns
    assert list(table["Code"]) == list(results.targets.sort_values("rank")["area_id"])
    _comments, back = csv_rows(targets_csv(public))
    assert RATE not in back.columns
    assert back["Households"].str.fullmatch(r"\d+").all()


def test_list_takes_the_rate_from_the_areas_layer_if_the_targets_lack_it(results):
    slim = replace(results, targets=results.targets.drop(columns="risk_per_1000"))
    table = targets_table(slim)
    rates = results.areas.set_index("area_id")["risk_per_1000"].reindex(table["Code"])
    assert np.allclose(table[RATE], rates.to_numpy())


def test_list_csv_names_the_forecast_year_of_the_file(results):
    from firerisk.ui.text import forecast_year, in_forecast_year

    assert forecast_year(results) == int(results.run["years"]["next_year"])
    later = replace(results, run={**results.run,
                                  "years": {**results.run["years"], "next_year": 2031}})
    comments, _ = csv_rows(targets_csv(later))
    text = " ".join(comments)
    assert "dwelling fires in 2031" in text
    assert "estimate for 2031" in text
    assert "next year" not in text
    # no years section: the model's target year; neither: plain "next year"
    model_only = replace(results, run={k: v for k, v in results.run.items() if k != "years"})
    assert forecast_year(model_only) == int(results.run["model"]["target_year"])
    bare = replace(results, run={k: v for k, v in results.run.items()
                                 if k not in ("years", "model")})
    assert forecast_year(bare) is None
    assert in_forecast_year(bare) == "next year"
