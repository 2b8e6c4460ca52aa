"""GroundTruth tables: round trip through the store, lookup, corruption, and merging of NB201 sources."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from wsbench.benchmarks.importers import import_path
from wsbench.benchmarks.importers.nb201_csv import COLUMNS
from wsbench.benchmarks.store import list_tables, load_table, save_table, table_path
from wsbench.benchmarks.table import GroundTruth, TableError


def _toy() -> GroundTruth:
    return GroundTruth.from_columns(
        "toy", "nb201",
        {"key": np.array(["a", "b", "c"], dtype=object), "index": np.array([2, 0, 1]),
         "acc@0": np.array([90.0, 80.0, np.nan]), "acc@1": np.array([92.0, 82.0, 70.0]),
         "params": np.array([1.5, 2.5, 3.5])},
        {"sources": [{"path": "/x", "sha256": "0" * 64}]})


def test_round_trip_keeps_columns_values_and_provenance(data_dir: Path) -> None:
    gt = _toy()
    path = save_table(gt)
    assert path == table_path("toy") and list_tables() == ["toy"]
    back = load_table("toy")
    assert (back.name, back.space, len(back)) == ("toy", "nb201", 3)
    assert back.columns == gt.columns
    assert back.provenance == {"sources": [{"path": "/x", "sha256": "0" * 64}]}
    # mean over repeats ignores the missing repeat; one repeat can be picked
    np.testing.assert_allclose(back.values("acc"), [91.0, 81.0, 70.0])
    np.testing.assert_allclose(back.values("acc", repeat=1), [92.0, 82.0, 70.0])
    assert back.n_repeats("acc") == 2
    np.testing.assert_array_equal(back.index(["c", "a"]), [2, 0])
    np.testing.assert_array_equal(back.contains(["a", "zz"]), [True, False])
    with pytest.raises(KeyError, match="zz"):
        back.index(["zz"])
    assert back.record("b")["acc@0"] == 80.0 and back.record("c")["acc@0"] is None


def test_duplicate_keys_are_rejected() -> None:
    with pytest.raises(TableError, match="duplicate"):
        GroundTruth.from_columns("d", "nb201", {"key": np.array(["a", "a"], dtype=object), "v": np.ones(2)})


def test_truncated_table_file_gives_clear_error(data_dir: Path) -> None:
    path = save_table(_toy())
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(TableError, match="corrupt or truncated") as err:
        load_table("toy")
    assert str(path) in str(err.value)


def test_missing_table_names_source_and_command(data_dir: Path) -> None:
    with pytest.raises(TableError, match="wsbench data import") as err:
        load_table("nb201")
    assert "nb201_200ep_test.csv" in str(err.value) or "nb201/*.csv" in str(err.value)


def _csv_column(path: Path, key_col: str, col: str) -> dict[str, float]:
    with open(path, newline="") as fh:
        return {row[key_col]: float(row[col]) for row in csv.DictReader(fh)}


def test_nb201_merge_is_order_independent_and_joined_on_key(tmp_path: Path, shared_data: Path) -> None:
    f200 = shared_data / "nb201" / "nb201_200ep_test.csv"
    f12 = shared_data / "nb201" / "nb201_12ep_valtest.csv"
    a, b = tmp_path / "a", tmp_path / "b"
    import_path(f200, data_dir=a)
    import_path(f12, data_dir=a)
    import_path(f12, data_dir=b)
    import_path(f200, data_dir=b)
    ta, tb = load_table("nb201", a), load_table("nb201", b)
    assert ta.columns == tb.columns == list(COLUMNS)
    for col in COLUMNS:
        np.testing.assert_array_equal(ta.column(col), tb.column(col))
    np.testing.assert_array_equal(ta.column("index"), np.arange(15_625))
    # the 12-epoch values are joined by architecture string, checked against the CSV read independently
    truth = _csv_column(f12, "cellstr", "cifar100-val")
    rng = np.random.default_rng(0)
    for i in rng.choice(15_625, size=50, replace=False):
        key = ta.keys[i]
        assert ta.values("cifar100_val_12ep", [i])[0] == pytest.approx(truth[key])
    # re-importing a file replaces its provenance entry instead of adding one
    import_path(f12, data_dir=a)
    formats = [s["format"] for s in load_table("nb201", a).provenance["sources"]]
    assert sorted(formats) == ["nb201-csv-12ep", "nb201-csv-200ep"]


def test_lookup_of_many_keys(tmp_path: Path, shared_data: Path) -> None:
    import_path(shared_data / "nb201" / "nb201_200ep_test.csv", data_dir=tmp_path)
    gt = load_table("nb201", tmp_path)
    rng = np.random.default_rng(1)
    rows = rng.integers(0, len(gt), size=10_000)
    np.testing.assert_array_equal(gt.index(gt.keys[rows]), rows)


def test_index_keeps_one_hash_index_per_table():
    table = GroundTruth.from_columns("t", "toy", {"key": np.array(["a", "b", "c", "d"], dtype=object),
                                                  "acc": np.array([1.0, 2.0, 3.0, 4.0])})
    assert table.index(["c", "a"]).tolist() == [2, 0] and table.index("d").tolist() == [3]
    assert table._key_index is None  # a few keys are found by a scan, without building (or importing) an index
    assert table.index(["a", "b", "c", "d", "a"]).tolist() == [0, 1, 2, 3, 0]
    built = table._key_index
    assert built is not None
    assert table.index(["x", "b"], missing="ignore").tolist() == [-1, 1]
    assert table._key_index is built  # not rebuilt per call
    with pytest.raises(KeyError, match="not in table"):
        table.index(["b", "zz"])


def test_ground_truth_reference_is_parsed_in_one_place():
    from wsbench.benchmarks.reference import GroundTruthRef

    assert GroundTruthRef.parse("nb201:cifar10_test_200ep") == GroundTruthRef("nb201", "cifar10_test_200ep")
    ref = GroundTruthRef.parse("nb101-sample:test_acc@2")
    assert (ref.table, ref.metric, ref.repeat, str(ref)) == ("nb101-sample", "test_acc", 2, "nb101-sample:test_acc@2")
    for bad in ("nb201", ":acc", "nb201:", "nb201:acc@x", "nb201:acc@"):
        with pytest.raises(ValueError, match="must be 'table:metric'"):
            GroundTruthRef.parse(bad)
