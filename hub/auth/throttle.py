"""Login throttling: too many failed logins for one user name, or from one address, lock it out a while.

Two counters per attempt: the user name (stops guessing one operator's password from many places) and
the client address (stops one place trying many names, "password spraying"). After ``max_failures``
failures within ``window_s`` the name or address is refused for ``lockout_s``. A successful login
clears the name's counter, not the address's, so an attacker with one valid account cannot reset
the counter of the address they spray from.

Memory is bounded: at most ``max_entries`` names and addresses are tracked. Past that, entries with
nothing recent are dropped first, then the least recently touched, so spraying random names can only
cost a bounded amount of memory; names and addresses under lockout are dropped last.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from typing import Any

import attrs

from hub.logging_setup import get_logger

log = get_logger(component="login_throttle")

# Longer names than this are not valid users anyway; keying on a prefix stops huge keys.
_MAX_KEY_LENGTH = 128


@attrs.define
class _Counter:
    failures: deque[float] = attrs.field(factory=deque)
    locked_until: float = 0.0


class LoginThrottle:
    """Counts failed logins per user name and per client address on the injected clock.

    ``address_max_failures`` defaults to ``max_failures``. If every desk reaches the hub through one
    proxy address, raise it (one operator's typos would otherwise lock out the room).
    """

    def __init__(
        self, clock: Any, max_failures: int, window_s: float, lockout_s: float, *,
        address_max_failures: int | None = None, max_entries: int = 10_000,
    ) -> None:
        if max_failures < 1 or max_entries < 2:
            raise ValueError("max_failures must be at least 1 and max_entries at least 2")
        self._clock = clock
        self.max_failures = max_failures
        self.address_max_failures = address_max_failures or max_failures
        self.window_s = window_s
        self.lockout_s = lockout_s
        self.max_entries = max_entries
        self._counters: OrderedDict[tuple[str, str], _Counter] = OrderedDict()

    def retry_after(self, username: str, address: str | None) -> float | None:
        """Seconds until a login for ``username`` from ``address`` may be tried again, or None if it may now."""
        now = self._clock.seconds()
        waits = [
            counter.locked_until - now
            for key in self._keys(username, address)
            if (counter := self._counters.get(key)) is not None and counter.locked_until > now
        ]
        return max(waits) if waits else None

    def failed(self, username: str, address: str | None) -> None:
        """Count one failed login; lock the name or the address if it has now failed too often."""
        now = self._clock.seconds()
        for key in self._keys(username, address):
            counter = self._counters.get(key)
            if counter is None:
                counter = self._counters[key] = _Counter()
            self._counters.move_to_end(key)
            failures = counter.failures
            failures.append(now)
            while failures and failures[0] <= now - self.window_s:
                failures.popleft()
            limit = self.max_failures if key[0] == "user" else self.address_max_failures
            if len(failures) >= limit:
                counter.locked_until = now + self.lockout_s
                failures.clear()
                # The name tried is not logged: it is often a password typed into the wrong field.
                log.warning("login_locked", kind=key[0], address=address, lockout_s=self.lockout_s)
        if len(self._counters) > self.max_entries:
            self._shrink(now)

    def succeeded(self, username: str, address: str | None) -> None:
        """A login succeeded: forget the name's failures (the address's stay counted)."""
        self._counters.pop(("user", _name_key(username)), None)

    def tracked(self) -> int:
        """How many names and addresses are being counted (for metrics and the bounded-memory test)."""
        return len(self._counters)

    def _keys(self, username: str, address: str | None) -> list[tuple[str, str]]:
        keys = [("user", _name_key(username))]
        if address:
            keys.append(("address", address[:_MAX_KEY_LENGTH]))
        return keys

    def _shrink(self, now: float) -> None:
        stale = [
            key for key, counter in self._counters.items()
            if counter.locked_until <= now and (not counter.failures or counter.failures[-1] <= now - self.window_s)
        ]
        for key in stale:
            del self._counters[key]
        # Still too many: all recent. Drop the least recently touched, keeping a tenth free so this
        # sweep does not run at every failure; lockouts go last, so a flood of new names cannot
        # unlock the name or address under attack.
        target = self.max_entries - self.max_entries // 10
        excess = len(self._counters) - target
        if excess > 0:
            unlocked = [key for key, counter in self._counters.items() if counter.locked_until <= now]
            for key in unlocked[:excess]:
                del self._counters[key]
        while len(self._counters) > target:
            self._counters.popitem(last=False)


def _name_key(username: str) -> str:
    # User names compare without regard to case, so "Alice" and "alice" share one counter.
    return (username if isinstance(username, str) else "").casefold()[:_MAX_KEY_LENGTH]
