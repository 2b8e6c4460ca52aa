"""A ground-truth reference, ``table:metric[@repeat]``: the one parser of the string configs and CLIs use.

``nb201:cifar10_test_200ep`` is the mean over the table's repeats of that metric; ``nb101-sample:test_acc@2``
names one repeat.
"""

from __future__ import annotations

from dataclasses import dataclass

EXPECTED = "'table:metric' or 'table:metric@repeat', e.g. 'nb201:cifar10_test_200ep'"


@dataclass(frozen=True)
class GroundTruthRef:
    """The table, the metric and (optionally) one repeat a ranking is judged against."""

    table: str
    metric: str
    repeat: int | None = None

    @classmethod
    def parse(cls, text: str, what: str = "eval.ground_truth") -> GroundTruthRef:
        """Parse ``table:metric[@repeat]``; a ``ValueError`` names the key and the expected form."""
        table, sep, rest = str(text).partition(":")
        metric, at, rep = rest.partition("@")
        if not sep or not table.strip() or not metric.strip() or (at and not rep.isdigit()):
            raise ValueError(f"{what} {text!r} must be {EXPECTED}")
        return cls(table.strip(), metric.strip(), int(rep) if at else None)

    def __str__(self) -> str:
        return f"{self.table}:{self.metric}" + ("" if self.repeat is None else f"@{self.repeat}")
