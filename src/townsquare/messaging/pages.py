"""The inbox (`/inbox`): platform notifications for the people who run merchants and ISVs, and
the mini-apps' messages; and the unread badge the top bar and the phone tab bar load."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from townsquare.accounts.deps import CurrentUser, FormUser, OptionalUser
from townsquare.core.i18n import N_
from townsquare.messaging import notifications, service
from townsquare.web.deps import DbSession
from townsquare.web.forms import flashes, safe_next, see_other
from townsquare.web.templating import render

router = APIRouter(include_in_schema=False)
DONE = {"read": N_("Marked as read.")}


@router.get("/inbox/unread", response_class=HTMLResponse)
def unread_badge(db: DbSession, user: OptionalUser, where: str = "top") -> HTMLResponse:
    """The unread badge (messages and notifications), loaded by htmx after the page (so no page
    waits for it): in the top bar, or on the phone's 消息 tab (`where=tab`)."""
    count = 0
    if user:
        count = service.unread_count(db, actor=user) + notifications.unread_count(db, actor=user)
    element = "inbox-unread-tab" if where == "tab" else "inbox-unread"
    badge = f'<span class="badge" id="{element}">{count}</span>' if count else ""
    return HTMLResponse(badge)


@router.get("/inbox", response_class=HTMLResponse)
def inbox(request: Request, db: DbSession, user: CurrentUser) -> HTMLResponse:
    messages = service.inbox(db, actor=user)
    notices = notifications.for_reader(db, actor=user)
    return render(request, "messaging/inbox.html", messages=messages, notices=notices,
                  unread=sum(1 for m in messages if m.read_at is None)
                  + sum(1 for n in notices if not n.read),
                  flashes=flashes(request, DONE))


@router.post("/inbox/read")
def read_all(request: Request, db: DbSession, user: FormUser) -> Response:
    service.mark_read(db, actor=user)
    notifications.mark_read(db, actor=user)
    return see_other("/inbox?ok=read")


@router.post("/inbox/notifications/{notification_id}/open")
def open_notification(notification_id: str, db: DbSession, user: FormUser) -> Response:
    """Mark one notification read and go to the console page it is about."""
    found = notifications.get(db, actor=user, public_id=notification_id)
    notifications.mark_read(db, actor=user, notification_id=notification_id)
    return see_other(safe_next(found.link, "/inbox"))
