"""Shell pages: the mini-app container, the consent page, first-party runtime pages (/run, framed
by the container), the resident's consents and the operator's hub console. The home page and
search are traffic's (`traffic.serving.pages`)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from townsquare.accounts.deps import CurrentUser, FormUser, OptionalUser
from townsquare.accounts.identity import mask_phone
from townsquare.accounts.models import User
from townsquare.core import i18n
from townsquare.core.errors import TownsquareError
from townsquare.core.signing import TokenInvalid
from townsquare.miniapps.models import MiniApp
from townsquare.miniapps.page_forms import problems as page_problems
from townsquare.miniapps.runtimes import entries_of, search_rows
from townsquare.miniapps.shell import consent, hub, launch, submissions
from townsquare.miniapps.shell import service as shell
from townsquare.web.deps import AppSettings, DbSession, WritingDbSession
from townsquare.web.forms import rejected, see_other
from townsquare.web.templating import render

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form()]
_CODE_SHAPE = re.compile(r"^[A-Za-z0-9_-]{20,128}$")
HUB_CONSOLE = "/console/operator/hub"


# -- residents: the container --------------------------------------------------------------------
@router.get("/apps/{miniapp_id}", response_class=HTMLResponse)
def container(
    request: Request, miniapp_id: str, db: WritingDbSession, user: CurrentUser,
    settings: AppSettings, ts_code: str = "",
) -> HTMLResponse:
    code = ts_code if _CODE_SHAPE.match(ts_code) else None
    opened = shell.open_miniapp(
        db, settings=settings, actor=user, miniapp_id=miniapp_id,
        locale=i18n.current_locale.get(), code=code,
    )
    return render(
        request, "miniapps/shell_container.html", opened=opened, miniapp=opened.miniapp,
        shared=consent.consent_for(db, actor=user, miniapp=opened.miniapp),
    )


# -- consent -----------------------------------------------------------------------------------
def _consent_context(db: Session, user: User, miniapp_id: str, scopes: str) -> dict:
    miniapp = shell.listed_miniapp(db, miniapp_id=miniapp_id)
    wanted = consent.parse_scopes(scopes)
    identity = user.identity
    preview = {}
    if identity is not None:
        preview = {"phone": mask_phone(identity.phone), "real_name": identity.real_name}
    return {
        "miniapp": miniapp, "scopes": wanted, "scopes_text": ",".join(wanted),
        "preview": preview, "existing": consent.consent_for(db, actor=user, miniapp=miniapp),
    }


@router.get("/apps/{miniapp_id}/consent", response_class=HTMLResponse)
def consent_form(
    request: Request, miniapp_id: str, db: DbSession, user: CurrentUser, scopes: str = ""
) -> HTMLResponse:
    context = _consent_context(db, user, miniapp_id, scopes[:64])
    return render(request, "miniapps/shell_consent.html", **context)


@router.post("/apps/{miniapp_id}/consent")
def consent_allow(
    request: Request, miniapp_id: str, db: DbSession, user: FormUser, settings: AppSettings,
    scopes: Text = "",
) -> Response:
    try:
        issued = consent.grant(
            db, settings=settings, actor=user, miniapp_id=miniapp_id, scopes=scopes[:64]
        )
    except TownsquareError as exc:
        db.rollback()
        context = _consent_context(db, user, miniapp_id, scopes[:64])
        return rejected(request, db, "miniapps/shell_consent.html", exc, **context)
    return see_other(shell.with_params(f"/apps/{miniapp_id}", ts_code=issued.code))


@router.get("/me/consents", response_class=HTMLResponse)
def my_consents(
    request: Request, db: DbSession, user: CurrentUser, revoked: str = ""
) -> HTMLResponse:
    flashes = [("ok", i18n.gettext("Consent withdrawn."))] if revoked else []
    return render(
        request, "miniapps/shell_consents.html", consents=consent.consents_of(db, actor=user),
        flashes=flashes,
    )


@router.post("/me/consents/{miniapp_id}/revoke")
def revoke_consent(request: Request, miniapp_id: str, db: DbSession, user: FormUser) -> Response:
    try:
        consent.revoke(db, actor=user, miniapp_id=miniapp_id)
    except TownsquareError as exc:
        db.rollback()
        return rejected(
            request, db, "miniapps/shell_consents.html", exc,
            consents=consent.consents_of(db, actor=user),
        )
    return see_other("/me/consents?revoked=1")


# -- first-party runtime pages (framed by the container) ----------------------------------------
def _runtime_page(
    request: Request, db: Session, *, miniapp: MiniApp, context: launch.LaunchContext,
    token: str, q: str = "", done: str = "", values: dict[str, str] | None = None,
    field_errors: dict[str, str] | None = None, error: str = "", status_code: int = 200,
) -> HTMLResponse:
    runtime, config = shell.runtime_config(db, miniapp=miniapp)
    form = submissions.form_of(runtime, config)
    page: dict[str, Any] = {"form": form, "q": q, "token": token}
    if runtime.key == "directory":
        columns, rows = entries_of(config)
        page.update(columns=columns, rows=search_rows(rows, q), total=len(rows))
    if runtime.key == "donation":
        page["progress"] = submissions.donation_progress(db, miniapp=miniapp, config=config)
    if form is not None:
        page["mine"] = submissions.mine(db, miniapp=miniapp, sub=context.sub)
        page["done"] = submissions.find_mine(db, miniapp=miniapp, sub=context.sub,
                                             public_id=done) if done else None
    # the page speaks the language the shell launched it in
    locale = i18n.current_locale.set(i18n.normalise_locale(context.locale) or i18n.DEFAULT_LOCALE)
    try:
        return render(
            request, f"miniapps/runtime_{runtime.key}.html", miniapp=miniapp, config=config,
            launch=context, values=values or {}, field_errors=field_errors or {}, error=error,
            status_code=status_code, **page,
        )
    finally:
        i18n.current_locale.reset(locale)


@router.get("/run/{miniapp_id}", response_class=HTMLResponse)
def run(
    request: Request, miniapp_id: str, db: DbSession, settings: AppSettings,
    user: OptionalUser, ts_launch: str = "", q: str = "", done: str = "",
) -> HTMLResponse:
    """A first-party mini-app's page; `q` searches a directory, `done` confirms a submission.
    Reading only: the form posts to /run/{id}/form. (`user` only loads the CSRF token.)"""
    try:
        context = shell.verify_launch(settings=settings, token=ts_launch, miniapp_id=miniapp_id)
    except TokenInvalid:
        return render(request, "miniapps/shell_launch_invalid.html", status_code=401)
    miniapp = shell.listed_miniapp(db, miniapp_id=miniapp_id)
    return _runtime_page(request, db, miniapp=miniapp, context=context, token=ts_launch,
                         q=q.strip()[:40], done=done[:40])


async def _answers(request: Request) -> dict[str, str]:
    """The posted form's text fields, less the CSRF token (read once; Starlette caches it)."""
    return {k: v for k, v in (await request.form()).items()
            if isinstance(v, str) and k != "csrf_token"}


@router.post("/run/{miniapp_id}/form")
def run_form(
    request: Request, miniapp_id: str, db: DbSession, settings: AppSettings, user: FormUser,
    raw: Annotated[dict[str, str], Depends(_answers)],
) -> Response:
    """A resident sends the page's form (their login and its CSRF token, like every form); a
    fresh launch context takes them back to the page, with the confirmation or the problems."""
    locale = i18n.current_locale.get()
    try:
        submission = submissions.submit(db, settings=settings, actor=user, miniapp_id=miniapp_id,
                                        raw=raw)
    except TownsquareError as exc:
        db.rollback()
        miniapp = shell.listed_miniapp(db, miniapp_id=miniapp_id)
        token = shell.launch_token(settings=settings, user=user, miniapp=miniapp, locale=locale)
        context = shell.verify_launch(settings=settings, token=token, miniapp_id=miniapp_id)
        return _runtime_page(
            request, db, miniapp=miniapp, context=context, token=token,
            values={k: v[:500] for k, v in raw.items()}, field_errors=page_problems(exc),
            error=exc.render(i18n.gettext), status_code=exc.status,
        )
    miniapp = shell.listed_miniapp(db, miniapp_id=miniapp_id)
    token = shell.launch_token(settings=settings, user=user, miniapp=miniapp, locale=locale)
    return see_other(shell.with_params(f"/run/{miniapp_id}", ts_launch=token,
                                       done=submission.public_id) + "#done")


# -- merchants: what residents sent through their pages' forms ----------------------------------
@router.get("/console/miniapps/{miniapp_id}/submissions", response_class=HTMLResponse)
def form_submissions(
    request: Request, miniapp_id: str, user: CurrentUser,
    db: WritingDbSession,  # reading residents' answers is audited
) -> HTMLResponse:
    received = submissions.received(db, actor=user, miniapp_id=miniapp_id)
    return render(request, "miniapps/console_submissions.html", received=received,
                  miniapp=received.miniapp)


# -- operator: hub console ---------------------------------------------------------------------
def _console(request: Request, db: Session, user: User, exc: TownsquareError | None = None,
             q: str = "", section: str = ""):
    if exc is not None:
        db.rollback()  # show the curation as stored, not as the failed attempt left it
    context: dict[str, Any] = {
        "curation": hub.curation(db, actor=user), "q": q, "picked_section": section,
        "found": hub.search_choices(db, actor=user, query=q) if q else [],
    }
    if exc is not None:
        return rejected(request, db, "miniapps/shell_hub_console.html", exc, **context)
    return render(request, "miniapps/shell_hub_console.html", **context)


@router.get(HUB_CONSOLE, response_class=HTMLResponse)
def hub_console(
    request: Request, db: DbSession, user: CurrentUser, q: str = "", section: str = ""
) -> HTMLResponse:
    """The curation; `q` (with the `section` it was typed in) searches listed mini-apps to add,
    so the picker works without script too."""
    return _console(request, db, user, q=q[:64], section=section[:40])


@router.get(HUB_CONSOLE + "/picker", response_class=HTMLResponse)
def hub_picker(
    request: Request, db: DbSession, user: CurrentUser, q: str = "", section: str = ""
) -> HTMLResponse:
    """The picker's results alone, swapped in by htmx as the operator types."""
    found = hub.search_choices(db, actor=user, query=q[:64])
    return render(request, "miniapps/shell_hub_picker.html", found=found, q=q[:64],
                  section_id=section[:40])


def _apply(request: Request, db: Session, user: User, action, **kwargs) -> Response:
    try:
        action(db, actor=user, **kwargs)
    except TownsquareError as exc:
        return _console(request, db, user, exc)
    return see_other(HUB_CONSOLE)


@router.post(HUB_CONSOLE + "/sections")
def hub_create_section(
    request: Request, db: DbSession, user: FormUser, title_zh: Text = "", title_en: Text = "",
    icon: Text = "",
) -> Response:
    return _apply(
        request, db, user, hub.create_section, title_zh=title_zh, title_en=title_en, icon=icon
    )


@router.post(HUB_CONSOLE + "/sections/{section_id}/rename")
def hub_rename_section(
    request: Request, section_id: str, db: DbSession, user: FormUser, title_zh: Text = "",
    title_en: Text = "", icon: Text = "",
) -> Response:
    return _apply(
        request, db, user, hub.rename_section, section_id=section_id, title_zh=title_zh,
        title_en=title_en, icon=icon,
    )


@router.post(HUB_CONSOLE + "/sections/{section_id}/delete")
def hub_delete_section(
    request: Request, section_id: str, db: DbSession, user: FormUser
) -> Response:
    return _apply(request, db, user, hub.delete_section, section_id=section_id)


@router.post(HUB_CONSOLE + "/sections/{section_id}/move")
def hub_move_section(
    request: Request, section_id: str, db: DbSession, user: FormUser, direction: Text = ""
) -> Response:
    return _apply(request, db, user, hub.move_section, section_id=section_id, direction=direction)


@router.post(HUB_CONSOLE + "/sections/{section_id}/entries")
def hub_add_entry(
    request: Request, section_id: str, db: DbSession, user: FormUser, miniapp_id: Text = ""
) -> Response:
    return _apply(
        request, db, user, hub.add_entry, section_id=section_id, miniapp_id=miniapp_id[:40]
    )


@router.post(HUB_CONSOLE + "/sections/{section_id}/entries/{miniapp_id}/remove")
def hub_remove_entry(
    request: Request, section_id: str, miniapp_id: str, db: DbSession, user: FormUser
) -> Response:
    return _apply(
        request, db, user, hub.remove_entry, section_id=section_id, miniapp_id=miniapp_id
    )


@router.post(HUB_CONSOLE + "/sections/{section_id}/entries/{miniapp_id}/move")
def hub_move_entry(
    request: Request, section_id: str, miniapp_id: str, db: DbSession, user: FormUser,
    direction: Text = "",
) -> Response:
    return _apply(
        request, db, user, hub.move_entry, section_id=section_id, miniapp_id=miniapp_id,
        direction=direction,
    )
