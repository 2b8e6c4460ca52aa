"""A paper's findings as checkable claims, turned into verdicts by a study's runs.

A study YAML lists its paper's findings under ``paper.findings``::

    paper:
      findings:
        - finding: tracking BN statistics collapses the ranking
          metric: sparse_kendall_tau
          claim: "bn=affine F track T < bn=affine F track F"   # left < right (or >)
          cpu: "base < layers=+1"                             # optional: the claim at fidelity level cpu
          only: [paper]                                       # optional: the fidelity levels that have the claim
        - finding: BN re-estimation helps on every sub-space
          metric: spearman
          each: [A4, A3]                                      # one claim per item, substituted for {}
          claim: "variant=no-ft,space.subspace={} < variant=bns-ft,space.subspace={}"

A side is ``base`` or ``factor=value`` (one-factor-at-a-time studies) or ``f1=v1,f2=v2`` (grids). For each claim
``evaluate_findings`` takes the metric of the final evaluation of every finished run on each side (one value per
seed), and reports our difference of means (left - right) with the 95% Welch confidence interval and p-value, the
paper's difference (from ``paper.rows`` where it has both numbers) and a verdict: *reproduced* when the interval
lies entirely on the claimed side of zero, *contradicted* when it lies entirely on the other side, else
*inconclusive* (also with fewer than two runs on a side).

``seed_averaged`` computes Yu et al.'s metrics of the proxy averaged over the super-nets of a setting (their
appendix B.2) from the runs' ``evals/final.parquet``, and ``no_effect`` flags levels whose proxy scores equal the
base's bit for bit (same seed): a switch that changed nothing.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from wsbench.experiments.aggregate import labelled, per_run, study_info
from wsbench.experiments.spec import BASE_LABEL

REPRODUCED, CONTRADICTED, INCONCLUSIVE = "reproduced", "contradicted", "inconclusive"


class FindingError(ValueError):
    """A finding of a study is malformed."""


@dataclass
class Verdict:
    """One claim checked against a study's runs."""

    finding: str
    metric: str
    claim: str
    paper: float | None  # the paper's left - right
    paper_left: float | None
    paper_right: float | None
    ours: float | None  # our mean(left) - mean(right)
    ours_left: float | None
    ours_right: float | None
    n_left: int
    n_right: int
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    verdict: str
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(self).items()}


def _parse_side(text: str, grid: bool) -> dict[str, str] | None:
    """``base`` -> None; ``f=v`` -> {f: v}; ``f1=v1,f2=v2`` (grids) -> {f1: v1, f2: v2}."""
    text = text.strip()
    if text == BASE_LABEL:
        return None
    parts = text.split(",") if grid else [text]
    out = {}
    for part in parts:
        if "=" not in part:
            raise FindingError(f"claim side {text!r}: write 'base' or factor=value (grids: f1=v1,f2=v2)")
        key, value = part.split("=", 1)
        out[key.strip()] = value.strip()
    return out


def parse_claim(claim: str, grid: bool) -> tuple[dict[str, str] | None, str, dict[str, str] | None]:
    """``"A < B"`` -> (side A, "<", side B)."""
    for op in ("<", ">"):
        if claim.count(op) == 1:
            left, right = claim.split(op)
            return _parse_side(left, grid), op, _parse_side(right, grid)
    raise FindingError(f"claim {claim!r} must compare two settings with one '<' or '>' (e.g. 'bn=x < base')")


def _matches(rec: dict[str, Any], side: dict[str, str] | None) -> bool:
    """Whether a run stands for ``side``: one of its labels, or (grids) all of its levels."""
    labels = [list(x) for x in rec.get("labels") or []]
    if side is None:
        return [BASE_LABEL, BASE_LABEL] in labels
    if len(side) == 1 and list(next(iter(side.items()))) in labels:
        return True
    levels = rec.get("levels") or {}
    return bool(levels) and all(str(levels.get(k)) == v for k, v in side.items())


def _paper_value(rows: list[dict[str, Any]], side: dict[str, str] | None, metric: str,
                 factors: list[str]) -> float | None:
    if side is None:
        keys = [(BASE_LABEL, BASE_LABEL)]
    elif len(side) == 1:
        keys = [next(iter(side.items()))]
    else:
        names = [f for f in factors if f in side] or list(side)
        keys = [(",".join(names), ",".join(side[f] for f in names))]
    for row in rows:
        if (str(row.get("factor")), str(row.get("value"))) in keys and metric in row:
            fact = row[metric]
            value = fact[0] if isinstance(fact, list | tuple) else fact
            return float(value) if value is not None else None
    return None


def _runs(study_dir: str | Path) -> list[dict[str, Any]]:
    runs = per_run(study_dir)
    return [r for r in runs.to_dict("records") if r["status"] == "finished"]


def _values(runs: list[dict[str, Any]], side: dict[str, str] | None, metric: str) -> np.ndarray:
    vals = [r.get(metric) for r in runs if _matches(r, side)]
    return np.asarray([v for v in vals if v is not None and np.isfinite(v)], dtype=np.float64)


def check_claim(runs: list[dict[str, Any]], finding: str, metric: str, claim: str, grid: bool,
                rows: list[dict[str, Any]], factors: list[str]) -> Verdict:
    """The verdict of one claim over the finished ``runs`` (see the module docstring)."""
    from wsbench.stats.hypothesis import t_test

    left, op, right = parse_claim(claim, grid)
    a, b = _values(runs, left, metric), _values(runs, right, metric)
    pl, pr = _paper_value(rows, left, metric, factors), _paper_value(rows, right, metric, factors)
    paper = pl - pr if pl is not None and pr is not None else None
    ma, mb = (float(a.mean()) if a.size else None), (float(b.mean()) if b.size else None)
    ours = ma - mb if ma is not None and mb is not None else None
    base = dict(finding=finding, metric=metric, claim=claim, paper=paper, paper_left=pl, paper_right=pr,
                ours=ours, ours_left=ma, ours_right=mb, n_left=int(a.size), n_right=int(b.size))
    if a.size < 2 or b.size < 2:
        return Verdict(**base, ci_low=None, ci_high=None, p_value=None, verdict=INCONCLUSIVE,
                       note=f"needs at least 2 finished runs per side (have {a.size} and {b.size})")
    res = t_test(a, b)
    low, high = res.ci95
    note = ""
    if not (math.isfinite(low) and math.isfinite(high)):  # both sides constant
        low = high = float(res.diff)
        note = "no spread on either side"
    claimed_below = op == "<"
    if (high < 0 and claimed_below) or (low > 0 and not claimed_below):
        verdict = REPRODUCED
    elif (low > 0 and claimed_below) or (high < 0 and not claimed_below):
        verdict = CONTRADICTED
    else:
        verdict = INCONCLUSIVE
    pvalue = float(res.pvalue) if math.isfinite(res.pvalue) else (0.0 if low == high and low != 0 else 1.0)
    return Verdict(**base, ci_low=float(low), ci_high=float(high), p_value=pvalue, verdict=verdict, note=note)


def study_findings(info: dict[str, Any]) -> list[tuple[str, str, str]]:
    """``(finding, metric, claim)`` of every claim of a study at its fidelity (``each`` expanded)."""
    paper = info.get("paper") or {}
    fidelity = info.get("fidelity")
    out = []
    for i, item in enumerate(paper.get("findings") or []):
        if not isinstance(item, dict) or "claim" not in item or "metric" not in item:
            raise FindingError(f"paper.findings[{i}] needs 'finding', 'metric' and 'claim'")
        only = item.get("only")
        if only and (fidelity or "paper") not in only:
            continue  # a claim about levels this fidelity does not run
        claim = str(item.get(fidelity, item["claim"])) if fidelity else str(item["claim"])
        name = str(item.get("finding", claim))
        each = item.get("each")
        if each:
            out += [(f"{name} ({x})", str(item["metric"]), claim.replace("{}", str(x))) for x in each]
        else:
            out.append((name, str(item["metric"]), claim))
    return out


def evaluate_findings(study_dir: str | Path) -> list[Verdict]:
    """Every finding of the study in ``study_dir`` checked against its finished runs."""
    info = study_info(study_dir)
    claims = study_findings(info)
    if not claims:
        return []
    runs = _runs(study_dir)
    grid = info.get("mode") == "grid"
    rows = (info.get("paper") or {}).get("rows") or []
    factors = list(info.get("factors") or [])
    return [check_claim(runs, f, m, c, grid, rows, factors) for f, m, c in claims]


def findings_frame(verdicts: list[Verdict]) -> pd.DataFrame:
    """A display table of verdicts."""
    def num(x: float | None, d: int = 3) -> str:
        return "-" if x is None or not math.isfinite(x) else f"{x:+.{d}f}"

    rows = []
    for v in verdicts:
        ci = "-" if v.ci_low is None else f"[{v.ci_low:+.3f}, {v.ci_high:+.3f}]"
        rows.append({"finding": v.finding, "metric": v.metric, "claim": v.claim, "paper": num(v.paper),
                     "ours": num(v.ours), "95% CI": ci, "p": "-" if v.p_value is None else f"{v.p_value:.3g}",
                     "n": f"{v.n_left}/{v.n_right}", "verdict": v.verdict})
    return pd.DataFrame(rows)


# -- Yu et al.'s seed-averaged proxy, and levels that changed nothing ------------------------------------------------
def _scores(study_dir: Path, rid: str) -> pd.DataFrame | None:
    path = study_dir / "runs" / rid / "evals" / "final.parquet"
    if not path.exists():
        return None
    return pd.read_parquet(path, columns=["key", "proxy_acc", "truth"])


def seed_averaged(study_dir: str | Path, threshold: float = 0.1) -> pd.DataFrame:
    """Per (space, factor, value): Kendall-Tau, sparse Kendall-Tau and Spearman of the proxy averaged over the
    setting's super-nets (one per seed) on the architectures they all evaluated (Yu et al., appendix B.2)."""
    from wsbench.evaluate.metrics import kendall_tau, sparse_kendall_tau, spearman

    study_dir = Path(study_dir)
    cols = ["space", "factor", "value", "n_supernets", "kendall_tau_avg", "sparse_kendall_tau_avg", "spearman_avg"]
    runs = per_run(study_dir)
    runs = runs[runs["status"] == "finished"]
    if runs.empty:
        return pd.DataFrame(columns=cols)
    cache = {rid: _scores(study_dir, rid) for rid in runs["id"]}
    out = []
    for (space, factor, value), grp in labelled(runs).groupby(["space", "factor", "value"], sort=False):
        frames = [cache[rid] for rid in grp["id"] if cache.get(rid) is not None]
        if not frames:
            continue
        merged = frames[0].rename(columns={"proxy_acc": "p0"})
        for i, f in enumerate(frames[1:], 1):
            merged = merged.merge(f[["key", "proxy_acc"]].rename(columns={"proxy_acc": f"p{i}"}), on="key")
        proxy = merged[[f"p{i}" for i in range(len(frames))]].mean(axis=1).to_numpy()
        truth = merged["truth"].to_numpy(dtype=np.float64)
        out.append({"space": space, "factor": factor, "value": value, "n_supernets": len(frames),
                    "kendall_tau_avg": kendall_tau(proxy, truth),
                    "sparse_kendall_tau_avg": sparse_kendall_tau(proxy, truth, threshold),
                    "spearman_avg": spearman(proxy, truth)})
    return pd.DataFrame(out, columns=cols)


def no_effect(study_dir: str | Path) -> list[tuple[str, str, str]]:
    """``(space, factor, value)`` of the levels whose proxy scores equal the base run's of the same seed bit for
    bit in every seed they ran: the switch changed nothing (one-factor-at-a-time studies only)."""
    study_dir = Path(study_dir)
    runs = per_run(study_dir)
    runs = runs[runs["status"] == "finished"]
    if runs.empty:
        return []
    lab = labelled(runs)
    base = {(r["space"], r["seed"]): r["id"] for r in lab.to_dict("records") if r["factor"] == BASE_LABEL}
    flagged = []
    for (space, factor, value), grp in lab.groupby(["space", "factor", "value"], sort=False):
        if factor == BASE_LABEL:
            continue
        same = []
        for rec in grp.to_dict("records"):
            rid, bid = rec["id"], base.get((space, rec["seed"]))
            if bid is None or bid == rid:
                same.append(None)  # no base to compare with, or the level is the base's own run
                continue
            mine, theirs = _scores(study_dir, rid), _scores(study_dir, bid)
            if mine is None or theirs is None:
                same.append(None)
                continue
            same.append(mine["key"].tolist() == theirs["key"].tolist()
                        and np.array_equal(mine["proxy_acc"].to_numpy(), theirs["proxy_acc"].to_numpy()))
        known = [s for s in same if s is not None]
        if known and all(known):
            flagged.append((space, factor, value))
    return flagged


def annotate(summary: pd.DataFrame, study_dir: str | Path) -> tuple[pd.DataFrame, list[tuple[str, str, str]]]:
    """``summary`` (from ``aggregate.summarize``) with Yu's seed-averaged ranking (``*_avg`` columns) and a
    ``no_effect`` column merged in, and the flagged ``(space, factor, value)`` levels."""
    averaged = seed_averaged(study_dir)
    if not averaged.empty:
        summary = summary.merge(averaged, on=["space", "factor", "value"], how="left")
    flagged = no_effect(study_dir)
    summary = summary.assign(no_effect=[(sp, f, v) in set(flagged) for sp, f, v in
                                        zip(summary["space"], summary["factor"], summary["value"], strict=True)])
    return summary, flagged
