"""Schemathesis fuzzes the services and repairs JSON APIs as an anonymous caller, a verified
resident, the property manager and a technician of a real community (tests/test_api_fuzz.py
covers every API, as the demo city's roles): whatever is sent, never a 5xx."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.community.repairs import world as rw

TAGS = ("community services", "community repairs")
EXAMPLES_PER_OPERATION = 8


def test_no_server_errors_in_services_and_repairs(app, database, client, make_user, token_for):
    world = rw.build(database, app.state.settings, make_user)
    callers = ({}, token_for(world.head), token_for(world.manager), token_for(world.technician))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [o for o in (r.ok() for r in schema.get_all_operations())
                  if set(o.definition.raw.get("tags") or ()) & set(TAGS)]
    assert len(operations) == 22

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None,
                  suppress_health_check=list(HealthCheck), database=None)
        def no_server_error(case) -> None:
            for headers in callers:
                response = case.call(headers=headers)
                assert response.status_code < 500, (
                    case.method, case.formatted_path, case.body, response.text[:300])

        no_server_error()
