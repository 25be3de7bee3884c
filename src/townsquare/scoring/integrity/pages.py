"""Anti-fraud pages: the operators' review queue (run detection, the flagged mini-apps with their
anomaly scores, one review's evidence with dismiss / confirm), and the merchant's page saying
why a confirmed review lowered its score."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from townsquare.accounts.deps import CurrentUser, FormUser
from townsquare.accounts.models import Role, User
from townsquare.accounts.permissions import require_role
from townsquare.core.clock import clock
from townsquare.core.errors import TownsquareError, ValidationFailed
from townsquare.core.i18n import N_, gettext
from townsquare.scoring.integrity import reviews
from townsquare.scoring.integrity.models import ReviewState
from townsquare.scoring.integrity.penalties import RULE
from townsquare.web.deps import DbSession
from townsquare.web.forms import flashes, rejected, see_other
from townsquare.web.templating import render

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form(max_length=4000)]
Short = Annotated[str, Form(max_length=100)]
QUEUE_PAGE = "scoring/integrity_queue.html"
REVIEW_PAGE = "scoring/integrity_review.html"
MERCHANT_PAGE = "scoring/integrity_merchant.html"
QUEUE = "/console/operator/integrity"

SIGNALS = {
    "ratings_vs_complaints": (N_("5★ ratings against complaints and refunds"),
                              N_("Most ratings are 5★, yet complaints and refunds per order are "
                                 "far above the category's.")),
    "unbacked_ratings": (N_("Ratings without a purchase"),
                         N_("Ratings from residents who placed no order with the mini-app.")),
    "implausibly_clean": (N_("Implausibly clean record"),
                          N_("Far fewer cancellations, refunds and complaints than even the "
                             "best honest peers have: likely not reported.")),
    "fake_fast_replies": (N_("Replies faster than a person"),
                          N_("Many message replies within seconds.")),
    "sudden_jumps": (N_("Sudden jump"),
                     N_("A metric moved far beyond its own history in the last week.")),
    "self_purchase": (N_("Self-purchase by staff"),
                      N_("Orders by the merchant's staff, or by buyers sharing an address, a "
                         "card or a phone with them.")),
    "brushing": (N_("Brushing ring"),
                 N_("Buyers who order again and again, get refunded, and buy nowhere else.")),
    "shared_identifiers": (N_("Shared address, card or phone"),
                           N_("One address, payment card or phone behind many buyers.")),
    "unreported_refunds": (N_("Unreported refunds"),
                           N_("Refunds the platform made that the mini-app did not report.")),
}
LINKS = {"staff": N_("staff"), "address": N_("same address"), "card": N_("same card"),
         "phone": N_("same phone")}
STATES = {"open": N_("Waiting for review"), "dismissed": N_("Dismissed"),
          "confirmed": N_("Confirmed")}
# the figures and evidence columns the detectors write (detectors.py), as the pages name them
FIELDS = {
    "five_star_share": N_("Share of 5★ ratings"), "ratings": N_("Ratings"),
    "trouble_rate": N_("Complaints and refunds per order"), "trouble_limit": N_("Limit"),
    "complaints": N_("Complaints"), "refunds": N_("Refunds"), "orders": N_("Orders"),
    "cancellations": N_("Cancellations"), "unbacked": N_("Unbacked ratings"),
    "share": N_("Share"), "chance": N_("Chance"), "seen": N_("Seen"),
    "expected_at_least": N_("Expected at least"), "responses": N_("Replies"),
    "under_seconds": N_("Fast means under (seconds)"), "fast": N_("Fast replies"),
    "jumps": N_("Jumps"), "buyers": N_("Buyers"), "identifiers": N_("Identifiers"),
    "most_buyers": N_("Most buyers on one"), "platform_refunds": N_("Refunds by the platform"),
    "reported": N_("Reported by the mini-app"), "missing": N_("Not reported"),
    "rating": N_("Rating"), "metric": N_("Metric"), "before": N_("Weeks before"),
    "last_week": N_("Last week"), "z": N_("Robust z"), "buyer": N_("Buyer"),
    "link": N_("Tie to staff"), "refunded": N_("Refunded"),
    "other_merchants": N_("Merchants bought from elsewhere"), "kind": N_("Kind"),
    "mean_rating": N_("Average rating"), "fast_reply_share": N_("Share of fast replies"),
    "masked": N_("Identifier"), "count": N_("Count"), "trade": N_("Trade"),
}
DONE = {
    "detected": N_("Detection finished; the flagged mini-apps are in the queue."),
    "dismissed": N_("Flag dismissed; no penalty."),
    "confirmed": N_("Flag confirmed; the penalty applies from the next scoring cycle and the "
                    "merchant was told."),
}


def signal_name(code: str) -> str:
    return gettext(SIGNALS[code][0]) if code in SIGNALS else code


def signal_help(code: str) -> str:
    return gettext(SIGNALS[code][1]) if code in SIGNALS else ""


def _helpers() -> dict[str, Any]:
    return {"signal_name": signal_name, "signal_help": signal_help,
            "link_name": lambda k: gettext(LINKS[k]) if k in LINKS else k,
            "field_name": lambda k: gettext(FIELDS[k]) if k in FIELDS else k,
            "state_name": lambda s: gettext(STATES[s]) if s in STATES else s, "rule": RULE}


def _queue_context(db: Session, *, user: User, state: str) -> dict[str, Any]:
    require_role(user, Role.OPERATOR)
    chosen = ReviewState(state) if state in STATES else None
    return {"reviews": reviews.list_reviews(db, actor=user, state=chosen),
            "state": state if chosen else "all", "states": STATES,
            "today": clock.now().date(), **_helpers()}


@router.get(QUEUE, response_class=HTMLResponse)
def queue(request: Request, user: CurrentUser, db: DbSession):
    state = request.query_params.get("state", "open")
    context = _queue_context(db, user=user, state=state)
    return render(request, QUEUE_PAGE, flashes=flashes(request, DONE), form={}, **context)


@router.post(f"{QUEUE}/detect")
def detect_now(request: Request, user: FormUser, db: DbSession, as_of: Short = "") -> Response:
    require_role(user, Role.OPERATOR)
    try:
        try:
            day = date.fromisoformat(as_of.strip())
        except ValueError as exc:
            raise ValidationFailed("Give the date as YYYY-MM-DD.", field="as_of") from exc
        if day > clock.now().date():
            raise ValidationFailed("Choose a date no later than today.", field="as_of")
        reviews.detect(db, as_of=day, actor=user)
    except TownsquareError as exc:
        db.rollback()
        context = _queue_context(db, user=user, state="open")
        return rejected(request, db, QUEUE_PAGE, exc, failed="detect", form={"as_of": as_of},
                        **context)
    return see_other(f"{QUEUE}?ok=detected")


def _review_context(db: Session, *, user: User, review_id: str) -> dict[str, Any]:
    require_role(user, Role.OPERATOR)
    return {"review": reviews.get_review(db, actor=user, public_id=review_id), **_helpers()}


@router.get(QUEUE + "/{review_id}", response_class=HTMLResponse)
def review_page(request: Request, review_id: str, user: CurrentUser, db: DbSession):
    context = _review_context(db, user=user, review_id=review_id)
    return render(request, REVIEW_PAGE, flashes=flashes(request, DONE), form={}, **context)


@router.post(QUEUE + "/{review_id}/decide")
def decide(request: Request, review_id: str, user: FormUser, db: DbSession,
           decision: Short = "", reason: Text = "") -> Response:
    try:
        review = reviews.decide(db, actor=user, review_id=review_id, decision=decision,
                                reason=reason)
    except TownsquareError as exc:
        db.rollback()
        context = _review_context(db, user=user, review_id=review_id)
        return rejected(request, db, REVIEW_PAGE, exc, failed="decide",
                        form={"reason": reason}, **context)
    return see_other(f"{QUEUE}/{review.public_id}?ok={review.state.value}")


@router.get("/console/miniapps/{miniapp_id}/integrity", response_class=HTMLResponse)
def merchant_page(request: Request, miniapp_id: str, user: CurrentUser, db: DbSession):
    miniapp, confirmed = reviews.confirmed_for(db, actor=user, miniapp_id=miniapp_id)
    return render(request, MERCHANT_PAGE, miniapp=miniapp, confirmed=confirmed, **_helpers())
