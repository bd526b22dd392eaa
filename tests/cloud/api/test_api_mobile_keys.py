"""Mobile keys as a phone fetches them over the API, on SQLite and PostgreSQL: the window the
API reports is the one the token holds, a key fetched now is valid now, and anyone can
verify a key with the property's published COSE key set."""

from __future__ import annotations

import base64
from datetime import datetime

import cbor2
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from factories import Clock
from keyturn.cloud.models import Device, Property
from keyturn.crypto.errors import InvalidSignature
from keyturn.crypto.keys import SigningKeyPair, VerifyKey, read_cose_key_set
from keyturn.crypto.mobile_keys import read_mobile_key, verify_mobile_key
from worlds import Site


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _fetch_keys(client: TestClient, site: Site, phone: SigningKeyPair) -> list[dict[str, str]]:
    enrolled = client.post(
        f"{site.url}/phones",
        json={"public_key": _b64(phone.public_bytes())},
        headers=site.auth("resident"),
    )
    assert enrolled.status_code == 201, enrolled.text
    keys = client.post(
        f"{site.url}/phones/{enrolled.json()['id']}/mobile-keys", headers=site.auth("resident")
    )
    assert keys.status_code == 200, keys.text
    found: list[dict[str, str]] = keys.json()["keys"]
    assert found
    return found


def test_the_api_reports_the_window_the_token_holds_and_a_fresh_key_opens_at_once(
    client: TestClient, db: Session, site: Site, clock: Clock
) -> None:
    clock.advance(seconds=0.7)  # fetched in the middle of a second
    keys = _fetch_keys(client, site, SigningKeyPair.generate())

    authority = VerifyKey.from_bytes(db.get_one(Property, site.property_id).authority_public_key)
    for key in keys:
        token = _unb64(key["token"])
        claims = read_mobile_key(token, authority)
        assert datetime.fromisoformat(key["not_before"]) == claims.not_before
        assert datetime.fromisoformat(key["expires"]) == claims.expires
        assert claims.not_before <= clock.now
        # Presented in the same second it was fetched: valid, not refused for a second.
        assert verify_mobile_key(token, authority, clock.now).key_id == key["grant_id"]


def test_anyone_verifies_a_mobile_key_with_the_published_cose_key_set(
    client: TestClient, site: Site, clock: Clock
) -> None:
    keys = _fetch_keys(client, site, SigningKeyPair.generate())

    published = client.get(f"/api/v1/properties/{site.property_id}/keys.cose")  # no login

    assert published.status_code == 200
    assert published.headers["content-type"] == "application/cose-key-set"
    (item,) = cbor2.loads(published.content)
    assert (item[1], item[3], item[-1]) == (1, -8, 6)  # OKP, EdDSA, Ed25519
    (authority,) = read_cose_key_set(published.content)
    assert item[2] == authority.kid
    for key in keys:
        claims = verify_mobile_key(_unb64(key["token"]), authority, clock.now)
        assert claims.key_id == key["grant_id"]
    with pytest.raises(InvalidSignature):
        verify_mobile_key(_unb64(keys[0]["token"]), SigningKeyPair.generate().public, clock.now)


def test_the_key_set_of_an_unknown_property_is_a_problem(client: TestClient, site: Site) -> None:
    missing = client.get("/api/v1/properties/no-such-property/keys.cose")

    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


def test_the_keys_name_their_doors_with_where_a_phone_reaches_each_lock(
    client: TestClient, db: Session, site: Site
) -> None:
    url = "http://127.0.0.1:47100/near-field/v1"
    db.get_one(Device, site.entrance_lock_id).near_field_url = url
    db.commit()
    enrolled = client.post(
        f"{site.url}/phones",
        json={"public_key": _b64(SigningKeyPair.generate().public_bytes())},
        headers=site.auth("resident"),
    ).json()

    answer = client.post(
        f"{site.url}/phones/{enrolled['id']}/mobile-keys", headers=site.auth("resident")
    ).json()

    opened = {door_id for key in answer["keys"] for door_id in key["door_ids"]}
    assert {door["id"] for door in answer["doors"]} == opened
    by_id = {door["id"]: door for door in answer["doors"]}
    assert by_id[site.entrance_id]["near_field_url"] == url
    assert by_id[site.entrance_id]["kind"] == "entrance"
    assert all(door["name"] for door in answer["doors"])
