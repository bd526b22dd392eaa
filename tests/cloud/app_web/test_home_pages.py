"""A resident's home in the app: their own keys by name, with doors and hours in words, and
their personal doorcode, reset only after their password is typed again and shown once."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import PASSWORD, give_key, make_key, make_member
from keyturn.cloud.auth.passwords import hash_password
from keyturn.cloud.models import Account, Doorcode, Key
from keyturn.rules.types import Role
from portal_pages import Portal, assert_no_raw_ids, visible_text
from worlds import Site


def _home(site: Site) -> str:
    return f"/app/properties/{site.property_id}"


def _with_password(db: Session, person_id: str) -> None:
    account = db.scalars(select(Account).where(Account.person_id == person_id)).one()
    account.password_hash = hash_password(PASSWORD)
    db.commit()


def _codes(db: Session, person_id: str) -> list[Doorcode]:
    db.expire_all()
    return list(db.scalars(select(Doorcode).where(Doorcode.person_id == person_id)))


def test_the_home_shows_my_keys_with_door_names_and_hours_in_words(
    browsers: Portal, site: Site, db: Session
) -> None:
    gym = make_key(
        db,
        property_id=site.property_id,
        name="Evening gym",
        door_ids=[site.package_room_id],
        windows=(
            {"weekday": 0, "start": "18:00", "end": "22:00"},
            {"weekday": 1, "start": "18:00", "end": "22:00"},
            {"weekday": 2, "start": "18:00", "end": "22:00"},
        ),
    )
    give_key(
        db,
        key=gym,
        person_id=site.person("resident"),
        starts_at=browsers.clock(),
        resident=False,
        by=site.person("portfolio_manager"),
    )
    db.commit()
    page = browsers.as_person(site.person("resident")).get(_home(site))
    assert page.status_code == 200
    text = visible_text(page.text)
    assert "Residents 4B" in text
    assert "4B door, Entrance" in text
    assert "Evening gym" in text
    assert "Mon\N{EN DASH}Wed 18:00\N{EN DASH}22:00" in text
    assert "Any time" in text  # the resident key has no windows
    assert "resident" in text
    assert "Your password" in text  # the reset form of the 4B door
    assert_no_raw_ids(page.text)


def test_the_home_shows_only_my_own_keys(browsers: Portal, site: Site, db: Session) -> None:
    neighbour = make_member(
        db,
        email="neighbour@example.org",
        property_id=site.property_id,
        role=Role.RESIDENT,
        unit_id=site.other_unit_id,
    )
    db.commit()
    page = browsers.as_person(neighbour.id).get(_home(site))
    assert page.status_code == 200
    assert "Residents 4B" not in page.text
    assert "You hold no key here yet" in page.text


def test_another_propertys_home_is_not_found(browsers: Portal, site: Site) -> None:
    page = browsers.as_person(site.person("resident")).get(
        f"/app/properties/{site.personas.other_property_id}"
    )
    assert page.status_code == 404
    assert "Residents 4B" not in page.text


def test_a_wrong_password_resets_nothing_and_shows_no_code(
    browsers: Portal, site: Site, db: Session
) -> None:
    _with_password(db, site.person("resident"))
    browser = browsers.as_person(site.person("resident"))
    page = browser.post(
        f"{_home(site)}/doorcodes/reset", {"door_id": site.home_id, "password": "not it"}
    )
    assert page.status_code == 400
    assert "password is not correct" in page.text
    assert 'class="secret"' not in page.text
    assert _codes(db, site.person("resident")) == []


def test_the_right_password_shows_a_new_code_once(
    browsers: Portal, site: Site, db: Session
) -> None:
    _with_password(db, site.person("resident"))
    browser = browsers.as_person(site.person("resident"))
    page = browser.post(
        f"{_home(site)}/doorcodes/reset", {"door_id": site.home_id, "password": PASSWORD}
    )
    assert page.status_code == 200
    assert "will not be shown again" in page.text
    assert "4B door" in page.text
    assert page.headers["cache-control"] == "no-store"
    codes = _codes(db, site.person("resident"))
    assert [code.door_id for code in codes] == [site.home_id]
    home = browser.get(_home(site))
    assert "code set" in home.text
    assert 'class="secret"' not in home.text


def test_a_shared_doors_code_cannot_be_reset_here(
    browsers: Portal, site: Site, db: Session
) -> None:
    _with_password(db, site.person("resident"))
    page = browsers.as_person(site.person("resident")).post(
        f"{_home(site)}/doorcodes/reset", {"door_id": site.entrance_id, "password": PASSWORD}
    )
    assert page.status_code == 403
    assert 'class="secret"' not in page.text
    assert _codes(db, site.person("resident")) == []


def test_guessing_the_password_is_throttled_like_a_login(
    browsers: Portal, site: Site, db: Session
) -> None:
    _with_password(db, site.person("resident"))
    browser = browsers.as_person(site.person("resident"))
    url = f"{_home(site)}/doorcodes/reset"
    statuses = [
        browser.post(url, {"door_id": site.home_id, "password": f"guess {n}"}).status_code
        for n in range(6)
    ]
    assert statuses == [400] * 5 + [429]
    right = browser.post(url, {"door_id": site.home_id, "password": PASSWORD})
    assert right.status_code == 429
    assert _codes(db, site.person("resident")) == []
    assert db.get(Key, site.resident_key_id) is not None
