"""Read everything a report needs from a run directory, and the statistics it shows next to the numbers.

``read_run`` gathers ``config.yaml``, ``status.json``, ``metrics.jsonl`` (train and eval records),
``metrics.json`` and the newest evaluation table ``evals/<tag>.parquet`` (``final`` when present).
``correlation_rows`` computes each rank correlation of the super-net and of the parameter-count (and FLOPs)
baseline with a 95% bootstrap interval over the evaluated architectures.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from wsbench.evaluate import metrics as M

RUN_MARKERS = ("config.yaml", "metrics.jsonl", "status.json")


class ReportError(ValueError):
    """A directory cannot be reported on (not a run, study or search output, or unreadable)."""


@dataclass
class RunData:
    """The contents of one run directory."""

    root: Path
    config_text: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    status: dict[str, Any] = field(default_factory=dict)
    train: list[dict[str, Any]] = field(default_factory=list)
    evals: list[dict[str, Any]] = field(default_factory=list)
    final: dict[str, Any] | None = None
    frame: pd.DataFrame | None = None
    tag: str | None = None

    def cfg(self, section: str, key: str, default: Any = None) -> Any:
        """``config[section][key]`` or ``default``."""
        value = (self.config.get(section) or {}).get(key, default)
        return default if value is None else value

    @property
    def space_name(self) -> str:
        return str(self.cfg("space", "name", "nb201"))

    @property
    def threshold(self) -> float:
        return float(self.cfg("eval", "skt_threshold", 0.1))

    @property
    def headline(self) -> dict[str, Any]:
        """The metrics of the final evaluation, else of the latest evaluation record, else empty."""
        if self.final:
            return self.final
        return dict(self.evals[-1]) if self.evals else {}


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    out = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by a crash
            if isinstance(rec, dict):
                out.append(rec)
    return out


def _read_json(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path} is not valid JSON ({exc}); the run directory is damaged") from exc
    return doc if isinstance(doc, dict) else None


def newest_eval_tag(root: Path, evals: list[dict[str, Any]]) -> str | None:
    """``final`` when ``evals/final.parquet`` exists, else the latest logged tag with a parquet, else None."""
    folder = root / "evals"
    if (folder / "final.parquet").exists():
        return "final"
    for rec in reversed(evals):
        tag = rec.get("tag")
        if tag and (folder / f"{tag}.parquet").exists():
            return str(tag)
    files = sorted(folder.glob("*.parquet"), key=lambda p: p.stat().st_mtime)
    return files[-1].stem if files else None


def read_run(root: str | Path) -> RunData:
    """Read a run directory; ``ReportError`` when it holds none of config.yaml, metrics.jsonl, status.json."""
    root = Path(root)
    if not root.is_dir() or not any((root / m).exists() for m in RUN_MARKERS):
        raise ReportError(f"{root} is not a run directory (it has none of {', '.join(RUN_MARKERS)})")
    data = RunData(root=root)
    cfg_path = root / "config.yaml"
    if cfg_path.exists():
        data.config_text = cfg_path.read_text(encoding="utf-8")
        loaded = yaml.safe_load(data.config_text)
        data.config = loaded if isinstance(loaded, dict) else {}
    data.status = _read_json(root / "status.json") or {}
    records = _read_jsonl(root / "metrics.jsonl")
    data.train = [r for r in records if r.get("kind") == "train"]
    data.evals = [r for r in records if r.get("kind") == "eval"]
    data.final = _read_json(root / "metrics.json")
    data.tag = newest_eval_tag(root, data.evals)
    if data.tag is not None:
        data.frame = pd.read_parquet(root / "evals" / f"{data.tag}.parquet")
    return data


# -- statistics ------------------------------------------------------------------------------------------------
Statistic = Callable[[np.ndarray, np.ndarray], float]


def bootstrap_interval(statistic: Statistic, x: np.ndarray, y: np.ndarray, seed: int = 0,
                       n_resamples: int = 1000) -> tuple[float, float]:
    """95% percentile bootstrap interval of ``statistic(x, y)``, resampling the pairs (``wsbench.stats`` when
    available, else ``scipy.stats.bootstrap``); ``(nan, nan)`` when it cannot be computed."""
    if len(x) < 3:
        return float("nan"), float("nan")
    try:
        from wsbench.stats import bootstrap_ci
    except ImportError:
        bootstrap_ci = None
    try:
        if bootstrap_ci is not None:
            ci = bootstrap_ci(statistic, x, y, rng=np.random.default_rng(seed), n_resamples=n_resamples)
            return ci.low, ci.high
        from scipy import stats

        res = stats.bootstrap((x, y), statistic, paired=True, vectorized=False, n_resamples=n_resamples,
                              method="percentile", rng=np.random.default_rng(seed))
        return float(res.confidence_interval.low), float(res.confidence_interval.high)
    except ValueError:  # a constant sample, or a statistic that is NaN on the data
        return float("nan"), float("nan")


def correlation_stats(threshold: float) -> list[tuple[str, str, Statistic]]:
    """(metric key, label, statistic) of the reported rank correlations."""
    def stat(metric: M.Metric) -> Statistic:
        return lambda a, b: metric.compute(a, b, threshold)

    return [(m.key, m.short if m.key != "spearman" else m.name, stat(m)) for m in M.correlations()]


def correlation_rows(frame: pd.DataFrame, threshold: float, baselines: dict[str, np.ndarray],
                     seed: int = 0, n_resamples: int = 1000) -> list[dict[str, Any]]:
    """Per correlation: the super-net's value and 95% CI and each baseline's (``baselines``: name -> scores).

    Each row: ``metric``, ``label``, ``supernet`` and ``supernet_ci``, and ``<name>``/``<name>_ci`` per baseline.
    The interval resamples the evaluated architectures (paired proxy and truth).
    """
    truth = frame["truth"].to_numpy(float)
    scores = {"supernet": frame["proxy_acc"].to_numpy(float), **baselines}
    rows = []
    for key, label, fn in correlation_stats(threshold):
        row: dict[str, Any] = {"metric": key, "label": label}
        for name, s in scores.items():
            ok = np.isfinite(s) & np.isfinite(truth)
            try:
                row[name] = fn(s[ok], truth[ok])
            except M.MetricError:
                row[name] = float("nan")
            row[f"{name}_ci"] = bootstrap_interval(fn, s[ok], truth[ok], seed, n_resamples) \
                if np.isfinite(row[name]) else (float("nan"), float("nan"))
        rows.append(row)
    return rows


def table_column_for(frame: pd.DataFrame, table: Any, column: str) -> np.ndarray | None:
    """``column`` of the ground-truth ``table`` for the rows of ``frame`` (by key), or None when it lacks it."""
    if table is None or column not in table.columns:
        return None
    idx = table.index(frame["key"].astype(str).to_numpy(), missing="ignore")
    vals = np.asarray(table.column(column), dtype=float)
    return np.where(idx >= 0, vals[np.maximum(idx, 0)], np.nan)
