"""The mini-app registry: creating a merchant's mini-apps, editing their versions, client secrets.

The owner side of a mini-app is its merchant's staff plus the staff of any provider (ISV) the
merchant currently authorizes; operators see everything; anyone else is told it does not exist.
The review workflow (submit, approve, publish, take down) lives in review.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.accounts.permissions import is_operator
from townsquare.core import audit
from townsquare.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from townsquare.core.i18n import N_, gettext
from townsquare.core.security import new_token, token_digest
from townsquare.core.text import well_formed
from townsquare.merchants.access import (
    acting_provider,
    active_authorization,
    can_act_for,
    is_merchant_staff,
)
from townsquare.merchants.models import Merchant
from townsquare.miniapps import hooks
from townsquare.miniapps.models import MiniApp, MiniAppKind, MiniAppVersion, VersionState
from townsquare.miniapps.registry_checks import (
    category_by_code,
    clean_changelog,
    clean_external_url,
    clean_label,
    clean_listing,
    published_template,
)
from townsquare.miniapps.runtimes import defaults_from_fields, validate_config

STATE_LABELS = {
    VersionState.DRAFT: N_("Draft"),
    VersionState.SUBMITTED: N_("In review"),
    VersionState.APPROVED: N_("Approved"),
    VersionState.REJECTED: N_("Rejected"),
    VersionState.PUBLISHED: N_("Published"),
    VersionState.SUPERSEDED: N_("Superseded"),
    VersionState.TAKEN_DOWN: N_("Taken down"),
}
OPEN_STATES = (VersionState.DRAFT, VersionState.SUBMITTED)


def state_label(state: VersionState) -> str:
    return gettext(STATE_LABELS[state])


@dataclass
class Created:
    """A new mini-app, its first version and the client secret (shown this once only)."""

    miniapp: MiniApp
    version: MiniAppVersion
    client_secret: str


# --- who may see and change what -------------------------------------------------------------


def is_owner(db: Session, actor: User | None, miniapp: MiniApp) -> bool:
    """The merchant's staff or an authorized provider's staff (or the system)."""
    return can_act_for(db, actor, miniapp.merchant)


def can_view(db: Session, actor: User | None, miniapp: MiniApp) -> bool:
    return is_operator(actor) or is_owner(db, actor, miniapp)


def merchant_for(db: Session, *, actor: User | None, public_id: str) -> Merchant:
    """A merchant whose mini-apps the actor may see; NotFound for everyone else."""
    merchant = None
    if well_formed(public_id, "mer"):
        merchant = db.scalar(select(Merchant).where(Merchant.public_id == public_id))
    if merchant is None or not (is_operator(actor) or can_act_for(db, actor, merchant)):
        raise NotFound("No such merchant.")
    return merchant


def get_miniapp(db: Session, *, actor: User | None, public_id: str) -> MiniApp:
    """A mini-app seen from the owner side or by an operator; NotFound for anyone else."""
    miniapp = None
    if well_formed(public_id, "ma"):
        miniapp = db.scalar(select(MiniApp).where(MiniApp.public_id == public_id))
    if miniapp is None or not can_view(db, actor, miniapp):
        raise NotFound("No such mini-app.")
    return miniapp


def acting_miniapp(db: Session, *, actor: User | None, public_id: str) -> MiniApp:
    """A mini-app whose merchant the actor may act for (staff, authorized ISV staff).

    Missing and not yours answer alike (operators included): outsiders learn nothing.
    """
    miniapp = None
    if well_formed(public_id, "ma"):
        miniapp = db.scalar(select(MiniApp).where(MiniApp.public_id == public_id))
    if miniapp is None or not can_act_for(db, actor, miniapp.merchant):
        raise NotFound("No such mini-app.")
    return miniapp


def owned_miniapp(db: Session, *, actor: User | None, public_id: str) -> MiniApp:
    """A mini-app the actor may change (owner side only)."""
    miniapp = get_miniapp(db, actor=actor, public_id=public_id)
    _require_owner(db, actor, miniapp)
    return miniapp


def get_version(db: Session, *, actor: User | None, public_id: str) -> MiniAppVersion:
    """A version of a mini-app the actor may see; NotFound otherwise."""
    version = None
    if well_formed(public_id, "ver"):
        version = db.scalar(select(MiniAppVersion).where(MiniAppVersion.public_id == public_id))
    if version is None or not can_view(db, actor, version.miniapp):
        raise NotFound("No such version.")
    return version


def owned_version(db: Session, *, actor: User | None, public_id: str) -> MiniAppVersion:
    version = get_version(db, actor=actor, public_id=public_id)
    _require_owner(db, actor, version.miniapp)
    return version


def _require_owner(db: Session, actor: User | None, miniapp: MiniApp) -> None:
    if not is_owner(db, actor, miniapp):
        raise PermissionDenied(
            "Only the mini-app's merchant or its authorized provider can do this."
        )


def lock_version(db: Session, version: MiniAppVersion) -> None:
    """Serialise changes to one mini-app's versions, then re-read the version's current state."""
    db.execute(select(MiniApp.id).where(MiniApp.id == version.miniapp_id).with_for_update())
    db.refresh(version)


def _actor_id(actor: User | None) -> int | None:
    return actor.id if actor else None


def record_version(
    db: Session, *, actor: User | None, version: MiniAppVersion, from_state: VersionState | None,
    reason: str = "", **extra: Any,
) -> None:
    """The audit entry for a version moving into its current state."""
    audit.record(
        db, actor_id=_actor_id(actor), action=f"version.{version.state.value}",
        subject_type="miniapp_version", subject_id=version.public_id,
        from_state=from_state.value if from_state else None, reason=reason,
        label=version.label, miniapp=version.miniapp.public_id, **extra,
    )


# --- mini-apps ---------------------------------------------------------------------------------


def create_miniapp(
    db: Session,
    *,
    actor: User | None,
    merchant_id: str,
    kind: str,
    name: str,
    icon: str | None = None,
    description: str | None = None,
    category: str | None = None,
    tags: Iterable[Any] | None = None,
    cities: Iterable[Any] | None = None,
    template_id: str | None = None,
    config: dict[str, Any] | None = None,
    external_url: str | None = None,
    label: str = "1.0.0",
    changelog: str | None = None,
) -> Created:
    """A new mini-app for a merchant with version 1 as a draft; returns its secret once."""
    merchant = merchant_for(db, actor=actor, public_id=merchant_id)
    if not can_act_for(db, actor, merchant):
        raise PermissionDenied("You cannot act for this merchant.")
    try:
        kind = MiniAppKind(kind)
    except ValueError:
        raise ValidationFailed(
            "A mini-app is made from a template or is external.", field="kind"
        ) from None
    listing = clean_listing(name=name, icon=icon, description=description, tags=tags, cities=cities)
    label = clean_label(label)
    changelog = clean_changelog(changelog)
    template = None
    clean_config: dict[str, Any] = {}
    url = ""
    if kind == MiniAppKind.TEMPLATE:
        if external_url:
            raise ValidationFailed("A mini-app made from a template has no external address.",
                                   field="external_url")
        template = published_template(db, template_id)
        clean_config = validate_config(
            template.runtime, {**defaults_from_fields(template.fields), **(config or {})}
        )
        hooks.config_checked.fire(
            db, hooks.ConfigChecked(merchant.id, template.runtime, clean_config))
    else:
        if config or template_id:
            raise ValidationFailed("An external mini-app has no template settings.", field="config")
        url = clean_external_url(external_url)
    if category:
        chosen = category_by_code(db, category)
    else:
        chosen = (template.category if template else None) or merchant.category

    builder = None
    if actor is not None and not is_merchant_staff(db, actor, merchant):
        builder = acting_provider(db, actor, merchant)
    secret = new_token()
    miniapp = MiniApp(
        merchant=merchant, builder=builder, category=chosen, kind=kind, template=template,
        client_secret_digest=token_digest(secret),
        secret_authorization_id=_mandate_id(db, actor, merchant), **listing,
    )
    version = MiniAppVersion(
        miniapp=miniapp, number=1, label=label, changelog=changelog, external_url=url,
        config=clean_config, state=VersionState.DRAFT,
        template_version=max(template.version, 1) if template else None, **listing,
    )
    db.add_all([miniapp, version])
    db.flush()
    audit.record(
        db, actor_id=_actor_id(actor), action="miniapp.create", subject_type="miniapp",
        subject_id=miniapp.public_id, merchant=merchant.public_id,
        builder=builder.public_id if builder else None,
    )
    record_version(db, actor=actor, version=version, from_state=None)
    return Created(miniapp=miniapp, version=version, client_secret=secret)


def _mandate_id(db: Session, actor: User | None, merchant: Merchant) -> int | None:
    """The authorization an ISV's staff act under for `merchant` (None for its own staff)."""
    if actor is None or is_merchant_staff(db, actor, merchant):
        return None
    provider = acting_provider(db, actor, merchant)
    if provider is None:
        return None
    found = active_authorization(db, merchant_id=merchant.id, provider_id=provider.id)
    return found.id if found else None


def rotate_secret(db: Session, *, actor: User | None, miniapp_id: str) -> str:
    """A new client secret replaces the old one at once; the plain secret is returned once."""
    miniapp = owned_miniapp(db, actor=actor, public_id=miniapp_id)
    if miniapp.kind == MiniAppKind.TEMPLATE:
        # it runs on the platform's own pages: no backend, so no secret to hold or leak
        raise Conflict("A mini-app made from a template runs on the platform and has no backend, "
                       "so it has no client secret to replace.", code="no_backend")
    secret = new_token()
    miniapp.client_secret_digest = token_digest(secret)
    # held by whoever rotated it: an ISV's copy dies with that ISV's authorization
    miniapp.secret_authorization_id = _mandate_id(db, actor, miniapp.merchant)
    audit.record(
        db, actor_id=_actor_id(actor), action="miniapp.secret_rotated", subject_type="miniapp",
        subject_id=miniapp.public_id,
    )
    db.flush()
    return secret


def list_merchant_miniapps(db: Session, *, actor: User | None, merchant_id: str) -> list[MiniApp]:
    """A merchant's mini-apps, newest first (owner side and operators)."""
    merchant = merchant_for(db, actor=actor, public_id=merchant_id)
    stmt = (
        select(MiniApp)
        .where(MiniApp.merchant_id == merchant.id)
        .order_by(MiniApp.created_at.desc(), MiniApp.id.desc())
    )
    return list(db.scalars(stmt))


# --- versions ----------------------------------------------------------------------------------


def versions_of(db: Session, miniapp: MiniApp) -> list[MiniAppVersion]:
    """All versions, newest first (the caller has already checked who may see them)."""
    stmt = (
        select(MiniAppVersion)
        .where(MiniAppVersion.miniapp_id == miniapp.id)
        .order_by(MiniAppVersion.number.desc())
    )
    return list(db.scalars(stmt))


def latest_versions(db: Session, miniapps: Iterable[MiniApp]) -> dict[int, MiniAppVersion]:
    """Each mini-app's newest version, by mini-app id."""
    ids = [m.id for m in miniapps]
    if not ids:
        return {}
    newest = (
        select(MiniAppVersion.miniapp_id, func.max(MiniAppVersion.number).label("n"))
        .where(MiniAppVersion.miniapp_id.in_(ids))
        .group_by(MiniAppVersion.miniapp_id)
        .subquery()
    )
    stmt = select(MiniAppVersion).join(
        newest,
        and_(MiniAppVersion.miniapp_id == newest.c.miniapp_id, MiniAppVersion.number == newest.c.n),
    )
    return {v.miniapp_id: v for v in db.scalars(stmt)}


def list_versions(db: Session, *, actor: User | None, miniapp_id: str) -> list[MiniAppVersion]:
    """A mini-app's versions, newest first."""
    return versions_of(db, get_miniapp(db, actor=actor, public_id=miniapp_id))


def new_version(
    db: Session,
    *,
    actor: User | None,
    miniapp_id: str,
    label: str,
    changelog: str | None = None,
    from_version: str | None = None,
) -> MiniAppVersion:
    """A new draft copied from `from_version` (default: the newest version), numbered next."""
    miniapp = owned_miniapp(db, actor=actor, public_id=miniapp_id)
    label = clean_label(label)
    changelog = clean_changelog(changelog)
    db.execute(select(MiniApp.id).where(MiniApp.id == miniapp.id).with_for_update())
    versions = versions_of(db, miniapp)
    pending = next((v for v in versions if v.state in OPEN_STATES), None)
    if pending is not None:
        raise Conflict(
            "Version {label} is still {state}; finish it before starting another.",
            label=pending.label, state=state_label(pending.state),
        )
    if any(v.label == label for v in versions):
        raise Conflict("This mini-app already has a version {label}.", label=label)
    if from_version:
        source = next((v for v in versions if v.public_id == from_version), None)
        if source is None:
            raise NotFound("No such version.")
    else:
        source = versions[0]
    version = MiniAppVersion(
        miniapp=miniapp, number=versions[0].number + 1, label=label, changelog=changelog,
        name=source.name, icon=source.icon, description=source.description,
        tags=list(source.tags), cities=list(source.cities), external_url=source.external_url,
        config=dict(source.config), template_version=source.template_version,
        state=VersionState.DRAFT,
    )
    db.add(version)
    db.flush()
    record_version(db, actor=actor, version=version, from_state=None, copied_from=source.public_id)
    return version


def update_draft(
    db: Session,
    *,
    actor: User | None,
    version_id: str,
    label: str | None = None,
    changelog: str | None = None,
    name: str | None = None,
    icon: str | None = None,
    description: str | None = None,
    tags: Iterable[Any] | None = None,
    cities: Iterable[Any] | None = None,
    external_url: str | None = None,
    config: dict[str, Any] | None = None,
) -> MiniAppVersion:
    """Edit a draft; only the given fields change. `config` is merged into the current settings."""
    version = owned_version(db, actor=actor, public_id=version_id)
    lock_version(db, version)
    if version.state != VersionState.DRAFT:
        raise Conflict("Only a draft can be edited; this version is {state}.",
                       state=state_label(version.state))
    miniapp = version.miniapp
    listing = clean_listing(
        name=version.name if name is None else name,
        icon=version.icon if icon is None else icon,
        description=version.description if description is None else description,
        tags=version.tags if tags is None else tags,
        cities=version.cities if cities is None else cities,
    )
    changes: dict[str, Any] = dict(listing)
    if label is not None:
        label = clean_label(label)
        taken = db.scalar(
            select(MiniAppVersion.id).where(
                MiniAppVersion.miniapp_id == miniapp.id, MiniAppVersion.label == label,
                MiniAppVersion.id != version.id,
            )
        )
        if taken:
            raise Conflict("This mini-app already has a version {label}.", label=label)
        changes["label"] = label
    if changelog is not None:
        changes["changelog"] = clean_changelog(changelog)
    if miniapp.kind == MiniAppKind.TEMPLATE:
        if external_url:
            raise ValidationFailed("A mini-app made from a template has no external address.",
                                   field="external_url")
        if config is not None:
            changes["config"] = validate_config(
                miniapp.runtime, {**version.config, **config}
            )
            hooks.config_checked.fire(
                db, hooks.ConfigChecked(miniapp.merchant_id, miniapp.runtime, changes["config"]))
    else:
        if config:
            raise ValidationFailed("An external mini-app has no template settings.", field="config")
        if external_url is not None:
            changes["external_url"] = clean_external_url(external_url)
    for key, value in changes.items():
        setattr(version, key, value)
    db.flush()
    return version


def delete_draft(db: Session, *, actor: User | None, version_id: str) -> None:
    """Throw away a draft (not the first version: a mini-app always has one)."""
    version = owned_version(db, actor=actor, public_id=version_id)
    lock_version(db, version)
    if version.state != VersionState.DRAFT:
        raise Conflict("Only a draft can be deleted; this version is {state}.",
                       state=state_label(version.state))
    if version.number == 1:
        raise Conflict("The first version cannot be deleted; edit it instead.")
    # kept under the mini-app: the version's own trail goes with its row
    audit.record(
        db, actor_id=_actor_id(actor), action="version.deleted", subject_type="miniapp",
        subject_id=version.miniapp.public_id, version=version.public_id, label=version.label,
    )
    db.delete(version)
    db.flush()


# --- history -----------------------------------------------------------------------------------


@dataclass
class HistoryItem:
    at: datetime
    action: str
    subject_id: str
    actor_name: str | None
    from_state: str | None
    reason: str
    label: str | None


def history(db: Session, *, actor: User | None, miniapp_id: str) -> list[HistoryItem]:
    """The audit trail of a mini-app and all its versions, oldest first."""
    miniapp = get_miniapp(db, actor=actor, public_id=miniapp_id)
    version_ids = select(MiniAppVersion.public_id).where(MiniAppVersion.miniapp_id == miniapp.id)
    entry = audit.AuditEntry
    stmt = (
        select(entry, User.display_name)
        .outerjoin(User, User.id == entry.actor_id)
        .where(
            or_(
                and_(entry.subject_type == "miniapp", entry.subject_id == miniapp.public_id),
                and_(entry.subject_type == "miniapp_version", entry.subject_id.in_(version_ids)),
            )
        )
        .order_by(entry.at, entry.id)
    )
    return [
        HistoryItem(
            at=row.at, action=row.action, subject_id=row.subject_id, actor_name=name,
            from_state=row.detail.get("from_state"), reason=row.detail.get("reason") or "",
            label=row.detail.get("label"),
        )
        for row, name in db.execute(stmt)
    ]
