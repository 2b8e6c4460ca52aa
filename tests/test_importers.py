"""Importers: the shared files (known facts), corrupt/truncated/unknown files, and fixtures in official formats."""

from __future__ import annotations

import base64
import csv
import gzip
import hashlib
import json
import struct
import warnings
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from wsbench.benchmarks.importers import import_path, recognise
from wsbench.benchmarks.importers.nb201_pickle import PickleRefused, PickleWarning
from wsbench.benchmarks.importers.protowire import ProtobufError, parse_model_metrics
from wsbench.benchmarks.importers.tfrecord import crc32c
from wsbench.benchmarks.store import list_tables, load_table, table_path
from wsbench.benchmarks.table import TableError

N201 = 15_625


@pytest.fixture(scope="module")
def imported(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    """All shared files imported once into a private data directory."""
    d = tmp_path_factory.mktemp("imported")
    return d, import_path(shared_data, data_dir=d)


# -- the shared files ---------------------------------------------------------------------------------------
def test_folder_import_covers_every_table_and_skips_the_rest(imported: tuple[Path, list]) -> None:
    d, results = imported
    assert sorted({r.table for r in results if not r.skipped}) == ["darts-nb301", "nb101-sample", "nb201"]
    skipped = {r.path.name for r in results if r.skipped}
    assert {"README.md", "cifar10_jpeg_tree.tar.gz"} <= skipped
    assert all("not a recognised" in r.note for r in results if r.skipped)
    assert list_tables(d) == ["darts-nb301", "nb101-sample", "nb201"]


def test_nb201_known_facts(imported: tuple[Path, list], shared_data: Path) -> None:
    gt = load_table("nb201", imported[0])
    assert len(gt) == N201
    c10 = gt.values("cifar10_test_200ep")
    best = int(np.argmax(c10))
    assert gt.column("index")[best] == 6111 and round(float(c10[best]), 2) == 94.37
    with open(shared_data / "nb201" / "nb201_200ep_test.csv", newline="") as fh:
        row = list(csv.reader(fh))[1 + 6111]
    assert gt.keys[best] == row[3] and gt.column("unique")[best] == row[4]


def test_nb101_sample_converted_and_derived(imported: tuple[Path, list], shared_data: Path) -> None:
    gt = load_table("nb101-sample", imported[0])
    assert len(gt) == 151_644 and gt.n_repeats("test_acc") == 3
    with gzip.open(shared_data / "nb101" / "nb101_sample.csv.gz", "rt", newline="") as fh:
        rows = [r for _, r in zip(range(300), csv.DictReader(fh), strict=False)]
    idx = gt.index([r["hash"] for r in rows])
    for r, i in zip(rows, idx, strict=True):
        n = int(r["n_vertices"])
        m = np.array([int(b) for b in r["matrix"]]).reshape(n, n)
        assert gt.column("n_out_inputs")[i] == m[1:-1, -1].sum()
        assert bool(gt.column("residual")[i]) == bool(m[0, -1])
        assert gt.values("valid_acc", [i], repeat=2)[0] == pytest.approx(100 * float(r["final_valid_acc_r2"]))
        assert gt.values("halfway_train_time", [i], repeat=0)[0] == pytest.approx(
            float(r["halfway_training_time_r0"]))
    assert set(np.unique(gt.column("n_out_inputs"))) == {1, 2, 3, 4}  # the sub-spaces A1..A4 are all covered


def test_nb301_sample_keys(imported: tuple[Path, list]) -> None:
    from wsbench.spaces.darts.space import DartsSpace

    gt = load_table("darts-nb301", imported[0])
    assert len(gt) == 725 and len(set(gt.keys)) == 725
    space = DartsSpace()
    for i in (0, 100, 724):
        assert gt.keys[i] == space.key(space.parse_encoding(gt.column("arch")[i]))
    assert {"valid_acc", "params", "flops", "zc_synflow", "zc_nwot"} <= set(gt.metrics())


def test_provenance_records_checksums(imported: tuple[Path, list], shared_data: Path) -> None:
    sources = load_table("nb201", imported[0]).provenance["sources"]
    assert len(sources) == 2
    for s in sources:
        p = Path(s["path"])
        assert s["sha256"] == hashlib.sha256(p.read_bytes()).hexdigest() and s["size"] == p.stat().st_size
        assert datetime.fromisoformat(s["imported_at"]).utcoffset().total_seconds() == 0


# -- bad input ----------------------------------------------------------------------------------------------
def _prefix(src: Path, dst: Path, lines: int) -> Path:
    with open(src) as fh:
        dst.write_text("".join(fh.readline() for _ in range(lines)))
    return dst


def test_truncated_csv_leaves_existing_table_untouched(data_dir: Path, shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "nb201" / "nb201_200ep_test.csv"
    import_path(src)
    before = table_path("nb201").read_bytes()
    bad = _prefix(src, tmp_path / "nb201_200ep_test.csv", 2000)
    with pytest.raises(TableError, match="1,999 records, expected 15,625") as err:
        import_path(bad)
    assert str(bad) in str(err.value)
    assert table_path("nb201").read_bytes() == before


def test_bad_values_and_headers_are_named(data_dir: Path, shared_data: Path, tmp_path: Path) -> None:
    text = (shared_data / "nb201" / "nb201_12ep_valtest.csv").read_text().splitlines(keepends=True)
    bad = tmp_path / "nb201_12ep_valtest.csv"
    bad.write_text(text[0] + text[1].replace(",69.55,", ",abc,", 1) + "".join(text[2:]))
    with pytest.raises(TableError, match="'cifar10-test'.*record 0"):
        import_path(bad)
    bad.write_text(text[0].replace("cellstr", "cell") + "".join(text[1:]))
    with pytest.raises(TableError, match="expected the columns"):
        import_path(bad)
    bad.write_text(text[0] + text[2] + text[1] + "".join(text[3:]))  # rows swapped: index no longer in row order
    with pytest.raises(TableError, match="'arch'.*row order"):
        import_path(bad)
    assert list_tables() == []


def test_truncated_gzip_sample(data_dir: Path, shared_data: Path, tmp_path: Path) -> None:
    bad = tmp_path / "nb101_sample.csv.gz"
    bad.write_bytes((shared_data / "nb101" / "nb101_sample.csv.gz").read_bytes()[:200_000])
    with pytest.raises(TableError) as err:
        import_path(bad)
    assert str(bad) in str(err.value)
    assert list_tables() == []


def test_unknown_files(data_dir: Path, tmp_path: Path) -> None:
    odd = tmp_path / "results.csv"
    odd.write_text("a,b\n1,2\n")
    with pytest.raises(TableError, match="results.csv: not a recognised benchmark file; recognised are: .*nb201"):
        import_path(odd)
    with pytest.raises(TableError, match="no recognised benchmark file"):
        import_path(tmp_path)
    with pytest.raises(TableError, match="does not exist"):
        import_path(tmp_path / "missing.csv")


# -- official NAS-Bench-201 / NATS-Bench pickles ------------------------------------------------------------
def _arch_results(c10: list[float], c100: float, img: float) -> dict:
    results = {("cifar10", 777 + s): {"epochs": 200, "eval_acc1es": {"ori-test@199": v, "ori-test@198": 0.0}}
               for s, v in enumerate(c10)}
    results[("cifar10-valid", 777)] = {"epochs": 200, "eval_acc1es": {"x-valid@199": 1.0}}
    results[("cifar100", 777)] = {"epochs": 200, "eval_acc1es": {"x-test@199": c100, "ori-test@199": 0.0}}
    results[("ImageNet16-120", 777)] = {"epochs": 200, "eval_acc1es": {"x-test@199": img, "x-valid@199": 0.0}}
    return {"all_results": results, "dataset_seed": {}, "arch_str": "", "clear_net_done": True}


def _nb201_strings(shared_data: Path) -> list[str]:
    with open(shared_data / "nb201" / "nb201_200ep_test.csv", newline="") as fh:
        return [r["ArchitectureString"] for r in csv.DictReader(fh)]


def test_pickle_files_are_refused_without_the_flag(data_dir: Path, tmp_path: Path) -> None:
    pth = tmp_path / "NAS-Bench-201-v1_0-e61699.pth"
    pth.write_bytes(b"not even a pickle")
    assert recognise(pth) is not None and recognise(pth).pickle
    with pytest.raises(PickleRefused, match="--allow-pickle"):
        import_path(pth)
    (tmp_path / "nb301_sample_725.json").write_text("{}")
    with pytest.raises(PickleRefused, match="executes code"):
        import_path(tmp_path)  # refused before anything in the folder is imported
    assert list_tables() == []
    with warnings.catch_warnings():  # the restricted unpickler fails first: nothing ran, no warning
        warnings.simplefilter("error", PickleWarning)
        with pytest.raises(TableError, match="corrupt or truncated"):
            import_path(pth, allow_pickle=True)


def test_nb201_pth_fixture(data_dir: Path, tmp_path: Path, shared_data: Path,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    torch = pytest.importorskip("torch")
    archs = _nb201_strings(shared_data)
    infos = {i: {"less": {}, "full": _arch_results([90.0, 92.0], 70.0, 40.0)} for i in range(N201)}
    infos[6111] = {"full": _arch_results([94.0, 95.0, 96.0], 73.5, 46.5)}
    pth = tmp_path / "NAS-Bench-201-v1_1-096897.pth"
    torch.save({"meta_archs": archs, "arch2infos": infos, "evaluated_indexes": list(range(N201)),
                "total_archs": N201}, pth)
    import_path(shared_data / "nb201" / "nb201_12ep_valtest.csv")
    with warnings.catch_warnings():  # plain containers and numbers: read without running code, no warning
        warnings.simplefilter("error", PickleWarning)
        (res,) = import_path(pth, allow_pickle=True)
    assert res.table == "nb201" and res.format == "nb201-pth"
    gt = load_table("nb201")
    i = int(gt.index(archs[6111])[0])
    assert gt.column("index")[i] == 6111
    assert gt.values("cifar10_test_200ep", [i])[0] == pytest.approx(95.0)  # mean over the three seeds
    assert gt.values("cifar100_test_200ep", [i])[0] == pytest.approx(73.5)
    assert gt.values("imagenet16_test_200ep", [i])[0] == pytest.approx(46.5)
    assert gt.values("cifar10_test_200ep", [0])[0] == pytest.approx(91.0)
    assert gt.has("cifar10_val_12ep")  # the columns of the other source are kept
    # a missing entry is reported with its exact place in the structure (a reduced file keeps this fast)
    from wsbench.benchmarks.importers import nb201_pickle

    monkeypatch.setattr(nb201_pickle, "N_ARCHS", 8)
    del infos[5]["full"]["all_results"][("cifar100", 777)]["eval_acc1es"]["x-test@199"]
    torch.save({"meta_archs": archs[:8], "arch2infos": {i: infos[i] for i in range(8)}, "total_archs": 8}, pth)
    before = table_path("nb201").read_bytes()
    with pytest.raises(TableError, match=r"arch2infos\[5\].*'cifar100', 777.*x-test@199"):
        import_path(pth, allow_pickle=True)
    assert table_path("nb201").read_bytes() == before


def test_nats_folder_fixture(data_dir: Path, tmp_path: Path, shared_data: Path,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    import bz2
    import pickle

    from wsbench.benchmarks.importers import nb201_pickle

    n = 64  # a reduced space keeps the fixture small (15,625 files are slow to write); the count check stays
    monkeypatch.setattr(nb201_pickle, "N_ARCHS", n)
    archs = _nb201_strings(shared_data)[:n]
    folder = tmp_path / "NATS-tss-v1_0-3ffb9-simple"
    folder.mkdir()
    with bz2.open(folder / "meta.pickle.pbz2", "wb") as fh:
        pickle.dump({"meta_archs": archs, "evaluated_indexes": set(range(n))}, fh)
    common = bz2.compress(pickle.dumps({"12": {}, "200": _arch_results([80.0], 60.0, 30.0)}))
    for i in range(n):
        (folder / f"{i:06d}.pickle.pbz2").write_bytes(common)
    with bz2.open(folder / "000042.pickle.pbz2", "wb") as fh:
        pickle.dump({"200": _arch_results([85.0, 87.0], 61.0, 31.0)}, fh)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PickleWarning)
        (res,) = import_path(folder, allow_pickle=True)
    assert res.format == "nats-tss-folder"
    gt = load_table("nb201")
    assert len(gt) == n
    assert gt.values("cifar10_test_200ep", gt.index([archs[42]]))[0] == pytest.approx(86.0)
    assert gt.values("imagenet16_test_200ep", gt.index([archs[7]]))[0] == pytest.approx(30.0)
    (folder / "000033.pickle.pbz2").unlink()
    with pytest.raises(TableError, match="000033.pickle.pbz2"):
        import_path(folder, allow_pickle=True)
    monkeypatch.setattr(nb201_pickle, "N_ARCHS", N201)
    with pytest.raises(TableError, match="lists 64 architectures, expected 15,625"):
        import_path(folder, allow_pickle=True)


# -- official NAS-Bench-101 TFRecord ------------------------------------------------------------------------
FULL = {"in": "input", "out": "output", "c3": "conv3x3-bn-relu", "c1": "conv1x1-bn-relu", "mp": "maxpool3x3"}


def _varint(v: int) -> bytes:
    out = b""
    while v >= 0x80:
        out += bytes([(v & 0x7F) | 0x80])
        v >>= 7
    return out + bytes([v])


def _double(field: int, v: float) -> bytes:
    return _varint(field << 3 | 1) + struct.pack("<d", v)


def _message(field: int, body: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(body)) + body


def _evaluation(epoch: float, time_s: float, train: float, valid: float, test: float) -> bytes:
    body = b"".join(_double(f, v) for f, v in enumerate((epoch, time_s, train, valid, test), start=1))
    return body + _message(6, b"/ckpt/model.ckpt")


def _metrics(params: float, evals: list[bytes]) -> bytes:
    # an unknown varint field (99) first: decoders must skip it
    return _varint(99 << 3 | 0) + _varint(12345) + b"".join(_message(1, e) for e in evals) + \
        _double(2, params) + _double(3, 1234.5)


def _masked(crc: int) -> int:
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def _frame(data: bytes) -> bytes:
    head = struct.pack("<Q", len(data))
    return head + struct.pack("<I", _masked(crc32c(head))) + data + struct.pack("<I", _masked(crc32c(data)))


def test_crc32c_check_value() -> None:
    assert crc32c(b"123456789") == 0xE3069283  # the standard CRC-32C check value


def test_protobuf_decoder_rejects_truncated_messages() -> None:
    body = _metrics(10.0, [_evaluation(108, 1.0, 0.5, 0.4, 0.3)])
    mm = parse_model_metrics(body)
    assert mm.trainable_parameters == 10.0 and mm.evaluations[0].checkpoint_path == "/ckpt/model.ckpt"
    with pytest.raises(ProtobufError):
        parse_model_metrics(body[:-3])


@pytest.fixture()
def tfrecord(tmp_path: Path, shared_data: Path) -> tuple[Path, list[dict[str, str]]]:
    """Four real cells (hash, matrix, ops from the shared sample) x 3 repeats at 108 epochs, plus 4-epoch noise."""
    with gzip.open(shared_data / "nb101" / "nb101_sample.csv.gz", "rt", newline="") as fh:
        cells = [r for _, r in zip(range(4), csv.DictReader(fh), strict=False)]
    out = b""
    for rep in range(3):
        for k, c in enumerate(cells):
            ops = ",".join(FULL[o] for o in c["ops"].split(","))
            for epochs in (4, 108):
                acc = 0.9 + 0.01 * k + 0.001 * rep
                evals = [_evaluation(epochs / 2, 50.0 + rep, acc - 0.2, acc - 0.1, acc - 0.15),
                         _evaluation(epochs, 100.0 + rep, 1.0, acc, acc - 0.005)]
                blob = base64.b64encode(_metrics(float(c["params"]), evals)).decode()
                out += _frame(json.dumps([c["hash"], epochs, c["matrix"], ops, blob]).encode())
    path = tmp_path / "nasbench_only108.tfrecord"
    path.write_bytes(out)
    return path, cells


def test_tfrecord_fixture(data_dir: Path, tfrecord: tuple[Path, list[dict[str, str]]]) -> None:
    path, cells = tfrecord
    (res,) = import_path(path)
    assert res.table == "nb101" and res.rows == 4
    gt = load_table("nb101")
    assert list(gt.keys) == [c["hash"] for c in cells]
    assert list(gt.column("matrix")) == [c["matrix"] for c in cells]
    assert list(gt.column("ops")) == [c["ops"] for c in cells]
    assert gt.n_repeats("valid_acc") == 3
    np.testing.assert_allclose(gt.values("valid_acc", repeat=2), [90.2, 91.2, 92.2, 93.2])
    np.testing.assert_allclose(gt.values("halfway_test_acc", repeat=0), [75.0, 76.0, 77.0, 78.0])
    np.testing.assert_allclose(gt.values("train_time", repeat=1), [101.0] * 4)
    np.testing.assert_array_equal(gt.column("params"), [int(c["params"]) for c in cells])
    assert list_tables() == ["nb101"]  # the official table is separate from the sample


def test_tfrecord_truncated_and_corrupt(data_dir: Path, tfrecord: tuple[Path, list[dict[str, str]]]) -> None:
    path, _ = tfrecord
    data = path.read_bytes()
    path.write_bytes(data[:-10])
    with pytest.raises(TableError, match="truncated") as err:
        import_path(path)
    assert str(path) in str(err.value)
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(flipped))
    with pytest.raises(TableError, match="CRC-32C mismatch"):
        import_path(path)
    assert list_tables() == []


# -- NDS ----------------------------------------------------------------------------------------------------
def _nds_record(normal: list, errors: list[float], params: float = 0.5) -> dict:
    reduce = [["max_pool_3x3", 0], ["max_pool_3x3", 1], ["skip_connect", 2], ["max_pool_3x3", 0],
              ["skip_connect", 2], ["max_pool_3x3", 1], ["skip_connect", 2], ["skip_connect", 3]]
    return {"net": {"genotype": {"normal": normal, "normal_concat": [2, 3, 4, 5], "reduce": reduce,
                                 "reduce_concat": [2, 3, 4, 5]}, "depth": 20},
            "test_ep_top1": errors, "min_test_top1": min(errors), "params": params, "flops": 100.0}


def test_nds_fixture(data_dir: Path, tmp_path: Path) -> None:
    normal = [["sep_conv_3x3", 0], ["sep_conv_3x3", 1], ["sep_conv_3x3", 0], ["sep_conv_3x3", 1],
              ["sep_conv_3x3", 1], ["skip_connect", 0], ["skip_connect", 0], ["dil_conv_3x3", 2]]
    swapped = [normal[1], normal[0], *normal[2:]]  # same cell: the two edges of node 2 swapped
    other = [["dil_conv_5x5", 0], *normal[1:]]
    records = [_nds_record(normal, [30.0, 10.0, 6.0]), _nds_record(swapped, [20.0, 8.0]),
               _nds_record(other, [40.0, 12.0, 9.5], params=0.7)]
    path = tmp_path / "DARTS.json"
    path.write_text(json.dumps(records))
    (res,) = import_path(path)
    assert res.table == "nds-darts" and res.rows == 2
    gt = load_table("nds-darts")
    np.testing.assert_allclose(np.sort(gt.values("test_acc")), [90.5, 93.0])  # (94 + 92) / 2 and 100 - 9.5
    np.testing.assert_allclose(np.sort(gt.values("best_test_acc")), [90.5, 93.0])
    records[2]["net"]["genotype"]["normal"][0] = ["conv_7x1_1x7", 0]
    path.write_text(json.dumps(records))
    with pytest.raises(TableError, match="record 2.*conv_7x1_1x7"):
        import_path(path)


def test_nb301_json_corrupt(data_dir: Path, tmp_path: Path, shared_data: Path) -> None:
    bad = tmp_path / "nb301_sample_725.json"
    bad.write_bytes((shared_data / "darts" / "nb301_sample_725.json").read_bytes()[:5000])
    with pytest.raises(TableError, match="not valid JSON") as err:
        import_path(bad)
    assert str(bad) in str(err.value)
    doc = json.loads((shared_data / "darts" / "nb301_sample_725.json").read_text())
    first = next(iter(doc["cifar10"]))
    doc["cifar10"][first]["val_accuracy"] = 140.0
    bad.write_text(json.dumps(doc))
    with pytest.raises(TableError, match=r"'val_accuracy'.*outside \[0.0, 100.0\]"):
        import_path(bad)
    del doc["cifar10"][first]
    bad.write_text(json.dumps(doc))
    with pytest.raises(TableError, match="724 records, expected 725"):
        import_path(bad)
    assert list_tables() == []


def test_importers_do_not_import_torch() -> None:
    import subprocess
    import sys

    code = ("import sys, importlib, pkgutil, wsbench.benchmarks.importers as p\n"
            "for m in pkgutil.iter_modules(p.__path__): importlib.import_module(f'{p.__name__}.{m.name}')\n"
            "import wsbench.commands.data, wsbench.commands.arch\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
