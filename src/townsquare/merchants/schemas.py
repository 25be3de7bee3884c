"""JSON shapes for the merchants API. Every input is bounded; objects are named by public id."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from townsquare.merchants.models import (
    Authorization,
    Brand,
    BrandStatus,
    Category,
    Merchant,
    ServiceProvider,
)

Name = Annotated[str, Field(min_length=1, max_length=64)]
City = Annotated[str, Field(min_length=1, max_length=32)]
Username = Annotated[str, Field(min_length=1, max_length=64)]
Description = Annotated[str, Field(max_length=2000)]
Reason = Annotated[str, Field(min_length=1, max_length=500)]


class CategoryIn(BaseModel):
    code: str = Field(min_length=2, max_length=32, pattern=r"^[a-z][a-z0-9_]+$", examples=["food"])
    name_zh: str = Field(min_length=1, max_length=32, examples=["美食"])
    name_en: str = Field(min_length=1, max_length=48, examples=["Food"])
    urgent: bool = False


class CategoryPatch(BaseModel):
    name_zh: str | None = Field(None, min_length=1, max_length=32)
    name_en: str | None = Field(None, min_length=1, max_length=48)
    urgent: bool | None = None


class CategoryOut(BaseModel):
    code: str
    name_zh: str
    name_en: str
    urgent: bool

    @classmethod
    def of(cls, category: Category) -> CategoryOut:
        return cls(
            code=category.code, name_zh=category.name_zh, name_en=category.name_en,
            urgent=category.urgent,
        )


class MerchantIn(BaseModel):
    name: Name
    category: str = Field(min_length=1, max_length=32, description="A category code.")
    cities: list[City] = Field(min_length=1, max_length=20)
    description: Description = ""
    owner_username: Username | None = Field(
        None, description="Operators only: open the merchant for this user. Omit to register "
        "your own merchant (you become its owner).",
    )


class MerchantPatch(BaseModel):
    description: Description | None = None
    cities: list[City] | None = Field(None, min_length=1, max_length=20)


class MerchantOut(BaseModel):
    id: str
    name: str
    description: str
    category: CategoryOut
    cities: list[str]
    certified_brand: str | None = Field(None, description="The certified brand name, if any.")
    created_at: datetime

    @classmethod
    def of(cls, merchant: Merchant) -> MerchantOut:
        brand = merchant.certified_brand
        return cls(
            id=merchant.public_id, name=merchant.name, description=merchant.description,
            category=CategoryOut.of(merchant.category), cities=list(merchant.cities),
            certified_brand=brand.name if brand else None, created_at=merchant.created_at,
        )


class StaffIn(BaseModel):
    username: Username


class StaffOut(BaseModel):
    user_id: str
    username: str
    display_name: str
    is_owner: bool = False


class BrandIn(BaseModel):
    name: Name
    evidence: str = Field(
        min_length=1, max_length=2000, description="E.g. the trademark registration number."
    )


class ApproveIn(BaseModel):
    note: str = Field("", max_length=500)


class ReasonIn(BaseModel):
    reason: Reason


class BrandOut(BaseModel):
    id: str
    merchant_id: str
    merchant_name: str
    name: str
    evidence: str
    status: BrandStatus
    reason: str
    created_at: datetime
    decided_at: datetime | None

    @classmethod
    def of(cls, brand: Brand) -> BrandOut:
        return cls(
            id=brand.public_id, merchant_id=brand.merchant.public_id,
            merchant_name=brand.merchant.name, name=brand.name, evidence=brand.evidence,
            status=brand.status, reason=brand.reason, created_at=brand.created_at,
            decided_at=brand.decided_at,
        )


class ProviderIn(BaseModel):
    name: Name
    description: Description = ""
    staff_username: Username = Field(description="The provider's first staff member.")


class ProviderOut(BaseModel):
    id: str
    name: str
    description: str
    created_at: datetime

    @classmethod
    def of(cls, provider: ServiceProvider) -> ProviderOut:
        return cls(
            id=provider.public_id, name=provider.name, description=provider.description,
            created_at=provider.created_at,
        )


class AuthorizationIn(BaseModel):
    provider_id: str = Field(min_length=1, max_length=40, examples=["isv_0123456789abcdef"])


class AuthorizationOut(BaseModel):
    id: str
    merchant_id: str
    merchant_name: str
    provider_id: str
    provider_name: str
    granted_at: datetime
    revoked_at: datetime | None
    active: bool

    @classmethod
    def of(cls, row: Authorization) -> AuthorizationOut:
        return cls(
            id=row.public_id, merchant_id=row.merchant.public_id, merchant_name=row.merchant.name,
            provider_id=row.provider.public_id, provider_name=row.provider.name,
            granted_at=row.granted_at, revoked_at=row.revoked_at, active=row.revoked_at is None,
        )
