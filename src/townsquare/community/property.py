"""Who sells for a community's property company: its official pass mini-app's merchant.

The property company's own services, repair charges and fee bills are trades of that mini-app
(created under its gateway app by the system, paid in the cashier, settled to that merchant's
ledger accounts); outside merchants admitted to the community sell under their own mini-apps
with the community's commission split off. A community without an official pass mini-app has no
property merchant yet and cannot charge residents."""

from __future__ import annotations

from sqlalchemy.orm import Session

from townsquare.community import communities
from townsquare.community.models import Community
from townsquare.core.errors import Conflict
from townsquare.merchants.models import Merchant
from townsquare.miniapps.models import MiniApp


class NoPropertyMerchant(Conflict):
    code = "no_property_merchant"


def property_miniapp(db: Session, community: Community) -> MiniApp:
    """The mini-app the property company charges residents through (its official pass)."""
    miniapp = communities.official_pass(db, community=community)
    if miniapp is None:
        raise NoPropertyMerchant(
            "This community has no official pass mini-app, so its property company cannot "
            "charge residents yet."
        )
    return miniapp


def property_merchant(db: Session, community: Community) -> Merchant:
    return property_miniapp(db, community).merchant
