"""Bill import: a good file issues every bill once (again: nothing new), XLSX too; each kind
of bad row is reported by row and column and a bad file changes nothing; room areas."""

from __future__ import annotations

import io
from datetime import date, datetime

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from tests.community import world as w
from tests.community.bills import bill_world as bw
from townsquare.accounts.models import User
from townsquare.community.bills import importer
from townsquare.community.bills.models import Bill, BillStatus
from townsquare.core.errors import PermissionDenied

GOOD = ("房号,项目,账期,金额(元),缴费截止日\n"
        "1-1-101,物业费,2026-11,223.43,2026-11-15\n"
        "1-1-101,水费,2026-11,38.5,2026-11-20\n"
        "1-1-102,物业费,2026/11,300,2026/11/15\n"
        "2-1-101,停车费,202611,150.00,2026-11-30\n")


@pytest.fixture
def world(database, settings, make_user):
    return bw.build(database, settings, make_user)


def _import(database, world, data: bytes, actor=None):
    with database.unit_of_work() as db:
        return importer.import_bills(db, actor=db.get(User, actor.id) if actor else None,
                                     community=w.community(db, world.com), data=data)


def _bills(database):
    with database.unit_of_work() as db:
        return sorted((b.household.room.label, b.item, b.period, b.amount_fen,
                       b.due_date.isoformat()) for b in db.scalars(select(Bill)))


def test_a_good_file_issues_every_bill_once(database, world):
    done = _import(database, world, GOOD.encode(), actor=world.base.manager)
    assert (done.rows, done.created, done.unchanged) == (4, 4, 0)
    assert _bills(database) == [
        ("1-1-101", "水费", "2026-11", 3850, "2026-11-20"),
        ("1-1-101", "物业费", "2026-11", 22343, "2026-11-15"),
        ("1-1-102", "物业费", "2026-11", 30000, "2026-11-15"),
        ("2-1-101", "停车费", "2026-11", 15000, "2026-11-30"),
    ]
    again = _import(database, world, GOOD.encode())
    assert (again.created, again.unchanged) == (0, 4)
    changed = _import(database, world, GOOD.replace("38.5", "40").encode())
    assert (changed.created, changed.updated, changed.unchanged) == (0, 1, 3)
    with database.unit_of_work() as db:
        assert db.scalar(select(func.count()).select_from(Bill)) == 4


def test_gb18030_csv_and_xlsx_with_date_cells(database, world):
    _import(database, world, GOOD.encode("gb18030"))
    book = Workbook()
    sheet = book.active
    sheet.append(["room", "item", "period", "amount", "due"])
    sheet.append(["1-1-101", "电费", "2026-11", 88.8, datetime(2026, 11, 25)])
    out = io.BytesIO()
    book.save(out)
    done = _import(database, world, out.getvalue())
    assert done.created == 1
    assert ("1-1-101", "电费", "2026-11", 8880, "2026-11-25") in _bills(database)


def test_every_kind_of_bad_row_is_reported_and_nothing_changes(database, world):
    _import(database, world, GOOD.encode())
    with database.unit_of_work() as db:  # the water bill is paid: the file may not change it
        bw.bill(db, db.scalar(select(Bill.public_id).where(Bill.item == "水费"))).status = \
            BillStatus.PAID
    before = _bills(database)
    bad = ("房号,项目,账期,金额(元),缴费截止日,备注\n"
           "9-9-909,物业费,2026-12,100,2026-12-15,\n"  # 2: unknown room
           "1-1-101,,2026-12,100,2026-12-15,\n"  # 3: no item
           "1-1-101,物业费,2026-13,100,2026-12-15,\n"  # 4: bad period
           "1-1-101,电费,2026-12,-5,2026-12-15,\n"  # 5: negative amount
           "1-1-101,燃气费,2026-12,1.234,2026-12-15,\n"  # 6: three decimals
           "1-1-101,垃圾处理费,2026-12,0,2026-12-15,\n"  # 7: zero
           "1-1-102,物业费,2026-12,100,2026-12-32,\n"  # 8: bad date
           "1-1-102,水费,2026-12,100,2026-12-15,\n"  # 9: fine
           "1-1-102,水费,2026-12,100,2026-12-15,\n"  # 10: duplicate of row 9
           "1-1-101,水费,2026-11,99,2026-11-20,\n"  # 11: paid bill changed
           "2-1-101,停车费,2026-12,200000,2026-12-15,\n")  # 12: over ¥100,000
    with pytest.raises(importer.ImportRefused) as refused:
        _import(database, world, bad.encode())
    found = {(p.row, p.column) for p in refused.value.problems}
    assert found == {(1, "备注"), (2, "房号"), (3, "项目"), (4, "账期"), (5, "金额(元)"),
                     (6, "金额(元)"), (7, "金额(元)"), (8, "缴费截止日"), (10, "房号"),
                     (11, "金额(元)"), (12, "金额(元)")}
    assert refused.value.status == 422
    assert refused.value.details[0]["row"] == 1
    assert _bills(database) == before


def test_missing_columns_and_empty_files_are_refused(database, world):
    with pytest.raises(importer.ImportRefused) as refused:
        _import(database, world, "房号,项目,金额\n1-1-101,物业费,10\n".encode())
    assert {p.column for p in refused.value.problems} == {"账期", "缴费截止日"}
    with pytest.raises(importer.ImportRefused):
        _import(database, world, "房号,项目,账期,金额(元),缴费截止日\n".encode())
    assert _bills(database) == []


def test_only_the_communitys_property_manager_imports(database, world):
    for user in (world.base.other_manager, world.base.committee, world.head,
                 world.base.guard):
        with pytest.raises(PermissionDenied):
            _import(database, world, GOOD.encode(), actor=user)
    assert _bills(database) == []


def test_room_areas_all_or_nothing(database, world):
    with database.unit_of_work() as db:
        com = w.community(db, world.com)
        assert importer.import_areas(db, actor=None, community=com,
                                     data="房号,面积(㎡)\n2-1-101,75.5\n".encode()) == 1
    with database.unit_of_work() as db:
        assert bw.household(db, world, "2-1-101").room.area_dm2 == 7550
    with pytest.raises(importer.ImportRefused) as refused, database.unit_of_work() as db:
        importer.import_areas(db, actor=None, community=w.community(db, world.com),
                              data=b"room,area\n1-1-101,60\n1-1-102,abc\n")
    assert [(p.row, p.column) for p in refused.value.problems] == [(3, "面积(㎡)")]
    with database.unit_of_work() as db:
        assert bw.household(db, world, "1-1-101").room.area_dm2 == 8937


def test_parse_date():
    assert importer.parse_date("2026/1/05".replace("/1/", "/01/")) == date(2026, 1, 5)
