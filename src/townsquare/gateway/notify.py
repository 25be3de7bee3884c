"""The notification outbox: asynchronous notifications to apps' `notify_url`, signed the Alipay
way and retried on Alipay's schedule until the receiver answers exactly `success`.

A notification is written in the transaction of the change it reports. Delivery leases a due
row (moves its next attempt a minute ahead and commits) before it calls out, so no database lock
is held across the network, two workers never send the same row at once, and a worker that dies
mid-call leaves the row to be tried again when the lease ends; one that is still sending its
batch when half the lease is gone renews each row's lease before sending it, and skips a row
whose lease another notifier has taken since. Receivers may therefore see a
notification more than once and deduplicate by its stable `notify_id`, as with Alipay. The call
itself goes through `outbound`: only to the public address its name resolved to when checked.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.core import audit
from townsquare.core.clock import clock
from townsquare.core.database import Database, rows_changed
from townsquare.core.errors import NotFound, ValidationFailed
from townsquare.core.settings import Settings
from townsquare.gateway import apps, keys, outbound
from townsquare.gateway.models import (
    GatewayApp,
    Notification,
    NotificationAttempt,
    NotificationState,
)
from townsquare.gateway.protocol import signing

# The waits after each failed attempt (Alipay: 4m, 10m, 10m, 1h, 2h, 6h, 15h): 8 tries, ~25 h;
# a deployment's come from its settings (`schedule`), which only tests shorten.
SCHEDULE = tuple(timedelta(seconds=s)
                 for s in Settings.model_fields["gateway_notify_schedule_s"].default)
TIMEOUT_S = 5.0
BATCH = 10  # taken at once: sent one after another within the lease


def schedule(settings: Settings) -> tuple[timedelta, ...]:
    return tuple(timedelta(seconds=s) for s in settings.gateway_notify_schedule_s)


def check_url(url: str) -> str:
    """A notify_url the platform will call: http(s), a host, no credentials, bounded length."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 512:
        raise ValidationFailed("notify_url must be an http or https address.")
    if parts.username or parts.password:
        raise ValidationFailed("notify_url must not carry a user name or password.")
    return url


def enqueue(db: Session, *, app: GatewayApp, url: str, notify_type: str,
            params: Mapping[str, Any]) -> Notification:
    """Record a notification in the caller's transaction; the notifier sends it."""
    row = Notification(
        notify_id=uuid.uuid4().hex,
        app_id=app.id, url=check_url(url), notify_type=notify_type,
        params={k: str(v) for k, v in params.items()}, next_attempt_at=clock.now(),
    )
    db.add(row)
    db.flush()
    return row


def signed_form(db: Session, row: Notification, app: GatewayApp, *, settings: Settings,
                at: datetime) -> dict[str, str]:
    """The form the receiver gets: business parameters plus the notification's own, without
    empty values, signed over all but `sign` and `sign_type` (Alipay's rule for notifications)."""
    local = at.astimezone(ZoneInfo(settings.timezone)).strftime("%Y-%m-%d %H:%M:%S")
    form = {
        **row.params, "notify_id": row.notify_id, "notify_type": row.notify_type,
        "notify_time": local, "app_id": app.app_id, "charset": "utf-8", "version": "1.0",
    }
    form = {k: v for k, v in form.items() if v != ""}
    key = keys.platform_private_key(db, secret=settings.effective_secret_key)
    form["sign"] = signing.sign(key, signing.string_to_sign(form, exclude=("sign", "sign_type")))
    form["sign_type"] = "RSA2"
    return form


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    status_code: int | None = None
    answer: str = ""
    error: str = ""


def _attempt(url: str, form: Mapping[str, str], *, settings: Settings,
             resolve: outbound.Resolver) -> Outcome:
    try:
        status, answer = outbound.post_form(
            url, form, allow_private=settings.gateway_notify_private, timeout=TIMEOUT_S,
            resolve=resolve)
    except outbound.AddressRefused as exc:
        return Outcome(False, error=f"refused: {exc}"[:200])
    except httpx.HTTPError as exc:
        return Outcome(False, error=f"{type(exc).__name__}: {exc}"[:200])
    return Outcome(status == 200 and answer.strip() == "success", status, answer.strip()[:200])


Taken = list[tuple[int, str, dict[str, str]]]


def _lease(database: Database, settings: Settings) -> tuple[Taken, datetime]:
    """Take up to BATCH due notifications: push their next attempt a lease ahead, sign them;
    answers them and when the lease ends."""
    now = clock.now()
    until = now + timedelta(seconds=settings.gateway_notify_lease_s)
    with database.unit_of_work(read_only=True) as db:  # most polls find nothing: no write lock
        due = db.scalar(
            select(Notification.id).where(Notification.state == NotificationState.PENDING,
                                          Notification.next_attempt_at <= now).limit(1)
        )
    if due is None:
        return [], until
    with database.unit_of_work() as db:
        stmt = (
            select(Notification)
            .where(Notification.state == NotificationState.PENDING,
                   Notification.next_attempt_at <= now)
            .order_by(Notification.next_attempt_at).limit(BATCH)
        )
        if db.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        taken = []
        for row in db.scalars(stmt):
            row.next_attempt_at = until
            app = db.get(GatewayApp, row.app_id)
            assert app is not None
            taken.append((row.id, row.url, signed_form(db, row, app, settings=settings, at=now)))
        return taken, until


def _renew(database: Database, settings: Settings, notification_id: int,
           held_until: datetime) -> bool:
    """Extend the lease on a notification about to be sent late in its batch, if it is still
    this notifier's (another may have taken it when the lease ran out, and even sent it)."""
    with database.unit_of_work() as db:
        return rows_changed(db.execute(
            update(Notification)
            .where(Notification.id == notification_id,
                   Notification.state == NotificationState.PENDING,
                   Notification.next_attempt_at == held_until)
            .values(next_attempt_at=clock.now()
                    + timedelta(seconds=settings.gateway_notify_lease_s))
        )) == 1


def _record(database: Database, settings: Settings, notification_id: int, outcome: Outcome,
            elapsed_ms: int) -> None:
    waits = schedule(settings)
    now = clock.now()
    with database.unit_of_work() as db:
        row = db.get(Notification, notification_id)
        if row is None or row.state != NotificationState.PENDING:
            return
        db.add(NotificationAttempt(
            notification_id=row.id, at=now, status_code=outcome.status_code,
            answer=outcome.answer, error=outcome.error, elapsed_ms=elapsed_ms,
        ))
        row.attempts += 1
        if outcome.delivered:
            row.state, row.delivered_at = NotificationState.DELIVERED, now
        elif row.attempts > len(waits):
            row.state = NotificationState.GAVE_UP
        else:
            row.next_attempt_at = now + waits[row.attempts - 1]


def deliver_due(database: Database, settings: Settings, *,
                resolve: outbound.Resolver = outbound.system_resolver) -> int:
    """Send every notification that is due now; answers how many were tried."""
    round_started = time.monotonic()
    taken, held_until = _lease(database, settings)
    attempt = partial(_attempt, settings=settings, resolve=resolve)
    for notification_id, url, form in taken:
        late = time.monotonic() - round_started > settings.gateway_notify_lease_s / 2
        if late and not _renew(database, settings, notification_id, held_until):
            continue  # the lease ran out while earlier ones were sent, and it is not ours now
        started = time.perf_counter()
        outcome = attempt(url, form)
        _record(database, settings, notification_id, outcome,
                int((time.perf_counter() - started) * 1000))
    return len(taken)


def resend(db: Session, *, actor: User, notify_id: str) -> Notification:
    """The app's owner sends a notification again, on a fresh schedule (its history stays)."""
    row = db.scalar(select(Notification).where(Notification.notify_id == notify_id[:40]))
    app = db.get(GatewayApp, row.app_id) if row else None
    if row is None or app is None or not apps.can_manage(db, actor, app):
        raise NotFound("No such notification.")
    row.state, row.attempts, row.next_attempt_at = NotificationState.PENDING, 0, clock.now()
    audit.record(db, actor_id=actor.id, action="gateway.notification.resend",
                 subject_type="gateway_app", subject_id=app.app_id, notify_id=row.notify_id)
    db.flush()
    return row


def recent(db: Session, app: GatewayApp, limit: int = 20) -> list[Notification]:
    return list(db.scalars(
        select(Notification).where(Notification.app_id == app.id)
        .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)
    ))


def attempts_of(db: Session, notification_ids: list[int]) -> dict[int, list[NotificationAttempt]]:
    found: dict[int, list[NotificationAttempt]] = {i: [] for i in notification_ids}
    for attempt in db.scalars(
        select(NotificationAttempt)
        .where(NotificationAttempt.notification_id.in_(notification_ids))
        .order_by(NotificationAttempt.at)
    ):
        found[attempt.notification_id].append(attempt)
    return found
