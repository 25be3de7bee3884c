"""Services marketplace API shapes: the catalog as residents see it, its bookable times, and a
resident's bookings with what they may do next."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field


class ServiceOut(BaseModel):
    id: str = Field(description="`svc_…`")
    name: str
    description: str
    provider: str = Field(description="Who does the work: the property company or the admitted "
                          "merchant")
    run_by: Literal["property", "merchant"]
    kind: Literal["bookable", "link"] = Field(
        description="bookable: book a time here and pay; link: open `link_miniapp` instead")
    price_fen: int = Field(description="Integer fen; 0 for a link")
    link_miniapp: str | None = Field(default=None, description="`ma_…` of the shop to open")


class SlotOut(BaseModel):
    start: datetime
    end: datetime
    places_left: int | None = Field(description="null: not limited by count")


class BookingIn(BaseModel):
    service: str = Field(max_length=40, description="`svc_…` of an offered service")
    slot_start: AwareDatetime = Field(description="The start of one of the service's slots")


class RatingIn(BaseModel):
    stars: int = Field(ge=1, le=5)


class ComplaintIn(BaseModel):
    category: Literal["quality", "service", "price", "late"]
    text: str = Field(min_length=1, max_length=400)


class BookingOut(BaseModel):
    id: str = Field(description="`svb_…`")
    service: str = Field(description="`svc_…`")
    service_name: str
    provider: str
    status: Literal["created", "paid", "on_the_way", "done", "cancelled"] = Field(
        description="created waits for payment at `cashier_url`")
    slot_start: datetime
    price_fen: int
    address: str = Field(description="The household's room, where the provider comes")
    trade_no: str
    cashier_url: str | None = Field(description="Where to pay while the status is created")
    paid_at: datetime | None
    done_at: datetime | None
    cancelled_at: datetime | None
    rating: int | None
    complained: bool
    may_cancel: bool
    created_at: datetime
