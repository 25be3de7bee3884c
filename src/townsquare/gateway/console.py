"""What the app's console shows: its keys, packages and calls, with per-method figures computed
in SQL over a bounded window (the page costs what it shows, not what the log holds)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from townsquare.accounts.models import Role, User
from townsquare.accounts.permissions import require_role
from townsquare.core.clock import clock
from townsquare.core.database import Database
from townsquare.gateway import keys, limits, notify
from townsquare.gateway.methods import PACKAGES
from townsquare.gateway.models import AppKey, CallRecord, GatewayApp, GrantStatus, PackageGrant

FIGURES_WINDOW = timedelta(days=7)
LOG_PAGE = 50


@dataclass(frozen=True)
class MethodFigures:
    method: str
    calls: int
    failures: int
    mean_ms: int
    max_ms: int

    @property
    def failure_rate(self) -> float:
        return self.failures / self.calls if self.calls else 0.0


def app_of(db: Session, miniapp_id: int) -> GatewayApp | None:
    return db.scalar(select(GatewayApp).where(GatewayApp.miniapp_id == miniapp_id))


def key_rows(db: Session, app: GatewayApp) -> list[AppKey]:
    return list(db.scalars(
        select(AppKey).where(AppKey.app_id == app.id).order_by(AppKey.created_at.desc())
    ))


def package_rows(db: Session, app: GatewayApp) -> dict[str, PackageGrant | None]:
    found = {g.package: g for g in db.scalars(
        select(PackageGrant).where(PackageGrant.app_id == app.id)
    )}
    return {package: found.get(package) for package in PACKAGES}


def calls(db: Session, app: GatewayApp, *, method: str = "", failed_only: bool = False,
          page: int = 1) -> list[CallRecord]:
    stmt = select(CallRecord).where(CallRecord.app_id == app.id)
    if method:
        stmt = stmt.where(CallRecord.method == method)
    if failed_only:
        stmt = stmt.where(CallRecord.code != "10000")
    stmt = stmt.order_by(CallRecord.at.desc(), CallRecord.id.desc())
    return list(db.scalars(stmt.limit(LOG_PAGE + 1).offset((page - 1) * LOG_PAGE)))


def figures(db: Session, app: GatewayApp) -> list[MethodFigures]:
    since = clock.now() - FIGURES_WINDOW
    failed = func.sum(case((CallRecord.code != "10000", 1), else_=0))
    rows = db.execute(
        select(CallRecord.method, func.count(), failed, func.avg(CallRecord.elapsed_ms),
               func.max(CallRecord.elapsed_ms))
        .where(CallRecord.app_id == app.id, CallRecord.at >= since)
        .group_by(CallRecord.method).order_by(func.count().desc())
    )
    return [MethodFigures(m, n, int(f or 0), int(avg or 0), int(mx or 0))
            for m, n, f, avg, mx in rows]


def page_context(db: Session, app: GatewayApp, *, platform_key: str, rate_limits: str,
                 method: str = "", failed: bool = False, page: int = 1) -> dict[str, Any]:
    """What an app's console page shows, whoever owns the app (a mini-app or a provider);
    `platform_key` is the platform key's public half (`platform_key_text`)."""
    found = calls(db, app, method=method, failed_only=failed, page=page)
    sent = notify.recent(db, app)
    return {
        "keys": key_rows(db, app), "grants": package_rows(db, app),
        "limits": limits.RateLimiter(rate_limits).limits_of(app.app_id),
        "calls": found[:LOG_PAGE], "has_next": len(found) > LOG_PAGE,
        "figures": figures(db, app), "platform_key": platform_key,
        "notifications": sent, "attempts": notify.attempts_of(db, [n.id for n in sent]),
    }


def platform_key_text(database: Database, *, secret: bytes) -> str:
    """The platform key's public half, read in a unit of work of its own: made there (once)
    if there is none yet, a database `townsquare migrate` did not prepare. A console GET reads
    in a read-only unit of work, which must not write (on SQLite a write there can fail with
    SQLITE_BUSY_SNAPSHOT); so this runs before the request's own unit of work begins."""
    with database.unit_of_work(read_only=True) as db:
        try:
            return keys.platform_public_key(db)
        except LookupError:
            pass
    with database.unit_of_work() as db:
        return keys.ensure_platform_key(db, secret=secret).public_key


def waiting_applications(db: Session, *, actor: User) -> list[tuple[PackageGrant, GatewayApp]]:
    """Package applications an operator has to decide, oldest first."""
    require_role(actor, Role.OPERATOR)
    rows = db.execute(
        select(PackageGrant, GatewayApp).join(GatewayApp, GatewayApp.id == PackageGrant.app_id)
        .where(PackageGrant.status == GrantStatus.REQUESTED)
        .order_by(PackageGrant.requested_at).limit(200)
    )
    return [(grant, app) for grant, app in rows]

