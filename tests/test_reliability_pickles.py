"""Official NB201 / NATS pickles: plain data is read with a restricted unpickler (no code runs); only a file that
needs more is unpickled fully, with a warning, and a failure after that is not called a mere corruption."""

from __future__ import annotations

import bz2
import csv
import os
import pickle
import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from wsbench.benchmarks.importers import import_path, nb201_pickle
from wsbench.benchmarks.importers.nb201_pickle import PickleWarning
from wsbench.benchmarks.store import load_table
from wsbench.benchmarks.table import TableError
from wsbench.safe_pickle import UnsafePickleError, load_plain

N = 8


def _archs(shared_data: Path) -> list[str]:
    with open(shared_data / "nb201" / "nb201_200ep_test.csv", newline="") as fh:
        return [r["ArchitectureString"] for r, _ in zip(csv.DictReader(fh), range(N), strict=False)]


def _results(acc: float, wrap=dict) -> dict:
    def result(a: float, evalset: str):
        return wrap(**{"eval_acc1es": {f"{evalset}@199": a}, "epochs": 200})

    return wrap(all_results={("cifar10", 777): result(acc, "ori-test"), ("cifar100", 777): result(60.0, "x-test"),
                             ("ImageNet16-120", 777): result(30.0, "x-test")})


def _archive(shared_data: Path, wrap=dict) -> dict:
    import numpy as np

    infos = {i: {"200": _results(80.0 + i, wrap), "12": {}} for i in range(N)}
    infos[3]["200"] = _results(float(np.float64(91.5)), wrap)
    return {"meta_archs": _archs(shared_data), "arch2infos": infos, "total_archs": N}


@pytest.fixture()
def small(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nb201_pickle, "N_ARCHS", N)


def _write_pbz2(path: Path, obj: object) -> Path:
    with bz2.open(path, "wb") as fh:
        pickle.dump(obj, fh)
    return path


def test_plain_archives_are_read_without_running_code(data_dir, tmp_path, shared_data, small, monkeypatch):
    def no_full_unpickling(*_a, **_k):
        raise AssertionError("full unpickling was used for plain data")

    pbz2 = _write_pbz2(tmp_path / "NATS-tss-v1_0-3ffb9.pickle.pbz2", _archive(shared_data))
    pth = tmp_path / "NAS-Bench-201-v1_1-096897.pth"
    torch.save(_archive(shared_data), pth)
    real_load = torch.load

    def weights_only_load(*args, **kwargs):
        if kwargs.get("weights_only") is not True:
            raise AssertionError("torch.load without weights_only=True")
        return real_load(*args, **kwargs)

    monkeypatch.setattr(nb201_pickle.pickle, "load", no_full_unpickling)
    monkeypatch.setattr(torch, "load", weights_only_load)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PickleWarning)
        for path in (pbz2, pth):
            (res,) = import_path(path, allow_pickle=True)
            assert res.table == "nb201"
            gt = load_table("nb201")
            assert gt.values("cifar10_test_200ep", gt.index([_archs(shared_data)[3]]))[0] == 91.5


def test_objects_need_full_unpickling_with_a_warning(data_dir, tmp_path, shared_data, small):
    pbz2 = _write_pbz2(tmp_path / "NATS-tss-v1_0-3ffb9.pickle.pbz2", _archive(shared_data, wrap=SimpleNamespace))
    with pytest.warns(PickleWarning, match="types.SimpleNamespace.*executes code"):
        (res,) = import_path(pbz2, allow_pickle=True)
    assert res.rows == N


class _RunsCode:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.makedirs, (str(self.marker),))


class _Fails:
    def __reduce__(self):
        return (int, ("not a number",))


def test_a_failure_after_code_ran_is_not_called_corrupt(data_dir, tmp_path, small):
    marker = tmp_path / "code-ran"
    pbz2 = _write_pbz2(tmp_path / "NATS-tss-v1_0-3ffb9.pickle.pbz2", [_RunsCode(marker), _Fails()])
    with pytest.warns(PickleWarning, match="os.makedirs"), pytest.raises(TableError) as err:
        import_path(pbz2, allow_pickle=True)
    assert marker.exists()  # the fallback did execute the file's code, as the warning says
    assert "ran code from the file" in str(err.value) and "corrupt" not in str(err.value)


def test_truncated_archive_is_corrupt_and_runs_nothing(data_dir, tmp_path, shared_data, small):
    blob = bz2.compress(pickle.dumps(_archive(shared_data)))
    path = tmp_path / "NATS-tss-v1_0-3ffb9.pickle.pbz2"
    path.write_bytes(blob[: len(blob) // 2])
    with warnings.catch_warnings():
        warnings.simplefilter("error", PickleWarning)
        with pytest.raises(TableError, match="corrupt or truncated, download it again"):
            import_path(path, allow_pickle=True)


def test_plain_unpickler_refuses_every_global_but_numbers(tmp_path):
    import io

    import numpy as np

    ok = {"a": [1, 2.5, (3, "x"), {4, 5}, frozenset({6})], "b": np.float32(1.5), "c": np.int64(-7), "d": b"raw"}
    back = load_plain(io.BytesIO(pickle.dumps(ok, protocol=2)))
    assert back == {"a": [1, 2.5, (3, "x"), {4, 5}, frozenset({6})], "b": 1.5, "c": -7, "d": b"raw"}
    assert type(back["b"]) is float
    for bad in (SimpleNamespace(a=1), np.arange(3), np.dtype("f8"), _RunsCode(tmp_path / "m"), print):
        with pytest.raises(UnsafePickleError):
            load_plain(io.BytesIO(pickle.dumps(bad)))
    assert not (tmp_path / "m").exists()
