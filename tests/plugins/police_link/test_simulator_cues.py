"""The force end's cue for a demo's script: one request of each kind, sent now, checked against the protocol."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import structlog
from twisted.internet.testing import MemoryReactorClock

from hub.api import CueRefused
from hub.testing import success_result_of
from plugins.police_link.codec.messages import decode_request
from plugins.police_link.simulator import PolicePeerSimConfig, PolicePeerSimulator

#: 2026-11-21 21:00:00 UTC: an evening.
START = datetime(2026, 11, 21, 21, 0, tzinfo=UTC).timestamp()


@pytest.fixture
def force(tmp_path):
    """The demo's force end on a fake clock (its PKI made in tmp_path), sending nothing by itself."""
    clock = MemoryReactorClock()
    clock.advance(START + 0.4)  # a force sends whole seconds: the fraction is dropped
    config = PolicePeerSimConfig(pki_dir=tmp_path / "pki", records_dir=tmp_path / "data", port=18443,
                                 request_every_s=0, preset="2", answer="manual")
    simulator = PolicePeerSimulator(clock, config, log=structlog.get_logger())
    success_result_of(simulator.startService())
    yield simulator
    success_result_of(simulator.stopService())


def sent(simulator: PolicePeerSimulator) -> list[dict]:
    """The requests the force end has sent (its own records), their payloads as they went."""
    return [request["payload"] for request in simulator.peer.store.requests()]


def test_the_force_end_offers_one_request_cue():
    """One cue, request, with the kind and the camera it is about, and the rest optional."""
    [spec] = PolicePeerSimulator.cues
    assert (spec.name, spec.arguments) == ("request", ("kind", "camera"))
    assert set(spec.optional) == {"crime_reference", "from_minutes_ago", "to_minutes_ago", "minutes", "preset",
                                  "place", "for_minutes", "reason"}


def test_a_retain_request_names_the_camera_and_the_time_range(force):
    """retain: footage of the camera from from_minutes_ago to to_minutes_ago, under the crime reference."""
    force.cue("request", {"kind": "retain", "camera": "42", "crime_reference": "DBY/26/118852",
                          "from_minutes_ago": 30, "to_minutes_ago": 5})
    [payload] = sent(force)
    request = decode_request(payload)
    assert (payload["request_type"], request.cameras, request.crime_reference) == (
        "retain_footage", ("42",), "DBY/26/118852")
    assert request.start == datetime(2026, 11, 21, 20, 30, tzinfo=UTC)
    assert request.end == datetime(2026, 11, 21, 20, 55, tzinfo=UTC)
    assert force.peer.session.backlog == 1  # queued for the hub, sent as soon as it connects


def test_a_retain_request_without_a_range_asks_for_the_hour_before_last(force):
    """Left out, the range is two hours ago to one hour ago, with a made-up crime reference."""
    force.cue("request", {"kind": "retain", "camera": 17})
    request = decode_request(sent(force)[0])
    assert (request.start, request.end) == (datetime(2026, 11, 21, 19, 0, tzinfo=UTC),
                                            datetime(2026, 11, 21, 20, 0, tzinfo=UTC))
    assert request.cameras == ("17",) and request.crime_reference.startswith("CR-")


def test_each_other_kind_of_request(force):
    """live_view for minutes, point_camera to a preset (the simulator's by default), monitor a place."""
    force.cue("request", {"kind": "live_view", "camera": "31", "minutes": 15, "reason": "Suspect seen"})
    force.cue("request", {"kind": "point_camera", "camera": "31"})
    force.cue("request", {"kind": "point_camera", "camera": "35", "preset": "Pub doors"})
    force.cue("request", {"kind": "monitor", "camera": "42", "place": "High Street", "for_minutes": 45})
    requests = {(payload["request_type"], payload.get("camera") or payload["cameras"][0]): decode_request(payload)
                for payload in sent(force)}
    live, point = requests["live_view", "31"], requests["point_camera", "31"]
    named, monitor = requests["point_camera", "35"], requests["monitor_location", "42"]
    assert (live.camera, live.minutes, live.reason) == ("31", 15, "Suspect seen")
    assert (point.camera, point.preset, named.preset) == ("31", "2", "Pub doors")
    assert (monitor.location.name, monitor.cameras) == ("High Street", ("42",))
    assert monitor.until == datetime(2026, 11, 21, 21, 45, tzinfo=UTC)


@pytest.mark.parametrize(("arguments", "reason"), [
    ({"kind": "arrest", "camera": "42"}, "kind 'arrest' is not one of: retain, live_view, point_camera, monitor"),
    ({"kind": "retain", "camera": ["42"]}, "camera ['42'] is not a camera number such as \"42\""),
    ({"kind": "retain", "camera": "42", "from_minutes_ago": 10, "to_minutes_ago": 20},
     "from_minutes_ago (10) must be further back than to_minutes_ago (20)"),
    ({"kind": "retain", "camera": "42", "preset": "1"},
     ("preset is not for a retain_footage request (it takes: camera, reason, crime_reference, from_minutes_ago, "
     "to_minutes_ago)")),
    ({"kind": "live_view", "camera": "42", "minutes": 2.5}, "minutes 2.5 is not a whole number of minutes"),
    ({"kind": "live_view", "camera": "42", "minutes": "ten"}, ("minutes 'ten' is not a number of minutes from 1 to "
                                                              "10080")),
])
def test_a_request_it_cannot_send_is_refused_saying_why(force, arguments, reason):
    """Arguments that make no request are refused with the reason, and nothing is sent."""
    with pytest.raises(CueRefused) as refused:
        force.cue("request", arguments)
    assert str(refused.value) == reason
    assert sent(force) == []


def test_a_request_the_protocol_refuses_is_refused_before_it_goes(force):
    """A crime reference the request schema would refuse (too long) is caught at the force end, with the reason."""
    with pytest.raises(CueRefused, match="the force would send an invalid retain_footage request: .*crime_reference"):
        force.cue("request", {"kind": "retain", "camera": "42", "crime_reference": "X" * 101})
    assert sent(force) == []


def test_other_cues_and_a_stopped_force_end_are_refused(tmp_path, force):
    """Only request is a cue; a force end that is not running takes none."""
    with pytest.raises(CueRefused, match="no cue 'alert'"):
        force.cue("alert", {})
    idle = PolicePeerSimulator(MemoryReactorClock(), PolicePeerSimConfig(pki_dir=tmp_path / "p", records_dir=tmp_path))
    with pytest.raises(CueRefused, match="not running"):
        idle.cue("request", {"kind": "retain", "camera": "42"})
