"""Usability-trial fixes to the PDFs: the residents' leaflet follows the public rules and is
worded by band, every page (annex included) says "Page i of N" with N the real page count,
and joined attribution text never repeats a sentence.

Page counts come from poppler's ``pdfinfo`` and page text from ``pdftotext`` (independent of
pypdf and matplotlib, which write the files).
"""

from __future__ import annotations

import dataclasses
import io
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from pypdf import PdfReader

from firerisk.geo.results import Results, join_attributions, read_results
from firerisk.report.explainer import explainer_text, leaflet_reason
from firerisk.report.sources import atlas_pdf_bytes, explainer_pdf_bytes, map_pdf_bytes

GENERATED = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
HISTORY_SENTENCE = "More fires here in recent years than the service average"
PRIORITY_HEADING = "Why we are offering visits in this area"

# A count or rate of incidents: "13 fires", "<5 fires", "(expected 4)", "2.3 times the service
# average", "[c] fires".
INCIDENT_FIGURES = re.compile(
    r"(<?\d[\d,]*|\[c\])\s+(dwelling\s+|home\s+)?(fires?|incidents?)\b"
    r"|expected\s+\d|\d(\.\d+)?\s+times\b", re.IGNORECASE)


@pytest.fixture(scope="module")
def results(sample_results: Path) -> Results:
    return read_results(sample_results)


def _pdf_pages(data: bytes) -> int:
    """Page count from poppler's pdfinfo."""
    run = subprocess.run(["pdfinfo", "-"], input=data, capture_output=True, check=True)
    m = re.search(rb"^Pages:\s+(\d+)", run.stdout, re.MULTILINE)
    assert m, run.stdout
    return int(m.group(1))


def _pages_text(data: bytes) -> list[str]:
    """Each page's text (poppler's pdftotext), whitespace runs made single spaces."""
    run = subprocess.run(["pdftotext", "-raw", "-", "-"], input=data, capture_output=True,
                         check=True)
    return [" ".join(p.split()) for p in run.stdout.decode("utf-8").split("\f")[:-1]]


def _leaflet(results: Results, area_id: str) -> str:
    data = explainer_pdf_bytes(results, area_id=area_id, contact="Call 0800 000 0000",
                               generated=GENERATED)
    assert _pdf_pages(data) == 1
    return _pages_text(data)[0]


def _with_reason(results: Results, area_id: str, text: str) -> Results:
    areas = results.areas.copy()
    areas.loc[areas["area_id"].astype(str) == area_id, "reason_1"] = text
    return dataclasses.replace(results, areas=areas)


# --------------------------------------------------------------------------- 1. public rules


def test_leaflet_from_internal_results_prints_no_incident_counts(results: Results):
    assert results.mode == "internal"
    areas = results.areas
    counted = areas["reason_1"].astype(str).str.match(r"^\d[\d,]* fires? in the last")
    assert counted.any()
    row = areas.loc[counted].sort_values("rank").iloc[0]
    # the independent truth: the area's own published counts
    assert str(row["reason_1"]).split()[0] in str(row["obs_recent"])
    text = _leaflet(results, str(row["area_id"]))
    assert not INCIDENT_FIGURES.search(text), INCIDENT_FIGURES.search(text)
    assert "fires in the last" not in text
    assert HISTORY_SENTENCE in text
    # the mode line is truthful: the leaflet follows the public rules
    assert "Output mode: public" in text
    assert "internal" not in text.lower()
    assert "bands and ranks only" in text
    # area statistics and the model's rank are still shown
    for col in ("reason_2", "reason_3"):
        if isinstance(row[col], str) and row[col].strip() and "fire" not in row[col].lower():
            assert " ".join(row[col].split()) in text
    assert f"{int(row['rank']):,} of {len(areas):,}" in text


def test_leaflet_pdf_metadata_says_public(results: Results):
    area = str(results.areas.sort_values("rank")["area_id"].iloc[0])
    data = explainer_pdf_bytes(results, area_id=area, contact="Call us", generated=GENERATED)
    info = dict(PdfReader(io.BytesIO(data)).metadata or {})
    assert info["/OutputMode"] == "public"
    assert "output mode: public" in str(info["/Keywords"])


@pytest.mark.parametrize(("reason", "kept"), [
    ("13 fires in the last 5 years (expected 4)", HISTORY_SENTENCE),
    ("1 fire in the last 5 years (expected 0)", HISTORY_SENTENCE),
    ("<5 fires in the last 5 years (expected 2)", HISTORY_SENTENCE),
    ("Fires here in past years 2.3 times the service average",
     "More fires here in past years than the service average"),
    ("Fires in neighbouring areas 1.8 times the service average",
     "More fires in neighbouring areas than the service average"),
    (HISTORY_SENTENCE, HISTORY_SENTENCE),
    ("Deprivation score (IMD 1) 45.2 (service average 21.0)",
     "Deprivation score (IMD 1) 45.2 (service average 21.0)"),
    ("Households living in flats 81% (service average 52%)",
     "Households living in flats 81% (service average 52%)"),
    ("More fires than expected for an area like this in recent years",
     "More fires than expected for an area like this in recent years"),
    ("2 incidents in 2023", ""),  # an unknown sentence with a figure is left out
    ("Dwelling fires 13 (service average 4)", ""),
    ("\x0013\x00 fires in the last 5 years (expected 4)", HISTORY_SENTENCE),
])
def test_leaflet_reason_wording(reason: str, kept: str):
    assert leaflet_reason(reason) == kept


def test_every_history_reason_in_the_results_is_printed_without_figures(results: Results):
    areas = results.areas
    texts = set()
    for col in ("reason_1", "reason_2", "reason_3"):
        texts |= {t for t in areas[col].dropna().astype(str) if t.strip()}
    rewritten = {leaflet_reason(t) for t in texts}
    assert not [t for t in rewritten if INCIDENT_FIGURES.search(t)]
    assert "" not in rewritten  # every sentence the build writes is recognised
    # feature reasons (area statistics) pass unchanged
    features = {t for t in texts if re.search(r"\(service average [^()]+\)$", t)}
    assert features
    assert all(leaflet_reason(t) == t for t in features)


def test_leaflet_with_neighbour_and_past_year_reasons(results: Results):
    area = str(results.areas.sort_values("rank")["area_id"].iloc[1])
    for reason in ("Fires in neighbouring areas 1.8 times the service average",
                   "Fires here in past years 2.3 times the service average",
                   "3 fires in the last 5 years (expected 2.5)"):
        text = _leaflet(_with_reason(results, area, reason), area)
        assert not INCIDENT_FIGURES.search(text), (reason, INCIDENT_FIGURES.search(text))


# --------------------------------------------------------------------------- 2. wording by band


def test_low_band_leaflet_does_not_claim_priority(results: Results):
    areas = results.areas
    low = areas.loc[areas["band_index"] == 1].sort_values("rank").iloc[-1]
    text = _leaflet(results, str(low["area_id"]))
    assert PRIORITY_HEADING not in text
    assert f"“{low['band']}” band" in text
    assert "priority band" not in text
    assert f"{int(low['rank']):,} of {len(areas):,}" in text
    assert "Anyone can ask for a free home fire safety visit" in text
    assert "high-risk" not in text.lower()


def test_top_band_leaflet_keeps_priority_wording(results: Results):
    top = results.areas.sort_values("rank").iloc[0]
    _title, _where, blocks = explainer_text(results, area_id=str(top["area_id"]), contact="x")
    assert blocks[0].text == PRIORITY_HEADING
    assert f"“{top['band']}” priority band" in blocks[1].text
    text = " ".join(b.text for b in blocks)
    assert "Anyone can ask for a free home fire safety visit" in text


def test_middle_band_wording(results: Results):
    k = int(results.areas["band_index"].max())
    mid = results.areas.loc[results.areas["band_index"] == (k + 1) // 2].iloc[0]
    _title, _where, blocks = explainer_text(results, area_id=str(mid["area_id"]), contact="x")
    assert blocks[0].text != PRIORITY_HEADING
    assert "Anyone can ask for a free home fire safety visit" in " ".join(b.text for b in blocks)


# --------------------------------------------------------------------------- 3. page numbers


def _assert_numbered(data: bytes) -> int:
    n = _pdf_pages(data)
    pages = _pages_text(data)
    assert len(pages) == n
    for i, text in enumerate(pages, start=1):
        assert f"Page {i} of {n}" in text, (i, n, text[-200:])
        assert not re.search(rf"Page \d+ of (?!{n}\b)\d+", text)
    return n


def test_map_pdf_every_page_numbered_out_of_the_real_count(results: Results):
    data = map_pdf_bytes(results, group_column="borough", group_value="Hackney",
                         generated=GENERATED)
    n = _assert_numbered(data)
    assert "Sources and provenance" in _pages_text(data)[-1]
    assert n >= 3


def test_atlas_every_page_numbered_out_of_the_real_count(results: Results):
    column = results.group_columns[0]
    small = sorted(results.areas[column].astype(str).value_counts().index[-2:])
    keep_a = results.areas[column].astype(str).isin(small)
    keep_t = results.targets[column].astype(str).isin(small)
    cut = dataclasses.replace(results, areas=results.areas.loc[keep_a].copy(),
                              targets=results.targets.loc[keep_t].copy())
    data = atlas_pdf_bytes(cut, by=column, generated=GENERATED)
    _assert_numbered(data)
    assert "Sources and provenance" in _pages_text(data)[-1]


# --------------------------------------------------------------------------- 4. attribution


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z©(])", " ".join(text.split())) if s]


def test_join_attributions_by_hand():
    assert join_attributions(["A one. B two.", "C three.", "A one."]) == "A one. B two. C three."
    assert join_attributions(["A  one.\nB two.", "B two. A one."]) == "A one. B two."
    assert join_attributions(["Licensed under v.3.0. Contains OS data © Crown.", ""]) == \
        "Licensed under v.3.0. Contains OS data © Crown."
    assert join_attributions([None, float("nan"), "X."]) == "X."
    assert join_attributions([]) == ""


def test_attribution_sentences_not_repeated_on_map_leaflet_and_metadata(results: Results):
    # the London inputs share one sentence (ONS boundaries and census)
    every = [s for a in results.provenance["attribution"].dropna() for s in _sentences(a)]
    repeated = {s for s in every if every.count(s) > 1}
    assert repeated
    data = map_pdf_bytes(results, group_column="borough", group_value="Hackney",
                         generated=GENERATED)
    first = _pages_text(data)[0]
    for s in repeated:
        assert first.count(s) == 1, s
    for s in set(every):
        assert s in first, s
    info = dict(PdfReader(io.BytesIO(data)).metadata or {})
    attribution = _sentences(str(info["/Attribution"]))
    assert len(attribution) == len(set(attribution)) == len(set(every))
    # the annex still has every input's own row
    annex = _pages_text(data)[-1]
    for s in repeated:
        assert annex.count(s) == every.count(s)
    area = str(results.areas.sort_values("rank")["area_id"].iloc[0])
    leaflet = _leaflet(results, area)
    for s in repeated:
        assert leaflet.count(s) == 1, s


def test_history_reasons_made_alike_are_printed_once(results: Results):
    # two history reasons that become the same figure-free sentence are printed once
    areas = results.areas.copy()
    i = int(np.flatnonzero(areas["rank"].to_numpy() == 1)[0])
    areas.loc[areas.index[i], ["reason_1", "reason_2"]] = [
        "13 fires in the last 5 years (expected 4)", HISTORY_SENTENCE]
    r = dataclasses.replace(results, areas=areas)
    _t, _w, blocks = explainer_text(r, area_id=str(areas["area_id"].iloc[i]), contact="x")
    bullets = [b.text for b in blocks if b.kind == "bullet"]
    assert bullets.count(HISTORY_SENTENCE) == 1
    assert not [b for b in bullets if INCIDENT_FIGURES.search(b)]


def test_extra_pages_must_be_a_whole_number(results: Results):
    from firerisk.errors import ReportRequestError
    from firerisk.report import render_map_pdf

    with pytest.raises(ReportRequestError, match="extra_pages"):
        render_map_pdf(results, io.BytesIO(), extra_pages=-1)
