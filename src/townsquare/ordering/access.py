"""Who may manage a merchant's stores, catalog and slots: `merchants.access`, asked once here
so every ordering service checks the same way (its staff, or an authorized provider's)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.core.errors import PermissionDenied
from townsquare.merchants import access
from townsquare.merchants.models import Merchant
from townsquare.merchants.service import merchant_for_actor


def merchant(db: Session, *, actor: User | None, merchant_id: str) -> Merchant:
    """The merchant (by public id) the actor may act for; outsiders learn nothing."""
    return merchant_for_actor(db, actor=actor, public_id=merchant_id)


def require(db: Session, actor: User | None, merchant_row_id: int) -> Merchant:
    """The merchant owning a row the actor asked for; same refusal as for a missing row."""
    found = db.get(Merchant, merchant_row_id)
    if found is None or not access.can_act_for(db, actor, found):
        raise PermissionDenied("You cannot act for this merchant.")
    return found
