"""The inbox in the shell (`/inbox`), and the unread badge the top bar loads."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from townsquare.accounts.deps import CurrentUser, FormUser, OptionalUser
from townsquare.messaging import service
from townsquare.web.deps import DbSession
from townsquare.web.forms import see_other
from townsquare.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/inbox/unread", response_class=HTMLResponse)
def unread_badge(db: DbSession, user: OptionalUser) -> HTMLResponse:
    """The top bar's unread badge, loaded by htmx after the page (so no page waits for it)."""
    count = service.unread_count(db, actor=user) if user else 0
    badge = f'<span class="badge" id="inbox-unread">{count}</span>' if count else ""
    return HTMLResponse(badge)


@router.get("/inbox", response_class=HTMLResponse)
def inbox(request: Request, db: DbSession, user: CurrentUser) -> HTMLResponse:
    messages = service.inbox(db, actor=user)
    return render(request, "messaging/inbox.html", messages=messages,
                  unread=sum(1 for m in messages if m.read_at is None))


@router.post("/inbox/read")
def read_all(request: Request, db: DbSession, user: FormUser) -> Response:
    service.mark_read(db, actor=user)
    return see_other("/inbox")
