"""Build the report of a run, study or search directory: ``report.html`` (self-contained) and ``report.md``.

``build_report(path)`` recognises the directory (``detect_kind``), assembles the ``Document`` and writes the HTML
page and, next to it, the Markdown summary; the figures are also kept as PNG files in ``<stem>_files/`` beside
them, where the Markdown links them. ``write_report`` writes any ``Document`` (for other modules' reports).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from wsbench.report.document import Document
from wsbench.report.html import write_html
from wsbench.report.markdown import write_markdown
from wsbench.report.rundata import RUN_MARKERS, ReportError
from wsbench.report.search import is_search_dir
from wsbench.report.study import is_study_dir

Kind = Literal["run", "study", "search"]


@dataclass(frozen=True)
class ReportResult:
    """What ``build_report`` wrote."""

    kind: Kind
    html: Path
    markdown: Path
    assets: Path
    document: Document


def detect_kind(path: str | Path) -> Kind:
    """``"study"`` (results.sqlite), ``"search"`` (curves.csv + summary.json) or ``"run"`` (config.yaml,
    metrics.jsonl or status.json); ``ReportError`` for anything else."""
    path = Path(path)
    if not path.is_dir():
        raise ReportError(f"{path} is not a directory; pass a run, study or search output directory")
    if is_study_dir(path):
        return "study"
    if is_search_dir(path):
        return "search"
    if any((path / m).exists() for m in RUN_MARKERS):
        return "run"
    raise ReportError(f"{path} is neither a run directory ({', '.join(RUN_MARKERS)}), a study directory "
                      f"(results.sqlite) nor a search output (curves.csv + summary.json)")


def assets_dir(html_path: str | Path) -> Path:
    """The folder beside ``html_path`` that keeps the figures as PNG files: ``<stem>_files``."""
    html_path = Path(html_path)
    return html_path.parent / f"{html_path.stem}_files"


def write_report(doc: Document, html_path: str | Path, markdown_path: str | Path | None = None) -> tuple[Path, Path]:
    """Write ``doc`` as a self-contained HTML page and as Markdown (default: same name with ``.md``)."""
    html_path = Path(html_path)
    md_path = Path(markdown_path) if markdown_path is not None else html_path.with_suffix(".md")
    return write_html(doc, html_path), write_markdown(doc, md_path)


def build_report(path: str | Path, out: str | Path | None = None, color_by: str | None = None,
                 data_dir: str | Path | None = None, coverage_paths: int = 10_000, seed: int = 0,
                 n_resamples: int = 1000) -> ReportResult:
    """Report on the directory ``path``; writes ``out`` (default ``path/report.html``) and the ``.md`` beside it.

    ``color_by`` colours the bias scatter of a run (see ``wsbench.report.properties``); ``data_dir`` locates the
    ground-truth tables (FLOPs baseline, sampler coverage); ``coverage_paths`` paths per sampler are drawn for
    the coverage figure (0 disables it); ``seed`` drives the samplers and the bootstrap; ``n_resamples`` is the
    number of bootstrap resamples of the correlation intervals.
    """
    path = Path(path)
    kind = detect_kind(path)
    html_path = Path(out) if out is not None else path / "report.html"
    if html_path.suffix.lower() not in (".html", ".htm"):
        raise ReportError(f"--out {html_path} must end in .html (the Markdown summary is written beside it)")
    assets = assets_dir(html_path)
    if kind == "study":
        from wsbench.report.study import study_document

        doc = study_document(path, assets)
    elif kind == "search":
        from wsbench.report.search import search_document

        doc = search_document(path, assets)
    else:
        from wsbench.report.run import run_document

        doc = run_document(path, assets, color_by=color_by, data_dir=Path(data_dir) if data_dir else None,
                           coverage_paths=coverage_paths, seed=seed, n_resamples=n_resamples)
    html, md = write_report(doc, html_path)
    return ReportResult(kind, html, md, assets, doc)
