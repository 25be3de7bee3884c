"""A shop mini-app's stores, from the registry's side: the grocery and restaurant runtimes have a
"stores" setting (the public ids of the stores the shop sells from, comma separated), which no
ISV template can default and each merchant chooses when making its mini-app.

The registry (miniapps, floor 4) may not import ordering, so it asks through two hooks that the
composition roots connect here (`connect()`): `setting_choices` (the merchant's stores offered as
ticks on the console forms) and `config_checked` (every store named in a mini-app's settings is
this merchant's: checked when the mini-app is made, its draft edited and sent for review)."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.core.errors import ValidationFailed
from townsquare.core.i18n import N_, gettext
from townsquare.core.text import well_formed
from townsquare.miniapps import hooks
from townsquare.ordering.stores.models import Store

FIELD = "stores"
MAX_STORES = 20


def store_ids(value: object) -> list[str]:
    """The store ids a "stores" setting names, in order, each once."""
    if not isinstance(value, str):
        return []
    return list(dict.fromkeys(p for p in re.split(r"[\s,，、;；]+", value) if p))


def offer_stores(db: Session, asked: hooks.SettingChoices) -> None:
    """The merchant's stores, open ones first, labelled as its staff know them."""
    if asked.name != FIELD:
        return
    asked.label = N_("The stores this shop sells from")
    found = db.scalars(select(Store).where(Store.merchant_id == asked.merchant.id)
                       .order_by(Store.active.desc(), Store.id))
    for store in found:
        label = f"{store.name} · {store.address}"
        if not store.active:
            label += " · " + gettext("not taking orders")
        asked.choices.append((store.public_id, label))


def check_stores(db: Session, checked: hooks.ConfigChecked) -> None:
    """Refuse stores that are not the merchant's (or not stores at all), naming them."""
    if FIELD not in checked.config:
        return
    wanted = store_ids(checked.config[FIELD])
    if len(wanted) > MAX_STORES:
        raise _bad(gettext("Choose at most {n} stores.").format(n=MAX_STORES))
    good = [w for w in wanted if well_formed(w, "sto")]
    owned = set(db.scalars(select(Store.public_id).where(
        Store.public_id.in_(good), Store.merchant_id == checked.merchant_id))) if good else set()
    strangers = [w for w in wanted if w not in owned]
    if strangers or not wanted:
        raise _bad(gettext("Not one of your stores: {stores}.").format(
            stores=", ".join(s[:24] for s in strangers[:5]) or "—"))


def _bad(problem: str) -> ValidationFailed:
    return ValidationFailed("Check these settings: {fields}.", fields=gettext("Stores"),
                            details=[{"field": FIELD, "problem": problem}], field=FIELD)


def connect() -> None:
    """Connect the registry's questions about stores (idempotent: the composition roots call it
    once at start)."""
    hooks.setting_choices.connect("ordering.stores", offer_stores)
    hooks.config_checked.connect("ordering.stores", check_stores)
