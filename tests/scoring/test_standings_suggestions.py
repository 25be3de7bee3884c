"""Scoring's public door answers the suggestions a real cycle made for a mini-app, as stored,
largest gain first (what the open gateway's score query hands out)."""

from __future__ import annotations

from sqlalchemy import select

from tests.scoring.cycle_world import AS_OF, build_market
from townsquare.miniapps.models import MiniApp
from townsquare.scoring import cycles
from townsquare.scoring.current_standings import standings, suggestions
from townsquare.scoring.models import MiniAppScore


def test_the_suggestions_of_a_cycle(database, settings):
    market = build_market(database)
    with database.unit_of_work() as db:
        cycle = cycles.run_cycle(db, settings=settings, as_of=AS_OF, actor=None)
        rows = db.scalars(select(MiniAppScore).where(MiniAppScore.cycle_id == cycle.id)).all()
        advised = [r for r in rows if r.suggestions]
        assert advised, "some mini-app is behind its peers on something"
        for row in advised:
            found = suggestions(db, cycle=cycle.public_id, miniapp_id=row.miniapp_id)
            assert [s.metric for s in found] == [
                s["metric"] for s in sorted(row.suggestions, key=lambda s: -s["points"])]
            assert all(s.text_zh and s.text_en and s.points > 0 for s in found)
        ours = db.scalar(select(MiniApp.id).where(MiniApp.public_id == market.ours))
        assert standings(db).cycle == cycle.public_id
        assert suggestions(db, cycle="cyc_nosuchcycle", miniapp_id=ours) == []
