"""The API's routers as one: every route under /api/, so a path elsewhere may skip them all."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from keyturn.cloud.api_routes import API_PREFIX, api_routers
from keyturn.cloud.auth.deps import app_routes


def test_every_route_of_the_api_routers_lies_under_the_api_prefix() -> None:
    bare = FastAPI()
    bare.include_router(api_routers())

    paths = [route.path for route in app_routes(bare) if route.is_api_route]

    assert len(paths) > 100
    assert [path for path in paths if not path.startswith(API_PREFIX)] == []


def test_api_routes_and_pages_are_still_found(client: TestClient) -> None:
    assert client.get("/api/v1/properties/nope/events").status_code == 401
    assert client.get("/api/v1/no-such-route").status_code == 404
    answer = client.get("/portal/sign-in")
    assert answer.status_code == 200
    assert "text/html" in answer.headers["content-type"]
