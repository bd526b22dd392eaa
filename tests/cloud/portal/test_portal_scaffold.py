"""The portal's frame: sign-in and sign-out, the gate (the API's check), CSRF on forms, the
page headers, and /docs served without a CDN."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from factories import make_member
from keyturn.cloud.page_headers import CONTENT_SECURITY_POLICY
from keyturn.cloud.portal.install import PAGE_ROUTERS
from keyturn.cloud.portal.templating import TEMPLATES
from keyturn.cloud.web.templating import form_token
from keyturn.rules.types import Role
from portal_pages import Portal, assert_no_raw_ids
from worlds import Site

PASSWORD = "a long enough password"


def test_an_anonymous_page_view_goes_to_sign_in_and_comes_back(portal: Portal, site: Site) -> None:
    client = portal.anonymous()
    page = f"/portal/properties/{site.property_id}/"
    answer = client.get(page.rstrip("/"), follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/portal/sign-in?next={page.rstrip('/')}"


def test_signing_in_with_the_form_opens_a_session_and_goes_where_asked(
    portal: Portal, db: Session, site: Site
) -> None:
    make_member(
        db,
        email="lee@example.org",
        property_id=site.property_id,
        role=Role.PROPERTY_MANAGER,
        name="Lee Manager",
        password=PASSWORD,
    )
    db.commit()
    client = portal.anonymous()
    form = client.get("/portal/sign-in?next=/portal/")
    token = client.cookies.get("keyturn_signin")
    assert form.status_code == 200
    assert token

    wrong = client.post(
        "/portal/sign-in",
        data={
            "email": "lee@example.org",
            "password": "wrong",
            "csrf_token": token,
            "next": "/portal/",
        },
        follow_redirects=False,
    )
    right = client.post(
        "/portal/sign-in",
        data={
            "email": "lee@example.org",
            "password": PASSWORD,
            "csrf_token": token,
            "next": "/portal/",
        },
        follow_redirects=False,
    )

    assert wrong.status_code == 401
    assert "not correct" in wrong.text
    assert right.status_code == 303
    assert right.headers["location"] == "/portal/"
    assert client.cookies.get("keyturn_session")
    home = client.get("/portal/")
    assert "12 Elm St" in home.text
    assert_no_raw_ids(home.text)


def test_the_sign_in_form_refuses_a_post_without_its_own_token(
    portal: Portal, db: Session, site: Site
) -> None:
    make_member(
        db,
        email="kim@example.org",
        property_id=site.property_id,
        role=Role.PROPERTY_MANAGER,
        password=PASSWORD,
    )
    db.commit()
    client = portal.anonymous()
    forged = client.post(
        "/portal/sign-in",
        data={"email": "kim@example.org", "password": PASSWORD, "next": "/portal/"},
        follow_redirects=False,
    )
    assert forged.status_code == 401
    assert client.cookies.get("keyturn_session") is None


def test_sign_in_never_sends_the_browser_to_another_site(portal: Portal) -> None:
    client = portal.anonymous()
    page = client.get("/portal/sign-in?next=//evil.example/")
    assert 'name="next" value=""' in page.text
    assert "evil.example" not in page.text


def test_a_form_post_without_the_csrf_field_is_refused_and_changes_nothing(
    portal: Portal, site: Site
) -> None:
    browser = portal.as_person(site.person("property_manager"))
    forged = browser.client.post("/portal/sign-out", data={}, follow_redirects=False)
    assert forged.status_code == 403
    assert "CSRF" in forged.text
    still = browser.get(f"/portal/properties/{site.property_id}")
    assert still.status_code == 200


def test_signing_out_ends_the_session(portal: Portal, site: Site) -> None:
    browser = portal.as_person(site.person("property_manager"))
    out = browser.post("/portal/sign-out", follow_redirects=False)
    assert out.status_code == 303
    after = browser.get(f"/portal/properties/{site.property_id}", follow_redirects=False)
    assert after.status_code == 303
    assert after.headers["location"].startswith("/portal/sign-in")


def test_another_portfolios_property_is_a_not_found_page(portal: Portal, site: Site) -> None:
    browser = portal.as_person(site.person("portfolio_manager"))
    page = browser.get(f"/portal/properties/{site.personas.other_property_id}")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert_no_raw_ids(page.text)


def test_the_overview_shows_doors_by_name_and_hides_lock_health_from_residents(
    portal: Portal, site: Site
) -> None:
    manager = portal.as_person(site.person("property_manager")).get(
        f"/portal/properties/{site.property_id}"
    )
    resident = portal.as_person(site.person("resident")).get(
        f"/portal/properties/{site.property_id}"
    )
    assert manager.status_code == resident.status_code == 200
    assert "Main entrance" in manager.text or "Entrance" in manager.text
    assert "Battery" in manager.text
    assert "Battery" not in resident.text
    assert (
        "Audit record"
        in portal.as_person(site.person("portfolio_manager"))
        .get(f"/portal/properties/{site.property_id}")
        .text
    )
    assert "Audit record" not in manager.text
    assert_no_raw_ids(manager.text)


def test_pages_carry_a_strict_content_security_policy(portal: Portal, site: Site) -> None:
    page = portal.anonymous().get("/portal/sign-in")
    policy = page.headers["content-security-policy"]
    assert policy == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "<script>" not in page.text  # no inline script anywhere on the page


def test_api_docs_load_swagger_from_this_service(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower()
    assert "https://" not in page.text
    script = client.get("/static/swagger-ui/swagger-ui-bundle.js")
    assert script.status_code == 200
    assert len(script.content) > 100_000
    assert client.get("/portal/static/api-docs.js").status_code == 200


def test_the_csrf_macro_fills_the_token_in_templates_that_import_it_without_context() -> None:
    # Jinja imports macros without the page's context: the token must come from elsewhere,
    # or every form a real browser submits is refused (a test client adds the field itself).
    template = TEMPLATES.env.from_string('{% import "macros.html" as m %}{{ m.csrf() }}')
    with form_token("token-of-this-page"):
        assert 'value="token-of-this-page"' in template.render()
    assert 'value=""' in template.render()


def test_the_front_door_sends_each_person_to_their_own_front_end(
    portal: Portal, site: Site
) -> None:
    """/ asks to sign in; someone already signed in goes on to the portal or the app."""
    anonymous = portal.anonymous().get("/", follow_redirects=True)
    assert anonymous.url.path == "/portal/sign-in"
    assert 'name="password"' in anonymous.text
    resident = portal.as_person(site.person("resident")).get("/", follow_redirects=True)
    manager = portal.as_person(site.person("property_manager")).get("/", follow_redirects=True)
    assert (resident.url.path, resident.status_code) == ("/app/", 200)
    assert (manager.url.path, manager.status_code) == ("/portal/", 200)
    straying = portal.as_person(site.person("resident")).get("/portal/", follow_redirects=False)
    assert straying.headers["location"] == "/app/"  # the portal's home is for managers
    asked = portal.as_person(site.person("resident")).get(
        "/portal/sign-in?next=/app/history", follow_redirects=False
    )
    assert asked.headers["location"] == "/app/history"


def test_no_two_page_routers_answer_the_same_path() -> None:
    """So their order (the polled pages first) changes only how soon a request is matched."""
    routes = [
        (number, route)
        for number, router in enumerate(PAGE_ROUTERS)
        for route in router.routes
        if isinstance(route, APIRoute)
    ]
    shared = [
        (route.path, other.path)
        for number, route in routes
        for other_number, other in routes
        if number != other_number
        and route.methods & other.methods
        and route.path_regex.match(re.sub(r"\{[^}]+\}", "x", other.path))
    ]
    assert len(routes) > 50
    assert shared == []
