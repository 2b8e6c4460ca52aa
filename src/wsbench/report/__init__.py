"""Reports a person reads: a self-contained HTML page and a Markdown summary of a run, study or search.

``build_report(path)`` writes ``path/report.html`` and ``path/report.md``; the figures (bias scatter, ranking
disorder, sampler coverage, metric and training curves, regret curves) live in ``wsbench.plots.figures``;
``write_report(Document, html_path)`` renders any report assembled from ``wsbench.report.document`` blocks.
"""

from wsbench.report.build import ReportResult, build_report, detect_kind, write_report
from wsbench.report.document import Alert, Code, Document, Figure, Section, Table, Text
from wsbench.report.properties import PropertyError, property_values
from wsbench.report.rundata import ReportError

__all__ = [
    "Alert", "Code", "Document", "Figure", "PropertyError", "ReportError", "ReportResult", "Section", "Table",
    "Text", "build_report", "detect_kind", "property_values", "write_report",
]
