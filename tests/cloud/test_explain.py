"""Explain and access review against the reference lock: the same decision per credential.

Random small buildings are made through the services, real locks are provisioned and synced
(some of them not after the last changes), and for random people, doors and instants each
answer of `explain` must be the decision the lock itself makes at that instant.
"""

from __future__ import annotations

import base64
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from factories import (
    MASTER_KEY,
    T0,
    give_doorcode,
    give_key,
    give_keycard,
    give_role,
    make_door,
    make_key,
    make_person,
    make_property,
    make_unit,
    revoke_credential,
)
from keyturn.cloud.access.credentials.mobile_keys import IssuedKey, issue_for_phone
from keyturn.cloud.access.credentials.service import enrol_phone
from keyturn.cloud.access.explain.service import access_review, explain
from keyturn.cloud.access.suspension.service import suspend
from keyturn.cloud.models import Grant, MobileKeyRegistration
from keyturn.cloud.properties.lockdown import set_door_lockdown
from keyturn.crypto.keys import SigningKeyPair
from keyturn.crypto.mobile_keys import sign_challenge
from keyturn.rules.types import CredentialType, DoorKind, Reason, Role
from worlds import RealLock, real_lock

BUILT = T0
SYNCED = T0 + timedelta(minutes=1)
CHANGED = T0 + timedelta(hours=1)
RESYNCED = T0 + timedelta(hours=2)
# Mobile keys fetched at SYNCED last three days: every instant asked about lies within them.
LAST_ASKED = SYNCED + timedelta(days=3) - timedelta(minutes=1)
KINDS = (DoorKind.ENTRANCE, DoorKind.COMMON, DoorKind.SERVICE, DoorKind.RESIDENCE)


@dataclass
class Held:
    """What the test knows of one person: their secrets, to present them at a lock."""

    id: str
    phone: SigningKeyPair | None = None
    registration: MobileKeyRegistration | None = None
    codes: dict[str, str] = field(default_factory=dict)  # doorcode id -> code
    cards: dict[str, str] = field(default_factory=dict)  # keycard id -> card uid
    tokens: list[IssuedKey] = field(default_factory=list)


@dataclass
class Building:
    property_id: str
    manager_id: str
    locks: dict[str, RealLock]
    people: list[Held]
    grants: list[Grant]


def _window(draw: st.DrawFn) -> dict[str, object]:
    start = draw(st.integers(0, 22))
    end = draw(st.integers(start + 1, 24))
    return {
        "weekday": draw(st.integers(0, 6)),
        "start": f"{start:02d}:00",
        "end": f"{end:02d}:00",
    }


def build(session: Session, draw: st.DrawFn, folder: Path) -> Building:
    """Doors with real locks, keys, grants and credentials, then changes some locks miss."""
    prop = make_property(session, name=f"Explained {uuid.uuid4().hex[:6]}")
    manager = make_person(session, email=f"m-{uuid.uuid4().hex}@example.test", name="Morgan")
    give_role(session, person_id=manager.id, property_id=prop.id, role=Role.PROPERTY_MANAGER)
    doors = []
    for number, kind in enumerate(draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=3))):
        unit = make_unit(session, property_id=prop.id, label=f"{number}")
        doors.append(
            make_door(
                session,
                property_id=prop.id,
                name=f"Door {number}",
                kind=kind,
                unit_id=unit.id if kind is DoorKind.RESIDENCE else None,
            )
        )
    locks = {
        door.id: real_lock(session, door_id=door.id, folder=folder / door.id, now=BUILT)
        for door in doors
    }
    keys = [
        make_key(
            session,
            property_id=prop.id,
            name=f"Key {number}",
            door_ids=[d.id for d in doors if draw(st.booleans())] or [doors[0].id],
            windows=tuple(_window(draw) for _ in range(draw(st.integers(0, 2)))),
        )
        for number in range(draw(st.integers(1, 3)))
    ]
    people: list[Held] = []
    grants: list[Grant] = []
    for number in range(draw(st.integers(1, 3))):
        person = make_person(
            session, email=f"p{number}-{uuid.uuid4().hex}@example.test", name=f"Person {number}"
        )
        give_role(session, person_id=person.id, property_id=prop.id, role=Role.STAFF)
        held = Held(person.id)
        people.append(held)
        for key in keys:
            if not draw(st.booleans()):
                continue
            starts = BUILT + timedelta(hours=draw(st.integers(-48, 30)))
            length = draw(st.none() | st.integers(1, 96))
            grants.append(
                give_key(
                    session,
                    key=key,
                    person_id=person.id,
                    starts_at=starts,
                    ends_at=None if length is None else starts + timedelta(hours=length),
                    by=manager.id,
                    now=BUILT,
                )
            )
        for door in doors:
            if draw(st.booleans()):
                issued = give_doorcode(session, person_id=person.id, door_id=door.id, now=BUILT)
                held.codes[issued.record_id] = issued.code
        if draw(st.booleans()):
            uid = f"{number:02X}{draw(st.integers(0, 2**48 - 1)):012X}"
            held.cards[
                give_keycard(session, property_id=prop.id, person_id=person.id, card_uid=uid).id
            ] = uid
        if draw(st.booleans()):
            held.phone = SigningKeyPair.generate()
            held.registration = enrol_phone(
                session=session,
                person_id=person.id,
                public_key=_text(held.phone.public_bytes()),
                now=BUILT,
            )
    session.commit()
    for lock in locks.values():
        lock.sync(session, SYNCED)
    for held in people:
        if held.registration is not None:
            held.tokens = issue_for_phone(session, MASTER_KEY, held.registration, SYNCED)
    session.commit()
    # Changes after the first sync: revocations, suspensions and lockdowns some locks miss.
    for grant in grants:
        if draw(st.integers(0, 3)) == 0:
            revoke_credential(session, property_id=prop.id, credential=grant, now=CHANGED)
    for held in people:
        if draw(st.integers(0, 4)) == 0:
            suspend(
                session=session,
                master_key=MASTER_KEY,
                property_id=prop.id,
                person_id=held.id,
                suspended_by=manager.id,
                send_temporary_code=False,
                now=CHANGED,
            )
    for door in doors:
        if draw(st.integers(0, 5)) == 0:
            set_door_lockdown(
                session=session,
                master_key=MASTER_KEY,
                property_id=prop.id,
                door_id=door.id,
                on=True,
                now=CHANGED,
            )
    session.commit()
    for lock in locks.values():
        if draw(st.booleans()):
            lock.sync(session, RESYNCED)
    return Building(prop.id, manager.id, locks, people, grants)


def _text(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def lock_decision(
    building: Building,
    held: Held,
    door_id: str,
    kind: CredentialType,
    credential_id: str,
    grant_id: str | None,
    at: datetime,
) -> Reason | None:
    """What the real lock decides when the credential is presented at `at`; None if the test
    holds nothing to present (a mobile key never fetched)."""
    lock = building.locks[door_id].at(at)
    if kind is CredentialType.PERSONAL_DOORCODE:
        return lock.decide_code(held.codes[credential_id]).reason
    if kind is CredentialType.KEYCARD:
        return lock.present_card(held.cards[credential_id]).decision.reason
    token = next((t for t in held.tokens if t.grant_id == grant_id), None)
    if token is None or held.phone is None:
        return None
    challenge = lock.issue_challenge()
    signature = sign_challenge(held.phone, challenge, door_id)
    return lock.decide_mobile_key(challenge, token.token, signature).reason


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_explain_answers_as_the_reference_lock_decides(
    session: Session, data: st.DataObject
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        building = build(session, data.draw, Path(tmp))
        try:
            for _ in range(6):
                held = data.draw(st.sampled_from(building.people))
                door_id = data.draw(st.sampled_from(sorted(building.locks)))
                minutes = int((LAST_ASKED - RESYNCED).total_seconds() // 60)
                at = RESYNCED + timedelta(minutes=data.draw(st.integers(0, minutes)))
                answer = explain(
                    session=session,
                    master_key=MASTER_KEY,
                    property_id=building.property_id,
                    person_id=held.id,
                    door_id=door_id,
                    at=at,
                    now=RESYNCED,
                )
                explained_codes = {
                    a.credential_id
                    for a in answer.credentials
                    if a.credential_type is CredentialType.PERSONAL_DOORCODE
                }
                listed = {
                    s.credential_id for s in building.locks[door_id].lock.index.by_lookup.values()
                }
                assert {c for c in held.codes if c in listed} <= explained_codes
                for credential in answer.credentials:
                    expected = lock_decision(
                        building,
                        held,
                        door_id,
                        credential.credential_type,
                        credential.credential_id or "",
                        credential.grant_id,
                        at,
                    )
                    if expected is None:
                        continue
                    assert credential.reason == expected, (credential.label, credential.steps)
                    assert credential.opens is (expected is Reason.GRANTED)
                review = access_review(
                    session=session,
                    master_key=MASTER_KEY,
                    property_id=building.property_id,
                    door_id=door_id,
                    at=at,
                    now=RESYNCED,
                )
                reviewed = {r.credential_id for r in review.people if r.person_id == held.id}
                assert reviewed == {a.credential_id for a in answer.credentials if a.opens}
        finally:
            for real in building.locks.values():
                real.lock.close()
        session.rollback()


def test_a_lock_that_missed_a_revocation_still_admits_and_explain_says_so(
    session: Session, tmp_path: Path
) -> None:
    prop = make_property(session)
    door = make_door(session, property_id=prop.id, name="Main entrance")
    real = real_lock(session, door_id=door.id, folder=tmp_path / "lock", now=BUILT)
    key = make_key(session, property_id=prop.id, name="Building", door_ids=[door.id])
    person = make_person(session, email="ada@example.test", name="Ada Park")
    grant = give_key(session, key=key, person_id=person.id, starts_at=BUILT - timedelta(days=1))
    code = give_doorcode(session, person_id=person.id, door_id=door.id, now=BUILT)
    session.commit()
    real.sync(session, SYNCED)
    revoke_credential(session, property_id=prop.id, credential=grant, now=CHANGED)
    session.commit()
    at = CHANGED + timedelta(minutes=5)

    def asked() -> tuple[Reason, Reason]:
        answer = explain(
            session=session,
            master_key=MASTER_KEY,
            property_id=prop.id,
            person_id=person.id,
            door_id=door.id,
            at=at,
            now=at,
        )
        (doorcode,) = answer.credentials
        assert doorcode.label == "personal doorcode"
        return doorcode.reason, real.at(at).decide_code(code.code).reason

    before = asked()
    view = explain(
        session=session,
        master_key=MASTER_KEY,
        property_id=prop.id,
        person_id=person.id,
        door_id=door.id,
        at=at,
        now=at,
    )
    assert before == (Reason.GRANTED, Reason.GRANTED)
    assert not view.lock.up_to_date
    assert view.lock.evaluated_version == view.lock.applied_version
    assert view.lock.newest_version == (view.lock.applied_version or 0) + 1
    assert "has not applied the newest list yet" in view.lock.note
    assert view.credentials[0].after_sync is Reason.UNKNOWN_CREDENTIAL
    assert view.credentials[0].key_name == "Building"
    real.sync(session, at)
    assert asked() == (Reason.UNKNOWN_CREDENTIAL, Reason.UNKNOWN_CREDENTIAL)
    real.lock.close()
