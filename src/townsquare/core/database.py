"""Engine, sessions, declarative Base and the unit of work, for SQLite and PostgreSQL alike.

Services receive a `Session` and never commit: a request or a job commits once through
`Database.unit_of_work()`, so a failure anywhere leaves nothing half-written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import JSON, DateTime, MetaData, create_engine, event
from sqlalchemy import Enum as SAEnum
from sqlalchemy.engine import CursorResult, Engine, Result
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    SessionTransaction,
    mapped_column,
    sessionmaker,
)
from sqlalchemy.types import TypeDecorator

from townsquare.core.clock import clock

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out; SQLite forgets the zone, so it is put back on read."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return clock.now()


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see below)
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _sqlite_begin_immediate(conn: Any) -> None:
    # Take the write lock at BEGIN so read-then-write transactions serialise instead of
    # failing with "database is locked" halfway (SQLite's stand-in for SELECT … FOR UPDATE).
    conn.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """One transaction: committed if the block succeeds, rolled back if it raises (then
        only what was marked `keep_on_rollback`, e.g. the audit of a refusal, is committed)."""
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            if session.info.get(_KEPT):
                session.commit()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


_KEPT = "townsquare.kept_on_rollback"


def keep_on_rollback(session: Session, make: Callable[[Session], None]) -> None:
    """Write something now that must outlive a rollback of this transaction: the trace of a
    refused attempt (audit of a refusal, a failed-guess counter). `make` adds the rows; it runs
    now and again after each rollback, and the unit of work commits what it re-added."""
    make(session)
    session.info.setdefault(_KEPT, []).append(make)


@event.listens_for(Session, "after_soft_rollback")
def _redo_kept(session: Session, previous_transaction: SessionTransaction) -> None:
    if previous_transaction.parent is None and session.info.get(_KEPT):
        for make in session.info[_KEPT]:
            make(session)


@event.listens_for(Session, "after_commit")
def _forget_kept(session: Session) -> None:
    session.info.pop(_KEPT, None)


def str_enum(enum_cls: type, length: int = 16) -> SAEnum:
    """Store a StrEnum as its plain value (VARCHAR on every database), read back as the enum."""
    return SAEnum(
        enum_cls,
        native_enum=False,
        length=length,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


def rows_changed(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE touched (a conditional update's "did I win?")."""
    return cast(CursorResult[Any], result).rowcount or 0
