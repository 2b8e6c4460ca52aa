"""wsbench: build, train and judge weight-sharing NAS super-nets fairly on real tabular benchmarks.

The public API (``docs/api.md`` has a tour). Every name is imported on first use, so ``import wsbench`` stays
light (no torch, pandas or Ray until a function needs them):

* tables: ``load_table``, ``list_tables``; NB201 official index <-> cell: ``nb201_arch``, ``nb201_index``;
* spaces and super-nets: ``get_space``, ``list_spaces``, ``build_supernet``;
* runs: ``load_config`` (a preset name or a YAML path, with overrides), ``train``, ``load_run``, ``evaluate``;
* judging and searching: ``judge`` (anyone's scores against a table), ``search`` (tabular or super-net-scored);
* studies: ``load_study``, ``run_study``.

``train``, ``evaluate`` and ``search`` are also the names of sub-packages. ``wsbench.train`` is therefore an entry
that is both: calling it calls ``wsbench.api.train``, and its attributes are the sub-package's
(``wsbench.train.reload``), whether or not the sub-package was imported before.
"""

from __future__ import annotations

import sys
import types
from typing import Any

__version__ = "0.1.0"

# name -> (module, attribute)
_LAZY = {
    "load_table": ("wsbench.benchmarks.store", "load_table"),
    "list_tables": ("wsbench.benchmarks.store", "list_tables"),
    "get_space": ("wsbench.spaces", "get_space"),
    "build_supernet": ("wsbench.spaces", "build_supernet"),
    "load_run": ("wsbench.train.reload", "load_run"),
    "load_study": ("wsbench.experiments.spec", "load_study"),
    **{name: ("wsbench.api", name) for name in ("list_spaces", "load_config", "judge", "run_study", "nb201_arch",
                                                 "nb201_index")},
}
_ENTRY_NAMES = ("train", "evaluate", "search")

__all__ = ["__version__", *_LAZY, *_ENTRY_NAMES]


class _Entry:
    """A public function that shares its name with a sub-package: called, it runs ``wsbench.api.<name>``; its
    attributes are those of the sub-package ``wsbench.<name>`` (imported on first use)."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: types.ModuleType | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from wsbench import api

        return getattr(api, self._name)(*args, **kwargs)

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        return getattr(self._package(), attr)  # importing binds self._module through _Root.__setattr__

    def __setattr__(self, attr: str, value: Any) -> None:
        if attr.startswith("_"):
            object.__setattr__(self, attr, value)
        else:  # e.g. monkeypatching wsbench.train.X: it is the sub-package's attribute
            setattr(self._package(), attr, value)

    def __delattr__(self, attr: str) -> None:
        delattr(self._package(), attr)

    def _package(self) -> types.ModuleType:
        if self._module is None:
            import importlib

            importlib.import_module(f"wsbench.{self._name}")
        assert self._module is not None
        return self._module

    @property
    def __doc__(self) -> str | None:  # type: ignore[override]
        from wsbench import api

        return getattr(api, self._name).__doc__

    def __repr__(self) -> str:
        return f"<wsbench.{self._name}: function wsbench.api.{self._name} and package wsbench.{self._name}>"


_ENTRIES = {name: _Entry(name) for name in _ENTRY_NAMES}


class _Root(types.ModuleType):
    """The ``wsbench`` module: importing ``wsbench.train`` (etc.) hands the sub-package to its entry instead of
    replacing the entry."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _ENTRIES and isinstance(value, types.ModuleType):
            _ENTRIES[name]._module = value
            return
        super().__setattr__(name, value)


globals().update(_ENTRIES)
sys.modules[__name__].__class__ = _Root


def __getattr__(name: str) -> Any:
    import importlib

    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'wsbench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
