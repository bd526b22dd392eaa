"""The residency service: move-in, lease changes, move-out now or scheduled, the job, and what
a move-out revokes (and what it leaves alone)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import (
    MASTER_KEY,
    T0,
    consent_in_app,
    give_doorcode,
    give_key,
    give_keycard,
    give_phone,
    give_role,
    make_key,
    make_unit,
    token_for,
)
from keyturn.cloud.access.sharing import service as sharing
from keyturn.cloud.access.sharing.schemas import GuestInvite, SingleDayCreate
from keyturn.cloud.auth import service as auth_service
from keyturn.cloud.auth.config import AuthConfig
from keyturn.cloud.auth.errors import Conflict, NotFound
from keyturn.cloud.auth.permissions import Principal
from keyturn.cloud.models import (
    AuditRecord,
    Doorcode,
    Grant,
    Key,
    Keycard,
    MobileKeyRegistration,
    OneTimeCode,
    RoleMembership,
    SingleDayCode,
)
from keyturn.cloud.people.residency.service import (
    InvalidLease,
    NoUnitKey,
    ResidencyState,
    change_lease,
    end_due_residencies,
    move_in,
    move_out,
    residency_state,
)
from keyturn.cloud.privacy.deletion import blockers
from keyturn.rules.types import Role
from worlds import ResidencyBuilding, make_residency_building, sync

DAY = timedelta(days=1)


@pytest.fixture
def building(session: Session) -> ResidencyBuilding:
    world = make_residency_building(session)
    session.commit()
    return world


def _move_in(
    session: Session,
    b: ResidencyBuilding,
    *,
    starts_at: datetime = T0,
    ends_at: datetime | None = None,
    now: datetime = T0,
    person_id: str | None = None,
    unit_id: str | None = None,
) -> RoleMembership:
    membership = move_in(
        session=session,
        master_key=MASTER_KEY,
        property_id=b.property_id,
        person_id=person_id or b.resident_id,
        unit_id=unit_id or b.unit_id,
        starts_at=starts_at,
        ends_at=ends_at,
        by=b.manager_id,
        now=now,
    )
    consent_in_app(session, person_id=membership.person_id, now=now)
    return membership


def _principal(session: Session, person_id: str, now: datetime = T0) -> Principal:
    return auth_service.principal_from_token(
        session=session, secret=token_for(session, person_id, now=now), now=now
    )


def _grants(session: Session, person_id: str) -> list[Grant]:
    session.expire_all()
    return list(session.scalars(select(Grant).where(Grant.person_id == person_id)))


def test_move_in_grants_the_units_key_over_the_lease(
    session: Session, building: ResidencyBuilding
) -> None:
    ends = T0 + 365 * DAY
    membership = _move_in(session, building, starts_at=T0 - 3 * DAY, ends_at=ends)

    assert (membership.role, membership.unit_id) == (Role.RESIDENT, building.unit_id)
    assert (membership.starts_at, membership.ends_at, membership.ended_at) == (
        T0 - 3 * DAY,
        ends,
        None,
    )
    [grant] = _grants(session, building.resident_id)
    # Resident status starts when it is given at the earliest (V2).
    assert (grant.key_id, grant.resident, grant.starts_at, grant.ends_at) == (
        building.unit_key_id,
        True,
        T0,
        ends,
    )
    assert grant.created_by == building.manager_id
    assert residency_state(membership, T0) is ResidencyState.SCHEDULED_MOVE_OUT
    listed = sync(session, building.lock_ids[building.home_id])
    assert grant.id not in listed.revoked_key_ids
    actions = session.scalars(select(AuditRecord.action)).all()
    assert "residency.move_in" in actions


def test_a_unit_without_a_key_gets_one_over_its_residence_doors(
    session: Session, building: ResidencyBuilding
) -> None:
    membership = _move_in(session, building, unit_id=building.other_unit_id)

    key = session.scalars(select(Key).where(Key.unit_id == building.other_unit_id)).one()
    assert key.name == "Unit 5C"
    assert [door.name for door in key.doors] == ["5C door"]
    [grant] = _grants(session, membership.person_id)
    assert (grant.key_id, grant.resident) == (key.id, True)


def test_a_unit_with_neither_key_nor_residence_door_is_refused(
    session: Session, building: ResidencyBuilding
) -> None:
    bare = make_unit(session, property_id=building.property_id, label="9Z")
    with pytest.raises(NoUnitKey):
        _move_in(session, building, unit_id=bare.id)


def test_a_second_open_residency_at_the_unit_is_a_conflict_but_moving_back_is_not(
    session: Session, building: ResidencyBuilding
) -> None:
    first = _move_in(session, building)
    with pytest.raises(Conflict):
        _move_in(session, building, now=T0 + DAY, starts_at=T0 + DAY)
    move_out(
        session=session,
        master_key=MASTER_KEY,
        property_id=building.property_id,
        membership_id=first.id,
        at=T0 + DAY,
        by=building.manager_id,
        now=T0 + DAY,
    )
    again = _move_in(session, building, starts_at=T0 + 30 * DAY, now=T0 + 2 * DAY)
    assert again.id != first.id
    assert residency_state(first, T0 + 2 * DAY) is ResidencyState.ENDED
    assert residency_state(again, T0 + 2 * DAY) is ResidencyState.UPCOMING


@pytest.mark.parametrize(
    ("starts_at", "ends_at"), [(T0, T0), (T0 + DAY, T0), (T0 - 10 * DAY, T0 - DAY)]
)
def test_dates_that_make_no_lease_are_refused_and_nothing_is_written(
    session: Session, building: ResidencyBuilding, starts_at: datetime, ends_at: datetime
) -> None:
    with pytest.raises(InvalidLease):
        _move_in(session, building, starts_at=starts_at, ends_at=ends_at)
    session.rollback()
    assert (
        session.scalars(select(RoleMembership).where(RoleMembership.role == Role.RESIDENT)).all()
        == []
    )


def test_a_lease_change_moves_the_grants_and_an_end_already_past_moves_out(
    session: Session, building: ResidencyBuilding
) -> None:
    membership = _move_in(session, building, starts_at=T0 + 10 * DAY, ends_at=T0 + 100 * DAY)
    change_lease(
        session=session,
        master_key=MASTER_KEY,
        property_id=building.property_id,
        membership_id=membership.id,
        starts_at=T0 + 5 * DAY,
        ends_at=T0 + 200 * DAY,
        by=building.manager_id,
        now=T0 + DAY,
    )
    [grant] = _grants(session, building.resident_id)
    assert (grant.starts_at, grant.ends_at) == (T0 + 5 * DAY, T0 + 200 * DAY)

    change_lease(
        session=session,
        master_key=MASTER_KEY,
        property_id=building.property_id,
        membership_id=membership.id,
        starts_at=T0 + 5 * DAY,
        ends_at=T0 + 20 * DAY,
        by=building.manager_id,
        now=T0 + 30 * DAY,
    )
    [grant] = _grants(session, building.resident_id)
    assert grant.revoked_at == T0 + 30 * DAY
    assert membership.ended_at == T0 + 30 * DAY
    assert membership.ends_at == T0 + 20 * DAY


def _resident_with_everything(session: Session, b: ResidencyBuilding) -> dict[str, str]:
    """Ada moved in with a building key, a doorcode at home, a card, a phone, a guest, a
    single-day and a one-time code at home; the ids of each."""
    membership = _move_in(session, b, starts_at=T0 - 30 * DAY)
    building_grant = give_key(
        session,
        key=session.get_one(Key, b.building_key_id),
        person_id=b.resident_id,
        by=b.manager_id,
    )
    code = give_doorcode(session, person_id=b.resident_id, door_id=b.home_id)
    card = give_keycard(
        session, property_id=b.property_id, person_id=b.resident_id, card_uid="04AA"
    )
    phone = give_phone(session, person_id=b.resident_id)
    ada = _principal(session, b.resident_id)
    guest = sharing.invite_guest(
        session=session,
        config=AuthConfig(),
        principal=ada,
        property_id=b.property_id,
        invite=GuestInvite(
            email="sam@example.test",
            display_name="Sam",
            key_id=b.unit_key_id,
            starts_at=T0,
            ends_at=T0 + 3 * DAY,
        ),
        now=T0,
    )
    day = sharing.create_single_day_codes(
        session=session,
        master_key=MASTER_KEY,
        principal=ada,
        property_id=b.property_id,
        request=SingleDayCreate(local_date=T0.date() + DAY, door_ids=[b.home_id]),
        now=T0,
    )
    once = sharing.create_one_time_code(
        session=session,
        master_key=MASTER_KEY,
        principal=ada,
        property_id=b.property_id,
        door_id=b.home_id,
        valid_minutes=30,
        now=T0,
    )
    session.commit()
    return {
        "membership": membership.id,
        "building_grant": building_grant.id,
        "doorcode": code.record_id,
        "keycard": card.id,
        "phone": phone.id,
        "guest": guest.id,
        "single_day": day.codes[0].record_id,
        "one_time": once.record_id,
    }


def test_move_out_now_revokes_everything_that_depended_on_the_residency(
    session: Session, building: ResidencyBuilding
) -> None:
    held = _resident_with_everything(session, building)
    for device in building.lock_ids.values():
        sync(session, device)
    now = T0 + DAY

    report = move_out(
        session=session,
        master_key=MASTER_KEY,
        property_id=building.property_id,
        membership_id=held["membership"],
        at=now,
        by=building.manager_id,
        now=now,
    )
    session.commit()

    assert (report.scheduled, report.ends_at) == (False, now)
    unit_grant = session.scalars(
        select(Grant.id).where(
            Grant.person_id == building.resident_id, Grant.key_id == building.unit_key_id
        )
    ).one()
    assert report.revoked.grants == tuple(sorted([unit_grant, held["building_grant"]]))
    assert report.revoked.shared_grants == (held["guest"],)
    assert report.revoked.doorcodes == (held["doorcode"],)
    assert report.revoked.keycards == (held["keycard"],)
    # Ada keeps no role and no grant anywhere: her phone serves nothing any more.
    assert report.revoked.phones == (held["phone"],)
    assert report.revoked.single_day_codes == (held["single_day"],)
    assert report.revoked.one_time_codes == (held["one_time"],)
    session.expire_all()
    assert all(grant.revoked_at == now for grant in _grants(session, building.resident_id))
    assert session.get_one(Doorcode, held["doorcode"]).revoked_at == now
    assert session.get_one(Keycard, held["keycard"]).active is False
    assert session.get_one(MobileKeyRegistration, held["phone"]).revoked_at == now
    assert session.get_one(Grant, held["guest"]).revoked_at == now
    assert session.get_one(SingleDayCode, held["single_day"]).revoked_at == now
    assert session.get_one(OneTimeCode, held["one_time"]).revoked_at == now
    membership = session.get_one(RoleMembership, held["membership"])
    assert membership.ended_at == now
    # Every lock of the property that had any of it is reported, none has applied it yet.
    lock_doors = {status.door_id for status in report.locks}
    assert lock_doors == {building.entrance_id, building.gym_id, building.home_id}
    assert not any(status.applied for status in report.locks)
    assert all(status.required_version is not None for status in report.locks)
    # Ada is no longer a person of the property.
    assert Role.RESIDENT not in {
        m.role
        for m in session.scalars(
            select(RoleMembership).where(
                RoleMembership.person_id == building.resident_id, RoleMembership.in_force()
            )
        )
    }


def test_a_second_role_keeps_its_access(session: Session, building: ResidencyBuilding) -> None:
    held = _resident_with_everything(session, building)
    give_role(
        session,
        person_id=building.resident_id,
        property_id=building.property_id,
        role=Role.STAFF,
        by=building.manager_id,
    )
    staff_grant = give_key(
        session,
        key=session.get_one(Key, building.staff_key_id),
        person_id=building.resident_id,
        by=building.manager_id,
    )
    session.commit()

    report = move_out(
        session=session,
        master_key=MASTER_KEY,
        property_id=building.property_id,
        membership_id=held["membership"],
        at=T0 + DAY,
        by=building.manager_id,
        now=T0 + DAY,
    )

    # The residency's own things go; the building key, the card and the phone stay.
    assert len(report.revoked.grants) == 1
    assert report.revoked.doorcodes == (held["doorcode"],)
    assert report.revoked.shared_grants == (held["guest"],)
    assert (report.revoked.keycards, report.revoked.phones) == ((), ())
    session.expire_all()
    assert session.get_one(Grant, staff_grant.id).revoked_at is None
    assert session.get_one(Grant, held["building_grant"]).revoked_at is None
    assert session.get_one(Keycard, held["keycard"]).active is True
    gym = sync(session, building.lock_ids[building.gym_id], T0 + DAY)
    assert any(entry.credential_id == held["keycard"] for entry in gym.upserts)


def test_another_portfolios_grants_and_the_phone_are_untouched(
    session: Session, building: ResidencyBuilding
) -> None:
    held = _resident_with_everything(session, building)
    give_role(
        session,
        person_id=building.resident_id,
        property_id=building.other_property_id,
        role=Role.STAFF,
    )
    elsewhere = give_key(
        session,
        key=session.get_one(Key, building.other_key_id),
        person_id=building.resident_id,
    )
    session.commit()

    report = move_out(
        session=session,
        master_key=MASTER_KEY,
        property_id=building.property_id,
        membership_id=held["membership"],
        at=T0,
        by=building.manager_id,
        now=T0 + DAY,
    )

    assert elsewhere.id not in report.revoked.grants
    assert report.revoked.phones == ()
    assert building.other_door_id not in {status.door_id for status in report.locks}
    session.expire_all()
    assert session.get_one(Grant, elsewhere.id).revoked_at is None
    assert session.get_one(MobileKeyRegistration, held["phone"]).revoked_at is None
    oak = sync(session, building.lock_ids[building.other_door_id], T0 + DAY)
    assert elsewhere.id not in oak.revoked_key_ids
    assert held["phone"] not in oak.revoked_credential_ids


def test_a_scheduled_move_out_waits_for_its_time_and_the_job_ends_it_once(
    session: Session, building: ResidencyBuilding
) -> None:
    held = _resident_with_everything(session, building)
    at = T0 + 10 * DAY

    report = move_out(
        session=session,
        master_key=MASTER_KEY,
        property_id=building.property_id,
        membership_id=held["membership"],
        at=at,
        by=building.manager_id,
        now=T0 + DAY,
    )
    session.commit()

    assert report.scheduled
    assert report.ends_at == at
    assert report.revoked.counts() == dict.fromkeys(report.revoked.counts(), 0)
    membership = session.get_one(RoleMembership, held["membership"])
    assert residency_state(membership, T0 + DAY) is ResidencyState.SCHEDULED_MOVE_OUT
    session.expire_all()
    unit_grant = session.scalars(
        select(Grant).where(
            Grant.person_id == building.resident_id, Grant.key_id == building.unit_key_id
        )
    ).one()
    assert (unit_grant.ends_at, unit_grant.revoked_at) == (at, None)
    assert session.get_one(Doorcode, held["doorcode"]).revoked_at is None

    assert (
        end_due_residencies(session=session, master_key=MASTER_KEY, now=at - timedelta(seconds=1))
        == []
    )
    [done] = end_due_residencies(session=session, master_key=MASTER_KEY, now=at)
    session.commit()
    assert (done.membership_id, done.scheduled, done.ends_at) == (held["membership"], False, at)
    assert held["doorcode"] in done.revoked.doorcodes
    assert end_due_residencies(session=session, master_key=MASTER_KEY, now=at + DAY) == []
    session.expire_all()
    assert session.get_one(RoleMembership, held["membership"]).ended_at == at
    assert session.get_one(Doorcode, held["doorcode"]).revoked_at == at


def test_an_ended_residency_cannot_move_out_again_and_another_propertys_is_not_found(
    session: Session, building: ResidencyBuilding
) -> None:
    membership = _move_in(session, building)
    args = {"session": session, "master_key": MASTER_KEY, "by": None, "now": T0, "at": T0}
    with pytest.raises(NotFound):
        move_out(property_id=building.other_property_id, membership_id=membership.id, **args)
    move_out(property_id=building.property_id, membership_id=membership.id, **args)
    with pytest.raises(Conflict):
        move_out(property_id=building.property_id, membership_id=membership.id, **args)


def test_a_guest_shared_from_another_key_stays_while_a_role_remains(
    session: Session, building: ResidencyBuilding
) -> None:
    """Sharing from a key the person keeps is not the residency's."""
    membership = _move_in(session, building)
    shared_key = make_key(
        session,
        property_id=building.property_id,
        name="Gym pass",
        door_ids=[building.gym_id],
        may_share=True,
    )
    give_key(session, key=shared_key, person_id=building.resident_id, by=building.manager_id)
    give_role(
        session,
        person_id=building.resident_id,
        property_id=building.property_id,
        role=Role.STAFF,
        by=building.manager_id,
    )
    guest = sharing.invite_guest(
        session=session,
        config=AuthConfig(),
        principal=_principal(session, building.resident_id),
        property_id=building.property_id,
        invite=GuestInvite(
            email="gym-guest@example.test",
            display_name="Gym guest",
            key_id=shared_key.id,
            starts_at=T0,
            ends_at=T0 + DAY,
        ),
        now=T0,
    )
    report = move_out(
        session=session,
        master_key=MASTER_KEY,
        property_id=building.property_id,
        membership_id=membership.id,
        at=T0,
        by=None,
        now=T0,
    )
    assert report.revoked.shared_grants == ()
    assert session.get_one(Grant, guest.id).revoked_at is None


def test_after_a_move_out_nothing_blocks_the_deletion_of_the_persons_data(
    session: Session, building: ResidencyBuilding
) -> None:
    """D4: a tenant who moved out and holds nothing else can have their data deleted."""
    held = _resident_with_everything(session, building)
    assert blockers(session, building.resident_id, T0)

    move_out(
        session=session,
        master_key=MASTER_KEY,
        property_id=building.property_id,
        membership_id=held["membership"],
        at=T0 + DAY,
        by=building.manager_id,
        now=T0 + DAY,
    )

    assert blockers(session, building.resident_id, T0 + DAY) == []
