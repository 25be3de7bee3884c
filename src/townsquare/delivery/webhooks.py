"""Provider webhooks: verified over the raw body by the provider's adapter, each event applied
at most once (its (provider, event id) receipt is a unique row), and never able to move a
delivery backwards or out of an end (`service.apply_update`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from townsquare.core.clock import clock
from townsquare.core.errors import NotFound
from townsquare.delivery import service
from townsquare.delivery.adapters.base import Adapter
from townsquare.delivery.models import WebhookReceipt


@dataclass
class Received:
    applied: int = 0
    duplicates: int = 0
    ignored: int = 0  # verified, new, but changing nothing (late, repeated, unknown delivery)


class UnknownProvider(NotFound):
    code = "unknown_provider"


def receive(db: Session, *, provider: str, headers: Mapping[str, str], body: bytes,
            adapters: Mapping[str, Adapter]) -> Received:
    """Verify and apply one webhook call (BadSignature → 401, nothing recorded)."""
    adapter = adapters.get(provider)
    if adapter is None or provider == "self":
        raise UnknownProvider("No such delivery provider.")
    events = adapter.parse_webhook(headers, body)
    result = Received()
    for event in events:
        try:
            with db.begin_nested():
                db.add(WebhookReceipt(provider=provider, event_id=event.event_id[:128],
                                      delivery_public_id=event.delivery_id[:64],
                                      status=event.status.value, received_at=clock.now()))
                db.flush()
        except IntegrityError:
            result.duplicates += 1
            continue
        try:
            delivery = service.by_public_id(db, event.delivery_id, lock=True)
        except NotFound:
            result.ignored += 1
            continue
        changed = service.apply_update(db, delivery=delivery, provider=provider,
                                       status=event.status, occurred_at=event.occurred_at,
                                       info=event.delivery, via="webhook")
        if changed:
            result.applied += 1
        else:
            result.ignored += 1
    return result
