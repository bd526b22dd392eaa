"""A resident's deletion end to end: real locks (one offline during the request), the cloud's
real sync code, and the 90-day anonymisation of what is kept for building security.

The sync helper adds the purge commands to each downlink and records the purges a lock
reports, exactly where `handle_uplink` is to call `pending_purges` and `record_purges_done`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from factories import (
    MASTER_KEY,
    give_key,
    give_keycard,
    make_door,
    make_key,
    make_member,
    make_person,
    make_property,
    make_unit,
)
from keyturn.cloud.access.codes import issue_personal_code
from keyturn.cloud.devices.service import (
    create_provisioning_token,
    provision_device,
    sync_key_context,
)
from keyturn.cloud.devices.sync import handle_uplink
from keyturn.cloud.mail.service import enqueue_mail
from keyturn.cloud.mail.suppression import is_suppressed, use_suppression_key
from keyturn.cloud.models import (
    Account,
    Device,
    Doorcode,
    Event,
    Grant,
    GrantKind,
    Keycard,
    MailState,
    OutboxMessage,
    Person,
    Photo,
    RequestKind,
    RequestState,
)
from keyturn.cloud.privacy import requests
from keyturn.cloud.privacy.deletion import anonymise_due
from keyturn.cloud.privacy.lock_purges import pending_purges, purge_status, record_purges_done
from keyturn.cloud.properties.service import authority_of
from keyturn.crypto.keys import VerifyKey
from keyturn.crypto.sealed import unseal
from keyturn.lock.agent import DownlinkResult, Lock
from keyturn.lock.clock import ManualClock
from keyturn.lock.provision import create_identity, install_config
from keyturn.protocol.event_kinds import EventKind
from keyturn.protocol.messages import Downlink, Uplink
from keyturn.protocol.sealing import open_sealed, seal
from keyturn.rules.types import DoorKind, Role

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
ADA_CARD = "04A1B2C3"
GUS_CARD = "04FFEE01"
ADA_EMAIL = "ada@example.test"
PHONE = "+1 212 555 0100"


@dataclass
class Site:
    property_id: str
    home_id: str
    gym_id: str
    ada: str
    gus: str
    ada_gym_code: str
    home: Lock
    gym: Lock
    clock: ManualClock
    photo_dir: Path


def _lock(session: Session, door_id: str, tmp: Path, clock: ManualClock) -> Lock:
    data_dir = tmp / f"lock-{door_id}"
    data_dir.mkdir(parents=True)
    public = create_identity(data_dir)
    token = create_provisioning_token(session, door_id, "keyturn-r1", T0)
    config = provision_device(session, MASTER_KEY, token, public.public_bytes(), "keyturn-r1", T0)
    install_config(data_dir, config)
    return Lock.open(data_dir, clock)


def build_site(session: Session, tmp: Path) -> Site:
    prop = make_property(session, portfolio_name="Elm Holdings", name="12 Elm St")
    unit = make_unit(session, property_id=prop.id, label="1A")
    home = make_door(
        session, property_id=prop.id, name="Unit 1A", kind=DoorKind.RESIDENCE, unit_id=unit.id
    )
    gym = make_door(session, property_id=prop.id, name="Gym", kind=DoorKind.COMMON)
    ada = make_member(
        session,
        email=ADA_EMAIL,
        name="Ada Park",
        phone=PHONE,
        property_id=prop.id,
        role=Role.RESIDENT,
        unit_id=unit.id,
    )
    gus = make_person(session, email="gus@example.test", name="Gus Guest", phone=PHONE)
    home_key = make_key(session, property_id=prop.id, name="Unit 1A", door_ids=[home.id])
    gym_key = make_key(session, property_id=prop.id, name="Gym", door_ids=[gym.id])
    start = T0 - timedelta(days=30)
    give_key(session, key=home_key, person_id=ada.id, starts_at=start, resident=True)
    give_key(session, key=gym_key, person_id=ada.id, starts_at=start)
    give_key(
        session,
        key=home_key,
        person_id=gus.id,
        kind=GrantKind.GUEST,
        starts_at=start,
        ends_at=T0 + timedelta(days=365),
        by=ada.id,
    )
    give_keycard(session, property_id=prop.id, person_id=ada.id, card_uid=ADA_CARD)
    give_keycard(session, property_id=prop.id, person_id=gus.id, card_uid=GUS_CARD)
    code = issue_personal_code(session, MASTER_KEY, ada.id, gym.id, T0).code
    clock = ManualClock(T0)
    site = Site(
        property_id=prop.id,
        home_id=home.id,
        gym_id=gym.id,
        ada=ada.id,
        gus=gus.id,
        ada_gym_code=code,
        home=_lock(session, home.id, tmp, clock),
        gym=_lock(session, gym.id, tmp, clock),
        clock=clock,
        photo_dir=tmp / "photos",
    )
    session.commit()
    return site


def sync(
    session: Session, site: Site, lock: Lock, now: datetime, batch: int = 500
) -> DownlinkResult:
    """One sync through the cloud's handle_uplink, with the purge calls wired around it."""
    site.clock.set(now)
    frame = lock.build_uplink(batch)
    device = session.get_one(Device, lock.device_id)
    sync_key = unseal(MASTER_KEY, device.sync_key_sealed, sync_key_context(device.id))
    uplink = open_sealed(
        frame, Uplink, VerifyKey.from_bytes(device.public_key), sync_key, device.id
    )
    answer = handle_uplink(session, MASTER_KEY, site.photo_dir, frame, now)
    record_purges_done(session, device, uplink.status.purges_done, now, site.photo_dir)
    authority = authority_of(session, MASTER_KEY, device.property_id)
    down = open_sealed(
        answer, Downlink, VerifyKey.from_bytes(authority.public_bytes()), sync_key, device.id
    )
    down = msgspec.structs.replace(down, purges=pending_purges(session, device))
    session.commit()
    return lock.apply_downlink(seal(down, authority, sync_key, device.id))


def _links(session: Session, person_id: str, *where: object) -> int:
    query = select(func.count(Event.id)).where(
        or_(Event.subject_id == person_id, Event.granted_by == person_id), *where
    )
    return int(session.scalar(query) or 0)


def _lock_names(lock: Lock, person_id: str) -> list[int]:
    return [
        entry.seq
        for entry in lock.journal.entries(lock.journal.floor + 1)
        if person_id in (entry.subject, entry.granted_by)
    ]


def test_deletion_end_to_end(session: Session, tmp_path: Path) -> None:
    site = build_site(session, tmp_path)
    for lock in (site.home, site.gym):
        sync(session, site, lock, T0)
    # History at her door and at the gym (photographed), and her guest at her door.
    site.clock.set(T0 + timedelta(minutes=5))
    assert site.home.present_card(ADA_CARD).granted
    assert site.home.present_card(GUS_CARD).granted
    gym_entry = site.gym.enter_code(site.ada_gym_code)
    assert gym_entry.granted
    assert gym_entry.photo_id is not None
    for lock in (site.home, site.gym):
        sync(session, site, lock, T0 + timedelta(minutes=10))
    assert _links(session, site.ada, Event.door_kind == DoorKind.RESIDENCE) == 2
    assert session.scalar(select(func.count(Photo.id))) == 1
    # The home lock goes offline; more entries wait on it.
    site.clock.set(T0 + timedelta(hours=1))
    assert site.home.present_card(GUS_CARD).granted
    late = site.home.present_card(ADA_CARD)
    assert late.granted

    # Ada asks for deletion and verifies; her access blocks it until a manager removes it.
    asked = T0 + timedelta(hours=2)
    filed = requests.file_request(
        session=session,
        master_key=MASTER_KEY,
        person_id=site.ada,
        kind=RequestKind.DELETION,
        now=asked,
    )
    request = filed.request
    assert filed.code is not None
    requests.confirm_code(session, MASTER_KEY, request, filed.code, ADA_EMAIL, "Ada Park", asked)
    blockers = requests.proceed(session, MASTER_KEY, site.photo_dir, request, asked)
    assert request.state == RequestState.WAITING_ON_PRECONDITIONS
    assert any("Unit 1A" in b for b in blockers)
    assert any("keycard" in b for b in blockers)
    for grant in session.scalars(select(Grant).where(Grant.person_id == site.ada)):
        grant.revoked_at = asked
    for card in session.scalars(select(Keycard).where(Keycard.person_id == site.ada)):
        card.active = False
    for row in session.scalars(select(Doorcode).where(Doorcode.person_id == site.ada)):
        row.revoked_at = asked
    enqueue_mail(session, ADA_EMAIL, "Newsletter", "hello", person_id=site.ada)
    deleted_at = asked + timedelta(minutes=30)
    assert requests.proceed(session, MASTER_KEY, site.photo_dir, request, deleted_at) == []
    session.commit()
    assert request.state == RequestState.IN_PROGRESS
    assert _links(session, site.ada, Event.door_kind == DoorKind.RESIDENCE) == 0
    assert _links(session, site.ada, Event.door_kind == DoorKind.COMMON) == 1  # kept (D6)
    assert {s.state for s in purge_status(session, request.id)} == {"pending"}

    # The gym lock syncs twice (purge, then confirm); the home lock is still offline.
    sync(session, site, site.gym, deleted_at + timedelta(hours=1))
    sync(session, site, site.gym, deleted_at + timedelta(hours=2))
    states = {s.door_name: s.state for s in purge_status(session, request.id)}
    assert states == {"Gym": "done", "Unit 1A": "pending"}
    assert request.state == RequestState.IN_PROGRESS

    # Back online over a slow link: one entry per uplink, so the purge meets entries not yet
    # uploaded and leaves tombstones in the chain.
    back = deleted_at + timedelta(days=1)
    result = sync(session, site, site.home, back, batch=1)
    assert result.purged_requests == (request.id,)
    assert _lock_names(site.home, site.ada) == []
    tombstones = [
        e
        for e in site.home.journal.entries(site.home.journal.floor + 1)
        if e.kind == EventKind.PURGED
    ]
    assert [entry.seq for entry in tombstones] == [late.seq]
    assert site.home.verify_journal() >= 1
    for step in range(1, 4):
        sync(session, site, site.home, back + timedelta(minutes=step))
    assert {s.state for s in purge_status(session, request.id)} == {"done"}
    assert request.state == RequestState.COMPLETED

    # Nothing links Ada to residence history anywhere; her contact details and mail are gone.
    session.expire_all()
    assert _links(session, site.ada, Event.door_kind == DoorKind.RESIDENCE) == 0
    assert session.scalar(select(func.count(Event.id)).where(Event.kind == EventKind.PURGED)) == 1
    ada = session.get_one(Person, site.ada)
    assert (ada.display_name, ada.email, ada.phone) == ("", None, None)
    assert session.scalar(select(Account.id).where(Account.person_id == site.ada)) is None
    outbox = session.scalars(select(OutboxMessage)).all()
    assert all(m.person_id != site.ada and m.to_address != ADA_EMAIL for m in outbox)
    assert is_suppressed(session, MASTER_KEY, ADA_EMAIL)
    use_suppression_key(session, MASTER_KEY)
    assert enqueue_mail(session, ADA_EMAIL, "Hi", "again").state == MailState.SUPPRESSED
    for lock in (site.home, site.gym):
        assert _lock_names(lock, site.ada) == []

    # Day 90 exactly: the kept gym entry loses every link to her, photo included (D6, R3).
    due = deleted_at + timedelta(days=90)
    assert anonymise_due(session, due - timedelta(seconds=1), site.photo_dir) == 0
    assert _links(session, site.ada) == 1
    assert anonymise_due(session, due, site.photo_dir) == 1
    session.commit()
    assert _links(session, site.ada) == 0
    gym_events = session.scalars(
        select(Event).where(Event.door_id == site.gym_id, Event.kind == "attempt")
    ).all()
    assert [e.anonymised_at for e in gym_events] == [due]
    assert gym_events[0].credential_type is not None
    assert gym_events[0].photo_id is None
    assert session.scalar(select(func.count(Photo.id))) == 0
    assert [p for p in site.photo_dir.rglob("*") if p.is_file()] == []

    # The guest's own data is untouched, and his card still opens the door.
    gus = session.get_one(Person, site.gus)
    assert gus.email == "gus@example.test"
    assert gus.display_name == "Gus Guest"
    gus_events = session.scalars(select(Event).where(Event.subject_id == site.gus)).all()
    assert len(gus_events) == 2
    assert all(e.granted_by is None for e in gus_events)
    grant = session.scalars(select(Grant).where(Grant.person_id == site.gus)).one()
    assert grant.revoked_at is None
    assert grant.created_by is None
    site.clock.set(due)
    assert site.home.present_card(GUS_CARD).granted
    for lock in (site.home, site.gym):
        lock.close()
