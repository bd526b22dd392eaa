from __future__ import annotations

import hashlib
import hmac
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keyturn.crypto.codes import (
    code_mac,
    codes_equal,
    door_secret,
    single_day_code,
)
from keyturn.rules.doorcodes import is_weak

SECRET = bytes(range(32))
DAY = date(2025, 3, 14)


def _candidate(secret: bytes, day: date, slot: int, length: int, counter: int) -> str:
    """The documented derivation, written out independently of the module."""
    message = (
        b"keyturn/single-day-code/v1\x00"
        + day.isoformat().encode()
        + slot.to_bytes(4, "big")
        + counter.to_bytes(4, "big")
    )
    number = int.from_bytes(hmac.new(secret, message, hashlib.sha256).digest(), "big")
    return str(number % 10**length).zfill(length)


@pytest.mark.parametrize(
    ("secret", "code", "expected"),
    [
        (SECRET, "1234567", "b7d6370e11ce9efaed1467b2631a8574cac2c2bcb31bc93a45f8f5c326fae5bb"),
        (SECRET, "0000000001", "4b78a13e72a2bf96e8f54d7501e9b302abd88f9114fc8dd7e3d00007d91335df"),
        (bytes(32), "80417", "f14c2e4cd5897c447792448bd053ff289af0b30ec60a3105ebf3fec83998639e"),
    ],
)
def test_code_mac_stable_vectors(secret: bytes, code: str, expected: str) -> None:
    assert code_mac(secret, code).hex() == expected


def test_code_mac_is_domain_separated_hmac() -> None:
    plain = hmac.new(SECRET, b"1234567", hashlib.sha256).digest()
    labelled = hmac.new(SECRET, b"keyturn/doorcode-mac/v1\x001234567", hashlib.sha256).digest()
    assert code_mac(SECRET, "1234567") == labelled
    assert code_mac(SECRET, "1234567") != plain


def test_code_mac_depends_on_code_and_secret() -> None:
    assert code_mac(SECRET, "1234567") != code_mac(SECRET, "1234568")
    assert code_mac(SECRET, "1234567") != code_mac(door_secret(), "1234567")
    assert code_mac(SECRET, "0123456") != code_mac(SECRET, "123456")


@pytest.mark.parametrize("code", ["", "12a45", "12 345", "١٢٣٤٥"])
def test_code_mac_refuses_non_digit_codes(code: str) -> None:
    with pytest.raises(ValueError, match="ASCII digits"):
        code_mac(SECRET, code)


@pytest.mark.parametrize("secret", [b"", b"\x00" * 16, b"\x00" * 33])
def test_wrong_length_secrets_are_refused(secret: bytes) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        code_mac(secret, "12345")
    with pytest.raises(ValueError, match="32 bytes"):
        single_day_code(secret, DAY, 0, 7)


def test_codes_equal() -> None:
    assert codes_equal(code_mac(SECRET, "1234567"), code_mac(SECRET, "1234567"))
    assert not codes_equal(code_mac(SECRET, "1234567"), code_mac(SECRET, "7654321"))
    assert not codes_equal(b"", code_mac(SECRET, "1234567"))


def test_door_secrets_are_fresh_32_bytes() -> None:
    assert len(door_secret()) == 32
    assert door_secret() != door_secret()


@pytest.mark.parametrize(
    ("day", "slot", "length", "expected"),
    [
        (date(2025, 3, 14), 0, 7, "7928036"),
        (date(2025, 3, 14), 1, 7, "5197270"),
        (date(2025, 3, 15), 0, 7, "5069493"),
        (date(2024, 2, 29), 3, 5, "71166"),
        (date(2025, 12, 31), 0, 10, "3896060903"),
    ],
)
def test_single_day_code_stable_vectors(day: date, slot: int, length: int, expected: str) -> None:
    assert single_day_code(SECRET, day, slot, length) == expected
    assert _candidate(SECRET, day, slot, length, 0) == expected


@pytest.mark.parametrize(
    ("slot", "weak_first", "expected"),
    [
        (2500, "76543", "47370"),
        (3581, "67890", "76573"),
        (5755, "77777", "56096"),
        (320, "44144", "58463"),
    ],
)
def test_single_day_code_skips_weak_results_by_counter(
    slot: int, weak_first: str, expected: str
) -> None:
    assert _candidate(SECRET, DAY, slot, 5, 0) == weak_first
    assert is_weak(weak_first)
    assert _candidate(SECRET, DAY, slot, 5, 1) == expected
    assert single_day_code(SECRET, DAY, slot, 5) == expected


@pytest.mark.parametrize(("slot", "length"), [(-1, 7), (2**32, 7), (0, 4), (0, 11)])
def test_single_day_code_refuses_bad_slot_or_length(slot: int, length: int) -> None:
    with pytest.raises(ValueError, match=r"slot|length"):
        single_day_code(SECRET, DAY, slot, length)


@given(
    st.binary(min_size=32, max_size=32),
    st.dates(),
    st.integers(0, 2**32 - 1),
    st.integers(5, 10),
)
def test_single_day_code_shape_and_determinism(
    secret: bytes, day: date, slot: int, length: int
) -> None:
    code = single_day_code(secret, day, slot, length)
    assert len(code) == length
    assert code.isascii()
    assert code.isdigit()
    assert single_day_code(secret, day, slot, length) == code
    assert not is_weak(code)


@given(
    st.binary(min_size=32, max_size=32),
    st.tuples(st.dates(), st.integers(0, 2**32 - 1)),
    st.tuples(st.dates(), st.integers(0, 2**32 - 1)),
)
def test_single_day_code_differs_across_dates_and_slots(
    secret: bytes, first: tuple[date, int], second: tuple[date, int]
) -> None:
    # Ten digits make an accidental collision a one-in-10**10 event.
    if first != second:
        assert single_day_code(secret, *first, 10) != single_day_code(secret, *second, 10)
    else:
        assert single_day_code(secret, *first, 10) == single_day_code(secret, *second, 10)


@given(st.dates(), st.integers(0, 2**32 - 1))
def test_single_day_code_depends_on_the_door_secret(day: date, slot: int) -> None:
    assert single_day_code(SECRET, day, slot, 10) != single_day_code(bytes(32), day, slot, 10)


def test_card_mac_is_stable_normalised_and_separate_from_code_macs() -> None:
    from keyturn.crypto.codes import card_mac

    secret = bytes(range(32))
    assert card_mac(secret, "04a1b2c3") == card_mac(secret, " 04A1B2C3 ")
    assert card_mac(secret, "04A1B2C3") != card_mac(bytes(32), "04A1B2C3")
    # Same digits as a doorcode, different label: a card can never match a code entry.
    assert card_mac(secret, "1234567") != code_mac(secret, "1234567")
    with pytest.raises(ValueError, match="card identifier"):
        card_mac(secret, "  ")


def test_card_mac_ignores_separators_and_refuses_non_hex() -> None:
    from keyturn.crypto.codes import card_mac

    secret = bytes(range(32))
    assert (
        card_mac(secret, "04:a2:b3") == card_mac(secret, "04A2B3") == card_mac(secret, "04-A2 B3")
    )
    with pytest.raises(ValueError, match="hexadecimal"):
        card_mac(secret, "not-a-card")
