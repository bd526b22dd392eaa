"""The retention job under the R rules (R1-R3, R6) on SQLite and PostgreSQL.

Each test builds events and reference data at fixed ages before NOW, runs the job as of
NOW (the clock is passed in, never read) and checks row by row what stayed and what went.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from retention_fixtures import NOW, NYC, add_audit, days, snapshot
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from factories import (
    MASTER_KEY,
    T0,
    consent_in_app,
    give_doorcode,
    give_keycard,
    give_phone,
    record_photo,
)
from keyturn.cloud.history.queries import EventFilter, list_events
from keyturn.cloud.models import (
    AuditRecord,
    Doorcode,
    Event,
    Grant,
    Keycard,
    MobileKeyRegistration,
    Photo,
    Property,
)
from keyturn.cloud.people.residency.service import move_in, move_out
from keyturn.cloud.privacy.retention.policies import retention_of, set_retention_override
from keyturn.cloud.privacy.retention.service import (
    CREDENTIALS_DELETED,
    EVENTS_ANONYMISED,
    EVENTS_DELETED,
    GRANTS_DELETED,
    PHOTOS_ERASED,
    PROPERTY_COUNTS,
    RetentionReport,
    run_retention,
)
from keyturn.cloud.sessions import session_factory
from keyturn.rules.errors import RetentionTooLong
from keyturn.rules.types import CredentialType, DoorKind, Reason
from keyturn.rules.visibility import Viewer
from worlds import (
    add_aged_credentials,
    add_aged_event,
    add_aged_grant,
    add_aged_person,
    add_retention_site,
    make_residency_building,
    sync,
)


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


@pytest.fixture
def photo_dir(tmp_path: Path) -> Path:
    path = tmp_path / "photos"
    path.mkdir()
    return path


def sweep(factory: sessionmaker[Session], photo_dir: Path, **options: object) -> RetentionReport:
    return run_retention(factory, NOW, photo_dir=photo_dir, chunk_size=3, **options)  # type: ignore[arg-type]


def event_ids(session: Session) -> set[str]:
    session.expunge_all()
    return set(session.scalars(select(Event.id)))


def shown(session: Session, property_id: str, viewer: Viewer) -> set[str]:
    page = list_events(session, viewer, EventFilter(property_id=property_id), limit=500, now=NOW)
    return {event.id for event in page.events}


def test_rule_r1_events_outside_nyc_anonymised_after_two_years(
    session: Session, factory: sessionmaker[Session], photo_dir: Path
) -> None:
    site = add_retention_site(session, "elm")
    alice = add_aged_person(session, "alice")
    young = add_aged_event(session, site, 1, days(729), subject=alice)
    old = add_aged_event(session, site, 2, days(731), subject=alice)
    ancient = add_aged_event(session, site, 3, days(730 + 366), subject=alice)
    session.commit()

    report = sweep(factory, photo_dir)

    session.expunge_all()
    assert session.get(Event, young.id).subject_id == alice  # type: ignore[union-attr]
    kept = session.get(Event, old.id)
    assert kept is not None
    assert kept.subject_id is None
    assert kept.anonymised_at == NOW
    assert session.get(Event, ancient.id) is None
    assert report.total(EVENTS_ANONYMISED) == 1
    assert report.total(EVENTS_DELETED) == 1
    [elm] = report.properties
    assert (elm.jurisdiction, elm.days) == ("default", 730)


def test_rule_r2_nyc_events_go_after_90_days_and_older_ones_are_never_shown(
    session: Session, factory: sessionmaker[Session], photo_dir: Path
) -> None:
    site = add_retention_site(session, "nyc", NYC)
    alice = add_aged_person(session, "alice")
    recent = add_aged_event(session, site, 1, days(89), subject=alice)
    expired = add_aged_event(session, site, 2, days(91), subject=alice)
    elsewhere = add_retention_site(session, "elm")
    old_elsewhere = add_aged_event(session, elsewhere, 1, days(91), subject=alice)
    session.commit()
    manager = Viewer(person_id="manager", managed_property_ids=frozenset({site.property_id}))
    herself = Viewer(person_id=alice)

    # Before the job has run: the read path alone already hides the expired event.
    assert shown(session, site.property_id, manager) == {recent.id}
    assert shown(session, site.property_id, herself) == {recent.id}
    assert old_elsewhere.id in shown(session, elsewhere.property_id, herself)

    report = sweep(factory, photo_dir)

    assert event_ids(session) == {recent.id, old_elsewhere.id}
    nyc = next(s for s in report.properties if s.property_id == site.property_id)
    assert (nyc.days, nyc.counts[EVENTS_DELETED]) == (90, 1)
    assert expired.id not in event_ids(session)


def test_rule_r2_nyc_entry_the_lock_has_not_acknowledged_is_anonymised_and_hidden(
    session: Session, factory: sessionmaker[Session], photo_dir: Path
) -> None:
    site = add_retention_site(session, "nyc", NYC, stored_through=4)
    alice = add_aged_person(session, "alice")
    acknowledged = add_aged_event(session, site, 3, days(120), subject=alice)
    pending = add_aged_event(session, site, 9, days(120), subject=alice)
    session.commit()

    sweep(factory, photo_dir)

    session.expunge_all()
    assert session.get(Event, acknowledged.id) is None
    row = session.get(Event, pending.id)
    assert row is not None
    assert (row.subject_id, row.anonymised_at) == (None, NOW)
    manager = Viewer(person_id="manager", managed_property_ids=frozenset({site.property_id}))
    assert shown(session, site.property_id, manager) == set()


def test_rule_r2_override_longer_than_the_jurisdiction_is_refused_shorter_honoured(
    session: Session, factory: sessionmaker[Session], photo_dir: Path
) -> None:
    site = add_retention_site(session, "nyc", NYC)
    prop = session.get_one(Property, site.property_id)
    with pytest.raises(RetentionTooLong):
        set_retention_override(prop, 91)
    assert prop.retention_days_override is None

    assert set_retention_override(prop, 30).days == 30
    inside = add_aged_event(session, site, 1, days(29))
    outside = add_aged_event(session, site, 2, days(31))
    session.commit()
    manager = Viewer(person_id="manager", managed_property_ids=frozenset({site.property_id}))
    assert shown(session, site.property_id, manager) == {inside.id}

    sweep(factory, photo_dir)

    assert event_ids(session) == {inside.id}
    assert outside.id not in event_ids(session)


def test_rule_r2_stored_override_beyond_the_limit_falls_back_to_the_limit(
    session: Session,
) -> None:
    site = add_retention_site(session, "moved", "default", override=365)
    prop = session.get_one(Property, site.property_id)
    prop.jurisdiction = NYC  # the override was valid before the building's law changed
    session.flush()

    retention = retention_of(prop, NOW)

    assert retention.override_refused
    assert (retention.policy.days, retention.policy.limit_days) == (90, 90)
    assert retention.anonymise_before == NOW - days(90)


def test_rule_r3_anonymised_event_keeps_door_time_outcome_and_type_and_loses_every_person(
    session: Session, factory: sessionmaker[Session], photo_dir: Path
) -> None:
    site = add_retention_site(session, "elm")
    alice = add_aged_person(session, "alice")
    grant = add_aged_grant(session, site, alice)
    event = add_aged_event(session, site, 1, days(800), subject=alice, grant_id=grant)
    event.reason = Reason.OUTSIDE_SCHEDULE
    photo = record_photo(session, photo_dir=photo_dir, event=event)
    photo_file = photo_dir / photo.storage_key
    session.commit()
    before = (event.door_id, event.door_kind, event.occurred_at, event.credential_type)
    assert photo_file.is_file()

    report = sweep(factory, photo_dir)

    session.expunge_all()
    row = session.get_one(Event, event.id)
    assert (row.door_id, row.door_kind, row.occurred_at, row.credential_type) == before
    assert row.door_kind == DoorKind.ENTRANCE
    assert row.credential_type == CredentialType.KEYCARD
    assert row.reason == Reason.OUTSIDE_SCHEDULE
    links = (row.subject_id, row.granted_by, row.credential_id, row.grant_id, row.photo_id)
    assert links == (None, None, None, None, None)
    assert row.detail is None
    # The photo's key (its only copy) and its ciphertext are both gone: nothing can open it.
    assert session.get(Photo, photo.id) is None
    assert not photo_file.exists()
    assert report.total(PHOTOS_ERASED) == 1
    assert session.scalar(select(Grant.id).where(Grant.id == grant)) == grant


def test_rule_r3_a_photo_older_than_the_policy_is_erased_even_without_its_event(
    session: Session, factory: sessionmaker[Session], photo_dir: Path
) -> None:
    site = add_retention_site(session, "nyc", NYC)
    event = add_aged_event(session, site, 1, days(100))
    photo = record_photo(session, photo_dir=photo_dir, event=event)
    event.photo_id = None  # the event already lost its link (say a deletion request)
    session.commit()

    report = sweep(factory, photo_dir)

    session.expunge_all()
    assert session.get(Photo, photo.id) is None
    assert not (photo_dir / photo.storage_key).exists()
    assert report.total(PHOTOS_ERASED) == 1


def test_rule_r6_former_holders_reference_data_goes_after_the_horizon(
    session: Session, factory: sessionmaker[Session], photo_dir: Path
) -> None:
    site = add_retention_site(session, "nyc", NYC)
    moved_out = add_aged_person(session, "moved_out")
    leaving = add_aged_person(session, "leaving")
    tenant = add_aged_person(session, "tenant")
    visitor = add_aged_person(session, "visitor")
    gone_grant = add_aged_grant(session, site, moved_out, ended=days(91))
    recent_grant = add_aged_grant(session, site, leaving, revoked=days(30))
    live_grant = add_aged_grant(session, site, tenant)
    visit_grant = add_aged_grant(session, site, visitor, revoked=days(95))
    gone = add_aged_credentials(session, site, moved_out)
    recent = add_aged_credentials(session, site, leaving)
    live = add_aged_credentials(session, site, tenant)
    session.commit()

    report = sweep(factory, photo_dir)

    session.expunge_all()
    grants = set(session.scalars(select(Grant.id)))
    assert grants == {recent_grant, live_grant}
    assert gone_grant not in grants
    assert visit_grant not in grants
    doorcodes = set(session.scalars(select(Doorcode.id)))
    keycards = set(session.scalars(select(Keycard.id)))
    phones = set(session.scalars(select(MobileKeyRegistration.id)))
    assert doorcodes == {recent["doorcode"], live["doorcode"]}
    assert keycards == {recent["keycard"], live["keycard"]}
    assert phones == {recent["phone"], live["phone"]}
    assert gone["phone"] not in phones
    assert report.total(GRANTS_DELETED) == 2
    assert report.total(CREDENTIALS_DELETED) == 2


def test_rule_r6_outside_nyc_the_horizon_is_the_event_retention(
    session: Session, factory: sessionmaker[Session], photo_dir: Path
) -> None:
    site = add_retention_site(session, "elm")
    person = add_aged_person(session, "moved_out")
    grant = add_aged_grant(session, site, person, ended=days(91))
    session.commit()

    sweep(factory, photo_dir)

    session.expunge_all()
    assert session.get(Grant, grant) is not None


def test_expired_audit_records_are_deleted(
    session: Session, factory: sessionmaker[Session], photo_dir: Path
) -> None:
    add_audit(session, "audit-expired", days(-1))
    add_audit(session, "audit-live", days(1))
    session.commit()

    report = sweep(factory, photo_dir)

    session.expunge_all()
    assert set(session.scalars(select(AuditRecord.id))) == {"audit-live"}
    assert report.service["audit_records_deleted"] == 1


def mixed_building(session: Session, photo_dir: Path) -> None:
    nyc = add_retention_site(session, "nyc", NYC, stored_through=20)
    elm = add_retention_site(session, "elm")
    alice = add_aged_person(session, "alice")
    add_aged_grant(session, nyc, alice, ended=days(100))
    add_aged_credentials(session, nyc, alice)
    for seq, age in enumerate((10, 80, 95, 100, 200, 400), start=15):
        event = add_aged_event(session, nyc, seq, days(age), subject=alice)
        if seq % 2:
            record_photo(session, photo_dir=photo_dir, event=event)
    for seq, age in enumerate((10, 700, 731, 800, 1100, 1200), start=1):
        event = add_aged_event(session, elm, seq, days(age), subject=alice)
        if seq % 2:
            record_photo(session, photo_dir=photo_dir, event=event)
    add_audit(session, "audit-expired", days(-1))


def test_dry_run_counts_what_a_run_then_does_and_changes_nothing(
    engine: Engine, session: Session, factory: sessionmaker[Session], photo_dir: Path
) -> None:
    mixed_building(session, photo_dir)
    session.commit()
    before = snapshot(engine, photo_dir)

    planned = sweep(factory, photo_dir, dry_run=True)

    assert snapshot(engine, photo_dir) == before
    done = sweep(factory, photo_dir)
    assert planned.as_json()["properties"] == done.as_json()["properties"]
    assert planned.as_json()["service"] == done.as_json()["service"]
    assert done.total(EVENTS_DELETED) > 0
    assert done.total(EVENTS_ANONYMISED) > 0


def test_a_second_run_changes_nothing(
    engine: Engine, session: Session, factory: sessionmaker[Session], photo_dir: Path
) -> None:
    mixed_building(session, photo_dir)
    session.commit()
    first = sweep(factory, photo_dir)
    after_first = snapshot(engine, photo_dir)

    second = sweep(factory, photo_dir)

    assert sum(first.total(count) for count in PROPERTY_COUNTS) > 0
    assert all(second.total(count) == 0 for count in PROPERTY_COUNTS)
    assert snapshot(engine, photo_dir) == after_first
    assert second.chunks == 0


def test_rule_r6_a_moved_out_residents_credentials_leave_the_cloud_and_the_locks_list(
    session: Session, factory: sessionmaker[Session], photo_dir: Path
) -> None:
    """A tenant moved out (a New York City building): what the move-out revoked is gone from
    the cloud once 90 days have passed, and from each lock's list at its next sync."""
    b = make_residency_building(session)
    membership = move_in(
        session=session,
        master_key=MASTER_KEY,
        property_id=b.property_id,
        person_id=b.resident_id,
        unit_id=b.unit_id,
        starts_at=T0,
        by=b.manager_id,
        now=T0,
    )
    consent_in_app(session, person_id=b.resident_id, now=T0)
    code = give_doorcode(session, person_id=b.resident_id, door_id=b.home_id, now=T0)
    card = give_keycard(
        session, property_id=b.property_id, person_id=b.resident_id, card_uid="04AB"
    )
    phone = give_phone(session, person_id=b.resident_id, now=T0)
    # Made at T0, as the services would have stamped them then.
    card.created_at = phone.registered_at = T0
    card_id, phone_id, phone_key = card.id, phone.id, phone.phone_key_id
    session.commit()
    home = b.lock_ids[b.home_id]
    assert {entry.subject for entry in sync(session, home, T0).upserts} == {b.resident_id}

    moved_out = T0 + timedelta(days=1)
    report = move_out(
        session=session,
        master_key=MASTER_KEY,
        property_id=b.property_id,
        membership_id=membership.id,
        at=moved_out,
        by=b.manager_id,
        now=moved_out,
    )
    session.commit()
    [grant] = report.revoked.grants
    listed = sync(session, home, moved_out)
    assert listed.upserts == ()
    assert grant in listed.revoked_key_ids

    run_retention(factory, moved_out + timedelta(days=89), photo_dir=photo_dir)
    session.expire_all()
    assert session.get(Grant, grant) is not None
    assert session.get(Doorcode, code.record_id) is not None

    horizon = moved_out + timedelta(days=91)
    run_retention(factory, horizon, photo_dir=photo_dir)
    session.expire_all()
    assert session.get(Grant, grant) is None
    assert session.get(Doorcode, code.record_id) is None
    assert session.get(Keycard, card_id) is None
    assert session.get(MobileKeyRegistration, phone_id) is None
    # The lock's list no longer carries her at its next sync, not even as a revocation.
    later = sync(session, home, horizon)
    assert later.upserts == ()
    assert grant not in later.revoked_key_ids
    assert phone_key not in later.revoked_credential_ids
    assert b.resident_id not in later.suspended_subjects
