"""Registry JSON API: mini-apps and versions, the review workflow and queue, ISV templates.

Every route hands the caller to a service, which decides who may do what; ids are public ids.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from townsquare.accounts.deps import CurrentUser
from townsquare.accounts.models import User
from townsquare.miniapps import registry, review, templates_service
from townsquare.miniapps.runtimes import RUNTIMES
from townsquare.miniapps.schemas import (
    CreatedOut,
    FromTemplateIn,
    HistoryOut,
    ListedOut,
    MiniAppDetail,
    MiniAppIn,
    MiniAppOut,
    QueueItemOut,
    ReasonIn,
    RuntimeOut,
    SecretOut,
    SubmitIn,
    TemplateEditIn,
    TemplateIn,
    TemplateOut,
    TemplateVersionOut,
    UpgradeIn,
    VersionIn,
    VersionOut,
    VersionPatch,
    WithdrawIn,
)
from townsquare.web.deps import AppSettings, DbSession
from townsquare.web.openapi import PublicId, Responses, error

router = APIRouter(prefix="/api", tags=["miniapps"])

Id = PublicId


AUTH: Responses = {401: error("Not logged in")}
SEE: Responses = {**AUTH, 404: error("No such object, or not yours to see")}
CHANGE: Responses = {**SEE, 403: error("Not allowed to change it"), 422: error("Invalid input")}
MOVE: Responses = {**CHANGE, 409: error("Not allowed in the version's current state")}
OPERATOR: Responses = {**AUTH, 403: error("Operators only")}


def _detail(db: Session, actor: User, public_id: str) -> MiniAppDetail:
    miniapp = registry.get_miniapp(db, actor=actor, public_id=public_id)
    versions = registry.versions_of(db, miniapp)
    summary = MiniAppOut.of(miniapp, versions[0] if versions else None)
    return MiniAppDetail(
        **summary.model_dump(),
        versions=[VersionOut.of(v) for v in versions],
        history=[
            HistoryOut.of(item)
            for item in registry.history(db, actor=actor, miniapp_id=miniapp.public_id)
        ],
    )


# --- mini-apps ---------------------------------------------------------------------------------


@router.post("/miniapps", status_code=201, response_model=CreatedOut, responses=CHANGE)
def create_miniapp(body: MiniAppIn, db: DbSession, user: CurrentUser) -> CreatedOut:
    """Create a mini-app for a merchant you act for; version 1 starts as a draft.

    The client secret is in this answer only; rotate it if it is lost."""
    created = registry.create_miniapp(
        db, actor=user, merchant_id=body.merchant_id, kind=body.kind, name=body.name,
        icon=body.icon, description=body.description, category=body.category, tags=body.tags,
        cities=body.cities, template_id=body.template_id, config=body.config,
        external_url=body.external_url, label=body.label, changelog=body.changelog,
    )
    return CreatedOut(
        miniapp=_detail(db, user, created.miniapp.public_id), client_secret=created.client_secret
    )


@router.get("/merchants/{merchant_id}/miniapps", response_model=list[MiniAppOut], responses=SEE)
def merchant_miniapps(merchant_id: Id, db: DbSession, user: CurrentUser) -> list[MiniAppOut]:
    """A merchant's mini-apps with their newest version (owner side and operators)."""
    miniapps = registry.list_merchant_miniapps(db, actor=user, merchant_id=merchant_id)
    latest = registry.latest_versions(db, miniapps)
    return [MiniAppOut.of(m, latest.get(m.id)) for m in miniapps]


@router.get("/miniapps/{miniapp_id}", response_model=MiniAppDetail, responses=SEE)
def get_miniapp(miniapp_id: Id, db: DbSession, user: CurrentUser) -> MiniAppDetail:
    """A mini-app with every version, the reasons given and its audit history."""
    return _detail(db, user, miniapp_id)


@router.post("/miniapps/{miniapp_id}/secret", response_model=SecretOut, responses=CHANGE)
def rotate_secret(miniapp_id: Id, db: DbSession, user: CurrentUser) -> SecretOut:
    """Replace the client secret; the old one stops working at once."""
    return SecretOut(client_secret=registry.rotate_secret(db, actor=user, miniapp_id=miniapp_id))


# --- versions ----------------------------------------------------------------------------------


@router.get("/miniapps/{miniapp_id}/versions", response_model=list[VersionOut], responses=SEE)
def list_versions(miniapp_id: Id, db: DbSession, user: CurrentUser) -> list[VersionOut]:
    """Versions, newest first."""
    return [VersionOut.of(v) for v in registry.list_versions(db, actor=user, miniapp_id=miniapp_id)]


@router.post(
    "/miniapps/{miniapp_id}/versions", status_code=201, response_model=VersionOut, responses=MOVE
)
def new_version(miniapp_id: Id, body: VersionIn, db: DbSession, user: CurrentUser) -> VersionOut:
    """Start a new draft copied from the newest version (or `from_version`, e.g. a rejected one)."""
    version = registry.new_version(
        db, actor=user, miniapp_id=miniapp_id, label=body.label, changelog=body.changelog,
        from_version=body.from_version,
    )
    return VersionOut.of(version)


@router.get("/versions/{version_id}", response_model=VersionOut, responses=SEE)
def get_version(version_id: Id, db: DbSession, user: CurrentUser) -> VersionOut:
    return VersionOut.of(registry.get_version(db, actor=user, public_id=version_id))


@router.patch("/versions/{version_id}", response_model=VersionOut, responses=MOVE)
def edit_draft(
    version_id: Id, body: VersionPatch, db: DbSession, user: CurrentUser
) -> VersionOut:
    """Edit a draft: only the fields sent change; `config` is merged into the current settings."""
    version = registry.update_draft(
        db, actor=user, version_id=version_id, **body.model_dump(exclude_unset=True)
    )
    return VersionOut.of(version)


@router.delete("/versions/{version_id}", status_code=204, responses=MOVE)
def delete_draft(version_id: Id, db: DbSession, user: CurrentUser) -> None:
    """Throw away a draft (version 1 cannot be deleted)."""
    registry.delete_draft(db, actor=user, version_id=version_id)


@router.post("/versions/{version_id}/submit", response_model=VersionOut, responses=MOVE)
def submit(
    version_id: Id, body: SubmitIn, db: DbSession, user: CurrentUser, settings: AppSettings
) -> VersionOut:
    """Send a draft for review; urgent categories go to the expedited lane."""
    version = review.submit(
        db, actor=user, settings=settings, version_id=version_id,
        publish_on_approval=body.publish_on_approval,
    )
    return VersionOut.of(version)


@router.post("/versions/{version_id}/approve", response_model=VersionOut, responses=MOVE)
def approve(version_id: Id, db: DbSession, user: CurrentUser) -> VersionOut:
    """Operator: approve (and publish at once if the owner asked for that)."""
    return VersionOut.of(review.approve(db, actor=user, version_id=version_id))


@router.post("/versions/{version_id}/reject", response_model=VersionOut, responses=MOVE)
def reject(version_id: Id, body: ReasonIn, db: DbSession, user: CurrentUser) -> VersionOut:
    """Operator: reject with a reason the owner sees."""
    return VersionOut.of(review.reject(db, actor=user, version_id=version_id, reason=body.reason))


@router.post("/versions/{version_id}/publish", response_model=VersionOut, responses=MOVE)
def publish(version_id: Id, db: DbSession, user: CurrentUser) -> VersionOut:
    """Put an approved version live; the previous published version is superseded."""
    return VersionOut.of(review.publish(db, actor=user, version_id=version_id))


@router.post("/versions/{version_id}/takedown", response_model=VersionOut, responses=MOVE)
def takedown(version_id: Id, body: ReasonIn, db: DbSession, user: CurrentUser) -> VersionOut:
    """Operator: take the published version down, with a reason shown to the owner."""
    return VersionOut.of(
        review.takedown(db, actor=user, version_id=version_id, reason=body.reason)
    )


# --- operators ---------------------------------------------------------------------------------


@router.get("/reviews/queue", response_model=list[QueueItemOut], responses=OPERATOR)
def review_queue(
    db: DbSession, user: CurrentUser, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[QueueItemOut]:
    """Operator: versions waiting for review, expedited lane first, then oldest first."""
    return [QueueItemOut.of(item) for item in review.review_queue(db, actor=user, limit=limit)]


@router.get("/listed-miniapps", response_model=list[ListedOut], responses=OPERATOR)
def listed_miniapps(
    db: DbSession, user: CurrentUser,
    q: Annotated[str, Query(max_length=64)] = "",
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> list[ListedOut]:
    """Operator: listed mini-apps and their published versions, by name."""
    return [
        ListedOut(miniapp=MiniAppOut.of(m, v), published_version=VersionOut.of(v))
        for m, v in review.listed_miniapps(db, actor=user, query=q, limit=limit)
    ]


# --- runtimes and templates --------------------------------------------------------------------


@router.get("/runtimes", response_model=list[RuntimeOut])
def runtimes() -> list[RuntimeOut]:
    """The first-party page kinds a template can use, with their settings."""
    return [RuntimeOut.of(runtime) for runtime in RUNTIMES.values()]


@router.post("/templates", status_code=201, response_model=TemplateOut, responses=CHANGE)
def create_template(body: TemplateIn, db: DbSession, user: CurrentUser) -> TemplateOut:
    """Provider staff: a draft template for one runtime, with default settings."""
    template = templates_service.create_template(
        db, actor=user, provider_id=body.provider_id, runtime=body.runtime, name=body.name,
        description=body.description, category=body.category, defaults=body.defaults,
    )
    return TemplateOut.of(template)


@router.get("/templates", response_model=list[TemplateOut], responses=AUTH)
def published_templates(
    db: DbSession, user: CurrentUser,
    runtime: Annotated[str | None, Query(max_length=32)] = None,
) -> list[TemplateOut]:
    """Published templates merchants can make a mini-app from."""
    return [
        TemplateOut.of(t) for t in templates_service.list_published_templates(db, runtime=runtime)
    ]


@router.get("/providers/{provider_id}/templates", response_model=list[TemplateOut], responses=SEE)
def provider_templates(provider_id: Id, db: DbSession, user: CurrentUser) -> list[TemplateOut]:
    """A provider's templates, drafts included (its staff and operators)."""
    templates = templates_service.list_provider_templates(db, actor=user, provider_id=provider_id)
    return [TemplateOut.of(t) for t in templates]


@router.get("/templates/{template_id}", response_model=TemplateOut, responses=SEE)
def get_template(template_id: Id, db: DbSession, user: CurrentUser) -> TemplateOut:
    return TemplateOut.of(templates_service.get_template(db, actor=user, public_id=template_id))


@router.post("/templates/{template_id}/publish", response_model=TemplateOut, responses=MOVE)
def publish_template(template_id: Id, db: DbSession, user: CurrentUser) -> TemplateOut:
    """Provider staff: offer the template to every merchant."""
    return TemplateOut.of(
        templates_service.publish_template(db, actor=user, template_id=template_id)
    )


@router.post(
    "/templates/{template_id}/miniapps", status_code=201, response_model=CreatedOut,
    responses=MOVE,
)
def create_from_template(
    template_id: Id, body: FromTemplateIn, db: DbSession, user: CurrentUser,
    settings: AppSettings,
) -> CreatedOut:
    """A mini-app from a published template in one call; `submit` sends it for review at once."""
    created = templates_service.create_from_template(
        db, actor=user, settings=settings, template_id=template_id,
        merchant_id=body.merchant_id, name=body.name, config=body.config, icon=body.icon,
        description=body.description, category=body.category, tags=body.tags,
        cities=body.cities, label=body.label, submit=body.submit,
        publish_on_approval=body.publish_on_approval,
    )
    return CreatedOut(
        miniapp=_detail(db, user, created.miniapp.public_id), client_secret=created.client_secret
    )


@router.put("/templates/{template_id}", response_model=TemplateOut, responses=MOVE)
def edit_template(template_id: Id, body: TemplateEditIn, db: DbSession, user: CurrentUser
                  ) -> TemplateOut:
    """Provider staff: change a template. A draft changes in place; a published one gets its
    next version (new mini-apps use it; existing ones keep theirs until their merchant
    upgrades, and are told). A withdrawn template cannot change (409)."""
    return TemplateOut.of(templates_service.edit_template(
        db, actor=user, template_id=template_id, name=body.name, description=body.description,
        category=body.category, defaults=body.defaults, note=body.note,
    ))


@router.post("/templates/{template_id}/withdraw", response_model=TemplateOut, responses=MOVE)
def withdraw_template(template_id: Id, body: WithdrawIn, db: DbSession, user: CurrentUser
                      ) -> TemplateOut:
    """Provider staff: take the template out of the gallery for good; mini-apps made from it
    keep working (their merchants are told)."""
    return TemplateOut.of(templates_service.withdraw_template(
        db, actor=user, template_id=template_id, reason=body.reason))


@router.get("/templates/{template_id}/versions", response_model=list[TemplateVersionOut],
            responses=SEE)
def template_versions(template_id: Id, db: DbSession, user: CurrentUser
                      ) -> list[TemplateVersionOut]:
    """The template's published versions, newest first."""
    return [TemplateVersionOut.of(v) for v in templates_service.template_versions(
        db, actor=user, template_id=template_id)]


@router.post("/miniapps/{miniapp_id}/template-upgrade", status_code=201, response_model=VersionOut,
             responses=MOVE)
def upgrade_to_template(miniapp_id: Id, body: UpgradeIn, db: DbSession, user: CurrentUser
                        ) -> VersionOut:
    """Owner: a new draft on the template's newest version (your own settings kept, settings
    left at the old defaults take the new ones); review and publish it like any version."""
    return VersionOut.of(templates_service.upgrade_miniapp(
        db, actor=user, miniapp_id=miniapp_id, label=body.label, changelog=body.changelog))
