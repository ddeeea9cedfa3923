"""A one-page, plain-language explainer a crew can leave with residents of one area.

It says how the area compares on the priority list for home fire safety visits (worded by
band: "why we are offering visits" only for the top bands), the reasons from the results,
what a visit offers, which data were and were not used, and whom to contact.

The leaflet is left with the public, so it always follows the public rules, whatever the
mode of the results file: bands and ranks only, no count or rate from real incidents.
Reasons about fires (an area's own or its neighbours') are printed as sentences with no
figures (:func:`leaflet_reason`); area statistics such as the deprivation score are kept.
Every generated sentence also passes a second small-number guard.
"""

from __future__ import annotations

import difflib
import re
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import shapely
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib_scalebar.scalebar import ScaleBar

from firerisk.columns import AREA_ID, AREA_NAME, BAND, BAND_INDEX, RANK, UNCERTAIN_BAND
from firerisk.errors import Problem, ReportRequestError
from firerisk.geo.results import Results
from firerisk.pipeline import HISTORY_WITHHELD
from firerisk.report.layout import (
    ReportContext,
    ReportOptions,
    ReportSummary,
    finish_output,
    format_date,
    load_results,
    output_target,
    pdf_metadata,
    rc_print,
    report_context,
    stream_position,
    suppress_small_counts,
    text_width_pt,
    wrap_text,
)
from firerisk.report.mapsheet import (
    CONTEXT_FACE,
    draw_north_arrow,
    fig_axes,
    fit_extent,
    geometry_paths,
    style_map_axes,
)

__all__ = [
    "LEAFLET_MODE_STATEMENT",
    "TextBlock",
    "explainer_text",
    "leaflet_reason",
    "render_explainer_pdf",
]

ACCENT = "#b30000"

LEAFLET_MODE_STATEMENT = (
    "Output mode: public (for community partners and publication: bands and ranks only, "
    "no counts or rates from real incidents).")
"""The mode line stamped on every leaflet: a leaflet always follows the public rules."""

PAST_HISTORY = "More fires here in past years than the service average"
NEIGHBOUR_HISTORY = "More fires in neighbouring areas than the service average"
ANYONE_CAN_ASK = ("Anyone can ask for a free home fire safety visit, wherever they live: see "
                  "“Who to contact” below.")

# The sentences risk.explain writes about fires (see risk/explain.py and
# firerisk/pipeline.py): a count in the last years (maybe withheld as "<5" or "[c]", or
# still a \x00n\x00 token), a ratio for past years or for the neighbouring areas.
_OWN_COUNT = re.compile(r"^\s*(<?\s*\d[\d,]*|\[c\]|\x00\d+\x00)\s+fires?\s+in\s+the\s+last\b",
                        re.IGNORECASE)
_OWN_PAST = re.compile(r"^\s*fires\s+here\s+in\s+past\s+years\b", re.IGNORECASE)
_NEIGHBOURS = re.compile(r"\bfires?\s+in\s+neighbou?ring\s+areas\b", re.IGNORECASE)
# An area statistic: "<label> <value> (service average <value>)".
_AREA_STATISTIC = re.compile(r"^.+\s\S+\s\(service average [^()]+\)$")
_ABOUT_FIRES = re.compile(r"\b(fires?|incidents?)\b", re.IGNORECASE)
_FIGURE = re.compile(r"\d|\[c\]")


@dataclass(frozen=True)
class TextBlock:
    """One block of explainer text: a heading, paragraph, bullet or the contact line."""

    kind: str  # "heading", "para", "bullet", "contact"
    text: str


def _close_codes(want: str, ids: list[str]) -> list[str]:
    """Codes sharing the longest prefix with *want* (area codes differ in their last digits)."""
    for n in range(len(want), 2, -1):
        hits = sorted(i for i in ids if i.startswith(want[:n]))
        if hits:
            return hits[:3]
    return difflib.get_close_matches(want, ids, n=3, cutoff=0.6)


def _find_area(results: Results, area_id: str) -> int:
    ids = results.areas[AREA_ID].astype(str)
    hits = np.flatnonzero(ids.to_numpy() == str(area_id))
    if len(hits):
        return int(hits[0])
    names = results.areas[AREA_NAME].astype(str)
    by_name = np.flatnonzero(names.str.casefold().to_numpy() == str(area_id).casefold())
    close = _close_codes(str(area_id), ids.tolist())
    close_names = difflib.get_close_matches(str(area_id), names.tolist(), n=3, cutoff=0.6)
    hint = ""
    if len(by_name):
        hint = f" {area_id!r} is the name of area {ids.iloc[by_name[0]]!r}; pass its code."
    elif close or close_names:
        pairs = [f"{i!r}" for i in close] + [
            f"{ids.iloc[int(np.flatnonzero(names.to_numpy() == n)[0])]!r} ({n})"
            for n in close_names]
        hint = f" Close matches: {', '.join(pairs)}."
    raise ReportRequestError([Problem(
        str(results.path), f"there is no area with area_id {area_id!r}.{hint}",
        "use an area code from the results' area_id column (for example from the priority list).",
        column=AREA_ID)])


def leaflet_reason(text: str) -> str:
    """A reason as the leaflet prints it: no count or rate from real incidents.

    A sentence about the area's own fires becomes :data:`HISTORY_WITHHELD` (or, for the
    "past years" ratio, a like sentence about past years); one about the neighbouring areas
    becomes a like sentence about them. Area statistics ("Deprivation score 45.2 (service
    average 21.0)", written from the covariates) and sentences about fires that carry no
    figures are kept. Any other sentence about fires or incidents that holds a figure is
    left out (an empty string): no figure slips through, and nothing untrue is said.
    """
    flat = " ".join(str(text).split())
    if _OWN_COUNT.match(flat) or "\x00" in flat:
        return HISTORY_WITHHELD
    if _OWN_PAST.match(flat):
        return PAST_HISTORY
    if _NEIGHBOURS.search(flat):
        return NEIGHBOUR_HISTORY if _FIGURE.search(flat) else flat
    if _AREA_STATISTIC.match(flat) and not _ABOUT_FIRES.search(flat):
        return flat
    if _ABOUT_FIRES.search(flat) and _FIGURE.search(flat):
        return ""
    return flat


def _band_tier(results: Results, row: pd.Series) -> str:
    """``"top"``, ``"middle"``, ``"lower"`` or ``"none"`` (no band or rank)."""
    band = row.get(BAND)
    rank = row.get(RANK)
    if band is None or pd.isna(band) or not str(band).strip() or rank is None or pd.isna(rank):
        return "none"
    labels = results.band_labels
    k = max(len(labels), 1)
    index = row.get(BAND_INDEX)
    if index is None or pd.isna(index):
        if str(band) not in labels:
            return "none"
        index = labels.index(str(band)) + 1
    index = int(index)
    k = max(k, index)
    edge = max(1, round(0.4 * k))  # top two and bottom two of five bands
    if index > k - edge:
        return "top"
    if index <= edge:
        return "lower"
    return "middle"


def explainer_text(results: Results, *, area_id: str, contact: str,
                   ctx: ReportContext | None = None) -> tuple[str, str, list[TextBlock]]:
    """Title, subtitle and the text blocks of the explainer for one area (for checks and tests)."""
    ctx = ctx or report_context(results, generated=None)
    i = _find_area(results, area_id)
    row = results.areas.iloc[i]
    t = results.threshold
    name = str(row.get(AREA_NAME) or area_id)
    groups = [str(row[g]) for g in results.group_columns
              if g in row.index and isinstance(row[g], str) and row[g].strip()]
    where = f"{name}, {', '.join(groups)}" if groups else name
    band = "" if pd.isna(row.get(BAND)) else str(row[BAND])
    rank = row.get(RANK)
    reasons: list[str] = []
    for c in ("reason_1", "reason_2", "reason_3"):
        if c in row.index and isinstance(row[c], str) and row[c].strip():
            text = leaflet_reason(row[c])
            if text and text not in reasons:
                reasons.append(text)
    years = ctx.period.split(";")[0].replace("dwelling fires ", "")
    blocks: list[TextBlock] = []

    def add(kind: str, text: str) -> None:
        blocks.append(TextBlock(kind, text if kind == "contact" else suppress_small_counts(
            text, threshold=t)))

    tier = _band_tier(results, row)
    intro = (f"{ctx.service} uses statistics about small areas to decide where to offer free "
             "home fire safety visits first. ")
    place = "" if tier == "none" else f"number {int(rank):,} of {ctx.n_areas:,} small areas"
    if tier == "top":
        add("heading", "Why we are offering visits in this area")
        add("para", intro + f"This area is in the “{band}” priority band: it is {place} on "
                            "the priority list for home fire safety visits.")
    elif tier == "middle":
        add("heading", "How this area compares")
        add("para", intro + f"This area is in the “{band}” band, in the middle of the list: "
                            f"it is {place}, where number 1 is offered visits first.")
    elif tier == "lower":
        add("heading", "How this area compares")
        add("para", intro + f"This area is in the “{band}” band: it is {place}, so it is not "
                            "one of the areas where we offer visits first.")
    else:
        add("heading", "Home fire safety visits in this area")
        add("para", intro + "This area has no place on the list (for example, no homes "
                            "were counted here).")
    if tier != "top":
        add("para", ANYONE_CAN_ASK)
    if reasons:
        add("para", "The main reasons are:" if tier == "top" else
                    "Some things about this area still raise its place on the list:")
        for r in reasons:
            add("bullet", r)
    if bool(row.get(UNCERTAIN_BAND, False)) is True:
        add("para", "Estimates like these are never exact: the area could belong in the band "
                    "next to this one.")
    if tier == "top":
        add("para", "This says nothing about your home or the people who live here. Every "
                    "home in the area is offered the same visit. " + ANYONE_CAN_ASK)
    else:
        add("para", "This says nothing about your home or the people who live here.")
    add("heading", "What a home fire safety visit offers")
    for item in [
        "It is free, and we come at a time that suits you.",
        "We check your smoke alarms, and fit new ones where you need them.",
        ("Advice on cooking safely, heating your home, and electrical safety (overloaded "
        "sockets, chargers, electric blankets)."),
        "We help you make an escape plan: how everyone gets out if there is a fire.",
        "Extra help for anyone who may find it hard to get out, such as older or disabled people.",
    ]:
        add("bullet", item)
    add("heading", "Which information we used")
    add("para", "Only statistics about the area as a whole:")
    for item in [
        ("census figures about homes and households (for example, how many homes are flats "
        "or rented);"),
        ("the index of deprivation, a national measure of income, work, health and housing "
        "for each small area;"),
        (f"the fires in homes that the fire service recorded in each small area ({years}). "
         "This leaflet shows no counts or rates of fires."),
    ]:
        add("bullet", item)
    add("heading", "What we did not use")
    add("para", "We did not use any personal records from other organisations (such as health, "
                "social care, housing or the police), and nothing about any individual "
                "household or person.")
    add("heading", "Who to contact")
    add("contact", contact.strip())
    title = "A free home fire safety visit for your area"
    return title, where, blocks


def _flow(fig: Figure | None, blocks: list[TextBlock], *, x: float, top: float, width: float,
          narrow_until: float, narrow_width: float, body: float, bottom: float) -> float:
    """Lay out (and, with a figure, draw) the blocks; return the y reached (in)."""
    head = body * 1.22
    y = top
    pw, ph = (fig.get_size_inches() if fig is not None else (1.0, 1.0))

    def w_at(yy: float) -> float:
        return narrow_width if yy > narrow_until else width

    def put(xx: float, yy: float, text: str, size: float, **kw: object) -> None:
        if fig is not None:
            fig.text(xx / pw, yy / ph, text, fontsize=size, va="top", **kw)  # type: ignore[arg-type]

    for k, b in enumerate(blocks):
        if b.kind == "heading":
            if k:
                y -= body * 0.8 / 72
            put(x, y, b.text, head, fontweight="bold", color=ACCENT)
            y -= head * 1.4 / 72
        elif b.kind == "bullet":
            indent = text_width_pt("•  ", body) / 72
            lines = wrap_text(b.text, (w_at(y) - indent) * 72, body)
            put(x, y, "•", body)
            for line in lines:
                put(x + indent, y, line, body)
                y -= body * 1.35 / 72
            y -= body * 0.15 / 72
        elif b.kind == "contact":
            size = body * 1.15
            for line in wrap_text(b.text, w_at(y) * 72, size, bold=True):
                put(x, y, line, size, fontweight="bold")
                y -= size * 1.35 / 72
        else:
            for line in wrap_text(b.text, w_at(y) * 72, body):
                put(x, y, line, body)
                y -= body * 1.35 / 72
            y -= body * 0.3 / 72
    del bottom
    return y


def render_explainer_pdf(
    results: Results | str | Path,
    out: Path | str | BinaryIO,
    *,
    area_id: str,
    contact: str,
    generated: datetime | None = None,
) -> ReportSummary:
    """Write a one-page A4 explainer for residents of one area.

    Parameters
    ----------
    results : Results or path
    out : path or binary stream
    area_id : str
        The area's code (``area_id`` in the results).
    contact : str
        Who residents should contact (name, phone, web address).
    generated : datetime, optional
        Date printed on the page and in the metadata (default: now).

    Raises
    ------
    ReportRequestError
        Unknown area, or no contact given.
    """
    t0 = time.perf_counter()
    results = load_results(results)
    if not contact or not contact.strip():
        raise ReportRequestError([Problem(
            str(results.path), "no contact was given for the explainer.",
            "pass contact='...', for example the community safety team's phone number and web "
            "address.", column="contact")])
    ctx = report_context(results, generated=generated)
    title, where, blocks = explainer_text(results, area_id=area_id, contact=contact, ctx=ctx)
    options = ReportOptions(paper="A4", orientation="portrait")
    i = _find_area(results, area_id)
    with rc_print():
        fig = Figure(figsize=options.page_size, dpi=100)
        pw, ph = options.page_size
        m = 0.6
        y = ph - m
        fig.text(m / pw, y / ph, title, fontsize=19, fontweight="bold", va="top")
        y -= 19 * 1.3 / 72
        for line in wrap_text(where, (pw - 2 * m) * 72, 12):
            fig.text(m / pw, y / ph, line, fontsize=12, va="top", color="#333333")
            y -= 12 * 1.35 / 72
        y -= 0.06
        fig.add_artist(Line2D([m / pw, (pw - m) / pw], [y / ph, y / ph], color=ACCENT,
                              linewidth=2.0))
        y -= 0.22
        # small map at the top right
        map_w = 2.5
        map_h = 2.2
        map_x = pw - m - map_w
        map_y = y - map_h - 0.2
        _draw_area_map(fig, results, i, x=map_x, y=map_y, w=map_w, h=map_h, options=options)
        fig.text(map_x / pw, (map_y + map_h + 0.05) / ph, "Where the area is (outlined)",
                 fontsize=7.5, va="bottom", color="#333333")
        # footer
        foot = (f"Prepared by {ctx.service} on {format_date(ctx.generated)} with firerisk "
                f"{ctx.version}. No counts or rates of fires are shown on this leaflet, to "
                f"protect privacy. Data: {ctx.attribution}")
        foot_lines = wrap_text(foot, (pw - 2 * m) * 72, 7.0)
        foot_top = 0.45 + len(foot_lines) * 7 * 1.3 / 72
        for k, line in enumerate(foot_lines):
            fig.text(m / pw, (0.45 + (len(foot_lines) - 1 - k) * 7 * 1.3 / 72) / ph, line,
                     fontsize=7.0, color="#444444", va="bottom")
        fig.add_artist(Line2D([m / pw, (pw - m) / pw], [(foot_top + 0.06) / ph] * 2,
                              color="#999999", linewidth=0.5))
        # the text: the largest body size that fits the page
        kw = {"x": m, "top": y, "width": pw - 2 * m, "narrow_until": map_y - 0.15,
              "narrow_width": map_x - m - 0.3, "bottom": foot_top + 0.15}
        body = 10.0
        for body in (10.0, 9.5, 9.0, 8.5, 8.0, 7.5):
            if _flow(None, blocks, body=body, **kw) > foot_top + 0.2:
                break
        _flow(fig, blocks, body=body, **kw)
        target, path, tmp = output_target(out)
        start = stream_position(out)
        meta = pdf_metadata(title=f"{title}: {where}", ctx=ctx,
                            subject=f"Home fire safety visits: {blocks[0].text.lower()}")
        try:
            with PdfPages(target, metadata=meta) as pdf:
                pdf.savefig(fig)
        except BaseException:
            if tmp is not None and tmp.exists():
                tmp.unlink()
            raise
        size = finish_output(target, path, tmp, start)
    total = time.perf_counter() - t0
    return ReportSummary(path=path, bytes=size, pages=1,
                         groups={str(results.areas[AREA_ID].iloc[i]): (1,)},
                         timings={"total": total})


def _draw_area_map(fig: Figure, results: Results, i: int, *, x: float, y: float, w: float,
                   h: float, options: ReportOptions) -> None:
    geoms = results.areas.geometry.to_numpy()
    target = geoms[i]
    x0, y0, x1, y1 = shapely.bounds(target)
    span = max(x1 - x0, y1 - y0, 300.0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    extent = fit_extent((cx - span, cy - span, cx + span, cy + span), w, h, pad=0.0)
    ax = fig_axes(fig, x, y, w, h)
    style_map_axes(ax, extent, 1.0)
    near = shapely.STRtree(geoms).query(shapely.box(*extent))
    near = near[near != i]
    if len(near):
        ax.add_collection(PathCollection(geometry_paths(geoms[near]), facecolors=CONTEXT_FACE,
                                         edgecolors="#ffffff", linewidths=0.6))
    ax.add_collection(PathCollection(geometry_paths([target]), facecolors="#fdd49e",
                                     edgecolors="#111111", linewidths=1.6, zorder=3))
    ax.add_artist(ScaleBar(1.0, units="m", location="lower left", frameon=True, box_alpha=0.8,
                           length_fraction=0.3, font_properties={"size": 7.0}))
    draw_north_arrow(fig, x=x + w - 0.22, y=y + h - 0.55, size=0.42, fontsize=8.0)
    del options
