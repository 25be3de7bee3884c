"""Messages between residents and shops.

A resident writes to a shop about one of their orders (`for_order`) or about a listed mini-app
(`for_miniapp`); the conversation is made by the first message, never by reading. The shop's
staff (or an ISV its merchant authorizes) see their conversations in an inbox and answer.

Waiting and response time: the first resident message the shop has not answered sets
`waiting_since`; the shop's next answer clears it and records the wait, in whole seconds, as a
`message_response` behaviour event of the mini-app (scoring's responsiveness metric), with an
event id made from the conversation and the wait's start, so a wait is counted once however the
answer is retried. Two staff answering at once: the conversation row is locked first, so only one
of them ends the wait. The merchant is told (messaging.notify) when a conversation starts
waiting, not for every message.

Every write takes an idempotency key (the form's hidden key): the same key with the same text
returns the first message, with another text is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.core.clock import clock
from townsquare.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from townsquare.core.i18n import N_
from townsquare.core.ids import new_id
from townsquare.core.settings import Settings
from townsquare.core.text import CONTROL, well_formed
from townsquare.events import intake
from townsquare.events.models import EventType
from townsquare.merchants import access as merchant_access
from townsquare.merchants.models import Merchant
from townsquare.messaging import notifications
from townsquare.miniapps.models import MiniApp
from townsquare.miniapps.shell import launch
from townsquare.ordering import access, orders
from townsquare.ordering.chat.models import BODY_MAX, ShopConversation, ShopMessage, Side

KEY_MAX = 64
PREVIEW = 60
MAX_WAIT_SECONDS = intake.MAX_SECONDS


@dataclass(frozen=True)
class Subject:
    """What a resident writes about: a mini-app, and maybe one of their orders in it."""

    miniapp: MiniApp
    order_ref: str = ""
    order: orders.Order | None = None


@dataclass(frozen=True)
class InboxRow:
    """One conversation as a list shows it."""

    conversation: ShopConversation
    miniapp: MiniApp
    resident: User
    last: ShopMessage | None
    unread: bool  # for the reader: the other side wrote after the reader last looked

    @property
    def preview(self) -> str:
        text = self.last.body if self.last else ""
        return text if len(text) <= PREVIEW else text[:PREVIEW] + "…"


# --- what a resident writes about ---------------------------------------------------------------


def order_subject(db: Session, *, actor: User | None, order_id: str) -> Subject:
    """The resident's own order (the orders service checks it is theirs)."""
    order = orders.get_for_resident(db, actor=actor, order_id=order_id)
    miniapp = db.get(MiniApp, order.miniapp_id)
    if miniapp is None:
        raise NotFound("No such order.")
    return Subject(miniapp, order.public_id, order)


def miniapp_subject(db: Session, *, actor: User | None, miniapp_id: str) -> Subject:
    """A listed mini-app: any signed-in resident may write to its shop."""
    if actor is None:
        raise PermissionDenied("Log in to write to the shop.")
    miniapp = None
    if well_formed(miniapp_id, "ma"):
        miniapp = db.scalar(select(MiniApp).where(MiniApp.public_id == miniapp_id))
    if miniapp is None or not miniapp.listed:
        raise NotFound("No such mini-app.")
    return Subject(miniapp)


def find(db: Session, *, actor: User | None, subject: Subject) -> ShopConversation | None:
    """The resident's conversation about `subject`, if they have written before."""
    if actor is None:
        return None
    return db.scalar(select(ShopConversation).where(
        ShopConversation.user_id == actor.id, ShopConversation.miniapp_id == subject.miniapp.id,
        ShopConversation.order_ref == subject.order_ref))


def _open(db: Session, *, actor: User, subject: Subject) -> ShopConversation:
    """The conversation about `subject`, made now if needed (racing first messages make one)."""
    dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
    db.execute(
        dialect.insert(ShopConversation)
        .values(public_id=new_id("cnv"), user_id=actor.id, merchant_id=subject.miniapp.merchant_id,
                miniapp_id=subject.miniapp.id, order_ref=subject.order_ref,
                created_at=clock.now())
        .on_conflict_do_nothing(index_elements=["user_id", "miniapp_id", "order_ref"])
    )
    found = find(db, actor=actor, subject=subject)
    if found is None:  # pragma: no cover - the insert or the winner's row is there
        raise Conflict("Try again.")
    return found


def _clean_body(body: str) -> str:
    text = (body or "").strip()
    if not text:
        raise ValidationFailed("Write a message.", field="body")
    if len(text) > BODY_MAX:
        raise ValidationFailed("A message is at most {n} characters.", n=BODY_MAX, field="body")
    if CONTROL.search(text):
        raise ValidationFailed("Remove the control characters.", field="body")
    return text


def _clean_key(key: str) -> str:
    if not isinstance(key, str) or not 8 <= len(key) <= KEY_MAX or not key.isascii() \
            or not key.isprintable():
        raise ValidationFailed("The form is out of date; write the message again.",
                               field="idempotency_key")
    return key


def _lock(db: Session, conversation: ShopConversation) -> None:
    """Serialise writers of one conversation (PostgreSQL: a row lock; SQLite writes one at a
    time already), then read it as it is now."""
    db.execute(select(ShopConversation.id).where(ShopConversation.id == conversation.id)
               .with_for_update())
    db.refresh(conversation)


def _already(db: Session, conversation: ShopConversation, key: str, body: str,
             side: Side) -> ShopMessage | None:
    sent = db.scalar(select(ShopMessage).where(ShopMessage.conversation_id == conversation.id,
                                               ShopMessage.client_key == key))
    if sent is not None and (sent.body != body or sent.side != side):
        raise Conflict("This message was already sent with other text.",
                       code="idempotency_mismatch")
    return sent


def write(db: Session, *, actor: User | None, subject: Subject, body: str,
          idempotency_key: str) -> ShopMessage:
    """The resident writes to the shop about `subject` (made by order_subject/miniapp_subject,
    which checked the resident may)."""
    if actor is None:
        raise PermissionDenied("Log in to write to the shop.")
    text, key = _clean_body(body), _clean_key(idempotency_key)
    conversation = _open(db, actor=actor, subject=subject)
    _lock(db, conversation)
    sent = _already(db, conversation, key, text, Side.RESIDENT)
    if sent is not None:
        return sent
    now = clock.now()
    message = ShopMessage(conversation_id=conversation.id, side=Side.RESIDENT,
                          author_id=actor.id, body=text, client_key=key, created_at=now)
    db.add(message)
    started_waiting = conversation.waiting_since is None
    if started_waiting:
        conversation.waiting_since = now
    conversation.last_at = now
    conversation.resident_read_at = now
    db.flush()
    if started_waiting:
        merchant = db.get_one(Merchant, conversation.merchant_id)
        notifications.notify(
            db, kind="shop.message", merchant_id=merchant.id, miniapp=subject.miniapp,
            params={"resident": actor.display_name or actor.username},
            link=f"/console/merchant/{merchant.public_id}/messages/{conversation.public_id}",
        )
    return message


# --- the shop's side ----------------------------------------------------------------------------


def for_merchant(db: Session, *, actor: User | None, merchant_id: str,
                 conversation_id: str) -> ShopConversation:
    """One of the merchant's conversations, for its staff (or its authorized ISV)."""
    merchant = access.merchant(db, actor=actor, merchant_id=merchant_id)
    conversation = None
    if well_formed(conversation_id, "cnv"):
        conversation = db.scalar(select(ShopConversation).where(
            ShopConversation.public_id == conversation_id,
            ShopConversation.merchant_id == merchant.id))
    if conversation is None:
        raise NotFound("No such conversation.")
    return conversation


def answer(db: Session, *, actor: User | None, settings: Settings, merchant_id: str,
           conversation_id: str, body: str, idempotency_key: str) -> ShopMessage:
    """The shop answers; an answer to a waiting resident records the response time."""
    conversation = for_merchant(db, actor=actor, merchant_id=merchant_id,
                                conversation_id=conversation_id)
    if actor is None:
        raise PermissionDenied("You cannot act for this merchant.")
    text, key = _clean_body(body), _clean_key(idempotency_key)
    _lock(db, conversation)
    sent = _already(db, conversation, key, text, Side.SHOP)
    if sent is not None:
        return sent
    now = clock.now()
    waited = conversation.waiting_since
    seconds = None
    if waited is not None:
        seconds = max(0, min(MAX_WAIT_SECONDS, int((now - waited).total_seconds())))
    message = ShopMessage(conversation_id=conversation.id, side=Side.SHOP, author_id=actor.id,
                          body=text, client_key=key, created_at=now, response_seconds=seconds)
    db.add(message)
    conversation.waiting_since = None
    conversation.last_at = now
    conversation.shop_read_at = now
    db.flush()
    if waited is not None and seconds is not None:
        miniapp = db.get_one(MiniApp, conversation.miniapp_id)
        resident = db.get_one(User, conversation.user_id)
        intake.record(
            db, miniapp=miniapp, type=EventType.MESSAGE_RESPONSE,
            event_id=f"message:{conversation.public_id}:{int(waited.timestamp())}",
            occurred_at=now, response_seconds=seconds,
            sub=launch.pseudonymous_id(settings.effective_secret_key, resident.public_id,
                                       miniapp.public_id),
        )
    return message


def _rows(db: Session, conversations: list[ShopConversation], *, side: Side) -> list[InboxRow]:
    if not conversations:
        return []
    ids = [c.id for c in conversations]
    last_ids = select(func.max(ShopMessage.id)).where(
        ShopMessage.conversation_id.in_(ids)).group_by(ShopMessage.conversation_id)
    last = {m.conversation_id: m for m in db.scalars(
        select(ShopMessage).where(ShopMessage.id.in_(last_ids)))}
    apps = {a.id: a for a in db.scalars(
        select(MiniApp).where(MiniApp.id.in_({c.miniapp_id for c in conversations})))}
    people = {u.id: u for u in db.scalars(
        select(User).where(User.id.in_({c.user_id for c in conversations})))}
    rows = []
    for c in conversations:
        message = last.get(c.id)
        seen = c.resident_read_at if side == Side.RESIDENT else c.shop_read_at
        unread = bool(message is not None and message.side != side
                      and (seen is None or message.created_at > seen))
        rows.append(InboxRow(c, apps[c.miniapp_id], people[c.user_id], message, unread))
    return rows


def inbox(db: Session, *, actor: User | None, merchant_id: str, waiting_only: bool = False,
          order_id: str = "", limit: int = 50, offset: int = 0) -> list[InboxRow]:
    """The merchant's conversations, those waiting for an answer first (longest wait first),
    then the rest by their last message; `order_id` keeps those about one order (the order
    console links here)."""
    merchant = access.merchant(db, actor=actor, merchant_id=merchant_id)
    stmt = select(ShopConversation).where(ShopConversation.merchant_id == merchant.id,
                                          ShopConversation.last_at.is_not(None))
    if order_id:
        stmt = stmt.where(ShopConversation.order_ref == (
            order_id if well_formed(order_id, "ord") else "-"))
    if waiting_only:
        stmt = stmt.where(ShopConversation.waiting_since.is_not(None))
    stmt = stmt.order_by(ShopConversation.waiting_since.is_(None),
                         ShopConversation.waiting_since, ShopConversation.last_at.desc(),
                         ShopConversation.id.desc())
    found = list(db.scalars(stmt.limit(max(1, min(limit, 200))).offset(max(0, offset))))
    return _rows(db, found, side=Side.SHOP)


def order_for_shop(db: Session, *, actor: User | None,
                   conversation: ShopConversation) -> orders.Order | None:
    """The order a conversation is about, as the shop's staff may see it (None: about the
    mini-app)."""
    if not conversation.order_ref:
        return None
    try:
        return orders.get_for_merchant(db, actor=actor, order_id=conversation.order_ref)
    except orders.OrderNotFound:
        return None


def inbox_row(db: Session, conversation: ShopConversation) -> InboxRow:
    """One conversation as the shop's list shows it (who, which mini-app, the last message)."""
    return _rows(db, [conversation], side=Side.SHOP)[0]


def waiting_count(db: Session, *, merchant_id: int) -> int:
    """How many of the merchant's conversations wait for an answer."""
    return db.scalar(select(func.count(ShopConversation.id)).where(
        ShopConversation.merchant_id == merchant_id,
        ShopConversation.waiting_since.is_not(None))) or 0


# --- reading ------------------------------------------------------------------------------------


def mine(db: Session, *, actor: User | None, limit: int = 50) -> list[InboxRow]:
    """The resident's conversations, newest first."""
    if actor is None:
        return []
    stmt = (select(ShopConversation).where(ShopConversation.user_id == actor.id,
                                           ShopConversation.last_at.is_not(None))
            .order_by(ShopConversation.last_at.desc(), ShopConversation.id.desc())
            .limit(max(1, min(limit, 200))))
    return _rows(db, list(db.scalars(stmt)), side=Side.RESIDENT)


def unread_count(db: Session, *, actor: User | None) -> int:
    """How many of the resident's conversations have an answer they have not read (for a
    badge on their orders page)."""
    return sum(1 for row in mine(db, actor=actor, limit=200) if row.unread)


def get_mine(db: Session, *, actor: User | None, conversation_id: str) -> ShopConversation:
    """One of the resident's own conversations."""
    conversation = None
    if actor is not None and well_formed(conversation_id, "cnv"):
        conversation = db.scalar(select(ShopConversation).where(
            ShopConversation.public_id == conversation_id, ShopConversation.user_id == actor.id))
    if conversation is None:
        raise NotFound("No such conversation.")
    return conversation


def messages(db: Session, conversation: ShopConversation | None) -> list[ShopMessage]:
    if conversation is None:
        return []
    return list(db.scalars(select(ShopMessage).where(
        ShopMessage.conversation_id == conversation.id).order_by(ShopMessage.id)))


def mark_read(db: Session, conversation: ShopConversation | None, *, side: Side) -> None:
    """The reader (`side`) has seen everything in the conversation up to now."""
    if conversation is None:
        return
    now = clock.now()
    if side == Side.RESIDENT:
        conversation.resident_read_at = now
    else:
        conversation.shop_read_at = now
    db.flush()


def can_answer(db: Session, actor: User | None, merchant: Merchant) -> bool:
    return merchant_access.can_act_for(db, actor, merchant)


def side_label(side: Side) -> str:
    return {Side.RESIDENT: N_("Resident"), Side.SHOP: N_("Shop")}[side]


def waited_text(since: datetime | None, now: datetime | None = None) -> int | None:
    """Whole minutes a waiting conversation has waited (None when it is not waiting)."""
    if since is None:
        return None
    return max(0, int(((now or clock.now()) - since).total_seconds() // 60))
