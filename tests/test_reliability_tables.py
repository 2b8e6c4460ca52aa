"""Stored tables verify themselves: a changed byte in an imported table is refused, never served."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pytest
import typer
from typer.testing import CliRunner

from wsbench.benchmarks.importers import import_path
from wsbench.benchmarks.store import load_table, table_path
from wsbench.benchmarks.table import GroundTruth, TableError
from wsbench.commands import arch, data

runner = CliRunner()


@pytest.fixture()
def nb201(data_dir: Path, shared_data: Path) -> Path:
    import_path(shared_data / "nb201" / "nb201_200ep_test.csv")
    return table_path("nb201")


def _tamper_best(path: Path) -> int:
    """Replace NB201's best CIFAR-10 accuracy (94.37, index 6111) by 12.5 inside the stored file."""
    gt = GroundTruth.load(path)
    values = gt.values("cifar10_test_200ep")
    best = int(np.argmax(values))
    blob = bytearray(path.read_bytes())
    pos = blob.find(struct.pack("<d", values[best]))
    assert pos > 0
    blob[pos:pos + 8] = struct.pack("<d", 12.5)
    path.write_bytes(bytes(blob))
    return best


def test_a_changed_float_is_refused(nb201: Path) -> None:
    gt = load_table("nb201")
    assert gt.verified and gt.values("cifar10_test_200ep").max() == pytest.approx(94.37, abs=0.01)
    digest = gt.digest
    assert digest == load_table("nb201").digest and len(digest) == 64
    _tamper_best(nb201)
    gt = load_table("nb201")  # loading itself reads no data
    with pytest.raises(TableError, match="'cifar10_test_200ep' does not match its sha256 digest"):
        gt.values("cifar10_test_200ep")
    with pytest.raises(TableError, match="re-import"):
        gt.to_pandas()
    gt.values("cifar100_test_200ep")  # the untouched columns are still served
    with pytest.raises(TableError):
        gt.verify()


def test_cli_reports_the_tampered_table(nb201: Path) -> None:
    app = typer.Typer()
    data.register(app)
    arch.register(app)
    res = runner.invoke(app, ["data", "info", "--json"])
    before = json.loads(res.stdout)["tables"][0]
    assert before["sha256"] and "error" not in before
    _tamper_best(nb201)
    info = json.loads(runner.invoke(app, ["data", "info", "--json"]).stdout)["tables"][0]
    assert "does not match its sha256 digest" in info["error"]
    res = runner.invoke(app, ["arch", "nb201", "6111"])
    assert res.exit_code == 2 and "corrupt" in res.output and "Traceback" not in res.output


def test_the_training_run_checks_its_columns_up_front(nb201: Path) -> None:
    from wsbench.config import EvalCfg
    from wsbench.train.setup import load_ground_truth

    assert load_ground_truth(EvalCfg(), nb201.parent.parent) is not None
    _tamper_best(nb201)
    with pytest.raises(TableError, match="cifar10_test_200ep"):
        load_ground_truth(EvalCfg(), nb201.parent.parent)


def test_tables_without_digests_still_load(nb201: Path, tmp_path: Path) -> None:
    with pa.memory_map(str(nb201), "r") as source:
        table = ipc.open_file(source).read_all()
    meta = json.loads(table.schema.metadata[b"wsbench"])
    del meta["column_sha256"]
    old = tmp_path / "old.arrow"
    table = table.replace_schema_metadata({b"wsbench": json.dumps(meta).encode()})
    with pa.OSFile(str(old), "wb") as sink, ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    gt = GroundTruth.load(old)
    assert not gt.verified and gt.digest is None and len(gt.values("cifar10_test_200ep")) == 15_625


def test_digests_cover_every_column_kind(data_dir: Path) -> None:
    gt = GroundTruth.from_columns("t", "nb201", {"key": np.array(["a", "b", "c"], dtype=object),
                                                 "m@0": np.array([1.0, np.nan, 3.0]), "n": np.array([1, 2, 3]),
                                                 "flag": np.array([True, False, True])})
    path = gt.save(data_dir / "t.arrow")
    back = GroundTruth.load(path)
    back.verify()
    assert back.subset(np.array([True, False, True])).keys.tolist() == ["a", "c"]
    blob = bytearray(path.read_bytes())
    pos = blob.find(b"abc")  # the key strings' value buffer
    blob[pos + 1] = ord("x")
    path.write_bytes(bytes(blob))
    with pytest.raises(TableError, match="'key'"):
        GroundTruth.load(path).index("a")
