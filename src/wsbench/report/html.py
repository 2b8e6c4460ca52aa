"""A self-contained HTML page from a ``Document``: inline CSS, figures embedded as base64 PNG data URIs.

The page loads nothing from outside (no scripts, fonts or style sheets), so it can be mailed, archived or opened
offline. All text is HTML-escaped.
"""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path

from wsbench.atomic import write_text
from wsbench.report.document import Alert, Block, Code, Document, Figure, Section, Table, Text

CSS = """
:root { --fg: #1d2330; --muted: #5b6475; --line: #d9dee7; --bg: #ffffff; --panel: #f5f7fa; }
* { box-sizing: border-box; }
body { margin: 0; padding: 0 24px 48px; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: var(--fg); background: var(--bg); }
main { max-width: 1080px; margin: 0 auto; }
header { padding: 24px 0 8px; border-bottom: 2px solid var(--line); margin-bottom: 8px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 32px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
.subtitle { color: var(--muted); margin: 0; }
nav { font-size: 13px; color: var(--muted); margin: 8px 0 0; }
nav a { color: #2357b5; text-decoration: none; margin-right: 12px; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13.5px; }
caption { caption-side: top; text-align: left; color: var(--muted); padding-bottom: 4px; }
th, td { border: 1px solid var(--line); padding: 4px 10px; text-align: right; white-space: nowrap; }
th { background: var(--panel); font-weight: 600; }
td:first-child, th:first-child { text-align: left; }
figure { margin: 12px 0 20px; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 4px; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 4px; max-width: 900px; }
pre { background: var(--panel); border: 1px solid var(--line); border-radius: 4px; padding: 10px 12px;
      overflow-x: auto; font-size: 12.5px; line-height: 1.4; }
details summary { cursor: pointer; color: #2357b5; margin: 6px 0; }
.alert { border-radius: 6px; padding: 12px 16px; margin: 12px 0; border: 1px solid; }
.alert.danger { background: #fde8e8; border-color: #e0a0a0; color: #8a1c1c; font-weight: 600; font-size: 16px; }
.alert.warning { background: #fff6e0; border-color: #e8cf8c; color: #6b4e00; }
.alert.info { background: #e8f1fd; border-color: #a9c3ea; color: #1f4475; }
"""


def image_data_uri(path: str | Path) -> str:
    """``data:image/png;base64,...`` of a PNG file (checked by its signature)."""
    data = Path(path).read_bytes()
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise ValueError(f"{path} is not a PNG file; report figures must be PNG")
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _table(t: Table) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in t.headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in t.rows)
    cap = f"<caption>{escape(t.caption)}</caption>" if t.caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_block(block: Block) -> str:
    """HTML of one block."""
    if isinstance(block, Text):
        return f"<p>{escape(block.text)}</p>"
    if isinstance(block, Alert):
        return f'<div class="alert {escape(block.level)}" role="alert">{escape(block.text)}</div>'
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Figure):
        cap = f"<figcaption>{escape(block.caption)}</figcaption>" if block.caption else ""
        alt = escape(block.caption or block.path.stem, quote=True)
        return f'<figure><img src="{image_data_uri(block.path)}" alt="{alt}">{cap}</figure>'
    if isinstance(block, Code):
        pre = f"<pre>{escape(block.text)}</pre>"
        return f"<details><summary>{escape(block.summary)}</summary>{pre}</details>" if block.summary else pre
    raise TypeError(f"unknown report block {type(block).__name__}")


def render_section(section: Section) -> str:
    """HTML of one section (``<section id=anchor>`` with its ``<h2>``)."""
    inner = "\n".join(render_block(b) for b in section.blocks)
    return f'<section id="{escape(section.anchor, quote=True)}">\n<h2>{escape(section.title)}</h2>\n{inner}\n</section>'


def render_html(doc: Document) -> str:
    """The whole page as one string."""
    nav = " ".join(f'<a href="#{escape(s.anchor, quote=True)}">{escape(s.title)}</a>' for s in doc.sections)
    sub = f'<p class="subtitle">{escape(doc.subtitle)}</p>' if doc.subtitle else ""
    body = "\n".join(render_section(s) for s in doc.sections)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{escape(doc.title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
            f"<header><h1>{escape(doc.title)}</h1>{sub}<nav>{nav}</nav></header>\n{body}\n</main>\n</body>\n</html>\n")


def write_html(doc: Document, path: str | Path) -> Path:
    """Write ``render_html(doc)`` atomically to ``path``."""
    path = Path(path)
    write_text(path, render_html(doc))
    return path
