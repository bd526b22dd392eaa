"""The data-subject request rules D1-D9, one test each, on SQLite and PostgreSQL.

Time is passed explicitly; the world is the history tests' building (12 Elm St).
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import MASTER_KEY, T0, provision_lock
from keyturn.cloud.mail.suppression import is_suppressed
from keyturn.cloud.models import (
    AuditRecord,
    DataSubjectRequest,
    Device,
    Event,
    Grant,
    OutboxMessage,
    Person,
    Photo,
    RequestDocument,
    RequestKind,
    RequestState,
    RoleMembership,
)
from keyturn.cloud.privacy import requests
from keyturn.cloud.privacy.deletion import anonymise_due
from keyturn.cloud.privacy.errors import (
    RequestError,
    VerificationFailed,
    VerificationThrottled,
    WrongState,
)
from keyturn.cloud.privacy.export import deliver_copy
from keyturn.cloud.privacy.lock_purges import pending_purges, purge_status, record_purges_done
from keyturn.cloud.privacy.verification import DocumentKind, send_code
from keyturn.rules.types import CredentialType, Reason
from worlds import HistoryWorld, add_event, add_photo, make_history_world

PDF = b"%PDF-1.4 signed letter"


@pytest.fixture
def world(session: Session) -> HistoryWorld:
    built = make_history_world(session)
    session.commit()
    return built


def _verified(
    session: Session, world: HistoryWorld, name: str, kind: RequestKind
) -> DataSubjectRequest:
    filed = requests.file_request(
        session=session, master_key=MASTER_KEY, person_id=world.people[name], kind=kind, now=T0
    )
    assert filed.code is not None
    email = f"{name}@example.org"
    requests.confirm_code(session, MASTER_KEY, filed.request, filed.code, email, name, T0)
    assert filed.request.state == RequestState.VERIFIED
    return filed.request


def _end_access(session: Session, person_id: str) -> None:
    for grant in session.scalars(select(Grant).where(Grant.person_id == person_id)):
        grant.revoked_at = T0
    session.flush()


def test_rule_d1_copy_holds_what_the_person_may_see(
    session: Session, world: HistoryWorld, tmp_path: Path
) -> None:
    own = add_event(session, world, "own", "gym", "resident", credential=CredentialType.KEYCARD)
    add_event(session, world, "guest", "1A", "guest", granted_by="resident")
    add_event(session, world, "neighbour", "2B", "neighbour", by_resident=True)
    add_photo(session, tmp_path, own, b"\xff\xd8 resident at the gym")
    add_photo(session, tmp_path, add_event(session, world, "other", "gym", "neighbour"))
    request = _verified(session, world, "resident", RequestKind.COPY)
    requests.proceed(session, MASTER_KEY, None, request, T0)

    data = deliver_copy(session, MASTER_KEY, tmp_path / "photos", request, T0, None)

    archive = zipfile.ZipFile(io.BytesIO(data))
    names = set(archive.namelist())
    assert {"contact.json", "contact.csv", "access_history.csv", "sharing.json"} <= names
    assert json.loads(archive.read("contact.json"))["email"] == "resident@example.org"
    seen = {e["id"] for e in json.loads(archive.read("access_history.json"))}
    assert seen == {world.events["own"].id, world.events["guest"].id}
    assert [n for n in names if n.startswith("photos/")] == [f"photos/{own.id}.jpg"]
    assert archive.read(f"photos/{own.id}.jpg") == b"\xff\xd8 resident at the gym"
    sharing = json.loads(archive.read("sharing.json"))
    assert [g["key"] for g in sharing["guests_invited"]] == ["Unit 1A"]
    assert "service providers" in archive.read("service_providers.txt").decode()
    assert request.state == RequestState.COMPLETED


def test_rule_d2_nothing_is_released_before_code_and_details_match(
    session: Session, world: HistoryWorld, tmp_path: Path
) -> None:
    filed = requests.file_request(
        session=session,
        master_key=MASTER_KEY,
        person_id=world.people["resident"],
        kind=RequestKind.COPY,
        now=T0,
    )
    request, code = filed.request, filed.code
    assert code is not None
    mailed = session.scalars(select(OutboxMessage.body_text)).all()
    assert any(code in body for body in mailed)
    with pytest.raises(WrongState):
        deliver_copy(session, MASTER_KEY, tmp_path, request, T0, None)
    with pytest.raises(VerificationFailed):
        requests.confirm_code(
            session, MASTER_KEY, request, code, "someone@else.org", "resident", T0
        )
    for _ in range(4):
        with pytest.raises(VerificationFailed):
            requests.confirm_code(
                session, MASTER_KEY, request, "00000000", "resident@example.org", "resident", T0
            )
    with pytest.raises(VerificationThrottled):
        requests.confirm_code(
            session, MASTER_KEY, request, code, "resident@example.org", "resident", T0
        )
    later = T0 + timedelta(minutes=1)
    fresh = requests.resend_code(session, MASTER_KEY, request, later)
    with pytest.raises(VerificationFailed):  # expired after 15 minutes
        requests.confirm_code(
            session,
            MASTER_KEY,
            request,
            fresh,
            "resident@example.org",
            "resident",
            later + timedelta(minutes=16),
        )
    fresh = requests.resend_code(session, MASTER_KEY, request, later)
    requests.require_id(session, request, later, world.people["owner"])
    requests.confirm_code(
        session, MASTER_KEY, request, fresh, " Resident@Example.org ", "Resident", later
    )
    assert request.state == RequestState.VERIFYING  # the reviewer asked for an ID
    with pytest.raises(RequestError, match="government_id"):
        requests.approve(session, request, later, world.people["owner"])
    requests.add_document(
        session, MASTER_KEY, request, DocumentKind.GOVERNMENT_ID, "image/png", b"id", later, None
    )
    requests.approve(session, request, later, world.people["owner"])
    assert request.state == RequestState.VERIFIED
    with pytest.raises(VerificationThrottled):  # three codes a day at most
        send_code(session, MASTER_KEY, request, later)


def test_rule_d3_an_agent_needs_letter_identity_and_a_reviewer(
    session: Session, world: HistoryWorld
) -> None:
    agent = world.people["outsider"]
    with pytest.raises(RequestError, match="agent_identity"):
        requests.file_agent_request(
            session=session,
            master_key=MASTER_KEY,
            agent_person_id=agent,
            subject_email="resident@example.org",
            kind=RequestKind.COPY,
            documents=[(DocumentKind.AGENT_LETTER, "application/pdf", PDF)],
            now=T0,
        )
    filed = requests.file_agent_request(
        session=session,
        master_key=MASTER_KEY,
        agent_person_id=agent,
        subject_email="resident@example.org",
        kind=RequestKind.COPY,
        documents=[
            (DocumentKind.AGENT_LETTER, "application/pdf", PDF),
            (DocumentKind.AGENT_IDENTITY, "image/jpeg", b"agent id"),
        ],
        now=T0,
    )
    request = filed.request
    assert filed.code is None
    assert request.state == RequestState.VERIFYING
    assert request.person_id == world.people["resident"]
    sealed = session.scalars(select(RequestDocument.sealed)).all()
    assert len(sealed) == 2
    assert all(PDF not in blob for blob in sealed)
    requests.approve(session, request, T0, world.people["owner"])
    assert request.state == RequestState.VERIFIED
    requests.refuse(session, request, "letter not signed by the person", T0, None)
    assert session.scalars(select(RequestDocument)).all() == []


def test_rule_d4_deletion_waits_for_access_and_manager_roles_to_go(
    session: Session, world: HistoryWorld
) -> None:
    request = _verified(session, world, "resident", RequestKind.DELETION)
    blockers = requests.proceed(session, MASTER_KEY, None, request, T0)
    assert request.state == RequestState.WAITING_ON_PRECONDITIONS
    assert blockers == ["revoke the key 'Unit 1A' at 12 Elm St"]
    _end_access(session, world.people["resident"])
    assert requests.proceed(session, MASTER_KEY, None, request, T0) == []
    assert request.executed_at == T0

    manager = _verified(session, world, "manager", RequestKind.DELETION)
    found = requests.proceed(session, MASTER_KEY, None, manager, T0)
    assert found == ["a portfolio manager must remove the property_manager role at 12 Elm St"]
    session.execute(
        RoleMembership.__table__.delete().where(RoleMembership.person_id == world.people["manager"])
    )
    assert requests.proceed(session, MASTER_KEY, None, manager, T0) == []


def test_rule_d5_residence_history_contact_details_and_mail_go_at_once(
    session: Session, world: HistoryWorld, tmp_path: Path
) -> None:
    home = add_event(
        session,
        world,
        "home",
        "1A",
        "resident",
        by_resident=True,
        credential=CredentialType.PERSONAL_DOORCODE,
        reason=Reason.OUTSIDE_SCHEDULE,
    )
    photo = add_photo(session, tmp_path, home)
    guest = add_event(session, world, "guest", "1A", "guest", granted_by="resident")
    request = _verified(session, world, "resident", RequestKind.DELETION)
    _end_access(session, world.people["resident"])
    requests.proceed(session, MASTER_KEY, tmp_path / "photos", request, T0)
    session.commit()

    assert session.get(Event, home.id) is None
    assert session.get(Photo, photo.id) is None
    assert not (tmp_path / "photos" / photo.storage_key).exists()
    assert session.get_one(Event, guest.id).subject_id == world.people["guest"]
    assert session.get_one(Event, guest.id).granted_by is None
    person = session.get_one(Person, world.people["resident"])
    assert (person.display_name, person.email, person.phone) == ("", None, None)
    assert is_suppressed(session, MASTER_KEY, "resident@example.org")
    to_her = select(OutboxMessage).where(
        (OutboxMessage.person_id == person.id)
        | (OutboxMessage.to_address == "resident@example.org")
    )
    assert session.scalars(to_her).all() == []


def test_rule_d6_common_history_is_kept_90_days_then_anonymised(
    session: Session, world: HistoryWorld, tmp_path: Path
) -> None:
    gym = add_event(session, world, "gym", "gym", "resident", credential=CredentialType.KEYCARD)
    request = _verified(session, world, "resident", RequestKind.DELETION)
    _end_access(session, world.people["resident"])
    requests.proceed(session, MASTER_KEY, None, request, T0)
    assert request.anonymise_due_at == T0 + timedelta(days=90)

    assert anonymise_due(session, T0 + timedelta(days=90) - timedelta(seconds=1)) == 0
    assert session.get_one(Event, gym.id).subject_id == world.people["resident"]
    assert anonymise_due(session, T0 + timedelta(days=90)) == 1
    kept = session.get_one(Event, gym.id)
    assert kept.subject_id is None
    assert kept.credential_type == CredentialType.KEYCARD
    assert kept.anonymised_at == T0 + timedelta(days=90)
    assert anonymise_due(session, T0 + timedelta(days=200)) == 0  # idempotent


def test_rule_d7_refusals_and_holds_carry_a_recorded_reason(
    session: Session, world: HistoryWorld
) -> None:
    held_event = add_event(session, world, "held", "1A", "resident", by_resident=True)
    gone = add_event(session, world, "gone", "1A", "resident", by_resident=True, minutes=5)
    request = _verified(session, world, "resident", RequestKind.DELETION)
    requests.hold(session, request, "law enforcement request 2026-114", T0, None)
    assert request.state == RequestState.ON_HOLD
    assert request.hold_reason == "law enforcement request 2026-114"
    with pytest.raises(WrongState):
        requests.proceed(session, MASTER_KEY, None, request, T0)
    with pytest.raises(RequestError):
        requests.hold(session, request, " ", T0, None)
    requests.release(session, request, T0, None)
    assert request.state == RequestState.VERIFIED
    requests.exempt_events(session, request, [held_event.id], "fraud investigation", T0, None)
    _end_access(session, world.people["resident"])
    requests.proceed(session, MASTER_KEY, None, request, T0)
    assert session.get(Event, gone.id) is None
    assert session.get_one(Event, held_event.id).subject_id == world.people["resident"]
    assert [h.reason for h in requests.record_holds(session, request.id)] == ["fraud investigation"]

    copy = _verified(session, world, "neighbour", RequestKind.COPY)
    requests.refuse(session, copy, "security of other users", T0, None)
    assert copy.state == RequestState.REFUSED
    assert copy.refusal_reason == "security of other users"


def test_rule_d8_every_lock_gets_a_purge_and_shows_its_status(
    session: Session, world: HistoryWorld
) -> None:
    def lock_at(door: str) -> Device:
        config = provision_lock(session, door_id=world.doors[door].id)
        return session.get_one(Device, config.device_id)

    devices = {door: lock_at(door) for door in ("entrance", "gym", "1A")}
    foreign = lock_at("oak")
    request = _verified(session, world, "resident", RequestKind.DELETION)
    _end_access(session, world.people["resident"])
    requests.proceed(session, MASTER_KEY, None, request, T0)

    assert pending_purges(session, foreign) == ()
    (command,) = pending_purges(session, devices["gym"])
    assert (command.request_id, command.subject) == (request.id, world.people["resident"])
    record_purges_done(session, devices["gym"], [request.id], T0 + timedelta(hours=1))
    devices["entrance"].retired_at = T0
    status = {s.door_name: s.state for s in purge_status(session, request.id)}
    assert status == {"entrance": "retired", "gym": "done", "1A": "pending"}
    assert pending_purges(session, devices["gym"]) == ()
    assert request.state == RequestState.IN_PROGRESS
    record_purges_done(session, devices["1A"], [request.id], T0 + timedelta(hours=2))
    assert request.state == RequestState.COMPLETED


def test_rule_d9_deadlines_one_extension_and_an_audit_kept_24_months(
    session: Session, world: HistoryWorld
) -> None:
    request = _verified(session, world, "resident", RequestKind.COPY)
    assert requests.acknowledge_by(request) == T0 + timedelta(days=14)  # ten working days
    assert request.acknowledged_at == T0
    assert request.due_at == T0 + timedelta(days=45)
    assert requests.overdue(request, T0 + timedelta(days=45)) == []
    assert requests.overdue(request, T0 + timedelta(days=46)) == ["answer overdue"]
    requests.extend(session, request, "many records across buildings", T0, None)
    assert requests.answer_by(request) == T0 + timedelta(days=90)
    assert requests.overdue(request, T0 + timedelta(days=46)) == []
    with pytest.raises(WrongState):
        requests.extend(session, request, "again", T0, None)
    notice = session.scalars(
        select(OutboxMessage.body_text).where(OutboxMessage.subject.contains("more time"))
    ).one()
    assert "many records across buildings" in notice
    late = requests.list_requests(session, T0 + timedelta(days=91), overdue_only=True)
    assert [r.id for r in late] == [request.id]
    trail = session.scalars(
        select(AuditRecord).where(AuditRecord.object_id == request.id).order_by(AuditRecord.at)
    ).all()
    actions = {a.action for a in trail}
    assert {"dsar.received", "dsar.acknowledged", "dsar.verified", "dsar.extended"} <= actions
    assert all(a.expires_at == a.at + timedelta(days=730) for a in trail)
    assert all("resident@example.org" not in json.dumps(a.detail) for a in trail)
