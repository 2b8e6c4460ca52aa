"""Fault injection: kills at every step of a checkpoint write and of an evaluation, kills of a sweep driver, and a
table of bad inputs.

* Training: an uninterrupted tiny run (NB201 super-net on 8x8 digits, two epochs, an evaluation after each) lists
  its fault points (``wsbench.atomic.fault_point``: every step of every atomic write, checkpoint rotation and
  evaluation). For each point a forked copy of the run is killed there with ``os._exit`` (no clean-up runs, as
  with ``kill -9``); resuming must then give weights, optimiser state, metrics log and evaluations identical to
  the uninterrupted run.
* Sweeps: a serial sweep driver is killed at randomly drawn fault points several times, then run to the end;
  every run is in the store exactly once, finished, with the evaluations of an uninterrupted sweep.
* Bad inputs: truncated / padded / bit-flipped / empty / wrong-format files for every importer, malformed
  architectures for every space, malformed configs and overrides: each ends with a non-zero exit, one line naming
  the problem and the fix, no traceback, and an unchanged data directory.
"""

from __future__ import annotations

import base64
import bz2
import copy
import csv
import gzip
import hashlib
import json
import os
import pickle
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from typer.testing import CliRunner

from test_importers import FULL, _evaluation, _frame, _metrics, _nds_record
from wsbench import atomic
from wsbench.benchmarks.store import save_table
from wsbench.benchmarks.table import GroundTruth
from wsbench.cli import app
from wsbench.config import RunCfg
from wsbench.spaces import get_space
from wsbench.train import load_checkpoint, train_supernet

torch.set_num_threads(1)
KILLED = 137
TIMING = ("elapsed", "images_per_s", "eval_seconds", "archs_per_second", "updated", "started", "wall_s")
TINY = {
    "mapping": {"channels": 4, "cells_per_stage": 1},
    "protocol": {"epochs": 2, "batch_size": 128, "lr": 0.05, "sampler": "random_nas", "device": "cpu",
                 "threads": 1, "seed": 3},
    "data": {"dataset": "digits", "valid_fraction": 0.2, "train_portion": 0.2, "resolution": 8},
    "eval": {"n_archs": 3, "bn_batches": 1, "bn_batch_size": 32, "eval_batches": 1, "eval_batch_size": 32,
             "final": True, "eval_every": 1},
}
FIGURES: dict[str, Any] = {}


def _ground_truth(data_dir: Path) -> None:
    space = get_space("nb201")
    archs = space.enumerate()[::40]
    save_table(GroundTruth.from_columns("nb201", "nb201", {
        "key": np.array(space.keys(archs), dtype=object),
        "cifar10_test_200ep": np.random.default_rng(0).uniform(60, 94, len(archs))}), data_dir)


def _cheap_scatter(frame: pd.DataFrame, path: Path, *_a: Any, **_k: Any) -> Path:
    """Stands in for the matplotlib scatter plot (the slowest step of a tiny run) with the same atomic write."""
    with atomic.atomic_path(path, suffix=".png") as tmp:
        tmp.write_bytes(frame.to_csv(index=False).encode())
    return path


@pytest.fixture()
def cheap_plots(monkeypatch: pytest.MonkeyPatch) -> None:
    """The matplotlib plot replaced by an atomic write of the same frame, and ``fsync`` made free: a killed
    process loses nothing that reached the page cache (``fsync`` matters for power loss, not for ``kill -9``)."""
    import wsbench.plots.scatter as plot

    monkeypatch.setattr(plot, "scatter_plot", _cheap_scatter)
    monkeypatch.setattr(os, "fsync", lambda fd: None)


def _killed_at(index: int, torn_log: Path | None = None):
    """A hook that ends the process at the ``index``-th fault point (0-based), like ``kill -9`` there."""
    seen = [0]

    def hook(label: str) -> None:
        if seen[0] == index:
            if torn_log is not None and label.endswith(":computed") and torn_log.exists():
                with open(torn_log, "a") as fh:  # killed in the middle of appending the evaluation's log line
                    fh.write('{"kind": "eval", "tag": "epo')
            os._exit(KILLED)
        seen[0] += 1

    return hook


def _in_child(fn) -> int:
    """Run ``fn()`` in a forked process; returns its exit status."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            fn()
            code = 0
        finally:
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def _strip(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k not in TIMING}
    return obj


def _snapshot(run: Path) -> dict[str, Any]:
    """Everything a resumed run must reproduce: checkpoint state, log, evaluations, final metrics, status."""
    state = load_checkpoint(run / "checkpoints")
    log = [_strip(json.loads(x)) for x in (run / "metrics.jsonl").read_text().splitlines()]
    evals = {p.name: pd.read_parquet(p) for p in sorted((run / "evals").glob("*.parquet"))}
    return {"state": state, "log": log, "evals": evals, "archs": (run / "evals" / "archs.json").read_text(),
            "final": _strip(json.loads((run / "metrics.json").read_text())),
            "status": json.loads((run / "status.json").read_text())["status"],
            "stray": sorted(p.name for p in run.rglob("*.tmp"))}


def _assert_identical(a: dict[str, Any], b: dict[str, Any], where: str) -> None:
    sa, sb = a["state"], b["state"]
    assert (sa["epoch"], sa["step"]) == (sb["epoch"], sb["step"]), where
    assert all(torch.equal(sa["model"][k], sb["model"][k]) for k in sa["model"]), f"{where}: weights"
    oa, ob = sa["optimizer"], sb["optimizer"]
    assert oa["param_groups"] == ob["param_groups"], f"{where}: optimiser groups"
    assert oa["state"].keys() == ob["state"].keys()
    for k in oa["state"]:
        for name, value in oa["state"][k].items():
            other = ob["state"][k][name]
            assert torch.equal(value, other) if torch.is_tensor(value) else value == other, f"{where}: optimiser"
    assert sa["schedule"] == sb["schedule"] and sa["sampler"] == sb["sampler"], f"{where}: schedule/sampler"
    assert a["log"] == b["log"], f"{where}: metrics log"
    assert a["evals"].keys() == b["evals"].keys(), f"{where}: evaluations"
    for name in a["evals"]:
        pd.testing.assert_frame_equal(a["evals"][name], b["evals"][name])
    assert (a["archs"], a["final"], a["status"]) == (b["archs"], b["final"], b["status"]), where
    assert b["stray"] == [], f"{where}: temporary files left: {b['stray']}"


def test_kill_at_every_fault_point_of_training_then_resume_is_identical(tmp_path, data_dir, cheap_plots):
    from wsbench.train.setup import build_components

    _ground_truth(data_dir)
    cfg = RunCfg.model_validate(TINY)
    comps = build_components(cfg, data_dir)
    labels: list[str] = []
    previous = atomic.set_fault_hook(labels.append)
    try:
        train_supernet(cfg, tmp_path / "reference", components=comps, quiet=True)
    finally:
        atomic.set_fault_hook(previous)
    reference = _snapshot(tmp_path / "reference")
    assert reference["status"] == "finished" and [r["tag"] for r in reference["log"] if r["kind"] == "eval"] == \
        ["epoch1", "final"]
    ckpt = [i for i, x in enumerate(labels) if x.startswith(("checkpoint:", "write:last.pt"))]
    evals = [i for i, x in enumerate(labels) if x.startswith(("eval:", "write:epoch1.parquet", "write:final.parquet",
                                                              "write:scatter.png", "write:metrics.json"))]
    assert len(ckpt) >= 16 and len(evals) >= 14
    for index in sorted(ckpt + evals):  # every step of every checkpoint write and of every evaluation
        label = labels[index]
        run = tmp_path / f"kill{index:02d}"

        def killed_run(run: Path = run, index: int = index) -> None:
            atomic.set_fault_hook(_killed_at(index, torn_log=run / "metrics.jsonl"))
            train_supernet(cfg, run, components=comps, quiet=True)

        assert _in_child(killed_run) == KILLED, label
        resumed = train_supernet(cfg, run, resume=True, components=comps, quiet=True)
        assert resumed["status"] == "finished", label
        _assert_identical(reference, _snapshot(run), f"killed at {label} (point {index})")
        shutil.rmtree(run)
    FIGURES["training_kill_points"] = {"checkpoint": len(ckpt), "evaluation": len(evals),
                                       "fault_points_in_run": len(labels)}


def test_sweep_driver_killed_at_random_points_runs_everything_once(tmp_path, data_dir, cheap_plots):
    from wsbench.experiments.expand import expand
    from wsbench.experiments.runner import run_study
    from wsbench.experiments.spec import load_study
    from wsbench.experiments.store import ResultStore

    _ground_truth(data_dir)
    base = copy.deepcopy(TINY)
    base["protocol"]["epochs"] = 1
    base["eval"]["eval_every"] = None
    spec_path = tmp_path / "study.yaml"
    spec_path.write_text(yaml.safe_dump({"name": "kills", "base": base, "seeds": [0, 1], "factors": {}}))
    spec = load_study(spec_path)
    runs = expand(spec)
    assert len(runs) == 2
    labels: list[str] = []
    previous = atomic.set_fault_hook(labels.append)
    try:
        run_study(spec, tmp_path / "reference", data_dir=data_dir, backend="local")
    finally:
        atomic.set_fault_hook(previous)

    def evals_of(study: Path) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for e in ResultStore(study).evals():
            assert e["metric"] not in out.setdefault(e["run_id"], {})
            if e["metric"] not in TIMING:
                out[e["run_id"]][e["metric"]] = e["value"]
        return out

    want = evals_of(tmp_path / "reference")
    rng = np.random.default_rng(2024)
    points = sorted(int(k) for k in rng.choice(len(labels), size=5, replace=False))
    study = tmp_path / "study"
    for k in points:
        def driver(k: int = k) -> None:
            atomic.set_fault_hook(_killed_at(k))
            run_study(spec, study, data_dir=data_dir, backend="local")

        assert _in_child(driver) in (KILLED, 0)
    summary = run_study(spec, study, data_dir=data_dir, backend="local")
    store = ResultStore(study)
    rows = store.runs()
    assert sorted(r["id"] for r in rows) == sorted(r.id for r in runs)  # each run exactly once
    assert all(r["status"] == "finished" for r in rows)
    assert evals_of(study) == want  # with all its evaluations, equal to an uninterrupted sweep
    for r in runs:
        log = [json.loads(x) for x in (study / "runs" / r.id / "metrics.jsonl").read_text().splitlines()]
        assert [x["tag"] for x in log if x["kind"] == "eval"] == ["final"]
    assert summary["ran"] + summary["skipped_finished"] == len(runs)
    FIGURES["sweep_kill_points"] = {"total": len(labels), "killed_at": points}


# -- bad inputs -------------------------------------------------------------------------------------------------
FIX_WORDS = ("again", "expected", "download", "delete", "re-import", "give", "fix", "save", "write", "quote",
             "allowed", "use ", "should", "connect", "must", "import it", "choose", "e.g.", "presets live in")
runner = CliRunner()


def _tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _assert_rejected(args: list[str], data_dir: Path, *needles: str) -> str:
    before = _tree_digest(data_dir)
    res = runner.invoke(app, args)
    assert res.exit_code != 0, (args, res.output)
    assert res.exception is None or isinstance(res.exception, SystemExit), (args, repr(res.exception))
    err = res.stderr.strip()
    assert "Traceback" not in res.output, (args, res.output)
    assert len(err.splitlines()) == 1 and err.startswith("error: "), (args, err)
    assert any(w in err for w in FIX_WORDS), (args, err)
    for needle in needles:
        assert needle in err, (args, err)
    assert _tree_digest(data_dir) == before, args
    return err


def _variants(name: str, good: bytes, wrong: bytes, flip_at: int) -> dict[str, bytes]:
    flipped = bytearray(good)
    flipped[flip_at] ^= 0x20 if chr(flipped[flip_at]).isalpha() else 0x01
    return {"truncated": good[: len(good) // 2], "cut-last-record": good[:-7],
            "padded": good + b"\x00garbage,1,2\nmore;;\n", "bit-flipped": bytes(flipped), "empty": b"",
            "wrong-format": wrong}


def _sources(shared: Path, tmp: Path) -> dict[str, tuple[bytes, int, list[str]]]:
    """name -> (good bytes, a position whose flipped bit the format detects, extra CLI flags)."""
    nb201_200 = (shared / "nb201" / "nb201_200ep_test.csv").read_bytes()
    nb201_12 = (shared / "nb201" / "nb201_12ep_valtest.csv").read_bytes()
    lines = gzip.decompress((shared / "nb101" / "nb101_sample.csv.gz").read_bytes()).splitlines(keepends=True)
    nb101 = gzip.compress(b"".join(lines[:2000]), compresslevel=1)  # a complete gzip stream, fewer records
    nb301 = (shared / "darts" / "nb301_sample_725.json").read_bytes()
    normal = [["sep_conv_3x3", 0], ["sep_conv_3x3", 1], ["sep_conv_3x3", 0], ["sep_conv_3x3", 1],
              ["sep_conv_3x3", 1], ["skip_connect", 0], ["skip_connect", 0], ["dil_conv_3x3", 2]]
    nds = json.dumps([_nds_record(normal, [30.0, 10.0, 6.0])]).encode()
    with gzip.open(shared / "nb101" / "nb101_sample.csv.gz", "rt", newline="") as fh:
        cells = [r for _, r in zip(range(2), csv.DictReader(fh), strict=False)]
    tfrecord = b""
    for c in cells:
        ops = ",".join(FULL[o] for o in c["ops"].split(","))
        blob = base64.b64encode(_metrics(float(c["params"]), [_evaluation(108, 100.0, 1.0, 0.9, 0.89)])).decode()
        tfrecord += _frame(json.dumps([c["hash"], 108, c["matrix"], ops, blob]).encode())
    archs = [r["ArchitectureString"] for r in csv.DictReader(nb201_200.decode().splitlines())]
    nats = bz2.compress(pickle.dumps({"meta_archs": archs[:3], "arch2infos": {}, "total_archs": 3}))
    pth = tmp / "pth-source"
    torch.save({"meta_archs": archs[:3], "arch2infos": {}, "total_archs": 3}, pth)
    return {
        "nb201_200ep_test.csv": (nb201_200, 3, []), "nb201_12ep_valtest.csv": (nb201_12, 2, []),
        "nb101_sample.csv.gz": (nb101, len(nb101) // 3, []), "nb301_sample_725.json": (nb301, 0, []),
        "DARTS.json": (nds, 0, []), "nasbench_only108.tfrecord": (tfrecord, len(tfrecord) // 3, []),
        "NATS-tss-v1_0-3ffb9.pickle.pbz2": (nats, len(nats) // 2, ["--allow-pickle"]),
        "NAS-Bench-201-v1_0-e61699.pth": (pth.read_bytes(), len(pth.read_bytes()) // 2, ["--allow-pickle"]),
    }


@pytest.fixture(scope="module")
def populated(tmp_path_factory, shared_data) -> Path:
    """A data directory holding the imported NB201 table (so that a failed import must leave it untouched)."""
    d = tmp_path_factory.mktemp("populated")
    res = runner.invoke(app, ["data", "import", str(shared_data / "nb201"), "--data-dir", str(d)])
    assert res.exit_code == 0, res.output
    return d


def test_bad_files_for_every_importer(tmp_path, shared_data, populated):
    wrong = {".csv": b'{"cifar10": {}}', ".gz": b"hash,matrix\nabc,0101\n", ".json": b"a,b,c\n1,2,3\n",
             ".tfrecord": b"\x89PNG\r\n\x1a\n" + bytes(64), ".pbz2": b"not,bz2\n", ".pth": b"PK\x03\x04broken"}
    tried = 0
    for name, (good, flip_at, flags) in _sources(shared_data, tmp_path).items():
        suffix = Path(name).suffix
        for kind, content in _variants(name, good, wrong[suffix], flip_at).items():
            if kind == "cut-last-record" and suffix not in (".csv",):
                continue  # only text formats end in a record; the other formats are covered by "truncated"
            folder = tmp_path / f"{kind}-{name}"
            folder.mkdir()
            path = folder / name
            path.write_bytes(content)
            _assert_rejected(["data", "import", str(path), "--data-dir", str(populated), *flags], populated,
                             str(path))
            tried += 1
    folder = tmp_path / "NATS-tss-v1_0-3ffb9-simple"
    folder.mkdir()  # a NATS folder without its meta file
    _assert_rejected(["data", "import", str(folder), "--data-dir", str(populated), "--allow-pickle"], populated,
                     "meta.pickle.pbz2")
    FIGURES["bad_files"] = tried + 1


BAD_ARCHS = [
    ("nb201", "|nor_conv_3x3~0|+|none~0|none~1|"), ("nb201", "|conv_9x9~0|+|none~0|none~1|+|none~0|none~1|none~2|"),
    ("nb201", "15625"), ("nb201", ""), ("nb101", "0110|in,out"), ("nb101", "01|in,c3,out"),
    ("nb101", "011001000|in,c9,out"), ("nb101", "0" * 64 + "|in,c3,c3,c3,c3,c3,c3,out"),
    ("nb101", "ffffffffffffffffffffffffffffffff"), ("darts", "[[(0, 9)]]"), ("darts", "not a genotype"),
    ("darts", "[[(0, 1), (1, 2)], [(0, 1)]]"), ("nb999", "x"),
]


@pytest.mark.parametrize(("space", "text"), BAD_ARCHS)
def test_malformed_architectures(populated, space, text):
    _assert_rejected(["arch", space, text, "--data-dir", str(populated)], populated)


def test_malformed_nb101_matrix_options(populated):
    for extra in (["--matrix", "0111", "--ops", "in,c3,out"], ["--matrix", "01x0", "--ops", "in,out"],
                  ["--matrix", "0100"], ["--matrix", "0110" * 4, "--ops", "in,c3,c3,out"]):
        _assert_rejected(["arch", "nb101", *extra, "--data-dir", str(populated)], populated)


BAD_CONFIGS: list[tuple[bytes | None, list[str], str]] = [
    (b"protocol:\n  lr: [1\n", [], "YAML"), (b"\xff\xfeprotocol: {}\n", [], "UTF-8"), (b"- a\n- b\n", [], "mapping"),
    (b"protocl:\n  lr: 0.1\n", [], "protocl"), (b"protocol:\n  lrr: 0.1\n", [], "lrr"),
    (b"protocol:\n  epochs: many\n", [], "protocol.epochs"), (b"protocol: 5\n", [], "protocol"),
    (None, ["protocol.lr=[1"], "protocol.lr"), (None, ["protocol.lr"], "section.key=value"),
    (None, ["protocol.lr.x=1"], "protocol.lr"), (None, ["protocol.epochs=-3"], "protocol.epochs"),
    (None, ["protocol.batch_size=0"], "protocol.batch_size"), (None, ["eval.n_archs=0"], "eval.n_archs"),
    (None, ["protocol.sampler=best"], "protocol.sampler"), (None, ["data.valid_fraction=2"], "data.valid_fraction"),
    (None, ["nosuch.key=1"], "nosuch"),
]


def test_malformed_configs_and_overrides(tmp_path, populated):
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(TINY))
    for i, (content, overrides, needle) in enumerate(BAD_CONFIGS):
        path = good if content is None else tmp_path / f"bad{i}.yaml"
        if content is not None:
            path.write_bytes(content)
        out = tmp_path / f"run{i}"
        _assert_rejected(["train", str(path), *overrides, "--out", str(out), "--data-dir", str(populated)],
                         populated, needle)
        assert not out.exists()
    _assert_rejected(["train", str(tmp_path / "missing.yaml"), "--out", str(tmp_path / "m"), "--data-dir",
                      str(populated)], populated, "does not exist")
    FIGURES["bad_configs"] = len(BAD_CONFIGS) + 1


def test_zz_report_figures():
    """Prints the suite's figures (kill points injected, bad inputs tried) for the record."""
    n_archs = len(BAD_ARCHS) + 4
    print(json.dumps({**FIGURES, "bad_archs": n_archs}, indent=1))
    assert n_archs > 0
