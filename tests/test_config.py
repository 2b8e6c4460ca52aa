"""The typed config tree: presets load, overrides apply, bad keys are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from wsbench.config import ConfigError, RunCfg, dump_config, load_config, parse_overrides

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


RUN_PRESETS = sorted(p for p in CONFIGS.glob("*.yaml") if not p.name.startswith("standalone-"))


@pytest.mark.parametrize("path", RUN_PRESETS, ids=lambda p: p.name)
def test_every_preset_validates(path: Path) -> None:
    cfg = load_config(path)
    assert isinstance(cfg, RunCfg)
    # a dumped config loads back to the same values
    again = RunCfg.model_validate(__import__("yaml").safe_load(dump_config(cfg)))
    assert again == cfg


def test_yu2020_preset_is_table5_nb201_row() -> None:
    cfg = load_config(CONFIGS / "nb201-yu2020.yaml")
    assert (cfg.mapping.cells_per_stage, cfg.mapping.channels) == (5, 16)
    assert cfg.data.train_portion == 0.9 and cfg.protocol.batch_size == 128
    assert cfg.protocol.lr == 0.025 and cfg.protocol.epochs == 1000 and cfg.protocol.weight_decay == 3e-3
    assert cfg.protocol.sampler == "fairnas"
    assert cfg.mapping.bn_track_running_stats is False and cfg.mapping.bn_affine is True
    assert cfg.mapping.op_map == "edge"


def test_overrides_are_typed_and_nested() -> None:
    cfg = load_config(None, ["protocol.lr=0.1", "mapping.wsbn=true", "eval.eval_every=5"])
    assert cfg.protocol.lr == 0.1 and cfg.mapping.wsbn is True and cfg.eval.eval_every == 5
    assert parse_overrides(["a.b.c=[1, 2]"]) == {"a": {"b": {"c": [1, 2]}}}


def test_unknown_key_is_named_with_allowed_keys() -> None:
    with pytest.raises(ConfigError, match=r"unknown key 'protocol.learning_rate'.*\blr\b"):
        load_config(None, ["protocol.learning_rate=0.1"])


def test_bad_value_and_bad_override_form() -> None:
    with pytest.raises(ConfigError, match="protocol.sampler"):
        load_config(None, ["protocol.sampler=greedy"])
    with pytest.raises(ConfigError, match="section.key=value"):
        load_config(None, ["protocol.lr"])


def test_missing_or_non_mapping_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping of sections"):
        load_config(bad)


def test_every_shipped_preset_and_study_level_resolves_to_valid_configs(monkeypatch, tmp_path):
    """A preset or study level that cannot train (e.g. overlapping train and valid parts) fails here, at load,
    not hours into a sweep."""
    import yaml

    from wsbench.config import load_config
    from wsbench.experiments.expand import expand
    from wsbench.experiments.spec import load_study
    from wsbench.presets import list_presets

    monkeypatch.chdir(tmp_path)  # only the package's own presets and studies
    presets = [p for p in list_presets("configs") if not p.name.startswith("standalone-")]
    assert len(presets) >= 8
    for preset in presets:
        cfg = load_config(str(preset.path))
        assert cfg.data.train_portion + cfg.data.valid_fraction <= 1.0 + 1e-9, preset.name
    for study in list_presets("studies"):
        levels = [None, *yaml.safe_load(study.path.read_text()).get("fidelity", {})]
        for level in levels:
            assert expand(load_study(str(study.path), fidelity=level)), (study.name, level)


def test_overlapping_train_and_valid_parts_are_refused_at_load():
    from wsbench.config import ConfigError, build_config

    with pytest.raises(ConfigError, match="exceed 1.*at most 0.8"):
        build_config({"data": {"valid_fraction": 0.2, "train_portion": 1.0}})
