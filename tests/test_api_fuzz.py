"""Schemathesis fuzzes every operation of the OpenAPI schema as an anonymous caller and as the
demo city's operator, merchant and resident: whatever it sends, the server never answers 5xx."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings

from townsquare.simulation import demo_city

EXAMPLES_PER_OPERATION = 15


def test_no_server_errors(app, database, client):
    with database.unit_of_work() as db:
        demo_city.ensure(db, settings=app.state.settings, seed=3)
    def bearer(username: str) -> dict[str, str]:
        response = client.post(
            "/api/auth/token", json={"username": username, "password": demo_city.DEMO_PASSWORD}
        )
        assert response.status_code == 200, (username, response.text)
        return {"Authorization": f"Bearer {response.json()['token']}"}

    callers = ({}, *(bearer(name) for name in ("operator", "merchant", "resident")))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 5

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None,
                  suppress_health_check=list(HealthCheck), database=None)
        def no_server_error(case) -> None:
            for headers in callers:
                response = case.call(headers=headers)
                assert response.status_code < 500, (
                    case.method, case.formatted_path, case.body, response.text[:300]
                )

        no_server_error()
