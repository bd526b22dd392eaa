"""The applied access list: validated and stored atomically, then indexed in memory.

A new list is refused (and the old one stays) when it is for another door, not newer than
the applied one, or a delta on another base; the in-memory index finds a credential by its
keyed MAC (`lookup`) in one dict access.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time

import msgspec

from keyturn.lock.store import Store
from keyturn.protocol.messages import AccessList, CredentialSpec, ScheduleSpec
from keyturn.rules.decide import AccessEntry, LockState
from keyturn.rules.schedule import MIDNIGHT, Schedule, WeeklyWindow

ACCESS_LIST_KEY = "access_list"
MINUTES_PER_DAY = 1440

_encoder = msgspec.msgpack.Encoder()
_spec_decoder = msgspec.msgpack.Decoder(CredentialSpec)


def schedule_from_spec(spec: ScheduleSpec) -> Schedule:
    """The rules' Schedule for a protocol ScheduleSpec (epoch seconds, minutes of the day)."""
    return Schedule(
        windows=tuple(
            WeeklyWindow(w.weekday, minute_of_day(w.start_minute), minute_of_day(w.end_minute))
            for w in spec.windows
        ),
        starts_at=_instant(spec.starts_at),
        ends_at=_instant(spec.ends_at),
    )


def minute_of_day(value: int) -> time:
    """A protocol minute of the day (1440 is the midnight ending the day) as a time."""
    if value == MINUTES_PER_DAY:
        return MIDNIGHT
    if not 0 <= value < MINUTES_PER_DAY:
        raise ValueError(f"a minute of the day is 0 to {MINUTES_PER_DAY}, got {value}")
    return time(value // 60, value % 60)


def _instant(epoch_s: int | None) -> datetime | None:
    return None if epoch_s is None else datetime.fromtimestamp(epoch_s, UTC)


def entry_from_spec(spec: CredentialSpec, door_id: str, schedule: Schedule) -> AccessEntry:
    """An access-list credential as decide() sees it; the list is per door."""
    return AccessEntry(
        credential_id=spec.credential_id,
        credential_type=spec.credential_type,
        subject=spec.subject,
        key_id=spec.key_id,
        grant_id=spec.grant_id,
        granted_by=spec.granted_by,
        door_ids=frozenset((door_id,)),
        schedule=schedule,
        resident=spec.resident,
    )


def single_day_credential_id(local_date: str, slot: int) -> str:
    """The credential id a single-day code is journalled under: `single-day:<date>:<slot>`."""
    return f"single-day:{local_date}:{slot}"


@dataclass(frozen=True, slots=True)
class ApplyResult:
    applied: bool
    version: int
    refusal: str | None = None


class AccessIndex:
    """The applied list in memory: credentials by lookup, and the list's revocation state."""

    def __init__(self, door_id: str) -> None:
        self.door_id = door_id
        self.meta = AccessList(door_id=door_id, version=0, base_version=None, issued_at=0)
        self.by_lookup: dict[bytes, CredentialSpec] = {}
        self._lookup_of: dict[str, bytes] = {}
        self._entries: dict[str, AccessEntry] = {}
        self.state = LockState()

    @property
    def version(self) -> int:
        return self.meta.version

    def load(self, store: Store) -> None:
        self.meta = store.get(ACCESS_LIST_KEY, AccessList, self.meta)
        self.by_lookup.clear()
        self._lookup_of.clear()
        rows = store.conn.execute("SELECT spec FROM credentials").fetchall()
        self._index(_spec_decoder.decode(row[0]) for row in rows)
        self._refresh()

    def _index(self, specs: Iterable[CredentialSpec]) -> None:
        for spec in specs:
            old = self._lookup_of.pop(spec.credential_id, None)
            if old is not None:
                self.by_lookup.pop(old, None)
            if spec.lookup:
                self.by_lookup[spec.lookup] = spec
                self._lookup_of[spec.credential_id] = spec.lookup

    def _refresh(self) -> None:
        self._entries.clear()
        meta = self.meta
        single_day = (
            single_day_credential_id(item.local_date, item.slot)
            for item in meta.single_day_revocations
        )
        self.state = LockState(
            revoked_credential_ids=frozenset((*meta.revoked_credential_ids, *single_day)),
            revoked_key_ids=frozenset(meta.revoked_key_ids),
            suspended_subjects=frozenset(meta.suspended_subjects),
            lockdown=meta.lockdown,
        )

    def find(self, lookup: bytes) -> CredentialSpec | None:
        return self.by_lookup.get(lookup)

    def entry(self, spec: CredentialSpec) -> AccessEntry:
        """The AccessEntry of a listed credential, built once per applied list."""
        entry = self._entries.get(spec.credential_id)
        if entry is None:
            entry = entry_from_spec(spec, self.door_id, schedule_from_spec(spec.schedule))
            self._entries[spec.credential_id] = entry
        return entry

    def refusal(self, incoming: AccessList) -> str | None:
        """Why `incoming` may not be applied on top of the current list, or None."""
        if incoming.door_id != self.door_id:
            return "access list is for another door"
        if incoming.version <= self.meta.version:
            return f"version {incoming.version} is not newer than {self.meta.version}"
        if incoming.base_version is not None and incoming.base_version != self.meta.version:
            return f"delta on version {incoming.base_version}, lock has {self.meta.version}"
        return None

    def apply(self, store: Store, incoming: AccessList) -> ApplyResult:
        """Store `incoming` in one transaction, then index it; refused lists change nothing.

        Joins the caller's transaction when there is one, so a whole downlink is atomic.
        """
        refusal = self.refusal(incoming)
        if refusal is not None:
            return ApplyResult(False, self.meta.version, refusal)
        encode = _encoder.encode
        rows = [(spec.credential_id, spec.lookup, encode(spec)) for spec in incoming.upserts]
        meta = msgspec.structs.replace(incoming, upserts=(), removals=())
        with store.transaction() as conn:
            if incoming.base_version is None:
                conn.execute("DELETE FROM credentials")
            else:
                gone = [(credential_id,) for credential_id in incoming.removals]
                conn.executemany("DELETE FROM credentials WHERE credential_id = ?", gone)
                conn.executemany("DELETE FROM one_time_uses WHERE credential_id = ?", gone)
            conn.executemany(
                "INSERT OR REPLACE INTO credentials (credential_id, lookup, spec) VALUES (?, ?, ?)",
                rows,
            )
            # A one-time code still listed keeps its first use: a full list must not let a
            # used code start a fresh window.
            conn.execute(
                "DELETE FROM one_time_uses WHERE credential_id NOT IN"
                " (SELECT credential_id FROM credentials)"
            )
            store.put(ACCESS_LIST_KEY, meta)
            store.on_rollback(lambda: self.load(store))
            if incoming.base_version is None:
                self.by_lookup.clear()
                self._lookup_of.clear()
            for credential_id in incoming.removals:
                lookup = self._lookup_of.pop(credential_id, None)
                if lookup is not None:
                    self.by_lookup.pop(lookup, None)
            self._index(incoming.upserts)
            self.meta = meta
            self._refresh()
        return ApplyResult(True, incoming.version)
