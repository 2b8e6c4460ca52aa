"""The abstract search-space interface every space (NB101, NB201, DARTS) implements.

A space is pure python + numpy (no torch). Architectures are immutable, hashable values.
Three string forms matter:

* ``format(arch)``: the space's official text form, parsed back by ``parse`` (round-trip).
* ``key(arch)``: the key of the architecture in the space's ground-truth table
  (NB101: the benchmark's isomorphism-invariant hash; NB201: the official ``|op~j|`` string;
  DARTS: the canonical genotype string).
* ``canonical_id(arch)``: an id shared by exactly the architectures that compute the same function
  (isomorphism classes); sampling "unique architectures" (Random-A) is uniform over these.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Sequence
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np

A = TypeVar("A", bound=Hashable)


class SearchSpace(ABC, Generic[A]):
    """A cell-based search space."""

    name: ClassVar[str]

    # -- text forms -------------------------------------------------------------------------------
    @abstractmethod
    def parse(self, text: str) -> A:
        """Parse the official text form; raise ``ValueError`` naming the text and the expected form."""

    @abstractmethod
    def format(self, arch: A) -> str:
        """Official text form; ``parse(format(a)) == a``."""

    @abstractmethod
    def key(self, arch: A) -> str:
        """Key of ``arch`` in the space's ground-truth tables."""

    @abstractmethod
    def canonical_id(self, arch: A) -> str:
        """Isomorphism-invariant id (equal iff the two architectures compute the same function)."""

    # -- validity and sampling --------------------------------------------------------------------
    @abstractmethod
    def is_valid(self, arch: A) -> bool:
        """Whether ``arch`` belongs to the space."""

    @abstractmethod
    def sample(self, rng: np.random.Generator, n: int) -> list[A]:
        """``n`` architectures drawn uniformly over (valid) encodings: the Random-NAS sampler."""

    @abstractmethod
    def sample_unique(self, rng: np.random.Generator, n: int) -> list[A]:
        """``n`` distinct architectures drawn uniformly over isomorphism classes: Random-A."""

    @abstractmethod
    def neighbours(self, arch: A) -> list[A]:
        """Neighbourhood used by greedy local search (excluding ``arch`` itself)."""

    @abstractmethod
    def num_params(self, arch: A) -> int:
        """Trainable parameters of the stand-alone model at the benchmark's own macro setting."""

    def op_names(self, arch: A) -> list[str]:
        """Every operation name of the cell(s) of ``arch`` (structural property for the bias breakdown)."""
        raise NotImplementedError(f"space {self.name!r} does not name its operations")

    def depth(self, arch: A) -> int:
        """Longest input -> output path of the cell, in operations (structural property)."""
        raise NotImplementedError(f"space {self.name!r} does not define a depth")

    def lookup(self, text: str, tables: Sequence[Any] = ()) -> A:
        """An architecture from any form a user may type: the text form by default; a space adds its own
        (an NB201 index, an NB101 hash, a DARTS encoding), looked up in its imported ``tables`` where needed."""
        return self.parse(text)

    def why_invalid(self, arch: A) -> str:
        """Why ``arch`` (which parsed) lies outside the space, with the fix; ``""`` when there is nothing to add."""
        return ""

    #: Structural properties of this space beyond op names, depth and params (``property_value``), used to colour
    #: the bias plots (e.g. NB101 ``residual``).
    properties: ClassVar[tuple[str, ...]] = ()

    def property_value(self, arch: A, name: str) -> Any:
        """The value of one of :attr:`properties` for ``arch``."""
        raise NotImplementedError(f"space {self.name!r} has no property {name!r}")

    def op_at(self, arch: A, index: int, target: int | None = None, cell: str | None = None) -> str:
        """The operation at one place of the cell (``op@<index>``, ``op@<index>-<target>`` for an edge given by
        its two nodes, ``op@<cell>:<index>`` for a space with several cells); ``ValueError`` for a place the
        space does not have."""
        raise NotImplementedError(f"space {self.name!r} does not name the places of its cell")

    def table_neighbours(self, table: Any, mask: np.ndarray) -> Callable[[int], np.ndarray] | None:
        """Optional fast path for local search on a ground-truth table: ``row -> sorted neighbour rows inside
        mask``. ``None`` (the default) makes the search decode rows and look ``neighbours`` up by key."""
        return None

    # -- helpers ----------------------------------------------------------------------------------
    def keys(self, archs: Sequence[A]) -> list[str]:
        """Table keys of many architectures."""
        return [self.key(a) for a in archs]


def malformed(space: str, text: str, expected: str, why: str = "") -> ValueError:
    """A ``ValueError`` that names the offending text and shows the expected form."""
    detail = f" ({why})" if why else ""
    return ValueError(f"malformed {space} architecture {text!r}{detail}; expected the form {expected}")


def permuted_choices(rng: np.random.Generator, n_places: int, n_ops: int) -> np.ndarray:
    """``(n_ops, n_places)`` matrix: column ``e`` is an independent random permutation of ``range(n_ops)``.

    Row ``t`` is the operation choice of path ``t``; each operation appears exactly once in every column: the
    FairNAS strict-fairness draw that a space's ``fair_paths`` builds its paths from.
    """
    return rng.permuted(np.tile(np.arange(n_ops), (n_places, 1)), axis=1).T
