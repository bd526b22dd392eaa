"""The explain and access-review routes: who may ask, what is 404, 422, and the names answered."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import MASTER_KEY, T0, give_doorcode
from keyturn.cloud.devices.service import current_access_list
from keyturn.cloud.models import AuditRecord
from keyturn.cloud.people.service import update_person
from worlds import Site, sync


def test_explain_names_the_key_and_says_the_lock_has_no_list_yet(
    client: TestClient, db: Session, site: Site
) -> None:
    resident = site.person("resident")
    give_doorcode(db, person_id=resident, door_id=site.entrance_id)
    # Published, but the lock has not synced since it was enrolled.
    current_access_list(session=db, master_key=MASTER_KEY, door_id=site.entrance_id, now=T0)
    db.commit()
    answer = client.get(
        f"{site.url}/explain",
        params={"person": resident, "door": site.entrance_id, "at": "2026-03-02T15:00:00+00:00"},
        headers=site.auth("portfolio_manager"),
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["door_name"] == "Entrance"
    assert body["time_zone"] == "America/New_York"
    assert body["lock"]["applied_version"] == 0
    assert "applied no list yet" in body["lock"]["note"]
    (doorcode,) = [c for c in body["credentials"] if c["credential_type"] == "personal_doorcode"]
    assert doorcode["reason"] == "unknown_credential"
    assert doorcode["after_sync"] == "granted"
    assert [s["outcome"] for s in doorcode["steps"]][:4] == [
        "passed",
        "passed",
        "failed",
        "not_checked",
    ]


def test_a_resident_may_not_ask_and_another_property_is_404(client: TestClient, site: Site) -> None:
    query = {"person": site.person("resident"), "door": site.entrance_id}
    assert (
        client.get(f"{site.url}/explain", params=query, headers=site.auth("resident")).status_code
        == 403
    )
    review = client.get(
        f"{site.url}/doors/{site.entrance_id}/access-review", headers=site.auth("resident")
    )
    assert review.status_code == 403
    foreign = {"person": site.foreign_person_id, "door": site.entrance_id}
    answer = client.get(
        f"{site.url}/explain", params=foreign, headers=site.auth("portfolio_manager")
    )
    assert answer.status_code == 404
    other_door = client.get(
        f"{site.url}/explain",
        params={"person": site.person("resident"), "door": site.foreign_door_id},
        headers=site.auth("portfolio_manager"),
    )
    assert other_door.status_code == 404


def test_a_naive_or_malformed_at_is_422(client: TestClient, site: Site) -> None:
    for at in ("2026-03-02T15:00:00", "yesterday"):
        answer = client.get(
            f"{site.url}/doors/{site.entrance_id}/access-review",
            params={"at": at},
            headers=site.auth("portfolio_manager"),
        )
        assert answer.status_code == 422, at


def test_access_review_lists_who_opens_the_door_by_key_name(
    client: TestClient, db: Session, site: Site
) -> None:
    resident = site.person("resident")
    give_doorcode(db, person_id=resident, door_id=site.home_id)
    db.commit()
    sync(db, site.home_lock_id)
    answer = client.get(
        f"{site.url}/doors/{site.home_id}/access-review",
        params={"at": "2026-03-02T15:00:00+00:00"},
        headers=site.auth("pm_keys_limited"),
    )
    assert answer.status_code == 200, answer.text
    people = answer.json()["people"]
    assert {(p["person_id"], p["credential_type"], p["key_name"]) for p in people} == {
        (resident, "personal_doorcode", "Residents 4B")
    }
    assert answer.json()["lock"]["up_to_date"] is True
    audited = db.scalars(select(AuditRecord).where(AuditRecord.action == "access.review")).all()
    assert [(r.object_id, r.actor_person_id, r.detail["people"]) for r in audited] == [
        (site.home_id, site.person("pm_keys_limited"), 1)
    ]


def test_a_door_without_a_lock_says_so(client: TestClient, site: Site) -> None:
    answer = client.get(
        f"{site.url}/explain",
        params={"person": site.person("resident"), "door": site.package_room_id},
        headers=site.auth("pm_keys_full"),
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["lock"]["device_id"] is None
    assert body["lock"]["note"].startswith("No lock is bound to this door")
    assert body["opens"] is False
    assert "No mobile key: no phone is enrolled." in body["missing"]


def test_explain_and_review_name_a_person_as_the_portfolio_knows_them(
    client: TestClient, db: Session, site: Site
) -> None:
    resident = site.person("resident")
    give_doorcode(db, person_id=resident, door_id=site.home_id)
    update_person(
        session=db,
        property_id=site.property_id,
        person_id=resident,
        display_name="Ada at 4B",
        is_minor=None,
    )
    db.commit()
    sync(db, site.home_lock_id)
    at = {"at": "2026-03-02T15:00:00+00:00"}
    headers = site.auth("portfolio_manager")

    explained = client.get(
        f"{site.url}/explain",
        params={"person": resident, "door": site.home_id, **at},
        headers=headers,
    )
    reviewed = client.get(
        f"{site.url}/doors/{site.home_id}/access-review", params=at, headers=headers
    )

    assert explained.status_code == 200, explained.text
    assert explained.json()["person_name"] == "Ada at 4B"
    assert reviewed.status_code == 200, reviewed.text
    assert {p["person_name"] for p in reviewed.json()["people"]} == {"Ada at 4B"}
