"""The shopwatch adapter on a Kenwood radio (FleetSync): identities, status codes, texts and deliveries."""

from __future__ import annotations

import pytest

from hub.events import Severity
from hub.testing import assert_no_pending_timers
from plugins.shopwatch.codec.fleetsync import DataReceived, DeliveryReport, Identified, SendText
from plugins.shopwatch.config import MemberConfig, ShopwatchConfig, StatusCodeConfig
from plugins.shopwatch.events import RadioEmergencyRaised, RadioMember, RadioReportReceived
from tests.plugins.shopwatch.adapter_fakes import NAME, Harness

CONFIG = ShopwatchConfig(
    port="/dev/ttyUSB1",
    dialect="fleetsync",
    scheme="Pubwatch",
    members={"100-1001": MemberConfig(name="The Crown", address="1 Church St", cameras=("7",))},
    status_codes={"12": StatusCodeConfig(meaning="Fight", severity="high")},
)
CROWN = RadioMember(unit="100-1001", known=True, name="The Crown", scheme="Pubwatch", address="1 Church St",
                    cameras=("7",))


@pytest.fixture
def radio(captured_logs, hub_bus):
    harness = Harness(hub_bus, CONFIG).start()
    yield harness
    harness.stop()
    assert_no_pending_timers(harness.clock)


def test_nothing_is_sent_at_start_and_nothing_kept_alive(radio):
    """FleetSync has no start-up settings and nothing to ask: the line stays quiet however long."""
    radio.clock.advance(3600)
    assert radio.sent() == []


def test_an_emergency_status_is_a_critical_emergency(radio):
    """Status 99 (Kenwood's emergency range) from The Crown raises an emergency with the status."""
    radio.say(Identified("100", "1001", 99))
    [event] = radio.events("shopwatch.emergency.raised")
    assert event.payload == RadioEmergencyRaised(member=CROWN, trigger="emergency_status", status=99)
    assert event.severity is Severity.CRITICAL
    assert event.summary == (
        "EMERGENCY: The Crown, 1 Church St (unit 100-1001, Pubwatch): status 99 (emergency or man-down)")


def test_an_emergency_pressed_again_long_after_the_last_is_raised_again(radio):
    """FleetSync never says an emergency ended: presses every minute are one emergency, but a press after
    an hour of quiet is a new one, raised, not swallowed as a repeat of the last."""
    radio.say(Identified("100", "1001", 99))
    for _ in range(20):
        radio.clock.advance(60)
        radio.say(Identified("100", "1001", 99))
    assert len(radio.events("shopwatch.emergency.raised")) == 1
    radio.clock.advance(3600)
    radio.say(Identified("100", "1001", 99))
    assert len(radio.events("shopwatch.emergency.raised")) == 2


def test_another_status_is_a_report_with_its_meaning(radio):
    """Status 12 is Fight, high; 07 is unconfigured, medium."""
    radio.say(Identified("100", "1001", 12), Identified("200", "2002", 7))
    first, second = radio.events("shopwatch.report.received")
    assert first.payload == RadioReportReceived(member=CROWN, status_code="12", status_meaning="Fight")
    assert first.severity is Severity.HIGH
    assert (second.payload.member.known, second.payload.status_code, second.severity) == (False, "07", Severity.MEDIUM)


def test_an_identity_alone_is_heard_not_published(radio):
    """An I frame without a status adds an unknown unit to the directory and publishes nothing."""
    radio.say(Identified("300", "3003"))
    assert radio.events() == []
    assert radio.directory.get("radio_unit", f"{NAME}.300-3003").name == "Unknown unit 300-3003"


def test_a_text_is_a_report_from_its_unit(radio):
    """A D frame is a report carrying the text."""
    radio.say(DataReceived("100", "1001", "Drunk male refusing to leave"))
    [payload] = radio.payloads("shopwatch.report.received")
    assert payload == RadioReportReceived(member=CROWN, text="Drunk male refusing to leave")


def test_a_broadcast_goes_to_all_units_and_is_sent_when_the_radio_reports_it_went_out(radio):
    """broadcast writes F 000 0000 text; the radio's 0 makes it sent, its 1 failed."""
    radio.command("broadcast", text="Last orders, be alert")
    assert radio.sent() == [SendText("000", "0000", "Last orders, be alert")]
    radio.say(DeliveryReport(True))
    radio.command("broadcast", text="Doors shut")
    radio.say(DeliveryReport(False))
    assert radio.outcomes() == [("sent", "the radio reports it went out to every unit (000-0000)"),
                                ("failed", "the radio reports it could not send it")]


def test_a_broadcast_without_a_report_is_sent_after_command_timeout_s(radio):
    """A radio that gives no report for group messages: sent after the grace of command_timeout_s."""
    radio.command("broadcast", text="Last orders, be alert")
    radio.clock.advance(1.9)
    assert radio.outcomes() == []
    radio.clock.advance(0.1)
    assert radio.outcomes() == [
        ("sent", "the radio sent it to every unit (000-0000); it gives no report for group messages")]


def test_a_broadcast_takes_its_turn_so_each_report_is_matched_to_its_message(radio):
    """A broadcast after a message waits for the message's report, so that report is not the broadcast's."""
    radio.command("message", unit="100-1001", text="Police on way")
    radio.command("broadcast", text="All units")
    assert radio.sent() == [SendText("100", "1001", "Police on way")]
    radio.say(DeliveryReport(False))
    assert radio.sent()[-1] == SendText("000", "0000", "All units")
    radio.say(DeliveryReport(True))
    assert [outcome for outcome, _detail in radio.outcomes()] == ["failed", "sent"]


def test_a_message_is_confirmed_or_failed_by_the_delivery_report(radio):
    """0 after a message makes it delivered; 1 makes the next failed."""
    radio.command("message", unit="100-1001", text="Police on way")
    radio.command("message", unit="100-1002", text="Stay inside")
    assert radio.sent() == [SendText("100", "1001", "Police on way")]
    radio.say(DeliveryReport(True))
    assert radio.sent()[-1] == SendText("100", "1002", "Stay inside")
    radio.say(DeliveryReport(False))
    assert radio.outcomes() == [("delivered", "unit 100-1001 received it"),
                                ("failed", "the radio reports that unit 100-1002 did not receive it")]


def test_a_unit_not_written_fff_uuuu_fails_with_the_reason(radio):
    """message to 1001 fails: FleetSync units are FFF-UUUU."""
    radio.command("message", unit="1001", text="Hello")
    [(outcome, detail)] = radio.outcomes()
    assert outcome == "failed" and "FFF-UUUU" in detail
    assert radio.sent() == []


def test_command_texts_keep_to_the_32_characters_both_dialects_carry(radio):
    """The commands' own limit is 32 characters, FleetSync's 48 notwithstanding: a 33-character text is refused."""
    radio.raw_command("message", {"unit": "100-1001", "text": "x" * 33})
    [(outcome, detail)] = radio.outcomes()
    assert outcome == "refused" and "longer than 32" in detail


def test_end_emergency_closes_it_at_the_hub_and_says_the_radio_cannot(radio):
    """There is no FleetSync clear: emergency.ended by operator is published, the outcome says why nothing went."""
    radio.say(Identified("100", "1001", 99))
    radio.command("end_emergency", unit="100-1001", requested_by="olive")
    [ended] = radio.payloads("shopwatch.emergency.ended")
    assert (ended.ended_by, ended.detail) == ("operator", "ended by olive at the hub")
    assert radio.outcomes() == [("sent", "closed at the hub; this radio has no command to clear an emergency")]
    assert radio.sent() == []


def test_line_noise_on_a_fleetsync_line_is_counted_too(radio):
    """Bytes outside STX ... ETX are noise; 80 of them raise a line error; the frame among them is read."""
    radio.say(b"\xff" * 40, Identified("100", "1001", 12), b"\xff" * 40)
    [error] = radio.payloads("shopwatch.line.error")
    assert (error.kind, error.count) == ("noise", 80)
    assert len(radio.events("shopwatch.report.received")) == 1
