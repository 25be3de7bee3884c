"""The demo's repairs: technicians `technician` (幸福里小区) and `technician2` (和平花园), added
by each community's property manager, and in the first community a ticket in every state over
the last days (the demo resident's household has one waiting for payment and one confirmed and
rated), so the pages, the reminders and the committee's figures have something to show. Built
through the service, with the clock moved back for each step and put back as it was found;
the paid repair is paid from the demo resident's wallet in the cashier's way (after the
`wallet` step), so the ledger ties out. `seed_outside`: a repair done by an admitted outside
merchant, paid with the community's commission (called by the marketplace's demo)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.accounts import service as accounts
from townsquare.accounts.models import Role, User
from townsquare.community import access
from townsquare.community import communities as community_service
from townsquare.community.models import Community, CommunityRole, CommunityRoleKind, Person
from townsquare.community.repairs import payment
from townsquare.community.repairs import service as repairs
from townsquare.community.repairs.models import RepairTicket
from townsquare.community.services.models import Admission
from townsquare.core.clock import clock
from townsquare.core.settings import Settings
from townsquare.merchants.models import MerchantStaff
from townsquare.payments.wallet import paying
from townsquare.payments.wallet import service as wallet
from townsquare.payments.wallet.demo import DEMO_CARD, DEMO_PIN

TECHNICIANS = (("technician", "维修师傅老赵"), ("technician2", "维修师傅小周"))
# (category, place, location, description, steps, price fen, hours ago reported)
# steps: how far the ticket goes (see _advance)
TICKETS = (
    ("plumbing", "room", "厨房水槽下", "水管接口漏水，地面有积水。", "reported", 0, 0.3),
    ("electrical", "room", "客厅", "客厅插座没电，空开跳闸后合不上。", "assigned", 0, 1),
    ("doors_windows", "room", "主卧窗户", "窗户把手松动，关不严。", "accepted", 0, 2),
    ("lift", "common", "2栋1单元电梯", "电梯按钮失灵，按了没反应。", "on_the_way", 0, 3),
    ("common_area", "common", "3栋楼道", "三楼楼道灯不亮。", "in_progress", 0, 5),
    ("appliance", "room", "卫生间热水器", "热水器打不着火，需要更换点火器。", "awaiting_payment",
     8_000, 20),
    ("plumbing", "room", "卫生间地漏", "地漏堵塞，排水很慢。", "done", 0, 26),
    ("electrical", "room", "厨房", "更换厨房吸顶灯。", "confirmed", 3_500, 50),
    ("other", "common", "小区花园", "花园长椅木条断裂。", "cancelled", 0, 30),
)
ORDER = ("reported", "assigned", "accepted", "on_the_way", "in_progress", "finish")


def _technicians(db: Session, communities: list[Community], password: str) -> list[User]:
    users = []
    for (username, display), community in zip(TECHNICIANS, communities, strict=False):
        user = db.scalar(select(User).where(User.username == username)) or accounts.create_user(
            db, actor=None, username=username, password=password, display_name=display,
            roles=(Role.RESIDENT,))
        manager = db.scalar(select(User).join(CommunityRole, CommunityRole.user_id == User.id)
                            .where(CommunityRole.community_id == community.id,
                                   CommunityRole.role == CommunityRoleKind.PROPERTY_MANAGER))
        community_service.grant_role(db, actor=manager, community=community, username=username,
                                     role="technician")
        users.append(user)
    return users


def _advance(db: Session, ticket_id: str, *, until: str, manager: User, technician: User,
             price: int, start_hours: float) -> None:
    """Move the ticket step by step, each a little later than the one before."""
    minutes = {"assigned": 5, "accepted": 18, "on_the_way": 30, "in_progress": 60,
               "finish": 60 * min(start_hours, 30) * 0.8}
    base = clock.now()
    for step in ORDER[1:]:
        if ORDER.index(step) > ORDER.index(until if until in ORDER else "finish"):
            return
        clock.freeze(base + timedelta(minutes=minutes[step]))
        if step == "assigned":
            repairs.assign(db, actor=manager, ticket_id=ticket_id,
                           technician_username=technician.username)
        elif step == "accepted":
            repairs.accept(db, actor=technician, ticket_id=ticket_id)
        elif step == "on_the_way":
            repairs.on_the_way(db, actor=technician, ticket_id=ticket_id)
        elif step == "in_progress":
            repairs.start(db, actor=technician, ticket_id=ticket_id)
        else:
            repairs.finish(db, actor=technician, ticket_id=ticket_id, price_fen=price,
                           note="已处理" if not price else "更换配件，按物业收费标准收费")


def seed(db: Session, *, settings: Settings, password: str,
         resident_username: str = "resident") -> None:
    """Technicians for both communities and a ticket in every state in the first (the
    resident's household reports three of them and pays one; twice is once)."""
    # a community whose property company can charge (an official pass) comes first: one of
    # its tickets is paid; a demo city without any has no tickets (as bills have none then)
    communities = sorted(
        db.scalars(select(Community).order_by(Community.id)).all()[:2],
        key=lambda c: community_service.official_pass(db, community=c) is None)
    if (not communities or community_service.official_pass(db, community=communities[0]) is None
            or db.scalar(select(User.id).where(User.username == "technician"))):
        return
    technicians = _technicians(db, communities, password)
    community = communities[0]
    manager = db.scalar(select(User).join(CommunityRole, CommunityRole.user_id == User.id)
                        .where(CommunityRole.community_id == community.id,
                               CommunityRole.role == CommunityRoleKind.PROPERTY_MANAGER))
    resident = db.scalar(select(User).where(User.username == resident_username))
    if manager is None or resident is None or db.scalar(select(Person.id).where(
            Person.community_id == community.id, Person.user_id == resident.id)) is None:
        return  # the demo resident's household reports and pays: none here, no tickets
    reporters = [resident] + list(db.scalars(
        select(User).join(Person, Person.user_id == User.id)
        .where(Person.community_id == community.id, User.username != resident_username)
        .order_by(Person.id).limit(8)))
    found = clock.frozen
    now = clock.now()
    try:
        for index, (category, place, location, description, until, price, hours) in enumerate(
                TICKETS):
            # the demo resident's household: the one to pay and the rated one
            neighbours = reporters[1:] or [resident]
            reporter = resident if until in ("awaiting_payment", "confirmed", "reported") \
                else neighbours[index % len(neighbours)]
            clock.freeze(now - timedelta(hours=hours))
            ticket = repairs.report(
                db, actor=reporter, community=community, category=category, place=place,
                location=location, description=description, photos=[],
                idempotency_key=f"demo-repair-{index:02d}", data_dir=Path(settings.data_dir))
            if until == "cancelled":
                repairs.cancel(db, actor=reporter, ticket_id=ticket.public_id,
                               reason="自己修好了")
                continue
            _advance(db, ticket.public_id, until=until, manager=manager,
                     technician=technicians[0], price=price, start_hours=hours)
            if until == "confirmed":
                trade = payment.checkout(db, actor=reporter, ticket_id=ticket.public_id)
                paying.pay_trade(db, settings=settings, actor=reporter, trade_no=trade.trade_no,
                                 method=paying.WALLET, payment_pin=DEMO_PIN)
                repairs.confirm(db, actor=reporter, ticket_id=ticket.public_id)
                repairs.rate(db, actor=reporter, ticket_id=ticket.public_id, stars=5,
                             comment="师傅很专业，准时上门。", settings=settings)
    finally:
        if found is None:
            clock.unfreeze()
        else:
            clock.freeze(found)


# --- a repair by an admitted outside merchant --------------------------------------------------

OUTSIDE_KEY = "demo-outside-repair"
OUTSIDE_PRICE_FEN = 12_000  # ¥120.00: at the demo's 8 %, ¥9.60 to the community
OUTSIDE_TOP_UP_FEN = 20_000


def seed_outside(db: Session, *, settings: Settings, community: Community,
                 admission_id: str, resident_username: str = "resident") -> str | None:
    """The demo resident's household reports a broken range hood; the property manager hands it
    to the admitted outside merchant (`admission_id`), whose owner accepts it and does it for
    ¥120, paid from the resident's wallet in the cashier's way, so the community's commission
    is a line of the property's statement. Called by the marketplace's demo (which admits the
    merchant, after this module's `seed`); twice is once. Answers the ticket's id."""
    resident = db.scalar(select(User).where(User.username == resident_username))
    if resident is None or access.resident_of(db, actor=resident, community=community) is None:
        return None
    known = db.scalar(select(RepairTicket.public_id).where(
        RepairTicket.reporter_id == resident.id, RepairTicket.idempotency_key == OUTSIDE_KEY))
    if known is not None:
        return known
    manager = db.scalar(select(User).join(CommunityRole, CommunityRole.user_id == User.id)
                        .where(CommunityRole.community_id == community.id,
                               CommunityRole.role == CommunityRoleKind.PROPERTY_MANAGER)
                        .order_by(User.id).limit(1))
    admission = db.scalar(select(Admission).where(Admission.public_id == admission_id))
    staff = db.scalar(select(User).join(MerchantStaff, MerchantStaff.user_id == User.id)
                      .where(MerchantStaff.merchant_id == admission.merchant_id)
                      .order_by(MerchantStaff.is_owner.desc(), User.id).limit(1)) \
        if admission is not None else None
    card = next((c for c in wallet.cards(db, user=resident)
                 if c.number_masked.endswith(DEMO_CARD[-4:])), None)
    if manager is None or staff is None or card is None:
        return None
    found, now = clock.frozen, clock.now()
    try:
        clock.freeze(now - timedelta(hours=6))
        ticket = repairs.report(
            db, actor=resident, community=community, category="appliance", place="room",
            location="厨房油烟机", description="油烟机不转，按键没有反应。", photos=[],
            idempotency_key=OUTSIDE_KEY, data_dir=Path(settings.data_dir))
        rep = ticket.public_id
        steps = ((10, lambda: repairs.hand_to_provider(db, actor=manager, ticket_id=rep,
                                                       admission_id=admission_id)),
                 (25, lambda: repairs.accept(db, actor=staff, ticket_id=rep)),
                 (40, lambda: repairs.on_the_way(db, actor=staff, ticket_id=rep)),
                 (70, lambda: repairs.start(db, actor=staff, ticket_id=rep)),
                 (130, lambda: repairs.finish(db, actor=staff, ticket_id=rep,
                                              price_fen=OUTSIDE_PRICE_FEN,
                                              note="更换电机电容，清洗风轮")))
        for minutes, step in steps:
            clock.freeze(now - timedelta(hours=6) + timedelta(minutes=minutes))
            step()
        clock.freeze(now - timedelta(hours=3))
        wallet.top_up(db, settings=settings, actor=resident, card_id=card.public_id,
                      amount_fen=OUTSIDE_TOP_UP_FEN, idempotency_key=OUTSIDE_KEY)
        trade = payment.checkout(db, actor=resident, ticket_id=rep)
        paying.pay_trade(db, settings=settings, actor=resident, trade_no=trade.trade_no,
                         method=paying.WALLET, payment_pin=DEMO_PIN)
        clock.freeze(now - timedelta(hours=2))
        repairs.confirm(db, actor=resident, ticket_id=rep)
        repairs.rate(db, actor=resident, ticket_id=rep, stars=5, comment="上门快，修得好。",
                     settings=settings)
        return rep
    finally:
        if found is None:
            clock.unfreeze()
        else:
            clock.freeze(found)
