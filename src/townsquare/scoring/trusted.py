"""Trusted signals: how the metrics weigh what the platform observed against what a mini-app
reports about itself, and recent days against older ones (docs/scoring.md, "Trust").

An event is the platform's own record when its stored id begins with `PLATFORM_PREFIX`
(payments' trades and refunds, ordering's order events, the ratings and complaints the platform
collected, replies through its messaging: `events.intake.record` and `record_platform`); any
other id is a mini-app's word (`intake.ingest`: its backend's API, batch or gateway upload).
Per mini-app and window:

- orders, GMV and buyers: the platform's trades where it saw any, the mini-app's word otherwise;
- fulfilments: the platform's, and the mini-app's for orders the platform saw paid (or for any
  order where the platform saw no trade of it), each order once;
- cancellations, refunds, complaints: the larger of the two records, so leaving one unreported
  never helps the merchant and reporting it twice never counts twice;
- ratings: the platform's; the mini-app's from a buyer the platform saw pay it, unless the
  platform collected that buyer's rating itself; nothing from anyone else where the platform saw
  trades, and `self_report_weight` each where it saw none (nothing could corroborate them);
- message responses: the platform's messaging only (a reported fast reply proves nothing).

Each event also carries a recency weight `w` = 0.5 ** (age in whole days / half-life), which the
quality rates and the mean rating use (`_finish`: weighted numerator over weighted denominator).
Only portable Ibis operations are used, as in `metrics`.
"""

from __future__ import annotations

from datetime import datetime

import ibis
from ibis import _

from townsquare.events.models import PLATFORM_PREFIX

DAY_SECONDS = 86400
# Weights are whole numbers of these units, so their sums are exact and a re-run gives the same
# rates to the last bit whatever order the backend adds them in (a float sum would not).
UNIT = 2**20
TRUST_UNIT = 2**10  # a rating's trust (1, 0 or the self-report weight) in whole units


def weight(t: ibis.Table, end: datetime, half_life_days: float | None) -> ibis.Value:
    """Each event's recency weight in `UNIT`s: UNIT on the window's last day, halving every
    half-life (whole days of age, so every event of a day weighs the same); UNIT everywhere
    without a half-life."""
    if not half_life_days:
        return ibis.literal(UNIT, type="int64")
    age = ((ibis.literal(int(end.timestamp()) - 1) - t.occurred_at.epoch_seconds())
           / DAY_SECONDS).floor()
    return (ibis.literal(float(UNIT)) * ibis.literal(0.5) ** (
        age.cast("float64") / float(half_life_days))).round().cast("int64")


def during(t: ibis.Table, start: datetime, end: datetime) -> ibis.Table:
    return t.filter((t.occurred_at >= ibis.literal(start, type="timestamp('UTC')"))
                    & (t.occurred_at < ibis.literal(end, type="timestamp('UTC')")))


def attach(t: ibis.Table, right: ibis.Table, keys: list[str]) -> ibis.Table:
    """`t` left-joined to `right` on `keys`, with right's other columns (NULL where unmatched)."""
    joined = t.left_join(right, [t[k] == right[k] for k in keys])
    return joined.select(*[t[c] for c in t.columns],
                         *[right[c] for c in right.columns if c not in keys])


class Trust:
    """The trust-reconciled aggregations of one window (each an Ibis table keyed by miniapp_id)."""

    def __init__(self, events: ibis.Table, *, start: datetime, end: datetime, in_window: bool,
                 half_life_days: float | None, self_report_weight: float) -> None:
        self.events, self.start, self.end = events, start, end
        self.in_window, self.half_life = in_window, half_life_days
        self.self_report_weight = float(self_report_weight)
        placed = self.of("order_placed")
        mine = placed.filter(_.platform)
        # mini-apps the platform saw a paid trade of, the orders it saw paid and their buyers
        self.seen = mine.group_by("miniapp_id").aggregate(platform_orders=_.count())
        self.paid = mine.select("miniapp_id", "order_id").distinct().mutate(
            paid=ibis.literal(True))
        self.buyers = mine.filter(_.user_sub != "").select("miniapp_id", "user_sub").distinct(
        ).mutate(buyer=ibis.literal(True))

    def of(self, kind: str, *, excluded: ibis.Table | None = None) -> ibis.Table:
        """The window's events of one type, with `platform` (the platform's own record) and `w`."""
        t = self.events.filter(self.events.type == kind)
        if excluded is not None:
            dismissed = excluded.select("event_id").distinct()
            t = t.filter(~t.event_id.isin(dismissed.event_id))
        if not self.in_window:
            t = during(t, self.start, self.end)
        platform = (t.event_id.startswith(PLATFORM_PREFIX) if "event_id" in t.columns
                    else ibis.literal(False))
        return t.mutate(platform=platform, w=weight(t, self.end, self.half_life))

    def orders(self) -> ibis.Table:
        """Orders, GMV, buyers and repeat buyers: the platform's trades where it saw any."""
        placed = self.of("order_placed")
        kept = attach(placed, self.seen, ["miniapp_id"]).filter(
            _.platform | _.platform_orders.isnull())
        per_buyer = kept.group_by(["miniapp_id", "user_sub"]).aggregate(
            n=_.count(), amount=_.amount_fen.sum(), w=_.w.sum())
        known = per_buyer.user_sub != ""
        return per_buyer.group_by("miniapp_id").aggregate(
            orders=_.n.sum(), gmv_fen=_.amount.sum(), unique_buyers=_.count(where=known),
            repeat_buyers=_.count(where=known & (_.n >= 2)), w_orders=_.w.sum(),
        )

    def larger_record(self, kind: str, name: str, *,
                      excluded: ibis.Table | None = None) -> ibis.Table:
        """Counts of an event against the merchant (refund, cancellation, complaint): the
        larger of the platform's and the mini-app's records (ties: the platform's)."""
        t = self.of(kind, excluded=excluded)
        resolved = t.resolution == "resolved"
        per = t.group_by("miniapp_id").aggregate(
            n_p=_.count(where=_.platform), n_r=_.count(where=~_.platform),
            w_p=_.w.sum(where=_.platform), w_r=_.w.sum(where=~_.platform),
            s_p=_.count(where=_.platform & resolved), s_r=_.count(where=~_.platform & resolved),
            ws_p=_.w.sum(where=_.platform & resolved), ws_r=_.w.sum(where=~_.platform & resolved),
        )
        ours = per.n_p >= per.n_r
        columns = {name: ibis.ifelse(ours, per.n_p, per.n_r),
                   f"w_{name}": ibis.ifelse(ours, per.w_p, per.w_r).fill_null(0)}
        if kind == "complaint":
            columns["complaints_resolved"] = ibis.ifelse(ours, per.s_p, per.s_r)
            columns["w_complaints_resolved"] = ibis.ifelse(ours, per.ws_p, per.ws_r).fill_null(0)
        return per.select("miniapp_id", **columns)

    def fulfilled(self) -> ibis.Table:
        """Fulfilled orders: the platform's, and the mini-app's where they agree with it (an
        order the platform saw paid, or any where it saw no trade), each order once."""
        t = self.of("order_fulfilled")
        # (every fulfilment names its order at intake; one without is counted on its own)
        order = t.order_id.fill_null(t.event_id) if "event_id" in t.columns else t.order_id
        t = t.select("miniapp_id", "platform", "w", order_id=order)
        t = attach(attach(t, self.seen, ["miniapp_id"]), self.paid, ["miniapp_id", "order_id"])
        kept = t.filter(_.platform | _.platform_orders.isnull() | _.paid.notnull())
        per_order = kept.group_by(["miniapp_id", "order_id"]).aggregate(w=_.w.max())
        return per_order.group_by("miniapp_id").aggregate(fulfilled=_.count(),
                                                          w_fulfilled=_.w.sum())

    def ratings(self) -> ibis.Table:
        """Ratings weighed by how far the platform can vouch for them (`trust`), and recency."""
        t = self.of("rating").select("miniapp_id", "user_sub", "rating", "platform", "w")
        collected = t.filter(_.platform & (_.user_sub != "")).select(
            "miniapp_id", "user_sub").distinct().mutate(collected=ibis.literal(True))
        t = attach(t, self.seen, ["miniapp_id"])
        t = attach(t, self.buyers, ["miniapp_id", "user_sub"])
        t = attach(t, collected, ["miniapp_id", "user_sub"])
        trust = ibis.cases(
            (t.platform, TRUST_UNIT),
            (t.collected.notnull(), 0),  # the platform has this buyer's own rating
            (t.buyer.notnull(), TRUST_UNIT),  # a buyer the platform saw pay
            (t.platform_orders.notnull(), 0),  # could have been corroborated, was not
            else_=round(self.self_report_weight * TRUST_UNIT),  # nothing could corroborate it
        )
        t = t.mutate(trust=trust).filter(_.trust > 0)
        counted = t.group_by("miniapp_id").aggregate(
            trusted_sum=(_.trust * _.rating).sum(), trusted_count=_.trust.sum(),
            w_rating_sum=(_.trust * _.w * _.rating).sum(), w_rating_count=(_.trust * _.w).sum(),
        )
        unit = float(TRUST_UNIT)
        return counted.select(
            "miniapp_id", "w_rating_sum", "w_rating_count",
            rating_sum=(counted.trusted_sum / unit).round().cast("int64"),
            rating_count=(counted.trusted_count / unit).round().cast("int64"))

    def responses(self) -> ibis.Table:
        """Message responses through the platform's messaging only."""
        t = self.of("message_response").filter(_.platform)
        return t.group_by("miniapp_id").aggregate(
            response_count=_.response_seconds.count(),
            response_p90_seconds=_.response_seconds.quantile(0.9),
        )
