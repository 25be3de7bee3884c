"""Anti-fraud detection as a job: after each scoring cycle (the CLI's `score run` and `score due`,
a scheduler), in its own unit of work, so a failed detection never undoes the cycle."""

from __future__ import annotations

from datetime import date

from townsquare.core.database import Database
from townsquare.scoring.integrity import reviews


def detect(database: Database, *, as_of: date) -> reviews.Detection:
    """Run the detectors as of `as_of` and queue what they flag; returns the counts."""
    with database.unit_of_work() as db:
        return reviews.detect(db, as_of=as_of, actor=None)
