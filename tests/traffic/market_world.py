"""Helpers for the channels, topics and bids tests: an authorized ISV and a snapshot of the rows a
rejected request must leave untouched."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from townsquare.accounts.models import Role, User
from townsquare.core.audit import AuditEntry
from townsquare.core.database import Database
from townsquare.merchants import authorizations, providers
from townsquare.traffic.models import AdClick, Bid, BidSpend, Channel, Topic, TopicMember


def authorized_isv(database: Database, make_user, *, merchant_public_id: str) -> User:
    """Staff of a provider the merchant authorizes (may act for it without being its staff)."""
    user = make_user(Role.ISV_STAFF, username="isv_staff")
    with database.unit_of_work() as db:
        provider = providers.create_provider(db, actor=None, name="Pine ISV",
                                             staff_username=user.username)
        authorizations.grant(db, actor=None, merchant_id=merchant_public_id,
                             provider_id=provider.public_id)
    with database.unit_of_work() as db:
        user = db.get(User, user.id)
        assert user is not None and user.roles
        return user


def snapshot(database: Database) -> dict[str, Any]:
    """Every market row as plain tuples, to compare before and after a refused request."""
    with database.unit_of_work() as db:
        return {
            "channels": [(c.slug, c.title_zh, c.title_en, list(c.category_codes), c.position)
                         for c in db.scalars(select(Channel).order_by(Channel.id))],
            "topics": [(t.slug, t.title_zh, t.title_en, t.description_zh, t.description_en,
                        list(t.category_codes), list(t.tags), t.active)
                       for t in db.scalars(select(Topic).order_by(Topic.id))],
            "members": [(m.public_id, m.state, m.note, m.reason)
                        for m in db.scalars(select(TopicMember).order_by(TopicMember.id))],
            "bids": [(b.public_id, b.target_kind, b.target, b.max_cpc_fen, b.daily_budget_fen,
                      b.active) for b in db.scalars(select(Bid).order_by(Bid.id))],
            "spend": [(s.bid_id, s.day, s.budget_fen, s.spent_fen, s.clicks, s.impressions)
                      for s in db.scalars(select(BidSpend).order_by(BidSpend.id))],
            "clicks": [(c.token_digest, c.price_fen)
                       for c in db.scalars(select(AdClick).order_by(AdClick.id))],
            "audit": len(list(db.scalars(select(AuditEntry.id)))),
        }


API_ROLES = ("owner", "other_owner", "resident", "operator")


def tokens(world: Any, token_for) -> dict[str, dict[str, str]]:
    """Bearer headers of the world's owner, other owner, resident and operator."""
    return {name: token_for(getattr(world, name)) for name in API_ROLES}


def api_error(response, status: int, code: str) -> dict[str, Any]:
    """The error envelope of a refused call, checked for its status and code."""
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    return response.json()["error"]
