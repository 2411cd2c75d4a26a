"""The fleet: every camera runs on its own, start-up is spread out, and stopping leaves nothing behind."""

from __future__ import annotations

import pytest
from twisted.internet.defer import Deferred

from hub.directory import Asset
from hub.secrets import Secret
from hub.testing import assert_no_pending_timers, assert_no_result, success_result_of
from plugins.onvif.adapter import CLOSE_TIMEOUT_S, HttpConnections
from plugins.onvif.client import AuthFailed, CameraClient
from plugins.onvif.pullpoint import PullPointSubscription
from tests.plugins.onvif.adapter_fakes import (
    NAME,
    Harness,
    camera_config,
    fleet,
    motion,
)


def three_cameras(**overrides):
    return fleet({number: camera_config(host=f"10.1.2.{number}", name=f"Camera {number}") for number in
                  ("42", "43", "44")}, **overrides)


def test_one_camera_refusing_the_hub_does_not_disturb_the_others(captured_logs, hub_bus):
    """43 refuses the credentials and 44 is down; 42 is online and its events flow; the adapter never fails."""
    harness = Harness(hub_bus, three_cameras())
    harness.cameras["43"].errors["GetDeviceInformation"] = AuthFailed("refused")
    harness.cameras["44"].down()
    harness.start()
    harness.advance(5)
    harness.advance(10)
    assert {number: harness.state(number) for number in ("42", "43", "44")} == {
        "42": "online", "43": "auth_failed", "44": "offline"}
    harness.cameras["42"].subscription.notify(motion(True))
    [started] = harness.events("onvif.motion.started")
    assert started.subject.id == "42"
    assert harness.failures == []
    harness.stop()
    assert_no_pending_timers(harness.clock)


def test_a_camera_whose_connection_hangs_does_not_hold_up_the_others(captured_logs, hub_bus):
    harness = Harness(hub_bus, three_cameras())
    harness.cameras["43"].held.add("GetProfiles")
    harness.start()
    assert [harness.state(number) for number in ("42", "43", "44")] == ["online", "connecting", "online"]
    harness.stop()
    assert_no_pending_timers(harness.clock)


def test_start_up_is_spread_so_a_fleet_does_not_connect_at_once(captured_logs, hub_bus):
    """Ten cameras over 10 s: one connects each second, in the room's number order."""
    config = fleet({str(number): camera_config(host=f"10.1.3.{number}") for number in range(1, 11)},
                   startup_spread_s=10)
    harness = Harness(hub_bus, config).start()
    connected_at: dict[str, float] = {}
    for second in range(11):
        for number, fake in harness.cameras.items():
            if fake.calls and number not in connected_at:
                connected_at[number] = second
        harness.advance(1)
    assert connected_at == {str(number): number - 1 for number in range(1, 11)}
    harness.stop()
    assert_no_pending_timers(harness.clock)


def test_every_camera_is_in_the_directory_from_the_start(captured_logs, hub_bus):
    """Before any answers, each configured camera is listed as connecting, with its place and node;
    a disabled one as disabled."""
    config = fleet({"42": camera_config(), "43": camera_config(host="10.1.2.43", enabled=False, fibre_node="node-09")})
    harness = Harness(hub_bus, config)
    harness.cameras["42"].held.add("GetSystemDateAndTime")
    harness.start()
    assert [(asset.id, asset.state, asset.source) for asset in harness.directory.list("camera")] == [
        ("42", "connecting", NAME), ("43", "disabled", NAME)]
    assert harness.directory.get("camera", "43").attributes["fibre_node"] == "node-09"
    assert harness.cameras["43"].calls == []
    harness.stop()


def test_a_restarted_adapter_keeps_what_the_last_run_knew_until_it_knows_better(captured_logs, hub_bus):
    """The supervisor restarted the adapter: camera 42 stays offline (since when it went) with its presets."""
    harness = Harness(hub_bus, fleet())
    harness.directory.put(Asset(kind="camera", id="42", name="High St / Market Sq", source=NAME, state="offline",
                                state_since=-50.0, attributes={"presets": [{"token": "1", "name": "Market Sq"}]}))
    harness.cameras["42"].held.add("GetSystemDateAndTime")
    harness.start()
    asset = harness.directory.get("camera", "42")
    assert (asset.state, asset.state_since) == ("offline", -50.0)
    assert asset.attributes["presets"] == [{"token": "1", "name": "Market Sq"}]
    harness.cameras["42"].pending["GetSystemDateAndTime"][0].callback(None)
    harness.settle()
    assert harness.state() == "online"
    harness.stop()


def test_stopping_gives_every_pull_point_back_and_closes_the_connections(captured_logs, hub_bus):
    harness = Harness(hub_bus, three_cameras()).start()
    stopped = harness.stop()
    success_result_of(stopped)
    assert [fake.subscription.closed for fake in harness.cameras.values()] == [1, 1, 1]
    assert harness.connections.closed == 1
    assert_no_pending_timers(harness.clock)


def test_a_camera_that_never_answers_its_unsubscribe_holds_the_stop_for_a_bounded_time(captured_logs, hub_bus):
    harness = Harness(hub_bus, three_cameras()).start()
    harness.cameras["43"].close_hangs = True
    stopped = harness.stop()
    assert_no_result(stopped)
    harness.advance(CLOSE_TIMEOUT_S)
    success_result_of(stopped)
    assert_no_pending_timers(harness.clock)
    assert any(entry["event"] == "pull_point_not_closed" and entry.get("camera") == "43" for entry in captured_logs)


def test_stopping_with_stuck_alarms_and_pending_moves_leaves_no_timer(captured_logs, hub_bus):
    harness = Harness(hub_bus, three_cameras()).start()
    harness.cameras["42"].subscription.notify(motion(True))
    harness.command("move", camera="43", direction="up", seconds=20)
    harness.stop()
    assert_no_pending_timers(harness.clock)


def test_the_adapter_hears_its_cameras_while_any_is_online(captured_logs, hub_bus):
    """A camera quiet on its long polls is still heard, every poll_timeout_s, while it is online."""
    harness = Harness(hub_bus, fleet(failures_before_offline=1)).start()
    heard = harness.heard
    harness.advance(30)
    assert harness.heard == heard + 1
    harness.cameras["42"].down()
    harness.cameras["42"].subscription.lose()
    assert harness.state() == "offline"
    heard = harness.heard
    harness.advance(30)
    assert harness.heard == heard
    harness.stop()


def test_the_real_connections_share_one_transport_and_limiter_with_the_configured_caps(captured_logs, hub_bus):
    """Each camera's client is reached at its configured address with its own credentials; the caps are
    the config's."""
    config = fleet({"42": camera_config(port=8080, path="/onvif/dev", username="cam42", password=Secret("x"))},
                   max_requests_overall=7, max_requests_per_camera=1, username="hub", password=Secret("y"))
    harness = Harness(hub_bus, config)
    connections = HttpConnections(harness.context)
    client = connections.client("42", config.cameras["42"])
    assert isinstance(client, CameraClient)
    assert client.endpoint.device_url == "http://10.1.2.42:8080/onvif/dev"
    assert (client.endpoint.username, client.endpoint.password) == ("cam42", Secret("x"))
    assert (connections._limiter.overall, connections._limiter.per_camera) == (7, 1)
    subscription = connections.subscription(client, lambda notifications: None, lambda kind, detail: None)
    assert isinstance(subscription, PullPointSubscription)
    assert (subscription.termination_s, subscription.pull_timeout_s) == (60, 30)
    closing = connections.close()
    if isinstance(closing, Deferred):
        harness.settle()
        success_result_of(closing)


@pytest.mark.parametrize("random", [0.0, 1.0])
def test_back_off_between_attempts_follows_the_injected_random(captured_logs, hub_bus, random):
    """Jitter shortens the wait by up to a fifth: retry after 5 s (random 0) or 4 s (random 1)."""
    harness = Harness(hub_bus, fleet(), random=random)
    harness.cameras["42"].down()
    harness.start()
    attempts = len(harness.cameras["42"].calls)
    harness.advance(3.9)
    assert len(harness.cameras["42"].calls) == attempts
    harness.advance(1.1)
    assert len(harness.cameras["42"].calls) == attempts + 1
    harness.stop()
