"""Rules' actions carried out: the commands a rule asks for when it opens or joins an incident.

The first time a rule with actions opens or joins an incident, the engine names the rule in that
``incident.opened`` / ``incident.event.joined`` event (its detail's ``actions``). ``RuleActionService``
reads those events and publishes the rule's commands through the bus, as an operator's are published:
``goto_preset`` for the cameras nearest the event, ``send_to_police`` when the rule says
``police = "auto"``, ``broadcast`` to a radio scheme. Each is requested by ``rule:<name>``, lands on the
incident, and is caused by the incident event (itself caused by the event the rule matched), so the audit
can say why a camera moved. What cannot be done is a ``rule.action.skipped`` event saying why.
docs/rule-actions.md tells the whole story.

``rule_target_issues`` is the start-up side: a rule naming an adapter that is not there, cannot do what
the rule asks, or a broadcast text the radio would refuse, is a configuration problem.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

import attrs
import structlog
from attrs import frozen
from twisted.application.service import Service
from twisted.internet.defer import CancelledError, Deferred, succeed
from twisted.internet.task import deferLater

from hub.api import AdapterType, CommandSpec
from hub.commands import CommandRefused, check_arguments, command_event
from hub.config import AdapterInstanceConfig, HubConfig, IncidentRuleConfig, IncidentsConfig
from hub.directory import Directory
from hub.events import Event, EventDecodeError, EventFactory, Location, RuleActionSkipped, Severity, Subject
from hub.ids import derived_id
from hub.incidents.nearest import NearCamera, nearest_cameras

if TYPE_CHECKING:
    from hub.bus import Bus, Subscription

#: The incident events that can carry a rule's actions.
ACTION_TOPICS = frozenset({"incident.opened", "incident.event.joined"})
#: The durable cursor the service reads the bus with: after a crash it carries on from there.
CURSOR = "rule-actions"
#: The source of the commands and skipped actions the service publishes.
SOURCE = "hub.rules"
SKIPPED_TOPIC = "rule.action.skipped"

GOTO_PRESET = "goto_preset"
SEND_TO_POLICE = "send_to_police"
BROADCAST = "broadcast"
#: The command verb each kind of action needs its adapter to offer.
VERBS: dict[str, str] = {"move_cameras": GOTO_PRESET, "police": SEND_TO_POLICE, "broadcast": BROADCAST}
_DOING = {
    "move_cameras": "move cameras",
    "police": "send the incident to police",
    "broadcast": "broadcast to the radio scheme",
    "rule": "act",
}
_CAN = {GOTO_PRESET: "turn cameras to a preset", SEND_TO_POLICE: "send to police", BROADCAST: "broadcast"}
_WHY = {"named": "named by the event", "member": "the member's camera", "node": "behind the fibre node"}

#: How long an action waits for its adapter while it is still starting (a hub just started, reading the
#: journal where it left off) before it is skipped as not running; checked every ``_POLL_S``.
STARTING_GRACE_S = 10.0
_POLL_S = 0.25


# --- Which adapter a rule means -------------------------------------------------------------------------


def find_instance(config: HubConfig, name: str) -> AdapterInstanceConfig | None:
    """The adapter instance a rule names: by its name (``pubwatch``) or its source (``shopwatch.pubwatch``)."""
    for instance in config.adapters:
        if name in (instance.name, instance.source):
            return instance
    return None


def command_spec(adapter_types: Mapping[str, AdapterType], type_name: str, verb: str) -> CommandSpec | None:
    """The command ``verb`` of adapter type ``type_name``, None if the type is unknown or lacks it."""
    adapter_type = adapter_types.get(type_name)
    if adapter_type is None:
        return None
    return next((spec for spec in adapter_type.commands if spec.verb == verb), None)


def _able(adapters: Iterable[AdapterInstanceConfig], adapter_types: Mapping[str, AdapterType],
          verb: str) -> list[AdapterInstanceConfig]:
    return [instance for instance in adapters if command_spec(adapter_types, instance.type, verb) is not None]


# --- Start-up: rules whose targets cannot work -------------------------------------------------------------


@frozen
class TargetProblem:
    """A rule naming an adapter that cannot do its action. ``path`` is the key path under ``[incidents]``
    (``("rules", 2, "broadcast", "adapter")``); ``found`` and ``expected`` word it as config problems are."""

    path: tuple[str | int, ...]
    found: str
    expected: str


def _quoted(text: str) -> str:
    quoted = json.dumps(text, ensure_ascii=False)
    return quoted if len(quoted) <= 80 else quoted[:76] + '..."'


def _article(word: str) -> str:
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


def rule_target_issues(
    incidents: IncidentsConfig,
    adapters: Sequence[AdapterInstanceConfig],
    adapter_types: Mapping[str, AdapterType],
) -> list[TargetProblem]:
    """Every rule action naming an adapter that is not configured or cannot do it, and every broadcast text
    the broadcast command would refuse. Rules whose action is ``ignore`` never act and are not checked."""
    problems: list[TargetProblem] = []

    def named(index: int, key: tuple[str, ...], name: str, verb: str) -> AdapterInstanceConfig | None:
        able = _able(adapters, adapter_types, verb)
        choices = ", ".join(instance.name for instance in able)
        expected = (f"the name of an adapter that can {_CAN[verb]}, one of: {choices}" if able else
                    f"the name of an adapter that can {_CAN[verb]} (none is configured: add an [adapters.NAME] "
                    "table of a type that can)")
        instance = next((each for each in adapters if name in (each.name, each.source)), None)
        if instance is None:
            problems.append(TargetProblem(("rules", index, *key),
                                          f"{_quoted(name)}, which names no adapter in [adapters]", expected))
            return None
        if command_spec(adapter_types, instance.type, verb) is None:
            found = f"{_quoted(name)}, {_article(instance.type)} adapter, which cannot {_CAN[verb]}"
            problems.append(TargetProblem(("rules", index, *key), found, expected))
            return None
        return instance

    for index, rule in enumerate(incidents.rules):
        if rule.action == "ignore":
            continue
        if rule.move_cameras is not None and rule.move_cameras.adapter is not None:
            named(index, ("move_cameras", "adapter"), rule.move_cameras.adapter, GOTO_PRESET)
        if rule.police_adapter is not None:
            named(index, ("police_adapter",), rule.police_adapter, SEND_TO_POLICE)
        if rule.broadcast is not None:
            instance = named(index, ("broadcast", "adapter"), rule.broadcast.adapter, BROADCAST)
            spec = command_spec(adapter_types, instance.type, BROADCAST) if instance is not None else None
            if spec is not None:
                try:
                    check_arguments(spec, {"text": rule.broadcast.text})
                except CommandRefused as refused:
                    problems.append(TargetProblem(
                        ("rules", index, "broadcast", "text"),
                        f"{_quoted(rule.broadcast.text)} ({len(rule.broadcast.text)} characters)",
                        f"a text {instance.name} can broadcast ({refused})",
                    ))
    return problems


def check_rule_targets(config: HubConfig, adapter_types: Mapping[str, AdapterType]) -> None:
    """Refuse, with a ``ConfigError`` naming each rule's key, rules whose actions name an adapter that is not
    configured or cannot do it, or a broadcast text it would refuse. The hub calls it at start-up; config
    validation reports the same problems for ``hub check-config``."""
    from hub.config import ConfigError, ConfigProblem
    from hub.config_reader import _key_path

    problems = rule_target_issues(config.incidents, config.adapters, adapter_types)
    if problems:
        raise ConfigError([
            ConfigProblem(str(config.path), _key_path(("incidents", *problem.path)), problem.found, problem.expected)
            for problem in problems
        ])


# --- Carrying the actions out ----------------------------------------------------------------------------


@frozen
class _Target:
    """An adapter instance able to take one command."""

    source: str
    adapter_type: str
    spec: CommandSpec


class RuleActionService(Service):
    """Publishes the commands of rules that opened or joined incidents; a Twisted service on the hub's clock.

    ``adapters()`` gives the running adapters' statuses (``name`` = source, ``state``); ``skipped`` the
    instances left out of this hub by their ``only_when``, by name, with why. Events are handled one at a
    time, in journal order; the bus's durable cursor records each one handled, so after a crash the events
    since the last saved position come again, and the ids of what they cause (``derived_id`` of the
    incident event and the action) are the same: the journal keeps the first and drops the repeat.
    """

    name = "rule-actions"

    def __init__(
        self,
        *,
        bus: "Bus",
        config: HubConfig,
        adapter_types: Mapping[str, AdapterType],
        directory: Directory,
        adapters: Callable[[], Iterable[Any]],
        clock: Any,
        events: EventFactory,
        skipped: Mapping[str, str] | None = None,
        log: Any = None,
    ) -> None:
        self._bus = bus
        self._config = config
        self._adapter_types = adapter_types
        self._directory = directory
        self._adapters = adapters
        self._clock = clock
        self._events = events
        self._skipped = skipped if skipped is not None else {}
        self._log = (log if log is not None else structlog.get_logger("hub.rule_actions")).bind(
            component="rule_actions"
        )
        self._rules = {rule.name: rule for rule in config.incidents.rules}
        self._subscription: "Subscription | None" = None
        self._stopping = False
        self._in_flight: Deferred[None] | None = None
        self._idle_waiters: list[Deferred[None]] = []
        self._sleeping: set[Deferred[None]] = set()

    # --- service ---------------------------------------------------------------------------------------

    def startService(self) -> None:  # noqa: N802 - Twisted's name
        super().startService()
        self._stopping = False
        for rule in self._rules.values():
            if rule.action != "ignore" and rule.police is not None and not self._police_instances(rule):
                self._log.warning("rule_has_no_police_link", rule=rule.name, police=rule.police)
        if self._bus.journal.cursor(CURSOR) is None:
            # The first start: the cursor is saved now, so a crash before the first incident event is handled
            # still finds it there at the next start and reads that event again.
            head = self._bus.head
            self._bus.journal.save_cursor(CURSOR, head, self._clock.seconds()).addErrback(
                lambda failure: self._log.error("rule_actions_cursor_not_saved", error=failure.getErrorMessage()))
            self._subscription = self._bus.subscribe("incident.#", self._on_event, name=CURSOR, cursor=CURSOR,
                                                     since=head)
        else:
            self._subscription = self._bus.subscribe("incident.#", self._on_event, name=CURSOR, cursor=CURSOR)
        self._log.info("rule_actions_started", position=self._subscription.position)

    def stopService(self) -> "Deferred[None]":  # noqa: N802 - Twisted's name
        super().stopService()
        self._stopping = True
        if self._subscription is not None:
            self._subscription.cancel()
            self._subscription = None
        # An action waiting for its adapter to start gives up now: it is skipped, saying why.
        for sleeping in tuple(self._sleeping):
            sleeping.cancel()
        if self._in_flight is None:
            return succeed(None)
        idle: Deferred[None] = Deferred()
        self._idle_waiters.append(idle)
        return idle

    # --- events in -------------------------------------------------------------------------------------

    def _on_event(self, event: Event) -> "Deferred[None] | None":
        if self._stopping or event.topic not in ACTION_TOPICS:
            return None
        detail = getattr(event.payload, "detail", None)
        if not isinstance(detail, Mapping) or not detail.get("actions") or event.incident_id is None:
            return None
        acting = Deferred.fromCoroutine(self._act(event, str(detail["actions"]), detail))
        if acting.called:
            return acting
        self._in_flight = acting
        return acting.addBoth(self._settled)

    def _settled(self, result: Any) -> Any:
        self._in_flight = None
        waiters, self._idle_waiters = self._idle_waiters, []
        for waiter in waiters:
            waiter.callback(None)
        return result

    async def _act(self, incident_event: Event, rule_name: str, detail: Mapping[str, Any]) -> None:
        log = self._log.bind(incident=incident_event.incident_id, rule=rule_name, seq=incident_event.seq)
        rule = self._rules.get(rule_name)
        if rule is None:
            planned = [self._skip(incident_event, rule_name, "rule", "rule",
                                  "the rule is no longer in the configuration")]
        else:
            planned = []
            if rule.move_cameras is not None:
                planned += await self._move_cameras(incident_event, rule, detail)
            if rule.police == "auto":
                planned += await self._police(incident_event, rule)
            if rule.broadcast is not None:
                planned += await self._broadcast(incident_event, rule)
        for event in planned:
            seq = await self._bus.publish(event)
            if event.topic == SKIPPED_TOPIC:
                log.warning("rule_action_skipped", action=event.payload.action, reason=event.payload.reason,
                            event_id=event.id, published_seq=seq)
            else:
                log.info("rule_action_requested", topic=event.topic, adapter=event.payload.adapter,
                         arguments=event.payload.arguments, event_id=event.id, published_seq=seq)

    # --- each action -------------------------------------------------------------------------------------

    async def _move_cameras(self, incident_event: Event, rule: IncidentRuleConfig,
                            detail: Mapping[str, Any]) -> list[Event]:
        move = rule.move_cameras
        assert move is not None
        cause, unreadable = self._cause(detail)
        if cause is None:
            return [self._skip(incident_event, rule.name, "move_cameras", "move_cameras", unreadable)]
        only = None
        if move.adapter is not None:
            instance = find_instance(self._config, move.adapter)
            only = instance.source if instance is not None else move.adapter
        cameras = nearest_cameras(cause, self._directory, count=move.count, within_m=move.within_m, adapter=only)
        if not cameras:
            where = f" driven by {only}" if only else ""
            reason = (f"no camera{where} for the event: it names none, its member or node has none, and none is "
                      f"within {move.within_m:g} m of it")
            return [self._skip(incident_event, rule.name, "move_cameras", "move_cameras", reason)]
        planned = []
        for near in cameras:
            key = f"move_cameras:{near.camera}"
            if near.adapter is None:
                planned.append(self._skip(incident_event, rule.name, "move_cameras", key,
                                          f"camera {near.camera} is not in the hub's directory: no adapter drives it"))
                continue
            target, why_not = await self._target(near.adapter, GOTO_PRESET)
            if target is None:
                planned.append(self._skip(incident_event, rule.name, "move_cameras", key,
                                          f"camera {near.camera}: {why_not}"))
                continue
            planned.append(self._command(
                incident_event, rule, "move_cameras", key, target, {"camera": near.camera, "preset": move.preset},
                summary=(f"Rule {rule.name} asked {target.source} to turn camera {near.camera} to preset "
                         f"{move.preset} ({_why(near)})"),
                location=Location(camera=near.camera),
            ))
        return planned

    async def _police(self, incident_event: Event, rule: IncidentRuleConfig) -> list[Event]:
        instances = self._police_instances(rule)
        if not instances:
            return [self._skip(incident_event, rule.name, "police", "police",
                               "no adapter in this hub can send to police (configure a police_link adapter)")]
        planned = []
        for instance in instances:
            key = f"police:{instance.source}"
            target, why_not = await self._target(instance.source, SEND_TO_POLICE)
            if target is None:
                planned.append(self._skip(incident_event, rule.name, "police", key, why_not))
                continue
            planned.append(self._command(
                incident_event, rule, "police", key, target, {},
                summary=f"Rule {rule.name} asked {target.source} to send the incident to police",
            ))
        return planned

    async def _broadcast(self, incident_event: Event, rule: IncidentRuleConfig) -> list[Event]:
        broadcast = rule.broadcast
        assert broadcast is not None
        instance = find_instance(self._config, broadcast.adapter)
        if instance is None:
            return [self._skip(incident_event, rule.name, "broadcast", "broadcast",
                               f"{broadcast.adapter} is not an adapter of this hub")]
        target, why_not = await self._target(instance.source, BROADCAST)
        if target is None:
            return [self._skip(incident_event, rule.name, "broadcast", "broadcast", why_not)]
        return [self._command(
            incident_event, rule, "broadcast", "broadcast", target, {"text": broadcast.text},
            summary=f"Rule {rule.name} asked {target.source} to broadcast {_quoted(broadcast.text)}",
        )]

    def _police_instances(self, rule: IncidentRuleConfig) -> list[AdapterInstanceConfig]:
        if rule.police_adapter is not None:
            instance = find_instance(self._config, rule.police_adapter)
            return [instance] if instance is not None else []
        # Every police link this hub runs: a disabled one, or one left out here by only_when, is not meant.
        return [instance for instance in _able(self._config.adapters, self._adapter_types, SEND_TO_POLICE)
                if instance.enabled and instance.name not in self._skipped]

    # --- what they need --------------------------------------------------------------------------------

    def _cause(self, detail: Mapping[str, Any]) -> tuple[Event | None, str]:
        """The event the rule matched, read from the journal at the detail's ``seq``; or why it cannot be."""
        seq = detail.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            return None, "the incident event does not say which event matched the rule"
        rows = self._bus.journal.read_after(seq - 1, 1)
        if not rows or rows[0].seq != seq:
            return None, f"the event that matched the rule (seq {seq}) is no longer in the journal"
        try:
            cause = self._bus.codec.from_json(rows[0].body, seq=seq)
        except EventDecodeError as error:
            return None, f"the event that matched the rule (seq {seq}) cannot be read: {error}"
        wanted = detail.get("event_id")
        if wanted is not None and cause.id != wanted:
            return None, f"the journal's event {seq} is not the one that matched the rule ({wanted})"
        return cause, ""

    async def _target(self, source: str, verb: str) -> tuple[_Target | None, str]:
        """The adapter ``source`` ready to take ``verb``, or why it cannot."""
        instance = find_instance(self._config, source)
        if instance is None:
            return None, f"{source} is not an adapter of this hub"
        spec = command_spec(self._adapter_types, instance.type, verb)
        if spec is None:
            return None, f"{instance.source} ({instance.type}) cannot {_CAN[verb]}"
        if not instance.enabled:
            return None, f"{instance.source} is disabled in the configuration"
        if instance.name in self._skipped:
            return None, f"{instance.source} does not run in this hub ({self._skipped[instance.name]})"
        state = await self._state_once_started(instance.source)
        if state != "running":
            return None, f"{instance.source} is {state or 'not started'}, not running"
        return _Target(source=instance.source, adapter_type=instance.type, spec=spec), ""

    def _state(self, source: str) -> str | None:
        for status in self._adapters():
            if status.name == source:
                return str(getattr(status.state, "value", status.state))
        return None

    async def _state_once_started(self, source: str) -> str | None:
        """The adapter's state, waiting up to ``STARTING_GRACE_S`` while it is starting: a hub reading the
        journal at start-up reaches the first incident events before its adapters are up."""
        give_up = self._clock.seconds() + STARTING_GRACE_S
        state = self._state(source)
        while state == "starting" and not self._stopping and self._clock.seconds() < give_up:
            await self._sleep(_POLL_S)
            state = self._state(source)
        return state

    async def _sleep(self, seconds: float) -> None:
        sleeping = deferLater(self._clock, seconds, lambda: None)
        self._sleeping.add(sleeping)
        try:
            await sleeping
        except CancelledError:
            pass
        finally:
            self._sleeping.discard(sleeping)

    # --- what they publish -----------------------------------------------------------------------------

    def _command(self, incident_event: Event, rule: IncidentRuleConfig, action: str, key: str, target: _Target,
                 arguments: dict[str, Any], *, summary: str, location: Location | None = None) -> Event:
        try:
            command = command_event(
                self._events, adapter=target.source, adapter_type=target.adapter_type, spec=target.spec,
                arguments=arguments, requested_by=f"rule:{rule.name}", incident_id=incident_event.incident_id,
                causation_id=incident_event.id,
            )
        except CommandRefused as refused:
            return self._skip(incident_event, rule.name, action, key, f"{target.source} would refuse it: {refused}")
        return attrs.evolve(command, id=derived_id(incident_event.id, key), summary=summary, location=location)

    def _skip(self, incident_event: Event, rule: str, action: str, key: str, reason: str) -> Event:
        skipped = self._events(
            SKIPPED_TOPIC,
            RuleActionSkipped(rule=rule, action=action, reason=reason),
            severity=Severity.LOW,
            subject=Subject(kind="rule", id=rule),
            summary=f"Rule {rule} could not {_DOING.get(action, action)}: {reason}",
            incident_id=incident_event.incident_id,
            causation_id=incident_event.id,
        )
        # The same key as the command it stands in for: a replay that now finds the adapter down does not
        # add a skip beside the command it published the first time.
        return attrs.evolve(skipped, id=derived_id(incident_event.id, key))


def _why(near: NearCamera) -> str:
    if near.why == "distance" and near.metres is not None:
        return f"{near.metres:g} m from the event"
    return _WHY.get(near.why, near.why)
