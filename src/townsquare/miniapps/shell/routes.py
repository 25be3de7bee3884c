"""Shell JSON API: the service hub and its curation, launch contexts and their public keys,
profile consents and the one-time code exchange used by mini-app backends."""

from __future__ import annotations

from fastapi import APIRouter, Response

from townsquare.accounts.deps import CurrentUser
from townsquare.core import i18n
from townsquare.miniapps.shell import consent, hub, hub_view, launch
from townsquare.miniapps.shell import service as shell
from townsquare.miniapps.shell.schemas import (
    CodeOut,
    ConsentIn,
    ConsentOut,
    CuratedSectionOut,
    EntryIn,
    HubMiniAppOut,
    HubOut,
    HubSectionOut,
    LaunchOut,
    MoveIn,
    ProfileOut,
    SectionIn,
    TokenExchangeIn,
)
from townsquare.web.deps import AppSettings, DbSession
from townsquare.web.openapi import PublicId, Responses, error

router = APIRouter(prefix="/api", tags=["hub and shell"])

Id = PublicId


OPERATOR_ERRORS: Responses = {401: error("Not logged in"), 403: error("Not an operator")}
SECTION_ERRORS: Responses = {**OPERATOR_ERRORS, 404: error("No such section"),
                              422: error("Invalid input")}


def _curated(db, actor, section_id: str) -> CuratedSectionOut:
    for section, entries in hub.curation(db, actor=actor):
        if section.public_id == section_id:
            return CuratedSectionOut.of(section, entries)
    raise AssertionError("section vanished")  # pragma: no cover


@router.get("/hub", response_model=HubOut)
def get_hub(db: DbSession, settings: AppSettings) -> HubOut:
    """The service hub as residents see it: sections in order, listed mini-apps only."""
    locale = i18n.current_locale.get()
    return HubOut(sections=[
        HubSectionOut(
            id=section.public_id, title=section.title(locale), title_zh=section.title_zh,
            title_en=section.title_en, icon=section.icon,
            entries=[HubMiniAppOut.of_tile(tile, locale) for tile in section.tiles],
        )
        for section in hub_view.public_hub(
            db, refresh_seconds=settings.serving_refresh_ms / 1000)
    ])


@router.get("/hub/sections", response_model=list[CuratedSectionOut], responses=OPERATOR_ERRORS)
def list_sections(db: DbSession, user: CurrentUser) -> list[CuratedSectionOut]:
    """Operator: every section and entry, including mini-apps no longer listed."""
    return [CuratedSectionOut.of(s, entries) for s, entries in hub.curation(db, actor=user)]


@router.post(
    "/hub/sections", status_code=201, response_model=CuratedSectionOut,
    responses={**OPERATOR_ERRORS, 422: error("Invalid titles")},
)
def create_section(body: SectionIn, db: DbSession, user: CurrentUser) -> CuratedSectionOut:
    """Operator: add a section at the end of the hub."""
    section = hub.create_section(
        db, actor=user, title_zh=body.title_zh, title_en=body.title_en, icon=body.icon
    )
    return CuratedSectionOut.of(section, [])


@router.put(
    "/hub/sections/{section_id}", response_model=CuratedSectionOut, responses=SECTION_ERRORS
)
def rename_section(
    section_id: Id, body: SectionIn, db: DbSession, user: CurrentUser
) -> CuratedSectionOut:
    """Operator: change a section's titles and icon."""
    hub.rename_section(
        db, actor=user, section_id=section_id, title_zh=body.title_zh, title_en=body.title_en,
        icon=body.icon,
    )
    return _curated(db, user, section_id)


@router.delete("/hub/sections/{section_id}", status_code=204, responses=SECTION_ERRORS)
def delete_section(section_id: Id, db: DbSession, user: CurrentUser) -> None:
    """Operator: remove a section and its entries."""
    hub.delete_section(db, actor=user, section_id=section_id)


@router.post(
    "/hub/sections/{section_id}/move", response_model=CuratedSectionOut, responses=SECTION_ERRORS
)
def move_section(
    section_id: Id, body: MoveIn, db: DbSession, user: CurrentUser
) -> CuratedSectionOut:
    """Operator: move a section one place up or down."""
    hub.move_section(db, actor=user, section_id=section_id, direction=body.direction)
    return _curated(db, user, section_id)


@router.post(
    "/hub/sections/{section_id}/entries", status_code=201, response_model=CuratedSectionOut,
    responses={**SECTION_ERRORS, 409: error("Already in this section")},
)
def add_entry(section_id: Id, body: EntryIn, db: DbSession, user: CurrentUser) -> CuratedSectionOut:
    """Operator: add a listed mini-app at the end of a section."""
    hub.add_entry(db, actor=user, section_id=section_id, miniapp_id=body.miniapp_id)
    return _curated(db, user, section_id)


@router.delete(
    "/hub/sections/{section_id}/entries/{miniapp_id}", status_code=204, responses=SECTION_ERRORS
)
def remove_entry(section_id: Id, miniapp_id: Id, db: DbSession, user: CurrentUser) -> None:
    """Operator: take a mini-app out of a section."""
    hub.remove_entry(db, actor=user, section_id=section_id, miniapp_id=miniapp_id)


@router.post(
    "/hub/sections/{section_id}/entries/{miniapp_id}/move", response_model=CuratedSectionOut,
    responses=SECTION_ERRORS,
)
def move_entry(
    section_id: Id, miniapp_id: Id, body: MoveIn, db: DbSession, user: CurrentUser
) -> CuratedSectionOut:
    """Operator: move a mini-app one place up or down in its section."""
    hub.move_entry(
        db, actor=user, section_id=section_id, miniapp_id=miniapp_id, direction=body.direction
    )
    return _curated(db, user, section_id)


@router.get("/launch/keys", response_model=dict[str, str])
def launch_keys(settings: AppSettings, response: Response) -> dict[str, str]:
    """Public Ed25519 keys that verify launch contexts: {kid: raw key, base64url}."""
    response.headers["Cache-Control"] = "public, max-age=300"
    return launch.published_keys(settings.effective_secret_key)


@router.post(
    "/launch/{miniapp_id}", response_model=LaunchOut,
    responses={401: error("Not logged in"), 404: error("No such listed mini-app")},
)
def launch_miniapp(
    miniapp_id: Id, db: DbSession, user: CurrentUser, settings: AppSettings
) -> LaunchOut:
    """A fresh launch context for opening a listed mini-app (what the web container frames)."""
    opened = shell.open_miniapp(
        db, settings=settings, actor=user, miniapp_id=miniapp_id,
        locale=i18n.current_locale.get(),
    )
    return LaunchOut(
        token=opened.token, url=opened.src, sub=opened.sub,
        expires_in=settings.launch_context_ttl_seconds,
    )


@router.get(
    "/me/consents", response_model=list[ConsentOut], responses={401: error("Not logged in")}
)
def my_consents(db: DbSession, user: CurrentUser) -> list[ConsentOut]:
    """The profile fields you share, per mini-app."""
    return [
        ConsentOut(
            miniapp_id=miniapp.public_id, name=miniapp.name, scopes=list(row.scopes),
            granted_at=row.granted_at,
        )
        for row, miniapp in consent.consents_of(db, actor=user)
    ]


@router.post(
    "/me/consents/{miniapp_id}", status_code=201, response_model=CodeOut,
    responses={
        401: error("Not logged in"), 404: error("No such listed mini-app"),
        422: error("Unknown field, or identity not verified"),
    },
)
def grant_consent(
    miniapp_id: Id, body: ConsentIn, db: DbSession, user: CurrentUser, settings: AppSettings
) -> CodeOut:
    """Share profile fields with a mini-app; returns the one-time code to pass it."""
    issued = consent.grant(
        db, settings=settings, actor=user, miniapp_id=miniapp_id, scopes=list(body.scopes)
    )
    return CodeOut(code=issued.code, scopes=list(issued.scopes), expires_at=issued.expires_at)


@router.post(
    "/me/consents/{miniapp_id}/revoke", status_code=204,
    responses={401: error("Not logged in"), 404: error("No consent for this mini-app")},
)
def revoke_consent(miniapp_id: Id, db: DbSession, user: CurrentUser) -> None:
    """Stop sharing with a mini-app; its unexchanged codes stop working."""
    consent.revoke(db, actor=user, miniapp_id=miniapp_id)


@router.post(
    "/oauth/token", response_model=ProfileOut, response_model_exclude_none=True,
    responses={
        400: error("invalid_grant: unknown, used, expired or another app's code"),
        401: error("invalid_client: unknown client id or wrong client secret"),
    },
)
def exchange_code(
    body: TokenExchangeIn, db: DbSession, settings: AppSettings, response: Response
) -> ProfileOut:
    """Mini-app backends: trade a one-time code for the user's `sub` and consented fields."""
    response.headers["Cache-Control"] = "no-store"
    profile = consent.exchange(
        db, settings=settings, client_id=body.client_id, client_secret=body.client_secret,
        code=body.code,
    )
    return ProfileOut(**profile)
