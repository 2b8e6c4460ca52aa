"""Reader for an image-folder dataset: ``train/<class>/*.jpg|png`` and ``test/<class>/*``, as a folder or a tar.

Class order is the alphabetical order of the class folder names (for CIFAR-10 that is the standard label order).
Any leading folders before ``train/``/``test/`` are ignored, so ``CIFAR-10-images/train/cat/0001.jpg`` works too.
Images are decoded once with Pillow (converted to RGB), in a sorted, deterministic order. Decoding 60,000 32 x 32
JPEGs takes a few seconds in one process; ``workers > 1`` spreads it over processes.
"""

from __future__ import annotations

import hashlib
import io
import multiprocessing
import tarfile
import zlib
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from wsbench.data.arrays import ImageArrays
from wsbench.data.errors import DatasetError, DatasetMissingError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
SPLITS = ("train", "test")
_CHUNK = 2000

# (split, class, file name) -> encoded bytes
_Entries = dict[tuple[str, str, str], bytes]


def _key_of(relpath: str) -> tuple[str, str, str] | None:
    parts = [p for p in relpath.replace("\\", "/").split("/") if p not in ("", ".")]
    if len(parts) < 3 or parts[-3] not in SPLITS or parts[-1].startswith("."):
        return None
    if not parts[-1].lower().endswith(IMAGE_SUFFIXES):
        return None
    return parts[-3], parts[-2], parts[-1]


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _read_tar(path: Path) -> _Entries:
    entries: _Entries = {}
    try:
        with tarfile.open(path, "r:*") as tf:
            for member in tf:
                key = _key_of(member.name) if member.isfile() else None
                if key is None:
                    continue
                fh = tf.extractfile(member)
                if fh is None:
                    continue
                entries[key] = fh.read()
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise DatasetError(
            f"{path} is not a readable tar archive of train/<class>/<image> files "
            f"({type(exc).__name__}: {exc}); the file may be truncated - copy it again"
        ) from None
    return entries


def _read_folder(path: Path) -> tuple[_Entries, str]:
    entries: _Entries = {}
    h = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        rel = file.relative_to(path).as_posix()
        key = _key_of(rel)
        if key is None:
            continue
        data = file.read_bytes()
        entries[key] = data
        h.update(rel.encode() + b"\0" + hashlib.sha256(data).digest())
    return entries, h.hexdigest()


def _decode_chunk(args: tuple[list[bytes], list[str], int | None]) -> np.ndarray:
    """Decode encoded images to an N x H x W x 3 uint8 array (all must have the same size)."""
    from PIL import Image, UnidentifiedImageError

    blobs, names, side = args
    out: np.ndarray | None = None
    for i, (blob, name) in enumerate(zip(blobs, names, strict=True)):
        try:
            with Image.open(io.BytesIO(blob), formats=("JPEG", "PNG")) as im:
                rgb = im if im.mode == "RGB" else im.convert("RGB")
                arr = np.asarray(rgb)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise DatasetError(f"image {name} cannot be decoded ({type(exc).__name__}: {exc})") from None
        if side is not None and arr.shape[:2] != (side, side):
            raise DatasetError(f"image {name} is {arr.shape[1]}x{arr.shape[0]} pixels, expected {side}x{side}")
        if out is None:
            out = np.empty((len(blobs),) + arr.shape, np.uint8)
        elif arr.shape != out.shape[1:]:
            raise DatasetError(f"image {name} has shape {arr.shape}, other images {out.shape[1:]}")
        out[i] = arr
    return out if out is not None else np.zeros((0, side or 0, side or 0, 3), np.uint8)


def _decode_all(blobs: list[bytes], names: list[str], side: int | None, workers: int) -> np.ndarray:
    chunks = [(blobs[i:i + _CHUNK], names[i:i + _CHUNK], side) for i in range(0, len(blobs), _CHUNK)]
    if workers > 1 and len(chunks) > 1:
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            parts = list(pool.map(_decode_chunk, chunks))
    else:
        parts = [_decode_chunk(c) for c in chunks]
    if not parts:
        return np.zeros((0, side or 0, side or 0, 3), np.uint8)
    if len({p.shape[1:] for p in parts}) != 1:
        raise DatasetError(f"images have differing sizes {sorted({p.shape[1:] for p in parts})}")
    return np.concatenate(parts)


def read_image_tree(
    source: str | Path,
    *,
    expected_classes: Sequence[str] | None = None,
    expected_counts: tuple[int, int] | None = None,
    side: int | None = 32,
    workers: int = 1,
) -> ImageArrays:
    """Read a ``train/<class>/*`` + ``test/<class>/*`` tree from a folder or a (gzipped) tar archive.

    ``expected_classes``: the class names the tree must have (sorted order = label order).
    ``expected_counts``: (train images, test images) required; ``side``: required image side in pixels (None:
    any size, but all equal). Returns uint8 NCHW RGB arrays; ``meta`` records the source name and its sha256
    (for a folder: a hash over the sorted relative paths and file contents).
    """
    path = Path(source)
    if not path.exists():
        raise DatasetMissingError(f"image tree {path} does not exist (expected a folder or tar of train/<class>/...)")
    if path.is_dir():
        entries, digest = _read_folder(path)
    else:
        entries = _read_tar(path)
        digest = _sha256_file(path)
    train_classes = sorted({c for s, c, _ in entries if s == "train"})
    test_classes = sorted({c for s, c, _ in entries if s == "test"})
    if not train_classes:
        raise DatasetError(f"{path} holds no train/<class>/<image>.jpg|png files")
    if test_classes and test_classes != train_classes:
        raise DatasetError(f"{path}: test classes {test_classes} differ from train classes {train_classes}")
    if expected_classes is not None and train_classes != sorted(expected_classes):
        raise DatasetError(f"{path}: class folders {train_classes}, expected {sorted(expected_classes)}")
    label = {c: i for i, c in enumerate(train_classes)}
    result: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for split in SPLITS:
        keys = sorted(k for k in entries if k[0] == split)
        names = [f"{path.name}:{'/'.join(k)}" for k in keys]
        x = _decode_all([entries[k] for k in keys], names, side, workers)
        y = np.array([label[k[1]] for k in keys], dtype=np.int64)
        result[split] = (np.ascontiguousarray(x.transpose(0, 3, 1, 2)), y)
    counts = (len(result["train"][1]), len(result["test"][1]))
    if expected_counts is not None and counts != tuple(expected_counts):
        raise DatasetError(f"{path} holds {counts[0]} train and {counts[1]} test images, "
                           f"expected {expected_counts[0]} and {expected_counts[1]}; the archive may be incomplete")
    meta: dict[str, Any] = {"source": path.name, "sha256": digest, "reader": "image_tree",
                            "counts": list(counts)}
    has_test = counts[1] > 0
    return ImageArrays(
        train_x=result["train"][0], train_y=result["train"][1],
        test_x=result["test"][0] if has_test else None, test_y=result["test"][1] if has_test else None,
        classes=tuple(train_classes), meta=meta,
    )
