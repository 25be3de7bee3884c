"""Points through the open gateway: `townsquare.marketing.points.query` answers the balance of
the calling mini-app's merchant and its newest ledger lines."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from townsquare.gateway.methods import CallContext, Method
from townsquare.gateway.protocol.errors import invalid
from townsquare.traffic.models import PointsEntry
from townsquare.traffic.support import points

MAX_ENTRIES = 50


def points_query(context: CallContext) -> dict[str, Any]:
    merchant_id = context.merchant.id  # an ISV app: the merchant its app_auth_token names
    raw_limit = context.biz.get("limit", 20)
    if isinstance(raw_limit, bool) or not str(raw_limit).isdigit():
        raise invalid("parameter", f"limit 须为 0 到 {MAX_ENTRIES} 的整数")
    limit = int(raw_limit)
    if limit > MAX_ENTRIES:
        raise invalid("parameter", f"limit 须为 0 到 {MAX_ENTRIES} 的整数")
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
        "查询本小程序所属商家的积分余额与最近的积分流水",
        {"limit": "返回的流水条数，0 到 50，默认 20"}, writes=False,
    ),
)
