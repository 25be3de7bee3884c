"""Joining a merchant or a service provider: the user named by username, and the role that
joining implies."""

from __future__ import annotations

from sqlalchemy.orm import Session

from townsquare.accounts.models import Role, RoleGrant, User
from townsquare.accounts.service import USERNAME, user_by_username
from townsquare.core import audit
from townsquare.core.errors import NotFound


def user_named(db: Session, username: str) -> User:
    """The active user with this username, or NotFound."""
    username = (username or "").strip()
    user = user_by_username(db, username=username) if USERNAME.fullmatch(username) else None
    if user is None or not user.is_active:
        raise NotFound("No user with the username {username}.", username=username[:64])
    return user


def ensure_role(db: Session, *, actor: User | None, user: User, role: Role) -> None:
    """Give `user` the role that joining a merchant or provider implies (audited)."""
    if user.has_role(role):
        return
    user.roles.append(RoleGrant(role=role))
    audit.record(
        db,
        actor_id=actor.id if actor else None,
        action="role.grant",
        subject_type="user",
        subject_id=user.public_id,
        role=role.value,
    )
