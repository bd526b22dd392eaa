"""The history API under the privacy rules: /events, the CSV export and event photos (V, P4).

Every rule test calls the real app over HTTP on SQLite and PostgreSQL, with events stored
as ingest stores them, and checks exactly which entries each person gets back.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from factories import JPEG, MASTER_KEY, T0, bearer, give_role
from keyturn.cloud.history.ingestion import ingest_photos
from keyturn.cloud.models import AuditRecord, Event, Grant, Photo, Property
from keyturn.crypto.sealed import encrypt_blob, new_data_key
from keyturn.protocol.messages import PhotoUpload
from keyturn.protocol.photos import photo_context
from keyturn.rules.types import CredentialType, Reason, Role
from worlds import (
    HistoryWorld,
    add_event,
    add_photo,
    all_pages,
    make_history_world,
    tokens,
)


@pytest.fixture
def world(db: Session, tmp_path: Path) -> HistoryWorld:
    """The building with one entry of each kind that the V and P rules tell apart."""
    built = make_history_world(db)
    add_event(db, built, "resident_home", "1A", "resident", by_resident=True, minutes=1)
    add_event(db, built, "coresident_home", "1A", "coresident", by_resident=True, minutes=2)
    add_event(db, built, "neighbour_home", "2B", "neighbour", by_resident=True, minutes=3)
    guest = add_event(
        db,
        built,
        "guest_at_1A",
        "1A",
        "guest",
        granted_by="resident",
        minutes=4,
        credential=CredentialType.SINGLE_DAY_CODE,
    )
    add_photo(db, tmp_path, guest)
    add_event(db, built, "staff_at_1A", "1A", "staff", minutes=5)
    add_event(db, built, "staff_at_gym", "gym", "staff", minutes=6)
    add_event(db, built, "manager_at_entrance", "entrance", "manager", minutes=7)
    add_event(db, built, "resident_at_entrance", "entrance", "resident", minutes=8)
    visitor = add_event(
        db, built, "guest_at_entrance", "entrance", "guest", granted_by="resident", minutes=9
    )
    add_photo(db, tmp_path, visitor)
    wrong = add_event(
        db,
        built,
        "wrong_code_at_1A",
        "1A",
        None,
        minutes=10,
        credential=CredentialType.PERSONAL_DOORCODE,
        reason=Reason.UNKNOWN_CREDENTIAL,
    )
    add_photo(db, tmp_path, wrong)
    add_event(db, built, "resident_at_oak", "oak", "resident", minutes=11)
    db.commit()
    return built


@pytest.fixture
def token(db: Session, world: HistoryWorld) -> dict[str, str]:
    return tokens(db, world)


def _names(world: HistoryWorld, items: list[dict[str, Any]]) -> set[str]:
    by_id = {event.id: name for name, event in world.events.items()}
    return {by_id[item["id"]] for item in items}


def _seen(client: TestClient, world: HistoryWorld, token: str, **params: Any) -> set[str]:
    return _names(world, all_pages(client, token, world.property_id, **params))


RESIDENTS_OWN = {"resident_home", "coresident_home", "neighbour_home"}


def test_rule_v1_managers_and_staff_never_see_residents_own_entries_at_their_door(
    client: TestClient, world: HistoryWorld, token: dict[str, str]
) -> None:
    for person in ("manager", "security", "owner", "staff", "guest"):
        assert _seen(client, world, token[person]).isdisjoint(RESIDENTS_OWN), person


def test_rule_v2_residents_see_every_entry_at_their_own_residence_door(
    client: TestClient, world: HistoryWorld, token: dict[str, str]
) -> None:
    at_1a = {
        "resident_home",
        "coresident_home",
        "guest_at_1A",
        "staff_at_1A",
        "wrong_code_at_1A",
    }
    for person in ("resident", "coresident"):
        seen = _seen(client, world, token[person])
        assert at_1a <= seen, person
        assert "neighbour_home" not in seen
    assert _seen(client, world, token["neighbour"]) == {"neighbour_home"}


def test_rule_v3_managers_see_staff_and_manager_entries_at_every_door(
    client: TestClient, world: HistoryWorld, token: dict[str, str]
) -> None:
    staff_and_managers = {"staff_at_1A", "staff_at_gym", "manager_at_entrance"}
    for person in ("manager", "security", "owner"):
        assert staff_and_managers <= _seen(client, world, token[person]), person


def test_rule_v4_managers_see_shared_doors_fully_and_visitors_at_residence_doors(
    client: TestClient, world: HistoryWorld, token: dict[str, str]
) -> None:
    everything_here = {name for name in world.events if name != "resident_at_oak"}

    seen = _seen(client, world, token["manager"])

    assert seen == everything_here - RESIDENTS_OWN
    assert {"resident_at_entrance", "guest_at_1A", "wrong_code_at_1A"} <= seen


def test_rule_v5_people_see_their_own_entries_and_grantors_their_guests_entries(
    client: TestClient, world: HistoryWorld, token: dict[str, str]
) -> None:
    assert _seen(client, world, token["staff"]) == {"staff_at_1A", "staff_at_gym"}
    assert _seen(client, world, token["guest"]) == {"guest_at_1A", "guest_at_entrance"}
    resident = _seen(client, world, token["resident"])
    assert {"resident_at_entrance", "guest_at_entrance"} <= resident
    assert "staff_at_gym" not in resident
    assert "resident_at_oak" not in resident  # another property's history stays there


def _audits(db: Session, action: str) -> list[AuditRecord]:
    db.expire_all()
    return list(db.scalars(select(AuditRecord).where(AuditRecord.action == action)))


def test_rule_v6_every_manager_read_of_history_is_audited(
    client: TestClient, db: Session, world: HistoryWorld, token: dict[str, str]
) -> None:
    gym = world.doors["gym"].id
    answer = client.get(
        f"/api/v1/properties/{world.property_id}/events",
        params={"door_id": gym, "outcome": "granted", "limit": 5},
        headers=bearer(token["manager"]),
    )
    assert answer.status_code == 200

    [entry] = _audits(db, "history.read")
    assert entry.actor_person_id == world.people["manager"]
    assert entry.property_id == world.property_id
    assert entry.detail["filters"] == {"door_id": gym, "granted": True}
    assert entry.detail["count"] == len(answer.json()["items"]) == 1
    assert entry.detail["as_manager"] is True


def test_rule_v6_residents_reads_are_audited_too_and_marked_as_not_a_managers(
    client: TestClient, db: Session, world: HistoryWorld, token: dict[str, str]
) -> None:
    client.get(f"/api/v1/properties/{world.property_id}/events", headers=bearer(token["resident"]))

    [entry] = _audits(db, "history.read")
    assert entry.actor_person_id == world.people["resident"]
    assert entry.detail["as_manager"] is False


def test_rule_v6_exports_are_audited_and_hold_only_what_the_manager_may_see(
    client: TestClient, db: Session, world: HistoryWorld, token: dict[str, str]
) -> None:
    answer = client.get(
        f"/api/v1/properties/{world.property_id}/events/export.csv",
        headers=bearer(token["manager"]),
    )

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert _names(world, rows) == _seen(client, world, token["manager"])
    assert _names(world, rows).isdisjoint(RESIDENTS_OWN)
    [entry] = _audits(db, "history.export")
    assert entry.actor_person_id == world.people["manager"]
    assert entry.property_id == world.property_id


def test_exports_are_for_managers_only(
    client: TestClient, db: Session, world: HistoryWorld, token: dict[str, str]
) -> None:
    url = f"/api/v1/properties/{world.property_id}/events/export.csv"

    assert client.get(url, headers=bearer(token["resident"])).status_code == 403
    assert client.get(url, headers=bearer(token["outsider"])).status_code == 404
    assert _audits(db, "history.export") == []


def _photo(client: TestClient, world: HistoryWorld, token: str, event: str) -> Any:
    return client.get(f"/api/v1/events/{world.events[event].id}/photo", headers=bearer(token))


def test_rule_p4_residence_door_photo_for_its_residents_and_security_viewers_only(
    client: TestClient, db: Session, world: HistoryWorld, token: dict[str, str]
) -> None:
    for person in ("resident", "coresident", "security"):
        answer = _photo(client, world, token[person], "guest_at_1A")
        assert answer.status_code == 200, person
        assert answer.content == JPEG
        assert answer.headers["content-type"] == "image/jpeg"
    for person in ("manager", "owner", "staff", "guest", "neighbour"):
        answer = _photo(client, world, token[person], "guest_at_1A")
        assert answer.status_code == 404, person
        assert answer.json()["type"].endswith("/not-found")
    assert len(_audits(db, "photo.read")) == 3


def test_rule_p4_other_doors_photos_for_security_viewers_only(
    client: TestClient, world: HistoryWorld, token: dict[str, str]
) -> None:
    assert _photo(client, world, token["security"], "guest_at_entrance").status_code == 200
    for person in ("resident", "guest", "manager", "owner", "outsider"):
        assert _photo(client, world, token[person], "guest_at_entrance").status_code == 404


def test_rule_p4_has_photo_says_whether_this_caller_may_fetch_it(
    client: TestClient, world: HistoryWorld, token: dict[str, str]
) -> None:
    def flags(person: str) -> dict[str, bool]:
        items = all_pages(client, token[person], world.property_id)
        names = {event.id: name for name, event in world.events.items()}
        return {names[item["id"]]: item["has_photo"] for item in items}

    assert flags("resident")["guest_at_1A"] is True
    assert flags("resident")["guest_at_entrance"] is False
    assert flags("manager")["guest_at_1A"] is False
    assert flags("security")["guest_at_1A"] is True
    assert flags("security")["staff_at_gym"] is False


def test_erased_photos_are_gone_for_those_who_could_see_them(
    client: TestClient, db: Session, world: HistoryWorld, token: dict[str, str]
) -> None:
    db.execute(update(Photo).values(key_sealed=None, erased_at=T0))
    db.commit()

    erased = _photo(client, world, token["resident"], "guest_at_1A")

    assert erased.status_code == 410
    assert erased.json()["type"].endswith("/photo-erased")
    assert _photo(client, world, token["manager"], "guest_at_1A").status_code == 404


def test_photos_of_unknown_or_foreign_events_are_not_found(
    client: TestClient, world: HistoryWorld, token: dict[str, str]
) -> None:
    assert (
        client.get("/api/v1/events/nope/photo", headers=bearer(token["security"])).status_code
        == 404
    )
    foreign = _photo(client, world, token["security"], "resident_at_oak")
    assert foreign.status_code == 404
    without = _photo(client, world, token["security"], "staff_at_gym")
    assert without.status_code == 404


def test_a_photo_stored_by_ingest_can_be_served(
    client: TestClient, db: Session, world: HistoryWorld, token: dict[str, str], tmp_path: Path
) -> None:
    event = world.events["staff_at_gym"]
    door = world.doors["gym"]
    data_key = new_data_key()
    upload = PhotoUpload(
        photo_id="lock-p-1",
        seq=1,
        content_type="image/jpeg",
        data_key=data_key,
        ciphertext=encrypt_blob(data_key, JPEG, photo_context("lock-p-1")),
    )
    device = SimpleNamespace(id="device-9")
    [row_id] = ingest_photos(db, MASTER_KEY, tmp_path / "photos", device, door, [upload], T0)
    db.execute(update(Event).where(Event.id == event.id).values(photo_id=row_id))
    db.commit()

    assert _photo(client, world, token["security"], "staff_at_gym").content == JPEG


def test_a_manager_without_totp_at_a_strict_property_reads_as_a_non_manager(
    client: TestClient, db: Session, world: HistoryWorld
) -> None:
    db.execute(
        update(Property).where(Property.id == world.property_id).values(require_manager_totp=True)
    )
    give_role(
        db,
        person_id=world.people["resident"],
        property_id=world.property_id,
        role=Role.PROPERTY_MANAGER,
    )
    db.commit()
    plain = tokens(db, world)
    strong = tokens(db, world, resident=True)

    without = _seen(client, world, plain["resident"])
    with_totp = _seen(client, world, strong["resident"])

    assert "staff_at_gym" not in without  # the resident view only
    assert "guest_at_1A" in without
    assert "staff_at_gym" in with_totp


def test_filters_narrow_what_the_caller_may_see(
    client: TestClient, world: HistoryWorld, token: dict[str, str]
) -> None:
    manager = token["manager"]
    entrance = world.doors["entrance"].id
    start = world.events["staff_at_gym"].occurred_at
    end = world.events["resident_at_entrance"].occurred_at

    assert _seen(client, world, manager, door_id=entrance) == {
        "manager_at_entrance",
        "resident_at_entrance",
        "guest_at_entrance",
    }
    assert _seen(client, world, manager, person_id=world.people["guest"]) == {
        "guest_at_1A",
        "guest_at_entrance",
    }
    assert _seen(client, world, manager, person_id=world.people["resident"]) == {
        "resident_at_entrance"
    }
    assert _seen(client, world, manager, since=start.isoformat(), until=end.isoformat()) == {
        "staff_at_gym",
        "manager_at_entrance",
    }
    assert _seen(client, world, manager, outcome="denied") == {"wrong_code_at_1A"}
    assert _seen(client, world, manager, credential_type="single_day_code") == {"guest_at_1A"}


def test_pages_are_newest_first_and_typed(
    client: TestClient, world: HistoryWorld, token: dict[str, str]
) -> None:
    items = all_pages(client, token["manager"], world.property_id, limit=2)

    times = [item["occurred_at"] for item in items]
    assert times == sorted(times, reverse=True)
    wrong = next(i for i in items if i["id"] == world.events["wrong_code_at_1A"].id)
    assert wrong["outcome"] == "denied"
    assert wrong["reason"] == "unknown_credential"
    assert wrong["subject_id"] is None
    assert wrong["door_kind"] == "residence"
    assert wrong["clock_uncertain"] is False


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "2026-03-02T09:00:00"}, "since"),
        ({"until": "yesterday"}, "until"),
        ({"outcome": "maybe"}, "outcome"),
        ({"credential_type": "retina"}, "credential_type"),
        ({"limit": 501}, "limit"),
        ({"limit": 0}, "limit"),
        ({"since": "2026-03-02T10:00:00Z", "until": "2026-03-02T09:00:00Z"}, "until"),
    ],
)
def test_bad_filters_are_422_problems_naming_the_field(
    client: TestClient,
    db: Session,
    world: HistoryWorld,
    token: dict[str, str],
    params: dict[str, Any],
    field: str,
) -> None:
    answer = client.get(
        f"/api/v1/properties/{world.property_id}/events",
        params=params,
        headers=bearer(token["manager"]),
    )

    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert field in {error["loc"][-1] for error in answer.json()["errors"]}
    assert _audits(db, "history.read") == []


def test_a_cursor_not_issued_here_is_a_bad_cursor_problem(
    client: TestClient, db: Session, world: HistoryWorld, token: dict[str, str]
) -> None:
    answer = client.get(
        f"/api/v1/properties/{world.property_id}/events",
        params={"cursor": "not-a-cursor"},
        headers=bearer(token["manager"]),
    )

    assert answer.status_code == 400
    assert answer.json()["type"].endswith("/bad-cursor")


def test_unknown_and_foreign_properties_are_not_found(
    client: TestClient, world: HistoryWorld, token: dict[str, str]
) -> None:
    manager = bearer(token["manager"])

    unknown = client.get("/api/v1/properties/nope/events", headers=manager)
    foreign = client.get(f"/api/v1/properties/{world.other_property_id}/events", headers=manager)

    assert unknown.status_code == 404
    assert unknown.json()["type"].endswith("/not-found")
    assert foreign.status_code == 404


def test_the_openapi_documents_typed_history_responses(client: TestClient) -> None:
    spec = client.get("/api/v1/openapi.json").json()

    listing = spec["paths"]["/api/v1/properties/{property_id}/events"]["get"]
    schema = listing["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("/EventPage")
    assert spec["components"]["schemas"]["EventOut"]["examples"]
    photo = spec["paths"]["/api/v1/events/{event_id}/photo"]["get"]
    assert "image/jpeg" in photo["responses"]["200"]["content"]


def test_a_resident_who_moved_out_keeps_only_their_own_entries(
    app: FastAPI, client: TestClient, db: Session, world: HistoryWorld, token: dict[str, str]
) -> None:
    db.execute(
        update(Grant)
        .where(Grant.person_id == world.people["resident"])
        .values(ends_at=T0 + timedelta(days=1))
    )
    db.commit()
    app.state.clock.advance(days=2)

    seen = _seen(client, world, token["resident"])

    assert "resident_home" in seen
    assert "coresident_home" not in seen
    assert "staff_at_1A" not in seen
