"""Print-quality PDF output: a map with its priority list, an atlas by group, and a one-page
explainer for residents.

Every function takes a :class:`geo.results.Results` (or a path to a results GeoPackage) and
writes a PDF to a path or a binary stream, returning a :class:`ReportSummary`. The
``*_pdf_bytes`` functions (used by the app and the CLI) add the sources annex, the
output-mode stamp and the provenance in the document information.
"""

from firerisk.report.atlas import render_atlas_pdf
from firerisk.report.bench import benchmark_reports
from firerisk.report.explainer import render_explainer_pdf
from firerisk.report.layout import ReportOptions, ReportSummary
from firerisk.report.mapsheet import render_map_pdf
from firerisk.report.sources import atlas_pdf_bytes, explainer_pdf_bytes, map_pdf_bytes

__all__ = [
    "ReportOptions",
    "ReportSummary",
    "atlas_pdf_bytes",
    "benchmark_reports",
    "explainer_pdf_bytes",
    "map_pdf_bytes",
    "render_atlas_pdf",
    "render_explainer_pdf",
    "render_map_pdf",
]
