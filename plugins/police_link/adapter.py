"""The police link adapter: one force control room, one supervised Twisted service.

It holds one ``LinkSession`` (the link's protocol: resume, outbox window, acknowledgements, dedupe, pings,
the line fault) behind one reconnecting mutual-TLS WebSocket client, and two desks: ``AlertDesk`` turns
incidents into CAP alerts and takes the force's answers; ``RequestDesk`` carries out the force's requests
and keeps the disclosure log. The adapter wires them together, routes what arrives by content type, turns
the link's changes into ``police.link.*`` events, and answers operator commands.

The outbox and inbox are the hub's database (``store.HubLinkStore``): what was confirmed before a restart is
read back at start, so a message journaled is sent after any number of reconnects and restarts.
"""

from __future__ import annotations

import random as random_module
from typing import Any, Sequence

from twisted.application.service import Service
from twisted.internet.defer import Deferred

from hub.api import AdapterContext
from hub.clock import iso
from hub.commands import CommandRequester, outcome_event, subscribe_commands
from hub.events import CommandOutcomeKind, Event, Severity, Subject
from hub.ids import EventIdGenerator
from hub.outbox import Outbox
from plugins.police_link import events as ev
from plugins.police_link.alerts import AlertDesk
from plugins.police_link.codec.frames import ALERT_ANSWER, CAP_XML, POLICE_REQUEST, REQUEST_ANSWER, Snapshot
from plugins.police_link.codec.messages import MessageError, decode_alert_answer, decode_request
from plugins.police_link.config import PoliceLinkConfig
from plugins.police_link.desk import RequestDesk
from plugins.police_link.link import Acknowledged, Inbound, LinkSession, LinkState, Verdict
from plugins.police_link.records import PoliceRecords
from plugins.police_link.sending import LinkSender
from plugins.police_link.store import HubLinkStore
from plugins.police_link.tls import client_tls
from plugins.police_link.transport import FrameTransport, LinkClientService

ALERT_VERBS = ("send_to_police", "withdraw_from_police")
#: Frames the force sends that the hub could not read are reported at most this often (one event, a count).
REFUSED_REPORT_INTERVAL_S = 60.0


class PoliceLinkAdapter(Service):
    """One link to one force: the session, its transport, the two desks, and the events that describe them."""

    def __init__(self, context: AdapterContext, *, rng: random_module.Random | None = None,
                 transport_factory: Any = None) -> None:
        self.context = context
        self.config: PoliceLinkConfig = context.config
        self._clock = context.reactor
        self._log = context.log
        self._random = rng if rng is not None else random_module.Random()
        # Tests hand in their own transport (an in-memory pair); the hub connects for real.
        self._transport_factory = transport_factory or self._real_transport
        self._outbox = Outbox(context.bus, self._log)
        self.session: LinkSession | None = None
        self.store: HubLinkStore | None = None
        self.alerts: AlertDesk | None = None
        self.desk: RequestDesk | None = None
        self._client: Any = None
        self._requester: CommandRequester | None = None
        self._subscriptions: list[Any] = []
        self._transport: FrameTransport | None = None
        self._lost_reported = False
        self._stopping = False
        self._fault_since: float | None = None
        self._refused_count = 0
        self._refused_last_report: float | None = None
        self._counts = {"alerts_delivered": 0, "answers_delivered": 0, "refused": 0, "received": 0}

    # --- life --------------------------------------------------------------------------------------------

    def startService(self) -> "Deferred[None]":  # noqa: N802 - Twisted's name
        super().startService()
        return Deferred.fromCoroutine(self._start())

    async def _start(self) -> None:
        context, config = self.context, self.config
        if context.database is None:
            raise RuntimeError("the police link needs the hub's database for its outbox (none was given)")
        self.store = HubLinkStore(context.database, context.name)
        memory = self.store.load()
        self.session = LinkSession(
            clock=self._clock, store=self.store, memory=memory, deliver=self._deliver, listener=self,
            log=self._log, snapshot=self._snapshot, ping_interval_s=config.ping_interval_s,
            line_fault_after_s=config.line_fault_after_s, window=config.window,
            max_frame_bytes=config.max_frame_bytes,
        )
        sender = LinkSender(session=self.session, store=self.store, bus=context.bus, clock=self._clock,
                            ids=EventIdGenerator(self._clock), log=self._log)
        records = PoliceRecords(context.database, context.name)
        self._requester = CommandRequester(context.bus, context.events, self._clock, requested_by=context.name,
                                           collect=("onvif.stream.shared",))
        self._requester.start()
        self.alerts = AlertDesk(clock=self._clock, config=config, database=context.database, link=context.name,
                                events=context.events, sender=sender, evidence=context.evidence, bus=context.bus,
                                store=self.store, log=self._log.bind(component="alerts"))
        self.desk = RequestDesk(clock=self._clock, config=config, records=records, link=context.name,
                                events=context.events, sender=sender, store=self.store, requester=self._requester,
                                directory=context.directory, evidence=context.evidence, bus=context.bus,
                                log=self._log.bind(component="requests"))
        self.alerts.start()
        self.desk.start()
        self._log.info("police_link_starting", url=config.url, force=config.force, backlog=len(memory.pending),
                       last_seq_received=memory.last_seq_received)
        self._subscriptions.append(context.bus.subscribe(
            "incident.#", self.alerts.incident_changed, cursor=f"{context.name}.incidents"))
        self._subscriptions.append(subscribe_commands(context, self._command))
        self.session.start()
        self._client = self._transport_factory(self)
        self._client.startService()

    def _real_transport(self, endpoint: Any) -> Any:
        config = self.config
        # A certificate that cannot be read stops the adapter with the reason; the supervisor retries.
        options = client_tls(hostname=config.verify_name, client_certificate=config.client_certificate,
                             client_key=config.client_key, ca_certificate=config.ca_certificate,
                             server_fingerprint=config.pinned_fingerprint)
        return LinkClientService(reactor=self._clock, url=config.url, tls_options=options, endpoint=endpoint,
                                 log=self._log, rng=self._random, backoff_initial_s=config.reconnect_initial_s,
                                 backoff_max_s=config.reconnect_max_s, on_failure=self._connect_failed)

    def stopService(self) -> "Deferred[None]":  # noqa: N802 - Twisted's name
        super().stopService()
        return Deferred.fromCoroutine(self._stop())

    async def _stop(self) -> None:
        # A link closed because the hub stops is no outage: nobody needs an event saying it went down.
        self._stopping = True
        for subscription in self._subscriptions:
            subscription.cancel()
        self._subscriptions.clear()
        if self._client is not None:
            await self._client.stopService()
        for part in (self.session, self.alerts, self.desk, self._requester):
            if part is not None:
                part.stop()
        await self._outbox.drain()

    # --- what the console and the API read ------------------------------------------------------------

    @property
    def link_state(self) -> str | None:
        """``up``, ``fault`` or ``down`` (resuming counts as down until both ends have said where they are);
        None before the adapter has started."""
        session = self.session
        if session is None:
            return None
        if session.state is LinkState.UP:
            return "up"
        if session.state is LinkState.FAULT:
            return "fault"
        return "down"

    @property
    def peer(self) -> str | None:
        return self._transport.peer if self._transport is not None else None

    @property
    def fingerprint(self) -> str | None:
        return self._transport.fingerprint if self._transport is not None else None

    # --- the endpoint the transport talks to (forwarded to the session) -----------------------------------

    def attach(self, transport: FrameTransport) -> None:
        self._transport = transport
        self._log.info("police_link_open", peer=transport.peer, fingerprint=transport.fingerprint)
        assert self.session is not None
        self.session.attach(transport)

    def text_received(self, text: str) -> None:
        self.context.heard()
        assert self.session is not None
        self.session.text_received(text)

    def detach(self, reason: str) -> None:
        self._transport = None
        assert self.session is not None
        self.session.detach(reason)

    def _connect_failed(self, reason: str) -> None:
        self._log.warning("police_link_connect_failed", reason=reason)
        self._report_lost(reason)

    def _report_lost(self, reason: str) -> None:
        # One event per outage, not one per reconnect attempt; every attempt is in the log.
        if self._lost_reported or self._stopping:
            return
        self._lost_reported = True
        backlog = self.session.backlog if self.session is not None else 0
        self._publish(ev.LINK_LOST, ev.LinkLost(reason=reason, backlog=backlog), Severity.LOW,
                      f"Police link to {self.config.force} down: {reason}; {backlog} message(s) waiting")

    # --- the session's listener -----------------------------------------------------------------------------

    def state_changed(self, state: LinkState, reason: str | None) -> None:
        session = self.session
        assert session is not None
        self._log.info("police_link_state", state=state.value, reason=reason, backlog=session.backlog)
        now = self._clock.seconds()
        if state is LinkState.UP:
            self._lost_reported = False
            transport = self._transport
            if self._fault_since is not None:
                lasted = now - self._fault_since
                self._fault_since = None
                self._publish(ev.LINK_RESTORED, ev.LinkRestored(fault_lasted_s=round(lasted, 3), backlog=session.backlog),
                              Severity.INFO, f"Police link to {self.config.force} restored after {lasted:.0f} s")
            self._publish(ev.LINK_CONNECTED, ev.LinkConnected(
                peer=transport.peer if transport else "", fingerprint=transport.fingerprint if transport else None,
                backlog=session.backlog, peer_last_seq_received=session.peer_last_seq_received,
                resend_from=session.resend_from), Severity.INFO,
                f"Police link to {self.config.force} up; {session.backlog} message(s) to send")
        elif state is LinkState.FAULT:
            if self._fault_since is None:
                self._fault_since = now
                heard = session.last_heard_at
                silent = now - heard if heard is not None else self.config.line_fault_after_s
                self._publish(ev.LINK_FAULT, ev.LineFault(
                    silent_for_s=round(silent, 3), backlog=session.backlog,
                    last_heard=iso(heard) if heard is not None else None), Severity.HIGH,
                    f"Police link line fault: nothing from {self.config.force} for {silent:.0f} s; "
                    "phone the force control room")
        elif state is LinkState.DISCONNECTED:
            self._transport = None
            self._report_lost(reason or "connection closed")

    def acknowledged(self, acks: Sequence[Acknowledged]) -> None:
        assert self.alerts is not None and self.desk is not None
        alerts = [ack for ack in acks if ack.message.content_type == CAP_XML]
        answers = [ack for ack in acks if ack.message.content_type == REQUEST_ANSWER]
        for ack in acks:
            if ack.status in ("error", "stale"):
                self._counts["refused"] += 1
        self._counts["alerts_delivered"] += len(alerts)
        self._counts["answers_delivered"] += len(answers)
        if alerts:
            self.alerts.acknowledged(alerts)
        if answers:
            self.desk.acknowledged(answers)

    def gap(self, expected: int, received: int) -> None:
        self._publish(ev.LINK_GAP, ev.SequenceGap(expected=expected, received=received), Severity.MEDIUM,
                      f"Police link: messages {expected} to {received - 1} from {self.config.force} never arrived; "
                      "ask them to resend")

    def snapshot_received(self, snapshot: Snapshot) -> None:
        assert self.alerts is not None and self.desk is not None
        ours_open = {item["request_id"]: item for item in self.desk.snapshot_items()}
        known = self.desk.known_requests()
        force_requests = [item.get("request_id") for item in snapshot.requests if isinstance(item, dict)]
        unknown = tuple(sorted(str(r) for r in force_requests if r not in known))
        answered = tuple(sorted(str(r) for r in force_requests if r in known and r not in ours_open))
        force_incidents = {item.get("incident_id") for item in snapshot.incidents if isinstance(item, dict)}
        missing = tuple(sorted(item["incident_id"] for item in self.alerts.snapshot_items()
                               if item["incident_id"] not in force_incidents))
        differs = bool(unknown or answered or missing)
        self._publish(ev.LINK_SNAPSHOT, ev.SnapshotCompared(
            force_incidents=len(snapshot.incidents), force_requests=len(snapshot.requests),
            unknown_requests=unknown, answered_requests=answered, missing_incidents=missing),
            Severity.MEDIUM if differs else Severity.INFO,
            "Police link: the force's open incidents and requests differ from the hub's" if differs else
            "Police link: the force's open incidents and requests agree with the hub's")

    def pong(self, round_trip_s: float, clock_offset_s: float) -> None:
        self._log.debug("police_link_pong", round_trip_ms=round(round_trip_s * 1000, 1),
                        clock_offset_s=round(clock_offset_s, 3))

    def frame_refused(self, code: str, reason: str) -> None:
        self._refused_count += 1
        now = self._clock.seconds()
        if self._refused_last_report is not None and now - self._refused_last_report < REFUSED_REPORT_INTERVAL_S:
            return
        count, self._refused_count = self._refused_count, 0
        self._refused_last_report = now
        self._publish(ev.LINK_FRAME_REFUSED, ev.FrameRefused(code=code, reason=reason, count=count), Severity.LOW,
                      f"Police link: a frame from {self.config.force} could not be read ({code}: {reason})")

    def stale_received(self, inbound: Inbound) -> None:
        request_id = inbound.payload.get("request_id") if isinstance(inbound.payload, dict) else None
        self._publish(ev.REQUEST_STALE, ev.RequestStale(
            request_id=request_id if isinstance(request_id, str) else None,
            transaction_id=inbound.transaction_id,
            deadline=iso(inbound.deadline) if inbound.deadline is not None else "",
            received_at=iso(inbound.received_at)), Severity.LOW,
            f"Police request {request_id or inbound.transaction_id} arrived after its deadline; answered stale")

    # --- what arrives ------------------------------------------------------------------------------------------

    def _deliver(self, inbound: Inbound) -> "Deferred[Verdict]":
        return Deferred.fromCoroutine(self._route(inbound))

    async def _route(self, inbound: Inbound) -> Verdict:
        assert self.alerts is not None and self.desk is not None and self.store is not None
        self._counts["received"] += 1
        if inbound.content_type == POLICE_REQUEST:
            try:
                request = decode_request(inbound.payload)
            except MessageError as error:
                return await self._invalid(inbound, str(error), error.path)
            return await self.desk.received(inbound, request)
        if inbound.content_type == ALERT_ANSWER:
            try:
                answer = decode_alert_answer(inbound.payload)
            except MessageError as error:
                return await self._invalid(inbound, str(error), error.path)
            return await self.alerts.answered(inbound, answer)
        return await self._invalid(inbound, f"content type {inbound.content_type[:100]!r} is not one the hub takes",
                                   None)

    async def _invalid(self, inbound: Inbound, reason: str, path: str | None) -> Verdict:
        assert self.store is not None
        request_id = inbound.payload.get("request_id") if isinstance(inbound.payload, dict) else None
        event = self.context.events(
            ev.REQUEST_INVALID,
            ev.RequestInvalid(transaction_id=inbound.transaction_id, reason=reason, path=path,
                              request_id=request_id if isinstance(request_id, str) else None),
            severity=Severity.LOW, subject=self._link_subject(),
            summary=f"Police link: a message from {self.config.force} was refused: {reason}",
        )
        await self.context.bus.publish(event, also=self.store.inbox_job(inbound, "error"))
        return Verdict("error", reason)

    def _snapshot(self) -> tuple[list[dict], list[dict]]:
        assert self.alerts is not None and self.desk is not None
        return self.alerts.snapshot_items(), self.desk.snapshot_items()

    # --- operator commands -------------------------------------------------------------------------------------

    def _command(self, command: Event) -> "Deferred[None]":
        return Deferred.fromCoroutine(self._run_command(command))

    async def _run_command(self, command: Event) -> None:
        assert self.alerts is not None and self.desk is not None
        verb = command.payload.verb
        try:
            if verb == "send_to_police":
                outcome, detail = await self.alerts.send_to_police(command)
            elif verb == "withdraw_from_police":
                outcome, detail = await self.alerts.withdraw(command)
            else:
                outcome, detail = await self.desk.command(command)
        except Exception as error:  # noqa: BLE001 - every command gets an outcome, whatever went wrong
            self._log.exception("police_command_failed", verb=verb, command_id=command.id)
            outcome, detail = CommandOutcomeKind.FAILED, f"{type(error).__name__}: {error}"
        self._outbox.publish(outcome_event(self.context.events, self.context.adapter_type, command, outcome, detail))

    # --- helpers ---------------------------------------------------------------------------------------------------

    def _link_subject(self) -> Subject:
        return Subject(kind="partner_link", id=self.context.name, name=self.config.force)

    def _publish(self, topic: str, payload: Any, severity: Severity, summary: str) -> None:
        self._outbox.publish(self.context.events(topic, payload, severity=severity, subject=self._link_subject(),
                                                 summary=summary))

    def metrics(self) -> list[Any]:
        from hub.api import MetricSample

        session = self.session
        if session is None:
            return []
        samples = [
            MetricSample("police_link_up", "gauge", "1 while the link to the force is up", 1.0 if session.state is LinkState.UP else 0.0),
            MetricSample("police_link_backlog", "gauge", "messages to the force not yet acknowledged", session.backlog),
            MetricSample("police_link_in_flight", "gauge", "messages sent and awaiting the force's acknowledgement", session.in_flight),
            MetricSample("police_link_received_total", "counter", "messages received from the force", self._counts["received"]),
            MetricSample("police_link_alerts_delivered_total", "counter", "CAP messages the force acknowledged", self._counts["alerts_delivered"]),
            MetricSample("police_link_answers_delivered_total", "counter", "request answers the force acknowledged", self._counts["answers_delivered"]),
            MetricSample("police_link_refused_total", "counter", "messages the force refused (error or stale)", self._counts["refused"]),
        ]
        return samples
