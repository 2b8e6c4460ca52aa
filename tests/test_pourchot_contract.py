"""`wsbench train nb101-pourchot2020 protocol.sampler=pro_rata space.subspace=A4` trains: the preset's split is
valid and pro-rata draws its population from the table's rows inside the sub-space."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from wsbench.cli import app


def test_pourchot_preset_trains_with_pro_rata_on_a_subspace(shared_data, data_dir, tmp_path):
    from wsbench.benchmarks.importers import import_path

    import_path(shared_data / "nb101", data_dir)
    out = tmp_path / "run"
    res = CliRunner().invoke(app, [
        "train", "nb101-pourchot2020", "--out", str(out), "--json",
        "protocol.sampler=pro_rata", "space.subspace=A4", "protocol.epochs=1", "protocol.threads=1",
        "mapping.channels=4", "data.dataset=digits", "eval.final=false", "eval.eval_every=null"])  # no evaluation
    assert res.exit_code == 0, res.output
    assert json.loads((out / "status.json").read_text())["status"] == "finished"
    train = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert train and all(r["kind"] == "train" and r["loss"] == r["loss"] for r in train)
