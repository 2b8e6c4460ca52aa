"""Reloading a trained super-net from its run directory alone (``config.yaml`` + newest verified checkpoint)."""

from __future__ import annotations

import json
import time
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


def evaluate_trained_by(trainer_dir: str | Path, out_dir: str | Path, cfg: Any,
                        data_dir: Path | None = None) -> dict[str, Any]:
    """Evaluate the super-net trained in ``trainer_dir`` under the evaluation settings of ``cfg`` into the run
    directory ``out_dir`` (a run of a study whose configuration differs from the trainer's only in ``eval.*``:
    e.g. no-ft and bns-ft of *To Share or Not To Share*, two evaluations of one trained super-net).

    ``out_dir`` gets ``config.yaml`` (``cfg``), the trainer's architecture list, ``metrics.jsonl`` /
    ``metrics.json`` / ``evals/final.parquet`` of this evaluation and ``status.json`` ``finished`` with
    ``trained_by``; nothing is written into ``trainer_dir``.
    """
    import shutil

    from wsbench.train.evalhook import ARCHS_FILE, eval_archs, run_evaluation
    from wsbench.train.run import RunDir

    overrides = [f"eval.{k}={json.dumps(v)}" for k, v in cfg.eval.model_dump(mode="json").items()]
    loaded = load_run(trainer_dir, data_dir, overrides)
    trainer, run = RunDir(trainer_dir), RunDir(out_dir)
    run.root.mkdir(parents=True, exist_ok=True)
    run.evals.mkdir(parents=True, exist_ok=True)
    run.write_config(cfg)
    if (trainer.evals / ARCHS_FILE).exists() and cfg.eval.n_archs == loaded.cfg.eval.n_archs:
        shutil.copyfile(trainer.evals / ARCHS_FILE, run.evals / ARCHS_FILE)
    if run.metrics_path.exists():  # an evaluation interrupted earlier starts again
        run.metrics_path.unlink()
    archs = eval_archs(run, loaded.comps, loaded.cfg)
    t0 = time.time()
    metrics = run_evaluation(loaded.model, loaded.comps, loaded.cfg, run, archs, loaded.epoch, loaded.step,
                             tag="final")
    run.write_final_metrics(metrics)
    run.write_status("finished", epoch=loaded.epoch, step=loaded.step, trained_by=Path(trainer_dir).name,
                     elapsed=time.time() - t0, device=str(loaded.comps.device))
    return metrics


def evaluate_run(run_dir: Path, data_dir: Path | None = None, overrides: list[str] | None = None,
                 tag: str = "final") -> dict[str, Any]:
    """Rebuild the super-net of ``run_dir`` from its config and newest checkpoint and evaluate it.

    Writes ``metrics.json`` (when ``tag == "final"``), ``evals/<tag>.parquet`` and ``scatter.png``.
    """
    from wsbench.train.evalhook import eval_archs, run_evaluation
    from wsbench.train.run import RunDir

    loaded = load_run(run_dir, data_dir, overrides)
    run, cfg, comps = RunDir(run_dir), loaded.cfg, loaded.comps
    archs = eval_archs(run, comps, cfg)
    if archs is not None and len(archs) != cfg.eval.n_archs:  # a different n asked for: draw a new list
        archs = list(comps.select_archs(comps.space, comps.table, cfg.eval.n_archs, cfg.eval.arch_seed))
    metrics = run_evaluation(loaded.model, comps, cfg, run, archs, loaded.epoch, loaded.step, tag=tag)
    if tag == "final":
        run.write_final_metrics(metrics)
    return metrics
