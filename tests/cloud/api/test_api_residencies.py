"""The residency routes: move in, change the lease, move out now or at a date, list; the
remove-role route for a resident; and the server's job that ends residencies when due."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import T0, Clock, bearer, give_role, make_person, token_for
from keyturn.cloud.auth.links import INVITATION_SUBJECT
from keyturn.cloud.models import AuditRecord, Grant, OutboxMessage, RoleMembership
from keyturn.rules.types import Role
from worlds import ResidencyBuilding, make_residency_building, sync

DAY = timedelta(days=1)


@pytest.fixture
def building(db: Session) -> ResidencyBuilding:
    world = make_residency_building(db)
    db.commit()
    return world


@pytest.fixture
def manager(db: Session, building: ResidencyBuilding) -> dict[str, str]:
    headers = bearer(token_for(db, building.manager_id))
    db.commit()
    return headers


def _url(building: ResidencyBuilding) -> str:
    return f"/api/v1/properties/{building.property_id}/residencies"


def test_move_in_change_the_lease_schedule_a_move_out_and_list_the_states(
    client: TestClient,
    app: FastAPI,
    db: Session,
    clock: Clock,
    building: ResidencyBuilding,
    manager: dict[str, str],
) -> None:
    url = _url(building)
    moved = client.post(
        url,
        json={
            "email": "Lee@Example.test",
            "display_name": "Lee Chan",
            "unit_id": building.unit_id,
            "starts_at": (T0 + 2 * DAY).isoformat(),
        },
        headers=manager,
    )
    assert moved.status_code == 201, moved.text
    body = moved.json()
    assert (body["display_name"], body["email"], body["unit_label"]) == (
        "Lee Chan",
        "lee@example.test",
        "4B",
    )
    assert body["state"] == "upcoming"
    assert body["ends_at"] is None
    residency = body["id"]

    again = client.post(
        url,
        json={
            "person_id": body["person_id"],
            "unit_id": building.unit_id,
            "starts_at": T0.isoformat(),
        },
        headers=manager,
    )
    assert again.status_code == 409, again.text

    changed = client.patch(
        f"{url}/{residency}",
        json={"starts_at": T0.isoformat(), "ends_at": (T0 + 30 * DAY).isoformat()},
        headers=manager,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["state"] == "scheduled_move_out"
    db.expire_all()
    grant = db.scalars(select(Grant).where(Grant.person_id == body["person_id"])).one()
    assert (grant.starts_at, grant.ends_at) == (T0, T0 + 30 * DAY)

    scheduled = client.post(
        f"{url}/{residency}/move-out", json={"at": (T0 + 10 * DAY).isoformat()}, headers=manager
    )
    assert scheduled.status_code == 200, scheduled.text
    report = scheduled.json()
    assert report["scheduled"] is True
    assert all(not ids for ids in report["revoked"].values())
    assert {lock["door_name"] for lock in report["locks"]} == {"Entrance", "4B door"}

    listed = client.get(url, params={"unit": building.unit_id}, headers=manager)
    assert [(row["id"], row["state"]) for row in listed.json()["items"]] == [
        (residency, "scheduled_move_out")
    ]
    assert (
        client.get(url, params={"unit": building.other_unit_id}, headers=manager).json()["items"]
        == []
    )

    clock.advance(days=10)
    app.state.residency_schedule.run_once()
    listed = client.get(url, headers=manager).json()["items"]
    assert [(row["id"], row["state"]) for row in listed] == [(residency, "ended")]
    assert listed[0]["ended_at"] is not None
    ended = client.post(f"{url}/{residency}/move-out", json={}, headers=manager)
    assert ended.status_code == 409


def test_move_out_now_answers_what_was_revoked_and_each_locks_progress(
    client: TestClient,
    db: Session,
    clock: Clock,
    building: ResidencyBuilding,
    manager: dict[str, str],
) -> None:
    url = _url(building)
    moved = client.post(
        url,
        json={
            "person_id": _known(db, building),
            "unit_id": building.unit_id,
            "starts_at": T0.isoformat(),
            "ends_at": (T0 + 365 * DAY).isoformat(),
        },
        headers=manager,
    )
    assert moved.status_code == 201, moved.text
    for device in building.lock_ids.values():
        sync(db, device, T0)
    clock.advance(hours=1)

    out = client.post(f"{url}/{moved.json()['id']}/move-out", headers=manager)

    assert out.status_code == 200, out.text
    report = out.json()
    assert report["scheduled"] is False
    assert report["ends_at"] == (T0 + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    assert len(report["revoked"]["grants"]) == 1
    assert "next syncs" in report["note"]
    locks = {lock["door_name"]: lock for lock in report["locks"]}
    assert set(locks) == {"Entrance", "4B door"}
    assert not any(lock["applied"] for lock in locks.values())

    sync(db, building.lock_ids[building.home_id], clock.now)
    again = client.get(url, headers=manager).json()["items"]
    assert again[0]["state"] == "ended"


def _known(db: Session, building: ResidencyBuilding) -> str:
    """Ada, made known to the portfolio by a role she has had here."""
    give_role(db, person_id=building.resident_id, property_id=building.property_id, role=Role.STAFF)
    db.commit()
    return building.resident_id


def test_a_person_the_portfolio_does_not_know_and_bad_bodies_are_refused(
    client: TestClient, db: Session, building: ResidencyBuilding, manager: dict[str, str]
) -> None:
    stranger = make_person(db, email="stranger@example.test", name="Stranger")
    db.commit()
    url = _url(building)
    base = {"unit_id": building.unit_id, "starts_at": T0.isoformat()}

    unknown = client.post(url, json={"person_id": stranger.id, **base}, headers=manager)
    both = client.post(
        url,
        json={"person_id": stranger.id, "email": "x@example.test", "display_name": "X", **base},
        headers=manager,
    )
    nameless = client.post(url, json={"email": "x@example.test", **base}, headers=manager)
    backwards = client.post(
        url,
        json={
            "email": "x@example.test",
            "display_name": "X",
            "unit_id": building.unit_id,
            "starts_at": T0.isoformat(),
            "ends_at": (T0 - DAY).isoformat(),
        },
        headers=manager,
    )
    foreign_unit = client.post(
        url,
        json={
            "email": "x@example.test",
            "display_name": "X",
            "unit_id": "nope",
            "starts_at": T0.isoformat(),
        },
        headers=manager,
    )

    assert [
        answer.status_code for answer in (unknown, both, nameless, backwards, foreign_unit)
    ] == [422, 422, 422, 422, 422]
    assert backwards.json()["type"].endswith("invalid-lease")
    db.expire_all()
    assert (
        db.scalars(select(RoleMembership).where(RoleMembership.role == Role.RESIDENT)).all() == []
    )


def test_another_propertys_residency_is_not_found(
    client: TestClient, db: Session, building: ResidencyBuilding, manager: dict[str, str]
) -> None:
    moved = client.post(
        _url(building),
        json={
            "email": "lee@example.test",
            "display_name": "Lee",
            "unit_id": building.unit_id,
            "starts_at": T0.isoformat(),
        },
        headers=manager,
    )
    oak = make_person(db, email="oak@example.test", name="Oak manager")
    give_role(
        db, person_id=oak.id, property_id=building.other_property_id, role=Role.PORTFOLIO_MANAGER
    )
    oak_headers = bearer(token_for(db, oak.id))
    db.commit()
    there = f"/api/v1/properties/{building.other_property_id}/residencies/{moved.json()['id']}"

    assert client.post(f"{there}/move-out", headers=oak_headers).status_code == 404
    assert (
        client.patch(there, json={"starts_at": T0.isoformat()}, headers=oak_headers).status_code
        == 404
    )


def test_removing_a_residents_role_moves_them_out_and_another_role_is_just_removed(
    client: TestClient, db: Session, building: ResidencyBuilding, manager: dict[str, str]
) -> None:
    moved = client.post(
        _url(building),
        json={
            "email": "lee@example.test",
            "display_name": "Lee",
            "unit_id": building.unit_id,
            "starts_at": T0.isoformat(),
        },
        headers=manager,
    ).json()
    staff = give_role(
        db, person_id=moved["person_id"], property_id=building.property_id, role=Role.STAFF
    )
    db.commit()
    roles = f"/api/v1/properties/{building.property_id}/roles"

    as_resident = client.delete(f"{roles}/{moved['id']}", headers=manager)
    as_staff = client.delete(f"{roles}/{staff.id}", headers=manager)

    assert (as_resident.status_code, as_staff.status_code) == (204, 204)
    listed = client.get(_url(building), headers=manager).json()["items"]
    assert [(row["id"], row["state"]) for row in listed] == [(moved["id"], "ended")]
    audited = db.scalars(
        select(AuditRecord).where(AuditRecord.action == "residency.move_out")
    ).one()
    assert (audited.object_id, audited.actor_person_id) == (moved["id"], building.manager_id)
    assert audited.detail["revoked"]["grants"] == 1
    db.expire_all()
    grant = db.scalars(select(Grant).where(Grant.person_id == moved["person_id"])).one()
    assert grant.revoked_at is not None
    person = client.get(
        f"/api/v1/properties/{building.property_id}/people/{moved['person_id']}", headers=manager
    )
    assert person.status_code == 404


def test_a_manager_may_not_move_out_someone_who_outranks_them(
    client: TestClient, db: Session, building: ResidencyBuilding, manager: dict[str, str]
) -> None:
    """The residency routes pass the resident to the rank check: a property manager cannot
    end the residency of the portfolio manager, nor move them in."""
    pm = _property_manager(db, building, "pm@example.test")
    pm_headers = bearer(token_for(db, pm))
    db.commit()
    owner_home = client.post(
        _url(building),
        json={
            "person_id": building.manager_id,
            "unit_id": building.other_unit_id,
            "starts_at": T0.isoformat(),
        },
        headers=pm_headers,
    )
    assert owner_home.status_code == 403, owner_home.text
    lee = client.post(
        _url(building),
        json={
            "email": "lee@example.test",
            "display_name": "Lee",
            "unit_id": building.unit_id,
            "starts_at": T0.isoformat(),
        },
        headers=manager,
    ).json()
    give_role(
        db,
        person_id=lee["person_id"],
        property_id=building.property_id,
        role=Role.PORTFOLIO_MANAGER,
    )
    db.commit()

    refused = client.post(f"{_url(building)}/{lee['id']}/move-out", headers=pm_headers)
    moved = client.patch(
        f"{_url(building)}/{lee['id']}", json={"starts_at": T0.isoformat()}, headers=pm_headers
    )

    assert (refused.status_code, moved.status_code) == (403, 403)
    db.expire_all()
    assert db.get_one(RoleMembership, lee["id"]).ended_at is None


def _property_manager(db: Session, building: ResidencyBuilding, email: str) -> str:
    pm = make_person(db, email=email, name="Pat Manager")
    give_role(db, person_id=pm.id, property_id=building.property_id, role=Role.PROPERTY_MANAGER)
    db.commit()
    return pm.id


def test_a_person_moved_in_through_the_api_is_emailed_an_invitation(
    client: TestClient, db: Session, building: ResidencyBuilding, manager: dict[str, str]
) -> None:
    url = _url(building)
    moved = client.post(
        url,
        json={
            "email": "lee@example.test",
            "display_name": "Lee Chan",
            "unit_id": building.unit_id,
            "starts_at": T0.isoformat(),
        },
        headers=manager,
    )
    assert moved.status_code == 201, moved.text

    db.expire_all()
    mail = db.scalars(
        select(OutboxMessage).where(OutboxMessage.to_address == "lee@example.test")
    ).all()
    assert [message.subject for message in mail] == [INVITATION_SUBJECT]
    assert "/invitation#token=" in mail[0].body_text
    assert "12 Elm St" in mail[0].body_text
