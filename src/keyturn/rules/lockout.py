"""Wrong-code lockout at a keypad (A7) as an immutable state machine, and the brute-force
margin it buys a door.

The lock keeps one KeypadLockout per keypad and replaces it after every code attempt; only
doorcodes are affected, so a phone or card still opens the door while the keypad is locked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from keyturn.rules.doorcodes import weak_codes
from keyturn.rules.errors import InvalidLockoutPolicy
from keyturn.rules.schedule import require_aware


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    """`max_failures` wrong codes within `window` lock the keypad for `first_cooldown`;
    each further lockout in the same escalation doubles it, up to `max_cooldown`."""

    max_failures: int = 5
    window: timedelta = field(default=timedelta(minutes=10))
    first_cooldown: timedelta = field(default=timedelta(minutes=1))
    max_cooldown: timedelta = field(default=timedelta(hours=1))

    def __post_init__(self) -> None:
        if self.max_failures < 1:
            raise InvalidLockoutPolicy("max_failures must be at least 1")
        if self.window <= timedelta(0) or self.first_cooldown <= timedelta(0):
            raise InvalidLockoutPolicy("window and first_cooldown must be positive")
        if self.max_cooldown < self.first_cooldown:
            raise InvalidLockoutPolicy("max_cooldown must be at least first_cooldown")

    def cooldown(self, level: int) -> timedelta:
        """How long the `level`-th lockout (1 for the first) of an escalation lasts."""
        cooldown = self.first_cooldown
        for _ in range(level - 1):
            if cooldown >= self.max_cooldown:
                break
            cooldown = min(cooldown * 2, self.max_cooldown)
        return cooldown


@dataclass(frozen=True, slots=True)
class KeypadLockout:
    """One keypad's lockout state.

    `recent_failures` are the wrong codes since the last lockout; `level` counts the
    lockouts of the current escalation. The escalation resets to level 0 only after a
    quiet period of `max_cooldown` with no wrong code once the last lockout has ended.
    A correct code resets nothing: at a shared keypad the person who types it is not the
    one who typed the wrong ones, and a busy door would otherwise hand an attacker a fresh
    count every few minutes.
    """

    recent_failures: tuple[datetime, ...] = ()
    level: int = 0
    locked_until: datetime | None = None
    last_failure_at: datetime | None = None


def is_locked(state: KeypadLockout, now: datetime) -> bool:
    require_aware(now, "now")
    return state.locked_until is not None and now < state.locked_until


def _escalation_level(state: KeypadLockout, now: datetime, policy: LockoutPolicy) -> int:
    quiet_since = max(
        (t for t in (state.last_failure_at, state.locked_until) if t is not None),
        default=None,
    )
    if quiet_since is not None and now - quiet_since >= policy.max_cooldown:
        return 0
    return state.level


def record_failure(
    state: KeypadLockout, now: datetime, policy: LockoutPolicy
) -> tuple[KeypadLockout, datetime | None]:
    """Count a wrong code at `now`; returns the new state and the end of a lockout that
    this failure started or that is already running (None when the keypad stays open).

    A failure reported while the keypad is locked changes nothing: the keypad refused the
    input, so it is not a guess.
    """
    if is_locked(state, now):
        return state, state.locked_until
    level = _escalation_level(state, now, policy)
    failures = (*(t for t in state.recent_failures if now - t < policy.window), now)
    if len(failures) >= policy.max_failures:
        until = now + policy.cooldown(level + 1)
        return KeypadLockout((), level + 1, until, now), until
    return KeypadLockout(failures, level, state.locked_until, now), None


def guess_interval(policy: LockoutPolicy) -> timedelta:
    """The attacker's fastest sustained time per guess under the policy, typing instantly.

    The cheapest of: staying one short of a lockout (max_failures - 1 guesses per window);
    running k lockouts back to back and then waiting out the quiet period that resets the
    escalation (k * max_failures guesses per sum of k cooldowns + max_cooldown); and
    guessing forever at the maximum cooldown (max_failures guesses per max_cooldown).
    """
    candidates = [policy.max_cooldown / policy.max_failures]
    if policy.max_failures > 1:
        candidates.append(policy.window / (policy.max_failures - 1))
    spent = timedelta(0)
    level = 0
    while True:
        level += 1
        cooldown = policy.cooldown(level)
        spent += cooldown
        candidates.append((spent + policy.max_cooldown) / (level * policy.max_failures))
        if cooldown >= policy.max_cooldown:
            return min(candidates)


def brute_force_margin(code_length: int, live_codes: int, policy: LockoutPolicy) -> timedelta:
    """Expected time for an attacker at the keypad to hit any live code at the door.

    margin = (S + 1) / (L + 1) * guess_interval(policy), where S = 10**code_length minus
    the weak codes (never issued, so a careful attacker skips them) and L the live codes.
    (S + 1) / (L + 1) is the expected number of distinct uniform guesses until the first of
    L valid codes among S is hit. No live code means nothing to find: timedelta.max.
    With the default policy the cheapest strategy is staying under the threshold, 150 s a
    guess, so one live 7-digit code takes about 24 years and a hundred about 172 days.
    """
    space = 10**code_length - len(weak_codes(code_length))
    if live_codes <= 0:
        return timedelta.max
    live = min(live_codes, space)
    guesses = (space + 1) / (live + 1)
    seconds = guesses * guess_interval(policy).total_seconds()
    if not math.isfinite(seconds) or seconds >= timedelta.max.total_seconds():
        return timedelta.max
    return timedelta(seconds=seconds)
