"""Refusals shared by the access resources (keys, credentials, sharing).

Each is a Refusal, so the API answers it with its problem type and the CLI prints it as a line.
"""

from __future__ import annotations

from keyturn.cloud.errors import Refusal


class NotYours(Refusal):
    """The caller's role allows the action, but not on this door, key or code."""

    status = 403
    kind = "not-yours"
    title = "This is not yours to use or change"
