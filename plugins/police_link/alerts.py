"""The alert desk of one police link: the hub's incidents as CAP 1.2 messages to the force, and its answers.

An incident goes to the force as a CAP ``Alert`` when configuration says so (``auto_send``: a severity, or
the topic of one of its events) or when an operator presses "send to police". From then on the incident is
*shared*: a change the force cares about (severity, state, location, title, a new still) goes as an
``Update``, at most one per ``update_min_interval_s`` per incident (changes meanwhile are folded into one, the
latest state winning); "withdraw from police" sends a ``Cancel``, after which nothing more goes unless an
operator sends the incident again (a new ``Alert``, a new chain). Every message of a chain references every
earlier one.

Each message is journaled with its ``police.alert.queued`` event, its ``police_alerts`` row and the
disclosure log's rows for the stills it releases, in one transaction (``LinkSender.send``). Its transaction id
is derived from the journal event that caused it (the ``incident.*`` change, the operator's command), so a
cause handled twice after a crash is sent once.

How a hub incident maps onto CAP (documented here because the force's integrators will ask):

- ``status`` from configuration (``Actual`` in service), ``scope`` Private, ``addresses`` the force,
  ``incidents`` the hub's incident id, ``source`` who sent it (the operator, or "hub (automatic)").
- ``category`` Security, the force's business; Security and Safety when one of the incident's events is an
  emergency (a topic with an ``emergency`` word: a radio's emergency button means a person in danger, which
  CAP calls Safety, and police systems routing on Security still see it).
- ``event`` the incident's category, or its title when it has none; ``headline`` the title.
- urgency, severity and certainty from the hub's severity (``CAP_GRADES``); urgency ``Past`` once the
  incident is resolved or closed, and in a Cancel.
- ``description`` what happened: the incident's state, place and cameras, the latest events' summaries,
  the operator's note.
- ``parameter``: ``incident_number``, ``incident_state``, ``hub_severity``, ``cameras``, ``operator_note``,
  ``withdrawal_reason`` (a Cancel), and per still ``resource_sha256`` (written by the codec).
- ``area`` from the incident's location: a circle of ``AREA_RADIUS_KM`` round its coordinates, a ``UPRN``
  geocode, ``areaDesc`` the place's name (or its camera).
- ``resource`` per still kept on the incident (an ``onvif.snapshot.taken`` event that joined it): its
  description, MIME type, size, ``uri`` (``evidence_base_url`` + its SHA-256, when configured), CAP's SHA-1
  ``digest`` computed from the bytes and the SHA-256. The first message to carry a still is its release: a
  disclosure log row and a ``police.disclosure.recorded`` event.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs
from attrs import define, field, frozen
from twisted.internet.defer import Deferred, DeferredLock

from hub.clock import utc_from_seconds
from hub.events import (
    CommandOutcomeKind,
    Event,
    EventFactory,
    Location,
    Severity,
    Subject,
)
from hub.incidents.store import IncidentStore
from hub.topics import TopicMatcher
from plugins.police_link import events as ev
from plugins.police_link.codec.cap import (
    CapAlert,
    CapArea,
    CapError,
    CapInfo,
    CapReference,
    CapResource,
    cap_listing,
    cap_time,
    decode_alert,
    encode_alert,
    identifier_for,
    parse_cap_time,
)
from plugins.police_link.codec.frames import CAP_XML
from plugins.police_link.config import PoliceLinkConfig
from plugins.police_link.link import Acknowledged, Inbound, Verdict
from plugins.police_link.records import Disclosure, PoliceRecords, together

Job = Callable[[sqlite3.Connection], Any]

#: Hub severity -> CAP (urgency, severity, certainty). A critical event is a person's emergency (a button
#: pressed, a partner in danger): act now, extreme, observed. High is for acting now on what a device or
#: partner reports, not yet seen by a person: severe and likely. Medium and low are for a force's queue.
CAP_GRADES: Mapping[str, tuple[str, str, str]] = {
    "critical": ("Immediate", "Extreme", "Observed"),
    "high": ("Immediate", "Severe", "Likely"),
    "medium": ("Expected", "Moderate", "Likely"),
    "low": ("Future", "Minor", "Possible"),
    "info": ("Unknown", "Minor", "Unknown"),
}
#: The radius of the circle drawn round an incident's coordinates: a street's width either way.
AREA_RADIUS_KM = 0.1
#: Topics whose events carry a still to send with the incident.
STILL_TOPICS = ("onvif.snapshot.taken",)
#: Events that land on a shared incident but tell the force nothing new: the link's own events (an
#: unanswered alert raises the incident's severity in the room, not the incident's), commands and their
#: outcomes.
NOT_NEWS = tuple(TopicMatcher(pattern) for pattern in ("police.#", "command.#", "*.command.*"))
#: How many of the incident's latest events the description quotes.
LATEST_EVENTS = 5
_HEADLINE_LENGTH = 160
_FINISHED = ("resolved", "closed")
_OPEN = ("new", "acknowledged", "in_progress")
_ROW_COLUMNS = ("identifier, incident_id, msg_type, sent, transaction_id, queued_at, delivered_at, answer, "
                "answered_at, reason, force_reference, incident_state, unanswered_reported")


@frozen
class SentMessage:
    """One CAP message sent about an incident, as its ``police_alerts`` row keeps it."""

    identifier: str
    incident_id: str
    msg_type: str
    sent: str
    transaction_id: str
    queued_at: float
    delivered_at: float | None = None
    answer: str | None = None
    answered_at: float | None = None
    reason: str | None = None
    force_reference: str | None = None
    incident_state: str | None = None
    unanswered_reported: bool = False


@frozen
class Still:
    """A still kept as evidence on an incident: its hash, type and size, the camera and when it was taken."""

    sha256: str
    content_type: str
    size: int | None
    camera: str | None = None
    taken_at: str | None = None

    @property
    def description(self) -> str:
        where = f"camera {self.camera}" if self.camera else "a camera"
        when = f" at {self.taken_at}" if self.taken_at else ""
        return f"Still from {where}{when} (SHA-256 {self.sha256[:12]})"


@frozen
class ForceView:
    """What the force was last told of an incident, in the terms that make an update worth sending."""

    severity: str | None
    state: str | None
    title: str | None
    place: tuple[Any, ...]
    stills: frozenset[str]

    def changes_to(self, now: ForceView) -> list[str]:
        """What changed from this view to ``now``, for people (empty: nothing the force cares about)."""
        changes = []
        if now.severity != self.severity:
            changes.append(f"severity {self.severity} -> {now.severity}")
        if now.state != self.state:
            changes.append(f"state {self.state} -> {now.state}")
        if now.place != self.place:
            changes.append("location changed")
        if now.title != self.title:
            changes.append("title changed")
        added = len(now.stills - self.stills)
        if added:
            changes.append(f"{added} new still{'s' if added > 1 else ''}")
        return changes


@define
class _Pending:
    """An update waiting for its incident's quiet interval to pass: the latest cause wins."""

    cause_id: str
    causation_id: str | None
    call: Any = None


@define
class _Tracked:
    """What the desk knows of one incident: its latest JSON, its events' topics, stills and the messages."""

    id: str
    incident: dict[str, Any] | None = None
    topics: set[str] = field(factory=set)
    news: list[int] = field(factory=list)
    stills: dict[str, Still] = field(factory=dict)
    seen: set[int] = field(factory=set)
    history_loaded: bool = False
    messages: list[SentMessage] | None = None
    view: ForceView | None = None
    view_loaded: bool = False
    released: set[str] = field(factory=set)
    pending: _Pending | None = None
    lock: DeferredLock = field(factory=DeferredLock)

    def chain(self) -> list[SentMessage]:
        """The messages since the latest Alert (the references a new message carries)."""
        messages = self.messages or []
        for index in range(len(messages) - 1, -1, -1):
            if messages[index].msg_type == "Alert":
                return messages[index:]
        return []

    @property
    def shared(self) -> bool:
        """The force has it and it was not withdrawn."""
        return bool(self.messages) and self.messages[-1].msg_type != "Cancel"  # type: ignore[index]

    @property
    def state(self) -> str | None:
        if self.incident is not None:
            return self.incident.get("state")
        return self.messages[-1].incident_state if self.messages else None

    @property
    def title(self) -> str:
        return (self.incident or {}).get("title") or self.id


class AlertDesk:
    """Turns one hub's incidents into CAP messages to one force, and takes the force's answers."""

    def __init__(self, *, clock: Any, config: PoliceLinkConfig, database: Any, link: str, events: EventFactory,
                 sender: Any, evidence: Any | None, log: Any, bus: Any, store: Any) -> None:
        self._clock = clock
        self._bus = bus
        self._store = store
        self._config = config
        self._database = database
        self._link = link
        self._events = events
        self._sender = sender
        self._evidence = evidence
        self._log = log
        self._records = PoliceRecords(database, link)
        self._tracked: dict[str, _Tracked] = {}
        self._answer_timers: dict[str, Any] = {}
        self._incidents: IncidentStore | None = None
        self._auto_topics = tuple(TopicMatcher(pattern) for pattern in config.auto_send.topics)
        self._min_severity = (Severity.parse(config.auto_send.min_severity)
                              if config.auto_send.min_severity is not None else None)
        self._running = False
        # An explicit ``addresses`` is a CAP listing already; the force's name is one address, quoted if it
        # holds spaces (CAP separates addresses by whitespace).
        self._addresses = config.addresses or cap_listing([config.force.replace('"', "'")])

    # --- life ---------------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Load the incidents the force holds, re-arm their answer timers, and queue an update for any that
        changed while the hub was down (or after the last update was queued but before it went)."""
        self._running = True
        for incident_id, messages in self._live_chains().items():
            tracked = self._tracked.setdefault(incident_id, _Tracked(incident_id))
            tracked.messages = messages
            self._arm_answer_timer(tracked)
            self._reconcile(tracked)

    def stop(self) -> None:
        """Cancel every timer; updates still waiting go when the link starts again (``start`` reconciles)."""
        self._running = False
        for call in self._answer_timers.values():
            if call.active():
                call.cancel()
        self._answer_timers.clear()
        for tracked in self._tracked.values():
            if tracked.pending is not None and tracked.pending.call is not None and tracked.pending.call.active():
                tracked.pending.call.cancel()
            tracked.pending = None
        if self._incidents is not None:
            self._incidents.close()
            self._incidents = None

    # --- incidents ----------------------------------------------------------------------------------------------

    async def incident_changed(self, event: Event) -> None:
        """An ``incident.*`` event (from a durable cursor): keep the incident's latest state, send it when
        configuration says so, and update the force when a shared incident changed in a way it cares about."""
        payload = event.payload
        incident = getattr(payload, "incident", None)
        if not isinstance(incident, dict) or not isinstance(incident.get("id"), str):
            self._log.warning("incident_event_unreadable", seq=event.seq, topic=event.topic)
            return
        incident_id = incident["id"]
        tracked = self._tracked.setdefault(incident_id, _Tracked(incident_id))
        await tracked.lock.acquire()
        try:
            await self._changed(tracked, event, payload.change, dict(payload.detail or {}), incident)
        finally:
            tracked.lock.release()
        self._forget_if_done(tracked)

    def _forget_if_done(self, tracked: _Tracked) -> None:
        """Let go of an incident no longer open that the force does not hold open: memory stays bounded by the
        open and shared incidents (everything is read again from the database if it comes back)."""
        if (tracked.pending is None and not tracked.lock.locked and not tracked.lock.waiting
                and tracked.state not in _OPEN and (not tracked.shared or tracked.state == "closed")):
            self._tracked.pop(tracked.id, None)

    async def _changed(self, tracked: _Tracked, event: Event, change: str, detail: dict[str, Any],
                       incident: dict[str, Any]) -> None:
        tracked.incident = incident
        if change == "opened":
            tracked.history_loaded = True
        topic = detail.get("topic")
        seq = detail.get("seq")
        if isinstance(topic, str) and isinstance(seq, int) and change in ("opened", "event_joined",
                                                                          "duplicate_folded", "state_changed"):
            self._gathered(tracked, seq, topic)
        news = not (isinstance(topic, str) and any(match(topic) for match in NOT_NEWS))
        self._ensure_messages(tracked)
        if not tracked.messages:
            rule = self._auto_rule(incident, topic if news else None)
            if rule is not None:
                await self._send(tracked, "Alert", cause_id=event.id, causation_id=event.id,
                                 reason=f"automatic: {rule}",
                                 requested_by=None, released_by=f"hub (automatic: {rule})")
            return
        if not tracked.shared or not news:
            return
        self._load_view(tracked)
        if tracked.view is not None and not tracked.view.changes_to(self._view_now(tracked)):
            return
        await self._update_later(tracked, event.id)

    def _auto_rule(self, incident: dict[str, Any], topic: str | None) -> str | None:
        """The rule that sends this incident by itself now, or None."""
        if incident.get("state") not in _OPEN:
            return None
        # The link's own incidents (its line fault, a request from the force) are never sent back over it: a
        # fault cannot be reported down the line at fault, and a request is the force's own news.
        if incident.get("source") == self._link or (topic is not None and topic.startswith("police.")):
            return None
        if topic is not None:
            for match in self._auto_topics:
                if match(topic):
                    return f"topic {topic} matches {match.pattern}"
        if self._min_severity is not None:
            try:
                severity = Severity.parse(incident.get("severity", ""))
            except ValueError:
                return None
            if severity >= self._min_severity:
                return f"severity {severity.label} at or above {self._min_severity.label}"
        return None

    def _gathered(self, tracked: _Tracked, seq: int, topic: str) -> None:
        """An event joined the incident: remember its topic, quote it if it is news, keep it if a still."""
        if seq in tracked.seen:
            return
        tracked.seen.add(seq)
        tracked.topics.add(topic)
        if not any(match(topic) for match in NOT_NEWS):
            tracked.news = [*tracked.news, seq][-LATEST_EVENTS:]
        if topic in STILL_TOPICS:
            for body in self._bodies([seq]).values():
                still = _still_of(body)
                if still is not None:
                    tracked.stills.setdefault(still.sha256, still)

    async def _update_later(self, tracked: _Tracked, cause_id: str) -> None:
        """Send an update now if the incident's last message is old enough, else once it is."""
        if tracked.pending is None:
            tracked.pending = _Pending(cause_id, cause_id)
        else:
            tracked.pending.cause_id = tracked.pending.causation_id = cause_id
        last = tracked.messages[-1].queued_at if tracked.messages else None
        now = self._clock.seconds()
        due = now if last is None else last + self._config.update_min_interval_s
        if due <= now:
            await self._send_pending(tracked)
        elif tracked.pending.call is None and self._running:
            tracked.pending.call = self._clock.callLater(due - now, self._update_due, tracked.id)

    def _update_due(self, incident_id: str) -> None:
        tracked = self._tracked.get(incident_id)
        if tracked is None or tracked.pending is None:
            return
        tracked.pending.call = None

        async def run() -> None:
            await tracked.lock.acquire()
            try:
                await self._send_pending(tracked)
            finally:
                tracked.lock.release()
            self._forget_if_done(tracked)

        Deferred.fromCoroutine(run()).addErrback(
            lambda failure: self._log.error("update_failed", incident=incident_id, error=failure.getErrorMessage()))

    async def _send_pending(self, tracked: _Tracked) -> None:
        pending, tracked.pending = tracked.pending, None
        if pending is None:
            return
        if pending.call is not None and pending.call.active():
            pending.call.cancel()
        if not tracked.shared:
            return
        self._load_view(tracked)
        now = self._view_now(tracked)
        changes = tracked.view.changes_to(now) if tracked.view is not None else ["the incident changed"]
        if not changes:
            return
        await self._send(tracked, "Update", cause_id=pending.cause_id, causation_id=pending.causation_id,
                         reason="; ".join(changes),
                         requested_by=None, released_by=f"hub (automatic: update of {tracked.chain()[0].identifier})")

    def _reconcile(self, tracked: _Tracked) -> None:
        """At start: an incident the force holds that changed since its last message gets an update."""
        if not tracked.shared or tracked.state == "closed":
            return
        found = self._incident_store().get(tracked.id)
        if found is None:
            return
        tracked.incident = found.to_json()
        self._load_history(tracked)
        self._load_view(tracked)
        if tracked.view is None or not tracked.view.changes_to(self._view_now(tracked)):
            return
        # Derived from the chain's length: the same after a second crash before it is sent, never again after.
        tracked.pending = _Pending(f"{tracked.id}#{len(tracked.messages or []) + 1}", None)
        last = tracked.messages[-1].queued_at  # type: ignore[index]
        delay = max(0.0, last + self._config.update_min_interval_s - self._clock.seconds())
        tracked.pending.call = self._clock.callLater(delay, self._update_due, tracked.id)

    # --- commands -----------------------------------------------------------------------------------------------

    async def send_to_police(self, command: Event) -> tuple[CommandOutcomeKind, str]:
        """The operator's "send to police": an Alert when the force does not hold the incident, else an Update
        carrying the note (and the incident's latest state)."""
        request = command.payload
        note = (request.arguments.get("note") or "").strip() or None
        tracked, refusal = self._for_command(command)
        if tracked is None:
            return CommandOutcomeKind.REFUSED, refusal
        await tracked.lock.acquire()
        try:
            msg_type = "Update" if tracked.shared else "Alert"
            reason = f"sent by {request.requested_by}" + (f": {note}" if note else "")
            message = await self._send(tracked, msg_type, cause_id=command.id, causation_id=command.id,
                                       reason=reason,
                                       requested_by=request.requested_by, released_by=request.requested_by,
                                       note=note)
        finally:
            tracked.lock.release()
        return CommandOutcomeKind.SENT, (f"queued for {self._config.force} as CAP {msg_type} "
                                         f"{message.identifier}")

    async def withdraw(self, command: Event) -> tuple[CommandOutcomeKind, str]:
        """The operator's "withdraw from police": a Cancel referencing the chain; nothing more goes after it."""
        request = command.payload
        reason = (request.arguments.get("reason") or "").strip() or "withdrawn by the control room"
        tracked, refusal = self._for_command(command)
        if tracked is None:
            return CommandOutcomeKind.REFUSED, refusal
        await tracked.lock.acquire()
        try:
            self._ensure_messages(tracked)
            if not tracked.messages:
                return CommandOutcomeKind.REFUSED, f"{self._config.force} was never sent {tracked.id}"
            if not tracked.shared:
                return CommandOutcomeKind.REFUSED, f"{tracked.id} was already withdrawn from {self._config.force}"
            message = await self._send(tracked, "Cancel", cause_id=command.id, causation_id=command.id,
                                       reason=f"withdrawn by {request.requested_by}: {reason}",
                                       requested_by=request.requested_by, released_by=request.requested_by,
                                       note=reason)
        finally:
            tracked.lock.release()
        return CommandOutcomeKind.SENT, f"queued for {self._config.force} as CAP Cancel {message.identifier}"

    def _for_command(self, command: Event) -> tuple[_Tracked | None, str]:
        incident_id = command.incident_id
        if not incident_id:
            return None, "this command needs an incident"
        tracked = self._tracked.get(incident_id)
        if tracked is None:
            tracked = _Tracked(incident_id)
        if tracked.incident is None:
            found = self._incident_store().get(incident_id)
            if found is None:
                return None, f"there is no incident {incident_id}"
            tracked.incident = found.to_json()
        self._tracked[incident_id] = tracked
        return tracked, ""

    # --- the force's answers ------------------------------------------------------------------------------------

    async def answered(self, inbound: Inbound, answer: Any) -> Verdict:
        """The force accepted or rejected an incident: the event lands on it, with the inbox row and the
        alert row's answer in the same transaction. An identifier the hub never sent is refused."""
        message = self._message_by_identifier(answer.identifier, answer.incident_id)
        if message is None:
            return Verdict("error", f"no alert {answer.identifier!r} was sent on this link")
        if answer.incident_id != message.incident_id:
            return Verdict("error", f"alert {answer.identifier!r} is about {message.incident_id}, "
                                    f"not {answer.incident_id}")
        now = self._clock.seconds()
        waited = max(0.0, now - message.queued_at)
        tracked = self._tracked.setdefault(message.incident_id, _Tracked(message.incident_id))
        self._ensure_messages(tracked)
        accepted = answer.answer == "accepted"
        event = self._event(
            ev.ALERT_ACCEPTED if accepted else ev.ALERT_REJECTED,
            ev.AlertAnswered(identifier=answer.identifier, answer=answer.answer, reason=answer.reason,
                             force_reference=answer.force_reference, answered_by=answer.answered_by,
                             waited_s=round(waited, 3)),
            tracked, severity=Severity.INFO if accepted else Severity.MEDIUM,
            summary=(f"{self._config.force} {'accepted' if accepted else 'rejected'} incident "
                     f"{_number(tracked)}" + (f": {answer.reason}" if answer.reason else "")
                     + (f" (their reference {answer.force_reference})" if answer.force_reference else "")),
        )
        row_job = _row_update_job(self._link, answer.identifier, answer=answer.answer, answered_at=now,
                                  reason=answer.reason, force_reference=answer.force_reference)
        await self._publish(event, self._store.inbox_job(inbound, "ok"), row_job)
        self._replace(tracked, attrs.evolve(message, answer=answer.answer, answered_at=now, reason=answer.reason,
                                            force_reference=answer.force_reference))
        self._disarm_answer_timer(tracked, answer.identifier)
        self._log.info("alert_answered", identifier=answer.identifier, incident=message.incident_id,
                       answer=answer.answer)
        return Verdict("ok")

    def acknowledged(self, acks: Sequence[Acknowledged]) -> None:
        """The force's end acknowledged CAP messages at link level: delivered, or refused for good."""
        for ack in acks:
            message = self._message_by_transaction(ack.message)
            if message is None:
                self._log.warning("ack_unmatched", transaction_id=ack.message.transaction_id,
                                  link_seq=ack.message.link_seq)
                continue
            tracked = self._tracked.setdefault(message.incident_id, _Tracked(message.incident_id))
            if ack.status in ("ok", "duplicate"):
                waited = max(0.0, ack.at - ack.message.queued_at)
                event = self._event(
                    ev.ALERT_DELIVERED,
                    ev.AlertDelivered(identifier=message.identifier, msg_type=message.msg_type,
                                      transaction_id=message.transaction_id, link_seq=ack.message.link_seq,
                                      waited_s=round(waited, 3)),
                    tracked, severity=Severity.INFO,
                    summary=f"CAP {message.msg_type} for incident {_number(tracked)} delivered to {self._config.force}",
                )
                self._publish_soon(event, _row_update_job(self._link, message.identifier, delivered_at=ack.at))
                self._replace(tracked, attrs.evolve(message, delivered_at=ack.at))
            else:
                event = self._event(
                    ev.MESSAGE_REFUSED,
                    ev.MessageRefused(transaction_id=message.transaction_id, link_seq=ack.message.link_seq,
                                      status=ack.status, what="alert", reason=ack.reason,
                                      identifier=message.identifier),
                    tracked, severity=Severity.MEDIUM,
                    summary=(f"{self._config.force} refused CAP {message.msg_type} for incident {_number(tracked)}"
                             f" ({ack.status})" + (f": {ack.reason}" if ack.reason else "")),
                )
                self._publish_soon(event)

    def snapshot_items(self) -> list[dict[str, Any]]:
        """The incidents the force holds (shared, not withdrawn, not closed), as the link's snapshot lists them."""
        items = []
        for tracked in self._tracked.values():
            if not tracked.shared or tracked.state == "closed":
                continue
            last = tracked.messages[-1]  # type: ignore[index]
            answers = [message.answer for message in tracked.chain() if message.answer]
            items.append({"incident_id": tracked.id, "identifier": last.identifier, "msg_type": last.msg_type,
                          "state": tracked.state, "answer": answers[-1] if answers else None})
        return sorted(items, key=lambda item: item["incident_id"])

    # --- answer timers ------------------------------------------------------------------------------------------

    def _arm_answer_timer(self, tracked: _Tracked) -> None:
        """Time the force's answer to the chain's Alert, unless answered, reported or withdrawn already."""
        chain = tracked.chain()
        if not chain or not tracked.shared or not self._running:
            return
        alert = chain[0]
        if alert.unanswered_reported or any(message.answer for message in chain):
            return
        if alert.identifier in self._answer_timers:
            return
        delay = max(0.0, alert.queued_at + self._config.answer_timeout_s - self._clock.seconds())
        self._answer_timers[alert.identifier] = self._clock.callLater(
            delay, self._unanswered, tracked.id, alert.identifier)

    def _disarm_answer_timer(self, tracked: _Tracked, identifier: str | None = None) -> None:
        names = {message.identifier for message in tracked.chain()}
        if identifier is not None:
            names.add(identifier)
        for name in names:
            call = self._answer_timers.pop(name, None)
            if call is not None and call.active():
                call.cancel()

    def _unanswered(self, incident_id: str, identifier: str) -> None:
        self._answer_timers.pop(identifier, None)
        tracked = self._tracked.setdefault(incident_id, _Tracked(incident_id))
        self._ensure_messages(tracked)
        message = next((m for m in tracked.messages or () if m.identifier == identifier), None)
        if message is None:
            return
        waited = max(0.0, self._clock.seconds() - message.queued_at)
        event = self._event(
            ev.ALERT_UNANSWERED,
            ev.AlertUnanswered(identifier=identifier, waited_s=round(waited, 3),
                               delivered=message.delivered_at is not None),
            tracked, severity=Severity.HIGH,
            summary=(f"{self._config.force} has not accepted or rejected incident {_number(tracked)} after "
                     f"{int(waited // 60)} min: phone them"),
        )
        self._publish_soon(event, _row_update_job(self._link, identifier, unanswered_reported=1))
        self._replace(tracked, attrs.evolve(message, unanswered_reported=True))

    # --- composing and sending ----------------------------------------------------------------------------------

    async def _send(self, tracked: _Tracked, msg_type: str, *, cause_id: str, reason: str,
                    requested_by: str | None, released_by: str, note: str | None = None,
                    causation_id: str | None = None) -> SentMessage:
        """Compose the incident's next message and journal it with its row and disclosures, then queue it."""
        transaction_id = f"{self._link}:{cause_id}"
        self._ensure_messages(tracked)
        messages = tracked.messages or []
        already = next((message for message in messages if message.transaction_id == transaction_id), None)
        if already is not None:
            self._log.info("alert_cause_already_sent", transaction_id=transaction_id, identifier=already.identifier)
            return already
        self._load_history(tracked)
        self._load_view(tracked)
        chain = [] if msg_type == "Alert" else tracked.chain()
        identifier = identifier_for(self._config.sender, tracked.id, len(messages) + 1)
        now = self._clock.seconds()
        sent = utc_from_seconds(int(now))
        resources: tuple[CapResource, ...] = ()
        if msg_type != "Cancel":
            resources = await self._resources(tracked)
        alert = self._compose(tracked, identifier, msg_type, sent, chain, resources, note=note,
                              source=requested_by or "hub (automatic)")
        xml = encode_alert(alert)
        incident = tracked.incident or {}
        message = SentMessage(identifier=identifier, incident_id=tracked.id, msg_type=msg_type,
                              sent=cap_time(alert.sent), transaction_id=transaction_id, queued_at=now,
                              incident_state=incident.get("state"))
        released = [resource for resource in resources if resource.sha256 not in tracked.released]
        disclosures = [
            Disclosure(id=self._records.next_disclosure_id(), at=now, link=self._link, recipient=self._config.force,
                       what="still", item=resource.sha256 or "", why=f"alert {identifier} for incident {tracked.id}",
                       request_id=None, crime_reference=None, released_by=released_by, expires_at=None,
                       sha256=resource.sha256,
                       detail={"incident_id": tracked.id, "identifier": identifier, "msg_type": msg_type,
                               "uri": resource.uri, "size": resource.size, "mime_type": resource.mime_type})
            for resource in released
        ]

        def queued(link_seq: int, transaction_id: str) -> Event:
            return self._event(
                ev.ALERT_QUEUED,
                ev.AlertQueued(identifier=identifier, msg_type=msg_type, transaction_id=transaction_id,
                               link_seq=link_seq, automatic=requested_by is None, reason=reason,
                               references=tuple(previous.identifier for previous in chain),
                               requested_by=requested_by,
                               evidence=tuple(resource.sha256 for resource in resources if resource.sha256)),
                tracked, severity=Severity.INFO, causation_id=causation_id,
                summary=f"Incident {_number(tracked)} queued for {self._config.force} as CAP {msg_type} ({reason})",
            )

        for attempt in range(3):
            jobs = [_row_insert_job(self._link, message),
                    *(self._records.disclosure_job(disclosure) for disclosure in disclosures)]
            try:
                await self._sender.send(CAP_XML, xml, event=queued, also=jobs, transaction_id=transaction_id)
                break
            except sqlite3.IntegrityError:
                # Another link took a disclosure id chosen here (records.py): nothing was kept; fresh ids.
                if not disclosures or attempt == 2:
                    raise
                disclosures = [attrs.evolve(disclosure, id=self._records.next_disclosure_id())
                               for disclosure in disclosures]
        tracked.messages = [*messages, message]
        tracked.view = _view_of(alert) if msg_type != "Cancel" else None
        tracked.view_loaded = True
        tracked.released.update(resource.sha256 for resource in released if resource.sha256)
        if tracked.pending is not None and msg_type != "Alert":
            # This message carries the latest state: an update waiting would say it again.
            if tracked.pending.call is not None and tracked.pending.call.active():
                tracked.pending.call.cancel()
            tracked.pending = None
        if msg_type == "Cancel":
            self._disarm_answer_timer(tracked)
        elif msg_type == "Alert":
            self._arm_answer_timer(tracked)
        self._log.info("alert_queued", identifier=identifier, incident=tracked.id, msg_type=msg_type,
                       transaction_id=transaction_id, stills=len(resources), released=len(disclosures))
        # The log's rows went with the message; their events follow in transactions of their own (an event
        # cannot share one with another event), so a crash just now leaves rows the events do not announce.
        for disclosure in disclosures:
            self._publish_soon(self._event(
                ev.DISCLOSURE_RECORDED,
                ev.DisclosureRecorded(disclosure_id=disclosure.id, what="still", item=disclosure.item,  # type: ignore[arg-type]
                                      recipient=disclosure.recipient, why=disclosure.why,
                                      released_by=disclosure.released_by, sha256=disclosure.sha256),
                tracked, severity=Severity.INFO,
                summary=f"Still {disclosure.item[:12]} released to {self._config.force} with incident {_number(tracked)}",
            ))
        return message

    def _compose(self, tracked: _Tracked, identifier: str, msg_type: str, sent: datetime,
                 chain: Sequence[SentMessage], resources: tuple[CapResource, ...], *, note: str | None,
                 source: str) -> CapAlert:
        incident = tracked.incident or {"id": tracked.id}
        severity = str(incident.get("severity") or "medium")
        state = str(incident.get("state") or "new")
        urgency, cap_severity, certainty = CAP_GRADES.get(severity, CAP_GRADES["medium"])
        if state in _FINISHED or msg_type == "Cancel":
            urgency = "Past"
        title = _headline(tracked.title)
        cameras = [str(camera) for camera in incident.get("cameras") or ()]
        parameters = [("incident_number", str(incident.get("number", ""))), ("incident_state", state),
                      ("hub_severity", severity)]
        if cameras:
            parameters.append(("cameras", ", ".join(cameras)))
        if note and msg_type != "Cancel":
            parameters.append(("operator_note", note))
        if msg_type == "Cancel":
            parameters.append(("withdrawal_reason", note or "withdrawn by the control room"))
        categories = ("Security", "Safety") if any("emergency" in topic.split(".") for topic in tracked.topics) \
            else ("Security",)
        area = _area(incident.get("location"))
        info = CapInfo(
            event=str(incident.get("category") or title)[:200],
            urgency=urgency, severity=cap_severity, certainty=certainty, category=categories,
            headline=title, description=self._description(tracked, msg_type, note),
            sender_name=self._config.sender_name, parameters=tuple(parameters), resources=resources,
            areas=(area,) if area is not None else (),
        )
        return CapAlert(
            identifier=identifier, sender=self._config.sender, sent=sent, status=self._config.cap_status,
            msg_type=msg_type, scope="Private", addresses=self._addresses, source=source,
            note=(note if msg_type == "Cancel" else None),
            references=tuple(CapReference(sender=self._config.sender, identifier=previous.identifier,
                                          sent=parse_cap_time(previous.sent)) for previous in chain),
            incidents=(tracked.id,), info=(info,),
        )

    def _description(self, tracked: _Tracked, msg_type: str, note: str | None) -> str:
        incident = tracked.incident or {}
        state = str(incident.get("state") or "new")
        number = incident.get("number", "?")
        lines = []
        if msg_type == "Cancel":
            lines.append(f"The control room withdraws incident {number} ({tracked.id}): "
                         f"{note or 'it no longer needs the police'}.")
        lines.append(f"Incident {number} ({tracked.id}) is {state.replace('_', ' ')}; hub severity "
                     f"{incident.get('severity', 'unknown')}.")
        if state == "resolved":
            lines.append("The control room has resolved it: what it was about is over.")
        elif state == "closed":
            lines.append("The control room has closed it: nothing more will be sent about it.")
        place = _place_words(incident.get("location"))
        if place:
            lines.append(f"Where: {place}.")
        cameras = [str(camera) for camera in incident.get("cameras") or ()]
        if cameras:
            lines.append(f"Cameras: {', '.join(cameras)}.")
        latest = self._bodies(tracked.news)
        if latest:
            lines.append("Latest events:")
            for seq in sorted(latest):
                body = latest[seq]
                lines.append(f"- {body.get('occurred_at', '')} {body.get('summary', body.get('topic', ''))}")
        if note and msg_type != "Cancel":
            lines.append(f"Note from the operator: {note}")
        return "\n".join(lines)

    async def _resources(self, tracked: _Tracked) -> tuple[CapResource, ...]:
        """A resource per still on the incident; its bytes read from evidence for CAP's SHA-1 digest."""
        resources = []
        base = self._config.evidence_base_url
        for still in tracked.stills.values():
            size, sha1 = still.size, None
            if self._evidence is not None:
                try:
                    found = await self._evidence.read(still.sha256)
                except Exception as error:  # noqa: BLE001 - a damaged file is never released
                    self._log.error("still_unreadable", sha256=still.sha256, incident=tracked.id,
                                    error=f"{type(error).__name__}: {error}")
                    continue
                if found is not None:
                    _item, content = found
                    size, sha1 = len(content), hashlib.sha1(content).hexdigest()
                else:
                    self._log.warning("still_missing", sha256=still.sha256, incident=tracked.id)
            resources.append(CapResource(description=still.description, mime_type=still.content_type, size=size,
                                         uri=(base + still.sha256) if base else None, sha1=sha1,
                                         sha256=still.sha256))
        return tuple(resources)

    def _view_now(self, tracked: _Tracked) -> ForceView:
        """What the force would be told now (as ``_view_of`` reads it from a composed message)."""
        incident = tracked.incident or {}
        area = _area(incident.get("location"))
        return ForceView(severity=incident.get("severity"), state=incident.get("state"),
                         title=_headline(tracked.title), place=_place_key((area,) if area is not None else ()),
                         stills=frozenset(tracked.stills))

    # --- what the database holds --------------------------------------------------------------------------------

    def _incident_store(self) -> IncidentStore:
        # The hub's incident store, read-only, on a reader connection of its own (the engine writes).
        if self._incidents is None:
            self._incidents = IncidentStore(self._database.path)
        return self._incidents

    def _ensure_messages(self, tracked: _Tracked) -> None:
        if tracked.messages is not None:
            return
        rows = self._database.read(lambda connection: connection.execute(
            f"SELECT {_ROW_COLUMNS} FROM police_alerts WHERE link = ? AND incident_id = ? ORDER BY rowid",
            (self._link, tracked.id)).fetchall())
        tracked.messages = [_message(row) for row in rows]

    def _live_chains(self) -> dict[str, list[SentMessage]]:
        """The messages of every incident whose latest message is not a Cancel nor about a closed incident."""
        rows = self._database.read(lambda connection: connection.execute(
            f"SELECT {_ROW_COLUMNS} FROM police_alerts WHERE link = ? AND incident_id IN ("
            " SELECT latest.incident_id FROM police_alerts AS latest WHERE latest.link = ?"
            " AND latest.rowid = (SELECT max(rowid) FROM police_alerts WHERE link = latest.link"
            "                     AND incident_id = latest.incident_id)"
            " AND latest.msg_type != 'Cancel' AND coalesce(latest.incident_state, '') != 'closed')"
            " ORDER BY rowid", (self._link, self._link)).fetchall())
        chains: dict[str, list[SentMessage]] = {}
        for row in rows:
            message = _message(row)
            chains.setdefault(message.incident_id, []).append(message)
        return chains

    def _message_by_identifier(self, identifier: str, incident_id: str | None = None) -> SentMessage | None:
        # The incident the force names first: scanning every incident held for each answer made a backlog of
        # thousands of answers quadratic (seconds of reactor time for 3,000).
        named = self._tracked.get(incident_id) if incident_id is not None else None
        for message in (named.messages or ()) if named is not None else ():
            if message.identifier == identifier:
                return message
        for tracked in self._tracked.values():
            for message in tracked.messages or ():
                if message.identifier == identifier:
                    return message
        rows = self._database.read(lambda connection: connection.execute(
            f"SELECT {_ROW_COLUMNS} FROM police_alerts WHERE link = ? AND identifier = ?",
            (self._link, identifier)).fetchall())
        return _message(rows[0]) if rows else None

    def _message_by_transaction(self, outbound: Any) -> SentMessage | None:
        incident_id = outbound.incident_id
        if incident_id is None:
            return None
        tracked = self._tracked.setdefault(incident_id, _Tracked(incident_id))
        self._ensure_messages(tracked)
        return next((message for message in tracked.messages or ()
                     if message.transaction_id == outbound.transaction_id), None)

    def _replace(self, tracked: _Tracked, message: SentMessage) -> None:
        self._ensure_messages(tracked)
        tracked.messages = [message if old.identifier == message.identifier else old
                            for old in tracked.messages or ()]

    def _load_history(self, tracked: _Tracked) -> None:
        """The incident's earlier events (topics, the latest news, stills), for an incident first seen
        after it opened (a hub restart, an operator sending an old incident)."""
        if tracked.history_loaded:
            return
        tracked.history_loaded = True
        store = self._incident_store()
        seqs = [seq for seq in store.events(tracked.id) if seq not in tracked.seen]
        bodies = self._bodies(seqs)
        for seq in sorted(bodies):
            body = bodies[seq]
            topic = body.get("topic")
            if not isinstance(topic, str):
                continue
            tracked.seen.add(seq)
            tracked.topics.add(topic)
            if not any(match(topic) for match in NOT_NEWS):
                tracked.news.append(seq)
            if topic in STILL_TOPICS:
                still = _still_of(body)
                if still is not None:
                    tracked.stills.setdefault(still.sha256, still)
        tracked.news = sorted(set(tracked.news))[-LATEST_EVENTS:]

    def _load_view(self, tracked: _Tracked) -> None:
        """What the force was last told, and which stills it has had: read back from the messages sent."""
        if tracked.view_loaded:
            return
        tracked.view_loaded = True
        self._ensure_messages(tracked)
        chain = tracked.chain()
        if not chain:
            return
        wanted = [message.transaction_id for message in tracked.messages or ()]
        placeholders = ", ".join("?" * len(wanted))
        bodies = dict(self._database.read(lambda connection: connection.execute(
            f"SELECT transaction_id, body FROM police_outbox WHERE link = ? AND transaction_id IN ({placeholders})",
            (self._link, *wanted)).fetchall()))
        for message in tracked.messages or ():
            body = bodies.get(message.transaction_id)
            if body is None:
                continue
            try:
                alert = decode_alert(body)
            except CapError as error:
                self._log.error("sent_alert_unreadable", identifier=message.identifier, error=str(error))
                continue
            tracked.released.update(_view_of(alert).stills)
            if message is chain[-1] and message.msg_type != "Cancel":
                tracked.view = _view_of(alert)

    def _bodies(self, seqs: Iterable[int]) -> dict[int, dict[str, Any]]:
        """The journaled events at ``seqs`` (those still kept), as JSON."""
        wanted = list(seqs)
        if not wanted:
            return {}
        found = {}
        for seq, body in self._incident_store().journal_bodies(wanted):
            try:
                found[seq] = json.loads(body)
            except ValueError:
                self._log.error("journal_row_unreadable", seq=seq)
        return found

    # --- publishing ---------------------------------------------------------------------------------------------

    def _event(self, topic: str, payload: Any, tracked: _Tracked, *, severity: Severity, summary: str,
               causation_id: str | None = None) -> Event:
        incident = tracked.incident or {}
        location = incident.get("location")
        return self._events(
            topic, payload, severity=severity, summary=summary[:500],
            subject=Subject(kind="incident", id=tracked.id, name=tracked.title),
            location=Location(**location) if isinstance(location, dict) else None,
            incident_id=tracked.id, causation_id=causation_id,
        )

    def _publish(self, event: Event, *jobs: Job) -> Deferred[int]:
        return self._bus.publish(event, also=together(*jobs))

    def _publish_soon(self, event: Event, *jobs: Job) -> None:
        self._publish(event, *jobs).addErrback(
            lambda failure: self._log.error("publish_failed", topic=event.topic, incident=event.incident_id,
                                            error=failure.getErrorMessage()))


# --- helpers ----------------------------------------------------------------------------------------------------


def _number(tracked: _Tracked) -> str:
    number = (tracked.incident or {}).get("number")
    return str(number) if number is not None else tracked.id


def _headline(title: str) -> str:
    title = " ".join(title.split())
    return title if len(title) <= _HEADLINE_LENGTH else title[:_HEADLINE_LENGTH - 1] + "\u2026"


def _area(location: Any) -> CapArea | None:
    """The CAP area of an incident's location: circle round its coordinates, UPRN geocode, name."""
    if not isinstance(location, dict):
        return None
    name = (location.get("name") or "").strip()
    camera = (location.get("camera") or "").strip()
    latitude, longitude = location.get("latitude"), location.get("longitude")
    uprn = (location.get("uprn") or "").strip()
    circle = ((float(latitude), float(longitude), AREA_RADIUS_KM)
              if latitude is not None and longitude is not None else None)
    if not (name or camera or circle or uprn):
        return None
    description = name or (f"camera {camera}" if camera else (f"UPRN {uprn}" if uprn else
                                                              f"{latitude:.5f}, {longitude:.5f}"))
    return CapArea(description=description, circle=circle, geocodes=(("UPRN", uprn),) if uprn else ())


def _place_key(areas: Sequence[CapArea]) -> tuple[Any, ...]:
    return tuple(
        (area.description,
         None if area.circle is None else tuple(round(float(value), 5) for value in area.circle),
         tuple(area.geocodes))
        for area in areas
    )


def _place_words(location: Any) -> str:
    if not isinstance(location, dict):
        return ""
    parts = []
    if location.get("name"):
        parts.append(str(location["name"]))
    if location.get("camera"):
        parts.append(f"camera {location['camera']}")
    if location.get("uprn"):
        parts.append(f"UPRN {location['uprn']}")
    if location.get("latitude") is not None and location.get("longitude") is not None:
        parts.append(f"{location['latitude']:.5f}, {location['longitude']:.5f}")
    return ", ".join(parts)


def _view_of(alert: CapAlert) -> ForceView:
    """What a CAP message told the force, in the terms ``ForceView`` compares."""
    info = alert.info[0] if alert.info else None
    if info is None:
        return ForceView(None, None, None, (), frozenset())
    parameters = dict(info.parameters)
    return ForceView(severity=parameters.get("hub_severity"), state=parameters.get("incident_state"),
                     title=info.headline, place=_place_key(info.areas),
                     stills=frozenset(resource.sha256 for resource in info.resources if resource.sha256))


def _still_of(body: Mapping[str, Any]) -> Still | None:
    """The still an ``onvif.snapshot.taken`` event kept, from its journaled JSON."""
    payload = body.get("payload")
    if not isinstance(payload, dict):
        return None
    evidence = payload.get("evidence")
    if not isinstance(evidence, dict) or not isinstance(evidence.get("sha256"), str):
        return None
    camera = payload.get("camera")
    number = camera.get("number") if isinstance(camera, dict) else None
    size = evidence.get("size")
    return Still(sha256=evidence["sha256"], content_type=str(evidence.get("content_type") or "image/jpeg"),
                 size=size if isinstance(size, int) else None, camera=str(number) if number else None,
                 taken_at=body.get("occurred_at"))


def _message(row: Sequence[Any]) -> SentMessage:
    (identifier, incident_id, msg_type, sent, transaction_id, queued_at, delivered_at, answer, answered_at, reason,
     force_reference, incident_state, unanswered_reported) = row
    return SentMessage(identifier=identifier, incident_id=incident_id, msg_type=msg_type, sent=sent,
                       transaction_id=transaction_id, queued_at=queued_at, delivered_at=delivered_at, answer=answer,
                       answered_at=answered_at, reason=reason, force_reference=force_reference,
                       incident_state=incident_state, unanswered_reported=bool(unanswered_reported))


def _row_insert_job(link: str, message: SentMessage) -> Job:
    values = (link, message.identifier, message.incident_id, message.msg_type, message.sent,
              message.transaction_id, message.queued_at, message.incident_state)

    def job(connection: sqlite3.Connection) -> None:
        connection.execute(
            "INSERT INTO police_alerts (link, identifier, incident_id, msg_type, sent, transaction_id, queued_at, "
            "incident_state) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", values)

    return job


def _row_update_job(link: str, identifier: str, **changes: Any) -> Job:
    assignments = ", ".join(f"{name} = ?" for name in changes)
    values = (*changes.values(), link, identifier)

    def job(connection: sqlite3.Connection) -> None:
        connection.execute(f"UPDATE police_alerts SET {assignments} WHERE link = ? AND identifier = ?", values)

    return job


__all__ = ["AREA_RADIUS_KM", "CAP_GRADES", "AlertDesk", "ForceView", "SentMessage", "Still"]
