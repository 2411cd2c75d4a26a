"""Putting a message on the police link: its outbox row and the event that records it in one transaction,
then the session's queue, in link sequence order.

The desks build the event (``police.alert.queued``, ``police.request.answered``) and the message; the
sender gives the message its place on the link, journals both with ``bus.publish(event, also=...)`` so
neither is kept without the other, and only then offers it to the session: a message the caller has seen
confirmed is durable, and is sent after any number of reconnects and restarts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import structlog
from twisted.internet.defer import Deferred

from hub.events import Event
from plugins.police_link.link import LinkSession, LinkStore, Outbound

Job = Callable[[Any], None]
#: The event to publish, or how to make it once the message's place is known: ``(link_seq, transaction_id)``.
EventOrMaker = Event | Callable[[int, str], Event]


class LinkSender:
    """Sends messages on one link through its session, each journaled with its event first.

    Messages are offered to the session in ``link_seq`` order even if their publishes complete out of order
    (with the hub's one writer they do not, but the order must not hang on that): a message whose publish
    finished early waits for the ones before it. A publish that fails leaves its number unused; when it was
    the last given out it is given back, else the other end will report a gap there, and the log says why.
    """

    def __init__(self, *, session: LinkSession, store: LinkStore, bus: Any, clock: Any,
                 ids: Callable[[], str] | None = None, log: Any = None) -> None:
        self._session = session
        self._store = store
        self._bus = bus
        self._clock = clock
        self._ids = ids
        self._log = log if log is not None else structlog.get_logger().bind(component="police_link_sender")
        # Published (or failed: None) and waiting for those before them, by link_seq.
        self._ready: dict[int, Outbound | None] = {}
        self._next_to_offer: int | None = None
        # Sends under way, by transaction id: a second send of one waits for the first.
        self._sending: dict[str, list[Deferred[Outbound]]] = {}

    async def send(self, content_type: str, body: str, *, event: EventOrMaker, also: Sequence[Job] = (),
                   transaction_id: str | None = None, deadline: float | None = None) -> Outbound:
        """Journal ``event`` with the message's outbox row and ``also`` (one transaction), then queue it.

        ``event`` may be a function of ``(link_seq, transaction_id)`` when the event names the message's
        place (``AlertQueued`` does). ``transaction_id`` defaults to the event's id (unique and time-ordered),
        or a new id from ``ids`` when the event is made here. A transaction id already in the outbox (the same
        cause handled twice, after a crash) returns the message already there and publishes nothing.
        """
        if transaction_id is None:
            if isinstance(event, Event):
                transaction_id = event.id
            elif self._ids is not None:
                transaction_id = self._ids()
            else:
                raise ValueError("a transaction_id, an Event, or ids to make one: none was given")
        existing = await self._existing(transaction_id)
        if existing is not None:
            return existing
        self._sending[transaction_id] = []
        try:
            message = await self._publish(content_type, body, event, also, transaction_id, deadline)
        except BaseException as error:
            for waiter in self._sending.pop(transaction_id, []):
                waiter.errback(error)
            raise
        for waiter in self._sending.pop(transaction_id, []):
            waiter.callback(message)
        return message

    async def _existing(self, transaction_id: str) -> Outbound | None:
        under_way = self._sending.get(transaction_id)
        if under_way is not None:
            waiting: Deferred[Outbound] = Deferred()
            under_way.append(waiting)
            return await waiting
        return self._store.find_outbound(transaction_id)

    async def _publish(self, content_type: str, body: str, event: EventOrMaker, also: Sequence[Job],
                       transaction_id: str, deadline: float | None) -> Outbound:
        session = self._session
        link_seq = session.allocate()
        if self._next_to_offer is None:
            self._next_to_offer = link_seq
        try:
            made = event if isinstance(event, Event) else event(link_seq, transaction_id)
            message = Outbound(link_seq=link_seq, transaction_id=transaction_id, content_type=content_type,
                               body=body, queued_at=self._clock.seconds(), deadline=deadline,
                               incident_id=made.incident_id)
            jobs = (self._store.outbox_job(message), *also)

            def work(connection: Any, _seq: int) -> None:
                for job in jobs:
                    job(connection)

            await self._bus.publish(made, also=work)
        except BaseException:
            self._failed(link_seq, transaction_id)
            raise
        self._ready[link_seq] = message
        self._offer_ready()
        return message

    def _failed(self, link_seq: int, transaction_id: str) -> None:
        if self._session.release(link_seq):
            if self._next_to_offer == link_seq and not self._ready:
                self._next_to_offer = None
            return
        self._log.error("link_seq_unused", link_seq=link_seq, transaction_id=transaction_id,
                        consequence="the other end will report a gap at this number: nothing was lost")
        self._ready[link_seq] = None
        self._offer_ready()

    def _offer_ready(self) -> None:
        while self._next_to_offer is not None and self._next_to_offer in self._ready:
            message = self._ready.pop(self._next_to_offer)
            self._next_to_offer += 1
            if message is not None:
                self._session.offer(message)
        if not self._ready and self._next_to_offer is not None and self._next_to_offer > self._last_allocated():
            # Nothing under way: the next send starts the order again from whatever the session gives out.
            self._next_to_offer = None

    def _last_allocated(self) -> int:
        return self._session.next_seq - 1
