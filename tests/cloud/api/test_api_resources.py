"""CRUD round trips of the resource routes: properties, units, doors, keys, grants, people,
CSV import, keycards, and cursor pagination.

What is written through the API is read back through the API and checked in the database.
"""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import MASTER_KEY, T0
from keyturn.cloud.access.access_lists import build_access_list
from keyturn.cloud.models import Keycard, Property, RoleMembership
from keyturn.rules.types import Role
from worlds import Site, mails_to, sync


def test_property_unit_door_round_trip(client: TestClient, db: Session, site: Site) -> None:
    manager = site.auth("portfolio_manager")
    made = client.post(
        f"/api/v1/portfolios/{site.personas.portfolio_id}/properties",
        json={"name": "14 Elm St", "time_zone": "Europe/Paris", "doorcode_length": 6},
        headers=manager,
    )
    assert made.status_code == 201, made.text
    url = f"/api/v1/properties/{made.json()['id']}"
    assert db.get_one(Property, made.json()["id"]).authority_public_key != b"\x01" * 32

    changed = client.patch(url, json={"jurisdiction": "US-NY-NYC"}, headers=manager)
    unit = client.post(f"{url}/units", json={"label": "2A"}, headers=manager).json()
    door = client.post(
        f"{url}/doors",
        json={"name": "2A door", "kind": "residence", "unit_id": unit["id"]},
        headers=manager,
    ).json()
    rekinded = client.patch(f"{url}/doors/{door['id']}", json={"kind": "common"}, headers=manager)
    token = client.post(
        f"{url}/doors/{door['id']}/provisioning-tokens",
        json={"model": "keyturn-c2"},
        headers=manager,
    )

    assert changed.json()["jurisdiction"] == "US-NY-NYC"
    assert client.get(f"{url}/units/{unit['id']}", headers=manager).json()["label"] == "2A"
    assert rekinded.status_code == 200
    assert rekinded.json()["kind"] == "common"
    assert token.status_code == 201
    assert len(token.json()["token"]) >= 40
    listed = client.get("/api/v1/properties", headers=manager).json()["items"]
    assert made.json()["id"] in {item["id"] for item in listed}
    totp = client.patch(url, json={"require_manager_totp": True}, headers=manager)
    assert totp.json()["require_manager_totp"] is True
    # From now on this manager's token, obtained without TOTP, holds no manager power here.
    assert client.get(url, headers=manager).json()["type"].endswith("/totp-required")


def test_lists_page_with_a_cursor(client: TestClient, site: Site) -> None:
    manager = site.auth("portfolio_manager")
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get(f"{site.url}/doors", params=params, headers=manager).json()
        seen += [door["id"] for door in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 4
    assert client.get(f"{site.url}/doors", params={"limit": 0}, headers=manager).status_code == 422


def test_keys_and_grants_round_trip(client: TestClient, db: Session, site: Site) -> None:
    manager = site.auth("pm_keys_full")
    key = client.post(
        f"{site.url}/keys",
        json={
            "name": "Package room",
            "door_ids": [site.package_room_id],
            "windows": [{"weekday": 0, "start": "08:00", "end": "20:00"}],
        },
        headers=manager,
    )
    assert key.status_code == 201, key.text
    key_url = f"{site.url}/keys/{key.json()['id']}"
    grant = client.post(
        f"{key_url}/grants",
        json={"person_id": site.person("staff"), "ends_at": "2026-04-01T00:00:00Z"},
        headers=manager,
    )
    changed = client.patch(key_url, json={"may_share": True}, headers=manager)
    revoked = client.delete(f"{key_url}/grants/{grant.json()['id']}", headers=manager)

    assert grant.status_code == 201
    assert grant.json()["starts_at"] == "2026-03-02T09:00:00Z"
    assert changed.json()["may_share"] is True
    assert changed.json()["windows"] == [{"weekday": 0, "start": "08:00", "end": "20:00"}]
    assert revoked.status_code == 200
    assert revoked.json()["locks"] == []
    grants = client.get(f"{key_url}/grants", headers=manager).json()["items"]
    assert [g["revoked_at"] for g in grants] == ["2026-03-02T09:00:00Z"]
    specific = client.get(f"{site.url}/keys", headers=site.auth("pm_keys_specific")).json()
    assert [k["id"] for k in specific["items"]] == [site.personas.managed_key_id]


def test_people_roles_and_csv_import(client: TestClient, db: Session, site: Site) -> None:
    manager = site.auth("portfolio_manager")
    person = client.post(
        f"{site.url}/people",
        json={"email": "jo@example.org", "display_name": "Jo", "role": "staff"},
        headers=manager,
    )
    assert person.status_code == 201, person.text
    person_id = person.json()["id"]
    role = client.post(
        f"{site.url}/people/{person_id}/roles",
        json={"role": "resident", "unit_id": site.personas.unit_id},
        headers=manager,
    )
    removed = client.delete(f"{site.url}/roles/{role.json()['id']}", headers=manager)
    imported = client.post(
        f"{site.url}/people/import",
        json={"csv": "name,email,unit\nAna Lima,ana@example.org,4B\nJo,jo@example.org,5C\n"},
        headers=manager,
    )

    assert role.status_code == 201
    assert removed.status_code == 204
    assert imported.status_code == 201, imported.text
    assert [(r["line"], r["status"]) for r in imported.json()["rows"]] == [
        (2, "created"),
        (3, "added"),
    ]
    shown = client.get(f"{site.url}/people/{person_id}", headers=manager).json()
    assert sorted(r["role"] for r in shown["roles"]) == ["resident", "staff"]
    assert mails_to(db, "ana@example.org")
    residents = db.scalars(
        select(RoleMembership.unit_id).where(
            RoleMembership.role == Role.RESIDENT,
            RoleMembership.person_id == person_id,
            RoleMembership.in_force(),  # the ended residency in 4B stays, for the record
        )
    ).all()
    assert residents == [site.other_unit_id]
    everyone = client.get(f"{site.url}/people", params={"limit": 100}, headers=manager).json()
    assert {"jo@example.org", "ana@example.org"} <= {p["email"] for p in everyone["items"]}


def test_keycards_activate_and_deactivate(client: TestClient, db: Session, site: Site) -> None:
    manager = site.auth("pm_keys_limited")
    resident = site.person("resident")
    card = client.post(
        f"{site.url}/people/{resident}/keycards", json={"card_uid": "04aabbcc"}, headers=manager
    ).json()
    taken = client.post(
        f"{site.url}/people/{site.person('staff')}/keycards",
        json={"card_uid": "04AABBCC"},
        headers=manager,
    )
    off = client.delete(f"{site.url}/keycards/{card['id']}", headers=manager)

    assert taken.status_code == 409
    assert off.status_code == 200
    assert {lock["device_id"] for lock in off.json()["locks"]} == {
        site.entrance_lock_id,
        site.home_lock_id,
    }
    db.expire_all()
    assert db.get_one(Keycard, card["id"]).active is False
    assert off.json()["revoked_at"] == T0.isoformat().replace("+00:00", "Z")


def test_a_door_lockdown_reaches_the_door_list_and_each_lock_at_its_sync(
    client: TestClient, db: Session, site: Site
) -> None:
    manager = site.auth("property_manager")
    url = f"{site.url}/doors/{site.home_id}/lockdown"
    locked = client.put(url, headers=manager)
    carried = build_access_list(db, MASTER_KEY, site.home_id, T0).lockdown
    before = client.get(url, headers=manager).json()
    sync(db, site.home_lock_id)
    status = client.get(url, headers=manager).json()

    assert locked.status_code == 200
    assert locked.json()["lockdown"] is True
    assert client.get(f"{site.url}/doors/{site.home_id}", headers=manager).json()["lockdown"]
    assert carried is True
    assert [lock["applied"] for lock in before["locks"]] == [False]
    assert [lock["applied"] for lock in status["locks"]] == [True]
    lifted = client.delete(url, headers=manager).json()
    assert lifted["lockdown"] is False
