"""Train one architecture stand-alone under a protocol and measure it: accuracies, parameters, FLOPs, time.

``train_unit(protocol, space, arch_text, seed)`` is one unit of work of a ground-truth build. The network is the
space's plain stand-alone network (the same blocks as its super-net, ``wsbench.supernet``), initialised after
``torch.manual_seed`` of a seed derived from ``seed``; each epoch's data order and augmentation come from a
``torch.Generator`` seeded from ``(seed, epoch)``. Seed ``s`` therefore means the same initialisation stream and
data order for every architecture, as the benchmarks' repeats do. On the CPU with a fixed thread count a unit is
reproducible bit for bit.

FLOPs are multiply-accumulates of the convolutions and linear layers for one input image (``count_macs``, with
``torch.utils.flop_counter``); batch norm, pooling, additions and activations are not counted.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
from torch import nn

from wsbench.config import DataCfg
from wsbench.spaces import build_standalone  # noqa: F401 - part of this module's API
from wsbench.standalone.protocol import StandaloneProtocol
from wsbench.supernet.base import autocast, count_params
from wsbench.train.optim import build_optimizer, build_schedule
from wsbench.train.setup import resolve_device, seed_from
from wsbench.train.step import optimisation_step

_INIT_STREAM, _DATA_STREAM = 11, 12



def count_macs(model: nn.Module, input_shape: tuple[int, ...], device: torch.device | str = "cpu") -> int:
    """Multiply-accumulates of the convolutions and matrix products for one input of ``input_shape`` (C, H, W).

    Counted by ``torch.utils.flop_counter.FlopCounterMode`` on one forward pass in eval mode (it sees functional
    convolutions too, e.g. sliced shared kernels): a convolution costs ``out.numel() * (in_channels / groups) *
    kh * kw``, a linear layer ``out.numel() * in_features``; biases, batch norm, pooling and additions are not
    counted. The model's training mode is restored.
    """
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(torch.zeros((1, *input_shape), device=device))
    finally:
        model.train(was_training)
    return int(counter.get_total_flops()) // 2  # the counter reports 2 FLOPs per multiply-accumulate


@lru_cache(maxsize=2)
def _cached_splits(data_json: str, data_dir: str | None, device: str) -> Any:
    from wsbench.data import load_splits

    return load_splits(DataCfg.model_validate_json(data_json), Path(data_dir) if data_dir else None,
                       torch.device(device))


def load_unit_splits(data: DataCfg, data_dir: str | Path | None, device: torch.device) -> Any:
    """The protocol's data splits on ``device``, cached per process (a worker reuses them across units)."""
    return _cached_splits(data.model_dump_json(), str(data_dir) if data_dir is not None else None, str(device))



def _eval_batches(x: torch.Tensor, y: torch.Tensor, splits: Any, batch_size: int) -> Iterator[tuple[Any, Any]]:
    from wsbench.data import normalize

    for start in range(0, len(x), batch_size):
        yield normalize(x[start:start + batch_size], splits), y[start:start + batch_size]


def accuracy(model: nn.Module, x: torch.Tensor | None, y: torch.Tensor | None, splits: Any, batch_size: int,
             amp: bool = False, channels_last: bool = False) -> float:
    """Top-1 accuracy (%) of ``model`` in eval mode on uint8 images ``x`` (NaN when ``x`` is None or empty)."""
    if x is None or y is None or len(x) == 0:
        return float("nan")
    model.eval()
    correct = torch.zeros((), dtype=torch.int64, device=x.device)
    with torch.no_grad():
        for xb, yb in _eval_batches(x, y, splits, batch_size):
            if channels_last:
                xb = xb.contiguous(memory_format=torch.channels_last)
            with autocast(x.device, amp):
                logits = model(xb)
            correct += (logits.argmax(dim=1) == yb).sum()
    return 100.0 * float(correct) / len(x)


def train_model(model: nn.Module, protocol: StandaloneProtocol, splits: Any, seed: int,
                device: torch.device) -> dict[str, float]:
    """Train ``model`` in place for ``protocol.train.epochs``; returns the last epoch's loss/accuracy and time."""
    t = protocol.train
    batches = splits.train_iterator(t.batch_size, augment=protocol.data.augment)
    if len(batches) < 1:
        raise ValueError(f"the training split has fewer images than one batch (train.batch_size={t.batch_size}); "
                         f"lower the batch size")
    pcfg = protocol.train
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = build_optimizer(params, pcfg)
    schedule = build_schedule(optimizer, pcfg, len(batches))
    channels_last = t.channels_last  # faster with oneDNN on CPUs too
    amp = device.type == "cuda" and t.amp
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    seen = 0
    start = time.perf_counter()
    diverged = False
    for epoch in range(t.epochs):
        model.train()
        gen = torch.Generator(device=splits.train_x.device)
        gen.manual_seed(seed_from(seed, epoch, _DATA_STREAM))
        loss_sum.zero_()
        correct.zero_()
        seen = 0
        for x, y in batches.epoch(gen):
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            def record(loss: torch.Tensor, logits: torch.Tensor, y: torch.Tensor = y) -> None:
                nonlocal seen
                loss_sum.add_(loss.detach())
                correct.add_((logits.detach().argmax(dim=1) == y).sum())
                seen += int(y.shape[0])

            optimisation_step(lambda _, x=x: model(x), (None,), y, optimizer, schedule, params, t.grad_clip, device,
                              amp, record=record)
        if not math.isfinite(float(loss_sum)):  # one host sync per epoch
            diverged = True
            break
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elapsed = time.perf_counter() - start
    n_batches = max(1, seen // max(1, t.batch_size))
    return {"train_loss": float(loss_sum) / n_batches, "train_acc": 100.0 * float(correct) / max(seen, 1),
            "train_time": elapsed, "diverged": diverged}


def train_unit(protocol: StandaloneProtocol, space_name: str, arch_text: str, seed: int,
               data_dir: str | Path | None = None, splits: Any = None) -> dict[str, Any]:
    """Train ``arch_text`` (the space's text form) with ``seed`` and return the unit's record.

    Keys: key, arch, seed, valid_acc, test_acc (percent; NaN without a test set), train_acc, train_loss (last
    epoch), train_time, eval_time (s), params, flops (MACs per image), epochs, diverged, device, fingerprint.
    Torch runs with ``protocol.train.num_threads`` threads meanwhile (small networks run fastest, and
    reproducibly, on one thread per unit; the previous setting is restored).
    """
    from wsbench.spaces import get_space

    space = get_space(space_name)
    arch = space.parse(arch_text)
    device = resolve_device(protocol.train.device)
    if splits is None:
        splits = load_unit_splits(protocol.data, data_dir, device)
    threads = torch.get_num_threads()
    torch.set_num_threads(protocol.train.num_threads)
    try:
        return _train_unit(protocol, space, arch, seed, splits, device)
    finally:
        torch.set_num_threads(threads)


def _train_unit(protocol: StandaloneProtocol, space: Any, arch: Any, seed: int, splits: Any,
                device: torch.device) -> dict[str, Any]:
    space_name = space.name
    torch.manual_seed(seed_from(seed, _INIT_STREAM))
    model = build_standalone(space_name, arch, protocol.mapping, splits.num_classes, splits.in_channels).to(device)
    params = count_params(model)
    flops = count_macs(model, tuple(splits.train_x.shape[1:]), device)
    if device.type == "cuda" and protocol.train.channels_last:
        model = model.to(memory_format=torch.channels_last)
    stats = train_model(model, protocol, splits, seed, device)
    t0 = time.perf_counter()
    t = protocol.train
    amp, cl = device.type == "cuda" and t.amp, device.type == "cuda" and t.channels_last
    valid_acc = accuracy(model, splits.valid_x, splits.valid_y, splits, t.eval_batch_size, amp, cl)
    test_acc = accuracy(model, splits.test_x, splits.test_y, splits, t.eval_batch_size, amp, cl)
    return {"key": space.key(arch), "arch": space.format(arch), "seed": int(seed), "valid_acc": valid_acc,
            "test_acc": test_acc, **stats, "eval_time": time.perf_counter() - t0, "params": params, "flops": flops,
            "epochs": t.epochs, "device": str(device), "fingerprint": protocol.fingerprint()}
