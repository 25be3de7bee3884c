"""The property company sells through its community's official pass mini-app."""

from __future__ import annotations

import pytest

from townsquare.community import property as property_seller
from townsquare.community.models import Community


def test_a_community_without_an_official_pass_cannot_charge(database):
    with database.unit_of_work() as db:
        community = Community(name="无通行证小区", city="武汉")
        db.add(community)
        db.flush()
        with pytest.raises(property_seller.NoPropertyMerchant) as refused:
            property_seller.property_merchant(db, community)
        assert refused.value.status == 409
