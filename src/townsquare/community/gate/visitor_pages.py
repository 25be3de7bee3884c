"""Visitor pass pages: the host's invitations (invite, share the link, revoke, see the visitors'
passages), the visitor's public page behind the link (`/visit/{token}`, no account: the QR, the
community and the window), and the property manager's visitor rules form."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from townsquare.accounts.deps import CurrentUser, FormUser
from townsquare.community import access
from townsquare.community.gate import visitors
from townsquare.community.gate.pages import _reason_text
from townsquare.core import i18n
from townsquare.core.clock import clock
from townsquare.core.errors import TownsquareError, ValidationFailed
from townsquare.web.deps import AppSettings, DbSession
from townsquare.web.forms import field_problems, rejected, see_other, whole_number
from townsquare.web.openapi import PublicId
from townsquare.web.qr import qr_svg
from townsquare.web.templating import render

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form(max_length=200)]


def _local(value: str, zone: str, field: str) -> datetime:
    try:
        return datetime.fromisoformat(value.strip()).replace(tzinfo=ZoneInfo(zone))
    except ValueError:
        raise ValidationFailed("Pick the date and time.", field=field) from None


def _host_page(request, db, settings, user, com: str, *, created=None, exc=None, typed=None
               ) -> HTMLResponse:
    if exc is not None:
        db.rollback()
    community, invitations = visitors.of_household(db, actor=user, community_id=com)
    passages = visitors.passages_of_household(db, actor=user, community_id=com)
    rules = visitors.rules_of(db, community)
    context = dict(
        community=community, invitations=invitations, passages=passages, rules=rules,
        lockdown=visitors.in_lockdown(db, community, rules), now=clock.now(),
        created=created, link=None, link_qr=None, typed=typed or {},
        field_errors=field_problems(exc) if exc is not None else {},
        reason_text=_reason_text,
    )
    if created is not None:
        link = str(request.base_url).rstrip("/") + f"/visit/{created.token}"
        context.update(link=link, link_qr=qr_svg(link, label=i18n.gettext("Visitor link")))
    if exc is not None:
        return rejected(request, db, "community/visitors.html", exc, **context)
    return render(request, "community/visitors.html", **context)


@router.get("/community/{com}/visitors", response_class=HTMLResponse)
def host_page(request: Request, com: PublicId, db: DbSession, settings: AppSettings,
              user: CurrentUser) -> HTMLResponse:
    """The household's invitations and its visitors' passages, with the invitation form."""
    return _host_page(request, db, settings, user, com)


@router.post("/community/{com}/visitors", response_class=HTMLResponse)
def invite_post(request: Request, com: PublicId, db: DbSession, settings: AppSettings,
                user: FormUser, visitor_name: Text = "", visitor_phone: Text = "",
                purpose: Text = "", starts_at: Text = "", ends_at: Text = "",
                idempotency_key: Annotated[str, Form(max_length=64)] = "") -> HTMLResponse:
    """Invite; the page comes back with the visitor's link (shown this once) and its QR."""
    typed = {"visitor_name": visitor_name, "visitor_phone": visitor_phone, "purpose": purpose,
             "starts_at": starts_at, "ends_at": ends_at}
    try:
        created = visitors.create(
            db, actor=user, settings=settings, community_id=com, visitor_name=visitor_name,
            visitor_phone=visitor_phone, purpose=purpose,
            starts_at=_local(starts_at, settings.timezone, "starts_at"),
            ends_at=_local(ends_at, settings.timezone, "ends_at"),
            idempotency_key=idempotency_key or None)
    except TownsquareError as exc:
        return _host_page(request, db, settings, user, com, exc=exc, typed=typed)
    return _host_page(request, db, settings, user, com, created=created)


@router.post("/community/{com}/visitors/{invitation}/revoke")
def revoke_post(com: PublicId, invitation: PublicId, db: DbSession, user: FormUser) -> Response:
    visitors.revoke(db, actor=user, community_id=com, invitation_id=invitation)
    return see_other(f"/community/{com}/visitors")


@router.get("/visit/{token}", response_class=HTMLResponse)
def visitor_page(request: Request, token: str, db: DbSession, settings: AppSettings
                 ) -> HTMLResponse:
    """The visitor's pass (no login): the QR to show at the gate, the community, the window."""
    page = visitors.by_token(db, settings=settings, token=token)
    invitation = page.invitation
    qr = qr_svg(page.code, label=i18n.gettext("Visitor pass")) if page.code else None
    response = render(
        request, "community/visit.html", community=page.community, invitation=invitation,
        code=page.code, qr=qr, now=clock.now(),
        visitor_masked=visitors.mask_visitor(invitation.visitor_name))
    response.headers["Referrer-Policy"] = "no-referrer"  # the link is the pass: never leak it
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/community/{com}/manage/visitors", response_class=HTMLResponse)
def rules_post(request: Request, com: PublicId, db: DbSession, settings: AppSettings,
               user: FormUser, per_household_per_day: Text = "3", max_days_ahead: Text = "7",
               max_hours: Text = "12", lockdown: Text = "") -> Response:
    """The property manager's visitor rules (from the community settings page)."""
    community = access.get_community(db, community_id=com)
    try:
        visitors.set_rules(
            db, actor=user, community=community,
            per_household_per_day=whole_number(per_household_per_day,
                                               field="per_household_per_day"),
            max_days_ahead=whole_number(max_days_ahead, field="max_days_ahead"),
            max_hours=whole_number(max_hours, field="max_hours"),
            lockdown=lockdown in ("1", "on", "true"))
    except TownsquareError as exc:
        db.rollback()
        return render(request, "community/visitor_rules_error.html", status_code=exc.status,
                      community=community, error=exc.render(i18n.gettext))
    return see_other(f"/community/{com}/manage?page=setup#visitor-rules")
