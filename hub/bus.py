"""The event bus: durable publish, then ordered fan-out by topic pattern to isolated subscribers.

``publish`` journals the event first; only when it is durable does the publisher's Deferred fire (with
the sequence number) and subscribers see it. A subscriber may start from a sequence number or a named
cursor: it reads the journal until it reaches the live head, then takes live events, with no gap and no
duplicate. Each subscriber has its own bounded queue and its own pace; a slow or failing one never holds
up the publisher or the others. What happens when a queue overflows is the subscriber's declared
policy, and it is counted and logged.
"""

from __future__ import annotations

import enum
import inspect
import itertools
from collections import deque
from typing import TYPE_CHECKING, Any, Callable

import attrs
import structlog
from twisted.internet.defer import Deferred, fail
from twisted.python.failure import Failure

from hub.events import Event, EventCodec, EventDecodeError
from hub.journal import AppendRequest, Appended, Journal
from hub.topics import TopicMatcher

if TYPE_CHECKING:
    import sqlite3

Handler = Callable[[Event], Any]

#: Rows read from the journal per step of a catch-up; the reactor gets a turn between steps.
CATCH_UP_CHUNK = 500
DEFAULT_QUEUE_SIZE = 10_000


class BusClosed(RuntimeError):
    """The bus has been closed; nothing more is published."""


class Overflow(enum.Enum):
    """What a subscriber's full queue does with the next event.

    ``catch_up`` (the default) loses nothing: the subscriber stops queueing live events and reads from
    the journal, from where it had got to, until it is level again. ``drop_oldest`` and ``drop_newest``
    are for consumers that only want what is current (a wall display); every drop is counted.
    """

    CATCH_UP = "catch_up"
    DROP_OLDEST = "drop_oldest"
    DROP_NEWEST = "drop_newest"


class SubscriberState(enum.Enum):
    CATCHING_UP = "catching_up"
    LIVE = "live"
    CANCELLED = "cancelled"


@attrs.frozen
class SubscriberStats:
    """A subscriber's counters, for ``/metrics`` and the status panel."""

    name: str
    pattern: str
    state: str
    queue_depth: int
    position: int
    delivered: int
    failed: int
    overflows: int
    dropped: int
    undecodable: int


class Subscription:
    """One subscriber: its pattern, queue, position in the journal and counters."""

    def __init__(
        self,
        bus: "Bus",
        pattern: str,
        handler: Handler,
        *,
        name: str,
        position: int,
        catching_up: bool,
        queue_size: int,
        overflow: Overflow,
        cursor: str | None,
    ) -> None:
        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        self._bus = bus
        self.pattern = pattern
        self.name = name
        self.cursor = cursor
        self._matches = TopicMatcher(pattern)
        self._handler = handler
        self._queue: deque[Event] = deque()
        self._queue_size = queue_size
        self._overflow = overflow
        self._state = SubscriberState.CATCHING_UP if catching_up else SubscriberState.LIVE
        # Highest seq taken into the queue or passed over as not matching.
        self._position = position
        # Highest seq handed to the handler; catch-up after an overflow resumes after it.
        self._handed = position
        self._busy = False
        self._pumping = False
        self._scheduled: Any = None
        self._in_overflow = False
        self._log = bus.log.bind(subscriber=name, pattern=pattern)
        self.delivered = 0
        self.failed = 0
        self.overflows = 0
        self.dropped = 0
        self.undecodable = 0

    @property
    def state(self) -> SubscriberState:
        return self._state

    @property
    def position(self) -> int:
        return self._position

    def stats(self) -> SubscriberStats:
        return SubscriberStats(
            name=self.name,
            pattern=self.pattern,
            state=self._state.value,
            queue_depth=len(self._queue),
            position=self._position,
            delivered=self.delivered,
            failed=self.failed,
            overflows=self.overflows,
            dropped=self.dropped,
            undecodable=self.undecodable,
        )

    def cancel(self) -> None:
        """Stop delivering; events already queued are discarded (they stay in the journal)."""
        if self._state is SubscriberState.CANCELLED:
            return
        self._state = SubscriberState.CANCELLED
        self._queue.clear()
        if self._scheduled is not None and self._scheduled.active():
            self._scheduled.cancel()
        self._scheduled = None
        self._bus._forget(self)

    # --- live events --------------------------------------------------------------------------------

    def _offer(self, event: Event) -> None:
        if self._state is not SubscriberState.LIVE:
            return
        seq = event.seq
        assert seq is not None
        if seq <= self._position:
            return
        self._position = seq
        if not self._matches(event.topic):
            return
        if not self._queue and not self._busy and not self._pumping:
            # Nothing waiting ahead of it: hand it over directly, the common case when keeping up.
            self._handed = seq
            self._call(event)
            return
        if len(self._queue) >= self._queue_size:
            if not self._overflowed(event):
                return
        self._queue.append(event)
        self._pump()

    def _overflowed(self, event: Event) -> bool:
        """Apply the overflow policy; True if ``event`` should still be queued."""
        if not self._in_overflow:
            self._in_overflow = True
            self.overflows += 1
            self._log.warning(
                "subscriber_overflow", policy=self._overflow.value, queue_size=self._queue_size
            )
        if self._overflow is Overflow.DROP_OLDEST:
            self._queue.popleft()
            self.dropped += 1
            return True
        if self._overflow is Overflow.DROP_NEWEST:
            self.dropped += 1
            return False
        # Catch up: forget the queue and read the journal from the last event handed over.
        self._queue.clear()
        self._position = self._handed
        self._state = SubscriberState.CATCHING_UP
        return False

    # --- catching up from the journal -----------------------------------------------------------

    def _schedule_pump(self) -> None:
        if self._scheduled is None and self._state is not SubscriberState.CANCELLED:
            self._scheduled = self._bus.clock.callLater(0, self._scheduled_pump)

    def _scheduled_pump(self) -> None:
        self._scheduled = None
        self._pump()

    def _fill(self) -> None:
        """Read the next chunk of the journal into the queue, or go live when level with the head."""
        head = self._bus.head
        room = max(self._queue_size - len(self._queue), 1)
        rows = self._bus.journal.read_after(self._position, min(room, CATCH_UP_CHUNK))
        for row in rows:
            if row.seq > head:
                # Committed but not yet dispatched: it will arrive live.
                break
            self._position = row.seq
            if not self._matches(row.topic):
                continue
            try:
                event = self._bus.codec.from_json(row.body, seq=row.seq)
            except EventDecodeError as error:
                self.undecodable += 1
                self._log.error("journal_row_undecodable", seq=row.seq, error=str(error))
                continue
            self._queue.append(event)
        if self._position >= head or not rows or rows[-1].seq > head:
            # Everything up to the head has been read; live dispatch delivers what comes next.
            self._position = max(self._position, head)
            self._state = SubscriberState.LIVE
            if self._in_overflow:
                self._in_overflow = False
                self._log.info("subscriber_level_again", overflows=self.overflows)

    # --- delivery ------------------------------------------------------------------------------------

    def _pump(self) -> None:
        if self._pumping or self._busy:
            return
        self._pumping = True
        filled = False
        try:
            while not self._busy and self._state is not SubscriberState.CANCELLED:
                if not self._queue:
                    if self._state is not SubscriberState.CATCHING_UP:
                        if self._in_overflow:
                            self._in_overflow = False
                            self._log.info("subscriber_drained", dropped=self.dropped)
                        break
                    if filled:
                        # Give the reactor a turn between journal chunks.
                        self._schedule_pump()
                        break
                    self._fill()
                    filled = True
                    continue
                event = self._queue.popleft()
                self._handed = event.seq  # type: ignore[assignment]
                self._call(event)
        finally:
            self._pumping = False

    def _call(self, event: Event) -> None:
        try:
            result = self._handler(event)
            if result is None:
                self._done(event)
                return
            if inspect.iscoroutine(result):
                result = Deferred.fromCoroutine(result)
        except Exception:  # noqa: BLE001 - a failing subscriber is isolated, never propagated
            self._handler_failed(Failure(), event)
            self._done(event)
            return
        if isinstance(result, Deferred):
            self._busy = True
            result.addCallbacks(
                self._async_done, self._async_failed, callbackArgs=(event,), errbackArgs=(event,)
            )
        else:
            self._done(event)

    def _async_done(self, _result: object, event: Event) -> None:
        self._busy = False
        self._done(event)
        if not self._pumping:
            self._pump()

    def _async_failed(self, failure: Failure, event: Event) -> None:
        self._handler_failed(failure, event)
        self._async_done(None, event)

    def _handler_failed(self, failure: Failure, event: Event) -> None:
        self.failed += 1
        self._log.error(
            "subscriber_failed",
            seq=event.seq,
            topic=event.topic,
            error=f"{failure.type.__name__}: {failure.getErrorMessage()}",
            exc_info=(failure.type, failure.value, failure.getTracebackObject()),
        )

    def _done(self, event: Event) -> None:
        self.delivered += 1
        if self.cursor is not None:
            self._bus._advance_cursor(self.cursor, event.seq)  # type: ignore[arg-type]


class Bus:
    """Publishes events durably and delivers them in journal order to every matching subscriber."""

    def __init__(
        self,
        journal: Journal,
        codec: EventCodec,
        clock: Any,
        log: Any = None,
        *,
        default_queue_size: int = DEFAULT_QUEUE_SIZE,
    ) -> None:
        self.journal = journal
        self.codec = codec
        self.clock = clock
        self.log = log if log is not None else structlog.get_logger("hub.bus")
        self.default_queue_size = default_queue_size
        self.head = journal.head()
        self.published = 0
        self.publish_failures = 0
        self._subscriptions: list[Subscription] = []
        self._names = itertools.count(1)
        self._closed = False
        self._cursor_saving: dict[str, int] = {}
        self._cursor_wanted: dict[str, int] = {}

    # --- publishing ------------------------------------------------------------------------------------

    def publish(
        self, event: Event, *, also: "Callable[[sqlite3.Connection, int], Any] | None" = None
    ) -> "Deferred[int]":
        """Journal ``event``; the Deferred fires with its sequence number once it is durable.

        Subscribers get the event (carrying its ``seq``) right after. Publishing an event whose id is
        already in the journal fires with the existing number and delivers nothing again.

        ``also(connection, seq)`` is more work for the same database transaction (the incident store
        and the audit log use it): the event and that work are both kept, or neither is. It runs on
        the writer's thread, so it must touch nothing but the connection it is given.
        """
        if self._closed:
            return fail(BusClosed("the bus is closed"))
        try:
            request = AppendRequest(
                event_id=event.id,
                topic=event.topic,
                received_at=event.received_at.timestamp(),
                body=self.codec.to_json(event),
                also=also,
            )
        except Exception:  # noqa: BLE001 - an unserialisable payload is the publisher's error
            return fail()
        # Subscribers are handed the event inside this chain, so they run after the commit and before
        # any callback the publisher adds: both see a durable event with its seq.
        return self.journal.append(request).addCallbacks(
            self._committed, self._not_committed, callbackArgs=(event,), errbackArgs=(event,)
        )

    def _committed(self, appended: Appended, event: Event) -> int:
        if not appended.new:
            return appended.seq
        self.published += 1
        self.head = appended.seq
        event = event.with_seq(appended.seq)
        for subscription in tuple(self._subscriptions):
            subscription._offer(event)
        return appended.seq

    def _not_committed(self, failure: Failure, event: Event) -> Failure:
        self.publish_failures += 1
        self.log.error(
            "journal_append_failed", event_id=event.id, topic=event.topic, error=failure.getErrorMessage()
        )
        return failure

    # --- subscribing ----------------------------------------------------------------------------------

    def subscribe(
        self,
        pattern: str,
        handler: Handler,
        *,
        name: str | None = None,
        since: int | None = None,
        cursor: str | None = None,
        queue_size: int | None = None,
        overflow: Overflow = Overflow.CATCH_UP,
    ) -> Subscription:
        """Deliver events whose topic matches ``pattern`` to ``handler``, in journal order.

        - No ``since`` and no ``cursor``: live events from now on.
        - ``since=N``: every journaled event after N, then live.
        - ``cursor="name"``: a durable position kept in the journal; delivery resumes after the last
          event the handler finished, across restarts (at least once: after a crash, the events
          handled since the last saved position come again). A new cursor starts at ``since``, or now.

        ``handler`` may return a Deferred or be a coroutine function; the next event waits for it.
        An exception or a failed Deferred is logged and counted, and delivery goes on.
        """
        if self._closed:
            raise BusClosed("the bus is closed")
        start = since
        if cursor is not None:
            saved = self.journal.cursor(cursor)
            if saved is not None:
                start = saved
        catching_up = start is not None and start < self.head
        subscription = Subscription(
            self,
            pattern,
            handler,
            name=name or cursor or f"subscriber-{next(self._names)}",
            position=start if start is not None else self.head,
            catching_up=catching_up,
            queue_size=queue_size or self.default_queue_size,
            overflow=overflow,
            cursor=cursor,
        )
        self._subscriptions.append(subscription)
        if catching_up:
            subscription._schedule_pump()
        return subscription

    def _forget(self, subscription: Subscription) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)

    @property
    def subscriptions(self) -> tuple[Subscription, ...]:
        return tuple(self._subscriptions)

    # --- durable cursors -----------------------------------------------------------------------------

    def _advance_cursor(self, name: str, seq: int) -> None:
        # One save in flight per cursor; positions reached meanwhile are coalesced into the next save.
        self._cursor_wanted[name] = max(seq, self._cursor_wanted.get(name, 0))
        if name not in self._cursor_saving:
            self._save_cursor(name)

    def _save_cursor(self, name: str) -> None:
        seq = self._cursor_wanted.pop(name)
        self._cursor_saving[name] = seq
        saved = self.journal.save_cursor(name, seq, self.clock.seconds())

        def then(result: object) -> None:
            self._cursor_saving.pop(name, None)
            if isinstance(result, Failure):
                self.log.error("cursor_save_failed", cursor=name, seq=seq, error=result.getErrorMessage())
            if name in self._cursor_wanted:
                self._save_cursor(name)

        saved.addBoth(then)

    # --- reading and closing --------------------------------------------------------------------------

    def replay(self, since: int = 0, pattern: str = "#", limit: int = 1000) -> list[Event]:
        """Journaled events after ``since`` matching ``pattern`` (at most ``limit``), decoded."""
        matches = TopicMatcher(pattern)
        events: list[Event] = []
        position = since
        while len(events) < limit:
            rows = self.journal.read_after(position, CATCH_UP_CHUNK)
            if not rows:
                break
            for row in rows:
                position = row.seq
                if matches(row.topic):
                    try:
                        events.append(self.codec.from_json(row.body, seq=row.seq))
                    except EventDecodeError as error:
                        self.log.error("journal_row_undecodable", seq=row.seq, error=str(error))
                    if len(events) >= limit:
                        break
        return events

    def stats(self) -> dict[str, Any]:
        return {
            "head": self.head,
            "published": self.published,
            "publish_failures": self.publish_failures,
            "subscribers": [subscription.stats() for subscription in self._subscriptions],
        }

    def close(self) -> "Deferred[None]":
        """Refuse new publishes, stop every subscriber, and let the journal finish what it holds."""
        self._closed = True
        for subscription in tuple(self._subscriptions):
            subscription.cancel()
        # Positions still waiting behind an in-flight save are written now, before the writer stops.
        for name in tuple(self._cursor_wanted):
            self._save_cursor(name)
        return self.journal.close()
