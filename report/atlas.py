"""The atlas: a cover, a contents page, then for each group a map page and its priority list.

Page numbers are planned before anything is drawn (every group's list is paginated first),
so the contents page prints the real page numbers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import numpy as np
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from firerisk.errors import Problem, ReportRequestError
from firerisk.geo.results import Results
from firerisk.report.layout import (
    Progress,
    ReportContext,
    ReportOptions,
    ReportSummary,
    check_extra_pages,
    draw_footer,
    draw_heading,
    finish_output,
    footer_top,
    format_date,
    heading_bottom,
    load_results,
    margin,
    new_page,
    output_target,
    pdf_metadata,
    rc_print,
    report_context,
    stream_position,
    text_width_pt,
    wrap_text,
)
from firerisk.report.mapsheet import (
    MapData,
    MapPageRequest,
    draw_choropleth,
    draw_legend,
    draw_map_page,
    draw_outlines,
    fig_axes,
    fit_extent,
    map_subtitle,
    style_map_axes,
)
from firerisk.report.selection import (
    check_group_column,
    group_values,
    resolve_group_values,
    selection_mask,
)
from firerisk.report.tables import ListPlan, draw_list_page, plan_list

__all__ = ["AtlasPlan", "group_title", "plan_atlas", "render_atlas_pdf"]


def group_title(by: str, value: str) -> str:
    """Title of a group's map page, for example ``Borough: Hackney``."""
    return f"{by.replace('_', ' ').capitalize()}: {value}"


@dataclass(frozen=True)
class AtlasPlan:
    """Every page of an atlas, numbered before drawing."""

    by: str
    groups: tuple[str, ...]
    masks: tuple[np.ndarray, ...]
    lists: tuple[ListPlan, ...]
    contents_pages: int
    contents_rows: int  # entries per contents page
    contents_cols: int
    first_page: tuple[int, ...]  # map page of each group

    @property
    def pages(self) -> int:
        """Total number of pages."""
        return 1 + self.contents_pages + sum(1 + p.n_pages for p in self.lists)

    def group_pages(self, i: int) -> tuple[int, ...]:
        """Page numbers of group *i* (map page first)."""
        return tuple(range(self.first_page[i], self.first_page[i] + 1 + self.lists[i].n_pages))


def _contents_grid(options: ReportOptions, ctx: ReportContext, n: int) -> tuple[int, int, int]:
    """Rows per column, columns, pages of the contents."""
    f = options.fonts
    top = heading_bottom(options, "Contents", "x")
    room = top - footer_top(ctx, options) - 0.2 * options.scale
    rows = max(1, int(room / (f.body * 1.55 / 72)))
    cols = 2 if options.orientation == "landscape" or n > rows else 1
    return rows, cols, max(1, math.ceil(n / (rows * cols)))


def plan_atlas(results: Results, by: str, groups: Sequence[str] | None, options: ReportOptions,
               ctx: ReportContext) -> AtlasPlan:
    """Check the request and lay out every page of the atlas."""
    by = check_group_column(results, by)
    if groups is None:
        values = group_values(results, by)
    else:
        values = resolve_group_values(results, by, groups)
    if not values:
        raise ReportRequestError([Problem(
            str(results.path), f"the selection is empty: no {by} was chosen, or the {by!r} "
            "column has no values.", f"choose at least one {by}, or leave groups unset for all.",
            column=by)])
    masks = tuple(selection_mask(results, by, [v]) for v in values)
    lists = tuple(plan_list(results, mk, options, ctx, title=f"Priority list: {v}",
                            show_group=None, area_label=f"{v} ({by.replace('_', ' ')})")
                  for v, mk in zip(values, masks, strict=True))
    rows, cols, c_pages = _contents_grid(options, ctx, len(values))
    first: list[int] = []
    page = 1 + c_pages + 1
    for lp in lists:
        first.append(page)
        page += 1 + lp.n_pages
    return AtlasPlan(by=by, groups=tuple(values), masks=masks, lists=lists,
                     contents_pages=c_pages, contents_rows=rows, contents_cols=cols,
                     first_page=tuple(first))


def _draw_cover(fig: Figure, data: MapData, plan: AtlasPlan, options: ReportOptions,
                title: str, *, pages: int) -> None:
    ctx = data.ctx
    f = options.fonts
    s = options.scale
    pw, _ph = fig.get_size_inches()
    m = margin(options)
    by = plan.by.replace("_", " ")
    n = len(plan.groups)
    subtitle = (f"Atlas by {by}: {n} map{'s' if n != 1 else ''} with priority lists. "
                f"Period: {ctx.period}.")
    top = draw_heading(fig, options, title, subtitle)
    bottom = draw_footer(fig, ctx, options, page=1, pages=pages)
    paragraphs = [
        ("About this atlas",
         (f"Each {by} has a map page followed by its priority list. Areas are ranked across "
          "the whole service (rank 1 is the highest priority) and put in bands by expected "
          "dwelling fires per 1,000 households; the bands and colours are the same on every "
          f"page. On each map, areas outside the {by} are grey and the top ranked areas are "
          "numbered with their rank in the list.")),
        ("How to use it",
         ("The list is a starting point for planning home fire safety visits, not a verdict on "
         "any household. Local knowledge matters: crews and partners should add what they know.")),
        ("How it was made",
         (f"Model: {ctx.model}. Generated {format_date(ctx.generated)} with firerisk "
         f"{ctx.version}. {ctx.disclosure}.")),
        ("Data", ctx.attribution),
    ]
    if options.orientation == "landscape":
        map_w, map_h = (pw - 2 * m) * 0.56, top - bottom - 0.3 * s
        map_x, map_y = m, bottom + 0.15 * s
        text_x, text_w, text_top = m + map_w + 0.35 * s, pw - 2 * m - map_w - 0.35 * s, top
    else:
        text_w = pw - 2 * m
        text_h = sum(f.heading * 1.35 / 72 + 0.12 * s
                     + len(wrap_text(b, text_w * 72, f.body)) * f.body * 1.35 / 72
                     for _, b in paragraphs)
        legend_h = 0.5 * s + (len(data.classes.labels) + 1) * max(0.26 * s, f.legend * 1.6 / 72)
        map_w = pw - 2 * m
        map_h = max(top - bottom - text_h - legend_h - 0.45 * s, 2.5 * s)
        map_x, map_y = m, top - map_h
        text_x, text_top = m, map_y - 0.25 * s
    everything = np.ones(len(data.results.areas), dtype=bool)
    extent = fit_extent(data.results.areas.total_bounds, map_w, map_h)
    ax = fig_axes(fig, map_x, map_y, map_w, map_h)
    style_map_axes(ax, extent, s)
    for spine in ax.spines.values():
        spine.set_visible(False)
    draw_choropleth(ax, data, everything, extent, context=False, scale=s)
    draw_outlines(ax, data, plan.by, highlight=None, scale=s)
    y = draw_legend(fig, data, everything, options, x=text_x, top=text_top,
                    width=min(text_w, 3.6 * s), context_label=None, labelled=0) - 0.2 * s
    for head, body in paragraphs:
        _line(fig, text_x, y, head, f.heading, bold=True)
        y -= f.heading * 1.35 / 72
        for line in wrap_text(body, text_w * 72, f.body):
            _line(fig, text_x, y, line, f.body)
            y -= f.body * 1.35 / 72
        y -= 0.12 * s


def _line(fig: Figure, x: float, y: float, text: str, size: float, *, bold: bool = False,
          ha: str = "left", colour: str = "#000000") -> None:
    pw, ph = fig.get_size_inches()
    fig.text(x / pw, y / ph, text, fontsize=size, fontweight="bold" if bold else "normal",
             ha=ha, va="top", color=colour)


def _draw_contents(fig: Figure, plan: AtlasPlan, ctx: ReportContext, options: ReportOptions,
                   index: int, *, page: int, pages: int) -> None:
    f = options.fonts
    s = options.scale
    pw, _ = fig.get_size_inches()
    m = margin(options)
    by = plan.by.replace("_", " ")
    title = "Contents" if index == 0 else "Contents (continued)"
    top = draw_heading(fig, options, title,
                       f"Each {by}: map page, then its priority list. The cover is page 1.")
    draw_footer(fig, ctx, options, page=page, pages=pages)
    per_page = plan.contents_rows * plan.contents_cols
    entries = list(range(index * per_page, min(len(plan.groups), (index + 1) * per_page)))
    gutter = 0.5 * s
    col_w = (pw - 2 * m - gutter * (plan.contents_cols - 1)) / plan.contents_cols
    row_h = f.body * 1.55 / 72
    dot_w = text_width_pt(".", f.body) / 72
    for k, g in enumerate(entries):
        col, row = divmod(k, plan.contents_rows)
        x = m + col * (col_w + gutter)
        y = top - 0.1 * s - row * row_h
        number = str(plan.first_page[g])
        num_w = text_width_pt(number, f.body) / 72
        name = plan.groups[g]
        room = col_w - num_w - 0.25 * s
        lines = wrap_text(name, room * 72, f.body)
        name = lines[0] + ("…" if len(lines) > 1 else "")
        name_w = text_width_pt(name, f.body) / 72
        dots = max(0, int((col_w - name_w - num_w - 0.15 * s) / dot_w))
        _line(fig, x, y, name, f.body)
        _line(fig, x + name_w + 0.05 * s, y, "." * dots, f.body, colour="#888888")
        _line(fig, x + col_w, y, number, f.body, ha="right")


def render_atlas_pdf(
    results: Results | str | Path,
    out: Path | str | BinaryIO,
    *,
    by: str,
    groups: Sequence[str] | None = None,
    options: ReportOptions | None = None,
    progress: Progress | None = None,
    generated: datetime | None = None,
    extra_pages: int = 0,
) -> ReportSummary:
    """Write the atlas: cover, contents, then a map page and priority list per group.

    Parameters
    ----------
    results : Results or path
    out : path or binary stream
    by : str
        Group column, for example ``"borough"`` (or ``"station"`` with a stations lookup).
    groups : sequence of str, optional
        Only these groups (default: every value of *by*, alphabetically).
    options : ReportOptions
    progress : callable, optional
        Called as ``progress(done, total, message)`` after each page.
    generated : datetime, optional
        Date printed in the footer and the metadata (default: now).
    extra_pages : int
        Pages that will be appended after the atlas (for example the sources annex); they
        are counted in every footer's "Page i of N". The summary's ``pages`` counts only
        the pages written here.

    Raises
    ------
    ReportRequestError
        Unknown group column or value, or an empty selection.
    ResultsFileError
        The results file is missing layers or columns.
    """
    t0 = time.perf_counter()
    options = options or ReportOptions()
    results = load_results(results)
    check_extra_pages(extra_pages, results)
    ctx = report_context(results, generated=generated)
    plan = plan_atlas(results, by, groups, options, ctx)
    by = plan.by
    pages = plan.pages
    total = pages + extra_pages  # printed in the footers
    title = options.title or f"{ctx.service}: priority areas for home fire safety visits"
    boxes: dict[int, tuple[float, float, float, float]] = {}
    t_maps = 0.0
    t_lists = 0.0
    with rc_print():
        data = MapData.prepare(results, ctx, options)
        data.outlines(by)
        t_prep = time.perf_counter()
        target, path, tmp = output_target(out)
        start = stream_position(out)
        meta = pdf_metadata(title=title, ctx=ctx,
                            subject=f"Atlas by {by} of priority areas for home fire safety visits")
        done = 0

        def tick(message: str) -> None:
            nonlocal done
            done += 1
            if progress:
                progress(done, pages, message)

        try:
            with PdfPages(target, metadata=meta) as pdf:
                fig = new_page(options)
                _draw_cover(fig, data, plan, options, title, pages=total)
                pdf.savefig(fig)
                tick("cover")
                for c in range(plan.contents_pages):
                    fig = new_page(options)
                    _draw_contents(fig, plan, ctx, options, c, page=2 + c, pages=total)
                    pdf.savefig(fig)
                    tick("contents")
                for i, value in enumerate(plan.groups):
                    t1 = time.perf_counter()
                    page = plan.first_page[i]
                    mask = plan.masks[i]
                    fig = new_page(options)
                    request = MapPageRequest(
                        mask=mask, title=group_title(by, value),
                        subtitle=map_subtitle(data, mask, f"{value} ({by.replace('_', ' ')})"),
                        group=(by, value), context=True)
                    boxes[page] = draw_map_page(fig, data, request, options, page=page,
                                                pages=total)
                    pdf.savefig(fig)
                    tick(f"map: {value}")
                    t2 = time.perf_counter()
                    for k in range(plan.lists[i].n_pages):
                        fig = new_page(options)
                        draw_list_page(fig, plan.lists[i], k, ctx, options, page=page + 1 + k,
                                       pages=total)
                        pdf.savefig(fig)
                        tick(f"list: {value}")
                    t_maps += t2 - t1
                    t_lists += time.perf_counter() - t2
        except BaseException:
            if tmp is not None and tmp.exists():
                tmp.unlink()
            raise
        size = finish_output(target, path, tmp, start)
    t_end = time.perf_counter()
    return ReportSummary(
        path=path, bytes=size, pages=pages,
        groups={v: plan.group_pages(i) for i, v in enumerate(plan.groups)},
        timings={"prepare": t_prep - t0, "maps": t_maps, "lists": t_lists,
                 "total": t_end - t0},
        map_boxes=boxes)
