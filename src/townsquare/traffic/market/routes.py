"""Bids JSON API: merchants (staff or an authorized ISV) place, list, pause and resume their
bids; channels and topics are in `traffic.topic_routes`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.accounts.deps import CurrentUser
from townsquare.core.clock import clock
from townsquare.merchants.service import merchant_for_actor
from townsquare.traffic.market import bids
from townsquare.traffic.market.schemas import BidIn, BidOut
from townsquare.traffic.models import Bid, BidSpend
from townsquare.web.deps import AppSettings, DbSession
from townsquare.web.openapi import MerchantId, errors

router = APIRouter(prefix="/api", tags=["traffic"])

BidId = Annotated[str, Path(max_length=40, description="A bid id (`bid_…`).")]


# ---- bids ---------------------------------------------------------------------------------------


def _bid_out(db: Session, bid: Bid, timezone: str) -> BidOut:
    stmt = select(BidSpend).where(
        BidSpend.bid_id == bid.id, BidSpend.day == bids.local_day(clock.now(), timezone)
    )
    return BidOut.of(bid, db.scalar(stmt.execution_options(populate_existing=True)))


@router.get("/merchants/{mer_id}/bids", response_model=list[BidOut], responses=errors(401, 403))
def list_bids(
    mer_id: MerchantId, user: CurrentUser, db: DbSession, settings: AppSettings
) -> list[BidOut]:
    """The merchant's bids with today's spend (its staff, authorized ISVs, operators)."""
    found = bids.for_merchant(
        db, actor=user, merchant_public_id=mer_id, timezone=settings.timezone
    )
    return [BidOut.of(bid, spend) for bid, spend in found]


@router.post(
    "/merchants/{mer_id}/bids", response_model=BidOut, responses=errors(401, 403, 404, 409, 422)
)
def place_bid(
    mer_id: MerchantId, body: BidIn, user: CurrentUser, db: DbSession, settings: AppSettings
) -> BidOut:
    """Create or update (and run) a bid of one of the merchant's mini-apps on a target."""
    merchant_for_actor(db, actor=user, public_id=mer_id)
    bid = bids.place(
        db, actor=user, miniapp_public_id=body.miniapp_id, target_kind=body.target_kind,
        target=body.target, max_cpc_fen=body.max_cpc_fen,
        daily_budget_fen=body.daily_budget_fen, merchant_public_id=mer_id,
        timezone=settings.timezone,
    )
    return _bid_out(db, bid, settings.timezone)


@router.post("/bids/{bid_id}/pause", response_model=BidOut, responses=errors(401, 404))
def pause_bid(bid_id: BidId, user: CurrentUser, db: DbSession, settings: AppSettings) -> BidOut:
    """Stop a bid taking part in auctions (its merchant)."""
    bid = bids.set_active(db, actor=user, bid_public_id=bid_id, active=False)
    return _bid_out(db, bid, settings.timezone)


@router.post("/bids/{bid_id}/resume", response_model=BidOut, responses=errors(401, 404))
def resume_bid(bid_id: BidId, user: CurrentUser, db: DbSession, settings: AppSettings) -> BidOut:
    """Let a paused bid take part in auctions again (its merchant)."""
    bid = bids.set_active(db, actor=user, bid_public_id=bid_id, active=True)
    return _bid_out(db, bid, settings.timezone)
