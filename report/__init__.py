"""Print-quality PDF output: a map with its priority list, an atlas by group, and a one-page
explainer for residents.

Every function takes a :class:`geo.results.Results` (or a path to a results GeoPackage) and
writes a PDF to a path or a binary stream, returning a :class:`ReportSummary`.
"""

from report.atlas import render_atlas_pdf
from report.bench import benchmark_reports
from report.explainer import render_explainer_pdf
from report.layout import ReportOptions, ReportSummary
from report.mapsheet import render_map_pdf

__all__ = [
    "ReportOptions",
    "ReportSummary",
    "benchmark_reports",
    "render_atlas_pdf",
    "render_explainer_pdf",
    "render_map_pdf",
]
