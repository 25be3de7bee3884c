"""ISV templates: a provider configures one of the platform's runtimes once, publishes it, and any
merchant makes a mini-app from it in minutes by filling in the few settings that differ.

(Named templates_service so it does not clash with the package's templates/ folder.)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.accounts.permissions import is_operator
from townsquare.core import audit
from townsquare.core.clock import clock
from townsquare.core.errors import Conflict, NotFound, ValidationFailed
from townsquare.core.i18n import N_
from townsquare.core.settings import Settings
from townsquare.core.text import clean_name, clean_text, well_formed
from townsquare.merchants.access import provider_ids_of, require_provider_staff
from townsquare.merchants.models import ServiceProvider
from townsquare.miniapps import hooks, registry, review
from townsquare.miniapps.models import (
    MiniApp,
    MiniAppKind,
    MiniAppVersion,
    Template,
    TemplateStatus,
    TemplateVersion,
)
from townsquare.miniapps.registry_checks import DESCRIPTION_MAX, category_by_code, pinned_fields
from townsquare.miniapps.runtimes import (
    MERCHANT_FIELDS,
    RUNTIMES,
    defaults_from_fields,
    field_dicts,
    validate_config,
)


def works_for(db: Session, actor: User | None, provider_id: int) -> bool:
    return actor is None or provider_id in provider_ids_of(db, actor)


def get_provider(db: Session, *, actor: User | None, public_id: str) -> ServiceProvider:
    """A provider seen by its own staff or an operator; NotFound for anyone else."""
    provider = None
    if well_formed(public_id, "isv"):
        provider = db.scalar(select(ServiceProvider).where(ServiceProvider.public_id == public_id))
    if provider is None or not (is_operator(actor) or works_for(db, actor, provider.id)):
        raise NotFound("No such service provider.")
    return provider


def get_template(db: Session, *, actor: User | None, public_id: str) -> Template:
    """A published or withdrawn template (anyone: a merchant whose mini-app was made from a
    withdrawn one still reads it), or a draft seen by its provider's staff or an operator."""
    template = None
    if well_formed(public_id, "tpl"):
        template = db.scalar(select(Template).where(Template.public_id == public_id))
    if template is None or (
        template.status == TemplateStatus.DRAFT
        and not (is_operator(actor) or works_for(db, actor, template.provider_id))
    ):
        raise NotFound("No such template.")
    return template


def create_template(
    db: Session,
    *,
    actor: User | None,
    provider_id: str,
    runtime: str,
    name: str,
    description: str | None = None,
    category: str | None = None,
    defaults: dict[str, Any] | None = None,
) -> Template:
    """Provider staff: a draft template for one runtime, with default values for its settings."""
    provider = get_provider(db, actor=actor, public_id=provider_id)
    require_provider_staff(db, actor, provider)
    if not isinstance(runtime, str) or runtime not in RUNTIMES:
        raise ValidationFailed("There is no runtime called {runtime}.",
                               runtime=str(runtime)[:32], field="runtime")
    name = clean_name(name)
    description = clean_text(
        description or "", field="description", max_length=DESCRIPTION_MAX,
        message=N_("A description is at most {n} characters."),
    )
    chosen = category_by_code(db, category) if category else None
    cleaned = template_defaults(runtime, defaults)
    template = Template(
        provider=provider, runtime=runtime, name=name, description=description, category=chosen,
        fields=field_dicts(runtime, cleaned), status=TemplateStatus.DRAFT,
    )
    db.add(template)
    db.flush()
    audit.record(
        db, actor_id=actor.id if actor else None, action="template.create",
        subject_type="template", subject_id=template.public_id, runtime=runtime,
        provider=provider.public_id,
    )
    return template


def publish_template(db: Session, *, actor: User | None, template_id: str) -> Template:
    """Provider staff: offer a draft template to every merchant."""
    template = get_template(db, actor=actor, public_id=template_id)
    require_provider_staff(db, actor, template.provider)
    db.execute(select(Template.id).where(Template.id == template.id).with_for_update())
    db.refresh(template)
    if template.status == TemplateStatus.WITHDRAWN:
        raise Conflict("This template is withdrawn; it can no longer be published.")
    if template.status != TemplateStatus.DRAFT:
        raise Conflict("This template is already published.")
    _require_complete(template.runtime, template.fields)
    template.status = TemplateStatus.PUBLISHED
    _snapshot(db, actor=actor, template=template, note="")
    audit.record(
        db, actor_id=actor.id if actor else None, action="template.published",
        subject_type="template", subject_id=template.public_id, from_state="draft",
        version=template.version,
    )
    db.flush()
    return template


def template_defaults(runtime: str, defaults: dict[str, Any] | None) -> dict[str, Any]:
    """A template's default settings, cleaned. The merchant's own settings (MERCHANT_FIELDS,
    such as the stores a shop sells from) are each merchant's to choose, never a template's:
    checked like the rest, then left out of what the template keeps (the ISV's form does not
    show them; a value sent through the API is not kept)."""
    cleaned = validate_config(runtime, defaults or {}, partial=True)
    return {name: value for name, value in cleaned.items() if name not in MERCHANT_FIELDS}


def _require_complete(runtime: str, fields: list[Any]) -> None:
    """A merchant's mini-app needs nothing but its name (and the merchant's own settings, such
    as its stores): every other required setting has a default."""
    try:
        validate_config(runtime, defaults_from_fields(fields), optional=MERCHANT_FIELDS)
    except ValidationFailed as exc:
        raise ValidationFailed(
            "Fill in every required setting before publishing: {fields}.",
            fields=exc.params.get("fields", ""), details=exc.details,
        ) from exc


def _snapshot(db: Session, *, actor: User | None, template: Template, note: str) -> None:
    """Number the template's current state as its next published version and keep a copy."""
    template.version += 1
    db.add(TemplateVersion(
        template_id=template.id, number=template.version, name=template.name,
        description=template.description, category_id=template.category_id,
        fields=list(template.fields), note=note, created_at=clock.now(),
        created_by_id=actor.id if actor else None,
    ))
    db.flush()


def _provider_template(db: Session, actor: User | None, template_id: str) -> Template:
    """A template its provider's staff may change, locked and re-read."""
    template = get_template(db, actor=actor, public_id=template_id)
    require_provider_staff(db, actor, template.provider)
    db.execute(select(Template.id).where(Template.id == template.id).with_for_update())
    db.refresh(template)
    return template


def edit_template(
    db: Session,
    *,
    actor: User | None,
    template_id: str,
    name: str,
    description: str | None = None,
    category: str | None = None,
    defaults: dict[str, Any] | None = None,
    note: str | None = None,
) -> Template:
    """Provider staff: change a template. A draft changes in place; a published template gets
    a new version, offered to new mini-apps at once. Mini-apps already made from it keep the
    version they were made from until their merchant upgrades (`upgrade_miniapp`)."""
    template = _provider_template(db, actor, template_id)
    if template.status == TemplateStatus.WITHDRAWN:
        raise Conflict("This template is withdrawn; it can no longer be changed.")
    name = clean_name(name)
    description = clean_text(
        description or "", field="description", max_length=DESCRIPTION_MAX,
        message=N_("A description is at most {n} characters."),
    )
    note = clean_text(note or "", field="note", max_length=DESCRIPTION_MAX,
                      message=N_("The change notes are at most {n} characters."))
    chosen = category_by_code(db, category) if category else None
    fields = field_dicts(template.runtime, template_defaults(template.runtime, defaults))
    before = (template.name, template.description, template.category_id, template.fields)
    after = (name, description, chosen.id if chosen else None, fields)
    if before == after:
        raise Conflict("Nothing changed: the template already reads like this.")
    if template.status == TemplateStatus.PUBLISHED:  # checked before anything changes
        _require_complete(template.runtime, fields)
    if template.status == TemplateStatus.PUBLISHED and template.version == 0:
        # published before versions were kept: what its mini-apps were made from is version 1
        _snapshot(db, actor=None, template=template, note="")
    template.name, template.description, template.category, template.fields = (
        name, description, chosen, fields)
    db.flush()
    if template.status == TemplateStatus.PUBLISHED:
        _snapshot(db, actor=actor, template=template, note=note)
    audit.record(
        db, actor_id=actor.id if actor else None, action="template.edited",
        subject_type="template", subject_id=template.public_id, version=template.version,
        note=note,
    )
    if template.status == TemplateStatus.PUBLISHED:
        hooks.template_changed.fire(db, hooks.TemplateChanged(template, "version"))
    return template


def withdraw_template(
    db: Session, *, actor: User | None, template_id: str, reason: str | None = None
) -> Template:
    """Provider staff: take a template out of the gallery for good. No new mini-app can be made
    from it; the mini-apps already made from it keep running on the version they have."""
    template = _provider_template(db, actor, template_id)
    if template.status == TemplateStatus.WITHDRAWN:
        raise Conflict("This template is already withdrawn.")
    reason = clean_text(reason or "", field="reason", max_length=500,
                        message=N_("The reason is at most {n} characters."))
    before = template.status
    template.status = TemplateStatus.WITHDRAWN
    template.withdrawn_at = clock.now()
    template.withdrawn_reason = reason
    db.flush()
    audit.record(
        db, actor_id=actor.id if actor else None, action="template.withdrawn",
        subject_type="template", subject_id=template.public_id, from_state=before.value,
        reason=reason, miniapps=len(miniapps_made_from(db, template=template)),
    )
    if before == TemplateStatus.PUBLISHED:
        hooks.template_changed.fire(db, hooks.TemplateChanged(template, "withdrawn"))
    return template


def template_versions(db: Session, *, actor: User | None, template_id: str
                      ) -> list[TemplateVersion]:
    """A template's published versions, newest first (whoever may see the template)."""
    template = get_template(db, actor=actor, public_id=template_id)
    stmt = (select(TemplateVersion).where(TemplateVersion.template_id == template.id)
            .order_by(TemplateVersion.number.desc()))
    return list(db.scalars(stmt))


def version_note(db: Session, *, template: Template | None, number: int) -> str:
    """What the ISV said changed in one version of the template."""
    if template is None:
        return ""
    return db.scalar(select(TemplateVersion.note).where(
        TemplateVersion.template_id == template.id, TemplateVersion.number == number)) or ""


def miniapps_made_from(db: Session, *, template: Template) -> list[MiniApp]:
    """Every mini-app made from the template (the system's view: callers check who asks)."""
    stmt = select(MiniApp).where(MiniApp.template_id == template.id).order_by(MiniApp.id)
    return list(db.scalars(stmt))


def usage_counts(db: Session, *, template_ids: list[int]) -> dict[int, int]:
    """How many mini-apps were made from each template."""
    if not template_ids:
        return {}
    stmt = (select(MiniApp.template_id, func.count(MiniApp.id))
            .where(MiniApp.template_id.in_(template_ids)).group_by(MiniApp.template_id))
    return {template_id: count for template_id, count in db.execute(stmt) if template_id}


def upgrade_available(db: Session, *, miniapp: MiniApp) -> int | None:
    """The newer template version a template mini-app could upgrade to, if any."""
    template = miniapp.template
    if template is None or template.status != TemplateStatus.PUBLISHED:
        return None
    newest = registry.latest_versions(db, [miniapp]).get(miniapp.id)
    current = newest.template_version if newest else None
    return template.version if (current or 0) < template.version else None


def upgraded_config(
    runtime: str, config: dict[str, Any], old_fields: list[Any], new_fields: list[Any]
) -> dict[str, Any]:
    """A mini-app's settings on a new template version: a value the merchant left at the old
    default follows the new default; a value the merchant chose stays theirs."""
    old = defaults_from_fields(old_fields)
    new = defaults_from_fields(new_fields)
    merged: dict[str, Any] = {}
    for name in {*config, *new}:
        mine = config.get(name)
        if mine is None or (name in old and mine == old[name]):
            if name in new:
                merged[name] = new[name]
        else:
            merged[name] = mine
    return validate_config(runtime, merged)


def upgrade_miniapp(
    db: Session, *, actor: User | None, miniapp_id: str, label: str, changelog: str | None = None
) -> MiniAppVersion:
    """The merchant's side: a new draft of the mini-app on the template's newest version (its
    own values kept), to be reviewed and published like any other version."""
    miniapp = registry.owned_miniapp(db, actor=actor, public_id=miniapp_id)
    template = miniapp.template
    if template is None:
        raise Conflict("This mini-app is not made from a template.")
    if template.status == TemplateStatus.WITHDRAWN:
        raise Conflict("Its template was withdrawn by its provider: there is nothing to "
                       "upgrade to, and the mini-app keeps working as it is.")
    target = upgrade_available(db, miniapp=miniapp)
    if target is None:
        raise Conflict("This mini-app already uses the newest version of its template.")
    version = registry.new_version(db, actor=actor, miniapp_id=miniapp_id, label=label,
                                   changelog=changelog)
    old_fields = pinned_fields(db, template=template, number=version.template_version)
    version.config = upgraded_config(template.runtime, version.config, old_fields,
                                     template.fields)
    before = version.template_version
    version.template_version = target
    db.flush()
    audit.record(
        db, actor_id=actor.id if actor else None, action="miniapp.template_upgrade",
        subject_type="miniapp", subject_id=miniapp.public_id, template=template.public_id,
        from_version=before, to_version=target, version=version.public_id,
    )
    return version


def list_published_templates(db: Session, *, runtime: str | None = None) -> list[Template]:
    """Every published template, by name (what merchants choose from)."""
    stmt = select(Template).where(Template.status == TemplateStatus.PUBLISHED)
    if runtime:
        if runtime not in RUNTIMES:
            return []
        stmt = stmt.where(Template.runtime == runtime)
    return list(db.scalars(stmt.order_by(Template.name, Template.id)))


def list_provider_templates(db: Session, *, actor: User | None, provider_id: str) -> list[Template]:
    """A provider's templates, drafts included, newest first (its staff and operators)."""
    provider = get_provider(db, actor=actor, public_id=provider_id)
    stmt = (
        select(Template)
        .where(Template.provider_id == provider.id)
        .order_by(Template.created_at.desc(), Template.id.desc())
    )
    return list(db.scalars(stmt))


def create_from_template(
    db: Session,
    *,
    actor: User | None,
    settings: Settings,
    template_id: str,
    merchant_id: str,
    name: str,
    config: dict[str, Any] | None = None,
    icon: str | None = None,
    description: str | None = None,
    category: str | None = None,
    tags: Iterable[Any] | None = None,
    cities: Iterable[Any] | None = None,
    label: str = "1.0.0",
    submit: bool = False,
    publish_on_approval: bool = True,
) -> registry.Created:
    """A merchant's mini-app from a published template: only the settings that differ from the
    template's defaults need giving; `submit=True` sends version 1 for review at once."""
    template = get_template(db, actor=actor, public_id=template_id)
    if template.status == TemplateStatus.WITHDRAWN:
        raise Conflict("This template was withdrawn by its provider; choose another one.",
                       code="template_withdrawn")
    if template.status != TemplateStatus.PUBLISHED:
        raise Conflict("Only a published template can be used.")
    created = registry.create_miniapp(
        db, actor=actor, merchant_id=merchant_id, kind=MiniAppKind.TEMPLATE, name=name,
        icon=icon, description=description if description else template.description,
        category=category, tags=tags, cities=cities, template_id=template.public_id,
        config=config, label=label,
    )
    if submit:
        review.submit(
            db, actor=actor, settings=settings, version_id=created.version.public_id,
            publish_on_approval=publish_on_approval,
        )
    return created
