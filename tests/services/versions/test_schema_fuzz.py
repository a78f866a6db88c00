"""schemathesis against ``/openapi.json``, in-process (ASGI): no server errors,
and every answer matches the schema it publishes (status, content type, body).

The schema is read at import from an app with no workspace (it does not depend
on one, and the app opens nothing until a request needs it); the cases are
then sent to an app over the real fixture workspace, so they meet real tags.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings

from services.versions.app import create_app
from tests.services.versions.conftest import Home, settings_for

schema = schemathesis.openapi.from_asgi(
    "/openapi.json", create_app(settings_for(Path("/nonexistent/ratchet-schema-only")))
)


@pytest.fixture(scope="module")
def app(built_home: Home) -> FastAPI:
    return create_app(built_home.settings)


@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_conforms_to_its_schema(case: schemathesis.Case[Any], app: FastAPI) -> None:
    case.call_and_validate(app=app)
