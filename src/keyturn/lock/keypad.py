"""The keypad: digit-by-digit entry with an inter-digit timeout, and the single-day code table.

Single-day codes are derived from the door secret, the local date and a slot, so the lock
recognises them without a sync by precomputing each day's table of codes to slots.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta, tzinfo

from keyturn.crypto.codes import single_day_code
from keyturn.rules.schedule import single_day_window

INTER_DIGIT_TIMEOUT_MS = 5_000
ENTER = "#"
CLEAR = "*"
# Around local midnight the adjacent day's table is consulted too, so a code typed a few
# minutes early or late is recognised (and then refused by its schedule with a precise
# reason rather than as an unknown code); validity itself is always the exact local day.
MIDNIGHT_GRACE = timedelta(minutes=15)
_GRACE_MS = int(MIDNIGHT_GRACE.total_seconds() * 1000)
_KEPT_TABLES = 3


class KeypadBuffer:
    """Collects key presses into a code; a pause over the timeout clears what was typed.

    A code is complete at `code_length` digits, or earlier with the enter key (#); the
    clear key (*) empties the buffer.
    """

    def __init__(self, code_length: int) -> None:
        self.code_length = code_length
        self._digits: list[str] = []
        self._last_press_ms: int | None = None

    def press(self, key: str, now_ms: int) -> str | None:
        """Take one key; the complete code when this press finished one, else None."""
        last = self._last_press_ms
        if last is not None and now_ms - last > INTER_DIGIT_TIMEOUT_MS:
            self._digits.clear()
        self._last_press_ms = now_ms
        if key == CLEAR:
            self._digits.clear()
            return None
        if key == ENTER:
            return self._take() if self._digits else None
        if len(key) != 1 or not key.isascii() or not key.isdigit():
            raise ValueError(f"not a keypad key: {key!r}")
        self._digits.append(key)
        return self._take() if len(self._digits) >= self.code_length else None

    def _take(self) -> str:
        code = "".join(self._digits)
        self._digits.clear()
        return code

    @property
    def pending(self) -> int:
        return len(self._digits)


class SingleDayCodes:
    """Which (local date, slot) a typed code is, for the live slots of the days around now.

    A derived code that is also a listed code (`is_listed`) is left out of the table, so
    the listed credential wins and the keypad can try this table before computing a MAC.
    """

    def __init__(
        self,
        door_secret: bytes,
        code_length: int,
        tz: tzinfo,
        is_listed: Callable[[str], bool] = lambda code: False,
    ) -> None:
        self._secret = door_secret
        self._length = code_length
        self._tz = tz
        self._is_listed = is_listed
        self._slots = 0
        self._tables: dict[date, dict[str, int]] = {}
        self._span: tuple[int, int, tuple[date, ...]] = (0, 0, ())

    def set_slots(self, slots: int) -> None:
        """Slots 0..slots-1 are live each day (from the access list); tables are rebuilt,
        since the listed codes they leave out may have changed too."""
        self._slots = slots
        self._tables.clear()

    def match(self, code: str, now_ms: int) -> tuple[date, int] | None:
        """The (local date, slot) whose code this is, trying today first."""
        if not self._slots:
            return None
        for day in self.candidate_days(now_ms):
            slot = self.table(day).get(code)
            if slot is not None:
                return day, slot
        return None

    def candidate_days(self, now_ms: int) -> tuple[date, ...]:
        """Today, plus the adjacent day within MIDNIGHT_GRACE of local midnight."""
        start, end, days = self._span
        if start <= now_ms < end:
            return days
        self._span = self._compute_span(now_ms)
        return self._span[2]

    def _compute_span(self, now_ms: int) -> tuple[int, int, tuple[date, ...]]:
        today = datetime.fromtimestamp(now_ms / 1000, self._tz).date()
        day_start, day_end = (
            round(moment.timestamp() * 1000) for moment in single_day_window(today, self._tz)
        )
        one_day = timedelta(days=1)
        if now_ms < day_start + _GRACE_MS:
            return day_start, day_start + _GRACE_MS, (today, today - one_day)
        if now_ms >= day_end - _GRACE_MS:
            return day_end - _GRACE_MS, day_end, (today, today + one_day)
        return day_start + _GRACE_MS, day_end - _GRACE_MS, (today,)

    def table(self, day: date) -> dict[str, int]:
        """The day's codes to their slots (the lowest slot when two slots share a code)."""
        table = self._tables.get(day)
        if table is None:
            table = {}
            for slot in range(self._slots):
                code = single_day_code(self._secret, day, slot, self._length)
                if code not in table and not self._is_listed(code):
                    table[code] = slot
            if len(self._tables) >= _KEPT_TABLES:
                self._tables.pop(min(self._tables))
            self._tables[day] = table
        return table

    def prepare(self, now_ms: int) -> None:
        """Build the tables for the days around now ahead of the first code typed."""
        if self._slots:
            for day in self.candidate_days(now_ms):
                self.table(day)
