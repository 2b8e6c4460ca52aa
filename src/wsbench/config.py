"""One typed configuration tree for a super-net study: space, mapping f_ws, protocol P_ws, data, evaluation.

Every heuristic is one field whose default mirrors *How to Train Your Super-Net* (Table 5, NB201 row) unless
noted. Unknown keys are rejected with a message that names the key and lists the allowed ones.
Presets live in ``configs/*.yaml``; ``load_config(path, overrides)`` applies ``key.sub=value`` overrides.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from wsbench.dotted import merge, set_dotted


class _Cfg(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class SpaceCfg(_Cfg):
    """Which search space (and optional sub-space) the super-net covers."""

    name: str = "nb201"  # a registered space (wsbench.registry): nb101, nb201, darts or a plug-in
    subspace: str | None = None  # NB101: A1..A4, full, with_residual, without_residual

    @model_validator(mode="after")
    def _known_space(self) -> SpaceCfg:
        from wsbench.registry import space_info

        info = space_info(self.name)  # an unknown name raises with the registered choices
        info.canonical_subspace(self.subspace)  # so does a sub-space the space does not have
        return self


class MappingCfg(_Cfg):
    """The mapping f_ws from the search space to the super-net's shared weights."""

    channels: int = 16  # initial channels C (Table 5: NB201 16)
    cells_per_stage: int = 5  # N cells per stage (Table 5 "# layer": NB201 5)
    op_map: Literal["edge", "node"] = "edge"  # ops on edges (default) or on nodes
    bn_track_running_stats: bool = False  # Tr=F
    bn_affine: bool = True  # A=T
    bn_momentum: float = 0.1  # torch convention (1 - TF decay)
    bn_eps: float = 1e-5
    wsbn: bool = False  # one BN per incoming edge
    path_dropout: float = 0.0  # drop a sampled incoming edge (training only)
    global_dropout: float = 0.0  # dropout before the classifier (training only)
    dynamic_channels: Literal["fixed", "shuffle", "interpolate", "disable"] = "fixed"  # NB101 only
    kernel: Literal["separate", "single", "ofa"] = "separate"  # weight sharing across kernel sizes


class ProtocolCfg(_Cfg):
    """The super-net training protocol P_ws."""

    optimizer: Literal["sgd", "rmsprop_tf"] = "sgd"
    lr: float = Field(0.025, gt=0.0)
    momentum: float = Field(0.9, ge=0.0, lt=1.0)
    nesterov: bool = True
    weight_decay: float = Field(3e-3, ge=0.0)
    rmsprop_eps: float = 1.0  # TF-style RMSprop epsilon (inside the square root), NB101 protocol
    rmsprop_decay: float = 0.9
    schedule: Literal["cosine", "constant"] = "cosine"
    min_lr: float = Field(0.0, ge=0.0)
    warmup_epochs: int = Field(0, ge=0)
    epochs: int = Field(1000, ge=1)
    batch_size: int = Field(128, ge=1)
    grad_clip: float | None = Field(5.0, gt=0.0)
    sampler: Literal["random_nas", "random_a", "fairnas", "pro_rata", "sandwich"] = "fairnas"
    paths_per_batch: int = Field(1, ge=1)  # avg-k: k paths per batch, gradients averaged, one step
    seed: int = 0
    amp: bool = True  # bf16 autocast on GPU (ignored on CPU)
    cpu_bf16: bool = False  # bf16 autocast on CPU where it has AVX512-BF16 / AMX (else ignored; docs/performance.md)
    channels_last: bool = True  # channels-last memory format for training and evaluation (GPU and CPU)
    device: str = "auto"
    tensorboard: bool = False  # mirror metrics.jsonl to TensorBoard event files (needs the tensorboard package)
    threads: int | None = Field(None, ge=1)  # CPU intra-op threads (torch.set_num_threads); None = torch's default
    max_minutes: float | None = Field(None, gt=0.0)  # wall-clock budget for training (stops at an epoch boundary)


class DataCfg(_Cfg):
    """Dataset, split and augmentation."""

    dataset: Literal["cifar10", "digits"] = "cifar10"
    valid_fraction: float = Field(0.1, gt=0.0, lt=1.0)  # 90/10 split of the training set
    train_portion: float = Field(0.9, gt=0.0, le=1.0)  # Table 5 "portion": NB201 0.9
    split_seed: int = 0
    resolution: int | None = None  # area-downsample images to this side (low fidelity); None = native
    augment: bool = True  # random crop (4-pixel padding) + horizontal flip, on the training device

    @model_validator(mode="after")
    def _disjoint_split(self) -> DataCfg:
        if self.train_portion + self.valid_fraction > 1.0 + 1e-9:  # checked at load, not hours later at training
            raise ValueError(f"train_portion {self.train_portion} + valid_fraction {self.valid_fraction} exceed 1: "
                             f"train and valid would overlap; lower data.train_portion to at most "
                             f"{1.0 - self.valid_fraction:g}")
        return self


class EvalCfg(_Cfg):
    """Proxy evaluation of a fixed list of architectures against the ground truth."""

    n_archs: int = Field(200, ge=2)  # a ranking needs two architectures
    arch_seed: int = 0
    bn_mode: Literal["bns-ft", "no-ft", "batch"] = "bns-ft"
    bn_batches: int = Field(4, ge=0)  # K batches for BN re-estimation
    bn_batch_size: int = Field(256, ge=1)
    eval_batches: int = Field(8, ge=1)  # fixed evaluation batches of the validation split, reused for every arch
    eval_batch_size: int = Field(256, ge=1)
    ground_truth: str = "nb201:cifar10_test_200ep"  # table:metric
    skt_threshold: float = 0.1  # percentage points
    top_k: int = Field(3, ge=1)  # final searched model = mean ground truth of the top-k by proxy
    eval_every: int | None = Field(None, ge=1)  # epochs; None = only at the end
    # score that ranks the cells: top-1 accuracy, minus the mean CE loss, or the mean of the accuracy rank and the
    # parameter-count rank (super-net + zero-cost prior; docs/low-fidelity.md)
    proxy: Literal["accuracy", "neg_loss", "accuracy_params"] = "accuracy"
    final: bool = True  # evaluate at the end of training


class RunCfg(_Cfg):
    """A whole super-net run."""

    space: SpaceCfg = SpaceCfg()
    mapping: MappingCfg = MappingCfg()
    protocol: ProtocolCfg = ProtocolCfg()
    data: DataCfg = DataCfg()
    eval: EvalCfg = EvalCfg()
    name: str = "run"


class ConfigError(ValueError):
    """A configuration file or override is invalid."""


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["protocol.lr=0.05", "mapping.wsbn=true"]`` -> nested dict (values parsed as YAML scalars)."""
    tree: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not of the form section.key=value (e.g. protocol.lr=0.05)")
        key, raw = item.split("=", 1)
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise ConfigError(f"override {item!r}: {raw!r} is not a valid value ({_yaml_problem(exc)}); "
                              f"write a number, true/false, a word or a complete [list]") from None
        set_dotted(tree, key.strip(), value, ConfigError)
    return tree


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """One line: what the YAML parser found wrong and where (line/column are 1-based)."""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    mark = getattr(exc, "problem_mark", None)
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else str(problem)


def build_config(tree: dict[str, Any], source: str = "config") -> RunCfg:
    """Validate a nested dict into ``RunCfg``; errors name the bad key and the allowed ones."""
    try:
        return RunCfg.model_validate(tree)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = ".".join(str(x) for x in err["loc"])
            if err["type"] == "extra_forbidden":
                section = _section_model(err["loc"][:-1])
                allowed = ", ".join(section.model_fields) if section else "?"
                lines.append(f"unknown key {loc!r} (allowed here: {allowed})")
            else:
                got = f" (got {err['input']!r})" if err["type"] not in ("missing",) and "input" in err else ""
                lines.append(f"{loc}: {err['msg']}{got}")
        raise ConfigError(f"invalid {source}: " + "; ".join(lines)) from None


def _section_model(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] = RunCfg
    for part in loc:
        field = model.model_fields.get(str(part))
        if field is None or not isinstance(field.annotation, type) or not issubclass(field.annotation, BaseModel):
            return None
        model = field.annotation
    return model


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {path} is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML ({_yaml_problem(exc)}); fix it there") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read ({exc.strerror or exc})") from None
    if loaded is not None and not isinstance(loaded, dict):
        raise ConfigError(f"config file {path} must hold a mapping of sections, got {type(loaded).__name__}")
    return loaded or {}


def resolve_config_path(name_or_path: str | Path) -> Path:
    """A preset name (``nb201-cpu``, see ``wsbench presets``) or a path to a YAML file, as an existing path."""
    from wsbench.presets import PresetNotFoundError, find_preset

    path = Path(name_or_path)
    if path.is_file():
        return path
    try:
        return find_preset(name_or_path)
    except PresetNotFoundError as exc:
        raise ConfigError(str(exc)) from None


def load_tree(name_or_path: str | Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The config tree of a preset with its ``base:`` chain resolved: the file's keys over its base's.

    ``base`` names another preset (or a path, relative to the file first); a preset thus states only what differs
    from its base. A cycle of bases is refused.
    """
    path = resolve_config_path(name_or_path)
    if path.resolve() in _seen:
        chain = " -> ".join(p.stem for p in (*_seen, path.resolve()))
        raise ConfigError(f"config file {path} inherits from itself ({chain}); break the cycle of 'base:' keys")
    tree = _read_yaml(path)
    base = tree.pop("base", None)
    if base is None:
        return tree
    if not isinstance(base, str):
        raise ConfigError(f"config file {path}: 'base' must name a preset or a YAML path, got {base!r}")
    local = path.parent / base
    parent = load_tree(local if local.suffix in (".yaml", ".yml") and local.is_file() else base,
                       (*_seen, path.resolve()))
    return merge(parent, tree)


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> RunCfg:
    """Load a preset (a name such as ``nb201-cpu`` or a YAML path; the defaults when None), resolving its
    ``base:`` chain, and apply ``key=value`` overrides."""
    tree: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        resolved = resolve_config_path(path)
        tree = load_tree(resolved)
        source = str(resolved)
    if overrides:
        tree = merge(tree, parse_overrides(overrides))
    return build_config(tree, source)


#: Fields added after studies already had results, with their defaults. While at the default they stay out of a
#: config's identity (``identity_tree``: run ids, the shared-training key, ``config.yaml``), so that the runs of
#: existing studies keep their ids and resume instead of running again.
LATE_FIELDS: dict[str, Any] = {"protocol.cpu_bf16": False}


def identity_tree(cfg: RunCfg) -> dict[str, Any]:
    """``cfg.model_dump(mode="json")`` without the ``LATE_FIELDS`` that hold their defaults."""
    dump = cfg.model_dump(mode="json")
    for dotted, default in LATE_FIELDS.items():
        section, key = dotted.split(".", 1)
        if key in dump.get(section, {}) and dump[section][key] == default:
            del dump[section][key]
    return dump


def dump_config(cfg: RunCfg) -> str:
    """YAML text of a full resolved config (late fields at their defaults left out, see ``LATE_FIELDS``)."""
    return yaml.safe_dump(identity_tree(cfg), sort_keys=False)
