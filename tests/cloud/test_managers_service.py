"""The managers service's permission set: rows and powers convert both ways, and each key
level opens exactly what the policy table says it does."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from keyturn.cloud.auth.permissions import POLICIES, Action, PropertyFacts, Standing, allows
from keyturn.cloud.people.managers.service import KeyLevel, Powers
from keyturn.rules.types import Role

KEY_IDS = st.frozensets(st.sampled_from(["gym", "roof", "lobby"]), min_size=1)


@st.composite
def powers(draw: st.DrawFn) -> Powers:
    level = draw(st.sampled_from(KeyLevel))
    return Powers(
        keys=level,
        key_ids=draw(KEY_IDS) if level is KeyLevel.SPECIFIC else frozenset(),
        device_management=draw(st.booleans()),
        security_viewer=draw(st.booleans()),
    )


@given(powers())
def test_powers_are_the_permission_rows_they_write(chosen: Powers) -> None:
    assert Powers.of(chosen.permissions, chosen.key_ids) == chosen


@given(powers())
def test_each_power_opens_what_the_policy_table_says(chosen: Powers) -> None:
    standing = Standing(
        person_id="manager",
        property_id="here",
        roles=frozenset({Role.PROPERTY_MANAGER}),
        permissions=chosen.permissions,
        managed_key_ids=chosen.key_ids,
        manager_totp_required=False,
        facts=PropertyFacts("Here", "UTC", "default"),
    )

    def may(action: Action, key_id: str | None = None) -> bool:
        return allows(POLICIES[action], standing, key_id)

    assert may(Action.KEYS_MANAGE) == (chosen.keys is KeyLevel.FULL)
    assert may(Action.CREDENTIALS_MANAGE) == (chosen.keys in (KeyLevel.FULL, KeyLevel.LIMITED))
    assert may(Action.KEYS_GRANT, "gym") == (
        chosen.keys in (KeyLevel.FULL, KeyLevel.LIMITED) or "gym" in chosen.key_ids
    )
    assert may(Action.DEVICES_MANAGE) == chosen.device_management
    assert may(Action.PHOTOS_READ) == chosen.security_viewer
    assert not may(Action.MANAGERS_MANAGE)
