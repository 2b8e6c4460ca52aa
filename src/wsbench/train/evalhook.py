"""Evaluation during and after training: a fixed list of architectures, chosen once per run.

The list is saved as ``evals/archs.json`` (``wsbench.evaluate.archs.save_arch_list``: official text forms and
table keys), so that a resumed run evaluates exactly the same architectures. Each evaluation's metrics are appended to
``metrics.jsonl`` with ``kind="eval"`` and the epoch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from wsbench import atomic
from wsbench.config import RunCfg
from wsbench.train.run import RunDir
from wsbench.train.setup import Components

ARCHS_FILE = "archs.json"


def eval_archs(run: RunDir, comps: Components, cfg: RunCfg) -> list[Any] | None:
    """The run's evaluation architectures: read from ``evals/archs.json``, else selected and saved there."""
    if comps.table is None or comps.evaluate is None or comps.select_archs is None:
        return None
    from wsbench.evaluate.archs import load_arch_list, save_arch_list

    path = run.evals / ARCHS_FILE
    if path.exists():
        return load_arch_list(path, comps.space)
    archs = list(comps.select_archs(comps.space, comps.table, cfg.eval.n_archs, cfg.eval.arch_seed))
    save_arch_list(path, comps.space, archs, seed=cfg.eval.arch_seed)
    return archs


def should_evaluate(cfg: RunCfg, epochs_done: int) -> bool:
    """Intermediate evaluation after ``epochs_done`` epochs (the final one is handled separately)."""
    every = cfg.eval.eval_every
    return bool(every) and epochs_done % int(every) == 0 and epochs_done < cfg.protocol.epochs


def run_evaluation(model: torch.nn.Module, comps: Components, cfg: RunCfg, run: RunDir, archs: list[Any],
                   epoch: int, step: int, tag: str) -> dict[str, Any]:
    """Evaluate ``archs`` with the current weights, log the metrics and put the model back in training mode."""
    assert comps.evaluate is not None
    was_training = model.training
    atomic.fault_point(f"eval:{tag}:start")
    metrics = dict(comps.evaluate(model, cfg, comps.splits, comps.table, archs, comps.device, out_dir=run.root,
                                  tag=tag))
    model.train(was_training)
    atomic.fault_point(f"eval:{tag}:computed")
    run.append_metrics({"kind": "eval", "tag": tag, "epoch": epoch, "step": step, **metrics})
    atomic.fault_point(f"eval:{tag}:logged")
    parquet = run.evals / f"{tag}.parquet"
    if tag == "final" and parquet.exists():
        write_scatter(run, parquet, cfg)
    return metrics


def write_scatter(run: RunDir, parquet: Path, cfg: RunCfg) -> Path:
    """``scatter.png`` in the run directory: proxy accuracy against ground truth of one evaluation."""
    import pandas as pd

    from wsbench.plots.scatter import scatter_plot

    title = f"{cfg.name}: {cfg.eval.ground_truth}, {cfg.eval.bn_mode}"
    return scatter_plot(pd.read_parquet(parquet), run.root / "scatter.png", title, cfg.eval.skt_threshold)
