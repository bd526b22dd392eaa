"""The permission check and every route by every role, against tables kept here in the test.

EXPECTED and LEAST_SCOPE are written from the product brief independently of
`keyturn.cloud.auth.permissions`; a new Action or an unmarked route fails these tests until
someone decides, here, who may do it.
"""

from __future__ import annotations

import uuid

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy.orm import Session

from factories import account_id, bearer, give_role, make_property, token_for
from keyturn.cloud.auth.deps import app_routes, unmarked_routes
from keyturn.cloud.auth.errors import Forbidden, NotFound
from keyturn.cloud.auth.permissions import (
    ALL_SCOPES,
    Action,
    CredentialKind,
    Principal,
    Scope,
    acts_for_property,
    authorize,
    keys_in_reach,
    may,
    people_allowed,
)
from keyturn.cloud.models import Portfolio
from keyturn.rules.types import Role
from worlds import PERSONAS, Personas

ANY_PM = {
    "property_manager",
    "pm_keys_full",
    "pm_keys_limited",
    "pm_keys_specific",
    "pm_device_management",
    "pm_security_viewer",
}
MANAGERS = {"portfolio_manager", *ANY_PM}
MEMBERS = {*MANAGERS, "staff", "resident", "guest", "service_provider", "courier"}
KEY_SHARERS = {"portfolio_manager", "pm_keys_full", "pm_keys_limited"}
EVERYONE = {*MEMBERS, "outsider"}

# Who may perform each action at their property; "outsider" only for account actions.
EXPECTED: dict[str, set[str]] = {
    "account.read": EVERYONE,
    "account.manage": EVERYONE,
    "account.security": EVERYONE,
    "dsar.submit": EVERYONE,
    "consent.self": EVERYONE,
    "portfolio.manage": {"portfolio_manager"},
    "property.read": MEMBERS,
    "property.manage": MANAGERS,
    "property.lockdown": MANAGERS,
    "people.read": MANAGERS,
    "people.manage": MANAGERS,
    "people.suspend": MANAGERS,
    "managers.manage": {"portfolio_manager"},
    "consent.record": MANAGERS,
    "keys.read": {*KEY_SHARERS, "pm_keys_specific"},
    "keys.manage": {"portfolio_manager", "pm_keys_full"},
    "access.review": KEY_SHARERS,
    "keys.grant": {*KEY_SHARERS, "pm_keys_specific"},
    "credentials.manage": KEY_SHARERS,
    "credentials.self": MEMBERS,
    "guests.invite": {*KEY_SHARERS, "resident"},
    "codes.single_day.create": {*KEY_SHARERS, "resident"},
    "codes.one_time.create": {*KEY_SHARERS, "resident"},
    "service_providers.manage": {*KEY_SHARERS, "resident"},
    "couriers.manage": KEY_SHARERS,
    "devices.read": MANAGERS,
    "devices.manage": {"portfolio_manager", "pm_device_management"},
    "history.read": MEMBERS,
    "history.export": MANAGERS,
    "photos.read": {"portfolio_manager", "pm_security_viewer", "resident"},
    "webhooks.manage": MANAGERS,
    "audit.read": {"portfolio_manager"},
    "retention.read": MANAGERS,
    "retention.manage": {"portfolio_manager"},
    "dsar.review": {"portfolio_manager"},
}
ACCOUNT_ACTIONS = {
    "account.read",
    "account.manage",
    "account.security",
    "dsar.submit",
    "consent.self",
}
LEAST_SCOPE: dict[str, str] = {
    **{action: "read" for action in EXPECTED if action.endswith((".read", ".export"))},
    **{action: "write" for action in EXPECTED if not action.endswith((".read", ".export"))},
    "account.manage": "admin",
    "account.security": "admin",
    "managers.manage": "admin",
    "dsar.review": "admin",
    "retention.manage": "admin",
    "access.review": "read",
}


def _principal(db: Session, person_id: str, scopes: frozenset[Scope] = ALL_SCOPES) -> Principal:
    return Principal(
        person_id=person_id,
        account_id=account_id(db, person_id),
        kind=CredentialKind.TOKEN,
        credential_id="test",
        scopes=scopes,
        totp_satisfied=False,
    )


def _outcome(
    db: Session, principal: Principal, action: Action, property_id: str | None, **kw: str
) -> str:
    try:
        authorize(db, principal, action, property_id, **kw)
    except NotFound:
        return "404"
    except Forbidden:
        return "403"
    return "ok"


def test_the_expectation_tables_name_every_action() -> None:
    assert set(EXPECTED) == {action.value for action in Action}
    assert set(LEAST_SCOPE) == set(EXPECTED)


@pytest.mark.parametrize("action", list(Action), ids=str)
def test_authorize_matches_the_table_for_every_persona(
    db: Session, personas: Personas, action: Action
) -> None:
    for persona in PERSONAS:
        principal = _principal(db, personas.people[persona])
        account_only = action.value in ACCOUNT_ACTIONS
        outcome = _outcome(db, principal, action, None if account_only else personas.property_id)
        if persona in EXPECTED[action.value]:
            expected = "ok"
        else:
            expected = "404" if persona == "outsider" else "403"
        assert outcome == expected, persona


@pytest.mark.parametrize("action", [a for a in Action if a.value not in ACCOUNT_ACTIONS], ids=str)
def test_may_is_authorize_as_a_yes_or_no(db: Session, personas: Personas, action: Action) -> None:
    for persona in PERSONAS:
        principal = _principal(db, personas.people[persona])
        for property_id in (personas.property_id, personas.other_property_id):
            allowed = _outcome(db, principal, action, property_id) == "ok"
            assert may(db, principal, action, property_id) is allowed, persona


def test_acting_for_the_whole_property_is_managing_others_credentials(
    db: Session, personas: Personas
) -> None:
    acting = {
        persona
        for persona in PERSONAS
        if acts_for_property(db, _principal(db, personas.people[persona]), personas.property_id)
    }
    assert acting == EXPECTED["credentials.manage"]


def test_keys_in_reach_narrows_only_a_specific_keys_manager(
    db: Session, personas: Personas
) -> None:
    def reach(persona: str) -> frozenset[str] | None:
        principal = _principal(db, personas.people[persona])
        return keys_in_reach(db, principal, Action.KEYS_READ, personas.property_id)

    assert reach("pm_keys_specific") == {personas.managed_key_id}
    assert reach("pm_keys_full") is None
    assert reach("portfolio_manager") is None


def test_another_propertys_objects_are_404_for_everyone(db: Session, personas: Personas) -> None:
    for persona in PERSONAS:
        principal = _principal(db, personas.people[persona])
        for action in Action:
            if action.value in ACCOUNT_ACTIONS:
                continue
            assert _outcome(db, principal, action, personas.other_property_id) == "404"
            assert _outcome(db, principal, action, str(uuid.uuid4())) == "404"


def test_specific_keys_managers_manage_only_their_keys(db: Session, personas: Personas) -> None:
    specific = _principal(db, personas.people["pm_keys_specific"])
    full = _principal(db, personas.people["pm_keys_full"])
    grant = Action.KEYS_GRANT

    assert (
        _outcome(db, specific, grant, personas.property_id, key_id=personas.managed_key_id) == "ok"
    )
    assert (
        _outcome(db, specific, grant, personas.property_id, key_id=personas.other_key_id) == "403"
    )
    assert _outcome(db, full, grant, personas.property_id, key_id=personas.other_key_id) == "ok"
    foreign_key = personas.other_key_in_other_property_id
    assert _outcome(db, full, grant, personas.property_id, key_id=foreign_key) == "404"


def test_a_portfolio_manager_manages_every_property_of_the_portfolio_only(
    db: Session, personas: Personas
) -> None:
    portfolio = db.get_one(Portfolio, personas.portfolio_id)
    sibling = make_property(db, portfolio_id=portfolio.id, name="14 Elm St")
    db.commit()
    owner = _principal(db, personas.people["portfolio_manager"])

    assert _outcome(db, owner, Action.MANAGERS_MANAGE, sibling.id) == "ok"
    assert _outcome(db, owner, Action.MANAGERS_MANAGE, personas.other_property_id) == "404"


def test_scopes_follow_the_least_scope_table(db: Session, personas: Personas) -> None:
    for action in Action:
        for scope in Scope:
            principal = _principal(
                db, personas.people["portfolio_manager"], frozenset(_implied(scope.value))
            )
            outcome = _outcome(
                db,
                principal,
                action,
                None if action.value in ACCOUNT_ACTIONS else personas.property_id,
            )
            allowed = LEAST_SCOPE[action.value] in _implied(scope.value)
            assert outcome == ("ok" if allowed else "403"), (action, scope)


def _implied(scope: str) -> set[Scope]:
    order = ["read", "write", "admin"]
    return {Scope(name) for name in order[: order.index(scope) + 1]}


def test_every_route_declares_an_action_or_is_public(app: FastAPI) -> None:
    assert unmarked_routes(app) == []


def test_people_allowed_are_exactly_the_tables_personas_per_action(
    db: Session, personas: Personas
) -> None:
    """Whom notices go to (reviewers of data requests, and the like) follows the same table."""
    by_id = {person_id: name for name, person_id in personas.people.items()}
    for action in Action:
        if action.value in ACCOUNT_ACTIONS:
            continue
        allowed = people_allowed(db, action, personas.property_id)
        assert {by_id[person_id] for person_id in allowed} == EXPECTED[action.value], action
    assert people_allowed(db, Action.DSAR_REVIEW, personas.other_property_id) == []


def test_only_the_public_form_of_data_requests_is_public(app: FastAPI) -> None:
    """Anyone may send the form, confirm it with its code and download an approved copy by its
    mailed link; every other data-request route needs a caller, and filing for someone else
    needs the reviewer's permission."""
    routes = [route for route in app_routes(app) if "data-requests" in route.path]
    public = {
        (method, route.path)
        for route in routes
        if not isinstance(route.policy, Action)
        for method in route.methods
    }
    filing = {
        route.policy
        for route in routes
        if route.path == "/api/v1/properties/{property_id}/data-requests"
        and "POST" in route.methods
    }

    assert public == {
        ("POST", "/api/v1/data-requests/public"),
        ("POST", "/api/v1/data-requests/public/{request_id}/verify"),
        ("POST", "/api/v1/data-requests/copy"),
        # the app's page where the public form's mailed code is entered (the same service)
        ("GET", "/app/data-requests/{request_id}/confirm"),
        ("POST", "/app/data-requests/{request_id}/confirm"),
    }
    assert all(route.policy is not None for route in routes)
    assert filing == {Action.DSAR_REVIEW}


def test_access_route_lists_exactly_the_tables_actions_per_persona(
    client: TestClient, db: Session, personas: Personas
) -> None:
    for persona in PERSONAS:
        token = token_for(db, personas.people[persona])
        db.commit()
        answer = client.get(
            f"/api/v1/properties/{personas.property_id}/access", headers=bearer(token)
        )
        if persona == "outsider":
            assert answer.status_code == 404
            continue
        expected = {a for a, who in EXPECTED.items() if persona in who and a not in ACCOUNT_ACTIONS}
        assert set(answer.json()["actions"]) == expected, persona


def _fill(path: str, personas: Personas, property_id: str) -> str:
    values = {"property_id": property_id, "key_id": personas.managed_key_id}
    while "{" in path:
        start, end = path.index("{"), path.index("}")
        name = path[start + 1 : end].split(":")[0]
        path = path[:start] + values.get(name, str(uuid.uuid4())) + path[end + 1 :]
    return path


def _expect(persona: str, action: Action, path: str, status: int, kind: str) -> str | None:
    """What is wrong with one answer to a persona, or None when it is as the table says.

    An account action on a page about a property (the app's own consent and data requests
    there) is the caller's only where they have a role: 404 for the outsider, as elsewhere.
    """
    about_property = path.startswith("/app/properties/{property_id}")
    if persona == "outsider" and about_property and action.value in ACCOUNT_ACTIONS:
        return None if status == 404 else f"a property page, expected 404, got {status}"
    if persona in EXPECTED[action.value]:
        if status in (401, 403):
            return f"allowed but got {status} {kind}"
        if status == 404 and "{" not in path.replace("{property_id}", ""):
            return "allowed but got 404"
        return None
    expected = 404 if persona == "outsider" else 403
    if status != expected:
        return f"denied, expected {expected}, got {status}"
    return None


def _status(answer: Response) -> int:
    """The status, with a portal page's "sign in first" (a redirect to sign-in) as the 401
    the API answers."""
    if answer.status_code == 303 and answer.headers["location"].startswith("/portal/sign-in"):
        return 401
    return answer.status_code


def test_route_walker_every_route_times_every_persona(
    client: TestClient, app: FastAPI, db: Session, personas: Personas
) -> None:
    failures: list[str] = []
    checked = 0
    for route in app_routes(app):
        if not route.is_api_route:
            continue
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            where = f"{method} {route.path}"
            url = _fill(route.path, personas, personas.property_id)
            anonymous = client.request(method, url, json={}, follow_redirects=False)
            if route.policy is None:
                failures.append(f"{where}: declares neither requires(...) nor public_route(...)")
                continue
            if not isinstance(route.policy, Action):
                if anonymous.status_code in (401, 403):
                    failures.append(f"{where}: public but answered {anonymous.status_code}")
                continue
            if _status(anonymous) != 401:
                failures.append(f"{where}: anonymous got {anonymous.status_code}")
            if route.resolves_property:
                continue  # its property comes from objects this walker cannot invent
            for persona in PERSONAS:
                token = token_for(db, personas.people[persona])
                db.commit()
                answer = client.request(method, url, json={}, headers=bearer(token))
                is_json = answer.headers.get("content-type", "").endswith("json")
                kind = answer.json().get("type", "") if is_json else ""
                wrong = _expect(persona, route.policy, route.path, answer.status_code, kind)
                if wrong:
                    failures.append(f"{where} as {persona}: {wrong}")
                if "{property_id}" in route.path:
                    foreign = _fill(route.path, personas, personas.other_property_id)
                    elsewhere = client.request(method, foreign, json={}, headers=bearer(token))
                    if elsewhere.status_code != 404:
                        failures.append(f"{where} as {persona} at another property: not 404")
                checked += 1
    assert failures == []
    assert checked > 100


def test_a_portfolio_role_at_another_portfolio_gives_nothing_here(
    db: Session, personas: Personas
) -> None:
    outsider = personas.people["outsider"]
    give_role(
        db, person_id=outsider, property_id=personas.other_property_id, role=Role.PORTFOLIO_MANAGER
    )
    db.commit()
    principal = _principal(db, outsider)

    assert _outcome(db, principal, Action.PROPERTY_READ, personas.property_id) == "404"
    assert _outcome(db, principal, Action.PROPERTY_READ, personas.other_property_id) == "ok"


# Routes whose action is decided here rather than inferred from their resource's neighbours.
ROUTE_ACTIONS = {
    ("GET", "/api/v1/properties/{property_id}/managers"): "people.read",
    ("PUT", "/api/v1/properties/{property_id}/managers/{person_id}"): "managers.manage",
    ("DELETE", "/api/v1/properties/{property_id}/managers/{person_id}"): "managers.manage",
}


def test_the_manager_routes_are_guarded_by_the_decided_actions(app: FastAPI) -> None:
    marked = {
        (method, route.path): route.policy
        for route in app_routes(app)
        for method in route.methods
        if (method, route.path) in ROUTE_ACTIONS
    }
    assert marked == ROUTE_ACTIONS
