"""Runtime settings, read from KEYTURN_* environment variables.

Every problem with a setting is raised as one SettingsError naming the setting, so the
CLI can print a single clear line instead of a traceback.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import secrets
import sys
import tempfile
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from keyturn.errors import UserError

MASTER_KEY_FILE = "master.key"
# Encrypted photos uploaded by the locks, one file per photo, under the data dir.
PHOTO_DIR = "photos"
MASTER_KEY_BYTES = 32
SUPPORTED_DRIVERS = ("sqlite", "postgresql")


class SettingsError(UserError):
    """A setting is missing, malformed or unusable; the message names it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KEYTURN_", extra="ignore")

    data_dir: Path = Field(default=Path(".keyturn"))
    database_url: str | None = None
    master_key: str | None = Field(default=None, repr=False)
    # Mail: "files" writes .eml files under <data_dir>/mail (the demo); "smtp" sends.
    mail_transport: Literal["smtp", "files"] = "files"
    mail_from: str = "Keyturn <keyturn@localhost>"
    smtp_host: str | None = None
    smtp_port: int | None = Field(default=None, ge=1, le=65535)
    smtp_tls: Literal["none", "starttls", "tls"] = "starttls"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = Field(default=None, repr=False)
    # Seconds between the server's retention runs; 0 turns the schedule off.
    retention_interval_s: float = Field(default=3600, ge=0)
    # Seconds between sends of queued mail and webhook deliveries by the server; 0 turns it off.
    outbound_interval_s: float = Field(default=30, ge=0)
    # Seconds between the server's runs of due move-outs (residencies whose end has come); 0
    # turns it off.
    residency_interval_s: float = Field(default=60, ge=0)
    # PMS exports the server syncs on a schedule: PROPERTY_ID=PATH pairs, comma-separated, each
    # a .csv or .json file the PMS rewrites; empty: no scheduled sync.
    pms_sources: str = ""
    # Seconds between the server's PMS syncs; 0 turns the schedule off.
    pms_sync_interval_s: float = Field(default=3600, ge=0)
    # Seconds between the server's checks of data requests near a deadline; 0 turns it off.
    dsar_notice_interval_s: float = Field(default=3600, ge=0)
    # Whether webhooks may post to private, loopback or link-local addresses (a local bridge).
    webhook_private_targets: bool = False
    # Reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed: addresses or
    # networks, comma-separated. Empty: the direct peer is the client, whatever it sends.
    trusted_proxies: str = ""

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        try:
            url = make_url(value)
        except ArgumentError as exc:
            raise ValueError(f"not a database URL: {exc}") from None
        if url.get_backend_name() not in SUPPORTED_DRIVERS:
            raise ValueError(
                f"unsupported database {url.get_backend_name()!r}; use sqlite or postgresql"
            )
        if url.get_backend_name() == "postgresql" and url.get_driver_name() not in (
            "psycopg",
            "psycopg2",
        ):
            return value.replace("postgresql://", "postgresql+psycopg://", 1)
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_trusted_proxies(cls, value: str) -> str:
        for item in _split(value):
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network") from None
        return value

    @field_validator("pms_sources")
    @classmethod
    def _check_pms_sources(cls, value: str) -> str:
        _pms_sources(value)
        return value

    @property
    def pms_source_map(self) -> dict[str, Path]:
        """The PMS export of each property the server syncs on its schedule."""
        return _pms_sources(self.pms_sources)

    @property
    def trusted_proxy_list(self) -> list[str]:
        """The trusted proxies, one address or network each."""
        return _split(self.trusted_proxies)

    @field_validator("master_key")
    @classmethod
    def _check_master_key(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        _decode_master_key(value)
        return value

    @cached_property
    def resolved_database_url(self) -> str:
        """The configured URL, or a SQLite file inside the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'keyturn.db').resolve()}"

    @property
    def photo_dir(self) -> Path:
        """Where uploaded photos rest, each sealed under its own key."""
        return self.data_dir / PHOTO_DIR

    def ensure_data_dir(self) -> Path:
        """Create the data dir if needed and check that it is writable."""
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SettingsError(
                f"KEYTURN_DATA_DIR: cannot create {self.data_dir}: {exc.strerror}"
            ) from None
        # A real write, not os.access(): root passes access checks on read-only mounts.
        try:
            with tempfile.TemporaryFile(dir=self.data_dir):
                pass
        except OSError as exc:
            raise SettingsError(
                f"KEYTURN_DATA_DIR: {self.data_dir} is not writable: {exc.strerror}"
            ) from None
        return self.data_dir

    def master_key_bytes(self) -> bytes:
        """The 32-byte master key: from KEYTURN_MASTER_KEY, else from (or into) the data dir."""
        if self.master_key:
            return _decode_master_key(self.master_key)
        path = self.ensure_data_dir() / MASTER_KEY_FILE
        if path.exists():
            try:
                return _decode_master_key(path.read_text().strip())
            except ValueError as exc:
                raise SettingsError(f"KEYTURN_MASTER_KEY: {path}: {exc}") from None
        key = secrets.token_bytes(MASTER_KEY_BYTES)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(base64.urlsafe_b64encode(key).decode() + "\n")
        print(
            f"warning: generated a master key in {path}; "
            "production must supply KEYTURN_MASTER_KEY instead",
            file=sys.stderr,
        )
        return key


def _split(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _decode_master_key(text: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.encode() + b"=" * (-len(text) % 4))
    except (ValueError, TypeError):
        raise ValueError("must be 32 bytes in URL-safe base64") from None
    if len(key) != MASTER_KEY_BYTES:
        raise ValueError(f"must be {MASTER_KEY_BYTES} bytes in URL-safe base64, got {len(key)}")
    return key


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; raise SettingsError with one line on bad input."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "KEYTURN_" + str(first["loc"][0]).upper() if first["loc"] else "KEYTURN"
        message = first["msg"].removeprefix("Value error, ")
        raise SettingsError(f"{name}: {message}") from None


def _pms_sources(value: str) -> dict[str, Path]:
    sources: dict[str, Path] = {}
    for item in _split(value):
        property_id, equals, path = item.partition("=")
        if not equals or not property_id.strip() or not path.strip():
            raise ValueError(f"{item!r} is not PROPERTY_ID=PATH")
        if property_id.strip() in sources:
            raise ValueError(f"property {property_id.strip()} is named twice")
        sources[property_id.strip()] = Path(path.strip())
    return sources
