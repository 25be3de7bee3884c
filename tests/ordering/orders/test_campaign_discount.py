"""Checkout with a traffic campaign's discount (connected by townsquare.app.connect_hooks, as
the tests' conftest does): the quote names the campaign, the placed order keeps the discount and
the campaign, the trade is for the reduced total and the ledger splits the reduced amount; a
withdrawn enrolment or an ended campaign gives none, and a discount that went away between the
quote and the order is a PriceChanged showing the new total (never a silent change)."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from tests.merchants.conftest import csrf as page_csrf
from tests.merchants.conftest import login
from tests.ordering.conftest import NOON, NOW
from tests.ordering.orders import world as w
from townsquare.accounts.models import Role
from townsquare.core.clock import clock
from townsquare.miniapps.models import MiniApp
from townsquare.ordering import orders
from townsquare.ordering.orders.schemas import OrderOut, QuoteOut
from townsquare.payments import fees, ledger
from townsquare.payments.ledger import accounts
from townsquare.payments.trades import service as trades
from townsquare.payments.trades.models import Trade
from townsquare.traffic.support import campaigns

TZ = "Asia/Shanghai"
TODAY = date(2026, 12, 7)  # NOW in Shanghai
# 2 × ¥3.50 of items (700) + ¥1 packaging: ¥8.00 without a discount


@pytest.fixture
def world(database, settings, shop, make_user):
    return w.build(database, settings, shop, make_user)


@pytest.fixture
def operator(make_user):
    return make_user(Role.OPERATOR, username="ops")


def campaign(database, operator, *, starts_on=TODAY, ends_on=TODAY + timedelta(days=6),
             title="满5减2", **terms) -> str:
    with database.unit_of_work() as db:
        made = campaigns.create(db, actor=operator, title_zh=title, title_en="Spend ¥5 save ¥2",
                                surfaces=["feed"], starts_on=starts_on, ends_on=ends_on,
                                timezone=TZ, **terms)
        campaigns.set_state(db, actor=operator, campaign_public_id=made.public_id,
                            state="open", timezone=TZ)
        return made.public_id


def enrol(database, world, cmp) -> None:
    with database.unit_of_work() as db:
        campaigns.enrol(db, actor=world.shop.owner, campaign_public_id=cmp,
                        miniapp_public_id=world.miniapp, timezone=TZ)


def quote(db, world):
    return orders.quote(db, actor=world.resident, miniapp_id=world.miniapp, kind="pickup",
                        slot_start=NOON)


def counts(db):
    return (db.scalar(select(func.count()).select_from(orders.Order)),
            db.scalar(select(func.count()).select_from(Trade)))


def test_an_enrolled_shop_gives_the_discount_and_is_paid_the_reduced_total(
        database, settings, world, operator):
    cmp = campaign(database, operator, discount_threshold_fen=500, discount_off_fen=200)
    enrol(database, world, cmp)
    with database.unit_of_work() as db:
        w.fill(db, world, world.resident, 2)
        q = quote(db, world)
        assert (q.items_fen, q.discount_fen, q.packaging_fen, q.total_fen) == (700, 200, 100, 600)
        assert q.discount is not None and (q.discount.source, q.discount.name_zh) == (cmp, "满5减2")
        out = QuoteOut.of(q)
        assert out.discount is not None and out.discount.campaign_id == cmp
        placed = orders.place(db, actor=world.resident, miniapp_id=world.miniapp, kind="pickup",
                              slot_start=NOON, point_id=None, address=None, note="",
                              expected_total_fen=600, idempotency_key="k1", settings=settings)
        assert (placed.discount_fen, placed.total_fen) == (200, 600)
        assert (placed.discount_source, placed.discount_name_zh, placed.discount_name_en) == (
            cmp, "满5减2", "Spend ¥5 save ¥2")
        assert trades.get(db, placed.trade_no).total_fen == 600
        ord_id, trade_no = placed.public_id, placed.trade_no
    before = None
    with database.unit_of_work() as db:
        before = w.balance(db, world.resident)
    w.pay(database, settings, world.resident, trade_no)
    with database.unit_of_work() as db:
        paid = w.order(db, ord_id)
        assert paid.status is orders.OrderStatus.PAID
        assert before - w.balance(db, world.resident) == 600
        miniapp = db.scalar(select(MiniApp).where(MiniApp.public_id == world.miniapp))
        split = fees.split_for(db, merchant_id=paid.merchant_id,
                               category_id=miniapp.category_id, total_fen=600)
        pending = ledger.balance(db, accounts.merchant_pending(paid.merchant_id))
        platform = ledger.balance(db, accounts.PLATFORM_FEES)
        assert (pending, platform) == (split.merchant_fen, split.platform_fen)
        assert pending + platform + sum(split.isv.values()) == 600
        api = OrderOut.of(paid)
        assert api.discount is not None and (api.discount.campaign_id, api.discount_fen) == (
            cmp, 200)


def test_the_best_enrolment_wins_and_the_discount_stays_on_the_items(database, world,
                                                                      operator):
    flat = campaign(database, operator, title="满5减2", discount_threshold_fen=500,
                    discount_off_fen=200)
    pct = campaign(database, operator, title="全场九折", discount_percent=10)
    everything = campaign(database, operator, title="免单", discount_percent=100)
    for cmp in (flat, pct, everything):
        enrol(database, world, cmp)
    with database.unit_of_work() as db:
        w.fill(db, world, world.resident, 2)
        q = quote(db, world)  # free items, the packaging is still paid
        assert (q.discount_fen, q.total_fen, q.discount.source) == (700, 100, everything)
        campaigns.withdraw(db, actor=world.shop.owner, campaign_public_id=everything,
                           miniapp_public_id=world.miniapp)
        q = quote(db, world)
        assert (q.discount_fen, q.total_fen, q.discount.source) == (200, 600, flat)


def test_no_discount_when_withdrawn_or_ended(database, world, operator):
    clock.freeze(NOW - timedelta(days=3))
    ended = campaign(database, operator, starts_on=TODAY - timedelta(days=3),
                     ends_on=TODAY - timedelta(days=1), discount_percent=50)
    enrol(database, world, ended)
    clock.freeze(NOW)
    withdrawn = campaign(database, operator, discount_threshold_fen=500, discount_off_fen=200)
    enrol(database, world, withdrawn)
    with database.unit_of_work() as db:
        campaigns.withdraw(db, actor=world.shop.owner, campaign_public_id=withdrawn,
                           miniapp_public_id=world.miniapp)
    campaign(database, operator, discount_percent=30)  # open, but not joined
    with database.unit_of_work() as db:
        w.fill(db, world, world.resident, 2)
        q = quote(db, world)
        assert (q.discount_fen, q.total_fen, q.discount) == (0, 800, None)
        placed = w.place(db, world, world.resident, quantity=0)
        assert (placed.discount_fen, placed.discount_source, placed.total_fen) == (0, "", 800)


@pytest.mark.parametrize("ending", ["cancelled", "withdrawn", "day_over"])
def test_a_discount_gone_since_the_quote_is_a_price_change(database, world, operator, ending):
    cmp = campaign(database, operator, ends_on=TODAY, discount_threshold_fen=500,
                   discount_off_fen=200)
    enrol(database, world, cmp)
    with database.unit_of_work() as db:
        w.fill(db, world, world.resident, 2)
        assert quote(db, world).total_fen == 600
        before = counts(db)
    with database.unit_of_work() as db:
        if ending == "cancelled":
            campaigns.set_state(db, actor=operator, campaign_public_id=cmp, state="cancelled",
                                timezone=TZ)
        elif ending == "withdrawn":
            campaigns.withdraw(db, actor=world.shop.owner, campaign_public_id=cmp,
                               miniapp_public_id=world.miniapp)
    slot = NOON
    if ending == "day_over":  # the quote was on the campaign's last day, the order the next
        clock.freeze(NOW + timedelta(days=1))
        slot = NOON + timedelta(days=1)
    with database.unit_of_work() as db, pytest.raises(orders.PriceChanged) as changed:
        orders.place(db, actor=world.resident, miniapp_id=world.miniapp, kind="pickup",
                     slot_start=slot, point_id=None, address=None, note="",
                     expected_total_fen=600, idempotency_key="k1")
    assert changed.value.params["amount"] == "¥8.00"  # the resident is told the new total
    with database.unit_of_work() as db:
        assert counts(db) == before


def test_a_tampered_total_is_refused_with_a_discount(database, world, operator):
    enrol(database, world, campaign(database, operator, discount_threshold_fen=500,
                                    discount_off_fen=200))
    with database.unit_of_work() as db:
        w.fill(db, world, world.resident, 2)
        before = counts(db)
    for expected in (800, 1, 599):  # the undiscounted total, a made-up one, one fen off
        with database.unit_of_work() as db, pytest.raises(orders.PriceChanged) as changed:
            w.place(db, world, world.resident, quantity=0, expected=expected)
        assert changed.value.params["amount"] == "¥6.00"
    with database.unit_of_work() as db:
        assert counts(db) == before


def test_the_pages_name_the_campaign(client, database, settings, world, operator):
    cmp = campaign(database, operator, discount_threshold_fen=500, discount_off_fen=200)
    enrol(database, world, cmp)
    login(client, world.resident)
    token = page_csrf(client, f"/shop/{world.miniapp}")
    client.post(f"/shop/{world.miniapp}/cart",
                data={"csrf_token": token, "sku": world.shop.sku, "quantity": "2"})
    page = client.get(f"/shop/{world.miniapp}/checkout?kind=pickup").text
    assert "优惠：满5减2" in page and "−¥2.00" in page and 'data-fen="600"' in page
    key = re.search(r'name="key" value="([^"]+)"', page).group(1)
    form = {"csrf_token": token, "kind": "pickup", "slot": NOON.isoformat(), "total": "600",
            "key": key}
    # the campaign is cancelled while the resident looks: refused, the new total shown
    with database.unit_of_work() as db:
        campaigns.set_state(db, actor=operator, campaign_public_id=cmp, state="cancelled",
                            timezone=TZ)
    refused = client.post(f"/shop/{world.miniapp}/checkout", data=form)
    assert refused.status_code == 409 and 'id="checkout-error"' in refused.text
    assert "¥8.00" in refused.text and "优惠：满5减2" not in refused.text
    with database.unit_of_work() as db:
        assert counts(db) == (0, 0)
    # a campaign of today again: the order and the merchant's ticket name it
    enrol(database, world, campaign(database, operator, title="周一九折", discount_percent=10))
    ord_id = w.paid_order(database, settings, world, key="k2", quantity=0)
    assert "优惠：周一九折" in client.get(f"/me/orders/{ord_id}").text
    login(client, world.shop.owner)
    base = f"/console/merchant/{world.shop.merchant}"
    assert "优惠：周一九折" in client.get(f"{base}/orders/{ord_id}").text
    ticket = client.get(f"{base}/orders/{ord_id}/ticket").text
    assert "优惠：周一九折" in ticket and "−¥0.70" in ticket


def test_the_demo_grocery_week_discounts_the_grocery_shop(database, settings, world, operator):
    from townsquare.traffic import demo

    with database.unit_of_work() as db:
        demo._discount_campaign(db, db.get_one(type(operator), operator.id), settings,
                                {"grocery"}, 100)
    with database.unit_of_work() as db:
        w.fill(db, world, world.resident, 8)  # ¥28: below 满 30
        below = quote(db, world)
        w.fill(db, world, world.resident, 9)  # ¥31.50
        above = quote(db, world)
    assert (below.discount_fen, below.total_fen) == (0, 2900)
    assert (above.discount_fen, above.total_fen) == (500, 3150 - 500 + 100)
    assert above.discount is not None and above.discount.name_zh == "买菜满减周"
