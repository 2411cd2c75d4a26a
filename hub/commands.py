"""Commands through the bus: a request addressed to one adapter instance, answered by an outcome event.

The operator (through the API) or a rule publishes ``command.<adapter type>.<verb>`` with a
``CommandRequested`` payload naming the instance. The adapter, subscribed with ``subscribe_commands``,
does the work and publishes one ``<adapter type>.command.<outcome>`` event whose ``causation_id`` is the
command's id and whose ``incident_id`` is the command's, so the outcome lands on the same incident.
Both are journaled, so the audit trail of who asked for what, and what happened, is complete.

``CommandRequester`` is the same conversation started by another adapter rather than an operator: the
police link asks the ONVIF adapter to share a stream and awaits the outcome, with the events the command
caused on the way (the stream's grant), or nothing once its time is up.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Mapping

from attrs import define, field, frozen
from twisted.internet.defer import CancelledError, Deferred

from hub.api import AdapterContext, CommandSpec
from hub.events import (
    CommandOutcome,
    CommandOutcomeKind,
    CommandRequested,
    Event,
    EventFactory,
    Severity,
    Subject,
)

_OUTCOME_SEVERITY = {
    CommandOutcomeKind.DELIVERED: Severity.INFO,
    CommandOutcomeKind.SENT: Severity.INFO,
    CommandOutcomeKind.FAILED: Severity.MEDIUM,
    CommandOutcomeKind.TIMED_OUT: Severity.MEDIUM,
    CommandOutcomeKind.REFUSED: Severity.MEDIUM,
}


class CommandRefused(ValueError):
    """A command that cannot be sent as asked: unknown adapter or verb, or bad arguments."""


def command_topic(adapter_type: str, verb: str) -> str:
    return f"command.{adapter_type}.{verb}"


def check_arguments(spec: CommandSpec, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments a command spec accepts, checked; ``CommandRefused`` says what is wrong."""
    known = {argument.name: argument for argument in spec.arguments}
    unknown = sorted(set(arguments) - set(known))
    if unknown:
        raise CommandRefused(f"{spec.verb} takes no argument named {', '.join(unknown)}")
    checked: dict[str, Any] = {}
    for name, argument in known.items():
        value = arguments.get(name)
        if value is None or value == "":
            if argument.required:
                raise CommandRefused(f"{spec.verb} needs {argument.title.lower()} ({name})")
            continue
        if argument.kind == "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                raise CommandRefused(f"{name} must be a whole number")
        else:
            if not isinstance(value, str):
                raise CommandRefused(f"{name} must be text")
            if len(value) > argument.max_length:
                raise CommandRefused(f"{name} is longer than {argument.max_length} characters")
            if argument.kind == "choice" and value not in argument.choices:
                raise CommandRefused(f"{name} must be one of {', '.join(argument.choices)}")
        checked[name] = value
    return checked


def command_event(
    events: EventFactory,
    *,
    adapter: str,
    adapter_type: str,
    spec: CommandSpec,
    arguments: Mapping[str, Any],
    requested_by: str,
    incident_id: str | None = None,
    causation_id: str | None = None,
) -> Event:
    """The event that asks ``adapter`` to do ``spec.verb``; arguments are checked first."""
    checked = check_arguments(spec, arguments)
    return events(
        command_topic(adapter_type, spec.verb),
        CommandRequested(adapter=adapter, verb=spec.verb, arguments=checked, requested_by=requested_by),
        severity=Severity.INFO,
        subject=Subject(kind="adapter", id=adapter),
        summary=f"{requested_by} asked {adapter} to {spec.title.lower()}",
        incident_id=incident_id,
        causation_id=causation_id,
    )


def outcome_event(
    events: EventFactory,
    adapter_type: str,
    command: Event,
    outcome: CommandOutcomeKind,
    detail: str | None = None,
) -> Event:
    """The event that says how ``command`` ended, linked to it and to its incident."""
    request: CommandRequested = command.payload
    summary = f"{request.verb} {outcome.value.replace('_', ' ')}" + (f": {detail}" if detail else "")
    return events(
        f"{adapter_type}.command.{outcome.value}",
        CommandOutcome(
            command_id=command.id, adapter=request.adapter, verb=request.verb, outcome=outcome, detail=detail
        ),
        severity=_OUTCOME_SEVERITY[outcome],
        subject=Subject(kind="adapter", id=request.adapter),
        summary=summary,
        incident_id=command.incident_id,
        causation_id=command.id,
    )


def subscribe_commands(
    context: AdapterContext,
    handler: Callable[[Event], "Awaitable[Any] | Any"],
) -> Any:
    """Deliver to ``handler`` the commands addressed to this adapter instance, and only those.

    Live commands only: a command published while the adapter was down is not carried out late (an
    operator's "move camera 42" from ten minutes ago is no longer wanted); the API answers it with a
    ``refused`` outcome instead when the adapter is not running.
    """

    def mine(event: Event) -> Any:
        if isinstance(event.payload, CommandRequested) and event.payload.adapter == context.name:
            return handler(event)
        return None

    return context.bus.subscribe(f"command.{context.adapter_type}.*", mine, name=f"{context.name}-commands")


@frozen
class CommandAnswer:
    """What became of a command one adapter asked another to do.

    ``outcome`` is the ``<adapter type>.command.<outcome>`` event that answered it, None when none came
    within the time allowed. ``related`` are the other events the command caused (``causation_id`` is the
    command's id) whose topics match the requester's ``collect`` patterns, in the order they came, up to
    the outcome: the target publishes what it made (a stream's grant) before it says it is done.
    """

    command: Event
    outcome: Event | None
    related: tuple[Event, ...] = ()

    @property
    def kind(self) -> CommandOutcomeKind | None:
        """How the command ended (``delivered``, ``failed``...), None without an answer."""
        if self.outcome is None:
            return None
        value = getattr(self.outcome.payload, "outcome", None)
        if isinstance(value, CommandOutcomeKind):
            return value
        try:
            return CommandOutcomeKind(value)
        except ValueError:
            return None

    @property
    def detail(self) -> str | None:
        """The outcome's own words (why it failed), None without an answer or detail."""
        return getattr(self.outcome.payload, "detail", None) if self.outcome is not None else None


@define
class _Waiting:
    command: Event
    adapter_type: str
    answered: "Deferred[CommandAnswer]"
    related: dict[str, Event] = field(factory=dict)
    timer: Any = None


class CommandRequester:
    """Asks adapter instances to do commands over the bus and awaits each one's outcome.

    The command is a ``command.<adapter type>.<verb>`` event like an operator's (journaled, with
    ``requested_by`` naming who asks), so the target needs nothing special to serve another adapter. Its
    arguments are not checked here: the target checks them and answers ``refused``. Time is the injected
    clock's; ``stop`` cancels the subscriptions and every timer, and fails the asks still waiting with
    ``CancelledError``.
    """

    def __init__(self, bus: Any, events: EventFactory, clock: Any, *, requested_by: str,
                 collect: tuple[str, ...] = ()) -> None:
        self._bus = bus
        self._events = events
        self._clock = clock
        self._requested_by = requested_by
        self._collect = tuple(collect)
        self._subscriptions: list[Any] = []
        self._waiting: dict[str, _Waiting] = {}

    def start(self) -> None:
        """Subscribe, live, to every command outcome and to each ``collect`` pattern."""
        if self._subscriptions:
            return
        name = f"{self._events.source}-asks"
        # Handlers are synchronous, so every subscription has seen an event before the next is dispatched:
        # what the target published before its outcome is collected by the time the outcome arrives.
        self._subscriptions.append(self._bus.subscribe("*.command.*", self._outcome, name=f"{name}-outcomes"))
        for pattern in self._collect:
            self._subscriptions.append(self._bus.subscribe(pattern, self._related, name=f"{name}-{pattern}"))

    def stop(self) -> None:
        """Stop listening; asks still waiting fail with ``CancelledError`` and leave no timer behind."""
        for subscription in self._subscriptions:
            subscription.cancel()
        self._subscriptions = []
        waiting, self._waiting = self._waiting, {}
        for entry in waiting.values():
            self._cancel_timer(entry)
            if not entry.answered.called:
                entry.answered.errback(CancelledError("the command requester stopped"))

    @property
    def pending(self) -> int:
        """How many asks are waiting for their answer."""
        return len(self._waiting)

    async def ask(
        self,
        adapter: str,
        adapter_type: str,
        verb: str,
        arguments: dict[str, Any],
        *,
        title: str | None = None,
        incident_id: str | None = None,
        causation_id: str | None = None,
        timeout_s: float = 30.0,
    ) -> CommandAnswer:
        """Publish the command for ``adapter`` (an instance of ``adapter_type``) and await its answer.

        The answer has ``outcome`` None when nothing came ``timeout_s`` seconds after the command was
        journaled. A command the journal refuses raises that error; ``stop`` raises ``CancelledError``.
        """
        if not self._subscriptions:
            raise RuntimeError("the command requester is not started")
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be greater than 0, got {timeout_s!r}")
        command = self._events(
            command_topic(adapter_type, verb),
            CommandRequested(adapter=adapter, verb=verb, arguments=dict(arguments), requested_by=self._requested_by),
            severity=Severity.INFO,
            subject=Subject(kind="adapter", id=adapter),
            summary=f"{self._requested_by} asked {adapter} to {(title or verb).lower()}",
            incident_id=incident_id,
            causation_id=causation_id,
        )
        # Waiting before publishing: nothing the target says can come before we listen for it.
        entry = _Waiting(command=command, adapter_type=adapter_type, answered=Deferred())
        self._waiting[command.id] = entry
        try:
            seq = await self._bus.publish(command)
            entry.command = command.with_seq(seq)
            if not entry.answered.called and self._waiting.get(command.id) is entry:
                entry.timer = self._clock.callLater(timeout_s, self._timed_out, command.id)
            return await entry.answered
        finally:
            self._cancel_timer(entry)
            if self._waiting.get(command.id) is entry:
                del self._waiting[command.id]

    # --- what comes back -------------------------------------------------------------------------------

    def _outcome(self, event: Event) -> None:
        entry = self._waiting.get(event.causation_id or "")
        if entry is None or not isinstance(event.payload, CommandOutcome):
            return
        if not event.topic.startswith(f"{entry.adapter_type}.command."):
            return
        self._answer(entry, event)

    def _related(self, event: Event) -> None:
        entry = self._waiting.get(event.causation_id or "")
        if entry is None or isinstance(event.payload, CommandOutcome):
            return
        entry.related.setdefault(event.id, event)  # two overlapping patterns deliver it twice

    def _timed_out(self, command_id: str) -> None:
        entry = self._waiting.get(command_id)
        if entry is not None:
            entry.timer = None
            self._answer(entry, None)

    def _answer(self, entry: _Waiting, outcome: Event | None) -> None:
        self._cancel_timer(entry)
        self._waiting.pop(entry.command.id, None)
        if not entry.answered.called:
            entry.answered.callback(CommandAnswer(entry.command, outcome, tuple(entry.related.values())))

    @staticmethod
    def _cancel_timer(entry: _Waiting) -> None:
        if entry.timer is not None and entry.timer.active():
            entry.timer.cancel()
        entry.timer = None
