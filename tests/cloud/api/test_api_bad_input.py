"""Bad input to the resource routes: wrong types, unknown fields, oversize bodies, foreign ids,
expired tokens.

Each answer is a 4xx problem document with a stable type, and every table keeps its rows.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from factories import T0, bearer, row_counts, token_for
from worlds import Site

# (persona, method, path under the property, body, status, problem type)
CASES = [
    ("portfolio_manager", "patch", "", {"doorcode_length": "seven"}, 422, "validation"),
    ("portfolio_manager", "patch", "", {"doorcode_length": 11}, 422, "validation"),
    ("portfolio_manager", "patch", "", {"colour": "red"}, 422, "validation"),
    (
        "portfolio_manager",
        "patch",
        "",
        {"time_zone": "Mars/Olympus"},
        409,
        "settings-fixed-by-locks",
    ),
    ("portfolio_manager", "post", "/units", {"label": 4}, 422, "validation"),
    ("portfolio_manager", "post", "/units", {"label": "4B"}, 409, "conflict"),
    ("portfolio_manager", "post", "/doors", {"name": "Roof", "kind": "attic"}, 422, "validation"),
    (
        "portfolio_manager",
        "post",
        "/doors",
        {"name": "Roof", "kind": "common", "unit_id": "x"},
        422,
        "unknown-reference",
    ),
    ("portfolio_manager", "post", "/keys", {"name": "K", "door_ids": []}, 422, "validation"),
    (
        "portfolio_manager",
        "post",
        "/keys",
        {"name": "K", "door_ids": ["FOREIGN_DOOR"]},
        422,
        "unknown-reference",
    ),
    (
        "portfolio_manager",
        "post",
        "/keys",
        {
            "name": "K",
            "door_ids": ["ENTRANCE"],
            "windows": [{"weekday": 9, "start": "09:00", "end": "10:00"}],
        },
        422,
        "validation",
    ),
    (
        "portfolio_manager",
        "post",
        "/keys",
        {
            "name": "K",
            "door_ids": ["ENTRANCE"],
            "windows": [{"weekday": 1, "start": "18:00", "end": "09:00"}],
        },
        422,
        "invalid-schedule",
    ),
    (
        "portfolio_manager",
        "post",
        "/keys/KEY/grants",
        {"person_id": "FOREIGN_PERSON"},
        422,
        "unknown-reference",
    ),
    (
        "portfolio_manager",
        "post",
        "/keys/KEY/grants",
        {"person_id": "RESIDENT", "starts_at": "yesterday"},
        422,
        "validation",
    ),
    (
        "portfolio_manager",
        "post",
        "/keys/KEY/grants",
        {"person_id": "PORTFOLIO_MANAGER", "resident": True},
        403,
        "self-resident-status",
    ),
    (
        "portfolio_manager",
        "post",
        "/keys/KEY/grants",
        # Resident status starts when given (V2): one that ended before then opens nothing.
        {
            "person_id": "RESIDENT",
            "resident": True,
            "starts_at": "2026-01-01T00:00:00Z",
            "ends_at": "2026-02-01T00:00:00Z",
        },
        422,
        "invalid-grant",
    ),
    (
        "portfolio_manager",
        "patch",
        "/keys/KEY",
        {"door_ids": ["ENTRANCE", "HOME", "NEIGHBOUR"]},
        409,
        "resident-key-door",
    ),
    ("resident", "post", "/phones", {"public_key": "@" * 43}, 422, "invalid-phone-key"),
    ("resident", "post", "/phones", {"public_key": "A" * 43, "model": "x"}, 422, "validation"),
    ("resident", "post", "/doorcodes/mine", {"door_id": "ENTRANCE"}, 403, "not-yours"),
    ("resident", "post", "/doorcodes/mine", {"door_id": "FOREIGN_DOOR"}, 404, "not-found"),
    (
        "resident",
        "post",
        "/guests",
        {
            "email": "g@example.org",
            "display_name": "G",
            "key_id": "KEY",
            "starts_at": "2026-03-03T10:00:00Z",
            "admin": True,
        },
        422,
        "validation",
    ),
    (
        "resident",
        "post",
        "/guests",
        {
            "email": "g@example.org",
            "display_name": "G",
            "key_id": "FOREIGN_KEY",
            "starts_at": "2026-03-03T10:00:00Z",
        },
        404,
        "not-found",
    ),
    (
        "resident",
        "post",
        "/single-day-codes",
        {"local_date": "2026-02-01", "door_ids": ["HOME"]},
        422,
        "code-refused",
    ),
    (
        "resident",
        "post",
        "/single-day-codes",
        {"local_date": "tomorrow", "door_ids": ["HOME"]},
        422,
        "validation",
    ),
    (
        "resident",
        "post",
        "/single-day-codes",
        {"local_date": "2026-03-03", "door_ids": ["FOREIGN_DOOR"]},
        422,
        "unknown-reference",
    ),
    (
        "resident",
        "post",
        "/one-time-codes",
        {"door_id": "HOME", "valid_minutes": "15"},
        422,
        "validation",
    ),
    (
        "resident",
        "post",
        "/one-time-codes",
        {"door_id": "HOME", "valid_minutes": 5000},
        422,
        "validation",
    ),
    (
        "resident",
        "post",
        "/service-providers",
        {"email": "w@example.org", "display_name": "W", "door_ids": ["HOME"]},
        422,
        "invalid-schedule",
    ),
    ("property_manager", "post", "/people/FOREIGN_PERSON/suspend", {}, 404, "not-found"),
    (
        "property_manager",
        "post",
        "/people/RESIDENT/suspend",
        {"send_temporary_code": "yes"},
        422,
        "validation",
    ),
    (
        "pm_keys_limited",
        "post",
        "/people/RESIDENT/keycards",
        {"card_uid": "not hex!"},
        422,
        "validation",
    ),
    (
        "portfolio_manager",
        "post",
        "/people",
        {"email": "x@example.org", "display_name": "X", "role": "guest"},
        422,
        "validation",
    ),
    (
        "property_manager",
        "post",
        "/people",
        {"email": "x@example.org", "display_name": "X", "role": "property_manager"},
        403,
        "forbidden",
    ),
    ("portfolio_manager", "post", "/people/import", {"csv": 42}, 422, "validation"),
    (
        "portfolio_manager",
        "post",
        "/people/import",
        {"csv": "name,email,unit\nAna,ana@example.org,4B\nBo,not-an-email,4B\n"},
        422,
        "rejected",
    ),
    (
        "portfolio_manager",
        "post",
        "/doors/ENTRANCE/provisioning-tokens",
        {"model": "toaster"},
        422,
        "unknown-device-model",
    ),
    ("portfolio_manager", "patch", "/doors/HOME", {"kind": "common"}, 409, "door-kind-locked"),
]


def _fill(text: str, site: Site) -> str:
    names = {
        "FOREIGN_DOOR": site.foreign_door_id,
        "FOREIGN_KEY": site.personas.other_key_in_other_property_id,
        "FOREIGN_PERSON": site.foreign_person_id,
        "ENTRANCE": site.entrance_id,
        "HOME": site.home_id,
        "KEY": site.resident_key_id,
        "RESIDENT": site.person("resident"),
        "PORTFOLIO_MANAGER": site.person("portfolio_manager"),
        "NEIGHBOUR": site.neighbour_id,
    }
    for name, value in names.items():
        text = text.replace(name, value)
    return text


def _fill_body(body: object, site: Site) -> object:
    if isinstance(body, dict):
        return {k: _fill_body(v, site) for k, v in body.items()}
    if isinstance(body, list):
        return [_fill_body(v, site) for v in body]
    return _fill(body, site) if isinstance(body, str) else body


def test_bad_input_answers_a_problem_and_changes_nothing(
    client: TestClient, db: Session, site: Site
) -> None:
    """Every case of CASES against one building (building it once keeps this fast)."""
    failures = []
    for persona, method, path, body, status, kind in CASES:
        before = row_counts(db)
        answer = client.request(
            method.upper(),
            site.url + _fill(path, site),
            json=_fill_body(body, site),
            headers=site.auth(persona),
        )
        where = f"{method.upper()} {path} {body!r}"
        if answer.status_code != status:
            failures.append(f"{where}: {answer.status_code} {answer.text[:200]}")
        elif answer.headers["content-type"] != "application/problem+json":
            failures.append(f"{where}: not a problem document")
        elif not answer.json()["type"].endswith("/" + kind):
            failures.append(f"{where}: type {answer.json()['type']}")
        if row_counts(db) != before:
            failures.append(f"{where}: changed the database")
    assert failures == []


def test_the_csv_rejection_reports_every_row(client: TestClient, db: Session, site: Site) -> None:
    text = "name,email,unit\nAna,ana@example.org,4B\nBo,bo@example.org,9Z\n,cy@example.org,4B\n"
    before = row_counts(db)

    answer = client.post(
        f"{site.url}/people/import", json={"csv": text}, headers=site.auth("portfolio_manager")
    )

    assert answer.status_code == 422
    rows = answer.json()["rows"]
    assert [(row["line"], row["status"]) for row in rows] == [(2, "ok"), (3, "error"), (4, "error")]
    assert "9Z" in rows[1]["error"]
    assert row_counts(db) == before


def test_oversize_bodies_are_refused_before_anything_is_read(
    client: TestClient, db: Session, site: Site
) -> None:
    before = row_counts(db)
    huge = "name,email,unit\n" + "Ana,ana@example.org,4B\n" * 50_000  # over 1 MiB

    answer = client.post(
        f"{site.url}/people/import", json={"csv": huge}, headers=site.auth("portfolio_manager")
    )

    assert answer.status_code == 413
    assert answer.json()["type"].endswith("/body-too-large")
    assert row_counts(db) == before


def test_an_expired_token_is_401_and_changes_nothing(
    client: TestClient, db: Session, site: Site
) -> None:
    expired = token_for(db, site.person("portfolio_manager"), expires_at=T0 - timedelta(minutes=1))
    db.commit()
    before = row_counts(db)

    answer = client.post(f"{site.url}/units", json={"label": "7A"}, headers=bearer(expired))

    assert answer.status_code == 401
    assert answer.json()["type"].endswith("/unauthenticated")
    assert row_counts(db) == before


@pytest.mark.parametrize(
    "path",
    [
        "",
        "/doors/{door}",
        "/keys/{key}",
        "/keys/{key}/grants",
        "/people/{person}",
        "/devices",
        "/lockdown",
        "/single-day-codes",
    ],
)
def test_another_propertys_objects_are_404(
    client: TestClient, db: Session, site: Site, path: str
) -> None:
    """The portfolio manager of the first property asks for the second property's objects."""
    foreign = f"/api/v1/properties/{site.personas.other_property_id}" + path.format(
        door=site.foreign_door_id,
        key=site.personas.other_key_in_other_property_id,
        person=site.foreign_person_id,
    )
    mixed = site.url + path.format(
        door=site.foreign_door_id,
        key=site.personas.other_key_in_other_property_id,
        person=site.foreign_person_id,
    )

    assert client.get(foreign, headers=site.auth("portfolio_manager")).status_code == 404
    if "{" in path:
        assert client.get(mixed, headers=site.auth("portfolio_manager")).status_code == 404
