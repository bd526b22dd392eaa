from __future__ import annotations

import sqlite3

import pytest

from keyturn.lock.errors import JournalCorrupt
from keyturn.lock.journal import commitment, genesis, next_chain, tombstone
from keyturn.protocol.messages import EventRecord, PurgeCommand
from lock.harness import Harness

CODE = "4815162"


def _fill(harness: Harness, subjects: list[str]) -> None:
    specs = [
        harness.code(f"{5000001 + i * 7:07d}", f"c{i}", subject=s) for i, s in enumerate(subjects)
    ]
    harness.push(*specs)
    for i in range(len(subjects)):
        harness.lock.enter_code(f"{5000001 + i * 7:07d}")


def test_sequence_is_gapless_from_one_and_the_chain_verifies(harness: Harness) -> None:
    _fill(harness, ["a", "b", "c"])
    records = list(harness.lock.journal.entries())
    assert [r.seq for r in records] == [1, 2, 3]
    previous = genesis(harness.device_id)
    for record in records:
        assert record.chain == next_chain(previous, commitment(record))
        previous = record.chain
    assert harness.lock.verify_journal() == 3


def test_rows_are_encrypted_at_rest_with_seq_in_clear(harness: Harness) -> None:
    _fill(harness, ["subject-in-clear"])
    harness.close()
    conn = sqlite3.connect(harness.root / "lock.db")
    rows = conn.execute("SELECT seq, body FROM journal").fetchall()
    conn.close()
    assert [seq for seq, _ in rows] == [1]
    body = rows[0][1]
    assert b"subject-in-clear" not in body
    assert b"attempt" not in body
    assert b"c0" not in body
    harness.reopen()
    (record,) = harness.lock.journal.entries()
    assert record.subject == "subject-in-clear"


def test_a_row_moved_to_another_seq_or_altered_is_detected(harness: Harness) -> None:
    _fill(harness, ["a", "b"])
    conn = harness.lock.store.conn
    (body,) = conn.execute("SELECT body FROM journal WHERE seq = 1").fetchone()
    conn.execute("UPDATE journal SET body = ? WHERE seq = 2", (body,))
    with pytest.raises(JournalCorrupt):
        harness.lock.verify_journal()


def test_a_deleted_row_is_a_detected_gap(harness: Harness) -> None:
    _fill(harness, ["a", "b", "c"])
    harness.lock.store.conn.execute("DELETE FROM journal WHERE seq = 2")
    with pytest.raises(JournalCorrupt, match="gapless"):
        harness.lock.verify_journal()


def test_an_edited_record_breaks_the_chain(harness: Harness) -> None:
    _fill(harness, ["a", "b"])
    records = list(harness.lock.journal.entries())
    from keyturn.lock.journal import verify_chain

    forged = [records[0].__class__(**{**_fields(records[0]), "subject": "mallory"}), records[1]]
    with pytest.raises(JournalCorrupt, match="chain broken at seq 1"):
        verify_chain(forged, genesis(harness.device_id))


def _fields(record: EventRecord) -> dict[str, object]:
    return {name: getattr(record, name) for name in record.__struct_fields__}


def test_tombstone_keeps_the_commitment_of_the_original() -> None:
    record = EventRecord(1, 10, False, "attempt", b"c" * 32, subject="x", detail="d")
    dead = tombstone(record)
    assert dead.subject is None
    assert dead.detail is None
    assert dead.kind == "purged"
    assert commitment(dead) == commitment(record)
    assert dead.chain == record.chain


def test_purge_leaves_a_verifiable_chain_with_tombstones(harness: Harness) -> None:
    _fill(harness, ["erin", "frank", "erin", "gina"])
    harness.lock.apply_downlink(
        harness.downlink(purges=(PurgeCommand("r1", "erin"),), stored_through=0)
    )
    records = list(harness.lock.journal.entries())
    assert [r.kind for r in records[:4]] == ["purged", "attempt", "purged", "attempt"]
    assert all(r.commitment is not None for r in records if r.kind == "purged")
    assert harness.lock.verify_journal() == len(records)
    harness.close()
    harness.reopen()
    assert all(r.subject != "erin" and r.credential_id is None for r in records if r.seq in (1, 3))
    assert harness.lock.verify_journal() == len(records)


def test_journal_resumes_after_reopen(harness: Harness) -> None:
    _fill(harness, ["a"])
    harness.reopen()
    harness.lock.enter_code("0000000")
    assert [r.seq for r in harness.lock.journal.entries()] == [1, 2]
    assert harness.lock.verify_journal() == 2
