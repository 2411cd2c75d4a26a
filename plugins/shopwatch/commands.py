"""What operators and rules can ask a base radio to do, and how each request ends in exactly one outcome.

``broadcast`` texts every unit and ends ``sent`` once the radio accepted it (CCDI; nobody confirms a
group message) or reported it went out (FleetSync; ``sent`` too after ``command_timeout_s`` without a
report). ``message`` and ``acknowledge`` text one unit and end ``delivered`` or ``failed`` on the radio's
delivery report, ``timed_out`` without one. ``end_emergency`` clears the emergency at the base radio
(CCDI) and publishes ``shopwatch.emergency.ended``. Anything that goes wrong ends ``failed`` (or
``timed_out`` when the radio never answered) with the reason; a request the specs do not allow ends
``refused``.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Protocol

from twisted.internet.defer import Deferred, fail, succeed
from twisted.python.failure import Failure

from hub.api import CommandArgument, CommandSpec
from hub.commands import CommandRefused, check_arguments, outcome_event
from hub.events import CommandOutcomeKind, CommandRequested, Event, EventFactory
from plugins.shopwatch.alerts import Alerts
from plugins.shopwatch.codec import CodecError, Dialect
from plugins.shopwatch.deliveries import Deliveries, Settled
from plugins.shopwatch.link import Link, LinkError, NoAnswer, Request

#: What ``acknowledge`` says when the operator gives no text of their own.
ACKNOWLEDGEMENT = "CCTV has it"

_TEXT = CommandArgument(name="text", title="Text", max_length=32)
_UNIT = CommandArgument(name="unit", title="Unit", max_length=16, prefill="payload.member.unit")

BROADCAST = CommandSpec(
    verb="broadcast",
    title="Broadcast to the scheme",
    description="Text every unit of the scheme (up to 32 characters). Sent once the base radio accepts it.",
    arguments=(_TEXT,),
    applies_to=("shopwatch.#",),
)
MESSAGE = CommandSpec(
    verb="message",
    title="Message a unit",
    description="Text one unit (up to 32 characters); delivered when its radio confirms it.",
    arguments=(_UNIT, _TEXT),
    applies_to=("shopwatch.report.received", "shopwatch.emergency.raised", "shopwatch.emergency.ended"),
)
ACKNOWLEDGE = CommandSpec(
    verb="acknowledge",
    title="Tell the unit CCTV has it",
    description='Text the unit "CCTV has it" (naming the camera, if given) or your own words.',
    arguments=(
        _UNIT,
        CommandArgument(name="camera", title="Camera", kind="camera", required=False, max_length=20,
                        prefill="location.camera"),
        CommandArgument(name="text", title="Text", required=False, max_length=32),
    ),
    applies_to=("shopwatch.report.received", "shopwatch.emergency.raised"),
)
END_EMERGENCY = CommandSpec(
    verb="end_emergency",
    title="End the emergency",
    description="Clear the emergency at the base radio and close it on the hub.",
    arguments=(_UNIT,),
    applies_to=("shopwatch.emergency.raised",),
)

COMMANDS: tuple[CommandSpec, ...] = (BROADCAST, MESSAGE, ACKNOWLEDGE, END_EMERGENCY)
_SPECS = {spec.verb: spec for spec in COMMANDS}


class Session(Protocol):
    """The dialect's part of a command: the message that does it, or ``CodecError`` if it cannot be sent."""

    def group_request(self, text: str) -> Request: ...

    def unit_request(self, unit: str, text: str) -> Request: ...

    def end_emergency_request(self, unit: str) -> Request | None: ...

    #: Whether the radio reports on a broadcast as it does on a message (FleetSync), so broadcasts must
    #: take their turn with messages for every report to be matched to its message.
    reports_group_sends: bool


def acknowledgement(camera: str | None, text: str | None) -> str:
    """The text ``acknowledge`` sends: the operator's own, or "CCTV has it[, camera N on it]"."""
    if text:
        return text
    return f"{ACKNOWLEDGEMENT}, camera {camera} on it" if camera else ACKNOWLEDGEMENT


class CommandHandler:
    """Carries out the commands addressed to one adapter instance; each gets one outcome event."""

    def __init__(
        self,
        *,
        adapter_type: str,
        dialect: Dialect,
        group: str,
        group_grace_s: float,
        events: EventFactory,
        publish: Callable[[Event], None],
        session: Session,
        link: Link,
        deliveries: Deliveries,
        alerts: Alerts,
        log: Any,
    ) -> None:
        self._adapter_type = adapter_type
        self._dialect = dialect
        self._group = group
        self._group_grace_s = group_grace_s
        self._events = events
        self._publish = publish
        self._session = session
        self._link = link
        self._deliveries = deliveries
        self._alerts = alerts
        self._log = log

    def __call__(self, command: Event) -> None:
        # Returns at once, so that the bus delivers the next command while this one waits for the radio.
        request: CommandRequested = command.payload
        log = self._log.bind(command_id=command.id, verb=request.verb, requested_by=request.requested_by)
        spec = _SPECS.get(request.verb)
        if spec is None:
            refusal = f"{self._adapter_type} has no command {request.verb!r}"
            self._outcome(command, log, CommandOutcomeKind.REFUSED, refusal)
            return
        try:
            arguments = check_arguments(spec, request.arguments)
        except CommandRefused as error:
            self._outcome(command, log, CommandOutcomeKind.REFUSED, str(error))
            return
        log.info("command_received")
        try:
            running = self._start(command, request.verb, arguments)
        except (CodecError, LinkError) as error:
            running = fail(error)
        except Exception as error:  # noqa: BLE001 - a bug must still end the command, never leave it open
            log.exception("command_crashed")
            running = fail(error)
        running.addCallbacks(
            lambda settled: self._outcome(command, log, settled.outcome, settled.detail),
            lambda failure: self._outcome(command, log, *self._failed(failure, log)),
        )

    def _start(self, command: Event, verb: str, arguments: Mapping[str, Any]) -> "Deferred[Settled]":
        if verb == "broadcast":
            request = self._session.group_request(self._checked(arguments["text"]))
            everyone = f"every unit ({self._group})"
            if self._session.reports_group_sends:
                return self._deliveries.send(request, everyone, group_grace_s=self._group_grace_s)
            return self._link.submit(request).addCallback(
                lambda _: Settled(CommandOutcomeKind.SENT, f"the radio sent it to {everyone}")
            )
        if verb == "message":
            return self._to_unit(arguments["unit"], arguments["text"])
        if verb == "acknowledge":
            return self._to_unit(arguments["unit"], acknowledgement(arguments.get("camera"), arguments.get("text")))
        return self._end_emergency(command, arguments["unit"])

    def _to_unit(self, unit: str, text: str) -> "Deferred[Settled]":
        return self._deliveries.send(self._session.unit_request(unit, self._checked(text)), unit)

    def _end_emergency(self, command: Event, unit: str) -> "Deferred[Settled]":
        who = command.payload.requested_by
        request = self._session.end_emergency_request(unit)
        if request is None:
            self._alerts.ended_by_operator(unit, f"ended by {who} at the hub", cause=command)
            return succeed(Settled(CommandOutcomeKind.SENT,
                                   "closed at the hub; this radio has no command to clear an emergency"))

        def cleared(_reply: object) -> Settled:
            self._alerts.ended_by_operator(unit, f"ended by {who}; cleared at the base radio", cause=command)
            return Settled(CommandOutcomeKind.SENT, "the base radio cleared the emergency")

        return self._link.submit(request).addCallback(cleared)

    def _checked(self, text: str) -> str:
        if len(text) > self._dialect.max_text:
            raise CodecError(
                f"the text {text!r} has {len(text)} characters; this radio sends at most {self._dialect.max_text}"
            )
        return text

    def _failed(self, failure: Failure, log: Any) -> tuple[CommandOutcomeKind, str]:
        if failure.check(NoAnswer):
            return CommandOutcomeKind.TIMED_OUT, failure.getErrorMessage()
        if failure.check(LinkError, CodecError):
            return CommandOutcomeKind.FAILED, failure.getErrorMessage()
        log.error("command_failed_unexpectedly", error=failure.getErrorMessage(), exception=failure.getTraceback())
        return CommandOutcomeKind.FAILED, f"unexpected error: {failure.type.__name__}"

    def _outcome(self, command: Event, log: Any, outcome: CommandOutcomeKind, detail: str) -> None:
        log.info("command_ended", outcome=outcome.value, detail=detail)
        self._publish(outcome_event(self._events, self._adapter_type, command, outcome, detail))
