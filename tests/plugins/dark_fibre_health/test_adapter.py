"""The fibre adapter on the test clock and a real bus: probes paced, one event per change, one root cause per
outage with every camera behind it, cameras still dark after a recovery followed up, and nothing left over."""

from __future__ import annotations

from typing import Any, Callable

import structlog
from twisted.internet.defer import succeed

from hub.api import AdapterContext
from hub.directory import Asset, Directory
from hub.events import EventFactory
from hub.testing import assert_no_pending_timers, settle
from plugins.dark_fibre_health.adapter import FibreAdapter
from plugins.dark_fibre_health.codec.optics import InterfaceStatus, NodeReadings, OpticalReading, Thresholds
from plugins.dark_fibre_health.config import FibreConfig, JudgeConfig, NodeConfig, SnmpConfig
from plugins.dark_fibre_health.events import EVENT_TYPES
from plugins.dark_fibre_health.probes import ProbeResult
from hub.secrets import Secret

NAME = "fibre.ring"


class FakeIcmp:
    def __init__(self) -> None:
        self.pinged: list[tuple[float, str, str]] = []
        self.mode_in_use = "raw"


class FakeProbers:
    """Records what the adapter asks to probe; the test says what each probe found."""

    def __init__(self, context: AdapterContext, on_result: Callable[[ProbeResult], None]) -> None:
        self.clock = context.reactor
        self.on_result = on_result
        self.icmp = FakeIcmp()
        self.icmp.ping = self._ping  # type: ignore[attr-defined]
        self.tcp = None
        self.snmp = object()
        self.readings: dict[str, Any] = {}
        self.polled: list[str] = []
        self.started = self.stopped = False
        #: node -> True (answers), False (silent)
        self.answers: dict[str, bool] = {}
        self.timeouts: list[Any] = []

    def _ping(self, node: str, address: str) -> None:
        now = self.clock.seconds()
        self.icmp.pinged.append((now, node, address))
        if self.answers.get(node, True):
            self.on_result(ProbeResult(node=node, method="icmp", sent_at=now, ok=True, rtt_s=0.002))
        else:
            # The pinger would say so at its timeout sweep; the judge only needs the result in order.
            self.timeouts.append(self.clock.callLater(
                0.5, self.on_result, ProbeResult(node=node, method="icmp", sent_at=now, ok=False, error="timeout")))

    def start(self) -> None:
        self.started = True

    def sweep(self, now: float) -> None:
        pass

    def poll(self, node: str, config: FibreConfig) -> Any:
        self.polled.append(node)
        return succeed(self.readings.get(node, NodeReadings(interfaces=(), optics=())))

    def stop(self) -> None:
        # As the real pinger: the probes still out give no result.
        for call in self.timeouts:
            if call.active():
                call.cancel()
        self.stopped = True


def chain_config(**overrides: Any) -> FibreConfig:
    """head end -> A -> B -> C, each with cameras; B also feeds D."""
    nodes = {
        "A": NodeConfig(address="10.9.0.1", cameras=("1", "2"), latitude=53.1, longitude=-1.1, site="Depot"),
        "B": NodeConfig(address="10.9.0.2", upstream="A", cameras=("3",)),
        "C": NodeConfig(address="10.9.0.3", upstream="B", cameras=("4", "5")),
        "D": NodeConfig(address="10.9.0.4", upstream="B", cameras=("6",)),
    }
    settings: dict[str, Any] = {"nodes": nodes, "interval_s": 1.0, "tick_s": 0.05, "camera_grace_s": 60.0}
    settings.update(overrides)
    return FibreConfig(**settings)


class Harness:
    def __init__(self, bus: Any, config: FibreConfig) -> None:
        self.bus = bus
        self.clock = bus.clock
        self.directory = Directory()
        self.heard = 0
        self.failures: list[BaseException] = []
        if EVENT_TYPES[0].TYPE not in bus.registry:
            bus.registry.register_all(EVENT_TYPES)
        self.probers: FakeProbers | None = None

        def heard() -> None:
            self.heard += 1

        def probers(context: AdapterContext, on_result: Callable[[ProbeResult], None]) -> FakeProbers:
            self.probers = FakeProbers(context, on_result)
            return self.probers

        self.context = AdapterContext(
            name=NAME, adapter_type="fibre", reactor=self.clock, bus=bus.bus,
            log=structlog.get_logger().bind(adapter=NAME), config=config, events=EventFactory(self.clock, NAME),
            heard=heard, fail=self.failures.append, directory=self.directory,
        )
        self.adapter = FibreAdapter(self.context, probers=probers)

    def start(self) -> "Harness":
        self.adapter.startService()
        settle(self.clock)
        return self

    def stop(self) -> None:
        self.adapter.stopService()
        settle(self.clock)

    def run(self, seconds: float, step: float = 0.05) -> None:
        for _ in range(round(seconds / step)):
            self.clock.advance(step)
            settle(self.clock)

    def events(self, pattern: str = "fibre.#") -> list[Any]:
        settle(self.clock)
        return [event for event in self.bus.bus.replay(pattern=pattern) if event.source == NAME]

    def topics(self, pattern: str = "fibre.#") -> list[tuple[str, str]]:
        return [(event.topic, event.subject.id) for event in self.events(pattern)]


def test_every_node_is_probed_once_an_interval_spread_over_it(captured_logs, hub_bus):
    harness = Harness(hub_bus, chain_config()).start()
    harness.run(3.0)
    pinged = harness.probers.icmp.pinged  # type: ignore[union-attr]
    assert {node for _at, node, _address in pinged} == {"A", "B", "C", "D"}
    per_node = {node: [at for at, name, _ in pinged if name == node] for node in "ABCD"}
    assert all(len(times) == 3 for times in per_node.values()), per_node
    # Four nodes at a 1 s interval: a quarter of a second apart (to the 0.05 s tick), never all at once.
    first = sorted(times[0] for times in per_node.values())
    assert all(abs((b - a) - 0.25) <= 0.05 + 1e-9 for a, b in zip(first, first[1:])), first
    harness.stop()
    assert_no_pending_timers(harness.clock)


def test_a_network_that_answers_says_up_once_per_node_and_nothing_more(captured_logs, hub_bus):
    harness = Harness(hub_bus, chain_config()).start()
    harness.run(10.0)
    assert harness.topics() == [("fibre.node.up", node) for node in "ABCD"]
    assert harness.heard >= 9
    assert {asset.id: asset.state for asset in harness.directory.list("fibre_node")} == dict.fromkeys("ABCD", "up")
    harness.stop()


def test_a_failed_node_is_one_root_cause_naming_its_span_and_every_camera_behind_it(captured_logs, hub_bus):
    """B goes dark, and so (as far as the head end can tell) do C and D behind it."""
    harness = Harness(hub_bus, chain_config()).start()
    harness.run(3.0)
    for node in "BCD":
        harness.probers.answers[node] = False  # type: ignore[union-attr]
    harness.run(6.0)
    changes = [(topic, node) for topic, node in harness.topics() if topic != "fibre.node.up"]
    assert changes == [("fibre.node.down", "B"), ("fibre.node.unreachable", "C"), ("fibre.node.unreachable", "D")]
    [down] = harness.events("fibre.node.down")
    assert down.payload.root_cause is True
    assert down.payload.span == "A\u2013B"
    assert down.payload.cameras == ("3", "4", "5", "6")
    assert down.payload.nodes_behind == ("C", "D")
    assert set(down.payload.covers) == {"camera:3", "camera:4", "camera:5", "camera:6", "fibre_node:C", "fibre_node:D"}
    assert down.severity.label == "high"
    assert "Fibre node B down (span A\u2013B), 4 cameras affected: 3, 4, 5, 6" in down.summary
    unreachable = harness.events("fibre.node.unreachable")
    assert all(event.payload.because_of == "B" and not event.payload.covers for event in unreachable)
    assert all(event.severity.label == "info" for event in unreachable)
    assert harness.directory.get("fibre_span", "A\u2013B").state == "down"
    assert harness.directory.get("fibre_span", "B\u2013C").state == "unreachable"
    harness.stop()
    assert_no_pending_timers(harness.clock)


def test_recovery_is_said_once_and_a_camera_still_dark_after_the_grace_gets_its_own_event(captured_logs, hub_bus):
    harness = Harness(hub_bus, chain_config(camera_grace_s=60.0)).start()
    for number, node in (("3", "B"), ("4", "C"), ("6", "D")):
        harness.directory.put(Asset(kind="camera", id=number, source="onvif.cameras", state="online"))
    harness.run(3.0)
    for node in "BCD":
        harness.probers.answers[node] = False  # type: ignore[union-attr]
    harness.run(6.0)
    for number in ("3", "4", "6"):
        harness.directory.set_state("camera", number, "offline", since=harness.clock.seconds())
    for node in "BCD":
        harness.probers.answers[node] = True  # type: ignore[union-attr]
    harness.run(4.0)
    [up] = [event for event in harness.events("fibre.node.up") if event.subject.id == "B" and event.payload.previous]
    assert up.payload.previous == "down" and up.payload.recovered is True
    # Cameras 3 and 6 come back with their node; 4 does not.
    harness.directory.set_state("camera", "3", "online", since=harness.clock.seconds())
    harness.directory.set_state("camera", "6", "online", since=harness.clock.seconds())
    harness.run(50.0, step=1.0)
    assert harness.events("fibre.camera.still_dark") == []
    harness.run(15.0, step=1.0)
    [dark] = harness.events("fibre.camera.still_dark")
    assert (dark.subject.kind, dark.subject.id, dark.payload.node) == ("camera", "4", "C")
    assert dark.severity.label == "high"
    harness.stop()
    assert_no_pending_timers(harness.clock)


def test_a_node_out_again_before_the_grace_ends_keeps_its_cameras_under_its_outage(captured_logs, hub_bus):
    harness = Harness(hub_bus, chain_config(camera_grace_s=30.0)).start()
    harness.directory.put(Asset(kind="camera", id="3", source="onvif.cameras", state="offline"))
    harness.run(3.0)
    harness.probers.answers.update(B=False, C=False, D=False)  # type: ignore[union-attr]
    harness.run(6.0)
    harness.probers.answers.update(B=True, C=True, D=True)  # type: ignore[union-attr]
    harness.run(4.0)
    harness.probers.answers.update(B=False, C=False, D=False)  # type: ignore[union-attr]
    harness.run(40.0, step=0.5)
    assert harness.events("fibre.camera.still_dark") == []
    harness.stop()
    assert_no_pending_timers(harness.clock)


def _optic(level: str, dbm: float | None, port: str = "Te1/1", ifindex: int = 5) -> OpticalReading:
    return OpticalReading(ifindex=ifindex, port=port, direction="rx", dbm=dbm,
                          thresholds=Thresholds(low_alarm=-14.0, low_warning=-12.0, high_warning=0.0, high_alarm=2.0,
                                                source="device"),
                          level=level, reason="test", vendor="cisco")


def snmp_config() -> FibreConfig:
    snmp = SnmpConfig(version="2c", community=Secret("public-test"), interval_s=60.0)
    nodes = {"A": NodeConfig(address="10.9.0.1", probes=("icmp", "snmp"), snmp=snmp, cameras=("1",))}
    return FibreConfig(nodes=nodes, interval_s=1.0, tick_s=0.05,
                       judge=JudgeConfig(trend_window_s=86400.0 * 7, trend_warn_s=86400.0 * 14, trend_min_points=12))


def test_optical_levels_and_interfaces_are_told_on_change_only(captured_logs, hub_bus):
    harness = Harness(hub_bus, snmp_config()).start()
    probers = harness.probers
    assert probers is not None
    up = InterfaceStatus(ifindex=5, name="Te1/1", oper_status=1, last_change=100, in_errors=0)
    probers.readings["A"] = NodeReadings(interfaces=(up,), optics=(_optic("ok", -7.5),))
    harness.run(130.0, step=1.0)
    assert [topic for topic, _ in harness.topics("fibre.optics.#")] == []
    probers.readings["A"] = NodeReadings(interfaces=(up,), optics=(_optic("alarm", -14.7),))
    harness.run(120.0, step=1.0)
    [alarm] = harness.events("fibre.optics.alarm")
    assert (alarm.payload.port, alarm.payload.dbm, alarm.payload.previous) == ("Te1/1", -14.7, "ok")
    assert alarm.payload.thresholds.low_alarm == -14.0 and alarm.payload.thresholds.source == "device"
    assert "receive power alarm: -14.70 dBm" in alarm.summary
    # The node still answers: degraded by its optics, never down.
    assert harness.adapter.state_of("A") == "degraded"
    down = InterfaceStatus(ifindex=5, name="Te1/1", oper_status=2, last_change=200, in_errors=3)
    probers.readings["A"] = NodeReadings(interfaces=(down,), optics=(_optic("no_light", None),))
    harness.run(60.0, step=1.0)
    assert [topic for topic, _ in harness.topics("fibre.interface.#")] == ["fibre.interface.down"]
    [dark] = harness.events("fibre.optics.no_light")
    assert dark.payload.dbm is None and "no light" in dark.summary
    harness.stop()
    assert_no_pending_timers(harness.clock)


def test_a_steady_fall_in_receive_power_warns_once_before_the_alarm(captured_logs, hub_bus):
    """0.5 dB a day from -8 dBm toward a -14 dBm alarm: warned with about 12 days to go, once."""
    harness = Harness(hub_bus, snmp_config()).start()
    probers = harness.probers
    assert probers is not None
    trend_topics = []
    for hour in range(0, 24 * 6, 4):
        dbm = -8.0 - 0.5 * hour / 24
        probers.readings["A"] = NodeReadings(interfaces=(), optics=(_optic("ok", round(dbm, 2)),))
        harness.adapter._poll("A")  # the schedule runs every 60 s; here a poll every four hours is enough
        harness.clock.advance(4 * 3600)
        settle(harness.clock)
        trend_topics = harness.events("fibre.optics.trend")
    [trend] = trend_topics
    assert -0.6 < trend.payload.slope_db_per_day < -0.4
    assert trend.payload.threshold_dbm == -14.0
    assert 86400 * 5 < trend.payload.crossing_in_s < 86400 * 14
    assert harness.events("fibre.optics.alarm") == []
    harness.stop()


def test_metrics_give_state_probes_and_power(captured_logs, hub_bus):
    harness = Harness(hub_bus, snmp_config()).start()
    harness.probers.readings["A"] = NodeReadings(interfaces=(), optics=(_optic("ok", -7.5),))  # type: ignore[union-attr]
    harness.run(70.0, step=1.0)
    samples = {(sample.name, tuple(sorted(sample.labels.items()))): sample.value for sample in harness.adapter.metrics()}
    assert samples[("fibre_node_up", (("node", "A"), ("state", "up")))] == 1
    assert samples[("fibre_rx_power_dbm", (("node", "A"), ("port", "Te1/1")))] == -7.5
    assert samples[("fibre_probes_sent_total", ())] >= 69
    harness.stop()
