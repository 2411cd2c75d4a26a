"""The simulator's config table, its SimulatorType, and the ``hub onvif-sim`` command line and console."""

from __future__ import annotations

import argparse

import pytest
import structlog
from twisted.internet.testing import MemoryReactorClock

from hub.api import SimulatorContext
from hub.config import ConfigError, validate
from hub.secrets import Secret
from plugins.onvif.sim_camera import CameraQuirks
from plugins.onvif.sim_server import MOTION, SimulatedFleet
from plugins.onvif.simulator import (
    CONSOLE_HELP,
    ONVIF_SIMULATOR,
    OnvifSimulatorConfig,
    add_arguments,
    config_from_arguments,
    console_command,
    quirk_value,
    ready_line,
)

ENVIRON = {"CAMERA_PASSWORD": "s3cret-camera-pass"}


def read(table: dict, tmp_path) -> OnvifSimulatorConfig:
    raw = {"simulators": {"cameras": {"type": "onvif", "password": {"env": "CAMERA_PASSWORD"}, **table}}}
    config = validate(raw, tmp_path / "hub.toml", {}, ENVIRON, simulator_types={"onvif": ONVIF_SIMULATOR})
    [simulator] = config.simulators
    return simulator.settings


def problems(table: dict, tmp_path) -> str:
    with pytest.raises(ConfigError) as raised:
        read(table, tmp_path)
    return " | ".join(str(problem) for problem in raised.value.problems)


def test_a_table_with_a_password_is_eight_well_behaved_cameras_from_port_18000(tmp_path):
    config = read({}, tmp_path)
    assert (config.cameras, config.host, config.base_port, config.username, config.event_rate) == (
        8, "127.0.0.1", 18000, "hub", 0.0)
    assert config.password == Secret("s3cret-camera-pass") and config.quirks == CameraQuirks()


def test_quirks_for_all_and_for_one_camera_are_read_from_tables(tmp_path):
    config = read({"cameras": 10, "event_rate": 5, "quirks": {"clock_skew_s": 3600, "auth": "either"},
                   "camera": {"7": {"stuck_events": True, "unparseable": ["GetProfiles"],
                                    "relative_termination": "reject"}}}, tmp_path)
    assert config.quirks == CameraQuirks(clock_skew_s=3600, auth="either")
    assert config.camera["7"] == CameraQuirks(stuck_events=True, unparseable=("GetProfiles",),
                                              relative_termination="reject")


def test_bad_settings_are_named_and_the_password_never_shown(tmp_path):
    text = problems({"cameras": 0, "quirks": {"relative_termination": "sometimes", "max_pull_points": 0},
                     "camera": {"99": {}}}, tmp_path)
    assert "cameras.cameras: found 0" in text and "s3cret" not in text
    assert "quirks.relative_termination: found \"sometimes\"" in text and "quirks.max_pull_points: found 0" in text
    assert "expected tables named by the fleet's camera numbers, 1 to 8" in problems({"camera": {"99": {}}}, tmp_path)
    assert "base_port" in problems({"cameras": 100, "base_port": 65500}, tmp_path)


def test_the_password_is_required(tmp_path):
    raw = {"simulators": {"cameras": {"type": "onvif"}}}
    with pytest.raises(ConfigError) as raised:
        validate(raw, tmp_path / "hub.toml", {}, ENVIRON, simulator_types={"onvif": ONVIF_SIMULATOR})
    assert "password" in str(raised.value.problems[0])


def test_the_simulator_type_makes_a_service_that_listens_for_every_camera():
    """ONVIF_SIMULATOR's factory: startService listens on base_port.. for each camera; stopService stops."""
    reactor = MemoryReactorClock()
    config = OnvifSimulatorConfig(password=Secret("pw"), cameras=3, base_port=18100, first_number=41)
    service = ONVIF_SIMULATOR.factory(SimulatorContext(name="cameras", reactor=reactor, log=structlog.get_logger(),
                                                      config=config, base_dir=None))  # type: ignore[arg-type]
    service.startService()
    assert [port for port, *_ in reactor.tcpServers] == [18100, 18101, 18102]
    assert list(service.fleet.cameras) == ["41", "42", "43"]
    service.stopService()
    assert not any(network.online for network in service.fleet._networks)


def arguments(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_the_command_line_builds_the_fleet_with_the_password_from_the_environment():
    args = arguments("--cameras", "1000", "--base-port", "20000", "--event-rate", "200", "--quirk",
                     "clock_skew_s=-90", "--camera-quirk", "7:stuck_events=true", "--camera-quirk",
                     "7:unparseable=GetProfiles,PullMessages", "--password-env", "CAMERA_PASSWORD")
    config = config_from_arguments(args, ENVIRON)
    assert (config.cameras, config.base_port, config.event_rate) == (1000, 20000, 200)
    assert config.password.reveal() == "s3cret-camera-pass"
    assert config.quirks.clock_skew_s == -90
    assert config.camera["7"].stuck_events and config.camera["7"].clock_skew_s == -90
    assert config.camera["7"].unparseable == ("GetProfiles", "PullMessages")


def test_the_command_line_refuses_a_missing_password_and_unknown_quirks():
    with pytest.raises(ValueError, match="set ONVIF_PASSWORD"):
        config_from_arguments(arguments(), {})
    with pytest.raises(ValueError, match="no quirk named"):
        config_from_arguments(arguments("--quirk", "fast=true"), {"ONVIF_PASSWORD": "pw"})
    with pytest.raises(ValueError):
        config_from_arguments(arguments("--quirk", "malformed_times=sometimes"), {"ONVIF_PASSWORD": "pw"})
    with pytest.raises(ValueError):
        config_from_arguments(arguments("--camera-quirk", "99:stuck_events=true"), {"ONVIF_PASSWORD": "pw"})


def test_quirk_values_are_read_by_their_types():
    assert quirk_value("doubled_port", "yes") is True and quirk_value("doubled_port", "off") is False
    assert quirk_value("reported_host", "10.9.8.7") == "10.9.8.7" and quirk_value("reported_host", "none") is None
    assert quirk_value("reported_port", "81") == 81 and quirk_value("leaked_for_s", "2.5") == 2.5
    assert quirk_value("auth", "http_digest") == "http_digest"


def test_the_console_raises_events_and_reboots_cameras():
    reactor = MemoryReactorClock()
    fleet = SimulatedFleet(reactor, OnvifSimulatorConfig(password=Secret("pw"), cameras=2))
    assert console_command(fleet, "motion 2 on") == "ok"
    assert fleet.camera("2").property_state(MOTION) is True
    assert console_command(fleet, "event 1 tns1:Device/Trigger/Relay off") == "ok"
    assert console_command(fleet, "reboot 1") == "ok" and fleet.camera("1").boot_count == 1
    assert console_command(fleet, "motion 9 on") == CONSOLE_HELP
    assert console_command(fleet, "offline 1") == "ok" and not fleet.camera("1").network.online
    assert "events_raised=2" in console_command(fleet, "stats")


def test_the_ready_line_says_where_the_cameras_are():
    fleet = SimulatedFleet(MemoryReactorClock(), OnvifSimulatorConfig(password=Secret("pw"), cameras=4,
                                                                      base_port=20000, event_rate=200))
    assert ready_line(fleet) == ("onvif-sim ready cameras=4 host=127.0.0.1 first_port=20000 last_port=20003 "
                                 "first_number=1 event_rate=200")
