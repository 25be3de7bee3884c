"""The marketplace through its services: the catalog, the admission lifecycle and who may move
it, a booking paid in the cashier with the community's commission split off by the ledger
(balanced, exact to the fen, given back in proportion with a refund), status, rating and
complaint as behaviour events, and the statements."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.community import world as cw
from tests.community.services import world as w
from tests.ordering.orders import world as ow
from townsquare.accounts.models import User
from townsquare.community.services import admissions, bookings, catalog, statements
from townsquare.community.services.models import AdmissionStatus, BookingStatus
from townsquare.core.errors import NotFound, PermissionDenied, ValidationFailed
from townsquare.events.models import BehaviourEvent
from townsquare.ordering import SlotFull
from townsquare.payments import ledger, trades
from townsquare.payments.ledger import accounts
from townsquare.payments.ledger.models import LedgerAccount


@pytest.fixture
def world(database, settings, make_user):
    return w.build(database, settings, make_user)


def _user(db, user: User) -> User:
    return db.get_one(User, user.id)


def _apply(database, world) -> str:
    with database.unit_of_work() as db:
        return admissions.apply(db, actor=_user(db, world.water_staff),
                                community=cw.community(db, world.com),
                                miniapp_id=world.water_app, offer="桶装水送货上门").public_id


def test_only_the_property_manager_of_that_community_decides(database, world):
    adm = _apply(database, world)
    b = world.base
    with database.unit_of_work() as db:
        community = cw.community(db, world.com)
        for outsider in (b.other_manager, b.committee, b.resident, world.water_staff, b.guard):
            with pytest.raises(PermissionDenied):
                admissions.approve(db, actor=_user(db, outsider), community=community,
                                   admission_id=adm, commission_bp=500)
            with pytest.raises(PermissionDenied):
                admissions.refuse(db, actor=_user(db, outsider), community=community,
                                  admission_id=adm, reason="不要")
        with pytest.raises(ValidationFailed):  # above 30 %
            admissions.approve(db, actor=_user(db, b.manager), community=community,
                               admission_id=adm, commission_bp=3001)
        assert admissions.get(db, community=community,
                              admission_id=adm).status is AdmissionStatus.APPLIED


def test_refused_with_a_reason_and_the_service_cannot_be_listed(database, world):
    adm = _apply(database, world)
    with database.unit_of_work() as db:
        community = cw.community(db, world.com)
        pm = _user(db, world.base.manager)
        with pytest.raises(ValidationFailed):
            admissions.refuse(db, actor=pm, community=community, admission_id=adm, reason=" ")
        done = admissions.refuse(db, actor=pm, community=community, admission_id=adm,
                                 reason="本小区已有水站")
        assert (done.status, done.reason) == (AdmissionStatus.REFUSED, "本小区已有水站")
        with pytest.raises(ValidationFailed):
            catalog.add(db, actor=pm, community=community, name="桶装水", price_fen=1888,
                        store_id=world.water_store, sku_id=world.water_sku, admission_id=adm)


def test_a_stranger_cannot_apply_for_a_merchant(database, world):
    with database.unit_of_work() as db, pytest.raises(PermissionDenied):
        admissions.apply(db, actor=_user(db, world.base.outsider),
                         community=cw.community(db, world.com),
                         miniapp_id=world.water_app, offer="冒充")


def test_either_side_ends_and_the_service_leaves_the_residents_page(database, world):
    adm, svc = w.admit(database, world)
    with database.unit_of_work() as db:
        community = cw.community(db, world.com)
        assert [s.public_id for s in catalog.offered(db, community=community)] == [svc]
        with pytest.raises(PermissionDenied):  # a stranger ends nothing
            admissions.end(db, actor=_user(db, world.base.outsider), community=community,
                           admission_id=adm)
        ended = admissions.end(db, actor=_user(db, world.water_staff), community=community,
                               admission_id=adm, reason="不做了")
        assert (ended.status, ended.ended_by) == (AdmissionStatus.ENDED, "merchant")
        assert catalog.offered(db, community=community) == []
        with pytest.raises(bookings.NotBookable):
            bookings.book(db, actor=_user(db, world.resident), community=community,
                          service_id=svc, slot_start=w.NOON, idempotency_key="x")


def test_the_property_ends_an_admission(database, world):
    adm, _ = w.admit(database, world)
    with database.unit_of_work() as db:
        ended = admissions.end(db, actor=_user(db, world.base.manager),
                               community=cw.community(db, world.com), admission_id=adm)
        assert ended.ended_by == "property"
        with pytest.raises(admissions.AdmissionStateError):
            admissions.end(db, actor=None, community=cw.community(db, world.com),
                           admission_id=adm)


def test_the_catalog_is_the_property_managers(database, world):
    with database.unit_of_work() as db:
        community = cw.community(db, world.com)
        with pytest.raises(PermissionDenied):
            catalog.add(db, actor=_user(db, world.base.other_manager), community=community,
                        name="上门保洁", price_fen=5000, store_id=world.property_store,
                        sku_id=world.property_sku)
        with pytest.raises(ValidationFailed):  # a store of another merchant
            catalog.add(db, actor=_user(db, world.base.manager), community=community,
                        name="上门保洁", price_fen=5000, store_id=world.water_store,
                        sku_id=world.water_sku)
    svc = w.property_service(database, world)
    with database.unit_of_work() as db:
        community = cw.community(db, world.com)
        assert [s.public_id for s in catalog.offered(db, community=community)] == [svc]
        assert catalog.provider_name(db, catalog.get(db, community=community,
                                                     service_id=svc)) == "幸福物业"


def _commission(db, world) -> int:
    community = cw.community(db, world.com)
    return ledger.balance(db, accounts.community_commission(community.id))


def test_an_admitted_merchants_booking_pays_the_community_its_commission(
        database, settings, world):
    _, svc = w.admit(database, world, commission_bp=800)  # 8 % of ¥18.88 = 151.04 → 151 fen
    svb, trade_no = w.book(database, settings, world, svc)
    with database.unit_of_work() as db:
        assert w.booking(db, svb).status is BookingStatus.CREATED
        trade = trades.get(db, trade_no)
        assert (trade.total_fen, trade.community_rate_bp) == (1888, 800)
        assert trade.merchant_id == world.water_merchant_id
    ow.pay(database, settings, world.resident, trade_no)
    with database.unit_of_work() as db:
        booking = w.booking(db, svb)
        assert booking.status is BookingStatus.PAID
        assert _commission(db, world) == 151
        entry = next(e for e in ledger.entries_for(db, trade_no) if e.kind == "payment")
        assert sum(p.amount_fen for p in entry.postings) == 0  # balanced
        legs = {p.account.code: p.amount_fen for p in entry.postings}
        platform = legs[accounts.PLATFORM_FEES]
        assert legs[accounts.merchant_pending(world.water_merchant_id)] == 1888 - 151 - platform
        statement = statements.for_property(db, actor=_user(db, world.base.manager),
                                            community=cw.community(db, world.com))
        assert (statement.balance_fen, statement.earned_fen) == (151, 151)
        assert [line.booking.public_id for line in statement.lines] == [svb]
        merchant = db.get_one(__import__("townsquare.merchants.models", fromlist=["Merchant"])
                              .Merchant, world.water_merchant_id)
        assert [(x.community.public_id, x.commission_fen, x.kind) for x in statements.for_merchant(
            db, merchant=merchant).lines] == [(world.com, 151, "booking")]
        with pytest.raises(PermissionDenied):
            statements.for_property(db, actor=_user(db, world.base.other_manager),
                                    community=cw.community(db, world.com))
    # a partial refund gives the commission back in proportion, the rest with the whole
    with database.unit_of_work() as db:
        bookings.refund(db, actor=_user(db, world.water_staff),
                        community=cw.community(db, world.com), booking_id=svb, amount_fen=944)
    with database.unit_of_work() as db:
        # half the money back gives back half the commission, 75.5 fen: 75 now (fees.split_refund
        # hands the odd fen to the earlier part), the other 76 with the rest
        assert _commission(db, world) == 151 - 75
        assert w.booking(db, svb).status is BookingStatus.PAID
        bookings.refund(db, actor=_user(db, world.water_staff),
                        community=cw.community(db, world.com), booking_id=svb, amount_fen=944)
    with database.unit_of_work() as db:
        assert _commission(db, world) == 0
        assert w.booking(db, svb).status is BookingStatus.CANCELLED
        total = db.scalar(select(__import__("sqlalchemy").func.sum(LedgerAccount.balance_fen)))
        assert total == 0  # the whole ledger still ties out
        statement = statements.for_property(db, actor=None, community=cw.community(db, world.com))
        assert (statement.earned_fen, statement.refunded_fen) == (151, 151)


def test_a_property_service_pays_the_property_merchant_and_no_commission(
        database, settings, world):
    svc = w.property_service(database, world)
    svb, trade_no = w.book(database, settings, world, svc)
    ow.pay(database, settings, world.resident, trade_no)
    with database.unit_of_work() as db:
        trade = trades.get(db, trade_no)
        assert (trade.merchant_id, trade.community_id) == (world.property_merchant_id, None)
        assert _commission(db, world) == 0
        assert w.booking(db, svb).status is BookingStatus.PAID


def test_the_same_key_answers_the_same_booking_and_the_last_place_goes_once(
        database, settings, world, make_user):
    _, svc = w.admit(database, world)
    first = w.book(database, settings, world, svc, key="k")
    assert w.book(database, settings, world, svc, key="k") == first
    with pytest.raises(SlotFull):  # one place per slot at the water station
        w.book(database, settings, world, svc, key="k2")
    with database.unit_of_work() as db:  # an unpaid close gives the place back
        trades.close(db, trade=trades.get(db, first[1]))
    with database.unit_of_work() as db:
        assert w.booking(db, first[0]).status is BookingStatus.CANCELLED
    assert w.book(database, settings, world, svc, key="k3")


def test_only_a_resident_books(database, settings, world):
    _, svc = w.admit(database, world)
    with pytest.raises(PermissionDenied):
        w.book(database, settings, world, svc, user=world.base.outsider)


def test_status_rating_and_complaint_reach_scoring(database, settings, world):
    _, svc = w.admit(database, world)
    svb, trade_no = w.book(database, settings, world, svc)
    ow.pay(database, settings, world.resident, trade_no)
    with database.unit_of_work() as db:
        community = cw.community(db, world.com)
        resident = _user(db, world.resident)
        with pytest.raises(bookings.BookingStateError):  # not done yet
            bookings.rate(db, actor=resident, community=community, booking_id=svb, stars=5)
        with pytest.raises(NotFound):  # the property does not serve a merchant's booking
            bookings.advance(db, actor=_user(db, world.base.manager), community=community,
                             booking_id=svb, to="done")
        bookings.advance(db, actor=_user(db, world.water_staff), community=community,
                         booking_id=svb, to="on_the_way")
        bookings.advance(db, actor=_user(db, world.water_staff), community=community,
                         booking_id=svb, to="done")
        with pytest.raises(NotFound):  # someone else's booking
            bookings.rate(db, actor=_user(db, world.base.outsider), community=community,
                          booking_id=svb, stars=1)
        bookings.rate(db, actor=resident, community=community, booking_id=svb, stars=4)
        bookings.complain(db, actor=resident, community=community, booking_id=svb,
                          category="late", text="晚到了半小时")
    with database.unit_of_work() as db:
        kinds = {(e.type, e.rating, e.complaint_category) for e in db.scalars(
            select(BehaviourEvent).where(BehaviourEvent.order_id == svb))}
        assert ("rating", 4, None) in {(str(k), r, c) for k, r, c in kinds}
        assert ("complaint", None, "late") in {(str(k), r, c) for k, r, c in kinds}
        assert ("order_fulfilled", None, None) in {(str(k), r, c) for k, r, c in kinds}


def test_the_merchants_payments_statement_names_the_community_commission(
        database, settings, world):
    from townsquare.payments.trades import statements as payment_statements

    _, svc = w.admit(database, world, commission_bp=800)
    svb, trade_no = w.book(database, settings, world, svc)
    ow.pay(database, settings, world.resident, trade_no)
    with database.unit_of_work() as db:
        bookings.refund(db, actor=_user(db, world.water_staff),
                        community=cw.community(db, world.com), booking_id=svb, amount_fen=944)
    with database.unit_of_work() as db:
        day = w.NOW.astimezone(__import__("zoneinfo").ZoneInfo(settings.timezone)).date()
        statement = payment_statements.build(db, merchant_id=world.water_merchant_id, first=day,
                                             last=day, timezone=settings.timezone)
        assert [(line.kind, line.community_fen) for line in statement.lines] == [
            ("payment", 151), ("refund", -75)]
        assert statement.totals["community_fen"] == 76
