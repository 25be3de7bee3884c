"""Service metrics per mini-app over a rolling window, as ONE Ibis expression set.

The same expression runs on DuckDB (default, embedded) and on PySpark (clusters); a parity test
keeps them identical. Only portable operations are used: filtered aggregates, SELECT DISTINCT,
a continuous 90th percentile, window functions (the most frequent city), unions and left joins.
Every count comes out int64 and every rate float64 (NULL where its denominator is zero), so both
backends return the same Arrow schema.
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
from collections.abc import Collection, Iterable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pyarrow.parquet as pq
from ibis import _

from townsquare.scoring import partitions, trusted

# The event columns the metrics read (a subset of the Parquet export's schema); `event_id` too
# when dismissed complaints are left out.
COLUMNS = (
    "type", "occurred_at", "miniapp_id", "merchant_id", "category_code", "user_sub", "city",
    "community", "amount_fen", "resolution", "rating", "response_seconds", "order_id",
)
# The platform-observed punctuality events (events.models.PLATFORM_OBSERVED): resolution
# "on_time" | "late" (a delivery without a promised time: ""), one incident per kind.
_PUNCTUAL = ("order_accepted", "order_ready", "delivery_done")
_DELIVERY = ("delivery_done", "delivery_incident")
# Every event but an exposure shows a resident used the mini-app (an exposure is the platform
# showing it).
_EXPOSURE = "exposure"
# Nor do the platform's punctuality records: the merchant or a courier acted, not the resident,
# so they add no active day, user-day or place (only the rates below read them).
_NOT_ACTIVITY = (_EXPOSURE, "order_accepted", "order_ready", "delivery_done", "delivery_incident")


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
    in_window: bool = False,
    rolled_up: ibis.Table | None = None,
    rolled_up_days: Collection[date] = (),
    half_life_days: float | None = None,
    self_report_weight: float = 1.0,
) -> ibis.Table:
    """One row per mini-app with events in the window: volume, scale and quality metrics.

    `half_life_days`: the quality rates and the mean rating weigh each event by 0.5 ** (its
    age in whole days / half_life_days), so recent days weigh more (None: every day alike).
    `self_report_weight`: what a mini-app's own rating weighs where nothing the platform
    observed can corroborate it (docs/scoring.md, "Trust").

    `excluded_event_ids` (a table with an `event_id` column) lists complaints dismissed in a
    dispute; they are not counted as complaints (the resident was still active that day).
    `in_window`: every event is known to be in the window, so the time filter is left out.
    `rolled_up`: the `day_activity` rows of the days in `rolled_up_days` (the export's
    rollups), used instead of those days' events.

    Each aggregation is one scan of the window's events with its filter pushed down to the
    reader (a selective scan is cheap; an aggregate updated on every row is not), and no
    DISTINCT aggregate runs over the events (one makes DuckDB materialise every column of the
    window; distinct values are grouped first, and counted on the small result): per-app
    counts; orders and buyers; complaints; ratings; message responses; each day's distinct
    users, which give both the active user-days and the active days; and the distinct (city,
    community) places, which give the cities, communities and the main city.
    """
    if window_days < 1:
        raise ValueError("window_days must be at least 1")
    start, end = window_bounds(as_of, window_days)
    ev = events.select(*[c for c in COLUMNS if c in events.columns])
    if not in_window:
        ev = _during(ev, start, end)

    # attribution is filled from the mini-app at intake, so it is constant per mini-app; max()
    # keeps the choice deterministic should it ever change inside a window (grouping by it
    # first is cheaper than a max() over every event). When the export rolled up every day of
    # the window, the rollups name the mini-apps that were only shown (exposures, over half of
    # all events) and whose they are, so exposures are not read.
    every_day_rolled = rolled_up is not None and all(
        (start + timedelta(days=k)).date() in rolled_up_days for k in range(window_days)
    )
    counted = ev.filter(ev.type != _EXPOSURE) if every_day_rolled else ev
    attributed = counted.group_by(["miniapp_id", "merchant_id", "category_code"]).aggregate(
        visits=_.count(where=_.type == "visit"),
    )
    base = attributed.group_by("miniapp_id").aggregate(
        merchant_id=_.merchant_id.max(), category_code=_.category_code.max(),
        visits=_.visits.sum(),
    )
    # what the platform observed against what the mini-app reports (docs/scoring.md, "Trust")
    trust = trusted.Trust(events, start=start, end=end, in_window=in_window,
                          half_life_days=half_life_days, self_report_weight=self_report_weight)
    buyers = trust.orders()
    refunded = trust.larger_record("refund", "refunds")
    cancelled = trust.larger_record("order_cancelled", "cancelled")
    fulfilled = trust.fulfilled()
    complaints = trust.larger_record("complaint", "complaints", excluded=excluded_event_ids)
    ratings = trust.ratings()
    responses = trust.responses()

    # punctuality, as the platform observed it (a mini-app cannot report these types): accepted
    # within the shop's accept window, ready by the slot's start, delivered by the promised time
    punctual = ev.filter(ev.type.isin(list(_PUNCTUAL)))
    punctual = punctual.mutate(w=trusted.weight(punctual, end, half_life_days))
    on_time = punctual.resolution == "on_time"
    timed = punctual.resolution.isin(["on_time", "late"])
    punctuality = punctual.group_by("miniapp_id").aggregate(
        accepts=_.count(where=timed & (_.type == "order_accepted")),
        accepts_on_time=_.count(where=on_time & (_.type == "order_accepted")),
        w_accepts=_.w.sum(where=timed & (_.type == "order_accepted")),
        w_accepts_on_time=_.w.sum(where=on_time & (_.type == "order_accepted")),
        ready_orders=_.count(where=timed & (_.type == "order_ready")),
        ready_on_time=_.count(where=on_time & (_.type == "order_ready")),
        w_ready_orders=_.w.sum(where=timed & (_.type == "order_ready")),
        w_ready_on_time=_.w.sum(where=on_time & (_.type == "order_ready")),
        deliveries_timed=_.count(where=timed & (_.type == "delivery_done")),
        deliveries_on_time=_.count(where=on_time & (_.type == "delivery_done")),
        w_deliveries_timed=_.w.sum(where=timed & (_.type == "delivery_done")),
        w_deliveries_on_time=_.w.sum(where=on_time & (_.type == "delivery_done")),
    )
    # courier incidents per delivery: the delivery orders seen (delivered, or with an incident)
    # and those with at least one incident (distinct orders grouped first, then counted)
    delivering = ev.filter(ev.type.isin(list(_DELIVERY)))
    delivering = delivering.mutate(w=trusted.weight(delivering, end, half_life_days))
    per_delivery = delivering.group_by(["miniapp_id", "order_id"]).aggregate(
        incidents=_.count(where=_.type == "delivery_incident"), w=_.w.max())
    incidents = per_delivery.group_by("miniapp_id").aggregate(
        deliveries=_.count(), deliveries_with_incident=_.count(where=_.incidents > 0),
        w_deliveries=_.w.sum(), w_deliveries_with_incident=_.w.sum(where=_.incidents > 0))

    # activity, day by day (`day_activity`; average daily active users = user-days / days).
    # One small aggregation per day, each reading only its day's files (their statistics say
    # which), is much cheaper than one over (day, user) pairs of the window; a day the export
    # rolled up is not read at all.
    days = [rolled_up.select(*partitions.ROLLUP_COLUMNS)] if rolled_up is not None else []
    for offset in range(window_days):
        low = start + timedelta(days=offset)
        if low.date() not in rolled_up_days:  # (attributed by `base`, which reads exposures)
            users = _active_users(_during(ev, low, low + timedelta(days=1)))
            days.append(users.select(
                "miniapp_id", merchant_id=ibis.null("int64"), category_code=ibis.null("string"),
                n="n", active=ibis.literal(True),
            ))
    activity = ibis.union(*days, distinct=False).group_by("miniapp_id").aggregate(
        days_active=_.count(where=_.active), active_user_days=_.n.sum(),
        merchant_id=_.merchant_id.max(), category_code=_.category_code.max(),
    )
    attribution = ("miniapp_id", "merchant_id", "category_code")
    present = ibis.union(
        base.select(*attribution), activity.select(*attribution), distinct=False
    ).group_by("miniapp_id").aggregate(
        merchant_id=_.merchant_id.max(), category_code=_.category_code.max()
    )

    # places: cities and communities covered, and the most frequent city (ties go to the
    # alphabetically first city)
    # (the same filter spelt differently: DuckDB would keep a subquery used twice in memory, and
    # two scans of the files are cheaper than materialising the active events)
    located = ev.filter(~ev.type.isin(list(_NOT_ACTIVITY)))
    places = located.group_by(["miniapp_id", "city", "community"]).aggregate(n=_.count())
    by_city = places.filter(_.city != "").group_by(["miniapp_id", "city"]).aggregate(n=_.n.sum())
    ranked = by_city.mutate(
        rn=ibis.row_number().over(group_by="miniapp_id", order_by=[ibis.desc("n"), "city"]),
        cities=_.count().over(group_by="miniapp_id"),
    )
    top_city = ranked.filter(_.rn == 0).select("miniapp_id", "city", "cities")
    communities = (
        places.filter(_.community != "")
        .group_by("miniapp_id")
        .aggregate(communities=_.community.nunique())
    )

    # equal-named join keys are merged by Ibis, and no other column names collide
    joined = present
    for part in (
        base.drop("merchant_id", "category_code"), buyers, refunded, cancelled, fulfilled,
        complaints, ratings, responses, punctuality, incidents,
        activity.drop("merchant_id", "category_code"), top_city, communities,
    ):
        joined = joined.left_join(part, "miniapp_id")
    return _finish(joined, window_days)


# One day's rollup (`partitions.ROLLUP_COLUMNS`): every mini-app with an event that day, its
# attribution (the greatest, as in the metrics), whether a resident was active (an event other
# than an exposure or a punctuality record, `_NOT_ACTIVITY`; a dismissed complaint too) and its
# distinct known residents `n` — the same
# as `_active_users` per day in `metrics_table` (tests/scoring/test_rollups.py holds them
# equal). Plain SQL on a cursor of one DuckDB per process: the export rolls each day up as it
# writes it, and building an Ibis expression and a DuckDB instance per day cost more than the
# aggregation itself at a city's size.
DAY_ACTIVITY_SQL = """
WITH ev AS (
    SELECT miniapp_id, merchant_id, category_code, type, user_sub
    FROM read_parquet($files, hive_partitioning = false)
), shown AS (
    SELECT miniapp_id, max(merchant_id) AS merchant_id, max(category_code) AS category_code
    FROM ev GROUP BY miniapp_id
), users AS (
    SELECT miniapp_id, count(user_sub) FILTER (WHERE user_sub <> '') AS n
    FROM (SELECT DISTINCT miniapp_id, user_sub FROM ev WHERE type NOT IN ({not_activity}))
    GROUP BY miniapp_id
)
SELECT shown.miniapp_id, shown.merchant_id, shown.category_code,
       CAST(coalesce(users.n, 0) AS BIGINT) AS n, users.n IS NOT NULL AS active
FROM shown LEFT JOIN users ON shown.miniapp_id = users.miniapp_id
""".replace(
    "{not_activity}", ", ".join(f"'{t}'" for t in _NOT_ACTIVITY))


def _active_users(events: ibis.Table) -> ibis.Table:
    """Per mini-app with a resident active (an event other than an exposure or a punctuality
    record; a dismissed complaint too), its distinct known users `n`: the day counts as active
    whoever was active, a user-day only for a known user."""
    users = events.filter(~events.type.isin(list(_NOT_ACTIVITY))).select("miniapp_id",
                                                                          "user_sub")
    return users.distinct().group_by("miniapp_id").aggregate(
        n=_.user_sub.count(where=_.user_sub != "")
    )


def _during(t: ibis.Table, start: datetime, end: datetime) -> ibis.Table:
    return t.filter((t.occurred_at >= ibis.literal(start, type="timestamp('UTC')"))
                    & (t.occurred_at < ibis.literal(end, type="timestamp('UTC')")))


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

    def weighed(num: str, den: str, count_den: ibis.Value) -> ibis.Value:
        # the recency-weighted rate (trusted.weight), NULL where nothing was counted
        w_num, w_den = t[f"w_{num}"].fill_null(0), t[f"w_{den}"].fill_null(0)
        return ibis.ifelse(count_den > 0, ibis.least(w_num, w_den).cast(f64)
                           / w_den.nullif(0).cast(f64), ibis.null("float64")).cast(f64)

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
        fulfillment_rate=weighed("fulfilled", "orders", orders),
        cancellation_rate=weighed("cancelled", "orders", orders),
        refund_rate=weighed("refunds", "orders", orders),
        complaint_rate=weighed("complaints", "orders", orders),
        complaint_resolved_share=weighed("complaints_resolved", "complaints", complaints),
        rating_sum=count("rating_sum"),
        rating_count=rating_count,
        rating_avg=ibis.ifelse(rating_count > 0, t.w_rating_sum.fill_null(0).cast(f64)
                               / t.w_rating_count.nullif(0).cast(f64),
                               ibis.null("float64")).cast(f64),
        repurchase_rate=rate(count("repeat_buyers"), buyers),
        response_count=count("response_count"),
        # (to the millisecond: the backends interpolate the percentile a last bit apart)
        response_p90_seconds=t.response_p90_seconds.cast(f64).round(3),
        accepts=count("accepts"),
        accepts_on_time=count("accepts_on_time"),
        accept_on_time_rate=weighed("accepts_on_time", "accepts", count("accepts")),
        ready_orders=count("ready_orders"),
        ready_on_time=count("ready_on_time"),
        ready_on_time_rate=weighed("ready_on_time", "ready_orders", count("ready_orders")),
        deliveries_timed=count("deliveries_timed"),
        deliveries_on_time=count("deliveries_on_time"),
        delivery_on_time_rate=weighed("deliveries_on_time", "deliveries_timed",
                                      count("deliveries_timed")),
        deliveries=count("deliveries"),
        deliveries_with_incident=count("deliveries_with_incident"),
        incident_rate=weighed("deliveries_with_incident", "deliveries", count("deliveries")),
    ).order_by("miniapp_id")


# ---------------------------------------------------------------- running it on Parquet


def write_day_activity(folder: Path) -> None:
    """Roll a day partition up into its activity (`DAY_ACTIVITY_SQL`), written beside its events
    with the names and row counts of the files it was made from (the export calls this before
    it swaps the day in; a reader uses the rollup only while those files are unchanged)."""
    files = partitions.event_files(folder)
    cursor = _rollup_database().cursor()
    try:
        table = cursor.sql(DAY_ACTIVITY_SQL, params={"files": files}).to_arrow_table()
    finally:
        cursor.close()
    meta = {"townsquare.sources": json.dumps(partitions.sources(files)),
            "townsquare.rollup_version": partitions.ROLLUP_VERSION}
    path = Path(folder) / partitions.ACTIVITY_FILE
    path.parent.mkdir(exist_ok=True)
    pq.write_table(table.replace_schema_metadata(meta), path)


@functools.lru_cache(maxsize=1)
def _rollup_database() -> Any:
    """The process's DuckDB for rollups (each takes a cursor: its own connection to it)."""
    import duckdb

    con = duckdb.connect()
    for setting in (
        f"SET threads = {os.cpu_count() or 1}",
        f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'",
        f"SET temp_directory = '{tempfile.gettempdir()}/townsquare-duckdb'",
        "SET preserve_insertion_order = false",
        "SET enable_progress_bar = false",
    ):
        con.execute(setting)
    return con


DUCKDB_MEMORY_LIMIT = "4GB"

EMPTY_EVENTS = pa.schema(
    [
        ("event_id", pa.string()), ("type", pa.string()),
        ("occurred_at", pa.timestamp("us", tz="UTC")),
        ("miniapp_id", pa.int64()), ("merchant_id", pa.int64()),
        ("category_code", pa.string()), ("user_sub", pa.string()), ("city", pa.string()),
        ("community", pa.string()), ("amount_fen", pa.int64()), ("resolution", pa.string()),
        ("rating", pa.int64()), ("response_seconds", pa.int64()), ("order_id", pa.string()),
    ]
)


def compute(
    parquet_dir: Path,
    *,
    as_of: date,
    window_days: int = 28,
    backend: str = "duckdb",
    excluded: Iterable[str] = (),
    memory_limit: str = DUCKDB_MEMORY_LIMIT,
    rollups: bool = True,
    half_life_days: float | None = None,
    self_report_weight: float = 1.0,
) -> pa.Table:
    """Run `metrics_table` over the window's Parquet partitions; returns Arrow, sorted by id.

    Each day's activity comes from the export's rollup of that day when every partition's
    statistics show it holds only its own day's events and the rollup was made from the
    partition's files as they are (`rollups=False`: from the events always). DuckDB uses
    every core and at most `memory_limit`, spilling its hash tables to a temporary directory
    beyond it.
    """
    days = [as_of - timedelta(days=offset) for offset in range(window_days)]
    folder_of = {day: partitions.day_folder(parquet_dir, day) for day in days}
    files_of = {day: partitions.event_files(folder_of[day]) for day in days}
    files = sorted(f for day in days for f in files_of[day])
    excluded = sorted(set(excluded))
    start, end = window_bounds(as_of, window_days)
    by_day = bool(files) and all(
        partitions.inside(files_of[day], *window_bounds(day, 1)) for day in days if files_of[day]
    )
    rolled_up, covered = {}, set()
    if by_day and rollups:
        rolled_up = {day: path for day in days
                     if (path := partitions.rollup(folder_of[day], files_of[day]))}
        # a day without a partition has no events: nothing of it is left to read
        covered = set(rolled_up) | {day for day in days if not files_of[day]}
    if backend == "duckdb":
        con = _duckdb_connect(memory_limit)
        events = (
            con.read_parquet(files, hive_partitioning=False)
            if files else ibis.memtable(EMPTY_EVENTS.empty_table())
        )
        rolled = (con.read_parquet(sorted(rolled_up.values()), hive_partitioning=False)
                  if rolled_up else None)
    elif backend == "pyspark":
        con = _spark_backend()
        events = _spark_events(con, files)
        rolled = _spark_view(con, "activity_rollups", sorted(rolled_up.values()))
    else:
        raise ValueError(f"unknown backend {backend!r}")
    dismissed = None
    if excluded:
        dismissed = ibis.memtable(pa.table({"event_id": pa.array(excluded, pa.string())}))
    expr = metrics_table(
        events, as_of=as_of, window_days=window_days, excluded_event_ids=dismissed,
        in_window=by_day or partitions.inside(files, start, end), rolled_up=rolled,
        rolled_up_days=covered, half_life_days=half_life_days,
        self_report_weight=self_report_weight,
    )
    try:
        return con.to_pyarrow(expr)
    finally:
        if backend == "duckdb":
            con.disconnect()


def _duckdb_connect(memory_limit: str = DUCKDB_MEMORY_LIMIT):
    con = ibis.duckdb.connect()
    for setting in (
        "SET TimeZone = 'UTC'",
        f"SET threads = {os.cpu_count() or 1}",
        f"SET memory_limit = '{memory_limit}'",
        f"SET temp_directory = '{tempfile.gettempdir()}/townsquare-duckdb'",
        "SET preserve_insertion_order = false",  # the result is sorted anyway
    ):
        con.raw_sql(setting)
    return con


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


def _spark_view(con, name: str, files: list[str]) -> ibis.Table | None:
    if not files:
        return None
    con._session.read.parquet(*files).createOrReplaceTempView(name)
    return con.table(name)


def _spark_schema(schema: pa.Schema):
    from pyspark.sql import types as T

    mapping = {
        pa.string(): T.StringType(), pa.int64(): T.LongType(),
        pa.timestamp("us", tz="UTC"): T.TimestampType(),
    }
    return T.StructType([T.StructField(f.name, mapping[f.type], True) for f in schema])
