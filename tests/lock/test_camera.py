from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest
from PIL import Image

from keyturn.crypto.codes import single_day_code
from keyturn.crypto.keys import SigningKeyPair
from keyturn.crypto.sealed import decrypt_blob
from keyturn.lock.agent import Attempt
from keyturn.protocol.photos import photo_context
from keyturn.rules.types import DoorKind
from lock.harness import NO_CAMERA, Harness

PHONE = SigningKeyPair.generate()
CODE = "4815162"


def _every_input(harness: Harness) -> dict[str, Attempt]:
    harness.push(harness.code(CODE, "c1"), harness.card("CAFE01", "k1"), single_day_slots=1)
    token = harness.token(PHONE)
    return {
        "personal_code": harness.lock.enter_code(CODE),
        "wrong_code": harness.lock.enter_code("1000003"),
        "single_day_code": harness.lock.enter_code(
            single_day_code(harness.secret, date(2026, 3, 2), 0, 7)
        ),
        "mobile_key": harness.tap(PHONE, token),
        "keycard": harness.lock.present_card("CAFE01"),
        "wrong_card": harness.lock.present_card("CAFE02"),
        "mechanical_key": harness.lock.turn_mechanical_key(),
    }


def _photographed(attempts: dict[str, Attempt]) -> set[str]:
    assert all(a.granted for k, a in attempts.items() if not k.startswith("wrong"))
    return {name for name, attempt in attempts.items() if attempt.photo_id is not None}


def test_rule_p2_residence_door_photos(tmp_path: Path) -> None:
    harness = Harness(tmp_path, kind=DoorKind.RESIDENCE)
    assert _photographed(_every_input(harness)) == {"wrong_code", "single_day_code"}
    harness.close()


@pytest.mark.parametrize("kind", [DoorKind.ENTRANCE, DoorKind.COMMON, DoorKind.SERVICE])
def test_rule_p3_shared_door_photos(tmp_path: Path, kind: DoorKind) -> None:
    harness = Harness(tmp_path, kind=kind)
    assert _photographed(_every_input(harness)) == {
        "personal_code",
        "wrong_code",
        "single_day_code",
        "mobile_key",
    }
    harness.close()


@pytest.mark.parametrize("kind", list(DoorKind))
def test_rule_p1_models_without_a_camera_take_no_photos(tmp_path: Path, kind: DoorKind) -> None:
    harness = Harness(tmp_path, kind=kind, capabilities=NO_CAMERA)
    assert _photographed(_every_input(harness)) == set()
    assert list((tmp_path / "photos").glob("*")) == []
    harness.close()


@pytest.mark.parametrize("kind", list(DoorKind))
def test_rule_p2_p3_mechanical_key_is_never_photographed(tmp_path: Path, kind: DoorKind) -> None:
    harness = Harness(tmp_path, kind=kind)
    attempt = harness.lock.turn_mechanical_key()
    assert attempt.granted
    assert attempt.photo_id is None
    harness.close()


def test_photo_is_a_real_jpeg_encrypted_at_rest_until_uploaded(harness: Harness) -> None:
    attempt = harness.lock.enter_code("1000003")
    assert attempt.photo_id is not None
    stored = harness.lock.photos.path(attempt.photo_id).read_bytes()
    assert b"\xff\xd8\xff" not in stored
    assert b"JFIF" not in stored
    jpeg = harness.lock.photos.read(attempt.photo_id)
    assert Image.open(io.BytesIO(jpeg)).format == "JPEG"
    harness.sync()
    upload = harness.cloud_photos[attempt.photo_id]
    assert upload.seq == attempt.seq
    clear = decrypt_blob(upload.data_key, upload.ciphertext, photo_context(attempt.photo_id))
    assert clear == jpeg
    # Acknowledged: the lock keeps neither the file nor its key.
    assert not harness.lock.photos.path(attempt.photo_id).exists()
    with pytest.raises(KeyError):
        harness.lock.photos.read(attempt.photo_id)


def test_mechanical_key_needs_the_capability(tmp_path: Path) -> None:
    from keyturn.lock.errors import MissingCapability
    from keyturn.rules.types import Capability

    caps = tuple(c for c in Capability if c is not Capability.MECHANICAL_KEY)
    harness = Harness(tmp_path, capabilities=caps)
    with pytest.raises(MissingCapability):
        harness.lock.turn_mechanical_key()
    harness.close()
