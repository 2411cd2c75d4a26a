"""The transaction queue between the hub and the base radio: one request in flight, the rest waiting in order.

A CCDI radio refuses a command sent before it accepted the last one, so requests go one at a time: each is
written, and completes when the radio accepts it with a ``.`` (or, for a query, when its reply arrives).
A request that gets no answer within ``command_timeout_s`` is sent again, as is one the radio refused as
not ready (after ``not_ready_retry_s``) or with a checksum error, up to ``command_retries`` times; any
other refusal fails it with the radio's reason. FleetSync has no handshake: a request completes once it
is written.

Sans-IO apart from the clock: the owner hands in every decoded message (``received``) and a ``write``
function, so every exchange is a unit test on ``task.Clock``.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Callable, Sequence

import attrs
from attrs import frozen
from twisted.internet.defer import Deferred, fail
from twisted.internet.interfaces import IDelayedCall

from plugins.shopwatch.codec import CodecError
from plugins.shopwatch.codec.ccdi import Prompt, TransactionError, UnreadableFrame

_CHECKSUM_ERROR = 0x02


class LinkError(Exception):
    """A request that did not complete; the message says why, for the operator."""


class QueueFull(LinkError):
    """Too many requests are waiting already; this one was never sent."""


class LinkClosed(LinkError):
    """The adapter stopped before the request completed."""


class RadioRefused(LinkError):
    """The radio refused the request (a CCDI error other than a retried one)."""

    def __init__(self, message: str, error: TransactionError) -> None:
        super().__init__(message)
        self.error = error


class NoAnswer(LinkError):
    """The radio never accepted the request, however often it was sent."""


@frozen
class Request:
    """A message for the radio. ``reply`` picks the frame that answers it (a query's); without one, the
    radio's acceptance completes it. ``label`` names it in logs. ``internal`` requests (start-up,
    keep-alive, SDM housekeeping) are the adapter's own and never refused for a full queue."""

    message: Any
    label: str
    reply: Callable[[Any], bool] | None = None
    internal: bool = False


@frozen
class LinkSettings:
    """How patient the link is; ``handshake`` is true for dialects whose radio accepts each command (CCDI)."""

    handshake: bool
    command_timeout_s: float
    command_retries: int
    not_ready_retry_s: float
    max_queue: int


@attrs.define(eq=False)
class _Pending:
    request: Request
    data: bytes
    done: Deferred[Any]
    attempts: int = 0
    accepted: bool = False


class Link:
    """Sends requests one at a time and settles each: its Deferred fires with the reply (or None once
    accepted), or fails with a ``LinkError`` (``CodecError`` if the message cannot be encoded).

    ``no_answer(count)`` is called each time a request ends unanswered, with how many in a row have; an
    answer of any kind starts the count again. ``refused(error, label)`` is called for each refusal that
    failed a request, and for every fatal error.
    """

    def __init__(
        self,
        settings: LinkSettings,
        *,
        clock: Any,
        write: Callable[[bytes], None],
        encode: Callable[[Any], bytes],
        log: Any,
        no_answer: Callable[[int], None] = lambda count: None,
        refused: Callable[[TransactionError, str], None] = lambda error, label: None,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._write = write
        self._encode = encode
        self._log = log
        self._no_answer = no_answer
        self._refused = refused
        self._queue: deque[_Pending] = deque()
        self._in_flight: _Pending | None = None
        self._timer: IDelayedCall | None = None
        # A "." right after a frame from the radio is that frame's trailer, not an acceptance.
        self._expect_trailer = False
        self._unanswered = 0
        self._closed: str | None = None

    @property
    def idle(self) -> bool:
        """Nothing in flight and nothing waiting."""
        return self._in_flight is None and not self._queue

    @property
    def waiting(self) -> int:
        return len(self._queue)

    def submit(self, request: Request) -> "Deferred[Any]":
        """Queue ``request`` behind the others; the Deferred settles it (see the class)."""
        if self._closed is not None:
            return fail(LinkClosed(self._closed))
        if not request.internal and len(self._queue) >= self._settings.max_queue:
            return fail(QueueFull(f"queue full: {len(self._queue)} commands are waiting for the radio already"))
        try:
            pending = _Pending(request, self._encode(request.message), Deferred())
        except CodecError as error:
            return fail(error)
        self._queue.append(pending)
        self._pump()
        return pending.done

    def restarted(self, first: Sequence[Request]) -> "list[Deferred[Any]]":
        """The radio restarted and forgot what it was doing: send ``first`` (its re-initialisation) before
        anything else, then the request it was working on, again from its first attempt."""
        if self._closed is not None:
            return [fail(LinkClosed(self._closed)) for _request in first]
        interrupted, self._in_flight = self._in_flight, None
        self._cancel_timer()
        if interrupted is not None:
            self._log.info("radio_request_interrupted", request=interrupted.request.label)
            interrupted.attempts = 0
            interrupted.accepted = False
            self._queue.appendleft(interrupted)
        fronts = []
        for request in first:
            try:
                fronts.append(_Pending(request, self._encode(request.message), Deferred()))
            except CodecError as error:  # a start-up message the codec refuses is a bug: say so, go on
                self._log.error("radio_request_unencodable", request=request.label, error=str(error))
        self._queue.extendleft(reversed(fronts))
        self._pump()
        return [pending.done for pending in fronts]

    def close(self, reason: str) -> None:
        """Fail the request in flight and every waiting one with ``LinkClosed(reason)``; accept no more."""
        if self._closed is not None:
            return
        self._closed = reason
        self._cancel_timer()
        pending = ([self._in_flight] if self._in_flight is not None else []) + list(self._queue)
        self._in_flight = None
        self._queue.clear()
        for item in pending:
            item.done.errback(LinkClosed(reason))

    # --- from the radio ----------------------------------------------------------------------------

    def received(self, message: Any) -> bool:
        """Take one decoded message; True if it belonged to the link (a handshake, a reply, a refusal)."""
        if not self._settings.handshake:
            return False
        if isinstance(message, Prompt):
            self._prompt()
            return True
        self._expect_trailer = True  # every frame the radio sends is followed by ".", an unreadable one too
        if isinstance(message, UnreadableFrame):
            return True
        pending = self._in_flight
        if isinstance(message, TransactionError):
            if message.fatal:
                self._refused(message, pending.request.label if pending is not None else "")
            if pending is None:
                return False  # nothing was asked: the owner reports it
            self._error(pending, message)
            return True
        if pending is not None and pending.request.reply is not None and pending.request.reply(message):
            # A reply completes its query even if the acceptance before it was lost in noise.
            self._complete(pending, message)
            return True
        return False

    def _prompt(self) -> None:
        if self._expect_trailer:
            self._expect_trailer = False
            return
        pending = self._in_flight
        if pending is None or pending.accepted:
            self._log.debug("radio_prompt_unexpected")
            return
        if pending.request.reply is None:
            self._complete(pending, None)
            return
        # Accepted; the reply is on its way. It gets a fresh time-out of its own.
        pending.accepted = True
        self._unanswered = 0
        self._arm(self._settings.command_timeout_s, self._timed_out, pending)

    def _error(self, pending: _Pending, error: TransactionError) -> None:
        self._cancel_timer()
        retry = not error.fatal and error.etype == 0 and (error.not_ready or error.errnum == _CHECKSUM_ERROR)
        if retry and pending.attempts <= self._settings.command_retries:
            self._log.info("radio_request_refused_retrying", request=pending.request.label, error=error.meaning,
                           attempt=pending.attempts)
            self._unanswered = 0
            self._arm(self._settings.not_ready_retry_s if error.not_ready else 0, self._send, pending)
            return
        self._unanswered = 0
        detail = f"the radio refused it: {error.meaning}"
        if retry:
            detail += f" ({pending.attempts} attempts)"
        self._log.warning("radio_request_refused", request=pending.request.label, error=error.meaning,
                          attempts=pending.attempts)
        if not error.fatal:
            self._refused(error, pending.request.label)
        self._finish(pending, RadioRefused(detail, error))

    # --- to the radio ------------------------------------------------------------------------------

    def _pump(self) -> None:
        if self._in_flight is not None or not self._queue or self._closed is not None:
            return
        pending = self._queue.popleft()
        self._in_flight = pending
        self._send(pending)

    def _send(self, pending: _Pending) -> None:
        self._timer = None
        pending.attempts += 1
        pending.accepted = False
        self._log.debug("radio_request_sent", request=pending.request.label, attempt=pending.attempts)
        if not self._settings.handshake:
            self._write(pending.data)
            self._complete(pending, None)
            return
        # Armed before writing: a transport that answers at once (a test's, a loopback) completes the
        # request inside write(), and that must cancel this time-out rather than find none yet.
        self._arm(self._settings.command_timeout_s, self._timed_out, pending)
        self._write(pending.data)

    def _timed_out(self, pending: _Pending) -> None:
        self._timer = None
        if pending.attempts <= self._settings.command_retries:
            self._log.info("radio_request_timed_out_retrying", request=pending.request.label,
                           attempt=pending.attempts)
            self._send(pending)
            return
        self._unanswered += 1
        attempts = "once" if pending.attempts == 1 else f"{pending.attempts} times"
        self._log.warning("radio_request_unanswered", request=pending.request.label, attempts=pending.attempts,
                          in_a_row=self._unanswered)
        self._finish(pending, NoAnswer(f"the radio did not answer (sent {attempts})"))
        self._no_answer(self._unanswered)

    def _complete(self, pending: _Pending, reply: Any) -> None:
        self._unanswered = 0
        self._finish(pending, reply)

    def _finish(self, pending: _Pending, result: Any) -> None:
        # Cleared before the Deferred fires: its callbacks may submit the next request at once.
        self._cancel_timer()
        self._in_flight = None
        if isinstance(result, Exception):
            pending.done.errback(result)
        else:
            pending.done.callback(result)
        self._pump()

    def _arm(self, delay: float, action: Callable[[_Pending], None], pending: _Pending) -> None:
        self._cancel_timer()
        self._timer = self._clock.callLater(delay, action, pending)

    def _cancel_timer(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None and timer.active():
            timer.cancel()
