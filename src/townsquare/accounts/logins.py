"""Finding the login behind a token on every signed-in request, cheaply and never stale.

Loading the login, its user and the user's roles as ORM objects was half of a signed-in home
page's own work (an eager-loading query, object identity, collections), and a per-process cache
of logins cannot simply be trusted: a logout, a revocation or a lost role in another worker
would not be seen. So each request still reads the rows, but as plain tuples in one Core
statement (the login, its user and the user's role grants), and compares them with the rows a
cached copy was made from. Equal rows: the copy (detached ORM objects) is merged into the
request's session without loading (`Session.merge(load=False)`), giving the same objects a
fresh load would give. Different rows (a revoked or expired login, a changed user or role):
a fresh copy is loaded. So a revocation is seen by the very next request, in any worker.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session, joinedload

from townsquare.accounts.models import AuthSession, RoleGrant, User

_sessions = AuthSession.__table__
_users = User.__table__
_grants = RoleGrant.__table__

# Every column a copy is made of: if any differs, the copy is not used.
_ROWS = (
    select(*_sessions.c, *_users.c, *_grants.c)
    .select_from(_sessions.join(_users, _users.c.id == _sessions.c.user_id)
                 .outerjoin(_grants, _grants.c.user_id == _users.c.id))
    .order_by(_grants.c.id)
)

# The login, its user and the user's roles in one statement (the relationships' own loading
# would add a query for the roles and one for the identity, which most pages never read and
# which then loads when first used).
WITH_USER = (joinedload(AuthSession.user).joinedload(User.roles),
             joinedload(AuthSession.user).lazyload(User.identity))


@lru_cache(maxsize=8)
def _sql(dialect: Dialect) -> str:
    """The rows' statement compiled once per dialect and sent as is (the driver's values are
    only compared, never used: no result processing, no statement cache lookup)."""
    statement = _ROWS.where(_sessions.c.token_digest == bindparam("digest"))
    compiled = statement.compile(dialect=dialect)
    if dialect.paramstyle == "qmark":
        return str(compiled)
    return str(compiled).replace("%(digest)s", "%s")


MAX_CACHED = 20_000  # logins remembered per process (a few hundred bytes each)
_cache: dict[str, tuple[tuple[Any, ...], AuthSession]] = {}
_lock = threading.Lock()


def find(db: Session, digest: str) -> AuthSession | None:
    """The login whose token has this digest, with its user and roles, in `db`."""
    connection = db.connection()
    rows = tuple(connection.exec_driver_sql(_sql(connection.dialect), (digest,)))
    if not rows:
        return None
    cached = _cache.get(digest)
    if cached is None or cached[0] != rows:
        copy = _load_copy(db, digest)
        if copy is None:  # deleted between the two statements
            return None
        cached = (rows, copy)
        with _lock:
            if len(_cache) >= MAX_CACHED:
                _cache.pop(next(iter(_cache)))
            _cache[digest] = cached
    return db.merge(cached[1], load=False)


def _load_copy(db: Session, digest: str) -> AuthSession | None:
    """A detached copy of the login, user and roles, read on the request's own connection (so
    from the same snapshot of the data as the rows it is compared by)."""
    with Session(bind=db.connection()) as side:
        found = side.scalars(
            select(AuthSession).options(*WITH_USER).where(AuthSession.token_digest == digest)
        ).unique().one_or_none()
        if found is not None:
            found.user.roles  # noqa: B018 — loaded before the copy is detached
        side.expunge_all()
    return found


def forget_all() -> None:
    """Drop every cached copy (tests; never needed for correctness)."""
    with _lock:
        _cache.clear()
