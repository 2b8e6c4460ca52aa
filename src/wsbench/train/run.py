"""The run directory of one super-net training run.

Layout: ``config.yaml`` (resolved config), ``metrics.jsonl`` (one JSON object per line: training log intervals
with ``kind="train"`` and evaluations with ``kind="eval"``), ``status.json`` (running / finished / diverged /
failed, with timings and device), ``metrics.json`` (final evaluation), ``checkpoints/`` and ``evals/``.
"""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from pathlib import Path
from typing import Any

from wsbench.atomic import write_json, write_text
from wsbench.config import RunCfg, dump_config


def _summary_writer_class() -> Any:
    """``torch.utils.tensorboard.SummaryWriter`` (raises ImportError when tensorboard is not installed)."""
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter


def _clean(value: Any) -> Any:
    """JSON-safe value: non-finite floats become None, numpy scalars become python numbers."""
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


class RunDir:
    """Paths and writers of a run directory."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)
        self.checkpoints = self.root / "checkpoints"
        self.evals = self.root / "evals"
        self.config_path = self.root / "config.yaml"
        self.metrics_path = self.root / "metrics.jsonl"
        self.status_path = self.root / "status.json"
        self.final_metrics_path = self.root / "metrics.json"
        self._tensorboard: Any = None

    def enable_tensorboard(self) -> bool:
        """Mirror every numeric field of ``metrics.jsonl`` to TensorBoard event files in ``tensorboard/``.

        Needs the ``tensorboard`` package; without it a warning says so and training goes on without it.
        """
        try:
            writer_cls = _summary_writer_class()
        except ImportError as exc:
            warnings.warn(f"protocol.tensorboard is on but TensorBoard is not available ({exc}); "
                          f"install it with `pip install tensorboard`", stacklevel=2)
            return False
        self._tensorboard = writer_cls(log_dir=str(self.root / "tensorboard"))
        return True

    def create(self) -> None:
        self.checkpoints.mkdir(parents=True, exist_ok=True)

    def write_config(self, cfg: RunCfg) -> None:
        write_text(self.config_path, dump_config(cfg))

    def append_metrics(self, record: dict[str, Any]) -> None:
        """Append one JSON line to ``metrics.jsonl`` (flushed and fsynced)."""
        line = json.dumps(_clean(record), sort_keys=False, allow_nan=False) + "\n"
        with open(self.metrics_path, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
        if self._tensorboard is not None:
            kind, step = record.get("kind", "train"), int(record.get("step", 0))
            for key, value in record.items():
                if key not in ("kind", "step", "epoch") and isinstance(value, int | float) and math.isfinite(value):
                    self._tensorboard.add_scalar(f"{kind}/{key}", value, step)
            self._tensorboard.flush()

    def read_metrics(self) -> list[dict[str, Any]]:
        """All records of ``metrics.jsonl`` (an unreadable trailing line from a crash is dropped)."""
        if not self.metrics_path.exists():
            return []
        out = []
        for line in self.metrics_path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return out

    def truncate_metrics(self, max_step: int) -> None:
        """Keep only records up to ``max_step`` (drop the log of an epoch that a resumed run repeats)."""
        kept = [r for r in self.read_metrics() if int(r.get("step", 0)) <= max_step]
        write_text(self.metrics_path, "".join(json.dumps(r) + "\n" for r in kept))

    def write_status(self, status: str, **fields: Any) -> None:
        """Replace ``status.json`` with ``{"status": status, "updated": unix time, **fields}``."""
        write_json(self.status_path, _clean({"status": status, "updated": time.time(), **fields}))

    def write_final_metrics(self, metrics: dict[str, Any]) -> None:
        write_json(self.final_metrics_path, _clean(metrics))
