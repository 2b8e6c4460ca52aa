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

``wsbench.experiments.expand`` turns a parsed study into its runs (ids, shards).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import yaml

from wsbench.config import RunCfg
from wsbench.dotted import merge, nest

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


# -- helpers ------------------------------------------------------------------------------------------------------
def value_label(value: Any) -> str:
    """Text label of a factor value: strings as they are, everything else as JSON (``0.05``, ``true``)."""
    return value if isinstance(value, str) else json.dumps(value)


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
        tree = _nest(ref)
        if isinstance(tree.get("base"), str):  # an inline tree may inherit from a preset, as preset files do
            parent = _load_tree(tree.pop("base"), root, what)
            tree = merge(parent, tree)
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
        return _nest(load_tree(path))  # the preset with its own ``base:`` chain resolved
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
            levels = tuple(Level(value_label(v), _nest({name: v})) for v in spec)
        elif isinstance(spec, dict):
            levels = []
            for label, overrides in spec.items():
                if overrides is None:
                    overrides = {}
                if not isinstance(overrides, dict):
                    raise StudyError(f"{where}: level {label!r} of group {name!r} must map dotted keys to values "
                                     f"(e.g. mapping.wsbn: true), got {overrides!r}")
                levels.append(Level(str(label), _nest(overrides)))
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
    base = merge(base, _nest(raw.get("set") or {}))
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


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    return nest(flat, StudyError)
