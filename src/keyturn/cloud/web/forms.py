"""Reading a page's form as the API's schema reads its body, for either front end.

A form's fields are strings; these turn them into the values the API's pydantic models take
(times in the property's zone, weekly windows) and its validation errors into messages by field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError

from keyturn.cloud.access.sharing.schemas import GuestInvite

Fields = dict[str, list[str]]
M = TypeVar("M", bound=BaseModel)


def local_instant(text: str, zone: ZoneInfo) -> str | None:
    """A `datetime-local` field as an ISO time with the property's offset (bad text as sent)."""
    if not text.strip():
        return None
    try:
        return datetime.fromisoformat(text.strip()).replace(tzinfo=zone).isoformat()
    except ValueError:
        return text


def weekly_windows(weekdays: list[int], start: str, end: str) -> list[dict[str, Any]]:
    """The same hours on each chosen weekday, as the API's `windows`."""
    return [{"weekday": day, "start": start, "end": end} for day in sorted(set(weekdays))]


def parsed(model: type[M], values: dict[str, Any]) -> M | Fields:
    """The form as the API's schema reads it, or its messages by field."""
    try:
        return model.model_validate(values)
    except ValidationError as invalid:
        fields: Fields = {}
        for error in invalid.errors():
            name = str(error["loc"][0]) if error["loc"] else "form"
            fields.setdefault(name, []).append(str(error["msg"]))
        return fields


def guest_invite_form(
    *,
    zone: ZoneInfo,
    email: str,
    display_name: str,
    key_id: str,
    starts_at: str,
    ends_at: str,
    weekdays: list[int],
    window_start: str,
    window_end: str,
) -> tuple[dict[str, Any], GuestInvite | Fields]:
    """A guest invitation form as sent (to show again) and as the API's schema reads it, its
    times in the property's zone; both front ends' guest forms are this one form."""
    sent: dict[str, Any] = {
        "email": email,
        "display_name": display_name,
        "key_id": key_id,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "weekdays": weekdays,
        "window_start": window_start,
        "window_end": window_end,
    }
    invite = parsed(
        GuestInvite,
        {
            "email": email,
            "display_name": display_name,
            "key_id": key_id,
            "starts_at": local_instant(starts_at, zone),
            "ends_at": local_instant(ends_at, zone),
            "windows": weekly_windows(weekdays, window_start, window_end),
        },
    )
    return sent, invite
