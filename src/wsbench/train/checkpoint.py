"""Checkpoints of a training run: ``checkpoints/last.pt`` plus the previous one, ``checkpoints/prev.pt``.

Each file is written atomically (``wsbench.atomic``) with a ``.sha256`` sidecar holding the hex digest of its
bytes. Loading verifies the digest and falls back to ``prev.pt`` when ``last.pt`` is missing or corrupt (for
example after a crash in the middle of a rotation). Files are read with ``torch.load(weights_only=True)``, so a
checkpoint may hold only tensors and plain python values (the numpy generator state is a plain dict of ints).
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from pathlib import Path
from typing import Any

import torch

from wsbench.atomic import write_bytes, write_text

LAST = "last.pt"
PREV = "prev.pt"


class CheckpointError(ValueError):
    """No usable checkpoint could be read."""


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def save_checkpoint(folder: str | os.PathLike[str], state: dict[str, Any]) -> Path:
    """Write ``state`` as ``folder/last.pt`` (atomically, with digest), keeping the former one as ``prev.pt``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    torch.save(state, buf)
    data = buf.getvalue()
    last, prev = folder / LAST, folder / PREV
    if last.exists():
        os.replace(last, prev)
        if _sidecar(last).exists():
            os.replace(_sidecar(last), _sidecar(prev))
    write_bytes(last, data)
    write_text(_sidecar(last), hashlib.sha256(data).hexdigest() + "\n")
    return last


def _read_verified(path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    side = _sidecar(path)
    if not side.exists():
        raise CheckpointError(f"checkpoint {path} has no digest file {side.name}")
    expected = side.read_text().strip()
    if hashlib.sha256(data).hexdigest() != expected:
        raise CheckpointError(f"checkpoint {path} does not match its sha256 digest (truncated or corrupt)")
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means an unusable file
        raise CheckpointError(f"checkpoint {path} cannot be read ({exc})") from exc


def has_checkpoint(folder: str | os.PathLike[str]) -> bool:
    """Whether ``folder`` holds a checkpoint file (usable or not)."""
    folder = Path(folder)
    return (folder / LAST).exists() or (folder / PREV).exists()


def load_checkpoint(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The newest verified checkpoint in ``folder`` (``last.pt``, else ``prev.pt``), loaded on the CPU."""
    folder = Path(folder)
    errors = []
    for name in (LAST, PREV):
        path = folder / name
        if not path.exists():
            continue
        try:
            state = _read_verified(path)
        except CheckpointError as exc:
            errors.append(str(exc))
            continue
        if errors:
            warnings.warn(f"using the previous checkpoint {path}: " + "; ".join(errors), stacklevel=2)
        return state
    detail = "; ".join(errors) if errors else "no last.pt or prev.pt"
    raise CheckpointError(f"no usable checkpoint in {folder} ({detail}); start the run again without resume")
