"""Atomic file writes: write to a temporary file in the same folder, fsync, then rename.

A reader never sees a half-written file, and a crash leaves the previous version intact.

``fault_point(label)`` marks one step of a multi-step write (here and in ``wsbench.train``); it does nothing
unless a hook is installed with ``set_fault_hook``, which the fault-injection tests use to kill the process at
exactly that step.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

_fault_hook: Callable[[str], None] | None = None


def set_fault_hook(hook: Callable[[str], None] | None) -> Callable[[str], None] | None:
    """Install ``hook(label)``, called at every ``fault_point``; returns the previous hook (None: none)."""
    global _fault_hook
    previous, _fault_hook = _fault_hook, hook
    return previous


def fault_point(label: str) -> None:
    """One step of a write has completed (``label`` names it); a no-op without a hook."""
    if _fault_hook is not None:
        _fault_hook(label)


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (a no-op where directories cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to ``target``; on success it replaces ``target`` atomically."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix + ".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp creates 0600; give the file the usual permissions
    try:
        yield tmp_path
        fault_point(f"write:{target.name}:written")
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        fault_point(f"write:{target.name}:synced")
        os.replace(tmp_path, target)
        _fsync_dir(target.parent)
        fault_point(f"write:{target.name}:replaced")
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes(target: str | os.PathLike[str], data: bytes) -> None:
    """Atomically write ``data`` to ``target``."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text(target: str | os.PathLike[str], text: str) -> None:
    """Atomically write ``text`` (UTF-8) to ``target``."""
    write_bytes(target, text.encode("utf-8"))


def write_json(target: str | os.PathLike[str], obj: Any, indent: int = 2) -> None:
    """Atomically write ``obj`` as JSON to ``target``."""
    write_text(target, json.dumps(obj, indent=indent, sort_keys=False, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
    try:
        import numpy as np

        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
