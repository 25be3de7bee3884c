"""Behaviour events through the open gateway: `townsquare.data.behaviour.batch.upload` takes a
batch the way `POST /api/events/batch` does, through the same intake (same validation, same
idempotency on the sender's `event_id`, same distrust of what the mini-app reports): the calling
app's mini-app is the reporter, exactly as the JSON API's client credentials make it."""

from __future__ import annotations

from typing import Any

from townsquare.core.i18n import N_
from townsquare.events import intake
from townsquare.gateway.app_auth import MINI_APP_FIELD
from townsquare.gateway.methods import CallContext, Method
from townsquare.gateway.schema import Example, Field


def batch_upload(context: CallContext) -> dict[str, Any]:
    outcomes = intake.ingest(context.db, client=context.miniapp(),
                             events=context.values["events"])
    count = {status: sum(o.status == status for o in outcomes)
             for status in ("accepted", "duplicate", "rejected")}
    return {
        "accepted": count["accepted"], "duplicates": count["duplicate"],
        "rejected": count["rejected"],
        "results": [{"index": o.index, "event_id": o.event_id, "status": o.status}
                    for o in outcomes],
        "errors": [{"index": o.index, "event_id": o.event_id, "code": o.code,
                    "message": o.message, **({"field": o.field} if o.field else {})}
                   for o in outcomes if o.status == "rejected"],
    }


METHODS = (
    Method(
        "townsquare.data.behaviour.batch.upload", "data", batch_upload,
        N_("Report up to 500 behaviour events of the mini-app (orders, fulfilments, ratings "
           "…), each accepted once: a re-sent event_id is a duplicate, a bad event is rejected "
           "alone. Same rules as POST /api/events/batch (docs/scoring.md)."),
        (
            Field("events", "array", N_("1 to 500 events, each shaped like the JSON API's "
                                        "event (event_id, type, occurred_at, sub and the "
                                        "type's measures). biz_content is at most 64 KB."),
                  required=True, minimum=1, max_length=intake.MAX_BATCH),
            MINI_APP_FIELD,
        ),
        Example(
            {"events": [
                {"event_id": "order-A17:placed", "type": "order_placed",
                 "occurred_at": "2026-12-07T14:03:21+08:00",
                 "sub": "ou_0f3c2a9d8b7e6f5a4c3b2a1908f7e6d5", "order_id": "A-17",
                 "amount_fen": 1250},
                {"event_id": "order-A17:rated", "type": "rating",
                 "occurred_at": "2026-12-07T14:40:00+08:00",
                 "sub": "ou_0f3c2a9d8b7e6f5a4c3b2a1908f7e6d5", "rating": 9},
            ]},
            {"accepted": 1, "duplicates": 0, "rejected": 1,
             "results": [{"index": 0, "event_id": "order-A17:placed", "status": "accepted"},
                         {"index": 1, "event_id": "order-A17:rated", "status": "rejected"}],
             "errors": [{"index": 1, "event_id": "order-A17:rated", "code": "invalid",
                         "message": "字段 rating 须为 1 到 5 之间的整数。", "field": "rating"}]},
        ),
    ),
)
