"""A resident cancels their own booking before the provider sets out: an unpaid one closes its
trade, a paid one is refunded whole through the trade (the ledger gives the commission back in
proportion). The booking follows its trade through the payments hook (`bookings.py`), so this
module only checks who and when, under a lock on the booking row that the provider's
`advance` takes too."""

from __future__ import annotations

from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.community.models import Community
from townsquare.community.services import bookings
from townsquare.community.services.models import Booking, BookingStatus
from townsquare.core import audit
from townsquare.payments import trades

B = BookingStatus
RESIDENT_MAY_CANCEL = (B.CREATED, B.PAID)


def cancel(db: Session, *, actor: User, community: Community, booking_id: str) -> Booking:
    """Cancel my booking while it waits for payment or is paid and nobody is on the way yet.
    Cancelling a cancelled booking again answers it unchanged."""
    booking = bookings.locked(db, bookings.mine(db, actor=actor, community=community,
                                       booking_id=booking_id))
    if booking.status is B.CANCELLED:
        return booking
    if booking.status not in RESIDENT_MAY_CANCEL:
        raise bookings.BookingStateError(
            "The provider is on the way or done; ask them or the property instead.")
    trades.cancel(db, trade=trades.get(db, booking.trade_no))
    db.refresh(booking)
    audit.record(db, actor_id=actor.id, action="community.booking.cancel",
                 subject_type="booking", subject_id=booking.public_id)
    return booking
