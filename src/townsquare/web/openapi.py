"""What every JSON router tells OpenAPI the same way: the error envelope under each status a route
may answer, and the path parameter that names an object by its public id."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path
from pydantic import BaseModel

Responses = dict[int | str, dict[str, Any]]


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorOut(BaseModel):
    error: ErrorBody


DESCRIBED = {
    401: "Not logged in.",
    403: "Not allowed, or not yours (the same answer whether or not it exists).",
    404: "No such object.",
    409: "Conflicts with the current state.",
    422: "Invalid input.",
}


def error(description: str) -> dict[str, Any]:
    """One status's `responses=` entry: the error envelope, with what this route means by it."""
    return {"model": ErrorOut, "description": description}


def errors(*statuses: int) -> Responses:
    """`responses=` for a route: the error envelope under each status it may answer."""
    return {status: error(DESCRIBED[status]) for status in statuses}


# Objects are named by opaque public ids (`ma_…`, `mer_…`), never by row numbers. The merchant's
# has its own name because routes of several packages take one beside another object's id.
PublicId = Annotated[str, Path(max_length=40, description="A public id (`ma_…`, `mer_…`, …).")]
MerchantId = Annotated[str, Path(max_length=40, description="A merchant id (`mer_…`).")]
