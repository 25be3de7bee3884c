"""What an order costs, in integer fen (pure: no database). Items are quantity × unit price per
line; the packaging fee is per order; the delivery fee and the minimum order come from the
delivery zone; a discount is capped at the items' value (it never pays for packaging or
delivery), and the minimum order counts the items after the discount, not the fees."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

MAX_LINE_FEN = 10**10  # ¥100 million: more is a bug, not an order


@dataclass(frozen=True)
class Line:
    price_fen: int
    quantity: int


@dataclass(frozen=True)
class Discount:
    """A discount offered for an order's items, and where it comes from (a traffic campaign:
    its public id and names). `fen` is what is offered; `price` caps it at the items."""

    fen: int
    source: str
    name_zh: str
    name_en: str

    def name(self, locale: str) -> str:
        return self.name_en if locale == "en" else self.name_zh


@dataclass(frozen=True)
class Price:
    items_fen: int
    packaging_fen: int
    delivery_fen: int
    discount_fen: int
    total_fen: int
    min_order_fen: int

    @property
    def below_minimum(self) -> bool:
        """The minimum order counts the items (after the discount), not the fees."""
        return self.items_fen - self.discount_fen < self.min_order_fen


def line_fen(price_fen: int, quantity: int) -> int:
    if price_fen < 0 or quantity < 0:
        raise ValueError("prices and quantities are not negative")
    total = price_fen * quantity
    if total > MAX_LINE_FEN:
        raise ValueError("line too large")
    return total


def price(lines: Sequence[Line], *, packaging_fen: int = 0, delivery_fen: int = 0,
          discount_fen: int = 0, min_order_fen: int = 0) -> Price:
    """The order's price; an empty cart costs nothing (the caller refuses it)."""
    if min(packaging_fen, delivery_fen, discount_fen, min_order_fen) < 0:
        raise ValueError("fees, discounts and minimums are not negative")
    items = sum(line_fen(line.price_fen, line.quantity) for line in lines)
    discount = min(discount_fen, items)
    packaging = packaging_fen if items else 0
    delivery = delivery_fen if items else 0
    return Price(items_fen=items, packaging_fen=packaging, delivery_fen=delivery,
                 discount_fen=discount, total_fen=items - discount + packaging + delivery,
                 min_order_fen=min_order_fen)
