"""A Markdown summary from a ``Document``: the same sections and tables, figures linked by relative path."""

from __future__ import annotations

import os
from pathlib import Path

from wsbench.atomic import write_text
from wsbench.report.document import Alert, Block, Code, Document, Figure, Table, Text

_ALERT_LABEL = {"danger": "WARNING", "warning": "Note", "info": "Info"}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def md_table(t: Table) -> str:
    """A GitHub-flavoured Markdown table (pipes in cells escaped)."""
    lines = []
    if t.caption:
        lines += [f"*{t.caption}*", ""]
    lines.append("| " + " | ".join(_cell(h) for h in t.headers) + " |")
    lines.append("|" + "|".join(" --- " for _ in t.headers) + "|")
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in t.rows]
    return "\n".join(lines)


def render_block(block: Block, base: Path | None = None) -> str:
    """Markdown of one block; figure paths are written relative to ``base`` (the Markdown file's folder)."""
    if isinstance(block, Text):
        return block.text
    if isinstance(block, Alert):
        return f"> **{_ALERT_LABEL[block.level]}:** {block.text}"
    if isinstance(block, Table):
        return md_table(block)
    if isinstance(block, Figure):
        target = Path(os.path.relpath(block.path, base)) if base is not None else block.path
        return f"![{block.caption or block.path.stem}]({target.as_posix()})"
    if isinstance(block, Code):
        fence = "```"
        text = f"{fence}\n{block.text.rstrip()}\n{fence}"
        return f"<details><summary>{block.summary}</summary>\n\n{text}\n\n</details>" if block.summary else text
    raise TypeError(f"unknown report block {type(block).__name__}")


def render_markdown(doc: Document, base: Path | None = None) -> str:
    """The whole document as Markdown."""
    parts = [f"# {doc.title}"]
    if doc.subtitle:
        parts.append(doc.subtitle)
    for section in doc.sections:
        parts.append(f"## {section.title}")
        parts += [render_block(b, base) for b in section.blocks]
    return "\n\n".join(parts) + "\n"


def write_markdown(doc: Document, path: str | Path) -> Path:
    """Write ``render_markdown`` atomically to ``path`` (figure links relative to its folder)."""
    path = Path(path)
    write_text(path, render_markdown(doc, path.parent.resolve()))
    return path
