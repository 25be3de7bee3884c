"""Event intake JSON API for mini-app backends (client id + secret in headers)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header

from townsquare.core.errors import TownsquareError
from townsquare.events import intake
from townsquare.events.schemas import BatchIn, BatchOut, EventError, EventIn, EventOut, EventResult
from townsquare.miniapps.models import MiniApp
from townsquare.miniapps.shell.consent import authenticate_client
from townsquare.web.deps import DbSession
from townsquare.web.openapi import error

router = APIRouter(prefix="/api", tags=["events"])

ClientId = Annotated[str, Header(alias="X-Client-Id", max_length=40,
                                 description="Your mini-app's public id")]
ClientSecret = Annotated[str, Header(alias="X-Client-Secret", max_length=128)]


def _client(db: DbSession, client_id: str, client_secret: str) -> MiniApp:
    return authenticate_client(db, client_id=client_id, client_secret=client_secret)


@router.post(
    "/events", response_model=EventOut,
    responses={
        401: error("invalid_client: unknown client id or wrong client secret"),
        403: error("The event names another mini-app, a user the platform did not issue to "
                   "it, or a type only the platform records"),
        422: error("The event is malformed; details.field names the field"),
    },
)
def post_event(
    body: EventIn, db: DbSession, client_id: ClientId = "", client_secret: ClientSecret = ""
) -> EventOut:
    """Record one behaviour event of your mini-app (idempotent on `event_id`)."""
    miniapp = _client(db, client_id, client_secret)
    (outcome,) = intake.ingest(db, client=miniapp, events=[body.raw()])
    if outcome.status == "rejected":
        raise TownsquareError(outcome.message, code=outcome.code,
                              status=403 if outcome.code in intake.REFUSED else 422,
                              details={"field": outcome.field})
    return EventOut(event_id=outcome.event_id,
                    status="accepted" if outcome.status == "accepted" else "duplicate")


@router.post(
    "/events/batch", response_model=BatchOut,
    responses={
        401: error("invalid_client: unknown client id or wrong client secret"),
        422: error("Not a list of 1 to 500 events"),
    },
)
def post_batch(
    body: BatchIn, db: DbSession, client_id: ClientId = "", client_secret: ClientSecret = ""
) -> BatchOut:
    """Record up to 500 events: each is accepted, a duplicate, or rejected with its own error;
    one bad event never loses the others."""
    miniapp = _client(db, client_id, client_secret)
    outcomes = intake.ingest(db, client=miniapp, events=body.events)
    count = {status: sum(o.status == status for o in outcomes)
             for status in ("accepted", "duplicate", "rejected")}
    return BatchOut(
        accepted=count["accepted"], duplicates=count["duplicate"], rejected=count["rejected"],
        results=[EventResult(index=o.index, event_id=o.event_id, status=o.status)
                 for o in outcomes],
        errors=[EventError(index=o.index, event_id=o.event_id, code=o.code, message=o.message,
                           field=o.field) for o in outcomes if o.status == "rejected"],
    )
