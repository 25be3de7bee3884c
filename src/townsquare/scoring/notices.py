"""Telling merchants about complaints and dispute decisions (through messaging's one door).

Complaints arrive through the event intake, which sits beside messaging and may not import it;
scoring, above both, listens to the intake's hook (`connect`, called by the composition roots).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from townsquare.events import intake
from townsquare.messaging.notifications import notify
from townsquare.scoring.models import ComplaintDispute


def complaints_page(miniapp_public_id: str) -> str:
    return f"/console/miniapps/{miniapp_public_id}/score#complaints"


def on_complaints(db: Session, event: intake.ComplaintsReceived) -> None:
    miniapp = event.miniapp
    notify(db, kind="complaint.received", merchant_id=miniapp.merchant_id, miniapp=miniapp,
           params={"count": event.count}, link=complaints_page(miniapp.public_id))


def dispute_decided(db: Session, dispute: ComplaintDispute) -> None:
    miniapp = dispute.miniapp
    notify(db, kind=f"dispute.{dispute.state.value}", merchant_id=miniapp.merchant_id,
           miniapp=miniapp, params={"reason": dispute.decision_reason},
           link=complaints_page(miniapp.public_id))


def connect() -> None:
    """Subscribe to the event intake's complaints (idempotent)."""
    intake.complaints_received.connect("scoring.notices", on_complaints)
