"""The Viewer of one property, built from the standing the permission check found, is the one
the person-wide facts give narrowed to that property (V3, V4, P4), TOTP rule included."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from factories import give_role, make_person, make_portfolio, make_property
from keyturn.cloud.auth.permissions import MANAGERS, CredentialKind, Principal, standing_at
from keyturn.cloud.history.service import viewer_at
from keyturn.cloud.history.visibility import viewer_for
from keyturn.cloud.people.managers.service import Powers, write_powers
from keyturn.rules.types import Permission, Role
from keyturn.rules.visibility import Viewer

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)
# (role at the first property, role at the second, security viewer at the first, TOTP demanded)
CASES = [
    (Role.PROPERTY_MANAGER, None, True, False),
    (Role.PROPERTY_MANAGER, None, True, True),
    (Role.PROPERTY_MANAGER, None, False, False),
    (None, Role.PORTFOLIO_MANAGER, False, False),
    (None, Role.PORTFOLIO_MANAGER, False, True),
    (Role.STAFF, Role.PROPERTY_MANAGER, True, False),
    (Role.STAFF, None, False, False),
    (None, None, False, False),
]


def _narrowed(viewer: Viewer, principal: Principal, session: Session, property_id: str) -> Viewer:
    """The property's Viewer as it was built before the standing was shared: person-wide
    facts, kept only where the effective standing is a manager's."""
    standing = standing_at(session, principal.person_id, property_id)
    effective = standing.effective_for(principal) if standing is not None else None
    manages = (
        effective is not None
        and bool(effective.roles & MANAGERS)
        and property_id in viewer.managed_property_ids
    )
    secures = (
        manages
        and effective is not None
        and Permission.SECURITY_VIEWER in effective.permissions
        and property_id in viewer.security_viewer_property_ids
    )
    here = frozenset({property_id})
    return replace(
        viewer,
        managed_property_ids=here if manages else frozenset(),
        security_viewer_property_ids=here if secures else frozenset(),
    )


@pytest.mark.parametrize(("first", "second", "security", "totp"), CASES)
def test_rule_v4_viewer_from_the_checked_standing_matches_person_wide_facts(
    session: Session, first: Role | None, second: Role | None, security: bool, totp: bool
) -> None:
    folio = make_portfolio(session, name="P")
    props = [
        make_property(
            session,
            portfolio_id=folio.id,
            name=f"B{n}",
            time_zone="UTC",
            require_manager_totp=totp,
        )
        for n in range(2)
    ]
    person = make_person(session, name="someone")
    for prop, role in zip(props, (first, second), strict=True):
        if role is not None:
            give_role(session, person_id=person.id, property_id=prop.id, role=role)
    if security:
        write_powers(
            session=session,
            property_id=props[0].id,
            person_id=person.id,
            powers=Powers(security_viewer=True),
            by=None,
        )
    session.flush()
    principal = Principal(person.id, "account", CredentialKind.TOKEN, "token", frozenset(), False)
    for prop in props:
        expected = _narrowed(viewer_for(session, person.id, NOW), principal, session, prop.id)
        standing = standing_at(session, person.id, prop.id)
        assert viewer_at(session, principal, prop.id, NOW, standing) == expected
        assert viewer_at(session, principal, prop.id, NOW) == expected
    managed = viewer_at(session, principal, props[0].id, NOW).managed_property_ids
    manager_here = first == Role.PROPERTY_MANAGER or second == Role.PORTFOLIO_MANAGER
    assert bool(managed) == (not totp and manager_here)
