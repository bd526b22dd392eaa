"""The privacy pages: the reviewer's data requests, retention and the audit record, each
behind its API route's Action and over the same services, so what a page does the API shows."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import bearer, make_member, token_for
from keyturn.cloud.models import DataSubjectRequest, Property
from keyturn.rules.types import Role
from portal_pages import Browser, Portal, assert_no_raw_ids
from worlds import Site

REVIEWER = "Morgan Reyes"


def _reviewer(db: Session, site: Site) -> str:
    person = make_member(
        db,
        email="morgan@example.org",
        property_id=site.property_id,
        role=Role.PORTFOLIO_MANAGER,
        name=REVIEWER,
    )
    db.commit()
    return person.id


def _requests(site: Site) -> str:
    return f"/portal/properties/{site.property_id}/requests"


def _file(browser: Browser, site: Site, **extra: str) -> str:
    """Log a phone request from the resident (known by their email); its page's path."""
    filed = browser.post(
        _requests(site),
        {
            "kind": "copy",
            "channel": "phone",
            "requester_name": "Ana Pérez",
            "requester_email": "resident@example.org",
            "requester_phone": "+1 415 555 0134",
            "note": "Called the front desk.",
            **extra,
        },
        follow_redirects=False,
    )
    assert filed.status_code == 303, filed.text
    return filed.headers["location"].split("?")[0]


def _api_request(client: TestClient, db: Session, person_id: str, request_id: str) -> dict:
    token = token_for(db, person_id)
    db.commit()
    answer = client.get(f"/api/v1/data-requests/{request_id}", headers=bearer(token))
    assert answer.status_code == 200
    return dict(answer.json())


def test_a_property_manager_without_dsar_review_cannot_open_or_act_on_requests(
    portal: Portal, db: Session, site: Site
) -> None:
    reviewer = portal.as_person(_reviewer(db, site))
    page = _file(reviewer, site)
    request_id = page.rsplit("/", 1)[1]
    manager = portal.as_person(site.person("property_manager"))

    queue = manager.get(_requests(site))
    one = manager.get(page)
    overview = manager.get(f"/portal/properties/{site.property_id}")
    forged = manager.post(f"{page}/approve", follow_redirects=False)
    refused = manager.post(f"{page}/refuse", {"reason": "no"}, follow_redirects=False)

    assert queue.status_code == 403
    assert one.status_code == 403
    assert forged.status_code == 403
    assert refused.status_code == 403
    assert "Data requests" not in overview.text
    db.expire_all()
    row = db.get_one(DataSubjectRequest, request_id)
    assert row.state == "verifying"
    assert row.refusal_reason is None


def test_the_queue_and_a_request_show_names_deadlines_and_identity(
    portal: Portal, db: Session, site: Site
) -> None:
    reviewer = portal.as_person(_reviewer(db, site))
    page = _file(reviewer, site, received_on="2026-02-02T10:30")

    queue = reviewer.get(_requests(site))
    one = reviewer.get(page + "?done=filed")

    assert queue.status_code == one.status_code == 200
    assert "Ana Pérez" in queue.text
    assert "phone" in queue.text
    # Received Mon 2 Feb in New York, acknowledged at once by mail: 45 days to answer.
    assert "Thu 19 Mar 2026" in queue.text
    assert "badge bad" not in queue.text
    assert "not verified: check who asked" in one.text
    assert "The request is logged" in one.text
    assert "Test Person" in one.text  # whom it concerns: the resident, by name
    assert "Approve" in one.text
    assert_no_raw_ids(queue.text)
    assert_no_raw_ids(one.text)


def test_an_overdue_request_is_flagged(portal: Portal, db: Session, site: Site) -> None:
    reviewer = portal.as_person(_reviewer(db, site))
    _file(reviewer, site, received_on="2026-01-02T10:30", requester_email="")

    queue = reviewer.get(_requests(site))
    overdue_only = reviewer.get(_requests(site) + "?overdue=true")

    assert queue.text.count("badge bad") >= 2  # acknowledgement and answer both overdue
    assert "Ana Pérez" in overdue_only.text


def test_approving_and_refusing_through_the_page_changes_what_the_api_shows(
    portal: Portal, client: TestClient, db: Session, site: Site
) -> None:
    reviewer_id = _reviewer(db, site)
    reviewer = portal.as_person(reviewer_id)
    approved_page = _file(reviewer, site)
    refused_page = _file(reviewer, site)
    approved_id = approved_page.rsplit("/", 1)[1]
    refused_id = refused_page.rsplit("/", 1)[1]

    approve = reviewer.post(f"{approved_page}/approve", follow_redirects=False)
    blank = reviewer.post(f"{refused_page}/refuse", {"reason": "  "})
    refuse = reviewer.post(
        f"{refused_page}/refuse", {"reason": "Not the person named"}, follow_redirects=False
    )
    shown = reviewer.get(refuse.headers["location"])

    assert approve.status_code == 303
    assert approve.headers["location"].endswith("?done=approved")
    assert blank.status_code == 422
    assert "field-error" in blank.text
    assert refuse.status_code == 303
    assert "Not the person named" in shown.text
    assert _api_request(client, db, reviewer_id, approved_id)["identity"] == "verified"
    refused = _api_request(client, db, reviewer_id, refused_id)
    assert refused["state"] == "refused"
    assert refused["refusal_reason"] == "Not the person named"


def test_hold_and_extend_record_their_reasons(
    portal: Portal, client: TestClient, db: Session, site: Site
) -> None:
    reviewer_id = _reviewer(db, site)
    reviewer = portal.as_person(reviewer_id)
    page = _file(reviewer, site)
    request_id = page.rsplit("/", 1)[1]

    extended = reviewer.post(f"{page}/extend", {"reason": "Records are in storage"})
    held = reviewer.post(f"{page}/hold", {"reason": "Counsel asked to wait"})

    assert extended.status_code == held.status_code == 200
    assert "Counsel asked to wait" in held.text
    assert "Records are in storage" in held.text
    shown = _api_request(client, db, reviewer_id, request_id)
    assert shown["state"] == "on_hold"
    assert shown["extension_reason"] == "Records are in storage"


def test_a_filing_without_a_way_to_answer_is_re_asked(
    portal: Portal, db: Session, site: Site
) -> None:
    reviewer = portal.as_person(_reviewer(db, site))

    answer = reviewer.post(
        _requests(site), {"kind": "copy", "channel": "phone", "requester_name": ""}
    )

    assert answer.status_code == 422
    assert "field-error" in answer.text
    assert db.scalars(select(DataSubjectRequest)).all() == []


# -- retention ------------------------------------------------------------------------------


def _retention(site: Site) -> str:
    return f"/portal/properties/{site.property_id}/retention"


def _nyc(db: Session, site: Site) -> None:
    db.get_one(Property, site.property_id).jurisdiction = "US-NY-NYC"
    db.commit()


def test_retention_longer_than_nyc_allows_is_refused_and_changes_nothing(
    portal: Portal, db: Session, site: Site
) -> None:
    _nyc(db, site)
    manager = portal.as_person(_reviewer(db, site))

    page = manager.get(_retention(site))
    longer = manager.post(_retention(site), {"override_days": "400"})
    shorter = manager.post(_retention(site), {"override_days": "10"}, follow_redirects=False)
    after = manager.get(shorter.headers["location"])

    assert page.status_code == 200
    assert "US-NY-NYC" in page.text
    assert "90 days" in page.text
    assert longer.status_code == 422
    assert "not allowed" in longer.text
    assert shorter.status_code == 303
    assert "shortened its retention to 10 days" in after.text
    db.expire_all()
    assert db.get_one(Property, site.property_id).retention_days_override == 10

    cleared = manager.post(_retention(site), {"clear": "yes"}, follow_redirects=False)
    assert cleared.status_code == 303
    db.expire_all()
    assert db.get_one(Property, site.property_id).retention_days_override is None


def test_a_property_manager_reads_retention_but_cannot_change_it(
    portal: Portal, db: Session, site: Site
) -> None:
    _nyc(db, site)
    manager = portal.as_person(site.person("property_manager"))

    page = manager.get(_retention(site))
    forged = manager.post(_retention(site), {"override_days": "5"})

    assert page.status_code == 200
    assert "Set the retention" not in page.text
    assert forged.status_code == 403
    db.expire_all()
    assert db.get_one(Property, site.property_id).retention_days_override is None
    assert_no_raw_ids(page.text)


# -- audit record ---------------------------------------------------------------------------


def _table(html: str) -> str:
    """The page's table of entries (the filter's choices name every action too)."""
    return html[html.find("<table") :] if "<table" in html else ""


def _audit(site: Site, query: str = "") -> str:
    return f"/portal/properties/{site.property_id}/audit{query}"


def test_the_audit_page_shows_names_and_its_own_read_on_the_next(
    portal: Portal, db: Session, site: Site
) -> None:
    _nyc(db, site)
    manager = portal.as_person(_reviewer(db, site))
    manager.post(_retention(site), {"override_days": "10"})

    first = manager.get(_audit(site))
    second = manager.get(_audit(site))
    only_retention = manager.get(_audit(site, "?action=retention"))

    assert first.status_code == 200
    assert "changed the retention" in _table(first.text)
    assert REVIEWER in _table(first.text)
    assert "read the audit record" not in _table(first.text)
    assert "read the audit record" in _table(second.text)
    assert "changed the retention" in _table(only_retention.text)
    assert "read the audit record" not in _table(only_retention.text)
    assert_no_raw_ids(second.text)


def test_the_audit_page_filters_by_person_and_pages(
    portal: Portal, db: Session, site: Site
) -> None:
    reviewer_id = _reviewer(db, site)
    manager = portal.as_person(reviewer_id)
    for _ in range(3):
        manager.get(_audit(site))

    mine = manager.get(_audit(site, f"?actor={reviewer_id}"))
    nobody = manager.get(_audit(site, f"?actor={site.person('resident')}"))

    assert f"Only what {REVIEWER} did" in mine.text
    assert "read the audit record" in _table(mine.text)
    assert "Nothing recorded matches" in nobody.text
    # The reads filtered by a person are recorded with the filter: by name, never its id.
    assert_no_raw_ids(manager.get(_audit(site)).text)


def test_a_property_manager_cannot_read_the_audit_record(
    portal: Portal, db: Session, site: Site
) -> None:
    manager = portal.as_person(site.person("property_manager"))

    assert manager.get(_audit(site)).status_code == 403
