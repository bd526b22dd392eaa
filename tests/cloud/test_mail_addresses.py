"""Addresses, subjects and bodies are checked before anything reaches the outbox."""

from __future__ import annotations

import pytest

from keyturn.cloud.mail.addresses import check_address, check_body, check_subject
from keyturn.cloud.mail.errors import InvalidAddress, InvalidMail, UnsafeHeader


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("alice@example.org", "alice@example.org"),
        ("  Alice.Smith+keys@Example.ORG ", "alice.smith+keys@example.org"),
        ("ops@localhost", "ops@localhost"),
        ("o'brien@mail.example.co.uk", "o'brien@mail.example.co.uk"),
    ],
)
def test_good_addresses_are_normalised(given: str, stored: str) -> None:
    assert check_address(given) == stored


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "alice",
        "alice@",
        "@example.org",
        "alice@example",
        "alice@@example.org",
        "alice..smith@example.org",
        ".alice@example.org",
        "Alice <alice@example.org>",
        "alice,bob@example.org",
        "alice@exa mple.org",
        "alice@-example.org",
        "alice@example..org",
        "jörg@example.org",
        "a" * 65 + "@example.org",
        "a@" + "b" * 250 + ".org",
    ],
)
def test_bad_addresses_are_refused(bad: str) -> None:
    with pytest.raises(InvalidAddress):
        check_address(bad)


@pytest.mark.parametrize(
    "injected",
    ["alice@example.org\r\nBcc: eve@example.org", "alice@example.org\nBcc: eve@example.org"],
)
def test_line_breaks_in_an_address_are_header_injection(injected: str) -> None:
    with pytest.raises(UnsafeHeader):
        check_address(injected)


@pytest.mark.parametrize(
    "injected",
    ["Hello\r\nBcc: eve@example.org", "Hello\nX-Evil: 1", "Hello\rthere", "tab\there", "nul\x00"],
)
def test_control_characters_in_a_subject_are_refused(injected: str) -> None:
    with pytest.raises(UnsafeHeader):
        check_subject(injected)


def test_subject_and_body_limits() -> None:
    assert check_subject("Your Keyturn doorcode — ✓") == "Your Keyturn doorcode — ✓"
    with pytest.raises(InvalidMail):
        check_subject("   ")
    with pytest.raises(InvalidMail):
        check_subject("x" * 201)
    assert check_body("line one\nline two\r\n") == "line one\nline two\r\n"
    with pytest.raises(InvalidMail):
        check_body("nul\x00byte")


def test_errors_are_value_errors() -> None:
    assert issubclass(InvalidAddress, ValueError)
    assert issubclass(UnsafeHeader, ValueError)
