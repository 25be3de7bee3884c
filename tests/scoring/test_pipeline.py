"""The cycle's analytic part on Parquet: evaluate, and write its results while it works."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from townsquare.scoring.model.config import DEFAULT_CONFIG
from townsquare.scoring.pipeline import evaluate, write_parquet

from .test_metrics import AS_OF, world  # noqa: F401 (a fixture)


def test_results_written_during_the_cycle_equal_those_written_after(world, tmp_path):  # noqa: F811
    root, _, _ = world
    output = evaluate(root, as_of=AS_OF, window_days=14, config=DEFAULT_CONFIG,
                      write_to=tmp_path / "during")
    assert set(output.seconds) == {"metrics", "scores", "tiers", "suggestions", "write"}
    after = write_parquet(output, tmp_path / "after")
    assert [p.name for p in output.written] == [p.name for p in after] == [
        "scores.parquet", "explanations.parquet", "benchmarks.parquet", "suggestions.parquet"]
    for during, later in zip(output.written, after, strict=True):
        assert pq.read_table(during).equals(pq.read_table(later))
    assert pq.read_table(output.written[0]).num_rows == output.rows == 2


def test_a_cycle_that_fails_half_way_leaves_no_result_files(world, tmp_path, monkeypatch):  # noqa: F811
    from townsquare.scoring.model import suggestions

    root, _, _ = world
    out = tmp_path / "results"
    out.mkdir()
    (out / "suggestions.parquet").write_text("an earlier cycle's")

    def broken(_scores):
        raise RuntimeError("suggestions failed")

    monkeypatch.setattr(suggestions, "advise", broken)
    with pytest.raises(RuntimeError):
        evaluate(root, as_of=AS_OF, window_days=14, config=DEFAULT_CONFIG, write_to=out)
    assert list(out.iterdir()) == []  # neither new scores nor the old suggestions beside them
