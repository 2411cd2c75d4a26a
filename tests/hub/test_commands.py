"""Commands through the bus: checked arguments, addressed to one instance, answered by one linked outcome."""

from __future__ import annotations

import pytest

from hub.api import AdapterContext, CommandArgument, CommandSpec
from hub.commands import CommandRefused, check_arguments, command_event, outcome_event, subscribe_commands
from hub.events import CommandOutcome, CommandOutcomeKind, CommandRequested, Severity

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
