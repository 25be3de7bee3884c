"""The metric catalogue: what the score model scores (each metric's pillar, direction, kind and
words), its pillars and its tiers. Pure data, no Ibis or NumPy: the model, the metrics
expression, the pages and traffic all read it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PILLARS: tuple[str, ...] = ("volume", "scale", "quality")
TIERS: tuple[str, ...] = ("S", "A", "B", "C", "D")  # best first

Pillar = Literal["volume", "scale", "quality"]
Kind = Literal["count", "rate", "mean", "p90"]


@dataclass(frozen=True)
class MetricSpec:
    """One scored metric: where it counts, which way is better, and how it is explained."""

    name: str
    pillar: Pillar
    higher_is_better: bool
    kind: Kind
    label_en: str
    label_zh: str
    unit: str  # "" (a count), "fen", "%", "★", "s"
    denominator: str | None = None  # the column counting its observations (rates, means, p90)


METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("orders", "volume", True, "count", "orders", "订单量", ""),
    MetricSpec("gmv_fen", "volume", True, "count", "GMV", "交易额", "fen"),
    MetricSpec("visits", "volume", True, "count", "visits", "访问量", ""),
    MetricSpec("dau_avg", "scale", True, "mean", "daily active users", "日均活跃用户", ""),
    MetricSpec("unique_buyers", "scale", True, "count", "unique buyers", "购买用户数", ""),
    MetricSpec("communities", "scale", True, "count", "communities covered", "覆盖社区数", ""),
    MetricSpec(
        "fulfillment_rate", "quality", True, "rate", "fulfillment rate", "履约率", "%", "orders"
    ),
    MetricSpec(
        "cancellation_rate", "quality", False, "rate", "cancellation rate", "取消率", "%", "orders"
    ),
    MetricSpec("refund_rate", "quality", False, "rate", "refund rate", "退款率", "%", "orders"),
    MetricSpec(
        "complaint_rate", "quality", False, "rate", "complaint rate", "投诉率", "%", "orders"
    ),
    MetricSpec(
        "complaint_resolved_share", "quality", True, "rate",
        "share of complaints resolved", "投诉解决率", "%", "complaints",
    ),
    MetricSpec("rating_avg", "quality", True, "mean", "rating", "评分", "★", "rating_count"),
    MetricSpec(
        "repurchase_rate", "quality", True, "rate", "repurchase rate", "复购率", "%",
        "unique_buyers",
    ),
    MetricSpec(
        "response_p90_seconds", "quality", False, "p90",
        "response time (90th percentile)", "消息响应时长（P90）", "s", "response_count",
    ),
    # punctuality the platform observed (ordering's state machine, delivery's hook)
    MetricSpec(
        "accept_on_time_rate", "quality", True, "rate", "orders accepted on time",
        "按时接单率", "%", "accepts",
    ),
    MetricSpec(
        "ready_on_time_rate", "quality", True, "rate", "orders ready on time",
        "按时备货率", "%", "ready_orders",
    ),
    MetricSpec(
        "delivery_on_time_rate", "quality", True, "rate", "on-time delivery rate",
        "准时送达率", "%", "deliveries_timed",
    ),
    MetricSpec(
        "incident_rate", "quality", False, "rate", "delivery incident rate",
        "配送异常率", "%", "deliveries",
    ),
)
METRIC_BY_NAME = {spec.name: spec for spec in METRICS}
