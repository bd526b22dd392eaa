"""The applied access list: validated and stored atomically, then indexed in memory.

A new list is refused (and the old one stays) when it is for another door, not newer than
the applied one, or a delta on another base; the in-memory index finds a credential by its
keyed MAC (`lookup`) in one dict access.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import msgspec

from keyturn.lock.store import Store
from keyturn.protocol.entries import (
    entry_from_spec,
    lock_state_of,
    schedule_from_spec,
)
from keyturn.protocol.messages import AccessList, CredentialSpec
from keyturn.rules.decide import AccessEntry, LockState

ACCESS_LIST_KEY = "access_list"

_encoder = msgspec.msgpack.Encoder()
_spec_decoder = msgspec.msgpack.Decoder(CredentialSpec)


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
        self.state = lock_state_of(self.meta)

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
