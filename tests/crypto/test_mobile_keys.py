from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import cbor2
import pytest

from keyturn.crypto._sign1 import sign1
from keyturn.crypto.envelopes import seal_signed
from keyturn.crypto.errors import ExpiredToken, InvalidSignature, TokenNotYetValid
from keyturn.crypto.keys import SigningKeyPair
from keyturn.crypto.mobile_keys import (
    MOBILE_KEY_AAD,
    MobileKeyClaims,
    issue_mobile_key,
    new_challenge,
    sign_challenge,
    verify_challenge,
    verify_mobile_key,
)

AUTHORITY = SigningKeyPair.generate()
PHONE = SigningKeyPair.generate()
START = datetime(2025, 3, 14, 8, 0, tzinfo=UTC)
END = START + timedelta(days=3)
ISSUED = START - timedelta(hours=1)
SCHEDULE: dict[str, Any] = {"zone": "America/New_York", "weekly": [[0, 480, 1080]], "x": 1.5}


def _token(**changes: Any) -> bytes:
    arguments: dict[str, Any] = {
        "authority": AUTHORITY,
        "phone_public": PHONE.public_bytes(),
        "key_id": "key-42",
        "door_ids": ["door-entrance", "door-4b"],
        "not_before": START,
        "expires": END,
        "schedule": SCHEDULE,
        "issued_at": ISSUED,
    }
    arguments.update(changes)
    return issue_mobile_key(**arguments)


def _claims() -> MobileKeyClaims:
    return verify_mobile_key(_token(), AUTHORITY.public, START + timedelta(hours=1))


def test_round_trip() -> None:
    claims = _claims()
    assert claims.key_id == "key-42"
    assert claims.door_ids == ("door-entrance", "door-4b")
    assert claims.phone_public == PHONE.public_bytes()
    assert dict(claims.schedule) == SCHEDULE
    assert (claims.not_before, claims.expires, claims.issued_at) == (START, END, ISSUED)
    assert claims.issuer_key_id == AUTHORITY.key_id
    assert len(bytes.fromhex(claims.token_id)) == 16
    assert claims.allows_door("door-4b")
    assert not claims.allows_door("door-5c")


def test_token_ids_are_unique() -> None:
    first = verify_mobile_key(_token(), AUTHORITY.public, START)
    second = verify_mobile_key(_token(), AUTHORITY.public, START)
    assert first.token_id != second.token_id


def test_claim_keys_follow_rfc_8392_and_8747() -> None:
    payload = cbor2.loads(cbor2.loads(_token()).value[2])
    assert payload[4] == int(END.timestamp())
    assert payload[5] == int(START.timestamp())
    assert payload[6] == int(ISSUED.timestamp())
    assert payload[8] == {1: {1: 1, -1: 6, -2: PHONE.public_bytes()}}
    assert payload[-65537] == "key-42"
    assert payload[-65538] == ["door-entrance", "door-4b"]
    assert payload[-65539] == SCHEDULE


def test_valid_from_not_before_until_just_before_expiry() -> None:
    token = _token()
    assert verify_mobile_key(token, AUTHORITY.public, START).key_id == "key-42"
    assert verify_mobile_key(token, AUTHORITY.public, END - timedelta(microseconds=1))
    with pytest.raises(TokenNotYetValid):
        verify_mobile_key(token, AUTHORITY.public, START - timedelta(microseconds=1))
    with pytest.raises(ExpiredToken):
        verify_mobile_key(token, AUTHORITY.public, END)
    with pytest.raises(ExpiredToken):
        verify_mobile_key(token, AUTHORITY.public, END + timedelta(days=400))


def test_time_is_taken_from_the_argument_not_the_clock() -> None:
    long_ago = datetime(2001, 1, 1, tzinfo=UTC)
    token = _token(not_before=long_ago, expires=long_ago + timedelta(days=1))
    claims = verify_mobile_key(token, AUTHORITY.public, long_ago + timedelta(hours=2))
    assert claims.expires == long_ago + timedelta(days=1)


def test_sub_second_bounds_round_inwards() -> None:
    start = START + timedelta(microseconds=300)
    end = END + timedelta(microseconds=700)
    claims = verify_mobile_key(
        _token(not_before=start, expires=end), AUTHORITY.public, START + timedelta(seconds=1)
    )
    assert claims.not_before == START + timedelta(seconds=1)
    assert claims.expires == END


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        verify_mobile_key(_token(), AUTHORITY.public, datetime(2025, 3, 14, 9))
    with pytest.raises(ValueError, match="timezone-aware"):
        _token(not_before=datetime(2025, 3, 14, 9))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"expires": START}, "after not_before"),
        ({"door_ids": []}, "door_ids"),
        ({"phone_public": b"\x01" * 31}, "32 raw bytes"),
    ],
)
def test_bad_issue_arguments_are_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _token(**changes)


def test_wrong_authority_fails() -> None:
    with pytest.raises(InvalidSignature):
        verify_mobile_key(_token(), SigningKeyPair.generate().public, START)


def test_every_flipped_byte_fails() -> None:
    token = _token()
    for index in range(len(token)):
        tampered = bytearray(token)
        tampered[index] ^= 0x01
        with pytest.raises(InvalidSignature):
            verify_mobile_key(bytes(tampered), AUTHORITY.public, START)


def test_unsigned_claims_are_refused() -> None:
    # cwt.decode would return a bare claims map unverified; we must not.
    bare = cbor2.loads(cbor2.loads(_token()).value[2])
    with pytest.raises(InvalidSignature):
        verify_mobile_key(cbor2.dumps(bare), AUTHORITY.public, START)


def test_an_envelope_is_not_a_mobile_key() -> None:
    payload = cbor2.loads(_token()).value[2]
    with pytest.raises(InvalidSignature):
        verify_mobile_key(seal_signed(payload, AUTHORITY), AUTHORITY.public, START)


@pytest.mark.parametrize(
    "payload",
    [
        b"not cbor \xff",
        cbor2.dumps([1, 2]),
        cbor2.dumps({4: 2_000_000_000, 5: 0}),
        cbor2.dumps({4: "soon", 5: 0, 6: 0, 7: b"id", 8: {1: {}}}),
    ],
)
def test_signed_but_malformed_claims_fail_cleanly(payload: bytes) -> None:
    token = sign1(payload, AUTHORITY, MOBILE_KEY_AAD)
    with pytest.raises(InvalidSignature, match="malformed"):
        verify_mobile_key(token, AUTHORITY.public, START)


def test_signed_claims_with_wrong_types_fail() -> None:
    good = cbor2.loads(cbor2.loads(_token()).value[2])
    for key, value in [(-65538, "door-4b"), (-65539, [1]), (-65537, 7), (8, {1: {1: 2}})]:
        bad = {**good, key: value}
        token = sign1(cbor2.dumps(bad), AUTHORITY, MOBILE_KEY_AAD)
        with pytest.raises(InvalidSignature, match="malformed"):
            verify_mobile_key(token, AUTHORITY.public, START)


@pytest.mark.parametrize("garbage", [b"", b"\xd2\x84\x40\xa0\x40\x40", b"\xff" * 50])
def test_garbage_fails_cleanly(garbage: bytes) -> None:
    with pytest.raises(InvalidSignature):
        verify_mobile_key(garbage, AUTHORITY.public, START)


def test_challenge_round_trip() -> None:
    challenge = new_challenge()
    signature = sign_challenge(PHONE, challenge, "door-4b")
    verify_challenge(_claims(), challenge, "door-4b", signature)
    assert new_challenge() != challenge
    assert len(challenge) == 16


def test_challenge_signed_for_another_door_fails() -> None:
    challenge = new_challenge()
    signature = sign_challenge(PHONE, challenge, "door-entrance")
    with pytest.raises(InvalidSignature):
        verify_challenge(_claims(), challenge, "door-4b", signature)


def test_replayed_signature_over_another_challenge_fails() -> None:
    old = sign_challenge(PHONE, new_challenge(), "door-4b")
    with pytest.raises(InvalidSignature, match="another challenge"):
        verify_challenge(_claims(), new_challenge(), "door-4b", old)


def test_challenge_signed_by_another_phone_fails() -> None:
    challenge = new_challenge()
    signature = sign_challenge(SigningKeyPair.generate(), challenge, "door-4b")
    with pytest.raises(InvalidSignature):
        verify_challenge(_claims(), challenge, "door-4b", signature)


def test_the_token_itself_is_not_a_challenge_signature() -> None:
    challenge = new_challenge()
    with pytest.raises(InvalidSignature):
        verify_challenge(_claims(), challenge, "door-4b", _token())


@pytest.mark.parametrize("garbage", [b"", b"\x00" * 64, b"\xd2"])
def test_garbage_challenge_signature_fails_cleanly(garbage: bytes) -> None:
    with pytest.raises(InvalidSignature):
        verify_challenge(_claims(), new_challenge(), "door-4b", garbage)


def test_short_challenges_are_refused() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        sign_challenge(PHONE, b"\x00" * 15, "door-4b")
    with pytest.raises(ValueError, match="16 bytes"):
        verify_challenge(_claims(), b"\x00" * 15, "door-4b", b"")
