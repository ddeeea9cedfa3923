"""Tests of the PDF reports (report/): text layer, pages, contents numbers, colours, errors."""

from __future__ import annotations

import dataclasses
import io
import math
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pyogrio
import pypdf
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from firerisk.errors import ReportRequestError, ResultsFileError
from firerisk.geo.results import Results, read_results
from firerisk.report import ReportOptions, render_atlas_pdf, render_explainer_pdf, render_map_pdf
from firerisk.report.explainer import leaflet_reason
from firerisk.report.layout import band_colours, new_page, report_context
from firerisk.report.mapsheet import MapData, MapPageRequest, draw_map_page, place_labels

GENERATED = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
GENERATED_TEXT = "14 March 2025"
ATLAS_GROUPS = ["City of London", "Hackney", "Camden"]


@pytest.fixture(scope="module")
def results(sample_results: Path) -> Results:
    return read_results(sample_results)


def _norm(text: str) -> str:
    return " ".join(text.split())


def _pages_text(pdf: Path | bytes) -> list[str]:
    """Text of each page in content-stream order (poppler's pdftotext -raw)."""
    if isinstance(pdf, bytes):
        run = subprocess.run(["pdftotext", "-raw", "-", "-"], input=pdf, capture_output=True,
                             check=True)
    else:
        run = subprocess.run(["pdftotext", "-raw", str(pdf), "-"], capture_output=True,
                             check=True)
    pages = run.stdout.decode("utf-8").split("\f")
    return [_norm(p) for p in pages[:-1]]  # the text ends with a form feed


@pytest.fixture(scope="module")
def map_pdf(results: Results, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("map") / "map.pdf"
    calls: list[tuple[int, int, str]] = []
    summary = render_map_pdf(results, out, generated=GENERATED,
                             progress=lambda d, t, m: calls.append((d, t, m)))
    return out, summary, calls


@pytest.fixture(scope="module")
def atlas_pdf(results: Results, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("atlas") / "atlas.pdf"
    options = ReportOptions(orientation="portrait", list_top=30)
    summary = render_atlas_pdf(results, out, by="borough", groups=ATLAS_GROUPS, options=options,
                               generated=GENERATED)
    return out, summary


# --------------------------------------------------------------------------- single map


def test_map_text_layer_has_title_bands_attribution_date_footer(map_pdf, results: Results):
    out, summary, _ = map_pdf
    pages = _pages_text(out)
    assert len(pages) == summary.pages == len(pypdf.PdfReader(out).pages)
    first = pages[0]
    assert "Priority for a home fire safety visit" in first
    for label in results.band_labels:
        assert label in first, label
    # the attribution of every input, wrapped over lines but complete
    for provider_text in results.provenance["attribution"].dropna().unique():
        assert _norm(provider_text) in first
    assert GENERATED_TEXT in first
    assert f"firerisk {__import__('importlib.metadata').metadata.version('firerisk')}" in first
    assert str(results.run["model"]["name"]) in first
    assert f"counts from 1 to {results.threshold - 1} are shown as <{results.threshold}" in first
    for i, text in enumerate(pages, start=1):
        assert f"Page {i} of {summary.pages}" in text


def test_map_legend_shows_every_band_range(map_pdf, results: Results):
    out, _, _ = map_pdf
    first = _pages_text(out)[0]
    bb = results.band_breaks.sort_values("band_index")
    top = float(bb["upper"].max())
    # the highest band's upper limit, to one decimal, is printed beside its label
    assert f"{top:.1f}" in first
    # each band shows how many areas of the map it holds; they add up to every area
    counts = [int(n.replace(",", "")) for n in re.findall(r"([\d,]+) areas?\b", first)]
    assert sum(counts[: len(bb)]) == len(results.areas)


def test_target_list_first_rows_in_rank_order(map_pdf, results: Results):
    out, summary, _ = map_pdf
    pages = _pages_text(out)
    lists = " ".join(pages[1:])
    assert "Priority list" in pages[1]
    expected = results.targets.sort_values("rank")["area_id"].astype(str).head(8).tolist()
    positions = [lists.find(a) for a in expected]
    assert all(p >= 0 for p in positions), positions
    assert positions == sorted(positions)
    # the default lists the top 50 areas, each exactly once
    top50 = results.targets.sort_values("rank")["area_id"].astype(str).head(50)
    assert all(lists.count(a) == 1 for a in top50)
    # the table header is repeated on every list page
    assert all("Rank" in p and "Main reasons" in p for p in pages[1:])
    assert summary.pages >= 2


def test_map_progress_reports_every_page(map_pdf):
    _, summary, calls = map_pdf
    assert [c[0] for c in calls] == list(range(1, summary.pages + 1))
    assert all(c[1] == summary.pages for c in calls)


def test_pdf_metadata_and_embedded_fonts(map_pdf):
    out, _, _ = map_pdf
    reader = pypdf.PdfReader(out)
    meta = reader.metadata
    assert meta is not None
    assert "Priority for a home fire safety visit" in (meta.title or "")
    assert meta.author
    assert "home fire safety visits" in (meta.subject or "")
    assert meta.creation_date is not None
    assert meta.creation_date.astimezone(UTC) == GENERATED
    fonts = subprocess.run(["pdffonts", str(out)], capture_output=True, text=True,
                           check=True).stdout.splitlines()[2:]
    assert fonts, "no fonts listed"
    for line in fonts:
        assert "DejaVuSans" in line
        assert "TrueType" in line
        assert line.split()[-5] == "yes"  # the 'emb' column


def _text_sizes(pdf: Path, pages: list[int]) -> list[float]:
    """Effective size (points) of every piece of text on the given (1-based) pages."""
    sizes: list[float] = []

    def visit(text, cm, tm, font, size):
        if text.strip():
            sizes.append(size * math.hypot(tm[0], tm[1]) * math.hypot(cm[0], cm[1]))

    reader = pypdf.PdfReader(pdf)
    for n in pages:
        reader.pages[n - 1].extract_text(visitor_text=visit)
    return sizes


def test_no_text_smaller_than_7pt_on_a4(map_pdf, atlas_pdf):
    # map, list and contents pages (the explainer is checked in its own test)
    for out, pages in ((map_pdf[0], [1, 2]), (atlas_pdf[0], [2])):
        sizes = _text_sizes(out, pages)
        assert len(sizes) > 10
        assert min(sizes) >= 6.99


def test_a3_scales_text(results: Results, tmp_path: Path):
    out = tmp_path / "a3.pdf"
    small = results.areas["borough"].value_counts().idxmin()
    render_map_pdf(results, out, group_column="borough", group_value=small,
                   options=ReportOptions(paper="A3", list_top=5), generated=GENERATED)
    page = pypdf.PdfReader(out).pages[0]
    assert round(float(page.mediabox.width)) == 1191  # A3 landscape, points
    assert min(_text_sizes(out, [1, 2])) >= 7 * math.sqrt(2) - 0.05


def _render_page(pdf: Path, page: int, dpi: int, tmp: Path) -> np.ndarray:
    stem = tmp / f"p{page}"
    subprocess.run(["pdftoppm", "-r", str(dpi), "-f", str(page), "-l", str(page), "-png",
                    "-singlefile", str(pdf), str(stem)], check=True)
    return mpimg.imread(f"{stem}.png")[..., :3]


def _present_band_colours(img: np.ndarray, colours: list[str], tol: float = 4 / 255) -> int:
    from matplotlib.colors import to_rgb

    found = 0
    for c in colours:
        diff = np.abs(img - np.asarray(to_rgb(c))[None, None, :]).max(axis=2)
        if int((diff <= tol).sum()) >= 20:
            found += 1
    return found


def test_map_raster_not_blank_and_shows_every_band(map_pdf, results: Results, tmp_path: Path):
    out, summary, _ = map_pdf
    img = _render_page(out, 1, 100, tmp_path)
    assert img.std() > 0.05
    h, w, _ = img.shape
    left, top, right, bottom = summary.map_boxes[1]
    crop = img[int(top * h) + 3:int(bottom * h) - 3, int(left * w) + 3:int(right * w) - 3]
    assert (crop.min(axis=2) < 0.95).mean() > 0.2  # the map frame is mostly filled
    bands_present = results.areas["band_index"].nunique()
    colours = band_colours(len(results.band_breaks))
    assert _present_band_colours(crop, colours) >= bands_present


def test_palette_luminance_falls_with_every_band():
    def luminance(hex_colour: str) -> float:
        rgb = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    for k in range(2, 10):
        lum = [luminance(c) for c in band_colours(k)]
        steps = np.diff(lum)
        assert (steps < -0.04).all(), (k, lum)


def test_rank_labels_do_not_overlap_on_the_page(results: Results):
    ctx = report_context(results, generated=GENERATED)
    options = ReportOptions(label_top=25)
    data = MapData.prepare(results, ctx, options)
    mask = (results.areas["borough"] == "Tower Hamlets").to_numpy()
    fig = new_page(options)
    draw_map_page(fig, data, MapPageRequest(mask=mask, title="t", subtitle="s",
                                            group=("borough", "Tower Hamlets"), context=True),
                  options, page=1, pages=1)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    ax = fig.axes[0]
    boxes = [t.get_bbox_patch().get_window_extent(renderer) for t in ax.texts
             if t.get_bbox_patch() is not None]
    assert len(boxes) >= 10
    frame = ax.get_window_extent(renderer)
    for i, a in enumerate(boxes):
        assert frame.x0 <= a.x0
        assert a.x1 <= frame.x1
        assert frame.y0 <= a.y0
        assert a.y1 <= frame.y1
        for b in boxes[i + 1:]:
            assert not a.overlaps(b), (a, b)
    # the numbers shown are the ranks of the borough's top areas
    shown = sorted(int(t.get_text()) for t in ax.texts if t.get_bbox_patch() is not None)
    top = results.areas.loc[mask, "rank"].sort_values().astype(int).tolist()
    assert set(shown) <= set(top[:25])


def test_place_labels_crowded_and_sparse():
    rng = np.random.default_rng(3)
    pts = rng.uniform(40, 60, size=(30, 2))
    boxes, skipped = place_labels(pts, [str(i) for i in range(30)], [(8, 6)] * 30,
                                  (0, 0, 100, 100), gap=1)
    assert len(boxes) + len(skipped) == 30
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert abs(a.x - b.x) >= 8 + 1 - 1e-9 or abs(a.y - b.y) >= 6 + 1 - 1e-9
    sparse = np.array([[10.0, 10.0], [50.0, 50.0], [90.0, 90.0]])
    boxes, skipped = place_labels(sparse, ["1", "2", "3"], [(8, 6)] * 3, (0, 0, 100, 100))
    assert not skipped
    assert not any(b.moved for b in boxes)
    assert [(b.x, b.y) for b in boxes] == [tuple(p) for p in sparse]


def test_stream_output(results: Results):
    buf = io.BytesIO()
    summary = render_map_pdf(results, buf, group_column="borough", group_value="City of London",
                             options=ReportOptions(list_top=5), generated=GENERATED)
    data = buf.getvalue()
    assert data.startswith(b"%PDF")
    assert summary.bytes == len(data)
    assert summary.path is None
    assert len(pypdf.PdfReader(io.BytesIO(data)).pages) == summary.pages == 2
    assert "City of London" in _pages_text(data)[0]


# --------------------------------------------------------------------------- atlas


def test_atlas_pages_cover_contents_and_one_map_per_group(atlas_pdf, results: Results):
    out, summary = atlas_pdf
    pages = _pages_text(out)
    assert len(pages) == summary.pages
    assert "priority areas for home fire safety visits" in pages[0]
    assert pages[1].startswith("Contents")
    i = 2
    for group in ATLAS_GROUPS:
        assert f"Borough: {group}" in pages[i], (i, pages[i][:60])
        assert "Priority list" not in pages[i]
        assert summary.groups[group][0] == i + 1
        i += 1
        listed = []
        while i < len(pages) and f"Priority list: {group}" in pages[i]:
            listed.append(pages[i])
            i += 1
        assert listed, group
        assert len(listed) == len(summary.groups[group]) - 1
        # every area of the group's top 30 is listed once, and no other group's area
        in_group = results.areas[results.areas["borough"] == group]
        ids = in_group.sort_values("rank")["area_id"].head(30).tolist()
        text = " ".join(listed)
        assert all(text.count(a) == 1 for a in ids)
        assert len(re.findall(r"\bE0\d{7}\b", text)) == len(ids)
    assert i == len(pages)  # nothing else


def test_atlas_contents_page_numbers_match_real_pages(atlas_pdf):
    out, _ = atlas_pdf
    pages = _pages_text(out)
    raw = subprocess.run(["pdftotext", "-raw", "-f", "2", "-l", "2", str(out), "-"],
                         capture_output=True, text=True, check=True).stdout
    entries = re.findall(r"^(.+?) \.{3,} (\d+)$", raw, flags=re.MULTILINE)
    assert [e[0].strip() for e in entries] == ATLAS_GROUPS
    numbers = [int(e[1]) for e in entries]
    assert len(set(numbers)) == len(numbers)
    for name, number in entries:
        text = pages[int(number) - 1]
        assert f"Borough: {name.strip()}" in text
        # and on no other page
        assert sum(f"Borough: {name.strip()}" in p for p in pages) == 1


def test_atlas_maps_use_service_wide_colours(atlas_pdf, results: Results, tmp_path: Path):
    out, summary = atlas_pdf
    colours = band_colours(len(results.band_breaks))
    page = summary.groups["Hackney"][0]
    img = _render_page(out, page, 100, tmp_path)
    h, w, _ = img.shape
    left, top, right, bottom = summary.map_boxes[page]
    crop = img[int(top * h) + 3:int(bottom * h) - 3, int(left * w) + 3:int(right * w) - 3]
    present = results.areas.loc[results.areas["borough"] == "Hackney", "band_index"].nunique()
    assert _present_band_colours(crop, colours) >= present


# --------------------------------------------------------------------------- errors


def test_unknown_group_column_lists_available(results: Results):
    with pytest.raises(ReportRequestError, match="ward") as info:
        render_map_pdf(results, io.BytesIO(), group_column="ward", group_value="x")
    assert "'borough'" in str(info.value)
    with pytest.raises(ReportRequestError, match="'borough'"):
        render_atlas_pdf(results, io.BytesIO(), by="stations")


def test_unknown_group_value_suggests_close_matches(results: Results):
    with pytest.raises(ReportRequestError, match="Hackny") as info:
        render_map_pdf(results, io.BytesIO(), group_column="borough", group_value="Hackny")
    assert "'Hackney'" in str(info.value)
    with pytest.raises(ReportRequestError) as info:
        render_atlas_pdf(results, io.BytesIO(), by="borough", groups=["Camdn", "Hackney", "Zz"])
    text = str(info.value)
    assert "'Camden'" in text
    assert "'Zz'" in text
    assert "2 problems" in text


def test_empty_selection(results: Results):
    with pytest.raises(ReportRequestError, match="empty"):
        render_atlas_pdf(results, io.BytesIO(), by="borough", groups=[])
    nothing = dataclasses.replace(results, areas=results.areas.iloc[:0])
    with pytest.raises(ReportRequestError, match="empty"):
        render_map_pdf(nothing, io.BytesIO())


def test_results_file_missing_layers(results: Results, tmp_path: Path):
    broken = tmp_path / "broken.gpkg"
    pyogrio.write_dataframe(results.areas.head(3), broken, layer="areas", driver="GPKG")
    with pytest.raises(ResultsFileError, match="band_breaks"):
        render_map_pdf(broken, tmp_path / "x.pdf")
    assert not (tmp_path / "x.pdf").exists()


def test_bad_options():
    with pytest.raises(ReportRequestError) as info:
        ReportOptions(paper="Letter", orientation="sideways", layer="colour")
    text = str(info.value)
    for part in ("3 problems", "A4", "landscape", "band"):
        assert part in text


# --------------------------------------------------------------------------- explainer

SMALL_FIRES = re.compile(r"(?<![<\d.,])\b[1-4]\s+(dwelling\s+|home\s+)?(fires?|incidents?)\b",
                         re.IGNORECASE)


def test_explainer_one_page_plain_language(results: Results, tmp_path: Path):
    row = results.areas.sort_values("rank").iloc[0]
    out = tmp_path / "explainer.pdf"
    contact = "Community safety team, 020 7555 0100, www.example.org/visits"
    summary = render_explainer_pdf(results, out, area_id=row["area_id"], contact=contact,
                                   generated=GENERATED)
    assert summary.pages == len(pypdf.PdfReader(out).pages) == 1
    text = _pages_text(out)[0]
    assert min(_text_sizes(out, [1])) >= 6.99
    assert str(row["area_name"]) in text
    for reason in ("reason_1", "reason_2", "reason_3"):
        if isinstance(row[reason], str) and row[reason].strip():
            # as the leaflet words it: reasons about fires carry no figures
            assert _norm(leaflet_reason(row[reason])) in text
    for phrase in ("free", "smoke alarms", "escape plan", "cooking", "heating",
                   "electrical safety", "census", "deprivation", "personal records",
                   "individual household", contact, GENERATED_TEXT):
        assert phrase in text, phrase
    assert not SMALL_FIRES.search(text)
    assert "high-risk" not in text.lower()


def test_explainer_suppresses_small_counts_in_reasons(results: Results, tmp_path: Path):
    areas = results.areas.copy()
    i = int(np.flatnonzero(areas["rank"].to_numpy() == areas["rank"].min())[0])
    areas.loc[areas.index[i], "reason_1"] = "3 fires in the last 5 years (expected 2.5)"
    leaky = dataclasses.replace(results, areas=areas)
    out = tmp_path / "explainer.pdf"
    render_explainer_pdf(leaky, out, area_id=areas["area_id"].iloc[i], contact="Call 0800 000",
                         generated=GENERATED)
    text = _pages_text(out)[0]
    # the leaflet follows the public rules: the history reason is printed with no figures
    assert "fires in the last 5 years" not in text
    assert "More fires here in recent years than the service average" in text
    assert not SMALL_FIRES.search(text)


def test_explainer_unknown_area_and_missing_contact(results: Results):
    code = str(results.areas["area_id"].iloc[0])
    with pytest.raises(ReportRequestError, match=re.escape(code)):
        render_explainer_pdf(results, io.BytesIO(), area_id=code[:-1] + "X", contact="x")
    with pytest.raises(ReportRequestError, match="contact"):
        render_explainer_pdf(results, io.BytesIO(), area_id=code, contact="  ")


def test_list_never_prints_small_counts(results: Results):
    # a tiny area (3 households) must not print "3" as a count in the list
    areas = results.areas.copy()
    targets = results.targets.copy()
    first = targets.sort_values("rank")["area_id"].iloc[0]
    targets.loc[targets["area_id"] == first, "households"] = 3
    targets.loc[targets["area_id"] == first, "reason_1"] = "2 fires in 2023"  # unsuppressed
    out = io.BytesIO()
    render_map_pdf(dataclasses.replace(results, areas=areas, targets=targets), out,
                   group_column="borough",
                   group_value=str(areas.loc[areas["area_id"] == first, "borough"].iloc[0]),
                   options=ReportOptions(list_top=3), generated=GENERATED)
    text = _pages_text(out.getvalue())[1]
    # cells are written in column order: code, households, expected, ...
    assert re.search(rf"{first} <5 \d+\.\d", text), text[:400]
    assert not re.search(rf"{first} 3 ", text)
    assert "<5 fires in 2023" in text
    assert not SMALL_FIRES.search(text)


def test_public_mode_results_render_without_rates(results: Results, tmp_path: Path):
    hidden = ["expected", "risk_per_1000", "pi_low", "pi_high", "p_top10"]
    public = dataclasses.replace(
        results,
        areas=results.areas.drop(columns=hidden),
        targets=results.targets.drop(columns=hidden),
        band_breaks=results.band_breaks.assign(lower=np.nan, upper=np.nan),
        run={**results.run, "disclosure": {**results.run["disclosure"], "mode": "public"}})
    out = tmp_path / "public.pdf"
    render_map_pdf(public, out, group_column="borough", group_value="Hackney",
                   options=ReportOptions(list_top=10), generated=GENERATED)
    pages = _pages_text(out)
    text = " ".join(pages)
    assert "nan" not in text.lower().split()
    assert "Expected fires" not in text
    assert "Public version" in text
    for label in results.band_labels:
        assert label in pages[0]
    with pytest.raises(ReportRequestError, match="risk_per_1000"):
        render_map_pdf(public, io.BytesIO(), options=ReportOptions(layer="risk_per_1000"))
    with pytest.raises(ReportRequestError, match="p_top10"):
        render_map_pdf(public, io.BytesIO(), options=ReportOptions(layer="p_top10"))
