"""Campaign discounts: the rule (pure), the operator's terms checked, and the answer to
ordering's discount provider (`ordering.orders.set_discount_provider`, connected by the
composition roots in `townsquare.app.connect_hooks`).

A campaign may carry a discount its enrolled mini-apps give at checkout, on the items only
(never packaging or delivery), funded by the merchant: the trade total is what is reduced, so
the merchant's settlement and the platform's fees are on the reduced amount.

- 满减: when the items come to at least `threshold` fen, `off` fen off (满 X 元减 Y 元).
- Percentage: `percent` (1 to 100) of the items off, at most `cap` fen when a cap is set. The
  total after the percentage is rounded down to the fen, so a fraction of a fen goes to the
  resident: the discount is ceil(items × percent / 100), in exact integer arithmetic.
- A campaign with both gives the larger of the two for the order; a mini-app enrolled in
  several running campaigns gets the best single discount (ties: the older campaign). Never
  below 0, never above the items.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.core.clock import clock
from townsquare.core.errors import ValidationFailed
from townsquare.core.i18n import gettext
from townsquare.core.settings import get_settings
from townsquare.miniapps.models import MiniApp
from townsquare.ordering.orders import Discount
from townsquare.traffic.models import Campaign, CampaignEnrolment, CampaignState

MAX_FEN = 100_000_000  # ¥1,000,000: a discount term larger than that is a typo
RUNNING = (CampaignState.OPEN, CampaignState.CLOSED)  # closed: enrolment closed, still running


@dataclass(frozen=True)
class Terms:
    """A campaign's discount terms in fen (None: that part is not offered)."""

    threshold_fen: int | None = None
    off_fen: int | None = None
    percent: int | None = None
    cap_fen: int | None = None

    @property
    def any(self) -> bool:
        return self.off_fen is not None or self.percent is not None

    @classmethod
    def of(cls, campaign: Campaign) -> Terms:
        return cls(threshold_fen=campaign.discount_threshold_fen,
                   off_fen=campaign.discount_off_fen, percent=campaign.discount_percent,
                   cap_fen=campaign.discount_cap_fen)


def amount(terms: Terms, items_fen: int) -> int:
    """The discount in fen for items worth `items_fen` (0 ≤ result ≤ items_fen)."""
    if items_fen <= 0:
        return 0
    best = 0
    if terms.off_fen is not None and items_fen >= (terms.threshold_fen or 0):
        best = terms.off_fen
    if terms.percent is not None:
        off = -(-items_fen * terms.percent // 100)  # ceil: the total rounds down, for the buyer
        if terms.cap_fen is not None:
            off = min(off, terms.cap_fen)
        best = max(best, off)
    return max(0, min(best, items_fen))


def _whole(value: object, *, field: str, low: int, high: int, message: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationFailed(message, field=field, low=low, high=high)
    return value


def check(*, threshold_fen: int | None = None, off_fen: int | None = None,
          percent: int | None = None, cap_fen: int | None = None) -> Terms:
    """The operator's terms, checked (ValidationFailed names the field); all None: none."""
    if off_fen is not None:
        off_fen = _whole(off_fen, field="discount_off", low=1, high=MAX_FEN,
                         message="The amount off is more than ¥0 and at most ¥1,000,000.")
        if threshold_fen is None:
            raise ValidationFailed("Give the amount the items must reach for the amount off.",
                                   field="discount_threshold")
        threshold_fen = _whole(threshold_fen, field="discount_threshold", low=0, high=MAX_FEN,
                               message="The amount the items must reach is ¥0 to ¥1,000,000.")
        if threshold_fen < off_fen:
            raise ValidationFailed("The amount the items must reach is at least the amount off.",
                                   field="discount_threshold")
    elif threshold_fen is not None:
        raise ValidationFailed("Give the amount off with the amount the items must reach.",
                               field="discount_off")
    if percent is not None:
        percent = _whole(percent, field="discount_percent", low=1, high=100,
                         message="The percentage off is a whole number from 1 to 100.")
        if cap_fen is not None:
            cap_fen = _whole(cap_fen, field="discount_cap", low=1, high=MAX_FEN,
                             message="The cap is more than ¥0 and at most ¥1,000,000.")
    elif cap_fen is not None:
        raise ValidationFailed("A cap goes with a percentage off.", field="discount_percent")
    return Terms(threshold_fen=threshold_fen, off_fen=off_fen, percent=percent, cap_fen=cap_fen)


def _yuan(fen: int) -> str:
    return f"{fen // 100}" if fen % 100 == 0 else f"{fen // 100}.{fen % 100:02d}"


def describe(terms: Terms) -> str:
    """The terms in the reader's words ("满 30 元减 5 元；商品 10% off…"); empty for none."""
    parts: list[str] = []
    if terms.off_fen is not None:
        parts.append(gettext("¥{off} off orders of ¥{threshold} or more").format(
            off=_yuan(terms.off_fen), threshold=_yuan(terms.threshold_fen or 0)))
    if terms.percent is not None:
        text = gettext("{percent}% off the items").format(percent=terms.percent)
        if terms.cap_fen is not None:
            text += gettext(" (at most ¥{cap})").format(cap=_yuan(terms.cap_fen))
        parts.append(text)
    return gettext("; ").join(parts)


def describe_campaign(campaign: Campaign) -> str:
    """A campaign's discount terms in the reader's words (empty: it carries none)."""
    return describe(Terms.of(campaign))


def best_for(db: Session, *, miniapp_id: int, items_fen: int,
             now: datetime | None = None, timezone: str | None = None
             ) -> tuple[Campaign, int] | None:
    """The best single discount of the mini-app's current enrolments in running campaigns whose
    local dates include today, as (campaign, fen); None when there is none (or it is 0)."""
    zone = ZoneInfo(timezone or get_settings().timezone)
    day = (now or clock.now()).astimezone(zone).date()
    found = db.scalars(select(Campaign).join(
        CampaignEnrolment, CampaignEnrolment.campaign_id == Campaign.id).where(
        CampaignEnrolment.miniapp_id == miniapp_id, CampaignEnrolment.withdrawn_at.is_(None),
        Campaign.state.in_(RUNNING), Campaign.starts_on <= day, Campaign.ends_on >= day,
        (Campaign.discount_off_fen.is_not(None)) | (Campaign.discount_percent.is_not(None)),
    ).order_by(Campaign.id))
    best: tuple[Campaign, int] | None = None
    for campaign in found:
        fen = amount(Terms.of(campaign), items_fen)
        if fen > 0 and (best is None or fen > best[1]):
            best = (campaign, fen)
    return best


def checkout_discount(db: Session, miniapp: MiniApp, items_fen: int,
                      now: datetime) -> Discount | None:
    """Ordering's discount provider: the best campaign discount for this cart's items."""
    found = best_for(db, miniapp_id=miniapp.id, items_fen=items_fen, now=now)
    if found is None:
        return None
    campaign, fen = found
    return Discount(fen=fen, source=campaign.public_id, name_zh=campaign.title_zh,
                    name_en=campaign.title_en)
