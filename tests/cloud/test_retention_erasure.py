"""The retention run finishes erasure requests (D6): a deleted person's common-door history,
kept 90 days for building security, is anonymised by the run that comes at day 90.

The clock is moved with time-machine and each run is given the wall clock, as `keyturn
retention run` does without --now.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import time_machine
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from factories import MASTER_KEY, T0
from keyturn.cloud.db import utcnow
from keyturn.cloud.models import DataSubjectRequest, Event, Grant, Photo, RequestKind
from keyturn.cloud.privacy import requests
from keyturn.cloud.privacy.retention.service import ERASED_PEOPLE_ANONYMISED, run_retention
from keyturn.cloud.sessions import session_factory
from keyturn.rules.types import CredentialType
from worlds import add_event, add_photo, make_history_world

DUE = T0 + timedelta(days=90)


def _erase(session: Session, person_id: str, email: str, name: str, photo_dir: Path) -> None:
    """A verified deletion request for the person, executed at T0 once their access ended."""
    filed = requests.file_request(
        session=session,
        master_key=MASTER_KEY,
        person_id=person_id,
        kind=RequestKind.DELETION,
        now=T0,
    )
    assert filed.code is not None
    requests.confirm_code(session, MASTER_KEY, filed.request, filed.code, email, name, T0)
    for grant in session.scalars(select(Grant).where(Grant.person_id == person_id)):
        grant.revoked_at = T0
    requests.proceed(session, MASTER_KEY, photo_dir, filed.request, T0)
    session.commit()


def test_rule_d6_the_retention_run_anonymises_kept_common_history_at_day_90(
    session: Session, engine: Engine, tmp_path: Path
) -> None:
    world = make_history_world(session)
    gym = add_event(session, world, "gym", "gym", "resident", credential=CredentialType.KEYCARD)
    photo = add_photo(session, tmp_path, gym)
    photo_id, photo_file = photo.id, tmp_path / "photos" / photo.storage_key
    _erase(session, world.people["resident"], "resident@example.org", "resident", tmp_path)
    sessions = session_factory(engine)

    with time_machine.travel(DUE - timedelta(seconds=1), tick=False):
        early = run_retention(sessions, utcnow(), photo_dir=tmp_path / "photos")
    session.expire_all()
    kept = session.get_one(Event, gym.id)

    assert early.service[ERASED_PEOPLE_ANONYMISED] == 0
    assert kept.subject_id == world.people["resident"]
    assert photo_file.exists()

    with time_machine.travel(DUE, tick=False):
        due = run_retention(sessions, utcnow(), photo_dir=tmp_path / "photos")
    with time_machine.travel(DUE + timedelta(days=30), tick=False):
        later = run_retention(sessions, utcnow(), photo_dir=tmp_path / "photos")
    session.expire_all()
    anonymous = session.get_one(Event, gym.id)
    request = session.scalars(select(DataSubjectRequest)).one()

    assert due.service[ERASED_PEOPLE_ANONYMISED] == 1
    assert later.service[ERASED_PEOPLE_ANONYMISED] == 0
    assert (anonymous.subject_id, anonymous.photo_id, anonymous.anonymised_at) == (None, None, DUE)
    assert (anonymous.door_id, anonymous.credential_type) == (gym.door_id, CredentialType.KEYCARD)
    assert session.get(Photo, photo_id) is None
    assert not photo_file.exists()
    assert request.anonymised_at == DUE
