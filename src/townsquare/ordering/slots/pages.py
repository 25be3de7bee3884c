"""The slot settings form on a store's console page (one per fulfilment kind and pickup
point); a refused form shows the store page again with the message."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from townsquare.accounts.deps import FormUser
from townsquare.ordering.slots import rules
from townsquare.ordering.slots.labels import rule_values
from townsquare.ordering.stores.pages import store_form
from townsquare.web.deps import DbSession

router = APIRouter(include_in_schema=False)
FIELDS = ("kind", "point", "enabled", "slot_minutes", "capacity_orders", "capacity_prep",
          "lead_minutes", "cutoff_time", "cutoff_days", "days_ahead", "window", "closed_days")


@router.post("/console/merchant/{mer_id}/stores/{sto_id}/slots")
async def save_rule(request: Request, mer_id: str, sto_id: str, user: FormUser,
                    db: DbSession) -> Response:
    posted = await request.form()
    form = {key: str(posted.get(key, ""))[:4000] for key in FIELDS}

    def save() -> object:
        return rules.set_rule(db, actor=user, store_id=sto_id, kind=form["kind"],
                              point_id=form["point"] or None, **rule_values(form))

    return store_form(request, db, user, mer_id, sto_id, save, "slots", rule=form)
