"""The lock's time: a local hardware clock plus an offset learned from signed cloud time.

Decision code reads time only through LockClock, which tests and the simulator drive with a
ManualClock; after a power loss every event is flagged clock-uncertain until signed time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

# Below this the difference is the signed time's one-second resolution plus transit.
TOLERANCE_MS = 2_000
# A correction this large is journalled as a clock_corrected event.
REPORTED_DRIFT_MS = 60_000


class HardwareClock(Protocol):
    """The lock's real-time clock chip: milliseconds since the epoch, possibly wrong."""

    def millis(self) -> int: ...


class SystemClock:
    """The host's clock standing in for the lock's real-time clock."""

    def millis(self) -> int:
        return time.time_ns() // 1_000_000


class ManualClock:
    """A hardware clock that only moves when told to; for tests and the simulator."""

    def __init__(self, start: datetime) -> None:
        self._ms = _to_ms(start)

    def millis(self) -> int:
        return self._ms

    def set(self, moment: datetime) -> None:
        self._ms = _to_ms(moment)

    def advance(self, seconds: float) -> None:
        self._ms += round(seconds * 1000)


@dataclass(frozen=True, slots=True)
class TimeCorrection:
    """What a signed time did to the clock: the drift it found and whether it applied it."""

    drift_ms: int
    applied: bool
    was_uncertain: bool

    @property
    def reportable(self) -> bool:
        return self.applied and abs(self.drift_ms) >= REPORTED_DRIFT_MS


class LockClock:
    """Lock time = hardware reading + offset; `uncertain` after a power loss.

    Signed time reaches the clock only through `keyturn.lock.freshness`, which refuses any
    older than `last_signed_ms` (the newest trusted, kept across restarts) and says how long
    the downlink may have travelled; the clock then moves only as far as that proves.
    """

    def __init__(
        self,
        hardware: HardwareClock,
        offset_ms: int = 0,
        uncertain: bool = False,
        last_signed_ms: int = 0,
    ) -> None:
        self.hardware = hardware
        self.offset_ms = offset_ms
        self.uncertain = uncertain
        self.last_signed_ms = last_signed_ms

    def millis(self) -> int:
        return self.hardware.millis() + self.offset_ms

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.millis() / 1000, UTC)

    def power_lost(self) -> None:
        self.uncertain = True

    def learn(self, earliest_ms: int, latest_ms: int | None) -> TimeCorrection:
        """Bring the clock into what a taken downlink proves: now >= earliest_ms (its signed
        time) and, for an answer to an uplink, now <= latest_ms.

        The clock moves to the nearer end of that range and no further, so it is never set
        behind a time that has certainly passed; only a range closed on both sides ends the
        uncertainty of a power loss.
        """
        self.last_signed_ms = max(self.last_signed_ms, earliest_ms)
        now = self.millis()
        target = max(now, earliest_ms)
        if latest_ms is not None:
            target = min(target, latest_ms)
        drift = target - now
        was_uncertain = self.uncertain
        apply = abs(drift) > TOLERANCE_MS
        if apply:
            self.offset_ms += drift
        if latest_ms is not None:
            self.uncertain = False
        return TimeCorrection(drift, apply, was_uncertain)


def _to_ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("a clock is set with a timezone-aware datetime")
    return round(moment.timestamp() * 1000)
