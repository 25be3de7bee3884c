"""Delivery's HTTP surface for machines: the providers' webhooks (`/delivery/webhooks/{name}`,
verified over the raw body) and the JSON API for residents, merchants and their apps
(`/api/delivery/…`: read, follow, cancel a delivery)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from townsquare.accounts.deps import CurrentUser
from townsquare.core.errors import TownsquareError
from townsquare.delivery import dispatch, service, tracking, webhooks
from townsquare.delivery.adapters import registry
from townsquare.delivery.models import Delivery
from townsquare.web.deps import AppSettings, DbSession
from townsquare.web.openapi import PublicId, errors

router = APIRouter(tags=["delivery"])


async def raw_body(request: Request) -> bytes:
    return await request.body()


RawBody = Annotated[bytes, Depends(raw_body)]


class WebhookOut(BaseModel):
    applied: int
    duplicates: int
    ignored: int


@router.post("/delivery/webhooks/{provider}", response_model=WebhookOut,
             responses=errors(401, 404))
def webhook(provider: Annotated[str, Path(max_length=24)], request: Request, body: RawBody,
            db: DbSession, settings: AppSettings) -> WebhookOut | JSONResponse:
    """A provider's status callback: its signature is checked over the raw body (401 if it
    does not verify); each event is applied once. Errors answer JSON (a machine asks)."""
    try:
        got = webhooks.receive(db, provider=provider, headers=dict(request.headers), body=body,
                               adapters=registry.adapters(settings))
    except TownsquareError as exc:  # refused before anything changed
        return JSONResponse({"error": {"code": exc.code, "message": exc.render(),
                                       "details": exc.details}}, status_code=exc.status)
    return WebhookOut(applied=got.applied, duplicates=got.duplicates, ignored=got.ignored)


class DeliveryOut(BaseModel):
    delivery_id: str
    status: str
    provider: str | None
    external_id: str | None
    fee_fen: int | None
    courier_name: str
    courier_phone: str
    tracking_url: str
    pickup_eta: str | None
    dropoff_eta: str | None
    delivered_at: str | None
    source_ref: str

    @classmethod
    def of(cls, d: Delivery) -> DeliveryOut:
        def t(v: Any) -> str | None:
            return v.isoformat() if v else None

        return cls(delivery_id=d.public_id, status=d.status.value, provider=d.provider,
                   external_id=d.external_id, fee_fen=d.fee_fen, courier_name=d.courier_name,
                   courier_phone=d.courier_phone, tracking_url=d.tracking_url,
                   pickup_eta=t(d.pickup_eta), dropoff_eta=t(d.dropoff_eta),
                   delivered_at=t(d.delivered_at), source_ref=d.source_ref)


class CancelIn(BaseModel):
    reason: str = Field(default="", max_length=200)


@router.get("/api/delivery/deliveries/{delivery_id}", response_model=DeliveryOut,
            responses=errors(401, 404))
def get_delivery(delivery_id: PublicId, user: CurrentUser, db: DbSession) -> DeliveryOut:
    """A delivery, for its resident or its merchant."""
    return DeliveryOut.of(service.get(db, actor=user, delivery_id=delivery_id))


@router.get("/api/delivery/deliveries/{delivery_id}/track", responses=errors(401, 404))
def track_delivery(delivery_id: PublicId, user: CurrentUser, db: DbSession) -> dict[str, Any]:
    """Where the courier is, the trail, the times and the map (SVG drawn locally)."""
    return tracking.as_json(service.track(db, actor=user, delivery_id=delivery_id))


@router.post("/api/delivery/deliveries/{delivery_id}/cancel", response_model=DeliveryOut,
             responses=errors(401, 404, 409))
def cancel_delivery(delivery_id: PublicId, body: CancelIn, user: CurrentUser, db: DbSession,
                    settings: AppSettings) -> DeliveryOut:
    """Cancel before pickup (the provider's rules decide after assignment)."""
    found = service.get(db, actor=user, delivery_id=delivery_id)
    # an order's delivery is cancelled with the order (ordering asks), not by its resident
    if (user.id == found.resident_user_id and found.source_kind.value == "order"
            and not service.can_act_for_merchant(db, user, found)):
        raise service.NotCancellableNow("Cancel the order instead.")
    return DeliveryOut.of(dispatch.cancel(delivery_id=delivery_id, actor=user,
                                          reason=body.reason or "cancelled", db=db,
                                          settings=settings))
