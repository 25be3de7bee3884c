"""Public method reference pages: `/open/methods` lists every gateway method by package,
`/open/methods/{name}` documents one (generated from its schema; see reference.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from townsquare.core.errors import NotFound
from townsquare.gateway import reference
from townsquare.gateway.methods import MethodTable
from townsquare.web.templating import render

router = APIRouter(include_in_schema=False)


def _table(request: Request) -> MethodTable:
    table: MethodTable = request.app.state.gateway_methods
    return table


@router.get("/open/methods", response_class=HTMLResponse)
def methods_page(request: Request) -> HTMLResponse:
    return render(request, "gateway/reference_list.html",
                  groups=reference.by_package(_table(request)))


@router.get("/open/methods/{name}", response_class=HTMLResponse)
def method_page(request: Request, name: str) -> HTMLResponse:
    method = _table(request).get(name[:64])
    if method is None:
        raise NotFound("No such gateway method.")
    return render(request, "gateway/reference_method.html", **reference.context(method))
