"""Subscribe-once template messages: a user consents to a mini-app's template, and each consent
lets the mini-app send that template to that user once; sends are rate-limited per mini-app per
user per day; messages land in the user's inbox in the shell.

Bodies are filled in by plain name substitution (never `str.format` on sender data, which could
reach attributes), and each value is bounded and stripped of control characters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.core import audit
from townsquare.core.clock import clock
from townsquare.core.database import advisory_lock, rows_changed
from townsquare.core.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    RateLimited,
    ValidationFailed,
)
from townsquare.core.settings import Settings
from townsquare.core.text import LINE_CONTROL, clean_name, clean_text, is_local_path, well_formed
from townsquare.messaging.models import Message, MessageTemplate, Subscription
from townsquare.miniapps import registry
from townsquare.miniapps.models import MiniApp
from townsquare.miniapps.shell import consent, launch
from townsquare.miniapps.shell.service import listed_miniapp

_KEY = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
_PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]{0,31})\}")
_BRACES = re.compile(r"[{}]")
VALUE_MAX = 200
OPEN_SUBSCRIPTIONS_MAX = 30  # unused consents one user may hold per template
MAX_TEMPLATES = 50


def placeholders(text: str) -> list[str]:
    return list(dict.fromkeys(_PLACEHOLDER.findall(text)))


def _check_template_text(title: str, body: str) -> tuple[str, str]:
    title = clean_name(title, field="title")
    body = clean_text(body, field="body", message="A message body is 1 to {n} characters.",
                      max_length=1000, required=True)
    for text in (title, body):
        # Only {name} placeholders; any other brace is a mistake we refuse early.
        if _BRACES.search(_PLACEHOLDER.sub("", text)):
            raise ValidationFailed("Placeholders look like {example}: lower-case letters, digits "
                                   "and underscores in braces.", example="{name}")
    return title, body


def ensure_template(
    db: Session, *, miniapp: MiniApp, key: str, title: str, body: str, system: bool = False
) -> MessageTemplate:
    """Create or update a template (the system's side; owners use define_template). A `system`
    template's text belongs to the platform: its owner may neither rewrite nor send it."""
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise ValidationFailed("A template key is lower-case letters, digits and underscores.")
    title, body = _check_template_text(title, body)
    found = db.scalar(select(MessageTemplate).where(
        MessageTemplate.miniapp_id == miniapp.id, MessageTemplate.key == key
    ))
    if found is None:
        count = db.scalar(select(func.count()).where(MessageTemplate.miniapp_id == miniapp.id))
        if (count or 0) >= MAX_TEMPLATES:
            raise Conflict("A mini-app has at most {n} message templates.", n=MAX_TEMPLATES)
        found = MessageTemplate(miniapp_id=miniapp.id, key=key, title=title, body=body,
                                system=system)
        db.add(found)
    else:
        found.title, found.body = title, body
        found.system = found.system or system
    db.flush()
    return found


def define_template(
    db: Session, *, actor: User | None, miniapp_id: str, key: str, title: str, body: str
) -> MessageTemplate:
    """Create or update a message template of a mini-app (its owner)."""
    miniapp = registry.owned_miniapp(db, actor=actor, public_id=miniapp_id)
    existing = db.scalar(select(MessageTemplate).where(
        MessageTemplate.miniapp_id == miniapp.id, MessageTemplate.key == key))
    if existing is not None and existing.system:
        raise PermissionDenied("{key} is a platform message; its text cannot be changed.",
                               key=key)
    template = ensure_template(db, miniapp=miniapp, key=key, title=title, body=body)
    audit.record(
        db, actor_id=actor.id if actor else None, action="messaging.template",
        subject_type="miniapp", subject_id=miniapp.public_id, key=template.key,
    )
    return template


def templates_of(db: Session, *, miniapp: MiniApp) -> list[MessageTemplate]:
    stmt = select(MessageTemplate).where(MessageTemplate.miniapp_id == miniapp.id)
    return list(db.scalars(stmt.order_by(MessageTemplate.key)))


def _template(db: Session, miniapp: MiniApp, key: str) -> MessageTemplate:
    found = None
    if isinstance(key, str) and _KEY.fullmatch(key):
        found = db.scalar(select(MessageTemplate).where(
            MessageTemplate.miniapp_id == miniapp.id, MessageTemplate.key == key
        ))
    if found is None:
        raise NotFound("This mini-app has no message template {key}.", key=str(key)[:48])
    return found


def subscribe(
    db: Session, *, actor: User, miniapp_id: str, keys: list[str]
) -> dict[str, int]:
    """The user consents once to each template in `keys` (of a listed mini-app); answers how
    many sends each template now has left."""
    miniapp = listed_miniapp(db, miniapp_id=miniapp_id)
    if not 1 <= len(keys) <= 10:
        raise ValidationFailed("Choose 1 to {n} message templates.", n=10)
    templates = [_template(db, miniapp, key) for key in dict.fromkeys(keys)]
    left = open_subscriptions(db, actor=actor, miniapp=miniapp)
    for template in templates:
        if left.get(template.key, 0) >= OPEN_SUBSCRIPTIONS_MAX:
            continue  # enough already; more would only pile up
        db.add(Subscription(user_id=actor.id, template_id=template.id, granted_at=clock.now()))
        left[template.key] = left.get(template.key, 0) + 1
    audit.record(
        db, actor_id=actor.id, action="messaging.subscribe", subject_type="miniapp",
        subject_id=miniapp.public_id, keys=[t.key for t in templates],
    )
    db.flush()
    return left


def open_subscriptions(db: Session, *, actor: User, miniapp: MiniApp) -> dict[str, int]:
    """Unused consents per template key."""
    stmt = (
        select(MessageTemplate.key, func.count(Subscription.id))
        .join(Subscription, Subscription.template_id == MessageTemplate.id)
        .where(
            MessageTemplate.miniapp_id == miniapp.id, Subscription.user_id == actor.id,
            Subscription.used_at.is_(None),
        )
        .group_by(MessageTemplate.key)
    )
    return {key: count for key, count in db.execute(stmt)}


def render(text: str, data: Mapping[str, Any]) -> str:
    return _PLACEHOLDER.sub(lambda m: str(data[m.group(1)]), text)


def _clean_data(template: MessageTemplate, data: Mapping[str, Any]) -> dict[str, str]:
    if not isinstance(data, Mapping) or len(data) > 20:
        raise ValidationFailed("Message data is a set of at most {n} named values.", n=20)
    needed = placeholders(template.title) + placeholders(template.body)
    missing = [name for name in needed if name not in data]
    if missing:
        raise ValidationFailed("Missing message values: {names}.", names=", ".join(missing))
    cleaned: dict[str, str] = {}
    for name in needed:
        value = data[name]
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ValidationFailed("Message values are text or numbers.", field=name)
        text = str(value)
        if len(text) > VALUE_MAX or LINE_CONTROL.search(text):
            raise ValidationFailed("A message value is at most {n} characters on one line.",
                                   n=VALUE_MAX, field=name)
        cleaned[name] = text
    return cleaned


def _day_start(settings: Settings, now: datetime) -> datetime:
    zone = ZoneInfo(settings.timezone)
    return datetime.combine(now.astimezone(zone).date(), time(0), tzinfo=zone)


def send(
    db: Session, *, settings: Settings, miniapp: MiniApp, user: User, key: str,
    data: Mapping[str, Any], link: str = "",
) -> Message:
    """Deliver one message, spending one of the user's consents to that template."""
    template = _template(db, miniapp, key)
    values = _clean_data(template, data)
    if link and not is_local_path(link):
        raise ValidationFailed("A message link is a path on this site.", field="link")
    now = clock.now()
    # count and insert as one: concurrent sends to this user from this mini-app queue here
    # until the earlier one's transaction ends (PostgreSQL; SQLite's writers already queue)
    advisory_lock(db, f"townsquare.messages:{miniapp.id}:{user.id}")
    sent_today = db.scalar(select(func.count()).where(
        Message.miniapp_id == miniapp.id, Message.user_id == user.id,
        Message.sent_at >= _day_start(settings, now),
    )) or 0
    if sent_today >= settings.messages_per_app_user_day:
        raise RateLimited("This mini-app has sent this user {n} messages today; try tomorrow.",
                          n=settings.messages_per_app_user_day)
    for _attempt in range(3):  # a concurrent send may take the same consent: take another
        sub_id = db.scalar(
            select(Subscription.id).where(
                Subscription.user_id == user.id, Subscription.template_id == template.id,
                Subscription.used_at.is_(None),
            ).order_by(Subscription.id).limit(1)
        )
        if sub_id is None:
            raise Conflict("The user has not subscribed to this message (or has used it up).",
                           code="not_subscribed")
        spent = db.execute(
            update(Subscription)
            .where(Subscription.id == sub_id, Subscription.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        if rows_changed(spent) == 1:
            break
    else:
        raise Conflict("The user has not subscribed to this message (or has used it up).",
                       code="not_subscribed")
    message = Message(
        user_id=user.id, miniapp_id=miniapp.id, template_id=template.id,
        title=render(template.title, values)[:64], body=render(template.body, values),
        data=values, link=link, sent_at=now,
    )
    db.add(message)
    db.flush()
    return message


def user_for_sub(db: Session, *, settings: Settings, miniapp: MiniApp, template_key: str,
                 sub: str) -> User:
    """The user behind a pseudonymous id, among those holding a consent to the template (the
    only users a sender may reach)."""
    template = _template(db, miniapp, template_key)
    holders = select(Subscription.user_id).where(
        Subscription.template_id == template.id, Subscription.used_at.is_(None)
    )
    candidates = db.scalars(select(User).where(User.id.in_(holders)))
    secret = settings.effective_secret_key
    for user in candidates:
        if launch.pseudonymous_id(secret, user.public_id, miniapp.public_id) == sub:
            return user
    raise Conflict("The user has not subscribed to this message (or has used it up).",
                   code="not_subscribed")


def send_as_client(
    db: Session, *, settings: Settings, client_id: str, client_secret: str, sub: str, key: str,
    data: Mapping[str, Any], link: str = "",
) -> Message:
    """A mini-app backend sends a template to a user it knows by `sub` (client credentials)."""
    miniapp = consent.authenticate_client(db, client_id=client_id, client_secret=client_secret)
    return send_to_sub(db, settings=settings, miniapp=miniapp, sub=sub, key=key, data=data,
                       link=link)


def send_to_sub(
    db: Session, *, settings: Settings, miniapp: MiniApp, sub: str, key: str,
    data: Mapping[str, Any], link: str = "",
) -> Message:
    """An authenticated mini-app backend sends one of its own templates to a user it knows by
    `sub` (the JSON API with client credentials, or the gateway with a signed call)."""
    if not miniapp.listed:
        raise NotFound("No such mini-app.")
    if _template(db, miniapp, key).system:
        raise PermissionDenied("{key} is a platform message; only the platform sends it.",
                               key=key)
    user = user_for_sub(db, settings=settings, miniapp=miniapp, template_key=key, sub=sub)
    return send(db, settings=settings, miniapp=miniapp, user=user, key=key, data=data, link=link)


def inbox(db: Session, *, actor: User, limit: int = 100) -> list[Message]:
    """The user's messages, newest first."""
    stmt = (
        select(Message).where(Message.user_id == actor.id)
        .order_by(Message.sent_at.desc(), Message.id.desc()).limit(limit)
    )
    return list(db.scalars(stmt))


def unread_count(db: Session, *, actor: User) -> int:
    return db.scalar(select(func.count()).where(
        Message.user_id == actor.id, Message.read_at.is_(None)
    )) or 0


def mark_read(db: Session, *, actor: User, message_id: str | None = None) -> int:
    """Mark one message (or, without an id, all) as read; answers how many changed."""
    stmt = update(Message).where(Message.user_id == actor.id, Message.read_at.is_(None))
    if message_id is not None:
        if not well_formed(message_id, "msg"):
            raise NotFound("No such message.")
        stmt = stmt.where(Message.public_id == message_id)
    result = db.execute(stmt.values(read_at=clock.now()).execution_options(
        synchronize_session=False
    ))
    changed = rows_changed(result)
    if message_id is not None and changed == 0 and db.scalar(select(Message.id).where(
            Message.user_id == actor.id, Message.public_id == message_id)) is None:
        # another user's message, or none: the same answer, revealing nothing
        raise NotFound("No such message.")
    return changed
