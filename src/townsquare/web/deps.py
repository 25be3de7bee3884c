"""Request dependencies every package shares: the database session (one transaction per request)
and the settings. Who is asking lives with the accounts (`accounts/deps.py`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from townsquare.core.database import Database
from townsquare.core.settings import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


READING_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_db(request: Request) -> Iterator[Session]:
    """The request's unit of work: committed before the response is sent, or rolled back.

    GET, HEAD and OPTIONS run as read-only units of work (on SQLite they begin DEFERRED and
    never wait for a writer); every other method begins a writing one (BEGIN IMMEDIATE on
    SQLite). See docs/architecture.md, "where this differs"."""
    database: Database = request.app.state.database
    with database.unit_of_work(read_only=request.method in READING_METHODS) as session:
        yield session


def get_writing_db(request: Request) -> Iterator[Session]:
    """A writing unit of work whatever the method: for the few GETs that record something (a
    click, an opened mini-app, the audit of a personal-data read). On SQLite a read-only unit of
    work that writes after reading fails with "database is locked" when another writer committed
    in between; a writing one waits its turn instead."""
    database: Database = request.app.state.database
    with database.unit_of_work() as session:
        yield session


# scope="function": commit before the response leaves; a failed commit never looks like success
DbSession = Annotated[Session, Depends(get_db, scope="function")]
WritingDbSession = Annotated[Session, Depends(get_writing_db, scope="function")]
AppSettings = Annotated[Settings, Depends(get_settings)]
