from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from keyturn.rules.capabilities import NEEDED, missing_capability
from keyturn.rules.types import Capability, CredentialType

DOORCODES = [kind for kind in CredentialType if kind.is_doorcode]
EVERY = tuple(Capability)


def test_rule_a2_every_credential_type_needs_one_capability() -> None:
    assert set(NEEDED) == set(CredentialType)
    assert NEEDED[CredentialType.MOBILE_KEY] == Capability.BLE
    assert NEEDED[CredentialType.KEYCARD] == Capability.CARD_READER
    assert NEEDED[CredentialType.MECHANICAL_KEY] == Capability.MECHANICAL_KEY


def test_rule_a3_every_doorcode_needs_a_keypad() -> None:
    no_keypad = [item for item in EVERY if item != Capability.KEYPAD]
    for kind in DOORCODES:
        assert missing_capability(kind, no_keypad) == Capability.KEYPAD
        assert missing_capability(kind, [Capability.KEYPAD]) is None


def test_rule_a2_a_full_model_accepts_everything_and_a_bare_one_nothing() -> None:
    for kind in CredentialType:
        assert missing_capability(kind, EVERY) is None
        assert missing_capability(kind, ()) == NEEDED[kind]


@given(st.sampled_from(list(CredentialType)), st.frozensets(st.sampled_from(EVERY)))
def test_rule_a2_missing_is_the_needed_capability_exactly_when_absent(
    kind: CredentialType, capabilities: frozenset[Capability]
) -> None:
    missing = missing_capability(kind, capabilities)
    assert (missing is None) == (NEEDED[kind] in capabilities)
    assert missing in (None, NEEDED[kind])
    assert missing_capability(kind, capabilities | {NEEDED[kind]}) is None
