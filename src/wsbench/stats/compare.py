"""Regret comparisons against a baseline, laid out like Tables 4-5 of *To Share or Not To Share*.

For every method the table reports ``baseline - method`` on the mean regret (positive: the method finds better
architectures, since lower regret is better), the pooled standard deviation, the t-test p-value, Cohen's d of
baseline over method, the probability of superiority ``Phi(d / sqrt(2))`` (the chance that a run of the method
ends with a smaller regret than a baseline run) and a significance marker. The paper used Student's t-test
(``equal_var=True``); Welch's test is the default here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ._checks import ArrayLike, StatsInputError, as_sample, check_probability
from .effect import cohens_d, interpret_d, pooled_std, probability_of_superiority
from .hypothesis import t_test

COLUMNS = (
    "n_baseline", "n", "mean_baseline", "mean", "diff", "pooled_std", "ci_low", "ci_high", "t", "df", "pvalue",
    "d", "effect", "p_superiority", "stars", "verdict",
)


def significance_marker(pvalue: float) -> str:
    """``***`` for p < 0.001, ``**`` for p < 0.01, ``*`` for p < 0.05, else an empty string (also for NaN)."""
    p = float(pvalue)
    if math.isnan(p):
        return ""
    if p < 0.001:
        return "***"
    if p < 0.01:
        return "**"
    if p < 0.05:
        return "*"
    return ""


def compare_regrets(
    groups: Mapping[str, ArrayLike],
    baseline: str,
    equal_var: bool = False,
    alpha: float = 0.05,
    lower_is_better: bool = True,
) -> pd.DataFrame:
    """Compare every group's final regrets (one value per run) with those of ``baseline``.

    Returns one row per non-baseline method (index ``method``, input order) with the columns of ``COLUMNS``:
    run counts, means, ``diff`` (``baseline - method`` when ``lower_is_better``, else ``method - baseline``, so
    positive always favours the method), ``pooled_std``, the 95 % interval of ``diff``, the t statistic, its
    degrees of freedom and p-value (Welch unless ``equal_var``), Cohen's d with the same sign as ``diff``, its
    label, the probability of superiority of the method, the marker of :func:`significance_marker` and a verdict
    ``better``/``worse`` when ``pvalue < alpha`` (``n.s.`` otherwise).
    """
    if baseline not in groups:
        raise StatsInputError(f"baseline {baseline!r} is not among the groups {sorted(groups)}; pass one of them")
    if len(groups) < 2:
        raise StatsInputError("compare_regrets needs the baseline and at least one other group")
    alpha = check_probability(alpha, "alpha")
    base = as_sample(groups[baseline], f"group {baseline!r}")
    rows = []
    for name, values in groups.items():
        if name == baseline:
            continue
        other = as_sample(values, f"group {name!r}")
        first, second = (base, other) if lower_is_better else (other, base)
        res = t_test(first, second, equal_var=equal_var)
        d = cohens_d(first, second)
        p = res.pvalue
        verdict = "n.s."
        if not math.isnan(p) and p < alpha:
            verdict = "better" if res.diff > 0 else "worse"
        rows.append(
            {
                "method": name,
                "n_baseline": int(base.size),
                "n": int(other.size),
                "mean_baseline": float(base.mean()),
                "mean": float(other.mean()),
                "diff": res.diff,
                "pooled_std": pooled_std(base, other),
                "ci_low": res.ci95[0],
                "ci_high": res.ci95[1],
                "t": res.statistic,
                "df": res.df,
                "pvalue": p,
                "d": d,
                "effect": interpret_d(d),
                "p_superiority": probability_of_superiority(d),
                "stars": significance_marker(p),
                "verdict": verdict,
            }
        )
    return pd.DataFrame(rows, columns=("method", *COLUMNS)).set_index("method")


def format_cell(row: Mapping[str, float], digits: int = 2, scale: float = 1.0) -> str:
    """One comparison in the paper's notation, e.g. ``0.53 ± 1.22 (p=0.06, d=+0.44)``.

    ``scale`` multiplies the difference and the standard deviation (the paper shows regrets times 100).
    """
    diff = float(row["diff"]) * scale
    sd = float(row["pooled_std"]) * scale
    return f"{diff:.{digits}f} ± {sd:.{digits}f} (p={float(row['pvalue']):.{digits}f}, d={float(row['d']):+.{digits}f})"


def format_cells(frame: pd.DataFrame, digits: int = 2, scale: float = 1.0) -> pd.Series:
    """:func:`format_cell` of every row of a :func:`compare_regrets` frame, with the significance marker."""
    cells = [
        (format_cell(row, digits, scale) + (" " + row["stars"] if row["stars"] else ""))
        for _, row in frame.iterrows()
    ]
    return pd.Series(cells, index=frame.index, name="comparison", dtype=object)


def _text(value: object, digits: int) -> str:
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        v = float(value)
        if math.isnan(v):
            return "nan"
        if v != 0.0 and abs(v) < 10.0 ** (-digits):
            return f"{v:.{digits}e}"
        return f"{v:.{digits}f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def to_markdown(frame: pd.DataFrame, digits: int = 3, index: bool = True) -> str:
    """A GitHub-flavoured markdown table of ``frame`` (floats with ``digits`` decimals; tiny ones in e-notation).

    Numeric columns are right-aligned, the others left-aligned. No third-party formatter is needed.
    """
    table = frame.reset_index() if index else frame
    headers = [str(c) for c in table.columns]
    body = [[_text(v, digits) for v in row] for row in table.itertuples(index=False, name=None)]
    numeric = [pd.api.types.is_numeric_dtype(table[c]) and not pd.api.types.is_bool_dtype(table[c]) for c in table]
    widths = [max([len(h)] + [len(r[i]) for r in body]) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        padded = [c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric, strict=True)]
        return "| " + " | ".join(padded) + " |"

    dashes = [("-" * (w + 1) + ":") if num else ("-" * (w + 2)) for w, num in zip(widths, numeric, strict=True)]
    rule = "|" + "|".join(dashes) + "|"
    return "\n".join([line(headers), rule, *(line(r) for r in body)])
