"""The police link's protocol, one end of it: what is owed to the other end, what came from it, and whether
the line is alive.

``LinkSession`` speaks the frames of codec/frames.py over whatever ``FrameTransport`` it is attached to
(the hub's WebSocket client, the force end's server, an in-memory pair in tests) and keeps time with an
injected clock. Its promise is "nothing confirmed is ever lost": every message it is offered is already
durable (its outbox row was written with the event that records it), stays owed until the other end
acknowledges it, and goes again, in order, after every reconnect and every restart (a new session built
from ``LinkStore.load``). What arrives is handed over one message at a time, in order, and answered only
once it is durable, so repeats are recognised by transaction id even after a restart.

The rules, in the order a connection lives them:

- On ``attach`` the session sends ``resume`` with the highest ``link_seq`` it has durably processed and is
  ``RESUMING``. The other end's ``resume(N)`` acknowledges (status ``ok``) everything owed with
  ``link_seq <= N``; the rest goes out in order, at most ``window`` unanswered at a time, and the session is
  ``UP``. Once everything owed at that resume is answered, it sends its ``snapshot``.
- An ``event_response`` of ``ok`` or ``duplicate`` acknowledges; ``error`` and ``stale`` acknowledge too,
  with that status (never resent: the listener hears it); ``busy`` pauses sending for ``busy_retry_s``, then
  everything from the earliest busy message on goes again, in order. Answers to transaction ids not owed
  are logged and ignored. An ``error`` frame naming an owed transaction id refuses it like ``error``.
- On ``detach`` whatever was in flight is owed again, from the first unanswered message. A connection the
  session closed itself (a fault, a newer connection, ``stop``) is let go at once; its own detach, which the
  transport still sends (perhaps after a newer connection's attach), is counted off.
- Events are taken one at a time: a transaction id seen before is answered ``duplicate`` (not delivered
  again); one past its deadline is recorded and answered ``stale``; a ``link_seq`` beyond the next expected
  is reported as a gap and taken all the same; anything else goes to ``deliver``, which makes it durable
  itself and returns the verdict the other end is answered with. The receiving position and the memory of
  transaction ids move only once the verdict is durable.
- After a ``busy`` verdict, later events are answered ``busy`` too until the busy one comes again, so the
  other end's in-order resend never turns into a false gap.
- A frame over ``max_frame_bytes`` or that cannot be read is answered with an ``error`` frame (an event
  whose transaction id and link_seq could be read gets an ``event_response`` of ``error`` instead, and is
  recorded, so the sequence has no hole); the link stays up.
- ``ping`` every ``ping_interval_s`` while attached; pings are answered with ``pong``. Anything received
  counts as hearing the other end; ``line_fault_after_s`` of silence (from ``start``, the last attach or the
  last frame) is a line fault: state ``FAULT`` and the connection is closed, so the client reconnects. A
  fault lasts until the next connection.
"""

from __future__ import annotations

import enum
import json
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from attrs import field, frozen
from attrs.validators import in_
from twisted.internet.defer import Deferred

from plugins.police_link.codec.frames import (
    MAX_FRAME_BYTES,
    STATUSES,
    ErrorFrame,
    EventFrame,
    EventResponse,
    Frame,
    FrameError,
    Ping,
    Pong,
    Resume,
    Snapshot,
    decode_frame,
    encode_frame,
)

if TYPE_CHECKING:
    from plugins.police_link.transport import FrameTransport

#: The reason the other end reads when ``deliver`` failed; what went wrong is in the hub's log, not on the wire.
DELIVERY_FAILED = "the receiving end could not process this message; it is in their log"
#: The content type recorded for an event whose own could not be read.
UNREADABLE = "unreadable"


class LinkState(enum.Enum):
    """Where the link stands: no connection; connected, waiting for the other end's ``resume``; up; or
    silent for longer than ``line_fault_after_s`` (until a connection is made again)."""

    DISCONNECTED = "disconnected"
    RESUMING = "resuming"
    UP = "up"
    FAULT = "fault"


@frozen
class Outbound:
    """One message owed to the other end. ``body`` is the payload as sent: CAP XML text, or the JSON text of
    an object (for a JSON content type). Times are the clock's seconds."""

    link_seq: int
    transaction_id: str
    content_type: str
    body: str
    queued_at: float
    deadline: float | None = None
    incident_id: str | None = None


@frozen
class Inbound:
    """One message from the other end, as taken: ``payload`` is text for XML content, an object for JSON."""

    link_seq: int
    transaction_id: str
    content_type: str
    payload: str | dict
    sent_at: float
    deadline: float | None
    received_at: float


@frozen
class Verdict:
    """What became of an inbound message: ``status`` one of ``ok``, ``duplicate``, ``error``, ``stale``,
    ``busy``; ``reason`` is read by the other end, so it says why without saying anything secret."""

    status: str = field(validator=in_(STATUSES))
    reason: str | None = None


@frozen
class Acknowledged:
    """The other end answered ``message`` for good: ``status`` is ``ok`` or ``duplicate`` (it has it: see
    ``delivered``), ``error`` (refused for good, ``reason`` says why) or ``stale`` (it came after its
    deadline). ``at`` is the clock's time of the answer."""

    message: Outbound
    status: str
    reason: str | None
    at: float

    @property
    def delivered(self) -> bool:
        """True when the other end has the message (``ok`` or ``duplicate``)."""
        return self.status in ("ok", "duplicate")


@frozen
class LinkMemory:
    """What a session starts from: the messages still owed (in ``link_seq`` order), the next ``link_seq``
    to give out, the highest received one durably processed, and every transaction id received."""

    pending: tuple[Outbound, ...]
    next_seq: int
    last_seq_received: int
    seen: frozenset[str]


Job = Callable[[Any], None]


class LinkStore(Protocol):
    """Where a link keeps its outbox and inbox (``store.HubLinkStore`` in the hub, ``peer_store`` at the
    force end)."""

    def load(self) -> LinkMemory: ...

    def outbox_job(self, message: Outbound) -> Job:
        """The write that makes ``message`` owed (run in the transaction of the event that records it)."""

    def inbox_job(self, inbound: Inbound, status: str) -> Job:
        """The write that marks ``inbound`` taken with ``status`` (run with the event it caused)."""

    def acknowledge(self, acks: Sequence[Acknowledged]) -> Deferred[None]:
        """Mark these messages answered, in one write."""

    def record(self, inbound: Inbound, status: str) -> Deferred[None]:
        """An inbox row alone (stale, refused), for a message that causes no event."""

    def find_outbound(self, transaction_id: str) -> Outbound | None:
        """The message with this transaction id, answered or not, if there is one."""


class LinkListener(Protocol):
    """Who hears about the link (the adapter, the force end)."""

    def state_changed(self, state: LinkState, reason: str | None) -> None: ...

    def acknowledged(self, acks: Sequence[Acknowledged]) -> None: ...

    def gap(self, expected: int, received: int) -> None: ...

    def snapshot_received(self, snapshot: Snapshot) -> None: ...

    def pong(self, round_trip_s: float, clock_offset_s: float) -> None: ...

    def frame_refused(self, code: str, reason: str) -> None:
        """A frame from the other end could not be read; it was answered with an error."""

    def stale_received(self, inbound: Inbound) -> None:
        """An event came after its deadline; it was recorded and answered ``stale``."""


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _too_big(text: str | bytes, limit: int) -> int | None:
    """The size in bytes when it is over ``limit``, else None (without encoding text that cannot be)."""
    if len(text) > limit:
        return len(text.encode("utf-8", "replace")) if isinstance(text, str) else len(text)
    if isinstance(text, str) and len(text) * 4 > limit:
        size = len(text.encode("utf-8", "replace"))
        return size if size > limit else None
    return None


class LinkSession:
    """One end of the police link (see the module's docstring for its rules); a ``LinkEndpoint``.

    ``state``, ``backlog`` (messages owed), ``in_flight`` (sent, unanswered), ``last_heard_at`` (the clock's
    time of the last frame, None before any), ``peer_last_seq_received`` (the N of the other end's last
    ``resume``) and ``resend_from`` (the first ``link_seq`` sent again after it, None when nothing was owed)
    are for status panels and events.
    """

    def __init__(
        self,
        *,
        clock: Any,
        store: LinkStore,
        memory: LinkMemory,
        deliver: Callable[[Inbound], Awaitable[Verdict]],
        listener: LinkListener,
        log: Any,
        snapshot: Callable[[], tuple[list[dict], list[dict]]],
        ping_interval_s: float = 30.0,
        line_fault_after_s: float = 90.0,
        window: int = 256,
        max_frame_bytes: int = MAX_FRAME_BYTES,
        busy_retry_s: float = 5.0,
    ) -> None:
        if window < 1:
            raise ValueError("window must be at least 1")
        self._clock = clock
        self._store = store
        self._deliver = deliver
        self._listener = listener
        self._log = log
        self._snapshot = snapshot
        self._ping_interval_s = ping_interval_s
        self._line_fault_after_s = line_fault_after_s
        self._window = window
        self._max_frame_bytes = max_frame_bytes
        self._busy_retry_s = busy_retry_s

        self.state = LinkState.DISCONNECTED
        self.last_heard_at: float | None = None
        self.peer_last_seq_received = 0
        self.resend_from: int | None = None

        # Everything owed, by transaction id, in link_seq order (dicts keep insertion order).
        self._owed: dict[str, Outbound] = {}
        for message in memory.pending:
            self._owed[message.transaction_id] = message
        highest = max((message.link_seq for message in memory.pending), default=0)
        self._next_seq = max(memory.next_seq, highest + 1)
        self._last_offered = highest
        # What to send next, in order; entries already answered are skipped when reached.
        self._to_send: deque[str] = deque(self._owed)
        self._in_flight: dict[str, Outbound] = {}
        self._busy: set[str] = set()

        self._last_seq_received = memory.last_seq_received
        # Every transaction id taken from the other end: about 100 bytes each in memory, so a million
        # messages cost some 100 MB. Fine for a control room's traffic; see HubLinkStore.load.
        self._seen: set[str] = set(memory.seen)
        self._last_gap: tuple[int, int] | None = None
        self._busy_from: int | None = None

        self._transport: FrameTransport | None = None
        # Connections closed by this session whose detach has not come yet.
        self._let_go = 0
        self._resumed = False
        # The snapshot is due once the messages owed at the other end's resume are all answered: how many
        # of them (link_seq up to _snapshot_after) are still owed.
        self._snapshot_after = 0
        self._snapshot_waiting = 0
        self._snapshot_due = False

        self._inbox: deque[tuple[Any, ...]] = deque()
        self._taking = False

        self._started_at: float | None = None
        self._attached_at: float | None = None
        self._checked_at: float | None = None
        self._silence_call: Any = None
        self._ping_call: Any = None
        self._busy_call: Any = None
        self._ack_call: Any = None
        self._ack_batch: list[Acknowledged] = []
        self._stopped = False

    # --- what the owner sees -------------------------------------------------------------------------------

    @property
    def backlog(self) -> int:
        """Messages owed to the other end (sent or not)."""
        return len(self._owed)

    @property
    def in_flight(self) -> int:
        """Messages sent on this connection and not yet answered."""
        return len(self._in_flight)

    @property
    def last_seq_received(self) -> int:
        """The highest ``link_seq`` durably taken from the other end (what ``resume`` says)."""
        return self._last_seq_received

    @property
    def next_seq(self) -> int:
        """The ``link_seq`` ``allocate`` gives out next."""
        return self._next_seq

    # --- life ------------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start listening for silence: a fault is declared after ``line_fault_after_s`` even with no
        connection ever made."""
        self._stopped = False
        self._started_at = self._clock.seconds()
        self._arm_silence(self._line_fault_after_s)

    def stop(self) -> None:
        """Cancel every timer and close the connection; acknowledgements already received are recorded."""
        self._stopped = True
        self._cancel("_ack_call")
        self._flush_acks()
        for name in ("_silence_call", "_ping_call", "_busy_call"):
            self._cancel(name)
        self._inbox.clear()
        transport, self._transport = self._transport, None
        if transport is not None:
            self._requeue_all()
            self._close(transport, "the link is stopping")
        self.state = LinkState.DISCONNECTED

    # --- sending ---------------------------------------------------------------------------------------------

    def allocate(self) -> int:
        """The next ``link_seq`` (contiguous; the message must be offered, or released, in this order)."""
        seq = self._next_seq
        self._next_seq += 1
        return seq

    def release(self, link_seq: int) -> bool:
        """Give back ``link_seq`` when it is the last allocated and its message was never written (its
        publish failed), so the other end sees no gap; False when a later one was already given out."""
        if link_seq != self._next_seq - 1 or link_seq <= self._last_offered:
            return False
        self._next_seq -= 1
        return True

    def offer(self, message: Outbound) -> None:
        """``message`` is durable and owed: sent now if the link is up and the window allows, else later."""
        if message.transaction_id in self._owed:
            return
        if message.link_seq <= self._last_offered:
            raise ValueError(f"message {message.link_seq} offered after {self._last_offered}: "
                             "messages must be offered in link_seq order")
        self._last_offered = message.link_seq
        self._next_seq = max(self._next_seq, message.link_seq + 1)
        self._owed[message.transaction_id] = message
        self._to_send.append(message.transaction_id)
        self._pump()

    def _pump(self) -> None:
        """Send what is owed, in order, while the window allows."""
        if self._transport is None or not self._resumed or self._busy_call is not None:
            return
        while self._to_send and len(self._in_flight) < self._window:
            transaction_id = self._to_send.popleft()
            message = self._owed.get(transaction_id)
            if message is None or transaction_id in self._in_flight:
                continue
            try:
                text = self._event_text(message)
            except (ValueError, TypeError) as error:
                # Our own message that cannot be put on the wire: refuse it here, or it is owed forever.
                self._log.error("link_message_unsendable", link_seq=message.link_seq,
                                transaction_id=transaction_id, error=str(error))
                self._acknowledge(message, "error", f"could not be encoded: {error}"[:500])
                continue
            self._in_flight[transaction_id] = message
            transport = self._transport
            self._send_text(transport, text)
            if self._transport is not transport:
                return  # sending failed and detached us

    def _event_text(self, message: Outbound) -> str:
        payload: str | dict = message.body
        if _is_json(message.content_type):
            payload = json.loads(message.body)
        return encode_frame(EventFrame(
            link_seq=message.link_seq, transaction_id=message.transaction_id, content_type=message.content_type,
            payload=payload, sent_at=_moment(self._clock.seconds()),
            deadline=None if message.deadline is None else _moment(message.deadline)))

    # --- the connection ----------------------------------------------------------------------------------

    def attach(self, transport: FrameTransport) -> None:
        """A connection is open: say where this end stands and wait for the other end's ``resume``."""
        if self._stopped:
            self._close(transport, "the link is stopping")
            return
        if self._transport is not None:
            self._disconnect("replaced by a newer connection", close=True)
        self._transport = transport
        self._attached_at = self._clock.seconds()
        self._resumed = False
        self._busy_from = None
        self._change(LinkState.RESUMING, None)
        self._send(Resume(last_seq_received=self._last_seq_received))
        self._arm_ping()

    def detach(self, reason: str) -> None:
        """The connection ended: what was in flight is owed again, from the first unanswered message.

        Every attach is followed by exactly one detach, also for a connection this session closed itself
        (a fault, a newer connection, stop); it let go of that one at once, so its detach, which may come
        after a newer connection's attach, is counted off and changes nothing.
        """
        if self._let_go > 0:
            self._let_go -= 1
            return
        if self._transport is None:
            self._log.info("link_detach_unattached", reason=reason)
            return
        self._disconnect(reason, close=False)

    def _disconnect(self, reason: str, *, close: bool) -> None:
        transport, self._transport = self._transport, None
        self._cancel("_ping_call")
        self._cancel("_busy_call")
        self._requeue_all()
        # Events not yet taken are dropped: unanswered, the other end sends them again.
        self._inbox.clear()
        self._busy_from = None
        if close and transport is not None:
            self._close(transport, reason)
        if self.state is not LinkState.FAULT:
            self._change(LinkState.DISCONNECTED, reason)

    def _requeue_all(self) -> None:
        self._in_flight.clear()
        self._busy.clear()
        self._resumed = False
        self._snapshot_due = False
        self._to_send = deque(self._owed)

    def _close(self, transport: FrameTransport, reason: str) -> None:
        """Close a connection this session has already let go of; its detach is expected and ignored."""
        self._let_go += 1
        try:
            transport.close(reason)
        except Exception:  # noqa: BLE001 - a connection that will not close is already gone for us
            self._log.exception("link_close_failed")

    # --- receiving ----------------------------------------------------------------------------------------

    def text_received(self, text: str) -> None:
        """One WebSocket text message from the other end."""
        if self._transport is None:
            return
        now = self._clock.seconds()
        self._heard(now)
        size = _too_big(text, self._max_frame_bytes)
        if size is not None:
            self._refuse("oversized", f"{size} bytes, more than {self._max_frame_bytes} (the most a frame may be)")
            return
        try:
            frame = decode_frame(text, max_bytes=self._max_frame_bytes)
        except FrameError as error:
            self._unreadable(text, error, now)
            return
        self._dispatch(frame, now)

    def _dispatch(self, frame: Frame, now: float) -> None:
        if isinstance(frame, EventFrame):
            self._take_later(("event", frame, now))
        elif isinstance(frame, EventResponse):
            self._response(frame, now)
        elif isinstance(frame, Resume):
            self._peer_resumed(frame.last_seq_received)
        elif isinstance(frame, Ping):
            self._send(Pong(clock=max(now, 0.0), echo=frame.clock))
        elif isinstance(frame, Pong):
            round_trip = now - frame.echo
            if round_trip < 0:
                self._log.warning("link_pong_unasked", echo=frame.clock)
                return
            self._tell("pong", round_trip, frame.clock - (frame.echo + now) / 2)
        elif isinstance(frame, Snapshot):
            # After the events before it, so the listener compares it with what they did.
            self._take_later(("snapshot", frame))
        elif isinstance(frame, ErrorFrame):
            self._peer_refused(frame, now)

    def _unreadable(self, text: str | bytes, error: FrameError, now: float) -> None:
        if error.transaction_id is not None and error.link_seq is not None and self._is_event(text):
            # A readable event with a bad member: answered like any refused event, in its turn.
            self._tell("frame_refused", error.code, error.reason)
            self._take_later(("bad_event", error, text, now))
            return
        self._refuse(error.code, error.reason, error.transaction_id)

    @staticmethod
    def _is_event(text: str | bytes) -> bool:
        try:
            data = orjson.loads(text)
        except (orjson.JSONDecodeError, TypeError):
            return False
        return isinstance(data, dict) and data.get("type") == "event"

    def _refuse(self, code: str, reason: str, transaction_id: str | None = None) -> None:
        self._log.warning("link_frame_refused", code=code, reason=reason[:200])
        self._send(ErrorFrame(code=code, reason=reason[:2000], transaction_id=transaction_id))
        self._tell("frame_refused", code, reason)

    def _heard(self, now: float) -> None:
        # A fault ends with the next connection (attach), so hearing needs no state change here.
        self.last_heard_at = now

    # --- the other end's resume and answers ----------------------------------------------------------------

    def _peer_resumed(self, last_seq_received: int) -> None:
        self.peer_last_seq_received = last_seq_received
        if last_seq_received >= self._next_seq:
            self._log.warning("link_peer_ahead", peer_last_seq_received=last_seq_received,
                              next_seq=self._next_seq)
        self._requeue_all()
        self._cancel("_busy_call")
        now = self._clock.seconds()
        for message in [message for message in self._owed.values() if message.link_seq <= last_seq_received]:
            self._acknowledge(message, "ok", None, now)
        self._to_send = deque(self._owed)
        self._resumed = True
        owed = list(self._owed.values())
        self.resend_from = owed[0].link_seq if owed else None
        self._snapshot_after = owed[-1].link_seq if owed else 0
        self._snapshot_waiting = len(owed)
        self._snapshot_due = True
        self._log.info("link_resumed", peer_last_seq_received=last_seq_received, backlog=len(owed),
                       resend_from=self.resend_from)
        self._change(LinkState.UP, None)
        self._pump()
        self._maybe_snapshot()

    def _response(self, response: EventResponse, now: float) -> None:
        message = self._owed.get(response.transaction_id)
        if message is None:
            self._log.info("link_response_unknown", transaction_id=response.transaction_id, status=response.status)
            return
        if response.link_seq is not None and response.link_seq != message.link_seq:
            self._log.warning("link_response_seq_mismatch", transaction_id=response.transaction_id,
                              link_seq=message.link_seq, answered_seq=response.link_seq)
        if response.status == "busy":
            self._busy_answer(message)
            return
        self._acknowledge(message, response.status, response.reason, now)
        self._pump()
        self._maybe_snapshot()

    def _peer_refused(self, frame: ErrorFrame, now: float) -> None:
        message = self._owed.get(frame.transaction_id) if frame.transaction_id is not None else None
        self._log.warning("link_frame_refused_by_peer", code=frame.code, reason=frame.reason[:200],
                          transaction_id=frame.transaction_id, owed=message is not None)
        if message is not None:
            self._acknowledge(message, "error", f"{frame.code}: {frame.reason}"[:2000], now)
            self._pump()
            self._maybe_snapshot()

    def _busy_answer(self, message: Outbound) -> None:
        if message.transaction_id not in self._in_flight:
            self._log.info("link_busy_not_in_flight", transaction_id=message.transaction_id)
            return
        self._busy.add(message.transaction_id)
        if self._busy_call is None:
            self._log.info("link_peer_busy", link_seq=message.link_seq, retry_in_s=self._busy_retry_s)
            self._busy_call = self._clock.callLater(self._busy_retry_s, self._retry_busy)

    def _retry_busy(self) -> None:
        """Send again from the earliest message answered busy, in order (later ones in flight included)."""
        self._busy_call = None
        busy = [self._owed[tid].link_seq for tid in self._busy if tid in self._owed]
        if not busy:
            self._busy.clear()
            self._pump()
            return
        first = min(busy)
        again = [tid for tid, message in self._in_flight.items() if message.link_seq >= first]
        again.sort(key=lambda tid: self._in_flight[tid].link_seq)
        for tid in again:
            del self._in_flight[tid]
        self._busy.clear()
        self._to_send.extendleft(reversed(again))
        self._pump()

    def _acknowledge(self, message: Outbound, status: str, reason: str | None, now: float | None = None) -> None:
        transaction_id = message.transaction_id
        del self._owed[transaction_id]
        if self._snapshot_due and message.link_seq <= self._snapshot_after:
            self._snapshot_waiting -= 1
        self._in_flight.pop(transaction_id, None)
        self._busy.discard(transaction_id)
        at = self._clock.seconds() if now is None else now
        self._ack_batch.append(Acknowledged(message=message, status=status, reason=reason, at=at))
        if self._ack_call is None and not self._stopped:
            # One write and one report per turn of the reactor, however many answers came in it.
            self._ack_call = self._clock.callLater(0, self._flush_acks)

    def _flush_acks(self) -> None:
        self._ack_call = None
        batch, self._ack_batch = self._ack_batch, []
        if not batch:
            return
        try:
            recorded = self._store.acknowledge(batch)
        except Exception:  # noqa: BLE001 - the answers stand; unrecorded, they are resent and answered duplicate
            self._log.exception("link_acknowledge_failed", count=len(batch))
        else:
            recorded.addErrback(self._log_failure, "link_acknowledge_failed", count=len(batch))
        self._tell("acknowledged", batch)

    def _maybe_snapshot(self) -> None:
        if not self._snapshot_due or self._snapshot_waiting > 0 or self._transport is None:
            return
        self._snapshot_due = False
        try:
            incidents, requests = self._snapshot()
            frame = Snapshot(sent_at=_moment(self._clock.seconds()), incidents=tuple(incidents),
                             requests=tuple(requests))
        except Exception:  # noqa: BLE001 - a snapshot is a courtesy check; the link goes on without it
            self._log.exception("link_snapshot_failed")
            return
        self._send(frame)

    # --- taking events, one at a time -------------------------------------------------------------------------

    def _take_later(self, item: tuple[Any, ...]) -> None:
        self._inbox.append(item)
        if not self._taking:
            self._taking = True
            Deferred.fromCoroutine(self._take_all()).addErrback(self._log_failure, "link_take_failed")

    async def _take_all(self) -> None:
        try:
            while self._inbox:
                item = self._inbox.popleft()
                if item[0] == "event":
                    await self._take(item[1], item[2])
                elif item[0] == "bad_event":
                    await self._take_bad(item[1], item[2], item[3])
                else:
                    self._tell("snapshot_received", item[1])
        finally:
            self._taking = False

    async def _take(self, frame: EventFrame, received_at: float) -> None:
        inbound = Inbound(
            link_seq=frame.link_seq, transaction_id=frame.transaction_id, content_type=frame.content_type,
            payload=frame.payload, sent_at=frame.sent_at.timestamp(),
            deadline=None if frame.deadline is None else frame.deadline.timestamp(), received_at=received_at)
        if inbound.transaction_id in self._seen:
            self._answer(inbound, "duplicate", None)
            return
        if self._busy_from is not None and inbound.link_seq > self._busy_from:
            self._answer(inbound, "busy", f"message {self._busy_from} comes first")
            return
        self._check_gap(inbound.link_seq)
        if inbound.deadline is not None and self._clock.seconds() > inbound.deadline:
            await self._stale(inbound)
            return
        attached = self._transport
        try:
            verdict = await self._deliver(inbound)
            if not isinstance(verdict, Verdict):
                raise TypeError(f"deliver returned {type(verdict).__name__}, not a Verdict")
        except Exception:  # noqa: BLE001 - whatever deliver does wrong, the session answers and goes on
            self._log.exception("link_delivery_failed", link_seq=inbound.link_seq,
                                transaction_id=inbound.transaction_id, content_type=inbound.content_type[:200])
            if self._stopped or self._transport is None or self._transport is not attached:
                return  # not answered: the other end sends it again and it is tried again
            await self._record_quietly(inbound, "error")
            verdict = Verdict("error", DELIVERY_FAILED)
        if verdict.status == "busy":
            self._busy_from = inbound.link_seq if self._busy_from is None else min(self._busy_from, inbound.link_seq)
            self._answer(inbound, "busy", verdict.reason)
            return
        self._taken(inbound)
        self._answer(inbound, verdict.status, verdict.reason)

    async def _take_bad(self, error: FrameError, text: str | bytes, received_at: float) -> None:
        assert error.transaction_id is not None and error.link_seq is not None
        if error.transaction_id in self._seen:
            self._send(EventResponse(transaction_id=error.transaction_id, link_seq=error.link_seq,
                                     status="duplicate", reason=None))
            return
        content_type = UNREADABLE
        try:
            member = orjson.loads(text).get("content_type")
            if isinstance(member, str) and member:
                content_type = member[:200]
        except (orjson.JSONDecodeError, TypeError, AttributeError):
            pass
        inbound = Inbound(link_seq=error.link_seq, transaction_id=error.transaction_id, content_type=content_type,
                          payload="", sent_at=received_at, deadline=None, received_at=received_at)
        self._check_gap(inbound.link_seq)
        await self._record_quietly(inbound, "error")
        self._taken(inbound)
        self._answer(inbound, "error", f"{error.code}: {error.reason}"[:2000])

    def _check_gap(self, link_seq: int) -> None:
        expected = self._last_seq_received + 1
        if link_seq > expected and self._last_gap != (expected, link_seq):
            self._last_gap = (expected, link_seq)
            self._log.warning("link_gap", expected=expected, received=link_seq)
            self._tell("gap", expected, link_seq)

    async def _stale(self, inbound: Inbound) -> None:
        await self._record_quietly(inbound, "stale")
        self._taken(inbound)
        self._log.info("link_stale_received", link_seq=inbound.link_seq, transaction_id=inbound.transaction_id)
        self._tell("stale_received", inbound)
        self._answer(inbound, "stale", "it arrived after its deadline")

    async def _record_quietly(self, inbound: Inbound, status: str) -> None:
        try:
            await self._store.record(inbound, status)
        except Exception:  # noqa: BLE001 - the answer is final either way; only the record is missing
            self._log.exception("link_record_failed", link_seq=inbound.link_seq, status=status)

    def _taken(self, inbound: Inbound) -> None:
        """The verdict on ``inbound`` is durable: move the receiving position and remember its id."""
        self._seen.add(inbound.transaction_id)
        self._last_seq_received = max(self._last_seq_received, inbound.link_seq)
        if self._busy_from is not None and inbound.link_seq <= self._busy_from:
            self._busy_from = None

    def _answer(self, inbound: Inbound, status: str, reason: str | None) -> None:
        self._send(EventResponse(transaction_id=inbound.transaction_id, link_seq=inbound.link_seq, status=status,
                                 reason=None if reason is None else reason[:2000]))

    # --- timers ---------------------------------------------------------------------------------------------

    def _arm_ping(self) -> None:
        self._cancel("_ping_call")
        self._ping_call = self._clock.callLater(self._ping_interval_s, self._ping)

    def _ping(self) -> None:
        self._ping_call = None
        if self._transport is None:
            return
        self._send(Ping(clock=max(self._clock.seconds(), 0.0)))
        if self._transport is not None:
            self._arm_ping()

    def _arm_silence(self, delay: float) -> None:
        self._cancel("_silence_call")
        self._silence_call = self._clock.callLater(max(delay, 0.0), self._silence_check)

    def _silence_check(self) -> None:
        self._silence_call = None
        now = self._clock.seconds()
        marks = [mark for mark in (self._started_at, self._attached_at, self.last_heard_at, self._checked_at)
                 if mark is not None]
        quiet_since = max(marks) if marks else now
        due = quiet_since + self._line_fault_after_s
        if now < due:
            self._arm_silence(due - now)
            return
        self._checked_at = now
        reason = f"nothing heard for {now - quiet_since:.0f} s"
        if self.state is not LinkState.FAULT or self._transport is not None:
            self._log.warning("link_line_fault", silent_for_s=round(now - quiet_since, 3), backlog=self.backlog,
                              connected=self._transport is not None)
        if self.state is not LinkState.FAULT:
            self._change(LinkState.FAULT, reason)
        if self._transport is not None:
            self._disconnect(reason, close=True)
        self._arm_silence(self._line_fault_after_s)

    def _cancel(self, name: str) -> None:
        call = getattr(self, name)
        setattr(self, name, None)
        if call is not None and call.active():
            call.cancel()

    # --- helpers ----------------------------------------------------------------------------------------------

    def _change(self, state: LinkState, reason: str | None) -> None:
        if state is self.state:
            return
        self.state = state
        self._tell("state_changed", state, reason)

    def _send(self, frame: Frame) -> None:
        transport = self._transport
        if transport is None:
            return
        self._send_text(transport, encode_frame(frame))

    def _send_text(self, transport: FrameTransport, text: str) -> None:
        try:
            transport.send_text(text)
        except Exception as error:  # noqa: BLE001 - a connection that cannot send is closed and made again
            self._log.exception("link_send_failed")
            if self._transport is transport:
                self._disconnect(f"sending failed: {type(error).__name__}", close=True)

    def _tell(self, what: str, *arguments: Any) -> None:
        """Tell the listener; a listener that fails is logged, never allowed to break the link."""
        try:
            getattr(self._listener, what)(*arguments)
        except Exception:  # noqa: BLE001 - see above
            self._log.exception("link_listener_failed", call=what)

    def _log_failure(self, failure: Any, event: str, **context: Any) -> None:
        self._log.error(event, error=failure.getErrorMessage(), **context)
