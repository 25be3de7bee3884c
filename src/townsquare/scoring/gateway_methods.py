"""Scoring through the open gateway: `townsquare.data.service.score.query` answers the calling
mini-app's own service score and tier from the newest finished cycle."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from townsquare.gateway.methods import CallContext, Method
from townsquare.miniapps.models import MiniApp
from townsquare.scoring.current_standings import standings


def score_query(context: CallContext) -> dict[str, Any]:
    miniapp_id = context.app.miniapp_id  # (loading the mini-app row would join four tables)
    found = standings(context.db, miniapp_ids=[miniapp_id])
    if found is None:
        return {"scored": False, "reason": "平台尚未完成任何一个评分周期"}
    standing = found.by_miniapp.get(miniapp_id)
    public_id = context.db.scalar(select(MiniApp.public_id).where(MiniApp.id == miniapp_id))
    answer: dict[str, Any] = {
        "mini_app_id": public_id,
        "cycle_id": found.cycle,
        "as_of": found.as_of.isoformat(),
        "cycle_days": found.cycle_days,
    }
    if standing is None or standing.score is None:
        return {**answer, "scored": False, "reason": "本周期数据不足，暂未评分"}
    return {**answer, "scored": True, "score": f"{standing.score:.1f}", "tier": standing.tier}


METHODS = (
    Method(
        "townsquare.data.service.score.query", "data", score_query,
        "查询本小程序在最新评分周期的服务分与等级", writes=False,
    ),
)
