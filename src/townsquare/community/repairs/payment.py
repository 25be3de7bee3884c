"""A chargeable repair is paid in the cashier: the resident's trade under the property company's
mini-app (`community/property.py`), or, for a repair handed to an admitted outside merchant,
under that merchant's mini-app carrying the community and the commission rate recorded on the
ticket (the ledger splits the commission to the community's account when it is paid, like an
admitted merchant's booking), created when the resident chooses to pay; payments announce
the payment through `payments.trades.hooks.trade_changed`, and the ticket moves
awaiting_payment → done in that transaction. Trades of repairs carry out_trade_no
`rep_…-<attempt>` (the ticket's public id); any other trade is left alone."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.community.models import Community
from townsquare.community.repairs import service
from townsquare.community.repairs.models import RepairTicket, Status
from townsquare.core.clock import clock
from townsquare.core.i18n import gettext
from townsquare.gateway import apps as gateway_apps
from townsquare.payments.trades import hooks
from townsquare.payments.trades import service as trades
from townsquare.payments.trades.errors import TradeStatusError
from townsquare.payments.trades.models import Trade, TradeStatus

PREFIX = "rep_"
LISTENER = "community.repairs"
PAY_MINUTES = 3 * 24 * 60
PRODUCT_CODE = "QUICK_WAP_WAY"


def checkout(db: Session, *, actor: User, ticket_id: str) -> Trade:
    """The trade the household member pays this repair with: their open one, or a new attempt
    when the previous one closed unpaid or was opened by another member of the household (that
    one is closed: one open trade per ticket, so it is never paid twice)."""
    ticket = service.get_ticket(db, actor=actor, ticket_id=ticket_id)
    service._require_household(db, actor, ticket)
    if ticket.status is not Status.AWAITING_PAYMENT:
        raise service.RepairStateError("This repair has nothing to pay.")
    if ticket.trade_no:
        current = trades.get(db, ticket.trade_no)
        if current.status is TradeStatus.WAIT_BUYER_PAY:
            if current.buyer_user_id == actor.id:
                return current
            try:
                trades.close(db, trade=current)
            except TradeStatusError:  # paid meanwhile
                raise service.RepairStateError("This repair has nothing to pay.") from None
    community = db.get_one(Community, ticket.community_id)
    miniapp = service.provider_miniapp(db, ticket)
    app = gateway_apps.app_for_miniapp(db, actor=None, miniapp=miniapp)
    owed = ticket.admission_id is not None and ticket.commission_bp > 0
    ticket.trade_attempt += 1
    subject = gettext("{community} repair").format(community=community.name)[:120]
    trade = trades.create(
        db, app=app, merchant_id=miniapp.merchant_id, miniapp_id=miniapp.id,
        out_trade_no=f"{ticket.public_id}-{ticket.trade_attempt}", total_fen=ticket.price_fen,
        subject=subject, product_code=PRODUCT_CODE, timeout_minutes=PAY_MINUTES, notify_url="",
        return_url=f"/community/{community.public_id}/repairs/{ticket.public_id}",
        buyer_user_id=actor.id,
        content_digest=trades.digest(total_fen=ticket.price_fen, subject=subject),
        community_id=community.id if owed else None,
        community_rate_bp=ticket.commission_bp if owed else 0)
    ticket.trade_no = trade.trade_no
    db.flush()
    return trade


def on_trade_changed(db: Session, change: hooks.TradeChanged) -> None:
    if not change.trade.out_trade_no.startswith(PREFIX) or change.event != "paid":
        return
    ticket = db.scalar(select(RepairTicket).where(RepairTicket.trade_no == change.trade.trade_no))
    if ticket is None or ticket.status is not Status.AWAITING_PAYMENT:
        return
    payer = db.get(User, change.trade.buyer_user_id) if change.trade.buyer_user_id else None
    service._move(db, ticket, from_=[Status.AWAITING_PAYMENT], to=Status.DONE, actor=payer,
                  actor_kind="resident", note=change.trade.trade_no,
                  paid_at=change.trade.paid_at or clock.now())


def connect() -> None:
    """Called by the composition roots (townsquare.app.connect_hooks)."""
    hooks.trade_changed.connect(LISTENER, on_trade_changed)
