"""Platform notifications to the people who run merchants and ISVs: review results, complaints,
disputes decided, points earned and spent, campaign and bid events, template changes.

`notify` is the one door every domain posts through, inside the transaction that makes the
change (so a rolled-back change sends nothing and a committed one always has its notice). A
notification stores a message key and its values; it is rendered when read, in the reader's
language. It is addressed to a merchant (and, for a mini-app an authorized ISV builds, to that
ISV too), not to people: whoever works there when reading sees it, and each reader marks it read
for themselves.

Lower floors that may not import messaging announce their events through hooks (core/hooks.py):
`connect()` here subscribes to the registry's (miniapps); scoring, above both events and
messaging, subscribes to the complaints the event intake receives (`scoring.notices`). The
composition roots call both once at start.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.core import i18n
from townsquare.core.clock import clock
from townsquare.core.errors import NotFound
from townsquare.core.i18n import N_
from townsquare.core.text import LINE_CONTROL, is_local_path, well_formed
from townsquare.merchants.access import active_authorization, merchant_ids_of, provider_ids_of
from townsquare.messaging.models import Notification, NotificationRead
from townsquare.miniapps import hooks as miniapp_hooks
from townsquare.miniapps.models import MiniApp

# kind → (title, body): English msgids with {placeholders}, translated when shown.
KINDS: dict[str, tuple[str, str]] = {
    "review.approved": (N_("{miniapp} {label} is approved"),
                        N_("Publish it from the mini-app's page when you are ready.")),
    "review.published": (N_("{miniapp} {label} is approved and live"),
                         N_("Residents see this version from now on.")),
    "review.rejected": (N_("{miniapp} {label} was not approved"),
                        N_("Reason: {reason}. Change the draft and submit it again.")),
    "review.taken_down": (N_("{miniapp} was taken down"),
                          N_("Reason: {reason}. Residents can no longer open it.")),
    "complaint.received": (N_("New complaints about {miniapp}: {count}"),
                           N_("Resolve them, or dispute one you think is wrong.")),
    "dispute.upheld": (N_("Your dispute about {miniapp} was not accepted"),
                       N_("The complaint keeps counting. Reason: {reason}")),
    "dispute.dismissed": (N_("Your dispute about {miniapp} was accepted"),
                          N_("The complaint stops counting from the next scoring cycle. "
                             "Reason: {reason}")),
    "points.earned": (N_("{points} points earned"),
                      N_("For {miniapp}. Balance: {balance} points.")),
    "points.spent": (N_("{points} points spent"),
                     N_("An exposure package for {miniapp} ({impressions} impressions). "
                        "Balance: {balance} points.")),
    "points.refunded": (N_("{points} points refunded"),
                        N_("The package for {miniapp} delivered {delivered} of {impressions} "
                           "impressions. Balance: {balance} points.")),
    "points.adjusted": (N_("Points balance corrected by {delta}"),
                        N_("Reason: {reason}. Balance: {balance} points.")),
    "campaign.enrolled": (N_("{miniapp} joined the campaign {campaign}"),
                          N_("It is promised {impressions} impressions during the campaign.")),
    "campaign.cancelled": (N_("The campaign {campaign} was cancelled"),
                           N_("The exposure promised to {miniapp} is withdrawn.")),
    "bid.budget_spent": (N_("Today's budget for {miniapp} is spent"),
                         N_("The bid on {target} pauses until tomorrow; raise its daily "
                            "budget to keep it running today.")),
    "template.new_version": (N_("Template {template} has a new version {version}"),
                             N_("{miniapp} keeps the version it has until you upgrade it on "
                                "its page.")),
    "template.withdrawn": (N_("Template {template} was withdrawn"),
                           N_("{miniapp} keeps working as it is; no new mini-apps can be made "
                              "from the template.")),
    "shop.message": (N_("{resident} wrote to {miniapp}"),
                     N_("The resident waits for an answer; how fast shops answer counts in "
                        "their score.")),
    # anti-fraud (scoring/integrity/reviews.py): an operator confirmed a review
    "integrity.confirmed": (N_("{miniapp}: a review found its data not genuine"),
                            N_("For the next {cycles} scoring cycles its score is lowered and its "
                               "tier is at most {tier}. Reason: {reason}")),
    # community repairs (community/repairs/jobs.py): a ticket past its community's target
    "repair.late_response": (N_("A repair at {community} is waiting for a technician"),
                             N_("{location}: reported {minutes} minutes ago, the target is "
                                "{target} minutes.")),
    "repair.late_completion": (N_("A repair at {community} is not done in time"),
                               N_("{location}: reported {hours} hours ago, the target is "
                                  "{target} hours.")),
}
_PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]{0,31})\}")
VALUE_MAX = 200
PAGE_MAX = 200


# --- the door ----------------------------------------------------------------------------------


def _value(value: Any) -> Any:
    """A stored value: bounded one-line text, a whole number, text per locale {"zh", "en"}, or
    {"msgid": …}, an English msgid translated when read."""
    if isinstance(value, Mapping):
        return {key: _value(value[key]) for key in ("zh", "en", "msgid") if key in value}
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return LINE_CONTROL.sub(" ", str(value))[:VALUE_MAX]


def notify(
    db: Session,
    *,
    kind: str,
    merchant_id: int,
    miniapp: MiniApp | None = None,
    params: Mapping[str, Any] | None = None,
    link: str = "",
) -> Notification:
    """Tell the merchant's staff, in the caller's transaction; when `miniapp` is built by an
    ISV the merchant still authorizes, that ISV's staff too. `params` fill the kind's
    placeholders (text, whole numbers, or {"zh": …, "en": …} for names kept in both)."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    if link and not is_local_path(link):
        raise ValueError(f"a notification links to a page of this site, not {link!r}")
    values = {str(key): _value(value) for key, value in (params or {}).items()}
    if isinstance(values.get("reason"), str):  # the sentence around it ends it
        values["reason"] = values["reason"].rstrip("。.！!")
    if miniapp is not None:
        values.setdefault("miniapp", miniapp.name)
    needed = set().union(*(_PLACEHOLDER.findall(text) for text in KINDS[kind]))
    missing = needed - values.keys()
    if missing:
        raise ValueError(f"{kind} needs {sorted(missing)}")
    provider_id = None
    if miniapp is not None and miniapp.builder_provider_id is not None and active_authorization(
            db, merchant_id=merchant_id, provider_id=miniapp.builder_provider_id):
        provider_id = miniapp.builder_provider_id
    notification = Notification(merchant_id=merchant_id, provider_id=provider_id, kind=kind,
                                params=values, link=link, created_at=clock.now())
    db.add(notification)
    db.flush()
    return notification


# --- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shown:
    """A notification as one reader sees it, in the reader's language."""

    id: str
    kind: str
    title: str
    body: str
    link: str
    merchant_name: str
    created_at: datetime
    read: bool


def _fill(text: str, values: Mapping[str, Any], locale: str) -> str:
    def one(match: re.Match[str]) -> str:
        value = values.get(match.group(1), "")
        if isinstance(value, Mapping) and "msgid" in value:  # a fixed name: translated now
            value = i18n.gettext(str(value["msgid"]))
        elif isinstance(value, Mapping):  # a name kept in both languages
            value = value.get("en" if locale == "en" else "zh") or next(iter(value.values()), "")
        return str(value)

    return _PLACEHOLDER.sub(one, text)  # plain substitution: values never reach str.format


def render(notification: Notification) -> tuple[str, str]:
    """Title and body in the current request's language."""
    title, body = KINDS.get(notification.kind, (notification.kind, ""))
    locale = i18n.current_locale.get()
    return (_fill(i18n.gettext(title), notification.params, locale),
            _fill(i18n.gettext(body), notification.params, locale))


def _audience(db: Session, actor: User):
    """The condition: addressed to a merchant or a provider the actor works for now."""
    merchants, providers = merchant_ids_of(db, actor), provider_ids_of(db, actor)
    return or_(Notification.merchant_id.in_(merchants or [-1]),
               Notification.provider_id.in_(providers or [-1]))


def _read_by(actor: User):
    return exists().where(NotificationRead.notification_id == Notification.id,
                          NotificationRead.user_id == actor.id)


def for_reader(db: Session, *, actor: User, limit: int = 50, offset: int = 0) -> list[Shown]:
    """The actor's notifications, newest first, rendered in the current language."""
    stmt = (
        select(Notification, _read_by(actor).label("read"))
        .where(_audience(db, actor))
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(max(1, min(limit, PAGE_MAX))).offset(max(0, offset))
    )
    shown = []
    for notification, read in db.execute(stmt):
        title, body = render(notification)
        shown.append(Shown(
            id=notification.public_id, kind=notification.kind, title=title, body=body,
            link=notification.link, created_at=notification.created_at, read=bool(read),
            merchant_name=notification.merchant.name if notification.merchant else "",
        ))
    return shown


def unread_count(db: Session, *, actor: User) -> int:
    stmt = select(func.count(Notification.id)).where(_audience(db, actor), ~_read_by(actor))
    return db.scalar(stmt) or 0


def get(db: Session, *, actor: User, public_id: str) -> Notification:
    """One of the actor's notifications; anyone else's answers NotFound, revealing nothing."""
    found = None
    if well_formed(public_id, "ntf"):
        found = db.scalar(select(Notification).where(
            Notification.public_id == public_id, _audience(db, actor)))
    if found is None:
        raise NotFound("No such notification.")
    return found


def mark_read(db: Session, *, actor: User, notification_id: str | None = None) -> int:
    """Mark one of the actor's notifications (or, without an id, all of them) read for the
    actor; answers how many changed."""
    stmt = select(Notification.id).where(_audience(db, actor), ~_read_by(actor))
    if notification_id is not None:
        stmt = stmt.where(Notification.id == get(db, actor=actor, public_id=notification_id).id)
    ids = list(db.scalars(stmt))
    if ids:
        now = clock.now()
        # the same reader in two tabs at once: the second mark is a no-op, not an error
        dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
        db.execute(dialect.insert(NotificationRead).on_conflict_do_nothing(), [
            {"notification_id": nid, "user_id": actor.id, "read_at": now} for nid in ids])
    return len(ids)


# --- what lower floors announce ----------------------------------------------------------------


def _miniapp_page(miniapp: MiniApp) -> str:
    return f"/console/miniapps/{miniapp.public_id}"


def on_review_decided(db: Session, event: miniapp_hooks.ReviewDecided) -> None:
    version = event.version
    miniapp = version.miniapp
    notify(db, kind=f"review.{event.decision}", merchant_id=miniapp.merchant_id, miniapp=miniapp,
           params={"label": version.label, "reason": version.reason},
           link=_miniapp_page(miniapp))


def on_template_changed(db: Session, event: miniapp_hooks.TemplateChanged) -> None:
    template = event.template
    made = db.scalars(select(MiniApp).where(MiniApp.template_id == template.id)
                      .order_by(MiniApp.id))
    kind = "template.new_version" if event.change == "version" else "template.withdrawn"
    for miniapp in made:  # each merchant hears about its own mini-apps
        notify(db, kind=kind, merchant_id=miniapp.merchant_id, miniapp=miniapp,
               params={"template": template.name, "version": template.version},
               link=_miniapp_page(miniapp))


def connect() -> None:
    """Subscribe to the lower floors' hooks (idempotent; the composition roots call it)."""
    miniapp_hooks.review_decided.connect("messaging.notify", on_review_decided)
    miniapp_hooks.template_changed.connect("messaging.notify", on_template_changed)
