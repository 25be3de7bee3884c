"""Merchants JSON API: categories, merchants and their staff, brands, providers, authorizations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from townsquare.accounts.deps import CurrentUser
from townsquare.accounts.models import User
from townsquare.merchants import authorizations, brands, categories, providers, service
from townsquare.merchants.models import BrandStatus
from townsquare.merchants.schemas import (
    ApproveIn,
    AuthorizationIn,
    AuthorizationOut,
    BrandIn,
    BrandOut,
    CategoryIn,
    CategoryOut,
    CategoryPatch,
    MerchantIn,
    MerchantOut,
    MerchantPatch,
    ProviderIn,
    ProviderOut,
    ReasonIn,
    StaffIn,
    StaffOut,
)
from townsquare.web.deps import DbSession
from townsquare.web.openapi import MerchantId, errors

router = APIRouter(prefix="/api", tags=["merchants"])

ProviderId = Annotated[str, Path(max_length=40, description="A provider id (`isv_…`).")]
BrandId = Annotated[str, Path(max_length=40, description="A brand application id (`brd_…`).")]
AuthorizationId = Annotated[str, Path(max_length=40, description="An authorization id (`auz_…`).")]
UserId = Annotated[str, Path(max_length=40, description="A user id (`usr_…`).")]
CategoryCode = Annotated[str, Path(max_length=32)]


# ---- categories -------------------------------------------------------------------------------


@router.get("/categories", response_model=list[CategoryOut])
def list_categories(db: DbSession) -> list[CategoryOut]:
    """Every category of local service (public)."""
    return [CategoryOut.of(c) for c in categories.list_categories(db)]


@router.post(
    "/categories", status_code=201, response_model=CategoryOut,
    responses=errors(401, 403, 409, 422),
)
def create_category(body: CategoryIn, user: CurrentUser, db: DbSession) -> CategoryOut:
    """Create a category (operators)."""
    category = categories.create_category(
        db, actor=user, code=body.code, name_zh=body.name_zh, name_en=body.name_en,
        urgent=body.urgent,
    )
    return CategoryOut.of(category)


@router.patch(
    "/categories/{code}", response_model=CategoryOut, responses=errors(401, 403, 404, 422)
)
def update_category(
    code: CategoryCode, body: CategoryPatch, user: CurrentUser, db: DbSession
) -> CategoryOut:
    """Rename a category and/or mark it urgent (expedited review lane) (operators)."""
    category = categories.update_category(
        db, actor=user, code=code, name_zh=body.name_zh, name_en=body.name_en, urgent=body.urgent
    )
    return CategoryOut.of(category)


# ---- merchants --------------------------------------------------------------------------------


@router.get("/merchants", response_model=list[MerchantOut], responses=errors(401, 403))
def list_merchants(
    user: CurrentUser,
    db: DbSession,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[MerchantOut]:
    """All merchants, newest first (operators)."""
    found = service.list_merchants(db, actor=user, limit=limit, offset=offset)
    return [MerchantOut.of(m) for m in found]


@router.get("/merchants/mine", response_model=list[MerchantOut], responses=errors(401))
def my_merchants(user: CurrentUser, db: DbSession) -> list[MerchantOut]:
    """The merchants you work for."""
    return [MerchantOut.of(m) for m in service.my_merchants(db, actor=user)]


@router.post(
    "/merchants", status_code=201, response_model=MerchantOut,
    responses=errors(401, 403, 404, 422),
)
def create_merchant(body: MerchantIn, user: CurrentUser, db: DbSession) -> MerchantOut:
    """Register your own merchant, or (operators) open one for `owner_username`."""
    if body.owner_username is not None:
        merchant = service.create_merchant(
            db, actor=user, owner_username=body.owner_username, name=body.name,
            category_code=body.category, cities=body.cities, description=body.description,
        )
    else:
        merchant = service.register_merchant(
            db, actor=user, name=body.name, category_code=body.category, cities=body.cities,
            description=body.description,
        )
    return MerchantOut.of(merchant)


@router.get(
    "/merchants/{merchant_id}", response_model=MerchantOut, responses=errors(401, 403, 404)
)
def get_merchant(merchant_id: MerchantId, user: CurrentUser, db: DbSession) -> MerchantOut:
    """One merchant (its staff, staff of an authorized provider, operators)."""
    return MerchantOut.of(service.get_merchant(db, actor=user, public_id=merchant_id))


@router.patch(
    "/merchants/{merchant_id}", response_model=MerchantOut,
    responses=errors(401, 403, 404, 422),
)
def update_merchant(
    merchant_id: MerchantId, body: MerchantPatch, user: CurrentUser, db: DbSession
) -> MerchantOut:
    """Edit the description and cities (its staff or an authorized provider)."""
    merchant = service.update_merchant(
        db, actor=user, public_id=merchant_id, description=body.description, cities=body.cities
    )
    return MerchantOut.of(merchant)


def _staff_out(member: service.StaffMember) -> StaffOut:
    user = member.user
    return StaffOut(
        user_id=user.public_id, username=user.username, display_name=user.display_name,
        is_owner=member.is_owner,
    )


@router.get(
    "/merchants/{merchant_id}/staff", response_model=list[StaffOut],
    responses=errors(401, 403, 404),
)
def list_staff(merchant_id: MerchantId, user: CurrentUser, db: DbSession) -> list[StaffOut]:
    """The merchant's staff (its own staff only)."""
    return [_staff_out(m) for m in service.list_staff(db, actor=user, public_id=merchant_id)]


@router.post(
    "/merchants/{merchant_id}/staff", status_code=201, response_model=StaffOut,
    responses=errors(401, 403, 404, 409, 422),
)
def add_staff(
    merchant_id: MerchantId, body: StaffIn, user: CurrentUser, db: DbSession
) -> StaffOut:
    """Add a user to the staff by username (the owner)."""
    member = service.add_staff(db, actor=user, public_id=merchant_id, username=body.username)
    return _staff_out(member)


@router.delete(
    "/merchants/{merchant_id}/staff/{user_id}", status_code=204,
    responses=errors(401, 403, 404, 422),
)
def remove_staff(
    merchant_id: MerchantId, user_id: UserId, user: CurrentUser, db: DbSession
) -> Response:
    """Remove a staff member (the owner; the owner cannot be removed)."""
    service.remove_staff(db, actor=user, public_id=merchant_id, user_id=user_id)
    return Response(status_code=204)


# ---- brands -----------------------------------------------------------------------------------


@router.post(
    "/merchants/{merchant_id}/brands", status_code=201, response_model=BrandOut,
    responses=errors(401, 403, 404, 409, 422),
)
def apply_brand(
    merchant_id: MerchantId, body: BrandIn, user: CurrentUser, db: DbSession
) -> BrandOut:
    """Apply for certification of a brand name (the merchant's staff)."""
    brand = brands.apply(
        db, actor=user, merchant_id=merchant_id, name=body.name, evidence=body.evidence
    )
    return BrandOut.of(brand)


@router.get(
    "/merchants/{merchant_id}/brands", response_model=list[BrandOut],
    responses=errors(401, 403, 404),
)
def merchant_brands(merchant_id: MerchantId, user: CurrentUser, db: DbSession) -> list[BrandOut]:
    """The merchant's brand applications and certificates, with decision reasons."""
    return [BrandOut.of(b) for b in brands.merchant_brands(db, actor=user, merchant_id=merchant_id)]


@router.get("/brands", response_model=list[BrandOut], responses=errors(401, 403, 422))
def list_brands(
    user: CurrentUser,
    db: DbSession,
    status: BrandStatus = BrandStatus.PENDING,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[BrandOut]:
    """Brand applications in one status; pending ones oldest first (operators)."""
    return [BrandOut.of(b) for b in brands.list_brands(db, actor=user, status=status, limit=limit)]


@router.post(
    "/brands/{brand_id}/approve", response_model=BrandOut,
    responses=errors(401, 403, 404, 409, 422),
)
def approve_brand(
    brand_id: BrandId, user: CurrentUser, db: DbSession, body: ApproveIn | None = None
) -> BrandOut:
    """Certify a pending brand (operators); 409 if another merchant holds the name."""
    note = body.note if body else ""
    return BrandOut.of(brands.approve(db, actor=user, brand_id=brand_id, note=note))


@router.post(
    "/brands/{brand_id}/reject", response_model=BrandOut,
    responses=errors(401, 403, 404, 409, 422),
)
def reject_brand(brand_id: BrandId, body: ReasonIn, user: CurrentUser, db: DbSession) -> BrandOut:
    """Reject a pending application with a reason (operators)."""
    return BrandOut.of(brands.reject(db, actor=user, brand_id=brand_id, reason=body.reason))


@router.post(
    "/brands/{brand_id}/revoke", response_model=BrandOut,
    responses=errors(401, 403, 404, 409, 422),
)
def revoke_brand(brand_id: BrandId, body: ReasonIn, user: CurrentUser, db: DbSession) -> BrandOut:
    """Revoke a certified brand with a reason (operators)."""
    return BrandOut.of(brands.revoke(db, actor=user, brand_id=brand_id, reason=body.reason))


# ---- service providers ------------------------------------------------------------------------


@router.get("/providers", response_model=list[ProviderOut], responses=errors(401))
def provider_directory(user: CurrentUser, db: DbSession) -> list[ProviderOut]:
    """The directory of service providers a merchant may authorize."""
    return [ProviderOut.of(p) for p in providers.list_providers(db)]


@router.get("/providers/mine", response_model=list[ProviderOut], responses=errors(401))
def my_providers(user: CurrentUser, db: DbSession) -> list[ProviderOut]:
    """The service providers you work for."""
    return [ProviderOut.of(p) for p in providers.my_providers(db, actor=user)]


@router.post(
    "/providers", status_code=201, response_model=ProviderOut,
    responses=errors(401, 403, 404, 409, 422),
)
def create_provider(body: ProviderIn, user: CurrentUser, db: DbSession) -> ProviderOut:
    """Open a service provider with its first staff member (operators)."""
    provider = providers.create_provider(
        db, actor=user, name=body.name, description=body.description,
        staff_username=body.staff_username,
    )
    return ProviderOut.of(provider)


@router.get(
    "/providers/{provider_id}", response_model=ProviderOut, responses=errors(401, 404)
)
def get_provider(provider_id: ProviderId, user: CurrentUser, db: DbSession) -> ProviderOut:
    """A provider's public directory entry."""
    return ProviderOut.of(providers.get_provider(db, public_id=provider_id))


def _provider_staff_out(user: User) -> StaffOut:
    return StaffOut(user_id=user.public_id, username=user.username, display_name=user.display_name)


@router.get(
    "/providers/{provider_id}/staff", response_model=list[StaffOut],
    responses=errors(401, 403, 404),
)
def provider_staff(provider_id: ProviderId, user: CurrentUser, db: DbSession) -> list[StaffOut]:
    """The provider's staff (its own staff only)."""
    found = providers.list_provider_staff(db, actor=user, provider_id=provider_id)
    return [_provider_staff_out(u) for u in found]


@router.post(
    "/providers/{provider_id}/staff", status_code=201, response_model=StaffOut,
    responses=errors(401, 403, 404, 409, 422),
)
def add_provider_staff(
    provider_id: ProviderId, body: StaffIn, user: CurrentUser, db: DbSession
) -> StaffOut:
    """Add a colleague by username (the provider's staff)."""
    added = providers.add_provider_staff(
        db, actor=user, provider_id=provider_id, username=body.username
    )
    return _provider_staff_out(added)


@router.get(
    "/providers/{provider_id}/merchants", response_model=list[MerchantOut],
    responses=errors(401, 403, 404),
)
def authorizing_merchants(
    provider_id: ProviderId, user: CurrentUser, db: DbSession
) -> list[MerchantOut]:
    """The merchants currently authorizing this provider (its staff only)."""
    found = authorizations.authorizing_merchants(db, actor=user, provider_id=provider_id)
    return [MerchantOut.of(m) for m in found]


# ---- authorizations ---------------------------------------------------------------------------


@router.get(
    "/merchants/{merchant_id}/authorizations", response_model=list[AuthorizationOut],
    responses=errors(401, 403, 404),
)
def list_authorizations(
    merchant_id: MerchantId, user: CurrentUser, db: DbSession
) -> list[AuthorizationOut]:
    """The merchant's authorizations, active first, then revoked ones (its own staff)."""
    found = authorizations.for_merchant(db, actor=user, merchant_id=merchant_id)
    return [AuthorizationOut.of(a) for a in found]


@router.post(
    "/merchants/{merchant_id}/authorizations", status_code=201, response_model=AuthorizationOut,
    responses=errors(401, 403, 404, 409, 422),
)
def grant_authorization(
    merchant_id: MerchantId, body: AuthorizationIn, user: CurrentUser, db: DbSession
) -> AuthorizationOut:
    """Authorize a service provider to act for the merchant (its own staff)."""
    granted = authorizations.grant(
        db, actor=user, merchant_id=merchant_id, provider_id=body.provider_id
    )
    return AuthorizationOut.of(granted)


@router.post(
    "/merchants/{merchant_id}/authorizations/{authorization_id}/revoke",
    response_model=AuthorizationOut, responses=errors(401, 403, 404, 409),
)
def revoke_authorization(
    merchant_id: MerchantId, authorization_id: AuthorizationId, user: CurrentUser, db: DbSession
) -> AuthorizationOut:
    """Withdraw an authorization; the provider loses access at once (its own staff)."""
    revoked = authorizations.revoke(
        db, actor=user, merchant_id=merchant_id, authorization_id=authorization_id
    )
    return AuthorizationOut.of(revoked)
