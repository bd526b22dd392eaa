"""The mobile-key schedule claim: the one convention for what a token says about its holder.

The cloud writes it into each token it issues and the lock reads it back into the entry it
decides on (`entry_from_claims`), so it belongs to the protocol rather than to either side.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from keyturn.crypto.mobile_keys import MobileKeyClaims
from keyturn.protocol.entries import instant, minute_of_day
from keyturn.protocol.messages import ScheduleSpec
from keyturn.rules.decide import AccessEntry
from keyturn.rules.schedule import Schedule, WeeklyWindow
from keyturn.rules.types import CredentialType


def token_schedule_claim(
    schedule: ScheduleSpec,
    subject: str,
    credential_id: str,
    grant_id: str | None = None,
    granted_by: str | None = None,
    resident: bool = False,
) -> dict[str, Any]:
    """The mobile-key schedule claim: the ScheduleSpec fields plus the holder's identity.

    {"windows": [[weekday, start_minute, end_minute], ...], "starts_at": epoch s | None,
     "ends_at": epoch s | None, "subject": str, "credential_id": str,
     "grant_id": str | None, "granted_by": str | None, "resident": bool}
    """
    return {
        "windows": [[w.weekday, w.start_minute, w.end_minute] for w in schedule.windows],
        "starts_at": schedule.starts_at,
        "ends_at": schedule.ends_at,
        "subject": subject,
        "credential_id": credential_id,
        "grant_id": grant_id,
        "granted_by": granted_by,
        "resident": resident,
    }


class MalformedClaims(ValueError):
    """A correctly signed token whose schedule claim does not follow the convention."""


def entry_from_claims(claims: MobileKeyClaims) -> AccessEntry:
    """The AccessEntry of a verified token; its validity narrows the schedule's bounds."""
    raw = claims.schedule
    try:
        windows = tuple(
            WeeklyWindow(int(w[0]), minute_of_day(int(w[1])), minute_of_day(int(w[2])))
            for w in raw["windows"]
        )
        starts_at = _instant(raw.get("starts_at"))
        ends_at = _instant(raw.get("ends_at"))
        narrowed = _later(starts_at, claims.not_before), _earlier(ends_at, claims.expires)
        # Disjoint windows: keep the claim's bounds. The lock only decides while the token
        # itself is valid, and then these bounds refuse it with the right reason.
        if narrowed[1] > narrowed[0]:
            starts_at, ends_at = narrowed
        resident = raw.get("resident", False)
        if not isinstance(resident, bool):
            raise MalformedClaims("resident is a boolean")
        return AccessEntry(
            credential_id=_text(raw, "credential_id"),
            credential_type=CredentialType.MOBILE_KEY,
            subject=_text(raw, "subject"),
            key_id=claims.key_id,
            grant_id=_optional_text(raw, "grant_id"),
            granted_by=_optional_text(raw, "granted_by"),
            door_ids=frozenset(claims.door_ids),
            schedule=Schedule(windows=windows, starts_at=starts_at, ends_at=ends_at),
            resident=resident,
        )
    except MalformedClaims:
        raise
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise MalformedClaims(f"mobile-key schedule claim: {exc}") from None


def _instant(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise MalformedClaims("times are integer epoch seconds")
    return instant(value)


def _text(raw: Mapping[str, Any], name: str) -> str:
    value = raw.get(name)
    if not isinstance(value, str) or not value:
        raise MalformedClaims(f"{name} is a non-empty string")
    return value


def _optional_text(raw: Mapping[str, Any], name: str) -> str | None:
    value = raw.get(name)
    if value is not None and not isinstance(value, str):
        raise MalformedClaims(f"{name} is a string")
    return value


def _later(bound: datetime | None, other: datetime) -> datetime:
    return other if bound is None else max(bound, other)


def _earlier(bound: datetime | None, other: datetime) -> datetime:
    return other if bound is None else min(bound, other)
