"""The demo city's delivery: the first grocery's rider (user `rider`, its staff, on duty) and its
dispatch settings (cheapest within a 45-minute promise, own riders first, ¥4 a ride). The
courier simulators are started by `townsquare demo` (cli.py), not stored here."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.accounts import service as accounts
from townsquare.accounts.models import Role, User
from townsquare.delivery import riders, service
from townsquare.merchants import service as merchants
from townsquare.merchants.models import Merchant

RIDER = "rider"


def seed(db: Session, *, merchants_list: list[Merchant], password: str) -> None:
    """Idempotent: does nothing once the demo rider exists."""
    if db.scalar(select(User.id).where(User.username == RIDER)):
        return
    shop = next((m for m in merchants_list if m.category.code == "grocery"), None)
    if shop is None:
        return
    accounts.create_user(db, actor=None, username=RIDER, password=password,
                         display_name="骑手小王", roles=(Role.RESIDENT,))
    merchants.add_staff(db, actor=None, public_id=shop.public_id, username=RIDER)
    rider = riders.add_rider(db, actor=None, merchant=shop, username=RIDER,
                             phone="13700001234")
    rider.on_duty = True
    service.update_settings(db, actor=None, merchant=shop, policy="cheapest_in_time",
                            promise_minutes=45, self_first=True, providers=[],
                            self_fee_fen=400)
