"""Tabular and proxy-scored architecture search: random search, greedy local search, regret curves.

``TabularProblem`` turns a ground-truth table (and a search space for neighbours) into a search problem over
table rows; ``random_search``/``local_search`` return a ``Trace`` per run; ``run_many`` and ``summarise`` build
and aggregate regret curves; ``wsbench.plots.regret.plot_regret`` draws them (matplotlib, imported lazily).
"""

from wsbench.search.algorithms import (
    ALGORITHMS,
    Trace,
    get_algorithm,
    local_search,
    random_search,
    regularized_evolution,
)
from wsbench.search.curves import CURVE_COLUMNS, final_regrets, mean_ci, run_many, summarise
from wsbench.search.problem import Coverage, Scorer, SearchError, TableScorer, TabularProblem, subspace_mask

__all__ = [
    "ALGORITHMS", "CURVE_COLUMNS", "Coverage", "Scorer", "SearchError", "TableScorer", "TabularProblem", "Trace",
    "final_regrets", "get_algorithm", "local_search", "mean_ci", "random_search", "regularized_evolution", "run_many",
    "subspace_mask",
    "summarise",
]
