"""A test hook that flags any write sent on a read-only unit of work's connection.

A GET runs in a read-only unit of work (`web/deps.get_db`); on SQLite it begins DEFERRED, so a
write in it takes the write lock half-way through the transaction, and fails with
SQLITE_BUSY_SNAPSHOT ("database is locked") whenever another connection committed after the
transaction's first read. A route that records something on a GET must take a writing unit of
work (`WritingDbSession`) or write outside the request; this hook finds the ones that do not.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from townsquare.core.database import READ_ONLY

WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER|BEGIN\s+IMMEDIATE)\b",
                   re.I)


@contextmanager
def read_only_writes(engine: Engine) -> Iterator[list[str]]:
    """While open, every write statement sent on a connection of a read-only unit of work
    (execution option READ_ONLY) is appended to the list it yields (first 120 characters)."""
    found: list[str] = []

    def check(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if conn.get_execution_options().get(READ_ONLY) and WRITE.match(statement):
            found.append(" ".join(statement.split())[:120])

    event.listen(engine, "before_cursor_execute", check)
    try:
        yield found
    finally:
        event.remove(engine, "before_cursor_execute", check)
