"""Expanding a study into its runs: every run resolved into a validated ``RunCfg``, its id, the runs that share one
trained super-net, the deterministic shards of ``wsbench sweep --shard K/N`` and the YAML order of the labels.

A run's id is the first 12 hex characters of the sha256 of the canonical JSON of ``cfg.model_dump()``, so
identical settings (a factor value equal to the base) collapse into one run that carries several
``(factor, value)`` labels; two levels of one factor that resolve to one configuration are an error.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
from typing import Any

from wsbench.config import RunCfg, build_config, identity_tree
from wsbench.dotted import get_dotted, merge, set_dotted
from wsbench.experiments.spec import BASE_LABEL, RunSpec, StudyError, StudySpec


def train_key(cfg: RunCfg) -> str:
    """Identity of what a run trains: its config without the evaluation settings (``eval.eval_every`` kept, since
    it decides the evaluations along the training, and ``eval.ground_truth``, whose table pro-rata and sandwich
    sample from). Runs with one key share one trained super-net."""
    dump = identity_tree(cfg)
    dump["eval"] = {k: dump["eval"].get(k) for k in ("eval_every", "ground_truth")}
    dump.pop("name", None)
    text = json.dumps(dump, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def run_id(cfg: RunCfg) -> str:
    """First 12 hex characters of the sha256 of the canonical JSON of the resolved config (``identity_tree``)."""
    text = json.dumps(identity_tree(cfg), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def select_shard(runs: list[RunSpec], shard: tuple[int, int] | None) -> list[RunSpec]:
    """Runs of shard ``K/N`` (1-based ``K``): every N-th run in the order of run ids, so that the shards of a
    study are disjoint, cover it, and do not depend on the order of the YAML."""
    if shard is None:
        return runs
    k, n = shard
    if not (n >= 1 and 1 <= k <= n):
        raise StudyError(f"shard {k}/{n}: need 1 <= K <= N (e.g. --shard 2/4)")
    trainers = sorted({r.trained_by or r.id for r in runs})  # a trained super-net and its evaluations stay together
    chosen = {t for i, t in enumerate(trainers) if i % n == k - 1}
    return [r for r in runs if (r.trained_by or r.id) in chosen]


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"2/4"`` -> ``(2, 4)``; ``None`` stays ``None``; anything else is a ``StudyError``."""
    if text is None:
        return None
    try:
        k, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise StudyError(f"--shard must be K/N with integers, e.g. 2/4, got {text!r}") from None
    if not (n >= 1 and 1 <= k <= n):
        raise StudyError(f"--shard {text}: need 1 <= K <= N")
    return k, n


def _apply_scale(tree: dict[str, Any], cfg: RunCfg, scale: dict[str, float], where: str) -> dict[str, Any]:
    dump = cfg.model_dump(mode="json")
    tree = copy.deepcopy(tree)
    for key, factor in scale.items():
        try:
            value = get_dotted(dump, key)
        except KeyError:
            raise StudyError(f"{where}: scale key {key!r} is not a config field") from None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise StudyError(f"{where}: scale key {key!r} holds {value!r}, not a number")
        set_dotted(tree, key, max(1, round(value * factor)) if isinstance(value, int) else value * factor)
    return tree


def _resolve(spec: StudySpec, base: dict[str, Any], overrides: list[dict[str, Any]], seed: int,
             where: str) -> RunCfg:
    tree = base
    for extra in overrides:
        tree = merge(tree, extra)
    tree = merge(tree, {"protocol": {"seed": seed}, "name": spec.name})
    cfg = build_config(tree, source=where)
    if spec.scale:
        cfg = build_config(_apply_scale(tree, cfg, spec.scale, where), source=where)
    return cfg


def expand(spec: StudySpec) -> list[RunSpec]:
    """Every run of the study (deduplicated by id, in study order); config errors name the run and the key."""
    runs: dict[str, RunSpec] = {}
    seen: dict[tuple[tuple[str | None, int, str], str], str] = {}  # ((space, seed, factor), run id) -> level
    spaces = spec.spaces or [(None, {})]

    def add(space: str | None, tree: dict[str, Any], overrides: list[dict[str, Any]], factor: str, value: str,
            seed: int, levels: dict[str, str]) -> None:
        where = f"study {spec.name!r} run factor={factor} value={value} seed={seed}" + (
            f" space={space}" if space else "")
        cfg = _resolve(spec, tree, overrides, seed, where)
        rid = run_id(cfg)
        key = (space, seed, factor)
        twin = seen.get((key, rid))
        if twin is not None and twin != value and factor != BASE_LABEL:
            raise StudyError(f"study {spec.name!r}: levels {twin!r} and {value!r} of factor {factor!r} resolve to the "
                             f"same configuration (run {rid}"
                             f"{', fidelity ' + repr(spec.fidelity) if spec.fidelity else ''}): the levels would "
                             f"share one run and compare nothing; give them distinct values at this fidelity")
        seen[(key, rid)] = value
        if rid in runs:
            if (factor, value) not in runs[rid].labels:
                runs[rid].labels.append((factor, value))
            return
        runs[rid] = RunSpec(rid, cfg, factor, value, seed, space, [(factor, value)], dict(levels))

    for space, space_tree in spaces:
        tree = merge(spec.base, space_tree)
        for seed in spec.seeds:
            if spec.mode == "grid":
                if not spec.factors:
                    add(space, tree, [], BASE_LABEL, BASE_LABEL, seed, {})
                names = ",".join(f.name for f in spec.factors)
                for combo in itertools.product(*(f.levels for f in spec.factors)) if spec.factors else []:
                    value = ",".join(lv.label for lv in combo)
                    levels = {f.name: lv.label for f, lv in zip(spec.factors, combo, strict=True)}
                    add(space, tree, [lv.overrides for lv in combo], names, value, seed, levels)
            else:
                add(space, tree, [], BASE_LABEL, BASE_LABEL, seed, {})
                for factor in spec.factors:
                    for lv in factor.levels:
                        add(space, tree, [lv.overrides], factor.name, lv.label, seed, {factor.name: lv.label})
    trainers: dict[str, str] = {}
    for run in runs.values():  # runs that differ only in eval.* share the super-net of the first of them
        first = trainers.setdefault(train_key(run.cfg), run.id)
        if first != run.id:
            run.trained_by = first
    return list(runs.values())


def label_order(spec: StudySpec) -> list[tuple[str, str]]:
    """All ``(factor, value)`` labels of the study in their YAML order (base first for ofat)."""
    if spec.mode == "grid":
        names = ",".join(f.name for f in spec.factors)
        return [(names, ",".join(lv.label for lv in combo))
                for combo in itertools.product(*(f.levels for f in spec.factors))]
    return [(BASE_LABEL, BASE_LABEL)] + [(f.name, lv.label) for f in spec.factors for lv in f.levels]
