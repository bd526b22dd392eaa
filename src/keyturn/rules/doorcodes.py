"""Which doorcodes may be issued (A3): the property's code length, the weak patterns that are
never handed out, and uniqueness at a door.

Randomness is passed in by the caller, so the same rules serve the cloud (with `secrets`)
and deterministic tests.
"""

from __future__ import annotations

from collections.abc import Callable, Container
from functools import cache

from keyturn.rules.errors import CodeSpaceExhausted, InvalidDoorcode

MIN_CODE_LENGTH = 5
MAX_CODE_LENGTH = 10
DEFAULT_CODE_LENGTH = 7
# Blocks this short repeat too often in a 5-10 digit code to be anything but a pattern.
MAX_REPEATED_BLOCK = 3
DEFAULT_MAX_DRAWS = 1000


def validate_code_length(length: int) -> int:
    """Return `length` if a property may use it as its doorcode length."""
    if not MIN_CODE_LENGTH <= length <= MAX_CODE_LENGTH:
        raise InvalidDoorcode(
            f"doorcode length must be {MIN_CODE_LENGTH} to {MAX_CODE_LENGTH}, got {length}"
        )
    return length


@cache
def weak_codes(length: int) -> frozenset[str]:
    """Every weak code of this length; the list is the definition of "weak".

    - a short block repeated: all one digit (5555555), two digits (1212121) or three
      digits (1231231, 1001001), the last repeat possibly cut short;
    - a straight run up or down by one, wrapping past 9/0 (1234567, 8901234, 9876543,
      2109876).

    For lengths 5-10 that is 1,110 codes.
    """
    codes: set[str] = set()
    for block_length in range(1, MAX_REPEATED_BLOCK + 1):
        for block in range(10**block_length):
            digits = f"{block:0{block_length}d}"
            codes.add((digits * length)[:length])
    for first in range(10):
        for step in (1, -1):
            codes.add("".join(str((first + step * i) % 10) for i in range(length)))
    return frozenset(codes)


def is_weak(code: str) -> bool:
    return code in weak_codes(len(code))


def validate_code(code: str, length: int) -> None:
    """Refuse a code that has the wrong length, is not all digits, or is weak."""
    if len(code) != length or not code.isascii() or not code.isdigit():
        raise InvalidDoorcode(f"a doorcode here is exactly {length} digits")
    if is_weak(code):
        raise InvalidDoorcode("doorcode follows a guessable pattern")


def ensure_unique_at_door(code: str, taken: Container[str]) -> None:
    """Refuse a code already live at the door.

    `taken` may hold the codes themselves or be any container whose `in` checks the
    door's keyed MACs, so the caller never has to keep codes in clear text.
    """
    if code in taken:
        raise InvalidDoorcode("doorcode is already in use at this door")


def generate_code(
    length: int,
    draw: Callable[[int], int],
    taken: Container[str],
    max_draws: int = DEFAULT_MAX_DRAWS,
) -> str:
    """A random code of `length` digits that is neither weak nor taken at the door.

    `draw(n)` must return a uniform integer in [0, n), like `secrets.randbelow`. Gives up
    with CodeSpaceExhausted after `max_draws` rejected draws rather than looping forever.
    """
    validate_code_length(length)
    space = 10**length
    for _ in range(max_draws):
        value = draw(space)
        if not 0 <= value < space:
            raise ValueError(f"draw({space}) returned {value}, outside [0, {space})")
        code = f"{value:0{length}d}"
        if not is_weak(code) and code not in taken:
            return code
    raise CodeSpaceExhausted(f"no free doorcode of {length} digits after {max_draws} draws")
