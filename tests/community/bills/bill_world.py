"""The community world (tests/community/world.py) with an official pass mini-app (the property's
merchant), two verified members of household 1-1-101 (张三 and 李四) with money and a PIN,
an outsider verified in 2-1-101 (王五), and room areas."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from tests.community import world as w
from tests.miniapps.shell_data import make_miniapp
from tests.ordering.orders.world import PIN, fund
from townsquare.accounts.models import Role, User
from townsquare.community import communities, residents
from townsquare.community.bills import service as bills
from townsquare.community.bills.models import Bill
from townsquare.community.models import Household, Room
from townsquare.core.database import Database
from townsquare.core.settings import Settings
from townsquare.miniapps.models import MiniApp
from townsquare.payments.wallet import paying

__all__ = ["PIN", "BillWorld", "build", "issue", "pay_in_cashier", "household"]


@dataclass
class BillWorld:
    base: w.World
    com: str
    miniapp: str
    merchant_id: int
    head: User  # 张三, 1-1-101
    spouse: User  # 李四, 1-1-101
    neighbour: User  # 王五, 2-1-101


def build(database: Database, settings: Settings, make_user) -> BillWorld:
    base = w.build(database, settings, make_user)
    official = make_miniapp(database, name="幸福小区通行证", runtime="community_pass",
                            config={"community": base.com, "welcome": "欢迎"}).id
    spouse = make_user(Role.RESIDENT, username="lisi")
    neighbour = make_user(Role.RESIDENT, username="wangwu")
    with database.unit_of_work() as db:
        com = w.community(db, base.com)
        communities.choose_pass_miniapp(db, actor=None, community=com, miniapp_id=official)
        for user, name, id_number in ((base.resident, "张三", w.HEAD_ID),
                                      (spouse, "李四", w.SPOUSE_ID),
                                      (neighbour, "王五", w.OTHER_ID)):
            residents.verify(db, settings=settings, actor=db.get_one(User, user.id),
                             community=com, real_name=name, id_number=id_number)
        for room in db.scalars(select(Room).where(Room.community_id == com.id)):
            room.area_dm2 = {"101": 8937, "102": 12000}[room.number] \
                if room.building == "1" else None
        merchant_id = db.scalar(select(MiniApp.merchant_id).where(MiniApp.public_id == official))
    for user in (base.resident, spouse, neighbour):
        fund(database, user)
    return BillWorld(base, base.com, official, merchant_id or 0, base.resident, spouse,
                     neighbour)


def household(db, world: BillWorld, label: str) -> Household:
    com = w.community(db, world.com)
    building, unit, number = label.split("-")
    room = communities.find_room(db, community=com, building=building, unit=unit, number=number)
    assert room is not None
    return db.scalars(select(Household).where(Household.room_id == room.id)).one()


def issue(database: Database, world: BillWorld, label: str = "1-1-101", item: str = "物业费",
          period: str = "2026-11", fen: int = 22343, due: date = date(2026, 11, 15)) -> str:
    with database.unit_of_work() as db:
        bill, _ = bills.issue(db, actor=None, community=w.community(db, world.com),
                              household=household(db, world, label), item=item,
                              period=period, amount_fen=fen, due_date=due)
        return bill.public_id


def pay_in_cashier(database: Database, settings: Settings, user: User, trade_no: str) -> None:
    """As the cashier's POST does: the wallet, after the PIN, in one unit of work."""
    with database.unit_of_work() as db:
        paying.pay_trade(db, settings=settings, actor=db.get_one(User, user.id),
                         trade_no=trade_no, method=paying.WALLET, payment_pin=PIN)


def bill(db, public_id: str) -> Bill:
    return db.scalars(select(Bill).where(Bill.public_id == public_id)).one()
