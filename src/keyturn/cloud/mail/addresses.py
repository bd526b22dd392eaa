"""Checking and normalising recipient addresses and header values before they are queued.

Only plain ASCII addresses (local@domain, no display name, no quoted local part) are
accepted, because they are what every SMTP relay delivers without extensions.
"""

from __future__ import annotations

import re

from keyturn.cloud.mail.errors import InvalidAddress, InvalidMail, UnsafeHeader

MAX_ADDRESS_LENGTH = 254  # RFC 5321: a path is at most 256 octets including the brackets
MAX_LOCAL_PART_LENGTH = 64
MAX_SUBJECT_LENGTH = 200
MAX_BODY_LENGTH = 100_000

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_LOCAL_PART = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_DOMAIN_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


def normalise_address(address: str) -> str:
    """The form addresses are stored and hashed in: surrounding spaces trimmed, lower case."""
    return address.strip().lower()


def check_address(address: str) -> str:
    """The normalised address, or InvalidAddress (UnsafeHeader for control characters)."""
    if _CONTROL.search(address):
        raise UnsafeHeader("the address contains a line break or control character")
    normalised = normalise_address(address)
    if not normalised.isascii():
        raise InvalidAddress(f"{normalised!r}: only ASCII addresses are supported")
    if len(normalised) > MAX_ADDRESS_LENGTH:
        raise InvalidAddress(f"the address is longer than {MAX_ADDRESS_LENGTH} characters")
    local, at, domain = normalised.rpartition("@")
    if not at or not local or not domain:
        raise InvalidAddress(f"{normalised!r} is not an address like name@example.org")
    if len(local) > MAX_LOCAL_PART_LENGTH or not _LOCAL_PART.match(local):
        raise InvalidAddress(f"{normalised!r}: the part before @ is not a valid mailbox name")
    labels = domain.split(".")
    if domain != "localhost" and (
        len(labels) < 2 or not all(_DOMAIN_LABEL.match(label) for label in labels)
    ):
        raise InvalidAddress(f"{normalised!r}: {domain!r} is not a valid mail domain")
    return normalised


def check_subject(subject: str) -> str:
    """The subject unchanged, or UnsafeHeader / InvalidMail if it cannot be a header."""
    if _CONTROL.search(subject):
        raise UnsafeHeader("the subject contains a line break or control character")
    if not subject.strip():
        raise InvalidMail("the subject is empty")
    if len(subject) > MAX_SUBJECT_LENGTH:
        raise InvalidMail(f"the subject is longer than {MAX_SUBJECT_LENGTH} characters")
    return subject


def check_body(body_text: str) -> str:
    """The body unchanged, or InvalidMail if no database or mail server would take it."""
    if "\x00" in body_text:
        raise InvalidMail("the body contains a NUL character")
    if len(body_text) > MAX_BODY_LENGTH:
        raise InvalidMail(f"the body is longer than {MAX_BODY_LENGTH} characters")
    return body_text
