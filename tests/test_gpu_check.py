"""The prepared GPU script runs end to end on a CPU at toy sizes, so it is ready the day a GPU is lent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_gpu_check_tiny_on_cpu(tmp_path: Path) -> None:
    res = subprocess.run(["bash", str(REPO / "bench" / "gpu_check.sh"), "--tiny", str(tmp_path)],
                         env={**os.environ, "PYTHON": sys.executable, "CUDA_VISIBLE_DEVICES": ""},
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "device: cpu" in res.stdout
    docs = {p.stem: json.loads(p.read_text()) for p in tmp_path.glob("gpu_*.json")}
    expected = {"gpu_epoch", "gpu_eval", "gpu_cpu_protocol", "gpu_supernet_step"}
    peers = subprocess.run([sys.executable, str(REPO / "bench" / "bench_peers.py"), "--check"],
                           capture_output=True, text=True, timeout=120)
    if peers.returncode == 0:  # benchmark-only extras: the peers are timed only where one is installed
        expected.add("gpu_peers")
    else:
        assert "peers not timed" in res.stdout
    assert set(docs) == expected
    for name in ("gpu_epoch", "gpu_eval", "gpu_cpu_protocol"):
        assert docs[name]["device"].startswith("cpu") and docs[name]["tiny"] is True
    assert docs["gpu_epoch"]["epoch_seconds_extrapolated"] > 0 and docs["gpu_eval"]["archs_per_second"] > 0
    assert docs["gpu_cpu_protocol"]["steps_total"] == 96 * 352  # nb201-cpu: 96 epochs of ceil(45000 / 128) steps
    assert docs["gpu_supernet_step"]["median_ratio"] > 0
    if "gpu_peers" in docs:
        setting = next(iter(docs["gpu_peers"]["settings"].values()))
        assert setting["train_speedup"] and all(v > 0 for v in setting["train_speedup"].values())
        assert docs["gpu_peers"]["machine"]["device"].startswith("cpu")
