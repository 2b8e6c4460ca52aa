"""Cheap baselines a super-net must beat: the stand-alone parameter count and FLOPs of the judged cells.

The table's own ``params`` / ``flops`` columns are used where it has them (DARTS / NB301); otherwise the space
counts them at the benchmark's macro setting (``space.num_params`` / ``space.num_flops``, multiply-accumulates).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

COSTS = ("params", "flops")


def cost_baselines(table: Any, rows: np.ndarray | Sequence[int]) -> dict[str, np.ndarray]:
    """``{"params": ..., "flops": ...}`` for ``rows`` of ``table`` (NaN where neither the table nor the space
    can give a count); a cost missing for every row is left out."""
    rows = np.asarray(rows, dtype=np.int64)
    cols = {c.split("@")[0] for c in table.columns}
    out: dict[str, np.ndarray] = {}
    archs: list[Any] | None = None
    for cost in COSTS:
        if cost in cols:
            out[cost] = np.asarray(table.values(cost, rows), dtype=np.float64)
            continue
        if archs is None:
            archs = _archs(table, rows)
        fn = None if archs is None else getattr(_space(table), f"num_{cost}", None)
        if fn is None:
            continue
        vals = np.full(rows.size, np.nan)
        for i, arch in enumerate(archs):
            if arch is not None:
                vals[i] = float(fn(arch))
        if np.isfinite(vals).any():
            out[cost] = vals
    return out


def _space(table: Any) -> Any:
    from wsbench.spaces import get_space

    try:
        return get_space(table.space)
    except (KeyError, ValueError):
        return None


def _archs(table: Any, rows: np.ndarray) -> list[Any] | None:
    space = _space(table)
    if space is None:
        return None
    archs: list[Any] = []
    for text in table.arch_texts(rows):
        try:
            archs.append(space.parse(text))
        except ValueError:
            archs.append(None)
    return archs
