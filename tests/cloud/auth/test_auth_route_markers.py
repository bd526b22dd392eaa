"""The route markers: unmarked routes are reported, and `property_from` finds the property.

Uses a small app of its own, so these checks do not depend on which domains exist yet.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import bearer, token_for
from keyturn.cloud.auth.deps import Gate, gated, public_route, requires, unmarked_routes
from keyturn.cloud.auth.permissions import Action, Principal
from keyturn.cloud.models import Key, Property
from keyturn.cloud.web.gate import PageGate, Viewer, gated_page
from worlds import Personas


def _key_property(session: Session, params: Mapping[str, str]) -> str | None:
    found = session.execute(select(Key.property_id).where(Key.id == params["key_id"]))
    return found.scalar_one_or_none()


def _extra_routes(reached: list[str] | None = None) -> APIRouter:
    """Test routes; the gated one appends the caller to `reached` when its work runs."""
    router = APIRouter()
    reached = [] if reached is None else reached

    @router.get("/api/v1/keys/{key_id}")
    def read_key(
        key_id: str,
        principal: Annotated[Principal, requires(Action.KEYS_READ, property_from=_key_property)],
    ) -> dict[str, str]:
        return {"key_id": key_id, "by": principal.person_id}

    @router.get("/api/v1/unmarked")
    def unmarked() -> dict[str, str]:
        return {}

    @router.get("/api/v1/misplaced", dependencies=[requires(Action.PEOPLE_READ)])
    def misplaced() -> dict[str, str]:
        return {}

    @router.get("/api/v1/gated/keys/{key_id}")
    async def gated_key(
        key_id: str,
        gate: Annotated[Gate, gated(Action.KEYS_READ, property_from=_key_property)],
    ) -> dict[str, str]:
        def work(principal: Principal) -> dict[str, str]:
            reached.append(principal.person_id)
            return {"key_id": key_id, "by": principal.person_id}

        return await gate.run(work)

    @router.get("/api/v1/gated-page/keys/{key_id}")
    async def gated_key_page(
        key_id: str,
        gate: Annotated[PageGate, gated_page(Action.KEYS_READ, property_from=_key_property)],
    ) -> dict[str, str]:
        def work(viewer: Viewer) -> dict[str, str]:
            reached.append(viewer.principal.person_id)
            assert viewer.prop is not None
            return {"key_id": key_id, "property": viewer.prop.name}

        return await gate.run(work)

    @router.get("/api/v1/open", dependencies=[public_route("test")])
    def open_route() -> dict[str, str]:
        return {}

    return router


def test_unmarked_and_misplaced_routes_are_reported(app: FastAPI) -> None:
    app.include_router(_extra_routes())

    problems = unmarked_routes(app)

    assert any(p.startswith("GET /api/v1/unmarked:") for p in problems)
    assert any(p.startswith("GET /api/v1/misplaced:") and "property_id" in p for p in problems)
    assert not any("/api/v1/keys/" in p or "/api/v1/open" in p for p in problems)
    assert not any("/api/v1/gated/" in p or "/api/v1/gated-page/" in p for p in problems)


def test_property_from_resolves_the_property_of_an_object(
    app: FastAPI, client: TestClient, db: Session, personas: Personas
) -> None:
    app.include_router(_extra_routes())
    keys_manager = token_for(db, personas.people["pm_keys_specific"])
    resident = token_for(db, personas.people["resident"])
    db.commit()

    mine = client.get(f"/api/v1/keys/{personas.managed_key_id}", headers=bearer(keys_manager))
    not_mine = client.get(f"/api/v1/keys/{personas.other_key_id}", headers=bearer(keys_manager))
    refused = client.get(f"/api/v1/keys/{personas.managed_key_id}", headers=bearer(resident))
    foreign = client.get(
        f"/api/v1/keys/{personas.other_key_in_other_property_id}", headers=bearer(keys_manager)
    )
    unknown = client.get("/api/v1/keys/nope", headers=bearer(keys_manager))

    assert mine.status_code == 200
    assert not_mine.status_code == 403
    assert refused.status_code == 403
    assert foreign.status_code == 404
    assert unknown.status_code == 404


def test_a_gated_route_runs_its_work_only_for_an_allowed_caller(
    app: FastAPI, client: TestClient, db: Session, personas: Personas
) -> None:
    reached: list[str] = []
    app.include_router(_extra_routes(reached))
    keys_manager = token_for(db, personas.people["pm_keys_specific"])
    resident = token_for(db, personas.people["resident"])
    db.commit()

    def get(key_id: str, token: str | None) -> int:
        headers = bearer(token) if token else {}
        return client.get(f"/api/v1/gated/keys/{key_id}", headers=headers).status_code

    assert get(personas.managed_key_id, None) == 401
    assert get(personas.other_key_id, keys_manager) == 403
    assert get(personas.managed_key_id, resident) == 403
    assert get(personas.other_key_in_other_property_id, keys_manager) == 404
    assert get("nope", keys_manager) == 404
    assert reached == []
    assert get(personas.managed_key_id, keys_manager) == 200
    assert reached == [personas.people["pm_keys_specific"]]


def test_a_gated_page_runs_its_work_only_for_an_allowed_caller(
    app: FastAPI, client: TestClient, db: Session, personas: Personas
) -> None:
    reached: list[str] = []
    app.include_router(_extra_routes(reached))
    keys_manager = token_for(db, personas.people["pm_keys_specific"])
    resident = token_for(db, personas.people["resident"])
    db.commit()

    def get(key_id: str, token: str | None) -> int:
        headers = bearer(token) if token else {}
        return client.get(f"/api/v1/gated-page/keys/{key_id}", headers=headers).status_code

    assert get(personas.managed_key_id, None) == 401
    assert get(personas.other_key_id, keys_manager) == 403
    assert get(personas.managed_key_id, resident) == 403
    assert get(personas.other_key_in_other_property_id, keys_manager) == 404
    assert reached == []
    answer = client.get(
        f"/api/v1/gated-page/keys/{personas.managed_key_id}", headers=bearer(keys_manager)
    )
    assert answer.status_code == 200
    assert answer.json()["property"] == db.get(Property, personas.property_id).name
    assert reached == [personas.people["pm_keys_specific"]]
