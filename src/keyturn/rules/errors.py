"""The errors raised by keyturn.rules, as one small hierarchy under RuleError.

Every error here means the caller passed facts the rules refuse (a bad schedule, a weak
code, a retention period longer than the law allows); each is also a ValueError.
"""

from __future__ import annotations


class RuleError(ValueError):
    """Base class for every refusal in keyturn.rules."""


class NaiveDatetime(RuleError):
    """A datetime without a time zone was passed where an instant is required."""


class InvalidSchedule(RuleError):
    """A weekly window or validity period that cannot be evaluated unambiguously."""


class InvalidGrant(RuleError):
    """A guest invitation, courier key or resident status that the access rules do not allow."""


class SelfResidentStatus(InvalidGrant):
    """Someone tried to give themself resident status (V2)."""


class ResidentKeyDoor(InvalidGrant):
    """A residence door added to a key that carries resident status (V2)."""


class InvalidDoorcode(RuleError):
    """A doorcode or code length that may not be issued."""


class CodeSpaceExhausted(InvalidDoorcode):
    """No free, strong code was found at the door within the allowed number of draws."""


class InvalidLockoutPolicy(RuleError):
    """Keypad lockout settings that would not limit guessing."""


class InvalidRetention(RuleError):
    """A retention period that is not a positive number of days."""


class RetentionTooLong(InvalidRetention):
    """A per-property override longer than its jurisdiction allows."""
