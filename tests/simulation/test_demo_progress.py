"""`make demo` piped (`make demo | tee`): the demo city's build steps are reported as plain
lines, each before its step runs (the whole city is not built here; its steps are stand-ins)."""

from __future__ import annotations

import io

from rich.console import Console

from townsquare.simulation.demo_city import run_steps


def test_each_build_step_is_announced_before_it_runs_when_piped():
    out = io.StringIO()
    console = Console(file=out)
    order: list[str] = []

    def step(name: str):
        def run() -> None:
            order.append(f"{name} sees: {out.getvalue().splitlines()[-1]}")
        return run

    run_steps([("people", step("people")), ("history", step("history"))], console=console,
              after=lambda: order.append("flush"))
    assert order == ["people sees: Demo city: people (1/2)", "flush",
                     "history sees: Demo city: history (2/2)", "flush"]
    assert out.getvalue().splitlines() == [
        "Building the demo city", "Demo city: people (1/2)", "Demo city: history (2/2)",
        "Demo city: built"]
