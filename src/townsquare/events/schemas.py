"""Pydantic models of the event intake API (what mini-app backends send and get back)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from townsquare.events.intake import MAX_BATCH, MAX_SECONDS
from townsquare.events.models import EventType


class EventIn(BaseModel):
    """One behaviour event. Measures depend on `type` (see the API description)."""

    event_id: str = Field(min_length=1, max_length=64,
                          description="Your id for this event (visible ASCII); sent twice, "
                                      "counted once")
    type: EventType
    occurred_at: datetime = Field(description="When it happened, with a time zone; at most 5 "
                                              "minutes ahead, at most 90 days ago")
    miniapp: str | None = Field(None, max_length=40,
                                description="Your mini-app's public id (optional: always yours)")
    sub: str | None = Field(None, max_length=35,
                            description="Pseudonymous user id from the launch context (ou_…); "
                                        "required except for exposures")
    city: str | None = Field(None, max_length=32)
    community: str | None = Field(None, max_length=64)
    surface: str | None = Field(None, max_length=32,
                                description="Exposures and clicks: where it was shown")
    slot_reason: str | None = Field(None, max_length=32,
                                    description="Exposures and clicks: organic, guaranteed …")
    order_id: str | None = Field(None, max_length=64)
    amount_fen: int | None = Field(None, ge=0, le=10**10, description="Orders and refunds, fen")
    duration_seconds: int | None = Field(None, ge=0, le=MAX_SECONDS,
                                         description="Fulfilled orders: placed → fulfilled")
    cancelled_by: Literal["user", "merchant", "system"] | None = None
    complaint_category: str | None = Field(None, max_length=32)
    resolution: Literal["", "resolved", "unresolved"] | None = None
    rating: int | None = Field(None, ge=1, le=5)
    response_seconds: int | None = Field(None, ge=0, le=MAX_SECONDS,
                                         description="Merchant's reply time to a user message")

    def raw(self) -> dict[str, Any]:
        return self.model_dump(mode="python", exclude_none=True)


class BatchIn(BaseModel):
    # Items are checked one by one by the service, so one bad event does not sink the batch.
    events: list[Any] = Field(
        min_length=1, max_length=MAX_BATCH,
        description=f"1 to {MAX_BATCH} events, each shaped like the single-event body",
        json_schema_extra={"items": {"$ref": "#/components/schemas/EventIn"}},
    )


class EventOut(BaseModel):
    event_id: str
    status: Literal["accepted", "duplicate"] = Field(
        description="duplicate: this event id was already recorded, nothing changed"
    )


class EventResult(BaseModel):
    index: int
    event_id: str
    status: Literal["accepted", "duplicate", "rejected"]


class EventError(BaseModel):
    index: int = Field(description="Position in the batch, from 0")
    event_id: str
    code: str
    message: str
    field: str | None


class BatchOut(BaseModel):
    accepted: int
    duplicates: int
    rejected: int
    results: list[EventResult]
    errors: list[EventError]
