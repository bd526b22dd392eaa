"""The root of Keyturn's error hierarchy.

A UserError carries a message meant for the person at the terminal; the CLI prints it as
one line and exits non-zero, without a traceback.
"""

from __future__ import annotations


class KeyturnError(Exception):
    """Base class of every error Keyturn raises on purpose."""


class UserError(KeyturnError):
    """Bad configuration or input that the user can fix; the message says how."""
