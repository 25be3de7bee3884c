"""The property manager writes a bill off (a wrong or uncollectable charge), with a reason: the
bill is then owed by nobody — neither outstanding nor collected in the figures, no longer
payable, never reminded — and the step is audited. A paid bill cannot be written off; writing
off a written-off bill again answers it unchanged.

A write-off and a member's payment of the same bill cannot both win: the write-off locks the
bill's row and moves it only from unpaid (a conditional UPDATE); the payment's listener
(`payment.py`) locks the same row and requires it unpaid, else it fails the payment whole, so
no money moves for a written-off bill."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session, lazyload

from townsquare.accounts.models import User
from townsquare.community.bills.models import Bill, BillStatus
from townsquare.community.bills.service import BillPaid, require_property
from townsquare.community.models import Community
from townsquare.core import audit
from townsquare.core.clock import clock
from townsquare.core.database import rows_changed
from townsquare.core.errors import NotFound
from townsquare.core.i18n import N_
from townsquare.core.text import clean_text, well_formed


def write_off(db: Session, *, actor: User | None, community: Community, bill_id: str,
              reason: str) -> Bill:
    """Write an unpaid bill off with a reason (the community's property manager only)."""
    require_property(db, actor=actor, community=community)
    reason = clean_text(reason, field="reason", max_length=200, required=True,
                        message=N_("Say why the bill is written off, in 1 to {n} characters."))
    bill = None
    if well_formed(bill_id, "fee"):
        bill = db.scalar(select(Bill).where(Bill.public_id == bill_id,
                                            Bill.community_id == community.id)
                         .options(lazyload(Bill.household)).with_for_update()
                         .execution_options(populate_existing=True))
    if bill is None:
        raise NotFound("No such bill.")
    if bill.status is BillStatus.WRITTEN_OFF:
        return bill  # idempotent: the first write-off stands, with its reason
    if bill.status is BillStatus.PAID:
        raise BillPaid("A paid bill cannot be written off.")
    now = clock.now()
    moved = db.execute(
        update(Bill).where(Bill.id == bill.id, Bill.status == BillStatus.UNPAID)
        .values(status=BillStatus.WRITTEN_OFF, written_off_at=now,
                written_off_by_id=actor.id if actor else None, write_off_reason=reason)
        .execution_options(synchronize_session=False))
    db.refresh(bill)
    if rows_changed(moved) != 1:  # cannot happen under the lock; never write off a paid bill
        raise BillPaid("A paid bill cannot be written off.")
    audit.record(db, actor_id=actor.id if actor else None, action="community.bill.write_off",
                 subject_type="bill", subject_id=bill.public_id, reason=reason,
                 amount_fen=bill.amount_fen, item=bill.item, period=bill.period)
    return bill
