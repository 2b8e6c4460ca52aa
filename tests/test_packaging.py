"""An installed wheel (not the checkout) finds its presets and studies by name, from any folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from the checkout, unpacked as site-packages would hold it."""
    out = tmp_path_factory.mktemp("wheel")
    res = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                          str(out), str(REPO)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    wheel = next(out.glob("wsbench-*.whl"))
    site = out / "site"
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        assert "wsbench/configs/nb201-cpu.yaml" in names and "wsbench/studies/yu2020-nb201.yaml" in names
        zf.extractall(site)
    return site


def _run(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site), "WSBENCH_CONFIG_PATH": ""}
    return subprocess.run([sys.executable, "-m", "wsbench", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_wheel_finds_presets_and_studies_from_another_folder(installed: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    version = _run(installed, elsewhere, "--version")
    assert version.returncode == 0 and version.stdout.startswith("wsbench ")
    listed = _run(installed, elsewhere, "presets", "--json")
    assert listed.returncode == 0, listed.stderr
    doc = json.loads(listed.stdout)
    names = {p["name"] for p in doc["configs"]}
    assert {"nb201-cpu", "nb201-digits", "standalone-digits"} <= names
    assert all(Path(p["path"]).is_relative_to(installed) for p in doc["configs"])  # the wheel's, not the checkout's
    assert {"yu2020-nb201", "pourchot-nb101"} <= {p["name"] for p in doc["studies"]}
    dry = _run(installed, elsewhere, "sweep", "yu2020-nb201", "--fidelity", "cpu", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    runs = [line for line in dry.stdout.splitlines() if "factor=" in line]
    assert dry.stderr.strip() == f"{len(runs)} runs" and len(runs) > 10
    typo = _run(installed, elsewhere, "train", "nb201-digit", "--out", str(tmp_path / "r"))
    assert typo.returncode == 2 and "did you mean nb201-digits" in typo.stderr
    assert len(typo.stderr.strip().splitlines()) == 1


def test_user_presets_come_first_and_inherit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from wsbench.config import ConfigError, load_config
    from wsbench.presets import find_preset, list_presets

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "my-nb201.yaml").write_text("# my variant of the CPU preset\nbase: nb201-cpu\nprotocol:\n  lr: 0.2\n")
    (mine / "loop-a.yaml").write_text("base: loop-b\n")
    (mine / "loop-b.yaml").write_text("base: loop-a\n")
    monkeypatch.setenv("WSBENCH_CONFIG_PATH", str(mine))
    assert find_preset("my-nb201") == mine / "my-nb201.yaml"
    entry = next(p for p in list_presets() if p.name == "my-nb201")
    assert (entry.origin, entry.description) == ("user", "my variant of the CPU preset")
    cfg, base = load_config("my-nb201"), load_config("nb201-cpu")
    assert cfg.protocol.lr == 0.2 and cfg.protocol.epochs == base.protocol.epochs
    assert cfg.model_dump()["mapping"] == base.model_dump()["mapping"]
    with pytest.raises(ConfigError, match="inherits from itself"):
        load_config("loop-a")
    # the shipped nb201-cpu-60 states only what differs from nb201-cpu
    sixty = load_config("nb201-cpu-60")
    assert (sixty.protocol.epochs, sixty.data.resolution, sixty.protocol.lr) == (300, 16, base.protocol.lr)
