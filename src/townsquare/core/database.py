"""Engine, sessions, declarative Base and the unit of work, for SQLite and PostgreSQL alike.

Services receive a `Session` and never commit: a request or a job commits once through
`Database.unit_of_work()`, so a failure anywhere leaves nothing half-written.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import JSON, DateTime, MetaData, Table, create_engine, event, text
from sqlalchemy import Enum as SAEnum
from sqlalchemy import exc as sa_exc
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

from townsquare.core import sqlite_writers
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


DEFAULT_LOCK_TIMEOUT_MS = 5_000  # how long a SQLite writer waits for the write lock
PG_CONNECT_TIMEOUT_S = 5  # an unreachable PostgreSQL fails a request in seconds, not minutes
READ_ONLY = "townsquare_read_only"  # execution option: a unit of work that only reads


def make_engine(url: str, *, lock_timeout_ms: int = DEFAULT_LOCK_TIMEOUT_MS,
                **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": lock_timeout_ms / 1000},
            **kwargs,
        )
        queue = sqlite_writers.queue_for(str(Path(path).resolve()) if path else path)

        def pragmas(dbapi_conn: Any, _record: Any) -> None:
            _sqlite_pragmas(dbapi_conn, lock_timeout_ms)

        def begin(conn: Any) -> None:
            _sqlite_begin(conn, queue, lock_timeout_ms / 1000)

        def end(conn: Any) -> None:
            sqlite_writers.leave(conn.info)

        def checkin(_dbapi_conn: Any, record: Any) -> None:
            sqlite_writers.leave(record.info)  # a connection never returns holding the queue

        event.listen(engine, "connect", pragmas)
        event.listen(engine, "begin", begin)
        event.listen(engine, "commit", end)
        event.listen(engine, "rollback", end)
        event.listen(engine.pool, "checkin", checkin)
        return engine
    if url.startswith("postgresql"):
        kwargs.setdefault("connect_args", {}).setdefault("connect_timeout", PG_CONNECT_TIMEOUT_S)
    engine = create_engine(url, **kwargs)
    _ping_when_idle(engine)
    return engine


PING_AFTER_IDLE_S = 1.0  # a pooled connection unused this long is pinged before it is handed out
monotonic = time.monotonic  # tests replace it to move time
_IDLE_SINCE = "townsquare_idle_since"


def _ping_when_idle(engine: Engine) -> None:
    """Pessimistic disconnect handling, paid only by connections that sat idle: one returned to
    the pool less than `PING_AFTER_IDLE_S` ago is handed out as it is, an older one is pinged
    first and replaced if the ping fails (a restarted or unreachable server).

    SQLAlchemy's `pool_pre_ping` pings on every checkout: a round trip and about 0.4 ms of a
    worker's CPU on each signed-in page. A connection used a moment ago was alive a moment ago;
    if the server went away since, the request that meets the dead connection fails (a 503) and
    SQLAlchemy invalidates every connection of the pool on that disconnect, so the requests
    after it connect afresh. After a restart (seconds) the pooled connections have been idle
    for longer than a second, or have met the failure already: the first request after the
    database is back succeeds, as with `pool_pre_ping`."""

    def checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = monotonic()

    def checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is None or monotonic() - since < PING_AFTER_IDLE_S:
            return  # a new connection, or one used a moment ago
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:  # noqa: BLE001 - any failure of the ping means "replace it"
            raise sa_exc.DisconnectionError() from exc
        if not alive:
            raise sa_exc.DisconnectionError()

    event.listen(engine.pool, "checkin", checkin)
    event.listen(engine.pool, "checkout", checkout)


def _sqlite_pragmas(dbapi_conn: Any, lock_timeout_ms: int) -> None:
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see below)
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")  # readers see the last commit, never wait for writers
    # FULL (SQLite's default, said explicitly): a commit the client was told about survives a
    # power loss. NORMAL would sync only at checkpoints (~14 ms less per commit here) but may
    # undo the last acknowledged commits on a power loss: not for trades and ledgers.
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute(f"PRAGMA busy_timeout={int(lock_timeout_ms)}")
    cur.close()


def _sqlite_begin(conn: Any, queue: threading.Lock | None, timeout_s: float) -> None:
    # A writing unit of work takes the write lock at BEGIN, so read-then-write transactions
    # serialise instead of failing half-way with "database is locked" (SQLite's stand-in for
    # SELECT … FOR UPDATE); this process's writers queue for it first (core/sqlite_writers.py).
    # A read-only one begins DEFERRED: in WAL mode it reads its snapshot without ever waiting
    # for a writer.
    if conn.get_execution_options().get(READ_ONLY):
        conn.exec_driver_sql("BEGIN")
        return
    if queue is not None:
        sqlite_writers.enter(queue, conn.info, timeout_s)
    try:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    except BaseException:
        sqlite_writers.leave(conn.info)
        raise


class Database:
    def __init__(
        self, url: str, *, lock_timeout_ms: int = DEFAULT_LOCK_TIMEOUT_MS, **engine_kwargs: Any
    ) -> None:
        self.url = url
        self.engine = make_engine(url, lock_timeout_ms=lock_timeout_ms, **engine_kwargs)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # the same pool; on SQLite its transactions begin DEFERRED (see _sqlite_begin)
        self.read_sessions = sessionmaker(
            self.engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False
        )

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def unit_of_work(self, *, read_only: bool = False) -> Iterator[Session]:
        """One transaction: committed if the block succeeds, rolled back if it raises (then
        only what was marked `keep_on_rollback`, e.g. the audit of a refusal, is committed).

        `read_only=True` promises the block mostly reads: on SQLite it begins DEFERRED and never
        waits for a writer. It may still write (a blind insert such as an audit row): SQLite
        then takes the write lock at that write, and answers "database is locked" (a 503,
        see `unavailable`) if another writer committed since the block's first read."""
        session = (self.read_sessions if read_only else self.sessions)()
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

    def ping(self) -> None:
        """Raise if the database cannot answer a trivial query now (readiness)."""
        with self.engine.execution_options(**{READ_ONLY: True}).connect() as conn:
            conn.execute(text("SELECT 1"))  # a deferred BEGIN on SQLite: never waits for a writer

    def dispose(self) -> None:
        self.engine.dispose()


# What a database that is down, restarting, unreachable or locked raises: the request may be
# retried as it was (503 + Retry-After), unlike a bug or bad data (500, 409, 422).
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    sa_exc.OperationalError,  # connection refused or lost, lock timeout, deadlock, admin shutdown
    sa_exc.InterfaceError,  # the driver's connection is closed
    sa_exc.TimeoutError,  # no pooled connection became free
    sa_exc.DisconnectionError,
)


def unavailable(exc: BaseException) -> bool:
    """True for an error that says the database is unavailable for now, not that the request
    or the code is wrong."""
    if isinstance(exc, TRANSIENT_ERRORS):
        return True
    return isinstance(exc, sa_exc.DBAPIError) and bool(exc.connection_invalidated)


def is_deadlock(exc: BaseException) -> bool:
    """A PostgreSQL deadlock or serialisation failure (the victim may simply run again)."""
    code = getattr(getattr(exc, "orig", None), "sqlstate", None)
    return isinstance(exc, sa_exc.DBAPIError) and code in ("40P01", "40001")


def _lock_key(name: str) -> int:
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def advisory_lock(db: Session, name: str, *, wait: bool = True) -> bool:
    """Take a named lock until the transaction ends; False if `wait` is off and it is held.

    PostgreSQL: a transaction-level advisory lock on a 64-bit hash of `name`. SQLite: a writing
    unit of work already holds the database's write lock since BEGIN IMMEDIATE, so this is
    always True there."""
    if db.get_bind().dialect.name != "postgresql":
        return True
    if wait:
        db.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_key(name)})
        return True
    return bool(db.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _lock_key(name)}))


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


def engine_of(db: Session) -> Engine:
    """The engine behind a session, whatever execution options its bind carries: a read-only
    session's bind is an option-carrying copy (`OptionEngine`) of the same engine and pool, so
    per-engine caches must not tell them apart (one cache per database, not two)."""
    bind = db.get_bind().engine
    proxied = getattr(bind, "_proxied", None)
    return proxied if isinstance(proxied, Engine) else bind


def table_of(model: type[Base]) -> Table:
    """A mapped class's Table, for Core statements (every model here maps a single Table; the
    declarative `__table__` is typed as any FromClause)."""
    return cast(Table, model.__table__)
