"""The PMS review routes: a manager lists the partial matches and decides one; the next sync
acts on the decision. Others are refused, and another property's review is not found."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import MASTER_KEY, T0
from keyturn.cloud.models import AuditRecord, RoleMembership
from keyturn.cloud.people.pms import service as pms
from keyturn.cloud.people.pms.connectors import FileConnector, PmsResident, write_file
from keyturn.rules.types import Role
from worlds import Site


def _sync(db: Session, site: Site, path: Path) -> pms.SyncReport:
    report = pms.sync(
        session=db,
        master_key=MASTER_KEY,
        property_id=site.property_id,
        connector=FileConnector(path),
        dry_run=False,
        now=T0,
    )
    db.commit()
    return report


def test_a_manager_accepts_a_partial_match_and_the_next_sync_moves_them_in(
    client: TestClient, db: Session, site: Site, tmp_path: Path
) -> None:
    path = tmp_path / "pms.csv"
    write_file(path, [PmsResident("Sam Staff", "staff@example.org", "5C", date(2026, 3, 1))])
    _sync(db, site, path)
    manager = site.auth("portfolio_manager")

    listed = client.get(f"{site.url}/pms/reviews", headers=manager)
    assert listed.status_code == 200, listed.text
    [review] = listed.json()["items"]
    assert (review["pms_name"], review["known_name"], review["unit"], review["state"]) == (
        "Sam Staff",
        "Test Person",
        "5C",
        "pending",
    )
    assert review["person_id"] == site.person("staff")

    refused = client.post(
        f"{site.url}/pms/reviews/{review['id']}",
        json={"decision": "accept"},
        headers=site.auth("resident"),
    )
    bad = client.post(
        f"{site.url}/pms/reviews/{review['id']}", json={"decision": "maybe"}, headers=manager
    )
    elsewhere = client.post(
        f"/api/v1/properties/{site.personas.other_property_id}/pms/reviews/{review['id']}",
        json={"decision": "accept"},
        headers=manager,
    )
    decided = client.post(
        f"{site.url}/pms/reviews/{review['id']}", json={"decision": "accept"}, headers=manager
    )

    assert refused.status_code == 403
    assert bad.status_code == 422
    assert elsewhere.status_code == 404
    assert decided.status_code == 200, decided.text
    assert decided.json()["state"] == "accepted"
    assert decided.json()["decided_at"] is not None
    db.expire_all()
    assert db.scalars(
        select(AuditRecord.action).where(AuditRecord.object_id == review["id"])
    ).all() == ["pms.review"]
    assert [m.lease.name for m in _sync(db, site, path).plan.moves_in] == ["Sam Staff"]
    units = db.scalars(
        select(RoleMembership.role).where(
            RoleMembership.person_id == site.person("staff"), RoleMembership.in_force()
        )
    ).all()
    assert sorted(units) == sorted([Role.STAFF, Role.RESIDENT])


def test_reviews_of_another_property_are_not_listed(
    client: TestClient, db: Session, site: Site, tmp_path: Path
) -> None:
    path = tmp_path / "pms.json"
    write_file(path, [PmsResident("Sam Staff", "staff@example.org", "5C", date(2026, 3, 1))])
    _sync(db, site, path)

    here = client.get(f"{site.url}/pms/reviews", headers=site.auth("portfolio_manager"))
    there = client.get(
        f"/api/v1/properties/{site.personas.other_property_id}/pms/reviews",
        headers=site.auth("portfolio_manager"),
    )

    assert len(here.json()["items"]) == 1
    assert there.status_code == 404
