"""CIFAR-10: read the official python tarball or an image tree, cache it as npz, load the cache.

Accepted sources (``import_cifar10(path, data_dir)``; ``path`` may also be a folder that contains one of them,
such as ``../shared/data``):

* the official ``cifar-10-python.tar.gz`` (md5 ``c58f30108f718f92721af3b95e74349a``) or its extracted
  ``cifar-10-batches-py/`` folder. Each batch is a pickled dict; it is read with the restricted unpickler of
  :mod:`wsbench.safe_pickle`, which refuses every global except three numpy names that it maps to inert
  stand-ins, so no code from the file can run;
* an image tree ``train/<class>/*.jpg|png`` + ``test/<class>/*`` as a folder or (gzipped) tar, e.g.
  ``cifar10/cifar10_jpeg_tree.tar.gz``.

Both are checked (10 classes in the standard order, 50,000 + 10,000 images, 32 x 32 RGB) and written to
``datasets_dir(data_dir)/cifar10.npz`` (uint8 NCHW, int64 labels, provenance with the source's sha256).
"""

from __future__ import annotations

import hashlib
import tarfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from wsbench.data.arrays import ImageArrays, load_npz, save_npz
from wsbench.data.errors import DatasetError, DatasetMissingError, UnsafeDatasetError
from wsbench.data.imagetree import read_image_tree
from wsbench.datadir import datasets_dir, resolve_data_dir
from wsbench.safe_pickle import PickleFormatError, UnsafePickleError, safe_loads

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CIFAR10_COUNTS = (50_000, 10_000)
OFFICIAL_TARBALL = "cifar-10-python.tar.gz"
OFFICIAL_MD5 = "c58f30108f718f92721af3b95e74349a"
OFFICIAL_DIR = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
CACHE_NAME = "cifar10.npz"
TREE_NAMES = ("cifar10_jpeg_tree.tar.gz", "cifar10_jpeg_tree.tar", "cifar10_tree.tar.gz")
IMPORT_HINT = (
    "CIFAR-10 comes from https://www.cs.toronto.edu/~kriz/cifar.html (cifar-10-python.tar.gz) or as the image "
    "tree ../shared/data/cifar10/cifar10_jpeg_tree.tar.gz; import it with `wsbench data import ../shared/data` "
    "(or `wsbench data import /path/to/cifar-10-python.tar.gz`)"
)
_SIDE = 32


def cache_path(data_dir: Path) -> Path:
    """Where the decoded CIFAR-10 arrays live inside a data directory."""
    return datasets_dir(data_dir) / CACHE_NAME


def _hashes(path: Path) -> tuple[str, str]:
    md5, sha = hashlib.md5(), hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            md5.update(block)
            sha.update(block)
    return md5.hexdigest(), sha.hexdigest()


def _parse_batch(blob: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        obj = safe_loads(blob) if isinstance(blob, bytes) else blob
    except UnsafePickleError as exc:
        raise UnsafeDatasetError(f"{where}: {exc}") from None
    except PickleFormatError as exc:
        raise DatasetError(f"{where}: {exc}") from None
    if not isinstance(obj, dict):
        raise DatasetError(f"{where} holds a {type(obj).__name__}, expected a dict with b'data' and b'labels'")
    d: dict[Any, Any] = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}
    if "data" not in d or "labels" not in d:
        raise DatasetError(f"{where} lacks the keys data/labels (has {sorted(map(str, d))})")
    labels = d["labels"]
    if not isinstance(labels, list) or not all(isinstance(v, int) and 0 <= v < 10 for v in labels):
        raise DatasetError(f"{where}: labels must be a list of integers 0..9")
    n = len(labels)
    data = d["data"]
    if isinstance(data, (bytes, bytearray)):
        if len(data) != n * 3 * _SIDE * _SIDE:
            raise DatasetError(f"{where}: data holds {len(data)} bytes, expected {n} x 3072")
        data = np.frombuffer(bytes(data), np.uint8).reshape(n, 3 * _SIDE * _SIDE)
    if not isinstance(data, np.ndarray) or data.shape != (n, 3 * _SIDE * _SIDE):
        shape = getattr(data, "shape", type(data).__name__)
        raise DatasetError(f"{where}: data has shape {shape}, expected ({n}, 3072) for {n} labels")
    # rows are 1024 red, 1024 green, 1024 blue values, each plane row-major: exactly N x 3 x 32 x 32
    return data.reshape(n, 3, _SIDE, _SIDE).copy(), np.asarray(labels, dtype=np.int64)


def _assemble(blobs: dict[str, bytes], where: str, expected_counts: tuple[int, int] | None,
              meta: dict[str, Any]) -> ImageArrays:
    parts = [_parse_batch(blobs[name], f"{where}:{OFFICIAL_DIR}/{name}") for name in TRAIN_BATCHES]
    test_x, test_y = _parse_batch(blobs[TEST_BATCH], f"{where}:{OFFICIAL_DIR}/{TEST_BATCH}")
    train_x = np.concatenate([p[0] for p in parts])
    train_y = np.concatenate([p[1] for p in parts])
    counts = (len(train_y), len(test_y))
    if expected_counts is not None and counts != tuple(expected_counts):
        raise DatasetError(f"{where} holds {counts[0]} train and {counts[1]} test images, expected "
                           f"{expected_counts[0]} and {expected_counts[1]}")
    meta = dict(meta, counts=list(counts))
    return ImageArrays(train_x, train_y, test_x, test_y, CIFAR10_CLASSES, meta)


def read_official_tarball(path: str | Path, *, check_md5: bool = True,
                          expected_counts: tuple[int, int] | None = CIFAR10_COUNTS) -> ImageArrays:
    """Read ``cifar-10-python.tar.gz`` (``check_md5=False`` for test fixtures) into uint8 NCHW arrays."""
    path = Path(path)
    if not path.is_file():
        raise DatasetMissingError(f"{path} does not exist; {IMPORT_HINT}")
    md5, sha = _hashes(path)
    if check_md5 and md5 != OFFICIAL_MD5:
        raise DatasetError(f"{path} has md5 {md5}, expected {OFFICIAL_MD5} for the official {OFFICIAL_TARBALL}; "
                           "the download is corrupt or truncated - download it again")
    wanted = {f"{OFFICIAL_DIR}/{n}": n for n in TRAIN_BATCHES + (TEST_BATCH,)}
    blobs: dict[str, bytes] = {}
    try:
        with tarfile.open(path, "r:*") as tf:
            for member in tf:
                name = wanted.get(member.name.lstrip("./"))
                fh = tf.extractfile(member) if name and member.isfile() else None
                if name and fh is not None:
                    blobs[name] = fh.read()
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise DatasetError(f"{path} is not a readable tar.gz ({type(exc).__name__}: {exc}); "
                           "it may be truncated - download it again") from None
    missing = [f"{OFFICIAL_DIR}/{n}" for n in wanted.values() if n not in blobs]
    if missing:
        raise DatasetError(f"{path} lacks the members {missing} of the official CIFAR-10 python tarball")
    return _assemble(blobs, str(path), expected_counts, {"source": path.name, "sha256": sha, "md5": md5,
                                                         "reader": "official_tarball"})


def read_official_folder(path: str | Path, *,
                         expected_counts: tuple[int, int] | None = CIFAR10_COUNTS) -> ImageArrays:
    """Read an extracted ``cifar-10-batches-py/`` folder (same checks as the tarball, no md5)."""
    path = Path(path)
    blobs: dict[str, bytes] = {}
    sha = hashlib.sha256()
    for name in TRAIN_BATCHES + (TEST_BATCH,):
        file = path / name
        if not file.is_file():
            raise DatasetError(f"{file} is missing from the extracted CIFAR-10 folder {path}")
        blobs[name] = file.read_bytes()
        sha.update(name.encode() + b"\0" + hashlib.sha256(blobs[name]).digest())
    return _assemble(blobs, str(path), expected_counts, {"source": path.name, "sha256": sha.hexdigest(),
                                                         "reader": "official_folder"})


def _is_official_tar(path: Path) -> bool:
    try:
        with tarfile.open(path, "r:*") as tf:
            first = tf.next()
    except (tarfile.TarError, EOFError, zlib.error, OSError):
        return path.name == OFFICIAL_TARBALL  # let the reader report the damage
    return first is not None and first.name.lstrip("./").split("/")[0] == OFFICIAL_DIR


def find_cifar10_source(path: str | Path) -> Path | None:
    """The CIFAR-10 source at ``path``: the path itself if it is one, else one found inside that folder."""
    path = Path(path)
    if path.is_file():
        return path
    if not path.is_dir():
        return None
    if path.name == OFFICIAL_DIR or (path / TRAIN_BATCHES[0]).is_file():
        return path
    if (path / "train").is_dir():
        return path
    for folder in (path, path / "cifar10", path / "cifar-10"):
        for name in (OFFICIAL_TARBALL, OFFICIAL_DIR, *TREE_NAMES):
            if (folder / name).exists():
                return folder / name
    return None


def read_cifar10(path: str | Path, *, check_md5: bool = True,
                 expected_counts: tuple[int, int] | None = CIFAR10_COUNTS, workers: int = 1) -> ImageArrays:
    """Read CIFAR-10 from any accepted source (see the module docstring) and check it."""
    source = find_cifar10_source(path)
    if source is None:
        raise DatasetMissingError(f"no CIFAR-10 source found at {path} (looked for {OFFICIAL_TARBALL}, "
                                  f"{OFFICIAL_DIR}/, {TREE_NAMES[0]} or train/<class>/ folders); {IMPORT_HINT}")
    if source.is_dir():
        if source.name == OFFICIAL_DIR or (source / TRAIN_BATCHES[0]).is_file():
            return read_official_folder(source, expected_counts=expected_counts)
    elif _is_official_tar(source):
        return read_official_tarball(source, check_md5=check_md5, expected_counts=expected_counts)
    arrays = read_image_tree(source, expected_classes=CIFAR10_CLASSES, expected_counts=expected_counts,
                             side=_SIDE, workers=workers)
    arrays.classes = CIFAR10_CLASSES
    return arrays


def import_cifar10(path: str | Path, data_dir: str | Path | None = None, *, check_md5: bool = True,
                   expected_counts: tuple[int, int] | None = CIFAR10_COUNTS, workers: int = 1) -> Path:
    """Read CIFAR-10 from ``path`` (file or folder containing it), check it, and cache it in ``data_dir``.

    Returns the path of the written ``cifar10.npz``. Raises :class:`DatasetMissingError` when ``path`` holds no
    CIFAR-10 source and :class:`DatasetError` when the source is damaged.
    """
    arrays = read_cifar10(path, check_md5=check_md5, expected_counts=expected_counts, workers=workers)
    return save_npz(arrays, cache_path(resolve_data_dir(data_dir, create=True)))


def load_cifar10(data_dir: str | Path | None = None) -> ImageArrays:
    """Load the cached CIFAR-10 arrays; a missing cache raises :class:`DatasetMissingError` saying how to import."""
    root = resolve_data_dir(data_dir)
    target = cache_path(root)
    if not target.is_file():
        raise DatasetMissingError(f"CIFAR-10 is not in the data directory {root} (expected {target}). {IMPORT_HINT}")
    arrays = load_npz(target, f"re-import it: {IMPORT_HINT}")
    if arrays.classes != CIFAR10_CLASSES or arrays.train_x.shape[1:] != (3, _SIDE, _SIDE):
        raise DatasetError(f"{target} does not hold CIFAR-10 (classes {arrays.classes}, image shape "
                           f"{arrays.train_x.shape[1:]}); re-import it: {IMPORT_HINT}")
    return arrays
