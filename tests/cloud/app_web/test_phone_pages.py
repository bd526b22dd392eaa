"""The phone-key page: a resident's shell that phone.js fills, the API it uses with the cookie
session and the CSRF header, the service worker over the whole app, the manifest and its
icons, and a Content-Security-Policy that lets only the app's pages reach loopback locks."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from factories import Clock, consent_in_app
from keyturn.cloud.app_web.templating import STATIC_DIR
from keyturn.cloud.auth.deps import CSRF_HEADER
from keyturn.cloud.models import Property
from keyturn.cloud.page_headers import APP_CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY
from keyturn.crypto.errors import InvalidSignature
from keyturn.crypto.keys import SigningKeyPair
from keyturn.crypto.mobile_keys import MobileKeyClaims, signed_challenge, verify_challenge
from keyturn.rules.consent import NYC
from portal_pages import Portal, assert_no_raw_ids
from worlds import Site

COSE_CHECK = Path(__file__).with_name("cose_check.mjs")


def test_the_resident_gets_the_phone_page_named_for_the_building(
    browsers: Portal, site: Site
) -> None:
    page = browsers.as_person(site.person("resident")).get(
        f"/app/properties/{site.property_id}/phone"
    )
    assert page.status_code == 200
    assert "Use this browser as your phone key" in page.text
    assert "12 Elm St" in page.text
    assert f'data-api="/api/v1/properties/{site.property_id}"' in page.text
    assert 'rel="manifest"' in page.text
    assert_no_raw_ids(page.text)
    assert page.headers["content-security-policy"] == APP_CONTENT_SECURITY_POLICY


def test_rule_r5_the_phone_page_asks_for_consent_before_enrolling_where_the_building_needs_it(
    browsers: Portal, db: Session, site: Site, clock: Clock
) -> None:
    db.get_one(Property, site.property_id).jurisdiction = NYC
    db.commit()
    browser = browsers.as_person(site.person("resident"))
    phone = f"/app/properties/{site.property_id}/phone"

    asked = browser.get(phone)
    consent_in_app(db, person_id=site.person("resident"), now=clock())
    db.commit()
    given = browser.get(phone)

    assert asked.status_code == 200
    assert "Use this browser as your phone key" not in asked.text
    assert "Give your consent" in asked.text
    assert f'href="/app/properties/{site.property_id}/privacy/consent"' in asked.text
    assert "Use this browser as your phone key" in given.text
    assert "Give your consent" not in given.text


def test_the_home_links_to_the_phone_page(browsers: Portal, site: Site) -> None:
    home = browsers.as_person(site.person("resident")).get("/app/")
    assert f"/app/properties/{site.property_id}/phone" in home.text


def test_someone_with_no_role_there_gets_no_phone_page(browsers: Portal, site: Site) -> None:
    page = browsers.as_person(site.person("outsider")).get(
        f"/app/properties/{site.property_id}/phone"
    )
    assert page.status_code == 404


def test_only_the_apps_pages_may_connect_to_loopback(browsers: Portal, site: Site) -> None:
    assert "http://127.0.0.1:*" in APP_CONTENT_SECURITY_POLICY
    assert "127.0.0.1" not in CONTENT_SECURITY_POLICY
    browser = browsers.as_person(site.person("resident"))
    portal = browser.get(f"/portal/properties/{site.property_id}")
    assert portal.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    sign_in = browsers.anonymous().get("/portal/sign-in")
    assert "127.0.0.1" not in sign_in.headers["content-security-policy"]


def test_the_page_script_enrols_and_fetches_keys_with_the_cookie_session(
    browsers: Portal, site: Site
) -> None:
    browser = browsers.as_person(site.person("resident"))
    headers = {CSRF_HEADER: browser.csrf_token}
    public = base64.urlsafe_b64encode(SigningKeyPair.generate().public_bytes()).decode()
    api = f"/api/v1/properties/{site.property_id}"
    refused = browser.client.post(f"{api}/phones", json={"public_key": public.rstrip("=")})
    assert refused.status_code == 403  # no CSRF header
    enrolled = browser.client.post(
        f"{api}/phones", json={"public_key": public.rstrip("=")}, headers=headers
    )
    assert enrolled.status_code == 201, enrolled.text
    keys = browser.client.post(f"{api}/phones/{enrolled.json()['id']}/mobile-keys", headers=headers)
    assert keys.status_code == 200
    assert {door["name"] for door in keys.json()["doors"]}


def test_the_service_worker_covers_the_whole_app(browsers: Portal) -> None:
    answer = browsers.anonymous().get("/app/sw.js")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/javascript")
    assert answer.headers["service-worker-allowed"] == "/app/"
    assert "networkFirst" in answer.text


def test_the_manifest_names_the_app_and_its_icons_exist(browsers: Portal) -> None:
    client = browsers.anonymous()
    manifest = client.get("/app/manifest.webmanifest")
    assert manifest.headers["content-type"].startswith("application/manifest+json")
    body = manifest.json()
    assert (body["start_url"], body["scope"], body["display"]) == ("/app/", "/app/", "standalone")
    for icon in body["icons"]:
        assert client.get(icon["src"]).status_code == 200, icon["src"]
    shell = client.get("/app/sw.js").text
    for name in ("app.css", "app.js", "cose.js", "phone.js", "icons/icon-192.png"):
        assert f"/app/static/{name}" in shell
        assert (STATIC_DIR / name).is_file()
    # Every file of the worker's shell is served: with one missing, the worker never installs.
    kept = re.findall(r'"(/app/[^"]+)"', shell.split("];")[0])
    assert "/app/manifest.webmanifest" in kept
    for path in kept:
        assert client.get(path).status_code == 200, path


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js for WebCrypto")
def test_cose_js_signs_answers_the_lock_accepts() -> None:
    """cose.js under Node's WebCrypto: its Sign1 verifies with the lock's own check."""
    out = subprocess.run(
        ["node", str(COSE_CHECK), str(STATIC_DIR / "cose.js")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    found = json.loads(out.stdout)

    def raw(text: str) -> bytes:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

    now = datetime.now(UTC)
    claims = MobileKeyClaims("t", "k", ("door-1",), raw(found["public"]), {}, now, now, now, "a")
    challenge, signature = raw(found["challenge"]), raw(found["signature"])
    assert found["private_extractable"] is False
    assert signed_challenge(signature) == challenge
    verify_challenge(claims, challenge, "door-1", signature)
    with pytest.raises(InvalidSignature):
        verify_challenge(claims, challenge, "door-2", signature)
