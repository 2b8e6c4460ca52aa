"""Optimisers and learning-rate schedule of the protocol P_ws.

* SGD: ``torch.optim.SGD`` with momentum, Nesterov and (coupled, L2) weight decay.
* ``RMSpropTF``: RMSprop as TensorFlow 1's ``tf.train.RMSPropOptimizer`` computes it (the NAS-Bench-101 protocol):

  ``ms = decay * ms + (1 - decay) * g**2``; ``mom = momentum * mom + lr * g / sqrt(ms + eps)``; ``w -= mom``.

  Two differences from ``torch.optim.RMSprop``: ``eps`` sits *inside* the square root (NB101 uses ``eps = 1``),
  and the mean-square accumulator ``ms`` starts at **ones** (TF1 creates that slot with a ones initialiser; Keras'
  later RMSprop starts at zeros). The learning rate multiplies the gradient before the momentum, as in TF.
  Weight decay is an L2 term added to the gradient (``g + wd * w``), as a TF regulariser in the loss would.
* ``CosineSchedule``: the learning rate is set **per optimiser step** (smoother than per epoch, identical at the
  endpoints): optional linear warm-up over ``warmup_steps``, then cosine decay from ``lr`` at the first post-warm-up
  step to ``min_lr`` at ``total_steps``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch

from wsbench.config import ProtocolCfg


class RMSpropTF(torch.optim.Optimizer):
    """TF1-style RMSprop (eps inside the square root, accumulator initialised to ones, momentum on the update)."""

    def __init__(self, params: Iterable[Any], lr: float = 0.2, decay: float = 0.9, momentum: float = 0.9,
                 eps: float = 1.0, weight_decay: float = 0.0):
        if lr < 0 or eps < 0 or not 0.0 <= decay < 1.0 or momentum < 0 or weight_decay < 0:
            raise ValueError(f"RMSpropTF: invalid hyper-parameters lr={lr}, decay={decay}, momentum={momentum}, "
                             f"eps={eps}, weight_decay={weight_decay} (need lr, eps, momentum, wd >= 0, "
                             f"0 <= decay < 1)")
        super().__init__(params, {"lr": lr, "decay": decay, "momentum": momentum, "eps": eps,
                                  "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:  # type: ignore[override]
        """One update of every parameter that has a gradient (parameters off the sampled path are skipped)."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, decay, mom, eps, wd = (group[k] for k in ("lr", "decay", "momentum", "eps", "weight_decay"))
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if wd != 0:
                    g = g.add(p, alpha=wd)
                state = self.state[p]
                if not state:
                    state["ms"] = torch.ones_like(p, memory_format=torch.preserve_format)
                    state["mom"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                ms, buf = state["ms"], state["mom"]
                ms.mul_(decay).addcmul_(g, g, value=1.0 - decay)
                update = g / (ms + eps).sqrt_()
                buf.mul_(mom).add_(update, alpha=lr)
                p.sub_(buf)
        return loss


def build_optimizer(params: Iterable[Any], cfg: ProtocolCfg) -> torch.optim.Optimizer:
    """The optimiser named by ``cfg.optimizer`` with the protocol's hyper-parameters."""
    params = list(params)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                               nesterov=cfg.nesterov and cfg.momentum > 0)
    if cfg.optimizer == "rmsprop_tf":
        return RMSpropTF(params, lr=cfg.lr, decay=cfg.rmsprop_decay, momentum=cfg.momentum, eps=cfg.rmsprop_eps,
                         weight_decay=cfg.weight_decay)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}; choose sgd or rmsprop_tf")


class CosineSchedule:
    """Per-step learning rate: linear warm-up, then cosine decay to ``min_lr`` (or constant)."""

    def __init__(self, optimizer: torch.optim.Optimizer, base_lr: float, total_steps: int, min_lr: float = 0.0,
                 warmup_steps: int = 0, kind: str = "cosine"):
        if total_steps < 1:
            raise ValueError(f"schedule needs total_steps >= 1, got {total_steps}")
        if kind not in ("cosine", "constant"):
            raise ValueError(f"unknown schedule {kind!r}; choose cosine or constant")
        self.optimizer = optimizer
        self.base_lr = float(base_lr)
        self.min_lr = float(min_lr)
        self.total_steps = int(total_steps)
        self.warmup_steps = max(0, min(int(warmup_steps), self.total_steps))
        self.kind = kind
        self.step_count = 0
        self._apply()

    def lr_at(self, step: int) -> float:
        """Learning rate of update number ``step`` (0-based); ``lr_at(total_steps) == min_lr`` for cosine."""
        if step < self.warmup_steps:
            return self.base_lr * (step + 1) / self.warmup_steps
        if self.kind == "constant":
            return self.base_lr
        span = max(1, self.total_steps - self.warmup_steps)
        frac = min(1.0, (step - self.warmup_steps) / span)
        return self.min_lr + (self.base_lr - self.min_lr) * 0.5 * (1.0 + math.cos(math.pi * frac))

    @property
    def lr(self) -> float:
        """The learning rate the next optimiser step uses."""
        return self.lr_at(self.step_count)

    def _apply(self) -> None:
        lr = self.lr_at(self.step_count)
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def step(self) -> None:
        """Advance after an optimiser step."""
        self.step_count += 1
        self._apply()

    def state_dict(self) -> dict[str, Any]:
        return {"step_count": self.step_count, "total_steps": self.total_steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step_count = int(state["step_count"])
        self._apply()


def build_schedule(optimizer: torch.optim.Optimizer, cfg: ProtocolCfg, steps_per_epoch: int) -> CosineSchedule:
    """The protocol's schedule over ``cfg.epochs * steps_per_epoch`` steps (warm-up given in epochs)."""
    return CosineSchedule(optimizer, cfg.lr, cfg.epochs * steps_per_epoch, min_lr=cfg.min_lr,
                          warmup_steps=cfg.warmup_epochs * steps_per_epoch, kind=cfg.schedule)


def clip_gradients(params: list[torch.nn.Parameter], max_norm: float | None) -> None:
    """Clip by global norm (no host sync); a no-op when ``max_norm`` is None or non-positive."""
    if max_norm is None or max_norm <= 0:
        return
    grads = [p for p in params if p.grad is not None]
    if grads:
        torch.nn.utils.clip_grad_norm_(grads, max_norm)
