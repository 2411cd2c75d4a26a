"""One camera's health: what its attempts add up to, and how long to wait before the next one.

Pure logic on an injected clock and random source, so every rule is a one-line test. A camera is
``online``, ``offline`` (it does not answer), ``auth_failed`` (it refuses the hub's credentials; the
client has already re-read its clock and tried again before saying so) or ``degraded`` (it answers, but
events cannot be subscribed or its replies cannot be read). A network blip must not flood the room with
offline/online pairs, so the verdict changes only after ``failures_before_offline`` failed attempts in a
row (or, coming back, ``recoveries_before_online`` good ones); a refused login is a definite answer and
counts at once. Each change is reported once, never each failure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
from attrs import frozen

from plugins.onvif.events import AUTH_FAILED, DEGRADED, OFFLINE, ONLINE

#: How much shorter than the back-off a wait may be, drawn at random so that cameras that failed
#: together (a switch rebooted) do not all retry in the same instant.
JITTER = 0.2

# What went wrong with one attempt.
UNREACHABLE = "unreachable"
REFUSED_LOGIN = "refused_login"
UNUSABLE = "unusable"
_STATE_OF = {UNREACHABLE: OFFLINE, REFUSED_LOGIN: AUTH_FAILED, UNUSABLE: DEGRADED}


@frozen
class Transition:
    """The camera's state changed from ``previous`` (None: the first verdict) to ``state``."""

    state: str
    previous: str | None
    reason: str | None
    failures: int
    since: float


@attrs.define
class BackOff:
    """Waits that start at ``minimum_s`` and double with each failure in a row, up to ``maximum_s``."""

    minimum_s: float
    maximum_s: float
    random: Callable[[], float]

    def delay(self, failures: int) -> float:
        """The wait after the ``failures``-th failure in a row (1 is the first), jittered down."""
        if failures < 1:
            return 0.0
        # min() first, so the exponent never grows into an overflow for a camera dead for weeks.
        full = min(self.maximum_s, self.minimum_s * 2 ** min(failures - 1, 64))
        return full * (1 - JITTER * self.random())


class CameraHealth:
    """The verdict on one camera, from the outcome of each attempt to reach or use it.

    ``succeeded`` and ``failed`` return a ``Transition`` when the state changes, else None. ``failed``
    takes ``UNREACHABLE``, ``REFUSED_LOGIN`` or ``UNUSABLE``; mixed failures count together, and once
    enough are in a row the state is the one the latest failure means (a camera offline that comes back
    answering but without events is degraded at once).
    """

    def __init__(
        self,
        *,
        clock: Any,
        failures_before_offline: int,
        recoveries_before_online: int,
        retry_min_s: float,
        retry_max_s: float,
        random: Callable[[], float],
    ) -> None:
        self._clock = clock
        self._failures_before_offline = failures_before_offline
        self._recoveries_before_online = recoveries_before_online
        self._back_off = BackOff(retry_min_s, retry_max_s, random)
        self.state: str | None = None
        self.since: float | None = None
        self.failures = 0
        self.successes = 0
        self.reason: str | None = None

    def succeeded(self, reason: str | None = None) -> Transition | None:
        """The camera answered and did what was asked (connected, subscribed, a poll answered)."""
        self.failures = 0
        self.successes += 1
        if self.state == ONLINE:
            return None
        # The first verdict needs no run of successes: there is no earlier state to be sure against.
        if self.state is not None and self.successes < self._recoveries_before_online:
            return None
        return self._change(ONLINE, reason)

    def failed(self, what: str, reason: str) -> Transition | None:
        """An attempt failed: ``what`` is ``UNREACHABLE``, ``REFUSED_LOGIN`` or ``UNUSABLE``."""
        state = _STATE_OF[what]
        self.successes = 0
        self.failures += 1
        self.reason = reason
        if self.state == state:
            return None
        if what != REFUSED_LOGIN and self.failures < self._failures_before_offline:
            return None
        return self._change(state, reason)

    def retry_in_s(self) -> float:
        """How long to wait before the next attempt after the failures so far (0 when none)."""
        return self._back_off.delay(self.failures)

    def _change(self, state: str, reason: str | None) -> Transition:
        previous, self.state = self.state, state
        self.since = self._clock.seconds()
        return Transition(state=state, previous=previous, reason=reason, failures=self.failures, since=self.since)
