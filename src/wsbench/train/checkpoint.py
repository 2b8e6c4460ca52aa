"""Checkpoints of a training run: ``checkpoints/last.pt`` plus the previous one, ``checkpoints/prev.pt``.

Each file is written atomically (``wsbench.atomic``) with a ``.sha256`` sidecar holding the hex digest of its
bytes. A new checkpoint rotates ``last.pt`` (and its sidecar) to ``prev.pt``, then writes the new sidecar and
then the new ``last.pt``. A process killed at any step of that sequence leaves a folder from which the newest
complete checkpoint is still found, and the next save first settles that state (see ``_rotate``). A file is accepted
when its bytes match the digest in *any* sidecar of the folder (between the two renames of a rotation
``prev.pt`` already holds the newest data while its digest is still in ``last.pt.sha256``); ``last.pt`` is
preferred and ``prev.pt`` is the fallback when ``last.pt`` is missing, has no matching digest or is corrupt.
Files are read with ``torch.load(weights_only=True)``, so a checkpoint may hold only tensors and plain python
values (the numpy generator state is a plain dict of ints).
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from pathlib import Path
from typing import Any

import torch

from wsbench import atomic
from wsbench.atomic import write_bytes, write_text

LAST = "last.pt"
PREV = "prev.pt"
DIGEST_SUFFIX = ".sha256"


class CheckpointError(ValueError):
    """No usable checkpoint could be read."""


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + DIGEST_SUFFIX)


def _remove_stale_temporaries(folder: Path) -> None:
    """Temporary files of a write that was killed before its rename (``.last.pt.<random>.tmp``)."""
    for name in (LAST, _sidecar(Path(LAST)).name):
        for stale in folder.glob(f".{name}.*.tmp"):
            stale.unlink(missing_ok=True)


def _sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _recorded(side: Path) -> str | None:
    try:
        return side.read_text(encoding="ascii").strip().lower() or None
    except (OSError, UnicodeDecodeError):
        return None


def _rotate(folder: Path) -> None:
    """Move a verified ``last.pt`` to ``prev.pt``; first settle what a killed earlier save left behind.

    * ``last.pt`` without a matching digest (killed before its sidecar was written, or damaged) is removed
      instead of rotated, so that it never replaces a verified ``prev.pt``;
    * a ``last.pt.sha256`` without ``last.pt`` (killed between the two renames of a rotation) is the digest of
      ``prev.pt`` and completes that rotation (or is removed when it matches nothing).
    """
    last, prev = folder / LAST, folder / PREV
    if last.exists():
        digest = _recorded(_sidecar(last))
        if digest is not None and _sha256(last) == digest:
            os.replace(last, prev)
            atomic.fault_point("checkpoint:rotated-file")
            os.replace(_sidecar(last), _sidecar(prev))
            atomic.fault_point("checkpoint:rotated-digest")
            return
        last.unlink()
        atomic.fault_point("checkpoint:dropped-unverified")
    side = _sidecar(last)
    if side.exists():
        digest = _recorded(side)
        if prev.exists() and digest is not None and _sha256(prev) == digest:
            os.replace(side, _sidecar(prev))
        else:
            side.unlink()
        atomic.fault_point("checkpoint:settled-digest")


def save_checkpoint(folder: str | os.PathLike[str], state: dict[str, Any]) -> Path:
    """Write ``state`` as ``folder/last.pt`` (atomically, with digest), keeping the former one as ``prev.pt``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(folder)
    buf = io.BytesIO()
    torch.save(state, buf)
    data = buf.getvalue()
    atomic.fault_point("checkpoint:serialised")
    _rotate(folder)
    last = folder / LAST
    # the digest goes first: a last.pt on disk always has its digest beside it, so a kill between the two
    # writes leaves only a digest without data (ignored), never data that cannot be verified
    write_text(_sidecar(last), hashlib.sha256(data).hexdigest() + "\n")
    write_bytes(last, data)
    return last


def _digests(folder: Path) -> dict[str, str]:
    """The digests recorded in the folder's sidecars: hex digest -> sidecar name."""
    out: dict[str, str] = {}
    for name in (LAST, PREV):
        side = _sidecar(folder / name)
        text = _recorded(side)
        if text is not None and len(text) == 64:
            out.setdefault(text, side.name)
    return out


def _read_verified(path: Path, digests: dict[str, str]) -> dict[str, Any]:
    data = path.read_bytes()
    if not digests:
        raise CheckpointError(f"checkpoint {path} has no digest file {_sidecar(path).name}")
    if hashlib.sha256(data).hexdigest() not in digests:
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
    digests = _digests(folder)
    errors = []
    for name in (LAST, PREV):
        path = folder / name
        if not path.exists():
            continue
        try:
            state = _read_verified(path, digests)
        except (CheckpointError, OSError) as exc:
            errors.append(str(exc))
            continue
        if errors:
            warnings.warn(f"using the previous checkpoint {path}: " + "; ".join(errors), stacklevel=2)
        return state
    detail = "; ".join(errors) if errors else "no last.pt or prev.pt"
    raise CheckpointError(f"no usable checkpoint in {folder} ({detail}); to train the run again from scratch, "
                          f"delete {folder} and start it without --resume")
