"""Who is asking, and may they: session cookies, partner and metrics bearer keys, CSRF and Origin checks.

Users authenticate with the ``hub_session`` cookie set at login. Every state-changing request made with
that cookie must carry the session's CSRF token in ``X-CSRF-Token``, and, when the browser sends an
``Origin``, come from this server's own origin. Partners authenticate with ``Authorization: Bearer KEY``
on the intake route only; a Prometheus scraper may read ``/metrics`` with the metrics token.
"""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import urlsplit

from hub.web.http import ApiError, Principal, forbidden, unauthenticated
from hub.web.routes import METRICS, PARTNER, Route

COOKIE = "hub_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def bearer(headers: Any) -> str | None:
    """The token of an ``Authorization: Bearer`` header, or None."""
    values = headers.getRawHeaders("authorization") or []
    if len(values) != 1:
        return None
    scheme, _, token = values[0].partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def own_origin(headers: Any, secure: bool) -> str | None:
    """This server's origin as the client addressed it (scheme and Host header)."""
    hosts = headers.getRawHeaders("host") or []
    if len(hosts) != 1:
        return None
    return f"{'https' if secure else 'http'}://{hosts[0].lower()}"


def origin_allowed(headers: Any, secure: bool) -> bool:
    """True when no Origin was sent, or it is exactly this server's own origin."""
    origins = headers.getRawHeaders("origin")
    if not origins:
        return True
    if len(origins) != 1:
        return False
    expected = own_origin(headers, secure)
    if expected is None:
        return False
    sent = urlsplit(origins[0].strip().lower())
    wanted = urlsplit(expected)
    return (sent.scheme, _with_port(sent)) == (wanted.scheme, _with_port(wanted))


def _with_port(url: Any) -> str:
    port = url.port or (443 if url.scheme == "https" else 80)
    return f"{url.hostname}:{port}"


class WebAuth:
    """Decides who a request is from and whether its route lets them in."""

    def __init__(self, backend: Any) -> None:
        self._backend = backend

    def session_for(self, token: str | None) -> tuple[Any, str] | None:
        if not token:
            return None
        session = self._backend.sessions.lookup(token)
        return (session, token) if session is not None else None

    def principal(self, route: Route, headers: Any, cookie: str | None) -> Principal | None:
        """Who may use ``route`` with these credentials; ApiError 401/403 when nobody."""
        if route.public:
            found = self.session_for(cookie) if cookie else None
            if found is None:
                return None
            session, token = found
            return Principal("user", session.user, session.role, session, token)
        if route.partner:
            token = bearer(headers)
            if token is None:
                if self.session_for(cookie) is not None:
                    raise forbidden("this route is for partners, with their key; a user session may not use it")
                raise ApiError(401, "unauthenticated", "send the partner key as Authorization: Bearer KEY",
                               headers={"WWW-Authenticate": 'Bearer realm="intake"'})
            partner = self._backend.partners.identify(token)
            if partner is None:
                raise ApiError(401, "unauthenticated", "the partner key is not known",
                               headers={"WWW-Authenticate": 'Bearer realm="intake", error="invalid_token"'})
            return Principal("partner", partner, PARTNER)
        if METRICS in route.roles:
            token = bearer(headers)
            expected = self._backend.web.metrics_token
            if token is not None:
                if expected is not None and hmac.compare_digest(token.encode(), expected.reveal().encode()):
                    return Principal("metrics", "metrics", METRICS)
                raise unauthenticated("the metrics token is not right")
        found = self.session_for(cookie)
        if found is None:
            raise unauthenticated("log in first (or your session has ended)")
        session, token = found
        principal = Principal("user", session.user, session.role, session, token)
        allowed = route.roles if METRICS not in route.roles else ("supervisor", "admin")
        if session.role not in allowed:
            raise forbidden(f"a {session.role} may not use {route.method} {route.path}")
        return principal

    @staticmethod
    def check_csrf(method: str, principal: Principal | None, headers: Any) -> None:
        """Refuse a state-changing request from a cookie session without the session's CSRF token."""
        if method in SAFE_METHODS or principal is None or principal.session is None:
            return
        sent = headers.getRawHeaders(CSRF_HEADER) or []
        expected = principal.session.csrf_token
        if len(sent) != 1 or not hmac.compare_digest(sent[0].encode(), expected.encode()):
            raise ApiError(403, "csrf", f"send the session's CSRF token in the {CSRF_HEADER} header")
