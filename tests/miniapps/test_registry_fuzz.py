"""Schemathesis fuzzes the registry API as the people who own real objects (the merchant, its
ISV) and as an operator, with the path ids of a real mini-app, version, template and provider, so
that generated requests get past "not found" and reach the services: never a 5xx."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.miniapps.registry_world import build_world, external_app
from townsquare.miniapps import registry

EXAMPLES_PER_OPERATION = 15


def test_no_server_errors_for_owners(app, client, database, make_user, token_for):
    world = build_world(database, make_user)
    with database.unit_of_work() as db:
        created = registry.create_miniapp(
            db, actor=world.owner, merchant_id=world.merchant, **external_app()
        )
        ids = {
            "miniapp_id": created.miniapp.public_id, "version_id": created.version.public_id,
            "merchant_id": world.merchant, "template_id": world.template,
            "provider_id": world.isv,
        }
    callers = [token_for(user) for user in (world.owner, world.isv_user, world.operator)]
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [
        op for op in (result.ok() for result in schema.get_all_operations())
        if "miniapps" in (op.tags or [])
    ]
    assert len(operations) >= 20

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None,
                  suppress_health_check=list(HealthCheck), database=None)
        def no_server_error(case) -> None:
            for key in case.path_parameters or {}:
                case.path_parameters[key] = ids.get(key, case.path_parameters[key])
            if isinstance(case.body, dict):
                for key in ("merchant_id", "provider_id"):
                    if key in case.body:
                        case.body[key] = ids[key]
            for headers in callers:
                response = case.call(headers=headers)
                assert response.status_code < 500, (
                    case.method, case.formatted_path, case.body, response.text[:300]
                )

        no_server_error()
