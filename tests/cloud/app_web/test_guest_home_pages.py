"""When can I get in? A guest's page says when their access is valid, who invited them, and
for each door whether it opens now; the lock itself, deciding the guest's phone key at the same
instant, agrees every time."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from factories import MASTER_KEY, T0, Clock, give_key, give_phone, make_key
from keyturn.cloud.access.credentials.mobile_keys import issue_for_phone
from keyturn.cloud.access.explain.my_doors import my_doors_now
from keyturn.cloud.models import GrantKind
from keyturn.crypto.keys import SigningKeyPair
from keyturn.crypto.mobile_keys import sign_challenge
from keyturn.rules.types import Reason
from portal_pages import Portal, assert_no_raw_ids, visible_text
from worlds import RealLock, Site, real_lock

# T0 is Monday 2 March 2026, 04:00 in New York (the building's zone).
STARTS = datetime(2026, 3, 3, 14, 0, tzinfo=T0.tzinfo)  # Tuesday 09:00 in New York
ENDS = datetime(2026, 3, 6, 22, 0, tzinfo=T0.tzinfo)  # Friday 17:00 in New York
WEEKDAYS_9_TO_5 = tuple({"weekday": day, "start": "09:00", "end": "17:00"} for day in range(5))
HOURS = "Mon\N{EN DASH}Fri 09:00\N{EN DASH}17:00"


def _words(html: str) -> str:
    return " ".join(visible_text(html).split())


class GuestAtTheDoor:
    """The guest's phone at the package room's real lock."""

    def __init__(self, db: Session, site: Site, folder: Path) -> None:
        self.db = db
        self.phone = SigningKeyPair.generate()
        self.registration = give_phone(db, person_id=site.person("guest"), phone=self.phone)
        self.lock: RealLock = real_lock(db, door_id=site.package_room_id, folder=folder, now=T0)
        self.lock.sync(db, T0)

    def decides(self, at: datetime) -> Reason:
        """The lock's own decision on the key the phone fetched a day before (or at T0)."""
        fetched = max(T0, at - timedelta(days=1))
        issued = issue_for_phone(self.db, MASTER_KEY, self.registration, fetched)
        self.db.commit()
        token = next(key.token for key in issued if self.lock.door_id in key.door_ids)
        lock = self.lock.at(at)
        challenge = lock.issue_challenge()
        signature = sign_challenge(self.phone, challenge, self.lock.door_id)
        return lock.present_mobile_key(challenge, token, signature).decision.reason


@pytest.fixture
def guest_key(db: Session, site: Site) -> None:
    key = make_key(
        db,
        property_id=site.property_id,
        name="Visits to 4B",
        door_ids=[site.package_room_id],
        windows=WEEKDAYS_9_TO_5,
    )
    give_key(
        db,
        key=key,
        person_id=site.person("guest"),
        starts_at=STARTS,
        ends_at=ENDS,
        by=site.person("resident"),
        kind=GrantKind.GUEST,
        now=T0,
    )
    db.commit()


@pytest.mark.parametrize(
    ("at", "reason", "words"),
    [
        (T0, Reason.NOT_YET_VALID, "Not now: your access starts Tue 3 Mar, 09:00."),
        (
            datetime(2026, 3, 3, 23, 0, tzinfo=T0.tzinfo),  # Tuesday 18:00
            Reason.OUTSIDE_SCHEDULE,
            f"Not now: outside your weekly hours: {HOURS}.",
        ),
        (datetime(2026, 3, 4, 15, 0, tzinfo=T0.tzinfo), Reason.GRANTED, "You can open it now."),
    ],
)
@pytest.mark.usefixtures("guest_key")
def test_the_guests_page_says_what_the_lock_decides(
    browsers: Portal,
    db: Session,
    site: Site,
    clock: Clock,
    tmp_path: Path,
    at: datetime,
    reason: Reason,
    words: str,
) -> None:
    door = GuestAtTheDoor(db, site, tmp_path)
    clock.now = at
    page = browsers.as_person(site.person("guest")).get(
        f"/app/properties/{site.property_id}/access"
    )
    shown = my_doors_now(
        session=db,
        master_key=MASTER_KEY,
        property_id=site.property_id,
        person_id=site.person("guest"),
        now=at,
    )

    assert door.decides(at) is reason
    assert [d.reason for held in shown.held for d in held.doors] == [reason]
    assert page.status_code == 200
    text = _words(page.text)
    assert f"Package room: {words}" in text
    assert "Visits to 4B" in text
    assert HOURS in text
    assert "Invited by" in text
    assert_no_raw_ids(page.text)


def test_a_resident_sees_their_own_keys_doors_now(browsers: Portal, site: Site) -> None:
    browser = browsers.as_person(site.person("resident"))
    home = browser.get(f"/app/properties/{site.property_id}")
    page = browser.get(f"/app/properties/{site.property_id}/access")
    assert f'href="/app/properties/{site.property_id}/access"' in home.text
    text = _words(page.text)
    assert page.status_code == 200
    assert "Residents 4B" in text
    assert "Entrance: You can open it now." in text
    assert "4B door: You can open it now." in text
    assert "Any time" in text
    assert_no_raw_ids(page.text)


@pytest.mark.usefixtures("guest_key")
def test_a_guest_sees_no_one_elses_keys_and_no_other_building(browsers: Portal, site: Site) -> None:
    browser = browsers.as_person(site.person("guest"))
    page = browser.get(f"/app/properties/{site.property_id}/access")
    elsewhere = browser.get(f"/app/properties/{site.personas.other_property_id}/access")
    assert "Residents 4B" not in page.text
    assert elsewhere.status_code in (403, 404)
    assert "Visits to 4B" not in elsewhere.text


def test_a_person_with_no_key_is_told_so(browsers: Portal, site: Site) -> None:
    page = browsers.as_person(site.person("staff")).get(
        f"/app/properties/{site.property_id}/access"
    )
    assert page.status_code == 200
    assert "You hold no key here" in page.text
