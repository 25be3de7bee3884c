"""The operator's ledger pages: the overview (`/console/operator/ledger`, with reconciliation
runs and a button to run one now) and the fee rules (`/console/operator/fees`); and the ISV's
commission per merchant (`/console/isv/{isv_id}/commission`).

Every page checks the operator role itself; the services check it again on every change."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.accounts.deps import CurrentUser, FormUser
from townsquare.accounts.models import Role, User
from townsquare.accounts.permissions import require_role
from townsquare.core.i18n import N_
from townsquare.merchants.models import Authorization, Merchant, ServiceProvider
from townsquare.payments import fees
from townsquare.payments.ledger import commission, jobs
from townsquare.payments.ledger.models import AccountKind
from townsquare.payments.ledger.overview import overview
from townsquare.payments.ledger.records import RoyaltyRate
from townsquare.web.deps import DbSession
from townsquare.web.forms import attempt, flashes, whole_number
from townsquare.web.templating import render

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form(max_length=200)]

DONE = {
    "reconciled": N_("Reconciliation run finished."),
    "fee_saved": N_("Fee rate saved."),
}
KIND_LABELS = {
    AccountKind.WALLET: N_("Residents' wallets"),
    AccountKind.MERCHANT_PENDING: N_("Merchants: pending settlement"),
    AccountKind.MERCHANT_AVAILABLE: N_("Merchants: available"),
    AccountKind.PLATFORM_FEES: N_("Platform fee income"),
    AccountKind.ISV_COMMISSION: N_("ISV commission"),
    AccountKind.COMMUNITY_COMMISSION: N_("Community commission"),
    AccountKind.BANK_CLEARING: N_("Bank clearing (money from banks)"),
}


@router.get("/console/operator/ledger", response_class=HTMLResponse)
def ledger_page(request: Request, user: CurrentUser, db: DbSession) -> HTMLResponse:
    require_role(user, Role.OPERATOR)
    return render(request, "payments/operator_ledger.html", view=overview(db, actor=user),
                  kind_labels=KIND_LABELS, flashes=flashes(request, DONE))


@router.post("/console/operator/ledger/reconcile")
def reconcile_now(request: Request, user: FormUser, db: DbSession) -> Response:
    require_role(user, Role.OPERATOR)
    return attempt(request, db, lambda: jobs.record_reconciliation(db),
                   template="payments/operator_ledger.html",
                   context=lambda: {"view": overview(db, actor=user), "kind_labels": KIND_LABELS},
                   done_url="/console/operator/ledger?ok=reconciled")


def _fees(db: Session) -> dict[str, Any]:
    royalties = db.execute(
        select(Merchant.name, ServiceProvider.name, RoyaltyRate.rate_bp,
               Authorization.revoked_at)
        .join(Authorization, Authorization.id == RoyaltyRate.authorization_id)
        .join(Merchant, Merchant.id == Authorization.merchant_id)
        .join(ServiceProvider, ServiceProvider.id == Authorization.provider_id)
        .order_by(Merchant.name, ServiceProvider.name)).all()
    return {"rules": fees.fee_rules(db), "default_bp": fees.default_rate_bp(db),
            "royalties": royalties, "max_bp": fees.MAX_PLATFORM_FEE_BP}


@router.get("/console/operator/fees", response_class=HTMLResponse)
def fees_page(request: Request, user: CurrentUser, db: DbSession) -> HTMLResponse:
    require_role(user, Role.OPERATOR)
    return render(request, "payments/operator_fees.html", flashes=flashes(request, DONE),
                  **_fees(db))


@router.post("/console/operator/fees")
def set_fee(request: Request, user: FormUser, db: DbSession, category: Text = "",
            rate_bp: Text = "") -> Response:
    """One form per row: `category` empty is the default rule; `rate_bp` empty clears a
    category's own rate."""
    require_role(user, Role.OPERATOR)

    def save(acting: User = user) -> None:
        rate = whole_number(rate_bp, field="rate_bp") if rate_bp.strip() else None
        fees.set_fee_rate(db, actor=acting, category_code=category or None, rate_bp=rate)

    return attempt(request, db, save, template="payments/operator_fees.html",
                   context=lambda: _fees(db), done_url="/console/operator/fees?ok=fee_saved")


@router.get("/console/isv/{isv_id}/commission", response_class=HTMLResponse)
def isv_commission_page(request: Request, isv_id: str, user: CurrentUser,
                        db: DbSession) -> HTMLResponse:
    """The ISV's royalties earned per merchant (the provider's own staff)."""
    return render(request, "payments/isv_commission.html",
                  view=commission.by_merchant(db, actor=user, provider_id=isv_id))
