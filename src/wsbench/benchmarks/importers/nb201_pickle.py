"""Official NAS-Bench-201 / NATS-Bench topology files (pickles) into the safe ``nb201`` table.

These files can only be unpickled: they are read only when the caller passes ``allow_pickle=True`` (CLI:
``--allow-pickle``) and converted once. Each file is first read with a restricted unpickler that builds only
the containers and numbers these files hold (``wsbench.safe_pickle.load_plain``; ``torch.load(weights_only=
True)`` for ``.pth``), so no code from the file runs. Only when that refuses a class or function the file
references is it unpickled fully, which executes code from the file, with a warning.

Accepted files and the structure expected after unpickling:

* ``NAS-Bench-201-v1_[01]-*.pth`` (``torch.save``) and ``NATS-tss-v1_0-*.pickle.pbz2`` (bz2 pickle)::

      {"meta_archs": [arch_str, ...],                 # index order, 15,625 strings
       "arch2infos": {index: {HP: ARCH, ...}, ...},   # HP: "full"/"less" (v1) or "200"/"12" (NATS)
       "evaluated_indexes": [...], "total_archs": 15625}

* ``NATS-tss-v1_0-*-simple/`` (folder): ``meta.pickle.pbz2`` = ``{"meta_archs": [...], ...}`` and one
  ``<index:06d>.pickle.pbz2`` (or ``<index>.pickle.pbz2``) per architecture = ``{HP: ARCH, ...}``.

``ARCH`` (an ``ArchResults`` state dict) = ``{"all_results": {(dataset, seed): RESULT}, ...}`` and ``RESULT`` (a
``ResultsCount`` state dict) = ``{"eval_acc1es": {"<set>@<epoch index>": accuracy %, ...}, "epochs": 200, ...}``.
Objects with a ``__dict__`` are accepted in place of dicts. The conversion keeps the 200-epoch test accuracy
averaged over seeds: CIFAR-10 (``cifar10``, set ``ori-test``), CIFAR-100 (``cifar100``, ``x-test``) and
ImageNet16-120 (``ImageNet16-120``, ``x-test``), as the columns ``*_test_200ep``.
"""

from __future__ import annotations

import bz2
import pickle
import sys
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from wsbench.benchmarks.importers.common import check_percent, fail, merge_into, source_entry
from wsbench.benchmarks.importers.nb201_csv import COLUMNS, N_ARCHS, TABLE, check_arch_strings
from wsbench.benchmarks.table import GroundTruth, TableError

HP_200 = ("full", "200", 200)
#: column -> (dataset, evaluation set)
TARGETS = {"cifar10_test_200ep": ("cifar10", "ori-test"), "cifar100_test_200ep": ("cifar100", "x-test"),
           "imagenet16_test_200ep": ("ImageNet16-120", "x-test")}


class PickleRefused(TableError):
    """A file that can only be unpickled was given without ``allow_pickle``."""


class PickleWarning(UserWarning):
    """Unpickling a benchmark file executes code from it."""


def refuse(path: Path) -> PickleRefused:
    """The error for a pickle-based file without ``allow_pickle``."""
    return PickleRefused(
        f"{path}: this official file can only be read by unpickling it, which executes code stored in the file; "
        f"if you trust its source, import it with `wsbench data import {path} --allow-pickle` "
        f"(python: import_path(..., allow_pickle=True)); it is converted once into a safe table")


def _warn(path: Path, why: str) -> None:
    msg = (f"unpickling {path} fully ({why}): this executes code from the file; only do this with files from a "
           f"trusted source")
    warnings.warn(msg, PickleWarning, stacklevel=3)
    print(f"warning: {msg}", file=sys.stderr)


def _as_dict(obj: Any, where: str, path: Path) -> Mapping[Any, Any]:
    if isinstance(obj, Mapping):
        return obj
    if hasattr(obj, "__dict__"):
        return vars(obj)
    raise fail(path, f"{where} is a {type(obj).__name__}, expected a dict")


def _get(obj: Mapping[Any, Any], key: Any, where: str, path: Path) -> Any:
    if key not in obj:
        raise fail(path, f"{where} has no key {key!r} (it has {sorted(map(repr, obj))[:8]})")
    return obj[key]


def _hp200(hps: Mapping[Any, Any], where: str, path: Path) -> Mapping[Any, Any]:
    for hp in HP_200:
        if hp in hps:
            return _as_dict(hps[hp], f"{where}[{hp!r}]", path)
    raise fail(path, f"{where} has none of the 200-epoch keys {list(HP_200)} (it has {list(hps)[:8]})")


def _test_accuracies(arch: Mapping[Any, Any], where: str, path: Path) -> dict[str, float]:
    results = _as_dict(_get(arch, "all_results", where, path), f"{where}['all_results']", path)
    out: dict[str, float] = {}
    for column, (dataset, evalset) in TARGETS.items():
        values = []
        for rkey, raw in results.items():
            if not (isinstance(rkey, tuple) and len(rkey) == 2 and rkey[0] == dataset):
                continue
            rwhere = f"{where}['all_results'][{rkey!r}]"
            result = _as_dict(raw, rwhere, path)
            epochs = int(result.get("epochs", 200))
            accs = _as_dict(_get(result, "eval_acc1es", rwhere, path), f"{rwhere}['eval_acc1es']", path)
            values.append(float(_get(accs, f"{evalset}@{epochs - 1}", f"{rwhere}['eval_acc1es']", path)))
        if not values:
            raise fail(path, f"{where}['all_results'] has no (dataset, seed) key for dataset {dataset!r} "
                             f"(keys: {list(results)[:8]})")
        out[column] = float(np.mean(values))
    return out


def _table(path: Path, fmt: str, archs: list[Any], info_of: Callable[[int], Mapping[Any, Any]],
           data_dir: Path) -> GroundTruth:
    if len(archs) != N_ARCHS:
        raise fail(path, f"'meta_archs' lists {len(archs):,} architectures, expected {N_ARCHS:,}")
    keys = np.asarray([str(a) for a in archs], dtype=object)
    check_arch_strings(path, "meta_archs", keys)
    rows = [_test_accuracies(_hp200(info_of(i), f"arch2infos[{i}]", path), f"arch2infos[{i}][200 epochs]", path)
            for i in range(N_ARCHS)]
    part = pd.DataFrame({"key": keys, "index": np.arange(N_ARCHS, dtype=np.int64)})
    for column in TARGETS:
        part[column] = np.asarray([r[column] for r in rows], dtype=np.float64)
        check_percent(path, column, part[column].to_numpy())
    return merge_into(TABLE, "nb201", part, source_entry(path, fmt, part.columns), data_dir, column_order=COLUMNS)


def _restricted(path: Path) -> Any:
    """Load with an unpickler that runs no code from the file; ``UnsafePickleError`` when the file needs more."""
    from wsbench.safe_pickle import UnsafePickleError, load_plain

    if path.suffix == ".pth":
        import torch  # only for torch.save'd files

        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            text = str(exc)
            if "Unsupported global" in text or "can still be loaded" in text:  # a class or function: not plain
                line = next((x for x in text.splitlines() if "Unsupported global" in x), "a class or function")
                raise UnsafePickleError(line.strip()[:200]) from None
            raise
    with bz2.open(path, "rb") as fh:
        return load_plain(fh)


def _unpickle(path: Path, what: str, warned: list[bool]) -> Any:
    from wsbench.safe_pickle import UnsafePickleError

    try:
        return _restricted(path)
    except UnsafePickleError as exc:
        refused = str(exc)
    except Exception as exc:  # a damaged file: nothing from it was executed
        raise fail(path, f"could not read {what} ({type(exc).__name__}: {exc}); the file is corrupt or "
                         f"truncated, download it again") from exc
    if not warned[0]:
        _warn(path, refused)
        warned[0] = True
    try:
        if path.suffix == ".pth":
            import torch

            return torch.load(path, map_location="cpu", weights_only=False)
        with bz2.open(path, "rb") as fh:
            return pickle.load(fh)
    except Exception as exc:  # noqa: BLE001 - code from the file has run: do not call it merely corrupt
        raise fail(path, f"could not read {what}: full unpickling ran code from the file and then failed "
                         f"({type(exc).__name__}: {exc}); this is not a file the official API wrote, so do not "
                         f"use it again, get the benchmark from its official source") from exc


def read_archive(path: Path, data_dir: Path, allow_pickle: bool = False) -> GroundTruth:
    """One-file archive (``.pth`` or NATS ``.pickle.pbz2``) with ``meta_archs`` and ``arch2infos``."""
    if not allow_pickle:
        raise refuse(path)
    doc = _as_dict(_unpickle(path, "the benchmark archive", [False]), "the unpickled object", path)
    archs = list(_get(doc, "meta_archs", "the archive", path))
    infos = _as_dict(_get(doc, "arch2infos", "the archive", path), "arch2infos", path)
    total = doc.get("total_archs", len(archs))
    if total != len(archs):
        raise fail(path, f"'total_archs' is {total} but 'meta_archs' lists {len(archs)}")

    def info_of(i: int) -> Mapping[Any, Any]:
        key = i if i in infos else str(i)
        return _as_dict(_get(infos, key, "arch2infos", path), f"arch2infos[{i}]", path)

    fmt = "nb201-pth" if path.suffix == ".pth" else "nats-tss-archive"
    return _table(path, fmt, archs, info_of, data_dir)


def read_nats_folder(path: Path, data_dir: Path, allow_pickle: bool = False) -> GroundTruth:
    """NATS-Bench topology ``-simple`` (or ``-full``) folder of per-architecture ``.pickle.pbz2`` files."""
    if not allow_pickle:
        raise refuse(path)
    warned = [False]
    meta_path = path / "meta.pickle.pbz2"
    if not meta_path.exists():
        raise fail(path, "has no meta.pickle.pbz2; expected a NATS-Bench topology folder (NATS-tss-v1_0-*-simple)")
    meta = _as_dict(_unpickle(meta_path, "the meta file", warned), "meta.pickle.pbz2", meta_path)
    archs = list(_get(meta, "meta_archs", "meta.pickle.pbz2", meta_path))

    def info_of(i: int) -> Mapping[Any, Any]:
        for name in (f"{i:06d}.pickle.pbz2", f"{i}.pickle.pbz2"):
            if (path / name).exists():
                return _as_dict(_unpickle(path / name, f"architecture {i}", warned), name, path / name)
        raise fail(path, f"has no file {i:06d}.pickle.pbz2 for architecture {i}; the folder is incomplete")

    return _table(path, "nats-tss-folder", archs, info_of, data_dir)
