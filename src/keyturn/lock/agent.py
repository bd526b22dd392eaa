"""The lock itself: every input ends in rules.decide.decide() and a committed journal entry
before the door opens, and sync exchanges sealed frames with the cloud through any carrier.

A Lock owns one data dir (store, photos, storage key); it reads time only from its
LockClock, so tests and the simulator drive it with a ManualClock.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path

import msgspec

from keyturn.crypto.codes import card_mac, code_mac
from keyturn.crypto.errors import InvalidSignature
from keyturn.crypto.keys import SigningKeyPair
from keyturn.crypto.mobile_keys import read_mobile_key, verify_challenge
from keyturn.lock.access import AccessIndex, ApplyResult
from keyturn.lock.camera import Camera, PhotoVault, SimulatedCamera
from keyturn.lock.clock import HardwareClock, LockClock, SystemClock, TimeCorrection
from keyturn.lock.config import PHOTOS_DIR, STORE_FILE, DoorSettings, load_or_create_storage_key
from keyturn.lock.errors import MissingCapability, SyncRefused
from keyturn.lock.freshness import DownlinkGate
from keyturn.lock.journal import Journal
from keyturn.lock.keypad import KeypadBuffer, SingleDayCodes
from keyturn.lock.mobile import ChallengeBook, TokenCache
from keyturn.lock.provision import read_config, read_device_key
from keyturn.lock.sensors import DoorSensor, battery_event
from keyturn.lock.store import Store
from keyturn.protocol.entries import single_day_credential_id
from keyturn.protocol.event_kinds import EventKind
from keyturn.protocol.messages import (
    CredentialSpec,
    DeviceStatus,
    Downlink,
    EventRecord,
    Uplink,
)
from keyturn.protocol.mobile_claims import MalformedClaims, entry_from_claims
from keyturn.protocol.sealing import ProtocolError, open_manifest, open_sealed, seal
from keyturn.rules.decide import AccessEntry, Decision, LockState, Presentation, decide
from keyturn.rules.lockout import KeypadLockout, record_failure
from keyturn.rules.photos import should_take_photo
from keyturn.rules.schedule import single_day_schedule
from keyturn.rules.types import Capability, CredentialType, Reason

# One-time short codes whose list entry names no window stay valid this long after first use.
DEFAULT_ONE_TIME_WINDOW_S = 300
DEFAULT_UPLINK_EVENTS = 500
MAX_PURGES_REPORTED = 256
MAX_SINGLE_DAY_ENTRIES = 1024

_CLOCK = "clock"
_FIRMWARE = "firmware_version"
_BATTERY = "battery_pct"
_LOCKOUT = "keypad_lockout"
_PURGES = "purges_done"
_PUSH_SEQ = "push_seq"
_NOT_YET_VALID = "token_not_yet_valid"
_SCHEDULE_REASONS = frozenset(
    {Reason.GRANTED, Reason.OUTSIDE_SCHEDULE, Reason.NOT_YET_VALID, Reason.EXPIRED}
)


class ClockState(msgspec.Struct, frozen=True):
    offset_ms: int = 0
    uncertain: bool = False
    last_signed_ms: int = 0  # the newest signed time taken: older signed time is refused


@dataclass(frozen=True, slots=True)
class Attempt:
    """The outcome of one attempt at the door, after its journal entry was committed."""

    decision: Decision
    seq: int
    photo_id: str | None = None
    detail: str | None = None

    @property
    def granted(self) -> bool:
        return self.decision.granted


@dataclass(frozen=True, slots=True)
class DownlinkResult:
    """What applying one downlink did."""

    access_list: ApplyResult | None
    purged_requests: tuple[str, ...]
    firmware: str | None
    time: TimeCorrection
    journal_floor: int


def _at(millis: int) -> datetime:
    return datetime.fromtimestamp(millis / 1000, UTC)


class Lock:
    """One provisioned lock; open it with Lock.open(data_dir, clock)."""

    def __init__(
        self,
        data_dir: Path,
        store: Store,
        storage_key: bytes,
        hardware: HardwareClock,
        camera: Camera | None,
        power_lost: bool,
    ) -> None:
        self.data_dir = data_dir
        self.store = store
        config = read_config(store, storage_key)
        self.settings = DoorSettings(config)
        self.device_key: SigningKeyPair = read_device_key(store, storage_key)
        self.device_id = config.device_id
        self.door_id = config.door_id
        self._secret = config.door_secret
        self._tz = self.settings.tz
        self._has_camera = self.settings.has(Capability.CAMERA)
        self._camera = camera if camera is not None else SimulatedCamera()
        clock_state = store.get(_CLOCK, ClockState, ClockState())
        self.clock = LockClock(
            hardware, clock_state.offset_ms, clock_state.uncertain, clock_state.last_signed_ms
        )
        self.downlinks = DownlinkGate(store.get(_PUSH_SEQ, int, 0))
        self.journal = Journal(store, storage_key, config.device_id)
        self.photos = PhotoVault(store.conn, storage_key, data_dir / PHOTOS_DIR)
        self.photos.remove_orphans()
        self.index = AccessIndex(config.door_id)
        self.index.load(store)
        self.single_day = SingleDayCodes(
            config.door_secret, config.code_length, self._tz, self._is_listed_code
        )
        self.single_day.set_slots(self.index.meta.single_day_slots)
        self.keypad = KeypadBuffer(config.code_length)
        self.challenges = ChallengeBook()
        self.tokens = TokenCache()
        self.door = DoorSensor()
        # Set by keyturn.lock.near_field while its service runs; reported in the status.
        self.near_field_url: str | None = None
        self.firmware_version = store.get(_FIRMWARE, int, 0)
        self.battery_pct = store.get(_BATTERY, int, 100)
        self._lockout = store.get(_LOCKOUT, KeypadLockout, KeypadLockout())
        self._purges_done = store.get(_PURGES, list[tuple[str, int]], [])
        self._first_uses = _first_uses(store)
        self._single_day_entries: dict[tuple[date, int], AccessEntry] = {}
        self._state = self._lock_state()
        if power_lost:
            self.clock.power_lost()
            with store.transaction():
                self._save_clock()
                self._log(EventKind.POWER_RESTORED, self.clock.millis())

    @classmethod
    def open(
        cls,
        data_dir: Path,
        hardware_clock: HardwareClock | None = None,
        *,
        power_lost: bool = False,
        camera: Camera | None = None,
    ) -> Lock:
        """Open a provisioned lock; `power_lost` marks a restart after a power cut (A9)."""
        storage_key = load_or_create_storage_key(data_dir)
        store = Store(data_dir / STORE_FILE)
        try:
            return cls(
                data_dir, store, storage_key, hardware_clock or SystemClock(), camera, power_lost
            )
        except BaseException:
            store.close()
            raise

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Lock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- state ---------------------------------------------------------------------------

    def _lock_state(self) -> LockState:
        return replace(self.index.state, keypad_locked_until=self._lockout.locked_until)

    def _require(self, capability: Capability) -> None:
        if not self.settings.has(capability):
            raise MissingCapability(f"this lock model has no {capability.value}")

    def _save_clock(self) -> None:
        clock = self.clock
        self.store.put(_CLOCK, ClockState(clock.offset_ms, clock.uncertain, clock.last_signed_ms))

    def _log(self, kind: str, now_ms: int, detail: str | None = None) -> EventRecord:
        draft = EventRecord(
            seq=0,
            occurred_at=now_ms,
            clock_uncertain=self.clock.uncertain,
            kind=kind,
            chain=b"",
            detail=detail,
        )
        return self.journal.append(draft)

    def _finish(
        self,
        decision: Decision,
        now_ms: int,
        detail: str | None = None,
        also: Callable[[int], None] | None = None,
    ) -> Attempt:
        """Photograph if the rule says so, journal and commit, and only then unlatch."""
        photo_id: str | None = None
        data_key = b""
        kind = decision.credential_type
        if should_take_photo(
            self.settings.config.door_kind, self._has_camera, kind, decision.granted
        ):
            photo_id = uuid.uuid4().hex
            jpeg = self._camera.capture(f"door {self.door_id}", _at(now_ms))
            data_key = self.photos.write(photo_id, jpeg)
        entry = decision.entry
        draft = EventRecord(
            seq=0,
            occurred_at=now_ms,
            clock_uncertain=self.clock.uncertain,
            kind=EventKind.ATTEMPT,
            chain=b"",
            credential_type=kind,
            credential_id=entry.credential_id if entry else None,
            subject=entry.subject if entry else None,
            grant_id=entry.grant_id if entry else None,
            granted_by=entry.granted_by if entry else None,
            by_resident=entry.resident if entry else False,
            reason=decision.reason,
            photo_id=photo_id,
            detail=detail,
        )
        try:
            with self.store.transaction():
                record = self.journal.append(draft)
                if photo_id is not None:
                    self.photos.record(photo_id, record.seq, data_key)
                if also is not None:
                    also(record.seq)
        except BaseException:
            if photo_id is not None:
                self.photos.remove_files([photo_id])
            raise
        if decision.granted:
            self.door.unlatch(now_ms)
        return Attempt(decision, record.seq, photo_id, detail)

    def _decide(self, kind: CredentialType, entry: AccessEntry | None, now_ms: int) -> Decision:
        return decide(Presentation(kind, entry), self._state, self.door_id, _at(now_ms), self._tz)

    # -- keypad --------------------------------------------------------------------------

    def press_key(self, key: str) -> Attempt | None:
        """One key press; the attempt when it completed a code."""
        self._require(Capability.KEYPAD)
        code = self.keypad.press(key, self.clock.millis())
        return None if code is None else self.enter_code(code)

    def decide_code(self, code: str) -> Decision:
        """The keypad decision alone, journalling nothing: for benchmarks and dry runs."""
        return self._decide_code(code, self.clock.millis())[0]

    def _is_listed_code(self, code: str) -> bool:
        return self.index.find(code_mac(self._secret, code)) is not None

    def _decide_code(self, code: str, now_ms: int) -> tuple[Decision, str | None]:
        """The decision and, for a one-time code's first use, its credential id.

        A listed code wins over a single-day code with the same digits; the single-day
        table already leaves such codes out, so it is consulted first, without a MAC.
        """
        if not (code.isascii() and code.isdigit()):
            return self._decide(CredentialType.PERSONAL_DOORCODE, None, now_ms), None
        match = self.single_day.match(code, now_ms)
        if match is not None:
            entry = self._single_day_entry(*match)
            return self._decide(CredentialType.SINGLE_DAY_CODE, entry, now_ms), None
        spec = self.index.find(code_mac(self._secret, code))
        if spec is not None:
            entry = self.index.entry(spec)
            kind = spec.credential_type
            if not kind.is_doorcode:
                return self._decide(CredentialType.PERSONAL_DOORCODE, entry, now_ms), None
            first_use = None
            if kind is CredentialType.ONE_TIME_CODE:
                entry, first_use = self._one_time_entry(spec, entry, now_ms)
            return self._decide(kind, entry, now_ms), first_use
        return self._decide(CredentialType.PERSONAL_DOORCODE, None, now_ms), None

    def _one_time_entry(
        self, spec: CredentialSpec, entry: AccessEntry, now_ms: int
    ) -> tuple[AccessEntry, str | None]:
        first = self._first_uses.get(spec.credential_id)
        window_s = spec.use_window_s or DEFAULT_ONE_TIME_WINDOW_S
        use_ends = _at((now_ms if first is None else first) + window_s * 1000)
        schedule = entry.schedule
        if schedule.starts_at is not None and use_ends <= schedule.starts_at:
            return entry, None  # not valid yet in any case; decide() says so
        ends_at = use_ends if schedule.ends_at is None else min(schedule.ends_at, use_ends)
        narrowed = replace(entry, schedule=replace(schedule, ends_at=ends_at))
        return narrowed, (spec.credential_id if first is None else None)

    def _single_day_entry(self, day: date, slot: int) -> AccessEntry:
        """The entry of one (local day, slot); built once, kept while the day is near."""
        entry = self._single_day_entries.get((day, slot))
        if entry is None:
            if len(self._single_day_entries) >= MAX_SINGLE_DAY_ENTRIES:
                self._single_day_entries.clear()
            credential_id = single_day_credential_id(day.isoformat(), slot)
            entry = AccessEntry(
                credential_id=credential_id,
                credential_type=CredentialType.SINGLE_DAY_CODE,
                subject=credential_id,
                key_id=None,
                grant_id=None,
                granted_by=None,
                door_ids=frozenset((self.door_id,)),
                schedule=single_day_schedule(day, self._tz),
                resident=False,
            )
            self._single_day_entries[(day, slot)] = entry
        return entry

    def enter_code(self, code: str) -> Attempt:
        """A whole code typed at the keypad; wrong codes count towards the lockout (A7)."""
        self._require(Capability.KEYPAD)
        now_ms = self.clock.millis()
        decision, first_use = self._decide_code(code, now_ms)
        lockout = self._lockout
        started: datetime | None = None
        # Only an unknown code is a guess; a known code refused for its schedule is not.
        if decision.reason is Reason.UNKNOWN_CREDENTIAL:
            lockout, until = record_failure(lockout, _at(now_ms), self.settings.lockout_policy)
            if until is not None and until != self._lockout.locked_until:
                started = until

        def also(seq: int) -> None:
            if lockout is not self._lockout:
                self.store.put(_LOCKOUT, lockout)
            if first_use is not None and decision.granted:
                self.store.conn.execute(
                    "INSERT INTO one_time_uses (credential_id, first_used_ms) VALUES (?, ?)",
                    (first_use, now_ms),
                )
            if started is not None:
                detail = f"until={started.isoformat()};level={lockout.level}"
                self._log(EventKind.KEYPAD_LOCKOUT, now_ms, detail)

        attempt = self._finish(decision, now_ms, also=also)
        if first_use is not None and decision.granted:
            self._first_uses[first_use] = now_ms
        if lockout is not self._lockout:
            self._lockout = lockout
            self._state = self._lock_state()
        return attempt

    @property
    def keypad_locked_until(self) -> datetime | None:
        until = self._lockout.locked_until
        return until if until is not None and until > self.clock.now() else None

    # -- mobile key ----------------------------------------------------------------------

    def issue_challenge(self) -> bytes:
        """A fresh challenge for a phone; single use, valid for a few seconds."""
        self._require(Capability.BLE)
        return self.challenges.issue(self.clock.millis())

    def present_mobile_key(self, challenge: bytes, token: bytes, signature: bytes) -> Attempt:
        """A phone's answer: its token and its signature over our challenge."""
        self._require(Capability.BLE)
        now_ms = self.clock.millis()
        decision, detail = self._decide_mobile(challenge, token, signature, now_ms)
        return self._finish(decision, now_ms, detail)

    def decide_mobile_key(self, challenge: bytes, token: bytes, signature: bytes) -> Decision:
        """The mobile-key decision alone, journalling nothing: for benchmarks and dry runs."""
        return self._decide_mobile(challenge, token, signature, self.clock.millis())[0]

    def _decide_mobile(
        self, challenge: bytes, token: bytes, signature: bytes, now_ms: int
    ) -> tuple[Decision, str | None]:
        entry, detail = self._mobile_entry(challenge, token, signature, now_ms)
        decision = self._decide(CredentialType.MOBILE_KEY, entry, now_ms)
        if detail == _NOT_YET_VALID and decision.reason in _SCHEDULE_REASONS:
            # An authentic key presented before its nbf is refused as such, never granted.
            # Its schedule, narrowed to the token's window, already says so, except when the
            # grant's bounds lie outside that window and the schedule kept the grant's.
            decision = Decision(Reason.NOT_YET_VALID, decision.credential_type, decision.entry)
        return decision, detail

    def _mobile_entry(
        self, challenge: bytes, token: bytes, signature: bytes, now_ms: int
    ) -> tuple[AccessEntry | None, str | None]:
        if not self.challenges.take(challenge, now_ms):
            return None, "challenge_not_outstanding"
        now = _at(now_ms)
        digest = TokenCache.digest(token)
        cached = self.tokens.get(digest)
        if cached is None:
            try:
                claims = read_mobile_key(token, self.settings.authority)
            except (InvalidSignature, ValueError):
                return None, "token_invalid"
            try:
                entry = entry_from_claims(claims)
            except MalformedClaims:
                return None, "token_malformed"
            self.tokens.put(digest, claims, entry)
        else:
            claims, entry = cached
        # The same answer for a cached token as for a fresh one outside its window. A key
        # that is not valid yet is still checked to the end, to be refused as NOT_YET_VALID.
        if now >= claims.expires:
            return None, "token_expired"
        try:
            verify_challenge(claims, challenge, self.door_id, signature)
        except (InvalidSignature, ValueError):
            return None, "challenge_signature_invalid"
        return entry, _NOT_YET_VALID if now < claims.not_before else None

    # -- keycard, mechanical key, sensors --------------------------------------------------

    def present_card(self, card_uid: str) -> Attempt:
        self._require(Capability.CARD_READER)
        now_ms = self.clock.millis()
        try:
            spec = self.index.find(card_mac(self._secret, card_uid))
        except ValueError:
            spec = None
        entry = self.index.entry(spec) if spec is not None else None
        return self._finish(self._decide(CredentialType.KEYCARD, entry, now_ms), now_ms)

    def turn_mechanical_key(self) -> Attempt:
        """The cylinder was turned with a key: always logged, never photographed (A2, P2/P3)."""
        self._require(Capability.MECHANICAL_KEY)
        now_ms = self.clock.millis()
        return self._finish(self._decide(CredentialType.MECHANICAL_KEY, None, now_ms), now_ms)

    def door_opened(self) -> EventRecord | None:
        """The door-position sensor saw the door open; a forced_open event without a grant."""
        now_ms = self.clock.millis()
        event = self.door.opened(now_ms)
        return None if event is None else self._log(event, now_ms)

    def door_closed(self) -> None:
        self.door.closed()

    def report_battery(self, pct: int) -> EventRecord | None:
        """A battery reading; a battery_low event when it drops below the threshold."""
        event = battery_event(self.battery_pct, pct)
        with self.store.transaction():
            self.store.put(_BATTERY, pct)
            record = None if event is None else self._log(event, self.clock.millis(), f"{pct}%")
        self.battery_pct = pct
        return record

    def tick(self) -> list[EventRecord]:
        """Time-driven work: door-ajar events, expiring challenges, next day's code table."""
        now_ms = self.clock.millis()
        self.challenges.expire(now_ms)
        self.single_day.prepare(now_ms)
        event = self.door.check(now_ms)
        return [] if event is None else [self._log(event, now_ms)]

    # -- journal and sync ----------------------------------------------------------------

    def verify_journal(self) -> int:
        """Walk the hash chain of every stored entry; the number verified."""
        return self.journal.verify()

    def device_status(self) -> DeviceStatus:
        return DeviceStatus(
            firmware_version=self.firmware_version,
            access_list_version=self.index.version,
            battery_pct=self.battery_pct,
            clock_offset_ms=self.clock.offset_ms,
            purges_done=tuple(request_id for request_id, _ in self._purges_done),
            last_seq=self.journal.last_seq,
            journal_floor=self.journal.floor,
            near_field_url=self.near_field_url,
        )

    def build_uplink(self, max_events: int = DEFAULT_UPLINK_EVENTS) -> bytes:
        """A sealed Uplink with the entries after the acknowledged floor (at most max_events).

        With nothing to send the batch is empty: from_seq = floor + 1, to_seq = floor.
        """
        from_seq = self.journal.floor + 1
        to_seq = min(self.journal.last_seq, self.journal.floor + max_events)
        uplink = Uplink(
            device_id=self.device_id,
            from_seq=from_seq,
            to_seq=to_seq,
            events=tuple(self.journal.entries(from_seq, to_seq)),
            photos=self.photos.uploads(from_seq, to_seq),
            status=self.device_status(),
            sent_at=self.clock.millis(),
            nonce=self.downlinks.await_answer(self.clock.hardware.millis()),
        )
        return seal(uplink, self.device_key, self.settings.config.sync_key, self.device_id)

    def apply_downlink(self, frame: bytes) -> DownlinkResult:
        """Open, verify and apply a Downlink in one transaction; SyncRefused if it fails checks.

        Whatever carried the frame, it is taken only as the answer to the uplink the lock
        awaits or as the next push, and moves the clock only as far as it proves
        (keyturn.lock.freshness); a refused frame changes nothing.
        """
        config = self.settings.config
        try:
            down = open_sealed(
                frame, Downlink, self.settings.authority, config.sync_key, self.device_id
            )
        except ProtocolError as exc:
            raise SyncRefused(str(exc)) from None
        admitted = self.downlinks.admit(
            down, trusted_ms=self.clock.last_signed_ms, hardware_ms=self.clock.hardware.millis()
        )
        gone_photos: list[str] = []
        with self.store.transaction():
            self.store.on_rollback(self._reload)
            correction = self.clock.learn(admitted.earliest_ms, admitted.latest_ms)
            self._save_clock()
            if admitted.push_seq is not None:
                self.store.put(_PUSH_SEQ, admitted.push_seq)
            now_ms = self.clock.millis()
            if correction.reportable:
                self._log(EventKind.CLOCK_CORRECTED, now_ms, f"drift_ms={correction.drift_ms}")
            applied = None
            if down.access_list is not None:
                applied = self.index.apply(self.store, down.access_list)
                self._first_uses = _first_uses(self.store)
                if not applied.applied and applied.refusal and "not newer" not in applied.refusal:
                    self._log(EventKind.ACCESS_LIST_REFUSED, now_ms, applied.refusal)
            purged = self._apply_purges(down, gone_photos)
            firmware = self._apply_firmware(down.firmware, now_ms)
            floor = self.journal.prune_through(down.stored_through_seq)
            uploaded = self.photos.ids_through(floor)
            self.photos.forget(uploaded)
            gone_photos.extend(uploaded)
        self.downlinks.taken(admitted)
        self.photos.remove_files(gone_photos)
        if applied is not None and applied.applied:
            self.single_day.set_slots(self.index.meta.single_day_slots)
        self._state = self._lock_state()
        return DownlinkResult(applied, purged, firmware, correction, floor)

    def _apply_purges(self, down: Downlink, gone_photos: list[str]) -> tuple[str, ...]:
        done = dict(self._purges_done)
        purged: list[str] = []
        for command in down.purges:
            if command.request_id in done:
                continue
            removed = self.journal.purge_subject(command.subject)
            photo_ids = [r.photo_id for r in removed if r.photo_id is not None]
            self.photos.forget(photo_ids)
            gone_photos.extend(photo_ids)
            self.tokens.forget_subject(command.subject)
            done[command.request_id] = down.issued_at
            purged.append(command.request_id)
        # A newer downlink that no longer asks for a purge means the cloud recorded it done.
        asked = {command.request_id for command in down.purges}
        kept = [(rid, at) for rid, at in done.items() if rid in asked or at >= down.issued_at]
        self._purges_done = kept[-MAX_PURGES_REPORTED:]
        self.store.put(_PURGES, self._purges_done)
        return tuple(purged)

    def _apply_firmware(self, signed: bytes | None, now_ms: int) -> str | None:
        if signed is None:
            return None
        try:
            manifest = open_manifest(signed, self.settings.authority)
        except ProtocolError:
            self._log(EventKind.FIRMWARE_REFUSED, now_ms, "manifest does not verify")
            return "invalid"
        if manifest.version == self.firmware_version:
            return None
        if manifest.version < self.firmware_version:
            detail = f"rollback from {self.firmware_version} to {manifest.version}"
            self._log(EventKind.FIRMWARE_REFUSED, now_ms, detail)
            return "rollback_refused"
        self.firmware_version = manifest.version
        self.store.put(_FIRMWARE, manifest.version)
        self._log(EventKind.FIRMWARE_UPDATED, now_ms, f"version={manifest.version}")
        return "updated"

    def _reload(self) -> None:
        """Resync in-memory state with the store after a rolled-back downlink."""
        clock_state = self.store.get(_CLOCK, ClockState, ClockState())
        self.clock.offset_ms = clock_state.offset_ms
        self.clock.uncertain = clock_state.uncertain
        self.clock.last_signed_ms = clock_state.last_signed_ms
        self.firmware_version = self.store.get(_FIRMWARE, int, 0)
        self._purges_done = self.store.get(_PURGES, list[tuple[str, int]], [])
        self._first_uses = _first_uses(self.store)
        self.index.load(self.store)


def _first_uses(store: Store) -> dict[str, int]:
    """The first use (epoch ms) of each one-time code used at this lock and still listed."""
    rows = store.conn.execute("SELECT credential_id, first_used_ms FROM one_time_uses")
    return {credential_id: first_used_ms for credential_id, first_used_ms in rows}
