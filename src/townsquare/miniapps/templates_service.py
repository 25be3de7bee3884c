"""ISV templates: a provider configures one of the platform's runtimes once, publishes it, and any
merchant makes a mini-app from it in minutes by filling in the few settings that differ.

(Named templates_service so it does not clash with the package's templates/ folder.)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.accounts.permissions import is_operator
from townsquare.core import audit
from townsquare.core.errors import Conflict, NotFound, ValidationFailed
from townsquare.core.i18n import N_
from townsquare.core.settings import Settings
from townsquare.core.text import clean_name, clean_text, well_formed
from townsquare.merchants.access import provider_ids_of, require_provider_staff
from townsquare.merchants.models import ServiceProvider
from townsquare.miniapps import registry, review
from townsquare.miniapps.models import MiniAppKind, Template, TemplateStatus
from townsquare.miniapps.registry_checks import DESCRIPTION_MAX, category_by_code
from townsquare.miniapps.runtimes import (
    RUNTIMES,
    defaults_from_fields,
    field_dicts,
    validate_config,
)


def _works_for(db: Session, actor: User | None, provider_id: int) -> bool:
    return actor is None or provider_id in provider_ids_of(db, actor)


def get_provider(db: Session, *, actor: User | None, public_id: str) -> ServiceProvider:
    """A provider seen by its own staff or an operator; NotFound for anyone else."""
    provider = None
    if well_formed(public_id, "isv"):
        provider = db.scalar(select(ServiceProvider).where(ServiceProvider.public_id == public_id))
    if provider is None or not (is_operator(actor) or _works_for(db, actor, provider.id)):
        raise NotFound("No such service provider.")
    return provider


def get_template(db: Session, *, actor: User | None, public_id: str) -> Template:
    """A published template (anyone), or a draft seen by its provider's staff or an operator."""
    template = None
    if well_formed(public_id, "tpl"):
        template = db.scalar(select(Template).where(Template.public_id == public_id))
    if template is None or (
        template.status != TemplateStatus.PUBLISHED
        and not (is_operator(actor) or _works_for(db, actor, template.provider_id))
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
    cleaned = validate_config(runtime, defaults or {}, partial=True)
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
    if template.status != TemplateStatus.DRAFT:
        raise Conflict("This template is already published.")
    # a merchant's mini-app needs nothing but its name: every required setting has a default
    try:
        validate_config(template.runtime, defaults_from_fields(template.fields))
    except ValidationFailed as exc:
        raise ValidationFailed(
            "Fill in every required setting before publishing: {fields}.",
            fields=exc.params.get("fields", ""), details=exc.details,
        ) from exc
    template.status = TemplateStatus.PUBLISHED
    audit.record(
        db, actor_id=actor.id if actor else None, action="template.published",
        subject_type="template", subject_id=template.public_id, from_state="draft",
    )
    db.flush()
    return template


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
