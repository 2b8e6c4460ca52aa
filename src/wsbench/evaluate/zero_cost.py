"""Zero-cost proxies: scores of a stand-alone network at initialisation from one batch, no training.

The proxies studied by *Zero-Cost Proxies for Lightweight NAS* (Abdelfattah et al., ICLR 2021) and
NAS-Bench-Suite-Zero, computed on the plain network of each architecture (built by the space's super-net module,
freshly initialised from ``seed``) on one fixed batch ``(x, y)``:

* ``grad_norm``: the sum over weight tensors of the L2 norm of the cross-entropy gradient;
* ``snip``: the sum of ``|w * dL/dw|`` (connection sensitivity);
* ``synflow``: with every weight replaced by its absolute value, BN layers removed (identity) and an all-ones
  input in double precision, the sum of ``w * dR/dw`` for ``R = sum(output)``;
* ``naswot``: Mellor et al.'s score, ``log|K|`` of the kernel of binary ReLU codes of the batch
  (``K[i, j]`` = number of ReLUs on which samples ``i`` and ``j`` agree);
* ``jacob_cov``: minus the sum of ``log(v + 1e-5) + 1 / (v + 1e-5)`` over the eigenvalues ``v`` of the
  correlation matrix of the per-sample input Jacobians of the summed logits.

Higher is better for every score. ``zero_cost_scores`` returns one row per architecture; the caller caches it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

PROXIES = ("grad_norm", "snip", "synflow", "naswot", "jacob_cov")


def _weights(model: nn.Module) -> list[nn.Parameter]:
    return [p for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear) for p in [m.weight]]


def grad_norm(model: nn.Module, x: Tensor, y: Tensor) -> float:
    model.train()
    model.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    return float(sum(p.grad.norm() for p in _weights(model) if p.grad is not None).detach())


def snip(model: nn.Module, x: Tensor, y: Tensor) -> float:
    model.train()
    model.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    with torch.no_grad():
        return float(sum((p.grad * p).abs().sum() for p in _weights(model) if p.grad is not None))


def _drop_bn(module: nn.Module) -> None:
    for name, child in module.named_children():
        if isinstance(child, nn.modules.batchnorm._BatchNorm):
            setattr(module, name, nn.Identity())
        else:
            _drop_bn(child)


def synflow(model: nn.Module, x: Tensor, y: Tensor) -> float:
    del y
    _drop_bn(model)
    model = model.double()
    model.eval()
    with torch.no_grad():
        for p in model.parameters():
            p.abs_()
    model.zero_grad()
    model(torch.ones_like(x, dtype=torch.float64)).sum().backward()
    with torch.no_grad():
        return float(sum((p * p.grad).sum() for p in _weights(model) if p.grad is not None))


def naswot(model: nn.Module, x: Tensor, y: Tensor) -> float:
    del y
    codes: list[Tensor] = []

    def hook(_m: nn.Module, _inp: Any, out: Tensor) -> None:
        codes.append((out.detach() > 0).flatten(1).to(torch.float64))

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.ReLU)]
    try:
        model.train()
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    if not codes:
        return float("nan")
    c = torch.cat(codes, dim=1)
    kernel = c @ c.T + (1 - c) @ (1 - c).T
    sign, logdet = torch.linalg.slogdet(kernel)
    return float(logdet) if float(sign) > 0 else float("-inf")


def jacob_cov(model: nn.Module, x: Tensor, y: Tensor) -> float:
    del y
    model.train()
    x = x.clone().requires_grad_(True)
    model.zero_grad()
    model(x).sum().backward()
    jac = x.grad.flatten(1).to(torch.float64)
    corr = torch.corrcoef(jac)
    v = torch.linalg.eigvalsh(torch.nan_to_num(corr))
    k = 1e-5
    return float(-(torch.log(v.clamp_min(0) + k) + 1.0 / (v.clamp_min(0) + k)).sum())


_FUNCS: dict[str, Callable[[nn.Module, Tensor, Tensor], float]] = {
    "grad_norm": grad_norm, "snip": snip, "synflow": synflow, "naswot": naswot, "jacob_cov": jacob_cov}


def zero_cost_scores(build: Callable[[Any], nn.Module], archs: Sequence[Any], x: Tensor, y: Tensor,
                     proxies: Sequence[str] = PROXIES, seed: int = 0) -> dict[str, np.ndarray]:
    """``{proxy: scores}`` for ``archs``; ``build(arch)`` makes the stand-alone network, re-seeded per cell and
    per proxy so that every score of a cell sees the same initial weights."""
    unknown = [p for p in proxies if p not in _FUNCS]
    if unknown:
        raise ValueError(f"unknown zero-cost proxy {unknown[0]!r}; choose from {', '.join(PROXIES)}")
    out = {p: np.empty(len(archs), dtype=np.float64) for p in proxies}
    for i, arch in enumerate(archs):
        for p in proxies:
            torch.manual_seed(seed)
            model = build(arch)
            out[p][i] = _FUNCS[p](model, x, y)
    return out


# -- cached scores of a table's cells ------------------------------------------------------------------------
# the macro setting each space's stand-alone network is scored at is the benchmark's own, registered with the
# space (SpaceInfo.zero_cost_setting: NB201 C=16 N=5; NB101 128 channels, 3 cells per stack; DARTS the NB301
# training network, C=32, 8 cells)


def batch_of(data_dir: Any = None, size: int = 64, seed: int = 0) -> tuple[Tensor, Tensor]:
    """The fixed scoring batch: ``size`` CIFAR-10 training images drawn with ``seed``, per-channel normalised."""
    from wsbench.data.cifar10 import load_cifar10

    data = load_cifar10(data_dir)
    pick = np.random.default_rng(seed).choice(len(data.train_y), size, replace=False)
    x = torch.from_numpy(np.ascontiguousarray(data.train_x[pick])).float() / 255.0
    mean, std = x.mean(dim=(0, 2, 3), keepdim=True), x.std(dim=(0, 2, 3), keepdim=True)
    return (x - mean) / std, torch.from_numpy(np.asarray(data.train_y[pick])).long()


def cache_file(data_dir: Any, table: Any, batch: int, seed: int, setting: dict[str, int]) -> Any:
    """Where the scores of ``table``'s cells live: one parquet per table and scoring setting."""
    import hashlib
    import json
    from pathlib import Path

    from wsbench.datadir import resolve_data_dir

    tag = json.dumps({"batch": batch, "seed": seed, **setting}, sort_keys=True)
    digest = hashlib.sha256(tag.encode()).hexdigest()[:12]
    return Path(resolve_data_dir(data_dir)) / "cache" / "zero_cost" / f"{table.name}-{digest}.parquet"


def cached_zero_cost(table: Any, rows: np.ndarray | Sequence[int], proxies: Sequence[str] = PROXIES,
                     data_dir: Any = None, batch: int = 64, seed: int = 0,
                     setting: dict[str, int] | None = None, threads: int | None = None) -> dict[str, np.ndarray]:
    """``{proxy: scores}`` of ``rows`` of ``table``, computed once per (cell, proxy) and kept in the data
    directory's cache (an atomic parquet of key + one column per proxy); later calls compute only what is
    missing. The stand-alone networks are the space's own at ``setting`` (default: the space's registered
    ``zero_cost_setting``)."""
    import pandas as pd

    from wsbench.atomic import atomic_path
    from wsbench.config import MappingCfg
    from wsbench.spaces import build_standalone, get_space

    unknown = [p for p in proxies if p not in _FUNCS]
    if unknown:
        raise ValueError(f"unknown zero-cost proxy {unknown[0]!r}; choose from {', '.join(PROXIES)}")
    from wsbench.registry import space_info

    info = space_info(table.space)
    if info.standalone is None or not (setting or info.zero_cost_setting):
        raise ValueError(f"space {table.space!r} registers no stand-alone network or zero-cost setting; "
                         f"zero-cost proxies need both (SpaceInfo.standalone, SpaceInfo.zero_cost_setting)")
    setting = dict(setting or info.zero_cost_setting)
    rows = np.asarray(rows, dtype=np.int64)
    keys = [str(k) for k in table.keys[rows]]
    path = cache_file(data_dir, table, batch, seed, setting)
    frame = pd.read_parquet(path) if path.exists() else pd.DataFrame({"key": pd.Series([], dtype=object)})
    frame = frame.set_index("key")
    for p in proxies:
        if p not in frame.columns:
            frame[p] = np.nan
    todo = [i for i, k in enumerate(keys) if k not in frame.index or frame.loc[k, list(proxies)].isna().any()]
    if todo:
        space = get_space(table.space)
        texts = table.arch_texts(rows[todo])
        x, y = batch_of(data_dir, batch, seed)
        mapping = MappingCfg(bn_affine=True, **setting)
        old = torch.get_num_threads()
        if threads:
            torch.set_num_threads(threads)
        try:
            scores = zero_cost_scores(lambda a: build_standalone(table.space, a, mapping, 10, 3),
                                      [space.parse(t) for t in texts], x, y, proxies, seed)
        finally:
            torch.set_num_threads(old)
        new = pd.DataFrame({p: scores[p] for p in proxies}, index=pd.Index([keys[i] for i in todo], name="key"))
        frame = new.combine_first(frame) if len(frame) else new
        with atomic_path(path, suffix=".parquet") as tmp:
            frame.reset_index().to_parquet(tmp, index=False)
    return {p: frame.loc[keys, p].to_numpy(np.float64) for p in proxies}
