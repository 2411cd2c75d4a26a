"""The shopwatch adapter on a Tait base radio (CCDI): start-up, keep-alive, restarts, rings, progress and SDMs."""

from __future__ import annotations

import pytest

from hub.events import Location, Severity, Subject
from hub.testing import assert_no_pending_timers
from plugins.shopwatch.adapter import RadioNotAnswering
from plugins.shopwatch.codec import CCDI
from plugins.shopwatch.codec.ccdi import (
    DELETE_SDM,
    QUERY_MODEL,
    QUERY_SDM,
    QUERY_SERIAL,
    STARTUP_FUNCTIONS,
    Cancel,
    Progress,
    Query,
    RadioInfo,
    ReceivedSdm,
    Ring,
    SendSdm,
    TransactionError,
)
from plugins.shopwatch.config import MemberConfig, ShopwatchConfig, StatusCodeConfig
from plugins.shopwatch.events import (
    RadioEmergencyEnded,
    RadioEmergencyRaised,
    RadioIdentified,
    RadioLineError,
    RadioMember,
    RadioReportReceived,
    RadioRestarted,
)
from tests.plugins.shopwatch.adapter_fakes import NAME, Harness

CONFIG = ShopwatchConfig(
    port="/dev/ttyUSB0",
    keepalive_s=60,
    members={
        "1001": MemberConfig(name="Boots", address="12 High St", cameras=("42", "43"), latitude=51.5,
                             longitude=-0.12),
        "1002": MemberConfig(name="Greggs", address="3 Market St"),
    },
    status_codes={
        "0A": StatusCodeConfig(meaning="Shop theft", severity="high"),
        "1F": StatusCodeConfig(meaning="Violence", severity="critical", emergency=True),
    },
)
BOOTS = RadioMember(unit="1001", known=True, name="Boots", scheme="Shopwatch", address="12 High St",
                    cameras=("42", "43"))
STRANGER = RadioMember(unit="2002", known=False, name=None, scheme="Shopwatch")


def emergency_call(unit: str) -> Ring:
    return Ring("0", 0, 1, 0, 0, None, unit)


def status(unit: str, code: int) -> Ring:
    return Ring("0", 2, 0, 0, 0, code, unit)


def sdm_ring(unit: str) -> Ring:
    return Ring("0", 4, 0, 0, 0, None, unit)


@pytest.fixture
def radio(captured_logs, hub_bus):
    harness = Harness(hub_bus, CONFIG).start()
    yield harness
    harness.stop()
    assert_no_pending_timers(harness.clock)


@pytest.fixture
def ready(radio):
    """Started, with the start-up answered."""
    radio.initialise()
    return radio


# --- start-up ------------------------------------------------------------------------------------------


def test_start_up_turns_outputs_on_then_asks_model_and_serial_one_at_a_time(radio):
    """RING on, PROGRESS on, SDM push, then q0 and q4, each sent after the last was accepted."""
    assert radio.new() == [STARTUP_FUNCTIONS[0]]
    radio.accept()
    radio.accept()
    assert radio.new() == list(STARTUP_FUNCTIONS[1:])
    radio.accept()
    assert radio.new() == [Query(QUERY_MODEL)]
    radio.accept(RadioInfo("model", "TM8255"))
    assert radio.new() == [Query(QUERY_SERIAL)]
    radio.accept(RadioInfo("serial", "19234567"))
    assert radio.new() == []


def test_the_radio_identifies_itself_after_start_up(ready):
    """Model and serial number are published once as shopwatch.radio.identified, severity info."""
    [event] = ready.events("shopwatch.radio.identified")
    assert event.payload == RadioIdentified(model="TM8255", serial="19234567")
    assert event.severity is Severity.INFO
    assert event.subject == Subject(kind="adapter", id=NAME, name="Shopwatch base radio")
    assert event.summary == "Shopwatch base radio: TM8255, serial number 19234567"


def test_a_refused_start_up_function_is_a_line_error_and_start_up_goes_on(radio):
    """Error 0/03 to a function: a radio_error line event names it; the queries are still sent."""
    radio.say(TransactionError(0, 0x03))
    radio.accept()
    radio.accept()
    assert radio.new()[-1] == Query(QUERY_MODEL)
    [error] = radio.payloads("shopwatch.line.error")
    assert error == RadioLineError(kind="radio_error", count=1,
                                   detail="the radio refused function 0/3/1: parameter error")


# --- keep-alive ---------------------------------------------------------------------------------------


def test_an_idle_radio_is_asked_its_model_every_keepalive_period(ready):
    """After keepalive_s of quiet a q0 goes out; answered, the next comes keepalive_s later."""
    ready.clock.advance(59)
    assert ready.new() == []
    ready.clock.advance(1)
    assert ready.new() == [Query(QUERY_MODEL)]
    ready.accept(RadioInfo("model", "TM8255"))
    ready.clock.advance(60)
    assert ready.new() == [Query(QUERY_MODEL)]


def test_no_keepalive_while_a_command_is_in_flight(ready):
    """A busy line needs no keep-alive: the tick finds the queue busy and sends nothing extra."""
    ready.clock.advance(59.5)
    ready.command("broadcast", text="Suspect north")
    ready.new()
    ready.clock.advance(0.5)
    assert ready.new() == []


def test_keepalive_zero_turns_it_off(captured_logs, hub_bus):
    """With keepalive_s = 0 nothing is sent however long the line is quiet."""
    import attrs

    harness = Harness(hub_bus, attrs.evolve(CONFIG, keepalive_s=0)).start()
    harness.initialise()
    harness.clock.advance(3600)
    assert harness.new() == []
    harness.stop()


def test_a_radio_that_stops_answering_is_reported_and_the_port_reopened(ready):
    """Three keep-alives unanswered in a row: a high line error not_answering, then context.fail."""
    for _ in range(3):
        ready.clock.advance(60)  # the tick
        for _attempt in range(4):
            ready.clock.advance(2)
    [error] = ready.supervisor.failures
    assert isinstance(error, RadioNotAnswering)
    assert str(error) == "the radio on /dev/ttyUSB0 did not answer 3 requests in a row"
    [event] = ready.events("shopwatch.line.error")
    assert event.payload.kind == "not_answering" and event.payload.count == 3
    assert event.severity is Severity.HIGH


def test_an_answer_between_silences_starts_the_count_again(ready):
    """Two unanswered, one answered, two unanswered: no failure."""
    def silent_keepalive():
        ready.clock.advance(60)
        for _attempt in range(4):
            ready.clock.advance(2)

    silent_keepalive()
    silent_keepalive()
    ready.clock.advance(60)
    ready.accept(RadioInfo("model", "TM8255"))
    silent_keepalive()
    silent_keepalive()
    assert ready.supervisor.failures == []


# --- restarts -----------------------------------------------------------------------------------------


def test_a_restarted_radio_is_set_up_again_and_says_so(ready):
    """PROGRESS 1F: the start-up functions go again, then a medium radio.restarted with reinitialised true,
    and the radio is identified again."""
    ready.say(b"\x9c\xfe\r", Progress(0x1F))
    for expected in STARTUP_FUNCTIONS:
        assert ready.new() == [expected]
        ready.accept()
    ready.accept(RadioInfo("model", "TM8255"))
    ready.accept(RadioInfo("serial", "19234567"))
    [event] = ready.events("shopwatch.radio.restarted")
    assert event.payload == RadioRestarted(reinitialised=True)
    assert event.severity is Severity.MEDIUM
    assert event.summary == "Shopwatch base radio restarted; its settings were sent again"
    assert len(ready.events("shopwatch.radio.identified")) == 2


def test_a_restart_that_cannot_be_set_up_again_says_so(ready):
    """A start-up function refused after a restart: reinitialised false."""
    ready.say(Progress(0x1F))
    ready.say(TransactionError(0, 0x06))
    ready.accept()
    ready.accept()
    assert ready.payloads("shopwatch.radio.restarted") == [RadioRestarted(reinitialised=False)]


def test_a_command_interrupted_by_a_restart_is_sent_again_after_the_set_up(ready):
    """A broadcast in flight when the radio restarts goes again after the functions, and ends sent."""
    ready.command("broadcast", text="Suspect north")
    assert ready.new() == [SendSdm("********", "Suspect north")]
    ready.say(Progress(0x1F))
    sent = []
    for _ in range(3):
        sent += ready.new()
        ready.accept()
    assert sent == list(STARTUP_FUNCTIONS)
    assert ready.new() == [Query(QUERY_MODEL)]
    ready.accept(RadioInfo("model", "TM8255"))
    ready.accept(RadioInfo("serial", "19234567"))
    assert ready.new() == [Query(QUERY_SERIAL), SendSdm("********", "Suspect north")]
    ready.accept()
    assert [outcome for outcome, _detail in ready.outcomes()] == ["sent"]


# --- rings: emergencies and status codes -----------------------------------------------------------------


def test_an_emergency_call_is_a_critical_event_naming_the_shop_its_address_and_camera(ready):
    """A ring with emergency priority: shopwatch.emergency.raised, critical, placed at the member."""
    ready.say(emergency_call("1001"))
    [event] = ready.events("shopwatch.emergency.raised")
    assert event.payload == RadioEmergencyRaised(member=BOOTS, trigger="emergency_call")
    assert event.severity is Severity.CRITICAL
    assert event.subject == Subject(kind="radio_unit", id=f"{NAME}.1001", name="Boots")
    assert event.location == Location(name="12 High St", camera="42", latitude=51.5, longitude=-0.12)
    assert event.summary == "EMERGENCY: Boots, 12 High St (unit 1001, Shopwatch)"


def test_an_alarm_request_is_an_emergency_too(ready):
    """TYPE4 9 without emergency priority is raised with trigger alarm_request."""
    ready.say(Ring("0", 0, 0, 0, 9, None, "1002"))
    [payload] = ready.payloads("shopwatch.emergency.raised")
    assert (payload.member.name, payload.trigger) == ("Greggs", "alarm_request")


def test_a_repeated_emergency_is_logged_not_published_again(ready, captured_logs):
    """The radio repeats the call; while the emergency is on, the room hears of it once."""
    ready.say(emergency_call("1001"), emergency_call("1001"))
    ready.clock.advance(30)
    ready.say(emergency_call("1001"))
    assert len(ready.events("shopwatch.emergency.raised")) == 1
    assert len([entry for entry in captured_logs if entry["event"] == "emergency_repeated"]) == 2


def test_an_unknown_unit_in_an_emergency_is_still_raised(ready):
    """Unit 2002 is not a member: the emergency is raised all the same, marked unknown."""
    ready.say(emergency_call("2002"))
    [event] = ready.events("shopwatch.emergency.raised")
    assert event.payload.member == STRANGER
    assert event.subject.name == "Unknown unit 2002" and event.location is None
    assert event.summary == "EMERGENCY: Unknown unit 2002 (Shopwatch)"


def test_a_status_code_is_a_report_with_its_configured_meaning_and_severity(ready):
    """Status 0A from Boots: shopwatch.report.received, Shop theft, high."""
    ready.say(status("1001", 0x0A))
    [event] = ready.events("shopwatch.report.received")
    assert event.payload == RadioReportReceived(member=BOOTS, status_code="0A", status_meaning="Shop theft")
    assert event.severity is Severity.HIGH
    assert event.summary == "Shop theft: Boots, 12 High St (unit 1001, Shopwatch)"


def test_an_unconfigured_status_code_from_an_unknown_unit_is_still_reported_at_medium(ready):
    """Code 33 from unit 2002: reported with no meaning, medium, unit unknown."""
    ready.say(status("2002", 0x33))
    [event] = ready.events("shopwatch.report.received")
    assert event.payload == RadioReportReceived(member=STRANGER, status_code="33", status_meaning=None)
    assert event.severity is Severity.MEDIUM
    assert event.summary == "Status 33: Unknown unit 2002 (Shopwatch)"


def test_a_status_code_configured_as_an_emergency_raises_one(ready):
    """Code 1F is configured emergency = true: emergency.raised with trigger emergency_status and the code."""
    ready.say(status("1002", 0x1F))
    [event] = ready.events("shopwatch.emergency.raised")
    assert (event.payload.trigger, event.payload.status) == ("emergency_status", 0x1F)
    assert event.summary == "EMERGENCY: Greggs, 3 Market St (unit 1002, Shopwatch): Violence"
    assert ready.events("shopwatch.report.received") == []


# --- progress: emergency mode ----------------------------------------------------------------------------


def test_emergency_mode_after_an_ordinary_ring_is_not_put_on_its_caller(ready):
    """PROGRESS 03 ten seconds after Greggs' (non-emergency) status ring is the base radio's emergency: a
    status button never starts emergency mode, so Greggs is not named for an emergency that may be another's."""
    ready.say(status("1002", 0x0A))
    ready.clock.advance(10)
    ready.say(Progress(0x03))
    [payload] = ready.payloads("shopwatch.emergency.raised")
    assert (payload.member.unit, payload.trigger) == ("base", "base_emergency_mode")


def test_emergency_mode_after_an_emergency_status_is_that_emergency(ready):
    """A status configured as an emergency, then PROGRESS 03 within ten seconds: one emergency, the caller's."""
    ready.say(status("1002", 0x1F))
    ready.clock.advance(10)
    ready.say(Progress(0x03))
    assert [payload.member.unit for payload in ready.payloads("shopwatch.emergency.raised")] == ["1002"]


def test_emergency_mode_with_no_recent_ring_is_the_base_radios(ready):
    """PROGRESS 03 more than ten seconds after any ring is put on unit 'base'."""
    ready.say(status("1002", 0x0A))
    ready.clock.advance(10.5)
    ready.say(Progress(0x03))
    [event] = ready.events("shopwatch.emergency.raised")
    assert (event.payload.member.unit, event.subject.name) == ("base", "Base radio")
    assert event.summary == "EMERGENCY: Base radio (Shopwatch)"


def test_an_emergency_call_and_the_emergency_mode_it_causes_are_one_emergency(ready):
    """The ring raises it; the PROGRESS 03 that follows is the same emergency, not a second."""
    ready.say(emergency_call("1001"), Progress(0x03))
    assert [payload.member.unit for payload in ready.payloads("shopwatch.emergency.raised")] == ["1001"]


def test_the_end_of_emergency_mode_ends_every_emergency_on(ready):
    """PROGRESS 04 publishes emergency.ended, by the radio, info, for each unit in emergency."""
    ready.say(emergency_call("1001"), emergency_call("2002"))
    ready.say(Progress(0x04))
    events = ready.events("shopwatch.emergency.ended")
    assert [event.payload for event in events] == [
        RadioEmergencyEnded(member=BOOTS, ended_by="radio", detail="the base radio left emergency mode"),
        RadioEmergencyEnded(member=STRANGER, ended_by="radio", detail="the base radio left emergency mode"),
    ]
    assert {event.severity for event in events} == {Severity.INFO}
    assert events[0].summary == (
        "Emergency over: Boots, 12 High St (unit 1001, Shopwatch); the base radio left emergency mode")
    ready.say(emergency_call("1001"))  # a new emergency after the end is raised again
    assert len(ready.events("shopwatch.emergency.raised")) == 3


# --- received short data messages ------------------------------------------------------------------------


def test_a_pushed_sdm_is_reported_from_the_caller_of_its_ring_and_deleted(ready):
    """Ring type 4 from Boots, PROGRESS 19, the pushed text: a report with the text, then c1."""
    ready.say(sdm_ring("1001"), Progress(0x19), ReceivedSdm("Two lads heading to Market St"))
    [event] = ready.events("shopwatch.report.received")
    assert event.payload == RadioReportReceived(member=BOOTS, text="Two lads heading to Market St")
    assert event.severity is Severity.MEDIUM
    assert event.summary == "Message from Boots, 12 High St (unit 1001, Shopwatch): Two lads heading to Market St"
    assert ready.new() == [Cancel(DELETE_SDM)]
    ready.accept()
    ready.clock.advance(5)
    assert ready.new() == []  # no query: it was pushed


def test_an_sdm_not_pushed_within_a_second_is_asked_for(ready):
    """Announced but not pushed: after 1 s q1 goes out; its reply is reported and deleted."""
    ready.say(sdm_ring("1002"), Progress(0x19))
    ready.clock.advance(0.9)
    assert ready.new() == []
    ready.clock.advance(0.1)
    assert ready.new() == [Query(QUERY_SDM)]
    ready.accept(ReceivedSdm("Banned male back in store"))
    assert ready.new() == [Cancel(DELETE_SDM)]
    [payload] = ready.payloads("shopwatch.report.received")
    assert (payload.member.unit, payload.text) == ("1002", "Banned male back in store")


def test_a_query_that_finds_no_sdm_reports_nothing_and_deletes_nothing(ready):
    """q1 answered with an empty SDM (s002D): no report, no c1."""
    ready.say(Progress(0x19))
    ready.clock.advance(1)
    ready.accept(ReceivedSdm(""))
    assert ready.new() == [Query(QUERY_SDM)]
    assert ready.events("shopwatch.report.received") == []


def test_an_sdm_with_no_ring_before_it_is_from_an_unidentified_caller(ready):
    """Without an SDM ring the sender is unknown: unit 'unidentified'."""
    ready.say(ReceivedSdm("Help at the bus station"))
    [event] = ready.events("shopwatch.report.received")
    assert (event.payload.member.unit, event.subject.name) == ("unidentified", "Unidentified caller")


def test_the_held_sdm_read_twice_before_its_deletion_is_reported_once(ready):
    """The radio holds one SDM until c1 is accepted; another copy before then is the same message."""
    ready.say(sdm_ring("1001"), ReceivedSdm("Two lads"), ReceivedSdm("Two lads"))
    ready.accept()  # c1 accepted
    ready.say(sdm_ring("1002"), ReceivedSdm("Two lads"))
    assert [payload.member.unit for payload in ready.payloads("shopwatch.report.received")] == ["1001", "1002"]


# --- the line's health -----------------------------------------------------------------------------------


def checksum_broken(message) -> bytes:
    data = CCDI.encode(message)
    return data[:-3] + b"%02X\r" % ((int(data[-3:-1], 16) + 1) & 0xFF) + b"."


def test_repeated_bad_checksums_raise_one_line_error_per_window(ready):
    """Five bad frames within 60 s: one medium checksum line error with count 5; more in the window: none."""
    for _ in range(4):
        ready.say(checksum_broken(status("1001", 0x0A)))
    assert ready.events("shopwatch.line.error") == []
    ready.say(checksum_broken(status("1001", 0x0A)))
    for _ in range(3):
        ready.say(checksum_broken(status("1001", 0x0A)))
    checksum = [event for event in ready.events("shopwatch.line.error") if event.payload.kind == "checksum"]
    [event] = checksum
    assert event.payload == RadioLineError(kind="checksum", count=5,
                                           detail="5 frames with bad checksums within 60 s")
    assert event.severity is Severity.MEDIUM
    assert event.summary == "Shopwatch radio line: 5 frames with bad checksums within 60 s"
    assert ready.events("shopwatch.report.received") == []
    ready.clock.advance(60)
    for _ in range(5):
        ready.say(checksum_broken(status("1001", 0x0A)))
    assert len([event for event in ready.events("shopwatch.line.error") if event.payload.kind == "checksum"]) == 2


def test_a_few_noise_bytes_at_power_up_are_no_alarm_but_a_noisy_line_is(ready):
    """Three power-up bytes are logged only; 80 bytes of noise in a window raise a noise line error, and
    the frames among the noise are still read."""
    ready.say(b"\x9c\xfe\r")
    assert ready.events("shopwatch.line.error") == []
    ready.say(bytes(range(0x80, 0xC0)), status("1001", 0x0A), bytes(range(0xC0, 0xD0)))
    [event] = ready.events("shopwatch.line.error")
    assert (event.payload.kind, event.payload.count) == ("noise", 83)
    assert len(ready.events("shopwatch.report.received")) == 1


def test_every_dropped_byte_is_logged_at_debug(ready, captured_logs):
    """Each read with drops logs line_bytes_dropped with the counts."""
    ready.say(b"\x9c\xfe\r")
    [entry] = [entry for entry in captured_logs if entry["event"] == "line_bytes_dropped"]
    assert (entry["log_level"], entry["noise_bytes"]) == ("debug", 3)


def test_malformed_frames_are_their_own_kind(ready):
    """Frames with good checksums and nonsense fields count as malformed."""
    from plugins.shopwatch.codec.ccdi import frame

    for _ in range(5):
        ready.say(frame("r", "0") + b".")
    [event] = ready.events("shopwatch.line.error")
    assert (event.payload.kind, event.payload.count) == ("malformed", 5)


def test_a_fatal_radio_error_is_a_high_line_error(ready):
    """ETYPE 1 from the radio: a fatal line error, severity high."""
    ready.say(TransactionError(1, 0x10))
    [event] = ready.events("shopwatch.line.error")
    assert (event.payload.kind, event.severity) == ("fatal", Severity.HIGH)
    assert event.payload.detail == "the radio reported a fatal radio error 10"


def test_an_error_nobody_asked_for_is_a_radio_error(ready):
    """A transaction error with nothing in flight is reported as radio_error."""
    ready.say(TransactionError(0, 0x01))
    [payload] = ready.payloads("shopwatch.line.error")
    assert (payload.kind, payload.detail) == ("radio_error", "the radio reported unsupported command unasked")
