"""Sessions: a random token per login, kept only as its hash, ending on idle time or age, on the injected clock."""

from __future__ import annotations

import hashlib

import pytest
from twisted.internet.task import Clock

from hub.auth.sessions import SessionManager
from hub.auth.users import User

ALICE = User(name="alice", role="operator", disabled=False, created_at=0.0)
BOB = User(name="bob", role="supervisor", disabled=False, created_at=0.0)
IDLE, MAX_AGE = 1800.0, 12 * 3600.0


@pytest.fixture
def clock():
    clock = Clock()
    clock.advance(1_700_000_000)
    return clock


@pytest.fixture
def sessions(clock):
    return SessionManager(clock, idle_timeout_s=IDLE, max_age_s=MAX_AGE)


def test_a_new_session_is_found_by_its_token(sessions):
    """create() returns a token that lookup() turns back into the session."""
    token, session = sessions.create(ALICE, "10.0.0.7")
    assert sessions.lookup(token) == session
    assert (session.user, session.role, session.address) == ("alice", "operator", "10.0.0.7")


def test_tokens_carry_32_random_bytes_and_are_never_repeated(sessions):
    """Tokens are token_urlsafe(32): 43 characters, all different."""
    tokens = {sessions.create(ALICE, None)[0] for _ in range(50)}
    assert len(tokens) == 50 and {len(t) for t in tokens} == {43}


def test_only_the_hash_of_a_token_is_kept(sessions):
    """Nothing the manager holds contains the token itself; its SHA-256 is what is stored."""
    token, _session = sessions.create(ALICE, None)
    held = repr(vars(sessions))
    assert token not in held
    assert hashlib.sha256(token.encode()).hexdigest() in held


def test_the_session_handle_and_csrf_token_are_not_the_cookie_token(sessions):
    """The loggable id and the CSRF token are independent random values."""
    token, session = sessions.create(ALICE, None)
    assert len({token, session.id, session.csrf_token}) == 3
    assert sessions.create(ALICE, None)[1].csrf_token != session.csrf_token


def test_an_unknown_or_empty_token_finds_nothing(sessions):
    """lookup() of a token never issued, empty or absurdly long is None."""
    sessions.create(ALICE, None)
    assert sessions.lookup("forged") is None
    assert sessions.lookup("") is None
    assert sessions.lookup(None) is None
    assert sessions.lookup("x" * 10_000) is None


def test_activity_keeps_a_session_open_past_the_idle_timeout(sessions, clock):
    """Each lookup refreshes last_seen, so a busy operator stays logged in."""
    token, _ = sessions.create(ALICE, None)
    for _ in range(5):
        clock.advance(IDLE - 1)
        assert sessions.lookup(token) is not None


def test_an_idle_session_ends(sessions, clock):
    """No request for the idle timeout ends the session."""
    token, _ = sessions.create(ALICE, None)
    clock.advance(IDLE)
    assert sessions.lookup(token) is None
    assert sessions.active() == 0


def test_a_session_ends_at_its_maximum_age_however_busy(clock):
    """Even with constant activity a session ends max_age_s after login."""
    sessions = SessionManager(clock, idle_timeout_s=IDLE, max_age_s=3 * 3600.0)
    token, _ = sessions.create(ALICE, None)
    for _ in range(5):
        clock.advance(IDLE / 2)
        assert sessions.lookup(token) is not None
    clock.advance(3 * 3600.0 - 5 * IDLE / 2)
    assert sessions.lookup(token) is None


def test_a_lookup_without_touch_does_not_refresh(sessions, clock):
    """lookup(touch=False) reads the session without keeping it alive."""
    token, _ = sessions.create(ALICE, None)
    clock.advance(IDLE - 1)
    sessions.lookup(token, touch=False)
    clock.advance(1)
    assert sessions.lookup(token) is None


def test_is_live_follows_the_session_by_its_handle(sessions, clock):
    """is_live(session.id) is True while open, False after logout, without refreshing it."""
    token, session = sessions.create(ALICE, None)
    assert sessions.is_live(session.id)
    sessions.revoke(token)
    assert not sessions.is_live(session.id)
    assert not sessions.is_live("no-such-id")


def test_revoke_ends_one_session(sessions):
    """Logout ends that session only."""
    first, _ = sessions.create(ALICE, None)
    second, _ = sessions.create(ALICE, None)
    sessions.revoke(first)
    assert sessions.lookup(first) is None and sessions.lookup(second) is not None


def test_revoke_user_ends_every_session_of_that_user(sessions):
    """revoke_user ends all of one user's sessions and counts them; others stay."""
    a1, _ = sessions.create(ALICE, None)
    a2, _ = sessions.create(ALICE, None)
    b, _ = sessions.create(BOB, None)
    assert sessions.revoke_user("alice") == 2
    assert (sessions.lookup(a1), sessions.lookup(a2)) == (None, None)
    assert sessions.lookup(b) is not None


def test_a_user_no_longer_allowed_is_logged_out_at_the_next_request(clock):
    """With still_allowed, a user disabled elsewhere loses the session on their next lookup."""
    enabled = {"alice": True}
    sessions = SessionManager(clock, IDLE, MAX_AGE, still_allowed=lambda name: enabled[name])
    token, session = sessions.create(ALICE, None)
    assert sessions.lookup(token) is not None
    enabled["alice"] = False
    assert sessions.lookup(token) is None
    assert not sessions.is_live(session.id)


def test_expired_sessions_are_pruned_at_login(sessions, clock):
    """Expired sessions never looked up again are dropped when someone logs in, so memory stays bounded."""
    for _ in range(100):
        sessions.create(ALICE, None)
    clock.advance(IDLE)
    sessions.create(BOB, None)
    assert len(vars(sessions)["_sessions"]) == 1


def test_tokens_are_not_logged(sessions, captured_logs):
    """Opening and ending sessions logs the handle and user, never the token or the CSRF token."""
    token, session = sessions.create(ALICE, "10.0.0.7")
    sessions.revoke(token)
    text = repr(captured_logs)
    assert session.id in text
    assert token not in text and session.csrf_token not in text


def test_too_few_random_bytes_are_refused(clock):
    """A token shorter than 16 random bytes is refused at construction."""
    with pytest.raises(ValueError):
        SessionManager(clock, IDLE, MAX_AGE, token_bytes=8)
