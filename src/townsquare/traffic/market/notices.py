"""What a bid tells its merchant: the click that spends the day's budget (through messaging's
one door, in the click's transaction)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.messaging.notifications import notify
from townsquare.traffic import surfaces
from townsquare.traffic.models import Bid, BidSpend, BidTarget, Channel, Topic


def _target_name(db: Session, bid: Bid) -> object:
    """What the merchant calls a bid's target: the keyword, or the surface's name in both
    languages (a msgid for the fixed ones), never its code."""
    if bid.target_kind == BidTarget.KEYWORD:
        return f"“{bid.target}”"
    fixed = {surfaces.FEED: "Home feed", surfaces.SEARCH: "Search"}
    if bid.target in fixed:
        return {"msgid": fixed[bid.target]}
    kind, _, slug = bid.target.partition(".")
    found: Channel | Topic | None = (
        db.scalar(select(Channel).where(Channel.slug == slug)) if kind == "channel"
        else db.scalar(select(Topic).where(Topic.slug == slug)))
    return {"zh": found.title("zh_CN"), "en": found.title("en")} if found else bid.target


def tell_if_spent(db: Session, *, bid_id: int, day: date) -> None:
    """The click that spends the last of a day's budget tells the merchant (once: the guarded
    charge never passes the budget, so exactly one charged click reaches it)."""
    spent, budget = db.execute(
        select(BidSpend.spent_fen, BidSpend.budget_fen)
        .where(BidSpend.bid_id == bid_id, BidSpend.day == day)
    ).one()
    if spent < budget:
        return
    bid = db.get(Bid, bid_id)
    if bid is None:
        return
    miniapp = bid.miniapp
    notify(db, kind="bid.budget_spent", merchant_id=miniapp.merchant_id, miniapp=miniapp,
           params={"target": _target_name(db, bid)},
           link=f"/console/merchant/{miniapp.merchant.public_id}/traffic#bids")
