"""Sales figures for the console's charts: orders and takings per local day, and quantity and
takings per product, over the last N days (one store or all).

A sale is an order that was paid and not refused or cancelled afterwards (those were refunded
in full); it counts on the local day it was paid. The rows are read with only the columns the
sums need and added up here, because a "local day" is a time-zone conversion that SQLite and
PostgreSQL spell differently."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from townsquare.ordering.console.board import day_bounds
from townsquare.ordering.orders.models import Order, OrderLine, OrderStatus

NOT_SALES = (OrderStatus.CREATED, OrderStatus.CANCELLED, OrderStatus.REJECTED)
PERIODS = (7, 14, 30, 90)
TOP_PRODUCTS = 15


@dataclass(frozen=True)
class Day:
    day: date
    orders: int
    takings_fen: int


@dataclass(frozen=True)
class ProductSales:
    name: str
    quantity: int
    takings_fen: int


@dataclass(frozen=True)
class Sales:
    days: list[Day]
    products: list[ProductSales]  # best first, at most TOP_PRODUCTS

    @property
    def orders(self) -> int:
        return sum(d.orders for d in self.days)

    @property
    def takings_fen(self) -> int:
        return sum(d.takings_fen for d in self.days)


def sales(db: Session, *, merchant_id: int, store_id: int | None, last_day: date, days: int,
          zone: str) -> Sales:
    """The `days` local days ending with `last_day` (every day listed, quiet ones as zero)."""
    first = last_day - timedelta(days=days - 1)
    start, _ = day_bounds(first, zone)
    _, end = day_bounds(last_day, zone)
    where = [Order.merchant_id == merchant_id, Order.paid_at.is_not(None),
             Order.paid_at >= start, Order.paid_at < end, Order.status.not_in(NOT_SALES)]
    if store_id is not None:
        where.append(Order.store_id == store_id)
    tz = ZoneInfo(zone)
    per_day: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    for paid_at, total in db.execute(select(Order.paid_at, Order.total_fen).where(*where)):
        if paid_at is None:
            continue
        slot = per_day[paid_at.astimezone(tz).date()]
        slot[0] += 1
        slot[1] += int(total)
    listed = [Day(first + timedelta(days=i), *per_day.get(first + timedelta(days=i), [0, 0]))
              for i in range(days)]
    rows = db.execute(
        select(OrderLine.product_name, func.sum(OrderLine.quantity), func.sum(OrderLine.line_fen))
        .join(Order, Order.id == OrderLine.order_id).where(*where)
        .group_by(OrderLine.product_name)
        .order_by(func.sum(OrderLine.line_fen).desc(), OrderLine.product_name)
        .limit(TOP_PRODUCTS))
    products = [ProductSales(name, int(qty), int(fen)) for name, qty, fen in rows]
    return Sales(listed, products)
