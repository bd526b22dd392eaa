"""The manager routes over HTTP: appoint, change and remove a property manager, then what the
manager may do through the real routes, on SQLite and PostgreSQL.

Who may change managers, the refusals, the audit record of every change and the D4 and P4
consequences of setting or removing powers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from factories import MASTER_KEY, T0, bearer, make_key
from keyturn.cloud.models import (
    AuditRecord,
    ManagedKey,
    RequestKind,
    RequestState,
    RoleMembership,
    RolePermission,
)
from keyturn.cloud.privacy import requests
from keyturn.rules.types import Permission, Role
from worlds import HistoryWorld, Site, add_event, add_photo, make_history_world, tokens

FULL = {"keys": "full"}


def _managers_url(site: Site, persona: str) -> str:
    return f"{site.url}/managers/{site.person(persona)}"


def _put(client: TestClient, site: Site, persona: str, body: dict[str, Any], by: str) -> Any:
    return client.put(_managers_url(site, persona), json=body, headers=site.auth(by))


def _audits(db: Session, person_id: str) -> list[AuditRecord]:
    db.expire_all()
    return list(
        db.scalars(
            select(AuditRecord)
            .where(AuditRecord.object_type == "manager", AuditRecord.object_id == person_id)
            .order_by(AuditRecord.at, AuditRecord.action)
        )
    )


def _permissions(db: Session, person_id: str) -> set[Permission]:
    db.expire_all()
    rows = db.scalars(
        select(RolePermission.permission).where(RolePermission.person_id == person_id)
    )
    return {Permission(p) for p in rows}


def _listed(client: TestClient, site: Site, by: str) -> dict[str, dict[str, Any]]:
    answer = client.get(f"{site.url}/managers", headers=site.auth(by))
    assert answer.status_code == 200, answer.text
    return {item["person_id"]: item for item in answer.json()["items"]}


def test_appoint_change_and_remove_a_manager_each_audited_with_before_and_after(
    client: TestClient, db: Session, site: Site
) -> None:
    staff = site.person("staff")
    owner = site.person("portfolio_manager")
    assert staff not in _listed(client, site, "portfolio_manager")

    appointed = _put(client, site, "staff", FULL, "portfolio_manager")
    assert appointed.status_code == 200, appointed.text
    assert appointed.json() | {"appointed_at": None} == {
        "person_id": staff,
        "display_name": "Test Person",
        "email": "staff@example.org",
        "role": "property_manager",
        "keys": "full",
        "managed_keys": [],
        "device_management": False,
        "security_viewer": False,
        "appointed_by": owner,
        "appointed_by_name": "Test Person",
        "appointed_at": None,
    }
    assert _listed(client, site, "property_manager")[staff]["keys"] == "full"

    specific = {
        "keys": "specific",
        "key_ids": [site.personas.managed_key_id],
        "device_management": True,
        "security_viewer": False,
    }
    changed = _put(client, site, "staff", specific, "portfolio_manager")
    assert changed.status_code == 200, changed.text
    assert changed.json()["managed_keys"] == [{"id": site.personas.managed_key_id, "name": "Gym"}]
    assert _permissions(db, staff) == {Permission.KEYS_SPECIFIC, Permission.DEVICE_MANAGEMENT}

    removed = client.delete(_managers_url(site, "staff"), headers=site.auth("portfolio_manager"))
    assert removed.status_code == 204
    assert staff not in _listed(client, site, "portfolio_manager")
    assert _permissions(db, staff) == set()
    assert db.scalars(select(ManagedKey).where(ManagedKey.person_id == staff)).all() == []
    roles = db.scalars(select(RoleMembership.role).where(RoleMembership.person_id == staff)).all()
    assert roles == [Role.STAFF]

    records = _audits(db, staff)
    assert [r.action for r in records] == [
        "manager.appointed",
        "manager.changed",
        "manager.removed",
    ]
    assert {r.actor_person_id for r in records} == {owner}
    assert {r.property_id for r in records} == {site.property_id}
    none = {"keys": "none", "key_names": [], "device_management": False, "security_viewer": False}
    full = none | {"keys": "full"}
    gym = {"keys": "specific", "key_names": ["Gym"], "device_management": True}
    assert [(r.detail["before"], r.detail["after"]) for r in records] == [
        (None, full),
        (full, none | gym),
        (none | gym, None),
    ]


def test_the_same_powers_again_change_nothing_and_write_no_audit(
    client: TestClient, db: Session, site: Site
) -> None:
    body = {"keys": "limited", "device_management": True, "security_viewer": True}
    first = _put(client, site, "staff", body, "portfolio_manager")
    assert first.status_code == 200
    rows = set(db.scalars(select(RolePermission.id)))

    again = _put(client, site, "staff", body, "portfolio_manager")
    assert again.status_code == 200
    assert again.json() == first.json()
    assert set(db.scalars(select(RolePermission.id))) == rows
    assert len(_audits(db, site.person("staff"))) == 1


def test_specific_keys_manager_grants_their_key_and_no_other(
    client: TestClient, site: Site
) -> None:
    body = {"keys": "specific", "key_ids": [site.personas.managed_key_id]}
    assert _put(client, site, "staff", body, "portfolio_manager").status_code == 200

    def grant(key_id: str) -> int:
        answer = client.post(
            f"{site.url}/keys/{key_id}/grants",
            json={"person_id": site.person("resident")},
            headers=site.auth("staff"),
        )
        return answer.status_code

    assert grant(site.personas.managed_key_id) == 201
    assert grant(site.personas.other_key_id) == 403
    full = _put(client, site, "staff", FULL, "portfolio_manager")
    assert full.status_code == 200
    assert grant(site.personas.other_key_id) == 201


def test_device_management_is_what_lets_a_manager_enrol_a_lock(
    client: TestClient, site: Site
) -> None:
    def enrol() -> int:
        answer = client.post(
            f"{site.url}/doors/{site.package_room_id}/provisioning-tokens",
            json={"model": "keyturn-r1"},
            headers=site.auth("staff"),
        )
        return answer.status_code

    with_devices = {"keys": "none", "device_management": True}
    assert _put(client, site, "staff", with_devices, "portfolio_manager").status_code == 200
    assert enrol() == 201
    without = {"keys": "none", "device_management": False}
    assert _put(client, site, "staff", without, "portfolio_manager").status_code == 200
    assert enrol() == 403


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ({"keys": "specific"}, "invalid-manager-permissions"),
        ({"keys": "specific", "key_ids": []}, "invalid-manager-permissions"),
        ({"keys": "full", "key_ids": ["KEY"]}, "invalid-manager-permissions"),
        ({"keys": "specific", "key_ids": ["FOREIGN"]}, "unknown-reference"),
        ({"keys": "specific", "key_ids": ["NOWHERE"]}, "unknown-reference"),
        ({"keys": "everything"}, "validation"),
        ({"keys": "full", "device_management": "yes"}, "validation"),
    ],
)
def test_bad_powers_are_refused_with_nothing_changed(
    client: TestClient, db: Session, site: Site, body: dict[str, Any], kind: str
) -> None:
    ids = {
        "KEY": site.personas.managed_key_id,
        "FOREIGN": site.personas.other_key_in_other_property_id,
        "NOWHERE": "00000000-0000-4000-8000-000000000000",
    }
    body = {k: [ids[i] for i in v] if k == "key_ids" else v for k, v in body.items()}
    before = _permissions(db, site.person("pm_keys_limited"))
    for persona in ("pm_keys_limited", "staff"):
        answer = _put(client, site, persona, body, "portfolio_manager")
        assert answer.status_code == 422, answer.text
        assert answer.json()["type"].endswith(f"/{kind}")
        assert answer.json()["detail"]
    assert _permissions(db, site.person("pm_keys_limited")) == before
    assert _listed(client, site, "portfolio_manager").get(site.person("staff")) is None
    assert _audits(db, site.person("staff")) == []


def test_only_a_portfolio_manager_changes_managers(
    client: TestClient, db: Session, site: Site
) -> None:
    for persona in ("property_manager", "pm_keys_full", "staff", "resident"):
        answer = _put(client, site, "pm_keys_limited", FULL, persona)
        assert answer.status_code == 403, persona
        removal = client.delete(_managers_url(site, "pm_keys_limited"), headers=site.auth(persona))
        assert removal.status_code == 403, persona
    assert _permissions(db, site.person("pm_keys_limited")) == {Permission.KEYS_LIMITED}
    # Reading the list is reading people: every manager, nobody else.
    assert client.get(f"{site.url}/managers", headers=site.auth("staff")).status_code == 403
    assert site.person("pm_keys_limited") in _listed(client, site, "property_manager")


def test_nobody_changes_their_own_manager_access(
    client: TestClient, db: Session, site: Site
) -> None:
    owner = site.person("portfolio_manager")
    own = client.put(
        f"{site.url}/managers/{owner}", json=FULL, headers=site.auth("portfolio_manager")
    )
    assert own.status_code == 403
    assert own.json()["type"].endswith("/own-manager-powers")
    removal = client.delete(f"{site.url}/managers/{owner}", headers=site.auth("portfolio_manager"))
    assert removal.status_code == 403
    membership = db.scalars(
        select(RoleMembership.id).where(RoleMembership.person_id == owner)
    ).one()
    via_roles = client.delete(
        f"{site.url}/roles/{membership}", headers=site.auth("portfolio_manager")
    )
    assert via_roles.status_code == 403
    assert via_roles.json()["type"].endswith("/own-manager-powers")
    assert _audits(db, owner) == []


def test_a_portfolio_managers_powers_come_with_the_role(
    client: TestClient, db: Session, site: Site
) -> None:
    second = site.person("outsider")
    db.add(RoleMembership(person_id=second, property_id=site.property_id, role="portfolio_manager"))
    db.commit()
    answer = client.put(
        f"{site.url}/managers/{second}", json=FULL, headers=site.auth("portfolio_manager")
    )
    assert answer.status_code == 409
    assert answer.json()["type"].endswith("/portfolio-manager")
    removal = client.delete(f"{site.url}/managers/{second}", headers=site.auth("portfolio_manager"))
    assert removal.status_code == 409
    listed = _listed(client, site, "portfolio_manager")[second]
    assert (listed["role"], listed["keys"], listed["device_management"]) == (
        "portfolio_manager",
        "full",
        True,
    )


def test_people_of_other_properties_and_non_managers_answer_404(
    client: TestClient, db: Session, site: Site
) -> None:
    owner = site.auth("portfolio_manager")
    foreign = site.foreign_person_id
    elsewhere = f"/api/v1/properties/{site.personas.other_property_id}/managers"
    assert client.put(f"{site.url}/managers/{foreign}", json=FULL, headers=owner).status_code == 404
    assert client.put(f"{elsewhere}/{foreign}", json=FULL, headers=owner).status_code == 404
    assert client.delete(f"{elsewhere}/{foreign}", headers=owner).status_code == 404
    assert client.get(elsewhere, headers=owner).status_code == 404
    not_a_manager = client.delete(_managers_url(site, "staff"), headers=owner)
    assert not_a_manager.status_code == 404
    assert "not a property manager" in not_a_manager.json()["detail"]
    assert _permissions(db, foreign) == set()


def test_removing_the_manager_role_as_a_role_removes_the_powers_too(
    client: TestClient, db: Session, site: Site
) -> None:
    manager = site.person("pm_keys_specific")
    membership = db.scalars(
        select(RoleMembership.id).where(RoleMembership.person_id == manager)
    ).one()
    answer = client.delete(f"{site.url}/roles/{membership}", headers=site.auth("portfolio_manager"))
    assert answer.status_code == 204
    assert _permissions(db, manager) == set()
    assert db.scalars(select(ManagedKey).where(ManagedKey.person_id == manager)).all() == []
    [record] = _audits(db, manager)
    assert record.action == "manager.removed"
    assert record.detail["before"]["key_names"] == ["Gym"]


def test_a_manager_role_given_as_a_role_is_audited(
    client: TestClient, db: Session, site: Site
) -> None:
    answer = client.post(
        f"{site.url}/people/{site.person('staff')}/roles",
        json={"role": "property_manager"},
        headers=site.auth("portfolio_manager"),
    )
    assert answer.status_code == 201, answer.text
    [record] = _audits(db, site.person("staff"))
    assert (record.action, record.detail["after"]["keys"]) == ("manager.appointed", "none")
    assert _listed(client, site, "portfolio_manager")[site.person("staff")]["keys"] == "none"


def test_keys_of_the_property_only_even_with_the_same_name(
    client: TestClient, db: Session, site: Site
) -> None:
    twin = make_key(db, property_id=site.personas.other_property_id, name="Gym")
    db.commit()
    body = {"keys": "specific", "key_ids": [site.personas.managed_key_id, twin.id]}
    answer = _put(client, site, "staff", body, "portfolio_manager")
    assert answer.status_code == 422
    assert twin.id in answer.json()["detail"]


# -- P4 and D4 through the routes, in the history tests' building --------------------------------


@pytest.fixture
def world(db: Session) -> HistoryWorld:
    built = make_history_world(db)
    db.commit()
    return built


def test_rule_p4_security_viewer_set_by_a_portfolio_manager_opens_residence_door_photos(
    client: TestClient, db: Session, world: HistoryWorld, tmp_path: Path
) -> None:
    guest = add_event(db, world, "guest_at_1A", "1A", "guest", granted_by="resident")
    add_photo(db, tmp_path, guest)
    token = tokens(db, world)
    owner = bearer(token["owner"])
    url = f"/api/v1/properties/{world.property_id}/managers/{world.people['manager']}"
    photo = f"/api/v1/events/{guest.id}/photo"

    assert client.get(photo, headers=bearer(token["manager"])).status_code == 404
    viewer = {"keys": "none", "security_viewer": True}
    assert client.put(url, json=viewer, headers=owner).status_code == 200
    assert client.get(photo, headers=bearer(token["manager"])).status_code == 200
    assert client.put(url, json={"keys": "none"}, headers=owner).status_code == 200
    assert client.get(photo, headers=bearer(token["manager"])).status_code == 404


def test_rule_d4_a_managers_deletion_waits_until_a_portfolio_manager_removes_them(
    client: TestClient, db: Session, world: HistoryWorld
) -> None:
    manager = world.people["manager"]
    filed = requests.file_request(
        session=db, master_key=MASTER_KEY, person_id=manager, kind=RequestKind.DELETION, now=T0
    )
    assert filed.code is not None
    requests.confirm_code(
        db, MASTER_KEY, filed.request, filed.code, "manager@example.org", "manager", T0
    )
    assert requests.proceed(db, MASTER_KEY, None, filed.request, T0) == [
        "a portfolio manager must remove the property_manager role at 12 Elm St"
    ]
    assert filed.request.state == RequestState.WAITING_ON_PRECONDITIONS
    request_id = filed.request.id
    token = tokens(db, world)

    url = f"/api/v1/properties/{world.property_id}/managers/{manager}"
    assert client.delete(url, headers=bearer(token["manager"])).status_code == 403
    assert client.delete(url, headers=bearer(token["owner"])).status_code == 204

    request = db.get_one(type(filed.request), request_id)
    assert requests.proceed(db, MASTER_KEY, None, request, T0) == []
    assert request.executed_at == T0
    count = select(func.count(RoleMembership.id)).where(RoleMembership.person_id == manager)
    assert db.scalar(count) == 0
