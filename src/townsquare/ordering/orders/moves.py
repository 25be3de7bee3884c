"""The hook an order fires on every status change (`service._move`), so that modules above the
state machine (the delivery link) can act in the same transaction without the state machine
knowing them."""

from __future__ import annotations

from dataclasses import dataclass

from townsquare.core.hooks import Hook
from townsquare.ordering.orders.models import Order, OrderStatus


@dataclass(frozen=True)
class OrderMoved:
    order: Order
    status: OrderStatus  # the status it moved to


order_moved: Hook[OrderMoved] = Hook("ordering.order_moved")
