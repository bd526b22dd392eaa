"""The lock's append-only journal: gapless sequence numbers, a hash chain, rows encrypted.

Each entry's chain value is SHA-256(previous chain || commitment), where the commitment is
SHA-256 of the entry's msgpack encoding with an empty chain field. A purge replaces an
entry by a tombstone that keeps its commitment, so the chain still verifies afterwards.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator

import msgspec

from keyturn.crypto.errors import SealError
from keyturn.crypto.sealed import decrypt_blob, encrypt_blob
from keyturn.lock.errors import JournalCorrupt
from keyturn.lock.store import Store
from keyturn.protocol.event_kinds import EventKind
from keyturn.protocol.messages import EventRecord

GENESIS_LABEL = b"keyturn/journal/v1\x00"
FLOOR_KEY = "journal_floor"

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(EventRecord)


def genesis(device_id: str) -> bytes:
    """The chain value before a device's first entry (seq 0)."""
    return hashlib.sha256(GENESIS_LABEL + device_id.encode()).digest()


def commitment(record: EventRecord) -> bytes:
    """SHA-256 of the record's msgpack encoding with `chain` empty; a tombstone carries it."""
    if record.commitment is not None:
        return record.commitment
    return hashlib.sha256(_encoder.encode(msgspec.structs.replace(record, chain=b""))).digest()


def next_chain(previous: bytes, record_commitment: bytes) -> bytes:
    return hashlib.sha256(previous + record_commitment).digest()


def tombstone(record: EventRecord) -> EventRecord:
    """What a purge leaves of an entry: seq, time, clock flag, chain and commitment."""
    return EventRecord(
        seq=record.seq,
        occurred_at=record.occurred_at,
        clock_uncertain=record.clock_uncertain,
        kind=EventKind.PURGED,
        chain=record.chain,
        commitment=commitment(record),
    )


def verify_chain(records: list[EventRecord], previous: bytes) -> bytes:
    """Check a run of consecutive entries that follows chain value `previous`; the last value."""
    for index, record in enumerate(records):
        if index and record.seq != records[index - 1].seq + 1:
            raise JournalCorrupt(f"sequence gap before seq {record.seq}")
        expected = next_chain(previous, commitment(record))
        if not hmac.compare_digest(expected, record.chain):
            raise JournalCorrupt(f"hash chain broken at seq {record.seq}")
        previous = record.chain
    return previous


class Journal:
    """The journal of one device, rows encrypted under the storage key with seq in clear."""

    def __init__(self, store: Store, storage_key: bytes, device_id: str) -> None:
        self._store = store
        self._key = storage_key
        self._prefix = f"keyturn/journal/{device_id}/".encode()
        self._genesis = genesis(device_id)
        self._load_tail()

    def _load_tail(self) -> None:
        floor, floor_chain = self._store.get(FLOOR_KEY, tuple[int, bytes], (0, self._genesis))
        self.floor = floor
        self.floor_chain = floor_chain
        row = self._store.conn.execute(
            "SELECT seq, body FROM journal ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        if row is None:
            self.last_seq, self.last_chain = floor, floor_chain
        else:
            last = self._open(row[0], row[1])
            self.last_seq, self.last_chain = last.seq, last.chain

    def _context(self, seq: int) -> bytes:
        return self._prefix + str(seq).encode()

    def _open(self, seq: int, body: bytes) -> EventRecord:
        try:
            record = _decoder.decode(decrypt_blob(self._key, body, self._context(seq)))
        except (SealError, msgspec.DecodeError) as exc:
            raise JournalCorrupt(f"journal row {seq} does not open: {exc}") from None
        if record.seq != seq:
            raise JournalCorrupt(f"journal row {seq} holds entry {record.seq}")
        return record

    def _seal(self, record: EventRecord) -> bytes:
        return encrypt_blob(self._key, _encoder.encode(record), self._context(record.seq))

    def append(self, draft: EventRecord) -> EventRecord:
        """Give `draft` the next seq and chain value and commit it (or join the caller's
        transaction, which then decides durability); returns the stored entry."""
        seq = self.last_seq + 1
        numbered = msgspec.structs.replace(draft, seq=seq, chain=b"", commitment=None)
        chain = next_chain(self.last_chain, commitment(numbered))
        record = msgspec.structs.replace(numbered, chain=chain)
        previous = (self.last_seq, self.last_chain)
        with self._store.transaction() as conn:
            self._store.on_rollback(lambda: self._restore(previous))
            conn.execute("INSERT INTO journal (seq, body) VALUES (?, ?)", (seq, self._seal(record)))
            self.last_seq, self.last_chain = seq, chain
        return record

    def _restore(self, previous: tuple[int, bytes]) -> None:
        self.last_seq, self.last_chain = previous

    def entries(self, from_seq: int = 0, to_seq: int | None = None) -> Iterator[EventRecord]:
        """The stored entries with from_seq <= seq <= to_seq, in order."""
        upper = self.last_seq if to_seq is None else to_seq
        rows = self._store.conn.execute(
            "SELECT seq, body FROM journal WHERE seq >= ? AND seq <= ? ORDER BY seq",
            (from_seq, upper),
        )
        for seq, body in rows.fetchall():
            yield self._open(seq, body)

    def verify(self) -> int:
        """Walk every stored entry from the floor; the number verified, else JournalCorrupt."""
        records = list(self.entries(self.floor + 1))
        expected = list(range(self.floor + 1, self.last_seq + 1))
        if [record.seq for record in records] != expected:
            raise JournalCorrupt("journal rows are not the gapless run from the floor")
        last = verify_chain(records, self.floor_chain)
        if not hmac.compare_digest(last, self.last_chain):
            raise JournalCorrupt("journal tail does not match the chain")
        return len(records)

    def purge_subject(self, subject: str) -> list[EventRecord]:
        """Replace every stored entry about `subject` by its tombstone; the entries replaced.

        Runs inside the caller's transaction when there is one.
        """
        purged: list[EventRecord] = []
        with self._store.transaction() as conn:
            for record in list(self.entries(self.floor + 1)):
                if record.subject != subject:
                    continue
                conn.execute(
                    "UPDATE journal SET body = ? WHERE seq = ?",
                    (self._seal(tombstone(record)), record.seq),
                )
                purged.append(record)
        return purged

    def prune_through(self, seq: int) -> int:
        """Delete entries up to `seq` (the cloud has them) and raise the floor; the new floor."""
        seq = min(seq, self.last_seq)
        if seq <= self.floor:
            return self.floor
        if seq == self.last_seq:
            chain = self.last_chain
        else:
            (kept,) = self.entries(seq, seq)
            chain = kept.chain
        with self._store.transaction() as conn:
            conn.execute("DELETE FROM journal WHERE seq <= ?", (seq,))
            self._store.put(FLOOR_KEY, (seq, chain))
            previous = (self.floor, self.floor_chain)
            self._store.on_rollback(lambda: self._restore_floor(previous))
            self.floor, self.floor_chain = seq, chain
        return seq

    def _restore_floor(self, previous: tuple[int, bytes]) -> None:
        self.floor, self.floor_chain = previous
