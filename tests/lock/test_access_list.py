from __future__ import annotations

import pytest

from keyturn.crypto.keys import SigningKeyPair
from keyturn.lock.access import ACCESS_LIST_KEY
from keyturn.lock.errors import SyncRefused
from keyturn.rules.types import Reason
from lock.harness import Harness

CODE_A = "4815162"
CODE_B = "7395148"


def _credential_ids(harness: Harness) -> set[str]:
    rows = harness.lock.store.conn.execute("SELECT credential_id FROM credentials")
    return {row[0] for row in rows}


def test_full_list_replaces_the_old_one(harness: Harness) -> None:
    harness.push(harness.code(CODE_A, "a"))
    harness.push(harness.code(CODE_B, "b"))
    assert harness.lock.enter_code(CODE_A).decision.reason is Reason.UNKNOWN_CREDENTIAL
    assert harness.lock.enter_code(CODE_B).granted
    assert _credential_ids(harness) == {"b"}


def test_delta_adds_and_removes(harness: Harness) -> None:
    harness.push(harness.code(CODE_A, "a"))
    delta = harness.access_list(harness.code(CODE_B, "b"), base_version=1, removals=("a",))
    result = harness.lock.apply_downlink(harness.downlink(delta))
    assert result.access_list is not None
    assert result.access_list.applied
    assert harness.lock.index.version == 2
    assert not harness.lock.enter_code(CODE_A).granted
    assert harness.lock.enter_code(CODE_B).granted


def test_applied_list_survives_a_restart(harness: Harness) -> None:
    harness.push(harness.code(CODE_A, "a"), revoked_key_ids=("k9",))
    lock = harness.reopen()
    assert lock.index.version == 1
    assert lock.index.state.revoked_key_ids == {"k9"}
    assert lock.enter_code(CODE_A).granted


def test_forged_access_list_is_refused_and_the_old_one_stays(harness: Harness) -> None:
    harness.push(harness.code(CODE_A, "a"))
    forged = harness.downlink(
        harness.access_list(harness.code(CODE_B, "b")), signer=SigningKeyPair.generate()
    )
    with pytest.raises(SyncRefused):
        harness.lock.apply_downlink(forged)
    assert harness.lock.index.version == 1
    assert harness.lock.enter_code(CODE_A).granted
    assert not harness.lock.enter_code(CODE_B).granted


def test_older_or_equal_access_list_is_refused(harness: Harness) -> None:
    harness.push(harness.code(CODE_A, "a"), version=5)
    for version in (4, 5):
        stale = harness.access_list(harness.code(CODE_B, "b"), version=version)
        result = harness.lock.apply_downlink(harness.downlink(stale))
        assert result.access_list is not None
        assert not result.access_list.applied
    assert harness.lock.index.version == 5
    assert harness.lock.enter_code(CODE_A).granted
    assert not harness.lock.enter_code(CODE_B).granted


def test_delta_on_the_wrong_base_is_refused_and_journalled(harness: Harness) -> None:
    harness.push(harness.code(CODE_A, "a"), version=3)
    delta = harness.access_list(harness.code(CODE_B, "b"), version=5, base_version=4)
    result = harness.lock.apply_downlink(harness.downlink(delta))
    assert result.access_list is not None
    assert not result.access_list.applied
    assert not harness.lock.enter_code(CODE_B).granted
    kinds = [record.kind for record in harness.lock.journal.entries()]
    assert "access_list_refused" in kinds


def test_list_for_another_door_is_refused(harness: Harness) -> None:
    other = harness.access_list(harness.code(CODE_B, "b"), door_id="door-2")
    result = harness.lock.apply_downlink(harness.downlink(other))
    assert result.access_list is not None
    assert result.access_list.refusal == "access list is for another door"
    assert not harness.lock.enter_code(CODE_B).granted


def test_failed_apply_changes_nothing_on_disk_or_in_memory(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness.push(harness.code(CODE_A, "a"))
    store = harness.lock.store
    real_put = store.put

    def failing_put(key: str, value: object) -> None:
        if key == ACCESS_LIST_KEY:
            raise OSError("disk full")
        real_put(key, value)

    monkeypatch.setattr(store, "put", failing_put)
    with pytest.raises(OSError, match="disk full"):
        harness.push(harness.code(CODE_B, "b"))
    monkeypatch.undo()
    assert _credential_ids(harness) == {"a"}
    assert harness.lock.index.version == 1
    assert harness.lock.enter_code(CODE_A).granted
    assert not harness.lock.enter_code(CODE_B).granted
    assert harness.lock.verify_journal() >= 2


def test_rule_a1_decisions_use_no_network(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    harness.push(harness.code(CODE_A, "a"))

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("network used on the unlock path")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    assert harness.lock.enter_code(CODE_A).granted
