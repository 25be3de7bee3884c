"""The web shell's services: opening a listed mini-app with a launch context, the first-party
runtime's configuration.

Only listed mini-apps open; anything else answers NotFound, the same as a mini-app that never
existed, so the shell reveals nothing about drafts or taken-down apps.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.core.clock import clock
from townsquare.core.errors import NotFound
from townsquare.core.settings import Settings
from townsquare.core.text import well_formed
from townsquare.miniapps.models import (
    IssuedSub,
    MiniApp,
    MiniAppKind,
    MiniAppVersion,
    VersionState,
)
from townsquare.miniapps.registry_checks import pinned_fields
from townsquare.miniapps.runtimes import RUNTIMES, Runtime
from townsquare.miniapps.shell import launch

LAUNCH_PARAM = "ts_launch"
CODE_PARAM = "ts_code"


@dataclass(frozen=True)
class Opened:
    """What the container page needs: the mini-app, its published version and the iframe URL."""

    miniapp: MiniApp
    version: MiniAppVersion
    src: str
    token: str
    sub: str



def listed_miniapp(db: Session, *, miniapp_id: str) -> MiniApp:
    miniapp = None
    if well_formed(miniapp_id, "ma"):
        miniapp = db.scalar(select(MiniApp).where(MiniApp.public_id == miniapp_id))
    if miniapp is None or not miniapp.listed:
        raise NotFound("This mini-app is not available.")
    return miniapp


def published_version(db: Session, *, miniapp: MiniApp) -> MiniAppVersion:
    stmt = (
        select(MiniAppVersion)
        .where(
            MiniAppVersion.miniapp_id == miniapp.id,
            MiniAppVersion.state == VersionState.PUBLISHED,
        )
        .order_by(MiniAppVersion.number.desc())
    )
    version = db.scalars(stmt).first()
    if version is None:
        raise NotFound("This mini-app is not available.")
    return version


def with_params(url: str, **params: str) -> str:
    """`url` with these query parameters set (replacing any of the same name), fragment kept."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query += list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def _is_web_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def launch_token(*, settings: Settings, user: User, miniapp: MiniApp, locale: str) -> str:
    """A fresh signed launch context for `user` opening `miniapp`."""
    secret = settings.effective_secret_key
    return launch.issue(
        secret,
        app=miniapp.public_id,
        sub=launch.pseudonymous_id(secret, user.public_id, miniapp.public_id),
        locale=locale,
        now=clock.now().timestamp(),
    )


def open_miniapp(
    db: Session,
    *,
    settings: Settings,
    actor: User,
    miniapp_id: str,
    locale: str,
    code: str | None = None,
) -> Opened:
    """The listed mini-app and the URL its container frames, carrying a launch context."""
    miniapp = listed_miniapp(db, miniapp_id=miniapp_id)
    version = published_version(db, miniapp=miniapp)
    if miniapp.kind == MiniAppKind.EXTERNAL:
        base = version.external_url
        if not _is_web_url(base):
            raise NotFound("This mini-app is not available.")
    else:
        base = f"/run/{miniapp.public_id}"
    token = launch_token(settings=settings, user=actor, miniapp=miniapp, locale=locale)
    params = {LAUNCH_PARAM: token}
    if code:
        params[CODE_PARAM] = code
    sub = launch.pseudonymous_id(settings.effective_secret_key, actor.public_id, miniapp.public_id)
    record_issued(db, miniapp=miniapp, user=actor, sub=sub)
    return Opened(
        miniapp=miniapp, version=version, src=with_params(base, **params), token=token, sub=sub
    )


def record_issued(db: Session, *, miniapp: MiniApp, user: User, sub: str) -> None:
    """Remember that `sub` was handed to `miniapp` (first launch wins; a race is harmless)."""
    dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
    db.execute(
        dialect.insert(IssuedSub)
        .values(miniapp_id=miniapp.id, sub=sub, user_id=user.id, first_at=clock.now())
        .on_conflict_do_nothing(index_elements=["miniapp_id", "sub"])
    )


def issued_since(db: Session, *, miniapp: MiniApp, subs: Iterable[str]) -> dict[str, datetime]:
    """Of `subs`, those issued to `miniapp`, with their first launch."""
    wanted = list(dict.fromkeys(subs))
    if not wanted:
        return {}
    stmt = select(IssuedSub.sub, IssuedSub.first_at).where(
        IssuedSub.miniapp_id == miniapp.id, IssuedSub.sub.in_(wanted))
    return {sub: first_at for sub, first_at in db.execute(stmt)}


def verify_launch(*, settings: Settings, token: str, miniapp_id: str) -> launch.LaunchContext:
    """Check a launch token exactly as an outside backend would: published keys only."""
    keys = launch.keys_from_text(launch.published_keys(settings.effective_secret_key))
    return launch.verify(
        token, keys, app=miniapp_id, now=clock.now().timestamp(),
        max_age=settings.launch_context_ttl_seconds,
    )


def runtime_config(db: Session, *, miniapp: MiniApp) -> tuple[Runtime, dict[str, Any]]:
    """The runtime of a listed template mini-app and its published config over template defaults."""
    template = miniapp.template
    if miniapp.kind != MiniAppKind.TEMPLATE or template is None or template.runtime not in RUNTIMES:
        raise NotFound("This mini-app is not available.")
    runtime = RUNTIMES[template.runtime]
    version = published_version(db, miniapp=miniapp)
    names = {spec.name for spec in runtime.fields}
    config: dict[str, Any] = {}
    # the defaults of the template version this one was made from, never a later edit's:
    # what residents see changes only through a reviewed version
    for spec in pinned_fields(db, template=template, number=version.template_version):
        if isinstance(spec, dict) and spec.get("name") in names and "default" in spec:
            config[spec["name"]] = spec["default"]
    config.update({k: v for k, v in (version.config or {}).items() if k in names})
    return runtime, config
