"""The door-position sensor and the battery gauge, as small state machines fed with time.

They decide which events to journal (door_ajar, forced_open, battery_low); the agent writes
them, so the journal stays the one place events are recorded.
"""

from __future__ import annotations

from keyturn.protocol.event_kinds import EventKind

# After a grant the latch stays released this long; opening later without a grant is forced.
UNLATCH_MS = 10_000
AJAR_AFTER_MS = 30_000
LOW_BATTERY_PCT = 15


class DoorSensor:
    """Tracks the latch and the door; reports forced openings and a door left open."""

    def __init__(self) -> None:
        self.unlatched_until_ms = -1
        self.open_since_ms: int | None = None
        self._ajar_reported = False

    @property
    def is_open(self) -> bool:
        return self.open_since_ms is not None

    def unlatch(self, now_ms: int) -> None:
        self.unlatched_until_ms = now_ms + UNLATCH_MS

    def opened(self, now_ms: int) -> str | None:
        """EventKind.FORCED_OPEN when the door opens with the latch engaged, else None."""
        if self.open_since_ms is not None:
            return None
        self.open_since_ms = now_ms
        self._ajar_reported = False
        return None if now_ms <= self.unlatched_until_ms else EventKind.FORCED_OPEN

    def closed(self) -> None:
        self.open_since_ms = None
        self.unlatched_until_ms = -1

    def check(self, now_ms: int) -> str | None:
        """EventKind.DOOR_AJAR once per opening, when the door has been open AJAR_AFTER_MS."""
        since = self.open_since_ms
        if since is None or self._ajar_reported or now_ms - since < AJAR_AFTER_MS:
            return None
        self._ajar_reported = True
        return EventKind.DOOR_AJAR


def battery_event(previous_pct: int, pct: int) -> str | None:
    """EventKind.BATTERY_LOW when the level drops below LOW_BATTERY_PCT (once per crossing)."""
    if not 0 <= pct <= 100:
        raise ValueError(f"battery level is 0-100, got {pct}")
    return EventKind.BATTERY_LOW if pct < LOW_BATTERY_PCT <= previous_pct else None
