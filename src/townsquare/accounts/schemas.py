"""JSON shapes for the accounts API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from townsquare.accounts.models import User


class TokenRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class SignUp(BaseModel):
    username: str = Field(min_length=3, max_length=32)
    password: str = Field(min_length=8, max_length=256)
    display_name: str = Field(min_length=1, max_length=64)


class IdentityIn(BaseModel):
    real_name: str = Field(min_length=1, max_length=32)
    id_number: str = Field(min_length=1, max_length=32)
    phone: str = Field(min_length=1, max_length=16)


class IdentityOut(BaseModel):
    real_name: str
    id_masked: str
    phone_masked: str
    verified_at: datetime


class UserOut(BaseModel):
    id: str
    username: str
    display_name: str
    roles: list[str]
    identity: IdentityOut | None = None

    @classmethod
    def of(cls, user: User) -> UserOut:
        identity = None
        if user.identity:
            from townsquare.accounts.identity import mask_phone

            identity = IdentityOut(
                real_name=user.identity.real_name,
                id_masked=user.identity.id_masked,
                phone_masked=mask_phone(user.identity.phone),
                verified_at=user.identity.verified_at,
            )
        return cls(
            id=user.public_id,
            username=user.username,
            display_name=user.display_name,
            roles=user.role_names,
            identity=identity,
        )


class TokenOut(BaseModel):
    token: str
    token_type: str = "bearer"
    expires_at: datetime
    user: UserOut


class PasswordChangeIn(BaseModel):
    old_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=8, max_length=256)


class PasswordResetOut(BaseModel):
    temporary_password: str = Field(description="Hand it to the user; every session of the "
                                                "user has ended")
