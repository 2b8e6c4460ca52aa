"""Judge a trained super-net: proxy accuracies of a fixed architecture list, ranking metrics, baseline, record.

``evaluate_supernet`` builds the fixed BN batches (training split) and evaluation batches (validation split)
from seeded generators, evaluates every architecture with ``evaluate_archs``, compares with the ground truth
named by ``cfg.eval.ground_truth`` (``"table:metric"``), adds the parameter-count baseline (how well the
stand-alone parameter count alone ranks the same architectures) and writes ``evals/<tag>.parquet``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from wsbench.atomic import atomic_path
from wsbench.benchmarks.table import GroundTruth
from wsbench.config import EvalCfg, RunCfg
from wsbench.evaluate import metrics as M
from wsbench.evaluate.bn import effective_bn_mode
from wsbench.evaluate.proxy import Batch, evaluate_archs_full

#: Seed offsets so that BN and evaluation batches never share a generator stream.
_BN_SEED, _EVAL_SEED = 1_000_003, 2_000_003


def parse_ground_truth(spec: str) -> tuple[str, str]:
    """``"nb201:cifar10_test_200ep"`` -> ``("nb201", "cifar10_test_200ep")`` (``GroundTruthRef.parse``)."""
    from wsbench.benchmarks.reference import GroundTruthRef

    ref = GroundTruthRef.parse(spec)
    return ref.table, ref.metric


def fixed_eval_batches(x: torch.Tensor, y: torch.Tensor, n_batches: int, batch_size: int, seed: int,
                       splits: Any, device: torch.device) -> list[Batch]:
    """``n_batches`` normalised, un-augmented batches drawn without replacement by a generator seeded ``seed``.

    When the split holds fewer than ``n_batches * batch_size`` images, all of them are used (the last batch
    may be smaller). The generator lives on the CPU, so the batches do not depend on the device.
    """
    from wsbench.data import fixed_batches

    if n_batches < 1 or batch_size < 1:
        raise ValueError(f"need >= 1 batch of >= 1 image, got {n_batches} x {batch_size}")
    gen = torch.Generator().manual_seed(int(seed))
    batches = fixed_batches(x, y, batch_size, n_batches, splits.mean, splits.std, generator=gen)
    return [(xb.to(device), yb.to(device=device, dtype=torch.long)) for xb, yb in batches]


def proxy_batches(ev: EvalCfg, splits: Any, device: torch.device) -> tuple[list[Batch], list[Batch]]:
    """The fixed BN batches (training split) and evaluation batches (validation split) of ``ev``.

    Every evaluation of a run (ranking metrics, super-net-scored search) draws them with these seeds, so all
    architectures are scored on exactly the same images.
    """
    bn = fixed_eval_batches(splits.train_x, splits.train_y, ev.bn_batches, ev.bn_batch_size,
                            ev.arch_seed + _BN_SEED, splits, device)
    evb = fixed_eval_batches(splits.valid_x, splits.valid_y, ev.eval_batches, ev.eval_batch_size,
                             ev.arch_seed + _EVAL_SEED, splits, device)
    return bn, evb


def evaluate_supernet(model: nn.Module, cfg: RunCfg, splits: Any, table: GroundTruth, archs: list[Any],
                      device: torch.device | str, out_dir: str | Path | None = None,
                      tag: str = "final") -> dict[str, Any]:
    """Evaluate ``archs`` on ``model`` and return the metrics (and write ``evals/<tag>.parquet`` to ``out_dir``).

    Returned keys: supernet_accuracy, kendall_tau, sparse_kendall_tau, spearman, p_beat_random,
    p_beat_random_search, found_quantile, final_model_accuracy, n_archs, bn_mode, bn_mode_effective,
    ground_truth, proxy, ranked_by, supernet_loss, acc_/loss_ {sparse_kendall_tau, kendall_tau, spearman,
    final_model_accuracy} (both proxies side by side), params_spearman, params_kendall_tau,
    params_sparse_kendall_tau, eval_seconds, archs_per_second.
    """
    from wsbench.benchmarks.subspace import subspace_mask
    from wsbench.spaces import space_of

    ev = cfg.eval
    device = torch.device(device)
    from wsbench.benchmarks.reference import GroundTruthRef

    ref = GroundTruthRef.parse(ev.ground_truth)
    table_name, metric = ref.table, ref.metric
    rep: Any = "mean" if ref.repeat is None else ref.repeat  # one named repeat, else the mean over the repeats
    if table_name != table.name:
        raise ValueError(f"eval.ground_truth names table {table_name!r} but table {table.name!r} was given")
    if not archs:
        raise ValueError("no architectures to evaluate; draw them with select_eval_archs")
    space = space_of(cfg)
    keys = space.keys(archs)
    truth = table.values(metric, table.index(keys), repeat=rep)
    if not np.isfinite(truth).all():
        raise ValueError(f"{int((~np.isfinite(truth)).sum())} evaluated architectures have no {metric!r} value "
                         f"in table {table.name!r}; draw the list with select_eval_archs")
    # r_max: the (sub-)space's population
    all_truth = table.values(metric, repeat=rep)[subspace_mask(table, cfg.space.name, cfg.space.subspace)]
    params = np.asarray([space.num_params(a) for a in archs], dtype=np.float64)

    use_cuda = device.type == "cuda"
    bn_batches, eval_batches = proxy_batches(ev, splits, device)
    if use_cuda:
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    # channels-last inputs speed up evaluation on CPU too (bench/bench_eval.py), so the switch applies on both
    proxy, loss = evaluate_archs_full(model, archs, bn_batches, eval_batches, ev.bn_mode,
                                      amp=cfg.protocol.amp and use_cuda, channels_last=cfg.protocol.channels_last,
                                      cpu_bf16=cfg.protocol.cpu_bf16)
    seconds = time.perf_counter() - start

    scores = proxy_scores(proxy, loss, params)
    # the headline keys are the super-net's own ranking; an ensemble with the parameter count (``accuracy_params``)
    # is reported only under its own ``hybrid_*`` keys
    own = "accuracy" if ev.proxy == "accuracy_params" else ev.proxy
    score = scores[own]
    top_k = min(ev.top_k, len(archs))
    result: dict[str, Any] = M.ranking_metrics(score, truth, all_truth, ev.skt_threshold, top_k)
    result.update(_proxy_variants(scores, loss, truth, ev.skt_threshold, top_k))
    result.update({
        "proxy": ev.proxy,
        "ranked_by": own,
        "supernet_accuracy": M.supernet_accuracy(proxy),
        "n_archs": len(archs),
        "bn_mode": ev.bn_mode,
        "bn_mode_effective": effective_bn_mode(model, ev.bn_mode),
        "ground_truth": ev.ground_truth,
        **_params_baseline(params, truth, ev.skt_threshold),
        "eval_seconds": seconds,
        "archs_per_second": len(archs) / seconds if seconds > 0 else float("inf"),
    })
    if out_dir is not None:
        frame = pd.DataFrame({"key": keys, "proxy_acc": proxy, "proxy_loss": loss, "truth": truth,
                              "params": params.astype(np.int64)})
        write_parquet(frame, Path(out_dir) / "evals" / f"{tag}.parquet")
    return result


def proxy_scores(acc: np.ndarray, loss: np.ndarray, params: np.ndarray) -> dict[str, np.ndarray]:
    """The scores ``eval.proxy`` can rank by (higher = better).

    ``accuracy_params`` is the mean of the accuracy rank and the parameter-count rank (ties averaged): the
    super-net's ranking error is anti-correlated with the parameter count at low fidelity (it over-ranks
    skip-heavy cells, docs/low-fidelity.md), so the two rankings correct each other.
    """
    from scipy.stats import rankdata

    return {"accuracy": acc, "neg_loss": -loss,
            "accuracy_params": (rankdata(acc) + rankdata(params)) / 2.0 if len(acc) else acc}


def _proxy_variants(scores: dict[str, np.ndarray], loss: np.ndarray, truth: np.ndarray, threshold: float,
                    top_k: int) -> dict[str, float]:
    """Ranking by each proxy side by side (``acc_*``, ``loss_*`` and ``hybrid_*`` keys)."""
    out: dict[str, float] = {"supernet_loss": float(np.mean(loss))}
    if len(loss) < 2:
        return out
    names = {"acc": "accuracy", "loss": "neg_loss", "hybrid": "accuracy_params"}
    for name, key in names.items():
        score = scores[key]
        out[f"{name}_sparse_kendall_tau"] = M.sparse_kendall_tau(score, truth, threshold)
        out[f"{name}_kendall_tau"] = M.kendall_tau(score, truth)
        out[f"{name}_spearman"] = M.spearman(score, truth)
        out[f"{name}_final_model_accuracy"] = M.final_model_accuracy(score, truth, top_k)
    return out


def _params_baseline(params: np.ndarray, truth: np.ndarray, threshold: float) -> dict[str, float]:
    if len(params) < 2:
        return {"params_spearman": float("nan"), "params_kendall_tau": float("nan"),
                "params_sparse_kendall_tau": float("nan")}
    return {"params_spearman": M.spearman(params, truth), "params_kendall_tau": M.kendall_tau(params, truth),
            "params_sparse_kendall_tau": M.sparse_kendall_tau(params, truth, threshold)}


def write_parquet(frame: pd.DataFrame, path: Path) -> Path:
    """Write ``frame`` atomically as parquet."""
    with atomic_path(path, suffix=".parquet") as tmp:
        frame.to_parquet(tmp, index=False)
    return path
