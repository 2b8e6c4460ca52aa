"""Truncated benchmark files are refused, and `wsbench arch` refuses cells outside their space."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from wsbench.benchmarks.importers import import_path
from wsbench.benchmarks.store import list_tables, load_table
from wsbench.benchmarks.table import TableError

runner = CliRunner()


@pytest.mark.parametrize(("name", "cut"), [("nb201_12ep_valtest.csv", 17), ("nb201_200ep_test.csv", 20),
                                           ("nb201_12ep_valtest.csv", 1)])
def test_csv_cut_inside_its_last_record_is_refused(data_dir: Path, shared_data: Path, tmp_path: Path, name: str,
                                                   cut: int) -> None:
    bad = tmp_path / name
    bad.write_bytes((shared_data / "nb201" / name).read_bytes()[:-cut])
    with pytest.raises(TableError, match="truncated") as err:
        import_path(bad)
    assert str(bad) in str(err.value)
    assert list_tables() == []


def test_the_intact_last_record_keeps_its_value(data_dir: Path, shared_data: Path) -> None:
    import_path(shared_data / "nb201" / "nb201_12ep_valtest.csv")
    gt = load_table("nb201")
    assert gt.values("imagenet16_val_12ep", gt.index([gt.keys[15624]]))[0] == pytest.approx(13.4333333, abs=1e-4)


def test_gzip_sample_cut_inside_its_last_record_is_refused(data_dir: Path, shared_data: Path,
                                                           tmp_path: Path) -> None:
    text = gzip.decompress((shared_data / "nb101" / "nb101_sample.csv.gz").read_bytes())
    lines = text.splitlines(keepends=True)
    bad = tmp_path / "nb101_sample.csv.gz"
    # a complete gzip stream of a CSV whose last record lost its final characters
    bad.write_bytes(gzip.compress(b"".join(lines[:50]) + lines[50][:-9], compresslevel=1))
    with pytest.raises(TableError, match="ends inside its last record"):
        import_path(bad)
    assert list_tables() == []


def _chain(n: int) -> str:
    return "".join("1" if j == i + 1 else "0" for i in range(n) for j in range(n))


def _dense(n: int) -> str:
    return "".join("1" if j > i else "0" for i in range(n) for j in range(n))


@pytest.mark.parametrize(("bits", "ops", "why"), [
    (_dense(7), "in,c3,c3,c3,c3,c3,out", "21 edges"),
    (_chain(8), "in,c3,c3,c3,c3,c3,c3,out", "8 vertices"),
    ("0000", "in,out", "no path"),
])
def test_arch_refuses_nb101_cells_outside_the_space(data_app: typer.Typer, data_dir: Path, bits: str, ops: str,
                                                    why: str) -> None:
    res = runner.invoke(data_app, ["arch", "nb101", "--matrix", bits, "--ops", ops])
    assert res.exit_code == 2
    assert why in res.output and "not in the nb101 space" in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    res = runner.invoke(data_app, ["arch", "nb101", f"{bits}|{ops}"])
    assert res.exit_code == 2 and why in res.output


def test_arch_accepts_the_largest_nb101_cells(data_app: typer.Typer, data_dir: Path) -> None:
    bits = _chain(7)
    res = runner.invoke(data_app, ["arch", "nb101", "--matrix", bits, "--ops", "in,c3,c1,mp,c3,c1,out", "--json"])
    assert res.exit_code == 0, res.output
