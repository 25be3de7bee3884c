"""Points through the open gateway: `townsquare.marketing.points.query` answers the balance of
the calling mini-app's merchant and its newest ledger lines."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from townsquare.core.i18n import N_
from townsquare.gateway.methods import CallContext, Method
from townsquare.gateway.schema import Example, Field
from townsquare.traffic.models import PointsEntry
from townsquare.traffic.support import points

MAX_ENTRIES = 50


def points_query(context: CallContext) -> dict[str, Any]:
    merchant_id = context.merchant_id  # an ISV app: the merchant its app_auth_token names
    limit = context.values["limit"]
    entries = context.db.scalars(
        select(PointsEntry).where(PointsEntry.merchant_id == merchant_id)
        .order_by(PointsEntry.created_at.desc(), PointsEntry.id.desc()).limit(limit)
    )
    return {
        "balance": points.balance(context.db, merchant_id=merchant_id),
        "entries": [
            {"entry_id": e.public_id, "kind": e.kind.value, "delta": e.delta,
             "balance_after": e.balance_after, "rule": e.rule,
             "created_at": e.created_at.isoformat()}
            for e in entries
        ],
    }


METHODS = (
    Method(
        "townsquare.marketing.points.query", "marketing", points_query,
        N_("The points balance of the mini-app's merchant and its newest ledger lines."),
        (
            Field("limit", "integer", N_("How many ledger lines to answer, newest first."),
                  minimum=0, maximum=MAX_ENTRIES, default=20),
        ),
        Example({"limit": 2}, {
            "balance": 1250,
            "entries": [
                {"entry_id": "pts_7Hx2Mc9Qw4Ra", "kind": "earn", "delta": 50,
                 "balance_after": 1250, "rule": "complete_profile",
                 "created_at": "2026-12-07T06:03:21+00:00"},
                {"entry_id": "pts_2Lb8Vn5Kt1Ze", "kind": "redeem", "delta": -300,
                 "balance_after": 1200, "rule": "exposure_pack",
                 "created_at": "2026-12-06T09:41:07+00:00"},
            ],
        }),
        writes=False,
    ),
)
