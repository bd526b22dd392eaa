"""The kinds of entry a lock writes to its journal, named once for the lock and the cloud.

On the wire `EventRecord.kind` stays text, so a cloud keeps (and shows) a kind that a newer
lock model reports before this list learns it.
"""

from __future__ import annotations

from enum import StrEnum


class EventKind(StrEnum):
    ATTEMPT = "attempt"  # a credential presented: granted or denied, always with a reason
    DOOR_AJAR = "door_ajar"
    FORCED_OPEN = "forced_open"
    BATTERY_LOW = "battery_low"
    POWER_RESTORED = "power_restored"
    KEYPAD_LOCKOUT = "keypad_lockout"
    CLOCK_CORRECTED = "clock_corrected"
    ACCESS_LIST_REFUSED = "access_list_refused"
    FIRMWARE_UPDATED = "firmware_updated"
    FIRMWARE_REFUSED = "firmware_refused"
    PURGED = "purged"  # a person's records removed on the cloud's command (D8)
