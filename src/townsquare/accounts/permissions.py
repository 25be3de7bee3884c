"""Role checks shared by every service (services check permission themselves)."""

from __future__ import annotations

from townsquare.accounts.models import Role, User
from townsquare.core.errors import PermissionDenied


def require_role(actor: User | None, *roles: Role) -> User:
    """`actor` if it holds one of `roles`; `None` (the system, e.g. the CLI) always passes."""
    if actor is None:
        return actor  # type: ignore[return-value]
    if not any(actor.has_role(role) for role in roles):
        raise PermissionDenied("You do not have permission to do this.")
    return actor


def is_operator(actor: User | None) -> bool:
    return actor is None or actor.has_role(Role.OPERATOR)
