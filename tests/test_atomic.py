"""Atomic writes: all or nothing, no stray temporary files, ordinary permissions."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from wsbench.atomic import atomic_path, write_json, write_text


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "t.txt"
    write_text(target, "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.txt"]


def test_json_and_permissions_follow_the_umask(tmp_path: Path) -> None:
    import numpy as np

    target = tmp_path / "sub" / "m.json"
    write_json(target, {"a": np.float32(1.5), "b": np.arange(3)})
    assert json.loads(target.read_text()) == {"a": 1.5, "b": [0, 1, 2]}
    mask = os.umask(0)
    os.umask(mask)
    assert os.stat(target).st_mode & 0o777 == 0o666 & ~mask
