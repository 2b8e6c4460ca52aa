"""The registry of search spaces: the single place that knows which spaces exist and what each one brings.

A space is one folder (one Python package) whose ``__init__.py`` calls :func:`register_space` once with a
:class:`SpaceInfo`: the space class, its super-net and stand-alone network, its sub-spaces, its default table and
metrics, its zero-cost macro setting and its report defaults. Everything else in wsbench (config validation,
samplers, search, the CLI, the report) asks this registry instead of branching on space names.

The parts that need torch or big tables are given as ``"module:attribute"`` references and imported only when
used, so that ``import wsbench`` and the table commands never import torch. Spaces are found in three places:

* the built-in folders ``wsbench/spaces/nb101``, ``nb201`` and ``darts``;
* the ``wsbench.spaces`` entry-point group of installed distributions (a package of its own that registers a
  space when imported: ``[project.entry-points."wsbench.spaces"] myspace = "mypkg.myspace"``);
* the folders listed in ``$WSBENCH_SPACES`` (``os.pathsep``-separated; each a package folder whose parent is put
  on ``sys.path``), which also reach the workers of a local Ray sweep through the environment.

This module imports only the standard library, so that the lowest layer (``config``) may validate space names.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

#: Built-in spaces: their folders under ``wsbench/spaces``.
BUILTIN: tuple[str, ...] = ("nb101", "nb201", "darts")
ENTRY_POINT_GROUP = "wsbench.spaces"
ENV_VAR = "WSBENCH_SPACES"

Ref = str | Callable[..., Any]


class SpaceRegistryError(ValueError):
    """An unknown space, a space registered twice, or a space folder that cannot be loaded."""


@dataclass(frozen=True)
class SpaceInfo:
    """Everything wsbench needs to know about one search space.

    ``space`` builds the :class:`wsbench.spaces.base.SearchSpace` (called with the space's options, e.g.
    ``subspace=``); ``supernet(mapping, num_classes, in_channels[, subspace=])`` (the keyword only when a
    sub-space is set) and
    ``standalone(arch, mapping, num_classes, in_channels)`` build its torch networks. Each may be the object
    itself or a ``"module:attribute"`` string imported on first use.
    """

    name: str
    space: Ref
    description: str = ""
    supernet: Ref | None = None
    standalone: Ref | None = None
    #: Ground-truth tables of the space, most complete first (the search's and ``wsbench arch``'s default).
    tables: tuple[str, ...] = ()
    #: Whether those tables are versions of one benchmark (NB101: the official table and a sample of it), so that
    #: ``wsbench arch`` shows only the most complete one imported.
    nested_tables: bool = False
    #: Metric a search maximises (validation), metric it is judged on (test), and the training-time column.
    valid_metric: str | None = None
    test_metric: str | None = None
    time_metric: str | None = None
    #: Caveats a search summary states about these defaults.
    notes: tuple[str, ...] = ()
    #: Number of cells of the space (``None``: unknown or too large to count).
    size: int | None = None
    #: Sub-spaces: accepted spelling (lower case) -> canonical name; sizes by canonical name; and
    #: ``subspace_rows(table, canonical) -> bool mask`` of the table's rows inside a sub-space.
    subspaces: Mapping[str, str] = field(default_factory=dict)
    subspace_sizes: Mapping[str, int] = field(default_factory=dict)
    subspace_rows: Ref | None = None
    #: Macro setting of the stand-alone network at which zero-cost proxies are computed (``channels``,
    #: ``cells_per_stage``: the benchmark's own training setting).
    zero_cost_setting: Mapping[str, int] = field(default_factory=dict)
    #: The structural property that colours a run's bias scatter plot by default.
    color_by: str = "params"
    #: Samplers whose path coverage the run report plots.
    coverage_samplers: tuple[str, ...] = ()

    def build_space(self, **options: Any) -> Any:
        """A new instance of the search space (``options`` go to its constructor)."""
        return resolve(self.space, f"space {self.name!r}")(**options)

    def build_supernet(self, mapping: Any, num_classes: int, in_channels: int = 3,
                       subspace: str | None = None) -> Any:
        """The super-net of this space (torch)."""
        if self.supernet is None:
            raise SpaceRegistryError(f"space {self.name!r} registers no super-net; give SpaceInfo a supernet=")
        options = {} if subspace is None else {"subspace": self.canonical_subspace(subspace)}
        return resolve(self.supernet, f"super-net of {self.name!r}")(mapping, num_classes, in_channels, **options)

    def build_standalone(self, arch: Any, mapping: Any, num_classes: int, in_channels: int = 3) -> Any:
        """The plain stand-alone network of ``arch`` (torch)."""
        if self.standalone is None:
            raise SpaceRegistryError(f"space {self.name!r} registers no stand-alone network; "
                                     f"give SpaceInfo a standalone=")
        return resolve(self.standalone, f"stand-alone network of {self.name!r}")(arch, mapping, num_classes,
                                                                                 in_channels)

    def canonical_subspace(self, subspace: str | None) -> str | None:
        """The canonical name of a sub-space spelling (``None`` stays ``None``); unknown names raise."""
        if subspace is None:
            return None
        if not self.subspaces:
            raise SpaceRegistryError(f"space {self.name!r} has no sub-spaces; drop the sub-space {subspace!r}")
        name = self.subspaces.get(subspace.lower())
        if name is None:
            choices = ", ".join(dict.fromkeys(self.subspaces.values()))
            raise SpaceRegistryError(f"unknown {self.name} sub-space {subspace!r}; choose one of {choices}")
        return name


_SPACES: dict[str, SpaceInfo] = {}
_LOADED = False
_SCANNED = False


def resolve(ref: Ref, what: str = "object") -> Any:
    """The object behind a ``"module:attribute"`` reference (or ``ref`` itself when it is not a string)."""
    if not isinstance(ref, str):
        return ref
    module, _, attr = ref.partition(":")
    if not attr:
        raise SpaceRegistryError(f"{what}: reference {ref!r} must read 'module:attribute'")
    try:
        obj: Any = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise SpaceRegistryError(f"{what}: cannot import {ref!r} ({exc})") from exc
    return obj


def register_space(info: SpaceInfo, *, replace: bool = False) -> SpaceInfo:
    """Register a space (once; ``replace=True`` overrides an earlier registration of the same name)."""
    if not info.name or not info.name.replace("_", "").replace("-", "").isalnum():
        raise SpaceRegistryError(f"space name {info.name!r} must be a short identifier such as 'nb201'")
    old = _SPACES.get(info.name)
    if old is not None and old != info and not replace:
        raise SpaceRegistryError(f"space {info.name!r} is registered twice; rename one of them")
    _SPACES[info.name] = info
    return info


def unregister_space(name: str) -> None:
    """Forget a registered space (for tests and interactive use)."""
    _SPACES.pop(name, None)


def load_space_folder(folder: str | Path) -> list[str]:
    """Import the space package in ``folder`` (its ``__init__.py`` registers the space); the names it added."""
    path = Path(folder).expanduser().resolve()
    if not (path / "__init__.py").is_file():
        raise SpaceRegistryError(f"{folder} is not a space folder (no __init__.py); it must be a Python package "
                                 f"whose __init__.py calls wsbench.registry.register_space")
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    before = set(_SPACES)
    try:
        importlib.import_module(path.name)
    except Exception as exc:  # a user's folder: any failure is reported in one line
        raise SpaceRegistryError(f"cannot load the space folder {folder}: {type(exc).__name__}: {exc}") from exc
    return sorted(set(_SPACES) - before)


def _discover(entry_points: bool = True) -> None:
    """Register the built-in spaces and the folders of ``$WSBENCH_SPACES`` (once), and with ``entry_points`` the
    installed plug-ins (once; scanning the installed distributions costs tens of milliseconds, so a lookup of a
    name that is already known skips it)."""
    global _LOADED, _SCANNED
    if not _LOADED:
        _LOADED = True
        for name in BUILTIN:
            importlib.import_module(f"wsbench.spaces.{name}")
        for folder in filter(None, os.environ.get(ENV_VAR, "").split(os.pathsep)):
            load_space_folder(folder)
    if entry_points and not _SCANNED:
        _SCANNED = True
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            try:
                ep.load()
            except Exception as exc:  # a broken plug-in must not break wsbench: say which one and go on
                print(f"wsbench: space plug-in {ep.name!r} ({ep.value}) failed to load: {exc}", file=sys.stderr)


def space_names() -> tuple[str, ...]:
    """Every registered space, built-ins first."""
    _discover()
    return tuple(_SPACES)


def is_registered(name: str) -> bool:
    """Whether ``name`` is a registered space (installed plug-ins are scanned only when it is not already known)."""
    _discover(entry_points=False)
    if name not in _SPACES:
        _discover()
    return name in _SPACES


def space_info(name: str) -> SpaceInfo:
    """The registration of space ``name``; an unknown name raises a one-line error with the choices."""
    info = _SPACES.get(name) if is_registered(name) else None
    if info is None:
        raise SpaceRegistryError(f"unknown search space {name!r}; choose one of {', '.join(_SPACES)} "
                                 f"(or register yours: a space folder in ${ENV_VAR})")
    return info
