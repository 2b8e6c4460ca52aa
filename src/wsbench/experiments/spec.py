"""Study specifications: a base config, factors (one at a time or a full grid), seeds, spaces, fidelity levels.

A study is a YAML file (presets in ``studies/``)::

    name: my-study
    base: configs/nb201-cpu.yaml       # a preset name/path, or an inline config tree
    mode: ofat                         # ofat: each factor varied alone around the base; grid: full product
    seeds: [0, 1, 2]                   # sets protocol.seed
    spaces: [nb201-cpu]                # optional: presets merged over the base, one sub-study each
    factors:
      protocol.lr: [0.01, 0.05]        # a dotted config key -> list of values
      bn:                              # a named group: label -> several keys at once
        affine F track F: {mapping.bn_affine: false, mapping.bn_track_running_stats: false}
    fidelity:                          # optional named levels, chosen when the study is loaded
      low: {base: configs/nb201-cpu.yaml, set: {...}, scale: {protocol.epochs: 0.01}, factors: {...},
            drop: [...], seeds: [0]}
    paper: {...}                       # free-form facts (reported numbers) used by reports

``expand(spec)`` resolves every run into a validated ``RunCfg``; a run's id is the first 12 hex characters of the
sha256 of the canonical JSON of ``cfg.model_dump()``, so identical settings (a factor value equal to the base)
collapse into one run that carries several ``(factor, value)`` labels.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import yaml

from wsbench.config import RunCfg, build_config

BASE_LABEL = "base"
_TOP_KEYS = {"name", "description", "base", "mode", "seeds", "spaces", "factors", "fidelity", "paper"}
_FIDELITY_KEYS = {"description", "base", "set", "scale", "factors", "drop", "seeds", "spaces"}


class StudyError(ValueError):
    """A study specification is invalid."""


@dataclass(frozen=True)
class Level:
    """One setting of a factor: its label and the config overrides (nested dict) it applies."""

    label: str
    overrides: dict[str, Any]


@dataclass(frozen=True)
class Factor:
    """A factor: a dotted config key (each value one level) or a named group of several keys."""

    name: str
    levels: tuple[Level, ...]


@dataclass
class StudySpec:
    """A parsed study (after the chosen fidelity level was applied)."""

    name: str
    base: dict[str, Any]
    mode: Literal["ofat", "grid"] = "ofat"
    factors: list[Factor] = field(default_factory=list)
    seeds: list[int] = field(default_factory=lambda: [0])
    spaces: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (label, config tree)
    scale: dict[str, float] = field(default_factory=dict)
    fidelity: str | None = None
    paper: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    source: str = "study"
    shard: tuple[int, int] | None = None  # run only the K-th of N deterministic pieces (select_shard)


@dataclass
class RunSpec:
    """One run of a study: its id, resolved config, main label, seed, and every label it stands for."""

    id: str
    cfg: RunCfg
    factor: str
    value: str
    seed: int
    space: str | None = None
    labels: list[tuple[str, str]] = field(default_factory=list)  # all (factor, value) pairs, study order
    levels: dict[str, str] = field(default_factory=dict)  # grid: factor -> label of this run
    trained_by: str | None = None  # id of the run whose trained super-net this run evaluates (eval-only level)

    def line(self) -> str:
        """One line for ``--dry-run``: the id first; levels that resolve to this run too are named (a level
        equal to the base is marked as such: it is measured by the base run and adds no run)."""
        space = f" space={self.space}" if self.space else ""
        extra = [f"{f}={v}" for f, v in self.labels[1:]]
        if self.trained_by:
            space += f"  [evaluates the super-net of {self.trained_by}]"
        if self.factor == BASE_LABEL and extra:
            also = f"  (equal to the base: {', '.join(extra)})"
        else:
            also = f"  (also {', '.join(extra)})" if extra else ""
        return f"{self.id}  factor={self.factor} value={self.value} seed={self.seed}{space}{also}"


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


# -- helpers ------------------------------------------------------------------------------------------------------
def value_label(value: Any) -> str:
    """Text label of a factor value: strings as they are, everything else as JSON (``0.05``, ``true``)."""
    return value if isinstance(value, str) else json.dumps(value)


def train_key(cfg: RunCfg) -> str:
    """Identity of what a run trains: its config without the evaluation settings (``eval.eval_every`` kept, since
    it decides the evaluations along the training, and ``eval.ground_truth``, whose table pro-rata and sandwich
    sample from). Runs with one key share one trained super-net."""
    dump = cfg.model_dump(mode="json")
    dump["eval"] = {k: dump["eval"].get(k) for k in ("eval_every", "ground_truth")}
    dump.pop("name", None)
    text = json.dumps(dump, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def run_id(cfg: RunCfg) -> str:
    """First 12 hex characters of the sha256 of the canonical JSON of the resolved config."""
    text = json.dumps(cfg.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``a.b.c`` in a nested dict (creating sections)."""
    node = tree
    parts = dotted.split(".")
    for part in parts[:-1]:
        nxt = node.setdefault(part, {})
        if not isinstance(nxt, dict):
            raise StudyError(f"key {dotted!r}: {part!r} is not a config section")
        node = nxt
    node[parts[-1]] = value


def get_dotted(tree: dict[str, Any], dotted: str) -> Any:
    """Value at ``a.b.c`` in a nested dict (KeyError when absent)."""
    node: Any = tree
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(dotted)
        node = node[part]
    return node


def nest(flat: dict[str, Any]) -> dict[str, Any]:
    """``{"protocol.lr": 0.1, "mapping": {"wsbn": true}}`` -> a nested dict (dotted keys expanded)."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        if isinstance(value, dict):
            value = nest(value)
            try:
                existing = get_dotted(out, str(key))
            except KeyError:
                existing = None
            if isinstance(existing, dict):
                value = merge(existing, value)
        set_dotted(out, str(key), value)
    return out


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Recursive merge of nested dicts (``extra`` wins); inputs are not modified."""
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def find_study(name_or_path: str | Path) -> Path:
    """Resolve a study name (``yu2020-nb201``) or path to a YAML file (see ``wsbench.presets``)."""
    from wsbench.presets import PresetNotFoundError
    from wsbench.presets import find_study as find

    try:
        return find(name_or_path)
    except PresetNotFoundError as exc:
        raise StudyError(str(exc)) from None


def _load_tree(ref: Any, root: Path, what: str) -> dict[str, Any]:
    """A config tree given inline (mapping) or as a preset name/path (relative to the study file, cwd, configs/)."""
    if isinstance(ref, dict):
        tree = nest(ref)
        if isinstance(tree.get("base"), str):  # an inline tree may inherit from a preset, as preset files do
            from wsbench.config import merge_trees

            parent = _load_tree(tree.pop("base"), root, what)
            tree = merge_trees(parent, tree)
        return tree
    if not isinstance(ref, str):
        raise StudyError(f"{what} must be a preset path or a mapping of config sections, got {type(ref).__name__}")
    candidates = [root / ref, Path(ref), root.parent / ref]
    path = next((p for p in candidates if p.suffix in (".yaml", ".yml") and p.is_file()), None)
    if path is None:
        from wsbench.presets import find_preset

        try:
            path = find_preset(ref)
        except FileNotFoundError as exc:
            raise StudyError(f"{what}: {exc}") from None
    from wsbench.config import ConfigError, load_tree

    try:
        return nest(load_tree(path))  # the preset with its own ``base:`` chain resolved
    except ConfigError as exc:
        raise StudyError(f"{what}: {exc}") from None


def _parse_factors(raw: Any, where: str) -> list[Factor]:
    if raw is None:
        return []
    if not isinstance(raw, dict):
        raise StudyError(f"{where}: 'factors' must map a dotted key (or a group name) to values")
    factors = []
    for name, spec in raw.items():
        name = str(name)
        if isinstance(spec, list):
            if not spec:
                raise StudyError(f"{where}: factor {name!r} has no values")
            levels = tuple(Level(value_label(v), nest({name: v})) for v in spec)
        elif isinstance(spec, dict):
            levels = []
            for label, overrides in spec.items():
                if overrides is None:
                    overrides = {}
                if not isinstance(overrides, dict):
                    raise StudyError(f"{where}: level {label!r} of group {name!r} must map dotted keys to values "
                                     f"(e.g. mapping.wsbn: true), got {overrides!r}")
                levels.append(Level(str(label), nest(overrides)))
            levels = tuple(levels)
            if not levels:
                raise StudyError(f"{where}: factor group {name!r} has no levels")
        else:
            raise StudyError(f"{where}: factor {name!r} must be a list of values or a mapping label -> "
                             f"overrides, got {type(spec).__name__}")
        labels = [lv.label for lv in levels]
        if len(set(labels)) != len(labels):
            raise StudyError(f"{where}: factor {name!r} repeats a value ({labels})")
        factors.append(Factor(name, levels))
    return factors


def _parse_seeds(raw: Any, where: str) -> list[int]:
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = [raw]
    if not isinstance(raw, list) or not raw or not all(isinstance(s, int) and not isinstance(s, bool) for s in raw):
        raise StudyError(f"{where}: 'seeds' must be a non-empty list of integers, got {raw!r}")
    if len(set(raw)) != len(raw):
        raise StudyError(f"{where}: 'seeds' repeats a seed ({raw})")
    return list(raw)


def _parse_spaces(raw: Any, root: Path, where: str) -> list[tuple[str, dict[str, Any]]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise StudyError(f"{where}: 'spaces' must be a list of presets")
    out = []
    for item in raw:
        label = Path(item).stem if isinstance(item, str) else str(item.get("name", f"space{len(out)}"))
        out.append((label, _load_tree(item, root, f"{where}: space {label!r}")))
    return out


def parse_study(tree: dict[str, Any], root: str | Path = ".", fidelity: str | None = None,
                source: str = "study") -> StudySpec:
    """Validate a study mapping (paths resolve against ``root``) and apply the fidelity level ``fidelity``."""
    root = Path(root)
    if not isinstance(tree, dict):
        raise StudyError(f"{source}: a study must be a mapping with name, base, factors, seeds")
    unknown = sorted(set(tree) - _TOP_KEYS)
    if unknown:
        raise StudyError(f"{source}: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(_TOP_KEYS))})")
    if "name" not in tree:
        raise StudyError(f"{source}: the study needs a 'name'")
    mode = tree.get("mode", "ofat")
    if mode not in ("ofat", "grid"):
        raise StudyError(f"{source}: mode must be 'ofat' or 'grid', got {mode!r}")
    spec = StudySpec(name=str(tree["name"]), base=_load_tree(tree.get("base", {}), root, f"{source}: base"),
                     mode=mode, factors=_parse_factors(tree.get("factors"), source),
                     seeds=_parse_seeds(tree.get("seeds", [0]), source),
                     spaces=_parse_spaces(tree.get("spaces"), root, source), paper=dict(tree.get("paper") or {}),
                     description=str(tree.get("description", "")), source=source)
    levels = tree.get("fidelity") or {}
    if fidelity is not None:
        if fidelity not in levels:
            raise StudyError(f"{source}: no fidelity level {fidelity!r} (defined: {', '.join(levels) or 'none'})")
        spec = _apply_fidelity(spec, levels[fidelity] or {}, root, f"{source}: fidelity {fidelity!r}")
        spec.fidelity = fidelity
    return spec


def _apply_fidelity(spec: StudySpec, raw: dict[str, Any], root: Path, where: str) -> StudySpec:
    unknown = sorted(set(raw) - _FIDELITY_KEYS)
    if unknown:
        raise StudyError(f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(_FIDELITY_KEYS))})")
    base = _load_tree(raw["base"], root, f"{where}: base") if "base" in raw else spec.base
    base = merge(base, nest(raw.get("set") or {}))
    factors = list(spec.factors)
    names = [f.name for f in factors]
    for name in raw.get("drop") or []:
        if name not in names:
            raise StudyError(f"{where}: cannot drop unknown factor {name!r} (factors: {', '.join(names)})")
    factors = [f for f in factors if f.name not in set(raw.get("drop") or [])]
    for new in _parse_factors(raw.get("factors"), where):
        idx = next((i for i, f in enumerate(factors) if f.name == new.name), None)
        if idx is None:
            factors.append(new)
        else:
            factors[idx] = new
    scale = {}
    for key, factor in (raw.get("scale") or {}).items():
        if isinstance(factor, bool) or not isinstance(factor, int | float) or factor <= 0:
            raise StudyError(f"{where}: scale of {key!r} must be a positive number, got {factor!r}")
        scale[str(key)] = float(factor)
    seeds = _parse_seeds(raw["seeds"], where) if "seeds" in raw else spec.seeds
    spaces = _parse_spaces(raw["spaces"], root, where) if "spaces" in raw else spec.spaces
    return replace(spec, base=base, factors=factors, scale=scale, seeds=seeds, spaces=spaces)


def load_study(name_or_path: str | Path, fidelity: str | None = None) -> StudySpec:
    """Read a study YAML (a path or a name in ``studies/``) and apply the fidelity level ``fidelity``."""
    path = find_study(name_or_path)
    tree = yaml.safe_load(path.read_text())
    return parse_study(tree, root=path.parent, fidelity=fidelity, source=str(path))


# -- expansion ----------------------------------------------------------------------------------------------------
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
