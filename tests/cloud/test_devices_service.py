"""Tests for lock provisioning, retirement and health on SQLite and PostgreSQL.

A token enrols exactly one lock; a refused token changes nothing; the DoorConfig carries
the door's real secret and the property's policy; retiring records an open-ended gap.
"""

from __future__ import annotations

import base64
from datetime import timedelta
from pathlib import Path

import pytest
from fake_lock import NOW, attempt, provision_fake_lock
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from factories import MASTER_KEY
from keyturn.cloud.devices.errors import (
    DoorAlreadyBound,
    InvalidDeviceKey,
    InvalidProvisioningToken,
    ModelMismatch,
    UnknownDevice,
    UnknownDeviceModel,
)
from keyturn.cloud.devices.service import (
    create_provisioning_token,
    decode_public_key,
    device_health,
    ensure_device_models,
    provision_device,
    retire_device,
)
from keyturn.cloud.devices.sync import handle_uplink
from keyturn.cloud.models import Device, DeviceModel, Door, LogGap, ProvisioningToken
from keyturn.crypto.keys import SigningKeyPair
from keyturn.crypto.sealed import unseal
from keyturn.rules.types import Capability, DoorKind
from worlds import make_sync_building


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_builtin_models_are_created_once_with_their_capabilities(session: Session) -> None:
    first = ensure_device_models(session)
    again = ensure_device_models(session)

    assert _count(session, DeviceModel) == 4
    assert {name: model.id for name, model in first.items()} == {
        name: model.id for name, model in again.items()
    }
    assert first["keyturn-c2"].has(Capability.CARD_READER)
    assert not first["keyturn-c2"].has(Capability.CAMERA)
    assert not first["keyturn-c2"].has(Capability.MECHANICAL_KEY)
    assert first["keyturn-m"].has(Capability.CAMERA)
    assert not first["keyturn-m"].has(Capability.CARD_READER)
    assert not first["keyturn-b1"].has(Capability.KEYPAD)


def test_token_is_stored_only_as_its_hash(session: Session) -> None:
    building = make_sync_building(session)

    token = create_provisioning_token(session, building.entrance_id, "keyturn-r1", NOW)

    stored = session.scalars(select(ProvisioningToken)).one()
    assert token.encode() not in stored.token_hash
    assert len(stored.token_hash) == 32
    assert stored.expires_at == NOW + timedelta(hours=24)


def test_door_config_carries_the_door_and_property_settings(session: Session) -> None:
    building = make_sync_building(session)

    lock = provision_fake_lock(session, building.entrance_id, "keyturn-c2")
    config = lock.config

    door = session.get(Door, building.entrance_id)
    assert door is not None
    assert config.door_id == building.entrance_id
    assert config.door_kind == DoorKind.ENTRANCE
    assert config.property_id == building.property_id
    assert config.time_zone == "America/New_York"
    assert set(config.capabilities) == {Capability.KEYPAD, Capability.CARD_READER, Capability.BLE}
    assert config.code_length == 6
    assert config.lockout.max_failures == 4
    assert config.authority_public_key == building.authority.public_bytes()
    assert config.door_secret == unseal(
        MASTER_KEY, door.secret_sealed, f"door-secret:{door.id}".encode()
    )
    device = session.get(Device, config.device_id)
    assert device is not None
    assert device.door_id == building.entrance_id
    assert device.public_key == lock.key.public_bytes()
    assert config.sync_key == unseal(
        MASTER_KEY, device.sync_key_sealed, f"sync-key:{device.id}".encode()
    )


def test_a_token_enrols_one_lock_only(session: Session) -> None:
    building = make_sync_building(session)
    token = create_provisioning_token(session, building.entrance_id, "keyturn-r1", NOW)
    key = SigningKeyPair.generate()
    provision_device(session, MASTER_KEY, token, key.public_bytes(), "keyturn-r1", NOW)
    session.commit()

    with pytest.raises(InvalidProvisioningToken):
        provision_device(
            session,
            MASTER_KEY,
            token,
            SigningKeyPair.generate().public_bytes(),
            "keyturn-r1",
            NOW,
        )
    session.rollback()

    assert _count(session, Device) == 1


@pytest.mark.parametrize(
    ("token_age", "expected"),
    [
        (timedelta(hours=24), InvalidProvisioningToken),
        (timedelta(days=3), InvalidProvisioningToken),
    ],
)
def test_expired_token_is_refused_and_creates_nothing(
    session: Session, token_age: timedelta, expected: type[Exception]
) -> None:
    building = make_sync_building(session)
    token = create_provisioning_token(session, building.entrance_id, "keyturn-r1", NOW)
    session.commit()

    with pytest.raises(expected):
        provision_device(
            session,
            MASTER_KEY,
            token,
            SigningKeyPair.generate().public_bytes(),
            "keyturn-r1",
            NOW + token_age,
        )
    session.rollback()

    assert _count(session, Device) == 0
    assert session.scalars(select(ProvisioningToken.used_at)).one() is None


def test_unknown_token_and_wrong_model_are_refused(session: Session) -> None:
    building = make_sync_building(session)
    token = create_provisioning_token(session, building.entrance_id, "keyturn-r1", NOW)
    key = SigningKeyPair.generate().public_bytes()

    with pytest.raises(InvalidProvisioningToken):
        provision_device(session, MASTER_KEY, token + "x", key, "keyturn-r1", NOW)
    with pytest.raises(ModelMismatch):
        provision_device(session, MASTER_KEY, token, key, "keyturn-m", NOW)
    with pytest.raises(UnknownDeviceModel):
        create_provisioning_token(session, building.entrance_id, "acme-9000", NOW)

    assert _count(session, Device) == 0


def test_public_key_must_be_base64url_ed25519() -> None:
    key = SigningKeyPair.generate()
    text = base64.urlsafe_b64encode(key.public_bytes()).decode().rstrip("=")

    assert decode_public_key(text) == key.public_bytes()
    with pytest.raises(InvalidDeviceKey):
        decode_public_key("not-a-key")


def test_a_bound_door_refuses_a_second_lock_until_the_first_is_retired(session: Session) -> None:
    building = make_sync_building(session)
    first = provision_fake_lock(session, building.gym_id)

    with pytest.raises(DoorAlreadyBound):
        provision_fake_lock(session, building.gym_id)

    retire_device(session, first.device_id, NOW, "broken")
    second = provision_fake_lock(session, building.gym_id)

    old = session.get(Device, first.device_id)
    new = session.get(Device, second.device_id)
    assert old is not None
    assert new is not None
    assert old.door_id is None
    assert new.door_id == building.gym_id


def test_retiring_records_one_open_ended_gap_after_the_highest_entry(
    session: Session, tmp_path: Path
) -> None:
    building = make_sync_building(session)
    lock = provision_fake_lock(session, building.entrance_id)
    frame = lock.uplink([attempt(seq, building) for seq in (1, 2, 3, 5)])
    handle_uplink(session, MASTER_KEY, tmp_path, frame, NOW)

    retire_device(session, lock.device_id, NOW, "stolen")
    retire_device(session, lock.device_id, NOW + timedelta(hours=1), "stolen again")

    gaps = session.execute(
        select(LogGap.from_seq, LogGap.to_seq).where(LogGap.device_id == lock.device_id)
    ).all()
    assert sorted(gaps, key=lambda gap: gap[0]) == [(4, 4), (6, None)]
    device = session.get(Device, lock.device_id)
    assert device is not None
    assert device.retired_at == NOW
    assert device.stored_through_seq == 5


def test_health_shows_how_far_behind_a_lock_is(session: Session, tmp_path: Path) -> None:
    building = make_sync_building(session)
    lock = provision_fake_lock(session, building.entrance_id)

    before = device_health(session, lock.device_id, NOW, master_key=MASTER_KEY)
    assert before.current_access_list_version == 1
    assert before.applied_access_list_version == 0
    assert before.versions_behind == 1
    assert before.last_sync_at is None

    handle_uplink(session, MASTER_KEY, tmp_path, lock.uplink([]), NOW)
    lock.applied_version = 1
    later = NOW + timedelta(minutes=5)
    handle_uplink(session, MASTER_KEY, tmp_path, lock.uplink([]), later)

    after = device_health(session, lock.device_id, later + timedelta(seconds=30))
    assert after.versions_behind == 0
    assert after.seconds_since_sync == 30
    assert after.battery_pct == 87
    assert after.firmware_version == 3
    assert after.clock_drift_s is not None


def test_health_of_an_unknown_lock_is_an_error(session: Session) -> None:
    with pytest.raises(UnknownDevice):
        device_health(session, "no-such-lock", NOW)
