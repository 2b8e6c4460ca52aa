"""The NAS-Bench-101 and DARTS-NDS studies of "How to Train Your Super-Net" (studies/yu2020-nb101.yaml and
studies/yu2020-darts.yaml): every fidelity expands into distinct, valid runs, the paper's numbers and findings
name settings that the study runs, and the CPU levels keep their meaning relative to the CPU base."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
from typer.testing import CliRunner

from wsbench.cli import app
from wsbench.experiments.expand import expand, label_order
from wsbench.experiments.findings import parse_claim, study_findings
from wsbench.experiments.spec import BASE_LABEL, RunSpec, StudySpec, load_study

REPO = Path(__file__).resolve().parents[1]
STUDIES = {"nb101": REPO / "studies" / "yu2020-nb101.yaml", "darts": REPO / "studies" / "yu2020-darts.yaml"}
FIDELITIES = [None, "paper", "cpu"]
# runs per seed (the base plus every level that differs from it)
PER_SEED = {("nb101", "paper"): 42, ("nb101", "cpu"): 41, ("darts", "paper"): 36, ("darts", "cpu"): 36}
# the CPU bases have one cell per stage: Table 11's "-1"/"-2" are measured there as "+1"/"+2"
CPU_ONLY_LAYERS = {("layers", "+1"), ("layers", "+2")}
PAPER_ONLY_LAYERS = {("layers", "-1"), ("layers", "-2")}


def _load(space: str, fidelity: str | None) -> tuple[StudySpec, list[RunSpec]]:
    spec = load_study(STUDIES[space], fidelity=fidelity)
    return spec, expand(spec)


def _by_label(runs: list[RunSpec]) -> dict[tuple[str, str, int], RunSpec]:
    return {(f, v, r.seed): r for r in runs for f, v in r.labels}


def _claims(spec: StudySpec, fidelity: str | None) -> list[tuple[str, str, str]]:
    return study_findings({"paper": spec.paper, "fidelity": fidelity, "mode": spec.mode})


@pytest.mark.parametrize("fidelity", FIDELITIES)
@pytest.mark.parametrize("space", sorted(STUDIES))
def test_every_level_is_a_distinct_valid_run(space, fidelity):
    spec, runs = _load(space, fidelity)
    assert spec.mode == "ofat" and spec.seeds == [0, 1, 2]
    assert {r.seed for r in runs} == {0, 1, 2}
    assert {r.cfg.space.name for r in runs} == {space}
    # Yu et al. evaluate without BN re-estimation, with the top-1 accuracy as the proxy, at every fidelity
    assert {r.cfg.eval.bn_mode for r in runs} == {"no-ft"}
    assert {r.cfg.eval.proxy for r in runs} == {"accuracy"}
    assert {r.cfg.eval.n_archs for r in runs} == {200}
    assert len({r.id for r in runs}) == len(runs)
    assert sum(r.seed == 0 for r in runs) == PER_SEED[(space, fidelity or "paper")]
    by_label = _by_label(runs)
    for seed in spec.seeds:
        for factor, value in label_order(spec):  # every level of every factor has its run
            assert (factor, value, seed) in by_label, (factor, value, seed)
        for factor in spec.factors:  # and the levels of one factor are distinct configurations
            ids = [by_label[(factor.name, lv.label, seed)].id for lv in factor.levels]
            assert len(set(ids)) == len(ids), factor.name


@pytest.mark.parametrize("space", sorted(STUDIES))
def test_paper_rows_name_labels_of_the_study(space):
    paper_spec, _ = _load(space, None)
    cpu_spec, _ = _load(space, "cpu")
    rows = paper_spec.paper["rows"]
    assert rows and cpu_spec.paper == paper_spec.paper
    paper_labels = set(label_order(paper_spec))
    cpu_labels = set(label_order(cpu_spec))
    for row in rows:
        key = (str(row["factor"]), str(row["value"]))
        assert key in paper_labels, key
        assert key in cpu_labels or key in PAPER_ONLY_LAYERS, key
        assert "sparse_kendall_tau" in row and isinstance(row["table"], int)
        acc = row.get("supernet_accuracy")
        if acc is not None:  # fractions, as [mean, std]
            assert len(acc) == 2 and 0.0 <= acc[0] <= 1.0 and 0.0 <= acc[1] <= 1.0
        final = row.get("final_model_accuracy")
        if final is not None:  # percent, also where the paper printed a fraction (NB101, Tables 10-12)
            mean = final[0] if isinstance(final, list) else final
            assert 80.0 <= mean <= 100.0, row
    assert cpu_labels - paper_labels == CPU_ONLY_LAYERS
    assert paper_labels - cpu_labels == PAPER_ONLY_LAYERS


def _paper_skt(rows: list[dict], side: dict[str, str] | None) -> float:
    key = (BASE_LABEL, BASE_LABEL) if side is None else next(iter(side.items()))
    row = next(r for r in rows if (str(r["factor"]), str(r["value"])) == key and "sparse_kendall_tau" in r)
    return float(row["sparse_kendall_tau"])


@pytest.mark.parametrize("fidelity", FIDELITIES)
@pytest.mark.parametrize("space", sorted(STUDIES))
def test_findings_parse_and_name_settings_that_run(space, fidelity):
    spec, runs = _load(space, fidelity)
    claims = _claims(spec, fidelity)
    assert len(claims) >= 15
    labels = {f"{f}={v}" for r in runs for f, v in r.labels}
    for _, metric, claim in claims:
        assert metric == "sparse_kendall_tau"
        left, op, right = parse_claim(claim, grid=False)
        assert op in ("<", ">")
        for side in (left, right):
            if side is None:
                assert f"{BASE_LABEL}={BASE_LABEL}" in labels
            else:
                assert len(side) == 1
                assert f"{next(iter(side))}={next(iter(side.values()))}" in labels, (fidelity, claim)


@pytest.mark.parametrize("space", sorted(STUDIES))
def test_findings_follow_the_papers_numbers(space):
    spec, _ = _load(space, None)
    rows = spec.paper["rows"]
    for finding, _, claim in _claims(spec, None):
        left, op, right = parse_claim(claim, grid=False)
        diff = _paper_skt(rows, left) - _paper_skt(rows, right)
        assert (diff < 0) if op == "<" else (diff > 0), (finding, claim, diff)
        assert abs(diff) >= 0.04, (finding, claim, diff)


@pytest.mark.parametrize("space", sorted(STUDIES))
def test_cpu_levels_keep_their_meaning(space):
    paper_spec, paper_runs = _load(space, None)
    spec, runs = _load(space, "cpu")
    paper_by, by = _by_label(paper_runs), _by_label(runs)
    base, paper_base = by[(BASE_LABEL, BASE_LABEL, 0)].cfg, paper_by[(BASE_LABEL, BASE_LABEL, 0)].cfg
    assert base.mapping.cells_per_stage == 1 and base.data.resolution == 8
    assert base.protocol.threads == 1 and base.protocol.max_minutes is None and base.eval.eval_every is None
    assert base.protocol.sampler == "random_nas" and paper_base.protocol.sampler == "fairnas"
    for seed in spec.seeds:
        epochs = {v: by[("protocol.epochs", v, seed)].cfg.protocol.epochs for v in ("100", "400", "1000")}
        # the same fractions of the schedule as the paper's 100 / 400 / 1000 epochs
        assert epochs["400"] == base.protocol.epochs
        for label, n in epochs.items():
            assert n * paper_base.protocol.epochs == int(label) * base.protocol.epochs, (label, n)
        for div in (2, 4):
            assert by[("batch", f"/{div}", seed)].cfg.protocol.batch_size * div == base.protocol.batch_size
            assert by[("channels", f"/{div}", seed)].cfg.mapping.channels * div == base.mapping.channels
            paper_ch = paper_by[("channels", f"/{div}", seed)].cfg.mapping.channels
            assert paper_ch * div == paper_base.mapping.channels
        assert [by[("layers", f"+{k}", seed)].cfg.mapping.cells_per_stage for k in (1, 2)] == [2, 3]
        assert [paper_by[("layers", f"-{k}", seed)].cfg.mapping.cells_per_stage for k in (1, 2)] == [
            paper_base.mapping.cells_per_stage - 1, paper_base.mapping.cells_per_stage - 2]
    # the levels that are not low-fidelity levers are the paper's own values at both fidelities
    for factor in ("protocol.lr", "protocol.weight_decay", "data.train_portion", "mapping.path_dropout"):
        cpu_levels = [lv.overrides for f in spec.factors if f.name == factor for lv in f.levels]
        paper_levels = [lv.overrides for f in paper_spec.factors if f.name == factor for lv in f.levels]
        assert cpu_levels and cpu_levels == paper_levels, factor
    per_seed = [r for r in runs if r.seed == 0]
    assert len({r.cfg.protocol.epochs for r in per_seed}) == 7


def test_nb101_dynamic_channels_and_subspaces():
    for fidelity in (None, "cpu"):
        _, runs = _load("nb101", fidelity)
        by = _by_label(runs)
        assert by[(BASE_LABEL, BASE_LABEL, 0)].cfg.mapping.dynamic_channels == "interpolate"
        assert by[("dynamic_channels", "interpolate", 0)].id == by[(BASE_LABEL, BASE_LABEL, 0)].id
        for mode in ("fixed", "shuffle"):
            cfg = by[("dynamic_channels", mode, 0)].cfg
            assert cfg.mapping.dynamic_channels == mode and cfg.space.subspace is None
        for k in (1, 2, 3, 4):  # disabling trains (and evaluates) one sub-space with fixed output edges
            cfg = by[("dynamic_channels", f"disable A{k}", 0)].cfg
            assert cfg.mapping.dynamic_channels == "disable" and cfg.space.subspace == f"A{k}"
        assert {r.cfg.space.subspace for r in runs} == {None, "A1", "A2", "A3", "A4"}
        # the NB101 rule splits a cell's output among up to 4 vertices: every vertex keeps a channel
        assert min(r.cfg.mapping.channels for r in runs) >= 4
        assert {r.cfg.mapping.op_map for r in runs} == {"node"}
    spec, _ = _load("nb101", None)
    base_row = next(r for r in spec.paper["rows"] if r["factor"] == BASE_LABEL and r["table"] == 11)
    assert base_row["final_model_accuracy"] == [92.1, 1.0] and base_row["sparse_kendall_tau"] == 0.236
    claims = [c for _, _, c in _claims(spec, None)]
    assert [c for c in claims if "disable" in c] == [
        f"dynamic_channels=disable A{k} > dynamic_channels=interpolate" for k in (1, 2, 3, 4)]


def test_darts_mappings_cover_nodes_edges_and_wsbn():
    for fidelity in (None, "cpu"):
        _, runs = _load("darts", fidelity)
        by = _by_label(runs)
        grid = {(r.cfg.mapping.op_map, r.cfg.mapping.wsbn) for r in runs if r.seed == 0}
        assert grid == {("edge", True), ("edge", False), ("node", True), ("node", False)}
        base = by[(BASE_LABEL, BASE_LABEL, 0)].cfg
        assert (base.mapping.op_map, base.mapping.wsbn, base.mapping.bn_affine) == ("edge", True, False)
        assert (by[("ws_mapping", "Op-Node", 0)].cfg.mapping.op_map, by[("ws_mapping", "Op-Node", 0)].cfg.mapping.wsbn
                ) == ("node", False)
        assert by[("other", "OFA Kernel", 0)].cfg.mapping.kernel == "ofa"
        assert {r.cfg.protocol.sampler for r in runs} == {base.protocol.sampler}  # no sampling rows for DARTS
        assert {r.cfg.eval.ground_truth for r in runs} == {"darts-nb301:valid_acc"}
    spec, _ = _load("darts", "cpu")
    layer_claims = [c for _, _, c in _claims(spec, "cpu") if "layers" in c]
    assert layer_claims == ["base > layers=+2"]


@pytest.mark.parametrize("fidelity", [None, "cpu"])
@pytest.mark.parametrize("space", sorted(STUDIES))
def test_cli_dry_run_lists_every_run(space, fidelity):
    args = ["sweep", str(STUDIES[space]), "--dry-run"] + (["--fidelity", fidelity] if fidelity else [])
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    ids = [line.split()[0] for line in res.stdout.splitlines() if line.strip()]  # one line per run, id first
    _, runs = _load(space, fidelity)
    assert ids == [r.id for r in runs]
    assert f"{len(runs)} runs" in res.output  # the count goes to stderr
    counts = defaultdict(int)
    for r in runs:
        counts[r.seed] += 1
    assert set(counts.values()) == {PER_SEED[(space, fidelity or "paper")]}


@pytest.mark.parametrize("space", ["nb201", "nb101", "darts"])
def test_yu_presets_evaluate_without_bn_reestimation(space):
    """Yu et al. evaluate without re-estimating BN: batch statistics when BN does not track, the tracked running
    statistics when it does; so BN tracking changes what an evaluation computes."""
    import torch

    from wsbench.config import MappingCfg, load_config
    from wsbench.evaluate.bn import effective_bn_mode
    from wsbench.spaces import build_supernet

    cfg = load_config(REPO / "configs" / f"{space}-yu2020.yaml")
    assert cfg.eval.bn_mode == "no-ft"
    if space != "nb201":
        return
    torch.manual_seed(0)
    tracked = build_supernet("nb201", MappingCfg(channels=4, cells_per_stage=1, bn_track_running_stats=True), 10)
    untracked = build_supernet("nb201", MappingCfg(channels=4, cells_per_stage=1), 10)
    untracked.load_state_dict(tracked.state_dict(), strict=False)
    assert effective_bn_mode(tracked, "no-ft") == "no-ft" and effective_bn_mode(untracked, "no-ft") == "batch"
    x, arch = torch.randn(8, 3, 8, 8) * 3 + 1, (3, 2, 3, 1, 2, 3)
    tracked.eval()
    untracked.eval()
    assert not torch.allclose(tracked(x, arch), untracked(x, arch), atol=1e-3)
