"""The app's frame: its home lists the person's homes by name, anonymous visitors go to sign
in and come back to the app, refusals are the app's own pages, and it signs out."""

from __future__ import annotations

import re

from portal_pages import Portal, assert_no_raw_ids
from worlds import Site


def test_the_home_names_the_residents_building(browsers: Portal, site: Site) -> None:
    page = browsers.as_person(site.person("resident")).get("/app/")
    assert page.status_code == 200
    assert "12 Elm St" in page.text
    assert "3 Oak Ave" not in page.text
    assert_no_raw_ids(page.text)


def test_an_anonymous_visit_goes_to_sign_in_and_back_to_the_app(browsers: Portal) -> None:
    answer = browsers.anonymous().get("/app/", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/portal/sign-in?next=/app/"


def test_an_unknown_app_page_is_the_apps_not_found_page(browsers: Portal, site: Site) -> None:
    page = browsers.as_person(site.person("resident")).get("/app/nowhere")
    assert page.status_code == 404
    assert "Back to your home" in page.text


def test_signing_out_of_the_app_ends_the_session(browsers: Portal, site: Site) -> None:
    browser = browsers.as_person(site.person("resident"))
    out = browser.post("/app/sign-out", follow_redirects=False)
    assert out.status_code == 303
    assert browser.get("/app/", follow_redirects=False).status_code == 303


def _tabs(html: str) -> list[str]:
    """The labels of the app's tab bar, the current one marked with a star."""
    bar = html[html.index('<nav class="tabs"') : html.index("</nav>", html.index('class="tabs"'))]
    return [
        ("*" if "aria-current" in attributes else "") + label
        for attributes, label in re.findall(r"<a ([^>]*)>([^<]+)</a>", bar)
    ]


def test_every_page_of_a_home_has_the_same_tabs(browsers: Portal, site: Site) -> None:
    """From any page a person reaches every other: the tab bar is the same, the current marked."""
    browser = browsers.as_person(site.person("resident"))
    here = f"/app/properties/{site.property_id}"
    everywhere = ["Home", "Doors", "Share", "History", "Privacy"]
    for path, current in [
        (here, "Home"),
        (f"{here}/phone", "Doors"),
        (f"{here}/sharing", "Share"),
        (f"{here}/history", "History"),
        (f"{here}/privacy", "Privacy"),
        (f"{here}/privacy/consent", "Privacy"),
        (f"{here}/privacy/copy", "Privacy"),
        (f"{here}/privacy/deletion", "Privacy"),
    ]:
        page = browser.get(path)
        assert page.status_code == 200, path
        assert _tabs(page.text) == [("*" if tab == current else "") + tab for tab in everywhere], (
            path
        )
