"""The PMS sync on SQLite and PostgreSQL: residents move in with their unit's key, leases and
absences follow the PMS, partial matches wait for a manager, and a second run, a dry run or a
bad file change nothing."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from factories import MASTER_KEY, MASTER_KEY_TEXT, T0, row_counts
from keyturn.cloud.app import create_app
from keyturn.cloud.auth.config import AuthConfig
from keyturn.cloud.auth.links import ACCESS_SUBJECT, INVITATION_SUBJECT
from keyturn.cloud.models import (
    AuditRecord,
    Grant,
    OutboxMessage,
    Person,
    PmsLink,
    PmsReview,
    ReviewState,
    RoleMembership,
)
from keyturn.cloud.people.pms import service as pms
from keyturn.cloud.people.pms.connectors import FileConnector, PmsFileRefused, PmsResident
from keyturn.cloud.people.pms.connectors import write_file as write_export
from keyturn.cloud.people.residency import service as residency
from keyturn.cloud.sessions import session_factory
from keyturn.settings import Settings, SettingsError, load_settings
from worlds import ResidencyBuilding, make_residency_building

NOW = T0
START = date(2026, 3, 1)
BEA = PmsResident("Bea Lund", "bea@example.test", "4B", START, None, "L-1")
CY = PmsResident("Cy Okafor", "cy@example.test", "5C", START, date(2027, 2, 28), "L-2")


@pytest.fixture
def building(session: Session) -> ResidencyBuilding:
    world = make_residency_building(session)
    session.commit()
    return world


def run(
    session: Session,
    building: ResidencyBuilding,
    path: Path,
    rows: list[PmsResident] | None = None,
    *,
    dry_run: bool = False,
    now: datetime = NOW,
    welcome: AuthConfig | None = None,
) -> pms.SyncReport:
    if rows is not None:
        write_export(path, rows)
    report = pms.sync(
        session=session,
        master_key=MASTER_KEY,
        property_id=building.property_id,
        connector=FileConnector(path),
        dry_run=dry_run,
        now=now,
        by=building.manager_id,
        welcome=welcome,
    )
    session.commit()
    return report


def membership_of(session: Session, email: str) -> RoleMembership:
    return session.scalars(
        select(RoleMembership)
        .join(Person, Person.id == RoleMembership.person_id)
        .where(Person.email == email)
    ).one()


def audits(session: Session) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(AuditRecord).where(AuditRecord.action == "pms.sync")
        )
        or 0
    )


def test_new_residents_move_in_with_their_units_key(
    session: Session, building: ResidencyBuilding, tmp_path: Path
) -> None:
    report = run(session, building, tmp_path / "pms.csv", [BEA, CY])

    assert report.plan.counts()["moves_in"] == 2
    bea = membership_of(session, BEA.email)
    assert bea.unit_id == building.unit_id
    assert bea.starts_at == datetime(2026, 3, 1, 5, tzinfo=UTC)  # local midnight in New York
    grant = session.scalars(select(Grant).where(Grant.person_id == bea.person_id)).one()
    assert grant.key_id == building.unit_key_id
    assert grant.resident
    cy = membership_of(session, CY.email)
    assert cy.ends_at == datetime(2027, 3, 1, 5, tzinfo=UTC)  # the last day is covered
    assert session.scalar(select(func.count()).select_from(PmsLink)) == 2
    record = session.scalars(select(AuditRecord).where(AuditRecord.action == "pms.sync")).one()
    assert record.detail["moves_in"] == 2


def test_people_who_move_in_are_welcomed_by_email_once(
    session: Session, building: ResidencyBuilding, tmp_path: Path
) -> None:
    path = tmp_path / "pms.csv"
    ada = session.get_one(Person, building.resident_id)  # known, no account yet
    ada_lease = PmsResident(ada.display_name, ada.email or "", "5C", START, None, "L-3")

    run(session, building, path, [BEA, ada_lease], welcome=AuthConfig())
    run(session, building, path, now=NOW + timedelta(hours=1), welcome=AuthConfig())

    sent = session.execute(select(OutboxMessage.to_address, OutboxMessage.subject)).all()
    assert sorted(sent) == sorted(
        [(BEA.email, INVITATION_SUBJECT), (ada.email, INVITATION_SUBJECT)]
    )
    assert ACCESS_SUBJECT not in {subject for _, subject in sent}


def test_running_twice_changes_nothing(
    session: Session, building: ResidencyBuilding, tmp_path: Path
) -> None:
    path = tmp_path / "pms.json"
    run(session, building, path, [BEA, CY])
    before = row_counts(session)

    again = run(session, building, path, now=NOW + timedelta(hours=1))

    assert again.plan.empty
    assert again.plan.unchanged == 2
    assert row_counts(session) == before  # no audit record, no access-list version, nothing


def test_a_changed_lease_moves_the_grants_window(
    session: Session, building: ResidencyBuilding, tmp_path: Path
) -> None:
    path = tmp_path / "pms.csv"
    run(session, building, path, [BEA])
    changed = PmsResident(BEA.name, BEA.email, "4B", START, date(2026, 8, 31), "L-1")

    report = run(session, building, path, [changed])

    assert report.plan.counts()["lease_changes"] == 1
    person_id = membership_of(session, BEA.email).person_id
    grant = session.scalars(select(Grant).where(Grant.person_id == person_id)).one()
    assert grant.ends_at == datetime(2026, 9, 1, 4, tzinfo=UTC)


def test_a_resident_the_pms_no_longer_lists_moves_out(
    session: Session, building: ResidencyBuilding, tmp_path: Path
) -> None:
    path = tmp_path / "pms.csv"
    run(session, building, path, [BEA, CY])

    report = run(session, building, path, [CY], now=NOW + timedelta(days=1))

    assert [(m.residency.name, m.reason) for m in report.plan.moves_out] == [("Bea Lund", "absent")]
    bea = membership_of(session, BEA.email)
    assert bea.ended_at == NOW + timedelta(days=1)
    assert all(
        grant.revoked_at is not None
        for grant in session.scalars(select(Grant).where(Grant.person_id == bea.person_id))
    )
    assert membership_of(session, CY.email).ended_at is None
    assert run(session, building, path, now=NOW + timedelta(days=2)).plan.empty


def test_a_partial_match_waits_for_review_until_accepted(
    session: Session, building: ResidencyBuilding, tmp_path: Path
) -> None:
    path = tmp_path / "pms.csv"
    ada = PmsResident("Ada Parker", "ada@example.test", "4B", START, None, "L-9")  # "Ada Park"

    first = run(session, building, path, [ada])
    second = run(session, building, path, now=NOW + timedelta(hours=1))

    assert first.plan.counts()["new_reviews"] == 1
    assert second.plan.empty
    assert second.plan.counts()["waiting_for_review"] == 1
    review = session.scalars(select(PmsReview)).one()
    assert (review.pms_name, review.known_name, review.state) == (
        "Ada Parker",
        "Ada Park",
        ReviewState.PENDING,
    )
    assert (
        session.scalar(
            select(func.count())
            .select_from(RoleMembership)
            .where(RoleMembership.person_id == building.resident_id)
        )
        == 0
    )

    pms.decide_review(
        session=session,
        property_id=building.property_id,
        review_id=review.id,
        accept=True,
        by=building.manager_id,
        now=NOW,
    )
    session.commit()
    third = run(session, building, path, now=NOW + timedelta(hours=2))

    assert [m.lease.name for m in third.plan.moves_in] == ["Ada Parker"]
    assert membership_of(session, "ada@example.test").person_id == building.resident_id
    assert session.get_one(Person, building.resident_id).display_name == "Ada Park"


def test_a_rejected_match_is_left_alone(
    session: Session, building: ResidencyBuilding, tmp_path: Path
) -> None:
    path = tmp_path / "pms.csv"
    run(session, building, path, [PmsResident("A. Parker", "ada@example.test", "4B", START)])
    review = session.scalars(select(PmsReview)).one()
    pms.decide_review(
        session=session,
        property_id=building.property_id,
        review_id=review.id,
        accept=False,
        by=building.manager_id,
        now=NOW,
    )
    session.commit()
    before = row_counts(session)

    report = run(session, building, path, now=NOW + timedelta(hours=1))

    assert report.plan.counts()["rejected"] == 1
    assert row_counts(session) == before


def test_a_dry_run_writes_nothing(
    session: Session, building: ResidencyBuilding, tmp_path: Path
) -> None:
    path = tmp_path / "pms.csv"
    run(session, building, path, [BEA])
    before = row_counts(session)
    ada = PmsResident("Ada Parker", "ada@example.test", "5C", START)

    report = run(session, building, path, [CY, ada], dry_run=True)

    assert report.plan.counts() | {"unchanged": 0} == {
        "moves_in": 1,
        "lease_changes": 0,
        "moves_out": 1,
        "new_reviews": 1,
        "waiting_for_review": 0,
        "rejected": 0,
        "unchanged": 0,
    }
    assert not report.applied
    assert row_counts(session) == before


def test_a_resident_placed_by_hand_is_never_moved_out(
    session: Session, building: ResidencyBuilding, tmp_path: Path
) -> None:
    by_hand = residency.move_in(
        session=session,
        master_key=MASTER_KEY,
        property_id=building.property_id,
        person_id=building.resident_id,
        unit_id=building.unit_id,
        starts_at=NOW,
        by=building.manager_id,
        now=NOW,
    )
    session.commit()
    path = tmp_path / "pms.csv"

    run(session, building, path, [CY])
    listed = run(
        session, building, path, [CY, PmsResident("Ada Park", "ada@example.test", "4B", START)]
    )

    assert listed.plan.empty
    session.refresh(by_hand)
    assert by_hand.ended_at is None
    assert session.scalar(select(func.count()).select_from(PmsLink)) == 1  # Cy only


def test_a_bad_file_is_refused_and_changes_nothing(
    session: Session, building: ResidencyBuilding, tmp_path: Path
) -> None:
    path = tmp_path / "pms.csv"
    run(session, building, path, [BEA, CY])
    before = row_counts(session)
    path.write_text("name,email,unit,lease_start\nCy Okafor,cy@example.test,5C,1 March\n")

    with pytest.raises(PmsFileRefused, match=r"pms.csv line 2, field lease_start"):
        run(session, building, path)
    session.rollback()
    write_export(path, [BEA, PmsResident("Di", "di@example.test", "9Z", START)])
    with pytest.raises(PmsFileRefused, match="no unit labelled '9Z'"):
        run(session, building, path)
    session.rollback()

    assert row_counts(session) == before
    assert membership_of(session, CY.email).ended_at is None


def test_the_scheduled_sync_logs_a_failing_source_in_one_line_and_goes_on(
    session: Session,
    building: ResidencyBuilding,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    good = tmp_path / "good.csv"
    write_export(good, [BEA])
    sessions = session_factory(session.get_bind())  # type: ignore[arg-type]
    before = audits(session)

    with caplog.at_level(logging.WARNING):
        outcome = pms.sync_sources(
            sessions,
            MASTER_KEY,
            {"no-such-property": good, building.property_id: good},
            NOW,
        )
        broken = pms.sync_sources(
            sessions, MASTER_KEY, {building.property_id: tmp_path / "gone.csv"}, NOW
        )

    assert outcome[building.property_id]["moves_in"] == 1
    assert "error" in outcome["no-such-property"]
    assert "cannot read the file" in broken[building.property_id]["error"]
    session.expire_all()
    assert audits(session) == before + 1
    lines = [r.getMessage() for r in caplog.records if r.name == pms.log.name]
    assert len(lines) == 2
    assert all("\n" not in line for line in lines)


def test_the_server_runs_the_pms_job_only_for_configured_sources(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    def app_with(**pms_settings: object) -> FastAPI:
        settings = Settings(
            data_dir=tmp_path, database_url=db_url, master_key=MASTER_KEY_TEXT, **pms_settings
        )
        return create_app(settings, engine)

    configured = app_with(pms_sources=f"some-property={tmp_path / 'export.csv'}")
    with TestClient(configured):
        job = configured.state.pms_schedule
        assert job.alive
        assert job.interval_s == 3600
    assert job.runs == 0  # waits one interval first, like every job
    for unscheduled in (app_with(), app_with(pms_sources="p=/x.csv", pms_sync_interval_s=0)):
        with TestClient(unscheduled):
            assert not hasattr(unscheduled.state, "pms_schedule")


def test_pms_sources_setting_names_its_mistake() -> None:
    assert Settings(pms_sources=" a=/srv/a.csv , b=/srv/b.json ").pms_source_map == {
        "a": Path("/srv/a.csv"),
        "b": Path("/srv/b.json"),
    }
    with pytest.raises(SettingsError, match=r"KEYTURN_PMS_SOURCES: '/srv/a\.csv' is not"):
        load_settings(pms_sources="/srv/a.csv")
