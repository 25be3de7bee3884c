"""Scoring through the open gateway: `townsquare.data.service.score.query` answers the calling
mini-app's own service score and tier from the newest finished cycle, with that cycle's
suggestions (what to improve, and how many points catching up with the peers' median is worth)."""

from __future__ import annotations

from typing import Any

from townsquare.core.i18n import N_
from townsquare.gateway.app_auth import MINI_APP_FIELD
from townsquare.gateway.methods import CallContext, Method
from townsquare.gateway.schema import Example
from townsquare.scoring.current_standings import standings, suggestions


def _suggestions(context: CallContext, cycle: str, miniapp_id: int) -> list[dict[str, Any]]:
    return [
        {"metric": s.metric, "label": s.label_zh, "label_en": s.label_en, "text": s.text_zh,
         "text_en": s.text_en, "points_gained": f"{s.points:.1f}",
         **({"current": s.current} if s.current is not None else {}),
         **({"median": s.median} if s.median is not None else {})}
        for s in suggestions(context.db, cycle=cycle, miniapp_id=miniapp_id)
    ]


def score_query(context: CallContext) -> dict[str, Any]:
    miniapp = context.miniapp()  # an ISV app names one of its merchant's: biz mini_app_id
    found = standings(context.db, miniapp_ids=[miniapp.id])
    if found is None:
        return {"scored": False, "reason": "平台尚未完成任何一个评分周期"}
    standing = found.by_miniapp.get(miniapp.id)
    answer: dict[str, Any] = {
        "mini_app_id": miniapp.public_id,
        "cycle_id": found.cycle,
        "as_of": found.as_of.isoformat(),
        "cycle_days": found.cycle_days,
    }
    if standing is None or standing.score is None:
        return {**answer, "scored": False, "reason": "本周期数据不足，暂未评分"}
    return {**answer, "scored": True, "score": f"{standing.score:.1f}", "tier": standing.tier,
            "suggestions": _suggestions(context, found.cycle, miniapp.id)}


METHODS = (
    Method(
        "townsquare.data.service.score.query", "data", score_query,
        N_("The mini-app's service score and tier in the newest finished scoring cycle, with "
           "that cycle's suggestions."),
        (MINI_APP_FIELD,),
        Example({}, {
            "mini_app_id": "mp_5Tq9Lw2Hc8Xv", "cycle_id": "cyc_3Nf7Qa1Zr6Bk",
            "as_of": "2026-11-30", "cycle_days": 28, "scored": True, "score": "78.4",
            "tier": "silver",
            "suggestions": [{
                "metric": "fulfilment_minutes", "label": "履约时长",
                "label_en": "Fulfilment time",
                "text": "履约时长比同类中位数慢 6 分钟，追平可得约 3.2 分",
                "text_en": "Fulfilment is 6 minutes slower than the category median; catching "
                           "up is worth about 3.2 points",
                "points_gained": "3.2", "current": 34.0, "median": 28.0,
            }],
        }),
        writes=False,
    ),
)
