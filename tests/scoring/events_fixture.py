"""Handcrafted behaviour events written as day-partitioned Parquet, like the export writes them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from townsquare.scoring.metrics import EMPTY_EVENTS, write_day_activity


class Events:
    """Event rows with sensible defaults: `ev.add("order_placed", day=10, amount_fen=100)`."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(self, type: str, *, day: int, hour: int = 10, app: int = 1, **kw: Any) -> str:
        event_id = f"e{len(self.rows) + 1}"
        row = {
            "event_id": event_id, "type": type,
            "occurred_at": datetime(2026, 3, day, hour, tzinfo=UTC),
            "miniapp_id": app, "merchant_id": 100 + app, "category_code": "food",
            "user_sub": "u1", "city": "hz", "community": "c1", "amount_fen": None,
            "resolution": None, "rating": None, "response_seconds": None,
        }
        row.update(kw)
        self.rows.append(row)
        return event_id

    def write(self, root: Path) -> Path:
        table = pa.Table.from_pylist(self.rows, schema=EMPTY_EVENTS)
        days = pc.cast(table["occurred_at"], pa.date32())
        for day in sorted({r["occurred_at"].date() for r in self.rows}):
            folder = root / f"date={day.isoformat()}"
            folder.mkdir(parents=True, exist_ok=True)
            part = table.filter(pc.equal(days, pa.scalar(day, pa.date32())))
            pq.write_table(part, folder / "part-0.parquet")
        return root


def roll_up(root: Path) -> None:
    """Roll every day partition up, as the export does when it writes one."""
    for folder in sorted(root.glob("date=*")):
        write_day_activity(folder)
