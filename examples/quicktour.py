"""A quick tour of wsbench's Python API (docs/api.md walks through it; the test suite runs it).

Needs the NB201 table in the data directory (`wsbench data import ../shared/data`, or the official files).
Usage: ``python examples/quicktour.py [OUT_DIR]``.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np

import wsbench


def main(out: Path) -> dict[str, float]:
    # 1. a tabular benchmark and its space: NB201's official index 9930 and its 200-epoch CIFAR-10 accuracy
    table = wsbench.load_table("nb201")
    space = wsbench.get_space("nb201")
    arch = wsbench.nb201_arch(9930)
    row = table.index(space.key(arch))
    print(f"NB201 #{wsbench.nb201_index(arch)}: {space.format(arch)} -> "
          f"{float(table.values('cifar10_test_200ep', row)[0]):.2f}% test accuracy")

    # 2. judge anyone's estimator: here NB201's own 12-epoch validation accuracy ranks 200 random cells
    archs = space.sample_unique(np.random.default_rng(0), 200)
    keys = space.keys(archs)
    scores = table.values("cifar10_val_12ep", table.index(keys))
    result = wsbench.judge(keys, scores, table=table, metric="cifar10_test_200ep", n_boot=200)
    skt, (lo, hi) = result.scores["sparse_kendall_tau"], result.scores["sparse_kendall_tau_ci"]
    best = result.strongest_baseline
    print(f"12-epoch accuracy: s-KdT {skt:.3f} [{lo:.3f}, {hi:.3f}]; strongest cheap baseline {best} "
          f"{result.baselines[best]['sparse_kendall_tau']:.3f}")

    # 3. a tabular search: 10 runs of random search with 100 evaluations each, judged by the test regret
    summary = wsbench.search(out / "search", space="nb201", algo="rs", runs=10, budget=100)
    print(f"random search: final regret {summary['final_regret']['mean']:.3f} (mean of 10 runs)")

    # 4. a preset, a super-net, one short training run on scikit-learn digits (no evaluation at the end)
    cfg = wsbench.load_config("nb201-digits", ["protocol.epochs=1", "eval.final=false"])
    net = wsbench.build_supernet("nb201", cfg.mapping, num_classes=10, in_channels=1)
    print(f"super-net {type(net).__name__}: {sum(p.numel() for p in net.parameters()):,} parameters")
    wsbench.train(cfg, out / "run")
    status = json.loads((out / "run" / "status.json").read_text())
    print(f"run {out / 'run'}: {status['status']} after epoch {status.get('epoch')}")
    return {"skt": skt, "regret": summary["final_regret"]["mean"], "status": status["status"]}


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="wsbench-tour-")))
