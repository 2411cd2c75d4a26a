"""Commands through the bus: a request addressed to one adapter instance, answered by an outcome event.

The operator (through the API) or a rule publishes ``command.<adapter type>.<verb>`` with a
``CommandRequested`` payload naming the instance. The adapter, subscribed with ``subscribe_commands``,
does the work and publishes one ``<adapter type>.command.<outcome>`` event whose ``causation_id`` is the
command's id and whose ``incident_id`` is the command's, so the outcome lands on the same incident.
Both are journaled, so the audit trail of who asked for what, and what happened, is complete.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Mapping

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
