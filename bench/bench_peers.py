"""Benchmark: wsbench's NB201 super-net beside xautodl's (NATS-Bench's own code), side by side in one process.

xautodl's ``GenericNAS201Model`` in its ``dynamic`` (single-path) mode against wsbench's ``NB201SuperNet`` on the
same architectures (seeded draw), batch, resolution, threads (1) and memory format, BN without affine parameters
or running statistics (Yu et al.'s setting) in both; repetitions interleaved, alternating which model goes first;
random images (speed does not depend on pixel values). Per setting: the median over architectures of the
training step (forward, backward, SGD) and of the evaluation forward pass (``no_grad``, the pass that bns-ft
evaluation repeats per architecture), and the ratio xautodl / wsbench (> 1: wsbench is faster).

NNI's ``NasBench201`` model space is turned into its single-path super-net by NNI's own ``RandomOneShot``
strategy (``mutate_model``, which replaces each ``LayerChoice`` by a ``PathSamplingLayer``); each step fixes the
path with ``resample`` on the sampling layers, as NNI's random one-shot training module does before every batch,
and runs forward / backward / SGD by hand: NNI's Lightning trainer around it (logging, hooks) is not timed, so
NNI's figure is its floor. NNI builds BN with affine parameters and running statistics; its BN layers are
replaced by ones without (the same BN as the other two) before the strategy builds the super-net.

xautodl and NNI are benchmark-only extras, never runtime dependencies: ``pip install --no-deps xautodl`` and
NNI 3.0 with what it imports (``make bench-peers-extras`` installs both into ``.bench-extras/``, which this script
puts on its path); a peer that is not installed is reported as such and skipped. ``--profile`` adds, per peer, the
share of the step spent in convolutions (torch.profiler), which bounds the speed-up any single-path super-net can
have over another that runs the same convolutions.
Writes bench/results/peers.json with machine info. Usage: ``python bench/bench_peers.py [--archs 8 --reps 3]
[--device cuda --out bench/results/gpu_peers.json]`` (bench/gpu_check.sh runs it on the GPU).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXTRAS = ROOT / ".bench-extras"  # where `make bench-extras` puts the peers (never on wsbench's own path)
if EXTRAS.is_dir():
    sys.path.append(str(EXTRAS))

import numpy as np  # noqa: E402 - after the extras folder is on the path
import torch  # noqa: E402
from torch import nn  # noqa: E402

from wsbench.atomic import write_json  # noqa: E402
from wsbench.config import MappingCfg  # noqa: E402
from wsbench.machine import machine_info  # noqa: E402
from wsbench.spaces import build_supernet, get_space  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "peers.json"
SETTINGS = (  # name, channels, cells per stage, batch, resolution, channels-last
    ("C=16 N=5 batch 128 32x32, NCHW", 16, 5, 128, 32, False),
    ("C=16 N=5 batch 128 32x32, channels-last", 16, 5, 128, 32, True),
    ("CPU preset size: C=8 N=1 batch 128 16x16, channels-last", 8, 1, 128, 16, True),
)
TINY = (("tiny: C=4 N=1 batch 8 16x16, channels-last", 4, 1, 8, 16, True),)
DEVICE = torch.device("cpu")
#: A peer: (channels, cells per stage) -> (model, forward(model, images, NB201 string) -> logits).
Peer = Callable[[int, int], tuple[nn.Module, Callable[[nn.Module, torch.Tensor, str], torch.Tensor]]]


def _xautodl(channels: int, cells: int) -> tuple[nn.Module, Callable]:
    """xautodl's NAS-Bench-201 search model in its single-path (``dynamic``) mode, BN affine F / track F."""
    from xautodl.models.cell_operations import NAS_BENCH_201
    from xautodl.models.cell_searchs.generic_model import GenericNAS201Model
    from xautodl.models.cell_searchs.genotypes import Structure

    model = GenericNAS201Model(channels, cells, 4, 10, NAS_BENCH_201, False, False)
    model.set_cal_mode("dynamic", None)

    def forward(m: nn.Module, x: torch.Tensor, text: str) -> torch.Tensor:
        m.dynamic_cell = Structure.str2structure(text)
        return m(x)[1]

    return model, forward


_NNI_OPS = {"none": "none", "skip_connect": "skip_connect", "nor_conv_1x1": "conv_1x1",
            "nor_conv_3x3": "conv_3x3", "avg_pool_3x3": "avg_pool_3x3"}


def _plain_bn(module: nn.Module) -> nn.Module:
    """Replace every BatchNorm2d below ``module`` by one without affine parameters or running statistics."""
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            setattr(module, name, nn.BatchNorm2d(child.num_features, affine=False, track_running_stats=False))
        else:
            _plain_bn(child)
    return module


def nni_memo(text: str) -> dict[str, str]:
    """An NB201 string as NNI's choice labels: ``cell/{input}_{node}`` -> NNI's op name."""
    memo = {}
    for node, group in enumerate(text.strip("|").split("|+|"), start=1):
        for edge in group.strip("|").split("|"):
            op, src = edge.split("~")
            memo[f"cell/{src}_{node}"] = _NNI_OPS[op]
    return memo


def _nni(channels: int, cells: int) -> tuple[nn.Module, Callable]:
    """NNI's NasBench201 space made single-path by NNI's RandomOneShot strategy, BN affine F / track F."""
    import warnings

    with warnings.catch_warnings():  # NNI 3.0 warns about module types of newer torch releases
        warnings.simplefilter("ignore")
        from nni.nas.hub.pytorch import NasBench201
        from nni.nas.oneshot.pytorch.strategy import RandomOneShot
        from nni.nas.oneshot.pytorch.supermodule.base import BaseSuperNetModule

        model = _plain_bn(NasBench201(channels, cells, 10))
        RandomOneShot().mutate_model(model)
    layers = [m for m in model.modules() if isinstance(m, BaseSuperNetModule)]

    def forward(m: nn.Module, x: torch.Tensor, text: str) -> torch.Tensor:
        memo = nni_memo(text)
        for layer in layers:  # what NNI's random one-shot module does before each batch
            layer.resample(memo)
        return m(x)

    return model, forward


def _wsbench(channels: int, cells: int) -> tuple[nn.Module, Callable]:
    model = build_supernet("nb201", MappingCfg(channels=channels, cells_per_stage=cells, bn_affine=False,
                                               bn_track_running_stats=False), 10)
    space = get_space("nb201")
    return model, lambda m, x, text: m(x, space.parse(text))


PEERS: dict[str, Peer] = {"xautodl": _xautodl, "nni": _nni}


def available_peers() -> dict[str, str]:
    """Each peer's version, or why it is not timed."""
    from importlib import metadata
    from importlib.util import find_spec

    out = {}
    for name in PEERS:
        if find_spec(name) is None:
            out[name] = "not installed (make bench-extras)"
        else:
            try:
                out[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                out[name] = "installed"
    return out


def _time(fn: Callable, *args: object) -> float:
    if DEVICE.type == "cuda":
        torch.cuda.synchronize(DEVICE)
    start = time.perf_counter()
    fn(*args)
    if DEVICE.type == "cuda":
        torch.cuda.synchronize(DEVICE)
    return time.perf_counter() - start


def _conv_share(step: Callable, texts: list[str]) -> dict:
    """Share of the self time of one step per architecture spent in convolution kernels (torch.profiler)."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if DEVICE.type == "cuda" else [])
    with profile(activities=activities) as prof:
        for text in texts:
            step(text)
    events = prof.key_averages()
    attr = "self_device_time_total" if DEVICE.type == "cuda" else "self_cpu_time_total"
    total = sum(getattr(e, attr) for e in events)
    conv = sum(getattr(e, attr) for e in events if "conv" in e.key.lower())
    top = sorted(events, key=lambda e: -getattr(e, attr))[:8]
    return {"conv_share": conv / total if total else 0.0, "self_ms_per_step": total / 1e3 / len(texts),
            "top_ops_ms_per_step": {e.key: getattr(e, attr) / 1e3 / len(texts) for e in top}}


def _setting(name: str, channels: int, cells: int, batch: int, side: int, cl: bool, texts: list[str], reps: int,
             peers: list[str], profile: bool) -> dict:
    """The medians and ratios of one setting, every model on the same batch and architectures."""
    fmt = torch.channels_last if cl else torch.contiguous_format
    builders = {"wsbench": _wsbench} | {p: PEERS[p] for p in peers}
    x = torch.randn(batch, 3, side, side, device=DEVICE).contiguous(memory_format=fmt)
    y = torch.randint(0, 10, (batch,), device=DEVICE)
    train, evaluate = {}, {}
    for key, build in builders.items():
        torch.manual_seed(0)
        model, forward = build(channels, cells)
        model = model.to(DEVICE, memory_format=fmt).train()
        opt = torch.optim.SGD(model.parameters(), lr=0.025, momentum=0.9)

        def step(text: str, model: nn.Module = model, forward: Callable = forward, opt: object = opt) -> None:
            opt.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(forward(model, x, text), y).backward()
            opt.step()

        def infer(text: str, model: nn.Module = model, forward: Callable = forward) -> None:
            with torch.no_grad():
                forward(model, x, text)

        train[key], evaluate[key] = step, infer
    order = list(builders)
    per_arch = {(kind, k): [] for kind in ("train", "eval") for k in order}
    for i, text in enumerate(texts):
        for k in order:  # warm-up on this architecture
            train[k](text)
        per = {key: [] for key in per_arch}
        for r in range(reps):
            turn = order[(i + r) % len(order):] + order[:(i + r) % len(order)]  # rotate who goes first
            for k in turn:
                per[("train", k)].append(_time(train[k], text))
                per[("eval", k)].append(_time(evaluate[k], text))
        for key, v in per.items():
            per_arch[key].append(statistics.median(v))
    med = {key: statistics.median(v) for key, v in per_arch.items()}
    row = {"train_ms": {k: 1e3 * med[("train", k)] for k in order},
           "eval_ms": {k: 1e3 * med[("eval", k)] for k in order},
           "train_speedup": {p: med[("train", p)] / med[("train", "wsbench")] for p in peers},
           "eval_speedup": {p: med[("eval", p)] / med[("eval", "wsbench")] for p in peers}}
    if profile:
        prof = row["profile_train"] = {k: _conv_share(train[k], texts) for k in order}
        conv_ms = prof["wsbench"]["conv_share"] * row["train_ms"]["wsbench"]
        # wsbench's step with everything but its convolutions removed: the most that a single-path super-net
        # running the same convolutions could gain over this peer
        row["speedup_bound"] = {p: row["train_ms"][p] / conv_ms for p in peers if conv_ms}
    parts = [f"{k} {row['train_ms'][k]:.1f}/{row['eval_ms'][k]:.1f} ms" for k in order]
    ratios = [f"{p} x{row['train_speedup'][p]:.2f}/x{row['eval_speedup'][p]:.2f}" for p in peers]
    print(f"{name} (train/eval): " + ", ".join(parts) + "; wsbench speed-up over " + ", ".join(ratios), flush=True)
    if profile:
        print("  conv share of the train step: " + ", ".join(
            f"{k} {row['profile_train'][k]['conv_share']:.0%}" for k in order) + "; bound on the speed-up: "
            + ", ".join(f"{p} x{b:.2f}" for p, b in row.get("speedup_bound", {}).items()), flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--archs", type=int, default=8)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--device", default="cpu", help="cpu or cuda (the GPU script passes cuda)")
    ap.add_argument("--tiny", action="store_true", help="one toy setting (the GPU script's CPU self-test)")
    ap.add_argument("--profile", action="store_true", help="add each model's convolution share (torch.profiler)")
    ap.add_argument("--check", action="store_true", help="only say which peers are installed (exit 1: none)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    global DEVICE
    DEVICE = torch.device(args.device)
    torch.set_num_threads(1)
    versions = available_peers()
    peers = [p for p, v in versions.items() if not v.startswith("not installed")]
    if args.check:
        print(", ".join(f"{p}: {v}" for p, v in versions.items()))
        raise SystemExit(0 if peers else 1)
    if not peers:
        raise SystemExit("no peer installed: make bench-extras (xautodl and NNI, benchmark-only extras)")
    space = get_space("nb201")
    texts = [space.format(a) for a in space.sample_unique(np.random.default_rng(0), args.archs)]
    rows = {}
    for name, channels, cells, batch, side, cl in TINY if args.tiny else SETTINGS:
        rows[name] = _setting(name, channels, cells, batch, side, cl, texts, args.reps, peers, args.profile)
    write_json(args.out, {"archs": args.archs, "reps": args.reps, "threads": 1, "bn": "affine F, track F",
                          "peers": versions, "settings": rows, "machine": machine_info(DEVICE)})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
