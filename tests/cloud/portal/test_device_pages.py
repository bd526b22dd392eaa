"""The doors-and-locks page: lock health per door, enrolling a lock with a token shown once,
retiring a lock, and lockdown of the building and of one door with per-lock progress."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from keyturn.cloud.models import Device, ProvisioningToken
from portal_pages import Portal, assert_no_raw_ids, visible_text
from worlds import Site, sync

TOKEN = re.compile(r"--token ([A-Za-z0-9_-]+)")


def _page(site: Site) -> str:
    return f"/portal/properties/{site.property_id}/devices"


def _tokens(db: Session) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(ProvisioningToken)) or 0


def test_the_page_shows_every_door_with_its_lock_by_name(portal: Portal, site: Site) -> None:
    manager = portal.as_person(site.person("property_manager"))
    page = manager.get(_page(site))

    assert page.status_code == 200
    for door in ("Entrance", "Package room", "4B door", "5C door"):
        assert door in page.text
    assert "No lock installed" in page.text
    assert "Lock down building" in page.text
    assert "Enrol a lock" not in page.text  # no device management
    assert "Retire lock" not in page.text
    assert "Lock down" in page.text
    assert_no_raw_ids(page.text)


def test_a_resident_cannot_open_the_page_and_a_forged_enrolment_makes_no_token(
    portal: Portal, db: Session, site: Site
) -> None:
    resident = portal.as_person(site.person("resident"))
    before = _tokens(db)

    assert resident.get(_page(site)).status_code == 403
    forged = resident.post(
        _page(site) + f"/doors/{site.package_room_id}/enrol", {"model": "keyturn-r1"}
    )

    assert forged.status_code == 403
    assert _tokens(db) == before


def test_enrolling_a_lock_shows_its_token_once_with_the_command(
    portal: Portal, db: Session, site: Site
) -> None:
    installer = portal.as_person(site.person("pm_device_management"))
    page = installer.get(_page(site))
    assert "Enrol a lock" in page.text
    before = _tokens(db)

    made = installer.post(
        _page(site) + f"/doors/{site.package_room_id}/enrol", {"model": "keyturn-r1"}
    )

    assert made.status_code == 200
    assert "will not be shown again" in made.text
    assert "Package room" in made.text
    token = TOKEN.findall(made.text)[0]
    assert "keyturn lock provision --cloud http" in made.text
    assert _tokens(db) == before + 1
    again = installer.get(_page(site))
    assert token not in visible_text(again.text)
    assert token not in again.text


def test_retiring_a_lock_through_the_page(portal: Portal, db: Session, site: Site) -> None:
    installer = portal.as_person(site.person("pm_device_management"))
    retired = installer.post(
        _page(site) + f"/locks/{site.entrance_lock_id}/retire", {"reason": "stolen"}
    )

    assert retired.status_code == 200
    assert "Lock retired" in retired.text
    db.expire_all()
    assert db.get_one(Device, site.entrance_lock_id).retired_at is not None


def test_lockdown_through_the_page_is_the_lockdown_the_api_shows(
    portal: Portal, db: Session, site: Site, client: TestClient
) -> None:
    manager = portal.as_person(site.person("portfolio_manager"))
    api = f"{site.url}/lockdown"

    on = manager.post(_page(site) + "/lockdown", {"on": "true"})

    assert on.status_code == 200
    assert "Lockdown started" in on.text
    assert "Locked down" in on.text
    assert "not yet" in on.text
    assert_no_raw_ids(on.text)
    assert client.get(api, headers=site.auth("portfolio_manager")).json()["lockdown"] is True

    sync(db, site.entrance_lock_id)
    shown = manager.get(_page(site))
    assert "applied" in shown.text

    off = manager.post(_page(site) + "/lockdown", {"on": "false"})
    assert "Lockdown ended" in off.text
    assert client.get(api, headers=site.auth("portfolio_manager")).json()["lockdown"] is False


def test_locking_down_one_door_through_the_page(
    portal: Portal, site: Site, client: TestClient
) -> None:
    manager = portal.as_person(site.person("property_manager"))
    answer = manager.post(_page(site) + f"/doors/{site.home_id}/lockdown", {"on": "true"})

    assert answer.status_code == 200
    door = client.get(
        f"{site.url}/doors/{site.home_id}/lockdown", headers=site.auth("property_manager")
    ).json()
    assert door["lockdown"] is True


def test_staff_cannot_lock_the_building_down(
    portal: Portal, site: Site, client: TestClient
) -> None:
    staff = portal.as_person(site.person("staff"))
    forged = staff.post(_page(site) + "/lockdown", {"on": "true"})

    assert forged.status_code == 403
    api = client.get(f"{site.url}/lockdown", headers=site.auth("portfolio_manager")).json()
    assert api["lockdown"] is False
