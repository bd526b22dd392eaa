"""The one revocation service: mark the credential, publish its doors, report each lock."""

from __future__ import annotations

from datetime import datetime, timedelta

from fake_lock import NOW, provision_fake_lock, public_key_text
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from factories import MASTER_KEY
from keyturn.cloud.access.codes import issue_personal_code
from keyturn.cloud.access.credentials.service import activate_keycard, enrol_phone
from keyturn.cloud.access.revocation import Credential, revoke
from keyturn.cloud.models import AccessListVersion, Doorcode, Grant
from keyturn.crypto.keys import SigningKeyPair
from worlds import make_sync_building

LATER = NOW + timedelta(minutes=5)


def _newest_version(session: Session, door_id: str) -> int:
    return int(
        session.scalar(
            select(func.max(AccessListVersion.version)).where(AccessListVersion.door_id == door_id)
        )
        or 0
    )


def test_revoking_a_grant_publishes_its_doors_once_and_reports_each_lock(
    session: Session,
) -> None:
    building = make_sync_building(session)
    entrance = provision_fake_lock(session, building.entrance_id)
    provision_fake_lock(session, building.gym_id)
    provision_fake_lock(session, building.residence_id)  # not on the key: not told, not reported
    before = _newest_version(session, building.entrance_id)
    grant = session.get_one(Grant, building.grant_id)

    revocation = revoke(
        session=session,
        master_key=MASTER_KEY,
        property_id=building.property_id,
        credential=grant,
        now=LATER,
    )

    assert grant.revoked_at == LATER
    assert revocation.id == grant.id
    assert revocation.revoked_at == LATER
    assert {lock.door_id for lock in revocation.locks} == {building.entrance_id, building.gym_id}
    published = _newest_version(session, building.entrance_id)
    assert published > before
    entrance_status = next(
        lock for lock in revocation.locks if lock.device_id == entrance.device_id
    )
    assert entrance_status.required_version == published
    assert not entrance_status.applied

    # Revoking again keeps the first instant and reports against it.
    again = revoke(
        session=session,
        master_key=MASTER_KEY,
        property_id=building.property_id,
        credential=grant,
        now=LATER + timedelta(hours=1),
    )
    assert again.revoked_at == LATER
    assert grant.revoked_at == LATER


def test_phone_keycard_and_doorcode_are_revoked_by_the_same_call(session: Session) -> None:
    building = make_sync_building(session)
    provision_fake_lock(session, building.entrance_id)
    provision_fake_lock(session, building.gym_id)
    phone = enrol_phone(
        session=session,
        person_id=building.resident_id,
        public_key=public_key_text(SigningKeyPair.generate()),
        now=NOW,
    )
    card = activate_keycard(session, building.property_id, building.resident_id, "04a1b2c3")
    code = issue_personal_code(session, MASTER_KEY, building.resident_id, building.entrance_id, NOW)
    doorcode = session.get_one(Doorcode, code.record_id)
    key_doors = {building.entrance_id, building.gym_id}

    def revoked(credential: Credential) -> tuple[datetime, set[str]]:
        result = revoke(
            session=session,
            master_key=MASTER_KEY,
            property_id=building.property_id,
            credential=credential,
            now=LATER,
        )
        return result.revoked_at, {lock.door_id for lock in result.locks}

    assert revoked(phone) == (LATER, key_doors)
    assert phone.revoked_at == LATER
    assert revoked(card) == (LATER, key_doors)
    assert card.active is False
    assert revoked(doorcode) == (LATER, {building.entrance_id})
    assert doorcode.revoked_at == LATER
