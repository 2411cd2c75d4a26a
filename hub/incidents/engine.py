"""The incident engine: turns events on the bus into incidents, carries out operators' actions on them,
and escalates the ones nobody has acknowledged.

Every change (opening, gathering an event, an operator's action, an escalation) is made the same way:
work out the incident as it will be, then publish its ``incident.*`` event with the database work
attached (``bus.publish(event, also=job)``), and only once that has committed update what the engine
holds in memory. Changes are made one at a time under a lock, so the memory, the tables and the
journal always agree, and a crash at any point loses nothing and counts nothing twice.

Root causes: an event whose payload has ``covers`` (subject keys of everything its failure takes down)
makes its incident gather every later event about those subjects, and one whose payload says
``recovered`` resolves the incidents it opened (docs/incidents.md, "Root causes").

Rule actions: the first time a rule with actions opens or joins an incident, the incident records the
rule and takes its SOP steps, its offers and its escalation delay, in the same change that gathers the
event; the change's detail names the rule (``"actions"``) for the rule action service, which carries out
the rest (docs/incidents.md, "What rules do to an incident").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

import attrs
import structlog
from twisted.application.service import Service
from twisted.internet.defer import Deferred, DeferredLock

from hub.clock import iso
from hub.config import EscalationConfig, IncidentRuleConfig, IncidentsConfig
from hub.events import Event, EventDecodeError, EventFactory, Severity, Subject
from hub.incidents.events import TOPICS, IncidentChanged
from hub.incidents.model import (
    CLEAR,
    OPEN_STATES,
    TRANSITIONS,
    Acknowledge,
    AddNote,
    Assign,
    ChangeState,
    CheckStep,
    HistoryEntry,
    Incident,
    IncidentAction,
    IncidentDetail,
    IncidentNote,
    IncidentNotFound,
    IncidentState,
    OFFER_SEND_TO_POLICE,
    SopStep,
    TransitionRefused,
    Update,
    incident_id,
)
from hub.incidents.rules import Decision, IncidentRules, RuleAction, covered_keys, payload_value
from hub.topics import TopicMatcher
from hub.incidents.store import (
    ENGINE_CURSOR,
    EventLink,
    IncidentStore,
    change_job,
    location_keys,
    subject_key,
)

if TYPE_CHECKING:
    from hub.audit import Actor, AuditLog
    from hub.bus import Bus, Subscription

#: After this many events that changed nothing, the engine saves its position anyway, so a restart
#: does not read them all again.
SAVE_POSITION_EVERY = 1000

#: Changes an operator makes (or the hub makes for itself) that are not worth an alert of their own.
_QUIET = Severity.INFO

#: How long before a root cause an incident about something it covers may have opened and still be
#: absorbed into it, when no rule gives a join window for the root-cause event.
DEFAULT_ABSORB_WINDOW_S: float = attrs.fields(IncidentRuleConfig).join_window_s.default


@attrs.define
class _Active:
    """An open incident and what the engine needs to decide whether a new event belongs to it."""

    incident: Incident
    subjects: dict[str, float] = attrs.Factory(dict)  # subject key -> when last seen
    places: dict[str, float] = attrs.Factory(dict)  # location key -> when last seen
    seen: set[tuple[str, str]] = attrs.Factory(set)  # (topic, subject key) already in it

    def remember(self, topic: str, subject: str, places: Iterable[str], at: float) -> None:
        self.subjects[subject] = max(at, self.subjects.get(subject, at))
        for place in places:
            self.places[place] = max(at, self.places.get(place, at))
        self.seen.add((topic, subject))


@attrs.frozen
class _Change:
    """One change, worked out but not yet made."""

    change: str
    before: Incident | None
    after: Incident
    actor: str | None
    detail: dict[str, Any]
    history: HistoryEntry | None = None
    link: EventLink | None = None
    note: IncidentNote | None = None
    cause: Event | None = None
    severity: Severity = _QUIET
    remember: bool = False


def _cameras(event: Event) -> list[str]:
    cameras = []
    if event.location is not None and event.location.camera:
        cameras.append(event.location.camera)
    if event.subject.kind == "camera" and event.subject.id not in cameras:
        cameras.append(event.subject.id)
    return cameras


def _covers(event: Event) -> tuple[str, ...]:
    """The subject keys (``kind:id``) the event's payload says its failure covers, in order, once each.

    Anything else (a string, a mapping, items that are not ``kind:id`` text) covers nothing. The rules read
    covers the same way (a maintenance window hides an outage only when it lists everything covered).
    """
    return covered_keys(event)


def _recovered(event: Event) -> bool:
    return payload_value(event, "recovered") is True


def _covered_cameras(covers: Iterable[str]) -> list[str]:
    return [key.partition(":")[2] for key in covers if key.startswith("camera:")]


def _added(values: tuple[str, ...], more: Iterable[str]) -> tuple[str, ...]:
    result = list(values)
    for value in more:
        if value not in result:
            result.append(value)
    return tuple(result)


def escalation_delay(config: EscalationConfig, severity: Severity) -> float:
    """Seconds an incident of ``severity`` may wait unacknowledged; 0 means it never escalates."""
    return float(getattr(config, severity.label))


def _sooner(current: float | None, given: float) -> float:
    """Of two escalation delays, the more urgent: the shorter, where 0 (never) is the longest of all."""
    if current is None or current <= 0:
        return given
    if given <= 0:
        return current
    return min(current, given)


def _acted_on(incident: Incident, decision: Decision) -> tuple[Incident, str | None]:
    """``incident`` with the decision's rule actions applied, and the rule's name; unchanged and None
    when the rule has no actions or has acted on this incident already (it acts once per incident)."""
    actions = decision.actions
    if actions is None or actions.rule in incident.rules:
        return incident, None
    known = {step.text for step in incident.sop}
    sop = list(incident.sop)
    for text in actions.sop:
        if text not in known:
            known.add(text)
            sop.append(SopStep(text))
    offers = incident.offers
    if actions.police == "offer":
        offers = _added(offers, [OFFER_SEND_TO_POLICE])
    escalate = incident.escalate_after_s
    if actions.escalate_after_s is not None:
        escalate = _sooner(escalate, float(actions.escalate_after_s))
    after = attrs.evolve(
        incident,
        rules=(*incident.rules, actions.rule),
        sop=tuple(sop),
        offers=offers,
        escalate_after_s=escalate,
    )
    return after, actions.rule


class IncidentEngine(Service):
    """A Twisted service subscribed to every event on the bus; the only writer of incidents."""

    name = "incidents"

    def __init__(
        self,
        *,
        bus: "Bus",
        store: IncidentStore,
        config: IncidentsConfig,
        clock: Any,
        events: EventFactory,
        audit: "AuditLog",
        log: Any = None,
        timezone: str = "Europe/London",
    ) -> None:
        self._bus = bus
        self._store = store
        self._config = config
        # The room's time zone: rules' time_of_day and daily maintenance windows are local times.
        self._rules = IncidentRules(config, timezone=timezone)
        self._root_cause_topics = tuple(TopicMatcher(pattern) for pattern in config.root_cause_topics)
        self._clock = clock
        self._events = events
        self._audit = audit
        self._log = (log if log is not None else structlog.get_logger("hub.incidents")).bind(
            component="incidents"
        )
        self._lock = DeferredLock()
        self._active: dict[str, _Active] = {}
        # subject key -> the open incidents whose covers hold it
        self._covering: dict[str, set[str]] = {}
        self._timers: dict[str, Any] = {}
        self._subscription: "Subscription | None" = None
        self._position = 0
        self._saved_position = 0
        self._next_number = 1
        self._last_linked_seq = 0
        self._stopping = False

    # --- service ---------------------------------------------------------------------------------------

    def startService(self) -> None:  # noqa: N802 - Twisted's name
        """Load the open incidents, arm their escalation timers, and read the bus from where we were."""
        super().startService()
        self._stopping = False
        self._position = self._saved_position = self._store.engine_position()
        self._next_number = self._store.last_number() + 1
        self._last_linked_seq = self._store.last_event_seq()
        self._active = {incident.id: _Active(incident) for incident in self._store.open_incidents()}
        for owner, topic, subject, places, at in self._store.links_of(self._active):
            if not self._rules.is_protected(topic):
                self._active[owner].remember(topic, subject, places, at)
        self._covering = {}
        for active in self._active.values():
            self._index_covers(active.incident)
            self._arm(active.incident)
        self._subscription = self._bus.subscribe(
            "#", self._on_event, name="incident-engine", since=self._position
        )
        self._log.info(
            "incident_engine_started", open_incidents=len(self._active), position=self._position
        )

    def stopService(self) -> "Deferred[None]":  # noqa: N802 - Twisted's name
        super().stopService()
        self._stopping = True
        if self._subscription is not None:
            self._subscription.cancel()
            self._subscription = None
        for timer in self._timers.values():
            if timer.active():
                timer.cancel()
        self._timers.clear()
        return Deferred.fromCoroutine(self._stop())

    async def _stop(self) -> None:
        # Waiting for the lock lets a change already under way finish before the bus closes.
        async with self._lock:
            if self._position > self._saved_position:
                await self._save_position(self._position)

    async def _save_position(self, seq: int) -> None:
        self._saved_position = max(self._saved_position, seq)
        try:
            await self._bus.journal.save_cursor(ENGINE_CURSOR, seq, self._clock.seconds())
        except Exception as error:  # noqa: BLE001 - only costs re-reading some events after a restart
            self._log.warning("incident_position_not_saved", seq=seq, error=str(error))

    # --- reading ---------------------------------------------------------------------------------------

    def list(
        self,
        *,
        states: Iterable[IncidentState | str] | None = None,
        source: str | None = None,
        location: str | None = None,
        min_severity: Severity | str | None = None,
        text: str | None = None,
        limit: int = 200,
    ) -> list[Incident]:
        """Incidents matching the filters, worst severity first, then oldest first (see IncidentStore.list)."""
        return self._store.list(
            states=states, source=source, location=location, min_severity=min_severity, text=text, limit=limit
        )

    def get(self, incident_id: str) -> Incident | None:
        return self._store.get(incident_id)

    def detail(self, incident_id: str) -> IncidentDetail:
        """The incident with its events decoded from the journal, its notes and its history."""
        incident = self._store.get(incident_id)
        if incident is None:
            raise IncidentNotFound(incident_id)
        links = self._store.event_links(incident_id)
        events = []
        for seq, body in self._store.journal_bodies([seq for seq, _folded in links]):
            try:
                events.append(self._bus.codec.from_json(body, seq=seq))
            except EventDecodeError as error:
                self._log.error("journal_row_undecodable", seq=seq, incident=incident_id, error=str(error))
        return IncidentDetail(
            incident=incident,
            events=tuple(events),
            notes=tuple(self._store.notes(incident_id)),
            history=tuple(self._store.history(incident_id)),
            folded=frozenset(seq for seq, folded in links if folded),
            missing_events=len(links) - len(events),
        )

    def counts_by_state(self) -> dict[str, int]:
        return self._store.counts_by_state()

    def rule_counts(self) -> dict[str, tuple[int, int]]:
        """Per rule name: (incidents it opened, incidents it acted on); see IncidentStore.rule_counts."""
        return self._store.rule_counts()

    # --- events in -------------------------------------------------------------------------------------

    def _on_event(self, event: Event) -> "Deferred[None] | None":
        assert event.seq is not None
        if self._stopping or event.seq <= self._position:
            return None
        if not self._might_change(event):
            # The common case, kept synchronous: nothing to write, so nothing to wait for.
            self._passed(event.seq)
            return None
        return Deferred.fromCoroutine(self._handle(event))

    def _might_change(self, event: Event) -> bool:
        if event.topic.startswith("incident."):
            return False
        if event.incident_id is not None:
            return True
        if self._covering and subject_key(event.subject) in self._covering and self._explained(event):
            return True
        if _recovered(event):
            return True
        return self._rules.decide(event).action is not RuleAction.IGNORE

    def _passed(self, seq: int) -> None:
        self._position = max(self._position, seq)
        if self._position - self._saved_position >= SAVE_POSITION_EVERY:
            Deferred.fromCoroutine(self._save_position(self._position))

    async def _handle(self, event: Event) -> None:
        assert event.seq is not None
        async with self._lock:
            if self._stopping or event.seq <= self._position:
                return
            if event.seq <= self._last_linked_seq and self._store.has_event(event.seq):
                # Delivered again (a restart from an older position): it is already counted. What it
                # did after being counted (resolving or absorbing other incidents) may have been cut
                # short by a crash, so that is worked out again; done already, it finds nothing to do.
                self._log.info("incident_event_already_counted", seq=event.seq, event_id=event.id)
                unfinished = self._unfinished(event)
                if unfinished:
                    await self._commit_all(unfinished, event.seq)
                else:
                    self._position = event.seq
                return
            changes = self._plan(event)
            if not changes:
                self._passed(event.seq)
                return
            await self._commit_all(changes, event.seq)

    async def _commit_all(self, changes: list[_Change], seq: int) -> None:
        """Make the changes one event caused, in order; the last one records the engine's position.

        The first holds the event itself; a crash before the last leaves the event to be read again
        at start, and ``_unfinished`` makes the rest.
        """
        for index, change in enumerate(changes):
            try:
                await self._commit(change, position=seq if index == len(changes) - 1 else None)
            except Exception as error:  # noqa: BLE001 - logged; the next event must still be handled
                self._log.error(
                    "incident_change_failed",
                    incident=change.after.id,
                    change=change.change,
                    seq=seq,
                    error=f"{type(error).__name__}: {error}",
                )
                return

    def _plan(self, event: Event) -> list[_Change]:
        """What ``event`` does to the incidents, in order (empty if nothing): the change that gathers
        it first, then the other incidents it resolves or absorbs."""
        at = event.received_at.timestamp()
        if event.incident_id is not None:
            named = self._current(event.incident_id)
            if named is not None:
                return self._absorbing(self._join(named, event, at, explicit=True), event, at)
        # Decided first: an event a maintenance window suppresses joins nothing by covers either (the
        # engineers at work on a node must not pile their cameras' chatter onto its incident).
        decision = self._rules.decide(event)
        if not self._rules.is_protected(event.topic):
            if _recovered(event):
                # Even in a maintenance window: recovery only ever ends an incident, and a failure that
                # is over must not stay on the queue because the engineers fixed it inside their window.
                recovering = self._recovering(event, at)
                if recovering:
                    first, *others = recovering
                    return [
                        self._resolved_by_hub(first, event, at, reason="recovered", gather=True),
                        *(self._resolved_by_hub(other, event, at, reason="recovered") for other in others),
                    ]
            covering = self._covering_incident(event) if decision.suppressed_by is None else None
            if covering is not None:
                return self._absorbing(self._join(covering, event, at, explicit=False), event, at)
        if decision.action is RuleAction.IGNORE:
            return []
        found = self._matching(event, decision, at)
        if found is not None:
            joined = self._join(found.incident, event, at, explicit=False, decision=decision)
            return self._absorbing(joined, event, at)
        if decision.action is RuleAction.OPEN:
            return self._absorbing(self._open(event, decision, at), event, at)
        return []

    def _unfinished(self, event: Event) -> list[_Change]:
        """For an event already in an incident: the resolving and absorbing it should have caused and
        has not (a crash came between). Incidents changed since the event are left alone."""
        if self._rules.is_protected(event.topic):
            return []
        at = event.received_at.timestamp()
        changes = [
            self._resolved_by_hub(incident, event, at, reason="recovered")
            for incident in self._recovering(event, at)
            if incident.updated_at <= at
        ] if _recovered(event) else []
        if _covers(event):
            assert event.seq is not None
            holder = self._active.get(self._store.incident_of_event(event.seq) or "")
            if holder is not None:
                changes += [
                    self._resolved_by_hub(incident, event, at, reason="covered", root=holder.incident)
                    for incident in self._absorbable(holder.incident, event, at)
                ]
        return changes

    # --- root causes -----------------------------------------------------------------------------------

    def _explained(self, event: Event) -> bool:
        """Whether ``event`` is one a root cause explains (``[incidents] root_cause_topics``)."""
        return any(matches(event.topic) for matches in self._root_cause_topics)

    def _only_explained(self, active: _Active) -> bool:
        """Whether everything in an incident is what an outage explains (a camera offline, not a tamper
        or a help-point button): only such an incident may be absorbed into a root cause."""
        return bool(active.seen) and all(
            any(matches(topic) for matches in self._root_cause_topics) for topic, _subject in active.seen
        )

    def _covering_incident(self, event: Event) -> Incident | None:
        """The open incident whose covers hold the event's subject (the oldest, if several do), for an
        event an outage explains."""
        ids = self._covering.get(subject_key(event.subject))
        if not ids or not self._explained(event):
            return None
        return min((self._active[i].incident for i in ids), key=lambda incident: incident.number)

    def _recovering(self, event: Event, at: float) -> list[Incident]:
        """The open root-cause incidents a ``recovered`` event ends: with covers, opened by an event
        about the same subject from the same source, before it."""
        subject = subject_key(event.subject)
        return sorted(
            (
                active.incident
                for active in self._active.values()
                if active.incident.covers
                and subject_key(active.incident.subject) == subject
                and active.incident.source == event.source
                and active.incident.opened_at <= at
            ),
            key=lambda incident: incident.number,
        )

    def _absorbable(self, root: Incident, event: Event, at: float) -> list[Incident]:
        """New incidents about something ``root`` covers that opened shortly before it (a camera that
        noticed its own outage before the node was judged down): they become part of ``root``."""
        if not root.covers:
            return []
        decision = self._rules.decide(event)
        window = decision.window if decision.action is not RuleAction.IGNORE else DEFAULT_ABSORB_WINDOW_S
        covered = set(root.covers)
        return sorted(
            (
                active.incident
                for active in self._active.values()
                if active.incident.id != root.id
                and active.incident.state is IncidentState.NEW
                and subject_key(active.incident.subject) in covered
                and self._only_explained(active)
                and at - window <= active.incident.opened_at <= at
            ),
            key=lambda incident: incident.number,
        )

    def _absorbing(self, change: _Change, event: Event, at: float) -> list[_Change]:
        """``change``, and after it the absorbing of the incidents its new covers explain."""
        after = change.after
        before_covers = change.before.covers if change.before is not None else ()
        if not after.is_open or len(after.covers) == len(before_covers):
            return [change]
        absorbed = self._absorbable(after, event, at)
        if not absorbed:
            return [change]
        detail = {**change.detail, "absorbed": [incident.id for incident in absorbed]}
        history = change.history
        if history is None:
            history = HistoryEntry(at=at, actor=None, action="absorbed", detail=detail)
        else:
            history = attrs.evolve(history, detail=detail)
        return [
            attrs.evolve(change, detail=detail, history=history),
            *(self._resolved_by_hub(incident, event, at, reason="covered", root=after) for incident in absorbed),
        ]

    def _resolved_by_hub(
        self,
        incident: Incident,
        event: Event,
        at: float,
        *,
        reason: str,
        gather: bool = False,
        root: Incident | None = None,
    ) -> _Change:
        """The hub resolves ``incident`` because of ``event``: what it was about has ``recovered``, or
        it is ``covered`` by the root-cause incident ``root``. With ``gather`` the event joins it too.

        Allowed from new, acknowledged and in progress: the operators' transition table is theirs.
        """
        assert event.seq is not None
        detail: dict[str, Any] = {
            "from": incident.state.value,
            "to": IncidentState.RESOLVED.value,
            "reason": reason,
            "event_id": event.id,
            "seq": event.seq,
            "topic": event.topic,
        }
        if root is not None:
            detail["root"] = root.id
        after = attrs.evolve(
            incident, state=IncidentState.RESOLVED, resolved_at=at, updated_at=max(incident.updated_at, at)
        )
        if gather:
            after = attrs.evolve(
                after,
                severity=max(incident.severity, event.severity),
                last_event_at=max(incident.last_event_at, at),
                event_count=incident.event_count + 1,
                sources=_added(incident.sources, [event.source]),
                cameras=_added(incident.cameras, _cameras(event)),
            )
        return _Change(
            change="state_changed",
            before=incident,
            after=after,
            actor=None,
            detail=detail,
            history=HistoryEntry(at=at, actor=None, action="state_changed", detail=detail),
            link=self._link(event, at, folded=False) if gather else None,
            cause=event,
        )

    def _index_covers(self, incident: Incident) -> None:
        """Keep ``_covering`` in step with ``incident``: its covers count while it is open."""
        for key in incident.covers:
            if incident.is_open:
                self._covering.setdefault(key, set()).add(incident.id)
            else:
                holders = self._covering.get(key)
                if holders is not None:
                    holders.discard(incident.id)
                    if not holders:
                        del self._covering[key]

    def _matching(self, event: Event, decision: Decision, at: float) -> _Active | None:
        """The open incident ``event`` belongs with by the rule's ``join_on``, most recently active first."""
        subject = subject_key(event.subject)
        places = location_keys(event.location)
        best: tuple[float, int] | None = None
        chosen: _Active | None = None
        for active in self._active.values():
            seen_at: float | None = None
            if "subject" in decision.join_on and subject in active.subjects:
                seen_at = active.subjects[subject]
            if "location" in decision.join_on:
                for place in places:
                    if place in active.places:
                        seen_at = max(seen_at or active.places[place], active.places[place])
            if seen_at is None or at - seen_at > decision.window:
                continue
            rank = (seen_at, -active.incident.number)
            if best is None or rank > best:
                best, chosen = rank, active
        return chosen

    def _open(self, event: Event, decision: Decision, at: float) -> _Change:
        assert event.seq is not None
        number = self._next_number
        covers = _covers(event)
        incident = Incident(
            id=incident_id(number),
            number=number,
            title=event.summary,
            state=IncidentState.NEW,
            severity=event.severity,
            priority=decision.priority,
            category=decision.category,
            source=event.source,
            subject=event.subject,
            location=event.location,
            opened_at=at,
            updated_at=at,
            last_event_at=at,
            sources=(event.source,),
            cameras=_added(tuple(_cameras(event)), _covered_cameras(covers)),
            covers=covers,
        )
        incident, acting = _acted_on(incident, decision)
        detail = {"rule": decision.rule, "event_id": event.id, "seq": event.seq, "topic": event.topic}
        if acting is not None:
            detail["actions"] = acting
        return _Change(
            change="opened",
            before=None,
            after=incident,
            actor=None,
            detail=detail,
            history=HistoryEntry(at=at, actor=None, action="opened", detail=detail),
            link=self._link(event, at, folded=False),
            cause=event,
            severity=incident.severity,
            remember=True,
        )

    def _join(
        self, incident: Incident, event: Event, at: float, *, explicit: bool, decision: Decision | None = None
    ) -> _Change:
        """Gather ``event`` into ``incident``; a repeat of an event already there is folded in.

        Events that name the incident (command requests and outcomes, replies) are never folded: each
        is a deliberate step on the incident's timeline. ``decision`` is the rule's that joined it (None
        when it joined by naming the incident or by covers): a rule with actions acts on the incident
        the first time it joins an event to it, unless the event is a repeat.
        """
        active = self._active.get(incident.id)
        subject = subject_key(event.subject)
        folded = (
            not explicit and active is not None and (event.topic, subject) in active.seen
        )
        location = incident.location if incident.location is not None else event.location
        covers = () if self._rules.is_protected(event.topic) else _covers(event)
        after = attrs.evolve(
            incident,
            severity=max(incident.severity, event.severity),
            location=location,
            updated_at=max(incident.updated_at, at),
            last_event_at=max(incident.last_event_at, at),
            event_count=incident.event_count + 1,
            duplicate_count=incident.duplicate_count + (1 if folded else 0),
            sources=_added(incident.sources, [event.source]),
            cameras=_added(incident.cameras, [*_cameras(event), *_covered_cameras(covers)]),
            covers=_added(incident.covers, covers),
        )
        acting = None
        if decision is not None and not folded:
            after, acting = _acted_on(after, decision)
        detail: dict[str, Any] = {"event_id": event.id, "seq": event.seq, "topic": event.topic}
        if decision is not None:
            detail["rule"] = decision.rule
        if acting is not None:
            detail["actions"] = acting
        if len(after.covers) > len(incident.covers):
            detail["covers_added"] = len(after.covers) - len(incident.covers)
        if after.severity != incident.severity:
            detail["severity"] = {"from": incident.severity.label, "to": after.severity.label}
        return _Change(
            change="duplicate_folded" if folded else "event_joined",
            before=incident,
            after=after,
            actor=None,
            detail=detail,
            # What a rule did to the incident is on its history, as the opening is.
            history=HistoryEntry(at=at, actor=None, action="rule_actions", detail=detail) if acting else None,
            link=self._link(event, at, folded=folded),
            cause=event,
            remember=not self._rules.is_protected(event.topic),
        )

    @staticmethod
    def _link(event: Event, at: float, *, folded: bool) -> EventLink:
        assert event.seq is not None
        return EventLink(
            event_seq=event.seq,
            event_id=event.id,
            topic=event.topic,
            folded=folded,
            at=at,
            subject_key=subject_key(event.subject),
            location_keys=location_keys(event.location),
        )

    def _current(self, incident_id: str) -> Incident | None:
        active = self._active.get(incident_id)
        return active.incident if active is not None else self._store.get(incident_id)

    # --- operators' actions ----------------------------------------------------------------------------

    async def act(self, incident_id: str, action: IncidentAction, actor: "Actor") -> Incident:
        """Carry out ``action`` by ``actor``; returns the incident as it now is.

        The change, its ``incident.*`` event and the audit row are written in one transaction.
        Raises IncidentNotFound, or TransitionRefused with a message for the operator.
        """
        async with self._lock:
            incident = self._current(incident_id)
            if incident is None:
                raise IncidentNotFound(incident_id)
            change, audit_action = self._apply(incident, action, actor.name, self._clock.seconds())
            audit = self._audit.job(actor, audit_action, incident.id, dict(change.detail))
            return await self._commit(change, audit=audit)

    def _apply(
        self, incident: Incident, action: IncidentAction, actor: str, now: float
    ) -> tuple[_Change, str]:
        state = incident.state
        if isinstance(action, AddNote):
            note = IncidentNote(at=now, author=actor, text=action.text)
            detail = {"text": action.text}
            after = attrs.evolve(incident, updated_at=now)
            return self._operator_change("note_added", incident, after, actor, now, detail, note=note), "incident.note"
        if isinstance(action, CheckStep):
            return self._checked(incident, action, actor, now), "incident.sop"
        if state is IncidentState.CLOSED:
            raise TransitionRefused(f"{incident.id} is closed; only notes can be added to it")
        if isinstance(action, Acknowledge) or (
            isinstance(action, ChangeState) and action.state is IncidentState.ACKNOWLEDGED and state is IncidentState.NEW
        ):
            if state is not IncidentState.NEW:
                by = f" by {incident.acknowledged_by}" if incident.acknowledged_by else ""
                at = f" at {iso(incident.acknowledged_at)}" if incident.acknowledged_at is not None else ""
                raise TransitionRefused(f"{incident.id} is already acknowledged{by}{at} (it is {state.value})")
            after, detail = self._acknowledged(incident, actor, now)
            after = attrs.evolve(after, state=IncidentState.ACKNOWLEDGED)
            detail = {"from": state.value, "to": IncidentState.ACKNOWLEDGED.value, **detail}
            return self._operator_change("acknowledged", incident, after, actor, now, detail), "incident.acknowledge"
        if isinstance(action, Assign):
            if action.owner == incident.owner:
                raise TransitionRefused(
                    f"{incident.id} is already assigned to {incident.owner}"
                    if incident.owner
                    else f"{incident.id} has no owner already"
                )
            after = attrs.evolve(incident, owner=action.owner, updated_at=now)
            detail = {"from": incident.owner, "to": action.owner}
            return self._operator_change("assigned", incident, after, actor, now, detail), "incident.assign"
        if isinstance(action, ChangeState):
            return self._change_state(incident, action.state, actor, now), "incident.state"
        if isinstance(action, Update):
            detail = {}
            changes: dict[str, Any] = {}
            for name in ("category", "priority"):
                value = getattr(action, name)
                if value is None:
                    continue
                if value is CLEAR:
                    value = None
                if value != getattr(incident, name):
                    detail[name] = {"from": getattr(incident, name), "to": value}
                    changes[name] = value
            if not changes:
                raise TransitionRefused(f"{incident.id} already has that category and priority")
            after = attrs.evolve(incident, updated_at=now, **changes)
            return self._operator_change("updated", incident, after, actor, now, detail), "incident.update"
        raise TypeError(f"not an incident action: {action!r}")

    def _checked(self, incident: Incident, action: CheckStep, actor: str, now: float) -> _Change:
        """Tick or untick a step of the incident's SOP: only while it is open, and only a step it has."""
        if not incident.is_open:
            raise TransitionRefused(
                f"{incident.id} is {incident.state.value}; its SOP steps can be ticked only while it is open "
                "(new, acknowledged or in progress)"
            )
        count = len(incident.sop)
        if not count:
            raise TransitionRefused(f"{incident.id} has no SOP steps to tick")
        if action.step > count:
            steps = "1 step" if count == 1 else f"{count} steps (1 to {count})"
            raise TransitionRefused(f"{incident.id} has no step {action.step}: its SOP has {steps}")
        step = incident.sop[action.step - 1]
        if step.done == action.done:
            if step.done:
                raise TransitionRefused(
                    f"step {action.step} of {incident.id} is already done (by {step.done_by or '?'} at "
                    f"{iso(step.done_at)})"
                )
            raise TransitionRefused(f"step {action.step} of {incident.id} is not done already")
        ticked = SopStep(step.text, done_at=now, done_by=actor) if action.done else SopStep(step.text)
        sop = (*incident.sop[: action.step - 1], ticked, *incident.sop[action.step :])
        after = attrs.evolve(incident, sop=sop, updated_at=now)
        detail = {"step": action.step, "text": step.text, "done": action.done}
        return self._operator_change("sop_checked", incident, after, actor, now, detail)

    def _acknowledged(self, incident: Incident, actor: str, now: float) -> tuple[Incident, dict[str, Any]]:
        # Whoever acknowledges an unowned incident owns it: a night shift expects "I've got it" to stick.
        detail: dict[str, Any] = {}
        changes: dict[str, Any] = {"acknowledged_at": now, "acknowledged_by": actor, "updated_at": now}
        if incident.owner is None:
            changes["owner"] = actor
            detail["owner"] = actor
        return attrs.evolve(incident, **changes), detail

    def _change_state(self, incident: Incident, target: IncidentState, actor: str, now: float) -> _Change:
        state = incident.state
        if target is state:
            raise TransitionRefused(f"{incident.id} is already {state.value}")
        allowed = TRANSITIONS[state]
        if target not in allowed:
            choices = ", ".join(sorted(s.value for s in allowed)) or "nothing"
            raise TransitionRefused(
                f"{incident.id} cannot go from {state.value} to {target.value}; from {state.value} it may go to {choices}"
            )
        detail: dict[str, Any] = {"from": state.value, "to": target.value}
        after = attrs.evolve(incident, state=target, updated_at=now)
        if state is IncidentState.NEW:
            # Taking a new incident straight into hand acknowledges it on the way.
            after, extra = self._acknowledged(after, actor, now)
            detail.update(extra, acknowledged=True)
        if target is IncidentState.RESOLVED:
            after = attrs.evolve(after, resolved_at=now)
        elif state is IncidentState.RESOLVED:
            after = attrs.evolve(after, resolved_at=None)
            detail["reopened"] = True
        if target is IncidentState.CLOSED:
            after = attrs.evolve(after, closed_at=now)
        return self._operator_change("state_changed", incident, after, actor, now, detail)

    @staticmethod
    def _operator_change(
        change: str,
        before: Incident,
        after: Incident,
        actor: str,
        now: float,
        detail: dict[str, Any],
        *,
        note: IncidentNote | None = None,
    ) -> _Change:
        return _Change(
            change=change,
            before=before,
            after=after,
            actor=actor,
            detail=detail,
            history=HistoryEntry(at=now, actor=actor, action=change, detail=detail),
            note=note,
        )

    # --- escalation ------------------------------------------------------------------------------------

    def _arm(self, incident: Incident) -> None:
        """(Re)set the incident's escalation timer from what it now is; none once acknowledged."""
        timer = self._timers.pop(incident.id, None)
        if timer is not None and timer.active():
            timer.cancel()
        if self._stopping or incident.state is not IncidentState.NEW:
            return
        delay = (
            incident.escalate_after_s
            if incident.escalate_after_s is not None
            else escalation_delay(self._config.escalation, incident.severity)
        )
        if delay <= 0:
            return
        if incident.last_escalated_at is None:
            due = incident.opened_at + delay
        else:
            due = incident.last_escalated_at + self._config.escalation.repeat_s
        wait = max(0.0, due - self._clock.seconds())
        self._timers[incident.id] = self._clock.callLater(wait, self._escalation_due, incident.id)

    def _escalation_due(self, incident_id: str) -> None:
        self._timers.pop(incident_id, None)
        escalated = Deferred.fromCoroutine(self._escalate(incident_id))
        escalated.addErrback(
            lambda failure: self._log.error(
                "incident_escalation_failed", incident=incident_id, error=failure.getErrorMessage()
            )
        )

    async def _escalate(self, incident_id: str) -> None:
        async with self._lock:
            active = self._active.get(incident_id)
            if self._stopping or active is None or active.incident.state is not IncidentState.NEW:
                return
            incident = active.incident
            now = self._clock.seconds()
            after = attrs.evolve(
                incident,
                escalation_count=incident.escalation_count + 1,
                last_escalated_at=now,
                updated_at=now,
            )
            detail = {
                "waited_s": round(now - incident.opened_at, 3),
                "escalation_count": after.escalation_count,
            }
            change = _Change(
                change="escalated",
                before=incident,
                after=after,
                actor=None,
                detail=detail,
                history=HistoryEntry(at=now, actor=None, action="escalated", detail=detail),
                severity=Severity.CRITICAL if incident.severity >= Severity.CRITICAL else Severity.HIGH,
            )
            try:
                await self._commit(change)
            except Exception:
                # Try again after the repeat interval rather than at once, so a broken database is not
                # hammered; the failure itself is logged by the caller.
                if not self._stopping and incident_id in self._active:
                    self._timers[incident_id] = self._clock.callLater(
                        self._config.escalation.repeat_s, self._escalation_due, incident_id
                    )
                raise

    # --- making a change -------------------------------------------------------------------------------

    async def _commit(
        self, change: _Change, *, position: int | None = None, audit: Any = None
    ) -> Incident:
        """Publish the change's event with its database work attached; then, and only then, hold it."""
        incident = change.after
        event = self._events(
            TOPICS[change.change],
            IncidentChanged(
                change=change.change, actor=change.actor, detail=change.detail, incident=incident.to_json()
            ),
            severity=change.severity,
            subject=Subject(kind="incident", id=incident.id, name=incident.title),
            summary=self._summary(change),
            location=incident.location,
            incident_id=incident.id,
            causation_id=change.cause.id if change.cause is not None else None,
        )
        job = change_job(
            incident,
            history=change.history,
            link=change.link,
            note=change.note,
            position=position,
            audit=audit,
        )
        seq = await self._bus.publish(event, also=job)
        self._held(change, position)
        self._log.info(
            "incident_" + change.change, incident=incident.id, seq=seq, actor=change.actor, state=incident.state.value
        )
        return incident

    def _held(self, change: _Change, position: int | None) -> None:
        incident = change.after
        if change.before is None:
            self._next_number = max(self._next_number, incident.number + 1)
        if position is not None:
            self._position = max(self._position, position)
            self._saved_position = max(self._saved_position, position)
        if change.link is not None:
            self._last_linked_seq = max(self._last_linked_seq, change.link.event_seq)
        if incident.state in OPEN_STATES:
            active = self._active.get(incident.id)
            if active is None:
                active = self._active[incident.id] = _Active(incident)
            active.incident = incident
            link = change.link
            if link is not None and change.remember:
                active.remember(link.topic, link.subject_key, link.location_keys, link.at)
        else:
            self._active.pop(incident.id, None)
        self._index_covers(incident)
        before = change.before
        if (
            before is None
            or before.state != incident.state
            or before.severity != incident.severity
            or before.last_escalated_at != incident.last_escalated_at
            or before.escalate_after_s != incident.escalate_after_s
        ):
            self._arm(incident)

    @staticmethod
    def _summary(change: _Change) -> str:
        incident = change.after
        by = f" by {change.actor}" if change.actor else ""
        head = f"Incident {incident.number}"
        detail = change.detail
        if change.change == "opened":
            return f"{head} opened: {incident.title}"
        if change.change == "event_joined":
            return f"{head} gathered {detail['topic']}"
        if change.change == "duplicate_folded":
            return f"{head} folded in a repeat of {detail['topic']} ({incident.duplicate_count} so far)"
        if change.change == "acknowledged":
            return f"{head} acknowledged{by}"
        if change.change == "assigned":
            owner = detail.get("to")
            return f"{head} assigned to {owner}{by}" if owner else f"{head} unassigned{by}"
        if change.change == "note_added":
            return f"{head}: note added{by}"
        if change.change == "state_changed":
            moved = f"{head} {detail['from'].replace('_', ' ')} -> {detail['to'].replace('_', ' ')}{by}"
            if detail.get("reason") == "recovered":
                return f"{moved}: recovered ({detail['topic']})"
            if detail.get("reason") == "covered":
                return f"{moved}: covered by {detail['root']} ({detail['topic']})"
            return moved
        if change.change == "updated":
            return f"{head} updated{by}: {', '.join(sorted(detail))}"
        if change.change == "sop_checked":
            done = "done" if detail["done"] else "not done after all"
            return f"{head}: step {detail['step']} {done}{by} ({detail['text']})"
        if change.change == "escalated":
            waited = int(detail["waited_s"] // 60)
            return f"{head} not acknowledged after {waited} min ({incident.severity.label}): {incident.title}"
        return f"{head} {change.change}"
