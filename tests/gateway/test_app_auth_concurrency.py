"""ISV authorization under real concurrency on PostgreSQL: one app_auth_code exchanged by
several simultaneous calls yields exactly one token; one refresh token spent by simultaneous
refreshes yields exactly one new pair."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from tests.gateway import isv_world
from tests.gateway.test_gateway_http import signed
from townsquare.app import GATEWAY_METHODS
from townsquare.gateway import dispatch
from townsquare.gateway.call_log import CallLog
from townsquare.gateway.methods import MethodTable
from townsquare.gateway.models import AppAuthToken

pytestmark = pytest.mark.postgres_only
THREADS = 6
TOKEN = "alipay_open_auth_token_app_response"


def _race(database, settings, params: dict[str, str]) -> list[dict]:
    """The same signed call made by THREADS threads released together, through the dispatch
    each HTTP request runs."""
    table, log = MethodTable(GATEWAY_METHODS), CallLog(database, 0)
    barrier = threading.Barrier(THREADS)

    def one(_: int) -> dict:
        with database.sessions() as warm:  # connect before the barrier so the calls overlap
            warm.execute(select(1))
        barrier.wait()
        body = dispatch.handle(database, params, settings=settings, table=table, call_log=log)
        return json.loads(body)[TOKEN]

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(one, range(THREADS)))


def _tokens(database) -> int:
    with database.unit_of_work() as db:
        return db.scalar(select(func.count()).select_from(AppAuthToken)) or 0


def test_one_code_one_token(database, settings, make_user):
    world = isv_world.build(database, settings, make_user)
    code = isv_world.authorize_code(database, world)
    params = signed(world, "alipay.open.auth.token.app", biz_content=json.dumps(
        {"grant_type": "authorization_code", "code": code}))
    answers = _race(database, settings, params)
    won = [a for a in answers if a["code"] == "10000"]
    assert len(won) == 1, answers
    assert {a["sub_code"] for a in answers if a["code"] != "10000"} == {"isv.code-invalid"}
    assert _tokens(database) == 1

    refresh = signed(world, "alipay.open.auth.token.app", biz_content=json.dumps(
        {"grant_type": "refresh_token", "refresh_token": won[0]["app_refresh_token"]}))
    answers = _race(database, settings, refresh)
    assert len([a for a in answers if a["code"] == "10000"]) == 1, answers
    assert _tokens(database) == 2  # the first pair (retired) and its one successor
