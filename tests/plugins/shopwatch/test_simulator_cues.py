"""The radio simulator's cues: what a demo's script can have its handsets do, heard by the hub on the pty."""

from __future__ import annotations

import os
import select
import time
from typing import Any

import pytest
from twisted.internet.testing import MemoryReactorClock

from hub.api import CueRefused
from hub.config import ScenarioCue
from hub.scenario import check_cue
from plugins.shopwatch.codec import CCDI, FLEETSYNC
from plugins.shopwatch.codec.ccdi import (
    PROGRESS_EMERGENCY_ENDED,
    RING_ALARM_REQUEST,
    RING_STATUS,
    STARTUP_FUNCTIONS,
    Progress,
    Prompt,
    ReceivedSdm,
    Ring,
)
from plugins.shopwatch.codec.fleetsync import DataReceived, Identified
from plugins.shopwatch.simulator import (
    CUES,
    ShopwatchSimulator,
    ShopwatchSimulatorConfig,
    SimulatedUnit,
)


class HubPort:
    """The hub's end of the simulator's pty, opened by its link as the adapter opens its port."""

    def __init__(self, path: Any) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)

    def read(self, dialect: Any, wanted: int) -> list[Any]:
        """The next ``wanted`` messages the radio wrote, decoded (CCDI's '.' prompts left out)."""
        decoder = dialect.decoder("from_radio")
        found: list[Any] = []
        deadline = time.monotonic() + 10
        while len(found) < wanted:
            readable, _w, _x = select.select([self.fd], [], [], max(deadline - time.monotonic(), 0))
            assert readable, f"only {found!r} came"
            found += [m for m in decoder.feed(os.read(self.fd, 4096)) if not isinstance(m, Prompt)]
        return found

    def close(self) -> None:
        os.close(self.fd)


@pytest.fixture
def ccdi(tmp_path):
    """A running CCDI radio whose hub has switched its outputs on, and the hub's end of its line."""
    service = ShopwatchSimulator(MemoryReactorClock(), ShopwatchSimulatorConfig(
        link=tmp_path / "tty", scenario=False, units={"1001": SimulatedUnit(), "1002": SimulatedUnit()}))
    service.startService()
    for function in STARTUP_FUNCTIONS:
        service.radio._received(CCDI.encode(function))
    port = HubPort(tmp_path / "tty")
    yield service, port
    port.close()
    service.stopService()


@pytest.fixture
def fleetsync(tmp_path):
    service = ShopwatchSimulator(MemoryReactorClock(), ShopwatchSimulatorConfig(
        link=tmp_path / "tty", dialect="fleetsync", scenario=False))
    service.startService()
    port = HubPort(tmp_path / "tty")
    yield service, port
    port.close()
    service.stopService()


def test_the_radio_offers_a_status_an_emergency_its_end_and_a_text():
    """The simulator's cues, with the arguments each needs."""
    assert [(spec.name, spec.arguments) for spec in ShopwatchSimulator.cues] == [
        ("status", ("unit", "code")), ("emergency", ("unit",)), ("end_emergency", ()), ("text", ("unit", "text"))]
    assert ShopwatchSimulator.cues is CUES


def test_a_status_cue_rings_with_the_members_code(ccdi):
    """status: the member's handset rings the base with its status code, as a button press does."""
    service, port = ccdi
    service.cue("status", {"unit": "1001", "code": "0a"})
    assert port.read(CCDI, 1) == [Ring("0", RING_STATUS, 0, 0, 0, 0x0A, "1001")]


def test_an_emergency_cue_and_its_end(ccdi):
    """emergency: an emergency call with the alarm flag; end_emergency: the base says it is over (PROGRESS 04)."""
    service, port = ccdi
    service.cue("emergency", {"unit": 1002})
    [ring] = port.read(CCDI, 1)
    assert (ring.caller, ring.emergency, ring.alarm) == ("1002", True, RING_ALARM_REQUEST)
    assert service.radio.radio.emergencies == {"1002"}
    service.cue("end_emergency", {})
    assert port.read(CCDI, 1) == [Progress(PROGRESS_EMERGENCY_ENDED, "")]
    assert service.radio.radio.emergencies == set()


def test_a_text_cue_is_a_members_short_data_message(ccdi):
    """text: the member's text reaches the hub as an SDM, announced and pushed."""
    service, port = ccdi
    service.cue("text", {"unit": "1001", "text": "Shoplifter, red coat"})
    messages = port.read(CCDI, 3)
    assert messages[-1] == ReceivedSdm("Shoplifter, red coat")


def test_fleetsync_cues_speak_fleetsync(fleetsync):
    """On a FleetSync radio a status is an identification with its status, an emergency status 99, a text data."""
    service, port = fleetsync
    service.cue("status", {"unit": "100-1001", "code": "10"})
    service.cue("emergency", {"unit": "100-1002"})
    service.cue("text", {"unit": "100-1003", "text": "Fight outside"})
    assert port.read(FLEETSYNC, 3) == [Identified("100", "1001", status=10), Identified("100", "1002", status=99),
                                       DataReceived("100", "1003", "Fight outside")]


@pytest.mark.parametrize(("name", "arguments", "reason"), [
    ("status", {"unit": "1099", "code": "01"}, "unit '1099' is not one of the radio's handsets (1001, 1002)"),
    ("emergency", {"unit": None}, "unit None is not one of the radio's handsets (1001, 1002)"),
    ("status", {"unit": "1001", "code": "FF"},
     ("status code 'FF' is not one this radio can send (expected CCDI status codes of two upper-case hex digits, "
     'e.g. "0A")')),
    ("text", {"unit": "1001", "text": "x" * 33}, f"text {'x' * 33!r} is not 1 to 32 printable ASCII characters"),
    ("text", {"unit": "1001", "text": "café"}, "text 'café' is not 1 to 32 printable ASCII characters"),
    ("dance", {}, "no cue 'dance'; the radio's cues: status, emergency, end_emergency, text"),
])
def test_a_cue_it_cannot_play_is_refused_saying_why(ccdi, name, arguments, reason):
    """Arguments the radio cannot use are refused with a reason, and nothing reaches the hub."""
    service, _port = ccdi
    with pytest.raises(CueRefused) as refused:
        service.cue(name, arguments)
    assert str(refused.value) == reason
    assert service.radio.radio.emergencies == set() and service.radio.radio.held_sdm is None


def test_a_fleetsync_radio_refuses_to_end_an_emergency(fleetsync):
    """FleetSync has no end-of-emergency message: the cue says the operator ends it instead."""
    service, _port = fleetsync
    with pytest.raises(CueRefused, match="FleetSync radio sends no end of an emergency"):
        service.cue("end_emergency", {})


def test_a_stopped_radio_refuses_every_cue(tmp_path):
    """Nothing can be cued on a radio that is not running."""
    service = ShopwatchSimulator(MemoryReactorClock(), ShopwatchSimulatorConfig(link=tmp_path / "tty"))
    with pytest.raises(CueRefused, match="not running"):
        service.cue("emergency", {"unit": "1001"})


def test_the_scenario_check_knows_the_radios_arguments(tmp_path):
    """A script's cue missing an argument is caught before the show, from the radio's CueSpecs."""
    service = ShopwatchSimulator(MemoryReactorClock(), ShopwatchSimulatorConfig(link=tmp_path / "tty"))
    assert check_cue(ScenarioCue("radio", "status", {"unit": "1001"}), {"radio": service}) == (
        "radio.status needs argument code")
