"""Small helpers shared by the CLI commands."""

from __future__ import annotations

import contextlib
import errno
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import typer

#: Exit codes of every command (README "Exit codes").
EXIT_OK, EXIT_USAGE, EXIT_DIVERGED, EXIT_MISSING_DEPENDENCY = 0, 2, 3, 4
TORCH_HINT = "pip install torch==2.13.0 (the CPU build; see the README for GPUs)"


def require_torch() -> None:
    """Fail with one line naming the install command when torch is not installed."""
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        fail(f"this command trains or evaluates networks and needs torch, which is not installed: {TORCH_HINT}",
             code=EXIT_MISSING_DEPENDENCY)


@contextlib.contextmanager
def json_output(enabled: bool) -> Iterator[Any]:
    """With ``--json``: everything printed inside goes to stderr, and the yielded ``emit(doc)`` writes the one
    JSON document to the real stdout. Without it: nothing changes and ``emit`` prints the document as usual."""
    real = sys.stdout

    def emit(doc: Any) -> None:
        text = to_json(doc)
        if enabled:
            real.write(text + "\n")
            real.flush()
        else:
            typer.echo(text)

    if not enabled:
        yield emit
        return
    with contextlib.redirect_stdout(sys.stderr):
        yield emit


def to_json(doc: Any) -> str:
    """``doc`` as indented JSON; numpy scalars become plain numbers, other objects (paths) strings."""
    return json.dumps(doc, indent=2, default=_plain)


def _plain(obj: Any) -> Any:
    item = getattr(obj, "item", None)
    return item() if callable(item) else str(obj)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``message`` to stderr and exit with ``code`` (no traceback)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=code)


def write_failure(exc: OSError, out: Path) -> str:
    """One line for an ``OSError`` while writing the run directory ``out``: what failed, then the way out."""
    where = f" ({exc.filename})" if exc.filename else ""
    what = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        fix = "free some space"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        fix = f"make {out} writable (or choose another --out)"
    else:
        fix = "fix the cause"
    return (f"cannot write the run directory {out}: {what}{where}; {fix}, then run the same command with --resume: "
            f"it continues exactly from the last complete checkpoint")
