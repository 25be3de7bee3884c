"""CSV for people: every export writes its rows through `line`, which defuses spreadsheet
formulas. A text cell that begins with "=", "+", "-", "@", a tab or a carriage return (or their
full-width forms, which spreadsheets also read) is prefixed with an apostrophe, so "=1+2" or
"=HYPERLINK(…)" typed into a name shows as text instead of running when the file is opened
(OWASP "CSV injection"). Numbers stay numbers."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def safe_cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def line(values: Iterable[object]) -> str:
    """One CSV line (with its line ending), every text cell defused."""
    buffer = io.StringIO()
    csv.writer(buffer).writerow([safe_cell(value) for value in values])
    return buffer.getvalue()
