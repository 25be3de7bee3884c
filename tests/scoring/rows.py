"""Consistent metrics rows (as `metrics.compute` returns them) for the model's tests."""

from __future__ import annotations

from typing import Any


def make_row(
    app: Any, *, category: str = "food", city: str = "hz", orders: int = 100,
    visits: int | None = None, fulfilled: int | None = None, cancelled: int = 5,
    refunds: int = 2, complaints: int = 1, resolved: int = 1, ratings: int = 30,
    rating_avg: float | None = 4.5, buyers: int | None = None, repeat: int | None = None,
    responses: int = 10, p90: float | None = 300.0, communities: int = 3,
    dau: float | None = None, days_active: int = 28, accepts: int = 0, accepted_late: int = 0,
    ready: int = 0, ready_late: int = 0, deliveries: int = 0, delivered_late: int = 0,
    incidents: int = 0,
) -> dict[str, Any]:
    """(No punctuality events by default: those rates are None, as for a mini-app whose orders
    do not go through ordering.)"""
    visits = orders * 4 if visits is None else visits
    fulfilled = max(orders - cancelled, 0) if fulfilled is None else fulfilled
    buyers = (orders * 2) // 3 if buyers is None else buyers
    repeat = buyers // 4 if repeat is None else repeat

    def rate(num: float, den: float) -> float | None:
        return min(num, den) / den if den else None

    return {
        "miniapp_id": app, "merchant_id": f"m-{app}", "category_code": category, "city": city,
        "orders": orders, "gmv_fen": orders * 2500, "visits": visits,
        "dau_avg": visits / 28 if dau is None else dau,
        "unique_buyers": buyers, "repeat_buyers": repeat, "communities": communities,
        "cities": 1, "days_active": days_active, "fulfilled": fulfilled,
        "cancelled": cancelled, "refunds": refunds,
        "complaints": complaints, "complaints_resolved": resolved,
        "fulfillment_rate": rate(fulfilled, orders), "cancellation_rate": rate(cancelled, orders),
        "refund_rate": rate(refunds, orders), "complaint_rate": rate(complaints, orders),
        "complaint_resolved_share": rate(resolved, complaints),
        "rating_sum": round((rating_avg or 0) * ratings), "rating_count": ratings,
        "rating_avg": rating_avg if ratings else None,
        "repurchase_rate": rate(repeat, buyers), "response_count": responses,
        "response_p90_seconds": p90 if responses else None,
        "accepts": accepts, "accepts_on_time": accepts - accepted_late,
        "accept_on_time_rate": rate(accepts - accepted_late, accepts),
        "ready_orders": ready, "ready_on_time": ready - ready_late,
        "ready_on_time_rate": rate(ready - ready_late, ready),
        "deliveries_timed": deliveries, "deliveries_on_time": deliveries - delivered_late,
        "delivery_on_time_rate": rate(deliveries - delivered_late, deliveries),
        "deliveries": deliveries, "deliveries_with_incident": incidents,
        "incident_rate": rate(incidents, deliveries),
    }


def category(n: int, *, prefix: str = "a", **kw: Any) -> list[dict[str, Any]]:
    """n ordinary, slightly different mini-apps of one category."""
    return [
        make_row(f"{prefix}{i:03d}", orders=60 + 7 * i, cancelled=2 + i % 5, complaints=i % 3,
                 resolved=(i % 3) // 2, rating_avg=4.0 + (i % 9) / 10, p90=200.0 + 30 * i, **kw)
        for i in range(n)
    ]
