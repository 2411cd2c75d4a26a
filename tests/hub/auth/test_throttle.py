"""Login throttling per user name and per client address, with bounded memory, on the injected clock."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.task import Clock

from hub.auth.throttle import LoginThrottle

WINDOW, LOCKOUT = 900.0, 300.0


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def throttle(clock):
    return LoginThrottle(clock, max_failures=5, window_s=WINDOW, lockout_s=LOCKOUT)


def fail(throttle, times, username="alice", address="10.0.0.7"):
    for _ in range(times):
        throttle.failed(username, address)


def test_logins_are_allowed_below_the_limit(throttle):
    """Four failures out of five allowed leave the door open."""
    fail(throttle, 4)
    assert throttle.retry_after("alice", "10.0.0.7") is None


def test_max_failures_lock_the_name_for_the_lockout(throttle, clock):
    """The fifth failure locks the name, from any address, for lockout_s."""
    fail(throttle, 5)
    assert throttle.retry_after("alice", "10.9.9.9") == LOCKOUT
    clock.advance(100)
    assert throttle.retry_after("alice", "10.9.9.9") == LOCKOUT - 100
    clock.advance(LOCKOUT - 100)
    assert throttle.retry_after("alice", "10.9.9.9") is None


def test_failures_older_than_the_window_are_forgotten(throttle, clock):
    """Failures spread wider than window_s never add up to a lockout."""
    for _ in range(10):
        fail(throttle, 1)
        clock.advance(WINDOW / 4)
    assert throttle.retry_after("alice", "10.0.0.7") is None


def test_one_address_trying_many_names_is_locked(throttle):
    """Password spraying from one address locks the address, whatever name comes next."""
    for n in range(5):
        throttle.failed(f"user{n}", "203.0.113.5")
    assert throttle.retry_after("somebody-new", "203.0.113.5") == LOCKOUT
    assert throttle.retry_after("somebody-new", "10.0.0.7") is None


def test_success_clears_the_names_counter_but_not_the_addresses(throttle):
    """A good login forgets the name's failures; the address's still count."""
    fail(throttle, 4)
    throttle.succeeded("alice", "10.0.0.7")
    throttle.failed("alice", "10.0.0.8")
    assert throttle.retry_after("alice", "10.0.0.8") is None
    throttle.failed("bob", "10.0.0.7")
    assert throttle.retry_after("bob", "10.0.0.7") == LOCKOUT


def test_names_are_counted_without_regard_to_case(throttle):
    """Alice, ALICE and alice share one counter, as they share one account."""
    for name in ("Alice", "ALICE", "alice", "aLiCe", "alicE"):
        throttle.failed(name, None)
    assert throttle.retry_after("alice", None) == LOCKOUT


def test_the_address_limit_can_be_set_apart(clock):
    """address_max_failures lets a room behind one proxy address share a higher limit."""
    throttle = LoginThrottle(clock, max_failures=3, window_s=WINDOW, lockout_s=LOCKOUT, address_max_failures=10)
    for n in range(9):
        throttle.failed(f"user{n}", "192.0.2.1")
    assert throttle.retry_after("new", "192.0.2.1") is None
    throttle.failed("user9", "192.0.2.1")
    assert throttle.retry_after("new", "192.0.2.1") == LOCKOUT


def test_the_name_tried_is_not_logged(throttle, captured_logs):
    """A lockout is logged with the address, not the name (often a password typed in the wrong box)."""
    fail(throttle, 5, username="MyS3cretPassw0rd")
    assert captured_logs and "MyS3cretPassw0rd" not in repr(captured_logs)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.tuples(st.text(min_size=1, max_size=30), st.integers(0, 5000)), min_size=1, max_size=300))
def test_spraying_names_never_grows_memory_past_the_bound(attempts):
    """However many names and addresses fail, at most max_entries are tracked."""
    throttle = LoginThrottle(Clock(), max_failures=5, window_s=WINDOW, lockout_s=LOCKOUT, max_entries=50)
    for name, address in attempts:
        throttle.failed(name, f"198.51.100.{address}")
        assert throttle.tracked() <= 50


def test_a_lockout_survives_a_flood_of_new_names(clock):
    """When full, stale and unlocked entries go first, so flooding names does not lift a lockout."""
    throttle = LoginThrottle(clock, max_failures=2, window_s=60, lockout_s=600, max_entries=20)
    fail(throttle, 2, username="target", address=None)
    clock.advance(61)
    for n in range(30):
        throttle.failed(f"spray{n}", None)
    assert throttle.retry_after("target", None) is not None
