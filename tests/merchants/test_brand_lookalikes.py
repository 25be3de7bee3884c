"""Look-alike brand names: invisible characters, bidi controls, the BOM, inner spaces, full-width
letters, soft hyphens and confusable letters name the same brand (UTS #39 skeleton), so a rival
cannot be certified next to the real one; bidi controls are refused in every shown name; the
operator's review lists the look-alikes it found; search folds invisible characters."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.merchants.conftest import login
from townsquare.accounts.models import User
from townsquare.core.confusables import skeleton
from townsquare.core.errors import Conflict, ValidationFailed
from townsquare.core.text import clean_name
from townsquare.merchants import brands
from townsquare.merchants.models import Brand
from townsquare.traffic.search import tokens

REAL = "鲜丰水果"
LOOK_ALIKES = [
    "鲜丰\u200b水果",  # zero-width space
    "\ufeff鲜丰水果",  # BOM
    "鲜丰 水果",  # inner space
    "鲜丰\u00ad水果",  # soft hyphen
    "鲜丰\u2060水果",  # word joiner
    "鲜丰\u3164水果",  # Hangul filler
]


@pytest.mark.parametrize("name", LOOK_ALIKES)
def test_invisible_variants_have_the_same_skeleton(name):
    assert skeleton(name) == skeleton(REAL)


def test_full_width_and_confusable_letters_fold():
    assert skeleton("ＫＦＣ") == skeleton("KFC") == skeleton("kfc") == skeleton("КFС")  # Cyrillic
    assert skeleton("PayPa1") == skeleton("Paypal")
    assert skeleton("鲜丰水果") != skeleton("鲜丰果水")


@pytest.mark.parametrize("name", ["鲜丰\u202e果水", "\u2067鲜丰水果\u2069", "a\u200fb", "\u061c鲜"])
def test_bidi_controls_are_refused_in_names(name):
    with pytest.raises(ValidationFailed):
        clean_name(name)


def test_an_invisible_only_name_is_refused():
    with pytest.raises(ValidationFailed):
        clean_name("\u200b\u200b")


def test_search_tokens_ignore_invisible_characters():
    assert tokens.tokenize("鲜丰\u200b水果") == tokens.tokenize(REAL)
    assert tokens.tokenize("鲜丰\u00ad水果") == tokens.tokenize(REAL)


def _certify(db, operator, merchant_id: str, owner, name: str):
    brand = brands.apply(db, actor=db.get(User, owner.id), merchant_id=merchant_id, name=name,
                         evidence="证书")
    return brands.approve(db, actor=operator, brand_id=brand.public_id)


def test_a_look_alike_cannot_be_certified_next_to_the_real_brand(database, world):
    with database.unit_of_work() as db:
        _certify(db, world.operator, world.merchant_a, world.owner_a, REAL)
    for name in LOOK_ALIKES:
        with database.unit_of_work() as db, pytest.raises(Conflict):
            brands.apply(db, actor=db.get(User, world.owner_b.id),
                         merchant_id=world.merchant_b, name=name, evidence="证书")


def test_the_operator_sees_the_look_alikes(database, world, client):
    with database.unit_of_work() as db:
        first = brands.apply(db, actor=db.get(User, world.owner_a.id),
                             merchant_id=world.merchant_a, name=REAL, evidence="证书")
        brands.apply(db, actor=db.get(User, world.owner_b.id), merchant_id=world.merchant_b,
                     name="鲜丰\u200b水果", evidence="证书")
        found = brands.near_duplicates(db, brand=first)
        assert [b.name for b in found] == ["鲜丰\u200b水果"]
        assert db.scalar(select(Brand.id).where(Brand.name == REAL))
    login(client, world.operator)
    page = client.get("/console/operator/brands")
    assert page.status_code == 200
    assert "U+200B" in page.text
