"""A world for trade tests: the gateway world (a mini-app with a gateway app granted `payment`,
a resident), a wallet funded by a top-up entry, and short ways to create and pay trades."""

from __future__ import annotations

from sqlalchemy import select

from tests.gateway import gateway_world
from townsquare.accounts.models import User
from townsquare.core.database import Database
from townsquare.gateway.models import GatewayApp
from townsquare.payments import ledger
from townsquare.payments.ledger import accounts
from townsquare.payments.trades import service
from townsquare.payments.trades.models import Trade

PACKAGES = ("identity", "payment")


def build(database: Database, settings, make_user, *, wallet_fen: int = 100_000):
    world = gateway_world.build(database, settings, make_user, packages=PACKAGES)
    if wallet_fen:
        top_up(database, world.resident.id, wallet_fen)
    return world


def top_up(database: Database, user_id: int, fen: int, key: str | None = None) -> None:
    with database.unit_of_work() as db:
        ledger.post(db, kind="top_up", reference=f"test-top-up-{user_id}",
                    legs={accounts.BANK_CLEARING: -fen, accounts.wallet(user_id): fen},
                    idempotency_key=key)


def app_of(db, world) -> GatewayApp:
    return db.scalar(select(GatewayApp).where(GatewayApp.app_id == world.app_id))


def create(db, world, out_trade_no: str = "T-1", total_fen: int = 1_250, *,
           subject: str = "苹果 2 斤", notify_url: str = "", timeout_minutes: int = 120) -> Trade:
    app = app_of(db, world)
    return service.create(
        db, app=app, merchant_id=app.miniapp.merchant_id, miniapp_id=app.miniapp_id,
        out_trade_no=out_trade_no, total_fen=total_fen, subject=subject,
        product_code="FACE_TO_FACE_PAYMENT", timeout_minutes=timeout_minutes,
        notify_url=notify_url, return_url="",
        content_digest=service.digest(total_fen=total_fen, subject=subject),
    )


def pay(db, trade_no: str, user_id: int, key: str = "pay-1") -> Trade:
    payer = db.get(User, user_id)
    return service.pay(db, trade_no=trade_no, payer=payer, source=accounts.wallet(user_id),
                       fund_channel="ALIPAYACCOUNT", funding_reference="", idempotency_key=key)
