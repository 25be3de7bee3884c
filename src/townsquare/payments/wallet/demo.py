"""The demo city's resident wallet: a simulated bank card, a payment PIN and a balance, so the
cashier works at once in `make demo` (the PIN can be changed on /me/wallet with the password)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.core.settings import Settings
from townsquare.payments.wallet import pin
from townsquare.payments.wallet import service as wallet

DEMO_CARD = "6217000000000000004"  # a simulated bank card (¥10,000 of play money)
DEMO_PIN = "274159"
DEMO_BALANCE_FEN = 500_00


def prepare(db: Session, *, settings: Settings, user: User, password: str) -> None:
    """Bind the demo card, set the demo PIN and top the wallet up (idempotent by its key)."""
    card = wallet.bind_card(db, settings=settings, actor=user, number=DEMO_CARD)
    if not pin.has_pin(db, user=user):
        pin.set_pin(db, actor=user, password=password, pin=DEMO_PIN)
    wallet.top_up(db, settings=settings, actor=user, card_id=card.public_id,
                  amount_fen=DEMO_BALANCE_FEN, idempotency_key="demo-city")
