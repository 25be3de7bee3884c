"""CSV import of registered residents: all or nothing, with a report of every bad row.

Columns (English or Chinese headers): name/姓名, id_number/身份证号, phone/手机号, room/房号
("building-unit-number" or "building-number"), relation/与户主关系. Re-importing the same person
(matched by the keyed digest of the ID number) updates them instead of adding a duplicate.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.accounts import identity as idcheck
from townsquare.accounts.models import User
from townsquare.community import access
from townsquare.community.models import Community, Household, Person, Relation, Room
from townsquare.core import audit
from townsquare.core.clock import clock
from townsquare.core.errors import ValidationFailed
from townsquare.core.i18n import N_, gettext
from townsquare.core.security import keyed_digest
from townsquare.core.settings import Settings
from townsquare.core.text import LINE_CONTROL

MAX_BYTES = 1_000_000
MAX_ROWS = 5000
HEADERS = {
    "name": ("name", "姓名"),
    "id_number": ("id_number", "身份证号", "身份证号码"),
    "phone": ("phone", "手机号", "电话"),
    "room": ("room", "房号", "房间"),
    "relation": ("relation", "与户主关系", "关系"),
}
RELATIONS = {
    "head": Relation.HEAD, "户主": Relation.HEAD, "本人": Relation.HEAD,
    "spouse": Relation.SPOUSE, "配偶": Relation.SPOUSE,
    "child": Relation.CHILD, "子女": Relation.CHILD,
    "parent": Relation.PARENT, "父母": Relation.PARENT,
    "relative": Relation.RELATIVE, "亲属": Relation.RELATIVE,
    "tenant": Relation.TENANT, "租户": Relation.TENANT,
    "other": Relation.OTHER, "其他": Relation.OTHER,
}


@dataclass(frozen=True)
class RowProblem:
    line: int  # line number in the file (the header is line 1)
    field: str
    problem: str  # translated

    def as_dict(self) -> dict[str, object]:
        return {"line": self.line, "field": self.field, "problem": self.problem}


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    households: int = 0  # households that have at least one imported person
    problems: list[RowProblem] = field(default_factory=list)


@dataclass(frozen=True)
class _Row:
    line: int
    name: str
    digest: str
    masked: str
    birth: date
    phone_masked: str
    room: Room
    relation: Relation


def id_digest(settings: Settings, id_number: str) -> str:
    """The same keyed digest as accounts' real-name identity, so the two can be compared."""
    return keyed_digest(
        settings.effective_secret_key, "id_number", idcheck.normalise_id_number(id_number)
    )


def birth_date(id_number: str) -> date:
    value = idcheck.normalise_id_number(id_number)
    return date(int(value[6:10]), int(value[10:12]), int(value[12:14]))


def parse_room_label(label: str) -> tuple[str, str, str] | None:
    parts = [p.strip() for p in label.replace("－", "-").split("-")]
    if len(parts) == 2:
        return parts[0], "", parts[1]
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    return None


def _decode(data: bytes | str) -> str:
    if isinstance(data, str):
        return data
    for encoding in ("utf-8-sig", "gb18030"):  # Excel in China often saves GB18030
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValidationFailed("The file is not UTF-8 or GB18030 text.")


def _columns(header: list[str]) -> dict[str, int]:
    names = [h.strip().lower() for h in header]
    found: dict[str, int] = {}
    for key, aliases in HEADERS.items():
        for alias in aliases:
            if alias in names:
                found[key] = names.index(alias)
                break
    missing = [key for key in HEADERS if key not in found]
    if missing:
        raise ValidationFailed(
            "The file lacks these columns: {columns}.", columns=", ".join(missing),
            details=[{"line": 1, "field": key, "problem": gettext("Missing column.")}
                     for key in missing],
        )
    return found


def _check_rows(
    db: Session, *, settings: Settings, community: Community, text: str
) -> tuple[list[_Row], list[RowProblem]]:
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        raise ValidationFailed("The file is empty.") from None
    cols = _columns(header)
    rooms = {
        (r.building, r.unit, r.number): r
        for r in db.scalars(select(Room).where(Room.community_id == community.id))
    }
    today = clock.now().date()
    rows: list[_Row] = []
    problems: list[RowProblem] = []
    seen: dict[str, int] = {}
    try:
        records = list(reader)
    except csv.Error:
        raise ValidationFailed("The file is not valid CSV.") from None
    if len(records) > MAX_ROWS:
        raise ValidationFailed("A file has at most {n} rows.", n=MAX_ROWS)
    for offset, record in enumerate(records):
        line = offset + 2
        if not any(cell.strip() for cell in record):
            continue  # blank lines are harmless
        cell = {key: (record[i].strip() if i < len(record) else "") for key, i in cols.items()}
        bad: list[RowProblem] = []

        def problem(key: str, msgid: str, at: int = line, bad: list = bad, **kw: object) -> None:
            bad.append(RowProblem(at, key, gettext(msgid).format(**kw)))

        if not 1 <= len(cell["name"]) <= 64 or LINE_CONTROL.search(cell["name"]):
            problem("name", N_("A name is 1 to {n} characters."), n=64)
        id_number = idcheck.normalise_id_number(cell["id_number"])
        digest = ""
        if not idcheck.is_valid_id_number(id_number, today=today):
            problem("id_number", N_("That is not a valid resident ID number."))
        else:
            digest = id_digest(settings, id_number)
            if digest in seen:
                problem("id_number", N_("The same ID number is on line {line}."),
                        line=seen[digest])
            else:
                seen[digest] = line
        phone = cell["phone"]
        if phone and not idcheck.is_valid_phone(phone):
            problem("phone", N_("That is not a valid mobile number."))
        parts = parse_room_label(cell["room"])
        room = rooms.get(parts) if parts else None
        if room is None:
            problem("room", N_("Unknown room {room}."), room=cell["room"][:32])
        relation = RELATIONS.get(cell["relation"].lower())
        if relation is None:
            problem("relation", N_("Unknown relation {relation}."),
                    relation=cell["relation"][:16])
        if bad:
            problems.extend(bad)
            continue
        assert room is not None and relation is not None
        rows.append(_Row(
            line=line, name=cell["name"], digest=digest,
            masked=idcheck.mask_id_number(id_number), birth=birth_date(id_number),
            phone_masked=idcheck.mask_phone(phone) if phone else "", room=room,
            relation=relation,
        ))
    return rows, problems


def _check_heads(
    db: Session, *, community: Community, rows: list[_Row]
) -> list[RowProblem]:
    """At most one head per household, counting registered people the file does not move."""
    in_file = {row.digest for row in rows}
    heads: dict[int, list[int]] = {}  # room id -> lines naming a head (0: already registered)
    existing = db.execute(
        select(Person.id_digest, Household.room_id)
        .join(Household, Household.id == Person.household_id)
        .where(Person.community_id == community.id, Person.relation == Relation.HEAD)
    )
    for digest, room_id in existing:
        if digest not in in_file:
            heads.setdefault(room_id, []).append(0)
    for row in rows:
        if row.relation == Relation.HEAD:
            heads.setdefault(row.room.id, []).append(row.line)
    problems = []
    for lines in heads.values():
        if len(lines) > 1:
            for line in (n for n in lines if n):
                problems.append(RowProblem(
                    line, "relation", gettext("This household already has a head.")
                ))
    return problems


def import_residents(
    db: Session, *, settings: Settings, actor: User | None, community: Community,
    data: bytes | str,
) -> ImportReport:
    """Import the register (property manager). Raises ValidationFailed with every bad row in
    `details` and imports nothing if any row is bad."""
    access.require(db, actor=actor, community=community, roles=[access.PM])
    if len(data) > MAX_BYTES:
        raise ValidationFailed("A file is at most {n} MB.", n=1)
    rows, problems = _check_rows(db, settings=settings, community=community, text=_decode(data))
    if not problems:
        problems = _check_heads(db, community=community, rows=rows)
    if problems:
        problems.sort(key=lambda p: p.line)
        raise ValidationFailed(
            "{n} rows have problems; nothing was imported.", n=len({p.line for p in problems}),
            details=[p.as_dict() for p in problems],
        )
    if not rows:
        raise ValidationFailed("The file has no residents.")
    households = {
        h.room_id: h
        for h in db.scalars(select(Household).where(Household.community_id == community.id))
    }
    existing = {
        p.id_digest: p
        for p in db.scalars(select(Person).where(
            Person.community_id == community.id, Person.id_digest.in_([r.digest for r in rows])
        ))
    }
    report = ImportReport()
    touched: set[int] = set()
    for row in rows:
        household = households.get(row.room.id)
        if household is None:
            household = Household(community_id=community.id, room_id=row.room.id)
            db.add(household)
            db.flush()
            households[row.room.id] = household
        touched.add(household.id)
        values = {
            "real_name": row.name, "id_masked": row.masked, "birth_date": row.birth,
            "phone_masked": row.phone_masked, "relation": row.relation,
            "household_id": household.id,
        }
        person = existing.get(row.digest)
        if person is None:
            db.add(Person(community_id=community.id, id_digest=row.digest, **values))
            report.created += 1
        elif any(getattr(person, key) != value for key, value in values.items()):
            for key, value in values.items():
                setattr(person, key, value)
            report.updated += 1
        else:
            report.unchanged += 1
    report.households = len(touched)
    audit.record(
        db, actor_id=actor.id if actor else None, action="community.import",
        subject_type="community", subject_id=community.public_id,
        created=report.created, updated=report.updated, unchanged=report.unchanged,
    )
    db.flush()
    return report
