"""The portal's people pages: the list by unit with managers' powers, inviting, one person's
file (move out, manager powers) and the CSV import's preview, against what the API enforces."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from keyturn.cloud.models import Person, RoleMembership, RolePermission
from keyturn.rules.types import Permission, Role
from portal_pages import Portal, assert_no_raw_ids, visible_text
from worlds import Site, mails_to

NAMES = {
    "resident": "Ada Park",
    "portfolio_manager": "Pia Portfolio",
    "property_manager": "Pat Property",
    "pm_keys_specific": "Sam Specific",
    "pm_keys_full": "Fay Full",
    "staff": "Stu Staff",
}


def _named(db: Session, site: Site) -> None:
    for persona, name in NAMES.items():
        db.get_one(Person, site.person(persona)).display_name = name
    db.commit()


def _people(site: Site, below: str = "") -> str:
    return f"/portal/properties/{site.property_id}/people{below}"


def _count(db: Session, model: type[object]) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(model)) or 0


def test_the_list_shows_residents_by_unit_and_managers_powers_in_words(
    portal: Portal, db: Session, site: Site
) -> None:
    _named(db, site)
    page = portal.as_person(site.person("portfolio_manager")).get(_people(site))

    assert page.status_code == 200
    text = " ".join(visible_text(page.text).split())
    assert "4B Ada Park" in text
    assert "5C Nobody lives here" in text
    assert "Sam Specific Property manager Specific keys: Gym" in text
    assert "Fay Full Property manager Full keys" in text
    assert "Pia Portfolio Portfolio manager Every power" in text
    assert "Stu Staff" in text
    assert f'href="{_people(site)}/{site.person("resident")}"' in page.text
    assert "Invite someone" in text
    assert "Import residents (CSV)" in text
    assert_no_raw_ids(page.text)


def test_staff_and_a_resident_are_refused_the_list(portal: Portal, db: Session, site: Site) -> None:
    _named(db, site)
    staff = portal.as_person(site.person("staff")).get(_people(site))
    resident = portal.as_person(site.person("resident"))
    refused = resident.get(_people(site))
    overview = resident.get(f"/portal/properties/{site.property_id}")

    assert staff.status_code == 403
    assert refused.status_code == 403
    assert "Ada Park" not in refused.text
    assert f'href="{_people(site)}"' not in overview.text


def test_inviting_adds_the_person_and_emails_them(portal: Portal, db: Session, site: Site) -> None:
    browser = portal.as_person(site.person("portfolio_manager"))
    form = browser.get(_people(site, "/invite"))
    assert form.status_code == 200
    for label in ("Email", "Name", "Role", "Unit", "Send invitation"):
        assert f">{label}<" in form.text
    assert "Service provider" in form.text
    assert_no_raw_ids(form.text)

    sent = browser.post(
        _people(site, "/invite"),
        {
            "email": "noor@example.org",
            "display_name": "Noor Haddad",
            "role": "resident",
            "unit_id": site.other_unit_id,
        },
        follow_redirects=False,
    )

    assert sent.status_code == 303
    assert sent.headers["location"].startswith(_people(site, "?done=invited"))
    after = browser.get(sent.headers["location"])
    assert "Invitation sent to Noor Haddad" in after.text
    assert "5C" in after.text
    db.expire_all()
    noor = db.scalars(select(Person).where(Person.email == "noor@example.org")).one()
    membership = db.scalars(select(RoleMembership).where(RoleMembership.person_id == noor.id)).one()
    assert (membership.role, membership.unit_id) == (Role.RESIDENT, site.other_unit_id)
    assert len(mails_to(db, "noor@example.org")) == 1


def test_a_resident_without_a_unit_is_shown_the_form_again(
    portal: Portal, db: Session, site: Site
) -> None:
    browser = portal.as_person(site.person("portfolio_manager"))
    people_before = _count(db, Person)

    sent = browser.post(
        _people(site, "/invite"),
        {"email": "kai@example.org", "display_name": "Kai", "role": "resident", "unit_id": ""},
    )

    assert sent.status_code == 422
    assert "a resident needs a unit_id" in sent.text
    assert 'value="kai@example.org"' in sent.text
    assert _count(db, Person) == people_before


def test_a_forged_invitation_by_a_resident_is_refused_and_adds_nobody(
    portal: Portal, db: Session, site: Site
) -> None:
    browser = portal.as_person(site.person("resident"))
    people_before = _count(db, Person)

    form = browser.get(_people(site, "/invite"))
    sent = browser.post(
        _people(site, "/invite"),
        {"email": "eve@example.org", "display_name": "Eve", "role": "staff", "unit_id": ""},
    )

    assert form.status_code == 403
    assert sent.status_code == 403
    assert _count(db, Person) == people_before
    assert mails_to(db, "eve@example.org") == []


def test_the_person_page_names_roles_residency_and_links(
    portal: Portal, db: Session, site: Site
) -> None:
    _named(db, site)
    resident = site.person("resident")
    page = portal.as_person(site.person("property_manager")).get(_people(site, f"/{resident}"))

    assert page.status_code == 200
    text = " ".join(visible_text(page.text).split())
    assert "Ada Park" in text
    assert "resident@example.org" in text
    assert "Roles here: Resident" in text
    assert "Move out of 4B" in text
    assert f'href="{_people(site, f"/{resident}/credentials")}"' in page.text
    assert f'href="/portal/properties/{site.property_id}/history?person={resident}"' in page.text
    assert "History of this person" in text
    assert_no_raw_ids(page.text)


def test_moving_out_through_the_page_ends_the_residency(
    portal: Portal, db: Session, site: Site
) -> None:
    _named(db, site)
    resident = site.person("resident")
    browser = portal.as_person(site.person("property_manager"))
    membership = db.scalars(
        select(RoleMembership).where(
            RoleMembership.person_id == resident, RoleMembership.role == Role.RESIDENT
        )
    ).one()

    sent = browser.post(
        _people(site, f"/{resident}/move-out"),
        {"membership_id": membership.id, "when": "now"},
        follow_redirects=False,
    )

    assert sent.status_code == 303
    db.expire_all()
    assert db.get_one(RoleMembership, membership.id).ended_at is not None
    listing = browser.get(sent.headers["location"])
    assert "The resident moved out" in listing.text
    assert "Ada Park" not in listing.text
    assert "4B Nobody lives here" in " ".join(visible_text(listing.text).split())


def test_a_property_manager_has_no_manager_powers_form_and_a_forged_one_is_refused(
    portal: Portal, db: Session, site: Site
) -> None:
    specific = site.person("pm_keys_specific")
    property_manager = portal.as_person(site.person("property_manager"))
    portfolio_manager = portal.as_person(site.person("portfolio_manager"))

    seen_by_pm = property_manager.get(_people(site, f"/{specific}"))
    seen_by_owner = portfolio_manager.get(_people(site, f"/{specific}"))
    forged = property_manager.post(
        _people(site, f"/{specific}/manager"),
        {"keys": "full", "device_management": "yes"},
    )
    forged_removal = property_manager.post(_people(site, f"/{specific}/manager/remove"))

    assert seen_by_pm.status_code == 200
    assert "Manager powers</h2>" not in seen_by_pm.text
    assert "Remove as manager" not in seen_by_pm.text
    assert "Manager powers</h2>" in seen_by_owner.text
    assert "Remove as manager" in seen_by_owner.text
    assert forged.status_code == 403
    assert forged_removal.status_code == 403
    db.expire_all()
    held = set(
        db.scalars(
            select(RolePermission.permission).where(
                RolePermission.person_id == specific,
                RolePermission.property_id == site.property_id,
            )
        )
    )
    assert held == {Permission.KEYS_SPECIFIC}


def test_a_portfolio_manager_sets_powers_through_the_page(
    portal: Portal, db: Session, site: Site
) -> None:
    _named(db, site)
    specific = site.person("pm_keys_specific")
    browser = portal.as_person(site.person("portfolio_manager"))

    sent = browser.post(
        _people(site, f"/{specific}/manager"),
        {"keys": "limited", "security_viewer": "yes"},
        follow_redirects=False,
    )

    assert sent.status_code == 303
    listing = " ".join(visible_text(browser.get(_people(site)).text).split())
    assert "Sam Specific Property manager Limited keys, security viewer" in listing


CSV = "name,email,unit\nNoor Haddad,noor@example.org,5C\nStu Again,staff@example.org,4B\n"


def test_the_import_preview_changes_nothing_and_apply_does_what_it_said(
    portal: Portal, db: Session, site: Site
) -> None:
    _named(db, site)
    browser = portal.as_person(site.person("portfolio_manager"))
    people_before = _count(db, Person)
    memberships_before = _count(db, RoleMembership)

    upload = browser.get(_people(site, "/import"))
    preview = browser.post(
        _people(site, "/import/preview"),
        files={"csv_file": ("residents.csv", CSV.encode(), "text/csv")},
    )

    assert upload.status_code == 200
    assert preview.status_code == 200
    text = " ".join(visible_text(preview.text).split())
    assert "Noor Haddad noor@example.org 5C new person" in text
    assert "Stu Staff (already known) becomes a resident" in text
    assert "Apply import" in text
    assert_no_raw_ids(preview.text)
    assert (_count(db, Person), _count(db, RoleMembership)) == (people_before, memberships_before)
    assert mails_to(db, "noor@example.org") == []

    applied = browser.post(_people(site, "/import/apply"), {"csv": CSV}, follow_redirects=False)

    assert applied.status_code == 303
    assert "2 residents imported" in browser.get(applied.headers["location"]).text
    assert _count(db, Person) == people_before + 1
    assert _count(db, RoleMembership) == memberships_before + 2
    staff_homes = db.scalars(
        select(RoleMembership.unit_id).where(
            RoleMembership.person_id == site.person("staff"), RoleMembership.role == Role.RESIDENT
        )
    ).all()
    assert staff_homes == [site.personas.unit_id]
    assert len(mails_to(db, "noor@example.org")) == 1


def test_an_import_with_a_bad_row_offers_no_apply_and_a_forged_apply_imports_nothing(
    portal: Portal, db: Session, site: Site
) -> None:
    bad = CSV + "Nobody,not-an-address,9Z\n"
    browser = portal.as_person(site.person("portfolio_manager"))
    resident = portal.as_person(site.person("resident"))
    people_before = _count(db, Person)

    preview = browser.post(_people(site, "/import/preview"), {"csv": bad})
    applied = browser.post(_people(site, "/import/apply"), {"csv": bad})
    empty = browser.post(_people(site, "/import/apply"), {"csv": ""})
    forged = resident.post(_people(site, "/import/apply"), {"csv": CSV})

    assert preview.status_code == 200
    assert "email is not an address" in preview.text
    assert "Apply import" not in preview.text
    assert applied.status_code == 422
    assert empty.status_code == 422
    assert forged.status_code == 403
    assert _count(db, Person) == people_before
