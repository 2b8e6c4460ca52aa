"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import typer

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("WSBENCH_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only real data beside the repository (``../shared/data``)."""
    if not SHARED_DATA.exists():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="module")
def data_app() -> typer.Typer:
    """A CLI app with only the table commands (`data`, `arch`) registered."""
    from wsbench.commands import arch, data

    a = typer.Typer()
    data.register(a)
    arch.register(a)
    return a


@pytest.fixture()
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty, private data directory, also exported as $WSBENCH_DATA_DIR."""
    d = tmp_path / "wsbench-data"
    d.mkdir()
    monkeypatch.setenv("WSBENCH_DATA_DIR", str(d))
    return d
