"""Accounts: creating users, granting roles, logging in and out, real-name verification."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from townsquare.accounts import identity as idcheck
from townsquare.accounts import logins
from townsquare.accounts.models import AuthSession, Identity, Role, RoleGrant, User
from townsquare.accounts.permissions import require_role
from townsquare.core import audit
from townsquare.core.clock import clock
from townsquare.core.database import rows_changed
from townsquare.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from townsquare.core.i18n import N_
from townsquare.core.security import (
    hash_password,
    keyed_digest,
    new_token,
    token_digest,
    verify_password,
)
from townsquare.core.settings import Settings

USERNAME = re.compile(r"^[a-zA-Z0-9_.-]{3,32}$")
MIN_PASSWORD = 8


def create_user(
    db: Session,
    *,
    actor: User | None,
    username: str,
    password: str,
    display_name: str,
    roles: tuple[Role, ...] = (Role.RESIDENT,),
    locale: str = "zh_CN",
) -> User:
    """A new account: anyone may sign up as a resident; other roles need an operator or the CLI."""
    if set(roles) - {Role.RESIDENT}:
        require_role(actor, Role.OPERATOR)
    username = username.strip()
    if not USERNAME.fullmatch(username):
        raise ValidationFailed(
            "A username is 3 to 32 letters, digits, dots, dashes or underscores.", field="username"
        )
    if len(password) < MIN_PASSWORD:
        raise ValidationFailed("A password needs at least {n} characters.", n=MIN_PASSWORD)
    display_name = display_name.strip()
    if not 1 <= len(display_name) <= 64 or not display_name.isprintable():
        raise ValidationFailed("A display name is 1 to 64 characters.")
    if db.scalar(select(User.id).where(User.username == username)):
        raise Conflict("The username {username} is taken.", username=username)
    user = User(
        username=username,
        display_name=display_name,
        password_hash=hash_password(password),
        locale=locale if locale in ("zh_CN", "en") else "zh_CN",
        roles=[RoleGrant(role=role) for role in dict.fromkeys(roles)],
    )
    db.add(user)
    db.flush()
    return user


def grant_role(db: Session, *, actor: User | None, user: User, role: Role) -> None:
    require_role(actor, Role.OPERATOR)
    if not user.has_role(role):
        user.roles.append(RoleGrant(role=role))
        audit.record(
            db,
            actor_id=actor.id if actor else None,
            action="role.grant",
            subject_type="user",
            subject_id=user.public_id,
            role=role.value,
        )
        db.flush()


def user_by_username(db: Session, *, username: str) -> User | None:
    return db.scalar(select(User).where(User.username == username))


@dataclass
class LoginOutcome:
    """Login never raises: a failure must still commit its failure count (see routes)."""

    session: AuthSession | None = None
    token: str = ""
    error: str = ""
    retry_after_seconds: int = 0


def login(
    db: Session, *, settings: Settings, username: str, password: str, kind: str
) -> LoginOutcome:
    """Check a password, counting failures; too many in a row lock the account for a while.

    Every attempt spends the same work — one password hash check, against the user's hash or a
    dummy one — whether the name exists, is malformed, locked or inactive, so the time taken
    does not tell which usernames exist."""
    now = clock.now()
    username = username.strip()
    # Malformed names cannot exist; not querying them also keeps NUL bytes away from PostgreSQL.
    user = user_by_username(db, username=username) if USERNAME.fullmatch(username) else None
    matches = verify_password(user.password_hash if user is not None else None, password)
    if user is not None and user.locked_until and user.locked_until > now:
        wait = int((user.locked_until - now).total_seconds()) + 1
        return LoginOutcome(
            error=N_("Too many failed attempts. Try again in {minutes} minutes."),
            retry_after_seconds=wait,
        )
    if user is None or not user.is_active or not matches:
        if user is not None:
            user.failed_logins += 1
            if user.failed_logins >= settings.login_max_failures:
                user.locked_until = now + timedelta(minutes=settings.login_lock_minutes)
                user.failed_logins = 0
        return LoginOutcome(error=N_("Wrong username or password."))
    user.failed_logins = 0
    user.locked_until = None
    return start_session(db, settings=settings, user=user, kind=kind)


def start_session(db: Session, *, settings: Settings, user: User, kind: str) -> LoginOutcome:
    """A new login session for a user whose identity was just proven (password, or sign-up)."""
    token = new_token()
    session = AuthSession(
        token_digest=token_digest(token),
        user=user,
        kind=kind,
        csrf_token=new_token(24),
        expires_at=clock.now() + timedelta(hours=settings.session_hours),
    )
    db.add(session)
    db.flush()
    return LoginOutcome(session=session, token=token)


def session_for_token(db: Session, *, token: str, kind: str) -> AuthSession | None:
    """The live login of this kind behind a token, with its user and roles (accounts/logins.py:
    read as rows every time, built from a checked per-process copy)."""
    found = logins.find(db, token_digest(token))
    if (
        found is None
        or found.kind != kind
        or found.revoked_at is not None
        or found.expires_at <= clock.now()
        or not found.user.is_active
    ):
        return None
    return found


def logout(db: Session, *, session: AuthSession) -> None:
    session.revoked_at = clock.now()
    db.flush()


def verify_identity(
    db: Session,
    *,
    settings: Settings,
    actor: User,
    real_name: str,
    id_number: str,
    phone: str,
) -> Identity:
    """Real-name verification: formats checked, the ID kept only as digest and mask, one owner."""
    real_name = real_name.strip()
    id_number = idcheck.normalise_id_number(id_number)
    phone = phone.strip()
    if not 2 <= len(real_name) <= 32 or not real_name.isprintable():
        raise ValidationFailed("Enter your real name as on your ID card.", field="real_name")
    if not idcheck.is_valid_id_number(id_number, today=clock.now().date()):
        raise ValidationFailed("That is not a valid resident ID number.", field="id_number")
    if not idcheck.is_valid_phone(phone):
        raise ValidationFailed("That is not a valid mobile number.", field="phone")
    digest = keyed_digest(settings.effective_secret_key, "id_number", id_number)
    if actor.identity is not None:
        if actor.identity.id_digest != digest:
            raise Conflict("Your account is already verified with another ID number.")
        actor.identity.real_name = real_name
        actor.identity.phone = phone
        return actor.identity
    if db.scalar(select(Identity.id).where(Identity.id_digest == digest)):
        raise Conflict("This ID number is already verified by another account.")
    identity = Identity(
        user_id=actor.id,
        real_name=real_name,
        id_digest=digest,
        id_masked=idcheck.mask_id_number(id_number),
        phone=phone,
        verified_at=clock.now(),
    )
    db.add(identity)
    audit.record(
        db,
        actor_id=actor.id,
        action="identity.verify",
        subject_type="user",
        subject_id=actor.public_id,
    )
    db.flush()
    db.refresh(actor)
    return identity


def _end_sessions(db: Session, *, user: User, keep: AuthSession | None = None) -> int:
    """Revoke every live session of `user` (except `keep`): answers how many."""
    now = clock.now()
    stmt = update(AuthSession).where(AuthSession.user_id == user.id,
                                     AuthSession.revoked_at.is_(None))
    if keep is not None:
        stmt = stmt.where(AuthSession.id != keep.id)
    result = db.execute(stmt.values(revoked_at=now).execution_options(synchronize_session=False))
    return rows_changed(result)


def change_password(
    db: Session, *, actor: User, session: AuthSession | None, old_password: str,
    new_password: str,
) -> None:
    """The user changes their password, proving the current one; every other session of theirs
    ends (a thief's included), this one stays."""
    if not verify_password(actor.password_hash, old_password):
        raise ValidationFailed("The current password is wrong.", field="old_password")
    if not isinstance(new_password, str) or len(new_password) < MIN_PASSWORD:
        raise ValidationFailed("A password needs at least {n} characters.", n=MIN_PASSWORD,
                               field="new_password")
    actor.password_hash = hash_password(new_password)
    ended = _end_sessions(db, user=actor, keep=session)
    audit.record(db, actor_id=actor.id, action="account.password_change", subject_type="user",
                 subject_id=actor.public_id, sessions_ended=ended)
    db.flush()


def reset_password(db: Session, *, actor: User | None, username: str) -> str:
    """An operator resets a user's password (the user lost it and proved who they are to the
    operator): answers a temporary password to hand over, and every session of the user ends.
    The operator cannot reset their own (they change it, with the old one)."""
    require_role(actor, Role.OPERATOR)
    user = user_by_username(db, username=username) if isinstance(username, str) and \
        USERNAME.fullmatch(username.strip()) else None
    if user is None:
        raise NotFound("No such user.")
    if actor is not None and actor.id == user.id:
        raise PermissionDenied("Change your own password with your current one.")
    temporary = new_token(9)
    user.password_hash = hash_password(temporary)
    user.failed_logins, user.locked_until = 0, None
    ended = _end_sessions(db, user=user)
    audit.record(db, actor_id=actor.id if actor else None, action="account.password_reset",
                 subject_type="user", subject_id=user.public_id, sessions_ended=ended)
    db.flush()
    return temporary
