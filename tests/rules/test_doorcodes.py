from __future__ import annotations

import hashlib
import hmac
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keyturn.rules.doorcodes import (
    DEFAULT_CODE_LENGTH,
    ensure_unique_at_door,
    generate_code,
    is_weak,
    validate_code,
    validate_code_length,
    weak_codes,
)
from keyturn.rules.errors import CodeSpaceExhausted, InvalidDoorcode


def test_rule_a3_code_length_is_5_to_10_and_7_by_default() -> None:
    assert DEFAULT_CODE_LENGTH == 7
    assert [validate_code_length(n) for n in (5, 7, 10)] == [5, 7, 10]
    for bad in (4, 11, 0):
        with pytest.raises(InvalidDoorcode):
            validate_code_length(bad)


@pytest.mark.parametrize(
    "code",
    [
        "0000000",
        "77777",
        "1234567",
        "9876543",
        "8901234",
        "2109876",
        "0123456789",
        "1212121",
        "123123",
        "1001001",
        "4545454545",
    ],
)
def test_rule_a3_weak_patterns_are_recognised(code: str) -> None:
    assert is_weak(code)
    with pytest.raises(InvalidDoorcode, match="pattern"):
        validate_code(code, len(code))


@pytest.mark.parametrize("code", ["4829173", "12345670", "1231234", "90210", "5550123"])
def test_rule_a3_ordinary_codes_are_not_weak(code: str) -> None:
    assert not is_weak(code)
    validate_code(code, len(code))


def test_weak_list_is_the_same_size_for_every_allowed_length() -> None:
    assert {len(weak_codes(n)) for n in range(5, 11)} == {1110}
    assert all(len(code) == 8 and code.isdigit() for code in weak_codes(8))


def test_validate_code_refuses_wrong_length_and_non_digits() -> None:
    for code in ("482917", "48291735", "48a9173", "\uff14\uff18\uff12\uff19\uff11\uff17\uff13"):
        with pytest.raises(InvalidDoorcode, match="digits"):
            validate_code(code, 7)


def test_rule_a3_code_already_live_at_the_door_is_refused() -> None:
    ensure_unique_at_door("4829173", {"5930281"})
    with pytest.raises(InvalidDoorcode, match="in use"):
        ensure_unique_at_door("4829173", {"4829173"})


class MacSet:
    """Codes stored only as keyed MACs, as a lock keeps them."""

    def __init__(self, secret: bytes, codes: list[str]) -> None:
        self.secret = secret
        self.macs = {self.mac(code) for code in codes}

    def mac(self, code: str) -> bytes:
        return hmac.new(self.secret, code.encode(), hashlib.sha256).digest()

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and self.mac(code) in self.macs


def test_rule_a3_uniqueness_works_against_keyed_macs() -> None:
    taken = MacSet(b"door-secret", ["4829173"])
    draws = iter([4829173, 5930281])
    assert generate_code(7, lambda n: next(draws), taken) == "5930281"


def test_generation_gives_up_when_every_draw_is_refused() -> None:
    with pytest.raises(CodeSpaceExhausted):
        generate_code(7, lambda n: 1234567, set(), max_draws=50)


def test_generation_refuses_a_draw_outside_the_range() -> None:
    with pytest.raises(ValueError, match="outside"):
        generate_code(5, lambda n: n, set())


def test_generation_pads_small_draws_with_leading_zeros() -> None:
    assert generate_code(7, lambda n: 4821, set()) == "0004821"


@settings(deadline=None, max_examples=200)
@given(
    seed=st.integers(min_value=0, max_value=2**32),
    length=st.integers(min_value=5, max_value=10),
    count=st.integers(min_value=1, max_value=40),
)
def test_rule_a3_generated_codes_are_never_weak_and_never_collide(
    seed: int, length: int, count: int
) -> None:
    rng = random.Random(seed)
    taken: set[str] = set()
    for _ in range(count):
        code = generate_code(length, rng.randrange, taken)
        assert len(code) == length
        assert code.isdigit()
        assert not is_weak(code)
        assert code not in taken
        taken.add(code)
    assert len(taken) == count


@settings(deadline=None, max_examples=100)
@given(data=st.data())
def test_rule_a3_generation_skips_weak_and_taken_draws(data: st.DataObject) -> None:
    weak = sorted(weak_codes(5))
    taken = set(data.draw(st.lists(st.sampled_from(["48291", "59302", "60413"]))))
    rejected = data.draw(st.lists(st.sampled_from(weak + sorted(taken) or weak), max_size=20))
    fallback = data.draw(st.sampled_from(["71524", "82635", "93746"]))
    draws = iter([int(code) for code in rejected] + [int(fallback)])
    assert generate_code(5, lambda n: next(draws), taken) == fallback
