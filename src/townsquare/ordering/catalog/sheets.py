"""The catalog's sheets: `core.sheets` (CSV or XLSX, read and written, formulas defused), with
the catalog's reading of an XLSX time cell ("08:00", for the available hours)."""

from __future__ import annotations

from datetime import date, datetime, time

from townsquare.core import sheets as _sheets
from townsquare.core.sheets import MAX_BYTES, MAX_ROWS, XLSX_MAGIC, Cell, write_csv, write_xlsx

__all__ = ["MAX_BYTES", "MAX_ROWS", "XLSX_MAGIC", "Cell", "read", "write_csv", "write_xlsx"]


def _text(value: object) -> str:
    if isinstance(value, datetime):
        return value.strftime("%H:%M")
    if isinstance(value, date | time):  # as before the reader moved down: a time cell's own text
        return str(value).strip()
    return _sheets.cell_text(value)


def read(data: bytes) -> list[list[str]]:
    """The sheet's rows (the header first) as text cells; XLSX is told by its content."""
    return _sheets.read(data, cell=_text)
