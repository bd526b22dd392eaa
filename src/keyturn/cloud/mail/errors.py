"""The errors the mail package raises on purpose.

A message that cannot be queued is a ValueError, so API code can treat it as bad input, and
a Refusal, which the API answers with 422 `invalid-email`.
"""

from __future__ import annotations

from keyturn.cloud.errors import Refusal


class InvalidMail(Refusal, ValueError):
    """A message that cannot be queued as given; the text says which part is wrong."""

    status = 422
    kind = "invalid-email"
    title = "The email address cannot receive mail"


class InvalidAddress(InvalidMail):
    """The recipient is not a single plain address such as name@example.org."""


class UnsafeHeader(InvalidMail):
    """A header value (subject or address) holds a line break or another control character.

    Refused rather than cleaned, because a line break there is how header injection starts.
    """
