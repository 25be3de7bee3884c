"""The gateway's directory: what a call needs to know about its app (status, public keys,
granted packages) and the platform's signing key, kept per process as plain data so that a
call reads one generation number instead of four tables.

Every change to apps, keys, grants or platform keys made through the ORM increments the
`gateway` generation in its commit (`core/generations.py`). Each call reads that generation
(one primary-key read) and, when it moved, starts from an empty directory: a revoked key, a
withdrawn grant or a suspended app stops working at once in every process, not after a refresh
interval. Apps are loaded on their first call after a change, one app at a time, so a change
to one app costs the others one reload each, not a reload of every app. A change made around
the ORM (bulk SQL, an SQL console) is seen within `MAX_AGE`.
"""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass, field
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, make_transient_to_detached

from townsquare.core import generations
from townsquare.core.clock import clock
from townsquare.core.database import engine_of
from townsquare.gateway import keys
from townsquare.gateway.models import (
    GENERATION,
    AppKey,
    AppStatus,
    GatewayApp,
    GrantStatus,
    PackageGrant,
    PlatformKey,
)
from townsquare.miniapps.models import MiniApp

MAX_AGE = 300.0  # seconds: start over even when the generation did not move
monotonic = time.monotonic  # tests replace it to move time


@dataclass(frozen=True)
class KeyEntry:
    """A public key as the signature check needs it (the names of `AppKey`'s columns)."""

    fingerprint: str
    public_key: str
    retires_at: datetime | None


@dataclass(frozen=True)
class AppEntry:
    id: int
    app_id: str
    miniapp_id: int | None  # a mini-app's app
    provider_id: int | None  # or an ISV's third-party app
    keys: tuple[KeyEntry, ...]  # newest first
    packages: frozenset[str]  # granted
    # a mini-app's app: its mini-app's merchant and public id (neither ever changes), so that
    # a call needs no read of the mini-app to know for whom it acts; None for an ISV's app
    merchant_id: int | None = None
    miniapp_public_id: str | None = None

    @property
    def is_isv(self) -> bool:
        return self.provider_id is not None

    def keys_at(self, now: datetime) -> list[KeyEntry]:
        """The keys a signature may be checked against at `now`, newest first."""
        return [k for k in self.keys if k.retires_at is None or k.retires_at > now]

    def attach(self, db: Session) -> GatewayApp:
        """The app as a row of `db` without reading it (what is not kept here, such as
        `miniapp`, loads on first use like any lazy attribute)."""
        row = GatewayApp(id=self.id, app_id=self.app_id, miniapp_id=self.miniapp_id,
                         provider_id=self.provider_id,
                         status=AppStatus.ACTIVE)
        make_transient_to_detached(row)
        return db.merge(row, load=False)


@dataclass
class _Snapshot:
    generation: int
    started: float
    apps: dict[str, AppEntry] = field(default_factory=dict)  # by app id, as looked up
    platform: tuple[tuple[str, bytes, datetime | None], ...] | None = None  # newest first


_lock = threading.Lock()
_snapshots: weakref.WeakKeyDictionary[Engine, _Snapshot] = weakref.WeakKeyDictionary()
MAX_APPS = 100_000  # a snapshot forgets everything past this many looked-up app ids
_KEPT = "townsquare.gateway.directory"  # the session's snapshot: (its transaction, snapshot)
loads = 0  # how many app entries were read from the database (tests, benchmarks)


def _snapshot(db: Session) -> _Snapshot:
    """The directory as of this transaction (the generation is read once per transaction)."""
    kept = db.info.get(_KEPT)
    if kept is not None and kept[0] is db.get_transaction():
        return kept[1]
    (generation,) = generations.read(db, (GENERATION,))
    engine = engine_of(db)
    now = monotonic()
    with _lock:
        found = _snapshots.get(engine)
        if (found is None or found.generation != generation or now - found.started > MAX_AGE
                or len(found.apps) > MAX_APPS):
            found = _snapshots[engine] = _Snapshot(generation, now)
    db.info[_KEPT] = (db.get_transaction(), found)  # (begun by the read)
    return found


def _load(db: Session, app_id: str) -> AppEntry | None:
    global loads
    loads += 1
    app = db.execute(
        select(GatewayApp.id, GatewayApp.miniapp_id, GatewayApp.provider_id, GatewayApp.status,
               MiniApp.merchant_id, MiniApp.public_id)
        .outerjoin(MiniApp, MiniApp.id == GatewayApp.miniapp_id)
        .where(GatewayApp.app_id == app_id)
    ).one_or_none()
    if app is None or app.status != AppStatus.ACTIVE:
        return None
    found = db.execute(  # retired keys too: which are accepted is decided at each call
        select(AppKey.fingerprint, AppKey.public_key, AppKey.retires_at)
        .where(AppKey.app_id == app.id)
        .order_by(AppKey.created_at.desc(), AppKey.id.desc())
    )
    packages = db.scalars(
        select(PackageGrant.package)
        .where(PackageGrant.app_id == app.id, PackageGrant.status == GrantStatus.GRANTED)
    )
    return AppEntry(id=app.id, app_id=app_id, miniapp_id=app.miniapp_id,
                    provider_id=app.provider_id,
                    keys=tuple(KeyEntry(*row) for row in found), packages=frozenset(packages),
                    merchant_id=app.merchant_id, miniapp_public_id=app.public_id)


def find(db: Session, app_id: str) -> AppEntry | None:
    """The active app with this app id as of this call (None: unknown or suspended)."""
    if not app_id.isdigit() or len(app_id) != 16:
        return None
    snapshot = _snapshot(db)
    if app_id in snapshot.apps:
        return snapshot.apps[app_id]
    entry = _load(db, app_id)
    if entry is not None:  # unknown ids are not kept: anyone may send any number of them
        snapshot.apps[app_id] = entry
    return entry


def platform_key(db: Session, *, secret: bytes) -> rsa.RSAPrivateKey:
    """The platform's current signing key (made here only if `townsquare migrate` did not)."""
    snapshot = _snapshot(db)
    if snapshot.platform is None:
        snapshot.platform = tuple(db.execute(
            select(PlatformKey.fingerprint, PlatformKey.sealed_private_key,
                   PlatformKey.retires_at)
            .where(or_(PlatformKey.retires_at.is_(None), PlatformKey.retires_at > clock.now()))
            .order_by(PlatformKey.created_at.desc(), PlatformKey.id.desc())
        ).tuples())
    now = clock.now()
    for fingerprint, sealed, retires_at in snapshot.platform:
        if retires_at is None or retires_at > now:
            return keys.unsealed(secret, fingerprint, sealed)
    return keys.platform_private_key(db, secret=secret)


def forget() -> None:
    """Drop every snapshot (tests that change rows around the ORM)."""
    with _lock:
        _snapshots.clear()
