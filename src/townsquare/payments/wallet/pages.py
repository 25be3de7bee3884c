"""The resident's wallet pages: `/me/wallet` (balance, cards, top-up, PIN, limits), the payment
code (`/me/wallet/code`, refreshed before it expires), and the bill (`/me/bill`) with receipts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from townsquare.accounts.deps import CurrentUser, FormUser
from townsquare.accounts.models import User
from townsquare.core import i18n
from townsquare.core.errors import TownsquareError, ValidationFailed
from townsquare.core.i18n import N_
from townsquare.core.money import yuan_to_fen
from townsquare.core.security import new_token
from townsquare.core.settings import Settings
from townsquare.payments.funding import simbank
from townsquare.payments.wallet import bill, limits, payment_codes, pin
from townsquare.payments.wallet import service as wallet
from townsquare.web.deps import AppSettings, DbSession, WritingDbSession
from townsquare.web.forms import field_problems, flashes, rejected, safe_next, see_other
from townsquare.web.qr import qr_svg
from townsquare.web.templating import render

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form(max_length=200)]
DONE = {
    "card": N_("Card bound."),
    "removed": N_("Card removed."),
    "topped": N_("Topped up."),
    "pin": N_("Payment PIN saved."),
    "code_card": N_("Saved: what pays when your wallet is short."),
}


def _context(db: Session, settings: Settings, user: User, request: Request) -> dict[str, Any]:
    return {
        "balance": wallet.balance(db, user=user), "cards": wallet.cards(db, user=user),
        "has_pin": pin.has_pin(db, user=user),
        "lock": pin.state(db, settings=settings, user=user),
        "spent_today": limits.spent_today(db, settings=settings, user=user),
        "limit_payment": settings.payment_limit_per_payment_fen,
        "limit_day": settings.payment_limit_per_day_fen,
        "top_up_key": new_token(16), "next": safe_next(request.query_params.get("next"), ""),
        "bank_name": simbank.NAME, "declining": simbank.DECLINING_NUMBER,
        "timeout": simbank.TIMEOUT_NUMBER, "flashes": flashes(request, DONE),
    }


def _done(next_url: str, key: str) -> Response:
    return see_other(safe_next(next_url, "") or f"/me/wallet?ok={key}")


def _refused(request: Request, db: Session, settings: Settings, user: User,
             exc: TownsquareError, **form: Any) -> HTMLResponse:
    db.rollback()
    return rejected(request, db, "wallet/wallet.html", exc,
                    **_context(db, settings, user, request), problems=field_problems(exc),
                    **form)


@router.get("/me/wallet", response_class=HTMLResponse)
def wallet_page(request: Request, db: DbSession, settings: AppSettings,
                user: CurrentUser) -> HTMLResponse:
    return render(request, "wallet/wallet.html", **_context(db, settings, user, request))


@router.post("/me/wallet/cards")
def bind_card(request: Request, db: DbSession, settings: AppSettings, user: FormUser,
              card_number: Text = "", next: Text = "") -> Response:
    try:
        wallet.bind_card(db, settings=settings, actor=user, number=card_number)
    except TownsquareError as exc:
        return _refused(request, db, settings, user, exc, card_number=card_number)
    return _done(next, "card")


@router.post("/me/wallet/cards/{card_id}/remove")
def remove_card(card_id: str, db: DbSession, user: FormUser) -> Response:
    wallet.remove_card(db, actor=user, card_id=card_id)
    return see_other("/me/wallet?ok=removed")


@router.post("/me/wallet/top-up")
def top_up(request: Request, db: DbSession, settings: AppSettings, user: FormUser,
           card: Text = "", amount: Text = "", key: Text = "", next: Text = "") -> Response:
    try:
        wallet.top_up(db, settings=settings, actor=user, card_id=card,
                      amount_fen=yuan_to_fen(amount, field="amount"), idempotency_key=key)
    except TownsquareError as exc:
        return _refused(request, db, settings, user, exc, amount=amount)
    return _done(next, "topped")


@router.post("/me/wallet/pin")
def set_pin(request: Request, db: DbSession, settings: AppSettings, user: FormUser,
            password: Text = "", new_pin: Text = "", again: Text = "", next: Text = "") -> Response:
    try:
        if new_pin != again:
            raise ValidationFailed("The two PINs differ.", field="pin")
        pin.set_pin(db, actor=user, password=password, pin=new_pin)
    except TownsquareError as exc:
        return _refused(request, db, settings, user, exc)
    return _done(next, "pin")


@router.get("/me/wallet/code", response_class=HTMLResponse)
def code_page(request: Request, db: WritingDbSession, settings: AppSettings,
              user: CurrentUser) -> HTMLResponse:
    return _code(request, db, settings, user, "wallet/code.html")


@router.get("/me/wallet/code/qr", response_class=HTMLResponse)
def code_fragment(request: Request, db: WritingDbSession, settings: AppSettings,
                  user: CurrentUser) -> HTMLResponse:
    """The code alone, swapped in by htmx before the shown one expires. (Issuing writes a
    row: these GETs begin a writing transaction, WritingDbSession.)"""
    return _code(request, db, settings, user, "wallet/code_qr.html")


def _code(request: Request, db: Session, settings: Settings, user: User,
          template: str) -> HTMLResponse:
    issued = payment_codes.issue(db, settings=settings, actor=user)
    return render(request, template, issued=issued, balance=wallet.balance(db, user=user),
                  qr=qr_svg(issued.code, label=i18n.gettext("Payment code")),
                  cards=wallet.cards(db, user=user), code_card=wallet.code_card(db, user=user),
                  bank_name=simbank.NAME, flashes=flashes(request, DONE))


@router.post("/me/wallet/code/card")
def code_card(db: DbSession, user: FormUser, card: Text = "") -> Response:
    """Which bound card pays at a till when the wallet is short ("" for none)."""
    wallet.set_code_card(db, actor=user, card_id=card or None)
    return see_other("/me/wallet/code?ok=code_card")


@router.get("/me/bill", response_class=HTMLResponse)
def bill_page(request: Request, db: DbSession, user: CurrentUser) -> HTMLResponse:
    return render(request, "wallet/bill.html", items=bill.items(db, user=user))


@router.get("/me/bill/pay/{trade_no}", response_class=HTMLResponse)
def payment_receipt(request: Request, trade_no: str, db: DbSession,
                    user: CurrentUser) -> HTMLResponse:
    return render(request, "wallet/receipt.html",
                  receipt=bill.payment_receipt(db, user=user, trade_no=trade_no))


@router.get("/me/bill/top-up/{public_id}", response_class=HTMLResponse)
def top_up_receipt(request: Request, public_id: str, db: DbSession,
                   user: CurrentUser) -> HTMLResponse:
    row, card = bill.top_up_receipt(db, user=user, public_id=public_id)
    return render(request, "wallet/top_up_receipt.html", top_up=row, card=card)
