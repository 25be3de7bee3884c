"""Money at the edges: people type yuan ("12.50"), everything stored and every JSON API carries
integer fen (1250). The conversion is exact (Decimal, never float)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from townsquare.core.errors import ValidationFailed

_YUAN = re.compile(r"^\d{1,9}(\.\d{1,2})?$")
YUAN_PROBLEM = "Enter an amount in yuan with at most two decimals, such as 1.50."


def yuan_to_fen(value: str, *, field: str) -> int:
    """"1.50" → 150, "¥1,234.5" → 123450; anything else (negative, three decimals, words, more
    than 999,999,999 yuan) raises ValidationFailed naming `field`. Bounds are the caller's."""
    text = (value or "").strip().replace("¥", "").replace("￥", "").replace(",", "")
    try:
        if not _YUAN.match(text):
            raise InvalidOperation
        return int(Decimal(text) * 100)
    except InvalidOperation as exc:
        raise ValidationFailed(YUAN_PROBLEM, field=field) from exc


def fen_to_yuan(fen: int) -> str:
    """150 → "1.50": the value to put back into a yuan form field."""
    return str((Decimal(fen) / 100).quantize(Decimal("0.01")))
