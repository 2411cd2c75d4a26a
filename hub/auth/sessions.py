"""Console sessions: a random cookie token per login, kept only as its SHA-256, in memory.

In memory on purpose: nothing that would let someone act as an operator is ever on disk (a copied
database or backup holds no live session), and a hub restart simply asks people to log in again,
which a control room does at every shift change anyway. A session ends after ``idle_timeout_s``
without a request, or ``max_age_s`` after login, whichever comes first; times come from the injected
clock. Each session has its own CSRF token, which the console sends back in a header on every request
that changes something.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any, Callable

import attrs
from attrs import frozen

from hub.logging_setup import get_logger

log = get_logger(component="sessions")


@frozen
class Session:
    """A logged-in user. ``id`` is a random handle for logs and audit; it does not open the session."""

    id: str
    user: str
    role: str
    csrf_token: str
    created_at: float
    last_seen: float
    address: str | None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class SessionManager:
    """The open sessions, keyed by the hash of their token.

    ``still_allowed(user_name)``, when given, is asked on every lookup; answering False ends the
    session. Pass ``UserStore.is_enabled`` so that a user disabled by ``hub user disable`` (another
    process) is logged out at their next request rather than at the idle timeout.
    """

    def __init__(
        self, clock: Any, idle_timeout_s: float, max_age_s: float, token_bytes: int = 32, *,
        still_allowed: Callable[[str], bool] | None = None,
    ) -> None:
        if token_bytes < 16:
            raise ValueError("a session token needs at least 16 random bytes")
        self._clock = clock
        self.idle_timeout_s = idle_timeout_s
        self.max_age_s = max_age_s
        self._token_bytes = token_bytes
        self._still_allowed = still_allowed
        self._sessions: dict[str, Session] = {}  # sha256(token) -> session
        self._by_id: dict[str, str] = {}  # session id -> sha256(token)

    def create(self, user: Any, address: str | None) -> tuple[str, Session]:
        """Open a session for ``user`` (anything with ``name`` and ``role``); return (cookie token, session).

        The token is returned once and never kept: only its hash is. Always a new token, so a token
        planted before login (session fixation) is never promoted.
        """
        self.prune()
        now = self._clock.seconds()
        token = secrets.token_urlsafe(self._token_bytes)
        session = Session(
            id=secrets.token_hex(8), user=user.name, role=user.role,
            csrf_token=secrets.token_urlsafe(self._token_bytes), created_at=now, last_seen=now, address=address,
        )
        digest = _digest(token)
        self._sessions[digest] = session
        self._by_id[session.id] = digest
        log.info("session_opened", session=session.id, user=session.user, role=session.role)
        return token, session

    def lookup(self, token: str | None, *, touch: bool = True) -> Session | None:
        """The live session for ``token``, its ``last_seen`` refreshed (unless ``touch`` is False).

        An expired session, or one whose user is no longer allowed, is ended and None returned.
        """
        if not token or not isinstance(token, str) or len(token) > 512:
            return None
        digest = _digest(token)
        session = self._sessions.get(digest)
        if session is None or not self._live(digest, session):
            return None
        if touch:
            session = attrs.evolve(session, last_seen=self._clock.seconds())
            self._sessions[digest] = session
        return session

    def is_live(self, session_id: str) -> bool:
        """Whether the session with this handle is still open (without refreshing it): for long streams."""
        digest = self._by_id.get(session_id)
        session = self._sessions.get(digest) if digest is not None else None
        return session is not None and self._live(digest, session)  # type: ignore[arg-type]

    def _live(self, digest: str, session: Session) -> bool:
        now = self._clock.seconds()
        if now - session.last_seen >= self.idle_timeout_s:
            self._end(digest, "idle")
            return False
        if now - session.created_at >= self.max_age_s:
            self._end(digest, "max_age")
            return False
        if self._still_allowed is not None and not self._still_allowed(session.user):
            self._end(digest, "user_disabled")
            return False
        return True

    def _end(self, digest: str, reason: str) -> Session | None:
        session = self._sessions.pop(digest, None)
        if session is not None:
            self._by_id.pop(session.id, None)
            log.info("session_ended", session=session.id, user=session.user, reason=reason)
        return session

    def revoke(self, token: str | None) -> None:
        """End the session for ``token`` (logout); an unknown token is ignored."""
        if token and isinstance(token, str):
            self._end(_digest(token), "logout")

    def revoke_user(self, name: str) -> int:
        """End every session of user ``name`` (disabled, or logged out everywhere); return how many."""
        digests = [digest for digest, session in self._sessions.items() if session.user == name]
        for digest in digests:
            self._end(digest, "revoked")
        return len(digests)

    def prune(self) -> int:
        """End every expired session; return how many. Called at each login so memory stays bounded."""
        now = self._clock.seconds()
        expired = [
            digest for digest, session in self._sessions.items()
            if now - session.last_seen >= self.idle_timeout_s or now - session.created_at >= self.max_age_s
        ]
        for digest in expired:
            self._end(digest, "expired")
        return len(expired)

    def active(self) -> int:
        """How many sessions are open (expired ones are ended first)."""
        self.prune()
        return len(self._sessions)
