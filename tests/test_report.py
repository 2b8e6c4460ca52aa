"""Tests of the report: properties, plots, the run/search/study reports, the CLI and a headless-browser check."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

from wsbench.benchmarks.store import save_table
from wsbench.benchmarks.table import GroundTruth
from wsbench.config import RunCfg, dump_config
from wsbench.evaluate import metrics as M
from wsbench.plots.figures import (
    rank_disorder_figure,
    rank_pairs,
    sampler_coverage,
    sampler_coverage_plot,
    truth_ranks,
)
from wsbench.report import build_report, detect_kind, property_values
from wsbench.report.properties import PropertyError, op_at
from wsbench.spaces import get_space
from wsbench.spaces.nb101.space import from_matrix

RUN_SECTIONS = ("status", "metrics", "bias", "ranking", "curves", "sampling", "training", "config")
NB201_CSV = "nb201/nb201_200ep_test.csv"


# -- fixtures ----------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def nb201_table(shared_data: Path) -> GroundTruth:
    """The real NB201 table (CIFAR-10 200-epoch test accuracy) plus a synthetic ``flops`` column."""
    raw = pd.read_csv(shared_data / NB201_CSV, usecols=["ArchitectureString", "CIFAR10TestAccuracy200Epochs"])
    space = get_space("nb201")
    params = np.asarray([space.num_params(space.parse(k)) for k in raw["ArchitectureString"]], dtype=np.float64)
    flops = params * 97.0 + np.arange(len(raw)) % 13  # not a monotone function of params: its own baseline
    return GroundTruth.from_columns("nb201", "nb201", {"key": raw["ArchitectureString"].to_numpy(),
                                                      "cifar10_test_200ep": raw["CIFAR10TestAccuracy200Epochs"]
                                                      .to_numpy(float), "flops": flops})


def _eval_frame(table: GroundTruth, n: int = 50, seed: int = 0) -> pd.DataFrame:
    """50 NB201 architectures from the real table with a noisy proxy (correlated with the truth)."""
    rng = np.random.default_rng(seed)
    space = get_space("nb201")
    rows = rng.choice(len(table), size=n, replace=False)
    truth = table.values("cifar10_test_200ep", rows)
    keys = table.keys[rows]
    proxy = 0.5 * truth + rng.normal(0, 4, size=n) + 20
    params = [space.num_params(space.parse(k)) for k in keys]
    return pd.DataFrame({"key": keys, "proxy_acc": proxy, "truth": truth, "params": np.asarray(params, np.int64)})


def make_run(root: Path, frame: pd.DataFrame, status: str = "finished", epochs: int = 6) -> dict[str, float]:
    """A fake run directory as ``train_supernet`` writes it; returns the final metrics it logged."""
    cfg = RunCfg()
    cfg.protocol.epochs = epochs
    cfg.name = "fake-run"
    (root / "evals").mkdir(parents=True)
    (root / "config.yaml").write_text(dump_config(cfg))
    proxy, truth, params = (frame[c].to_numpy(float) for c in ("proxy_acc", "truth", "params"))
    final = M.ranking_metrics(proxy, truth, truth, 0.1, 3)
    final.update({"n_archs": len(frame), "bn_mode": "bns-ft", "params_spearman": M.spearman(params, truth),
                  "params_kendall_tau": M.kendall_tau(params, truth),
                  "params_sparse_kendall_tau": M.sparse_kendall_tau(params, truth, 0.1)})
    lines = []
    for step in range(10, 130, 10):
        lines.append({"kind": "train", "epoch": step // 20 + 1, "step": step, "loss": 2.3 - step / 100,
                      "train_acc": 10 + step / 3, "lr": 0.025, "elapsed": step / 10})
    for epoch in (2, 4):
        lines.append({"kind": "eval", "tag": f"epoch{epoch}", "epoch": epoch, "step": epoch * 20,
                      **{k: (v * epoch / 6 if isinstance(v, float) and not k.startswith("params") else v)
                         for k, v in final.items()}})
    lines.append({"kind": "eval", "tag": "final", "epoch": epochs, "step": 120, **final})
    (root / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    st = {"status": status, "epoch": epochs, "step": 120, "device": "cpu", "updated": 1.7e9}
    if status == "diverged":
        st["message"] = "non-finite training loss at step 77 (epoch 4); lower protocol.lr"
    (root / "status.json").write_text(json.dumps(st))
    (root / "metrics.json").write_text(json.dumps(final))
    frame.to_parquet(root / "evals" / "final.parquet", index=False)
    return final


def _png_ok(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    assert img.format == "PNG" and img.width > 100 and img.height > 100
    return img


def _data_uris(html: str) -> list[str]:
    return re.findall(r'<img src="([^"]+)"', html)


# -- properties --------------------------------------------------------------------------------------------------
def test_nb201_op_properties_on_a_known_string() -> None:
    space = get_space("nb201")
    key = "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|avg_pool_3x3~0|nor_conv_1x1~1|nor_conv_3x3~2|"
    arch = space.parse(key)
    # EDGES order: (0,1) (0,2) (1,2) (0,3) (1,3) (2,3)
    assert op_at(space, arch, "0") == "nor_conv_3x3"
    assert op_at(space, arch, "2") == "none"
    assert op_at(space, arch, "1-3") == "nor_conv_1x1"
    assert op_at(space, arch, "0-3") == "avg_pool_3x3"
    frame = pd.DataFrame({"key": [key, "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"], "truth": [1.0, 2.0]})
    assert property_values(frame, "n_conv3x3", space).tolist() == [2, 0]
    assert property_values(frame, "op@2-3", space).tolist() == ["nor_conv_3x3", "none"]
    assert property_values(frame, "truth").tolist() == [1.0, 2.0]  # a column of the table
    assert property_values(frame, "params", space).tolist() == [space.num_params(arch),
                                                                 space.num_params(space.parse(frame.key[1]))]
    with pytest.raises(PropertyError, match="no edge"):
        op_at(space, arch, "3-1")
    with pytest.raises(PropertyError, match="unknown colour-by"):  # residual is an NB101 property
        property_values(frame, "residual", space)
    with pytest.raises(PropertyError, match="unknown colour-by"):
        property_values(frame, "colour", space)


def test_nb101_residual_and_first_node_from_archs_json_texts() -> None:
    space = get_space("nb101")
    # in -> c3 -> out plus in -> out (residual); and in -> c1 -> mp -> out (no residual)
    a = from_matrix("011001000", "in,c3,out")
    b = from_matrix("0100001000010000", "in,c1,mp,out")
    texts = {space.key(a): space.format(a), space.key(b): space.format(b)}
    frame = pd.DataFrame({"key": [space.key(a), space.key(b)]})
    assert property_values(frame, "residual", space, texts).tolist() == [True, False]
    assert property_values(frame, "op@1", space, texts).tolist() == ["conv3x3-bn-relu", "conv1x1-bn-relu"]
    assert property_values(frame, "op@2", space, texts).tolist() == ["absent", "maxpool3x3"]
    assert property_values(frame, "n_conv3x3", space, texts).tolist() == [1, 0]
    with pytest.raises(PropertyError, match="archs.json"):
        property_values(frame, "residual", space)  # hashes alone cannot be parsed


# -- plots -------------------------------------------------------------------------------------------------------
def test_rank_disorder_draws_one_line_per_architecture() -> None:
    truth = np.array([90.0, 80.0, 85.0, 70.0, 95.0])
    proxy = np.array([50.0, 60.0, 40.0, 30.0, 55.0])
    ranks = rank_pairs(proxy, truth)
    # truth order: 95 (#5), 90 (#1), 85 (#3), 80 (#2), 70 (#4); proxy order: 60 (#2), 55 (#5), 50 (#1), ...
    assert ranks[:, 0].tolist() == [2, 4, 3, 5, 1]
    assert ranks[:, 1].tolist() == [3, 1, 4, 5, 2]
    fig = rank_disorder_figure(proxy, truth)
    segments = fig.axes[0].collections[0].get_segments()
    assert len(segments) == 5
    assert sorted((s[0][1], s[1][1]) for s in segments) == sorted(map(tuple, ranks.astype(float).tolist()))


def test_sampler_coverage_uses_seeded_samplers(nb201_table: GroundTruth, tmp_path: Path) -> None:
    space = get_space("nb201")
    rows = sampler_coverage(space, nb201_table, "cifar10_test_200ep", ["random_nas", "fairnas"], n_paths=500)
    again = sampler_coverage(space, nb201_table, "cifar10_test_200ep", ["random_nas"], n_paths=500)
    assert len(rows["random_nas"]) == 500 and len(rows["fairnas"]) == 500  # the table knows every NB201 cell
    np.testing.assert_array_equal(rows["random_nas"], again["random_nas"])
    ranks = truth_ranks(nb201_table, "cifar10_test_200ep")
    best = int(np.nanargmax(nb201_table.values("cifar10_test_200ep")))
    assert ranks[best] == 0 and ranks.max() < len(nb201_table)
    # uniform encodings: about half of the draws fall in the better half of the table
    assert 0.4 < np.mean(ranks[rows["random_nas"]] < len(nb201_table) / 2) < 0.6
    path = sampler_coverage_plot(space, nb201_table, "cifar10_test_200ep", ["random_a"], tmp_path / "c.png",
                                 n_paths=200)
    _png_ok(path.read_bytes())


# -- run report --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def built_run(nb201_table: GroundTruth, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame, dict]:
    """One finished fake run with its report (ground truth with FLOPs in a private data directory)."""
    root = tmp_path_factory.mktemp("built")
    save_table(nb201_table, root / "data")
    frame = _eval_frame(nb201_table)
    final = make_run(root / "run", frame)
    result = build_report(root / "run", color_by="op@0", data_dir=root / "data", coverage_paths=300,
                          n_resamples=100)
    assert result.kind == "run" and result.html == root / "run" / "report.html"
    assert result.markdown == root / "run" / "report.md"
    return root / "run", frame, final


def test_run_report_contents(built_run: tuple[Path, pd.DataFrame, dict], nb201_table: GroundTruth) -> None:
    run, frame, final = built_run
    html, md = (run / "report.html").read_text(), (run / "report.md").read_text()
    for anchor in RUN_SECTIONS:
        assert f'<section id="{anchor}">' in html
    for key in ("sparse_kendall_tau", "spearman", "params_sparse_kendall_tau", "params_spearman"):
        assert f"{final[key]:.3f}" in html and f"{final[key]:.3f}" in md
    flops = pd.Series(nb201_table.values("flops", nb201_table.index(frame["key"].to_numpy())))
    assert f"{M.spearman(flops.to_numpy(), frame['truth'].to_numpy()):.3f}" in html
    assert "FLOPS baseline" in html and "#params baseline" in html
    ci = re.search(r"<td>s-KdT</td><td>([-0-9.]+)</td><td>\[([-0-9.]+), ([-0-9.]+)\]</td>", html)
    assert ci is not None and float(ci[2]) <= float(ci[1]) <= float(ci[3])
    assert "| s-KdT |" in md and "| metric | super-net | 95% CI |" in md
    assert "DIVERGED" not in html
    uris = _data_uris(html)
    assert len(uris) == 5  # bias, ranking, metric curves, coverage, training
    for uri in uris:
        assert uri.startswith("data:image/png;base64,")
        _png_ok(base64.b64decode(uri.split(",", 1)[1]))
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert len(links) == len(uris) and all((run / link).exists() for link in links)
    assert "coloured by op@0" in html
    assert "http://" not in html and "https://" not in html and "<script" not in html


def test_diverged_run_shows_warning(nb201_table: GroundTruth, tmp_path: Path, data_dir: Path) -> None:
    run = tmp_path / "run"
    make_run(run, _eval_frame(nb201_table, n=20), status="diverged")
    result = build_report(run, color_by="residual", coverage_paths=0, n_resamples=100)
    html = result.html.read_text()
    assert '<div class="alert danger" role="alert">DIVERGED' in html
    assert "cannot colour by &#x27;residual&#x27;" in html and "unknown colour-by property" in html
    assert "step 120" in html and "non-finite training loss" in html
    assert "> **WARNING:** DIVERGED" in result.markdown.read_text()
    # no table in the data directory: the report says what is missing instead of failing
    assert "not imported" in html


def test_cli_report_and_errors(nb201_table: GroundTruth, tmp_path: Path, data_dir: Path) -> None:
    from wsbench.commands import report

    app = typer.Typer()
    report.register(app)
    run = tmp_path / "run"
    make_run(run, _eval_frame(nb201_table, n=30))
    out = tmp_path / "elsewhere" / "r.html"
    res = CliRunner().invoke(app, [str(run), "--out", str(out), "--color-by", "params", "--coverage-paths", "0",
                                      "--resamples", "100"])
    assert res.exit_code == 0, res.output
    assert out.exists() and out.with_suffix(".md").exists() and (tmp_path / "elsewhere" / "r_files").is_dir()
    res = CliRunner().invoke(app, [str(tmp_path / "elsewhere")])
    assert res.exit_code == 2 and "neither a run directory" in res.output


# -- search and study --------------------------------------------------------------------------------------------
def test_search_report(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rows = [{"run": r, "evaluations": e, "time": float("nan"), "regret": 5.0 / e + rng.random()}
            for r in range(4) for e in range(1, 51)]
    pd.DataFrame(rows).to_csv(tmp_path / "curves.csv", index=False)
    summary = {"space": "nb201", "subspace": None, "table": "nb201", "algo": "rs", "runs": 4, "budget": 50,
               "final_regret": {"mean": 0.61, "ci95": [0.2, 1.0]}, "notes": ["time is unknown"]}
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    assert detect_kind(tmp_path) == "search"
    result = build_report(tmp_path)
    html = result.html.read_text()
    assert '<section id="regret">' in html and "final_regret.mean" in html and "time is unknown" in html
    (uri,) = _data_uris(html)
    _png_ok(base64.b64decode(uri.split(",", 1)[1]))


def test_study_report(tmp_path: Path) -> None:
    from wsbench.experiments.store import ResultStore

    store = ResultStore(tmp_path)
    rng = np.random.default_rng(1)
    for i, (factor, value) in enumerate([("base", "base")] * 3 + [("lr", "0.05")] * 3 + [("lr", "0.1")] * 2):
        status = "diverged" if i == 7 else "finished"
        evals = [] if status == "diverged" else [("final", 10, m, float(rng.random()) * s) for m, s in
                                                 (("sparse_kendall_tau", 1), ("supernet_accuracy", 80),
                                                  ("final_model_accuracy", 94), ("spearman", 1))]
        store.record({"id": f"r{i}", "study": "s", "factor": factor, "value": value, "seed": i % 3,
                      "space": "nb201", "status": status}, evals)
    assert detect_kind(tmp_path) == "study"
    html = build_report(tmp_path).html.read_text()
    for anchor in ("study", "factors", "correlations"):
        assert f'<section id="{anchor}">' in html
    assert "lr" in html and "0.05" in html and "diverged" in html
    assert len(_data_uris(html)) >= 1


# -- a real browser ----------------------------------------------------------------------------------------------
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


@pytest.mark.skipif(CHROMIUM is None, reason="no headless browser (install the Debian package chromium)")
def test_report_renders_in_headless_chromium(built_run: tuple[Path, pd.DataFrame, dict], tmp_path: Path) -> None:
    html = built_run[0] / "report.html"
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'p'}"]
    shot = tmp_path / "shot.png"
    subprocess.run([*flags, f"--screenshot={shot}", "--window-size=1200,2400", html.as_uri()], check=True,
                   capture_output=True, timeout=60)
    dom = subprocess.run([*flags, "--dump-dom", html.as_uri()], check=True, capture_output=True, text=True,
                         timeout=60).stdout
    for anchor in RUN_SECTIONS:
        assert f'<section id="{anchor}">' in dom
    assert '<div class="alert' in dom and "<details>" in dom
    metrics = dom.split('<section id="metrics">', 1)[1].split("</section>", 1)[0]
    assert "<table>" in metrics and "super-net" in metrics  # the headline table a reader sees first
    srcs = re.findall(r'<img src="([^"]+)"', dom)
    assert len(srcs) == 5
    for src in srcs:
        assert src.startswith("data:image/png;base64,")
        _png_ok(base64.b64decode(src.split(",", 1)[1]))
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.shape[0] >= 2000 and pixels.std() > 10  # not a blank page


def test_run_ranked_by_the_ensemble_headlines_the_supernet_alone(nb201_table: GroundTruth, tmp_path: Path,
                                                                 data_dir: Path) -> None:
    """eval.proxy accuracy_params: the 'super-net' column is the super-net's own ranking with its own interval;
    the super-net + #params ensemble that the run ranked by stands in its own, named column."""
    from scipy.stats import rankdata

    run = tmp_path / "run"
    frame = _eval_frame(nb201_table, n=60, seed=4)
    final = make_run(run, frame)
    proxy, truth, params = (frame[c].to_numpy(float) for c in ("proxy_acc", "truth", "params"))
    alone = M.sparse_kendall_tau(proxy, truth, 0.1)
    ensemble = M.sparse_kendall_tau((rankdata(proxy) + rankdata(params)) / 2, truth, 0.1)
    cfg = RunCfg()
    cfg.eval.proxy = "accuracy_params"
    (run / "config.yaml").write_text(dump_config(cfg))
    final.update({"proxy": "accuracy_params", "sparse_kendall_tau": ensemble, "acc_sparse_kendall_tau": alone,
                  "hybrid_sparse_kendall_tau": ensemble})
    (run / "metrics.json").write_text(json.dumps(final))
    build_report(run, coverage_paths=0, n_resamples=200)
    md = (run / "report.md").read_text()
    row = next(line for line in md.splitlines() if line.startswith("| s-KdT |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert float(cells[1]) == pytest.approx(alone, abs=5e-4)
    lo, hi = (float(x) for x in cells[2].strip("[]").split(","))
    assert lo <= alone <= hi  # the interval belongs to the number beside it
    assert "ensemble super-net + #params (eval.proxy)" in md
    header = next(line for line in md.splitlines() if line.startswith("| metric |"))
    col = [c.strip() for c in header.strip("|").split("|")].index("ensemble super-net + #params (eval.proxy)")
    assert float(cells[col]) == pytest.approx(ensemble, abs=5e-4)
