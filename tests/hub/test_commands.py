"""Commands through the bus: checked arguments, addressed to one instance, answered by one linked outcome."""

from __future__ import annotations

from typing import ClassVar

import pytest
from attrs import frozen
from twisted.internet.defer import CancelledError, Deferred

from hub.api import AdapterContext, CommandArgument, CommandSpec
from hub.bus import BusClosed
from hub.commands import (
    CommandAnswer,
    CommandRefused,
    CommandRequester,
    check_arguments,
    command_event,
    outcome_event,
    subscribe_commands,
)
from hub.events import (
    CommandOutcome,
    CommandOutcomeKind,
    CommandRequested,
    Event,
    Severity,
    Subject,
)
from hub.testing import (
    BusHarness,
    assert_no_pending_timers,
    assert_no_result,
    failure_result_of,
    success_result_of,
)

BROADCAST = CommandSpec(
    verb="broadcast",
    title="Broadcast to the scheme",
    arguments=(
        CommandArgument(name="text", title="Text", max_length=20),
        CommandArgument(name="group", title="Group", kind="choice", choices=("all", "pubs"), required=False),
        CommandArgument(name="repeat", title="Repeat", kind="integer", required=False),
    ),
)


def test_arguments_are_checked_against_the_spec_and_each_fault_is_named():
    """Unknown, missing, too long, wrong kind and off-list values are refused with the argument's name."""
    assert check_arguments(BROADCAST, {"text": "Suspect north", "group": "pubs"}) == {
        "text": "Suspect north", "group": "pubs"}
    cases = [
        ({"text": "hi", "colour": "red"}, "no argument named colour"),
        ({}, "needs text"),
        ({"text": "x" * 21}, "longer than 20"),
        ({"text": "hi", "group": "shops"}, "one of all, pubs"),
        ({"text": "hi", "repeat": "2"}, "whole number"),
        ({"text": "hi", "repeat": True}, "whole number"),
        ({"text": 5}, "must be text"),
    ]
    for arguments, message in cases:
        with pytest.raises(CommandRefused, match=message):
            check_arguments(BROADCAST, arguments)
    assert check_arguments(BROADCAST, {"text": "hi", "group": "", "repeat": 2}) == {"text": "hi", "repeat": 2}


def test_a_command_event_names_its_adapter_and_an_outcome_links_back_to_it(hub_bus):
    """The outcome carries the command's id as its cause and the command's incident."""
    command = command_event(
        hub_bus.events, adapter="shopwatch.town_centre", adapter_type="shopwatch", spec=BROADCAST,
        arguments={"text": "Shop theft"}, requested_by="olive", incident_id="INC-000007",
    )
    assert command.topic == "command.shopwatch.broadcast"
    assert command.payload == CommandRequested(adapter="shopwatch.town_centre", verb="broadcast",
                                               arguments={"text": "Shop theft"}, requested_by="olive")
    outcome = outcome_event(hub_bus.events, "shopwatch", command, CommandOutcomeKind.TIMED_OUT, "no ack in 10 s")
    assert outcome.topic == "shopwatch.command.timed_out"
    assert (outcome.causation_id, outcome.incident_id) == (command.id, "INC-000007")
    assert outcome.payload == CommandOutcome(command_id=command.id, adapter="shopwatch.town_centre",
                                             verb="broadcast", outcome=CommandOutcomeKind.TIMED_OUT,
                                             detail="no ack in 10 s")
    assert outcome.severity == Severity.MEDIUM and "timed out: no ack in 10 s" in outcome.summary


def test_an_adapter_hears_only_the_commands_addressed_to_its_own_instance(hub_bus):
    """Two instances of one type share a topic; each gets only its own commands."""
    heard = []
    context = AdapterContext(name="shopwatch.night", adapter_type="shopwatch", reactor=hub_bus.clock,
                             bus=hub_bus.bus, log=None, config=None, events=hub_bus.events)
    subscribe_commands(context, heard.append)
    for adapter in ("shopwatch.day", "shopwatch.night"):
        hub_bus.bus.publish(command_event(hub_bus.events, adapter=adapter, adapter_type="shopwatch",
                                          spec=BROADCAST, arguments={"text": "hi"}, requested_by="olive"))
    hub_bus.settle()
    assert [event.payload.adapter for event in heard] == ["shopwatch.night"]


# --- One adapter asking another ------------------------------------------------------------------------


@frozen
class StreamShared:
    """What the fake camera adapter publishes before saying a share is done."""

    TYPE: ClassVar[str] = "test.stream.shared"

    camera: str
    uri: str


class FakeCameras:
    """An adapter instance of type ``camera`` answering ``share_stream`` as told: a grant, then an outcome."""

    def __init__(self, harness: BusHarness, name: str = "camera.main", *, answer: str = "delivered",
                 grant: bool = True) -> None:
        self.events = harness.events.for_source(name)
        self.answer = answer
        self.grant = grant
        self.heard: list[Event] = []
        context = AdapterContext(name=name, adapter_type="camera", reactor=harness.clock, bus=harness.bus,
                                 log=None, config=None, events=self.events)
        self.subscription = subscribe_commands(context, self.command)
        self.bus = harness.bus

    async def command(self, command: Event) -> None:
        self.heard.append(command)
        if self.answer == "silent":
            return
        if self.grant:
            await self.bus.publish(self.events(
                "camera.stream.shared", StreamShared(camera=command.payload.arguments["camera"], uri="rtsp://x/1"),
                severity=Severity.INFO, subject=Subject(kind="camera", id="42"), summary="Stream shared",
                causation_id=command.id, incident_id=command.incident_id))
        await self.bus.publish(outcome_event(self.events, "camera", command, CommandOutcomeKind(self.answer),
                                             "no such preset" if self.answer == "failed" else None))


@pytest.fixture
def cameras_bus(tmp_path, hub_clock):
    harness = BusHarness(tmp_path, hub_clock, event_types=(StreamShared,))
    yield harness
    harness.close()


def requester_for(harness: BusHarness, collect: tuple[str, ...] = ("camera.stream.*",)) -> CommandRequester:
    requester = CommandRequester(harness.bus, harness.events.for_source("police_link.force"), harness.clock,
                                 requested_by="police_link.force", collect=collect)
    requester.start()
    return requester


def test_an_adapter_asks_another_and_gets_its_outcome_with_the_events_the_command_caused(cameras_bus):
    """The answer holds the command, its outcome and the collected events it caused, in order."""
    cameras = FakeCameras(cameras_bus)
    requester = requester_for(cameras_bus)

    asked = Deferred.fromCoroutine(requester.ask(
        "camera.main", "camera", "share_stream", {"camera": "42", "minutes": 10}, title="Share a stream",
        incident_id="INC-000003", causation_id="police-request-7", timeout_s=30))
    cameras_bus.settle()

    answer = success_result_of(asked)
    assert isinstance(answer, CommandAnswer)
    [command] = cameras.heard
    assert answer.command == command
    assert command.topic == "command.camera.share_stream"
    assert command.payload == CommandRequested(adapter="camera.main", verb="share_stream",
                                               arguments={"camera": "42", "minutes": 10},
                                               requested_by="police_link.force")
    assert (command.source, command.incident_id, command.causation_id) == (
        "police_link.force", "INC-000003", "police-request-7")
    assert command.summary == "police_link.force asked camera.main to share a stream"
    assert answer.outcome is not None and answer.outcome.topic == "camera.command.delivered"
    assert answer.kind is CommandOutcomeKind.DELIVERED and answer.detail is None
    assert [event.payload for event in answer.related] == [StreamShared(camera="42", uri="rtsp://x/1")]
    assert requester.pending == 0
    requester.stop()
    assert_no_pending_timers(cameras_bus.clock)


def test_a_failed_command_is_answered_with_its_kind_and_detail(cameras_bus):
    """A refusal or failure is an answer too: its kind and the target's reason."""
    FakeCameras(cameras_bus, answer="failed", grant=False)
    requester = requester_for(cameras_bus)
    asked = Deferred.fromCoroutine(requester.ask("camera.main", "camera", "goto_preset", {"preset": "9"}))
    cameras_bus.settle()
    answer = success_result_of(asked)
    assert (answer.kind, answer.detail, answer.related) == (CommandOutcomeKind.FAILED, "no such preset", ())
    assert answer.command.summary == "police_link.force asked camera.main to goto_preset"
    requester.stop()


def test_no_answer_within_the_timeout_is_an_answer_without_outcome(cameras_bus):
    """The requester waits on its clock, not forever: after timeout_s the outcome is None."""
    cameras = FakeCameras(cameras_bus, answer="silent")
    requester = requester_for(cameras_bus)
    asked = Deferred.fromCoroutine(requester.ask("camera.main", "camera", "share_stream", {"camera": "42"},
                                                 timeout_s=20))
    cameras_bus.settle()
    assert len(cameras.heard) == 1
    assert_no_result(asked)
    cameras_bus.clock.advance(19.9)
    assert_no_result(asked)
    cameras_bus.clock.advance(0.1)
    answer = success_result_of(asked)
    assert (answer.outcome, answer.kind, answer.related) == (None, None, ())
    assert requester.pending == 0
    requester.stop()
    assert_no_pending_timers(cameras_bus.clock)


def test_only_the_outcome_of_this_command_from_its_adapter_type_answers_it(cameras_bus):
    """Outcomes of other commands, or caused by it but from another type, are not its answer."""
    cameras = FakeCameras(cameras_bus, answer="silent")
    requester = requester_for(cameras_bus)
    asked = Deferred.fromCoroutine(requester.ask("camera.main", "camera", "share_stream", {"camera": "42"}))
    cameras_bus.settle()
    [command] = cameras.heard
    cameras_bus.publish(cameras.events("camera.command.delivered",
                                       CommandOutcome(command_id="cmd-other", adapter="camera.main", verb="x",
                                                      outcome=CommandOutcomeKind.DELIVERED),
                                       severity=Severity.INFO, subject=Subject(kind="adapter", id="camera.main"),
                                       summary="another command's outcome", causation_id="cmd-other"))
    radio = cameras_bus.events.for_source("radio.main")
    cameras_bus.publish(radio("radio.command.delivered",
                              CommandOutcome(command_id=command.id, adapter="radio.main", verb="x",
                                             outcome=CommandOutcomeKind.DELIVERED),
                              severity=Severity.INFO, subject=Subject(kind="adapter", id="radio.main"),
                              summary="wrong type", causation_id=command.id))
    cameras_bus.settle()
    assert_no_result(asked)
    cameras_bus.publish(outcome_event(cameras.events, "camera", command, CommandOutcomeKind.SENT))
    cameras_bus.settle()
    assert success_result_of(asked).kind is CommandOutcomeKind.SENT
    requester.stop()
    assert_no_pending_timers(cameras_bus.clock)


def test_overlapping_collect_patterns_collect_an_event_once_and_never_the_outcome(cameras_bus):
    """An event matched by two patterns is related once; the outcome is never among the related."""
    FakeCameras(cameras_bus)
    requester = requester_for(cameras_bus, collect=("camera.stream.*", "camera.#"))
    asked = Deferred.fromCoroutine(requester.ask("camera.main", "camera", "share_stream", {"camera": "42"}))
    cameras_bus.settle()
    answer = success_result_of(asked)
    assert [event.topic for event in answer.related] == ["camera.stream.shared"]
    requester.stop()


def test_stopping_cancels_every_waiting_ask_and_leaves_no_timer_or_subscription(cameras_bus):
    """stop() fails the asks still waiting with CancelledError; later asks are refused."""
    FakeCameras(cameras_bus, answer="silent")
    requester = requester_for(cameras_bus)
    before = len(cameras_bus.bus.subscriptions)
    asked = [Deferred.fromCoroutine(requester.ask("camera.main", "camera", "share_stream", {"camera": str(n)}))
             for n in (1, 2)]
    cameras_bus.settle()
    assert requester.pending == 2

    requester.stop()

    for deferred in asked:
        assert failure_result_of(deferred).check(CancelledError)
    assert requester.pending == 0
    assert len(cameras_bus.bus.subscriptions) == before - 2
    assert_no_pending_timers(cameras_bus.clock)
    late = Deferred.fromCoroutine(requester.ask("camera.main", "camera", "share_stream", {"camera": "3"}))
    error = failure_result_of(late).value
    assert isinstance(error, RuntimeError) and "not started" in str(error)


def test_a_caller_that_gives_up_cancels_its_own_ask_and_its_timer(cameras_bus):
    """Cancelling the ask's Deferred forgets it and its timeout."""
    FakeCameras(cameras_bus, answer="silent")
    requester = requester_for(cameras_bus)
    asked = Deferred.fromCoroutine(requester.ask("camera.main", "camera", "share_stream", {"camera": "42"}))
    cameras_bus.settle()
    asked.cancel()
    assert failure_result_of(asked).check(CancelledError)
    assert requester.pending == 0
    requester.stop()
    assert_no_pending_timers(cameras_bus.clock)


def test_a_command_the_journal_refuses_is_raised_and_not_waited_for(cameras_bus):
    """If the command cannot be journaled the ask fails with that error at once."""
    requester = requester_for(cameras_bus)
    cameras_bus.bus.close()
    cameras_bus.settle()
    asked = Deferred.fromCoroutine(requester.ask("camera.main", "camera", "share_stream", {"camera": "42"}))
    assert failure_result_of(asked).check(BusClosed)
    assert requester.pending == 0
    assert_no_pending_timers(cameras_bus.clock)
