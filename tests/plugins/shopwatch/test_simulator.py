"""The simulated base radio and its handsets: what the demo and the integration tests stand on."""

from __future__ import annotations

import argparse
import os
import random
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import structlog
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock

from hub.api import SimulatorContext
from hub.config import ConfigError, Expected, validate
from hub.testing import assert_no_pending_timers
from plugins.shopwatch.codec import CCDI, FLEETSYNC
from plugins.shopwatch.codec.ccdi import (
    ALL_UNITS,
    PROGRESS_DATA_RECEIVED,
    PROGRESS_EMERGENCY_ENDED,
    PROGRESS_EMERGENCY_STARTED,
    PROGRESS_RADIO_RESTARTED,
    PROGRESS_SDM_AUTO_ACK,
    QUERY_GPS,
    QUERY_MODEL,
    QUERY_SDM,
    QUERY_SERIAL,
    RING_ALARM_REQUEST,
    RING_SDM,
    RING_STATUS,
    RING_VOICE,
    STARTUP_FUNCTIONS,
    Cancel,
    Dial,
    Function,
    Progress,
    Prompt,
    Query,
    RadioInfo,
    ReceivedSdm,
    Ring,
    SendSdm,
    TransactionError,
    UnreadableFrame,
)
from plugins.shopwatch.codec.fleetsync import DataReceived, DeliveryReport, Identified, SendText
from plugins.shopwatch.simulator import (
    CONSOLE_HELP,
    POWER_UP_BYTES,
    SHOPWATCH_SIMULATOR,
    BaseRadio,
    Handset,
    PtyRadio,
    Scenario,
    SentMessage,
    ShopwatchSimulator,
    ShopwatchSimulatorConfig,
    SimulatedUnit,
    add_arguments,
    config_from_arguments,
    console_command,
)

DOT = Prompt()
HANDSETS = (Handset("1001"), Handset("1002", "fail"), Handset("1003", "silent"))


def from_radio(data: bytes, dialect: Any = CCDI) -> list[Any]:
    """What the hub reads in ``data``."""
    return dialect.decoder("from_radio").feed(data)


def to_radio(*messages: Any, dialect: Any = CCDI) -> bytes:
    return b"".join(dialect.encode(message) for message in messages)


def started_radio(**options: Any) -> BaseRadio:
    """A CCDI radio the hub has sent its start-up functions to."""
    radio = BaseRadio("ccdi", HANDSETS, **options)
    radio.feed(to_radio(*STARTUP_FUNCTIONS))
    return radio


# --- CCDI: the hub's commands -------------------------------------------------------------------------


def test_each_start_up_function_is_accepted_and_switches_its_output_on():
    """RING on, PROGRESS on and SDM push each get a '.', and the radio then has the three outputs on."""
    radio = BaseRadio("ccdi", HANDSETS)
    assert (radio.ring_output, radio.progress_output, radio.sdm_push) == (False, False, False)
    assert radio.feed(to_radio(*STARTUP_FUNCTIONS)) == b"..."
    assert (radio.ring_output, radio.progress_output, radio.sdm_push) == (True, True, True)
    assert radio.commands == list(STARTUP_FUNCTIONS)


def test_a_function_with_qualifier_0_switches_the_output_off():
    """f 0 3 0 turns RING output off again."""
    radio = started_radio()
    radio.feed(to_radio(Function("0", "3", "0")))
    assert not radio.ring_output and radio.progress_output


@pytest.mark.parametrize(
    ("what", "reply"),
    [(QUERY_MODEL, RadioInfo("model", "TM8255")), (QUERY_SERIAL, RadioInfo("serial", "19234567"))],
)
def test_a_query_is_accepted_then_answered_then_closed_with_a_trailer(what, reply):
    """q0 and q4: '.', the reply frame, '.'."""
    assert from_radio(started_radio().feed(to_radio(Query(what)))) == [DOT, reply, DOT]


def test_a_query_the_radio_cannot_answer_is_refused():
    """q6 (GPS, not fitted) is refused with error 0/01 instead of a '.', with the frame's trailer."""
    assert from_radio(started_radio().feed(to_radio(Query(QUERY_GPS)))) == [TransactionError(0, 1), DOT]


def test_a_command_with_a_bad_checksum_is_refused_with_error_02():
    """A frame from the hub that fails its checksum gets e 0/02, and nothing is recorded as sent."""
    radio = started_radio()
    spoilt = bytearray(to_radio(Query(QUERY_MODEL)))
    spoilt[-2] ^= 0x01
    assert from_radio(radio.feed(bytes(spoilt))) == [TransactionError(0, 2), DOT]
    assert radio.commands == list(STARTUP_FUNCTIONS)


def test_dial_and_other_plain_commands_are_accepted():
    """A command with no reply is answered by '.' alone."""
    assert started_radio().feed(to_radio(Dial(0, "12345"))) == b"."


# --- CCDI: sending to handsets ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "unit", "answer"),
    [
        ("00001001", "1001", [DOT, Progress(PROGRESS_SDM_AUTO_ACK, "1"), DOT]),
        ("1001    ", "1001", [DOT, Progress(PROGRESS_SDM_AUTO_ACK, "1"), DOT]),
        ("00001002", "1002", [DOT, Progress(PROGRESS_SDM_AUTO_ACK, "0"), DOT]),
        ("00001003", "1003", [DOT]),
        ("00009999", None, [DOT, Progress(PROGRESS_SDM_AUTO_ACK, "0"), DOT]),
    ],
)
def test_an_sdm_to_one_unit_is_acknowledged_or_failed_by_that_units_policy(address, unit, answer):
    """An acknowledging handset gives PROGRESS 1D 1, a failing or unknown one 1D 0, a silent one nothing."""
    radio = started_radio()
    assert from_radio(radio.feed(to_radio(SendSdm(address, "CCTV has it")))) == answer
    delivered = {"1": True, "0": False}.get(answer[1].para1) if len(answer) > 1 else None
    assert radio.sent == [SentMessage(address, "CCTV has it", unit, delivered)]


def test_a_group_sdm_is_accepted_and_nobody_acknowledges_it():
    """An SDM to ******** gets its '.' and no auto-acknowledge."""
    radio = started_radio()
    assert radio.feed(to_radio(SendSdm(ALL_UNITS, "Police on scene"))) == b"."
    assert radio.sent == [SentMessage(ALL_UNITS, "Police on scene", None, None)]


def test_no_delivery_report_without_progress_output():
    """Before the hub switches PROGRESS output on, a delivery is not reported at all."""
    radio = BaseRadio("ccdi", HANDSETS)
    assert radio.feed(to_radio(SendSdm("00001001", "Hello"))) == b"."


# --- CCDI: handsets ---------------------------------------------------------------------------------------


def test_an_emergency_button_rings_with_emergency_priority_and_the_alarm_flag():
    """emergency(unit) is an emergency-priority ring with TYPE4 9 from that unit, then '.'."""
    radio = started_radio()
    [ring, dot] = from_radio(radio.emergency("1001"))
    assert ring == Ring("0", RING_VOICE, 1, 0, RING_ALARM_REQUEST, None, "1001")
    assert ring.emergency and dot == DOT
    assert radio.emergencies == {"1001"}


def test_nothing_is_heard_before_the_hub_switches_ring_output_on():
    """A fresh (or restarted) radio keeps rings to itself: that is why the start-up functions matter."""
    assert BaseRadio("ccdi", HANDSETS).emergency("1001") == b""


def test_a_status_button_rings_with_its_code():
    """status(unit, '0A') is a status ring carrying 0x0A."""
    assert from_radio(started_radio().status("1002", "0A")) == [Ring("0", RING_STATUS, 0, 0, 0, 0x0A, "1002"), DOT]


def test_a_pushed_text_is_announced_pushed_and_held_until_deleted():
    """text(): SDM ring, PROGRESS 19 and the pushed text; q1 still returns it until c1 deletes it."""
    radio = started_radio()
    assert from_radio(radio.text("1001", "Shoplifter, red coat")) == [
        Ring("0", RING_SDM, 0, 0, 0, None, "1001"), DOT,
        Progress(PROGRESS_DATA_RECEIVED), DOT,
        ReceivedSdm("Shoplifter, red coat"), DOT,
    ]
    assert from_radio(radio.feed(to_radio(Query(QUERY_SDM))))[1] == ReceivedSdm("Shoplifter, red coat")
    assert radio.feed(to_radio(Cancel(1))) == b"."
    assert radio.feed(to_radio(Query(QUERY_SDM))) == b".s002D\r."  # the notes' "no SDM held" vector


def test_a_text_that_is_not_pushed_waits_for_the_query():
    """Without SDM push the text is announced only, and q1 fetches it."""
    radio = BaseRadio("ccdi", HANDSETS)
    radio.feed(to_radio(*STARTUP_FUNCTIONS[:2]))
    announced = from_radio(radio.text("1003", "Banned male back"))
    assert ReceivedSdm("Banned male back") not in announced
    assert from_radio(radio.feed(to_radio(Query(QUERY_SDM)))) == [DOT, ReceivedSdm("Banned male back"), DOT]


def test_a_second_text_is_lost_while_the_first_is_held():
    """Until the hub sends c1, the radio takes no further SDM, as the notes warn."""
    radio = started_radio()
    radio.text("1001", "first")
    assert radio.text("1002", "second") == b""
    assert (radio.held_sdm, radio.lost_sdms) == ("first", 1)


def test_the_emergency_ends_with_progress_04_and_cancel_call_clears_it():
    """end_emergency() says PROGRESS 04; c0 from the hub clears the radio's emergencies too."""
    radio = started_radio()
    radio.emergency("1001")
    assert from_radio(radio.end_emergency()) == [Progress(PROGRESS_EMERGENCY_ENDED), DOT]
    radio.emergency("1002")
    radio.feed(to_radio(Cancel(0)))
    assert radio.emergencies == set()
    assert from_radio(radio.base_emergency()) == [Progress(PROGRESS_EMERGENCY_STARTED), DOT]


# --- CCDI: a slow radio and faults ------------------------------------------------------------------------


def test_a_slow_radio_refuses_a_command_sent_before_its_dot():
    """Slow: no '.' until ready(); a command meanwhile gets e 0/05; ready() then accepts the first."""
    radio = BaseRadio("ccdi", HANDSETS, slow=True)
    assert radio.feed(to_radio(STARTUP_FUNCTIONS[0])) == b""
    assert radio.busy
    assert from_radio(radio.feed(to_radio(STARTUP_FUNCTIONS[1]))) == [TransactionError(0, 5), DOT]
    assert radio.ready() == b"."
    assert (radio.ring_output, radio.progress_output, radio.busy) == (True, False, False)


def test_a_restart_says_1f_after_the_power_up_bytes_and_forgets_everything():
    """restart(): the power-up bytes, PROGRESS 1F and '.'; outputs off and the command in hand lost."""
    radio = BaseRadio("ccdi", HANDSETS, slow=True)
    radio.feed(to_radio(Function("0", "4", "1")))
    radio.ready()
    assert radio.feed(to_radio(SendSdm(ALL_UNITS, "Lost in the restart"))) == b""
    data = radio.restart()
    assert data.startswith(POWER_UP_BYTES)
    assert from_radio(data) == [Progress(PROGRESS_RADIO_RESTARTED), DOT]
    assert (radio.ring_output, radio.progress_output, radio.sdm_push) == (False, False, False)
    assert radio.ready() == b"" and radio.sent == []


def test_a_restart_can_strike_in_the_middle_of_a_chosen_command():
    """restart_on_next(SendSdm): that SDM gets a restart instead of a '.', the next one goes out."""
    radio = started_radio()
    radio.restart_on_next(SendSdm)
    assert radio.feed(to_radio(Query(QUERY_MODEL)))[:1] == b"."
    assert from_radio(radio.feed(to_radio(SendSdm(ALL_UNITS, "Broadcast")))) == [
        Progress(PROGRESS_RADIO_RESTARTED), DOT
    ]
    assert radio.restarts == 1 and radio.sent == []
    assert radio.feed(to_radio(SendSdm(ALL_UNITS, "Broadcast"))) == b"."
    assert radio.sent == [SentMessage(ALL_UNITS, "Broadcast", None, None)]


def test_a_garbled_frame_fails_its_checksum_and_the_next_is_clean():
    """garble_next() spoils exactly one frame's checksum."""
    radio = started_radio()
    radio.garble_next()
    decoder = CCDI.decoder("from_radio")
    assert decoder.feed(radio.status("1001", "01")) == [UnreadableFrame(), DOT]
    assert decoder.stats.bad_checksums == 1
    assert decoder.feed(radio.status("1001", "02")) == [Ring("0", RING_STATUS, 0, 0, 0, 2, "1001"), DOT]


def test_noise_never_looks_like_a_frame_or_a_dot():
    """noise(n) is n bytes the decoder throws away, none read as a message."""
    decoder = CCDI.decoder("from_radio")
    noise = BaseRadio("ccdi", random=random.Random(7)).noise(500)
    assert len(noise) == 500
    assert decoder.feed(noise) == []
    assert decoder.stats.garbage_bytes == 500


# --- FleetSync --------------------------------------------------------------------------------------------

FLEET_HANDSETS = (Handset("100-1001"), Handset("100-1002", "fail"), Handset("100-1003", "silent"))


def test_fleetsync_handsets_identify_with_status_and_send_data():
    """Emergency is status 99, a status button its two digits, a text a D frame."""
    radio = BaseRadio("fleetsync", FLEET_HANDSETS)
    assert from_radio(radio.emergency("100-1001"), FLEETSYNC) == [Identified("100", "1001", 99)]
    assert from_radio(radio.status("100-1002", "12"), FLEETSYNC) == [Identified("100", "1002", 12)]
    assert from_radio(radio.text("100-1003", "Fight outside"), FLEETSYNC) == [
        DataReceived("100", "1003", "Fight outside")
    ]
    assert radio.end_emergency() == b""


@pytest.mark.parametrize(
    ("fleet", "unit", "reports"),
    [
        ("100", "1001", [DeliveryReport(True)]),
        ("100", "1002", [DeliveryReport(False)]),
        ("100", "1003", []),
        ("000", "0000", [DeliveryReport(True)]),
    ],
)
def test_fleetsync_texts_are_reported_delivered_or_failed(fleet, unit, reports):
    """'0' for an acknowledging unit (and for a send to all), '1' for a failing one, nothing for a silent one."""
    radio = BaseRadio("fleetsync", FLEET_HANDSETS)
    answer = radio.feed(to_radio(SendText(fleet, unit, "CCTV has it"), dialect=FLEETSYNC))
    assert from_radio(answer, FLEETSYNC) == reports
    assert [message.address for message in radio.sent] == [f"{fleet}-{unit}"]


def test_a_garbled_fleetsync_frame_is_malformed():
    """FleetSync has no checksum: garble_next() puts a byte in that is not text."""
    radio = BaseRadio("fleetsync", FLEET_HANDSETS)
    radio.garble_next()
    decoder = FLEETSYNC.decoder("from_radio")
    assert decoder.feed(radio.status("100-1001", "10")) == []
    assert decoder.stats.malformed == 1


# --- the scenario -------------------------------------------------------------------------------------------


class RecordingRadio:
    def __init__(self) -> None:
        self.said: list[tuple[str, ...]] = []

    def status(self, unit: str, code: str) -> None:
        self.said.append(("status", unit, code))

    def text(self, unit: str, text: str) -> None:
        self.said.append(("text", unit, text))

    def emergency(self, unit: str) -> None:
        self.said.append(("emergency", unit))

    def end_emergency(self) -> None:
        self.said.append(("end",))


def test_the_scenario_plays_a_step_every_period_in_its_cycle():
    """About one step per period: status, text, status, emergency, its end, text; then round again."""
    clock, radio = Clock(), RecordingRadio()
    scenario = Scenario(clock, radio, units=["1001"], status_codes=["0A"], texts=["Hello"], period_s=30,
                        random=random.Random(1))
    scenario.start()
    clock.advance(30 * 0.75 - 0.01)
    assert radio.said == []
    for _ in range(7):
        clock.advance(30 * 1.25)
    assert [entry[0] for entry in radio.said] == ["status", "text", "status", "emergency", "end", "text", "status"]
    assert radio.said[:2] == [("status", "1001", "0A"), ("text", "1001", "Hello")]
    scenario.stop()
    assert not scenario.running
    assert_no_pending_timers(clock)


# --- on a pty, as a service, from the command line --------------------------------------------------------


@pytest.fixture
def simulator(tmp_path):
    """A simulator service on a fake reactor (its pty is real; the reactor only records the reader)."""
    reactor = MemoryReactorClock()
    config = ShopwatchSimulatorConfig(link=tmp_path / "ttyShopwatch", period_s=20)
    service = ShopwatchSimulator(reactor, config, random=random.Random(3))
    yield reactor, service
    if service.running:
        service.stopService()


def test_the_service_makes_the_link_while_running_and_plays_the_scenario(simulator):
    """startService points the link at a pty and starts the scenario; stopService removes both."""
    reactor, service = simulator
    service.startService()
    link = service.config.link
    assert link.is_symlink() and service.radio.link.present
    assert len(reactor.readers) == 1  # the pty's master, read through the reactor
    assert service.scenario.running
    service.stopService()
    assert not link.is_symlink() and not reactor.readers
    assert_no_pending_timers(reactor)


def test_the_simulator_type_builds_the_service_from_its_context(tmp_path):
    """SHOPWATCH_SIMULATOR's factory turns a SimulatorContext into a ShopwatchSimulator on its reactor."""
    config = ShopwatchSimulatorConfig(link=tmp_path / "tty", dialect="fleetsync", scenario=False)
    context = SimulatorContext(name="radio", reactor=MemoryReactorClock(), log=structlog.get_logger(),
                               config=config, base_dir=tmp_path)
    service = SHOPWATCH_SIMULATOR.factory(context)
    assert isinstance(service, ShopwatchSimulator)
    assert SHOPWATCH_SIMULATOR.config_class is ShopwatchSimulatorConfig
    assert [handset.unit for handset in service.radio.radio.handsets.values()] == ["100-1001", "100-1002", "100-1003"]


def test_the_config_fills_in_each_dialects_units_and_codes(tmp_path):
    """Left out, units and status codes are the dialect's demo ones; given, they are kept."""
    ccdi_config = ShopwatchSimulatorConfig(link=tmp_path / "tty")
    assert [handset.unit for handset in ccdi_config.handsets()] == ["1001", "1002", "1003", "1004"]
    assert ccdi_config.codes() == ("01", "02", "0A")
    fleet = ShopwatchSimulatorConfig(link=tmp_path / "tty", dialect="fleetsync",
                                     units={"200-2001": SimulatedUnit("fail")}, status_codes=("12",))
    assert fleet.handsets() == (Handset("200-2001", "fail"),)
    assert fleet.codes() == ("12",)


@pytest.mark.parametrize(
    "settings",
    [
        {"dialect": "fleetsync", "units": {"1001": SimulatedUnit()}},
        {"units": {"far-too-long-id": SimulatedUnit()}},
        {"status_codes": ("0a",)},
        {"dialect": "fleetsync", "status_codes": ("0A",)},
        {"texts": ("x" * 33,)},
        {"period_s": 0.05},
    ],
)
def test_the_config_refuses_what_the_dialect_cannot_carry(tmp_path, settings):
    """Unit ids, status codes and texts are checked against the dialect; the period is at least 0.1 s."""
    with pytest.raises(Expected):
        ShopwatchSimulatorConfig(link=tmp_path / "tty", **settings)


def test_a_simulators_table_is_read_into_the_config(tmp_path):
    """[simulators.NAME] type "shopwatch" is validated by the hub's reader; the link is made absolute."""
    raw = {"simulators": {"pubwatch_radio": {
        "type": "shopwatch", "link": "run/ttyPubwatch", "dialect": "fleetsync", "period_s": 20,
        "units": {"100-1001": {}, "100-1002": {"delivery": "fail"}},
    }}}
    config = validate(raw, tmp_path / "hub.toml", {}, {}, simulator_types={"shopwatch": SHOPWATCH_SIMULATOR})
    [simulator] = config.simulators
    assert simulator.settings == ShopwatchSimulatorConfig(
        link=tmp_path / "run" / "ttyPubwatch", dialect="fleetsync", period_s=20.0,
        units={"100-1001": SimulatedUnit("ack"), "100-1002": SimulatedUnit("fail")},
    )
    raw["simulators"]["pubwatch_radio"]["units"] = {"1001": {}}
    with pytest.raises(ConfigError, match="FFF-UUUU"):
        validate(raw, tmp_path / "hub.toml", {}, {}, simulator_types={"shopwatch": SHOPWATCH_SIMULATOR})


def test_the_command_line_becomes_a_config(tmp_path):
    """hub shopwatch-sim --link --dialect --unit U:fail --no-scenario gives the matching config."""
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--link", str(tmp_path / "tty"), "--dialect", "fleetsync",
                              "--unit", "100-1001", "--unit", "100-1002:fail", "--no-scenario", "--period", "5"])
    config = config_from_arguments(args)
    assert config == ShopwatchSimulatorConfig(
        link=tmp_path / "tty", dialect="fleetsync", scenario=False, period_s=5.0,
        units={"100-1001": SimulatedUnit("ack"), "100-1002": SimulatedUnit("fail")},
    )
    with pytest.raises(SystemExit):
        parser.parse_args(["--link", "x", "--unit", "1001:maybe"])


def test_typed_commands_drive_the_radio(tmp_path):
    """Each console line does what it says; anything else prints the help."""
    radio = PtyRadio(MemoryReactorClock(), tmp_path / "tty", started_radio())
    radio.open()
    try:
        assert console_command(radio, "emergency 1002") == "ok"
        assert radio.radio.emergencies == {"1002"}
        assert console_command(radio, "text 1001 two lads, market st") == "ok"
        assert radio.radio.held_sdm == "two lads, market st"
        assert console_command(radio, "vanish") == "ok" and not radio.link.present
        assert console_command(radio, "back") == "ok" and radio.link.present
        assert console_command(radio, "back").startswith("cannot:")
        assert console_command(radio, "dance") == CONSOLE_HELP
        assert console_command(radio, "") == ""
    finally:
        radio.close()


def test_when_fires_once_the_radio_has_what_was_asked(tmp_path):
    """when(test) waits until test(radio) holds after the radio hears something, then fires once."""
    radio = PtyRadio(MemoryReactorClock(), tmp_path / "tty", BaseRadio("ccdi", HANDSETS))
    radio.open()
    try:
        fired: list[Any] = []
        radio.when(lambda r: r.ring_output).addCallback(fired.append)
        radio._received(to_radio(STARTUP_FUNCTIONS[1]))
        assert fired == []
        radio._received(to_radio(STARTUP_FUNCTIONS[0]))
        assert fired == [radio.radio]
        already: list[Any] = []
        radio.when(lambda r: True).addCallback(already.append)
        assert already == [radio.radio]
    finally:
        radio.close()


def test_a_slow_pty_radio_accepts_each_command_busy_s_later(tmp_path):
    """On its reactor, a slow radio's '.' comes busy_s after the command, not before."""
    reactor = MemoryReactorClock()
    radio = PtyRadio(reactor, tmp_path / "tty", BaseRadio("ccdi", HANDSETS, slow=True), busy_s=0.2)
    radio.open()
    try:
        radio._received(to_radio(STARTUP_FUNCTIONS[0]))
        reactor.advance(0.19)
        assert not radio.radio.ring_output
        reactor.advance(0.01)
        assert radio.radio.ring_output
        assert_no_pending_timers(reactor)
    finally:
        radio.close()


@pytest.mark.slow
def test_the_command_runs_a_radio_on_the_link_until_interrupted(tmp_path):
    """run() (hub shopwatch-sim) answers on the link it made, and removes the link when interrupted."""
    link = tmp_path / "ttySim"
    script = (
        "import argparse, sys\n"
        "from plugins.shopwatch.simulator import add_arguments, run\n"
        "parser = argparse.ArgumentParser(); add_arguments(parser)\n"
        "sys.exit(run(parser.parse_args(sys.argv[1:])))\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script, "--link", str(link), "--no-scenario"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=Path(__file__).parents[3],
    )
    try:
        started = _read_until(process.stderr.fileno(), b"radio_simulator_started")
        assert str(link).encode() in started
        port = os.open(link, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            os.write(port, CCDI.encode(Query(QUERY_MODEL)))
            assert from_radio(_read_until(port, b"\r.")) == [DOT, RadioInfo("model", "TM8255"), DOT]
        finally:
            os.close(port)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
        assert not os.path.lexists(link)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _read_until(fd: int, wanted: bytes, deadline_s: float = 10.0) -> bytes:
    """Read ``fd`` until ``wanted`` has come, waiting in select() with a deadline rather than sleeping."""
    data = b""
    deadline = time.monotonic() + deadline_s
    while wanted not in data:
        remaining = deadline - time.monotonic()
        readable, _w, _x = select.select([fd], [], [], max(remaining, 0))
        if not readable:
            raise AssertionError(f"{wanted!r} did not come within {deadline_s} s; got {data!r}")
        chunk = os.read(fd, 4096)
        if not chunk:
            raise AssertionError(f"closed before {wanted!r} came; got {data!r}")
        data += chunk
    return data
