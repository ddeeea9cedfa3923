"""Finish every report PDF the same way: sources annex, output-mode stamp, document info.

Every PDF that leaves the tool, from the app or the command line, carries:

* the **output mode** (internal or public) — printed in the report footers; the one-page
  residents' leaflet always follows the public rules and says so in a one-line stamp at
  the foot of the page;
* the **attribution** of every input — printed by the report itself, each distinct
  sentence once;
* the **provenance summary** (each input's file, publisher, licence and checksum) — a
  "Sources and provenance" annex page after the map PDF and the atlas, and in the document
  information of every PDF. Every page, annex included, is numbered "Page i of N" with N
  the pages of the finished file.

The ``*_pdf_bytes`` builders are pure functions of a :class:`~geo.results.Results`.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pandas as pd
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from pypdf import PdfReader, PdfWriter

from firerisk.geo.results import Results
from firerisk.report.atlas import render_atlas_pdf
from firerisk.report.explainer import LEAFLET_MODE_STATEMENT, render_explainer_pdf
from firerisk.report.layout import (
    ReportContext,
    ReportOptions,
    draw_footer,
    draw_heading,
    footer_top,
    heading_bottom,
    join_attributions,
    margin,
    rc_print,
    report_context,
    wrap_text,
)
from firerisk.report.mapsheet import render_map_pdf

__all__ = [
    "atlas_pdf_bytes",
    "explainer_pdf_bytes",
    "map_pdf_bytes",
    "mode_statement",
    "provenance_summary",
    "sources_annex_pdf",
]


def provenance_summary(results: Results) -> str:
    """One line naming every input: role, file, publisher, licence, first 12 of its SHA-256."""
    parts = []
    for row in results.provenance.to_dict("records"):
        bits = [str(row.get(k)) for k in ("publisher", "licence") if row.get(k)]
        sha = str(row.get("sha256") or "")[:12]
        if sha:
            bits.append(f"sha256 {sha}")
        parts.append(f"{row.get('role', 'input')}: {row.get('file', '?')} ({', '.join(bits)})")
    return "; ".join(parts) if parts else "no provenance recorded"


def mode_statement(results: Results) -> str:
    """One sentence naming the output mode and the small-number rule in force."""
    t = results.threshold
    if results.mode == "public":
        head = "Output mode: public (for publication; no counts or rates are shown)."
    else:
        head = "Output mode: internal (for fire and rescue service staff)."
    if t <= 1:
        return head + " No small numbers are hidden."
    small = "1" if t == 2 else f"1 to {t - 1}"
    return head + f" Counts of {small} are shown as <{t}."


# --------------------------------------------------------------------------- the annex page


def _annex_blocks(results: Results) -> list[tuple[str, str]]:
    """(kind, text) blocks of the annex: ``head``, ``para`` or ``mono`` (checksums)."""
    blocks: list[tuple[str, str]] = [("head", "How to read this document"),
                                     ("para", mode_statement(results))]
    disclosure = results.run.get("disclosure", {})
    if str(disclosure.get("person_level_data_read", "false")).lower() in ("false", "0", "no"):
        blocks.append(("para", ("No person-level data was read: incidents were counted by small "
                               "area as the file was read, and no incident rows or locations "
                               "are kept in the results or in this document.")))
    blocks.append(("head", "Inputs"))
    for row in results.provenance.to_dict("records"):
        def get(key: str, row: dict[str, Any] = row) -> str:
            value = row.get(key)
            return "" if value is None or (isinstance(value, float) and pd.isna(value)) \
                else str(value).strip()

        title = f"{get('role') or 'input'}: {get('file') or 'file not recorded'}"
        blocks.append(("sub", title))
        terms = get("licence") or get("agreement") or "licence not recorded"
        if get("licence") and get("agreement"):
            terms = f"{get('licence')}; agreement: {get('agreement')}"
        line = f"Publisher: {get('publisher') or 'not recorded'}. Licence: {terms}."
        if get("date"):
            line += f" Dated {get('date')}."
        blocks.append(("para", line))
        counts = [(k, get(k)) for k in ("rows_read", "rows_used", "rows_dropped")]
        if all(v for _, v in counts):
            read, used, dropped = (_int_text(v) for _, v in counts)
            blocks.append(("para", f"Rows read {read}, used {used}, dropped {dropped}."))
        if get("sha256"):
            blocks.append(("mono", f"SHA-256 {get('sha256')}"))
        if get("attribution"):
            blocks.append(("para", get("attribution")))
    generated = results.run.get("build", {}).get("generated_at")
    made = f"Results file {results.path.name}"
    if generated:
        made += f", generated {generated}"
    blocks.append(("head", "Results file"))
    blocks.append(("para", made + ". The app's “Data and method” page shows the full register, "
                           "the row accounting and the disclosure report."))
    return blocks


def _int_text(value: str) -> str:
    try:
        return f"{int(float(value)):,}"
    except ValueError:
        return value


def _annex_pages(results: Results, options: ReportOptions,
                 ctx: ReportContext) -> list[list[tuple[str, str]]]:
    """The annex's wrapped (style, text) lines, split into pages (at least one page)."""
    f = options.fonts
    s = options.scale
    pw, _ph = options.page_size
    m = margin(options)
    width_pt = (pw - 2 * m) * 72
    lines: list[tuple[str, str]] = []  # (style, text), already wrapped
    for kind, text in _annex_blocks(results):
        size = {"head": f.heading, "sub": f.body}.get(kind, f.body)
        bold = kind in ("head", "sub")
        if kind in ("head", "sub") and lines:
            lines.append(("gap", ""))
        lines += [(kind, t) for t in wrap_text(text, width_pt, size, bold=bold)]
    foot_h = footer_top(ctx, options)
    pages: list[list[tuple[str, str]]] = []
    i = 0
    while i < len(lines) or not pages:
        title = _ANNEX_TITLE if not pages else f"{_ANNEX_TITLE} (continued)"
        y = heading_bottom(options, title, _annex_subtitle(ctx)) - 0.1 * s
        page: list[tuple[str, str]] = []
        while i < len(lines) and y - _annex_line_height(lines[i][0], options) > foot_h + 0.1 * s:
            y -= _annex_line_height(lines[i][0], options)
            page.append(lines[i])
            i += 1
        if not page and i < len(lines):  # a line taller than a page: place it anyway
            page.append(lines[i])
            i += 1
        pages.append(page)
    return pages


_ANNEX_TITLE = "Sources and provenance"


def _annex_subtitle(ctx: ReportContext) -> str:
    return f"{ctx.service}: the data behind this document."


def _annex_line_height(kind: str, options: ReportOptions) -> float:
    f = options.fonts
    size = {"head": f.heading, "gap": f.body * 0.6}.get(kind, f.body)
    return size * 1.4 / 72


def sources_annex_pdf(results: Results, *, options: ReportOptions,
                      ctx: ReportContext | None = None, first_page: int = 1,
                      total_pages: int | None = None) -> bytes:
    """The "Sources and provenance" annex (one page or more) as PDF bytes.

    Lists every input of the provenance register (role, file, publisher, licence or
    agreement, date, rows, SHA-256, attribution) under the output-mode statement, with the
    report's footer, on the paper of the report it follows.

    Parameters
    ----------
    first_page : int
        Number of the annex's first page in the finished document (the page after the
        report it follows).
    total_pages : int, optional
        Pages of the finished document, report and annex together (default: the annex
        alone, numbered from *first_page*).
    """
    ctx = ctx or report_context(results, generated=None)
    plan = _annex_pages(results, options, ctx)
    total = total_pages if total_pages is not None else first_page - 1 + len(plan)
    return _annex_pdf(plan, options, ctx, first_page=first_page, total_pages=total)


def _annex_pdf(plan: list[list[tuple[str, str]]], options: ReportOptions, ctx: ReportContext,
               *, first_page: int, total_pages: int) -> bytes:
    """Draw the annex pages of *plan* (from :func:`_annex_pages`), numbered from
    *first_page* of *total_pages*."""
    f = options.fonts
    pw, ph = options.page_size
    m = margin(options)
    total = total_pages
    buf = io.BytesIO()
    with rc_print(), PdfPages(buf) as pdf:
        for n, page in enumerate(plan):
            fig = Figure(figsize=(pw, ph), dpi=100)
            title = _ANNEX_TITLE if n == 0 else f"{_ANNEX_TITLE} (continued)"
            y = draw_heading(fig, options, title, _annex_subtitle(ctx)) - 0.1 * options.scale
            for kind, text in page:
                if kind != "gap":
                    size = f.heading if kind == "head" else f.body
                    fig.text(m / pw, y / ph, text, fontsize=size, va="top", ha="left",
                             fontweight="bold" if kind in ("head", "sub") else "normal",
                             family="DejaVu Sans Mono" if kind == "mono" else None,
                             color="#333333" if kind == "mono" else "#000000")
                y -= _annex_line_height(kind, options)
            draw_footer(fig, ctx, options, page=first_page + n, pages=total)
            pdf.savefig(fig)
    return buf.getvalue()


def _mode_stamp(statement: str, size: tuple[float, float]) -> bytes:
    """A transparent page with the output-mode line at its foot (for the one-page leaflet)."""
    pw, ph = size
    fig = Figure(figsize=size, dpi=100)
    fig.patch.set_alpha(0.0)
    with rc_print():
        lines = wrap_text(statement, (pw - 1.2) * 72, 7.0)
        for k, line in enumerate(lines):  # below the leaflet's own footer (which starts 0.45 in)
            fig.text(0.6 / pw, (0.16 + (len(lines) - 1 - k) * 7 * 1.3 / 72) / ph, line,
                     fontsize=7.0, color="#444444", va="bottom", ha="left")
        buf = io.BytesIO()
        fig.savefig(buf, format="pdf", transparent=True)
    return buf.getvalue()


def _finish(pdf: bytes, results: Results, *, annex: bytes | None = None,
            stamp: str | None = None, mode: str | None = None) -> bytes:
    """Append the annex, stamp a mode line, and record mode and provenance in the PDF info.

    *mode* overrides the results file's mode in the document information (the leaflet
    always follows the public rules).
    """
    mode = mode or results.mode
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    if stamp is not None:
        page = writer.pages[0]
        size = (float(page.mediabox.width) / 72, float(page.mediabox.height) / 72)
        page.merge_page(PdfReader(io.BytesIO(_mode_stamp(stamp, size))).pages[0])
    if annex is not None:
        for page in PdfReader(io.BytesIO(annex)).pages:
            writer.add_page(page)
    info = dict(writer.metadata or {})
    keywords = str(info.get("/Keywords") or "")
    writer.add_metadata({
        "/Keywords": f"{keywords}; output mode: {mode}".lstrip("; "),
        "/OutputMode": mode,
        "/Provenance": provenance_summary(results),
        "/Attribution": join_attributions(results.provenance.get("attribution", [])),
    })
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# --------------------------------------------------------------------------- builders


def _with_annex(results: Results, options: ReportOptions, generated: datetime | None,
                render: Callable[[io.BytesIO, int], Any]) -> bytes:
    """Render a report (``render(buffer, annex_pages)`` returns its summary with ``pages``)
    and append the sources annex, every page numbered out of the finished total. The annex
    is laid out once: its page count goes into the report's footers, its pages after it."""
    ctx = report_context(results, generated=generated)
    plan = _annex_pages(results, options, ctx)
    buf = io.BytesIO()
    summary = render(buf, len(plan))
    annex = _annex_pdf(plan, options, ctx, first_page=summary.pages + 1,
                       total_pages=summary.pages + len(plan))
    return _finish(buf.getvalue(), results, annex=annex)


def map_pdf_bytes(results: Results, *, group_column: str | None = None,
                  group_value: str | None = None, paper: str = "A4",
                  orientation: str = "landscape", label_top: int = 10,
                  progress: Callable[[int, int, str], None] | None = None,
                  generated: datetime | None = None) -> bytes:
    """The map page and priority list of one group (or every area) as PDF bytes.

    Parameters
    ----------
    results : Results
    group_column, group_value : str, optional
        The filter, for example ``"borough"`` and ``"Hackney"``; ``group_value=None`` maps
        every area (with the *group_column* boundaries drawn).
    paper : {"A4", "A3"}
    orientation : {"landscape", "portrait"}
    generated : datetime, optional
        Date printed in the footer (default: now).

    Raises
    ------
    ReportRequestError
        Unknown group column or value, or bad paper/orientation.
    """
    options = ReportOptions(paper=paper, orientation=orientation, label_top=label_top)
    return _with_annex(results, options, generated, lambda buf, extra: render_map_pdf(
        results, buf, group_column=group_column, group_value=group_value, options=options,
        progress=progress, generated=generated, extra_pages=extra))


def atlas_pdf_bytes(results: Results, *, by: str, paper: str = "A4",
                    orientation: str = "landscape", label_top: int = 10,
                    progress: Callable[[int, int, str], None] | None = None,
                    generated: datetime | None = None) -> bytes:
    """The atlas (cover, contents, a map and list per value of *by*) as PDF bytes.

    Raises
    ------
    ReportRequestError
        *by* is not a group column of the results.
    """
    options = ReportOptions(paper=paper, orientation=orientation, label_top=label_top)
    return _with_annex(results, options, generated, lambda buf, extra: render_atlas_pdf(
        results, buf, by=by, options=options, progress=progress, generated=generated,
        extra_pages=extra))


def explainer_pdf_bytes(results: Results, *, area_id: str, contact: str,
                        generated: datetime | None = None) -> bytes:
    """The one-page leaflet for residents of one area as PDF bytes (mode stamped at the foot).

    A leaflet is left with the public, so it follows the public rules whatever the mode of
    the results file: bands and ranks only, no count or rate from real incidents (see
    :func:`report.explainer.explainer_text`), and its mode line and document information
    say so.

    Raises
    ------
    ReportRequestError
        Unknown area, or an empty *contact*.
    """
    buf = io.BytesIO()
    render_explainer_pdf(results, buf, area_id=area_id, contact=contact, generated=generated)
    return _finish(buf.getvalue(), results, stamp=LEAFLET_MODE_STATEMENT, mode="public")
