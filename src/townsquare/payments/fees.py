"""Who gets what of a payment: the platform's fee, the ISVs' royalties, a community's commission
and the merchant's part, in exact integer fen (see docs/payments.md, "Fees and splits").

The rounding rule: each fee is `total × rate` rounded half up to the fen (platform first, then the
ISVs by provider id, then the community; none may take more than is left), and the merchant gets
the remainder, so the parts always sum to the total. A refund gives back each part in proportion
to the money refunded so far (`split_refund`); the refunds of a fully refunded trade give back
exactly the original parts, and no refund's part is ever negative."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.accounts.models import Role, User
from townsquare.accounts.permissions import require_role
from townsquare.core import audit
from townsquare.core.clock import clock
from townsquare.core.errors import NotFound, ValidationFailed
from townsquare.core.text import well_formed
from townsquare.merchants.models import Authorization, Category
from townsquare.merchants.service import staffed_merchant
from townsquare.payments.ledger import accounts
from townsquare.payments.ledger.models import JournalEntry, LedgerAccount
from townsquare.payments.ledger.posting import InsufficientFunds, post
from townsquare.payments.ledger.records import FeeRule, RoyaltyRate

BP = 10_000  # basis points in a whole: 60 bp = 0.6 %
DEFAULT_PLATFORM_FEE_BP = 60  # a category with no rule, while no default rule is set
MAX_PLATFORM_FEE_BP = 1_000  # 10 %
MAX_ROYALTY_BP = 3_000  # 30 %
MAX_COMMUNITY_BP = 3_000  # 30 %


class InvalidRate(ValidationFailed):
    code = "invalid_rate"


@dataclass(frozen=True)
class Split:
    """The parts of one payment (or of one refund of it), in fen."""

    merchant_fen: int
    platform_fen: int
    isv: dict[int, int] = field(default_factory=dict)  # provider id → fen
    community: dict[int, int] = field(default_factory=dict)  # community id → fen

    @property
    def total_fen(self) -> int:
        return (self.merchant_fen + self.platform_fen + sum(self.isv.values())
                + sum(self.community.values()))

    def legs(self, source: str, merchant_id: int) -> dict[str, int]:
        """The ledger legs of a payment: `source` pays the total, each part lands in its account
        (the merchant's in its pending funds)."""
        legs = {source: -self.total_fen, accounts.merchant_pending(merchant_id): self.merchant_fen,
                accounts.PLATFORM_FEES: self.platform_fen}
        for provider_id, fen in self.isv.items():
            legs[accounts.isv_commission(provider_id)] = fen
        for community_id, fen in self.community.items():
            legs[accounts.community_commission(community_id)] = fen
        return legs

    def refund_legs(self, destination: str, merchant_id: int, *,
                    from_pending_fen: int | None = None) -> dict[str, int]:
        """The legs of a refund whose parts are this split, paid back to `destination`.

        The merchant's part comes out of its pending funds, up to `from_pending_fen` when that is
        given (what is still pending); the rest out of its available funds (already settled)."""
        legs = {code: -fen for code, fen in self.legs(destination, merchant_id).items()}
        if from_pending_fen is not None and from_pending_fen < self.merchant_fen:
            pending = max(from_pending_fen, 0)
            legs[accounts.merchant_pending(merchant_id)] = -pending
            legs[accounts.merchant_available(merchant_id)] = -(self.merchant_fen - pending)
        return legs

    def _parts(self) -> list[int]:
        return ([self.merchant_fen, self.platform_fen]
                + [self.isv[k] for k in sorted(self.isv)]
                + [self.community[k] for k in sorted(self.community)])

    def _with(self, parts: list[int]) -> Split:
        isv_ids, community_ids = sorted(self.isv), sorted(self.community)
        rest = parts[2:]
        return Split(merchant_fen=parts[0], platform_fen=parts[1],
                     isv=dict(zip(isv_ids, rest[:len(isv_ids)], strict=True)),
                     community=dict(zip(community_ids, rest[len(isv_ids):], strict=True)))


def fee_of(total_fen: int, rate_bp: int) -> int:
    """`total × rate` rounded half up to the fen."""
    return (total_fen * rate_bp + BP // 2) // BP


def split_by_rates(total_fen: int, *, platform_bp: int, isv_bp: dict[int, int] | None = None,
                   community_bp: dict[int, int] | None = None) -> Split:
    """The split of `total_fen` at these rates (pure: no database)."""
    if isinstance(total_fen, bool) or not isinstance(total_fen, int) or total_fen < 0:
        raise ValueError(f"a total is a non-negative integer of fen, not {total_fen!r}")
    left = total_fen

    def take(rate_bp: int) -> int:
        nonlocal left
        if rate_bp < 0:
            raise ValueError(f"a rate cannot be negative: {rate_bp}")
        fen = min(fee_of(total_fen, rate_bp), left)
        left -= fen
        return fen

    platform = take(platform_bp)
    isv = {pid: take(rate) for pid, rate in sorted((isv_bp or {}).items())}
    community = {cid: take(rate) for cid, rate in sorted((community_bp or {}).items())}
    return Split(merchant_fen=left, platform_fen=platform, isv=isv, community=community)


def _allotted(parts: list[int], done_fen: int) -> list[int]:
    """How much of each part `done_fen` of the whole gives back.

    Imagine the whole handed back one fen at a time: the k-th fen of a part p falls due when
    k/p of the whole has been handed back (ties go to the earlier part). The parts of
    `done_fen` are those first `done_fen` fen, so they only grow as `done_fen` grows and they
    are exactly `parts` once it reaches the whole."""
    total = sum(parts)
    if done_fen >= total:
        return list(parts)
    given = [p * done_fen // total for p in parts]  # every fen due at or before done/total
    left = done_fen - sum(given)  # fewer than len(parts) remain, due just after it
    due = sorted((Fraction(given[i] + k, p), i)
                 for i, p in enumerate(parts) for k in range(1, min(left, p - given[i]) + 1))
    for _, i in due[:left]:
        given[i] += 1
    return given


def split_refund(original: Split, refund_fen: int, refunded_before_fen: int) -> Split:
    """The parts of a refund of `refund_fen`, after `refunded_before_fen` was refunded already.

    Each part is ≥ 0, they sum to `refund_fen`, and the refunds of a fully refunded trade sum,
    part by part, to `original`."""
    total = original.total_fen
    if refund_fen <= 0 or refunded_before_fen < 0 or refunded_before_fen + refund_fen > total:
        raise ValueError(f"cannot refund {refund_fen} after {refunded_before_fen} of {total}")
    parts = original._parts()
    before = _allotted(parts, refunded_before_fen)
    after = _allotted(parts, refunded_before_fen + refund_fen)
    return original._with([a - b for a, b in zip(after, before, strict=True)])


# --- the rules, as stored ---------------------------------------------------------------------

def platform_rate_bp(db: Session, *, category_id: int | None) -> int:
    """The platform fee rate for a category: its rule, else the default rule, else 60 bp."""
    if category_id is not None:
        rate = db.scalar(select(FeeRule.rate_bp).where(FeeRule.category_id == category_id))
        if rate is not None:
            return rate
    return default_rate_bp(db)


def default_rate_bp(db: Session) -> int:
    rate = db.scalar(select(FeeRule.rate_bp).where(FeeRule.category_id.is_(None))
                     .order_by(FeeRule.id).limit(1))
    return DEFAULT_PLATFORM_FEE_BP if rate is None else rate


def royalty_rates_bp(db: Session, *, merchant_id: int) -> dict[int, int]:
    """provider id → royalty rate of the ISVs the merchant authorizes now (revoked ones take
    nothing)."""
    rows = db.execute(
        select(Authorization.provider_id, RoyaltyRate.rate_bp)
        .join(RoyaltyRate, RoyaltyRate.authorization_id == Authorization.id)
        .where(Authorization.merchant_id == merchant_id, Authorization.revoked_at.is_(None),
               RoyaltyRate.rate_bp > 0))
    return {provider_id: rate for provider_id, rate in rows}


def split_for(db: Session, *, merchant_id: int, category_id: int | None, total_fen: int,
              community_id: int | None = None, community_rate_bp: int = 0) -> Split:
    """The split of a payment of `total_fen` to a merchant, by the rules in force now."""
    _check_rate(community_rate_bp, MAX_COMMUNITY_BP)
    community = {community_id: community_rate_bp} if community_id is not None else {}
    return split_by_rates(total_fen, platform_bp=platform_rate_bp(db, category_id=category_id),
                          isv_bp=royalty_rates_bp(db, merchant_id=merchant_id),
                          community_bp=community)


def refund_legs(db: Session, refund: Split, *, destination: str,
                merchant_id: int) -> dict[str, int]:
    """The legs of a refund: the merchant's part from pending funds while they last, the rest
    from available funds (settled already). Reads the pending balance without locking it (a
    lock here, before the wallet's, would break the ledger's lock order): use `post_refund`,
    which tries again if settlement moved the money in between."""
    pending = db.scalar(select(LedgerAccount.balance_fen)
                        .where(LedgerAccount.code == accounts.merchant_pending(merchant_id)))
    return refund.refund_legs(destination, merchant_id, from_pending_fen=pending or 0)


def post_refund(db: Session, refund: Split, *, destination: str, merchant_id: int,
                reference: str, idempotency_key: str | None = None, kind: str = "refund",
                memo: str = "") -> JournalEntry:
    """Post a refund whose parts are `refund` back to `destination` (see `refund_legs`).

    Refused whole (ledger.InsufficientFunds) when the merchant's pending and available funds
    together cannot give its part back."""
    for attempt in range(2):
        try:
            return post(db, kind=kind, reference=reference, idempotency_key=idempotency_key,
                        memo=memo, legs=refund_legs(db, refund, destination=destination,
                                                    merchant_id=merchant_id))
        except InsufficientFunds:
            if attempt:  # the pending balance read was current: the money is not there
                raise
    raise AssertionError("unreachable")


def _check_rate(rate_bp: int, most: int) -> None:
    if isinstance(rate_bp, bool) or not isinstance(rate_bp, int) or not 0 <= rate_bp <= most:
        raise InvalidRate("A rate is a whole number of basis points from 0 to {most}.", most=most)


def fee_rules(db: Session) -> list[tuple[Category, int | None]]:
    """Every category with its own rate (None: it pays the default)."""
    rules = dict(db.execute(select(FeeRule.category_id, FeeRule.rate_bp)
                            .where(FeeRule.category_id.is_not(None))).tuples().all())
    return [(category, rules.get(category.id))
            for category in db.scalars(select(Category).order_by(Category.code))]


def set_fee_rate(db: Session, *, actor: User | None, category_code: str | None,
                 rate_bp: int | None) -> None:
    """The operator sets a category's rate (None clears it back to the default), or the default
    rate itself (`category_code` None)."""
    require_role(actor, Role.OPERATOR)
    category_id = None
    if category_code is not None:
        category_id = db.scalar(select(Category.id).where(Category.code == category_code))
        if category_id is None:
            raise NotFound("No such category.")
    elif rate_bp is None:
        raise InvalidRate("The default rate cannot be cleared.")
    if rate_bp is not None:
        _check_rate(rate_bp, MAX_PLATFORM_FEE_BP)
    where = (FeeRule.category_id == category_id if category_id is not None
             else FeeRule.category_id.is_(None))
    rule = db.scalar(select(FeeRule).where(where).order_by(FeeRule.id).limit(1)
                     .with_for_update())
    if rate_bp is None:
        if rule is not None:
            db.delete(rule)
    elif rule is None:
        db.add(FeeRule(category_id=category_id, rate_bp=rate_bp, updated_at=clock.now(),
                       updated_by_id=actor.id if actor else None))
    else:
        rule.rate_bp, rule.updated_at = rate_bp, clock.now()
        rule.updated_by_id = actor.id if actor else None
    db.flush()
    audit.record(db, actor_id=actor.id if actor else None, action="payments.fee_rate",
                 subject_type="category", subject_id=category_code or "*", rate_bp=rate_bp)


def set_royalty_rate(db: Session, *, actor: User | None, merchant_id: str,
                     authorization_id: str, rate_bp: int) -> RoyaltyRate:
    """The merchant's staff agree the royalty of an ISV they authorize (public ids)."""
    merchant = staffed_merchant(db, actor=actor, public_id=merchant_id)
    _check_rate(rate_bp, MAX_ROYALTY_BP)
    authorization = None
    if well_formed(authorization_id, "auz"):
        authorization = db.scalar(select(Authorization).where(
            Authorization.public_id == authorization_id,
            Authorization.merchant_id == merchant.id, Authorization.revoked_at.is_(None)))
    if authorization is None:
        raise NotFound("No such authorization.")
    row = db.scalar(select(RoyaltyRate).where(RoyaltyRate.authorization_id == authorization.id)
                    .with_for_update())
    if row is None:
        row = RoyaltyRate(authorization_id=authorization.id, rate_bp=rate_bp,
                          updated_at=clock.now())
        db.add(row)
    row.rate_bp, row.updated_at = rate_bp, clock.now()
    row.updated_by_id = actor.id if actor else None
    db.flush()
    audit.record(db, actor_id=actor.id if actor else None, action="payments.royalty_rate",
                 subject_type="merchant", subject_id=merchant.public_id,
                 authorization=authorization.public_id, rate_bp=rate_bp)
    return row
