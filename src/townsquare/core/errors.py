"""One error hierarchy: every domain error carries a stable code, a message and its HTTP status."""

from __future__ import annotations

from typing import Any


class TownsquareError(Exception):
    """Base error. `message` is an English msgid with {placeholders}, translated when shown."""

    code = "error"
    status = 400

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        details: Any = None,
        **params: Any,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.params = params
        self.details = details
        if code:
            self.code = code
        if status:
            self.status = status

    def render(self, translate=lambda s: s) -> str:
        return translate(self.message).format(**self.params)


class ValidationFailed(TownsquareError):
    code = "invalid"
    status = 422


class NotFound(TownsquareError):
    code = "not_found"
    status = 404


class PermissionDenied(TownsquareError):
    code = "forbidden"
    status = 403


class AuthenticationRequired(TownsquareError):
    code = "unauthenticated"
    status = 401


class Conflict(TownsquareError):
    code = "conflict"
    status = 409


class RateLimited(TownsquareError):
    code = "rate_limited"
    status = 429
