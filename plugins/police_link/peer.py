"""The force's end of the link, as a reference: what a force control room's system does, written to the
protocol in docs/police-link-protocol.md, for demos, for tests and for a force's IT team to try against.

``PolicePeer`` listens for the hub over mutual TLS, keeps its own side of the link (``LinkSession`` over a
``PeerStore``: it too resends after a restart and recognises repeats), checks every CAP message it receives
(well-formed, and valid against the OASIS schema when given one), answers alerts (accepted or rejected, at
once, after a delay, or by hand), sends requests, and shows each thing that happens as one line of text.
"""

from __future__ import annotations

import json
import random as random_module
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Literal

import structlog
from attrs import frozen
from twisted.application.service import Service
from twisted.internet.defer import Deferred, succeed

from plugins.police_link.codec.cap import CapError, decode_alert
from plugins.police_link.codec.frames import ALERT_ANSWER, CAP_XML, POLICE_REQUEST, REQUEST_ANSWER, Snapshot
from plugins.police_link.codec.messages import (
    AlertAnswer,
    LiveViewRequest,
    MessageError,
    MonitoredPlace,
    MonitorLocationRequest,
    Officer,
    PointCameraRequest,
    RetainFootageRequest,
    decode_request_answer,
    encode_alert_answer,
    encode_request,
)
from plugins.police_link.link import Inbound, LinkSession, LinkState, Outbound, Verdict
from plugins.police_link.peer_store import PeerStore

AnswerMode = Literal["accept", "reject", "manual"]


@frozen
class PeerSettings:
    """How the force end behaves: its name, how it answers alerts, and the link's clocks."""

    force: str = "Demo Constabulary"
    officer: str = "Control room inspector"
    answer: AnswerMode = "accept"
    answer_delay_s: float = 0.0
    reject_reason: str = "Not a police matter: refer to the council's own teams"
    ping_interval_s: float = 30.0
    line_fault_after_s: float = 90.0
    window: int = 256
    max_frame_bytes: int = 1_048_576


class PolicePeer(Service):
    """One force end: a link session over its own store, the alerts it gets and the requests it sends.

    ``listen`` is a function ``(endpoint_for) -> Deferred[IListeningPort]`` (the real one opens a mutual-TLS
    WebSocket server; tests may pass an in-memory one). ``cap_schema`` is an ``lxml.etree.XMLSchema``, or None
    to check only that each alert is well-formed CAP. ``show`` receives one line per thing that happens.
    """

    def __init__(self, reactor: Any, store: PeerStore, *, listen: Callable[[Any], "Deferred[Any]"],
                 settings: PeerSettings = PeerSettings(), cap_schema: Any = None, log: Any = None,
                 show: Callable[[str], None] = lambda line: None, rng: random_module.Random | None = None) -> None:
        self._reactor = reactor
        self.store = store
        self._listen = listen
        self.settings = settings
        self._schema = cap_schema
        # The session logs as it goes (a line fault, a refused frame): without a logger it would fail there.
        self._log = log if log is not None else structlog.get_logger().bind(component="police-peer")
        self._show = show
        self._random = rng if rng is not None else random_module.Random()
        self._port: Any = None
        self._current: _PeerConnection | None = None
        self._timers: list[Any] = []
        self.session: LinkSession | None = None
        self.state = LinkState.DISCONNECTED
        #: Waiters for ``alerts_received(n)``.
        self._waiting: list[tuple[int, Deferred[int]]] = []
        self.refused: list[tuple[str, str]] = []
        self.gaps: list[tuple[int, int]] = []
        self.snapshots: list[Snapshot] = []
        self.acknowledged_count = 0

    # --- life ----------------------------------------------------------------------------------------------

    def startService(self) -> "Deferred[None]":  # noqa: N802 - Twisted's name
        super().startService()
        memory = self.store.load()
        settings = self.settings
        self.session = LinkSession(
            clock=self._reactor, store=self.store, memory=memory, deliver=self._deliver, listener=self,
            log=self._log, snapshot=self._snapshot, ping_interval_s=settings.ping_interval_s,
            line_fault_after_s=settings.line_fault_after_s, window=settings.window,
            max_frame_bytes=settings.max_frame_bytes)
        self.session.start()
        if settings.answer != "manual":
            # Answers waiting on a timer when this end stopped: without this the hub would wait in vain and tell
            # its operator to phone a force that meant to accept.
            open_incidents = {item["incident_id"] for item in self.store.open_incidents()}
            for alert in self.store.alerts():
                if alert["msg_type"] == "Alert" and alert["answer"] is None and alert["incident_id"] in open_incidents:
                    self._answer_later(alert["identifier"], alert["incident_id"] or "")

        def listening(port: Any) -> None:
            self._port = port

        return self._listen(self._endpoint_for).addCallback(listening)

    def stopService(self) -> "Deferred[None]":  # noqa: N802 - Twisted's name
        super().stopService()
        for timer in self._timers:
            if timer.active():
                timer.cancel()
        self._timers.clear()
        if self.session is not None:
            self.session.stop()
        for _count, waiting in self._waiting:
            waiting.cancel()
        self._waiting.clear()
        stopping = self._port.stopListening() if self._port is not None else None
        return (stopping if isinstance(stopping, Deferred) else succeed(None)).addCallback(lambda _: None)

    @property
    def port(self) -> int | None:
        return None if self._port is None else self._port.getHost().port

    # --- the endpoint the server hands each connection to ------------------------------------------------------

    def _endpoint_for(self, transport: Any) -> "_PeerConnection":
        # One hub at a time: a newer connection replaces an older one (the older is probably half-dead). Each
        # connection gets its own endpoint, so the older one's late detach cannot end the newer.
        older = self._current
        if older is not None:
            self._current = None
            older.replaced()
        self._current = _PeerConnection(self)
        return self._current

    def _attached(self, connection: "_PeerConnection", transport: Any) -> None:
        if connection is not self._current:
            transport.close("replaced by a newer connection")
            return
        self._show(f"link open from {transport.peer} (certificate {transport.fingerprint})")
        assert self.session is not None
        self.session.attach(transport)

    def _text(self, connection: "_PeerConnection", text: str) -> None:
        if connection is self._current and self.session is not None:
            self.session.text_received(text)

    def _detached(self, connection: "_PeerConnection", reason: str) -> None:
        if connection is self._current:
            self._current = None
            assert self.session is not None
            self.session.detach(reason)

    # --- the session's listener ---------------------------------------------------------------------------

    def state_changed(self, state: LinkState, reason: str | None) -> None:
        self.state = state
        self._show(f"link {state.value}" + (f": {reason}" if reason else ""))

    def acknowledged(self, acks: Any) -> None:
        self.acknowledged_count += len(acks)
        for ack in acks:
            if ack.status not in ("ok", "duplicate"):
                self._show(f"the hub refused message {ack.message.link_seq}: {ack.status} {ack.reason or ''}")
                self._request_refused(ack)

    def _request_refused(self, ack: Any) -> None:
        # A request the hub refused at link level (invalid, or stale: past its deadline) gets no business answer:
        # it is over, and must not stay open in this end's snapshot.
        if ack.message.content_type != POLICE_REQUEST:
            return
        try:
            request_id = json.loads(ack.message.body).get("request_id")
        except (ValueError, AttributeError):
            return
        if isinstance(request_id, str):
            self.store.run(self.store.request_answer_job(request_id, ack.status, ack.reason or ack.status, {},
                                                         ack.at))

    def gap(self, expected: int, received: int) -> None:
        self.gaps.append((expected, received))
        self._show(f"GAP: expected message {expected} from the hub, got {received}")

    def snapshot_received(self, snapshot: Snapshot) -> None:
        self.snapshots.append(snapshot)
        self._show(f"snapshot from the hub: {len(snapshot.incidents)} open incident(s), "
                   f"{len(snapshot.requests)} open request(s)")

    def pong(self, round_trip_s: float, clock_offset_s: float) -> None:
        pass

    def frame_refused(self, code: str, reason: str) -> None:
        self.refused.append((code, reason))
        self._show(f"unreadable frame from the hub ({code}): {reason}")

    def stale_received(self, inbound: Inbound) -> None:
        self._show(f"stale message {inbound.link_seq} from the hub (past its deadline)")

    def _snapshot(self) -> tuple[list[dict], list[dict]]:
        now = self._reactor.seconds()
        requests = [{"request_id": r["request_id"], "request_type": r["request_type"],
                     "state": r["outcome"] or "sent"} for r in self.store.requests() if _still_open(r, now)]
        return self.store.open_incidents(), requests

    # --- what arrives ---------------------------------------------------------------------------------------

    def _deliver(self, inbound: Inbound) -> "Deferred[Verdict]":
        if inbound.content_type == CAP_XML:
            return succeed(self._alert(inbound))
        if inbound.content_type == REQUEST_ANSWER:
            return succeed(self._request_answer(inbound))
        self.store.run(self.store.inbox_job(inbound, "error"))
        return succeed(Verdict("error", f"the force end takes no {inbound.content_type[:100]!r} messages"))

    def _alert(self, inbound: Inbound) -> Verdict:
        text = inbound.payload if isinstance(inbound.payload, str) else None
        if text is None:
            return self._refuse(inbound, "a CAP message must be XML text")
        try:
            alert = decode_alert(text)
        except CapError as error:
            return self._refuse(inbound, f"not CAP 1.2: {error}")
        if self._schema is not None:
            from lxml import etree

            document = etree.fromstring(text.encode("utf-8"), etree.XMLParser(resolve_entities=False,
                                                                             no_network=True))
            if not self._schema.validate(document):
                first = self._schema.error_log.filter_from_errors()[0]
                return self._refuse(inbound, f"not valid against the CAP 1.2 schema: line {first.line}: "
                                             f"{first.message}")
        info = alert.info[0] if alert.info else None
        incident = alert.incidents[0] if alert.incidents else None
        self.store.run(self.store.inbox_job(inbound, "ok"), self.store.alert_job(
            identifier=alert.identifier, incident_id=incident, msg_type=alert.msg_type, inbound=inbound,
            headline=info.headline if info else None, severity=info.severity if info else None, xml=text))
        self._show(f"{alert.msg_type.upper()} {alert.identifier} incident {incident} "
                   f"[{info.severity if info else '-'}] {info.headline if info and info.headline else ''}")
        if alert.msg_type == "Alert" and self.settings.answer != "manual":
            self._answer_later(alert.identifier, incident or "")
        self._wake()
        return Verdict("ok")

    def _refuse(self, inbound: Inbound, reason: str) -> Verdict:
        self.store.run(self.store.inbox_job(inbound, "error"))
        self._show(f"REFUSED message {inbound.link_seq}: {reason}")
        return Verdict("error", reason)

    def _request_answer(self, inbound: Inbound) -> Verdict:
        try:
            answer = decode_request_answer(inbound.payload)  # type: ignore[arg-type]
        except (MessageError, TypeError) as error:
            return self._refuse(inbound, f"not a request answer: {error}")
        payload = inbound.payload if isinstance(inbound.payload, dict) else {}
        self.store.run(self.store.inbox_job(inbound, "ok"), self.store.request_answer_job(
            answer.request_id, answer.outcome, answer.detail, payload, inbound.received_at))
        line = f"ANSWER to {answer.request_id} ({answer.request_type}): {answer.outcome}: {answer.detail}"
        if answer.stream is not None:
            line += f" stream {answer.stream.uri} until {answer.stream.expires_at.isoformat()}"
        self._show(line)
        return Verdict("ok")

    # --- answering alerts -------------------------------------------------------------------------------------

    def _answer_later(self, identifier: str, incident_id: str) -> None:
        accepted = self.settings.answer == "accept"
        if self.settings.answer_delay_s <= 0:
            self.answer_alert(identifier, incident_id, accepted=accepted)
            return
        timer = self._reactor.callLater(self.settings.answer_delay_s, self.answer_alert, identifier, incident_id,
                                        accepted=accepted)
        self._timers = [t for t in self._timers if t.active()] + [timer]

    def answer_alert(self, identifier: str, incident_id: str | None = None, *, accepted: bool,
                     reason: str | None = None, force_reference: str | None = None) -> Outbound:
        """Accept or reject an alert: the business answer the hub puts on the incident."""
        if incident_id is None:
            known = self.store.alert(identifier)
            incident_id = (known or {}).get("incident_id") or ""
        number = self.store.alert_count()
        answer = AlertAnswer(
            identifier=identifier, incident_id=incident_id, answer="accepted" if accepted else "rejected",
            reason=None if accepted else (reason or self.settings.reject_reason),
            force_reference=force_reference or (f"LOG-{number:05d}" if accepted else None),
            answered_by=self.settings.officer)
        body = json.dumps(encode_alert_answer(answer), separators=(",", ":"))
        message = self._send(ALERT_ANSWER, body, also=(self.store.answer_alert_job(
            identifier, answer.answer, self._reactor.seconds()),))
        self._show(f"answered {identifier}: {answer.answer}" + (f" ({answer.reason})" if answer.reason else ""))
        return message

    # --- sending requests ------------------------------------------------------------------------------------

    def _officer(self) -> Officer:
        return Officer(name=self.settings.officer, force=self.settings.force)

    def _request_id(self) -> str:
        return f"REQ-{int(self._reactor.seconds())}-{self._random.getrandbits(32):08x}"

    def request_live_view(self, camera: str, minutes: int = 10, reason: str = "Suspect vehicle sighting",
                          deadline_s: float | None = None) -> str:
        return self._request(LiveViewRequest(request_id=self._request_id(), camera=camera, minutes=minutes,
                                             reason=reason, requested_by=self._officer()), deadline_s)

    def request_retention(self, crime_reference: str, cameras: tuple[str, ...], start: datetime, end: datetime,
                          reason: str = "Evidence for an investigation", deadline_s: float | None = None) -> str:
        return self._request(RetainFootageRequest(
            request_id=self._request_id(), crime_reference=crime_reference, cameras=tuple(cameras), start=start,
            end=end, reason=reason, requested_by=self._officer()), deadline_s)

    def request_point_camera(self, camera: str, preset: str, reason: str = "Officers attending",
                             deadline_s: float | None = None) -> str:
        return self._request(PointCameraRequest(request_id=self._request_id(), camera=camera, preset=preset,
                                                reason=reason, requested_by=self._officer()), deadline_s)

    def request_monitoring(self, place: str, until: datetime, reason: str = "Expected disorder",
                           cameras: tuple[str, ...] = (), latitude: float | None = None,
                           longitude: float | None = None, deadline_s: float | None = None) -> str:
        return self._request(MonitorLocationRequest(
            request_id=self._request_id(), location=MonitoredPlace(name=place, latitude=latitude,
                                                                   longitude=longitude),
            until=until, reason=reason, requested_by=self._officer(), cameras=tuple(cameras)), deadline_s)

    def _request(self, request: Any, deadline_s: float | None) -> str:
        payload = encode_request(request)
        now = self._reactor.seconds()
        deadline = now + deadline_s if deadline_s is not None else None
        self._send(POLICE_REQUEST, json.dumps(payload, separators=(",", ":")), deadline=deadline,
                   also=(self.store.request_job(request.request_id, payload["request_type"], payload, now),))
        self._show(f"sent {payload['request_type']} request {request.request_id}")
        return request.request_id

    def _send(self, content_type: str, body: str, *, deadline: float | None = None,
              also: tuple[Any, ...] = ()) -> Outbound:
        session = self.session
        assert session is not None, "the force end is not running"
        message = Outbound(link_seq=session.allocate(),
                           transaction_id=f"force-{self._random.getrandbits(64):016x}",
                           content_type=content_type, body=body, queued_at=self._reactor.seconds(),
                           deadline=deadline)
        # Durable first, then offered: the same order as the hub's outbox.
        self.store.run(self.store.outbox_job(message), *also)
        session.offer(message)
        return message

    # --- for tests and benchmarks -----------------------------------------------------------------------------

    def alerts_received(self, count: int) -> "Deferred[int]":
        """Fires once at least ``count`` alerts have been received (each counted once)."""
        waiting: Deferred[int] = Deferred()
        self._waiting.append((count, waiting))
        self._wake()
        return waiting

    def _wake(self) -> None:
        if not self._waiting:
            return
        have = self.store.alert_count()
        for entry in list(self._waiting):
            if have >= entry[0]:
                self._waiting.remove(entry)
                entry[1].callback(have)


def _still_open(request: dict[str, Any], now: float) -> bool:
    """Whether the hub still holds a request open, as this end can tell: not yet answered; or accepted and not
    over (a camera pointed is done once accepted, a live view ends at its stream's expiry; footage on hold and
    a place watched end with a "done" answer)."""
    if request["outcome"] is None:
        return True
    if request["outcome"] != "accepted" or request["request_type"] == "point_camera":
        return False
    if request["request_type"] == "live_view":
        expires = ((request["answer"] or {}).get("stream") or {}).get("expires_at")
        try:
            return datetime.fromisoformat(expires).timestamp() > now
        except (TypeError, ValueError):
            return False
    return True


def listen_for_hub(reactor: Any, *, port: int, interface: str, certificate: Path, key: Path, client_ca: Path,
                   log: Any) -> Callable[[Any], "Deferred[Any]"]:
    """The real ``listen`` for a ``PolicePeer``: a mutual-TLS WebSocket server on ``interface:port``."""
    from plugins.police_link.tls import server_tls
    from plugins.police_link.transport import listen_link

    options = server_tls(certificate=certificate, key=key, client_ca=client_ca)

    def listen(endpoint_for: Callable[[Any], Any]) -> "Deferred[Any]":
        return Deferred.fromCoroutine(listen_link(reactor, port=port, interface=interface, tls_options=options,
                                                  endpoint_for=endpoint_for, log=log))

    return listen


class _PeerConnection:
    """The endpoint of one connection from the hub: forwards to the peer while it is the current one."""

    def __init__(self, peer: PolicePeer) -> None:
        self._peer = peer
        self._transport: Any = None

    def attach(self, transport: Any) -> None:
        self._transport = transport
        self._peer._attached(self, transport)

    def text_received(self, text: str) -> None:
        self._peer._text(self, text)

    def detach(self, reason: str) -> None:
        self._peer._detached(self, reason)

    def replaced(self) -> None:
        # The session lets go of the older connection first: it must detach before it attaches the newer.
        session = self._peer.session
        if session is not None and self._transport is not None:
            session.detach("replaced by a newer connection")
        if self._transport is not None:
            self._transport.close("replaced by a newer connection")
