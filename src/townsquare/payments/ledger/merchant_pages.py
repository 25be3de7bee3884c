"""The merchant console's funds page (`/console/merchant/{mer_id}/funds`): pending and available
money, the fee and commission breakdown of the rules in force, the payout card, withdrawals
(owner only) and the royalty agreed with each authorized ISV."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.accounts.deps import CurrentUser, FormUser
from townsquare.accounts.models import User
from townsquare.core.errors import TownsquareError
from townsquare.core.i18n import N_, gettext
from townsquare.core.money import yuan_to_fen
from townsquare.merchants.models import Authorization, Merchant
from townsquare.merchants.service import is_owner, staffed_merchant
from townsquare.payments import fees
from townsquare.payments.ledger import accounts, posting, withdrawals
from townsquare.payments.ledger.records import RoyaltyRate, WithdrawalStatus
from townsquare.payments.trades import royalty
from townsquare.web.deps import AppSettings, DbSession
from townsquare.web.forms import attempt, flashes, see_other, whole_number
from townsquare.web.templating import render

router = APIRouter(include_in_schema=False)
Short = Annotated[str, Form(max_length=100)]
PAGE = "payments/merchant_funds.html"
DONE = {
    "card_bound": N_("Payout card saved."),
    "withdrawn": N_("Withdrawal paid to your card."),
    "processing": N_("Withdrawal sent to the bank; it is being processed."),
    "failed": N_("The bank refused the withdrawal; the money is back in your available funds."),
    "royalty_saved": N_("Royalty rate saved."),
}
STATUS_LABELS = {
    WithdrawalStatus.PROCESSING: N_("Processing"),
    WithdrawalStatus.SUCCEEDED: N_("Paid"),
    WithdrawalStatus.FAILED: N_("Refused by the bank"),
}


def _context(db: Session, user: User, mer_id: str, settings: Any) -> dict[str, Any]:
    merchant: Merchant = staffed_merchant(db, actor=user, public_id=mer_id)
    pending, available = accounts.merchant_pending(merchant.id), \
        accounts.merchant_available(merchant.id)
    held = posting.balances(db, [pending, available])
    royalties = db.execute(
        select(Authorization, RoyaltyRate.rate_bp)
        .outerjoin(RoyaltyRate, RoyaltyRate.authorization_id == Authorization.id)
        .where(Authorization.merchant_id == merchant.id, Authorization.revoked_at.is_(None))
        .order_by(Authorization.granted_at)).all()
    return {
        "merchant": merchant, "pending_fen": held[pending], "available_fen": held[available],
        "delay_days": settings.settlement_delay_days,
        "platform_bp": fees.platform_rate_bp(db, category_id=merchant.category_id),
        "royalties": royalties, "card": withdrawals.payout_card(db, merchant_id=merchant.id),
        "owner": is_owner(db, user, merchant),
        "today_fen": withdrawals.withdrawn_today(db, merchant_id=merchant.id, settings=settings),
        "max_fen": settings.withdrawal_max_fen, "daily_fen": settings.withdrawal_daily_max_fen,
        "history": withdrawals.for_merchant(db, actor=user, merchant_id=mer_id),
        "labels": STATUS_LABELS, "request_key": secrets.token_hex(12),
        "receivers": royalty.receivers(db, merchant=merchant, page=1, page_size=100)[0],
        "sent": royalty.sent_to_receivers(db, merchant_id=merchant.id),
    }


@router.get("/console/merchant/{mer_id}/funds", response_class=HTMLResponse)
def funds_page(request: Request, mer_id: str, user: CurrentUser, db: DbSession,
               settings: AppSettings) -> HTMLResponse:
    return render(request, PAGE, flashes=flashes(request, DONE), form={},
                  **_context(db, user, mer_id, settings))


@router.post("/console/merchant/{mer_id}/funds/card")
def bind_card(request: Request, mer_id: str, user: FormUser, db: DbSession,
              settings: AppSettings, card_number: Short = "") -> Response:
    return attempt(
        request, db, lambda: withdrawals.bind_payout_card(
            db, actor=user, settings=settings, merchant_id=mer_id, number=card_number),
        template=PAGE, context=lambda: _context(db, user, mer_id, settings),
        done_url=f"/console/merchant/{mer_id}/funds?ok=card_bound", form={})


@router.post("/console/merchant/{mer_id}/funds/royalties/{auz_id}")
def set_royalty(request: Request, mer_id: str, auz_id: str, user: FormUser, db: DbSession,
                settings: AppSettings, rate_bp: Short = "") -> Response:
    return attempt(
        request, db, lambda: fees.set_royalty_rate(
            db, actor=user, merchant_id=mer_id, authorization_id=auz_id,
            rate_bp=whole_number(rate_bp, field="rate_bp")),
        template=PAGE, context=lambda: _context(db, user, mer_id, settings),
        done_url=f"/console/merchant/{mer_id}/funds?ok=royalty_saved", form={})


@router.post("/console/merchant/{mer_id}/funds/withdraw")
def withdraw(request: Request, mer_id: str, user: FormUser, db: DbSession,
             settings: AppSettings, amount: Short = "", request_key: Short = "") -> Response:
    """The ledger side is committed before the bank is asked (see withdrawals.py): the one
    place a page commits before the end of its request."""
    try:
        done = withdrawals.withdraw(db, actor=user, settings=settings, merchant_id=mer_id,
                                    amount_fen=yuan_to_fen(amount, field="amount"),
                                    idempotency_key=request_key)
        db.commit()
        done = withdrawals.pay_out(db, withdrawal_id=done.id)
    except TownsquareError as exc:
        db.rollback()
        return render(request, PAGE, status_code=exc.status, error=exc.render(gettext),
                      form={"amount": amount}, **_context(db, user, mer_id, settings))
    outcome = {WithdrawalStatus.SUCCEEDED: "withdrawn", WithdrawalStatus.FAILED: "failed"}
    return see_other(f"/console/merchant/{mer_id}/funds?ok="
                     f"{outcome.get(done.status, 'processing')}")
