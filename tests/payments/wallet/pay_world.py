"""A world for paying trades: the gateway world (a mini-app whose gateway app has `payment`, a
resident) where the resident has bound a simulated card, set a payment PIN and topped up."""

from __future__ import annotations

from sqlalchemy import select

from tests.conftest import PASSWORD
from tests.gateway import gateway_world
from townsquare.accounts.models import User
from townsquare.gateway.models import GatewayApp
from townsquare.payments.trades import service as trades
from townsquare.payments.trades.models import Trade
from townsquare.payments.wallet import pin
from townsquare.payments.wallet import service as wallet

CARD = "6217000000000000004"
PIN = "274159"


def build(database, settings, make_user, *, wallet_fen: int = 100_000):
    world = gateway_world.build(database, settings, make_user, packages=("identity", "payment"))
    with database.unit_of_work() as db:
        user = db.get(User, world.resident.id)
        card = wallet.bind_card(db, settings=settings, actor=user, number=CARD)
        pin.set_pin(db, actor=user, password=PASSWORD, pin=PIN)
        if wallet_fen:
            wallet.top_up(db, settings=settings, actor=user, card_id=card.public_id,
                          amount_fen=wallet_fen, idempotency_key="world")
    return world, card.public_id


def app_of(db, world) -> GatewayApp:
    return db.scalar(select(GatewayApp).where(GatewayApp.app_id == world.app_id))


def create(db, world, out_trade_no: str = "T-1", total_fen: int = 1_250, *,
           subject: str = "苹果 2 斤", timeout_minutes: int = 120, return_url: str = "",
           product_code: str = "FACE_TO_FACE_PAYMENT", buyer_user_id: int | None = None
           ) -> Trade:
    app = app_of(db, world)
    return trades.create(
        db, app=app, merchant_id=app.miniapp.merchant_id, miniapp_id=app.miniapp_id,
        out_trade_no=out_trade_no, total_fen=total_fen, subject=subject,
        product_code=product_code, timeout_minutes=timeout_minutes, notify_url="",
        return_url=return_url, buyer_user_id=buyer_user_id,
        content_digest=trades.digest(total_fen=total_fen, subject=subject),
    )
