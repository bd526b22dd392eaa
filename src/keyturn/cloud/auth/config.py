"""Settings of authentication, read from KEYTURN_AUTH_* environment variables.

They live beside the code they tune; tests and the demo build an AuthConfig directly and hand
it to `install_auth`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class AuthConfig(BaseSettings):
    """Lifetimes, throttling limits, cookie flags and the public URL used in emailed links."""

    model_config = SettingsConfigDict(env_prefix="KEYTURN_AUTH_", extra="ignore")

    session_lifetime_s: int = Field(default=12 * 3600, gt=0)
    # A cookie session unused for this long ends, whatever its lifetime left.
    session_idle_s: int = Field(default=30 * 60, gt=0)
    login_token_lifetime_s: int = Field(default=12 * 3600, gt=0)
    # "auto": Secure cookies when the request arrived over https (behind a proxy: set
    # KEYTURN_TRUSTED_PROXIES so its X-Forwarded-Proto is believed).
    secure_cookies: Literal["auto", "always", "never"] = "auto"
    max_failures_per_account: int = Field(default=5, gt=0)
    max_failures_per_address: int = Field(default=20, gt=0)
    failure_window_s: int = Field(default=15 * 60, gt=0)
    reset_link_lifetime_s: int = Field(default=3600, gt=0)
    invitation_lifetime_s: int = Field(default=7 * 24 * 3600, gt=0)
    data_copy_link_lifetime_s: int = Field(default=7 * 24 * 3600, gt=0)
    max_reset_links_per_hour: int = Field(default=3, gt=0)
    public_url: str = "http://127.0.0.1:8000"
    totp_issuer: str = "Keyturn"
