"""Timing of the PDF reports, for the benchmark script."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from firerisk.geo.results import Results
from firerisk.report.atlas import render_atlas_pdf
from firerisk.report.layout import ReportOptions, load_results
from firerisk.report.mapsheet import render_map_pdf

__all__ = ["benchmark_reports"]


def benchmark_reports(results: Results | str | Path, *, out_dir: str | Path,
                      by: str | None = None, options: ReportOptions | None = None,
                      atlas: bool = True) -> dict[str, Any]:
    """Time a whole-service map PDF and (optionally) the atlas by *by*.

    Parameters
    ----------
    results : Results or path
        A path is read first (and the read is timed).
    out_dir : path
        Where ``map.pdf`` and ``atlas.pdf`` are written.
    by : str, optional
        Atlas group column (default: the first group column of the results).
    options : ReportOptions, optional
    atlas : bool
        Also build the atlas.

    Returns
    -------
    dict
        Seconds (``read_s``, ``map_s``, ``atlas_s``), page counts, sizes and per-stage timings.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    res = load_results(results)
    figures: dict[str, Any] = {"read_s": time.perf_counter() - t0, "areas": len(res.areas)}
    t1 = time.perf_counter()
    summary = render_map_pdf(res, out / "map.pdf", options=options)
    figures.update(map_s=time.perf_counter() - t1, map_pages=summary.pages,
                   map_bytes=summary.bytes, map_timings=dict(summary.timings))
    if atlas:
        column = by or (res.group_columns[0] if res.group_columns else None)
        if column is not None:
            t2 = time.perf_counter()
            summary = render_atlas_pdf(res, out / "atlas.pdf", by=column, options=options)
            figures.update(atlas_s=time.perf_counter() - t2, atlas_pages=summary.pages,
                           atlas_groups=len(summary.groups), atlas_bytes=summary.bytes,
                           atlas_timings=dict(summary.timings))
    return figures
