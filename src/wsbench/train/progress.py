"""A rich progress bar for training (loss, accuracy, throughput), silent when quiet or not on a terminal."""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any


class TrainProgress:
    """Context manager over one bar of ``total`` steps; ``update`` is cheap and takes already-synced numbers."""

    def __init__(self, total: int, done: int = 0, quiet: bool = False, description: str = "train"):
        self.enabled = not quiet and sys.stderr.isatty()
        self._progress: Any = None
        self._task: Any = None
        self.total = total
        self.done = done
        self.description = description

    def __enter__(self) -> TrainProgress:
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                      TimeRemainingColumn(), TextColumn("{task.fields[info]}"), transient=False)
            self._progress.__enter__()
            self._task = self._progress.add_task(self.description, total=self.total, completed=self.done, info="")
        return self

    def advance(self, steps: int, info: dict[str, float] | None = None, epoch: int | None = None) -> None:
        """Move the bar by ``steps``; ``info`` (loss, acc, img/s) is shown beside it."""
        if self._progress is None:
            return
        fields: dict[str, Any] = {}
        if info is not None:
            fields["info"] = " ".join(f"{k} {v:.4g}" for k, v in info.items())
        if epoch is not None:
            fields["description"] = f"{self.description} epoch {epoch}"
        self._progress.update(self._task, advance=steps, **fields)

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.__exit__(et, ev, tb)
            self._progress = None
