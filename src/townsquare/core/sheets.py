"""Reading and writing a sheet of rows as CSV or XLSX, for any import or export. No database.

CSV is written as UTF-8 with a byte-order mark (so Excel opens Chinese text as such) and read
as UTF-8 or, failing that, GB 18030 (what Excel in Chinese saves). Every text cell is defused
against spreadsheet formulas (`core.csvout.safe_cell`), in both formats. How a non-text XLSX
cell (a date, a time, a number) becomes text is the caller's choice (`read(..., cell=…)`)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

from openpyxl import Workbook, load_workbook

from townsquare.core.csvout import line, safe_cell
from townsquare.core.errors import TownsquareError, ValidationFailed

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 5_000
XLSX_MAGIC = b"PK\x03\x04"
Cell = str | int | float | None


def write_csv(header: Sequence[str], rows: Sequence[Sequence[Cell]]) -> bytes:
    text = line(header) + "".join(line(row) for row in rows)
    return ("\ufeff" + text).encode("utf-8")


def write_xlsx(header: Sequence[str], rows: Sequence[Sequence[Cell]], title: str) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title[:31]
    sheet.append(list(header))
    for row in rows:
        sheet.append([safe_cell(value) for value in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def cell_text(value: object) -> str:
    """An XLSX cell as a person would type it: whole numbers without ".0", a date cell as
    YYYY-MM-DD (with the time when it has one), a time cell as HH:MM."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        if value.time() == time(0, 0):
            return value.date().isoformat()
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M")
    return str(value).strip()


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return data.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise ValidationFailed("Save the file as CSV in UTF-8, or as XLSX.",
                                   field="file") from exc


def read(data: bytes, *, cell: Callable[[object], str] = cell_text) -> list[list[str]]:
    """The sheet's rows (the header first) as text cells; XLSX is told by its content."""
    if not data:
        raise ValidationFailed("Choose a CSV or XLSX file.", field="file")
    if len(data) > MAX_BYTES:
        raise ValidationFailed("A file is at most 5 MB.", field="file")
    if data.startswith(XLSX_MAGIC):
        rows = _read_xlsx(data, cell)
    else:
        try:
            rows = [[value.strip() for value in row]
                    for row in csv.reader(io.StringIO(_decode(data)))]
        except csv.Error as exc:
            raise ValidationFailed("This CSV file cannot be read.", field="file") from exc
    rows = [row for row in rows if any(row)]
    if len(rows) > MAX_ROWS + 1:
        raise ValidationFailed("A file has at most {n} rows.", n=MAX_ROWS, field="file")
    if not rows:
        raise ValidationFailed("The file has no header row.", field="file")
    return rows


def _read_xlsx(data: bytes, cell: Callable[[object], str]) -> list[list[str]]:
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise ValidationFailed("This XLSX file cannot be read.", field="file") from exc
    try:
        sheet = book.worksheets[0]
        rows = []
        for row in sheet.iter_rows(values_only=True):
            rows.append([cell(value) for value in row])
            if len(rows) > MAX_ROWS + 1:
                break
        return rows
    finally:
        book.close()


@dataclass(frozen=True)
class Problem:
    """One refused cell of an import."""

    row: int  # as the spreadsheet numbers it: the header is row 1
    column: str
    error: TownsquareError

    def text(self, translate: Callable[[str], str]) -> str:
        return self.error.render(translate)


class ImportRefused(TownsquareError):
    """An all-or-nothing import refused: every problem, by row and column."""

    code = "import_refused"
    status = 422

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("The file was not imported: {n} problems. Nothing was changed.",
                         n=len(problems),
                         details=[{"row": p.row, "column": p.column, "message": p.error.render()}
                                  for p in problems])
        self.problems = problems
