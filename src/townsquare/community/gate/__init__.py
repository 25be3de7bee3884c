"""The community gate: pass codes (`codes`, pure) and issuing them (`issuing`), the decision at
the gate (`decision`, `rules`), passages and their offline sync (`passages`), its tables, API,
guard pages and the demo's week of passages."""
