"""Reloading a trained super-net from its run directory alone (``config.yaml`` + newest verified checkpoint)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class LoadedRun:
    """A reloaded super-net run: its config, components (splits, space, table, device) and trained model."""

    root: Path
    cfg: Any  # wsbench.config.RunCfg
    comps: Any  # wsbench.train.setup.Components
    model: Any  # torch.nn.Module, in eval mode
    epoch: int
    step: int


def load_run(run_dir: str | Path, data_dir: Path | None = None, overrides: list[str] | None = None) -> LoadedRun:
    """Rebuild the super-net of ``run_dir`` from its ``config.yaml`` and newest verified checkpoint."""
    from wsbench.config import load_config
    from wsbench.train.checkpoint import load_checkpoint
    from wsbench.train.run import RunDir
    from wsbench.train.setup import build_components

    run = RunDir(run_dir)
    if not run.config_path.exists():
        raise FileNotFoundError(f"{run_dir} is not a run directory (no config.yaml); train one with `wsbench train`")
    cfg = load_config(run.config_path, overrides or [])
    comps = build_components(cfg, data_dir, need_table=True)
    if comps.table is None:
        raise FileNotFoundError(f"the ground-truth table of {cfg.eval.ground_truth!r} is not imported; "
                                f"run `wsbench data import ../shared/data` (or pass --data-dir)")
    state = load_checkpoint(run.checkpoints)
    model = comps.model_factory().to(comps.device)
    model.load_state_dict(state["model"])
    model.eval()
    return LoadedRun(run.root, cfg, comps, model, int(state.get("epoch", 0)), int(state.get("step", 0)))
