"""Page sizes, fonts, colours and the shared page furniture (header, footer) of every PDF.

Every size here is for A4; A3 pages scale fonts and line widths by ``sqrt(2)`` (A3 is A4
enlarged by that factor), so an A3 print reads like an A4 print held closer.
No text on an A4 page is smaller than :data:`MIN_FONT_PT`.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any, BinaryIO, cast

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.ft2font import FT2Font, LoadFlags

from firerisk.columns import BAND, EXPECTED, P_TOP10, RISK_PER_1000
from firerisk.errors import Problem, ReportRequestError
from firerisk.geo.results import Results, join_attributions, read_results

__all__ = [
    "LAYERS",
    "MIN_FONT_PT",
    "NO_DATA_COLOUR",
    "PAPER_MM",
    "FontSizes",
    "Progress",
    "ReportContext",
    "ReportOptions",
    "ReportSummary",
    "band_colours",
    "check_extra_pages",
    "draw_footer",
    "draw_heading",
    "finish_output",
    "footer_top",
    "format_count",
    "format_date",
    "heading_bottom",
    "join_attributions",
    "load_results",
    "margin",
    "new_page",
    "output_target",
    "pdf_metadata",
    "rc_print",
    "relative_luminance",
    "report_context",
    "stream_position",
    "suppress_small_counts",
    "text_width_pt",
    "tool_version",
    "wrap_text",
]

PAPER_MM: dict[str, tuple[float, float]] = {"A4": (210.0, 297.0), "A3": (297.0, 420.0)}
"""Paper sizes (width, height) in millimetres, portrait."""

LAYERS = (BAND, RISK_PER_1000, EXPECTED, P_TOP10)
"""What a map page can show (see :mod:`report.mapsheet`)."""

MIN_FONT_PT = 7.0
"""Smallest text on an A4 page, in points."""

NO_DATA_COLOUR = "#ffffff"
FONT_FAMILY = "DejaVu Sans"
MM_PER_INCH = 25.4

Progress = Callable[[int, int, str], None]
"""Progress callback: ``progress(done, total, message)``."""


@dataclass(frozen=True, kw_only=True)
class ReportOptions:
    """What a PDF report looks like.

    Parameters
    ----------
    paper : {"A4", "A3"}
    orientation : {"landscape", "portrait"}
    label_top : int
        Label the map with the rank numbers of the top *label_top* areas shown (0: none).
    title : str or None
        Title of the map or atlas; by default one is made from the service name.
    layer : {"band", "risk_per_1000", "expected", "p_top10"}
        What the map shows: the priority band (default), the same rate classes labelled by
        rate, the expected number of dwelling fires, or the chance of being in the top 10%.
    list_top : int or None
        How many rows of the priority list follow each map (None: every area shown).
    """

    paper: str = "A4"
    orientation: str = "landscape"
    label_top: int = 10
    title: str | None = None
    layer: str = BAND
    list_top: int | None = 50

    def __post_init__(self) -> None:
        problems: list[Problem] = []

        def bad(what: str, message: str, fix: str) -> None:
            problems.append(Problem("report options", message, fix, column=what))

        if self.paper not in PAPER_MM:
            bad("paper", f"unknown paper size {self.paper!r}.", f"use one of {', '.join(PAPER_MM)}.")
        if self.orientation not in ("landscape", "portrait"):
            bad("orientation", f"unknown orientation {self.orientation!r}.",
                "use 'landscape' or 'portrait'.")
        if not isinstance(self.label_top, int) or self.label_top < 0:
            bad("label_top", f"label_top must be a whole number >= 0, not {self.label_top!r}.",
                "use 0 for no labels or, for example, 10.")
        if self.layer not in LAYERS:
            bad("layer", f"unknown map layer {self.layer!r}.", f"use one of {', '.join(LAYERS)}.")
        if self.list_top is not None and (not isinstance(self.list_top, int) or self.list_top < 1):
            bad("list_top", f"list_top must be a whole number >= 1 or None, not {self.list_top!r}.",
                "use None to list every area, or for example 50.")
        if problems:
            raise ReportRequestError(problems)

    @property
    def page_size(self) -> tuple[float, float]:
        """Page width and height in inches."""
        w, h = (v / MM_PER_INCH for v in PAPER_MM[self.paper])
        return (h, w) if self.orientation == "landscape" else (w, h)

    @property
    def scale(self) -> float:
        """Font and line scale relative to A4."""
        return PAPER_MM[self.paper][0] / PAPER_MM["A4"][0]

    @property
    def fonts(self) -> FontSizes:
        """Font sizes in points for this paper size."""
        return FontSizes.for_scale(self.scale)


@dataclass(frozen=True)
class FontSizes:
    """Font sizes (points) used on every page."""

    title: float
    subtitle: float
    heading: float
    body: float
    table: float
    legend: float
    label: float
    small: float

    @classmethod
    def for_scale(cls, scale: float) -> FontSizes:
        """A4 sizes multiplied by *scale*; nothing below :data:`MIN_FONT_PT` times *scale*."""
        base = {"title": 16.0, "subtitle": 9.0, "heading": 11.0, "body": 9.0, "table": 7.5,
                "legend": 8.0, "label": 7.0, "small": 7.0}
        return cls(**{k: round(max(v, MIN_FONT_PT) * scale, 2) for k, v in base.items()})

    def all(self) -> list[float]:
        """Every size, for checks."""
        return [self.title, self.subtitle, self.heading, self.body, self.table, self.legend,
                self.label, self.small]


@dataclass(frozen=True)
class ReportSummary:
    """What a render call produced.

    Attributes
    ----------
    path : Path or None
        The file written (None when writing to a stream).
    bytes : int
        Size of the PDF.
    pages : int
        Number of pages.
    groups : mapping of str to tuple of int
        For each group (or the single map), its page numbers; the first is the map page.
    timings : mapping of str to float
        Seconds spent per stage (``prepare``, ``maps``, ``lists``, ``total``).
    map_boxes : mapping of int to tuple of float
        For each map page, the map frame as (left, top, right, bottom) fractions of the page,
        measured from the top-left corner (handy for checking a raster of the page).
    """

    path: Path | None
    bytes: int
    pages: int
    groups: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    timings: Mapping[str, float] = field(default_factory=dict)
    map_boxes: Mapping[int, tuple[float, float, float, float]] = field(default_factory=dict)


# --------------------------------------------------------------------------- colours


def relative_luminance(colour: Any) -> float:
    """WCAG relative luminance (0 black .. 1 white) of a matplotlib colour."""
    rgb = np.asarray(mpl.colors.to_rgb(colour), dtype=float)
    lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    return float(lin @ np.array([0.2126, 0.7152, 0.0722]))


def band_colours(k: int) -> list[str]:
    """*k* colours from ColorBrewer YlOrRd, lightest (lowest priority) first.

    The luminance falls at every step, so the classes stay in order when printed in grey.
    """
    if k < 1:
        return []
    cmap = mpl.colormaps["YlOrRd"]
    stops = [0.5] if k == 1 else np.linspace(0.08, 0.95, k)
    return [mpl.colors.to_hex(cmap(float(s))) for s in stops]


# --------------------------------------------------------------------------- text


@functools.cache
def _font(bold: bool) -> FT2Font:
    prop = font_manager.FontProperties(family=FONT_FAMILY, weight="bold" if bold else "normal")
    return FT2Font(font_manager.findfont(prop))


@functools.lru_cache(maxsize=4096)
def _advance_em(char: str, bold: bool) -> float:
    """Unhinted advance width of *char* in ems (what the PDF backend lays text out with)."""
    font = _font(bold)
    font.set_size(100, 72)
    glyph = font.load_char(ord(char), flags=LoadFlags.NO_HINTING)
    return glyph.linearHoriAdvance / 65536 / 100


def text_width_pt(text: str, size: float, *, bold: bool = False) -> float:
    """Width of one line of *text* set in DejaVu Sans at *size* points, in points."""
    return size * sum(_advance_em(c, bold) for c in text)


def wrap_text(text: str, width_pt: float, size: float, *, bold: bool = False) -> list[str]:
    """Break *text* into lines no wider than *width_pt* (words longer than a line are split).

    Existing line breaks are kept.
    """
    lines: list[str] = []
    for para in str(text).split("\n"):
        words = para.split()
        if not words:
            lines.append("")
            continue
        current = ""
        for word in words:
            trial = f"{current} {word}" if current else word
            if text_width_pt(trial, size, bold=bold) <= width_pt:
                current = trial
                continue
            if current:
                lines.append(current)
            # a single word wider than the line: split it by characters
            while text_width_pt(word, size, bold=bold) > width_pt and len(word) > 1:
                cut = len(word) - 1
                while cut > 1 and text_width_pt(word[:cut], size, bold=bold) > width_pt:
                    cut -= 1
                lines.append(word[:cut])
                word = word[cut:]
            current = word
        lines.append(current)
    return lines


def format_date(when: datetime) -> str:
    """``26 November 2025``."""
    return f"{when.day} {when:%B %Y}"


def format_count(value: Any, *, threshold: int) -> str:
    """A count for print: thousands separators, and 1..threshold-1 shown as ``<threshold``."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or pd.isna(value):
        return "–"
    n = round(float(value))
    if 0 < n < threshold:
        return f"<{threshold}"
    return f"{n:,}"


def tool_version() -> str:
    """Installed version of the ``firerisk`` package."""
    try:
        return importlib_metadata.version("firerisk")
    except importlib_metadata.PackageNotFoundError:
        return "unknown"


# --------------------------------------------------------------------------- context


@dataclass(frozen=True)
class ReportContext:
    """Text that every page of one report shares."""

    service: str
    generated: datetime
    version: str
    model: str
    disclosure: str
    attribution: str
    period: str
    next_year: str
    threshold: int
    n_areas: int

    @property
    def footer(self) -> str:
        """Left-hand footer text."""
        return (f"Generated {format_date(self.generated)} · firerisk {self.version} · "
                f"Model: {self.model} · {self.disclosure}")


def _years(results: Results) -> tuple[list[int], str]:
    info = results.run.get("years", {})
    full: list[int] = []
    nxt = ""
    if isinstance(info, dict):
        raw = info.get("full", [])
        if isinstance(raw, list):
            full = sorted(int(y) for y in raw if str(y).isdigit())
        if info.get("next_year") is not None:
            nxt = str(info["next_year"])
    if not full:  # fall back to the per-year columns of the areas layer
        full = sorted(int(c[4:]) for c in results.areas.columns
                      if c.startswith("obs_") and c[4:].isdigit())
    return full, nxt


def _model_name(results: Results) -> str:
    info = results.run.get("model", {})
    if isinstance(info, dict):
        for key in ("name", "family", "model", "kind"):
            if info.get(key):
                return str(info[key])
    return "not recorded"


def _disclosure(results: Results) -> str:
    t = results.threshold
    mode = "Public version" if results.mode == "public" else "For internal use"
    if t <= 1:
        return f"{mode}: no small numbers are hidden"
    if t == 2:
        return f"{mode}: counts of 1 are shown as <2"
    return f"{mode}: counts from 1 to {t - 1} are shown as <{t}"


def report_context(results: Results, *, generated: datetime | None) -> ReportContext:
    """Collect the shared page text (footer, period, attribution) for *results*."""
    profile = results.run.get("profile", {})
    service = ""
    if isinstance(profile, dict):
        service = str(profile.get("service") or profile.get("name") or "")
    full, nxt = _years(results)
    if full:
        period = f"dwelling fires {full[0]}–{full[-1]}" if len(full) > 1 else f"dwelling fires {full[0]}"
    else:
        period = "study period not recorded"
    if nxt:
        period += f"; estimate for {nxt}"
    return ReportContext(
        service=service or "Fire and rescue service",
        generated=generated or datetime.now().astimezone(),
        version=tool_version(),
        model=_model_name(results),
        disclosure=_disclosure(results),
        attribution=(join_attributions(results.provenance.get("attribution", []))
                     or "Data sources not recorded in the results file."),
        period=period,
        next_year=nxt,
        threshold=results.threshold,
        n_areas=len(results.areas),
    )


def load_results(results: Results | str | Path) -> Results:
    """Accept a :class:`Results` or a path to a results GeoPackage (read with ``read_results``)."""
    if isinstance(results, Results):
        return results
    return read_results(results)


# --------------------------------------------------------------------------- pages

RC_PRINT: dict[str, Any] = {
    "pdf.fonttype": 42,  # embed TrueType (DejaVu Sans), not Type 3
    "ps.fonttype": 42,
    "font.family": "sans-serif",
    "font.sans-serif": [FONT_FAMILY],
    "pdf.compression": 6,
    "axes.unicode_minus": True,
    "hatch.linewidth": 0.4,
    "path.simplify": True,
}


@contextmanager
def rc_print() -> Iterator[None]:
    """Matplotlib settings for print (embedded TrueType fonts), restored afterwards."""
    with mpl.rc_context(cast(Any, RC_PRINT)):
        yield


def pdf_metadata(*, title: str, ctx: ReportContext, subject: str) -> dict[str, Any]:
    """The PDF document information dictionary."""
    created = ctx.generated if ctx.generated.tzinfo else ctx.generated.astimezone()
    return {
        "Title": title,
        "Author": ctx.service,
        "Subject": subject,
        "Keywords": "home fire safety visit; priority areas; dwelling fires",
        "Creator": f"firerisk {ctx.version} (community fire risk atlas)",
        "CreationDate": created,
    }


def check_extra_pages(extra_pages: int, results: Results) -> None:
    """Raise :class:`ReportRequestError` unless *extra_pages* is a whole number >= 0."""
    if isinstance(extra_pages, bool) or not isinstance(extra_pages, int) or extra_pages < 0:
        raise ReportRequestError([Problem(
            str(results.path), f"extra_pages must be a whole number >= 0, not {extra_pages!r}.",
            "pass the number of pages that will be appended (for example the sources annex), "
            "or 0.", column="extra_pages")])


def new_page(options: ReportOptions, *, size: tuple[float, float] | None = None) -> Figure:
    """A blank page (no pyplot state is touched)."""
    return Figure(figsize=size or options.page_size, dpi=100)


def margin(options: ReportOptions) -> float:
    """Page margin in inches."""
    return 0.45 * options.scale


def _footer_lines(ctx: ReportContext, options: ReportOptions, page_w: float) -> list[str]:
    size = options.fonts.small
    reserve = text_width_pt("Page 9999 of 9999", size) / 72
    return wrap_text(ctx.footer, (page_w - 2 * margin(options) - reserve - 0.3) * 72, size)


def footer_top(ctx: ReportContext, options: ReportOptions) -> float:
    """Height (in, from the page bottom) taken by the footer and its rule."""
    lines = _footer_lines(ctx, options, options.page_size[0])
    size = options.fonts.small
    return margin(options) * 0.7 + len(lines) * size * 1.3 / 72 + 0.05


def draw_footer(fig: Figure, ctx: ReportContext, options: ReportOptions, *, page: int,
                pages: int) -> float:
    """Draw the footer (date, version, model, disclosure, page number); return its top (in)."""
    w, h = fig.get_size_inches()
    m = margin(options)
    size = options.fonts.small
    lines = _footer_lines(ctx, options, w)
    line_h = size * 1.3 / 72
    y0 = m * 0.7
    for i, line in enumerate(lines):  # top line first, so text extraction reads in order
        fig.text(m / w, (y0 + (len(lines) - 1 - i) * line_h) / h, line, fontsize=size,
                 color="#333333", ha="left", va="bottom")
    fig.text((w - m) / w, y0 / h, f"Page {page} of {pages}", fontsize=size, color="#333333",
             ha="right", va="bottom")
    top = y0 + len(lines) * line_h + 0.05
    fig.add_artist(mpl.lines.Line2D([m / w, (w - m) / w], [top / h, top / h], color="#999999",
                                    linewidth=0.5 * options.scale))
    return top


def _heading_lines(options: ReportOptions, title: str, subtitle: str | None
                   ) -> tuple[list[str], list[str]]:
    w = options.page_size[0]
    m = margin(options)
    f = options.fonts
    return (wrap_text(title, (w - 2 * m) * 72, f.title, bold=True),
            wrap_text(subtitle, (w - 2 * m) * 72, f.subtitle) if subtitle else [])


def heading_bottom(options: ReportOptions, title: str, subtitle: str | None) -> float:
    """The y (in, from the page bottom) below a heading drawn by :func:`draw_heading`."""
    f = options.fonts
    t, sub = _heading_lines(options, title, subtitle)
    y = options.page_size[1] - margin(options) - len(t) * f.title * 1.25 / 72
    if sub:
        y -= 0.03 + len(sub) * f.subtitle * 1.3 / 72
    return y - 0.08 * options.scale


def draw_heading(fig: Figure, options: ReportOptions, title: str, subtitle: str | None) -> float:
    """Title and (wrapped) subtitle at the top of a page; return the y (in) below them."""
    w, h = fig.get_size_inches()
    m = margin(options)
    f = options.fonts
    t, sub = _heading_lines(options, title, subtitle)
    y = h - m
    for line in t:
        fig.text(m / w, y / h, line, fontsize=f.title, fontweight="bold", ha="left", va="top")
        y -= f.title * 1.25 / 72
    if sub:
        y -= 0.03
        for line in sub:
            fig.text(m / w, y / h, line, fontsize=f.subtitle, color="#333333", ha="left", va="top")
            y -= f.subtitle * 1.3 / 72
    return y - 0.08 * options.scale


def output_target(out: Path | str | BinaryIO) -> tuple[Any, Path | None, Path | None]:
    """Where PdfPages writes: (target, final path, temporary path).

    A path is written beside the target and moved into place, so a reader never sees
    half a file.
    """
    if isinstance(out, str | Path):
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".partial")
        return tmp, path, tmp
    return out, None, None


def finish_output(out: Any, path: Path | None, tmp: Path | None, start_pos: int | None) -> int:
    """Move a finished file into place; return the PDF size in bytes."""
    if path is not None and tmp is not None:
        tmp.replace(path)
        return path.stat().st_size
    try:
        return int(out.tell()) - int(start_pos or 0)
    except (AttributeError, OSError, ValueError):
        return 0


def stream_position(out: Any) -> int | None:
    """Current position of a stream (None for paths or unseekable streams)."""
    if isinstance(out, str | Path):
        return None
    try:
        return int(out.tell())
    except (AttributeError, OSError, ValueError):
        return None


_STANDALONE_SMALL = re.compile(r"(?<![<\d.,])\b(\d+)\b(?![.,]\d)")


def suppress_small_counts(text: str, *, threshold: int) -> str:
    """Replace a standalone count 1..threshold-1 before 'fire'/'incident' with ``<threshold``.

    Reason texts in a results file are already suppressed; this is a second guard for
    documents that leave the service.
    """
    def repl(m: re.Match[str]) -> str:
        n = int(m.group(1))
        tail = text[m.end():m.end() + 30].lower().lstrip()
        if 0 < n < threshold and re.match(r"(dwelling\s+)?(fire|incident)", tail):
            return f"<{threshold}"
        return m.group(0)

    return _STANDALONE_SMALL.sub(repl, text)
