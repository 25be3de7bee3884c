"""The resident's address book page, `/me/addresses`: add, change, delete, choose the default.

`?next=` (a same-site path, such as a shop's checkout) is where saving an address returns to,
with `address=<adr_…>` added so the checkout selects the new address."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from townsquare.accounts import addresses, places
from townsquare.accounts.deps import CurrentUser, FormUser
from townsquare.accounts.models import Address, User
from townsquare.core.errors import TownsquareError
from townsquare.core.i18n import N_
from townsquare.web.deps import DbSession
from townsquare.web.forms import field_problems, flashes, rejected, safe_next, see_other
from townsquare.web.templating import render

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form(max_length=200)]
DONE = {
    "saved": N_("Address saved."),
    "deleted": N_("Address deleted."),
    "default": N_("Default address changed."),
}
LABELS = (N_("Home"), N_("Work"), N_("School"))


def _form_of(address: Address | None) -> dict[str, str]:
    if address is None:
        return {}
    known = next((p for p in places.PLACES if p.address == address.text
                  and (p.lat, p.lng) == (address.lat, address.lng)), None)
    return {"label": address.label, "name": address.name, "phone": address.phone,
            "place": known.key if known else "", "text": "" if known else address.text,
            "detail": address.detail, "lat": "" if known else f"{address.lat:.6f}",
            "lng": "" if known else f"{address.lng:.6f}", "address_id": address.public_id}


def _context(db: Session, user: User, request: Request, *, editing: str = "",
             next_url: str = "") -> dict[str, Any]:
    book = addresses.mine(db, actor=user)
    edited = next((a for a in book if a.public_id == editing), None)
    return {"book": book, "groups": places.by_district(), "labels": LABELS,
            "form": _form_of(edited), "editing": edited,
            "next": safe_next(next_url or request.query_params.get("next"), ""),
            "flashes": flashes(request, DONE), "problems": {}, "limit": addresses.MAX_ADDRESSES}


def _back(next_url: str, key: str, address: Address | None = None) -> Response:
    target = safe_next(next_url, "")
    if target and address is not None:
        joiner = "&" if "?" in target else "?"
        return see_other(f"{target}{joiner}address={address.public_id}")
    return see_other(target or f"/me/addresses?ok={key}")


@router.get("/me/addresses", response_class=HTMLResponse)
def address_book(request: Request, db: DbSession, user: CurrentUser,
                 edit: str = "") -> HTMLResponse:
    return render(request, "accounts/addresses.html",
                  **_context(db, user, request, editing=edit[:40]))


@router.post("/me/addresses")
def save_address(request: Request, db: DbSession, user: FormUser, address_id: Text = "",
                 label: Text = "", name: Text = "", phone: Text = "", place: Text = "",
                 text: Text = "", detail: Text = "", lat: Text = "", lng: Text = "",
                 default: Text = "", next: Text = "") -> Response:
    form = {"label": label, "name": name, "phone": phone, "place": place, "text": text,
            "detail": detail, "lat": lat, "lng": lng, "address_id": address_id}
    try:
        saved = addresses.save(db, actor=user, address_id=address_id or None, label=label,
                               name=name, phone=phone, place_key=place, text=text,
                               detail=detail, lat=lat, lng=lng, default=bool(default))
    except TownsquareError as exc:
        db.rollback()
        context = _context(db, user, request, editing=address_id, next_url=next)
        return rejected(request, db, "accounts/addresses.html", exc,
                        **{**context, "form": form, "problems": field_problems(exc)})
    return _back(next, "saved", saved)


@router.post("/me/addresses/{address_id}/default")
def choose_default(request: Request, address_id: str, db: DbSession,
                   user: FormUser) -> Response:
    try:
        addresses.make_default(db, actor=user, address_id=address_id)
    except TownsquareError as exc:
        return rejected(request, db, "accounts/addresses.html", exc,
                        **_context(db, user, request))
    return see_other("/me/addresses?ok=default")


@router.post("/me/addresses/{address_id}/delete")
def delete_address(request: Request, address_id: str, db: DbSession,
                   user: FormUser) -> Response:
    try:
        addresses.delete(db, actor=user, address_id=address_id)
    except TownsquareError as exc:
        return rejected(request, db, "accounts/addresses.html", exc,
                        **_context(db, user, request))
    return see_other("/me/addresses?ok=deleted")
