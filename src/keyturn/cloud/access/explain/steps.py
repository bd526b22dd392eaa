"""The decision of the rules core on one credential, turned into steps in a manager's words.

The steps follow decide()'s check order and only name the facts decide() was given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from keyturn.cloud.access.explain.answers import (
    CHECK_ORDER,
    FAILED_CHECK,
    LOCAL_FORMAT,
    TYPE_WORDS,
    WEEKDAYS,
    Check,
    CredentialAnswer,
    Step,
)
from keyturn.cloud.access.explain.holdings import DoorFacts, HeldList
from keyturn.rules.decide import AccessEntry, LockState, Presentation, decide
from keyturn.rules.schedule import MIDNIGHT, Schedule, WeeklyWindow
from keyturn.rules.types import CredentialType, Reason

# -- the decision in words ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Words:
    """What the steps need to name things: the door, its zone, people and keys."""

    door: DoorFacts
    at: datetime
    names: Mapping[str, str]
    keys: Mapping[str, str]
    # Moments already put in words: an answer names the same few instants many times.
    said: dict[datetime, str] = field(default_factory=dict, compare=False)
    # The instant asked about in words, and the door's lockdown check when it passes: every
    # answer of one explanation says them, so they are worded once.
    local: str = field(init=False, compare=False)
    not_locked_down: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "local", self.when(self.at))
        object.__setattr__(self, "not_locked_down", f"{self.door.name} is not locked down.")

    def when(self, moment: datetime | None) -> str:
        if moment is None:
            return "no end"
        text = self.said.get(moment)
        if text is None:
            text = self.said[moment] = moment.astimezone(self.door.zone).strftime(LOCAL_FORMAT)
        return text

    def key(self, key_id: str | None) -> str:
        if key_id is None:
            return "no key"
        return f"“{self.keys.get(key_id, key_id)}”"

    def person(self, person_id: str | None) -> str:
        if person_id is None:
            return "someone no longer known"
        return self.names.get(person_id, person_id)


def _span(words: Words, schedule: Schedule) -> str:
    start, end = schedule.starts_at, schedule.ends_at
    until = "with no end" if end is None else f"until {words.when(end)}"
    return until if start is None else f"from {words.when(start)} {until}"


@lru_cache(maxsize=1024)
def _windows(windows: tuple[WeeklyWindow, ...]) -> str:
    """A key's weekly windows in words (cached by the windows alone: keys share few)."""
    if not windows:
        return "at any time of the week"
    parts = []
    for window in windows:
        end = "24:00" if window.end == MIDNIGHT else window.end.strftime("%H:%M")
        parts.append(f"{WEEKDAYS[window.weekday]} {window.start.strftime('%H:%M')}-{end}")
    return "on " + ", ".join(parts)


_KEYPAD_TEXT = (
    "The keypad is not cooling down after wrong codes, as far as the cloud knows "
    "(only the lock knows its cool-down)."
)
# The steps that read the same in every answer, made once.
_KEYPAD_PASSED = Step(Check.KEYPAD, "passed", _KEYPAD_TEXT)
_NOT_CHECKED = {
    check: Step(check, "not_checked", "Not checked: an earlier check refused.")
    for check in CHECK_ORDER
}


def _steps(
    kind: CredentialType,
    entry: AccessEntry | None,
    key_id: str | None,
    reason: Reason,
    words: Words,
    unknown: str,
) -> tuple[Step, ...]:
    """The checks in decide()'s order, marked by the reason decide() returned for them."""
    failed = FAILED_CHECK.get(reason)
    door = words.door
    texts = {
        Check.KEYPAD: _KEYPAD_TEXT,
        Check.LOCKDOWN: (
            f"{door.name} is locked down: the lock refuses every credential until it is lifted."
            if failed == Check.LOCKDOWN
            else words.not_locked_down
        ),
        Check.CREDENTIAL: unknown,
    }
    if entry is not None:
        texts.update(_entry_texts(kind, entry, key_id, reason, failed, words))
    steps = []
    reached = True
    for check in CHECK_ORDER:
        if check == Check.KEYPAD and not kind.is_doorcode:
            continue
        if not reached:
            steps.append(_NOT_CHECKED[check])
            continue
        if check == failed:
            reached = False
            steps.append(Step(check, "failed", texts[check]))
        elif check == Check.KEYPAD:
            steps.append(_KEYPAD_PASSED)
        else:
            steps.append(Step(check, "passed", texts[check]))
    return tuple(steps)


def _entry_texts(
    kind: CredentialType,
    entry: AccessEntry,
    key_id: str | None,
    reason: Reason,
    failed: str | None,
    words: Words,
) -> dict[str, str]:
    """The words of the checks on a credential the lock knows, from the credential check on."""
    door, local = words.door, words.local
    holder, key, what = words.person(entry.subject), words.key(key_id), TYPE_WORDS[kind]
    schedule = entry.schedule
    if reason is Reason.NOT_YET_VALID:
        validity = f"Not valid yet at {local}: it is valid {_span(words, schedule)}."
    elif reason is Reason.EXPIRED:
        validity = f"No longer valid at {local}: it was valid {_span(words, schedule)}."
    else:
        validity = f"Valid at {local}: it is valid {_span(words, schedule)}."
    inside = "outside" if failed == Check.SCHEDULE else "inside"
    return {
        Check.CREDENTIAL: _known(entry, words, key_id),
        Check.SUSPENSION: (
            f"{holder}'s building access is suspended in this portfolio."
            if failed == Check.SUSPENSION
            else f"{holder}'s building access is not suspended."
        ),
        Check.REVOCATION: (
            f"The lock's list revokes this {what} or its grant of key {key}."
            if failed == Check.REVOCATION
            else f"Neither this {what} nor its grant of key {key} is revoked on the lock's list."
        ),
        Check.DOOR: (
            f"Key {key} does not open {door.name}."
            if failed == Check.DOOR
            else f"Key {key} opens {door.name} ({door.kind.value} door)."
        ),
        Check.VALIDITY: validity,
        Check.SCHEDULE: (
            f"Key {key} opens {_windows(schedule.windows)} ({door.zone.key}); {local} is {inside}."
        ),
    }


def _known(entry: AccessEntry, words: Words, key_id: str | None) -> str:
    resident = " with resident status" if entry.resident else ""
    by = f", granted by {words.person(entry.granted_by)}" if entry.granted_by else ""
    return (
        f"The lock knows this credential: it belongs to {words.person(entry.subject)} and "
        f"carries key {words.key(key_id)}{resident}{by}."
    )


def decide_on(
    kind: CredentialType, entry: AccessEntry | None, state: LockState, door: DoorFacts, at: datetime
) -> Reason:
    return decide(Presentation(kind, entry), state, door.id, at, door.zone).reason


def _after_sync(
    kind: CredentialType,
    credential_id: str,
    mobile: AccessEntry | None,
    held: HeldList,
    door: DoorFacts,
    at: datetime,
) -> Reason | None:
    """The decision on the newest list, when the lock holds an older one."""
    newest = held.newest
    if newest is None:
        return None
    entry = mobile if kind is CredentialType.MOBILE_KEY else newest.entry(credential_id, door.id)
    return decide_on(kind, entry, newest.state, door, at)


def credential_answer(
    kind: CredentialType,
    credential_id: str,
    label: str,
    entry: AccessEntry | None,
    key_id: str | None,
    unknown: str,
    held: HeldList,
    words: Words,
) -> CredentialAnswer:
    door, at = words.door, words.at
    reason = decide_on(kind, entry, held.state, door, at)
    grant_id = entry.grant_id if entry is not None else None
    return CredentialAnswer(
        credential_type=kind,
        credential_id=credential_id,
        label=label,
        reason=reason,
        key_id=key_id,
        key_name=words.keys.get(key_id) if key_id else None,
        grant_id=grant_id,
        resident=entry.resident if entry is not None else False,
        steps=_steps(kind, entry, key_id, reason, words, unknown),
        after_sync=_after_sync(kind, credential_id, entry, held, door, at),
    )


def not_listed(
    what: str,
    held: HeldList,
    credential_id: str,
    live_grant: bool,
    words: Words,
) -> str:
    """Why the lock's list holds no entry for one of the person's codes or cards."""
    version = held.lock.evaluated_version
    if held.newest is not None and credential_id in held.newest.by_id:
        return (
            f"The lock's list (version {version}) does not hold this {what} yet; the newest "
            "list does, and the lock gets it at its next sync."
        )
    if not live_grant:
        return (
            f"The lock's list does not hold this {what}: its holder has no live grant of a key "
            f"that opens {words.door.name}."
        )
    return f"The lock's list (version {version}) does not hold this {what}."
