"""Service metrics per mini-app over a rolling window, as ONE Ibis expression set.

The same expression runs on DuckDB (default, embedded) and on PySpark (clusters); a parity test
keeps them identical. Only portable operations are used: filtered aggregates, distinct counts,
a continuous 90th percentile, one window function (the most frequent city), and left joins.
Every count comes out int64 and every rate float64 (NULL where its denominator is zero), so both
backends return the same Arrow schema.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Literal

import ibis
import pyarrow as pa
from ibis import _

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
)
METRIC_BY_NAME = {spec.name: spec for spec in METRICS}

# The event columns the metrics read (a subset of the Parquet export's schema).
COLUMNS = (
    "event_id", "type", "occurred_at", "miniapp_id", "merchant_id", "category_code",
    "user_sub", "city", "community", "amount_fen", "resolution", "rating", "response_seconds",
)
# Events that show a resident used the mini-app (an exposure is the platform showing it).
_ACTIVITY_EXCLUDES = ("exposure",)


def window_bounds(as_of: date, window_days: int) -> tuple[datetime, datetime]:
    """[start, end) in UTC for the days (as_of - window_days, as_of]."""
    end = datetime.combine(as_of + timedelta(days=1), time(), tzinfo=UTC)
    return end - timedelta(days=window_days), end


def metrics_table(
    events: ibis.Table,
    *,
    as_of: date,
    window_days: int = 28,
    excluded_event_ids: ibis.Table | None = None,
) -> ibis.Table:
    """One row per mini-app with events in the window: volume, scale and quality metrics.

    `excluded_event_ids` (a table with an `event_id` column) lists complaints dismissed in a
    dispute; they are not counted.
    """
    if window_days < 1:
        raise ValueError("window_days must be at least 1")
    start, end = window_bounds(as_of, window_days)
    ev = events.select(*[c for c in COLUMNS if c in events.columns])
    ev = ev.filter(
        (ev.occurred_at >= ibis.literal(start, type="timestamp('UTC')"))
        & (ev.occurred_at < ibis.literal(end, type="timestamp('UTC')"))
    )
    if excluded_event_ids is not None:
        dismissed = excluded_event_ids.select("event_id").distinct()
        ev = ev.filter((ev.type != "complaint") | ~ev.event_id.isin(dismissed.event_id))

    is_ = {t: ev.type == t for t in (
        "visit", "order_placed", "order_fulfilled", "order_cancelled", "refund", "complaint",
        "rating", "message_response",
    )}
    active = ~ev.type.isin(_ACTIVITY_EXCLUDES)
    base = ev.group_by("miniapp_id").aggregate(
        # attribution is filled from the mini-app at intake, so it is constant per mini-app;
        # max() keeps the choice deterministic should it ever change inside a window
        merchant_id=ev.merchant_id.max(),
        category_code=ev.category_code.max(),
        orders=ev.event_id.count(where=is_["order_placed"]),
        gmv_fen=ev.amount_fen.sum(where=is_["order_placed"]),
        visits=ev.event_id.count(where=is_["visit"]),
        communities=ev.community.nunique(where=active & (ev.community != "")),
        cities=ev.city.nunique(where=active & (ev.city != "")),
        # history: distinct UTC days with resident activity (a new mini-app has only a few)
        days_active=ev.occurred_at.date().nunique(where=active),
        fulfilled=ev.event_id.count(where=is_["order_fulfilled"]),
        cancelled=ev.event_id.count(where=is_["order_cancelled"]),
        refunds=ev.event_id.count(where=is_["refund"]),
        complaints=ev.event_id.count(where=is_["complaint"]),
        complaints_resolved=ev.event_id.count(
            where=is_["complaint"] & (ev.resolution == "resolved")
        ),
        rating_sum=ev.rating.sum(where=is_["rating"]),
        rating_count=ev.rating.count(where=is_["rating"]),
        response_count=ev.response_seconds.count(where=is_["message_response"]),
        response_p90_seconds=ev.response_seconds.quantile(0.9, where=is_["message_response"]),
    )

    # average daily active users: distinct (day, user) pairs over the window's days
    users = ev.filter(active & (ev.user_sub != "")).mutate(day=_.occurred_at.date())
    daily = users.group_by(["miniapp_id", "day"]).aggregate(n=_.user_sub.nunique())
    dau = daily.group_by("miniapp_id").aggregate(active_user_days=_.n.sum())

    # buyers and repeat buyers (two or more orders in the window)
    placed = ev.filter(is_["order_placed"] & (ev.user_sub != ""))
    per_buyer = placed.group_by(["miniapp_id", "user_sub"]).aggregate(n=_.count())
    buyers = per_buyer.group_by("miniapp_id").aggregate(
        unique_buyers=_.count(), repeat_buyers=_.user_sub.count(where=_.n >= 2)
    )

    # the most frequent city; ties go to the alphabetically first city
    located = ev.filter(active & (ev.city != ""))
    by_city = located.group_by(["miniapp_id", "city"]).aggregate(n=_.count())
    ranked = by_city.mutate(
        rn=ibis.row_number().over(group_by="miniapp_id", order_by=[ibis.desc("n"), "city"])
    )
    top_city = ranked.filter(_.rn == 0).select("miniapp_id", "city")

    # equal-named join keys are merged by Ibis, and no other column names collide
    joined = (
        base.left_join(dau, "miniapp_id")
        .left_join(buyers, "miniapp_id")
        .left_join(top_city, "miniapp_id")
    )
    return _finish(joined, window_days)


def _finish(t: ibis.Table, window_days: int) -> ibis.Table:
    """Typed counts (NULL → 0) and rates (NULL when nothing to divide by), in a fixed order."""
    i64, f64 = "int64", "float64"

    def count(col: str) -> ibis.Value:
        return t[col].fill_null(0).cast(i64)

    orders = count("orders")
    buyers = count("unique_buyers")

    def rate(num: ibis.Value, den: ibis.Value) -> ibis.Value:
        # numerators are clamped: a fulfilment can belong to an order placed before the window
        return (
            ibis.least(num, den).cast(f64) / den.nullif(0).cast(f64)
        )

    complaints = count("complaints")
    rating_count = count("rating_count")
    return t.select(
        miniapp_id=t.miniapp_id,
        merchant_id=t.merchant_id,
        category_code=t.category_code,
        city=t.city.fill_null(""),
        orders=orders,
        gmv_fen=count("gmv_fen"),
        visits=count("visits"),
        dau_avg=count("active_user_days").cast(f64) / ibis.literal(float(window_days)),
        unique_buyers=buyers,
        repeat_buyers=count("repeat_buyers"),
        communities=count("communities"),
        cities=count("cities"),
        days_active=count("days_active"),
        fulfilled=count("fulfilled"),
        cancelled=count("cancelled"),
        refunds=count("refunds"),
        complaints=complaints,
        complaints_resolved=count("complaints_resolved"),
        fulfillment_rate=rate(count("fulfilled"), orders),
        cancellation_rate=rate(count("cancelled"), orders),
        refund_rate=rate(count("refunds"), orders),
        complaint_rate=rate(complaints, orders),
        complaint_resolved_share=rate(count("complaints_resolved"), complaints),
        rating_sum=count("rating_sum"),
        rating_count=rating_count,
        rating_avg=count("rating_sum").cast(f64) / rating_count.nullif(0).cast(f64),
        repurchase_rate=rate(count("repeat_buyers"), buyers),
        response_count=count("response_count"),
        response_p90_seconds=t.response_p90_seconds.cast(f64),
    ).order_by("miniapp_id")


# ---------------------------------------------------------------- running it on Parquet


def partition_files(parquet_dir: Path, *, as_of: date, window_days: int) -> list[str]:
    """The Parquet files of the window's day partitions (`date=YYYY-MM-DD/*.parquet`)."""
    files: list[str] = []
    for offset in range(window_days):
        day = as_of - timedelta(days=offset)
        folder = Path(parquet_dir) / f"date={day.isoformat()}"
        if folder.is_dir():
            files.extend(str(p) for p in sorted(folder.glob("*.parquet")))
    return sorted(files)


EMPTY_EVENTS = pa.schema(
    [
        ("event_id", pa.string()), ("type", pa.string()),
        ("occurred_at", pa.timestamp("us", tz="UTC")),
        ("miniapp_id", pa.int64()), ("merchant_id", pa.int64()),
        ("category_code", pa.string()), ("user_sub", pa.string()), ("city", pa.string()),
        ("community", pa.string()), ("amount_fen", pa.int64()), ("resolution", pa.string()),
        ("rating", pa.int64()), ("response_seconds", pa.int64()),
    ]
)


def compute(
    parquet_dir: Path,
    *,
    as_of: date,
    window_days: int = 28,
    backend: str = "duckdb",
    excluded: Iterable[str] = (),
) -> pa.Table:
    """Run `metrics_table` over the window's Parquet partitions; returns Arrow, sorted by id."""
    files = partition_files(parquet_dir, as_of=as_of, window_days=window_days)
    excluded = sorted(set(excluded))
    if backend == "duckdb":
        con = ibis.duckdb.connect()
        con.raw_sql("SET TimeZone = 'UTC'")
        events = (
            con.read_parquet(files, hive_partitioning=False)
            if files else ibis.memtable(EMPTY_EVENTS.empty_table())
        )
    elif backend == "pyspark":
        con = _spark_backend()
        events = _spark_events(con, files)
    else:
        raise ValueError(f"unknown backend {backend!r}")
    dismissed = None
    if excluded:
        dismissed = ibis.memtable(pa.table({"event_id": pa.array(excluded, pa.string())}))
    expr = metrics_table(
        events, as_of=as_of, window_days=window_days, excluded_event_ids=dismissed
    )
    try:
        return con.to_pyarrow(expr)
    finally:
        if backend == "duckdb":
            con.disconnect()


_SPARK = None


def spark_session(master: str = "local[2]", memory: str = "1g"):
    """A shared local Spark session in UTC (created once per process)."""
    global _SPARK
    if _SPARK is None:
        from pyspark.sql import SparkSession

        _SPARK = (
            SparkSession.builder.master(master)
            .appName("townsquare-scoring")
            .config("spark.driver.memory", memory)
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.ansi.enabled", "false")
            .getOrCreate()
        )
    return _SPARK


def reset_spark() -> None:
    """Forget the shared session (after it was stopped)."""
    global _SPARK
    _SPARK = None


def _spark_backend():
    return ibis.pyspark.connect(spark_session())


def _spark_events(con, files: list[str]) -> ibis.Table:
    session = con._session
    if files:
        frame = session.read.parquet(*files)
    else:
        frame = session.createDataFrame([], _spark_schema(EMPTY_EVENTS))
    frame.createOrReplaceTempView("scoring_events")
    return con.table("scoring_events")


def _spark_schema(schema: pa.Schema):
    from pyspark.sql import types as T

    mapping = {
        pa.string(): T.StringType(), pa.int64(): T.LongType(),
        pa.timestamp("us", tz="UTC"): T.TimestampType(),
    }
    return T.StructType([T.StructField(f.name, mapping[f.type], True) for f in schema])
