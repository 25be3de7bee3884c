"""`/gateway.do`: the Alipay-protocol entry point (GET or POST, parameters in the query string,
the form body or both). The answer is always HTTP 200 with a signed JSON body."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from townsquare.gateway import dispatch
from townsquare.gateway.protocol.errors import GatewayFailure, invalid
from townsquare.gateway.protocol.params import decode_form, merge

router = APIRouter(tags=["open gateway"])
MAX_BODY = 1024 * 1024
FORM = "application/x-www-form-urlencoded"
JSON = "application/json;charset=utf-8"


async def _params(request: Request) -> dict[str, str]:
    query = decode_form(request.scope.get("query_string", b""))
    if request.method != "POST":
        return merge(query)
    body = await request.body()
    if len(body) > MAX_BODY:
        raise invalid("parameter", "请求体过大")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if body and kind not in (FORM, ""):
        raise invalid("parameter", f"请求体须为 {FORM}，收到 {kind}")
    return merge(query, decode_form(body))


@router.api_route("/gateway.do", methods=["GET", "POST"], response_class=Response)
async def gateway(request: Request) -> Response:
    """Call a capability method the Alipay way (see docs/open-platform.md). The unit of work
    is opened by the dispatch, which knows from the method whether it writes."""
    state = request.app.state
    # the settings as `AppSettings` gives them, read here: a sync dependency would cost each
    # call a hand-off to a worker thread and back before the one the dispatch needs
    settings = state.settings
    try:
        params = await _params(request)
    except GatewayFailure as failure:
        body = await run_in_threadpool(dispatch.refuse, state.database, failure,
                                       settings=settings)
        return Response(body, media_type=JSON)
    method = state.gateway_methods.get(params.get("method", ""))
    if method is not None and method.browser:
        answer = await run_in_threadpool(
            dispatch.handle_browser, state.database, params, settings=settings,
            table=state.gateway_methods, call_log=state.gateway_call_log,
            limiter=state.gateway_limiter,
        )
        if answer["code"] == "10000":
            return RedirectResponse(answer["redirect"], status_code=302)
        return HTMLResponse(_refusal_page(answer), status_code=400)
    body = await run_in_threadpool(
        dispatch.handle, state.database, params, settings=settings,
        table=state.gateway_methods, call_log=state.gateway_call_log,
        limiter=state.gateway_limiter,
    )
    return Response(body, media_type=JSON)


def _refusal_page(answer: dict[str, str]) -> str:
    """What a resident's browser shows when a page/wap pay link does not verify (as Alipay
    shows its error page): the codes, for the merchant's developer."""
    rows = "".join(f"<dt>{escape(k)}</dt><dd>{escape(str(answer.get(k, '')))}</dd>"
                   for k in ("code", "msg", "sub_code", "sub_msg"))
    return ('<!doctype html><html lang="zh-CN"><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            "<title>支付请求有误</title><h1>支付请求有误 · Payment request refused</h1>"
            f"<dl>{rows}</dl></html>")
