"""Path samplers for super-net training: Random-NAS, Random-A, FairNAS and pro-rata.

A sampler returns, at each call of ``next()``, the list of architectures (paths) that share one input batch and
one optimiser update:

* ``random_nas``: ``paths_per_batch`` architectures drawn uniformly over the space's encodings (``space.sample``).
* ``random_a``: ``paths_per_batch`` architectures drawn uniformly over unique architectures (isomorphism classes,
  ``space.sample_unique``), so functions with many encodings are not over-sampled.
* ``fairnas``: the adaptation of FairNAS of *How to Train Your Super-Net* (appendix A.1): one topology is drawn,
  then, on every place that holds an operation choice, an independent random permutation of the ``o`` operations
  is drawn; path ``t`` takes the ``t``-th operation of every permutation. The ``o`` paths thus use every operation
  on every edge (node) exactly once; the training loop averages their gradients into one update.
  A space may provide its own ``fair_paths(rng) -> list[arch]``; otherwise NB201 (ops on the 6 fixed edges),
  NB101 (a topology from ``space.sample``, then the 3 ops permuted on each interior node) and DARTS (a topology
  from ``space.sample``, then the 7 ops permuted on each of the 8 edges of both cells) are built in.
* ``pro_rata``: architectures drawn with probability proportional to their stand-alone parameter count (the
  "pro-rata" variant of *To Share or Not To Share*, sec. 2.2.2): over all encodings when the space can enumerate
  itself cheaply (NB201: 15,625), else over the rows of a ground-truth table with a ``params`` column.
* ``sandwich``: the largest architecture (most stand-alone parameters; NB201: every edge a 3x3 convolution) plus
  ``paths_per_batch`` uniform encodings in every update, gradients averaged: the "sandwich rule" of slimmable
  networks / BigNAS without the smallest path (which, on NB201, is the all-``none`` cell with no signal). The
  largest path keeps the parametric operations trained from the first steps, against the early bias of a
  uniformly trained super-net towards parameter-free cells.

Randomness flows only through the ``numpy.random.Generator`` given at construction; its bit-generator state is
part of ``state_dict()`` (plain python types, loadable with ``torch.load(weights_only=True)``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np

from wsbench.benchmarks.subspace import SubspaceError, space_size, subspace_mask
from wsbench.registry import is_registered
from wsbench.spaces.base import SearchSpace

#: Spaces of at most this many cells are enumerated for pro-rata / sandwich (NB201); larger ones draw from a table.
ENUMERATE_AT_MOST = 100_000

SAMPLERS = ("random_nas", "random_a", "fairnas", "pro_rata", "sandwich")


class SamplerError(ValueError):
    """A sampler cannot be built for the given space/arguments."""


class Sampler:
    """Base class: holds the generator and the number of paths per update."""

    name: str = "base"

    def __init__(self, space: SearchSpace[Any], rng: np.random.Generator, paths_per_batch: int = 1):
        if paths_per_batch < 1:
            raise SamplerError(f"paths_per_batch must be >= 1, got {paths_per_batch}")
        self.space = space
        self.rng = rng
        self.paths_per_batch = int(paths_per_batch)

    def next(self) -> list[Any]:
        """Architectures of the next update (one forward/backward each, gradients averaged)."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """Plain-python state: sampler name and the generator's bit-generator state."""
        return {"name": self.name, "paths_per_batch": self.paths_per_batch, "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state from ``state_dict()``; the next draws then repeat those of the saved sampler."""
        if state.get("name") != self.name:
            raise SamplerError(f"sampler state is for {state.get('name')!r}, not {self.name!r}")
        self.rng.bit_generator.state = state["rng"]


class RandomNAS(Sampler):
    """Uniform over encodings (Random-NAS / SPOS)."""

    name = "random_nas"

    def next(self) -> list[Any]:
        return list(self.space.sample(self.rng, self.paths_per_batch))


class RandomA(Sampler):
    """Uniform over unique architectures (Random-A)."""

    name = "random_a"

    def next(self) -> list[Any]:
        return list(self.space.sample_unique(self.rng, self.paths_per_batch))


class FairNAS(Sampler):
    """FairNAS paths: every operation on every choice place exactly once per update (appendix A.1)."""

    name = "fairnas"

    def __init__(self, space: SearchSpace[Any], rng: np.random.Generator, paths_per_batch: int = 1):
        super().__init__(space, rng, 1)
        self._draw = _fair_builder(space)

    def next(self) -> list[Any]:
        return self._draw(self.rng)


class ProRata(Sampler):
    """Architectures drawn with probability proportional to their stand-alone parameter count."""

    name = "pro_rata"

    def __init__(self, space: SearchSpace[Any], rng: np.random.Generator, paths_per_batch: int = 1,
                 table: Any = None):
        super().__init__(space, rng, paths_per_batch)
        self.archs, params = _pro_rata_population(space, table)
        weights = np.asarray(params, dtype=np.float64)
        if weights.ndim != 1 or len(weights) == 0 or not np.all(np.isfinite(weights)) or (weights < 0).any():
            raise SamplerError("pro-rata needs finite, non-negative parameter counts for every architecture")
        self.probs = weights / weights.sum()
        self._cdf = np.cumsum(self.probs)
        self._cdf[-1] = 1.0

    def next(self) -> list[Any]:
        u = self.rng.random(self.paths_per_batch)
        idx = np.searchsorted(self._cdf, u, side="right")
        return [self.archs[int(i)] for i in idx]


class Sandwich(Sampler):
    """The largest architecture plus ``paths_per_batch`` uniform encodings in every update."""

    name = "sandwich"

    def __init__(self, space: SearchSpace[Any], rng: np.random.Generator, paths_per_batch: int = 1,
                 table: Any = None):
        super().__init__(space, rng, paths_per_batch)
        archs, params = _pro_rata_population(space, table)
        self.largest = archs[int(np.argmax(params))]

    def next(self) -> list[Any]:
        return [self.largest] + list(self.space.sample(self.rng, self.paths_per_batch))


# -- FairNAS builders -------------------------------------------------------------------------------------------
def _fair_builder(space: SearchSpace[Any]) -> Callable[[np.random.Generator], list[Any]]:
    """The space's own ``fair_paths(rng)`` (each space defines its strictly fair draw in its folder)."""
    hook = getattr(space, "fair_paths", None)
    if callable(hook):
        return lambda rng: list(hook(rng))
    raise SamplerError(f"FairNAS is not defined for space {getattr(space, 'name', '?')!r}: give the space a "
                       f"fair_paths(rng) method")


# -- pro-rata population ----------------------------------------------------------------------------------------
_PARAMS_CACHE: dict[tuple[type, str], tuple[tuple[Hashable, ...], np.ndarray]] = {}


def _enumerated_params(space: Any) -> tuple[tuple[Hashable, ...], np.ndarray]:
    """All encodings of an enumerable space with their parameter counts (computed once per process)."""
    cache_key = (type(space), space.name)
    if cache_key not in _PARAMS_CACHE:
        archs = tuple(space.enumerate())
        params = np.fromiter((space.num_params(a) for a in archs), dtype=np.float64, count=len(archs))
        _PARAMS_CACHE[cache_key] = (archs, params)
    return _PARAMS_CACHE[cache_key]


def _pro_rata_population(space: SearchSpace[Any], table: Any) -> tuple[Sequence[Any], np.ndarray]:
    """The architectures pro-rata / sandwich draw from, with their parameter counts: the enumeration of NB201,
    else the rows of ``table`` that the space can represent and holds (its sub-space, e.g. NB101 ``A4``)."""
    size = space_size(space.name) if is_registered(space.name) else None
    if hasattr(space, "enumerate") and size is not None and size <= ENUMERATE_AT_MOST:
        return _enumerated_params(space)
    if table is None or "params" not in getattr(table, "columns", []):
        raise SamplerError(f"pro-rata/sandwich on space {space.name!r} needs a ground-truth table with a 'params' "
                           f"column (e.g. eval.ground_truth=nb101-sample:...) to know the architectures' sizes")
    params = np.asarray(table.column("params"), dtype=np.float64)
    archs, kept = [], []
    parse = getattr(space, "parse_encoding", space.parse) if "arch" in table.columns else space.parse
    rows = np.arange(len(table))
    sub = getattr(space, "subspace", None)
    if sub is not None and is_registered(space.name):  # only the table's rows of the sub-space are parsed
        with contextlib.suppress(SubspaceError):
            rows = np.flatnonzero(subspace_mask(table, space.name, sub))
    for i, text in zip(rows.tolist(), table.arch_texts(rows), strict=True):
        try:
            arch = parse(str(text))
        except ValueError:
            continue  # a row the space cannot represent
        if getattr(space, "is_valid", lambda _: True)(arch):
            archs.append(arch)
            kept.append(i)
    if not archs:
        raise SamplerError(f"pro-rata/sandwich: no row of the ground-truth table lies in space {space.name!r}"
                           f"{' sub-space ' + repr(space.subspace) if hasattr(space, 'subspace') else ''}; "
                           f"check space.subspace and eval.ground_truth")
    return archs, params[np.asarray(kept, dtype=np.int64)]



def make_sampler(name: str, space: SearchSpace[Any], rng: np.random.Generator, paths_per_batch: int = 1,
                 table: Any = None) -> Sampler:
    """Build the sampler ``name`` (one of ``SAMPLERS``) over ``space`` driven by ``rng``.

    ``paths_per_batch`` (avg-k) is ignored by FairNAS, whose number of paths is the number of operations.
    ``table`` (a ``GroundTruth`` with ``params``) is only needed by pro-rata on spaces that cannot be enumerated.
    """
    if name == "random_nas":
        return RandomNAS(space, rng, paths_per_batch)
    if name == "random_a":
        return RandomA(space, rng, paths_per_batch)
    if name == "fairnas":
        return FairNAS(space, rng, paths_per_batch)
    if name == "pro_rata":
        return ProRata(space, rng, paths_per_batch, table=table)
    if name == "sandwich":
        return Sandwich(space, rng, paths_per_batch, table=table)
    raise SamplerError(f"unknown sampler {name!r}; choose one of {', '.join(SAMPLERS)}")
