"""Build a stand-alone ground truth: many (architecture x seed) units on Ray, resumable, then one table.

Layout under the data directory: ``standalone/<name>/plan.json`` (space, dataset, protocol and its fingerprint,
seeds, the sampled architectures) and ``standalone/<name>/units/<key-hash>-s<seed>.json`` (one finished unit,
written atomically). Running a build again skips every unit whose file exists with the same protocol
fingerprint, so a killed build resumes where it stopped; a different protocol under the same name is refused.
At the end the table ``<name>`` is (re)built from the unit files and saved atomically in ``tables/``, so
``load_table(name)`` and ``eval.ground_truth="<name>:test_acc"`` work exactly as for an imported benchmark.

Backends: ``"ray"`` (default: a local Ray with all CPUs, or the cluster at ``address``; one task per unit,
at most ``max_parallel`` in flight, through the one pool of ``experiments.pool``) and ``"local"`` (sequential, in this
process).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from wsbench.atomic import write_json
from wsbench.benchmarks.table import GroundTruth
from wsbench.datadir import resolve_data_dir
from wsbench.standalone.protocol import StandaloneError, StandaloneProtocol, build_protocol, check_space
from wsbench.standalone.table import build_ground_truth, read_unit

PLAN_FILE = "plan.json"
UNITS_DIR = "units"
Backend = Literal["ray", "local"]
_MAX_MESSAGE = 2000

log = logging.getLogger(__name__)


def default_name(space: str, dataset: str) -> str:
    """Table name of a build: ``standalone-<space>-<dataset>``."""
    return f"standalone-{space}-{dataset}"


def build_root(name: str, data_dir: str | Path | None = None) -> Path:
    """``<data_dir>/standalone/<name>``."""
    if not name or "/" in name or name.startswith("."):
        raise StandaloneError(f"bad table name {name!r}: use letters, digits and dashes (e.g. standalone-nb201-digits)")
    return resolve_data_dir(data_dir) / "standalone" / name


def unit_file(root: Path, key: str, seed: int) -> Path:
    """The result file of unit ``(key, seed)``: ``units/<first 16 hex of sha1(key)>-s<seed>.json``."""
    return root / UNITS_DIR / f"{hashlib.sha1(key.encode()).hexdigest()[:16]}-s{int(seed)}.json"


@dataclass
class BuildPlan:
    """What a build trains: ``archs`` (text forms) with their ``keys``, each with every seed of ``seeds``."""

    name: str
    space: str
    protocol: StandaloneProtocol
    archs: list[str]
    keys: list[str]
    seeds: list[int]
    root: Path
    sample_seed: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def units(self) -> list[tuple[str, str, int]]:
        """Every ``(arch, key, seed)`` of the plan, seed-major (all architectures of seed 0 first)."""
        return [(a, k, s) for s in self.seeds for a, k in zip(self.archs, self.keys, strict=True)]

    def done(self, key: str, seed: int) -> dict[str, Any] | None:
        """The finished record of a unit (same protocol fingerprint), or None."""
        rec = read_unit(unit_file(self.root, key, seed))
        if rec is None or rec.get("fingerprint") != self.protocol.fingerprint():
            return None
        return rec

    def pending(self) -> list[tuple[str, str, int]]:
        """Units without a finished result file."""
        return [u for u in self.units() if self.done(u[1], u[2]) is None]


def sample_archs(space_name: str, n: int, sample_seed: int = 0) -> tuple[list[str], list[str]]:
    """``n`` distinct architectures (Random-A: ``space.sample_unique``, seeded) as text forms and table keys."""
    from wsbench.spaces import get_space

    if n < 1:
        raise StandaloneError(f"--n must be >= 1 architecture, got {n}")
    space = get_space(space_name)
    import numpy as np

    try:
        archs = space.sample_unique(np.random.default_rng(sample_seed), n)
    except ValueError as exc:
        raise StandaloneError(f"cannot draw {n} distinct {space_name} architectures: {exc}") from None
    return [space.format(a) for a in archs], space.keys(archs)


def prepare_build(name: str, space: str, protocol: StandaloneProtocol, seeds: Sequence[int],
                  data_dir: str | Path | None = None, n: int | None = None, sample_seed: int = 0,
                  archs: Sequence[str] | None = None) -> BuildPlan:
    """Sample ``n`` architectures (or take ``archs``, text forms), check and write ``plan.json``.

    Raises ``StandaloneError`` when ``name`` already holds units of another protocol, space or dataset.
    """
    check_space(protocol, space)
    if not seeds:
        raise StandaloneError("need at least one seed (--seeds >= 1)")
    if len(set(seeds)) != len(seeds):
        raise StandaloneError(f"seeds must be distinct, got {list(seeds)}")
    root = build_root(name, data_dir)
    if archs is None:
        if n is None:
            raise StandaloneError("give the number of architectures n or an explicit list")
        texts, keys = sample_archs(space, n, sample_seed)
    else:
        from wsbench.spaces import get_space

        sp = get_space(space)
        parsed = [sp.parse(a) for a in archs]
        texts, keys = [sp.format(a) for a in parsed], sp.keys(parsed)
        if len(set(keys)) != len(keys):
            raise StandaloneError("the architecture list holds duplicates (same table key)")
    _check_existing(root, name, space, protocol)
    plan = BuildPlan(name, space, protocol, texts, keys, [int(s) for s in seeds], root,
                     sample_seed if archs is None else None)
    write_json(root / PLAN_FILE, {"name": name, "space": space, "dataset": protocol.data.dataset,
                                  "fingerprint": protocol.fingerprint(), "protocol": protocol.model_dump(mode="json"),
                                  "seeds": plan.seeds, "sample_seed": plan.sample_seed, "archs": texts, "keys": keys})
    return plan


def _check_existing(root: Path, name: str, space: str, protocol: StandaloneProtocol) -> None:
    path = root / PLAN_FILE
    if not path.exists():
        return
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return  # unreadable plan: it is rewritten; unit files are still checked by fingerprint
    if old.get("space") != space or old.get("fingerprint") != protocol.fingerprint():
        raise StandaloneError(
            f"{root} already holds a stand-alone build of {old.get('space')} on {old.get('dataset')} with protocol "
            f"{old.get('protocol', {}).get('name')!r} (fingerprint {old.get('fingerprint')}), not this one "
            f"({protocol.name!r}, {protocol.fingerprint()}); pass another --out NAME or delete that folder")


def load_plan(name: str, data_dir: str | Path | None = None) -> BuildPlan:
    """Read back the plan of an existing build."""
    root = build_root(name, data_dir)
    try:
        doc = json.loads((root / PLAN_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise StandaloneError(f"no readable stand-alone build {name!r} at {root} ({exc})") from None
    return BuildPlan(name, doc["space"], build_protocol(doc["protocol"], str(root / PLAN_FILE)), list(doc["archs"]),
                     list(doc["keys"]), [int(s) for s in doc["seeds"]], root, doc.get("sample_seed"))


def execute_unit(protocol_tree: dict[str, Any], space: str, arch: str, seed: int, out_path: str,
                 data_dir: str | None = None) -> dict[str, Any]:
    """Train one unit and write its record atomically to ``out_path`` (runs in a worker).

    A unit already finished with the same protocol is only read back (``skipped: True``).
    """
    from wsbench.standalone.trainer import train_unit

    protocol = build_protocol(protocol_tree)
    old = read_unit(out_path)
    if old is not None and old.get("fingerprint") == protocol.fingerprint():
        return {**old, "skipped": True}
    record = train_unit(protocol, space, arch, seed, data_dir)
    write_json(out_path, record)
    return record


def run_build(plan: BuildPlan, data_dir: str | Path | None = None, backend: Backend = "ray",
              max_parallel: int | None = None, address: str | None = None,
              on_result: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Train every pending unit of ``plan``; returns counts (units, skipped, ran, ok, failed) and failures.

    ``on_result(record)`` is called after each unit (a record of a failed unit has ``error``). With Ray each
    unit is a task of ``protocol.train.num_threads`` CPUs (plus one GPU when the cluster has GPUs).
    """
    if backend not in ("ray", "local"):
        raise StandaloneError(f"unknown backend {backend!r}; choose ray or local")
    if max_parallel is not None and max_parallel < 1:
        raise StandaloneError(f"--max-parallel must be >= 1, got {max_parallel}")
    units = plan.units()
    todo = plan.pending()
    summary: dict[str, Any] = {"units": len(units), "skipped": len(units) - len(todo), "ran": len(todo), "ok": 0,
                               "failed": 0, "failures": [], "wall_s": 0.0}
    if not todo:
        return summary
    t0 = time.perf_counter()
    tree = plan.protocol.model_dump(mode="json")
    ddir = str(resolve_data_dir(data_dir))

    def handle(rec: dict[str, Any]) -> None:
        if rec.get("error"):
            summary["failed"] += 1
            summary["failures"].append(rec)
        else:
            summary["ok"] += 1
        if on_result is not None:
            on_result(rec)

    try:
        if backend == "local":
            for arch, key, seed in todo:
                try:
                    rec = execute_unit(tree, plan.space, arch, seed, str(unit_file(plan.root, key, seed)), ddir)
                except Exception as exc:  # noqa: BLE001 - one failed unit is recorded, the build goes on
                    rec = _failure(key, seed, exc)
                handle(rec)
        else:
            _run_ray(plan, todo, tree, ddir, max_parallel, address, handle)
    finally:
        summary["wall_s"] = time.perf_counter() - t0
    return summary


def _failure(key: str, seed: int, exc: BaseException) -> dict[str, Any]:
    return {"key": key, "seed": int(seed), "error": f"{type(exc).__name__}: {exc}"[:_MAX_MESSAGE]}


def _run_ray(plan: BuildPlan, todo: list[tuple[str, str, int]], tree: dict[str, Any], ddir: str,
             max_parallel: int | None, address: str | None, handle: Callable[[dict[str, Any]], None]) -> None:
    from wsbench.experiments.pool import Job, run_pool

    jobs = [Job((key, seed), (tree, plan.space, arch, seed, str(unit_file(plan.root, key, seed)), ddir))
            for arch, key, seed in todo]
    run_pool(execute_unit, jobs, on_result=lambda job, rec: handle(rec),
             on_error=lambda job, exc: handle(_failure(*job.key, exc)), num_cpus=plan.protocol.train.num_threads,
             max_parallel=max_parallel, address=address)


def finish_build(plan: BuildPlan, data_dir: str | Path | None = None, save: bool = True) -> GroundTruth:
    """(Re)build the table from the plan's finished unit files and save it atomically in the data directory."""
    from wsbench.benchmarks.store import save_table

    units = {}
    for _, key, seed in plan.units():
        rec = plan.done(key, seed)
        if rec is not None:
            units[(key, seed)] = rec
    prov = {"protocol": plan.protocol.model_dump(mode="json"), "fingerprint": plan.protocol.fingerprint(),
            "protocol_name": plan.protocol.name, "space": plan.space, "dataset": plan.protocol.data.dataset,
            "sample_seed": plan.sample_seed, "units_dir": str(plan.root / UNITS_DIR)}
    table = build_ground_truth(plan.name, plan.space, plan.keys, plan.archs, plan.seeds, units, prov)
    if save:
        save_table(table, data_dir)
    return table


def build_standalone_table(space: str, protocol: StandaloneProtocol, n: int, seeds: int | Sequence[int],
                           name: str | None = None, data_dir: str | Path | None = None, sample_seed: int = 0,
                           backend: Backend = "ray", max_parallel: int | None = None, address: str | None = None,
                           on_result: Callable[[dict[str, Any]], None] | None = None
                           ) -> tuple[GroundTruth, dict[str, Any]]:
    """Sample, train (resumably) and tabulate in one call; ``seeds`` is a count (0..k-1) or a list."""
    seed_list = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    name = name or default_name(space, protocol.data.dataset)
    plan = prepare_build(name, space, protocol, seed_list, data_dir, n=n, sample_seed=sample_seed)
    summary = run_build(plan, data_dir, backend, max_parallel, address, on_result)
    table = finish_build(plan, data_dir)
    summary["table"] = name
    summary["rows"] = len(table)
    return table, summary
