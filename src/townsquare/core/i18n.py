"""Translations and locale formatting (Babel).

Source strings are English msgids; each domain package keeps its own catalogue at
`<package>/locale/<locale>.po`, merged at start-up. zh_CN is the default locale, en the switch.
The current locale lives in a context variable that the web middleware sets per request.
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_datetime as _format_datetime
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

LOCALES = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"
_PACKAGE_ROOT = Path(__file__).resolve().parent.parent

current_locale: ContextVar[str] = ContextVar("current_locale", default=DEFAULT_LOCALE)


@lru_cache
def catalogue(locale: str) -> dict[str, str]:
    """All msgid → translation pairs for `locale`, from every package's locale folder."""
    merged: dict[str, str] = {}
    # `zh_CN.po`, plus `zh_CN.<part>.po` where one package keeps several catalogues
    for po_path in sorted(_PACKAGE_ROOT.glob(f"*/locale/{locale}*.po")):
        with po_path.open("rb") as fh:
            for message in read_po(fh, locale=locale):
                text = message.string
                if message.id and isinstance(message.id, str) and isinstance(text, str) and text:
                    merged[message.id] = text
    return merged


def normalise_locale(value: str | None) -> str | None:
    if not value:
        return None
    value = value.replace("-", "_").lower()
    if value.startswith("zh"):
        return "zh_CN"
    if value.startswith("en"):
        return "en"
    return None


def gettext(message: str) -> str:
    locale = current_locale.get()
    if locale == "en":
        return message
    return catalogue(locale).get(message, message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return gettext(singular if n == 1 else plural)


_ = gettext


def format_datetime(dt: datetime | None, zone: str, fmt: str = "medium") -> str:
    if dt is None:
        return ""
    locale = current_locale.get()
    return _format_datetime(dt, format=fmt, tzinfo=ZoneInfo(zone), locale=locale)


def format_money(fen: int) -> str:
    """Integer fen shown as yuan, e.g. 123456 → ¥1,234.56."""
    return "¥" + format_decimal(fen / 100, format="#,##0.00", locale=current_locale.get())


def N_(message: str) -> str:
    """Marks a msgid for extraction where it is translated later (when shown)."""
    return message
