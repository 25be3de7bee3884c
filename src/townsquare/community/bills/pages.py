"""Fee bill pages: the household's bills (`/community/{com}/bills`: any verified member sees
them, pays one or several in the cashier, subscribes to overdue reminders) and the property's
console page (`/community/{com}/manage/bills`: figures per period and item with a CSV export,
bill import, room areas, per-room rules)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from townsquare.accounts.deps import CurrentUser, FormUser
from townsquare.accounts.models import User
from townsquare.community import access, communities, health
from townsquare.community.bills import importer, jobs
from townsquare.community.bills import service as bills
from townsquare.community.bills import write_off as written_off
from townsquare.community.bills.models import BillStatus, PaymentStatus, RuleKind
from townsquare.community.models import Community
from townsquare.core import sheets
from townsquare.core.errors import TownsquareError, ValidationFailed
from townsquare.core.i18n import N_
from townsquare.core.ids import new_id
from townsquare.core.money import yuan_to_fen
from townsquare.core.settings import Settings
from townsquare.messaging import service as messaging
from townsquare.web.deps import AppSettings, DbSession
from townsquare.web.forms import rejected, see_other, whole_number
from townsquare.web.templating import render

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form(max_length=200)]
RULE_KINDS = {RuleKind.PER_M2.value: N_("Per m² of the room's area"),
              RuleKind.FIXED.value: N_("A fixed amount per room")}


# --- residents -----------------------------------------------------------------------------

def _mine(request: Request, db: Session, settings: Settings, user: User, community: Community,
          exc: TownsquareError | None = None) -> HTMLResponse:
    if exc is not None:
        db.rollback()
    items = bills.household_bills(db, actor=user, community=community)
    household = bills.my_household(db, actor=user, community=community)
    names = {m.user_id: m.real_name for m in household.members if m.user_id}
    miniapp = communities.official_pass(db, community=community)
    reminders = None
    if miniapp is not None:
        reminders = messaging.open_subscriptions(db, actor=user, miniapp=miniapp).get(
            jobs.TEMPLATE_KEY, 0)
    paid_id = request.query_params.get("paid", "")
    context: dict[str, Any] = {
        "community": community, "household": household, "bills": items, "payer_names": names,
        "unpaid_total": sum(b.amount_fen for b in items if b.status is BillStatus.UNPAID),
        "today": health.local_today(settings), "request_id": new_id("req"),
        "reminders": reminders,
        "just_paid": bool(paid_id) and bills.payment_status(db, payment_id=paid_id)
        is PaymentStatus.PAID,
    }
    if exc is not None:
        return rejected(request, db, "community/bills.html", exc, **context)
    return render(request, "community/bills.html", **context)


@router.get("/community/{community_id}/bills", response_class=HTMLResponse)
def my_bills(request: Request, community_id: str, db: DbSession, settings: AppSettings,
             user: CurrentUser) -> HTMLResponse:
    community = access.get_community(db, community_id=community_id)
    return _mine(request, db, settings, user, community)


@router.post("/community/{community_id}/bills/pay")
async def pay(request: Request, community_id: str, db: DbSession, settings: AppSettings,
              user: FormUser) -> Response:
    community = access.get_community(db, community_id=community_id)
    form = await request.form()
    chosen = [str(b)[:40] for b in form.getlist("bill")][:bills.MAX_PAY_BILLS + 1]
    try:
        payment = bills.pay(db, actor=user, community=community, bill_ids=chosen,
                            idempotency_key=str(form.get("request_id", ""))[:64])
    except TownsquareError as exc:
        return _mine(request, db, settings, user, community, exc)
    return see_other(f"/cashier/{payment.trade_no}")


@router.post("/community/{community_id}/bills/reminders")
def subscribe(request: Request, community_id: str, db: DbSession, settings: AppSettings,
              user: FormUser) -> Response:
    community = access.get_community(db, community_id=community_id)
    try:
        access.require_resident(db, actor=user, community=community)
        miniapp = communities.official_pass(db, community=community)
        if miniapp is None:
            raise ValidationFailed("Reminders are not available for this community.")
        jobs.ensure_template(db, miniapp=miniapp)
        messaging.subscribe(db, actor=user, miniapp_id=miniapp.public_id,
                            keys=[jobs.TEMPLATE_KEY])
    except TownsquareError as exc:
        return _mine(request, db, settings, user, community, exc)
    return see_other(f"/community/{community_id}/bills?subscribed=1")


# --- the property --------------------------------------------------------------------------

def _property_community(db: Session, user: User, community_id: str) -> Community:
    community = access.get_community(db, community_id=community_id)
    bills.require_property(db, actor=user, community=community)
    return community


def _console(request: Request, db: Session, settings: Settings, user: User,
             community: Community, exc: TownsquareError | None = None, **extra: Any
             ) -> HTMLResponse:
    if exc is not None:
        db.rollback()
    period = request.query_params.get("period", "")[:7]
    status = request.query_params.get("status", "")[:16]
    try:
        bills.clean_period(period) if period else None
    except ValidationFailed:
        period = ""
    today = health.local_today(settings)
    context: dict[str, Any] = {
        "community": community, "page": "bills", "is_pm": True, "period": period,
        "status": status, "today": today,
        "figures": bills.figures(db, actor=user, community=community, today=today,
                                 period=period),
        "bills": bills.bills_of(db, actor=user, community=community, period=period,
                                status=status, limit=200),
        "rules": bills.rules_of(db, actor=user, community=community),
        "rule_kinds": RULE_KINDS, "items": bills.ITEMS,
        "this_month": today.strftime("%Y-%m"), "area_text": bills.area_text, **extra,
    }
    if exc is not None:
        return rejected(request, db, "community/manage_bills.html", exc, **context)
    return render(request, "community/manage_bills.html", **context)


@router.get("/community/{community_id}/manage/bills", response_class=HTMLResponse)
def console(request: Request, community_id: str, db: DbSession, settings: AppSettings,
            user: CurrentUser) -> HTMLResponse:
    community = _property_community(db, user, community_id)
    return _console(request, db, settings, user, community)


@router.get("/community/{community_id}/manage/bills.csv")
def figures_csv(request: Request, community_id: str, db: DbSession, settings: AppSettings,
                user: CurrentUser) -> Response:
    community = _property_community(db, user, community_id)
    period = request.query_params.get("period", "")[:7]
    rows = bills.figures(db, actor=user, community=community,
                         today=health.local_today(settings), period=period)
    header = ["账期", "项目", "账单数", "已缴数", "已收(元)", "未收(元)", "逾期数", "逾期(元)"]
    data = sheets.write_csv(header, [
        [f.period, f.item, f.bills, f.paid_bills, f"{f.collected_fen / 100:.2f}",
         f"{f.outstanding_fen / 100:.2f}", f.overdue_bills, f"{f.overdue_fen / 100:.2f}"]
        for f in rows])
    name = f"bills-{community.public_id}{'-' + period if period else ''}.csv"
    return Response(data, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.post("/community/{community_id}/manage/bills/import", response_class=HTMLResponse)
async def import_bills(request: Request, community_id: str, db: DbSession,
                       settings: AppSettings, user: FormUser,
                       file: Annotated[UploadFile, File()]) -> Response:
    community = _property_community(db, user, community_id)
    data = await file.read(sheets.MAX_BYTES + 1)
    try:
        report = importer.import_bills(db, actor=user, community=community, data=data)
    except TownsquareError as exc:
        problems = exc.problems if isinstance(exc, importer.ImportRefused) else []
        return _console(request, db, settings, user, community, exc, problems=problems)
    return _console(request, db, settings, user, community, report=report)


@router.post("/community/{community_id}/manage/bills/areas", response_class=HTMLResponse)
async def import_areas(request: Request, community_id: str, db: DbSession,
                       settings: AppSettings, user: FormUser,
                       file: Annotated[UploadFile, File()]) -> Response:
    community = _property_community(db, user, community_id)
    data = await file.read(sheets.MAX_BYTES + 1)
    try:
        count = importer.import_areas(db, actor=user, community=community, data=data)
    except TownsquareError as exc:
        problems = exc.problems if isinstance(exc, importer.ImportRefused) else []
        return _console(request, db, settings, user, community, exc, problems=problems)
    return _console(request, db, settings, user, community, areas_set=count)


@router.post("/community/{community_id}/manage/bills/{bill_id}/write-off",
             response_class=HTMLResponse)
def write_off(request: Request, community_id: str, bill_id: str, db: DbSession,
              settings: AppSettings, user: FormUser, reason: Text = "") -> Response:
    community = _property_community(db, user, community_id)
    try:
        written_off.write_off(db, actor=user, community=community, bill_id=bill_id,
                              reason=reason)
    except TownsquareError as exc:
        return _console(request, db, settings, user, community, exc)
    return see_other(f"/community/{community_id}/manage/bills?written_off={bill_id}")


@router.post("/community/{community_id}/manage/bills/rules", response_class=HTMLResponse)
def set_rule(request: Request, community_id: str, db: DbSession, settings: AppSettings,
             user: FormUser, item: Text = "", kind: Text = "", rate: Text = "",
             building: Text = "", due_days: Text = "15") -> Response:
    community = _property_community(db, user, community_id)
    try:
        bills.set_rule(db, actor=user, community=community, item=item, kind=kind,
                       rate_fen=yuan_to_fen(rate, field="rate"), building=building,
                       due_days=whole_number(due_days, field="due_days"))
    except TownsquareError as exc:
        return _console(request, db, settings, user, community, exc)
    return see_other(f"/community/{community_id}/manage/bills?rule=1")


@router.post("/community/{community_id}/manage/bills/rules/{rule_id}/issue",
             response_class=HTMLResponse)
def run_rule(request: Request, community_id: str, rule_id: str, db: DbSession,
             settings: AppSettings, user: FormUser, period: Text = "") -> Response:
    community = _property_community(db, user, community_id)
    try:
        rule = bills.get_rule(db, community=community, rule_id=rule_id)
        run = bills.apply_rule(db, actor=user, community=community, rule=rule, period=period)
    except TownsquareError as exc:
        return _console(request, db, settings, user, community, exc)
    return _console(request, db, settings, user, community, run=run, run_rule=rule)
