"""One optimisation step, the core shared by super-net and stand-alone training.

Every path of the step runs forward on the same batch under the protocol's autocast, its cross-entropy (on fp32
logits) is divided by the number of paths and back-propagated (avg-k: the gradients are averaged), then the
gradients are clipped by global norm and the optimiser and the schedule step once. A stand-alone network is the
one-path case.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from wsbench.supernet.base import autocast
from wsbench.train.optim import clip_gradients


def optimisation_step(forward: Callable[[Any], torch.Tensor], paths: Sequence[Any], y: torch.Tensor,
                      optimizer: torch.optim.Optimizer, schedule: Any, params: Sequence[torch.nn.Parameter],
                      grad_clip: float | None, device: torch.device, amp: bool = False, cpu_bf16: bool = False,
                      record: Callable[[torch.Tensor, torch.Tensor], None] | None = None) -> None:
    """``forward(path) -> logits`` for each of ``paths``; ``record(loss, logits)`` sees every path's loss."""
    optimizer.zero_grad(set_to_none=True)
    k = len(paths)
    for path in paths:
        with autocast(device, amp, cpu_bf16):
            logits = forward(path)
        loss = F.cross_entropy(logits.float(), y)
        (loss / k).backward()
        if record is not None:
            record(loss, logits)
    clip_gradients(params, grad_clip)
    optimizer.step()
    schedule.step()
