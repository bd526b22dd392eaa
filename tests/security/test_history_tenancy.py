"""Regressions: a residence door's history is shown to its residents only for the time they held
resident status there (V1, V2, P4, D1).

Before, resident status counted as of "now": a keys-full manager could make a key for another
unit's door, grant it to themself with resident status and read every past entry there, and a
tenant who moved in saw every earlier tenant's entries. Each test goes through the real app
over HTTP (the data copy through its service) on SQLite and PostgreSQL.
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import MASTER_KEY, T0, Clock, bearer, make_member
from keyturn.cloud.models import (
    AuditRecord,
    Grant,
    Key,
)
from keyturn.cloud.privacy.export import build_copy
from keyturn.rules.types import CredentialType, Permission, Role
from worlds import (
    HistoryWorld,
    add_event,
    add_photo,
    all_pages,
    make_history_world,
    tokens,
)

# add_event's minutes count from an hour before T0; the app's clock starts at T0.
BEFORE = 0  # T0 - 1 h: history made before any status given in these tests
AFTER = 120  # T0 + 1 h: after it


@pytest.fixture
def world(db: Session) -> HistoryWorld:
    """12 Elm St with a keys-full manager ("mallory") and a tenant about to move into 2B."""
    built = make_history_world(db)
    for name, role, permission in (
        ("mallory", Role.PROPERTY_MANAGER, Permission.KEYS_FULL),
        ("newcomer", Role.RESIDENT, None),
    ):
        built.people[name] = make_member(
            db,
            email=f"{name}@example.org",
            name=name,
            property_id=built.property_id,
            role=role,
            unit_id=built.doors["2B"].unit_id if role == Role.RESIDENT else None,
            permission=permission,
        ).id
    db.commit()
    return built


@pytest.fixture
def token(db: Session, world: HistoryWorld) -> dict[str, str]:
    return tokens(db, world)


def _seen(client: TestClient, world: HistoryWorld, token: str) -> set[str]:
    items = all_pages(client, token, world.property_id)
    names = {event.id: name for name, event in world.events.items()}
    return {names[item["id"]] for item in items if item["id"] in names}


def _key_id(db: Session, world: HistoryWorld, name: str) -> str:
    return db.scalars(
        select(Key.id).where(Key.property_id == world.property_id, Key.name == name)
    ).one()


def _grant(
    client: TestClient, world: HistoryWorld, token: str, key_id: str, person: str, **body: Any
) -> Any:
    return client.post(
        f"/api/v1/properties/{world.property_id}/keys/{key_id}/grants",
        json={"person_id": world.people[person], **body},
        headers=bearer(token),
    )


def test_rule_v2_a_manager_cannot_give_themself_resident_status_at_another_units_door(
    client: TestClient, db: Session, world: HistoryWorld, token: dict[str, str]
) -> None:
    add_event(db, world, "neighbour_home", "2B", "neighbour", by_resident=True, minutes=BEFORE)
    add_event(db, world, "guest_at_2B", "2B", "guest", granted_by="neighbour", minutes=BEFORE + 1)
    db.commit()
    made = client.post(
        f"/api/v1/properties/{world.property_id}/keys",
        json={"name": "Spare 2B", "door_ids": [world.doors["2B"].id]},
        headers=bearer(token["mallory"]),
    )
    assert made.status_code == 201, made.text
    spare = made.json()["id"]

    refused = _grant(client, world, token["mallory"], spare, "mallory", resident=True)

    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["type"].endswith("/self-resident-status")
    db.expire_all()
    assert db.scalars(select(Grant).where(Grant.key_id == spare)).all() == []
    # The residents' own entry stays theirs (V1); the guest's is shown for security (V4).
    assert _seen(client, world, token["mallory"]) == {"guest_at_2B"}


def test_rule_v2_a_resident_status_given_later_opens_no_earlier_history(
    client: TestClient, db: Session, world: HistoryWorld, token: dict[str, str], clock: Clock
) -> None:
    add_event(db, world, "neighbour_before", "2B", "neighbour", by_resident=True, minutes=BEFORE)
    db.commit()
    spare = client.post(
        f"/api/v1/properties/{world.property_id}/keys",
        json={"name": "Spare 2B", "door_ids": [world.doors["2B"].id]},
        headers=bearer(token["mallory"]),
    ).json()["id"]

    # Another manager gives it, even with a start a month back: it starts when it is given.
    given = _grant(
        client,
        world,
        token["owner"],
        spare,
        "mallory",
        resident=True,
        starts_at=(T0 - timedelta(days=30)).isoformat(),
    )
    assert given.status_code == 201, given.text
    add_event(db, world, "neighbour_after", "2B", "neighbour", by_resident=True, minutes=AFTER)
    db.commit()
    clock.advance(hours=2)

    assert _seen(client, world, token["mallory"]) == {"neighbour_after"}
    assert datetime.fromisoformat(given.json()["starts_at"]) == T0
    # The world's own resident grants were audited when given, a month before T0.
    record = db.scalars(
        select(AuditRecord).where(
            AuditRecord.action == "grant.resident_status", AuditRecord.at >= T0
        )
    ).one()
    assert record.actor_person_id == world.people["owner"]
    assert record.object_id == given.json()["id"]
    assert record.detail["person_id"] == world.people["mallory"]
    assert record.detail["key_id"] == spare
    assert record.detail["door_ids"] == [world.doors["2B"].id]


def test_rule_v2_a_key_with_resident_status_gains_no_residence_door(
    client: TestClient, db: Session, world: HistoryWorld, token: dict[str, str], clock: Clock
) -> None:
    add_event(db, world, "resident_home", "1A", "resident", by_resident=True, minutes=BEFORE)
    db.commit()
    spare = client.post(
        f"/api/v1/properties/{world.property_id}/keys",
        json={"name": "Spare 2B", "door_ids": [world.doors["2B"].id]},
        headers=bearer(token["mallory"]),
    ).json()["id"]
    assert _grant(client, world, token["owner"], spare, "mallory", resident=True).status_code == 201

    widened = client.patch(
        f"/api/v1/properties/{world.property_id}/keys/{spare}",
        json={"door_ids": [world.doors["2B"].id, world.doors["1A"].id]},
        headers=bearer(token["mallory"]),
    )

    assert widened.status_code == 409, widened.text
    assert widened.json()["type"].endswith("/resident-key-door")
    db.expire_all()
    assert [door.id for door in db.get_one(Key, spare).doors] == [world.doors["2B"].id]
    clock.advance(hours=2)
    assert "resident_home" not in _seen(client, world, token["mallory"])


def _move_in(
    client: TestClient, db: Session, world: HistoryWorld, token: dict[str, str], data_dir: Path
) -> None:
    """At T0 the neighbour moves out of 2B and the newcomer moves in; history on both sides."""
    add_event(db, world, "old_tenant_home", "2B", "neighbour", by_resident=True, minutes=BEFORE)
    old_guest = add_event(
        db,
        world,
        "old_tenants_guest",
        "2B",
        "guest",
        granted_by="neighbour",
        minutes=BEFORE + 1,
        credential=CredentialType.SINGLE_DAY_CODE,
    )
    add_photo(db, data_dir, old_guest)
    add_event(db, world, "staff_before", "2B", "staff", minutes=BEFORE + 2)
    db.commit()
    unit_key = _key_id(db, world, "Unit 2B")
    old = db.scalars(
        select(Grant.id).where(
            Grant.key_id == unit_key, Grant.person_id == world.people["neighbour"]
        )
    ).one()
    out = client.delete(
        f"/api/v1/properties/{world.property_id}/keys/{unit_key}/grants/{old}",
        headers=bearer(token["owner"]),
    )
    assert out.status_code == 200, out.text
    assert (
        _grant(client, world, token["owner"], unit_key, "newcomer", resident=True).status_code
        == 201
    )
    add_event(db, world, "new_tenant_home", "2B", "newcomer", by_resident=True, minutes=AFTER)
    new_guest = add_event(
        db,
        world,
        "new_tenants_guest",
        "2B",
        "guest",
        granted_by="newcomer",
        minutes=AFTER + 1,
        credential=CredentialType.SINGLE_DAY_CODE,
    )
    add_photo(db, data_dir, new_guest)
    add_event(db, world, "manager_after", "2B", "manager", minutes=AFTER + 2)
    add_event(db, world, "staff_after", "2B", "staff", minutes=AFTER + 3)
    db.commit()


def test_rule_v2_a_new_tenant_sees_nothing_of_the_previous_tenants_history(
    client: TestClient,
    db: Session,
    world: HistoryWorld,
    token: dict[str, str],
    clock: Clock,
    tmp_path: Path,
) -> None:
    _move_in(client, db, world, token, tmp_path)
    clock.advance(hours=2)

    seen = _seen(client, world, token["newcomer"])

    assert seen == {"new_tenant_home", "new_tenants_guest", "manager_after", "staff_after"}
    # The tenant who moved out keeps only their own entries and their guest's (V5).
    assert _seen(client, world, token["neighbour"]) == {"old_tenant_home", "old_tenants_guest"}


def test_rule_p4_a_new_tenant_sees_no_photo_from_before_moving_in(
    client: TestClient,
    db: Session,
    world: HistoryWorld,
    token: dict[str, str],
    clock: Clock,
    tmp_path: Path,
) -> None:
    _move_in(client, db, world, token, tmp_path)
    clock.advance(hours=2)
    newcomer = bearer(token["newcomer"])

    earlier = client.get(
        f"/api/v1/events/{world.events['old_tenants_guest'].id}/photo", headers=newcomer
    )
    later = client.get(
        f"/api/v1/events/{world.events['new_tenants_guest'].id}/photo", headers=newcomer
    )

    assert earlier.status_code == 404
    assert later.status_code == 200


def test_rule_v2_a_new_tenants_data_copy_holds_none_of_the_previous_tenants_history(
    client: TestClient,
    db: Session,
    world: HistoryWorld,
    token: dict[str, str],
    clock: Clock,
    tmp_path: Path,
) -> None:
    _move_in(client, db, world, token, tmp_path)
    clock.advance(hours=2)
    copy = build_copy(db, MASTER_KEY, tmp_path / "photos", world.people["newcomer"], clock.now)

    with zipfile.ZipFile(io.BytesIO(copy)) as archive:
        history = json.loads(archive.read("access_history.json"))
    names = {event.id: name for name, event in world.events.items()}
    assert {names[row["id"]] for row in history} == {
        "new_tenant_home",
        "new_tenants_guest",
        "manager_after",
        "staff_after",
    }
