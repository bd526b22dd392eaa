"""The consent rule (R5, R7): examples for each standing, and properties over every case."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from keyturn.rules.consent import (
    NON_TENANT_ROLES,
    NYC,
    ConsentChannel,
    ConsentFacts,
    ConsentRefusal,
    collection_refusal,
    is_tenant,
)
from keyturn.rules.types import Role

APP, WRITTEN = ConsentChannel.APP, ConsentChannel.WRITTEN
RESIDENT = frozenset({Role.RESIDENT})

channels = st.none() | st.sampled_from(ConsentChannel)
facts = st.builds(
    ConsentFacts,
    jurisdiction=st.sampled_from([NYC, "default", "US-CA", "US-NY"]),
    roles=st.frozensets(st.sampled_from(Role)),
    resident_status=st.booleans(),
    minor=st.booleans(),
    tenant_consent=channels,
    guardian_consent=channels,
)


def test_rule_r5_nyc_tenant_without_consent_is_refused_with_app_or_written_allowed() -> None:
    assert collection_refusal(ConsentFacts(NYC, RESIDENT)) is ConsentRefusal.TENANT_CONSENT_MISSING
    assert collection_refusal(ConsentFacts(NYC, RESIDENT, tenant_consent=APP)) is None
    assert collection_refusal(ConsentFacts(NYC, RESIDENT, tenant_consent=WRITTEN)) is None


def test_rule_r5_resident_status_or_no_role_at_all_counts_as_tenant() -> None:
    staff = frozenset({Role.STAFF})
    missing = ConsentRefusal.TENANT_CONSENT_MISSING
    assert collection_refusal(ConsentFacts(NYC, staff, resident_status=True)) is missing
    assert collection_refusal(ConsentFacts(NYC, frozenset())) is missing
    assert collection_refusal(ConsentFacts(NYC, frozenset({Role.STAFF, Role.RESIDENT}))) is missing


def test_rule_r5_staff_managers_guests_couriers_and_providers_need_no_consent() -> None:
    for role in NON_TENANT_ROLES:
        assert collection_refusal(ConsentFacts(NYC, frozenset({role}))) is None, role


def test_rule_r5_outside_nyc_no_consent_is_needed() -> None:
    assert collection_refusal(ConsentFacts("default", RESIDENT)) is None
    assert collection_refusal(ConsentFacts("default", RESIDENT, minor=True)) is None


def test_rule_r7_nyc_minor_needs_written_guardian_consent_not_their_own() -> None:
    missing = ConsentRefusal.GUARDIAN_WRITTEN_CONSENT_MISSING

    def minor(
        tenant_consent: ConsentChannel | None = None, guardian_consent: ConsentChannel | None = None
    ) -> ConsentRefusal | None:
        facts = ConsentFacts(NYC, RESIDENT, True, True, tenant_consent, guardian_consent)
        return collection_refusal(facts)

    assert minor() is missing
    assert minor(tenant_consent=APP) is missing
    assert minor(tenant_consent=WRITTEN) is missing
    assert minor(guardian_consent=APP) is missing
    assert minor(guardian_consent=WRITTEN) is None


def test_rule_r7_a_minor_guest_in_nyc_needs_guardian_consent_too() -> None:
    guest = frozenset({Role.GUEST})
    assert collection_refusal(ConsentFacts(NYC, guest, minor=True)) is (
        ConsentRefusal.GUARDIAN_WRITTEN_CONSENT_MISSING
    )
    assert collection_refusal(ConsentFacts(NYC, guest, minor=True, guardian_consent=WRITTEN)) is (
        None
    )


@given(facts)
def test_rule_r5_only_nyc_ever_refuses(case: ConsentFacts) -> None:
    if case.jurisdiction != NYC:
        assert collection_refusal(case) is None


@given(facts)
def test_rule_r5_r7_refusal_matches_the_plain_statement(case: ConsentFacts) -> None:
    refusal = collection_refusal(case)
    if case.jurisdiction != NYC:
        assert refusal is None
    elif case.minor:
        allowed = case.guardian_consent is WRITTEN
        assert refusal is (None if allowed else ConsentRefusal.GUARDIAN_WRITTEN_CONSENT_MISSING)
    elif is_tenant(case.roles, case.resident_status):
        allowed = case.tenant_consent is not None
        assert refusal is (None if allowed else ConsentRefusal.TENANT_CONSENT_MISSING)
    else:
        assert case.roles
        assert Role.RESIDENT not in case.roles
        assert not case.resident_status
        assert refusal is None


@given(facts, channels, channels)
def test_rule_r5_recording_more_consent_never_turns_allowed_into_refused(
    case: ConsentFacts, tenant: ConsentChannel | None, guardian: ConsentChannel | None
) -> None:
    either = case.guardian_consent or guardian
    stronger_guardian = WRITTEN if WRITTEN in (case.guardian_consent, guardian) else either
    more = ConsentFacts(
        case.jurisdiction,
        case.roles,
        case.resident_status,
        case.minor,
        case.tenant_consent or tenant,
        stronger_guardian,
    )
    if collection_refusal(case) is None:
        assert collection_refusal(more) is None


@given(facts)
def test_rule_r7_app_consent_alone_never_lets_a_minor_in_nyc_through(case: ConsentFacts) -> None:
    if case.jurisdiction == NYC and case.minor and case.guardian_consent is not WRITTEN:
        assert collection_refusal(case) is ConsentRefusal.GUARDIAN_WRITTEN_CONSENT_MISSING
