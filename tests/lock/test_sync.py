from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import msgspec
import pytest

from keyturn.crypto.keys import SigningKeyPair
from keyturn.lock.errors import SyncRefused, TransportError
from keyturn.lock.journal import genesis, verify_chain
from keyturn.lock.sync import HttpTransport, Phone, sync_once
from keyturn.protocol.messages import FirmwareManifest, PurgeCommand, Uplink
from keyturn.protocol.sealing import Frame, ProtocolError, open_sealed, sign_manifest
from lock.harness import Harness

CODE = "4815162"


def _traffic(harness: Harness, attempts: int) -> None:
    for n in range(attempts):
        harness.lock.enter_code(CODE if n % 2 == 0 else "1000003")
        harness.clock.advance(700)  # stay clear of the keypad lockout


def test_uplink_carries_the_journal_and_the_cloud_can_verify_the_chain(harness: Harness) -> None:
    harness.push(harness.code(CODE, "c1"))
    _traffic(harness, 4)
    uplink = harness.receive(harness.lock.build_uplink())
    assert (uplink.from_seq, uplink.to_seq) == (1, harness.lock.journal.last_seq)
    assert [e.seq for e in uplink.events] == list(range(1, uplink.to_seq + 1))
    assert verify_chain(list(uplink.events), genesis(harness.device_id)) == uplink.events[-1].chain
    assert uplink.status.access_list_version == 1
    assert uplink.status.last_seq == uplink.to_seq


def test_acknowledged_entries_are_pruned_and_sending_resumes_after_them(harness: Harness) -> None:
    harness.push(harness.code(CODE, "c1"))
    _traffic(harness, 6)
    result = harness.sync(max_events=3)
    assert result.journal_floor == 3
    assert harness.lock.verify_journal() == harness.lock.journal.last_seq - 3
    uplink = harness.receive(harness.lock.build_uplink(max_events=100))
    assert uplink.from_seq == 4
    assert uplink.status.journal_floor == 3
    harness.sync()
    assert harness.lock.journal.floor == harness.lock.journal.last_seq
    harness.reopen()
    _traffic(harness, 1)
    assert harness.lock.verify_journal() == 1
    uplink = harness.receive(harness.lock.build_uplink())
    last = harness.cloud_events[uplink.from_seq - 1].chain
    assert verify_chain(list(uplink.events), last) == uplink.events[-1].chain


def test_empty_uplink_names_an_empty_range(harness: Harness) -> None:
    uplink = harness.receive(harness.lock.build_uplink())
    assert (uplink.from_seq, uplink.to_seq, uplink.events) == (1, 0, ())


@pytest.mark.parametrize("answer", [True, False], ids=["answer", "push"])
def test_replayed_downlink_is_refused_and_changes_nothing(harness: Harness, answer: bool) -> None:
    access_list = harness.access_list(harness.code(CODE, "c1"))
    if answer:
        frame = harness.answer(harness.lock.build_uplink(), access_list=access_list)
    else:
        frame = harness.downlink(access_list)
    harness.lock.apply_downlink(frame)
    before = harness.lock.journal.last_seq, harness.lock.index.version, harness.lock.clock.millis()
    with pytest.raises(SyncRefused):
        harness.lock.apply_downlink(frame)
    after = harness.lock.journal.last_seq, harness.lock.index.version, harness.lock.clock.millis()
    assert after == before


def test_phone_relay_carries_frames_it_cannot_read(harness: Harness) -> None:
    harness.push(harness.code(CODE, "c1", subject="alice"))
    _traffic(harness, 2)
    phone = Phone()
    phone.pick_up(harness.lock)
    frame = phone.outbox[0]
    outer = msgspec.msgpack.decode(frame, type=Frame)
    assert outer.device_id == harness.device_id
    assert b"alice" not in frame
    assert b"attempt" not in frame
    phone.visit_cloud(harness.exchange)
    (result,) = phone.drop_off(harness.lock)
    assert result.journal_floor == harness.lock.journal.last_seq == 2
    assert {e.subject for e in harness.cloud_events.values()} >= {"alice"}


@pytest.mark.parametrize("position", [5, 40, -20, -1])
def test_frame_tampered_by_the_relaying_phone_is_refused(harness: Harness, position: int) -> None:
    harness.push(harness.code(CODE, "c1"))
    phone = Phone()
    phone.pick_up(harness.lock)
    phone.visit_cloud(harness.exchange)
    down = bytearray(phone.inbox[0])
    down[position] ^= 0x01
    with pytest.raises(SyncRefused):
        harness.lock.apply_downlink(bytes(down))
    up = bytearray(harness.lock.build_uplink())
    up[position] ^= 0x01
    with pytest.raises(ProtocolError):
        harness.receive(bytes(up))


def test_downlink_for_another_lock_is_refused(harness: Harness) -> None:
    from keyturn.protocol.messages import Downlink
    from keyturn.protocol.sealing import seal

    other = seal(Downlink("lock-2", 0, 0), harness.authority, harness.sync_key, "lock-2")
    with pytest.raises(SyncRefused):
        harness.lock.apply_downlink(other)


def _manifest(harness: Harness, version: int, signer: SigningKeyPair | None = None) -> bytes:
    image = f"firmware {version}".encode()
    manifest = FirmwareManifest(version, hashlib.sha256(image).digest(), len(image))
    return sign_manifest(manifest, signer or harness.authority)


def test_firmware_updates_forward_and_refuses_rollback(harness: Harness) -> None:
    result = harness.lock.apply_downlink(harness.downlink(firmware=_manifest(harness, 3)))
    assert result.firmware == "updated"
    assert harness.lock.firmware_version == 3
    harness.clock.advance(10)
    rollback = harness.lock.apply_downlink(harness.downlink(firmware=_manifest(harness, 2)))
    assert rollback.firmware == "rollback_refused"
    assert harness.lock.firmware_version == 3
    harness.clock.advance(10)
    forged = harness.downlink(firmware=_manifest(harness, 9, SigningKeyPair.generate()))
    assert harness.lock.apply_downlink(forged).firmware == "invalid"
    assert harness.reopen().firmware_version == 3
    kinds = [r.kind for r in harness.lock.journal.entries()]
    assert kinds == ["firmware_updated", "firmware_refused", "firmware_refused"]


def test_rule_d8_purge_removes_a_person_and_reports_the_request(harness: Harness) -> None:
    harness.push(
        harness.code(CODE, "c1", subject="carol"), harness.code("7395148", "c2", subject="dan")
    )
    for code in (CODE, "7395148", "1000003", CODE):
        harness.lock.enter_code(code)
    photos_before = {r.photo_id for r in harness.lock.journal.entries() if r.subject == "carol"}
    assert photos_before
    assert None not in photos_before
    harness.purges = [PurgeCommand("dsr-1", "carol")]
    frame = harness.downlink(purges=tuple(harness.purges), stored_through=0)
    result = harness.lock.apply_downlink(frame)
    assert result.purged_requests == ("dsr-1",)
    records = list(harness.lock.journal.entries())
    assert all(r.subject != "carol" for r in records)
    assert [r.kind for r in records].count("purged") == 2
    assert harness.lock.verify_journal() == len(records)
    for photo_id in photos_before:
        assert photo_id is not None
        assert not harness.lock.photos.path(photo_id).exists()
    uplink = harness.receive(harness.lock.build_uplink())
    assert uplink.status.purges_done == ("dsr-1",)
    assert verify_chain(list(uplink.events), genesis(harness.device_id))
    # The cloud keeps asking until it sees the report; the same request is not redone.
    harness.clock.advance(5)
    again = harness.lock.apply_downlink(harness.downlink(purges=tuple(harness.purges)))
    assert again.purged_requests == ()
    # Once a newer downlink stops asking, the lock stops reporting it.
    harness.clock.advance(5)
    harness.lock.apply_downlink(harness.downlink())
    assert harness.lock.device_status().purges_done == ()


def test_purge_is_remembered_across_restarts(harness: Harness) -> None:
    harness.lock.apply_downlink(harness.downlink(purges=(PurgeCommand("dsr-9", "x"),)))
    assert harness.reopen().device_status().purges_done == ("dsr-9",)


class _CloudHandler(BaseHTTPRequestHandler):
    harness: Harness
    seen: list[tuple[str, str]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        self.seen.append((self.path, self.headers["content-type"]))
        if self.path != "/api/v1/sync":
            self.send_response(404)
            self.end_headers()
            return
        reply = self.harness.exchange(body)
        self.send_response(200)
        self.send_header("content-type", "application/octet-stream")
        self.send_header("content-length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def http_cloud(harness: Harness) -> Iterator[tuple[str, list[tuple[str, str]]]]:
    seen: list[tuple[str, str]] = []
    handler = type("Handler", (_CloudHandler,), {"harness": harness, "seen": seen})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", seen
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_http_transport_posts_octet_stream_frames(
    harness: Harness, http_cloud: tuple[str, list[tuple[str, str]]]
) -> None:
    url, seen = http_cloud
    harness.push(harness.code(CODE, "c1"))
    _traffic(harness, 3)
    transport = HttpTransport(url)
    try:
        result = sync_once(harness.lock, transport)
    finally:
        transport.close()
    assert seen == [("/api/v1/sync", "application/octet-stream")]
    assert result.journal_floor == harness.lock.journal.last_seq == len(harness.cloud_events)


def test_http_transport_reports_an_unreachable_cloud() -> None:
    transport = HttpTransport("http://127.0.0.1:9")
    with pytest.raises(TransportError):
        transport.exchange(b"frame")
    transport.close()


def test_uplink_is_signed_by_the_lock(harness: Harness) -> None:
    frame = harness.lock.build_uplink()
    with pytest.raises(ProtocolError):
        open_sealed(frame, Uplink, SigningKeyPair.generate().public, harness.sync_key, "lock-1")
