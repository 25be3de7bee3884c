"""A resident with a bound simulated card and a payment PIN."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD
from townsquare.payments.wallet import pin
from townsquare.payments.wallet import service as wallet

CARD = "6217000000000000004"
PIN = "274159"


@pytest.fixture
def resident(database, settings, make_user):
    user = make_user()
    with database.unit_of_work() as db:
        card = wallet.bind_card(db, settings=settings, actor=user, number=CARD)
        pin.set_pin(db, actor=user, password=PASSWORD, pin=PIN)
    return user, card.public_id
