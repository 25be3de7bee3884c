"""Behaviour-event intake: validate, attribute and store events, each accepted at most once.

Senders (mini-app backends, first-party templates, the traffic system) choose an `event_id`. The
stored key is a digest of (mini-app, event_id): ids are scoped per mini-app, so one app can never
pre-empt, probe or collide with another's ids, and the key still fits the 64-character column.
Storage is `INSERT … ON CONFLICT (event_id) DO NOTHING … RETURNING`, so a retried batch — even
two copies racing on PostgreSQL — is counted once. Merchant and category come from the mini-app,
never from the sender.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from townsquare.core import i18n
from townsquare.core.clock import clock
from townsquare.core.errors import PermissionDenied, TownsquareError, ValidationFailed
from townsquare.core.hooks import Hook
from townsquare.core.i18n import N_
from townsquare.core.text import LINE_CONTROL
from townsquare.events import rollups
from townsquare.events.models import (
    PLATFORM_OBSERVED,
    PLATFORM_PREFIX,
    PUNCTUALITY,
    BehaviourEvent,
    EventType,
)
from townsquare.miniapps.models import MiniApp
from townsquare.miniapps.shell.service import issued_since

MAX_BATCH = 500
MAX_FUTURE = timedelta(minutes=5)
MAX_AGE = timedelta(days=90)
MAX_AMOUNT_FEN = 10**10  # ¥100 million: more is a bug, not an order
MAX_SECONDS = 90 * 24 * 3600
CANCELLED_BY = ("user", "merchant", "system")
RESOLUTIONS = ("", "resolved", "unresolved")
_EVENT_ID = re.compile(r"^[\x21-\x7e]{1,64}$")  # visible ASCII: uuids, ulids, "order-42:paid" …
_SUB = re.compile(r"^ou_[0-9a-f]{32}$")  # as issued by townsquare.miniapps.shell.launch
_CODE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,31}$")  # surfaces, slot reasons, categories

# The measures each type must carry (required) or may carry (optional); others must be absent.
MEASURES = (
    "order_id", "amount_fen", "duration_seconds", "cancelled_by", "complaint_category",
    "resolution", "rating", "response_seconds",
)
_RULES: dict[EventType, tuple[tuple[str, ...], tuple[str, ...]]] = {
    EventType.VISIT: ((), ()),
    EventType.EXPOSURE: ((), ()),
    EventType.CLICK: ((), ()),
    EventType.ORDER_PLACED: (("order_id", "amount_fen"), ()),
    EventType.ORDER_FULFILLED: (("order_id", "duration_seconds"), ()),
    EventType.ORDER_CANCELLED: (("order_id", "cancelled_by"), ()),
    EventType.REFUND: (("order_id", "amount_fen"), ()),
    EventType.COMPLAINT: (("complaint_category",), ("resolution", "order_id")),
    EventType.RATING: (("rating",), ("order_id",)),
    EventType.MESSAGE_RESPONSE: (("response_seconds",), ()),
    # recorded by the platform alone (`record_platform`); refused from anyone else
    EventType.ORDER_ACCEPTED: (("order_id", "response_seconds", "resolution"), ()),
    EventType.ORDER_READY: (("order_id", "duration_seconds", "resolution"), ()),
    EventType.DELIVERY_DONE: (("order_id", "resolution"), ("duration_seconds",)),
    EventType.DELIVERY_INCIDENT: (("order_id", "complaint_category"), ()),
}
_SHOWN = (EventType.EXPOSURE, EventType.CLICK)  # carry surface / slot_reason
# What only the platform observes: which mini-app it showed, and which showing was followed.
PLATFORM_ONLY = frozenset(_SHOWN)
REFUSED = ("forbidden", "unknown_user", "no_interaction")  # error codes answered with 403
# Judgements about a mini-app: they count only from a user who really used it.
JUDGEMENTS = frozenset((EventType.RATING, EventType.COMPLAINT))


@dataclass(frozen=True)
class Outcome:
    """What happened to one event of a batch: accepted, duplicate or rejected (with why)."""

    index: int
    event_id: str
    status: Literal["accepted", "duplicate", "rejected"]
    code: str = ""
    message: str = ""
    field: str | None = None


def storage_key(miniapp_public_id: str, event_id: str) -> str:
    """The stored, globally unique key of a sender's event id (scoped to its mini-app)."""
    return hashlib.sha256(f"{miniapp_public_id}\x1f{event_id}".encode()).hexdigest()


def first_party_key(miniapp_public_id: str, event_id: str) -> str:
    """The stored key of an event first-party code records (`record`): the platform observed
    it itself (an order it carried, a rating or complaint it collected, a reply through its
    messaging), so it carries `PLATFORM_PREFIX`, scoped to the mini-app like a sender's id."""
    return PLATFORM_PREFIX + "fp:" + storage_key(miniapp_public_id, event_id)[:52]


def _invalid(message: str, field: str, **params: Any) -> ValidationFailed:
    return ValidationFailed(message, field=field, **params)


def _string(raw: Mapping[str, Any], field: str, *, max_length: int, pattern: re.Pattern[str]
            | None = None, required: bool = False) -> str:
    value = raw.get(field)
    if value is None or value == "":
        if required:
            raise _invalid(N_("{field} is required."), field)
        return ""
    if (not isinstance(value, str) or len(value) > max_length or LINE_CONTROL.search(value)
            or (pattern is not None and not pattern.fullmatch(value))):
        raise _invalid(N_("{field} is not a valid value."), field)
    return value


def _integer(raw: Mapping[str, Any], field: str, low: int, high: int) -> int:
    value = raw.get(field)
    # bool is an int in Python; a JSON true is not a number of seconds
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise _invalid(N_("{field} must be a whole number from {low} to {high}."), field,
                       low=low, high=high)
    return value


def _occurred_at(value: Any, now: datetime) -> datetime:
    if isinstance(value, str) and len(value) <= 40:
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            value = None
    if not isinstance(value, datetime):
        raise _invalid(N_("occurred_at must be an ISO 8601 time with a time zone."), "occurred_at")
    if value.tzinfo is None or value.utcoffset() is None:
        raise _invalid(N_("occurred_at must be an ISO 8601 time with a time zone."), "occurred_at")
    try:
        value = value.astimezone(UTC)
    except (OverflowError, ValueError):  # e.g. year 1 with a positive offset
        raise _invalid(N_("occurred_at is more than {days} days ago."), "occurred_at",
                       days=MAX_AGE.days) from None
    if value > now + MAX_FUTURE:
        raise _invalid(N_("occurred_at is in the future."), "occurred_at")
    if value < now - MAX_AGE:
        raise _invalid(N_("occurred_at is more than {days} days ago."), "occurred_at",
                       days=MAX_AGE.days)
    return value


def _measure(raw: Mapping[str, Any], name: str) -> Any:
    if name == "order_id":
        return _string(raw, name, max_length=64, pattern=_EVENT_ID, required=True)
    if name == "amount_fen":
        return _integer(raw, name, 0, MAX_AMOUNT_FEN)
    if name in ("duration_seconds", "response_seconds"):
        return _integer(raw, name, 0, MAX_SECONDS)
    if name == "rating":
        return _integer(raw, name, 1, 5)
    if name == "complaint_category":
        return _string(raw, name, max_length=32, pattern=_CODE, required=True)
    choices = CANCELLED_BY if name == "cancelled_by" else RESOLUTIONS
    value = raw.get(name)
    if value is None and name == "resolution":
        return ""
    if not isinstance(value, str) or value not in choices:
        raise _invalid(N_("{field} must be one of: {choices}."), name,
                       choices=", ".join(c for c in choices if c))
    return value


def validate(raw: Any, *, miniapp: MiniApp, now: datetime,
             issued: Mapping[str, datetime] | None = None) -> dict[str, Any]:
    """One event as a storable row attributed to `miniapp`; raises a TownsquareError if bad.

    `issued` is given for a mini-app's own events (untrusted): the subs the platform issued to
    it, with each user's first launch. Without it the caller is the platform itself."""
    if not isinstance(raw, Mapping):
        raise _invalid(N_("An event is a JSON object."), "")
    event_id = _string(raw, "event_id", max_length=64, pattern=_EVENT_ID, required=True)
    app = raw.get("miniapp")
    if app not in (None, "", miniapp.public_id):
        raise PermissionDenied(N_("A mini-app can only send its own events."), field="miniapp")
    try:
        kind = EventType(str(raw.get("type")))
    except (TypeError, ValueError):
        raise _invalid(N_("Unknown event type."), "type") from None
    if issued is not None and kind in PLATFORM_ONLY:
        raise PermissionDenied(N_("Only the platform records exposures and clicks."),
                               field="type")
    if kind in PLATFORM_OBSERVED:  # from a mini-app or first-party code alike
        raise PermissionDenied(N_("Only the platform records when orders are accepted, ready "
                                  "and delivered, and courier incidents."), field="type")
    required, optional = _RULES[kind]
    row: dict[str, Any] = {
        "event_id": storage_key(miniapp.public_id, event_id),
        "type": kind,
        "occurred_at": _occurred_at(raw.get("occurred_at"), now),
        "received_at": now,
        "miniapp_id": miniapp.id,
        "merchant_id": miniapp.merchant_id,
        "category_code": miniapp.category.code,
        "user_sub": _string(raw, "sub", max_length=35, pattern=_SUB,
                            required=kind != EventType.EXPOSURE),
        "city": _string(raw, "city", max_length=32) or _home_city(miniapp),
        "community": _string(raw, "community", max_length=64),
        "surface": "",
        "slot_reason": "",
    }
    if kind in _SHOWN:
        row["surface"] = _string(raw, "surface", max_length=32, pattern=_CODE, required=True)
        row["slot_reason"] = _string(raw, "slot_reason", max_length=32, pattern=_CODE)
    else:
        for name in ("surface", "slot_reason"):
            if raw.get(name) not in (None, ""):
                raise _invalid(N_("{field} only applies to exposures and clicks."), name)
    for name in MEASURES:
        if name in required or (name in optional and raw.get(name) is not None):
            row[name] = _measure(raw, name)
        elif raw.get(name) is not None:
            raise _invalid(N_("{field} does not apply to this event type."), name)
        else:
            row[name] = None
    if issued is not None:
        _check_user(row, kind, issued)
    return row


def _check_user(row: dict[str, Any], kind: EventType, issued: Mapping[str, datetime]) -> None:
    """A mini-app speaks only about users the platform gave it, and a rating or complaint
    only about a user who had opened it before."""
    sub = row["user_sub"]
    first = issued.get(sub)
    if first is None:
        raise PermissionDenied(N_("sub is not a user the platform issued to this mini-app."),
                               field="sub", code="unknown_user")
    if kind in JUDGEMENTS and row["occurred_at"] < first:
        raise PermissionDenied(N_("A rating or complaint needs the user to have opened the "
                                  "mini-app first."), field="occurred_at", code="no_interaction")
    if kind == EventType.RATING:
        # One rating per user per order (or per day without one): a re-sent or repeated rating
        # is a duplicate, not another vote.
        scope = row["order_id"] or row["occurred_at"].date().isoformat()
        row["event_id"] = hashlib.sha256(
            f"rating\x1f{row['miniapp_id']}\x1f{sub}\x1f{scope}".encode()).hexdigest()


def _home_city(miniapp: MiniApp) -> str:
    # An app serving one city needs no city on each event; for several, the sender says which.
    cities = miniapp.cities or []
    return cities[0] if len(cities) == 1 and isinstance(cities[0], str) else ""


def _insert_new(db: Session, rows: list[dict[str, Any]]) -> set[str]:
    """Insert rows whose key is not stored yet; the keys actually inserted."""
    if not rows:
        return set()
    dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
    stmt = (
        dialect.insert(BehaviourEvent)
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(BehaviourEvent.event_id)
    )
    inserted = set(db.scalars(stmt, rows).all())
    rollups.add_rows(db, ((r["type"], r["occurred_at"], r["miniapp_id"], r["slot_reason"])
                          for r in rows if r["event_id"] in inserted))
    return inserted


@dataclass(frozen=True)
class ComplaintsReceived:
    """New complaints about one mini-app, stored in this transaction."""

    miniapp: MiniApp
    count: int


# messaging tells the merchant (connected by the composition roots; see core/hooks.py)
complaints_received: Hook[ComplaintsReceived] = Hook("events.complaints_received")


def _announce_complaints(db: Session, miniapp: MiniApp, rows: list[dict[str, Any]],
                         inserted: set[str]) -> None:
    count = sum(1 for row in rows
                if row["type"] == EventType.COMPLAINT and row["event_id"] in inserted)
    if count:
        complaints_received.fire(db, ComplaintsReceived(miniapp, count))


def ingest(db: Session, *, client: MiniApp, events: Sequence[Any]) -> list[Outcome]:
    """Store a batch sent by (authenticated) mini-app `client`; one outcome per event, in order.

    A mini-app is not trusted with what only the platform sees (exposures, clicks) and speaks
    only about users the platform issued to it (see docs/scoring.md, "Which events count")."""
    if not isinstance(events, Sequence) or not 1 <= len(events) <= MAX_BATCH:
        raise ValidationFailed("Send 1 to {n} events at a time.", n=MAX_BATCH, field="events")
    now = clock.now()
    subs = [raw.get("sub") for raw in events if isinstance(raw, Mapping)]
    issued = issued_since(db, miniapp=client, subs=[s for s in subs if isinstance(s, str)])
    outcomes: list[Outcome | None] = [None] * len(events)
    rows: list[dict[str, Any]] = []
    pending: dict[str, tuple[int, str]] = {}  # key → (index, sender's id) of the first copy
    for index, raw in enumerate(events):
        sent_id = raw.get("event_id") if isinstance(raw, Mapping) else None
        sent_id = sent_id[:64] if isinstance(sent_id, str) else ""
        try:
            row = validate(raw, miniapp=client, now=now, issued=issued)
        except TownsquareError as exc:
            outcomes[index] = Outcome(index, sent_id, "rejected", exc.code,
                                      exc.render(i18n.gettext), exc.params.get("field"))
            continue
        if row["event_id"] in pending:  # the same event twice in one batch
            outcomes[index] = Outcome(index, sent_id, "duplicate")
            continue
        pending[row["event_id"]] = (index, sent_id)
        rows.append(row)
    inserted = _insert_new(db, rows)
    _announce_complaints(db, client, rows, inserted)
    for key, (index, sent_id) in pending.items():
        outcomes[index] = Outcome(index, sent_id, "accepted" if key in inserted else "duplicate")
    return [outcome for outcome in outcomes if outcome is not None]


def record(
    db: Session,
    *,
    miniapp: MiniApp,
    type: EventType | str,
    event_id: str,
    occurred_at: datetime | None = None,
    sub: str = "",
    **fields: Any,
) -> bool:
    """First-party code writes one event directly; True if new, False if already recorded.

    `fields` are the attribution and measures of the JSON form (city, community, surface,
    slot_reason, order_id, amount_fen …). Invalid input raises ValidationFailed. The event is
    the platform's own observation (stored as `first_party_key`): scoring trusts it above a
    mini-app's word (docs/scoring.md, "Trust").
    """
    now = clock.now()
    raw = {"event_id": event_id, "type": str(type), "sub": sub,
           "occurred_at": occurred_at or now, **fields}
    row = validate(raw, miniapp=miniapp, now=now)
    row["event_id"] = first_party_key(miniapp.public_id, event_id)
    inserted = _insert_new(db, [row])
    _announce_complaints(db, miniapp, [row], inserted)
    return bool(inserted)




def record_platform(db: Session, *, miniapp: MiniApp, type: EventType, key: str,
                    occurred_at: datetime, user_sub: str = "", order_id: str | None = None,
                    amount_fen: int | None = None, **measures: int | str | None) -> bool:
    """An event the platform saw in its own records (trusted, no validation of a sender), stored
    once per `key` as `platform:{key}`; True if new.

    `measures` are the type's other columns (response_seconds, duration_seconds, resolution,
    complaint_category …: see EventType). A key too long for the column is stored as its
    digest, so two long keys never collide by truncation."""
    unknown = set(measures) - set(MEASURES)
    if unknown:
        raise ValueError(f"not a measure: {', '.join(sorted(unknown))}")
    if type in PLATFORM_OBSERVED and type != EventType.DELIVERY_INCIDENT \
            and measures.get("resolution") not in (*PUNCTUALITY, ""):
        raise ValueError(f"resolution of {type} is one of {PUNCTUALITY}")
    event_id = PLATFORM_PREFIX + key
    if len(event_id) > 64:
        event_id = PLATFORM_PREFIX + hashlib.sha256(key.encode()).hexdigest()[:55]
    row: dict[str, Any] = {
        "event_id": event_id, "type": type, "occurred_at": occurred_at,
        "received_at": clock.now(), "miniapp_id": miniapp.id,
        "merchant_id": miniapp.merchant_id, "category_code": miniapp.category.code,
        "user_sub": user_sub, "city": _home_city(miniapp), "community": "", "surface": "",
        "slot_reason": "", **dict.fromkeys(MEASURES),
        **measures, "order_id": order_id, "amount_fen": amount_fen,
    }
    return bool(_insert_new(db, [row]))


def insert_rows(db: Session, rows: Iterable[dict[str, Any]]) -> int:
    """Bulk path for trusted generators (the market simulator): rows already complete."""
    batch = list(rows)
    if batch:
        db.execute(insert(BehaviourEvent), batch)
        rollups.add_rows(db, ((r["type"], r["occurred_at"], r["miniapp_id"],
                               r.get("slot_reason")) for r in batch))
    return len(batch)
