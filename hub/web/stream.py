"""The live event stream: one bus subscription fanned out to every WebSocket client, losing nothing.

Each event is encoded to JSON once, when the bus delivers it; events that arrive in one reactor turn
go out together, one frame per client (``{"type": "events", "events": [...]}``). A client that starts
from a sequence number (``?since=N``) or falls behind reads from the journal, a chunk per reactor turn,
until it is level with what the stream has seen, and then joins the live set. The hand-over happens on
the reactor thread between two turns, using each client's position (the highest seq it has been
considered for), so no event is sent twice and none is skipped.

A client whose connection cannot keep up is paused by its TCP transport (the client is a push producer
on it): the stream stops writing to it rather than buffer without limit, and when the transport drains
the client catches up from the journal like a reconnecting one.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any, Callable, Iterable

from twisted.internet.interfaces import IPushProducer
from twisted.internet.task import LoopingCall
from twisted.web.websocket import WebSocketResource
from zope.interface import implementer

from hub.events import dumps_json, loads_json
from hub.topics import TopicMatcher

#: Journal rows read per catch-up step; the reactor gets a turn between steps.
CATCH_UP_CHUNK = 500
#: Close code sent when the session behind a stream ends (logout, idle timeout, user disabled).
SESSION_ENDED = 4401
GOING_AWAY = 1001


def _frame(texts: Iterable[str]) -> str:
    return '{"type":"events","events":[' + ",".join(texts) + "]}"


@implementer(IPushProducer)
class StreamClient:
    """One WebSocket client: its filter, its position in the journal and whether it is live."""

    def __init__(
        self,
        stream: "LiveStream",
        *,
        user: dict[str, Any],
        position: int,
        patterns: tuple[str, ...] | None,
        token: str | None,
        log: Any,
    ) -> None:
        self.stream = stream
        self.user = user
        self.position = position
        self.patterns = patterns
        self._matchers = [TopicMatcher(pattern) for pattern in patterns] if patterns else None
        self.token = token
        self.log = log
        self.transport: Any = None
        self.paused = False
        self.closed = False
        self.live = False
        self.frames_sent = 0
        self.events_sent = 0
        self._scheduled: Any = None

    def matches(self, topic: str) -> bool:
        return self._matchers is None or any(matcher(topic) for matcher in self._matchers)

    @property
    def key(self) -> tuple[str, ...] | None:
        return self.patterns

    # --- WebSocketProtocol ---------------------------------------------------------------------------

    def negotiationStarted(self, transport: Any) -> None:  # noqa: N802 - Twisted's name
        self.transport = transport

    def negotiationFinished(self) -> None:  # noqa: N802 - Twisted's name
        self.stream.join(self)

    def textMessageReceived(self, message: str) -> None:  # noqa: N802 - Twisted's name
        # The stream is one way; anything the client says is ignored (it may ping to keep a proxy open).
        pass

    def bytesMessageReceived(self, data: bytes) -> None:  # noqa: N802 - Twisted's name
        pass

    def pongReceived(self, payload: bytes) -> None:  # noqa: N802 - Twisted's name
        pass

    def connectionLost(self, reason: Any) -> None:  # noqa: N802 - Twisted's name
        self.closed = True
        self.stream.leave(self)

    # --- IPushProducer: the TCP transport says when its buffer is full and when it has drained ------

    def pauseProducing(self) -> None:  # noqa: N802 - Twisted's name
        if not self.paused and not self.closed:
            self.paused = True
            self.stream.paused(self)

    def resumeProducing(self) -> None:  # noqa: N802 - Twisted's name
        if self.paused and not self.closed:
            self.paused = False
            self.stream.resumed(self)

    def stopProducing(self) -> None:  # noqa: N802 - Twisted's name
        self.closed = True
        self.stream.leave(self)

    # --- sending -------------------------------------------------------------------------------------

    def send_text(self, text: str) -> None:
        if not self.closed and self.transport is not None:
            self.transport.sendTextMessage(text)

    def send_frame(self, frame: str, count: int) -> None:
        self.frames_sent += 1
        self.events_sent += count
        self.send_text(frame)

    def close(self, code: int, reason: str) -> None:
        if self.closed:
            return
        self.send_text(dumps_json({"type": "closing", "code": code, "reason": reason}))
        self.closed = True
        self.stream.leave(self)
        if self.transport is not None:
            self.transport.loseConnection(code)


class _Factory:
    def __init__(self, client: StreamClient) -> None:
        self._client = client

    def buildProtocol(self, request: Any) -> StreamClient:  # noqa: N802 - Twisted's name
        # The client is the push producer of the HTTP channel, which passes on the TCP transport's
        # pause and resume (the channel itself is the transport's registered producer).
        request.registerProducer(self._client, True)
        return self._client


class LiveStream:
    """The fan-out: one subscription, one JSON encoding per event, one frame per client per turn."""

    def __init__(
        self,
        bus: Any,
        clock: Any,
        log: Any,
        *,
        on_event: Callable[[str], None] | None = None,
        session_alive: Callable[[str], bool] | None = None,
        check_interval_s: float = 5.0,
        chunk: int = CATCH_UP_CHUNK,
    ) -> None:
        self.bus = bus
        self.clock = clock
        self.log = log
        self.chunk = chunk
        self._on_event = on_event
        self._session_alive = session_alive
        self._check_interval_s = check_interval_s
        self.clients: set[StreamClient] = set()
        self._live: dict[StreamClient, None] = {}
        self._pending: list[tuple[int, str, str]] = []
        self._pending_seqs: list[int] = []
        self._flush_call: Any = None
        self._subscription: Any = None
        self._checker: LoopingCall | None = None
        #: The highest seq the stream's subscription has been given.
        self.seen = 0
        self.frames_sent = 0
        self.frames_built = 0
        self.pauses = 0

    # --- lifecycle -----------------------------------------------------------------------------------

    def start(self) -> None:
        self.seen = self.bus.head
        self._subscription = self.bus.subscribe("#", self._on_bus_event, name="web-stream")
        if self._session_alive is not None:
            self._checker = LoopingCall(self._check_sessions)
            self._checker.clock = self.clock
            self._checker.start(self._check_interval_s, now=False)

    def stop(self) -> None:
        if self._checker is not None and self._checker.running:
            self._checker.stop()
        self._checker = None
        if self._subscription is not None:
            self._subscription.cancel()
            self._subscription = None
        if self._flush_call is not None and self._flush_call.active():
            self._flush_call.cancel()
        self._flush_call = None
        for client in tuple(self.clients):
            client.close(GOING_AWAY, "the hub is stopping")
            self._cancel(client)

    # --- clients -------------------------------------------------------------------------------------

    def client(self, *, user: dict[str, Any], since: int | None, patterns: tuple[str, ...] | None,
               token: str | None) -> StreamClient:
        """A client for a new connection, starting after ``since`` (or from now)."""
        position = self.seen if since is None else max(0, min(since, self.seen))
        return StreamClient(self, user=user, position=position, patterns=patterns, token=token,
                            log=self.log.bind(stream_user=user.get("name")))

    def resource_for(self, client: StreamClient) -> Callable[[Any], Any]:
        """What renders the WebSocket upgrade for ``client`` (the dispatcher's ``Takeover``)."""
        return WebSocketResource(_Factory(client)).render

    def join(self, client: StreamClient) -> None:
        self.clients.add(client)
        client.send_text(dumps_json({"type": "hello", "head": self.seen, "position": client.position,
                                     "user": client.user}))
        client.log.info("stream_client_joined", since=client.position, head=self.seen)
        self._catch_up(client)

    def leave(self, client: StreamClient) -> None:
        self._live.pop(client, None)
        self._cancel(client)
        if client in self.clients:
            self.clients.discard(client)
            client.log.info("stream_client_left", position=client.position, events=client.events_sent)

    def paused(self, client: StreamClient) -> None:
        # Stop writing; the client's position stays where its last frame ended.
        self.pauses += 1
        self._live.pop(client, None)
        client.live = False
        self._cancel(client)

    def resumed(self, client: StreamClient) -> None:
        if client in self.clients:
            self._schedule(client)

    def close_where(self, predicate: Callable[[StreamClient], bool], code: int, reason: str) -> int:
        """Close every client ``predicate`` picks (a session that ended); returns how many."""
        chosen = [client for client in tuple(self.clients) if predicate(client)]
        for client in chosen:
            client.close(code, reason)
        return len(chosen)

    def _check_sessions(self) -> None:
        assert self._session_alive is not None
        for client in tuple(self.clients):
            if client.token is not None and not self._session_alive(client.token):
                client.close(SESSION_ENDED, "session ended")
            elif client.transport is not None and not client.closed:
                client.transport.ping(b"hub")

    # --- live events ---------------------------------------------------------------------------------

    def _on_bus_event(self, event: Any) -> None:
        self._pending.append((event.seq, event.topic, dumps_json(self.bus.codec.to_dict(event))))
        self._pending_seqs.append(event.seq)
        self.seen = event.seq
        if self._on_event is not None:
            self._on_event(event.topic)
        if self._flush_call is None:
            self._flush_call = self.clock.callLater(0, self._flush)

    def _flush(self) -> None:
        self._flush_call = None
        pending, seqs = self._pending, self._pending_seqs
        self._pending, self._pending_seqs = [], []
        if not pending:
            return
        last = seqs[-1]
        # Clients at the same position with the same filter get the very same frame text.
        frames: dict[tuple[Any, int], tuple[str, int] | None] = {}
        for client in tuple(self._live):
            if client.paused or client.closed:
                continue
            start = bisect_right(seqs, client.position)
            key = (client.key, start)
            if key not in frames:
                texts = [text for _seq, topic, text in pending[start:] if client.matches(topic)]
                frames[key] = (_frame(texts), len(texts)) if texts else None
                self.frames_built += 1 if texts else 0
            client.position = max(client.position, last)
            made = frames[key]
            if made is not None:
                self.frames_sent += 1
                client.send_frame(*made)

    # --- catching up from the journal ------------------------------------------------------------

    def _schedule(self, client: StreamClient) -> None:
        if client._scheduled is None and not client.closed:
            client._scheduled = self.clock.callLater(0, self._catch_up, client)

    def _cancel(self, client: StreamClient) -> None:
        if client._scheduled is not None and client._scheduled.active():
            client._scheduled.cancel()
        client._scheduled = None

    def _catch_up(self, client: StreamClient) -> None:
        """Send the client one chunk of the journal, or let it join the live set when level."""
        client._scheduled = None
        if client.closed or client.paused or client not in self.clients:
            return
        if client.position < self.seen:
            rows = self.bus.journal.read_after(client.position, self.chunk)
            texts = []
            position = client.position
            for row in rows:
                if row.seq > self.seen:
                    # Committed, not yet delivered to the stream: it will come live.
                    break
                position = row.seq
                if client.matches(row.topic):
                    data = loads_json(row.body)
                    data["seq"] = row.seq
                    texts.append(dumps_json(data))
            if len(rows) < self.chunk and position < self.seen and all(row.seq <= self.seen for row in rows):
                # Nothing more in the journal up to what the stream has seen (older rows may have been
                # removed by retention): the client is level.
                position = self.seen
            client.position = position
            if texts:
                self.frames_sent += 1
                client.send_frame(_frame(texts), len(texts))
            if client.position < self.seen:
                if not client.paused:
                    self._schedule(client)
                return
        if not client.paused and not client.closed:
            # Level: events after client.position are still in _pending and go out with the next flush.
            client.live = True
            self._live[client] = None
