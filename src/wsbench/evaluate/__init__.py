"""Proxy evaluation of super-nets: BN modes, fixed architecture lists, ranking metrics, study records.

Heavy modules (torch) load lazily, so ``from wsbench.evaluate import ranking_metrics`` stays light.
"""

from __future__ import annotations

from typing import Any

from wsbench.evaluate.metrics import (
    MetricError,
    final_model_accuracy,
    kendall_tau,
    p_beat_random,
    p_beat_random_search,
    ranking_metrics,
    sparse_kendall_tau,
    spearman,
    supernet_accuracy,
)

_LAZY = {
    "bn_reestimation": "wsbench.evaluate.bn",
    "reestimate_bn": "wsbench.evaluate.bn",
    "effective_bn_mode": "wsbench.evaluate.bn",
    "BN_MODES": "wsbench.evaluate.bn",
    "evaluate_archs": "wsbench.evaluate.proxy",
    "evaluate_archs_full": "wsbench.evaluate.proxy",
    "select_eval_archs": "wsbench.evaluate.archs",
    "save_arch_list": "wsbench.evaluate.archs",
    "load_arch_list": "wsbench.evaluate.archs",
    "ArchListError": "wsbench.evaluate.archs",
    "evaluate_supernet": "wsbench.evaluate.study",
    "fixed_eval_batches": "wsbench.evaluate.study",
}

__all__ = [
    "MetricError", "final_model_accuracy", "kendall_tau", "p_beat_random", "p_beat_random_search",
    "ranking_metrics", "sparse_kendall_tau", "spearman", "supernet_accuracy", *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'wsbench.evaluate' has no attribute {name!r}")
