"""The shopwatch adapter against the simulator's BaseRadio, sans-IO: the whole conversation, both ends real."""

from __future__ import annotations

import pytest

from hub.testing import assert_no_pending_timers
from plugins.shopwatch.codec import ccdi
from plugins.shopwatch.config import MemberConfig, ShopwatchConfig, StatusCodeConfig
from plugins.shopwatch.simulator import BaseRadio, Handset
from tests.plugins.shopwatch.adapter_fakes import Harness, wire_to

CCDI_CONFIG = ShopwatchConfig(
    port="/dev/ttyUSB0",
    members={"1001": MemberConfig(name="Boots"), "1002": MemberConfig(name="Greggs")},
    status_codes={"0A": StatusCodeConfig(meaning="Shop theft")},
)
FLEETSYNC_CONFIG = ShopwatchConfig(port="/dev/ttyUSB1", dialect="fleetsync",
                                   members={"100-1001": MemberConfig(name="The Crown")})


@pytest.fixture
def pair(captured_logs, hub_bus):
    radio = BaseRadio("ccdi", [Handset("1001", "ack"), Handset("1002", "fail"), Handset("1003", "silent")])
    harness = Harness(hub_bus, CCDI_CONFIG).start()
    wire_to(harness, radio)
    yield harness, radio
    harness.stop()
    assert_no_pending_timers(harness.clock)


def test_start_up_switches_the_radios_outputs_on_and_identifies_it(pair):
    """After start-up the radio has RING, PROGRESS and SDM push on, and the hub knows its model and serial."""
    harness, radio = pair
    assert (radio.ring_output, radio.progress_output, radio.sdm_push) == (True, True, True)
    [identified] = harness.payloads("shopwatch.radio.identified")
    assert (identified.model, identified.serial) == ("TM8255", "19234567")


def test_handsets_emergencies_statuses_and_texts_arrive_as_events(pair):
    """An emergency, a status and a text from the handsets, then the end of the emergency at the radio."""
    harness, radio = pair
    harness.protocol.dataReceived(radio.emergency("1001"))
    harness.protocol.dataReceived(radio.status("1002", "0A"))
    harness.protocol.dataReceived(radio.text("1001", "Two lads heading to Market St"))
    harness.protocol.dataReceived(radio.end_emergency())
    assert [(event.topic, event.payload.member.name) for event in harness.events("shopwatch.emergency.#")
            + harness.events("shopwatch.report.received")] == [
        ("shopwatch.emergency.raised", "Boots"), ("shopwatch.emergency.ended", "Boots"),
        ("shopwatch.report.received", "Greggs"), ("shopwatch.report.received", "Boots")]
    assert radio.held_sdm is None  # deleted, so the radio can take the next one


def test_broadcasts_are_sent_and_messages_confirmed_per_handset(pair):
    """A broadcast is sent; messages are delivered to 1001, failed to 1002, timed out to the silent 1003."""
    harness, radio = pair
    harness.command("broadcast", text="Suspect north")
    harness.command("message", unit="1001", text="Police on way")
    harness.command("message", unit="1002", text="Police on way")
    harness.command("message", unit="1003", text="Police on way")
    harness.clock.advance(30)
    harness.settle()
    assert [outcome for outcome, _detail in harness.outcomes()] == ["sent", "delivered", "failed", "timed_out"]
    assert [(message.address, message.unit) for message in radio.sent] == [
        ("********", None), ("00001001", "1001"), ("00001002", "1002"), ("00001003", "1003")]


def test_a_restart_in_the_middle_of_a_broadcast_is_survived(pair):
    """The radio restarts instead of accepting the broadcast: the hub sets it up again, the broadcast is sent."""
    harness, radio = pair
    radio.restart_on_next(ccdi.SendSdm)
    harness.command("broadcast", text="Suspect north")
    assert radio.restarts == 1
    assert (radio.ring_output, radio.progress_output, radio.sdm_push) == (True, True, True)
    assert harness.outcomes() == [("sent", "the radio sent it to every unit (********)")]
    assert [payload.reinitialised for payload in harness.payloads("shopwatch.radio.restarted")] == [True]


def test_end_emergency_clears_it_at_the_radio(pair):
    """The operator's end_emergency reaches the radio as c0 and clears its emergency."""
    harness, radio = pair
    harness.protocol.dataReceived(radio.emergency("1001"))
    harness.command("end_emergency", unit="1001")
    assert radio.emergencies == set()
    assert [payload.ended_by for payload in harness.payloads("shopwatch.emergency.ended")] == ["operator"]


def test_fleetsync_end_to_end(captured_logs, hub_bus):
    """A FleetSync radio: an emergency status, a text, a broadcast and a delivered message."""
    radio = BaseRadio("fleetsync", [Handset("100-1001", "ack")])
    harness = Harness(hub_bus, FLEETSYNC_CONFIG).start()
    wire_to(harness, radio)
    harness.protocol.dataReceived(radio.emergency("100-1001"))
    harness.protocol.dataReceived(radio.text("100-1001", "All quiet now, thanks"))
    harness.command("broadcast", text="Last orders")
    harness.command("message", unit="100-1001", text="Thanks")
    assert [payload.member.name for payload in harness.payloads("shopwatch.emergency.raised")] == ["The Crown"]
    assert [payload.text for payload in harness.payloads("shopwatch.report.received")] == ["All quiet now, thanks"]
    assert [outcome for outcome, _detail in harness.outcomes()] == ["sent", "delivered"]
    harness.stop()
    assert_no_pending_timers(harness.clock)
