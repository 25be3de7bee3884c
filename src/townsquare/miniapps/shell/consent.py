"""Profile consent: a resident shares chosen fields with one mini-app, which learns them only by
exchanging a one-time code with its client secret (an OAuth-style authorization code).

The code travels through the browser, so it is short-lived, single-use, bound to user, mini-app
and scopes, and stored only as a digest. The exchange answers only what is consented now: a
revoked consent makes outstanding codes worthless.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.core import audit
from townsquare.core.clock import clock
from townsquare.core.database import rows_changed
from townsquare.core.errors import (
    AuthenticationRequired,
    NotFound,
    TownsquareError,
    ValidationFailed,
)
from townsquare.core.security import new_token, token_digest
from townsquare.core.settings import Settings
from townsquare.core.text import well_formed
from townsquare.merchants.models import Authorization
from townsquare.miniapps.models import AuthCode, Consent, MiniApp
from townsquare.miniapps.shell import launch
from townsquare.miniapps.shell.service import listed_miniapp

SCOPES = ("phone", "real_name")  # the order they are shown and returned in
MAX_CODE_LENGTH = 128
_DUMMY_DIGEST = token_digest("no-such-client")


class InvalidGrant(TownsquareError):
    """The code cannot be exchanged (unknown, used, expired, another app's, consent revoked)."""

    code = "invalid_grant"
    status = 400


class InvalidClient(AuthenticationRequired):
    """The mini-app backend did not prove who it is."""

    code = "invalid_client"


@dataclass(frozen=True)
class IssuedCode:
    code: str
    scopes: tuple[str, ...]
    expires_at: datetime


def parse_scopes(raw: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Known scopes, de-duplicated, in canonical order; at least one."""
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    asked = {item.strip() for item in items if item.strip()}
    unknown = asked - set(SCOPES)
    if unknown:
        raise ValidationFailed(
            "Unknown profile field: {scope}.", scope=sorted(unknown)[0][:32], field="scopes"
        )
    if not asked:
        raise ValidationFailed("Choose at least one profile field to share.", field="scopes")
    return tuple(scope for scope in SCOPES if scope in asked)


def _require_profile(actor: User, scopes: tuple[str, ...]) -> None:
    # phone and real name both come from the verified real-name identity
    if scopes and actor.identity is None:
        raise ValidationFailed(
            "Verify your real-name identity first: sharing your phone number or real name needs it."
        )


def consent_for(db: Session, *, actor: User, miniapp: MiniApp) -> Consent | None:
    stmt = select(Consent).where(Consent.user_id == actor.id, Consent.miniapp_id == miniapp.id)
    return db.scalar(stmt)


def _issue(db: Session, *, settings: Settings, actor: User, miniapp: MiniApp,
           scopes: tuple[str, ...]) -> IssuedCode:
    code = new_token(32)
    expires_at = clock.now() + timedelta(seconds=settings.auth_code_ttl_seconds)
    db.add(AuthCode(
        code_digest=token_digest(code), user_id=actor.id, miniapp_id=miniapp.id,
        scopes=list(scopes), expires_at=expires_at,
    ))
    db.flush()
    return IssuedCode(code=code, scopes=scopes, expires_at=expires_at)


def grant(
    db: Session,
    *,
    settings: Settings,
    actor: User,
    miniapp_id: str,
    scopes: str | list[str] | tuple[str, ...],
) -> IssuedCode:
    """Record the user's consent to share `scopes` with a listed mini-app; issue a one-time code."""
    miniapp = listed_miniapp(db, miniapp_id=miniapp_id)
    wanted = parse_scopes(scopes)
    _require_profile(actor, wanted)
    consent = consent_for(db, actor=actor, miniapp=miniapp)
    if consent is None:
        consent = Consent(
            user_id=actor.id, miniapp_id=miniapp.id, scopes=[], granted_at=clock.now()
        )
        db.add(consent)
    added = [scope for scope in wanted if scope not in consent.scopes]
    if added:
        consent.scopes = [scope for scope in SCOPES if scope in set(consent.scopes) | set(wanted)]
        consent.granted_at = clock.now()
        audit.record(
            db, actor_id=actor.id, action="consent.grant", subject_type="miniapp",
            subject_id=miniapp.public_id, scopes=added,
        )
    return _issue(db, settings=settings, actor=actor, miniapp=miniapp, scopes=wanted)


def consents_of(db: Session, *, actor: User) -> list[tuple[Consent, MiniApp]]:
    """The user's own consents, newest first."""
    stmt = (
        select(Consent, MiniApp)
        .join(MiniApp, MiniApp.id == Consent.miniapp_id)
        .where(Consent.user_id == actor.id)
        .order_by(Consent.granted_at.desc(), Consent.id.desc())
    )
    return [(consent, miniapp) for consent, miniapp in db.execute(stmt)]


def revoke(db: Session, *, actor: User, miniapp_id: str) -> None:
    """Withdraw a consent; codes not yet exchanged die with it."""
    stmt = (
        select(Consent)
        .join(MiniApp, MiniApp.id == Consent.miniapp_id)
        .where(Consent.user_id == actor.id, MiniApp.public_id == miniapp_id)
    )
    consent = db.scalar(stmt) if well_formed(miniapp_id, "ma") else None
    if consent is None:
        raise NotFound("You share nothing with this mini-app.")
    db.execute(delete(AuthCode).where(
        AuthCode.user_id == actor.id, AuthCode.miniapp_id == consent.miniapp_id,
        AuthCode.used_at.is_(None),
    ))
    audit.record(
        db, actor_id=actor.id, action="consent.revoke", subject_type="miniapp",
        subject_id=miniapp_id, scopes=list(consent.scopes),
    )
    db.delete(consent)
    db.flush()


def authenticate_client(db: Session, *, client_id: str, client_secret: str) -> MiniApp:
    """The mini-app whose client secret this is; the same answer for unknown id or wrong secret."""
    miniapp = None
    if well_formed(client_id, "ma"):
        miniapp = db.scalar(select(MiniApp).where(MiniApp.public_id == client_id))
    expected = miniapp.client_secret_digest if miniapp else _DUMMY_DIGEST
    matches = hmac.compare_digest(token_digest(client_secret), expected)
    if miniapp is None or not matches or _mandate_ended(db, miniapp):
        raise InvalidClient("Unknown client id or wrong client secret.")
    return miniapp


def _mandate_ended(db: Session, miniapp: MiniApp) -> bool:
    """A secret an ISV received stops working the moment the merchant revokes that ISV (the
    merchant rotates the secret to get a working one of its own)."""
    if miniapp.secret_authorization_id is None:
        return False
    mandate = db.get(Authorization, miniapp.secret_authorization_id)
    return mandate is None or mandate.revoked_at is not None


def exchange(
    db: Session, *, settings: Settings, client_id: str, client_secret: str, code: str
) -> dict[str, Any]:
    """Trade a one-time code for `sub` and the consented fields; the code is then spent."""
    miniapp = authenticate_client(db, client_id=client_id, client_secret=client_secret)
    redeemed = redeem(db, miniapp=miniapp, code=code)
    sub = launch.pseudonymous_id(settings.effective_secret_key, redeemed.user.public_id,
                                 miniapp.public_id)
    return {"sub": sub, "scopes": list(redeemed.fields), **redeemed.fields}


@dataclass(frozen=True)
class Redeemed:
    user: User
    scopes: tuple[str, ...]  # consented now and asked for by the code
    fields: dict[str, str]  # the values of those the user has


def redeem(db: Session, *, miniapp: MiniApp, code: str) -> Redeemed:
    """Spend a one-time code of this (already authenticated) mini-app: whose code it was and
    what the user shares now. Raises `InvalidGrant` for any code that cannot be spent."""
    found = None
    if code and len(code) <= MAX_CODE_LENGTH:
        found = db.scalar(select(AuthCode).where(AuthCode.code_digest == token_digest(code)))
    if found is None or found.miniapp_id != miniapp.id:
        raise InvalidGrant("Unknown code.")
    if found.used_at is not None:
        raise InvalidGrant("This code has already been used.")
    now = clock.now()
    if found.expires_at <= now:
        raise InvalidGrant("This code has expired.")
    user = db.get(User, found.user_id)
    consent = consent_for(db, actor=user, miniapp=miniapp) if user else None
    if user is None or consent is None:
        raise InvalidGrant("The user has withdrawn consent.")
    shared = tuple(s for s in SCOPES if s in found.scopes and s in consent.scopes)
    # Spend the code with a guarded update, so two concurrent exchanges cannot both succeed.
    spent = db.execute(
        update(AuthCode)
        .where(AuthCode.id == found.id, AuthCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if rows_changed(spent) != 1:
        raise InvalidGrant("This code has already been used.")
    fields = profile_fields(user, shared)
    audit.record(
        db, actor_id=None, action="profile.share", subject_type="user",
        subject_id=user.public_id, miniapp=miniapp.public_id, fields=list(fields),
    )
    db.flush()
    return Redeemed(user=user, scopes=shared, fields=fields)


def profile_fields(user: User, scopes: tuple[str, ...]) -> dict[str, str]:
    """The user's values for these scopes (a scope whose value the user never gave is left out)."""
    identity = user.identity
    values = {"phone": identity.phone, "real_name": identity.real_name} if identity else {}
    return {scope: values[scope] for scope in scopes if values.get(scope)}
