"""JSON shapes of the orders API: carts, quotes, orders with their lines and timeline. Money is
integer fen; times are UTC ISO 8601."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from townsquare.ordering.orders.cart import CartView
from townsquare.ordering.orders.checkout import DeliveryAddress, Quote
from townsquare.ordering.orders.models import Order, OrderReview


class CartLineIn(BaseModel):
    sku_id: Annotated[str, Field(max_length=40)]
    quantity: Annotated[int, Field(ge=0, le=999)]
    options: dict[Annotated[str, Field(max_length=16)], Annotated[str, Field(max_length=16)]] = {}


class CartIn(BaseModel):
    """Choose the store and/or replace the cart's lines (what is left out is not changed)."""

    store_id: Annotated[str | None, Field(max_length=40)] = None
    lines: Annotated[list[CartLineIn] | None, Field(max_length=50)] = None


class CartLineOut(BaseModel):
    sku_id: str
    product_id: str
    name: str
    spec: str
    unit: str
    options: dict[str, str]
    quantity: int
    price_fen: int
    line_fen: int
    unavailable: str | None
    left: int | None


class CartOut(BaseModel):
    miniapp_id: str
    store_id: str | None
    lines: list[CartLineOut]
    items_fen: int

    @classmethod
    def of(cls, view: CartView) -> CartOut:
        return cls(miniapp_id=view.miniapp_id, store_id=view.store_id, items_fen=view.items_fen,
                   lines=[CartLineOut(
                       sku_id=x.sku_id, product_id=x.product_id, name=x.name, spec=x.spec,
                       unit=x.unit, options=x.options, quantity=x.quantity,
                       price_fen=x.price_fen, line_fen=x.line_fen, unavailable=x.unavailable,
                       left=x.left) for x in view.lines])


class AddressIn(BaseModel):
    name: Annotated[str, Field(max_length=32)]
    phone: Annotated[str, Field(max_length=24)]
    text: Annotated[str, Field(max_length=200)]
    lat: Annotated[float, Field(ge=-90, le=90)]
    lng: Annotated[float, Field(ge=-180, le=180)]
    label: Annotated[str, Field(max_length=16)] = ""

    def snapshot(self) -> DeliveryAddress:
        return DeliveryAddress(self.name, self.phone, self.text, self.lat, self.lng, self.label)


class QuoteIn(BaseModel):
    kind: Annotated[str, Field(max_length=16)] = "pickup"
    slot_start: datetime | None = Field(None, description="A slot's start with its offset; "
                                                          "none: the first free slot.")
    point_id: Annotated[str | None, Field(max_length=40)] = None
    address: AddressIn | None = None


class PlaceIn(QuoteIn):
    miniapp_id: Annotated[str, Field(max_length=40)]
    note: Annotated[str, Field(max_length=200)] = ""
    expected_total_fen: int = Field(description="The total the resident saw (the quote's); "
                                                "another total answers 409 price_changed.")


class DiscountOut(BaseModel):
    campaign_id: str
    name_zh: str
    name_en: str


class QuoteOut(BaseModel):
    items_fen: int
    packaging_fen: int
    delivery_fen: int
    discount_fen: int
    total_fen: int
    min_order_fen: int
    slot_start: datetime | None
    problems: list[str]
    codes: list[str]
    discount: DiscountOut | None = Field(None, description="The campaign giving the discount")

    @classmethod
    def of(cls, quote: Quote) -> QuoteOut:
        d = quote.discount if quote.discount_fen else None
        return cls(items_fen=quote.items_fen, packaging_fen=quote.packaging_fen,
                   delivery_fen=quote.delivery_fen, discount_fen=quote.discount_fen,
                   total_fen=quote.total_fen, min_order_fen=quote.min_order_fen,
                   slot_start=quote.slot_start, problems=quote.problems, codes=quote.codes,
                   discount=DiscountOut(campaign_id=d.source, name_zh=d.name_zh,
                                        name_en=d.name_en) if d else None)



class OrderLineOut(BaseModel):
    product_name: str
    spec: str
    unit: str
    options: dict[str, Any]
    quantity: int
    price_fen: int
    line_fen: int


class OrderEventOut(BaseModel):
    status: str
    at: datetime
    actor_kind: str
    note: str


class OrderOut(BaseModel):
    id: str
    status: str
    kind: str
    slot_start: datetime
    items_fen: int
    packaging_fen: int
    delivery_fen: int
    discount_fen: int
    total_fen: int
    discount: DiscountOut | None = Field(None, description="The campaign that gave the discount")
    pickup_number: str
    pickup_code: str | None = Field(None, description="The signed code for the QR; only the "
                                                      "buyer sees it, once paid.")
    trade_no: str
    cashier_url: str
    address: dict[str, Any]
    note: str
    cancelled_by: str
    cancel_reason: str
    created_at: datetime
    paid_at: datetime | None
    accepted_at: datetime | None
    ready_at: datetime | None
    handed_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    accept_by: datetime | None
    updated_at: datetime
    lines: list[OrderLineOut]
    timeline: list[OrderEventOut]

    @classmethod
    def of(cls, order: Order, *, code: str | None = None) -> OrderOut:
        return cls(
            id=order.public_id, status=order.status.value, kind=order.kind.value,
            slot_start=order.slot_start, items_fen=order.items_fen,
            packaging_fen=order.packaging_fen, delivery_fen=order.delivery_fen,
            discount_fen=order.discount_fen, total_fen=order.total_fen,
            discount=DiscountOut(campaign_id=order.discount_source,
                                 name_zh=order.discount_name_zh,
                                 name_en=order.discount_name_en)
            if order.discount_source else None,
            pickup_number=order.pickup_number, pickup_code=code, trade_no=order.trade_no,
            cashier_url=f"/cashier/{order.trade_no}", address=order.address, note=order.note,
            cancelled_by=order.cancelled_by, cancel_reason=order.cancel_reason,
            created_at=order.created_at, paid_at=order.paid_at, accepted_at=order.accepted_at,
            ready_at=order.ready_at, handed_at=order.handed_at,
            completed_at=order.completed_at, cancelled_at=order.cancelled_at,
            accept_by=order.accept_by, updated_at=order.updated_at,
            lines=[OrderLineOut(product_name=x.product_name, spec=x.spec, unit=x.unit,
                                options=x.options, quantity=x.quantity, price_fen=x.price_fen,
                                line_fen=x.line_fen) for x in order.lines],
            timeline=[OrderEventOut(status=e.status.value, at=e.at, actor_kind=e.actor_kind,
                                    note=e.note) for e in order.events])


class ReasonIn(BaseModel):
    reason: Annotated[str, Field(max_length=200)] = ""


class RateIn(BaseModel):
    stars: Annotated[int, Field(ge=1, le=5)]
    text: Annotated[str, Field(max_length=500)] = ""


class ComplainIn(BaseModel):
    category: Annotated[str, Field(max_length=32)]
    text: Annotated[str, Field(max_length=500)] = ""


class HandOverIn(BaseModel):
    code: Annotated[str, Field(max_length=80)]


class ReviewOut(BaseModel):
    id: str
    stars: int
    text: str

    @classmethod
    def of(cls, review: OrderReview) -> ReviewOut:
        return cls(id=review.public_id, stars=review.stars, text=review.text)
