"""Schemathesis on the gate API with real ids (a random id only ever meets a 404): whatever a
guard or a property manager sends to their own community, the server never answers 5xx."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from .world import build

EXAMPLES = 25


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_gate_api_never_errors(app, database, make_user, token_for):
    world = build(database, make_user)
    callers = [token_for(world.guard), token_for(world.manager)]
    schema = schemathesis.openapi.from_asgi("/openapi.json", app).include(
        path_regex="^/api/community/\\{com\\}/(gate|passages|code|keys)"
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 7

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def no_server_error(case) -> None:
            case.path_parameters["com"] = world.com
            if isinstance(case.body, dict):
                case.body["gate"] = world.gate
                for scan in case.body.get("scans") or []:
                    if isinstance(scan, dict):
                        scan["gate"] = world.gate
                        scan.setdefault("at", datetime.now(UTC).isoformat())
            for headers in callers:
                response = case.call(headers=headers)
                assert response.status_code < 500, (
                    case.method,
                    case.formatted_path,
                    case.body,
                    response.text[:300],
                )

        no_server_error()
