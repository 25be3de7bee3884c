"""JSON shapes for the bids API. Inputs are bounded; objects are named by public id, never by
integer id."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from townsquare.traffic.models import Bid, BidSpend
from townsquare.traffic.topic_schemas import MiniAppBrief

Fen = Annotated[int, Field(ge=1, le=100_000_000)]  # well inside a 32-bit column


# -- bids ------------------------------------------------------------------------------------
class BidIn(BaseModel):
    miniapp_id: str = Field(min_length=1, max_length=40, description="A mini-app id (`ma_…`).")
    target_kind: Literal["surface", "keyword"]
    target: str = Field(
        min_length=1, max_length=48,
        description="A surface (feed, channel.<slug>, topic.<slug>) or a search keyword.",
    )
    max_cpc_fen: Fen = Field(description="The most paid per click, in fen.")
    daily_budget_fen: Fen = Field(description="The most spent per local day, in fen.")


class TodayOut(BaseModel):
    budget_fen: int
    spent_fen: int
    clicks: int = Field(description="Charged clicks")
    filtered_clicks: int = Field(description="Invalid clicks, not charged (or refunded)")
    impressions: int


class BidOut(BaseModel):
    id: str
    miniapp: MiniAppBrief
    target_kind: Literal["surface", "keyword"]
    target: str
    max_cpc_fen: int
    daily_budget_fen: int
    active: bool
    created_at: datetime
    today: TodayOut = Field(description="Today's spend (local day); zeros before any impression.")

    @classmethod
    def of(cls, bid: Bid, spend: BidSpend | None = None) -> BidOut:
        today = TodayOut(
            budget_fen=spend.budget_fen if spend else bid.daily_budget_fen,
            spent_fen=spend.spent_fen if spend else 0,
            clicks=spend.clicks if spend else 0,
            filtered_clicks=spend.filtered if spend else 0,
            impressions=spend.impressions if spend else 0,
        )
        return cls(
            id=bid.public_id, miniapp=MiniAppBrief.of(bid.miniapp),
            target_kind=bid.target_kind.value, target=bid.target, max_cpc_fen=bid.max_cpc_fen,
            daily_budget_fen=bid.daily_budget_fen, active=bid.active, created_at=bid.created_at,
            today=today,
        )
