"""Everything a training run needs, built from a config: device, data splits, space, super-net, table.

``build_components`` wires the real modules (``wsbench.data``, ``wsbench.spaces``, ``wsbench.supernet``,
``wsbench.benchmarks``, ``wsbench.evaluate``). ``train_supernet`` also accepts a ready ``Components`` so that
tests and notebooks can train any ``nn.Module`` taking ``(x, arch)`` on any tensors.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from wsbench.config import EvalCfg, RunCfg
from wsbench.spaces import space_of  # noqa: F401 - part of this module's API (the space of a run)


@dataclass
class Components:
    """The pieces of a run. ``model_factory`` builds a fresh, seeded super-net (called after seeding)."""

    device: torch.device
    splits: Any  # wsbench.data.Splits (train_x, train_y, valid_x, valid_y, mean, std, num_classes, ...)
    space: Any  # wsbench.spaces.base.SearchSpace
    model_factory: Callable[[], torch.nn.Module]
    # (x, y, batch_size, mean, std, augment) -> object with epoch(generator) and len(); None: the splits'
    # own ``train_iterator(batch_size, augment)`` (padding and flips suited to the dataset)
    batch_iterator: Callable[..., Any] | None = None
    table: Any = None  # GroundTruth or None (then no evaluation)
    evaluate: Callable[..., dict[str, Any]] | None = None  # wsbench.evaluate.evaluate_supernet signature
    select_archs: Callable[..., list[Any]] | None = None  # wsbench.evaluate.select_eval_archs signature


def resolve_device(name: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else is passed to ``torch.device``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ValueError(f"protocol.device={name!r} is not a torch device (use auto, cpu or cuda)") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("protocol.device asks for CUDA but none is available; use protocol.device=auto or cpu")
    return device


def load_ground_truth(cfg: EvalCfg, data_dir: Path | None) -> Any:
    """The table named in ``cfg.ground_truth`` ("table:metric"), or None with a warning when it is unavailable."""
    from wsbench.benchmarks.reference import GroundTruthRef
    from wsbench.benchmarks.store import load_table, table_path
    from wsbench.benchmarks.table import TableError

    ref = GroundTruthRef.parse(cfg.ground_truth)
    name, metric = ref.table, ref.metric  # parse refuses a reference without a table or a metric
    try:
        table = load_table(name, data_dir)
    except TableError as exc:
        if table_path(name, data_dir).exists():  # imported but unreadable: evaluating nothing would look like success
            raise
        warnings.warn(f"evaluation skipped: {exc}", stacklevel=2)
        return None
    if not table.has(metric):
        warnings.warn(f"evaluation skipped: table {name!r} has no metric {metric!r} (it has {table.metrics()})",
                      stacklevel=2)
        return None
    # the columns an evaluation reads are checked against the table's digests now, not hours later
    table.verify([c for c in table.columns if c in ("key", metric) or c.startswith(metric + "@")])
    return table


def build_components(cfg: RunCfg, data_dir: Path | None, need_table: bool = True) -> Components:
    """Build the real components of ``cfg`` (imports torch-side modules lazily)."""
    from wsbench.data import load_splits
    from wsbench.spaces import build_supernet

    device = resolve_device(cfg.protocol.device)
    if cfg.protocol.threads is not None:
        torch.set_num_threads(int(cfg.protocol.threads))
    splits = load_splits(cfg.data, data_dir, device)
    space = space_of(cfg)
    in_channels = int(splits.train_x.shape[1])

    def model_factory() -> torch.nn.Module:
        return build_supernet(cfg.space.name, cfg.mapping, splits.num_classes, in_channels=in_channels,
                              subspace=cfg.space.subspace)

    table = load_ground_truth(cfg.eval, data_dir) if need_table else None
    evaluate = select = None
    if table is not None:
        from wsbench.evaluate import evaluate_supernet, select_eval_archs

        evaluate, select = evaluate_supernet, select_eval_archs
    return Components(device, splits, space, model_factory, None, table, evaluate, select)


def seed_from(*parts: int) -> int:
    """A 63-bit seed derived from integers (e.g. ``(seed, epoch, stream)``) with numpy's SeedSequence."""
    hi, lo = (int(v) for v in np.random.SeedSequence([int(p) for p in parts]).generate_state(2, np.uint32))
    return ((hi << 32) | lo) & ((1 << 63) - 1)
