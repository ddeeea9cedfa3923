"""Priority-list pages: the ranked areas as a table with repeated headers and wrapped text.

Pagination is planned before anything is drawn (:func:`plan_list`), so an atlas knows every
page number before it writes its contents page.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from firerisk.columns import (
    AREA_ID,
    AREA_NAME,
    BAND,
    EXPECTED,
    HOUSEHOLDS,
    RANK,
    RANK_HIGH,
    RANK_LOW,
    UNCERTAIN_BAND,
    group_rank_columns,
)
from firerisk.geo.results import Results
from firerisk.report.layout import (
    ReportContext,
    ReportOptions,
    draw_footer,
    draw_heading,
    footer_top,
    format_count,
    heading_bottom,
    margin,
    suppress_small_counts,
    text_width_pt,
    wrap_text,
)
from firerisk.risk.explain import ordinal

__all__ = ["Column", "ListPlan", "draw_list_page", "list_rows", "plan_list"]

REASON_COLUMNS = ("reason_1", "reason_2", "reason_3")
LIKELY = "likely_rank"  # the likely rank in words (a column of the rows, made here)
BULLET = "• "
INDENT = "\t"  # marks a continuation line of a bullet (drawn indented, not printed)


@dataclass(frozen=True)
class Column:
    """A table column: its key, header text, width (points) and alignment."""

    key: str
    header: str
    width: float
    align: str = "left"


@dataclass(frozen=True)
class ListPlan:
    """A priority list laid out into pages (nothing drawn yet)."""

    title: str
    subtitle: str
    columns: tuple[Column, ...]
    header_lines: tuple[tuple[str, ...], ...]
    cells: tuple[tuple[tuple[str, ...], ...], ...]  # row -> column -> lines
    heights: tuple[float, ...]  # row heights in inches
    pages: tuple[tuple[int, int], ...]  # (first row, end row) per page
    n_selected: int
    n_listed: int
    note: str

    @property
    def n_pages(self) -> int:
        """Number of pages the list takes (at least one, even when empty)."""
        return len(self.pages)


def _metrics(options: ReportOptions) -> tuple[float, float, float]:
    """Font size (pt), line height (in) and cell padding (in) of table text."""
    size = options.fonts.table
    return size, size * 1.22 / 72, 2.6 * options.scale / 72


def list_rows(results: Results, mask: np.ndarray, options: ReportOptions) -> pd.DataFrame:
    """The selected areas from the ranked list, in rank order, cut to ``options.list_top``."""
    ids = set(results.areas.loc[mask, AREA_ID].astype(str))
    source = results.targets if AREA_ID in results.targets.columns else results.areas
    table = pd.DataFrame(source[source[AREA_ID].astype(str).isin(ids)])
    if RANK not in table.columns:  # an old targets layer: take the rank from the areas
        table = table.merge(results.areas[[AREA_ID, RANK]], on=AREA_ID, how="left")
    table = table.sort_values(RANK, kind="stable")
    if options.list_top is not None:
        table = table.head(options.list_top)
    return table.reset_index(drop=True)


def _likely_ranks(rows: pd.DataFrame) -> tuple[list[str], str] | None:
    """The likely rank of each listed area in words, and where it is ranked: inside the
    group when every listed area is in one group whose ranges the results hold, else in
    the whole service. None when the results hold no ranges (public output, older files)."""
    for col in rows.columns:
        label = str(col)[len("rank_in_"):] if str(col).startswith("rank_in_") else ""
        _, low_col, high_col, _ = group_rank_columns(label) if label else ("",) * 4
        if (label and label in rows.columns and {low_col, high_col} <= set(rows.columns)
                and rows[label].nunique() == 1 and len(rows)):
            where = str(rows[label].iloc[0])
            return [_range_words(lo, hi) for lo, hi in
                    zip(rows[low_col], rows[high_col], strict=True)], where
    if {RANK_LOW, RANK_HIGH} <= set(rows.columns):
        return [_range_words(lo, hi) for lo, hi in
                zip(rows[RANK_LOW], rows[RANK_HIGH], strict=True)], "the whole service"
    return None


def _range_words(low: float, high: float) -> str:
    if pd.isna(low) or pd.isna(high):
        return "–"
    lo, hi = int(low), int(high)
    return ordinal(lo) if lo == hi else f"{ordinal(lo)} to {ordinal(hi)}"


def _columns(options: ReportOptions, group: str | None, have_band_flag: bool,
             have_expected: bool, year: str = "", likely: str | None = None) -> list[Column]:
    s = options.scale
    width_pt = (options.page_size[0] - 2 * margin(options)) * 72
    narrow = options.orientation == "portrait"
    cols = [
        Column(RANK, "Rank", 32 * s, "right"),
        Column(AREA_NAME, "Area", (84 if narrow else 112) * s),
    ]
    if group:
        cols.append(Column(group, group.replace("_", " ").capitalize(), (70 if narrow else 96) * s))
    cols += [
        Column(AREA_ID, "Code", (56 if narrow else 62) * s),
        Column(HOUSEHOLDS, "Households", 62 * s, "right"),
        Column(BAND, "Band*" if have_band_flag else "Band", 52 * s),
    ]
    if have_expected:
        label = f"Expected fires in {year}" if year else "Expected fires next year"
        cols.insert(-1, Column(EXPECTED, label, 54 * s, "right"))
    if likely:
        cols.insert(1, Column(LIKELY, f"Likely rank in {likely}", 64 * s))
    rest = width_pt - sum(c.width for c in cols)
    cols.append(Column("reasons", "Main reasons", max(rest, 90 * s)))
    return cols


def _cell_text(row: pd.Series, key: str, threshold: int) -> str:
    if key == RANK:
        return "" if pd.isna(row.get(RANK)) else f"{int(row['rank']):,}"
    if key == HOUSEHOLDS:
        return format_count(row.get(HOUSEHOLDS), threshold=threshold)
    if key == EXPECTED:
        v = row.get(EXPECTED)
        return "–" if v is None or pd.isna(v) else f"{float(v):.1f}"
    if key == BAND:
        band = "" if pd.isna(row.get(BAND)) else str(row.get(BAND))
        flag = row.get(UNCERTAIN_BAND)
        return band + ("*" if isinstance(flag, bool | np.bool_) and bool(flag) else "")
    if key == "reasons":
        reasons = [suppress_small_counts(str(row[c]).strip(), threshold=threshold)
                   for c in REASON_COLUMNS
                   if c in row.index and isinstance(row[c], str) and row[c].strip()]
        return "\n".join(BULLET + r for r in reasons) if reasons else "–"
    v = row.get(key)
    return "" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)


def plan_list(results: Results, mask: np.ndarray, options: ReportOptions, ctx: ReportContext, *,
              title: str, show_group: str | None, area_label: str) -> ListPlan:
    """Lay out the priority list of the selected areas into pages.

    Parameters
    ----------
    title : str
        Title of the first list page (later pages add "(continued)").
    show_group : str or None
        A group column to add to the table (useful when the list spans several groups).
    area_label : str
        How the selection is named in the subtitle.
    """
    rows = list_rows(results, mask, options)
    likely = _likely_ranks(rows)
    if likely is not None:
        rows = rows.assign(**{LIKELY: likely[0]})
    n_selected = int(mask.sum())
    has_flag = UNCERTAIN_BAND in rows.columns and rows[UNCERTAIN_BAND].fillna(False).astype(
        bool).any()
    group = show_group if show_group and show_group in rows.columns else None
    have_expected = EXPECTED in rows.columns and bool(
        pd.to_numeric(rows[EXPECTED], errors="coerce").notna().any())
    columns = _columns(options, group, bool(has_flag), have_expected, ctx.next_year,
                       likely=None if likely is None else likely[1])
    size, line_h, pad = _metrics(options)

    def lines(text: str, col: Column, bold: bool = False) -> tuple[str, ...]:
        width = col.width - 2 * pad * 72
        if col.key != "reasons":
            return tuple(wrap_text(text, width, size, bold=bold))
        # bullets with a hanging indent: continuation lines start with INDENT
        indent = text_width_pt(BULLET, size)
        out: list[str] = []
        for item in text.split("\n"):
            body = item.removeprefix(BULLET)
            wrapped = wrap_text(body, width - indent, size)
            if item.startswith(BULLET):
                out += [BULLET + wrapped[0]] + [INDENT + w for w in wrapped[1:]]
            else:
                out += wrapped
        return tuple(out)

    header_lines = tuple(lines(c.header, c, bold=True) for c in columns)
    cells: list[tuple[tuple[str, ...], ...]] = []
    heights: list[float] = []
    for _, row in rows.iterrows():
        cell = tuple(lines(_cell_text(row, c.key, ctx.threshold), c) for c in columns)
        cells.append(cell)
        heights.append(max(len(x) for x in cell) * line_h + 2 * pad)
    head_h = max(len(x) for x in header_lines) * line_h + 2 * pad
    shown = (f"the top {len(rows):,} of {n_selected:,} areas" if len(rows) < n_selected
             else f"all {n_selected:,} areas")
    subtitle = (f"{area_label}: {shown}, highest priority first. Rank 1 is the highest "
                f"priority in the whole service. Period: {ctx.period}.")
    note = ("* The band is uncertain: the 90% range of the estimate spans more than one band. "
            if has_flag else "")
    if likely is not None:
        note += (f"Likely rank: the range that holds the area's rank in {likely[1]} in 9 of "
                 "10 simulations of the model's uncertainty (ends rounded outward). ")
    if have_expected:
        when = f"in {ctx.next_year}" if ctx.next_year else "next year"
        note += (f"Expected fires {when} is a model estimate for the area as a whole, not a "
                 "count of past fires.")
    note = note.strip()
    bottom = footer_top(ctx, options) + _note_height(note, options) + 0.08 * options.scale
    pages: list[tuple[int, int]] = []
    start = 0
    first = True
    while start < len(cells) or first:
        top = heading_bottom(options, title if first else f"{title} (continued)",
                             subtitle if first else None)
        room = top - bottom - head_h
        end = start
        used = 0.0
        while end < len(cells) and (used + heights[end] <= room or end == start):
            used += heights[end]
            end += 1
        pages.append((start, end))
        start = end
        first = False
    return ListPlan(title=title, subtitle=subtitle, columns=tuple(columns),
                    header_lines=header_lines, cells=tuple(cells), heights=tuple(heights),
                    pages=tuple(pages), n_selected=n_selected, n_listed=len(rows), note=note)


def _note_lines(note: str, options: ReportOptions) -> list[str]:
    return wrap_text(note, (options.page_size[0] - 2 * margin(options)) * 72, options.fonts.small)


def _note_height(note: str, options: ReportOptions) -> float:
    return len(_note_lines(note, options)) * options.fonts.small * 1.3 / 72


def draw_list_page(fig: Figure, plan: ListPlan, index: int, ctx: ReportContext,
                   options: ReportOptions, *, page: int, pages: int) -> None:
    """Draw page *index* of a planned priority list."""
    pw, ph = fig.get_size_inches()
    m = margin(options)
    size, line_h, pad = _metrics(options)
    first = index == 0
    top = draw_heading(fig, options, plan.title if first else f"{plan.title} (continued)",
                       plan.subtitle if first else None)
    bottom = draw_footer(fig, ctx, options, page=page, pages=pages)
    # note above the footer
    note = _note_lines(plan.note, options)
    y = bottom + 0.06 * options.scale + len(note) * options.fonts.small * 1.3 / 72
    for line in note:
        y -= options.fonts.small * 1.3 / 72
        fig.text(m / pw, y / ph, line, fontsize=options.fonts.small, color="#333333", va="bottom")
    table_w = sum(c.width for c in plan.columns) / 72
    xs = np.cumsum([0.0] + [c.width / 72 for c in plan.columns])

    def band(y_top: float, height: float, colour: str) -> None:
        fig.add_artist(Rectangle((m / pw, (y_top - height) / ph), table_w / pw, height / ph,
                                 transform=fig.transFigure, facecolor=colour, edgecolor="none",
                                 zorder=0))

    def row_text(y_top: float, cell_lines: tuple[tuple[str, ...], ...], bold: bool) -> None:
        for j, col in enumerate(plan.columns):
            if col.align == "right":
                x, ha = m + xs[j + 1] - pad, "right"
            else:
                x, ha = m + xs[j] + pad, "left"
            for k, text in enumerate(cell_lines[j]):
                if not text:
                    continue
                dx = 0.0
                if text.startswith(INDENT):
                    text, dx = text[len(INDENT):], text_width_pt(BULLET, size) / 72
                fig.text((x + dx) / pw, (y_top - pad - k * line_h) / ph, text, fontsize=size,
                         fontweight="bold" if bold else "normal", ha=ha, va="top",
                         color="#000000")

    head_h = max(len(x) for x in plan.header_lines) * line_h + 2 * pad
    band(top, head_h, "#dcdcdc")
    row_text(top, plan.header_lines, True)
    y = top - head_h
    start, end = plan.pages[index]
    if start == end:
        fig.text(m / pw, (y - 0.1) / ph, "No areas to list.", fontsize=options.fonts.body,
                 va="top")
    for r in range(start, end):
        h = plan.heights[r]
        if (r - start) % 2 == 1:
            band(y, h, "#f2f2f2")
        row_text(y, plan.cells[r], False)
        y -= h
    fig.add_artist(Rectangle((m / pw, y / ph), table_w / pw, (top - y) / ph,
                             transform=fig.transFigure, facecolor="none", edgecolor="#888888",
                             linewidth=0.5 * options.scale))
