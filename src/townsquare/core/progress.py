"""Progress of long CLI work: a rich progress bar on a terminal, plain lines otherwise.

A bar cannot be drawn when the output is a pipe or a file (`make demo | tee`, CI logs, cron):
rich then shows nothing until the end, so a long step looks like a hang. There each new step
description is printed once, on its own line, as soon as the step starts.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, TaskID, TextColumn, TimeElapsedColumn

DEFAULT_COLUMNS: tuple[ProgressColumn, ...] = ()


class Reporter:
    """What long work tells about itself: a description of the step (printed as a plain line
    when it changes; put counts in it where they help), and how far it is (drawn by the bar)."""

    def __init__(self, console: Console, description: str, total: float | None) -> None:
        self.console = console
        self.description = description
        self.total = total
        self.completed = 0.0
        self._said = ""
        self._say()

    def update(
        self,
        *,
        description: str | None = None,
        completed: float | None = None,
        total: float | None = None,
        advance: float = 0,
    ) -> None:
        if total is not None:
            self.total = total
        if completed is not None:
            self.completed = completed
        self.completed += advance
        if description is not None:
            self.description = description
        self._say()

    def _say(self) -> None:
        """One plain line per new description (never the same line twice in a row)."""
        if self.description == self._said:
            return
        self._said = self.description
        self.console.print(self.description, markup=False, highlight=False)


class _Bar(Reporter):
    def __init__(self, bar: Progress, task: TaskID, console: Console, description: str,
                 total: float | None) -> None:
        self.bar, self.task = bar, task
        self.console, self.description, self.total, self.completed = (
            console, description, total, 0.0)

    def _say(self) -> None:
        self.bar.update(self.task, description=self.description, completed=self.completed,
                        total=self.total)


@contextmanager
def progress(
    console: Console,
    description: str,
    *,
    total: float | None = None,
    columns: tuple[ProgressColumn, ...] = DEFAULT_COLUMNS,
    transient: bool = False,
) -> Iterator[Reporter]:
    """Report long work on `console`: a bar on a terminal, plain lines when not a terminal."""
    if not console.is_terminal:
        yield Reporter(console, description, total)
        return
    chosen = columns or (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*chosen, console=console, transient=transient) as bar:
        task = bar.add_task(description, total=total)
        yield _Bar(bar, task, console, description, total)
