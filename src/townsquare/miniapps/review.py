"""The review workflow of mini-app versions, its two lanes and the operators' review queue.

    draft → submitted → approved | rejected;  approved → published → superseded | taken_down

Owners submit and publish; operators approve, reject and take down. Urgent categories use the
expedited lane, everything else the standard one; each lane has its own time to a decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from townsquare.accounts.models import Role, User
from townsquare.accounts.permissions import is_operator, require_role
from townsquare.core.clock import clock
from townsquare.core.errors import Conflict, PermissionDenied, TownsquareError, ValidationFailed
from townsquare.core.i18n import N_, gettext
from townsquare.core.settings import Settings
from townsquare.core.text import LINE_CONTROL, REASON_MAX, clean_text
from townsquare.merchants.access import require_independent
from townsquare.merchants.models import Category, Merchant
from townsquare.miniapps import hooks, registry
from townsquare.miniapps.models import (
    MiniApp,
    MiniAppKind,
    MiniAppVersion,
    ReviewLane,
    VersionState,
)
from townsquare.miniapps.registry_checks import clean_external_url
from townsquare.miniapps.runtimes import validate_config

S = VersionState
TRANSITIONS: dict[VersionState, frozenset[VersionState]] = {
    S.DRAFT: frozenset({S.SUBMITTED}),
    S.SUBMITTED: frozenset({S.APPROVED, S.REJECTED}),
    S.APPROVED: frozenset({S.PUBLISHED}),
    S.PUBLISHED: frozenset({S.SUPERSEDED, S.TAKEN_DOWN}),
}
LANE_LABELS = {ReviewLane.STANDARD: N_("Standard lane"), ReviewLane.EXPEDITED: N_("Expedited lane")}
QUEUE_LIMIT = 500


def can_move(current: VersionState, target: VersionState) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


def lane_for(category: Category) -> ReviewLane:
    """Urgent services (locksmiths, medicine …) are reviewed in the expedited lane."""
    return ReviewLane.EXPEDITED if category.urgent else ReviewLane.STANDARD


def due_at(settings: Settings, lane: ReviewLane, submitted_at: datetime) -> datetime:
    hours = (
        settings.review_expedited_hours if lane == ReviewLane.EXPEDITED
        else settings.review_standard_hours
    )
    return submitted_at + timedelta(hours=hours)


def lane_label(lane: ReviewLane | None) -> str:
    return gettext(LANE_LABELS[lane]) if lane else ""


def _move(
    db: Session, *, actor: User | None, version: MiniAppVersion, target: VersionState,
    reason: str = "",
) -> None:
    """Change state (the caller has locked and checked) and record the transition."""
    if not can_move(version.state, target):
        raise Conflict(
            "A version that is {current} cannot become {target}.",
            current=registry.state_label(version.state), target=registry.state_label(target),
        )
    before = version.state
    version.state = target
    registry.record_version(db, actor=actor, version=version, from_state=before, reason=reason)


def _reason(value: str | None) -> str:
    return clean_text(
        value or "", field="reason", max_length=REASON_MAX, required=True,
        message=N_("Give a reason of 1 to {n} characters."),
    )


def submit(
    db: Session,
    *,
    actor: User | None,
    settings: Settings,
    version_id: str,
    publish_on_approval: bool = False,
) -> MiniAppVersion:
    """Send a draft for review in its lane; optionally publish as soon as it is approved."""
    version = registry.owned_version(db, actor=actor, public_id=version_id)
    registry.lock_version(db, version)
    miniapp = version.miniapp
    if not can_move(version.state, S.SUBMITTED):
        raise Conflict("Only a draft can be submitted; this version is {state}.",
                       state=registry.state_label(version.state))
    # re-check the content as it will be reviewed
    if miniapp.kind == MiniAppKind.TEMPLATE:
        version.config = validate_config(miniapp.runtime, version.config)
        hooks.config_checked.fire(
            db, hooks.ConfigChecked(miniapp.merchant_id, miniapp.runtime, version.config))
    else:
        clean_external_url(version.external_url)
    now = clock.now()
    lane = lane_for(miniapp.category)
    version.lane = lane
    version.submitted_at = now
    version.due_at = due_at(settings, lane, now)
    version.publish_on_approval = bool(publish_on_approval)
    version.decided_at = None
    version.decided_by_id = None
    version.reason = ""
    _move(db, actor=actor, version=version, target=S.SUBMITTED)
    db.flush()
    return version


def _decide(db: Session, *, actor: User | None, version_id: str,
            decision: str = "review") -> MiniAppVersion:
    require_role(actor, Role.OPERATOR)
    version = registry.get_version(db, actor=actor, public_id=version_id)
    require_independent(db, actor, version.miniapp.merchant, decision=decision,
                        subject_type="miniapp_version", subject_id=version.public_id)
    registry.lock_version(db, version)
    if version.state != S.SUBMITTED:
        raise Conflict("This version is not waiting for review; it is {state}.",
                       state=registry.state_label(version.state))
    version.decided_at = clock.now()
    version.decided_by_id = actor.id if actor else None
    return version


def approve(db: Session, *, actor: User | None, version_id: str) -> MiniAppVersion:
    """Operator: approve a submitted version (and publish it, if the owner asked for that)."""
    version = _decide(db, actor=actor, version_id=version_id)
    _move(db, actor=actor, version=version, target=S.APPROVED)
    if version.publish_on_approval:
        _publish(db, actor=actor, version=version)
    db.flush()
    hooks.review_decided.fire(db, hooks.ReviewDecided(version, version.state.value))
    return version


def reject(db: Session, *, actor: User | None, version_id: str, reason: str) -> MiniAppVersion:
    """Operator: send a submitted version back with a reason the owner will see."""
    require_role(actor, Role.OPERATOR)
    reason = _reason(reason)
    version = _decide(db, actor=actor, version_id=version_id)
    version.reason = reason
    _move(db, actor=actor, version=version, target=S.REJECTED, reason=reason)
    db.flush()
    hooks.review_decided.fire(db, hooks.ReviewDecided(version, "rejected"))
    return version


def publish(db: Session, *, actor: User | None, version_id: str) -> MiniAppVersion:
    """Owner (or operator): put an approved version live, replacing the published one."""
    version = registry.get_version(db, actor=actor, public_id=version_id)
    if not (is_operator(actor) or registry.is_owner(db, actor, version.miniapp)):
        raise PermissionDenied(
            "Only the mini-app's merchant or its authorized provider can do this."
        )
    registry.lock_version(db, version)
    if version.state != S.APPROVED:
        raise Conflict("Only an approved version can be published; this version is {state}.",
                       state=registry.state_label(version.state))
    _publish(db, actor=actor, version=version)
    db.flush()
    return version


def _publish(db: Session, *, actor: User | None, version: MiniAppVersion) -> None:
    miniapp = version.miniapp
    live = list(
        db.scalars(
            select(MiniAppVersion).where(
                MiniAppVersion.miniapp_id == miniapp.id, MiniAppVersion.state == S.PUBLISHED
            )
        )
    )
    if any(other.number > version.number for other in live):
        raise Conflict("A newer version is already published.")
    for other in live:
        _move(db, actor=actor, version=other, target=S.SUPERSEDED)
    _move(db, actor=actor, version=version, target=S.PUBLISHED)
    for field in ("name", "icon", "description"):
        setattr(miniapp, field, getattr(version, field))
    miniapp.tags = list(version.tags)
    miniapp.cities = list(version.cities)
    miniapp.listed = True
    miniapp.taken_down_reason = ""


def takedown(db: Session, *, actor: User | None, version_id: str, reason: str) -> MiniAppVersion:
    """Operator: take the published version off the platform; the owner sees the reason."""
    require_role(actor, Role.OPERATOR)
    reason = _reason(reason)
    version = registry.get_version(db, actor=actor, public_id=version_id)
    require_independent(db, actor, version.miniapp.merchant, decision="takedown",
                        subject_type="miniapp_version", subject_id=version.public_id)
    registry.lock_version(db, version)
    if version.state != S.PUBLISHED:
        raise Conflict("Only the published version can be taken down; this version is {state}.",
                       state=registry.state_label(version.state))
    version.reason = reason
    version.decided_at = clock.now()
    version.decided_by_id = actor.id if actor else None
    _move(db, actor=actor, version=version, target=S.TAKEN_DOWN, reason=reason)
    version.miniapp.listed = False
    version.miniapp.taken_down_reason = reason
    db.flush()
    hooks.review_decided.fire(db, hooks.ReviewDecided(version, "taken_down"))
    return version


# --- what operators look at --------------------------------------------------------------------


@dataclass
class QueueItem:
    version: MiniAppVersion
    miniapp: MiniApp
    lane: ReviewLane
    submitted_at: datetime
    due_at: datetime
    age: timedelta
    overdue: bool


def count_waiting(db: Session) -> int:
    """How many versions wait for a review decision."""
    stmt = select(func.count()).select_from(MiniAppVersion).where(
        MiniAppVersion.state == VersionState.SUBMITTED
    )
    return db.scalar(stmt) or 0


@dataclass(frozen=True)
class QueueFilter:
    """What the operator narrows the queue to; every part optional."""

    lane: ReviewLane | None = None
    category: str | None = None  # a category code
    overdue_only: bool = False
    query: str = ""  # part of the mini-app's or the merchant's name


def _escape_like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _queue_stmt(filters: QueueFilter, now: datetime):
    stmt = select(MiniAppVersion).where(MiniAppVersion.state == S.SUBMITTED)
    if filters.lane is not None:
        stmt = stmt.where(MiniAppVersion.lane == filters.lane)
    if filters.overdue_only:
        stmt = stmt.where(MiniAppVersion.due_at < now)
    query = LINE_CONTROL.sub("", filters.query or "").strip()[:64]  # PostgreSQL refuses NUL
    if filters.category or query:
        stmt = stmt.join(MiniApp, MiniApp.id == MiniAppVersion.miniapp_id)
    if filters.category:
        stmt = stmt.where(
            MiniApp.category_id.in_(select(Category.id).where(Category.code == filters.category))
        )
    if query:
        pattern = _escape_like(query)
        stmt = stmt.where(
            MiniAppVersion.name.ilike(pattern, escape="\\")
            | MiniApp.merchant_id.in_(
                select(Merchant.id).where(Merchant.name.ilike(pattern, escape="\\"))
            )
        )
    return stmt


def count_queue(db: Session, *, actor: User | None, filters: QueueFilter = QueueFilter()) -> int:
    """Operator: how many submitted versions match `filters` (for paging)."""
    require_role(actor, Role.OPERATOR)
    stmt = _queue_stmt(filters, clock.now()).with_only_columns(func.count(MiniAppVersion.id))
    return db.scalar(stmt.order_by(None)) or 0


def review_queue(
    db: Session,
    *,
    actor: User | None,
    limit: int = QUEUE_LIMIT,
    offset: int = 0,
    filters: QueueFilter = QueueFilter(),
) -> list[QueueItem]:
    """Operator: submitted versions matching `filters`, the expedited lane first, then the
    longest waiting; one page of `limit` from `offset`, paged in SQL."""
    require_role(actor, Role.OPERATOR)
    now = clock.now()
    expedited_first = case((MiniAppVersion.lane == ReviewLane.EXPEDITED, 0), else_=1)
    stmt = (
        _queue_stmt(filters, now)
        .order_by(expedited_first, MiniAppVersion.submitted_at, MiniAppVersion.id)
        .limit(max(1, min(limit, QUEUE_LIMIT)))
        .offset(max(0, offset))
    )
    items = []
    for version in db.scalars(stmt).unique():
        submitted = version.submitted_at or now
        due = version.due_at or now
        items.append(
            QueueItem(
                version=version, miniapp=version.miniapp,
                lane=version.lane or ReviewLane.STANDARD, submitted_at=submitted, due_at=due,
                age=now - submitted, overdue=now > due,
            )
        )
    return items


BULK_MAX = 100


@dataclass(frozen=True)
class BulkOutcome:
    version_id: str
    done: bool
    message: str  # translated: the state reached, or why this one was refused


def decide_many(
    db: Session,
    *,
    actor: User | None,
    version_ids: list[str],
    decision: str,
    reason: str = "",
) -> list[BulkOutcome]:
    """Operator: approve or reject several versions. Each is its own decision, checked
    (separation of duties, state) and recorded as if decided alone; one refused leaves the
    others done (each runs in a savepoint)."""
    require_role(actor, Role.OPERATOR)
    if decision not in ("approve", "reject"):
        raise ValidationFailed("Choose approve or reject.")
    ids = list(dict.fromkeys(v.strip() for v in version_ids if v.strip()))
    if not ids:
        raise ValidationFailed("Tick at least one version.")
    if len(ids) > BULK_MAX:
        raise ValidationFailed("Decide at most {n} versions at a time.", n=BULK_MAX)
    if decision == "reject":
        reason = _reason(reason)  # checked once, before anything is decided
    outcomes = []
    for version_id in ids:
        try:
            with db.begin_nested():
                if decision == "approve":
                    version = approve(db, actor=actor, version_id=version_id)
                else:
                    version = reject(db, actor=actor, version_id=version_id, reason=reason)
            outcomes.append(
                BulkOutcome(version_id, True, registry.state_label(version.state))
            )
        except TownsquareError as exc:
            outcomes.append(BulkOutcome(version_id, False, exc.render(gettext)))
    return outcomes


def published_version(db: Session, miniapp: MiniApp) -> MiniAppVersion | None:
    return db.scalar(
        select(MiniAppVersion).where(
            MiniAppVersion.miniapp_id == miniapp.id, MiniAppVersion.state == S.PUBLISHED
        )
    )


@dataclass(frozen=True)
class ListedRow:
    """What the operators' list shows of a listed mini-app and its published version."""

    public_id: str
    icon: str
    name: str
    merchant_name: str
    category_code: str
    category_zh: str
    category_en: str
    version_public_id: str
    version_label: str
    decided_at: datetime | None

    def category(self, locale: str) -> str:
        return self.category_en if locale == "en" else self.category_zh


def _name_contains(query: str | None) -> str:
    query = LINE_CONTROL.sub("", query or "").strip()[:64]  # PostgreSQL refuses NUL
    return query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def listed_page(
    db: Session, *, actor: User | None, query: str | None = None, limit: int = 50,
    offset: int = 0,
) -> tuple[list[ListedRow], int]:
    """Operator: one page of listed mini-apps with their published version, by name, and how
    many match in all; paged in SQL, the shown columns only (no mini-app objects)."""
    require_role(actor, Role.OPERATOR)
    stmt = (
        select(MiniApp.public_id, MiniApp.icon, MiniApp.name, Merchant.name, Category.code,
               Category.name_zh, Category.name_en, MiniAppVersion.public_id, MiniAppVersion.label,
               MiniAppVersion.decided_at)
        .join(MiniAppVersion, MiniAppVersion.miniapp_id == MiniApp.id)
        .join(Merchant, Merchant.id == MiniApp.merchant_id)
        .join(Category, Category.id == MiniApp.category_id)
        .where(MiniApp.listed.is_(True), MiniAppVersion.state == S.PUBLISHED)
    )
    escaped = _name_contains(query)
    if escaped:
        stmt = stmt.where(MiniApp.name.ilike(f"%{escaped}%", escape="\\"))
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.execute(stmt.order_by(MiniApp.name, MiniApp.id)
                      .limit(max(1, min(limit, QUEUE_LIMIT))).offset(max(0, offset)))
    return [ListedRow(*tuple(row)) for row in rows], total


def listed_miniapps(
    db: Session, *, actor: User | None, query: str | None = None, limit: int = 200
) -> list[tuple[MiniApp, MiniAppVersion]]:
    """Operator: listed mini-apps with their published version, by name."""
    require_role(actor, Role.OPERATOR)
    stmt = (
        select(MiniApp, MiniAppVersion)
        .join(MiniAppVersion, MiniAppVersion.miniapp_id == MiniApp.id)
        .where(MiniApp.listed.is_(True), MiniAppVersion.state == S.PUBLISHED)
        .order_by(MiniApp.name, MiniApp.id)
        .limit(max(1, min(limit, QUEUE_LIMIT)))
    )
    escaped = _name_contains(query)
    if escaped:
        stmt = stmt.where(MiniApp.name.ilike(f"%{escaped}%", escape="\\"))
    return [(miniapp, version) for miniapp, version in db.execute(stmt)]
