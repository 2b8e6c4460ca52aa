"""Batch-norm handling for proxy evaluation: re-estimation (bns-ft), trained statistics (no-ft), batch statistics.

``bns-ft`` (*To Share or Not To Share*, section 2.2.2): before evaluating an architecture, its BN running
statistics are re-estimated on K fixed training batches. The estimate is the exact cumulative average of the
K per-batch statistics (batch ``t`` gets weight ``1/t``, the same update torch performs with
``momentum=None``), not an exponential average in which the last batches dominate. We set the momentum to
``1/t`` explicitly before each batch: identical arithmetic, but torch's ``momentum=None`` path reads
``num_batches_tracked`` back to the host in every BN layer, which stalls a GPU.

Everything here touches only BN buffers and flags, never weights. ``bn_reestimation(model)`` snapshots every
BN layer (buffers, momentum, ``track_running_stats``) and every module's train/eval flag and restores them
exactly on exit, so the model's ``state_dict`` is bit-identical afterwards. BN layers built with
``track_running_stats=False`` get temporary running buffers during re-estimation, removed again on restore.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import nn

BNMode = Literal["bns-ft", "no-ft", "batch"]
BN_MODES: tuple[str, ...] = ("bns-ft", "no-ft", "batch")
_BN_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)
_BUFFERS = ("running_mean", "running_var", "num_batches_tracked")

BatchNorm = nn.BatchNorm2d | nn.BatchNorm1d | nn.BatchNorm3d | nn.SyncBatchNorm


class BNModeError(ValueError):
    """An unknown BN evaluation mode was requested."""


def check_bn_mode(mode: str) -> BNMode:
    """Return ``mode`` if it is one of ``BN_MODES``; raise ``BNModeError`` naming the choices otherwise."""
    if mode not in BN_MODES:
        raise BNModeError(f"unknown bn_mode {mode!r}; choose one of {', '.join(BN_MODES)}")
    return mode  # type: ignore[return-value]


def bn_layers(model: nn.Module) -> list[BatchNorm]:
    """All batch-norm layers of ``model`` (``nn.BatchNorm1d/2d/3d``, ``nn.SyncBatchNorm`` and subclasses)."""
    return [m for m in model.modules() if isinstance(m, _BN_TYPES)]


def effective_bn_mode(model: nn.Module, mode: str) -> str:
    """What ``mode`` amounts to on ``model``.

    ``no-ft`` uses the trained running statistics, but a BN layer without running buffers
    (``track_running_stats=False``) normalises with the batch statistics instead. Returns ``mode`` itself, or
    ``"batch"`` for ``no-ft`` when no layer has buffers, or ``"no-ft+batch"`` when only some have.
    """
    check_bn_mode(mode)
    if mode != "no-ft":
        return mode
    layers = bn_layers(model)
    tracked = [m.running_mean is not None for m in layers]
    if not layers or all(tracked):
        return "no-ft"
    return "batch" if not any(tracked) else "no-ft+batch"


@dataclass
class _LayerState:
    buffers: dict[str, torch.Tensor | None]
    values: dict[str, torch.Tensor]
    momentum: float | None
    track: bool


@dataclass
class BNSnapshot:
    """Saved BN buffers/flags and train/eval flags of a model, restorable exactly."""

    model: nn.Module
    layers: list[BatchNorm] = field(default_factory=list)
    _states: list[_LayerState] = field(default_factory=list)
    _training: list[tuple[nn.Module, bool]] = field(default_factory=list)

    @classmethod
    def take(cls, model: nn.Module) -> BNSnapshot:
        """Snapshot ``model`` (clones of BN buffers; references to the original buffer tensors)."""
        snap = cls(model, bn_layers(model))
        snap._training = [(m, m.training) for m in model.modules()]
        for m in snap.layers:
            bufs = {name: m._buffers.get(name) for name in _BUFFERS}
            vals = {name: t.detach().clone() for name, t in bufs.items() if t is not None}
            snap._states.append(_LayerState(bufs, vals, m.momentum, m.track_running_stats))
        return snap

    @torch.no_grad()
    def restore(self) -> None:
        """Put every BN buffer (same tensor objects, same values), momentum, flag and train/eval flag back."""
        for m, st in zip(self.layers, self._states, strict=True):
            for name, orig in st.buffers.items():
                if orig is not None:
                    orig.copy_(st.values[name])
                m._buffers[name] = orig
            m.momentum = st.momentum
            m.track_running_stats = st.track
        for mod, flag in self._training:
            mod.training = flag


@contextlib.contextmanager
def bn_reestimation(model: nn.Module) -> Iterator[BNSnapshot]:
    """Context in which BN statistics may be changed freely; on exit every BN buffer and flag is restored."""
    snap = BNSnapshot.take(model)
    try:
        yield snap
    finally:
        snap.restore()


def _first_tensor(batch: Any) -> torch.Tensor:
    return batch[0] if isinstance(batch, (tuple, list)) else batch


def _ensure_buffers(layers: Sequence[BatchNorm], device: torch.device) -> None:
    """Give layers without running buffers temporary ones and switch on tracking (for re-estimation)."""
    for m in layers:
        if m.running_mean is None or m.running_var is None:
            dev = m.weight.device if m.weight is not None else device
            m._buffers["running_mean"] = torch.zeros(m.num_features, device=dev)
            m._buffers["running_var"] = torch.ones(m.num_features, device=dev)
        if m.num_batches_tracked is None:
            m._buffers["num_batches_tracked"] = torch.zeros((), dtype=torch.long, device=m.running_mean.device)
        m.track_running_stats = True


@torch.no_grad()
def _reset(layers: Sequence[BatchNorm]) -> None:
    for m in layers:
        m.running_mean.zero_()
        m.running_var.fill_(1.0)
        m.num_batches_tracked.zero_()


def _set_training(layers: Sequence[BatchNorm], flag: bool) -> None:
    for m in layers:  # BN layers have no children: no need for the recursive ``train()``
        m.training = flag


@torch.no_grad()
def _cumulative_pass(layers: Sequence[BatchNorm], forward_fn: Callable[[torch.Tensor], Any],
                     batches: Sequence[Any]) -> None:
    """BN layers in train mode (the rest of the model must already be in eval mode), K forwards, BN back to eval."""
    _reset(layers)
    _set_training(layers, True)
    for t, batch in enumerate(batches, start=1):
        for m in layers:
            m.momentum = 1.0 / t  # cumulative average: new = old + (batch - old) / t
        forward_fn(_first_tensor(batch))
    _set_training(layers, False)


def reestimate_bn(model: nn.Module, forward_fn: Callable[[torch.Tensor], Any], batches: Iterable[Any]) -> None:
    """Re-estimate the running statistics of every BN layer as the exact average over ``batches``.

    ``forward_fn(x)`` runs the architecture of interest (e.g. ``lambda x: model(x, arch)``); ``batches`` holds
    tensors ``x`` or tuples ``(x, y)``. Only BN layers run in train mode (dropout stays off); no gradients.
    Afterwards the model is in eval mode and uses the new statistics; the momentum and ``track_running_stats``
    flags are put back (layers built without buffers keep the new ones, which eval mode then uses). Wrap in
    ``bn_reestimation(model)`` to get the original statistics back afterwards.
    """
    batches = list(batches)
    if not batches:
        raise ValueError("reestimate_bn needs at least one batch (set eval.bn_batches >= 1)")
    layers = bn_layers(model)
    flags = [(m.momentum, m.track_running_stats) for m in layers]
    _ensure_buffers(layers, _first_tensor(batches[0]).device)
    model.eval()
    _cumulative_pass(layers, forward_fn, batches)
    for m, (momentum, track) in zip(layers, flags, strict=True):
        m.momentum, m.track_running_stats = momentum, track


class BNEvaluator:
    """Prepares a model for evaluating many architectures under one BN mode (use inside ``bn_reestimation``).

    The constructor puts the model in eval mode (dropout off); for ``batch`` the BN layers then run in train mode
    without buffer updates, for ``no-ft`` they use the trained statistics. ``prepare(arch_forward)`` must be
    called before each architecture's evaluation batches: for ``bns-ft`` it re-estimates the statistics on the
    fixed BN batches (and does nothing for the other modes).
    """

    def __init__(self, model: nn.Module, mode: str, bn_batches: Sequence[Any] = ()):
        self.model = model
        self.mode = check_bn_mode(mode)
        self.layers = bn_layers(model)
        self.batches = list(bn_batches)
        model.eval()
        if self.mode == "bns-ft":
            if not self.batches:
                raise ValueError("bn_mode 'bns-ft' needs BN batches (eval.bn_batches >= 1)")
            _ensure_buffers(self.layers, _first_tensor(self.batches[0]).device)
        elif self.mode == "batch":
            for m in self.layers:
                m.track_running_stats = False  # train mode + no tracking: batch statistics, buffers untouched
            _set_training(self.layers, True)

    def prepare(self, arch_forward: Callable[[torch.Tensor], Any]) -> None:
        """Put the model in the right state to evaluate the architecture run by ``arch_forward``."""
        if self.mode == "bns-ft":
            _cumulative_pass(self.layers, arch_forward, self.batches)
