"""Messages to one unit, and the radio's report of whether the unit received each.

The radio's delivery report (CCDI PROGRESS 1D, FleetSync ``0``/``1``) does not say which message it is
about. So messages to units are confirmed one at a time: the next one is handed to the link only once the
last was confirmed, refused or timed out, and every report belongs to the one message awaiting it.

A FleetSync radio reports on whatever message it sent last, a broadcast too, so there broadcasts take
their turn as well (``send(..., group_grace_s=...)``): a report within the grace period settles the
broadcast, and none means the radio gives none for group messages. A CCDI radio acknowledges only SDMs to
one unit, so its broadcasts go straight to the link and never wait here.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import attrs
from attrs import frozen
from twisted.internet.defer import Deferred, fail
from twisted.internet.interfaces import IDelayedCall
from twisted.python.failure import Failure

from hub.events import CommandOutcomeKind
from plugins.shopwatch.link import Link, LinkClosed, QueueFull, Request


@frozen
class Settled:
    """How a message to a unit ended, once the radio had accepted it."""

    outcome: CommandOutcomeKind
    detail: str


@attrs.define(eq=False)
class _Message:
    request: Request
    unit: str
    done: Deferred[Settled]
    group_grace_s: float | None = None  # a broadcast: how long a report may take, if one comes at all
    awaiting: bool = False  # accepted by the radio; waiting for its report
    timer: IDelayedCall | None = None


class Deliveries:
    """Sends messages to units through ``link`` one confirmation at a time.

    ``send`` fires with a ``Settled`` (delivered, failed, timed out; or sent, when the adapter stops
    while waiting for the report), or fails as the link failed it (never sent, refused, no answer).
    """

    def __init__(self, *, link: Link, clock: Any, timeout_s: float, max_waiting: int, log: Any) -> None:
        self._link = link
        self._clock = clock
        self._timeout_s = timeout_s
        self._max_waiting = max_waiting
        self._log = log
        self._current: _Message | None = None
        self._waiting: deque[_Message] = deque()
        self._closed: str | None = None

    def send(self, request: Request, unit: str, *, group_grace_s: float | None = None) -> "Deferred[Settled]":
        """Send ``request`` to ``unit`` (for a broadcast: the group, with ``group_grace_s``) in its turn."""
        if self._closed is not None:
            return fail(LinkClosed(self._closed))
        if self._current is not None and len(self._waiting) >= self._max_waiting:
            return fail(QueueFull(f"queue full: {len(self._waiting)} messages are waiting for delivery reports"))
        message = _Message(request, unit, Deferred(), group_grace_s=group_grace_s)
        self._waiting.append(message)
        self._next()
        return message.done

    def report(self, delivered: bool) -> bool:
        """The radio's delivery report; False when no message was waiting for one."""
        message = self._current
        if message is None or not message.awaiting:
            self._log.info("delivery_report_unmatched", delivered=delivered)
            return False
        if message.group_grace_s is not None:
            self._settle(message, Settled(CommandOutcomeKind.SENT, f"the radio reports it went out to {message.unit}")
                         if delivered else Settled(CommandOutcomeKind.FAILED, "the radio reports it could not send it"))
        elif delivered:
            self._settle(message, Settled(CommandOutcomeKind.DELIVERED, f"unit {message.unit} received it"))
        else:
            self._settle(message, Settled(CommandOutcomeKind.FAILED,
                                          f"the radio reports that unit {message.unit} did not receive it"))
        return True

    def close(self, reason: str) -> None:
        """Stop: waiting messages fail with ``LinkClosed``; one the radio accepted counts as sent."""
        if self._closed is not None:
            return
        self._closed = reason
        waiting = list(self._waiting)
        self._waiting.clear()
        for message in waiting:
            message.done.errback(LinkClosed(reason))
        current = self._current
        if current is not None and current.awaiting:
            detail = f"sent; {reason} before the radio reported delivery"
            self._settle(current, Settled(CommandOutcomeKind.SENT, detail))
        # A message still with the link is failed by the link's own close.

    def _next(self) -> None:
        if self._current is not None or not self._waiting or self._closed is not None:
            return
        message = self._waiting.popleft()
        self._current = message
        self._link.submit(message.request).addCallbacks(
            self._accepted, self._not_sent, callbackArgs=(message,), errbackArgs=(message,)
        )

    def _accepted(self, _reply: object, message: _Message) -> None:
        if self._current is not message:
            return
        message.awaiting = True
        wait = message.group_grace_s if message.group_grace_s is not None else self._timeout_s
        message.timer = self._clock.callLater(wait, self._timed_out, message)

    def _not_sent(self, failure: Failure, message: _Message) -> None:
        if self._current is message:
            self._current = None
        message.done.errback(failure)
        self._next()

    def _timed_out(self, message: _Message) -> None:
        message.timer = None
        if message.group_grace_s is not None:
            detail = f"the radio sent it to {message.unit}; it gives no report for group messages"
            self._settle(message, Settled(CommandOutcomeKind.SENT, detail))
            return
        self._settle(message, Settled(CommandOutcomeKind.TIMED_OUT,
                                      f"the radio sent it but gave no delivery report within {self._timeout_s:g} s"))

    def _settle(self, message: _Message, settled: Settled) -> None:
        if message.timer is not None and message.timer.active():
            message.timer.cancel()
        message.timer = None
        self._current = None
        message.done.callback(settled)
        self._next()
