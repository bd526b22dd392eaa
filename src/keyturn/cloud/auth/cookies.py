"""The session's two cookies, set and cleared the same way by the API's login and the pages'.

The session cookie is HttpOnly; the CSRF cookie is readable by the page's own script, which
sends it back in a header (or a form field) with every unsafe request. Both are SameSite=Lax.
"""

from __future__ import annotations

from fastapi import Request, Response

from keyturn.cloud.auth.config import AuthConfig
from keyturn.cloud.auth.deps import CSRF_COOKIE, SESSION_COOKIE
from keyturn.cloud.auth.service import NewSession


def secure_cookies(request: Request, config: AuthConfig) -> bool:
    if config.secure_cookies == "auto":
        return request.url.scheme == "https"
    return config.secure_cookies == "always"


def set_session_cookies(
    response: Response, request: Request, config: AuthConfig, opened: NewSession
) -> None:
    secure = secure_cookies(request, config)
    max_age = config.session_lifetime_s
    response.set_cookie(
        SESSION_COOKIE, opened.secret, max_age, httponly=True, secure=secure, samesite="lax"
    )
    response.set_cookie(
        CSRF_COOKIE, opened.csrf_token, max_age, httponly=False, secure=secure, samesite="lax"
    )


def clear_session_cookies(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie(CSRF_COOKIE)
