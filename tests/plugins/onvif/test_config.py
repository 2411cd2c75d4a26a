"""The ONVIF adapter's configuration: a fleet of cameras by number, credentials by reference, strict checks."""

from __future__ import annotations

import pytest

from hub.api import AdapterType
from hub.config import ConfigError, validate
from hub.secrets import Secret
from plugins.onvif.config import CameraConfig, OnvifConfig

ADAPTER_TYPES = {"onvif": AdapterType(name="onvif", config_class=OnvifConfig, factory=lambda c: None)}
ENVIRON = {"ONVIF_PASSWORD": "s3cret-fleet", "CAM42_PASSWORD": "s3cret-42"}


def read(table: dict) -> OnvifConfig:
    raw = {"adapters": {"cameras": {"type": "onvif", **table}}}
    return validate(raw, "hub.toml", ADAPTER_TYPES, ENVIRON).adapters[0].settings


def problems(table: dict) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        read(table)
    return [str(problem) for problem in raised.value.problems]


def test_a_camera_needs_only_its_host_and_the_fleet_its_defaults():
    """The plan's defaults: 32 requests overall, 2 per camera, offline after 3, back-off 5 to 300 s."""
    config = read({"cameras": {"42": {"host": "10.1.2.42"}}})
    assert config.cameras == {"42": CameraConfig(host="10.1.2.42")}
    camera = config.cameras["42"]
    assert (camera.port, camera.scheme, camera.path, camera.override_addresses, camera.enabled) == (
        80, "http", "/onvif/device_service", True, True)
    assert (config.max_requests_overall, config.max_requests_per_camera) == (32, 2)
    assert (config.failures_before_offline, config.recoveries_before_online) == (3, 1)
    assert (config.retry_min_s, config.retry_max_s, config.poll_timeout_s, config.subscription_s) == (5, 300, 30, 60)
    assert (config.motion_stuck_after_s, config.max_reply_bytes) == (600, 1048576)
    assert config.credentials("42") == (None, None)


def test_the_plans_example_reads_whole():
    """The example table of the plan, with a per-camera password overriding the fleet's."""
    config = read({
        "username": "hub", "password": {"env": "ONVIF_PASSWORD"}, "max_requests_overall": 64,
        "failures_before_offline": 5, "retry_min_s": 2, "retry_max_s": 120, "motion_stuck_after_s": 300,
        "cameras": {
            "42": {"name": "High St / Market Sq", "host": "10.1.2.42", "port": 8080, "path": "/onvif/device",
                   "latitude": 52.1, "longitude": -1.2, "site": "Market Square", "fibre_node": "node-07",
                   "profile": "Profile_1", "password": {"env": "CAM42_PASSWORD"}},
            "0043": {"host": "cam43.cctv.example.net", "username": "admin"},
        },
    })
    assert sorted(config.cameras) == ["0043", "42"]
    assert config.cameras["42"].fibre_node == "node-07"
    assert config.credentials("42") == ("hub", Secret("s3cret-42"))
    assert config.credentials("0043") == ("admin", Secret("s3cret-fleet"))
    assert (config.max_requests_overall, config.failures_before_offline, config.retry_max_s) == (64, 5, 120)


@pytest.mark.parametrize(
    ("table", "key", "expected"),
    [
        ({}, "cameras", "a table"),
        ({"cameras": {}}, "cameras", "at least one camera"),
        ({"cameras": {"42": {}}}, "cameras.42.host", "a string"),
        ({"cameras": {"42": {"host": "http://10.1.2.42"}}}, "cameras.42.host", "no scheme, port or path"),
        ({"cameras": {"42": {"host": "10.1.2.42:80"}}}, "cameras.42.host", "no scheme, port or path"),
        ({"cameras": {"42": {"host": "10.1.2.420"}}}, "cameras.42.host", "host name or IP address"),
        ({"cameras": {"42": {"host": "cam", "port": 0}}}, "cameras.42.port", "from 1 to 65535"),
        ({"cameras": {"42": {"host": "cam", "port": "80"}}}, "cameras.42.port", "a whole number"),
        ({"cameras": {"42": {"host": "cam", "scheme": "rtsp"}}}, "cameras.42.scheme", "http, https"),
        ({"cameras": {"42": {"host": "cam", "path": "onvif"}}}, "cameras.42.path", 'starting with "/"'),
        ({"cameras": {"42": {"host": "cam", "latitude": 91}}}, "cameras.42.latitude", "from -90 to 90"),
        ({"cameras": {"42": {"host": "cam", "name": " "}}}, "cameras.42.name", "text of 1 to 200"),
        ({"cameras": {"42": {"host": "cam", "colour": "red"}}}, "cameras.42.colour", "one of: enabled"),
        ({"cameras": {"4 2": {"host": "cam"}}}, "cameras", "camera numbers"),
        ({"cameras": {42: {"host": "cam"}}}, "cameras", "camera numbers"),
        ({"cameras": {"42": {"host": "cam"}}, "password": {"env": "ONVIF_PASSWORD"}}, "cameras",
         "camera 42 has only one of them"),
        ({"cameras": {"42": {"host": "cam", "username": "admin"}}}, "cameras", "a username and a password together"),
        ({"cameras": {"42": {"host": "cam"}}, "username": "hub", "password": "plain"}, "password", "env"),
        ({"cameras": {"42": {"host": "cam"}}, "username": "hub", "password": {"env": "NOPE"}}, "password.env",
         "NOPE to be set"),
        ({"cameras": {"42": {"host": "cam"}}, "username": "hub user"}, "username", "without spaces"),
        ({"cameras": {"42": {"host": "cam"}}, "retry_min_s": 60, "retry_max_s": 30}, "retry_max_s",
         "at least retry_min_s (60)"),
        ({"cameras": {"42": {"host": "cam"}}, "max_requests_per_camera": 0}, "max_requests_per_camera",
         "from 1 to 16"),
        ({"cameras": {"42": {"host": "cam"}}, "failures_before_offline": 0}, "failures_before_offline",
         "from 1 to 100"),
        ({"cameras": {"42": {"host": "cam"}}, "max_reply_bytes": 100}, "max_reply_bytes", "from 4096"),
        ({"cameras": {"42": {"host": "cam"}}, "motion_stuck_after_s": 0}, "motion_stuck_after_s", "from 1 to 86400"),
    ],
)
def test_each_bad_key_is_named_with_what_was_expected(table, key, expected):
    """One problem per bad key, its path under the adapter's table, and what would do."""
    found = problems(table)
    assert any(f"adapters.cameras.{key}:" in problem and expected in problem for problem in found), found


def test_every_problem_is_reported_at_once():
    """Two bad cameras and a bad fleet key give three problems, not one."""
    found = problems({"retry_min_s": -1, "cameras": {"42": {"host": "a b"}, "43": {"host": "cam", "port": 70000}}})
    assert len(found) == 3, found


def test_no_problem_shows_a_password():
    """A password written in the file (a mistake) is described, never shown."""
    found = problems({"cameras": {"42": {"host": "cam", "username": "u", "password": "hunter2"}}})
    assert found and not any("hunter2" in problem for problem in found)


def test_numbers_are_the_rooms_strings_kept_as_written():
    """"0042" and "42" are different cameras; letters and dashes are allowed as rooms write them."""
    config = read({"cameras": {"0042": {"host": "a"}, "42": {"host": "b"}, "NCP-7": {"host": "c"}}})
    assert sorted(config.cameras) == ["0042", "42", "NCP-7"]


def test_ipv6_hosts_are_accepted_without_brackets():
    assert read({"cameras": {"42": {"host": "fd00::42"}}}).cameras["42"].host == "fd00::42"
