"""The retention override over HTTP on both backends: a portfolio manager shortens a property's
retention or resets it, never past the jurisdiction's limit (R2), and each change is audited.

The 30-day case runs the real retention job afterwards, so the override is seen to remove
what it says.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from retention_fixtures import NOW, NYC, days
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from factories import Clock, bearer, give_role, token_for
from keyturn.cloud.models import AuditRecord, Event, Property
from keyturn.cloud.privacy.retention.service import run_retention
from keyturn.cloud.sessions import session_factory
from keyturn.rules.types import Role
from worlds import RetentionSite, add_aged_event, add_aged_person, add_retention_site


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


def owner_token(session: Session, site: RetentionSite, name: str = "owner") -> str:
    person = add_aged_person(session, name)
    give_role(session, person_id=person, property_id=site.property_id, role=Role.PORTFOLIO_MANAGER)
    return token_for(session, person)


def put(client: TestClient, site: RetentionSite, token: str, body: object) -> dict[str, object]:
    answer = client.put(
        f"/api/v1/properties/{site.property_id}/retention", json=body, headers=bearer(token)
    )
    return {"status": answer.status_code, **answer.json()}


def audit_rows(session: Session) -> list[AuditRecord]:
    session.expire_all()
    return list(
        session.scalars(select(AuditRecord).where(AuditRecord.action == "retention.override"))
    )


def test_rule_r2_an_nyc_override_of_120_days_is_refused_and_nothing_changes(
    session: Session, client: TestClient
) -> None:
    site = add_retention_site(session, "nyc", NYC)
    token = owner_token(session, site)
    session.commit()

    refused = put(client, site, token, {"override_days": 120})

    assert refused["status"] == 422
    assert refused["type"] == "https://keyturn.invalid/problems/retention-refused"
    assert "at most 90 days" in str(refused["detail"])
    session.expire_all()
    assert session.get_one(Property, site.property_id).retention_days_override is None
    assert audit_rows(session) == []


@pytest.mark.parametrize("bad", [0, -5])
def test_an_override_under_one_day_is_refused(
    session: Session, client: TestClient, bad: int
) -> None:
    site = add_retention_site(session, "nyc", NYC, override=60)
    token = owner_token(session, site)
    session.commit()

    refused = put(client, site, token, {"override_days": bad})

    assert refused["status"] == 422
    session.expire_all()
    assert session.get_one(Property, site.property_id).retention_days_override == 60


@pytest.mark.parametrize("body", [{}, {"override_days": "30"}, {"override_days": True}])
def test_a_malformed_body_is_refused(
    session: Session, client: TestClient, body: dict[str, object]
) -> None:
    site = add_retention_site(session, "nyc", NYC)
    token = owner_token(session, site)
    session.commit()

    assert put(client, site, token, body)["status"] == 422


def test_rule_r2_a_30_day_override_is_kept_and_the_job_then_removes_older_events(
    session: Session, client: TestClient, engine: Engine, tmp_path: Path
) -> None:
    site = add_retention_site(session, "nyc", NYC)
    alice = add_aged_person(session, "alice")
    kept = add_aged_event(session, site, 1, days(20), subject=alice)
    add_aged_event(session, site, 2, days(40), subject=alice)
    add_aged_event(session, site, 3, days(80), subject=alice)
    token = owner_token(session, site)
    session.commit()

    accepted = put(client, site, token, {"override_days": 30})
    shown = client.get(
        f"/api/v1/properties/{site.property_id}/retention", headers=bearer(token)
    ).json()
    run_retention(session_factory(engine), NOW, photo_dir=tmp_path / "photos")

    assert accepted["status"] == 200
    assert (accepted["retention_days"], accepted["limit_days"]) == (30, 90)
    assert accepted["override_days"] == 30
    assert shown == {key: value for key, value in accepted.items() if key != "status"}
    session.expire_all()
    assert list(session.scalars(select(Event.id))) == [kept.id]


def test_null_resets_and_every_change_is_audited_before_and_after(
    session: Session, client: TestClient
) -> None:
    site = add_retention_site(session, "elsewhere")
    owner = add_aged_person(session, "owner")
    give_role(session, person_id=owner, property_id=site.property_id, role=Role.PORTFOLIO_MANAGER)
    token = token_for(session, owner)
    session.commit()

    first = put(client, site, token, {"override_days": 365})
    second = put(client, site, token, {"override_days": None})

    assert (first["retention_days"], first["override_days"]) == (365, 365)
    assert (second["retention_days"], second["override_days"]) == (730, None)
    rows = sorted(audit_rows(session), key=lambda row: row.detail["before_days"] is None)
    assert [(row.detail["before_days"], row.detail["after_days"]) for row in rows] == [
        (365, None),
        (None, 365),
    ]
    assert all(row.object_id == site.property_id for row in rows)
    assert all(row.actor_person_id == owner for row in rows)
    assert session.scalar(select(func.count()).select_from(AuditRecord)) == 2


def test_only_the_portfolio_manager_with_an_admin_token_may_change_it(
    session: Session, client: TestClient
) -> None:
    site = add_retention_site(session, "nyc", NYC)
    manager = add_aged_person(session, "manager")
    give_role(session, person_id=manager, property_id=site.property_id, role=Role.PROPERTY_MANAGER)
    manager_token = token_for(session, manager)
    session.commit()

    assert put(client, site, manager_token, {"override_days": 30})["status"] == 403
    session.expire_all()
    assert session.get_one(Property, site.property_id).retention_days_override is None
