"""The report as data: a title, sections, and typed blocks that both the HTML and the Markdown writers render.

Blocks: ``Text`` (a paragraph), ``Alert`` (a prominent warning or note), ``Table`` (headers and text cells),
``Figure`` (a PNG file and its caption), ``Code`` (preformatted text, optionally collapsible).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd


@dataclass(frozen=True)
class Text:
    """A paragraph of plain text."""

    text: str


@dataclass(frozen=True)
class Alert:
    """A prominent message: ``level`` ``"danger"`` (e.g. a diverged run), ``"warning"`` or ``"info"``."""

    text: str
    level: Literal["danger", "warning", "info"] = "warning"


@dataclass(frozen=True)
class Table:
    """A table of text cells (``rows`` are sequences as long as ``headers``)."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str = ""

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, caption: str = "", digits: int = 3, index: bool = False) -> Table:
        """A table from a data frame; floats are printed with ``digits`` decimals, NaN as ``-``."""
        body = frame.reset_index() if index else frame
        rows = tuple(tuple(fmt(v, digits) for v in rec) for rec in body.itertuples(index=False, name=None))
        return cls(tuple(str(c) for c in body.columns), rows, caption)


@dataclass(frozen=True)
class Figure:
    """A PNG figure on disk with a caption."""

    path: Path
    caption: str = ""


@dataclass(frozen=True)
class Code:
    """Preformatted text; ``summary`` makes it a collapsible block with that label."""

    text: str
    summary: str = ""


Block = Text | Alert | Table | Figure | Code


@dataclass
class Section:
    """A titled part of the report; ``anchor`` is its HTML id (unique within a report)."""

    anchor: str
    title: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Document:
    """A whole report."""

    title: str
    subtitle: str = ""
    sections: list[Section] = field(default_factory=list)


def fmt(value: Any, digits: int = 3) -> str:
    """A cell: floats with ``digits`` decimals (``-`` for NaN/None), everything else ``str``."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) or (hasattr(value, "dtype") and getattr(value.dtype, "kind", "") == "f"):
        v = float(value)
        return "-" if not math.isfinite(v) else f"{v:.{digits}f}"
    return str(value)


def rows_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], caption: str = "", digits: int = 3) -> Table:
    """A ``Table`` from python rows (cells formatted with ``fmt``)."""
    return Table(tuple(headers), tuple(tuple(fmt(c, digits) for c in r) for r in rows), caption)
