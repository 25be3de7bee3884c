"""Booking a delivery with a provider, and failing over to the next one.

`book(database, delivery_id)` runs in its own units of work, never inside a request's
transaction, because it waits on providers over the network:

1. read the delivery; if an earlier booking's outcome is unknown (a create that timed out, a
   process killed mid-call), look it up at that provider by our id first: found, it is booked;
   `DeliveryUnknown`, that provider is crossed off; anything else, leave it for the next poll.
   Never another provider while one might have a courier on it.
2. quote every candidate provider at once (the merchant's list, minus those crossed off for
   this delivery and those whose circuit breaker is open) and rank the quotes (policy.py);
3. claim the delivery: one conditional UPDATE takes a lease on its row (status quoted, no lease
   or an expired one, no booking in flight) and records the attempt, committed before the call,
   so a second dispatcher finds the claim taken and a crash leaves a trace to look up;
4. create at the chosen provider (outside any transaction): an expired quote is quoted again
   once, a duplicate is read back with `get`, a timeout is looked up by our id;
5. record the answer under the lease: booked, or crossed off and back to 2 with the next.

`cancel` asks the provider and records its answer."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.core.clock import clock
from townsquare.core.database import Database, rows_changed
from townsquare.core.errors import ValidationFailed
from townsquare.core.ids import new_id
from townsquare.core.settings import Settings, get_settings
from townsquare.delivery import policy, service
from townsquare.delivery.adapters import registry
from townsquare.delivery.adapters.base import (
    Adapter,
    DeliveryUnknown,
    DuplicateDelivery,
    NotCancellable,
    Parcel,
    Place,
    ProviderDelivery,
    ProviderError,
    ProviderQuote,
    ProviderRejected,
    ProviderTimeout,
    QuoteExpired,
)
from townsquare.delivery.breaker import Breakers
from townsquare.delivery.models import AttemptState, Delivery, DeliveryAttempt
from townsquare.delivery.riders import SelfAdapter
from townsquare.delivery.status import RANK, TERMINAL, DeliveryStatus

log = structlog.get_logger(__name__)
S = DeliveryStatus
MAX_ROUNDS = 8

_breakers: Breakers | None = None
_breakers_lock = threading.Lock()


def breakers(settings: Settings | None = None) -> Breakers:
    """This process's circuit breakers (one per provider)."""
    global _breakers
    with _breakers_lock:
        if _breakers is None:
            s = settings or get_settings()
            _breakers = Breakers(failures=s.delivery_breaker_failures,
                                 open_s=s.delivery_breaker_open_s)
        return _breakers


def available(database: Database | None = None, *, settings: Settings | None = None,
              session: Callable[[], AbstractContextManager[Session]] | None = None,
              merchant_id: int | None = None) -> dict[str, Adapter]:
    """Every adapter: the configured and installed providers and the shop's riders."""
    found: dict[str, Adapter] = dict(registry.adapters(settings or get_settings()))
    if session is None and database is not None:
        db = database

        def session() -> AbstractContextManager[Session]:
            return db.unit_of_work(read_only=True)
    if session is not None:
        found[registry.SELF] = SelfAdapter(session, merchant_id=merchant_id)
    return found


@dataclass
class Outcome:
    """What one `book` call did."""

    status: str  # the delivery's status at the end, or "busy" / "unresolved"
    provider: str | None = None
    decisions: list[str] = field(default_factory=list)


def _now_s() -> float:
    return time.monotonic()


def quote_all(adapters: Mapping[str, Adapter], names: list[str], parcel: Parcel,
              board: Breakers) -> tuple[list[ProviderQuote], dict[str, ProviderError]]:
    """Quote `names` in parallel; the quotes and each provider's error."""
    quotes: list[ProviderQuote] = []
    errors: dict[str, ProviderError] = {}

    def one(name: str) -> ProviderQuote | ProviderError:
        try:
            return adapters[name].quote(parcel)
        except ProviderError as exc:
            return exc
        except Exception as exc:  # noqa: BLE001 — a broken adapter is a failed provider
            return ProviderError(f"{type(exc).__name__}: {exc}")

    if len(names) == 1:
        results = [one(names[0])]
    else:
        with ThreadPoolExecutor(max_workers=len(names)) as pool:
            results = list(pool.map(one, names))
    for name, result in zip(names, results, strict=True):
        if isinstance(result, ProviderError):
            errors[name] = result
            if not isinstance(result, ProviderRejected):
                board.failure(name, _now_s())
        else:
            quotes.append(result)
            board.success(name)
    return quotes, errors


def _candidates(adapters: Mapping[str, Adapter], preference: list[str], excluded: list[str],
                board: Breakers) -> tuple[list[str], list[str]]:
    names = [n for n in (preference or sorted(adapters)) if n in adapters]
    if preference and registry.SELF in adapters and registry.SELF not in names:
        names.insert(0, registry.SELF)  # the shop's riders are always the shop's to use
    names = [n for n in names if n not in excluded]
    now = _now_s()
    open_ = [n for n in names if not board.allow(n, now)]
    return [n for n in names if n not in open_], open_


def book(database: Database, delivery_id: str, *, settings: Settings | None = None,
         adapters: Mapping[str, Adapter] | None = None, board: Breakers | None = None,
         lease_s: float | None = None) -> Outcome:
    """Book `delivery_id` if it waits for a provider (see the module's docstring)."""
    settings = settings or get_settings()
    found = dict(adapters) if adapters is not None else available(database, settings=settings)
    board = board or breakers(settings)
    lease = timedelta(seconds=lease_s if lease_s is not None
                      else 3 * settings.delivery_http_timeout_s + 10)
    outcome = Outcome(status="busy")
    for _ in range(MAX_ROUNDS):
        with database.unit_of_work(read_only=True) as db:
            delivery = service.by_public_id(db, delivery_id)
            outcome.status = delivery.status.value
            if delivery.status is not S.QUOTED:
                return outcome
            now = clock.now()
            if delivery.lease_until and delivery.lease_until > now:
                outcome.status = "busy"
                return outcome
            pending = next((a for a in delivery.attempts if a.state is AttemptState.BOOKING),
                           None)
            parcel = service.parcel_of(delivery, settings=settings)
            prefs = service.settings_for(db, delivery.merchant_id)
            preference, excluded = list(prefs.providers), list(delivery.excluded)
            policy_name, self_first = prefs.policy.value, prefs.self_first
            promised_by = delivery.promised_by or (
                delivery.pickup_ready_at + timedelta(minutes=prefs.promise_minutes))
            pending_id, pending_provider = (pending.id, pending.provider) if pending else (0, "")
        if pending_id:
            if not _resolve(database, delivery_id, pending_id, pending_provider, found, board,
                            lease, outcome):
                outcome.status = "unresolved"
                return outcome
            continue
        names, broken = _candidates(found, preference, excluded, board)
        quotes, errors = quote_all(found, names, parcel, board)
        ranked = policy.rank(quotes, policy=policy_name, promised_by=promised_by,
                             self_first=self_first, preference=preference)
        if not ranked:
            _nobody(database, delivery_id, errors, broken, outcome)
            return outcome
        token = secrets.token_hex(8)
        attempt_id = _claim(database, delivery_id, token, lease, ranked, errors, broken)
        if attempt_id is None:
            outcome.status = "busy"
            return outcome
        chosen = ranked[0].quote
        outcome.decisions.append(chosen.provider)
        result = _create(found[chosen.provider], parcel, chosen)
        if isinstance(result, ProviderTimeout):
            looked = _lookup(found[chosen.provider], delivery_id)
            if looked is None:  # nobody knows: keep the claim for the poller to look up again
                with database.unit_of_work() as db:
                    delivery = service.by_public_id(db, delivery_id, lock=True)
                    delivery.lease_token, delivery.lease_until = None, None
                    service.log(db, delivery, "unresolved",
                                "{provider} did not answer; it will be asked again before "
                                "anyone else is booked.", provider=chosen.provider)
                board.failure(chosen.provider, _now_s())
                outcome.status = "unresolved"
                return outcome
            result = looked
        done = _record(database, delivery_id, token, attempt_id, chosen.provider, result,
                       found, board)
        if done:
            outcome.status, outcome.provider = done, chosen.provider
            if done != S.QUOTED.value:
                return outcome
    return outcome


def _create(adapter: Adapter, parcel: Parcel, quote: ProviderQuote
            ) -> ProviderDelivery | ProviderError:
    """Create, handling an expired quote (quoted again once) and a duplicate (read back)."""
    try:
        try:
            return adapter.create(parcel, quote)
        except QuoteExpired:
            return adapter.create(parcel, adapter.quote(parcel))
    except DuplicateDelivery:
        try:
            return adapter.get(parcel.delivery_id)
        except ProviderError as exc:
            return exc
    except ProviderError as exc:
        return exc
    except Exception as exc:  # noqa: BLE001 — an adapter bug: we do not know, treat as timeout
        log.warning("delivery.create.crashed", provider=adapter.name, exc_info=True)
        return ProviderTimeout(f"{type(exc).__name__}: {exc}")


def _lookup(adapter: Adapter, delivery_id: str) -> ProviderDelivery | ProviderError | None:
    """After a timeout: the provider's record of our id, DeliveryUnknown, or None (no answer)."""
    try:
        return adapter.get(delivery_id)
    except DeliveryUnknown as exc:
        return exc
    except Exception:  # noqa: BLE001 — still unknown
        return None


def _claim(database: Database, delivery_id: str, token: str, lease: timedelta,
           ranked: list[policy.Ranked], errors: Mapping[str, ProviderError],
           broken: list[str]) -> int | None:
    """Take the lease and record the attempt (committed before the call), or None if taken."""
    chosen = ranked[0]
    with database.unit_of_work() as db:
        delivery = service.by_public_id(db, delivery_id)
        now = clock.now()
        won = rows_changed(db.execute(
            update(Delivery)
            .where(Delivery.id == delivery.id, Delivery.status == S.QUOTED,
                   Delivery.current_attempt_id.is_(None),
                   or_(Delivery.lease_until.is_(None), Delivery.lease_until <= now))
            .values(lease_token=token, lease_until=now + lease)
            .execution_options(synchronize_session=False)))
        if not won:
            return None
        db.refresh(delivery)
        if any(a.state is AttemptState.BOOKING for a in delivery.attempts):
            delivery.lease_token = delivery.lease_until = None
            return None  # an unresolved booking: look it up first (next round)
        _log_quotes(db, delivery, ranked, errors, broken)
        attempt = DeliveryAttempt(delivery_id=delivery.id, provider=chosen.quote.provider,
                                  state=AttemptState.BOOKING, quote_id=chosen.quote.quote_id,
                                  fee_fen=chosen.quote.fee_fen)
        db.add(attempt)
        db.flush()
        service.log(db, delivery, "decision",
                    "Booking {provider} ({reason}): ¥{fee}, drop-off by {eta}.",
                    provider=chosen.quote.provider, reason=chosen.reason,
                    fee=f"{chosen.quote.fee_fen / 100:.2f}",
                    eta=chosen.quote.dropoff_eta.isoformat(timespec="minutes"))
        return attempt.id


def _log_quotes(db: Session, delivery: Delivery, ranked: list[policy.Ranked],
                errors: Mapping[str, ProviderError], broken: list[str]) -> None:
    for r in ranked:
        service.log(db, delivery, "quote", "{provider} quoted ¥{fee}, drop-off by {eta}.",
                    provider=r.quote.provider, fee=f"{r.quote.fee_fen / 100:.2f}",
                    eta=r.quote.dropoff_eta.isoformat(timespec="minutes"))
    for name, exc in errors.items():
        service.log(db, delivery, "quote_failed", "{provider} could not quote: {error}.",
                    provider=name, error=exc.code, detail=exc.render()[:200])
    for name in broken:
        service.log(db, delivery, "breaker", "{provider} skipped: failing lately (circuit open).",
                    provider=name)


def _record(database: Database, delivery_id: str, token: str, attempt_id: int, provider: str,
            result: ProviderDelivery | ProviderError, adapters: Mapping[str, Adapter],
            board: Breakers) -> str | None:
    """Record a create's answer under our lease: the delivery's status after it."""
    cancel_now = False
    with database.unit_of_work() as db:
        delivery = service.by_public_id(db, delivery_id, lock=True)
        if delivery.lease_token != token:
            return None  # our lease ran out and someone else took over: they decide
        attempt = db.get_one(DeliveryAttempt, attempt_id)
        delivery.lease_token = delivery.lease_until = None
        if isinstance(result, ProviderError):
            _failed(db, delivery, attempt, result)
            if not isinstance(result, ProviderRejected):
                board.failure(provider, _now_s())
            return delivery.status.value
        board.success(provider)
        _booked(db, delivery, attempt, result)
        cancel_now = bool(delivery.cancel_reason)
        status = delivery.status.value
    if cancel_now:  # cancelled while the booking was in flight
        cancel(database, delivery_id=delivery_id, actor=None,
               reason="cancelled during booking", adapters=adapters)
    return status


def _failed(db: Session, delivery: Delivery, attempt: DeliveryAttempt,
            error: ProviderError) -> None:
    attempt.state, attempt.finished_at = AttemptState.FAILED, clock.now()
    attempt.error_code, attempt.error_message = error.code, error.render()[:500]
    delivery.excluded = sorted({*delivery.excluded, attempt.provider})
    service.log(db, delivery, "failed", "{provider} failed ({error}): trying the next.",
                provider=attempt.provider, error=error.code)


def _booked(db: Session, delivery: Delivery, attempt: DeliveryAttempt,
            found: ProviderDelivery) -> None:
    attempt.state, attempt.external_id = AttemptState.ACTIVE, found.external_id[:96]
    attempt.provider_status = S.CREATED
    if found.fee_fen is not None:
        attempt.fee_fen = found.fee_fen
    delivery.current_attempt_id, delivery.provider = attempt.id, attempt.provider
    delivery.external_id, delivery.fee_fen = found.external_id[:96], attempt.fee_fen
    old = delivery.status
    delivery.status = S.CREATED
    service.log(db, delivery, "booked", "Booked with {provider} (¥{fee}).",
                provider=attempt.provider, status=S.CREATED,
                fee=f"{(attempt.fee_fen or 0) / 100:.2f}")
    service._announce(db, delivery, old)
    if found.status is not S.CREATED:  # already further (a duplicate read back, a lookup)
        service.apply_update(db, delivery=delivery, provider=attempt.provider,
                             status=found.status, info=found, via="booking")
    else:
        service._copy_info(db, delivery, found, clock.now())


def _resolve(database: Database, delivery_id: str, attempt_id: int, provider: str,
             adapters: Mapping[str, Adapter], board: Breakers, lease: timedelta,
             outcome: Outcome) -> bool:
    """Settle a booking whose outcome is unknown by asking its provider; False if still unknown.
    """
    adapter = adapters.get(provider)
    token = secrets.token_hex(8)
    with database.unit_of_work() as db:
        delivery = service.by_public_id(db, delivery_id)
        now = clock.now()
        won = rows_changed(db.execute(
            update(Delivery).where(Delivery.id == delivery.id, Delivery.status == S.QUOTED,
                                   or_(Delivery.lease_until.is_(None),
                                       Delivery.lease_until <= now))
            .values(lease_token=token, lease_until=now + lease)
            .execution_options(synchronize_session=False)))
        if not won:
            return False
    result = _lookup(adapter, delivery_id) if adapter else None
    if result is None:
        with database.unit_of_work() as db:
            delivery = service.by_public_id(db, delivery_id, lock=True)
            if delivery.lease_token == token:
                delivery.lease_token = delivery.lease_until = None
        return False
    outcome.decisions.append(f"lookup:{provider}")
    return _record(database, delivery_id, token, attempt_id, provider, result, adapters,
                   board) is not None


def _nobody(database: Database, delivery_id: str, errors: Mapping[str, ProviderError],
            broken: list[str], outcome: Outcome) -> None:
    with database.unit_of_work() as db:
        delivery = service.by_public_id(db, delivery_id, lock=True)
        if delivery.status is not S.QUOTED or delivery.current_attempt_id is not None:
            outcome.status = delivery.status.value
            return
        if any(a.state is AttemptState.BOOKING for a in delivery.attempts):
            outcome.status = "unresolved"
            return
        for name, exc in errors.items():
            service.log(db, delivery, "quote_failed", "{provider} could not quote: {error}.",
                        provider=name, error=exc.code, detail=exc.render()[:200])
        for name in broken:
            service.log(db, delivery, "breaker",
                        "{provider} skipped: failing lately (circuit open).", provider=name)
        service.end(db, delivery, S.REJECTED, "No provider could take this delivery.")
        outcome.status = S.REJECTED.value


# --- cancelling -------------------------------------------------------------------------------

def cancel(database: Database | None = None, *, delivery_id: str, actor: User | None,
           reason: str, adapters: Mapping[str, Adapter] | None = None,
           db: Session | None = None, settings: Settings | None = None) -> Delivery:
    """Cancel a delivery: at its provider while it has one (which may refuse after pickup:
    `not_cancellable`), or at once while it waits. In `db` (the caller's transaction) or in a
    unit of work of its own."""
    if db is not None:
        return _cancel(db, delivery_id=delivery_id, actor=actor, reason=reason,
                       adapters=adapters, settings=settings)
    assert database is not None
    with database.unit_of_work() as own:
        return _cancel(own, delivery_id=delivery_id, actor=actor, reason=reason,
                       adapters=adapters, settings=settings)


def _cancel(db: Session, *, delivery_id: str, actor: User | None, reason: str,
            adapters: Mapping[str, Adapter] | None, settings: Settings | None) -> Delivery:
    delivery = service.get(db, actor=actor, delivery_id=delivery_id)
    db.flush()
    db.refresh(delivery, with_for_update=True)
    service.require_open(delivery)
    reason = (reason or "cancelled").strip()[:200]
    if RANK[delivery.status] >= RANK[S.PICKED_UP]:
        raise service.NotCancellableNow("The courier has already picked it up.")
    attempt = service.current_attempt(delivery)
    delivery.cancel_reason = reason
    if attempt is None or attempt.state is not AttemptState.ACTIVE:
        if delivery.lease_token is None:
            service.end(db, delivery, S.CANCELLED, "Cancelled: {reason}.", reason=reason)
        else:  # a booking is in flight: it cancels what it books when it records it
            service.log(db, delivery, "cancel", "Cancel asked during booking: {reason}.",
                        reason=reason)
        return delivery
    found = dict(adapters) if adapters is not None else available(
        settings=settings, session=lambda: nullcontext(db))
    adapter = found.get(attempt.provider)
    if adapter is None:
        raise ProviderError("The provider is not configured here.")
    try:
        answer = adapter.cancel(delivery.public_id, reason)
    except NotCancellable:
        raise service.NotCancellableNow("The provider cannot cancel it any more.") from None
    service.apply_update(db, delivery=delivery, provider=attempt.provider,
                         status=S.CANCELLED if answer.status not in TERMINAL else answer.status,
                         info=answer, via="cancel")
    return delivery


# --- quoting without booking ------------------------------------------------------------------

def quote(db: Session, *, actor: User | None, merchant: object, pickup: Place, dropoff: Place,
          value_fen: int, items: list[str], pickup_ready_at: datetime,
          promised_by: datetime | None = None, adapters: Mapping[str, Adapter] | None = None,
          settings: Settings | None = None, board: Breakers | None = None
          ) -> tuple[list[policy.Ranked], dict[str, ProviderError]]:
    """What each provider would charge for a parcel now, ranked by the merchant's policy (the
    best first), and why the others would not take it. Books nothing."""
    found = service.merchant_of(db, merchant)  # type: ignore[arg-type]
    service.require_act(db, actor, found)
    service.check_place(pickup, "pickup")
    service.check_place(dropoff, "dropoff")
    if pickup_ready_at.tzinfo is None:
        raise ValidationFailed("Give times with their offset.", field="pickup_ready_at")
    settings = settings or get_settings()
    adapters = dict(adapters) if adapters is not None else available(
        settings=settings, session=lambda: nullcontext(db), merchant_id=found.id)
    board = board or breakers(settings)
    prefs = service.settings_for(db, found.id)
    parcel = Parcel(delivery_id=new_id("dlq"), pickup=pickup, dropoff=dropoff,
                    value_fen=value_fen, items=[str(i)[:80] for i in items][:50],
                    pickup_ready_at=pickup_ready_at, dropoff_code="000000")
    names, broken = _candidates(adapters, list(prefs.providers), [], board)
    quotes, errors = quote_all(adapters, names, parcel, board)
    promised = promised_by or pickup_ready_at + timedelta(minutes=prefs.promise_minutes)
    ranked = policy.rank(quotes, policy=prefs.policy.value, promised_by=promised,
                         self_first=prefs.self_first, preference=list(prefs.providers))
    for name in broken:
        errors[name] = ProviderError("Failing lately (circuit open).")
    return ranked, errors
