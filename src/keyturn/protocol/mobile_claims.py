"""The mobile-key schedule claim: the one convention for what a token says about its holder.

The cloud writes it into each token it issues and the lock reads it back, so it belongs to
the protocol rather than to either side.
"""

from __future__ import annotations

from typing import Any

from keyturn.protocol.messages import ScheduleSpec


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
