"""Commands to the shopwatch adapter: each is carried out on the radio and ends in exactly one outcome event."""

from __future__ import annotations

import attrs
import pytest

from hub.events import CommandOutcome, CommandOutcomeKind, Severity
from hub.testing import assert_no_pending_timers
from plugins.shopwatch.codec import CCDI
from plugins.shopwatch.codec.ccdi import (
    CANCEL_CALL,
    Cancel,
    Progress,
    Ring,
    SendSdm,
    TransactionError,
    frame,
)
from plugins.shopwatch.commands import acknowledgement
from plugins.shopwatch.config import MemberConfig, ShopwatchConfig
from plugins.shopwatch.events import RadioEmergencyEnded
from tests.plugins.shopwatch.adapter_fakes import NAME, Harness

CONFIG = ShopwatchConfig(
    port="/dev/ttyUSB0",
    keepalive_s=0,
    lead_in=5,
    max_queue=2,
    members={"1001": MemberConfig(name="Boots", address="12 High St", cameras=("42",))},
)


@pytest.fixture
def radio(captured_logs, hub_bus):
    harness = Harness(hub_bus, CONFIG).start()
    harness.initialise()
    yield harness
    harness.stop()
    assert_no_pending_timers(harness.clock)


def test_a_broadcast_is_a_group_sdm_and_ends_sent_once_the_radio_accepts_it(radio):
    """broadcast writes an SDM to ******** with the lead-in; the "." makes the outcome sent, linked to the
    command and its incident."""
    command = radio.command("broadcast", text="Suspect north on High St")
    assert radio.new() == [SendSdm("********", "Suspect north on High St", 5)]
    assert radio.outcomes() == []
    radio.accept()
    [event] = radio.events("shopwatch.command.*")
    assert event.topic == "shopwatch.command.sent"
    assert event.payload == CommandOutcome(command_id=command.id, adapter=NAME, verb="broadcast",
                                           outcome=CommandOutcomeKind.SENT,
                                           detail="the radio sent it to every unit (********)")
    assert (event.causation_id, event.incident_id, event.severity) == (command.id, "INC-000042", Severity.INFO)


def test_a_configured_group_address_is_where_broadcasts_go(captured_logs, hub_bus):
    """group_address replaces the dialect's all-units address."""
    harness = Harness(hub_bus, attrs.evolve(CONFIG, group_address="12******")).start()
    harness.initialise()
    harness.command("broadcast", text="Pubs only")
    assert harness.new() == [SendSdm("12******", "Pubs only", 5)]
    harness.stop()


def test_a_message_is_delivered_when_the_radio_confirms_it(radio):
    """message sends an SDM to the unit (padded to 8 characters); PROGRESS 1D 1 makes it delivered."""
    radio.command("message", unit="1001", text="Police on way")
    assert radio.new() == [SendSdm("00001001", "Police on way", 5)]
    radio.accept()
    assert radio.outcomes() == []
    radio.say(Progress(0x1D, "1"))
    assert radio.outcomes() == [("delivered", "unit 1001 received it")]


def test_a_message_the_unit_did_not_receive_fails(radio):
    """PROGRESS 1D 0 makes the outcome failed, saying the unit did not receive it."""
    radio.command("message", unit="1001", text="Police on way")
    radio.accept()
    radio.say(Progress(0x1D, "0"))
    assert radio.outcomes() == [("failed", "the radio reports that unit 1001 did not receive it")]


def test_a_message_with_no_delivery_report_times_out(radio):
    """Accepted but unconfirmed for delivery_timeout_s: timed_out."""
    radio.command("message", unit="1001", text="Police on way")
    radio.accept()
    radio.clock.advance(29.9)
    assert radio.outcomes() == []
    radio.clock.advance(0.1)
    assert radio.outcomes() == [("timed_out", "the radio sent it but gave no delivery report within 30 s")]


def test_messages_wait_for_each_others_confirmation_but_broadcasts_do_not(radio):
    """A second message is sent only once the first is confirmed; a broadcast goes meanwhile."""
    radio.command("message", unit="1001", text="First")
    radio.accept()
    radio.command("message", unit="1002", text="Second")
    radio.command("broadcast", text="All units")
    assert radio.new() == [SendSdm("00001001", "First", 5), SendSdm("********", "All units", 5)]
    radio.accept()
    radio.say(Progress(0x1D, "1"))
    assert radio.new() == [SendSdm("00001002", "Second", 5)]
    radio.accept()
    radio.say(Progress(0x1D, "0"))
    assert [(outcome, detail.split(" ")[-1]) for outcome, detail in radio.outcomes()] == [
        ("sent", "(********)"), ("delivered", "it"), ("failed", "it")]


def test_a_delivery_report_nobody_waits_for_is_logged(radio, captured_logs):
    """A 1D with no message awaiting it changes nothing and is logged."""
    radio.say(Progress(0x1D, "1"))
    assert radio.outcomes() == []
    assert any(entry["event"] == "delivery_report_unmatched" for entry in captured_logs)


@pytest.mark.parametrize(
    ("arguments", "text"),
    [
        ({}, "CCTV has it"),
        ({"camera": "42"}, "CCTV has it, camera 42 on it"),
        ({"camera": "42", "text": "On it, stay safe"}, "On it, stay safe"),
    ],
)
def test_acknowledge_tells_the_unit_cctv_has_it(radio, arguments, text):
    """acknowledge sends "CCTV has it", naming the camera if given, or the operator's own text."""
    radio.command("acknowledge", unit="1001", **arguments)
    assert radio.new() == [SendSdm("00001001", text, 5)]
    radio.accept()
    radio.say(Progress(0x1D, "1"))
    assert radio.outcomes() == [("delivered", "unit 1001 received it")]
    assert acknowledgement(arguments.get("camera"), arguments.get("text")) == text


def test_an_acknowledgement_too_long_for_the_radio_fails_with_the_reason(radio):
    """A camera name that makes the text longer than 32 characters: failed, saying so; nothing is sent."""
    radio.command("acknowledge", unit="1001", camera="NORTH-CAR-PARK-7")
    assert radio.new() == []
    [(outcome, detail)] = radio.outcomes()
    assert outcome == "failed"
    assert detail == (
        "the text 'CCTV has it, camera NORTH-CAR-PARK-7 on it' has 42 characters; this radio sends at most 32")


def test_end_emergency_clears_it_at_the_radio_then_closes_it_on_the_hub(radio):
    """c0 goes to the radio; once accepted, emergency.ended by operator (linked to the command) and sent."""
    radio.say(Ring("0", 0, 1, 0, 0, None, "1001"))
    command = radio.command("end_emergency", unit="1001", requested_by="olive")
    assert radio.new() == [Cancel(CANCEL_CALL)]
    assert radio.events("shopwatch.emergency.ended") == []
    radio.accept()
    [ended] = radio.events("shopwatch.emergency.ended")
    assert ended.payload == RadioEmergencyEnded(member=ended.payload.member, ended_by="operator",
                                                detail="ended by olive; cleared at the base radio")
    assert (ended.causation_id, ended.incident_id) == (command.id, "INC-000042")
    assert radio.outcomes() == [("sent", "the base radio cleared the emergency")]
    assert radio.directory.get("radio_unit", f"{NAME}.1001").state == "normal"


def test_end_emergency_the_radio_refuses_leaves_the_emergency_on(radio):
    """If the radio refuses c0 the outcome fails with its reason and no emergency.ended is published."""
    radio.say(Ring("0", 0, 1, 0, 0, None, "1001"))
    radio.command("end_emergency", unit="1001")
    radio.say(TransactionError(0, 0x06))
    assert radio.outcomes() == [("failed", "the radio refused it: command not accepted")]
    assert radio.events("shopwatch.emergency.ended") == []


def test_the_dot_after_a_garbled_frame_does_not_accept_the_command_in_flight(radio):
    """A ring spoilt on the line still gets its "." trailer: the radio's refusal that follows fails the
    message with the reason, rather than the trailer passing for acceptance and the message timing out."""
    radio.command("message", unit="1001", text="Police on way")
    ring = CCDI.encode(Ring("0", 2, 0, 0, 0, 0x0A, "1001"))
    radio.say(ring[:-3] + b"%02X\r" % ((int(ring[-3:-1], 16) + 1) & 0xFF) + b".")
    radio.say(TransactionError(0, 0x03))
    assert radio.outcomes() == [("failed", "the radio refused it: parameter error")]


def test_the_dot_after_a_malformed_frame_does_not_accept_the_command_in_flight(radio):
    """Same for a frame whose checksum is right but whose fields make no sense."""
    radio.command("broadcast", text="Anyone?")
    radio.say(frame("p", "0") + b".")
    assert radio.outcomes() == []
    radio.accept()
    assert radio.outcomes() == [("sent", "the radio sent it to every unit (********)")]


def test_a_command_the_radio_never_answers_times_out(radio):
    """No "." after every retry: timed_out, saying how often it was sent."""
    radio.command("broadcast", text="Anyone?")
    for _ in range(4):
        radio.clock.advance(2)
    assert radio.outcomes() == [("timed_out", "the radio did not answer (sent 4 times)")]


def test_commands_beyond_the_queue_fail_as_queue_full(radio):
    """With max_queue 2, the fourth broadcast (one in flight, two waiting) fails at once."""
    for index in range(4):
        radio.command("broadcast", text=f"Broadcast {index}")
    assert radio.outcomes() == [("failed", "queue full: 2 commands are waiting for the radio already")]
    for _ in range(3):
        radio.accept()
    assert [outcome for outcome, _ in radio.outcomes()] == ["failed", "sent", "sent", "sent"]


def test_a_unit_that_cannot_be_addressed_fails_with_the_reason(radio):
    """A wildcard or over-long unit id is refused before anything is sent."""
    radio.command("message", unit="12**", text="Hello")
    radio.command("message", unit="123456789", text="Hello")
    assert radio.new() == []
    assert radio.outcomes() == [("failed", "a CCDI unit is 1 to 8 letters or digits, not '12**'"),
                                ("failed", "a CCDI unit is 1 to 8 letters or digits, not '123456789'")]


@pytest.mark.parametrize(
    ("verb", "arguments", "detail"),
    [
        ("dance", {}, "shopwatch has no command 'dance'"),
        ("broadcast", {}, "broadcast needs text (text)"),
        ("broadcast", {"text": "x" * 33}, "text is longer than 32 characters"),
        ("message", {"unit": "1001", "text": "hi", "colour": "red"}, "message takes no argument named colour"),
        ("end_emergency", {"unit": 1001}, "unit must be text"),
    ],
)
def test_a_command_the_specs_do_not_allow_is_refused_with_the_reason(radio, verb, arguments, detail):
    """Unknown verbs and bad arguments (from a rule or partner that skipped the API's checks) are refused."""
    command = radio.raw_command(verb, arguments)
    [event] = radio.events("shopwatch.command.*")
    assert event.payload.outcome is CommandOutcomeKind.REFUSED
    assert (event.payload.detail, event.causation_id) == (detail, command.id)
    assert radio.new() == []


def test_commands_for_another_instance_are_not_this_ones(radio):
    """A command addressed to shopwatch.other is neither carried out nor answered here."""
    radio.command("broadcast", adapter="shopwatch.other", text="Not for us")
    assert radio.new() == [] and radio.outcomes() == []
