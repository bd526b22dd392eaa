"""Tests for the pure access-list helpers: a delta made from two lists turns one into the other.

The lock applies deltas with `apply_delta`; the cloud makes them with `make_delta`.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keyturn.protocol.access_lists import (
    DeltaMismatch,
    apply_delta,
    canonical,
    content_bytes,
    make_delta,
)
from keyturn.protocol.messages import AccessList, CredentialSpec, SingleDayRevocation
from keyturn.rules.types import CredentialType

_ids = st.sampled_from([f"cred-{n}" for n in range(8)])
_specs = st.builds(
    CredentialSpec,
    credential_id=_ids,
    credential_type=st.sampled_from(list(CredentialType)),
    lookup=st.binary(max_size=4),
    subject=st.sampled_from(["p1", "p2"]),
    key_id=st.none() | st.just("k1"),
    grant_id=st.none(),
    granted_by=st.none(),
    resident=st.booleans(),
)


@st.composite
def _lists(draw: st.DrawFn, version: int) -> AccessList:
    specs = {spec.credential_id: spec for spec in draw(st.lists(_specs, max_size=8))}
    return canonical(
        AccessList(
            door_id="door-1",
            version=version,
            base_version=None,
            issued_at=1_700_000_000 + version,
            upserts=tuple(specs.values()),
            revoked_key_ids=tuple(draw(st.lists(st.sampled_from(["g1", "g2", "g3"])))),
            suspended_subjects=tuple(draw(st.lists(st.sampled_from(["p1", "p2"])))),
            single_day_revocations=tuple(
                SingleDayRevocation("2026-03-02", slot) for slot in draw(st.sets(st.integers(0, 3)))
            ),
            single_day_slots=draw(st.integers(0, 4)),
            lockdown=draw(st.booleans()),
        )
    )


@given(_lists(1), _lists(2))
def test_delta_applied_to_its_base_is_the_newer_list(base: AccessList, current: AccessList) -> None:
    delta = make_delta(base, current)

    assert apply_delta(base, delta) == current
    assert len(delta.upserts) <= len(current.upserts)


@given(_lists(1))
def test_content_ignores_version_issue_time_and_order(full: AccessList) -> None:
    shuffled = AccessList(
        door_id=full.door_id,
        version=9,
        base_version=None,
        issued_at=5,
        upserts=tuple(reversed(full.upserts)),
        revoked_key_ids=tuple(reversed(full.revoked_key_ids)),
        suspended_subjects=full.suspended_subjects,
        single_day_revocations=full.single_day_revocations,
        single_day_slots=full.single_day_slots,
        lockdown=full.lockdown,
    )

    assert content_bytes(shuffled) == content_bytes(full)


def test_a_delta_for_another_base_or_door_is_refused() -> None:
    base = AccessList(door_id="door-1", version=3, base_version=None, issued_at=0)
    newer = AccessList(door_id="door-1", version=5, base_version=None, issued_at=0)
    delta = make_delta(
        AccessList(door_id="door-1", version=4, base_version=None, issued_at=0), newer
    )
    other_door = AccessList(door_id="door-2", version=4, base_version=3, issued_at=0)

    with pytest.raises(DeltaMismatch):
        apply_delta(base, delta)
    with pytest.raises(DeltaMismatch):
        apply_delta(base, other_door)
    with pytest.raises(DeltaMismatch):
        apply_delta(base, newer)
