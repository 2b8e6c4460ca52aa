"""The super-net training loop (protocol P_ws): ``train_supernet(cfg, out_dir, ...)``.

Per step: the sampler gives the paths of the update (avg-k: ``k`` random paths; FairNAS: the ``o`` fair paths);
each path runs forward/backward on the same batch with loss ``/ len(paths)`` (gradients averaged), then the
gradients are clipped by global norm and one optimiser step is made. Loss and accuracy are accumulated on the
device and read back only every ``LOG_EVERY`` steps and at the end of each epoch (no host sync per step); a
non-finite loss is recorded on the device too and stops the run at the next read-back.

Determinism: the model is initialised after ``torch.manual_seed(seed)``; each epoch uses a data-order /
augmentation ``torch.Generator`` and a global torch seed (dropout; plus ``model.seed_dropout`` when the super-net
has its own dropout generators) derived from ``(seed, epoch)``; the path
sampler's numpy generator is seeded from ``seed`` and saved in each end-of-epoch checkpoint. A resumed run
therefore repeats the uninterrupted one exactly (bit for bit on CPU).
"""

from __future__ import annotations

import contextlib
import json
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from wsbench.atomic import write_text
from wsbench.config import RunCfg, dump_config
from wsbench.sampling import Sampler, make_sampler
from wsbench.train.checkpoint import has_checkpoint, load_checkpoint, save_checkpoint
from wsbench.train.evalhook import ARCHS_FILE, eval_archs, run_evaluation, should_evaluate
from wsbench.train.optim import CosineSchedule, build_optimizer, build_schedule
from wsbench.train.progress import TrainProgress
from wsbench.train.run import RunDir
from wsbench.train.setup import Components, build_components, seed_from
from wsbench.train.step import optimisation_step

LOG_EVERY = 50  # steps between read-backs of the device-side loss/accuracy (and divergence checks)
_DATA_STREAM, _TORCH_STREAM, _SAMPLER_STREAM, _DROPOUT_STREAM = 1, 2, 3, 4


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or infinite; the run directory is marked ``diverged``."""

    def __init__(self, epoch: int, step: int, message: str):
        super().__init__(message)
        self.epoch = epoch
        self.step = step


@dataclass
class Meter:
    """Device-side running sums between two read-backs, plus the first non-finite step (-1 = none)."""

    device: torch.device
    loss_sum: torch.Tensor = field(init=False)
    correct: torch.Tensor = field(init=False)
    bad_step: torch.Tensor = field(init=False)
    n_paths: int = 0  # forward passes (path x batch) accumulated
    n_samples: int = 0  # path-samples accumulated (for accuracy)
    n_images: int = 0  # batch images (for throughput)
    t0: float = field(default_factory=time.perf_counter)

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.loss_sum = torch.zeros((), device=self.device, dtype=torch.float32)
        self.correct = torch.zeros((), device=self.device, dtype=torch.int64)
        self.bad_step = torch.full((), -1, device=self.device, dtype=torch.int64)
        self.n_paths = self.n_samples = self.n_images = 0
        self.t0 = time.perf_counter()

    def add(self, loss: torch.Tensor, logits: torch.Tensor, y: torch.Tensor, step: int) -> None:
        loss = loss.detach().float()
        self.loss_sum += loss
        self.correct += (logits.detach().argmax(dim=1) == y).sum()
        bad = ~torch.isfinite(loss) & (self.bad_step < 0)
        self.bad_step = torch.where(bad, torch.full_like(self.bad_step, step), self.bad_step)
        self.n_paths += 1
        self.n_samples += int(y.shape[0])

    def read(self) -> dict[str, float]:
        """Sync once: mean loss, accuracy (%), images/s; raises nothing (see ``bad``)."""
        elapsed = max(time.perf_counter() - self.t0, 1e-9)
        loss = float(self.loss_sum) / max(self.n_paths, 1)
        acc = 100.0 * float(self.correct) / max(self.n_samples, 1)
        return {"loss": loss, "train_acc": acc, "images_per_s": self.n_images / elapsed}

    def bad(self) -> int:
        return int(self.bad_step)


@dataclass
class Trainer:
    """The mutable objects of one run (a plain record; the functions below do the work)."""

    cfg: RunCfg
    run: RunDir
    comps: Components
    model: torch.nn.Module
    sampler: Sampler
    optimizer: torch.optim.Optimizer
    schedule: CosineSchedule
    batches: Any
    params: list[torch.nn.Parameter] = field(default_factory=list)  # for gradient clipping
    epoch: int = 0  # completed epochs
    step: int = 0  # completed optimiser steps
    elapsed: float = 0.0  # training seconds over all sessions (without evaluation)



def _use_channels_last(cfg: RunCfg) -> bool:
    """Channels-last weights and batches: faster on GPUs and with oneDNN on CPUs (1.4-1.6x per training step
    for all three super-nets at the CPU presets' sizes, one thread; bench/bench_channels_last.py)."""
    return cfg.protocol.channels_last


def build_trainer(cfg: RunCfg, run: RunDir, comps: Components) -> Trainer:
    """Seed, build the model/sampler/optimiser/schedule and the batch iterator."""
    seed = cfg.protocol.seed
    torch.manual_seed(seed)
    model = comps.model_factory().to(comps.device)
    if _use_channels_last(cfg):
        model = model.to(memory_format=torch.channels_last)
    model.train()
    rng = np.random.default_rng(seed_from(seed, _SAMPLER_STREAM))
    sampler = make_sampler(cfg.protocol.sampler, comps.space, rng, cfg.protocol.paths_per_batch, table=comps.table)
    s = comps.splits
    if comps.batch_iterator is None:
        batches = s.train_iterator(cfg.protocol.batch_size, augment=cfg.data.augment)
    else:
        batches = comps.batch_iterator(s.train_x, s.train_y, cfg.protocol.batch_size, s.mean, s.std,
                                       cfg.data.augment)
    if len(batches) < 1:
        raise ValueError(f"the training split has fewer images than one batch (protocol.batch_size="
                         f"{cfg.protocol.batch_size}); lower the batch size")
    optimizer = build_optimizer(model.parameters(), cfg.protocol)
    schedule = build_schedule(optimizer, cfg.protocol, len(batches))
    return Trainer(cfg, run, comps, model, sampler, optimizer, schedule, batches, params=list(model.parameters()))


def _checkpoint_state(tr: Trainer) -> dict[str, Any]:
    return {"model": tr.model.state_dict(), "optimizer": tr.optimizer.state_dict(),
            "schedule": tr.schedule.state_dict(), "sampler": tr.sampler.state_dict(),
            "epoch": tr.epoch, "step": tr.step, "elapsed": tr.elapsed}


def restore(tr: Trainer) -> None:
    """Load the run's newest checkpoint into ``tr``."""
    state = load_checkpoint(tr.run.checkpoints)
    tr.model.load_state_dict(state["model"])
    tr.optimizer.load_state_dict(state["optimizer"])
    tr.schedule.load_state_dict(state["schedule"])
    tr.sampler.load_state_dict(state["sampler"])
    tr.epoch, tr.step, tr.elapsed = int(state["epoch"]), int(state["step"]), float(state["elapsed"])
    truncate_log(tr.run, tr.step)


def truncate_log(run: RunDir, step: int) -> None:
    """Keep the log up to the checkpoint's ``step``, without the final evaluation (which a resumed run repeats).

    The records of an epoch that the resumed run trains again have a larger step; the final evaluation is
    dropped too so that it is logged exactly once, by the session that finishes the run.
    """
    kept = [r for r in run.read_metrics()
            if int(r.get("step", 0)) <= step and not (r.get("kind") == "eval" and r.get("tag") == "final")]
    write_text(run.metrics_path, "".join(json.dumps(r) + "\n" for r in kept))


def evaluation_pending(run: RunDir, cfg: RunCfg, epoch: int) -> bool:
    """Whether the intermediate evaluation due after ``epoch`` is missing from the log.

    A run killed after the checkpoint of an evaluation epoch and before that evaluation was logged resumes at
    that epoch; the evaluation is then run first, with the checkpoint's weights (the ones it would have seen).
    """
    if epoch < 1 or not should_evaluate(cfg, epoch):
        return False
    tag = f"epoch{epoch}"
    return not any(r.get("kind") == "eval" and r.get("tag") == tag for r in run.read_metrics())


def train_step(tr: Trainer, x: torch.Tensor, y: torch.Tensor, meter: Meter) -> None:
    """One update: forward/backward every sampled path on ``(x, y)``, average, clip, step."""
    p = tr.cfg.protocol
    optimisation_step(lambda arch: tr.model(x, arch), tr.sampler.next(), y, tr.optimizer, tr.schedule, tr.params,
                      p.grad_clip, tr.comps.device, p.amp, p.cpu_bf16,
                      record=lambda loss, logits: meter.add(loss, logits, y, tr.step))
    tr.step += 1


def _log(tr: Trainer, meter: Meter, progress: TrainProgress, steps: int, elapsed: float) -> None:
    """Read back the meter, stop on divergence, append a metrics line."""
    bad = meter.bad()
    if bad >= 0:
        clip = tr.cfg.protocol.grad_clip
        hint = ("lower protocol.lr or set protocol.grad_clip (e.g. 5.0)" if clip is None else
                f"lower protocol.lr (protocol.grad_clip={clip:g} is already set; a smaller value may help too)")
        raise TrainingDiverged(tr.epoch + 1, bad, f"non-finite training loss at step {bad} (epoch {tr.epoch + 1}); "
                                                  f"{hint}")
    stats = meter.read()
    record = {"kind": "train", "epoch": tr.epoch + 1, "step": tr.step, **stats, "lr": tr.schedule.lr_at(tr.step - 1),
              "elapsed": elapsed}
    tr.run.append_metrics(record)
    progress.advance(steps, {"loss": stats["loss"], "acc": stats["train_acc"], "img/s": stats["images_per_s"]},
                     epoch=tr.epoch + 1)


def train_epoch(tr: Trainer, progress: TrainProgress, max_steps: int | None,
                on_step: Callable[[int], None] | None) -> bool:
    """Train one epoch; returns False when ``max_steps`` cut it short (no checkpoint is then written)."""
    seed = tr.cfg.protocol.seed
    torch.manual_seed(seed_from(seed, tr.epoch, _TORCH_STREAM))
    reseed = getattr(tr.model, "seed_dropout", None)  # super-nets with their own dropout generators
    if callable(reseed):
        reseed(seed_from(seed, tr.epoch, _DROPOUT_STREAM))
    gen = torch.Generator(device=tr.comps.splits.train_x.device)
    gen.manual_seed(seed_from(seed, tr.epoch, _DATA_STREAM))
    channels_last = _use_channels_last(tr.cfg)
    meter, pending, t_epoch = Meter(tr.comps.device), 0, time.perf_counter()
    completed = True
    for x, y in tr.batches.epoch(gen):
        if max_steps is not None and tr.step >= max_steps:
            completed = False
            break
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        train_step(tr, x, y, meter)
        meter.n_images += int(y.shape[0])
        pending += 1
        if on_step is not None:
            on_step(tr.step)
        if pending == LOG_EVERY:
            _log(tr, meter, progress, pending, tr.elapsed + time.perf_counter() - t_epoch)
            meter.reset()
            pending = 0
    if pending:
        _log(tr, meter, progress, pending, tr.elapsed + time.perf_counter() - t_epoch)
    tr.elapsed += time.perf_counter() - t_epoch
    if completed:
        tr.epoch += 1
    return completed


def _prepare_run(cfg: RunCfg, out_dir: Path, resume: bool) -> RunDir:
    run = RunDir(out_dir)
    _remove_stale_temporaries(run)
    if not resume and has_checkpoint(run.checkpoints):
        raise ValueError(f"{out_dir} already holds a trained run; resume it (--resume) or choose a new directory")
    if resume and not has_checkpoint(run.checkpoints):
        warnings.warn(f"no checkpoint in {run.checkpoints}: starting the run from scratch", stacklevel=3)
    if resume and run.config_path.exists() and run.config_path.read_text() != dump_config(cfg):
        warnings.warn(f"resuming {out_dir} with a config that differs from its config.yaml; the new one is used "
                      f"and saved", stacklevel=3)
    run.create()
    if cfg.protocol.tensorboard:
        run.enable_tensorboard()
    run.write_config(cfg)
    if not resume:  # a fresh run: forget the log and evaluation list of an earlier attempt without checkpoint
        for stale in (run.metrics_path, run.evals / ARCHS_FILE):
            stale.unlink(missing_ok=True)
    return run


def _remove_stale_temporaries(run: RunDir) -> None:
    """Temporary files (``.<name>.<random>.tmp``) of atomic writes that a killed process never renamed."""
    for folder in (run.root, run.checkpoints, run.evals):
        if folder.is_dir():
            for stale in folder.glob(".*.tmp"):
                if stale.is_file():
                    stale.unlink(missing_ok=True)


def train_supernet(cfg: RunCfg, out_dir: str | Path, data_dir: Path | None = None, resume: bool = False,
                   max_steps: int | None = None, quiet: bool = False, components: Components | None = None,
                   on_step: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Train a super-net under ``cfg`` into the run directory ``out_dir``; returns a summary dict.

    ``resume=True`` continues from ``out_dir/checkpoints`` exactly. ``max_steps`` caps the total number of
    optimiser steps (the cut epoch is not checkpointed). ``components`` replaces the real data/space/super-net
    (tests); ``on_step(step)`` is called after every step; ``quiet`` hides the progress bar (shown only on a
    terminal anyway). The summary holds ``status``, ``epoch``, ``step``,
    ``elapsed`` and ``metrics`` (final evaluation, also written to ``out_dir/metrics.json``, or None).
    Raises ``TrainingDiverged`` on a NaN/inf loss (``status.json`` says ``diverged``).
    """
    run = _prepare_run(cfg, Path(out_dir), resume)
    # the table is needed to evaluate, and by pro-rata / sandwich, which draw their population from its rows
    need_table = cfg.eval.final or bool(cfg.eval.eval_every) or cfg.protocol.sampler in ("pro_rata", "sandwich")
    comps = components if components is not None else build_components(cfg, data_dir, need_table=need_table)
    tr = build_trainer(cfg, run, comps)
    if resume and has_checkpoint(run.checkpoints):
        restore(tr)
    elif resume:  # killed before the first checkpoint: the log of that attempt is repeated from step 0
        truncate_log(run, 0)
    archs = eval_archs(run, comps, cfg) if (cfg.eval.final or cfg.eval.eval_every) else None
    device_name = str(comps.device)
    run.write_status("running", epoch=tr.epoch, step=tr.step, device=device_name, started=time.time())
    budget_s = cfg.protocol.max_minutes * 60.0 if cfg.protocol.max_minutes is not None else None
    stopped = "epochs"
    try:
        with TrainProgress(cfg.protocol.epochs * len(tr.batches), tr.step, quiet=quiet,
                           steps_per_epoch=len(tr.batches)) as progress:
            if archs is not None and evaluation_pending(run, cfg, tr.epoch):
                progress.evaluation(f"epoch{tr.epoch}", run_evaluation(tr.model, comps, cfg, run, archs, tr.epoch,
                                                                       tr.step, tag=f"epoch{tr.epoch}"))
            while tr.epoch < cfg.protocol.epochs:
                if not train_epoch(tr, progress, max_steps, on_step):
                    stopped = "max_steps"
                    break
                save_checkpoint(run.checkpoints, _checkpoint_state(tr))
                run.write_status("running", epoch=tr.epoch, step=tr.step, device=device_name, elapsed=tr.elapsed)
                if archs is not None and should_evaluate(cfg, tr.epoch):
                    progress.evaluation(f"epoch{tr.epoch}", run_evaluation(tr.model, comps, cfg, run, archs,
                                                                           tr.epoch, tr.step, tag=f"epoch{tr.epoch}"))
                if budget_s is not None and tr.elapsed > budget_s:
                    stopped = "max_minutes"
                    break
                if max_steps is not None and tr.step >= max_steps:
                    stopped = "max_steps"
                    break
    except TrainingDiverged as exc:
        run.write_status("diverged", epoch=exc.epoch, step=exc.step, message=str(exc), device=device_name)
        raise
    except BaseException as exc:
        with contextlib.suppress(OSError):  # a full or read-only disk: keep the original error
            run.write_status("failed" if isinstance(exc, Exception) else "interrupted", epoch=tr.epoch,
                             step=tr.step, message=f"{type(exc).__name__}: {exc}", device=device_name)
        raise
    metrics = None
    if archs is not None and cfg.eval.final:
        metrics = run_evaluation(tr.model, comps, cfg, run, archs, tr.epoch, tr.step, tag="final")
        run.write_final_metrics(metrics)
        TrainProgress(0, quiet=quiet).evaluation("final", metrics)
    elif cfg.eval.final:
        warnings.warn("no ground-truth table available: the final evaluation was skipped", stacklevel=2)
    run.write_status("finished", epoch=tr.epoch, step=tr.step, device=device_name, elapsed=tr.elapsed,
                     stopped=stopped)
    return {"status": "finished", "epoch": tr.epoch, "step": tr.step, "elapsed": tr.elapsed, "stopped": stopped,
            "metrics": metrics, "out_dir": str(run.root)}
