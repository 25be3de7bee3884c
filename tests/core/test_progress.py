"""Progress of long CLI work: plain lines when the output is not a terminal, a bar when it is."""

from __future__ import annotations

import io

from rich.console import Console

from townsquare.core.progress import progress


def test_piped_output_gets_one_plain_line_per_step_as_it_starts():
    out = io.StringIO()
    console = Console(file=out)  # a StringIO is not a terminal, as a pipe is not
    assert not console.is_terminal
    seen_before_work: list[str] = []
    with progress(console, "Planning", total=100) as report:
        for done, label in ((10, "supply"), (50, "solve"), (50, "solve"), (90, "store")):
            report.update(completed=done, description=f"Planning: {label}")
            seen_before_work.append(out.getvalue())  # printed before the step's work runs
    lines = out.getvalue().splitlines()
    assert lines == ["Planning", "Planning: supply", "Planning: solve", "Planning: store"]
    assert seen_before_work[0].endswith("Planning: supply\n")
    assert "\x1b" not in out.getvalue()  # no control codes in a log file
    assert report.completed == 90


def test_a_terminal_gets_the_bar_and_no_plain_lines():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=80)
    with progress(console, "Planning", total=100, transient=True) as report:
        report.update(completed=50, description="Planning: solve")
    assert "Planning: solve\n" not in out.getvalue()  # drawn by the bar, not printed as a line
    assert report.completed == 50
