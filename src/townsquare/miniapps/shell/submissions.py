"""Forms on first-party mini-app pages: a resident's submission (checked, stored under the
pseudonymous id the mini-app knows them by), their own recent ones, a donation drive's totals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.core import audit
from townsquare.core.clock import clock
from townsquare.core.errors import NotFound, RateLimited, ValidationFailed
from townsquare.core.i18n import format_money, gettext
from townsquare.core.settings import Settings
from townsquare.core.text import well_formed
from townsquare.miniapps import registry
from townsquare.miniapps.models import FormSubmission, MiniApp, MiniAppKind
from townsquare.miniapps.runtimes import RUNTIMES, Runtime
from townsquare.miniapps.service_forms import FORMS, FormSpec, clean
from townsquare.miniapps.shell import launch
from townsquare.miniapps.shell import service as shell

DAILY_LIMIT = 20  # submissions per resident per mini-app per day: a form is not a flood gate
PLEDGE = "pledge"


def form_of(runtime: Runtime, config: dict[str, Any]) -> FormSpec | None:
    """The form the page carries: a donation drive's pledge, or the one its settings name."""
    if runtime.key == "donation":
        return FORMS[PLEDGE]
    return FORMS.get(str(config.get("form") or ""))


def sub_of(settings: Settings, *, user: User, miniapp: MiniApp) -> str:
    return launch.pseudonymous_id(settings.effective_secret_key, user.public_id, miniapp.public_id)


def submit(db: Session, *, settings: Settings, actor: User, miniapp_id: str,
           raw: dict[str, str]) -> FormSubmission:
    """Check and store what `actor` sent through the form of a listed mini-app's page.

    Bad answers raise ValidationFailed whose `details` lists `{"field", "problem"}` per field;
    nothing is stored then."""
    miniapp = shell.listed_miniapp(db, miniapp_id=miniapp_id)
    runtime, config = shell.runtime_config(db, miniapp=miniapp)
    spec = form_of(runtime, config)
    if spec is None:
        raise NotFound("This page has no form.")
    today = clock.now().astimezone(ZoneInfo(settings.timezone)).date()
    answers, problems = clean(spec, raw, today=today)
    if problems:
        raise ValidationFailed(
            "Please check the marked fields.",
            details=[{"field": name, "problem": problem} for name, problem in problems.items()],
        )
    sub = sub_of(settings, user=actor, miniapp=miniapp)
    now = clock.now()
    recent = db.scalar(select(func.count(FormSubmission.id)).where(
        FormSubmission.miniapp_id == miniapp.id, FormSubmission.sub == sub,
        FormSubmission.created_at > now - timedelta(days=1)))
    if (recent or 0) >= DAILY_LIMIT:
        raise RateLimited("You have sent this form {n} times today; please try again tomorrow.",
                          n=DAILY_LIMIT)
    amount = answers.get("amount", 0) if spec.kind == PLEDGE else 0
    submission = FormSubmission(
        miniapp_id=miniapp.id, sub=sub, user_id=actor.id, kind=spec.kind, answers=answers,
        amount_fen=amount if isinstance(amount, int) else 0, created_at=now,
    )
    db.add(submission)
    db.flush()
    return submission


def mine(db: Session, *, miniapp: MiniApp, sub: str, limit: int = 5) -> list[FormSubmission]:
    """The resident's latest submissions on this mini-app's page, newest first."""
    stmt = (select(FormSubmission)
            .where(FormSubmission.miniapp_id == miniapp.id, FormSubmission.sub == sub)
            .order_by(FormSubmission.created_at.desc(), FormSubmission.id.desc()).limit(limit))
    return list(db.scalars(stmt))


def find_mine(db: Session, *, miniapp: MiniApp, sub: str, public_id: str
              ) -> FormSubmission | None:
    """One of the resident's own submissions (anyone else's is as good as missing)."""
    if not well_formed(public_id, "fs"):
        return None
    return db.scalar(select(FormSubmission).where(
        FormSubmission.public_id == public_id, FormSubmission.miniapp_id == miniapp.id,
        FormSubmission.sub == sub))


@dataclass(frozen=True)
class Progress:
    raised_fen: int
    goal_fen: int
    donors: int

    @property
    def percent(self) -> int:
        """Whole percent of the goal, capped at 100 for the bar."""
        return min(100, self.raised_fen * 100 // self.goal_fen) if self.goal_fen > 0 else 0


def donation_progress(db: Session, *, miniapp: MiniApp, config: dict[str, Any]) -> Progress:
    """The drive's total: what was raised before the page plus the pledges made on it."""
    total, count = db.execute(
        select(func.coalesce(func.sum(FormSubmission.amount_fen), 0), func.count(FormSubmission.id))
        .where(FormSubmission.miniapp_id == miniapp.id, FormSubmission.kind == PLEDGE)
    ).one()
    base = config.get("raised_fen")
    donors = config.get("donors")
    goal = config.get("goal_fen")
    return Progress(
        raised_fen=int(total) + (base if isinstance(base, int) else 0),
        goal_fen=goal if isinstance(goal, int) else 0,
        donors=int(count) + (donors if isinstance(donors, int) else 0),
    )


@dataclass(frozen=True)
class Received:
    """A mini-app's submissions as its merchant reads them: each answer under its question."""

    miniapp: MiniApp
    form: FormSpec | None
    rows: list[tuple[FormSubmission, list[tuple[str, str]]]]  # (submission, [(label, answer)])


def received(db: Session, *, actor: User, miniapp_id: str, limit: int = 100) -> Received:
    """The newest submissions of a mini-app, for those who may act for its merchant (staff, an
    authorized ISV); anyone else gets NotFound. Reading residents' answers is audited."""
    miniapp = registry.acting_miniapp(db, actor=actor, public_id=miniapp_id)
    form = None
    if miniapp.kind == MiniAppKind.TEMPLATE and miniapp.template is not None \
            and miniapp.template.runtime in RUNTIMES:
        form = form_of(RUNTIMES[miniapp.template.runtime],
                       shell.runtime_config(db, miniapp=miniapp)[1]) if miniapp.listed else None
    stmt = (select(FormSubmission).where(FormSubmission.miniapp_id == miniapp.id)
            .order_by(FormSubmission.created_at.desc(), FormSubmission.id.desc()).limit(limit))
    rows = [(item, _answers_of(item)) for item in db.scalars(stmt)]
    audit.record(db, actor_id=actor.id, action="form_submissions.read", subject_type="miniapp",
                 subject_id=miniapp.public_id, shown=len(rows))
    return Received(miniapp=miniapp, form=form, rows=rows)


def _answers_of(item: FormSubmission) -> list[tuple[str, str]]:
    """Each answer with its question's (translated) label; choices and amounts as people read
    them."""
    spec = FORMS.get(item.kind)
    if spec is None:
        return [(str(k), str(v)) for k, v in item.answers.items()]
    shown = []
    for question in spec.questions:
        value = item.answers.get(question.name)
        if value is None:
            continue
        if question.type == "choice":
            text = spec.choice_label(question.name, str(value))
        elif question.type == "money" and isinstance(value, int):
            text = format_money(value)
        else:
            text = str(value)
        shown.append((gettext(question.label), text))
    return shown
