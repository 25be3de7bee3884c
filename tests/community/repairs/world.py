"""A community with an official pass mini-app (so the property company can charge), a verified
household of two (张三 and 李四), a neighbour's household (王五), two technicians and money in
the residents' wallets."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from sqlalchemy import select

from tests.community import world as w
from tests.miniapps.shell_data import make_miniapp
from tests.ordering.orders.world import PIN, fund
from townsquare.accounts.models import Role, User
from townsquare.community import communities, residents
from townsquare.community.repairs import payment
from townsquare.community.repairs import service as repairs
from townsquare.community.repairs.models import RepairTicket
from townsquare.core.database import Database
from townsquare.core.settings import Settings
from townsquare.payments.wallet import paying


@dataclass
class World:
    base: w.World
    com: str
    manager: User
    committee: User
    head: User  # 张三
    spouse: User  # 李四, same household
    neighbour: User  # 王五, another household
    technician: User
    other_technician: User
    data_dir: Path
    pass_app: str


def jpeg(side: int = 200, colour: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (side, side), colour).save(out, "JPEG")
    return out.getvalue()


def build(database: Database, settings: Settings, make_user) -> World:
    base = w.build(database, settings, make_user)
    spouse = make_user(Role.RESIDENT, username="lisi")
    neighbour = make_user(Role.RESIDENT, username="wangwu")
    technician = make_user(Role.RESIDENT, username="tech")
    other_technician = make_user(Role.RESIDENT, username="tech2")
    pass_app = make_miniapp(database, name="幸福小区通行证", runtime="community_pass",
                            config={"community": base.com, "welcome": "欢迎"}).id
    with database.unit_of_work() as db:
        community = w.community(db, base.com)
        pm = db.get_one(User, base.manager.id)
        communities.choose_pass_miniapp(db, actor=pm, community=community, miniapp_id=pass_app)
        for username in ("tech", "tech2"):
            communities.grant_role(db, actor=pm, community=community, username=username,
                                   role="technician")
        for user, name, number in ((base.resident, "张三", w.HEAD_ID),
                                   (spouse, "李四", w.SPOUSE_ID),
                                   (neighbour, "王五", w.OTHER_ID)):
            residents.verify(db, settings=settings, actor=db.get_one(User, user.id),
                             community=community, real_name=name, id_number=number)
    for user in (base.resident, spouse):
        fund(database, user)
    return World(base, base.com, base.manager, base.committee, base.resident, spouse, neighbour,
                 technician, other_technician, settings.data_dir, pass_app)


def report(database: Database, world: World, *, key: str = "report-0001", user: User | None = None,
           photos: list[bytes] | None = None, **fields) -> str:
    with database.unit_of_work() as db:
        community = w.community(db, world.com)
        ticket = repairs.report(
            db, actor=db.get_one(User, (user or world.head).id), community=community,
            category=fields.get("category", "plumbing"), place=fields.get("place", "room"),
            location=fields.get("location", "厨房水槽下"),
            description=fields.get("description", "水管漏水，地面积水"),
            photos=photos or [], idempotency_key=key, data_dir=world.data_dir)
        return ticket.public_id


def act(database: Database, user: User | None, move, ticket_id: str, **kwargs) -> RepairTicket:
    with database.unit_of_work() as db:
        actor = db.get_one(User, user.id) if user is not None else None
        ticket = move(db, actor=actor, ticket_id=ticket_id, **kwargs)
        db.expunge(ticket)
        return ticket


def to_in_progress(database: Database, world: World, ticket_id: str) -> None:
    act(database, world.manager, repairs.assign, ticket_id, technician_username="tech")
    act(database, world.technician, repairs.accept, ticket_id)
    act(database, world.technician, repairs.on_the_way, ticket_id)
    act(database, world.technician, repairs.start, ticket_id)


def pay(database: Database, settings: Settings, world: World, ticket_id: str,
        user: User | None = None) -> str:
    """As the resident does: choose to pay, then the cashier with the wallet and the PIN."""
    payer = user or world.head
    with database.unit_of_work() as db:
        trade = payment.checkout(db, actor=db.get_one(User, payer.id), ticket_id=ticket_id)
        trade_no = trade.trade_no
    with database.unit_of_work() as db:
        paying.pay_trade(db, settings=settings, actor=db.get_one(User, payer.id),
                         trade_no=trade_no, method=paying.WALLET, payment_pin=PIN)
    return trade_no


def ticket(db, public_id: str) -> RepairTicket:
    return db.scalars(select(RepairTicket).where(RepairTicket.public_id == public_id)
                      .execution_options(populate_existing=True)).one()
