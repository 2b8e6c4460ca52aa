"""Proxy accuracy of many architectures from one trained super-net.

Every architecture sees the same fixed evaluation batches and, for ``bns-ft``, the same fixed BN batches
(common random numbers: differences between architectures are not blurred by data sampling noise). The model is
never copied; BN buffers are restored afterwards (``bn.bn_reestimation``). Correct predictions are counted on the
model's device into one tensor that is read back once at the end, so the loop has no host synchronisation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from wsbench.evaluate.bn import BNEvaluator, bn_reestimation, check_bn_mode
from wsbench.supernet.base import autocast

Batch = tuple[torch.Tensor, torch.Tensor]
ForwardFn = Callable[[torch.Tensor, Any], torch.Tensor]



def _check_batches(batches: Sequence[Batch], what: str) -> None:
    for i, b in enumerate(batches):
        if not (isinstance(b, (tuple, list)) and len(b) == 2):
            raise ValueError(f"{what}[{i}] must be an (x, y) pair of tensors")


def evaluate_archs(model: nn.Module, archs: Sequence[Any], bn_batches: Sequence[Batch],
                   eval_batches: Sequence[Batch], bn_mode: str = "bns-ft",
                   forward: ForwardFn | None = None, amp: bool = False,
                   channels_last: bool = False, cpu_bf16: bool = False) -> np.ndarray:
    """Top-1 accuracy (%) of each architecture in ``archs`` on ``eval_batches`` (see ``evaluate_archs_full``)."""
    return evaluate_archs_full(model, archs, bn_batches, eval_batches, bn_mode, forward, amp, channels_last,
                               cpu_bf16)[0]


def evaluate_archs_full(model: nn.Module, archs: Sequence[Any], bn_batches: Sequence[Batch],
                        eval_batches: Sequence[Batch], bn_mode: str = "bns-ft",
                        forward: ForwardFn | None = None, amp: bool = False,
                        channels_last: bool = False, cpu_bf16: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Top-1 accuracy (%) and mean cross-entropy loss of each architecture in ``archs`` on ``eval_batches``.

    The loss comes from the same forward passes as the accuracy (no extra cost); as a proxy (``eval.proxy:
    neg_loss``) it is a continuous score, so it is not quantised to 1/n_images like the accuracy.

    ``forward(x, arch)`` runs one architecture (default ``model(x, arch)``). ``bn_batches`` are the fixed
    training batches for ``bns-ft`` re-estimation (ignored by the other modes). ``amp`` enables bf16 autocast on
    CUDA (no effect on CPU). ``channels_last`` converts the batches (once, not the model) to the channels-last
    memory format, which oneDNN convolutions on CPU and tensor cores on GPU run faster (same results up to
    float rounding; see bench/bench_eval.py). The model's BN buffers and train/eval flags are the same afterwards.
    """
    mode = check_bn_mode(bn_mode)
    if not eval_batches:
        raise ValueError("evaluate_archs needs at least one evaluation batch (eval.eval_batches >= 1)")
    _check_batches(eval_batches, "eval_batches")
    fwd: ForwardFn = forward if forward is not None else model
    if channels_last:
        eval_batches = [(_to_cl(x), y) for x, y in eval_batches]
        bn_batches = [(_to_cl(x), y) for x, y in bn_batches]
    device = eval_batches[0][1].device
    total = sum(int(y.numel()) for _, y in eval_batches)
    correct = torch.zeros(len(archs), dtype=torch.int64, device=device)
    losses = torch.zeros(len(archs), dtype=torch.float64, device=device)
    with bn_reestimation(model), torch.no_grad(), autocast(device, amp, cpu_bf16):
        bn = BNEvaluator(model, mode, [b[0] for b in bn_batches] if mode == "bns-ft" else ())
        for i, arch in enumerate(archs):
            bn.prepare(_bind(fwd, arch))
            acc, loss = correct[i], losses[i]
            for x, y in eval_batches:
                logits = fwd(x, arch)
                acc += (logits.argmax(dim=1) == y).sum()
                loss += F.cross_entropy(logits.float(), y, reduction="sum").double()
    return (correct.cpu().numpy().astype(np.float64) * (100.0 / total),
            losses.cpu().numpy() / total)


def _to_cl(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x


def _bind(fwd: ForwardFn, arch: Any) -> Callable[[torch.Tensor], torch.Tensor]:
    def run(x: torch.Tensor) -> torch.Tensor:
        return fwd(x, arch)

    return run
