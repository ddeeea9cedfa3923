"""A print map page: choropleth, legend, scale bar, north arrow, locator and rank labels.

:func:`render_map_pdf` writes one map followed by its priority list; :class:`MapData`
(polygon paths, classes and colours, prepared once) is shared with the atlas.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd
import shapely
from matplotlib.axes import Axes
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrow, Rectangle
from matplotlib.path import Path as MplPath
from matplotlib_scalebar.scalebar import ScaleBar

from firerisk.columns import BAND, BAND_INDEX, EXPECTED, HOUSEHOLDS, RANK, RISK_PER_1000
from firerisk.errors import Problem, ReportRequestError
from firerisk.geo.results import Results
from firerisk.report.layout import (
    NO_DATA_COLOUR,
    Progress,
    ReportContext,
    ReportOptions,
    ReportSummary,
    band_colours,
    check_extra_pages,
    draw_footer,
    draw_heading,
    finish_output,
    format_count,
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
from firerisk.report.selection import check_group_column, resolve_group_values, selection_mask
from firerisk.report.tables import draw_list_page, plan_list
from firerisk.risk.bands import band_of, classify

__all__ = [
    "CONTEXT_FACE",
    "Classes",
    "LabelBox",
    "MapData",
    "MapPageRequest",
    "draw_choropleth",
    "draw_legend",
    "draw_locator",
    "draw_map_page",
    "draw_north_arrow",
    "draw_outlines",
    "draw_rank_labels",
    "fig_axes",
    "fit_extent",
    "geometry_paths",
    "map_subtitle",
    "place_labels",
    "render_map_pdf",
    "style_map_axes",
]

CONTEXT_FACE = "#e3e3e3"
"""Fill of neighbouring areas shown for context (outside the selection)."""
CONTEXT_EDGE = "#ffffff"
OUTLINE = "#222222"


# --------------------------------------------------------------------------- geometry


def geometry_paths(geoms: Any) -> list[MplPath]:
    """One matplotlib path per (multi)polygon, holes wound against their exteriors."""
    arr = np.asarray(geoms, dtype=object)
    if len(arr) == 0:
        return []
    missing = shapely.is_missing(arr) | shapely.is_empty(arr)
    filled = np.where(missing, shapely.Polygon([(0, 0), (0, 0), (0, 0)]), arr)
    oriented = shapely.orient_polygons(filled, exterior_cw=False)
    gtype, coords, offsets = shapely.to_ragged_array(oriented)
    if gtype == shapely.GeometryType.POLYGON:
        ring_off, geom_off = offsets
        part_off = np.arange(len(ring_off))
    elif gtype == shapely.GeometryType.MULTIPOLYGON:
        ring_off, part_off, geom_off = offsets
    else:
        raise ValueError(f"expected polygons, got {gtype!r}")
    codes = np.full(len(coords), MplPath.LINETO, dtype=MplPath.code_type)
    starts = ring_off[:-1]
    ends = ring_off[1:] - 1
    codes[starts] = MplPath.MOVETO
    codes[ends] = MplPath.CLOSEPOLY
    first = ring_off[part_off[geom_off[:-1]]]
    last = ring_off[part_off[geom_off[1:]]]
    paths = []
    for i, (a, b) in enumerate(zip(first, last, strict=True)):
        if missing[i] or b <= a:
            paths.append(MplPath(np.zeros((0, 2))))
        else:
            paths.append(MplPath(coords[a:b], codes[a:b]))
    return paths


def _outline_paths(geoms: Sequence[Any]) -> list[MplPath]:
    """Paths of polygon boundaries (for outlines drawn without fill)."""
    return geometry_paths(list(geoms))


# --------------------------------------------------------------------------- classes


@dataclass(frozen=True)
class Classes:
    """A map layer's classes: per-area class index and the legend (lowest class first)."""

    index: np.ndarray  # -1 = no value
    labels: list[str]
    ranges: list[str]
    colours: list[str]
    title: str
    note: str
    what: str  # for the subtitle: what is mapped


def _fmt_rate(v: float) -> str:
    return f"{v:.2f}" if abs(v) < 1 else f"{v:.1f}"


def _range(lo: Any, hi: Any) -> str:
    """``lo–hi`` for finite limits; empty when the results hide them (public mode)."""
    try:
        a, b = float(lo), float(hi)
    except (TypeError, ValueError):
        return ""
    if not (np.isfinite(a) and np.isfinite(b)):
        return ""
    return f"{_fmt_rate(a)}–{_fmt_rate(b)}"


def _band_title(results: Results) -> str:
    bands = results.run.get("profile", {}).get("bands", {})
    title = bands.get("title") if isinstance(bands, dict) else None
    return str(title) if title else "Priority for a home fire safety visit"


def _classes(results: Results, layer: str, next_year: str) -> Classes:
    areas = results.areas
    year = f" in {next_year}" if next_year else ""
    title = _band_title(results)
    if layer == RISK_PER_1000 and not (
            RISK_PER_1000 in areas.columns
            and pd.to_numeric(areas[RISK_PER_1000], errors="coerce").notna().any()
            and pd.to_numeric(results.band_breaks["upper"], errors="coerce").notna().all()):
        raise ReportRequestError([Problem(
            str(results.path), "these results hold no rates (public mode hides them), so the "
            "'risk_per_1000' layer cannot be drawn.", "use layer='band'.",
            column=RISK_PER_1000)])
    if layer in (BAND, RISK_PER_1000):
        bb = results.band_breaks.sort_values(BAND_INDEX).reset_index(drop=True)
        k = len(bb)
        if k == 0:
            raise ReportRequestError([Problem(str(results.path), "the band_breaks layer is empty.",
                                              "rebuild the results file.")])
        bi = pd.to_numeric(areas[BAND_INDEX], errors="coerce").to_numpy(dtype=float)
        pos = {int(b): i for i, b in enumerate(bb[BAND_INDEX])}
        index = np.array([pos.get(int(b), -1) if np.isfinite(b) else -1 for b in bi])
        ranges = [_range(lo, hi) for lo, hi in zip(bb["lower"], bb["upper"], strict=True)]
        labels = [str(v) for v in bb["label"]]
        if layer == BAND:
            note = f"Band, by expected dwelling fires per 1,000 households{year}"
            what = f"priority band (expected dwelling fires per 1,000 households{year})"
        else:
            labels, ranges = ranges, labels
            note = f"Expected dwelling fires per 1,000 households{year}"
            what = f"expected dwelling fires per 1,000 households{year}, in priority bands"
        return Classes(index, labels, ranges, band_colours(k), title, note, what)
    column = layer
    if column not in areas.columns or not pd.to_numeric(areas[column], errors="coerce").notna().any():
        raise ReportRequestError([Problem(
            str(results.path), f"the results have no {column!r} values (public mode hides "
            f"them), so the {layer!r} layer cannot be drawn.",
            "use layer='band', or rebuild the results in internal mode.",
            column=column)])
    values = pd.to_numeric(areas[column], errors="coerce").to_numpy(dtype=float)
    if layer == EXPECTED:
        names = ["Lowest fifth", "Second fifth", "Middle fifth", "Fourth fifth", "Highest fifth"]
        k = min(5, max(2, len(np.unique(values[np.isfinite(values)]))))
        fifths = classify(pd.Series(values), scheme="quantiles", k=k, labels=names[:k])
        upper = [hi for _, hi in fifths.breaks]
        ranges = [f"{_fmt_rate(lo)}–{_fmt_rate(hi)}" for lo, hi in fifths.breaks]
        labels = names if fifths.k == 5 else [f"Class {i + 1}" for i in range(fifths.k)]
        note = f"Expected dwelling fires{year} (fifths of all areas)"
        what = f"expected dwelling fires{year}"
    else:  # p_top10
        upper = [0.2, 0.4, 0.6, 0.8, 1.0]
        labels = ["0–20%", "20–40%", "40–60%", "60–80%", "80–100%"]
        ranges = ["", "", "", "", ""]
        note = "Chance the area is among the top 10% of all areas"
        what = "chance of being among the top 10% of areas"
    index = band_of(values, upper) - 1  # 0-based class; -1 where the value is missing
    return Classes(index, labels, ranges, band_colours(len(upper)), title, note, what)


# --------------------------------------------------------------------------- prepared data


@dataclass
class MapData:
    """Everything a map page needs, computed once per report."""

    results: Results
    ctx: ReportContext
    classes: Classes
    paths: list[MplPath]
    points: np.ndarray  # (n, 2) representative points for labels
    bounds: np.ndarray  # (n, 4)
    rank: np.ndarray
    tree: shapely.STRtree
    _outlines: dict[str | None, tuple[list[str], list[MplPath], list[Any]]] = field(
        default_factory=dict, repr=False)

    @classmethod
    def prepare(cls, results: Results, ctx: ReportContext, options: ReportOptions) -> MapData:
        """Build paths, classes and the spatial index for *results*."""
        geoms = results.areas.geometry.to_numpy()
        classes = _classes(results, options.layer, ctx.next_year)
        points = shapely.get_coordinates(shapely.point_on_surface(geoms))
        rank = pd.to_numeric(results.areas[RANK], errors="coerce").to_numpy(dtype=float)
        return cls(results=results, ctx=ctx, classes=classes, paths=geometry_paths(geoms),
                   points=points, bounds=shapely.bounds(geoms), rank=rank,
                   tree=shapely.STRtree(geoms))

    def outlines(self, column: str | None) -> tuple[list[str], list[MplPath], list[Any]]:
        """Dissolved outlines: per group of *column* (or the whole service for None)."""
        if column not in self._outlines:
            areas = self.results.areas
            geoms = areas.geometry.to_numpy()
            if column is None:
                names, parts = ["all"], [geoms]
            else:
                keys = areas[column].astype(str).str.strip().to_numpy()
                names = sorted(set(keys))
                parts = [geoms[keys == n] for n in names]
            merged = [_union(p) for p in parts]
            self._outlines[column] = (names, _outline_paths(merged), merged)
        return self._outlines[column]


def _union(geoms: np.ndarray) -> Any:
    try:
        if shapely.coverage_is_valid(geoms):
            return shapely.coverage_union_all(geoms)
    except shapely.errors.GEOSException:
        pass
    return shapely.union_all(shapely.make_valid(geoms))


# --------------------------------------------------------------------------- labels


@dataclass(frozen=True)
class LabelBox:
    """A placed label: its text, centre and whether it was moved off its point."""

    text: str
    x: float
    y: float
    anchor_x: float
    anchor_y: float
    moved: bool


def _overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float],
              gap: float) -> bool:
    return not (a[2] + gap <= b[0] or b[2] + gap <= a[0] or a[3] + gap <= b[1]
                or b[3] + gap <= a[1])


def place_labels(points: np.ndarray, texts: Sequence[str], sizes: Sequence[tuple[float, float]],
                 frame: tuple[float, float, float, float], *, gap: float = 1.0,
                 ) -> tuple[list[LabelBox], list[str]]:
    """Place label boxes (display units) on their points without overlaps.

    Each label first tries its own point, then rings of positions around it; a moved label
    keeps a leader line to its point. Labels are placed in the order given (highest
    priority first); one that fits nowhere is left out and returned in the second list.

    Parameters
    ----------
    points : (n, 2) array
        Anchor points in display units.
    texts : sequence of str
    sizes : sequence of (width, height)
        Box sizes in display units.
    frame : (x0, y0, x1, y1)
        Boxes must lie inside this rectangle.
    gap : float
        Minimum clear space between boxes.
    """
    placed: list[tuple[float, float, float, float]] = []
    # other labels' anchor points are small obstacles, so a box never hides a leader's target
    dots = [(px - 1.5, py - 1.5, px + 1.5, py + 1.5) for px, py in points]
    out: list[LabelBox] = []
    skipped: list[str] = []
    dirs = [(0, 1), (1, 0), (0, -1), (-1, 0), (1, 1), (1, -1), (-1, -1), (-1, 1)]
    for i, ((px, py), text, (w, h)) in enumerate(zip(points, texts, sizes, strict=True)):
        candidates = [(0.0, 0.0)]
        for r in (1.0, 1.7, 2.5, 3.5):
            candidates += [(dx * r * (w * 0.5 + h * 0.6), dy * r * h * 1.15) for dx, dy in dirs]
        for dx, dy in candidates:
            cx, cy = px + dx, py + dy
            box = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
            if box[0] < frame[0] or box[1] < frame[1] or box[2] > frame[2] or box[3] > frame[3]:
                continue
            if any(_overlaps(box, other, gap) for other in placed):
                continue
            if any(j != i and _overlaps(box, d, 0.0) for j, d in enumerate(dots)):
                continue
            placed.append(box)
            out.append(LabelBox(text, cx, cy, px, py, moved=(dx, dy) != (0.0, 0.0)))
            break
        else:
            skipped.append(text)
    return out, skipped


# --------------------------------------------------------------------------- drawing


def fit_extent(bounds: Sequence[float], box_w: float, box_h: float, pad: float = 0.03,
                ) -> tuple[float, float, float, float]:
    """Grow *bounds* by *pad* and to the aspect ratio of a box_w × box_h frame."""
    x0, y0, x1, y1 = (float(v) for v in bounds)
    w = max(x1 - x0, 1.0)
    h = max(y1 - y0, 1.0)
    x0, x1 = x0 - w * pad, x1 + w * pad
    y0, y1 = y0 - h * pad, y1 + h * pad
    w, h = x1 - x0, y1 - y0
    target = box_w / box_h
    if w / h < target:
        grow = (h * target - w) / 2
        x0, x1 = x0 - grow, x1 + grow
    else:
        grow = (w / target - h) / 2
        y0, y1 = y0 - grow, y1 + grow
    return x0, y0, x1, y1


def style_map_axes(ax: Axes, extent: tuple[float, float, float, float], scale: float) -> None:
    ax.set_xlim(extent[0], extent[2])
    ax.set_ylim(extent[1], extent[3])
    ax.set_aspect("equal", adjustable="box")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_linewidth(0.5 * scale)
        spine.set_edgecolor("#666666")


def draw_choropleth(ax: Axes, data: MapData, mask: np.ndarray, extent: Sequence[float], *,
                    context: bool, scale: float) -> None:
    """Fill the selected areas by class; with *context*, grey out other areas in view."""
    cl = data.classes
    n_sel = int(mask.sum())
    edge_w = (0.12 if n_sel > 1500 else 0.25) * scale
    if context:
        in_view = data.tree.query(shapely.box(*extent))
        others = np.sort(in_view[~mask[in_view]])
        if len(others):
            ax.add_collection(PathCollection(
                [data.paths[i] for i in others], facecolors=CONTEXT_FACE, edgecolors=CONTEXT_EDGE,
                linewidths=edge_w, zorder=1))
    idx = np.flatnonzero(mask)
    faces = [cl.colours[c] if c >= 0 else NO_DATA_COLOUR for c in cl.index[idx]]
    ax.add_collection(PathCollection(
        [data.paths[i] for i in idx], facecolors=faces, edgecolors="#ffffff",
        linewidths=edge_w, zorder=2))
    nodata = idx[cl.index[idx] < 0]
    if len(nodata):
        ax.add_collection(PathCollection(
            [data.paths[i] for i in nodata], facecolors="none", edgecolors="#999999",
            hatch="////", linewidths=edge_w, zorder=2))


def draw_outlines(ax: Axes, data: MapData, column: str | None, *, highlight: str | None,
                  scale: float) -> None:
    """Group boundaries (thin), and the highlighted group's boundary (thick)."""
    names, paths, _ = data.outlines(column)
    thin = [p for n, p in zip(names, paths, strict=True) if n != highlight]
    if thin:
        ax.add_collection(PathCollection(thin, facecolors="none", edgecolors="#555555",
                                         linewidths=0.45 * scale, zorder=3))
    if highlight is not None:
        thick = [p for n, p in zip(names, paths, strict=True) if n == highlight]
        ax.add_collection(PathCollection(thick, facecolors="none", edgecolors=OUTLINE,
                                         linewidths=1.3 * scale, zorder=3))


def draw_rank_labels(ax: Axes, fig: Figure, data: MapData, mask: np.ndarray, *, top: int,
                     fontsize: float, scale: float) -> tuple[list[LabelBox], list[str]]:
    """Rank numbers of the *top* highest-priority areas in *mask*, without overlaps."""
    if top <= 0:
        return [], []
    idx = np.flatnonzero(mask & np.isfinite(data.rank))
    idx = idx[np.argsort(data.rank[idx], kind="stable")][:top]
    if not len(idx):
        return [], []
    ax.apply_aspect()
    to_px = ax.transData
    pts = to_px.transform(data.points[idx])
    px_per_pt = fig.dpi / 72.0
    texts = [str(int(data.rank[i])) for i in idx]
    pad = 0.3 * fontsize
    sizes = [((text_width_pt(t, fontsize, bold=True) + 2 * pad) * px_per_pt,
              (fontsize * 1.15 + 2 * pad) * px_per_pt) for t in texts]
    bb = ax.get_window_extent()
    frame = (bb.x0 + 2, bb.y0 + 2, bb.x1 - 2, bb.y1 - 2)
    boxes, skipped = place_labels(pts, texts, sizes, frame, gap=1.5 * px_per_pt)
    inv = to_px.inverted()
    for b in boxes:
        (x, y), (ax_, ay) = inv.transform([(b.x, b.y), (b.anchor_x, b.anchor_y)])
        if b.moved:
            ax.plot([ax_, x], [ay, y], color="#111111", linewidth=0.6 * scale, zorder=5,
                    solid_capstyle="round")
            ax.plot([ax_], [ay], marker="o", markersize=2.2 * scale, color="#111111", zorder=5)
        ax.text(x, y, b.text, fontsize=fontsize, fontweight="bold", ha="center", va="center",
                zorder=6, color="#000000",
                bbox={"boxstyle": "round,pad=0.3", "facecolor": "white", "edgecolor": "#111111",
                      "linewidth": 0.5 * scale})
    return boxes, skipped


def fig_axes(fig: Figure, x: float, y: float, w: float, h: float) -> Axes:
    """Axes at (x, y, w, h) inches from the bottom-left corner."""
    pw, ph = fig.get_size_inches()
    return fig.add_axes((x / pw, y / ph, w / pw, h / ph))


def _text(fig: Figure, x: float, y: float, s: str, **kw: Any) -> None:
    pw, ph = fig.get_size_inches()
    fig.text(x / pw, y / ph, s, **kw)


def _rect(fig: Figure, x: float, y: float, w: float, h: float, **kw: Any) -> None:
    pw, ph = fig.get_size_inches()
    fig.add_artist(Rectangle((x / pw, y / ph), w / pw, h / ph, transform=fig.transFigure, **kw))


def draw_legend(fig: Figure, data: MapData, mask: np.ndarray, options: ReportOptions, *,
                x: float, top: float, width: float, context_label: str | None,
                labelled: int) -> float:
    """Legend (highest class first) with ranges and area counts; return its bottom y (in)."""
    f = options.fonts
    cl = data.classes
    s = options.scale
    y = top
    for line in wrap_text(cl.title, width * 72, f.heading, bold=True):
        _text(fig, x, y, line, fontsize=f.heading, fontweight="bold", va="top")
        y -= f.heading * 1.25 / 72
    y -= 0.02
    for line in wrap_text(cl.note, width * 72, f.small):
        _text(fig, x, y, line, fontsize=f.small, color="#333333", va="top")
        y -= f.small * 1.3 / 72
    y -= 0.06 * s
    counts = np.bincount(cl.index[mask] + 1, minlength=len(cl.labels) + 1)
    sw_w, sw_h = 0.32 * s, 0.2 * s
    row_h = max(sw_h + 0.06 * s, f.legend * 1.6 / 72)
    label_w = max(text_width_pt(t, f.legend, bold=True) for t in cl.labels) / 72 + 0.1 * s
    entries: list[tuple[str, str, str, str, str | None]] = []
    for i in reversed(range(len(cl.labels))):
        n = int(counts[i + 1])
        entries.append((cl.labels[i], cl.ranges[i], f"{n:,} area{'s' if n != 1 else ''}",
                        cl.colours[i], None))
    if counts[0]:
        entries.append(("No estimate", "", f"{int(counts[0]):,} areas", NO_DATA_COLOUR, "////"))
    if context_label:
        entries.append((context_label, "", "", CONTEXT_FACE, None))
    for label, rng, count, colour, hatch in entries:
        cy = y - row_h / 2
        _rect(fig, x, cy - sw_h / 2, sw_w, sw_h, facecolor=colour, edgecolor="#444444",
              linewidth=0.4 * s, hatch=hatch)
        tx = x + sw_w + 0.08 * s
        if rng or count:
            _text(fig, tx, cy, label, fontsize=f.legend, fontweight="bold", va="center")
            _text(fig, tx + label_w, cy, rng, fontsize=f.legend, va="center")
            _text(fig, x + width, cy, count, fontsize=f.small, color="#333333", va="center",
                  ha="right")
        else:
            lines = wrap_text(label, (width - sw_w - 0.1 * s) * 72, f.legend)
            _text(fig, tx, cy, "\n".join(lines), fontsize=f.legend, va="center",
                  linespacing=1.1)
            y -= (len(lines) - 1) * f.legend * 1.2 / 72
        y -= row_h
    if labelled:
        y -= 0.1 * s
        note = (f"Rank in the priority list (rank 1 is the highest priority in the service); "
                f"the top {labelled} on this map are numbered")
        lines = wrap_text(note, (width - sw_w - 0.1 * s) * 72, f.small)
        first_cy = y - f.small * 0.65 / 72
        _text(fig, x + sw_w / 2, first_cy, "1", fontsize=f.label, fontweight="bold",
              ha="center", va="center",
              bbox={"boxstyle": "round,pad=0.3", "facecolor": "white", "edgecolor": "#111111",
                    "linewidth": 0.5 * s})
        for line in lines:
            _text(fig, x + sw_w + 0.08 * s, y, line, fontsize=f.small, va="top", color="#222222")
            y -= f.small * 1.3 / 72
    return y


def draw_north_arrow(fig: Figure, *, x: float, y: float, size: float, fontsize: float) -> None:
    """A north arrow with its foot at (x, y) inches, *size* inches tall (grid north)."""
    pw, ph = fig.get_size_inches()
    fig.add_artist(FancyArrow(x / pw, y / ph, 0, size * 0.62 / ph, width=size * 0.1 / pw,
                              head_width=size * 0.38 / pw, head_length=size * 0.3 / ph,
                              length_includes_head=True, transform=fig.transFigure,
                              facecolor="#111111", edgecolor="#111111", linewidth=0.3))
    _text(fig, x, y + size * 0.72, "N", fontsize=fontsize, fontweight="bold", ha="center",
          va="bottom")


def draw_locator(fig: Figure, data: MapData, *, x: float, y: float, w: float, h: float,
                 extent: Sequence[float], highlight: tuple[str | None, str | None],
                 options: ReportOptions) -> None:
    """Small map of the whole service with the group shown and the main map's frame."""
    s = options.scale
    column, value = highlight
    names, paths, merged = data.outlines(column)
    full = data.results.areas.total_bounds
    ax = fig_axes(fig, x, y, w, h)
    ext = fit_extent(full, w, h, pad=0.04)
    style_map_axes(ax, ext, s)
    for spine in ax.spines.values():
        spine.set_edgecolor("#999999")
    faces = ["#555555" if (value is not None and n == value) else "#eeeeee" for n in names]
    ax.add_collection(PathCollection(paths, facecolors=faces, edgecolors="#888888",
                                     linewidths=0.3 * s))
    x0, y0, x1, y1 = extent
    ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, facecolor="none", edgecolor="#c00000",
                           linewidth=1.0 * s, zorder=4, clip_on=True))
    del merged


def _scalebar(ax: Axes, options: ReportOptions) -> None:
    f = options.fonts
    ax.add_artist(ScaleBar(1.0, units="m", dimension="si-length", location="upper left",
                           bbox_to_anchor=(0.0, -0.008), bbox_transform=ax.transAxes,
                           frameon=False, length_fraction=0.22, width_fraction=0.006,
                           border_pad=0.0, pad=0.0, sep=2.0 * options.scale,
                           color="#111111", scale_loc="bottom",
                           font_properties={"size": f.small}))


@dataclass(frozen=True)
class MapPageRequest:
    """One map page: which areas, how to title it and what to highlight."""

    mask: np.ndarray
    title: str
    subtitle: str
    group: tuple[str | None, str | None]  # (column, value) for outlines and locator
    context: bool  # grey out neighbours in view


def draw_map_page(fig: Figure, data: MapData, request: MapPageRequest, options: ReportOptions,
                  *, page: int, pages: int) -> tuple[float, float, float, float]:
    """Draw a complete map page; return the map frame (left, top, right, bottom) as fractions."""
    ctx = data.ctx
    f = options.fonts
    s = options.scale
    pw, _ph = fig.get_size_inches()
    m = margin(options)
    top = draw_heading(fig, options, request.title, request.subtitle)
    bottom = draw_footer(fig, ctx, options, page=page, pages=pages)
    # attribution above the footer, full width
    attr = wrap_text(ctx.attribution, (pw - 2 * m) * 72, f.small)
    line_h = f.small * 1.3 / 72
    y = bottom + 0.06 * s + len(attr) * line_h
    attr_top = y + 0.04 * s
    for line in attr:  # top line first, so text extraction reads in order
        y -= line_h
        _text(fig, m, y, line, fontsize=f.small, color="#333333", va="bottom")
    scalebar_h = 0.42 * s
    gap = 0.22 * s
    if options.orientation == "landscape":
        panel_w = 2.75 * s
        map_x, map_w = m, pw - 2 * m - panel_w - gap
        map_y = attr_top + scalebar_h
        map_h = top - map_y
        panel_x, panel_top, panel_bottom = pw - m - panel_w, top, attr_top
    else:
        panel_h = 2.55 * s
        panel_w = pw - 2 * m
        map_x, map_w = m, pw - 2 * m
        map_y = attr_top + panel_h + scalebar_h
        map_h = top - map_y
        panel_x, panel_top, panel_bottom = m, attr_top + panel_h, attr_top
    sel_bounds = shapely.total_bounds(data.results.areas.geometry.to_numpy()[request.mask])
    extent = fit_extent(sel_bounds, map_w, map_h)
    ax = fig_axes(fig, map_x, map_y, map_w, map_h)
    style_map_axes(ax, extent, s)
    draw_choropleth(ax, data, request.mask, extent, context=request.context, scale=s)
    column, value = request.group
    draw_outlines(ax, data, column, highlight=value if request.context else None, scale=s)
    _scalebar(ax, options)
    boxes, _skipped = draw_rank_labels(ax, fig, data, request.mask, top=options.label_top,
                                       fontsize=f.label, scale=s)
    context_label = f"Outside {value} (for context)" if request.context and value else None
    arrow = 0.5 * s
    if options.orientation == "landscape":
        legend_bottom = draw_legend(fig, data, request.mask, options, x=panel_x, top=panel_top,
                                    width=panel_w, context_label=context_label,
                                    labelled=len(boxes))
        title_y = legend_bottom - 0.3 * s
        loc_w = min(panel_w - 0.6 * s, 2.3 * s)
        loc_h = loc_w * 0.8
        if title_y - 0.05 * s - loc_h < panel_bottom:
            loc_h = max(title_y - 0.05 * s - panel_bottom, 0.6 * s)
            loc_w = loc_h / 0.8
        loc_x, loc_y = panel_x, title_y - 0.05 * s - loc_h
        arrow_x, arrow_y = panel_x + panel_w - 0.2 * s, loc_y + loc_h - arrow * 0.95
    else:
        leg_w = panel_w * 0.5
        draw_legend(fig, data, request.mask, options, x=panel_x, top=panel_top - 0.05 * s,
                    width=leg_w, context_label=context_label, labelled=len(boxes))
        loc_h = panel_top - panel_bottom - 0.45 * s
        loc_w = min(loc_h / 0.8, panel_w * 0.38)
        loc_h = loc_w * 0.8
        loc_x = panel_x + panel_w - loc_w
        loc_y = panel_top - 0.3 * s - loc_h
        arrow_x, arrow_y = loc_x - 0.3 * s, loc_y + loc_h - arrow * 0.95
    _text(fig, loc_x, loc_y + loc_h + 0.05 * s, "Where this map is (red frame)",
          fontsize=f.small, color="#333333", va="bottom")
    draw_locator(fig, data, x=loc_x, y=loc_y, w=loc_w, h=loc_h, extent=extent,
                 highlight=(column, value), options=options)
    draw_north_arrow(fig, x=arrow_x, y=arrow_y, size=arrow, fontsize=f.legend)
    pos = ax.get_position()
    return (float(pos.x0), float(1 - pos.y1), float(pos.x1), float(1 - pos.y0))


# --------------------------------------------------------------------------- the single map


def _area_label(results: Results, column: str | None, value: str | None,
                ctx: ReportContext) -> str:
    if column is None or value is None:
        return f"{ctx.service}, whole service area"
    return f"{value} ({column.replace('_', ' ')})"


def map_subtitle(data: MapData, mask: np.ndarray, area_label: str) -> str:
    """Subtitle of a map page: area shown, period, what is mapped."""
    areas = data.results.areas
    hh = pd.to_numeric(areas.loc[mask, HOUSEHOLDS], errors="coerce").sum()
    n = int(mask.sum())
    return (f"Area shown: {area_label}, {n:,} small areas, {format_count(hh, threshold=1)} "
            f"households. Period: {data.ctx.period}. Map: {data.classes.what}.")


def render_map_pdf(
    results: Results | str | Path,
    out: Path | str | BinaryIO,
    *,
    group_column: str | None = None,
    group_value: str | None = None,
    options: ReportOptions | None = None,
    progress: Progress | None = None,
    generated: datetime | None = None,
    extra_pages: int = 0,
) -> ReportSummary:
    """Write one map page and its priority list pages as a PDF.

    Parameters
    ----------
    results : Results or path
        The results (a path is read with ``geo.results.read_results``).
    out : path or binary stream
        Where the PDF goes (a path is written atomically).
    group_column, group_value : str, optional
        Map only the areas whose *group_column* equals *group_value* (for example
        ``"borough"``, ``"Hackney"``); without them, the whole service area.
        A *group_column* alone draws that grouping's boundaries on the whole-service map.
    options : ReportOptions
    progress : callable, optional
        Called as ``progress(done, total, message)`` after each page.
    generated : datetime, optional
        Date printed in the footer and the metadata (default: now).
    extra_pages : int
        Pages that will be appended after this document (for example the sources annex);
        they are counted in every footer's "Page i of N". The summary's ``pages`` counts
        only the pages written here.

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
    if group_value is not None and group_column is None:
        raise ReportRequestError([Problem(
            str(results.path), f"a group value ({group_value!r}) was given without a group column.",
            "pass group_column too, for example group_column='borough'.")])
    column = check_group_column(results, group_column) if group_column is not None else None
    value = None
    if column is not None and group_value is not None:
        value = resolve_group_values(results, column, [group_value])[0]
    mask = selection_mask(results, column if value is not None else None,
                          [value] if value is not None else None)
    ctx = report_context(results, generated=generated)
    outline_col = column if column is not None else (
        results.group_columns[0] if results.group_columns
        and results.group_columns[0] in results.areas.columns else None)
    area_label = _area_label(results, column, value, ctx)
    with rc_print():
        data = MapData.prepare(results, ctx, options)
        title = options.title or f"Priority for a home fire safety visit: {value or ctx.service}"
        show_group = None if value is not None else outline_col
        plan = plan_list(results, mask, options, ctx, title=f"Priority list: {value or ctx.service}",
                         show_group=show_group, area_label=area_label)
        pages = 1 + plan.n_pages
        total = pages + extra_pages
        t_prep = time.perf_counter()
        target, path, tmp = output_target(out)
        start = stream_position(out)
        meta = pdf_metadata(title=title, ctx=ctx,
                            subject=f"Priority areas for home fire safety visits: {area_label}")
        boxes: dict[int, tuple[float, float, float, float]] = {}
        try:
            with PdfPages(target, metadata=meta) as pdf:
                fig = new_page(options)
                request = MapPageRequest(mask=mask, title=title,
                                         subtitle=map_subtitle(data, mask, area_label),
                                         group=(outline_col, value), context=value is not None)
                boxes[1] = draw_map_page(fig, data, request, options, page=1, pages=total)
                pdf.savefig(fig)
                if progress:
                    progress(1, pages, "map page")
                t_map = time.perf_counter()
                for i in range(plan.n_pages):
                    fig = new_page(options)
                    draw_list_page(fig, plan, i, ctx, options, page=2 + i, pages=total)
                    pdf.savefig(fig)
                    if progress:
                        progress(2 + i, pages, "priority list")
        except BaseException:
            if tmp is not None and tmp.exists():
                tmp.unlink()
            raise
        size = finish_output(target, path, tmp, start)
    t_end = time.perf_counter()
    key = value or "all"
    return ReportSummary(path=path, bytes=size, pages=pages,
                         groups={key: tuple(range(1, pages + 1))},
                         timings={"prepare": t_prep - t0, "maps": t_map - t_prep,
                                  "lists": t_end - t_map, "total": t_end - t0},
                         map_boxes=boxes)
