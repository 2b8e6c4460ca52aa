"""In-memory image datasets as numpy arrays, and their pickle-free npz cache.

A cached dataset is one ``.npz`` file (written atomically, read with ``allow_pickle=False``) holding
``train_x``/``test_x`` (uint8, N x C x H x W), ``train_y``/``test_y`` (int64), ``classes`` (unicode array) and
``meta`` (a JSON string with the provenance: source file name, its sha256, the reader and the format version).
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from wsbench.atomic import atomic_path
from wsbench.data.errors import DatasetError

CACHE_FORMAT = 1
_KEYS = ("train_x", "train_y", "test_x", "test_y", "classes", "meta")


@dataclass
class ImageArrays:
    """A labelled image dataset: uint8 NCHW images and int64 labels, with an optional official test set."""

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray | None
    test_y: np.ndarray | None
    classes: tuple[str, ...]
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check dtypes, ranks and that images and labels agree; raise :class:`DatasetError` otherwise."""
        pairs = [("train", self.train_x, self.train_y)]
        if self.test_x is not None or self.test_y is not None:
            pairs.append(("test", self.test_x, self.test_y))
        for name, x, y in pairs:
            if x is None or y is None:
                raise DatasetError(f"{name} split has images without labels or labels without images")
            if x.dtype != np.uint8 or x.ndim != 4:
                raise DatasetError(f"{name} images must be uint8 N x C x H x W, got {x.dtype} with shape {x.shape}")
            if y.ndim != 1 or len(y) != len(x):
                raise DatasetError(f"{name} labels have shape {y.shape} for {len(x)} images")
            if len(y) and (int(y.min()) < 0 or int(y.max()) >= len(self.classes)):
                raise DatasetError(f"{name} labels must lie in 0..{len(self.classes) - 1}")
        if self.test_x is not None and self.test_x.shape[1:] != self.train_x.shape[1:]:
            raise DatasetError(f"test images are {self.test_x.shape[1:]} but train images {self.train_x.shape[1:]}")

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.classes)


def save_npz(arrays: ImageArrays, target: Path) -> Path:
    """Atomically write ``arrays`` to ``target`` (uncompressed npz, no pickled objects)."""
    meta = dict(arrays.meta, cache_format=CACHE_FORMAT)
    empty = np.zeros((0,) + arrays.train_x.shape[1:], np.uint8)
    with atomic_path(target) as tmp, open(tmp, "wb") as fh:
        np.savez(
            fh,
            train_x=arrays.train_x,
            train_y=arrays.train_y.astype(np.int64),
            test_x=arrays.test_x if arrays.test_x is not None else empty,
            test_y=(arrays.test_y if arrays.test_y is not None else np.zeros(0)).astype(np.int64),
            classes=np.array(arrays.classes, dtype=np.str_),
            meta=np.array(json.dumps(meta, sort_keys=True), dtype=np.str_),
        )
    return target


def load_npz(path: Path, reimport_hint: str) -> ImageArrays:
    """Read a cache written by :func:`save_npz`; a damaged file raises :class:`DatasetError` with ``reimport_hint``."""
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in _KEYS if k not in z.files]
            if missing:
                raise DatasetError(f"{path} lacks the arrays {missing}; {reimport_hint}")
            data = {k: z[k] for k in _KEYS}
    except DatasetError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise DatasetError(f"{path} is damaged or truncated ({type(exc).__name__}: {exc}); {reimport_hint}") from None
    meta = json.loads(str(data["meta"]))
    if meta.get("cache_format") != CACHE_FORMAT:
        raise DatasetError(f"{path} has cache format {meta.get('cache_format')}, expected {CACHE_FORMAT}; "
                           f"{reimport_hint}")
    has_test = len(data["test_x"]) > 0
    return ImageArrays(
        train_x=data["train_x"],
        train_y=data["train_y"],
        test_x=data["test_x"] if has_test else None,
        test_y=data["test_y"] if has_test else None,
        classes=tuple(str(c) for c in data["classes"]),
        meta=meta,
    )
