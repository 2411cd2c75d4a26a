"""The shopwatch adapter's configuration: defaults from the dialect, and every bad key named."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.api import AdapterType
from hub.config import ConfigError, validate
from plugins.shopwatch.codec import LineSettings
from plugins.shopwatch.config import MemberConfig, ShopwatchConfig, StatusCodeConfig

ADAPTER_TYPES = {"shopwatch": AdapterType(name="shopwatch", config_class=ShopwatchConfig, factory=lambda c: None)}


def read(table: dict) -> ShopwatchConfig:
    raw = {"adapters": {"town": {"type": "shopwatch", **table}}}
    return validate(raw, "hub.toml", ADAPTER_TYPES, {}).adapters[0].settings


def problems(table: dict) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        read(table)
    return [str(problem) for problem in raised.value.problems]


def test_only_the_port_is_required_and_the_rest_defaults_to_a_ccdi_radio_at_9600_8n1():
    """A table with a port alone is a CCDI radio on 9600 8N1, no flow control, Shopwatch, group ********."""
    config = read({"port": "/dev/ttyUSB0"})
    assert config == ShopwatchConfig(port=Path("/dev/ttyUSB0"))
    assert (config.dialect, config.flow_control, config.scheme) == ("ccdi", "none", "Shopwatch")
    assert config.line() == LineSettings(baud=9600, bytesize=8, parity="none", stop_bits=1)
    assert config.group() == "********"
    assert (config.command_timeout_s, config.command_retries, config.not_ready_retry_s) == (2.0, 3, 0.5)
    assert (config.delivery_timeout_s, config.keepalive_s, config.max_queue) == (30.0, 60.0, 50)
    assert (config.checksum_alarm, config.line_error_window_s, config.lead_in) == (5, 60.0, 0)


def test_fleetsync_defaults_to_two_stop_bits_and_the_all_units_address():
    """Left out, stop bits and group address are the dialect's: FleetSync 2 and 000-0000."""
    config = read({"port": "COM3", "dialect": "fleetsync"})
    assert config.line().stop_bits == 2
    assert config.group() == "000-0000"


def test_the_line_settings_given_are_the_line_settings_used():
    """Baud, data bits, parity and stop bits set in the table override the dialect's."""
    config = read({"port": "/dev/ttyS0", "baud": 19200, "bytesize": 7, "parity": "even", "stop_bits": 2,
                   "flow_control": "rtscts"})
    assert config.line() == LineSettings(baud=19200, bytesize=7, parity="even", stop_bits=2)
    assert config.flow_control == "rtscts"


def test_members_and_status_codes_are_read_into_their_classes():
    """Members keyed by unit id and status codes keyed by code become typed entries."""
    config = read({
        "port": "/dev/ttyUSB0",
        "members": {"1001": {"name": "Boots", "address": "12 High St", "cameras": ["42", "43"],
                             "latitude": 51.5, "longitude": -0.1}},
        "status_codes": {"0A": {"meaning": "Shop theft", "severity": "high"},
                         "1F": {"meaning": "Officer needs help", "emergency": True}},
    })
    assert config.members == {"1001": MemberConfig(name="Boots", address="12 High St", cameras=("42", "43"),
                                                   latitude=51.5, longitude=-0.1)}
    assert config.status_codes == {"0A": StatusCodeConfig(meaning="Shop theft", severity="high"),
                                   "1F": StatusCodeConfig(meaning="Officer needs help", emergency=True)}


@pytest.mark.parametrize(
    ("table", "key", "expected"),
    [
        ({}, "port", "a string"),
        ({"port": "/dev/tty USB0"}, "port", "without spaces"),
        ({"dialect": "motorola"}, "dialect", "ccdi, fleetsync"),
        ({"baud": 9601}, "baud", "1200, 2400"),
        ({"baud": "9600"}, "baud", "a whole number"),
        ({"bytesize": 6}, "bytesize", "7, 8"),
        ({"parity": "mark"}, "parity", "none, even, odd"),
        ({"stop_bits": 3}, "stop_bits", "1, 2"),
        ({"flow_control": "dtr"}, "flow_control", "none, xonxoff, rtscts"),
        ({"scheme": " "}, "scheme", "text of 1 to 60"),
        ({"group_address": "1234"}, "group_address", "8-character CCDI SDM address"),
        ({"dialect": "fleetsync", "group_address": "********"}, "group_address", "FFF-UUUU"),
        ({"lead_in": 256}, "lead_in", "from 0 to 255"),
        ({"command_timeout_s": 0}, "command_timeout_s", "from 0.1 to 60"),
        ({"command_retries": -1}, "command_retries", "from 0 to 10"),
        ({"not_ready_retry_s": 0}, "not_ready_retry_s", "from 0.05 to 10"),
        ({"delivery_timeout_s": 0.5}, "delivery_timeout_s", "from 1 to 600"),
        ({"keepalive_s": 2}, "keepalive_s", "0 (off)"),
        ({"max_queue": 0}, "max_queue", "from 1 to 1000"),
        ({"checksum_alarm": 0}, "checksum_alarm", "from 1 to 1000"),
        ({"line_error_window_s": 0}, "line_error_window_s", "from 1 to 86400"),
        ({"members": {"12 345": {"name": "Boots"}}}, "members", "CCDI unit ids"),
        ({"dialect": "fleetsync", "members": {"1001": {"name": "Boots"}}}, "members", "FFF-UUUU"),
        ({"members": {"1001": {}}}, "members.1001.name", "a string"),
        ({"members": {"1001": {"name": "Boots", "latitude": 91}}}, "members.1001.latitude", "from -90 to 90"),
        ({"members": {"1001": {"name": "Boots", "cameras": [""]}}}, "members.1001.cameras", "camera names"),
        ({"members": {"1001": {"name": "Boots", "colour": "red"}}}, "members.1001", "colour"),
        ({"status_codes": {"0a": {"meaning": "x"}}}, "status_codes", "upper-case hex"),
        ({"status_codes": {"FF": {"meaning": "x"}}}, "status_codes", "no status"),
        ({"dialect": "fleetsync", "status_codes": {"0A": {"meaning": "x"}}}, "status_codes", "decimal digits"),
        ({"status_codes": {"0A": {"meaning": "x", "severity": "urgent"}}}, "status_codes.0A.severity", "critical"),
    ],
)
def test_each_bad_key_is_named_with_what_was_expected(table, key, expected):
    """A wrong value is reported at its key path, saying what was expected."""
    table = {"port": "/dev/ttyUSB0", **table} if "port" not in table and table != {} else table
    found = problems(table)
    assert any(f"adapters.town.{key}" in problem and expected in problem for problem in found), found


def test_every_problem_in_the_table_is_reported_at_once():
    """Three bad keys give three problems, not the first one alone."""
    found = problems({"port": "/dev/ttyUSB0", "baud": 1, "parity": "mark", "max_queue": 0})
    assert len(found) == 3


def test_a_relative_port_is_read_against_the_config_files_folder():
    """port = "radio-link" in /etc/hub/hub.toml is /etc/hub/radio-link, as the demo's pty link needs."""
    raw = {"adapters": {"town": {"type": "shopwatch", "port": "../data/radio-link"}}}
    config = validate(raw, "/etc/hub/hub.toml", ADAPTER_TYPES, {}).adapters[0].settings
    assert config.port == Path("/etc/hub/../data/radio-link")
