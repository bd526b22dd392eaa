"""Issuing mobile keys to a registered phone: one token per live grant, bound to the phone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fake_lock import NOW
from sqlalchemy.orm import Session

from factories import MASTER_KEY, give_key, give_phone, make_door, make_key, make_property
from keyturn.cloud.access.access_lists import subject_for
from keyturn.cloud.access.credentials.mobile_keys import MobileKeyRefused, issue_for_phone
from keyturn.cloud.models import (
    Grant,
    MobileKeyRegistration,
    Person,
)
from keyturn.cloud.people.profiles import profile_at
from keyturn.cloud.properties.service import authority_of
from keyturn.crypto.keys import SigningKeyPair
from keyturn.crypto.mobile_keys import sign_challenge, verify_challenge, verify_mobile_key
from keyturn.protocol.mobile_claims import entry_from_claims
from keyturn.rules.types import DoorKind
from worlds import make_sync_building


@pytest.fixture
def phone() -> SigningKeyPair:
    return SigningKeyPair.generate()


def _register(session: Session, person_id: str, phone: SigningKeyPair) -> MobileKeyRegistration:
    return give_phone(session, person_id=person_id, phone=phone, now=NOW)


def test_a_token_per_live_grant_bound_to_the_phone(session: Session, phone: SigningKeyPair) -> None:
    building = make_sync_building(session)
    registration = _register(session, building.resident_id, phone)
    issued = issue_for_phone(session, MASTER_KEY, registration, NOW, ttl=timedelta(days=2))
    assert [key.grant_id for key in issued] == [building.grant_id]
    claims = verify_mobile_key(issued[0].token, building.authority.public, NOW)
    assert claims.key_id == building.grant_id
    assert set(claims.door_ids) == {building.entrance_id, building.gym_id}
    assert claims.phone_public == phone.public_bytes()
    assert claims.expires == NOW + timedelta(days=2)
    entry = entry_from_claims(claims)
    assert entry.subject == subject_for(building.resident_id)
    assert entry.credential_id == phone.key_id  # revoking the phone names this id
    # Only this phone can answer a lock's challenge with the token.
    challenge = b"c" * 16
    verify_challenge(
        claims,
        challenge,
        building.entrance_id,
        sign_challenge(phone, challenge, building.entrance_id),
    )


def test_a_grant_ending_soon_caps_the_token(session: Session, phone: SigningKeyPair) -> None:
    building = make_sync_building(session)
    grant = session.get(Grant, building.grant_id)
    assert grant is not None
    grant.ends_at = NOW + timedelta(hours=5)
    registration = _register(session, building.resident_id, phone)
    (key,) = issue_for_phone(session, MASTER_KEY, registration, NOW)
    assert key.expires == NOW + timedelta(hours=5)


def test_revoked_grants_get_no_token(session: Session, phone: SigningKeyPair) -> None:
    building = make_sync_building(session)
    grant = session.get(Grant, building.grant_id)
    assert grant is not None
    grant.revoked_at = NOW
    registration = _register(session, building.resident_id, phone)
    assert issue_for_phone(session, MASTER_KEY, registration, NOW) == []


def test_rule_a6_a_suspended_person_or_revoked_phone_gets_nothing(
    session: Session, phone: SigningKeyPair
) -> None:
    building = make_sync_building(session)
    registration = _register(session, building.resident_id, phone)
    registration.revoked_at = NOW
    with pytest.raises(MobileKeyRefused, match="revoked"):
        issue_for_phone(session, MASTER_KEY, registration, NOW)
    fresh = _register(session, building.resident_id, SigningKeyPair.generate())
    resident = session.get_one(Person, building.resident_id)
    profile_at(session, person=resident, property_id=building.property_id).suspended_at = NOW
    session.flush()
    with pytest.raises(MobileKeyRefused, match="suspended"):
        issue_for_phone(session, MASTER_KEY, fresh, NOW)


def test_only_the_grants_at_the_property_asked_for(session: Session, phone: SigningKeyPair) -> None:
    here = make_sync_building(session)
    elsewhere = make_property(
        session, portfolio_name="Oak Holdings", name="3 Oak Ave", time_zone="America/Chicago"
    )
    authority = authority_of(session, MASTER_KEY, elsewhere.id)
    door = make_door(session, property_id=elsewhere.id, name="Lobby", kind=DoorKind.ENTRANCE)
    key = make_key(session, property_id=elsewhere.id, name="Oak lobby", door_ids=[door.id])
    give_key(session, key=key, person_id=here.resident_id, starts_at=NOW)
    registration = _register(session, here.resident_id, phone)
    everywhere = issue_for_phone(session, MASTER_KEY, registration, NOW)
    assert {issued.door_ids for issued in everywhere} == {
        tuple(sorted((here.entrance_id, here.gym_id))),
        (door.id,),
    }
    (only_here,) = issue_for_phone(
        session, MASTER_KEY, registration, NOW, property_id=here.property_id
    )
    assert only_here.grant_id == here.grant_id
    assert verify_mobile_key(only_here.token, here.authority.public, NOW).key_id == here.grant_id
    (only_there,) = issue_for_phone(
        session, MASTER_KEY, registration, NOW, property_id=elsewhere.id
    )
    assert verify_mobile_key(only_there.token, authority.public, NOW).door_ids == (door.id,)
