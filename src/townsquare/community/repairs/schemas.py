"""Repair ticket API shapes: a ticket as its household, its technician and the property staff
see it, with its photos and timeline, and the bodies of the moves."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

StatusName = Literal["reported", "assigned", "accepted", "on_the_way", "in_progress",
                     "awaiting_payment", "done", "confirmed", "cancelled"]


class PhotoOut(BaseModel):
    id: str = Field(description="`rph_…`")
    full_url: str
    thumb_url: str
    width: int
    height: int


class EventOut(BaseModel):
    from_status: str
    to_status: str
    actor_kind: str = Field(description="resident, property, technician or system")
    note: str
    at: datetime


class TicketOut(BaseModel):
    id: str = Field(description="`rep_…`")
    community: str = Field(description="`com_…`")
    room: str
    category: Literal["plumbing", "electrical", "doors_windows", "appliance", "lift",
                      "common_area", "other"]
    place: Literal["room", "common"]
    location: str
    description: str
    status: StatusName
    technician: str | None = Field(description="The assigned technician's display name")
    price_fen: int = Field(description="The charge, integer fen (0: free)")
    trade_no: str | None = Field(description="The open or paid trade of a chargeable repair")
    reported_at: datetime
    respond_by: datetime
    complete_by: datetime
    accepted_at: datetime | None
    done_at: datetime | None
    confirmed_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str
    work_note: str
    rating: int | None
    photos: list[PhotoOut]
    events: list[EventOut]


class AssignIn(BaseModel):
    technician: str = Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$",
                            description="The username of one of the community's technicians")


class FinishIn(BaseModel):
    price_fen: int = Field(default=0, ge=0, le=10_000_000,
                           description="The charge, integer fen; 0 finishes a free repair")
    note: str = Field(default="", max_length=500)


class CancelIn(BaseModel):
    reason: str = Field(default="", max_length=200,
                        description="Required when the property cancels")


class RatingIn(BaseModel):
    stars: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=200)


class PaymentOut(BaseModel):
    trade_no: str
    total_fen: int
    cashier_url: str
