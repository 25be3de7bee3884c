"""Account codes: one readable string per account, made here and nowhere else."""

from __future__ import annotations

from townsquare.payments.ledger.models import AccountKind

PLATFORM_FEES = "platform:fees"
BANK_CLEARING = "bank:clearing"


def wallet(user_id: int) -> str:
    return f"wallet:{user_id}"


def merchant_pending(merchant_id: int) -> str:
    return f"merchant:{merchant_id}:pending"


def merchant_available(merchant_id: int) -> str:
    return f"merchant:{merchant_id}:available"


def isv_commission(provider_id: int) -> str:
    return f"isv:{provider_id}:commission"


def community_commission(community_id: int) -> str:
    return f"community:{community_id}:commission"


def kind_of(code: str) -> AccountKind:
    """The kind an account code names (ValueError for a code no one makes)."""
    head, _, tail = code.partition(":")
    if code == PLATFORM_FEES:
        return AccountKind.PLATFORM_FEES
    if code == BANK_CLEARING:
        return AccountKind.BANK_CLEARING
    if head == "wallet" and tail.isdigit():
        return AccountKind.WALLET
    owner, _, part = tail.partition(":")
    if owner.isdigit():
        if head == "merchant" and part == "pending":
            return AccountKind.MERCHANT_PENDING
        if head == "merchant" and part == "available":
            return AccountKind.MERCHANT_AVAILABLE
        if head == "isv" and part == "commission":
            return AccountKind.ISV_COMMISSION
        if head == "community" and part == "commission":
            return AccountKind.COMMUNITY_COMMISSION
    raise ValueError(f"not a ledger account code: {code!r}")


# Money from outside the platform enters here, so its balance is the negative of what the
# platform holds for others.
MAY_GO_NEGATIVE = frozenset({AccountKind.BANK_CLEARING})
