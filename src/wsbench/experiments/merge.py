"""Merging the study directories of several shards (``wsbench sweep --shard K/N``) into one.

Each input is a study directory (``study.json``, ``results.sqlite``, ``runs/<id>/``) of the same study and
fidelity. Every run ends up in the output exactly once: a run finished in two inputs is a conflict and nothing is
written; a run finished in one input and pending/failed in another is taken from the input that finished it. Run
directories are copied without checkpoints' lock files; the output's ``results.sqlite`` gets the rows and
evaluations of every input.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from wsbench.atomic import write_json
from wsbench.experiments.store import DONE, ResultStore

STUDY_FILE, STORE_FILE, RUNS_DIR = "study.json", "results.sqlite", "runs"


class MergeError(ValueError):
    """The shards cannot be merged (different studies, or one run finished twice)."""


def _study(path: Path) -> dict[str, Any]:
    try:
        return json.loads((path / STUDY_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        raise MergeError(f"{path} is not a study directory (no readable {STUDY_FILE}); pass directories written "
                         f"by `wsbench sweep`") from None


def merge_studies(out: str | Path, inputs: list[str | Path]) -> dict[str, int]:
    """Merge the study directories ``inputs`` into ``out`` (created, or extended when it is a study of the same
    name and fidelity); returns counts of runs merged by status."""
    out = Path(out)
    dirs = [Path(d) for d in inputs]
    if not dirs:
        raise MergeError("give at least one study directory to merge (wsbench results merge OUT DIR...)")
    if any(d.resolve() == out.resolve() for d in dirs):
        raise MergeError(f"{out} is both the output and an input; merge into a new directory")
    infos = [_study(d) for d in dirs]
    if (out / STUDY_FILE).exists():
        infos.insert(0, _study(out))
    ident = {(i.get("name"), i.get("fidelity")) for i in infos}
    if len(ident) > 1:
        raise MergeError(f"the directories hold different studies or fidelities {sorted(map(str, ident))}; "
                         f"merge only the shards of one study")
    for d in dirs:
        if not (d / STORE_FILE).exists():
            raise MergeError(f"{d} holds no {STORE_FILE}; run its shard first")
    # plan: which input provides each run (the one that finished it), conflicts first, nothing written yet
    existing = {r["id"]: r for r in ResultStore(out).runs()} if (out / STORE_FILE).exists() else {}
    source: dict[str, tuple[Path | None, dict[str, Any]]] = {rid: (None, row) for rid, row in existing.items()}
    for d in dirs:
        for row in ResultStore(d).runs():
            rid = row["id"]
            prev = source.get(rid)
            if prev is None or prev[1].get("status") != DONE:
                source[rid] = (d, row)
            elif row.get("status") == DONE:
                where = "the output" if prev[0] is None else str(prev[0])
                raise MergeError(f"run {rid} is finished in both {where} and {d}: each run must come from one "
                                 f"shard; remove one of the two run directories and merge again")
    out.mkdir(parents=True, exist_ok=True)
    (out / RUNS_DIR).mkdir(exist_ok=True)
    if not (out / STUDY_FILE).exists():
        write_json(out / STUDY_FILE, infos[0] if not existing else infos[1])
    store = ResultStore(out)
    counts: dict[str, int] = {}
    evals_by_dir = {d: _evals(d) for d in dirs}
    for rid, (d, row) in source.items():
        if d is None:
            continue
        src = d / RUNS_DIR / rid
        dst = out / RUNS_DIR / rid
        if src.is_dir():
            if dst.exists():
                shutil.rmtree(dst)
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.lock"))
        store.register([{k: row.get(k) for k in ("id", "study", "factor", "value", "seed", "space", "config",
                                                "labels", "levels")}])
        keep = {k: v for k, v in row.items() if k not in ("study", "factor", "value", "seed", "space", "config",
                                                          "labels", "levels", "updated")}
        store.record(keep, evals_by_dir[d].get(rid, []))
        counts[row.get("status") or "pending"] = counts.get(row.get("status") or "pending", 0) + 1
    return counts


def _evals(study_dir: Path) -> dict[str, list[tuple[str, int | None, str, Any]]]:
    out: dict[str, list[tuple[str, int | None, str, Any]]] = {}
    for e in ResultStore(study_dir).evals():
        out.setdefault(e["run_id"], []).append((e["tag"], e["epoch"], e["metric"], e["value"]))
    return out
