"""Fakes for the link's tests: a transport that records frames, an in-memory store, a listener that
remembers what it heard, and a wire joining two sessions through the clock."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import structlog
from twisted.internet.defer import Deferred, fail, succeed

from plugins.police_link.codec.frames import (
    CAP_XML,
    POLICE_REQUEST,
    EventFrame,
    Frame,
    decode_frame,
    encode_frame,
)
from plugins.police_link.link import (
    Acknowledged,
    Inbound,
    LinkMemory,
    LinkSession,
    LinkState,
    Outbound,
    Verdict,
)


class FakeTransport:
    """Records every frame the session sends. ``close`` records why and, as the real transport does once the
    connection is gone, tells ``endpoint`` (when set) with ``detach``."""

    def __init__(self, peer: str = "127.0.0.1:8443", fingerprint: str | None = None, endpoint: Any = None) -> None:
        self.peer = peer
        self.fingerprint = fingerprint
        self.endpoint = endpoint
        self.texts: list[str] = []
        self.frames: list[Frame] = []
        self.closed: list[str] = []

    def send_text(self, text: str) -> None:
        self.texts.append(text)
        self.frames.append(decode_frame(text))

    def close(self, reason: str) -> None:
        self.closed.append(reason)
        endpoint, self.endpoint = self.endpoint, None
        if endpoint is not None:
            endpoint.detach(reason)

    def of(self, kind: type) -> list[Any]:
        return [frame for frame in self.frames if isinstance(frame, kind)]



class FakeStore:
    """A ``LinkStore`` in memory: what was acknowledged and recorded, with writes that succeed at once
    unless told to fail."""

    def __init__(self, memory: LinkMemory | None = None) -> None:
        self.memory = memory or LinkMemory(pending=(), next_seq=1, last_seq_received=0, seen=frozenset())
        self.acks: list[Acknowledged] = []
        self.ack_writes = 0
        self.recorded: list[tuple[Inbound, str]] = []
        self.inbox: list[tuple[Inbound, str]] = []
        self.outbox: dict[str, Outbound] = {}
        self.fail_writes = False

    def load(self) -> LinkMemory:
        return self.memory

    def outbox_job(self, message: Outbound) -> Callable[..., None]:
        def job(_connection: Any, _seq: int | None = None) -> None:
            self.outbox[message.transaction_id] = message

        return job

    def inbox_job(self, inbound: Inbound, status: str) -> Callable[..., None]:
        def job(_connection: Any, _seq: int | None = None) -> None:
            self.inbox.append((inbound, status))

        return job

    def acknowledge(self, acks: Sequence[Acknowledged]) -> Deferred[None]:
        if self.fail_writes:
            return fail(OSError("disk full"))
        self.ack_writes += 1
        self.acks.extend(acks)
        return succeed(None)

    def record(self, inbound: Inbound, status: str) -> Deferred[None]:
        if self.fail_writes:
            return fail(OSError("disk full"))
        self.recorded.append((inbound, status))
        return succeed(None)

    def find_outbound(self, transaction_id: str) -> Outbound | None:
        return self.outbox.get(transaction_id)


class Listener:
    """Remembers everything the session told it, in order, as ``(what, *arguments)``."""

    def __init__(self) -> None:
        self.heard: list[tuple[Any, ...]] = []

    def _note(self, *item: Any) -> None:
        self.heard.append(item)

    def state_changed(self, state: LinkState, reason: str | None) -> None:
        self._note("state", state, reason)

    def acknowledged(self, acks: Sequence[Acknowledged]) -> None:
        self._note("acknowledged", tuple(acks))

    def gap(self, expected: int, received: int) -> None:
        self._note("gap", expected, received)

    def snapshot_received(self, snapshot: Any) -> None:
        self._note("snapshot", snapshot)

    def pong(self, round_trip_s: float, clock_offset_s: float) -> None:
        self._note("pong", round_trip_s, clock_offset_s)

    def frame_refused(self, code: str, reason: str) -> None:
        self._note("frame_refused", code, reason)

    def stale_received(self, inbound: Inbound) -> None:
        self._note("stale", inbound)

    def all(self, what: str) -> list[tuple[Any, ...]]:
        return [item[1:] for item in self.heard if item[0] == what]

    @property
    def states(self) -> list[LinkState]:
        return [item[1] for item in self.heard if item[0] == "state"]

    @property
    def acks(self) -> list[Acknowledged]:
        return [ack for (batch,) in self.all("acknowledged") for ack in batch]


class Deliveries:
    """A ``deliver`` that records what it was given and answers ``ok`` (or what it is told to)."""

    def __init__(self) -> None:
        self.taken: list[Inbound] = []
        self.verdicts: deque[Any] = deque()
        self.held: list[Deferred[Verdict]] = []
        self.hold = False

    def __call__(self, inbound: Inbound) -> Deferred[Verdict]:
        self.taken.append(inbound)
        if self.hold:
            waiting: Deferred[Verdict] = Deferred()
            self.held.append(waiting)
            return waiting
        if self.verdicts:
            answer = self.verdicts.popleft()
            if isinstance(answer, Exception):
                return fail(answer)
            return succeed(answer)
        return succeed(Verdict("ok"))


def outbound(link_seq: int, *, transaction_id: str | None = None, content_type: str = CAP_XML,
             body: str | None = None, deadline: float | None = None, queued_at: float = 0.0) -> Outbound:
    if body is None:
        body = json.dumps({"n": link_seq}) if content_type != CAP_XML else f"<alert>{link_seq}</alert>"
    return Outbound(link_seq=link_seq, transaction_id=transaction_id or f"tx-{link_seq:06d}",
                    content_type=content_type, body=body, queued_at=queued_at, deadline=deadline)


def event_text(link_seq: int, *, transaction_id: str | None = None, content_type: str = POLICE_REQUEST,
               payload: Any = None, sent_at: float = 0.0, deadline: float | None = None) -> str:
    """An ``event`` frame from the other end, as text."""
    def moment(seconds: float) -> datetime:
        return datetime.fromtimestamp(seconds, UTC)

    if payload is None:
        payload = {"request_type": "live_view", "n": link_seq} if content_type != CAP_XML else "<alert/>"
    return encode_frame(EventFrame(
        link_seq=link_seq, transaction_id=transaction_id or f"in-{link_seq:06d}", content_type=content_type,
        payload=payload, sent_at=moment(sent_at), deadline=None if deadline is None else moment(deadline)))


def session(clock: Any, *, store: FakeStore | None = None, memory: LinkMemory | None = None,
            deliver: Any = None, listener: Listener | None = None,
            snapshot: Callable[[], tuple[list[dict], list[dict]]] | None = None, **settings: Any) -> LinkSession:
    store = store or FakeStore(memory)
    return LinkSession(
        clock=clock, store=store, memory=memory or store.load(), deliver=deliver or Deliveries(),
        listener=listener or Listener(), log=structlog.get_logger().bind(test="link"),
        snapshot=snapshot or (lambda: ([], [])), **settings)


class Wire:
    """Two sessions joined in memory: a frame sent by one reaches the other at the clock's next turn, in
    order; ``cut`` drops whatever is on the wire and detaches both ends, as a dropped TCP connection does."""

    def __init__(self, clock: Any, left: LinkSession, right: LinkSession) -> None:
        self._clock = clock
        self.left = left
        self.right = right
        self._queue: deque[tuple[LinkSession, str]] = deque()
        self._call: Any = None
        self.up = False
        self.delivered = 0
        #: Called with (receiving session, text) before each frame is delivered; may cut the wire. It returns
        #: None to deliver the frame, False to lose it, or other text to deliver instead.
        self.watch: Callable[[LinkSession, str], str | bool | None] | None = None
        self.left_end = _End(self, right, "left")
        self.right_end = _End(self, left, "right")

    def connect(self) -> None:
        self.up = True
        self.left.attach(self.left_end)
        self.right.attach(self.right_end)

    def cut(self, reason: str = "connection lost") -> None:
        if not self.up:
            return
        self.up = False
        self._queue.clear()
        self.left.detach(reason)
        self.right.detach(reason)

    def _carry(self, to: LinkSession, text: str) -> None:
        if not self.up:
            return
        self._queue.append((to, text))
        if self._call is None:
            self._call = self._clock.callLater(0, self._flush)

    def _flush(self) -> None:
        self._call = None
        while self._queue and self.up:
            to, text = self._queue.popleft()
            if self.watch is not None:
                verdict = self.watch(to, text)
                if not self.up:
                    return
                if verdict is False:
                    continue
                if isinstance(verdict, str):
                    text = verdict
            self.delivered += 1
            to.text_received(text)


class _End:
    def __init__(self, wire: Wire, to: LinkSession, name: str) -> None:
        self._wire = wire
        self._to = to
        self.peer = name
        self.fingerprint = None

    def send_text(self, text: str) -> None:
        self._wire._carry(self._to, text)

    def close(self, reason: str) -> None:
        self._wire.cut(reason)
