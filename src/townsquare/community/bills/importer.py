"""Bill import (CSV or XLSX, `core.sheets`): one row per bill — room, item, period, amount in
yuan, due date — and room areas (room, area in m²).

An import is all or nothing: every row is checked first, and any problem refuses the whole file
with a report of each problem by row and column (`ImportRefused.problems`); only a clean file
changes anything. A row for a bill already issued (same household, item and period) leaves it
as it is, or updates an unpaid one whose amount or due date changed; a paid bill that the file
changes is a problem of its row."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.community.bills import service as bills
from townsquare.community.bills.models import Bill, BillStatus
from townsquare.community.importer import parse_room_label
from townsquare.community.models import Community, Household, Room
from townsquare.core import audit, sheets
from townsquare.core.errors import TownsquareError, ValidationFailed
from townsquare.core.i18n import N_
from townsquare.core.money import yuan_to_fen
from townsquare.core.sheets import ImportRefused, Problem

# column key → the headers accepted for it (Chinese first: what the export writes)
COLUMNS: dict[str, tuple[str, ...]] = {
    "room": ("房号", "room", "Room"),
    "item": ("项目", "收费项目", "item", "Item"),
    "period": ("账期", "period", "Period"),
    "amount": ("金额(元)", "金额", "amount", "Amount (yuan)"),
    "due": ("缴费截止日", "截止日期", "due", "Due date"),
}
AREA_COLUMNS: dict[str, tuple[str, ...]] = {
    "room": COLUMNS["room"],
    "area": ("面积(㎡)", "面积", "area", "Area (m²)"),
}
UNKNOWN_COLUMN = N_("Unknown column.")
MISSING_COLUMN = N_("This column is missing.")
UNKNOWN_ROOM = N_("No room {room} in this community.")
DUPLICATE_ROW = N_("The same room, item and period are already in row {row}.")
PAID_DIFFERS = N_("This bill is already paid; it cannot change.")
WRITTEN_OFF_DIFFERS = N_("This bill was written off; it cannot change.")
BAD_DATE = N_("A date is written YYYY-MM-DD, such as 2026-12-15.")


@dataclass
class Imported:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0


def parse_date(text: str) -> date:
    value = (text or "").strip().replace("/", "-").replace(".", "-")[:10]
    try:
        parsed = date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        parsed = None
    if parsed is None or not 2000 <= parsed.year <= 2100:
        raise ValidationFailed(BAD_DATE, field="due")
    return parsed


def _header(header: list[str], columns: dict[str, tuple[str, ...]],
            problems: list[Problem]) -> dict[int, str]:
    names = {name: key for key, accepted in columns.items() for name in accepted}
    found: dict[int, str] = {}
    for index, title in enumerate(header):
        title = title.strip()
        if title in names:
            found[index] = names[title]
        elif title:
            problems.append(Problem(1, title, ValidationFailed(UNKNOWN_COLUMN)))
    for key, accepted in columns.items():
        if key not in found.values():
            problems.append(Problem(1, accepted[0], ValidationFailed(MISSING_COLUMN)))
    return found


def _households(db: Session, community: Community) -> dict[tuple[str, str, str], Household]:
    stmt = select(Household).join(Room, Room.id == Household.room_id).where(
        Household.community_id == community.id)
    return {(h.room.building, h.room.unit, h.room.number): h for h in db.scalars(stmt)}


def _room(households: dict, text: str) -> Household:
    parts = parse_room_label(text or "")
    found = households.get(parts) if parts else None
    if found is None:
        raise ValidationFailed(UNKNOWN_ROOM, room=(text or "")[:32], field="room")
    return found


def _table(data: bytes, columns: dict[str, tuple[str, ...]], problems: list[Problem]
           ) -> list[tuple[int, dict[str, str]]]:
    table = sheets.read(data)
    found = _header(table[0], columns, problems)
    return [(number, {key: raw[i] if i < len(raw) else "" for i, key in found.items()})
            for number, raw in enumerate(table[1:], start=2)]


def import_bills(db: Session, *, actor: User | None, community: Community,
                 data: bytes) -> Imported:
    """Check every row of a CSV or XLSX file, then issue all of its bills, or refuse the file."""
    bills.require_property(db, actor=actor, community=community)
    problems: list[Problem] = []
    rows = _table(data, COLUMNS, problems)
    households = _households(db, community)
    existing = {(b.household_id, b.item, b.period): b for b in db.scalars(
        select(Bill).where(Bill.community_id == community.id))}
    checked: list[dict[str, Any]] = []
    seen: dict[tuple[int, str, str], int] = {}
    for number, cells in rows:
        values: dict[str, Any] = {}
        makers: dict[str, Callable[[str], Any]] = {
            "room": lambda text: _room(households, text),
            "item": bills.clean_item,
            "period": bills.clean_period,
            "amount": lambda text: bills.clean_amount(yuan_to_fen(text, field="amount")),
            "due": parse_date,
        }
        for key, make in makers.items():
            try:
                values[key] = make(cells.get(key, ""))
            except TownsquareError as exc:
                problems.append(Problem(number, COLUMNS[key][0], exc))
        if len(values) == len(COLUMNS):
            same = (values["room"].id, values["item"], values["period"])
            if same in seen:
                problems.append(Problem(number, COLUMNS["room"][0], ValidationFailed(
                    DUPLICATE_ROW, row=seen[same])))
            seen.setdefault(same, number)
            bill = existing.get(same)
            if (bill is not None and bill.status is BillStatus.PAID
                    and (bill.amount_fen, bill.due_date) != (values["amount"], values["due"])):
                problems.append(Problem(number, COLUMNS["amount"][0],
                                        ValidationFailed(PAID_DIFFERS)))
            if (bill is not None and bill.status is BillStatus.WRITTEN_OFF
                    and (bill.amount_fen, bill.due_date) != (values["amount"], values["due"])):
                problems.append(Problem(number, COLUMNS["amount"][0],
                                        ValidationFailed(WRITTEN_OFF_DIFFERS)))
        checked.append(values)
    if not rows and not problems:
        problems.append(Problem(2, COLUMNS["room"][0],
                                ValidationFailed("The file has no bills below its header.")))
    if problems:
        raise ImportRefused(sorted(problems, key=lambda p: (p.row, p.column)))
    done = Imported(rows=len(checked))
    for values in checked:
        _, outcome = bills.issue(db, actor=actor, community=community,
                                 household=values["room"], item=values["item"],
                                 period=values["period"], amount_fen=values["amount"],
                                 due_date=values["due"], source="import")
        setattr(done, outcome, getattr(done, outcome) + 1)
    audit.record(db, actor_id=actor.id if actor else None, action="community.bills.import",
                 subject_type="community", subject_id=community.public_id, rows=done.rows,
                 created=done.created, updated=done.updated)
    return done


def import_areas(db: Session, *, actor: User | None, community: Community, data: bytes) -> int:
    """Room areas from a sheet (room, area in m²), all or nothing; answers the rooms set."""
    bills.require_property(db, actor=actor, community=community)
    problems: list[Problem] = []
    rows = _table(data, AREA_COLUMNS, problems)
    households = _households(db, community)
    checked: list[tuple[Room, int]] = []
    for number, cells in rows:
        try:
            room = _room(households, cells.get("room", "")).room
        except TownsquareError as exc:
            problems.append(Problem(number, AREA_COLUMNS["room"][0], exc))
            continue
        try:
            checked.append((room, bills.clean_area(cells.get("area", ""))))
        except TownsquareError as exc:
            problems.append(Problem(number, AREA_COLUMNS["area"][0], exc))
    if problems:
        raise ImportRefused(sorted(problems, key=lambda p: (p.row, p.column)))
    for room, area in checked:
        room.area_dm2 = area
    db.flush()
    return len(checked)


def export_rows(db: Session, *, actor: User | None, community: Community, period: str = ""
                ) -> tuple[list[str], list[list[sheets.Cell]]]:
    """The bills as the import reads them, with their status (for the CSV export)."""
    header = [COLUMNS[k][0] for k in COLUMNS] + ["状态", "缴费时间"]
    rows: list[list[sheets.Cell]] = []
    for bill in bills.bills_of(db, actor=actor, community=community, period=period,
                               limit=100_000):
        rows.append([bill.household.room.label, bill.item, bill.period,
                     f"{bill.amount_fen / 100:.2f}", bill.due_date.isoformat(),
                     {BillStatus.PAID: "已缴", BillStatus.WRITTEN_OFF: "已核销"}.get(
                         bill.status, "未缴"),
                     bill.paid_at.isoformat(timespec="seconds") if bill.paid_at else ""])
    return header, rows
