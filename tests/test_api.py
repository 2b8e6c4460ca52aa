"""The public Python API: light to import, every name reachable, and the docs' quick tour runs."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import wsbench

REPO = Path(__file__).resolve().parents[1]


def test_import_is_light_and_every_name_resolves() -> None:
    code = ("import sys, wsbench; heavy = [m for m in ('torch', 'pandas', 'ray', 'matplotlib', 'scipy') "
            "if m in sys.modules]; print(heavy)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and res.stdout.strip() == "[]", res.stdout + res.stderr
    for name in wsbench.__all__:
        assert callable(getattr(wsbench, name)) or name == "__version__", name
    assert wsbench.list_spaces() == ["nb101", "nb201", "darts"]


def test_package_names_stay_callable_after_their_submodules_are_imported(monkeypatch, tmp_path) -> None:
    import wsbench.search.problem  # noqa: F401 - binds wsbench.search to the package
    import wsbench.train.reload  # noqa: F401

    calls = []
    from wsbench import api

    monkeypatch.setattr(api, "search", lambda *a, **k: calls.append(("search", a, k)) or "s")
    monkeypatch.setattr(api, "train", lambda *a, **k: calls.append(("train", a, k)) or "t")
    assert wsbench.search(tmp_path, space="nb201") == "s" and wsbench.train("nb201-digits", tmp_path) == "t"
    assert [c[0] for c in calls] == ["search", "train"]
    assert wsbench.train.reload.load_run is wsbench.load_run  # the package is still the package


def test_load_config_by_name_with_overrides() -> None:
    cfg = wsbench.load_config("nb201-cpu", ["protocol.lr=0.2"])
    assert cfg.protocol.lr == 0.2 and cfg.space.name == "nb201"


def test_quicktour_runs(shared_data: Path, data_dir: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from wsbench.cli import app

    res = CliRunner().invoke(app, ["data", "import", str(shared_data / "nb201"), "--data-dir", str(data_dir)])
    assert res.exit_code == 0, res.output
    spec = importlib.util.spec_from_file_location("quicktour", REPO / "examples" / "quicktour.py")
    tour = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tour)
    out = tour.main(tmp_path / "tour")  # the digits run has no stand-alone table here: it trains, evaluates nothing
    assert 0.3 < out["skt"] < 0.95 and out["regret"] >= 0.0 and out["status"] == "finished"
    assert (tmp_path / "tour" / "search" / "summary.json").exists()
