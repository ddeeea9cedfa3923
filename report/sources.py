"""Finish every report PDF the same way: sources annex, output-mode stamp, document info.

Every PDF that leaves the tool, from the app or the command line, carries:

* the **output mode** (internal or public) — printed in the report footers; the one-page
  residents' leaflet also gets a one-line stamp at the foot of the page;
* the **attribution** of every input — printed by the report itself;
* the **provenance summary** (each input's file, publisher, licence and checksum) — a
  "Sources and provenance" annex page after the map PDF and the atlas, and in the document
  information of every PDF.

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
from matplotlib.lines import Line2D
from pypdf import PdfReader, PdfWriter

from geo.results import Results
from report.atlas import render_atlas_pdf
from report.explainer import render_explainer_pdf
from report.layout import (
    ReportContext,
    ReportOptions,
    draw_heading,
    margin,
    rc_print,
    report_context,
    text_width_pt,
    wrap_text,
)
from report.mapsheet import render_map_pdf

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


def sources_annex_pdf(results: Results, *, options: ReportOptions,
                      ctx: ReportContext | None = None) -> bytes:
    """The "Sources and provenance" annex (one page or more) as PDF bytes.

    Lists every input of the provenance register (role, file, publisher, licence or
    agreement, date, rows, SHA-256, attribution) under the output-mode statement, with the
    report's footer text, on the paper of the report it follows.
    """
    ctx = ctx or report_context(results, generated=None)
    f = options.fonts
    s = options.scale
    pw, ph = options.page_size
    m = margin(options)
    width_pt = (pw - 2 * m) * 72
    title = "Sources and provenance"
    subtitle = f"{ctx.service}: the data behind this document."
    lines: list[tuple[str, str]] = []  # (style, text), already wrapped
    for kind, text in _annex_blocks(results):
        size = {"head": f.heading, "sub": f.body}.get(kind, f.body)
        bold = kind in ("head", "sub")
        if kind in ("head", "sub") and lines:
            lines.append(("gap", ""))
        lines += [(kind, t) for t in wrap_text(text, width_pt, size, bold=bold)]
    footer = wrap_text(ctx.footer, width_pt - text_width_pt("Sources annex", f.small) - 20,
                       f.small)
    foot_h = m * 0.7 + len(footer) * f.small * 1.3 / 72 + 0.05

    def height(kind: str) -> float:
        size = {"head": f.heading, "gap": f.body * 0.6}.get(kind, f.body)
        return size * 1.4 / 72

    buf = io.BytesIO()
    with rc_print(), PdfPages(buf) as pdf:
        i = 0
        while i < len(lines) or i == 0:
            fig = Figure(figsize=(pw, ph), dpi=100)
            y = draw_heading(fig, options, title if i == 0 else f"{title} (continued)", subtitle)
            y -= 0.1 * s
            while i < len(lines) and y - height(lines[i][0]) > foot_h + 0.1 * s:
                kind, text = lines[i]
                if kind != "gap":
                    size = f.heading if kind == "head" else f.body
                    fig.text(m / pw, y / ph, text, fontsize=size, va="top", ha="left",
                             fontweight="bold" if kind in ("head", "sub") else "normal",
                             family="DejaVu Sans Mono" if kind == "mono" else None,
                             color="#333333" if kind == "mono" else "#000000")
                y -= height(kind)
                i += 1
            y0 = m * 0.7
            line_h = f.small * 1.3 / 72
            for k, text in enumerate(footer):
                fig.text(m / pw, (y0 + (len(footer) - 1 - k) * line_h) / ph, text,
                         fontsize=f.small, color="#333333", va="bottom")
            fig.text((pw - m) / pw, y0 / ph, "Sources annex", fontsize=f.small,
                     color="#333333", ha="right", va="bottom")
            fig.add_artist(Line2D([m / pw, (pw - m) / pw], [foot_h / ph] * 2, color="#999999",
                                  linewidth=0.5 * s))
            pdf.savefig(fig)
            if i == 0:
                break
    return buf.getvalue()


def _mode_stamp(results: Results, size: tuple[float, float]) -> bytes:
    """A transparent page with the output-mode line at its foot (for the one-page leaflet)."""
    pw, ph = size
    fig = Figure(figsize=size, dpi=100)
    fig.patch.set_alpha(0.0)
    with rc_print():
        lines = wrap_text(mode_statement(results), (pw - 1.2) * 72, 7.0)
        for k, line in enumerate(lines):  # below the leaflet's own footer (which starts 0.45 in)
            fig.text(0.6 / pw, (0.16 + (len(lines) - 1 - k) * 7 * 1.3 / 72) / ph, line,
                     fontsize=7.0, color="#444444", va="bottom", ha="left")
        buf = io.BytesIO()
        fig.savefig(buf, format="pdf", transparent=True)
    return buf.getvalue()


def _finish(pdf: bytes, results: Results, *, annex: bytes | None = None,
            stamp: bool = False) -> bytes:
    """Append the annex, stamp the mode, and record mode and provenance in the PDF info."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    if stamp:
        page = writer.pages[0]
        size = (float(page.mediabox.width) / 72, float(page.mediabox.height) / 72)
        page.merge_page(PdfReader(io.BytesIO(_mode_stamp(results, size))).pages[0])
    if annex is not None:
        for page in PdfReader(io.BytesIO(annex)).pages:
            writer.add_page(page)
    info = dict(writer.metadata or {})
    keywords = str(info.get("/Keywords") or "")
    writer.add_metadata({
        "/Keywords": f"{keywords}; output mode: {results.mode}".lstrip("; "),
        "/OutputMode": results.mode,
        "/Provenance": provenance_summary(results),
        "/Attribution": results.attribution(),
    })
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# --------------------------------------------------------------------------- builders


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
    buf = io.BytesIO()
    render_map_pdf(results, buf, group_column=group_column, group_value=group_value,
                   options=options, progress=progress, generated=generated)
    ctx = report_context(results, generated=generated)
    return _finish(buf.getvalue(), results,
                   annex=sources_annex_pdf(results, options=options, ctx=ctx))


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
    buf = io.BytesIO()
    render_atlas_pdf(results, buf, by=by, options=options, progress=progress,
                     generated=generated)
    ctx = report_context(results, generated=generated)
    return _finish(buf.getvalue(), results,
                   annex=sources_annex_pdf(results, options=options, ctx=ctx))


def explainer_pdf_bytes(results: Results, *, area_id: str, contact: str,
                        generated: datetime | None = None) -> bytes:
    """The one-page leaflet for residents of one area as PDF bytes (mode stamped at the foot).

    Raises
    ------
    ReportRequestError
        Unknown area, or an empty *contact*.
    """
    buf = io.BytesIO()
    render_explainer_pdf(results, buf, area_id=area_id, contact=contact, generated=generated)
    return _finish(buf.getvalue(), results, stamp=True)
