"""wsbench: build, train and judge weight-sharing NAS super-nets fairly on real tabular benchmarks.

The public API (``docs/api.md`` has a tour). Every name is imported on first use, so ``import wsbench`` stays
light (no torch, pandas or Ray until a function needs them):

* tables: ``load_table``, ``list_tables``; NB201 official index <-> cell: ``nb201_arch``, ``nb201_index``;
* spaces and super-nets: ``get_space``, ``list_spaces``, ``build_supernet``;
* runs: ``load_config`` (a preset name or a YAML path, with overrides), ``train``, ``load_run``, ``evaluate``;
* judging and searching: ``judge`` (anyone's scores against a table), ``search`` (tabular or super-net-scored);
* studies: ``load_study``, ``run_study``.

``train``, ``evaluate`` and ``search`` are also the names of sub-packages: those packages are callable and call
the functions of ``wsbench.api``, so ``wsbench.train(...)`` works whether or not ``wsbench.train.*`` was imported.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

# name -> (module, attribute)
_LAZY = {
    "load_table": ("wsbench.benchmarks.store", "load_table"),
    "list_tables": ("wsbench.benchmarks.store", "list_tables"),
    "get_space": ("wsbench.spaces", "get_space"),
    "build_supernet": ("wsbench.supernet", "build_supernet"),
    "load_run": ("wsbench.train.reload", "load_run"),
    "load_study": ("wsbench.experiments.spec", "load_study"),
    **{name: ("wsbench.api", name) for name in ("list_spaces", "load_config", "judge", "run_study", "nb201_arch",
                                                 "nb201_index")},
}
_CALLABLE_PACKAGES = ("train", "evaluate", "search")

__all__ = ["__version__", *_LAZY, *_CALLABLE_PACKAGES]


def __getattr__(name: str) -> Any:
    import importlib

    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    if name in _CALLABLE_PACKAGES:
        return importlib.import_module(f"wsbench.{name}")
    raise AttributeError(f"module 'wsbench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
