"""A trade world with receivers: an ISV the merchant authorizes, one it does not, and a
community; short ways to bind them and to make a paid trade."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from tests.payments.trades import trade_world
from townsquare.community.models import Community
from townsquare.core.clock import clock
from townsquare.merchants.models import Authorization, Merchant, ServiceProvider
from townsquare.miniapps.models import MiniApp


@dataclass(frozen=True)
class Receivers:
    isv: str  # public id of an ISV the merchant authorizes
    isv_id: int
    stranger: str  # an ISV the merchant never authorized
    community: str
    community_id: int
    merchant: str  # the merchant's public id
    merchant_id: int


def build(database, settings, make_user, *, wallet_fen: int = 100_000):
    world = trade_world.build(database, settings, make_user, wallet_fen=wallet_fen)
    with database.unit_of_work() as db:
        miniapp = db.scalar(select(MiniApp).where(MiniApp.public_id == world.miniapp_id))
        merchant = db.get(Merchant, miniapp.merchant_id)
        isv = ServiceProvider(name="云帆科技")
        stranger = ServiceProvider(name="别家服务商")
        community = Community(name="幸福里小区")
        db.add_all([isv, stranger, community])
        db.flush()
        db.add(Authorization(merchant_id=merchant.id, provider_id=isv.id,
                             granted_by_id=world.owner.id, granted_at=clock.now()))
        db.flush()
        receivers = Receivers(isv.public_id, isv.id, stranger.public_id, community.public_id,
                              community.id, merchant.public_id, merchant.id)
    return world, receivers


def merchant_of(db, receivers: Receivers) -> Merchant:
    return db.get(Merchant, receivers.merchant_id)


def paid_trade(database, world, out_trade_no: str = "T-1", total_fen: int = 10_000) -> str:
    with database.unit_of_work() as db:
        trade = trade_world.create(db, world, out_trade_no, total_fen)
        return trade_world.pay(db, trade.trade_no, world.resident.id,
                               key=f"pay-{out_trade_no}").trade_no
