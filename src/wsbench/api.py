"""The functions of wsbench's public API (re-exported by ``wsbench/__init__.py``; see docs/api.md)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from wsbench.benchmarks.table import GroundTruth
    from wsbench.config import RunCfg
    from wsbench.evaluate.judge import JudgeResult
    from wsbench.experiments.spec import StudySpec


def list_spaces() -> list[str]:
    """Names of the registered search spaces ``get_space`` builds (built-ins first, then plug-ins)."""
    from wsbench.registry import space_names

    return list(space_names())


def load_config(preset: str | Path | None = None, overrides: Sequence[str] = ()) -> RunCfg:
    """A run config from a preset name (``"nb201-cpu"``; ``wsbench presets`` lists them) or a YAML path, with
    ``"section.key=value"`` overrides; the defaults when ``preset`` is None."""
    from wsbench.config import load_config as load

    return load(preset, list(overrides))


def train(config: str | Path | RunCfg, out: str | Path, overrides: Sequence[str] = (),
          data_dir: str | Path | None = None, resume: bool = False, quiet: bool = True) -> dict[str, Any]:
    """Train a super-net into the run directory ``out`` (``config``: a preset name, a path or a ``RunCfg``);
    returns the trainer's result (with ``metrics`` when the config evaluates at the end)."""
    from wsbench.config import RunCfg as Cfg
    from wsbench.train import train_supernet

    cfg = config if isinstance(config, Cfg) else load_config(config, overrides)
    return train_supernet(cfg, Path(out), data_dir=data_dir, resume=resume, quiet=quiet)


def evaluate(run_dir: str | Path, overrides: Sequence[str] = (), data_dir: str | Path | None = None,
             tag: str = "final") -> dict[str, Any]:
    """Evaluate the trained super-net of ``run_dir`` (``eval.*`` overrides allowed, e.g. ``eval.bn_mode=no-ft``);
    returns the metrics and writes them like ``wsbench eval``."""
    from wsbench.train.reload import evaluate_run

    return evaluate_run(Path(run_dir), None if data_dir is None else Path(data_dir), list(overrides), tag=tag)


def judge(archs: Sequence[Any], scores: Sequence[float], table: str | GroundTruth, metric: str,
          **options: Any) -> JudgeResult:
    """Judge scores of architectures against a ground-truth table: ``wsbench.judge(archs, scores,
    table="nb201", metric="cifar10_test_200ep")`` returns a ``JudgeResult`` (options: see
    ``wsbench.evaluate.judge.judge``)."""
    from wsbench.evaluate.judge import judge as _judge

    return _judge(archs, scores, table=table, metric=metric, **options)


def search(out: str | Path, space: str | None = None, algo: str = "gs", runs: int = 100, budget: int | None = None,
           run_dir: str | Path | None = None, **options: Any) -> dict[str, Any]:
    """Random (``algo="rs"``) or greedy local search (``"gs"``) scored by the table of ``space``, or, with
    ``run_dir``, by that run's trained super-net (compared with the table baselines at an equal budget). Writes
    curves, summary and plot into ``out`` and returns the summary (options: see ``wsbench.search.session``)."""
    from wsbench.search.session import DEFAULT_BUDGET, run_search, run_ws_search

    if run_dir is not None:
        return run_ws_search(Path(run_dir), algo, runs, budget, Path(out), **options)
    if space is None:
        raise ValueError("give space= for a table-scored search, or run_dir= for a super-net-scored one")
    return run_search(space, algo, runs, DEFAULT_BUDGET if budget is None else budget, Path(out), **options)


def run_study(study: str | Path | StudySpec, out: str | Path, fidelity: str | None = None,
              **options: Any) -> dict[str, Any]:
    """Run every missing run of a study (a name such as ``"yu2020-nb201"``, a path or a ``StudySpec``) into
    ``out``, each exactly once; returns the count summary (options: see ``wsbench.experiments.runner``)."""
    from wsbench.experiments.runner import run_study as run
    from wsbench.experiments.spec import StudySpec as Spec
    from wsbench.experiments.spec import load_study

    spec = study if isinstance(study, Spec) else load_study(study, fidelity)
    return run(spec, out, **options)


def nb201_arch(index: int, table: str | GroundTruth = "nb201") -> Any:
    """The NB201 cell of official benchmark index ``index`` (NAS-Bench-201 / NATS-Bench order, from the table's
    ``index`` column; not ``space.from_int``, which counts in wsbench's own order)."""
    import numpy as np

    gt = _table(table)
    hit = np.flatnonzero(np.asarray(gt.column("index")) == int(index))
    if hit.size == 0:
        raise KeyError(f"table {gt.name!r} has no NB201 index {index}")
    from wsbench.spaces import get_space

    return get_space("nb201").parse(str(gt.keys[int(hit[0])]))


def nb201_index(arch: Any, table: str | GroundTruth = "nb201") -> int:
    """The official NB201 index of a cell (an ``NB201Arch`` or its ``|op~0|+...`` string)."""
    from wsbench.spaces import get_space

    space = get_space("nb201")
    return space.index_of(space.parse(arch) if isinstance(arch, str) else arch, _table(table))


def _table(table: str | GroundTruth) -> GroundTruth:
    if isinstance(table, str):
        from wsbench.benchmarks.store import load_table

        return load_table(table)
    return table
