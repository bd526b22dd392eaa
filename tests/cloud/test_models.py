"""Tests for the cloud models on SQLite and PostgreSQL: a small building round-trips intact.

Also checks the data-layer guarantees others rely on: aware UTC datetimes, idempotent
event keys, live-doorcode uniqueness, check constraints and the fixed door kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from keyturn.cloud import db, sessions
from keyturn.cloud.models import (
    Account,
    AuditRecord,
    DataSubjectRequest,
    Device,
    DeviceModel,
    Door,
    Doorcode,
    DoorKindLocked,
    Event,
    Grant,
    GrantKind,
    InvalidPropertySetting,
    Key,
    Keycard,
    LogGap,
    MobileKeyRegistration,
    OneTimeCode,
    OutboxMessage,
    Person,
    Photo,
    Portfolio,
    Profile,
    Property,
    RequestKind,
    RequestState,
    RoleMembership,
    RolePermission,
    SingleDayCode,
    Unit,
)
from keyturn.rules.types import Capability, CredentialType, DoorKind, Permission, Reason, Role

NEW_YORK = ZoneInfo("America/New_York")
T0 = datetime(2025, 3, 9, 6, 30, tzinfo=NEW_YORK)  # the morning clocks move forward


@dataclass
class Building:
    property_id: str
    entrance_id: str
    residence_id: str
    gym_id: str
    device_id: str
    resident_id: str
    manager_id: str
    key_id: str
    grant_id: str
    event_id: str


def _make_property(session: Session, name: str = "12 Elm St") -> Property:
    portfolio = Portfolio(name="Elm Holdings")
    prop = Property(
        portfolio=portfolio,
        name=name,
        time_zone="America/New_York",
        jurisdiction="US-NY-NYC",
        authority_public_key=b"\x01" * 32,
        authority_private_key_sealed=b"\x02" * 60,
    )
    session.add(prop)
    return prop


def _make_door(prop: Property, name: str, kind: DoorKind, unit: Unit | None = None) -> Door:
    return Door(property=prop, unit=unit, name=name, kind=kind, secret_sealed=b"sealed-" + b"\0")


def _make_device(session: Session, prop: Property, door: Door | None) -> Device:
    model = session.scalar(select(DeviceModel).where(DeviceModel.name == "kt-cam"))
    if model is None:
        model = DeviceModel(name="kt-cam", capabilities=["keypad", "camera", "ble"])
    device = Device(
        property_id=prop.id,
        door=door,
        model=model,
        public_key=b"\x03" * 32,
        sync_key_sealed=b"\x04" * 61,
    )
    session.add(device)
    return device


@pytest.fixture
def building(session: Session) -> Building:
    prop = _make_property(session)
    unit = Unit(property=prop, label="4B")
    entrance = _make_door(prop, "Main entrance", DoorKind.ENTRANCE)
    residence = _make_door(prop, "4B front door", DoorKind.RESIDENCE, unit)
    gym = _make_door(prop, "Gym", DoorKind.COMMON)
    session.add_all([unit, entrance, residence, gym])
    session.flush()
    device = _make_device(session, prop, entrance)

    resident = Person(display_name="Ada Resident", email="Ada@Example.org")
    manager = Person(display_name="Max Manager", email="max@example.org")
    session.add_all([resident, manager])
    session.flush()
    session.add_all(
        [
            Account(person_id=resident.id, password_hash="$argon2id$..."),
            Profile(
                person_id=resident.id,
                portfolio_id=prop.portfolio_id,
                display_name=resident.display_name,
                nyc_consent_at=T0,
            ),
            RoleMembership(
                person_id=resident.id, property_id=prop.id, role=Role.RESIDENT, unit_id=unit.id
            ),
            RoleMembership(person_id=manager.id, property_id=prop.id, role=Role.PROPERTY_MANAGER),
            RolePermission(
                person_id=manager.id, property_id=prop.id, permission=Permission.SECURITY_VIEWER
            ),
        ]
    )
    key = Key(
        property_id=prop.id,
        name="Resident 4B",
        schedule_json={"mon": [["00:00", "24:00"]]},
        doors=[entrance, residence, gym],
        provides_doorcodes=True,
    )
    session.add(key)
    session.flush()
    grant = Grant(
        person_id=resident.id, key_id=key.id, starts_at=T0, resident=True, created_by=manager.id
    )
    session.add(grant)
    session.add_all(
        [
            MobileKeyRegistration(
                person_id=resident.id, phone_public_key=b"\x04" * 65, phone_key_id="kid-1"
            ),
            Doorcode(person_id=resident.id, door_id=residence.id, code_mac=b"mac-1"),
            Keycard(person_id=resident.id, property_id=prop.id, card_uid="04A2B3C4"),
            SingleDayCode(
                door_id=residence.id,
                created_by=resident.id,
                local_date=date(2025, 3, 9),
                slot=0,
                guest_label="Grandma",
            ),
            OneTimeCode(
                door_id=entrance.id, created_by=manager.id, code_mac=b"otc", valid_minutes=10
            ),
        ]
    )
    session.flush()
    event = Event(
        property_id=prop.id,
        door_id=entrance.id,
        door_kind=entrance.kind,
        device_id=device.id,
        device_seq=1,
        occurred_at=T0,
        credential_type=CredentialType.MOBILE_KEY,
        credential_id="kid-1",
        grant_id=grant.id,
        subject_id=resident.id,
        granted_by=manager.id,
        by_resident=True,
        reason=Reason.GRANTED,
    )
    session.add(event)
    session.flush()
    session.add_all(
        [
            Photo(
                event_id=event.id,
                property_id=prop.id,
                door_id=entrance.id,
                taken_at=T0,
                storage_key=f"photos/{event.id}.jpg",
                key_sealed=b"photo-key",
            ),
            LogGap(device_id=device.id, door_id=entrance.id, from_seq=5, to_seq=9, note="lost"),
            AuditRecord(
                actor_person_id=manager.id,
                action="events.read",
                object_type="door",
                object_id=entrance.id,
                property_id=prop.id,
                detail={"count": 1},
            ),
            DataSubjectRequest(
                person_id=resident.id,
                kind=RequestKind.COPY,
                channel="portal",
                due_at=T0 + timedelta(days=45),
            ),
            OutboxMessage(
                person_id=resident.id,
                to_address="ada@example.org",
                subject="Your doorcode",
                body_text="...",
            ),
        ]
    )
    session.commit()
    return Building(
        property_id=prop.id,
        entrance_id=entrance.id,
        residence_id=residence.id,
        gym_id=gym.id,
        device_id=device.id,
        resident_id=resident.id,
        manager_id=manager.id,
        key_id=key.id,
        grant_id=grant.id,
        event_id=event.id,
    )


def test_a_small_building_round_trips(engine: Engine, building: Building) -> None:
    with sessions.session_factory(engine)() as fresh:
        prop = fresh.get_one(Property, building.property_id)
        assert prop.doorcode_length == 7
        assert (prop.lockout_max_failures, prop.lockout_window_s) == (5, 600)
        assert prop.require_manager_totp is False
        assert prop.zone == NEW_YORK
        assert {door.name: door.kind for door in prop.doors} == {
            "Main entrance": DoorKind.ENTRANCE,
            "4B front door": DoorKind.RESIDENCE,
            "Gym": DoorKind.COMMON,
        }
        assert prop.units[0].doors[0].id == building.residence_id

        entrance = fresh.get_one(Door, building.entrance_id)
        assert entrance.device is not None
        assert entrance.device.id == building.device_id
        assert entrance.device.model.has(Capability.CAMERA)
        assert entrance.device.model.capabilities == ["ble", "camera", "keypad"]

        resident = fresh.get_one(Person, building.resident_id)
        assert resident.email == "ada@example.org"
        assert resident.account is not None
        assert [m.role for m in resident.memberships] == [Role.RESIDENT]

        key = fresh.get_one(Key, building.key_id)
        assert {door.id for door in key.doors} == {
            building.entrance_id,
            building.residence_id,
            building.gym_id,
        }
        assert key.schedule_json == {"mon": [["00:00", "24:00"]]}
        grant = fresh.get_one(Grant, building.grant_id)
        assert (grant.kind, grant.resident, grant.ends_at) == (GrantKind.STANDARD, True, None)

        event = fresh.get_one(Event, building.event_id)
        assert event.granted
        assert event.door_kind is DoorKind.ENTRANCE
        assert event.credential_type is CredentialType.MOBILE_KEY
        assert (event.subject_id, event.granted_by, event.by_resident) == (
            building.resident_id,
            building.manager_id,
            True,
        )
        assert event.clock_uncertain is False
        request = fresh.scalars(select(DataSubjectRequest)).one()
        assert request.state is RequestState.RECEIVED
        assert fresh.scalars(select(OutboxMessage)).one().attempts == 0


def test_datetimes_read_back_aware_in_utc(engine: Engine, building: Building) -> None:
    with sessions.session_factory(engine)() as fresh:
        event = fresh.get_one(Event, building.event_id)
        profile = fresh.scalars(
            select(Profile).where(Profile.person_id == building.resident_id)
        ).one()

        assert event.occurred_at == T0
        assert event.occurred_at.tzinfo is UTC
        assert event.occurred_at.hour == 10  # 06:30 EDT
        assert event.received_at.tzinfo is UTC
        assert profile.nyc_consent_at == T0
        assert profile.guardian_consent_at is None


def test_a_naive_datetime_is_refused(session: Session, building: Building) -> None:
    grant = session.get_one(Grant, building.grant_id)
    grant.ends_at = datetime(2026, 1, 1, 12, 0)

    with pytest.raises(StatementError, match="naive datetime") as caught:
        session.flush()

    assert isinstance(caught.value.orig, db.NaiveDatetimeError)


def test_a_duplicate_device_sequence_number_is_rejected(
    session: Session, building: Building
) -> None:
    duplicate = Event(
        property_id=building.property_id,
        door_id=building.entrance_id,
        door_kind=DoorKind.ENTRANCE,
        device_id=building.device_id,
        device_seq=1,
        occurred_at=T0 + timedelta(minutes=1),
        reason=Reason.UNKNOWN_CREDENTIAL,
    )
    session.add(duplicate)

    with pytest.raises(IntegrityError):
        session.flush()


def test_door_kind_is_locked_once_a_lock_is_bound(session: Session, building: Building) -> None:
    entrance = session.get_one(Door, building.entrance_id)
    entrance.kind = DoorKind.COMMON

    with pytest.raises(DoorKindLocked, match="'Main entrance' is bound to lock"):
        session.flush()
    session.rollback()

    assert session.get_one(Door, building.entrance_id).kind is DoorKind.ENTRANCE


def test_door_kind_may_change_while_no_lock_is_bound(session: Session, building: Building) -> None:
    gym = session.get_one(Door, building.gym_id)
    gym.kind = DoorKind.SERVICE
    session.commit()

    device = session.get_one(Device, building.device_id)
    device.door = None
    session.commit()
    entrance = session.get_one(Door, building.entrance_id)
    entrance.kind = DoorKind.SERVICE
    session.commit()

    assert session.scalar(select(Door.kind).where(Door.id == building.entrance_id)) == "service"


def test_binding_a_lock_and_changing_the_kind_together_is_refused(
    session: Session, building: Building
) -> None:
    gym = session.get_one(Door, building.gym_id)
    device = _make_device(session, gym.property, None)
    gym.kind = DoorKind.SERVICE
    device.door = gym

    with pytest.raises(DoorKindLocked, match="'Gym' is bound to lock"):
        session.flush()


def test_door_kind_is_locked_even_when_the_old_kind_was_not_loaded(
    session: Session, building: Building
) -> None:
    entrance = session.get_one(Door, building.entrance_id)
    session.expire(entrance)
    entrance.kind = DoorKind.RESIDENCE

    with pytest.raises(DoorKindLocked, match="stays entrance"):
        session.flush()


def test_an_unknown_time_zone_is_refused(session: Session) -> None:
    with pytest.raises(InvalidPropertySetting, match="Mars/Olympus_Mons"):
        _make_property(session).time_zone = "Mars/Olympus_Mons"


def test_doorcode_length_outside_5_to_10_is_refused(session: Session) -> None:
    _make_property(session).doorcode_length = 4

    with pytest.raises(IntegrityError):
        session.flush()


def test_enum_columns_refuse_unknown_values(engine: Engine, building: Building) -> None:
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(
            text("UPDATE doors SET kind = 'garage' WHERE id = :id"), {"id": building.gym_id}
        )


def test_live_doorcodes_are_unique_per_person_and_per_code(
    session: Session, building: Building
) -> None:
    session.add(
        Doorcode(person_id=building.resident_id, door_id=building.residence_id, code_mac=b"x")
    )
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()

    session.add(
        Doorcode(person_id=building.manager_id, door_id=building.residence_id, code_mac=b"mac-1")
    )
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()

    live = session.scalars(select(Doorcode)).one()
    live.revoked_at = T0
    session.add(
        Doorcode(person_id=building.resident_id, door_id=building.residence_id, code_mac=b"mac-1")
    )
    session.commit()
    assert len(session.scalars(select(Doorcode)).all()) == 2


def test_a_resident_membership_needs_a_unit(session: Session, building: Building) -> None:
    session.add(
        RoleMembership(
            person_id=building.manager_id, property_id=building.property_id, role=Role.RESIDENT
        )
    )

    with pytest.raises(IntegrityError):
        session.flush()


def test_foreign_keys_are_enforced(session: Session, building: Building) -> None:
    session.add(Doorcode(person_id=building.resident_id, door_id=db.new_id(), code_mac=b"y"))

    with pytest.raises(IntegrityError):
        session.flush()


def test_deleting_a_property_cascades_to_its_doors_and_history(
    engine: Engine, building: Building
) -> None:
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM properties WHERE id = :id"), {"id": building.property_id})

    with sessions.session_factory(engine)() as fresh:
        assert fresh.scalars(select(Door)).all() == []
        assert fresh.scalars(select(Event)).all() == []
        assert fresh.get_one(Person, building.resident_id).display_name == "Ada Resident"
        assert fresh.scalars(select(AuditRecord)).one().property_id is None


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'pragmas.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == db.SQLITE_BUSY_TIMEOUT_MS
    engine.dispose()


def test_keycard_uids_are_stored_normalised_and_must_be_hex(
    session: Session, building: Building
) -> None:
    card = Keycard(
        person_id=building.resident_id, property_id=building.property_id, card_uid="04:a2-b3"
    )
    assert card.card_uid == "04A2B3"
    with pytest.raises(ValueError, match="hexadecimal"):
        Keycard(person_id=building.resident_id, property_id=building.property_id, card_uid="k1")
