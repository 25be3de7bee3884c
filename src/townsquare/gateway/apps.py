"""Gateway apps: a mini-app's backend, or a service provider's third-party app, gets an app id,
its keys and the capability packages an operator granted it. Who may manage a mini-app's app is
who may act for the mini-app's merchant; a provider's app, the provider's staff."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from townsquare.accounts.models import Role, User
from townsquare.accounts.permissions import require_role
from townsquare.core import audit
from townsquare.core.clock import clock
from townsquare.core.errors import NotFound, ValidationFailed
from townsquare.gateway.methods import PACKAGES
from townsquare.gateway.models import AppStatus, GatewayApp, GrantStatus, PackageGrant
from townsquare.merchants import access
from townsquare.merchants.models import ServiceProvider
from townsquare.miniapps.models import MiniApp


def app_for_miniapp(db: Session, *, actor: User | None, miniapp: MiniApp) -> GatewayApp:
    """The mini-app's gateway app, made on first ask by someone who may act for its merchant
    (`None`: the system, e.g. a first-party runtime's checkout creating its trades). Two first
    asks racing make one app: the loser reads the winner's."""
    access.require_act_for(db, actor, miniapp.merchant)
    app = db.scalar(select(GatewayApp).where(GatewayApp.miniapp_id == miniapp.id))
    if app is None:
        try:
            with db.begin_nested():
                app = GatewayApp(miniapp_id=miniapp.id, miniapp=miniapp)
                db.add(app)
                db.flush()
        except IntegrityError:
            return db.scalars(select(GatewayApp).where(GatewayApp.miniapp_id == miniapp.id)).one()
        audit.record(
            db, actor_id=actor.id if actor else None, action="gateway.app.create",
            subject_type="gateway_app", subject_id=app.app_id, miniapp=miniapp.public_id,
        )
    return app


def app_for_provider(db: Session, *, actor: User, provider: ServiceProvider) -> GatewayApp:
    """The provider's third-party app (one per provider), made on first ask by its staff."""
    access.require_provider_staff(db, actor, provider)
    app = db.scalar(select(GatewayApp).where(GatewayApp.provider_id == provider.id))
    if app is None:
        app = GatewayApp(provider_id=provider.id, provider=provider)
        db.add(app)
        db.flush()
        audit.record(
            db, actor_id=actor.id, action="gateway.app.create", subject_type="gateway_app",
            subject_id=app.app_id, provider=provider.public_id,
        )
    return app


def can_manage(db: Session, actor: User | None, app: GatewayApp) -> bool:
    if app.provider is not None:
        if actor is None:
            return True
        return actor.has_role(Role.ISV_STAFF) and app.provider.id in access.provider_ids_of(
            db, actor)
    assert app.miniapp is not None
    return access.can_act_for(db, actor, app.miniapp.merchant)


def require_owner(db: Session, actor: User | None, app: GatewayApp) -> None:
    """The app's owner side: its provider's staff, or whoever may act for its mini-app."""
    if app.provider is not None:
        access.require_provider_staff(db, actor, app.provider)
    else:
        assert app.miniapp is not None
        access.require_act_for(db, actor, app.miniapp.merchant)


def by_app_id(db: Session, app_id: str) -> GatewayApp | None:
    """An active app by its app id (None for unknown or suspended: the gateway says the same)."""
    if not app_id.isdigit() or len(app_id) != 16:
        return None
    app = db.scalar(select(GatewayApp).where(GatewayApp.app_id == app_id))
    return app if app is not None and app.status == AppStatus.ACTIVE else None


def _grant_row(db: Session, app: GatewayApp, package: str) -> PackageGrant | None:
    return db.scalar(
        select(PackageGrant).where(PackageGrant.app_id == app.id, PackageGrant.package == package)
    )


def apply(db: Session, *, actor: User, app: GatewayApp, package: str) -> PackageGrant:
    """The app's owner applies for a package; an operator decides."""
    require_owner(db, actor, app)
    if package not in PACKAGES:
        raise ValidationFailed("No such capability package: {package}.", package=package)
    row = _grant_row(db, app, package)
    if row is None:
        row = PackageGrant(app_id=app.id, package=package, status=GrantStatus.REQUESTED,
                           requested_at=clock.now())
        db.add(row)
    elif row.status == GrantStatus.REFUSED:
        row.status, row.requested_at, row.decided_at = GrantStatus.REQUESTED, clock.now(), None
    db.flush()
    return row


def decide(db: Session, *, actor: User, app: GatewayApp, package: str, grant: bool) -> PackageGrant:
    """An operator grants or refuses an application (audited)."""
    require_role(actor, Role.OPERATOR)
    row = _grant_row(db, app, package)
    if row is None:
        raise NotFound("The app has not applied for this package.")
    row.status = GrantStatus.GRANTED if grant else GrantStatus.REFUSED
    row.decided_at, row.decided_by = clock.now(), actor.id
    audit.record(
        db, actor_id=actor.id, action="gateway.package." + row.status.value,
        subject_type="gateway_app", subject_id=app.app_id, package=package,
    )
    db.flush()
    return row


def granted_packages(db: Session, app: GatewayApp) -> set[str]:
    return set(
        db.scalars(
            select(PackageGrant.package).where(
                PackageGrant.app_id == app.id, PackageGrant.status == GrantStatus.GRANTED
            )
        )
    )
