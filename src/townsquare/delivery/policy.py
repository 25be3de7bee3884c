"""Choosing a provider from quotes (pure: no database, no network; unit-tested alone).

The order of preference: the shop's own riders first when the merchant asks for it and a rider
is free (the self adapter only quotes when one is); then by the merchant's policy:
- cheapest: lowest fee, then earliest drop-off;
- fastest: earliest drop-off, then lowest fee;
- cheapest in time: lowest fee among quotes that drop off by the promised time, then (if none
  can) the earliest drop-off.
Ties fall to the merchant's order of providers, then the name. The whole ranking is returned:
failover books the next one down."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from townsquare.delivery.adapters.base import ProviderQuote

SELF = "self"
CHEAPEST, FASTEST, CHEAPEST_IN_TIME = "cheapest", "fastest", "cheapest_in_time"


@dataclass(frozen=True)
class Ranked:
    quote: ProviderQuote
    reason: str  # "self_first", "cheapest", "fastest", "in_time", "late"


def rank(quotes: Sequence[ProviderQuote], *, policy: str, promised_by: datetime | None,
         self_first: bool, preference: Sequence[str] = ()) -> list[Ranked]:
    """Every quote, best first, with why it stands where it does."""
    order = {name: i for i, name in enumerate(preference)}

    def pref(q: ProviderQuote) -> tuple[int, str]:
        return (order.get(q.provider, len(order)), q.provider)

    def by_fee(q: ProviderQuote) -> tuple[object, ...]:
        return (q.fee_fen, q.dropoff_eta, *pref(q))

    def by_time(q: ProviderQuote) -> tuple[object, ...]:
        return (q.dropoff_eta, q.fee_fen, *pref(q))

    first: list[Ranked] = []
    rest = list(quotes)
    if self_first:
        first = [Ranked(q, "self_first") for q in rest if q.provider == SELF]
        rest = [q for q in rest if q.provider != SELF]
    if policy == FASTEST:
        ranked = [Ranked(q, "fastest") for q in sorted(rest, key=by_time)]
    elif policy == CHEAPEST_IN_TIME and promised_by is not None:
        in_time = sorted((q for q in rest if q.dropoff_eta <= promised_by), key=by_fee)
        late = sorted((q for q in rest if q.dropoff_eta > promised_by), key=by_time)
        ranked = [Ranked(q, "in_time") for q in in_time] + [Ranked(q, "late") for q in late]
    else:
        ranked = [Ranked(q, "cheapest") for q in sorted(rest, key=by_fee)]
    return first + ranked
