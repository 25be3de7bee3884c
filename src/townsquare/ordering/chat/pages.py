"""Message pages: the resident's thread about an order (/me/orders/{ord}/messages) or a shop
(/me/shops/{ma}/messages) and their conversations (/me/messages); the merchant's inbox
(/console/merchant/{mer}/messages) and one conversation with the answer form.

Reading a thread marks it read for the reader (a writing unit of work, like the inbox). Each form
carries a fresh idempotency key, so a double click or a resent form sends one message."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from townsquare.accounts.deps import CurrentUser, FormUser
from townsquare.accounts.models import User
from townsquare.core.clock import clock
from townsquare.core.errors import TownsquareError
from townsquare.core.i18n import N_
from townsquare.merchants.models import Merchant
from townsquare.ordering import access
from townsquare.ordering.chat import service as chat
from townsquare.ordering.chat.models import BODY_MAX, Side
from townsquare.ordering.orders.labels import status_label
from townsquare.web.deps import AppSettings, DbSession, WritingDbSession
from townsquare.web.forms import field_problems, flashes, rejected, see_other
from townsquare.web.templating import render

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form(max_length=4 * BODY_MAX)]
Key = Annotated[str, Form(max_length=128)]
DONE = {"sent": N_("Message sent.")}
THREAD = "ordering/chat_thread.html"
CONSOLE_THREAD = "ordering/chat_console_thread.html"


def _key() -> str:
    return secrets.token_urlsafe(18)


# --- the resident -------------------------------------------------------------------------------


def _thread(db: Session, user: User, subject: chat.Subject, *, mark: bool) -> dict[str, Any]:
    conversation = chat.find(db, actor=user, subject=subject)
    if mark:
        chat.mark_read(db, conversation, side=Side.RESIDENT)
    order = subject.order_ref
    return {
        "subject": subject, "miniapp": subject.miniapp, "order_ref": order,
        "conversation": conversation, "messages": chat.messages(db, conversation),
        "order": subject.order, "status_label": status_label,
        "action": f"/me/orders/{order}/messages" if order
        else f"/me/shops/{subject.miniapp.public_id}/messages",
        "back": f"/me/orders/{order}" if order else f"/shop/{subject.miniapp.public_id}",
        "idempotency_key": _key(), "body_max": BODY_MAX, "Side": Side,
    }


def _show(request: Request, db: Session, user: User, subject: chat.Subject) -> HTMLResponse:
    return render(request, THREAD, flashes=flashes(request, DONE), form={},
                  **_thread(db, user, subject, mark=True))


def _send(request: Request, db: Session, user: User, subject_of, body: str,
          key: str) -> Response:
    try:
        subject = subject_of()
        chat.write(db, actor=user, subject=subject, body=body, idempotency_key=key)
    except TownsquareError as exc:
        db.rollback()
        subject = subject_of()  # raises again (404) when the subject itself was refused
        return rejected(request, db, THREAD, exc, form={"body": body},
                        field_errors=field_problems(exc), **_thread(db, user, subject, mark=False))
    action = (f"/me/orders/{subject.order_ref}/messages" if subject.order_ref
              else f"/me/shops/{subject.miniapp.public_id}/messages")
    return see_other(f"{action}?ok=sent#latest")


@router.get("/me/orders/{order_id}/messages", response_class=HTMLResponse)
def order_thread(request: Request, order_id: str, user: CurrentUser,
                 db: WritingDbSession) -> HTMLResponse:
    return _show(request, db, user, chat.order_subject(db, actor=user, order_id=order_id))


@router.post("/me/orders/{order_id}/messages")
def write_about_order(request: Request, order_id: str, user: FormUser, db: DbSession,
                      body: Text = "", idempotency_key: Key = "") -> Response:
    return _send(request, db, user,
                 lambda: chat.order_subject(db, actor=user, order_id=order_id),
                 body, idempotency_key)


@router.get("/me/shops/{miniapp_id}/messages", response_class=HTMLResponse)
def shop_thread(request: Request, miniapp_id: str, user: CurrentUser,
                db: WritingDbSession) -> HTMLResponse:
    return _show(request, db, user, chat.miniapp_subject(db, actor=user, miniapp_id=miniapp_id))


@router.post("/me/shops/{miniapp_id}/messages")
def write_to_shop(request: Request, miniapp_id: str, user: FormUser, db: DbSession,
                  body: Text = "", idempotency_key: Key = "") -> Response:
    return _send(request, db, user,
                 lambda: chat.miniapp_subject(db, actor=user, miniapp_id=miniapp_id),
                 body, idempotency_key)


@router.get("/me/messages", response_class=HTMLResponse)
def my_conversations(request: Request, user: CurrentUser, db: DbSession) -> HTMLResponse:
    return render(request, "ordering/chat_mine.html", rows=chat.mine(db, actor=user))


# --- the shop -----------------------------------------------------------------------------------


def _inbox(db: Session, user: User, mer_id: str, waiting_only: bool,
           order: str = "") -> dict[str, Any]:
    merchant = access.merchant(db, actor=user, merchant_id=mer_id)
    return {"merchant": merchant, "waiting_only": waiting_only, "now": clock.now(),
            "order": order,
            "rows": chat.inbox(db, actor=user, merchant_id=mer_id, waiting_only=waiting_only,
                               order_id=order),
            "waiting": chat.waiting_count(db, merchant_id=merchant.id),
            "minutes": chat.waited_text}


@router.get("/console/merchant/{mer_id}/messages", response_class=HTMLResponse)
def shop_inbox(request: Request, mer_id: str, user: CurrentUser, db: DbSession,
               waiting: str = "", order: str = "") -> HTMLResponse:
    return render(request, "ordering/chat_inbox.html",
                  **_inbox(db, user, mer_id, waiting_only=waiting == "1", order=order[:24]))


def _console_thread(db: Session, user: User, mer_id: str, cnv_id: str, *,
                    mark: bool) -> dict[str, Any]:
    conversation = chat.for_merchant(db, actor=user, merchant_id=mer_id, conversation_id=cnv_id)
    if mark:
        chat.mark_read(db, conversation, side=Side.SHOP)
    row = chat.inbox_row(db, conversation)
    return {
        "merchant": db.get_one(Merchant, conversation.merchant_id), "row": row,
        "conversation": conversation, "messages": chat.messages(db, conversation),
        "order": chat.order_for_shop(db, actor=user, conversation=conversation),
        "status_label": status_label,
        "idempotency_key": _key(), "body_max": BODY_MAX, "Side": Side,
        "waited": chat.waited_text(conversation.waiting_since),
    }


@router.get("/console/merchant/{mer_id}/messages/{cnv_id}", response_class=HTMLResponse)
def shop_thread_console(request: Request, mer_id: str, cnv_id: str, user: CurrentUser,
                        db: WritingDbSession) -> HTMLResponse:
    return render(request, CONSOLE_THREAD, flashes=flashes(request, DONE), form={},
                  **_console_thread(db, user, mer_id, cnv_id, mark=True))


@router.post("/console/merchant/{mer_id}/messages/{cnv_id}")
def shop_answer(request: Request, mer_id: str, cnv_id: str, user: FormUser, db: DbSession,
                settings: AppSettings, body: Text = "", idempotency_key: Key = "") -> Response:
    try:
        chat.answer(db, actor=user, settings=settings, merchant_id=mer_id,
                    conversation_id=cnv_id, body=body, idempotency_key=idempotency_key)
    except TownsquareError as exc:
        db.rollback()
        return rejected(request, db, CONSOLE_THREAD, exc, form={"body": body},
                        field_errors=field_problems(exc),
                        **_console_thread(db, user, mer_id, cnv_id, mark=False))
    return see_other(f"/console/merchant/{mer_id}/messages/{cnv_id}?ok=sent#latest")
