"""Random search (RS), greedy local search (GS) and regularized evolution (RE) over the rows of a search problem.

Both follow Sec. 4.3 of "To Share or Not To Share":

* RS evaluates a fixed number of distinct architectures drawn uniformly from the (sub-)space.
* GS is plain hill climbing: from a random architecture, evaluate all of its neighbours and move to the best
  one; when no neighbour beats the current architecture (a fixed point: its best neighbour is itself), restart
  from a new random architecture.

* RE is Real et al.'s aging evolution (AAAI 2019), the standard NB201 baseline of NATS-Bench: a population of
  ``population`` random architectures; each cycle draws ``sample`` of them, mutates the best (one edge / op /
  connection changed: a random neighbour not evaluated yet, else a fresh random architecture), adds the child and
  removes the oldest member. NATS-Bench's setting: population 10, sample 3.

The budget counts evaluations of distinct architectures: within one run, every evaluated architecture keeps the
score of its first query, and asking for it again costs nothing (as in the local-search baselines on NAS
benchmarks the paper cites). A restart draws an architecture not evaluated yet, so every step spends budget and
a search ends when the budget, or the (sub-)space, is exhausted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from wsbench.search.problem import TabularProblem


@dataclass(frozen=True)
class Trace:
    """One search run, one entry per evaluation (in order).

    ``rows``: evaluated table rows; ``valid``: their validation scores; ``time``: cumulative cost in seconds
    (NaN when unknown); ``incumbent``: row of the best validation score so far (ties keep the earlier one);
    ``best_test``: mean test accuracy of the incumbent.
    """

    rows: np.ndarray
    valid: np.ndarray
    time: np.ndarray
    incumbent: np.ndarray
    best_test: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)

    @classmethod
    def build(cls, problem: TabularProblem, rows: np.ndarray, valid: np.ndarray, cost: np.ndarray) -> Trace:
        """Derive the cumulative time and incumbent of a run from its evaluations."""
        rows = np.asarray(rows, dtype=np.int64)
        valid = np.asarray(valid, dtype=np.float64)
        pos = np.arange(len(rows))
        if len(rows):
            prev_best = np.concatenate(([-np.inf], np.maximum.accumulate(valid)[:-1]))
            improved = valid > prev_best
            inc_pos = np.maximum.accumulate(np.where(improved, pos, 0))
        else:
            inc_pos = pos
        incumbent = rows[inc_pos]
        return cls(rows, valid, np.cumsum(np.asarray(cost, dtype=np.float64)), incumbent, problem.test[incumbent])

    def regret(self, problem: TabularProblem) -> np.ndarray:
        """Test regret after each evaluation: best test of the (sub-)space minus the incumbent's test."""
        return problem.best_test - self.best_test


class _Recorder:
    """Evaluates rows through the problem's scorer, caching scores and filling preallocated buffers."""

    def __init__(self, problem: TabularProblem, budget: int, rng: np.random.Generator):
        self.problem, self.rng = problem, rng
        self.budget = min(int(budget), len(problem.candidates))
        self.rows = np.empty(self.budget, dtype=np.int64)
        self.valid = np.empty(self.budget, dtype=np.float64)
        self.cost = np.empty(self.budget, dtype=np.float64)
        self.score = np.full(problem.n_rows, -np.inf)
        self.evaluated = np.zeros(problem.n_rows, dtype=bool)
        self.n = 0

    @property
    def left(self) -> int:
        return self.budget - self.n

    def evaluate(self, rows: np.ndarray) -> None:
        """Evaluate distinct, not yet evaluated ``rows`` (truncated to the budget left)."""
        rows = rows[: self.left]
        if len(rows) == 0:
            return
        v, c = self.problem.scorer.score(rows, self.rng)
        end = self.n + len(rows)
        self.rows[self.n:end], self.valid[self.n:end], self.cost[self.n:end] = rows, v, c
        self.score[rows] = v
        self.evaluated[rows] = True
        self.n = end

    def fresh_start(self) -> int:
        """A uniformly drawn candidate row not evaluated yet."""
        cand = self.problem.candidates
        for _ in range(32):
            r = int(cand[self.rng.integers(len(cand))])
            if not self.evaluated[r]:
                return r
        left = cand[~self.evaluated[cand]]
        return int(left[self.rng.integers(len(left))])

    def trace(self) -> Trace:
        n = self.n
        return Trace.build(self.problem, self.rows[:n], self.valid[:n], self.cost[:n])


def _check(budget: int) -> None:
    if int(budget) < 1:
        raise ValueError(f"the search budget must be at least 1 evaluation, got {budget}")


def random_search(problem: TabularProblem, budget: int, rng: np.random.Generator) -> Trace:
    """Evaluate ``budget`` distinct candidates drawn uniformly without replacement (all of them at most)."""
    _check(budget)
    rec = _Recorder(problem, budget, rng)
    rec.evaluate(rng.choice(problem.candidates, size=rec.budget, replace=False))
    return rec.trace()


def local_search(problem: TabularProblem, budget: int, rng: np.random.Generator) -> Trace:
    """Greedy hill climbing with random restarts at local optima, ``budget`` evaluations in all."""
    _check(budget)
    rec = _Recorder(problem, budget, rng)
    score, evaluated = rec.score, rec.evaluated
    while rec.left > 0:
        current = rec.fresh_start()
        rec.evaluate(np.array([current], dtype=np.int64))
        while rec.left > 0:
            nb = problem.neighbours(current)
            if len(nb) == 0:
                break
            rec.evaluate(nb[~evaluated[nb]])
            if rec.left == 0:
                break
            best = int(nb[np.argmax(score[nb])])
            if score[best] <= score[current]:
                break  # local optimum: no neighbour improves on the current cell
            current = best
    return rec.trace()


def regularized_evolution(problem: TabularProblem, budget: int, rng: np.random.Generator, population: int = 10,
                          sample: int = 3) -> Trace:
    """Aging evolution with tournament selection, ``budget`` distinct evaluations in all."""
    from collections import deque

    _check(budget)
    if population < 1 or not 1 <= sample <= population:
        raise ValueError(f"regularized evolution needs population >= 1 and 1 <= sample <= population, got "
                         f"{population} and {sample}")
    rec = _Recorder(problem, budget, rng)
    first = rng.choice(problem.candidates, size=min(population, rec.budget), replace=False)
    rec.evaluate(first)
    members: deque[int] = deque(int(r) for r in first)
    while rec.left > 0:
        picks = rng.choice(len(members), size=min(sample, len(members)), replace=False)
        parent = max((members[int(i)] for i in picks), key=lambda r: rec.score[r])
        nb = problem.neighbours(parent)
        fresh = nb[~rec.evaluated[nb]] if len(nb) else nb
        child = int(fresh[rng.integers(len(fresh))]) if len(fresh) else rec.fresh_start()
        rec.evaluate(np.array([child], dtype=np.int64))
        members.append(child)
        if len(members) > population:
            members.popleft()
    return rec.trace()


#: Search algorithms by their CLI name.
ALGORITHMS: dict[str, Callable[[TabularProblem, int, np.random.Generator], Trace]] = {
    "rs": random_search,
    "gs": local_search,
    "re": regularized_evolution,
}


def get_algorithm(name: str) -> Callable[[TabularProblem, int, np.random.Generator], Trace]:
    """The search algorithm called ``name`` (``rs``, ``gs`` or ``re``)."""
    try:
        return ALGORITHMS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown search algorithm {name!r}; choose one of {sorted(ALGORITHMS)}") from None
