"""Pricing, pure: items × price, packaging per order, the zone's delivery fee, a discount capped
at the items, and the minimum order counted on the items after the discount."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from townsquare.ordering.orders.pricing import Line, line_fen, price


def test_items_packaging_delivery_and_discount():
    p = price([Line(350, 2), Line(1280, 1)], packaging_fen=100, delivery_fen=500,
              discount_fen=300, min_order_fen=2000)
    assert (p.items_fen, p.packaging_fen, p.delivery_fen, p.discount_fen) == (1980, 100, 500, 300)
    assert p.total_fen == 1980 - 300 + 100 + 500
    assert p.below_minimum  # 1,680 of items after the discount < 2,000


def test_a_discount_never_pays_for_fees():
    p = price([Line(500, 1)], packaging_fen=100, delivery_fen=300, discount_fen=9_999)
    assert p.discount_fen == 500 and p.total_fen == 400


def test_an_empty_cart_costs_nothing_not_even_its_fees():
    p = price([], packaging_fen=100, delivery_fen=500)
    assert p.total_fen == 0 and not p.below_minimum


def test_the_minimum_is_met_exactly():
    assert not price([Line(1000, 2)], min_order_fen=2000).below_minimum
    assert price([Line(1999, 1)], min_order_fen=2000).below_minimum


@pytest.mark.parametrize("bad", [{"packaging_fen": -1}, {"delivery_fen": -1},
                                 {"discount_fen": -1}, {"min_order_fen": -1}])
def test_negative_fees_are_a_bug(bad):
    with pytest.raises(ValueError):
        price([Line(100, 1)], **bad)


def test_negative_or_huge_lines_are_a_bug():
    with pytest.raises(ValueError):
        line_fen(-1, 1)
    with pytest.raises(ValueError):
        line_fen(100, -1)
    with pytest.raises(ValueError):
        line_fen(10**8, 999)


@given(st.lists(st.tuples(st.integers(0, 100_000_00), st.integers(1, 999)), max_size=20),
       st.integers(0, 10_000), st.integers(0, 10_000), st.integers(0, 10**7))
def test_total_is_never_negative_and_adds_up(lines, packaging, delivery, discount):
    p = price([Line(a, q) for a, q in lines], packaging_fen=packaging, delivery_fen=delivery,
              discount_fen=discount)
    assert p.items_fen == sum(a * q for a, q in lines)
    assert 0 <= p.discount_fen <= p.items_fen
    assert p.total_fen == p.items_fen - p.discount_fen + p.packaging_fen + p.delivery_fen >= 0


def test_every_status_and_kind_has_words():
    from townsquare.ordering.orders.labels import KIND_LABELS, STATUS_LABELS
    from townsquare.ordering.orders.models import OrderStatus
    from townsquare.ordering.slots.models import Kind

    assert set(STATUS_LABELS) == set(OrderStatus) and set(KIND_LABELS) == set(Kind)


def test_shop_settings_from_a_runtime_config():
    from townsquare.miniapps.runtimes import validate_config
    from townsquare.ordering.orders.shop import settings_of
    from townsquare.ordering.slots.models import Kind

    config = validate_config("restaurant", {
        "welcome": "欢迎", "stores": "sto_a1, sto_b2，sto_a1", "dine_in": "true",
        "pickup": True, "packaging_fen": 150, "auto_accept": "yes"})
    shop = settings_of("restaurant", config)
    assert shop.store_ids == ("sto_a1", "sto_b2")
    assert shop.kinds == {Kind.DINE_IN, Kind.PICKUP}
    assert (shop.packaging_fen, shop.auto_accept, shop.accept_within_minutes) == (150, True, 10)
    assert settings_of("grocery", {"accept_within_minutes": 3}).accept_within_minutes == 3
    for bad in ({"accept_within_minutes": 0}, {"accept_within_minutes": 121},
                {"packaging_fen": -1}, {"stores": ""}):
        with pytest.raises(Exception, match="Check these settings"):
            validate_config("grocery", {"welcome": "w", "stores": "sto_a", **bad})
