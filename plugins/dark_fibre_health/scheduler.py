"""Paces probes evenly over the interval: a thousand nodes at one probe a second each is a probe every
millisecond, never a thousand at the top of each second.

Target ``i`` of ``n`` has its slot at ``i * interval / n`` into every interval. One timer ticks every
``tick_s`` and sends the targets whose slots fell since the last tick, so a tick sends about
``n * tick / interval`` of them; then it calls ``on_tick(now)`` (where the pinger sweeps its timeouts).
On time, no tick sends more than ``ceil(n * tick / interval) + 1``; a tick that came late (a busy
reactor) is caught up over the next ticks at no more than twice that per tick, and when the reactor was held up for more than a quarter of
the interval, the slots it missed are skipped rather than sent in a burst (``skipped`` counts them):
those targets are probed in the next interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from twisted.internet.task import LoopingCall

#: Slots missed beyond this share of the interval (the reactor was held up) are skipped; fewer are caught
#: up over the next ticks.
SKIP_BEHIND_SHARE = 0.25


class ProbeScheduler:
    """Calls ``send(name)`` once per ``interval_s`` for every target, spread evenly, in ticks of ``tick_s``."""

    def __init__(self, reactor: Any, *, interval_s: float, tick_s: float, send: Callable[[str], None],
                 on_tick: Callable[[float], None] | None = None) -> None:
        if interval_s <= 0 or tick_s <= 0:
            raise ValueError("interval_s and tick_s must be positive")
        self._reactor = reactor
        self._interval_s = interval_s
        self._tick_s = tick_s
        self._send = send
        self._on_tick = on_tick
        self._names: tuple[str, ...] = ()
        self._loop: LoopingCall | None = None
        #: When slot 0 of the current numbering is due; slot k is due at origin + k * interval / n.
        self._origin = 0.0
        #: The next slot to send.
        self._next = 0
        #: The reactor time up to which slots have been sent (the last tick).
        self._sent_until = 0.0
        self.skipped = 0

    @property
    def targets(self) -> tuple[str, ...]:
        return self._names

    @property
    def running(self) -> bool:
        return self._loop is not None

    def max_per_tick(self) -> int:
        """The most targets a tick on time sends: its share of the interval, rounded up, plus one for the
        rounding of slot times. A tick catching up sends up to twice its share, plus one."""
        return math.ceil(len(self._names) * self._tick_s / self._interval_s) + 1

    def set_targets(self, names: Sequence[str]) -> None:
        """Probe ``names`` from now on. While running, the new list continues from the same point of the
        interval: the targets whose new slots lie before that point wait for the next interval, and none
        is sent early to catch up."""
        names = tuple(names)
        if self._loop is not None:
            if self._names and names:
                # Renumber from the start of the interval the last tick was in, and skip the slots of
                # the new list that are already behind that tick.
                cycles = math.floor((self._sent_until - self._origin) / self._interval_s)
                self._origin += cycles * self._interval_s
                self._next = math.floor((self._sent_until - self._origin) * len(names) / self._interval_s) + 1
            else:
                # Nothing was being sent: a fresh start, slot 0 due now.
                self._origin = self._reactor.seconds()
                self._next = 0
        self._names = names

    def start(self) -> None:
        if self._loop is not None:
            return
        now = self._reactor.seconds()
        self._origin = self._sent_until = now
        self._next = 0
        loop = LoopingCall(self._tick)
        loop.clock = self._reactor
        self._loop = loop
        loop.start(self._tick_s, now=True)

    def stop(self) -> None:
        """Stop ticking; no timer is left behind."""
        loop, self._loop = self._loop, None
        if loop is not None and loop.running:
            loop.stop()

    def _tick(self) -> None:
        now = self._reactor.seconds()
        names = self._names
        count = len(names)
        if count:
            due = math.floor((now - self._origin) * count / self._interval_s)
            first = self._next
            if due >= first:
                budget = self.max_per_tick()
                behind = due - first + 1
                if behind > max(budget, count * SKIP_BEHIND_SHARE):
                    # Held up for a good part of the interval: what was missed is not sent at all.
                    self.skipped += behind - budget
                    first = due - budget + 1
                # Behind after a late tick: catch up at up to twice the share per tick, no faster.
                last = min(due, first + budget - 1 + (budget - 1 if behind > budget else 0))
                send = self._send
                for slot in range(first, last + 1):
                    send(names[slot % count])
                self._next = last + 1
                if self._next >= count:  # keep the numbers small: renumber from this interval's start
                    cycles = self._next // count
                    self._origin += cycles * self._interval_s
                    self._next -= cycles * count
        self._sent_until = now
        if self._on_tick is not None:
            self._on_tick(now)
