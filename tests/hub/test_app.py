"""The Hub runs the journal, each enabled adapter under supervision, the plugins' life cycle and retention."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any, ClassVar

import pytest
from attrs import frozen
from twisted.application.service import Service
from twisted.internet.defer import Deferred, fail
from twisted.internet.testing import MemoryReactorClock

from hub.api import AdapterContext, AdapterType, PluginSchema, SimulatorContext, SimulatorType
from hub.app import SIMULATOR_START_TIMEOUT_S, DataDirInUse, Hub, journal_path
from hub.bus import BusClosed
from hub.config import HubConfig, validate
from hub.database import DatabaseClosed, PluginSchemaError
from hub.events import AdapterState, Severity, Subject
from hub.hookspecs import hookimpl
from hub.journal import iter_journal, open_reader
from hub.plugins import CORE_PLUGIN_NAME, PluginHost, make_plugin_manager
from hub.runtime import SupervisedAdapter
from hub.sqlite_writer import InlineSqliteWriter
from hub.testing import assert_no_pending_timers, failure_result_of, settle, success_result_of

#: The fake clock starts at a realistic POSIX time, so journal times look like real ones.
START = 1_750_000_000.0

# --- A throwaway adapter plugin whose instances the test controls ------------------------------------


@frozen
class GadgetConfig:
    label: str = "gadget"


@frozen
class GadgetSignalled:
    """A payload the gadget plugin contributes, so its adapters have something of their own to publish."""

    TYPE: ClassVar[str] = "gadget.signal.received"

    text: str


class GadgetService(Service):
    """One run of a gadget adapter instance; its start raises while the plugin says it should."""

    def __init__(self, context: AdapterContext, plugin: "GadgetPlugin") -> None:
        self.context = context
        self._plugin = plugin

    def startService(self) -> None:  # noqa: N802 - Twisted's name
        if self._plugin.start_failures.get(self.context.name, 0) > 0:
            self._plugin.start_failures[self.context.name] -= 1
            raise RuntimeError("gadget jammed")
        super().startService()

    def signal(self, text: str) -> "Deferred[int]":
        """Publish a ``gadget.signal.received`` event from this instance."""
        return self.context.bus.publish(
            self.context.events(
                GadgetSignalled.TYPE,
                GadgetSignalled(text),
                severity=Severity.INFO,
                subject=Subject(kind="gadget", id=self.context.name),
                summary=text,
            )
        )


class GadgetPlugin:
    """Offers the ``gadget`` adapter type and its event type, and keeps every service it builds."""

    def __init__(self) -> None:
        self.built: dict[str, list[GadgetService]] = {}
        #: How many more starts of each instance (by source name) raise.
        self.start_failures: dict[str, int] = {}

    @hookimpl
    def hub_register_adapter_types(self) -> list[AdapterType]:
        return [AdapterType(name="gadget", config_class=GadgetConfig, factory=self.build)]

    @hookimpl
    def hub_register_event_types(self) -> list[type]:
        return [GadgetSignalled]

    def build(self, context: AdapterContext) -> GadgetService:
        service = GadgetService(context, self)
        self.built.setdefault(context.name, []).append(service)
        return service

    def current(self, source: str) -> GadgetService:
        """The latest service built for an instance."""
        return self.built[source][-1]


class RaisingStartedPlugin:
    """Raises as soon as the hub tells it that it has started."""

    @hookimpl
    def hub_started(self, hub: Hub) -> None:
        raise RuntimeError("cannot subscribe")


class FailingStartedPlugin:
    """Answers hub_started with a Deferred that fails."""

    @hookimpl
    def hub_started(self, hub: Hub) -> "Deferred[None]":
        return fail(RuntimeError("cannot subscribe"))


class AsyncRaisingStartedPlugin:
    """An ``async def`` hub_started that raises."""

    @hookimpl
    async def hub_started(self, hub: Hub) -> None:
        raise RuntimeError("cannot subscribe")


class RaisingEventTypesPlugin:
    """Raises when asked for its event types."""

    @hookimpl
    def hub_register_event_types(self) -> list[type]:
        raise ValueError("event types unavailable")


class SlowStoppingPlugin:
    """Answers hub_stopping with a Deferred the test fires."""

    def __init__(self) -> None:
        self.done: Deferred[None] = Deferred()
        self.told: list[Hub] = []

    @hookimpl
    def hub_stopping(self, hub: Hub) -> "Deferred[None]":
        self.told.append(hub)
        return self.done


@frozen
class WorkshopConfig:
    """A stand-in simulator's settings: how its start and stop behave, set by the test."""

    start: str = "at_once"  # at_once | waits | raises | never | async
    stop: str = "at_once"  # at_once | waits | never


class WorkshopSimulator(Service):
    """One simulator; it notes in the plugin's diary what the adapters were doing when it started and stopped."""

    def __init__(self, context: SimulatorContext, plugin: "WorkshopPlugin") -> None:
        self.context = context
        self._plugin = plugin
        self.starting: Deferred[None] = Deferred()
        self.stopping: Deferred[None] = Deferred()

    def _note(self, what: str) -> None:
        adapters_running = [service.running for services in self._plugin.gadgets.built.values()
                            for service in services]
        self._plugin.diary.append((what, self.context.name, adapters_running))

    def startService(self) -> Any:  # noqa: N802 - Twisted's name
        self._note("simulator starting")
        behaviour = self.context.config.start
        if behaviour == "raises":
            raise OSError("no pseudo-terminals left")
        super().startService()
        if behaviour == "async":
            return self._start_async()
        return {"at_once": None, "waits": self.starting, "never": Deferred()}[behaviour]

    async def _start_async(self) -> None:
        await self.starting

    def stopService(self) -> Any:  # noqa: N802 - Twisted's name
        self._note("simulator stopping")
        super().stopService()
        return {"at_once": None, "waits": self.stopping, "never": Deferred()}[self.context.config.stop]


class WorkshopPlugin:
    """Offers the ``workshop`` simulator type and keeps every simulator it builds."""

    def __init__(self, gadgets: GadgetPlugin) -> None:
        self.gadgets = gadgets
        self.built: dict[str, WorkshopSimulator] = {}
        self.diary: list[tuple[str, str, list[bool]]] = []

    @hookimpl
    def hub_register_simulators(self) -> list[SimulatorType]:
        return [SimulatorType(name="workshop", config_class=WorkshopConfig, factory=self.build)]

    def build(self, context: SimulatorContext) -> WorkshopSimulator:
        if context.config.start == "unbuildable":
            raise ValueError("cannot build the workshop")
        self.built[context.name] = simulator = WorkshopSimulator(context, self)
        return simulator


# --- Building and driving a hub on a fake clock -----------------------------------------------------

TWO_GADGETS = {
    "north": {"type": "gadget", "supervision": {"restart_initial_s": 1.0, "restart_jitter": 0.0}},
    "south": {"type": "gadget", "supervision": {"restart_initial_s": 1.0, "restart_jitter": 0.0}},
}


def inline_writer(path: Path, settings: Any, reactor: Any, migrations: Any) -> InlineSqliteWriter:
    return InlineSqliteWriter(path, settings, reactor, migrations)


def make_host(*plugins: tuple[object, str]) -> PluginHost:
    return make_plugin_manager(load_entry_points=False, extra_plugins=list(plugins))


def make_config(
    tmp_path: Path,
    host: PluginHost,
    adapters: dict[str, Any] = TWO_GADGETS,
    **sections: dict[str, Any],
) -> HubConfig:
    raw: dict[str, Any] = {
        "hub": {"name": "Test room", "data_dir": str(tmp_path / "data"), "shutdown_grace_s": 5},
        "adapters": adapters,
    }
    for name, section in sections.items():
        raw.setdefault(name, {}).update(section)
    return validate(raw, tmp_path / "hub.toml", host.adapter_types(), environ={},
                    simulator_types=host.simulator_types())


def make_hub(config: HubConfig, host: PluginHost, clock: MemoryReactorClock) -> Hub:
    return Hub(config, host, clock, writer_factory=inline_writer, rng=random.Random(0))


@pytest.fixture
def clock() -> MemoryReactorClock:
    clock = MemoryReactorClock()
    clock.advance(START)
    return clock


@pytest.fixture
def gadgets() -> GadgetPlugin:
    return GadgetPlugin()




def advance(clock: MemoryReactorClock, seconds: float, step: float = 1.0) -> None:
    """Let ``seconds`` pass in steps, settling after each, as a running reactor would."""
    target = clock.seconds() + seconds
    while clock.seconds() < target:
        clock.advance(min(step, target - clock.seconds()))
        settle(clock)


def start(hub: Hub, clock: MemoryReactorClock) -> None:
    started = hub.startService()
    settle(clock)
    assert success_result_of(started) is None


def stop(hub: Hub, clock: MemoryReactorClock) -> None:
    stopped = hub.stopService()
    settle(clock)
    assert success_result_of(stopped) is None






def has_no_result(d: Deferred[Any]) -> bool:
    results: list[Any] = []
    d.addBoth(lambda result: results.append(result) or result)
    return not results


def journal(config: HubConfig) -> list[dict[str, Any]]:
    """Every event in the configuration's journal file, as stored, with its seq."""
    connection = open_reader(journal_path(config))
    try:
        return [dict(json.loads(row.body), seq=row.seq) for row in iter_journal(connection)]
    finally:
        connection.close()


def topics(config: HubConfig, source: str | None = None) -> list[str]:
    return [event["topic"] for event in journal(config) if source is None or event["source"] == source]


def plugin_failures(config: HubConfig) -> list[dict[str, Any]]:
    return [event["payload"] for event in journal(config) if event["topic"] == "hub.plugin.failed"]


# --- Starting ------------------------------------------------------------------------------------------


def test_start_publishes_started_with_adapters_and_plugins(tmp_path, clock, gadgets):
    """Starting journals hub.process.started naming the running adapters and the installed plugins."""
    host = make_host((gadgets, "gadget"))
    config = make_config(tmp_path, host)
    hub = make_hub(config, host, clock)

    start(hub, clock)

    [started] = [event for event in journal(config) if event["topic"] == "hub.process.started"]
    assert started["payload"]["adapters"] == ["gadget.north", "gadget.south"]
    assert started["payload"]["plugins"] == sorted([CORE_PLUGIN_NAME, "gadget"])
    assert started["source"] == "hub.core"
    assert hub.started_seq == started["seq"]
    assert hub.running
    stop(hub, clock)


def test_each_enabled_adapter_runs_supervised(tmp_path, clock, gadgets):
    """Every enabled adapter instance runs under its own supervisor; a disabled one is not built."""
    host = make_host((gadgets, "gadget"))
    adapters = {**TWO_GADGETS, "spare": {"type": "gadget", "enabled": False}}
    config = make_config(tmp_path, host, adapters)
    hub = make_hub(config, host, clock)

    start(hub, clock)

    assert sorted(hub.adapters) == ["gadget.north", "gadget.south"]
    for source in ("gadget.north", "gadget.south"):
        supervisor = hub.adapters[source]
        assert isinstance(supervisor, SupervisedAdapter)
        assert supervisor.parent is hub
        assert supervisor.status.state is AdapterState.RUNNING
        assert gadgets.current(source).running
        assert topics(config, source) == ["adapter.health.starting", "adapter.health.running"]
    assert "gadget.spare" not in gadgets.built
    assert topics(config, "gadget.spare") == []
    stop(hub, clock)


def test_adapters_publish_their_plugins_event_types(tmp_path, clock, gadgets):
    """An adapter publishes its plugin's own event type, and it is journaled as that type."""
    host = make_host((gadgets, "gadget"))
    config = make_config(tmp_path, host)
    hub = make_hub(config, host, clock)
    start(hub, clock)

    published = gadgets.current("gadget.north").signal("door opened")
    settle(clock)

    seq = success_result_of(published)
    [event] = hub.bus.replay(since=seq - 1)
    assert event.payload == GadgetSignalled("door opened")
    assert event.source == "gadget.north"
    stop(hub, clock)


# --- Plugins that fail ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "plugin", [RaisingStartedPlugin(), FailingStartedPlugin(), AsyncRaisingStartedPlugin()],
    ids=["raises", "fails-its-deferred", "async-raises"],
)
def test_plugin_failing_in_hub_started_is_journaled_and_the_hub_runs_on(tmp_path, clock, gadgets, plugin):
    """A plugin failing in hub_started becomes hub.plugin.failed; the hub and every adapter keep running."""
    host = make_host((gadgets, "gadget"), (plugin, "broken"))
    config = make_config(tmp_path, host)
    hub = make_hub(config, host, clock)

    start(hub, clock)

    assert plugin_failures(config) == [
        {"plugin": "broken", "hook": "hub_started", "error": "RuntimeError: cannot subscribe"}
    ]
    assert hub.running
    assert all(adapter.status.state is AdapterState.RUNNING for adapter in hub.adapters.values())
    published = gadgets.current("gadget.south").signal("still here")
    settle(clock)
    assert success_result_of(published) > 0
    stop(hub, clock)


def test_plugin_failing_to_register_event_types_is_journaled_and_the_hub_runs_on(tmp_path, clock, gadgets):
    """A plugin raising in hub_register_event_types becomes hub.plugin.failed; the rest start as usual."""
    host = make_host((gadgets, "gadget"), (RaisingEventTypesPlugin(), "broken"))
    config = make_config(tmp_path, host)
    hub = make_hub(config, host, clock)

    start(hub, clock)

    assert plugin_failures(config) == [
        {
            "plugin": "broken",
            "hook": "hub_register_event_types",
            "error": "ValueError: event types unavailable",
        }
    ]
    assert hub.running
    assert all(adapter.status.state is AdapterState.RUNNING for adapter in hub.adapters.values())
    # The other plugin's event types were still registered.
    published = gadgets.current("gadget.north").signal("still typed")
    settle(clock)
    [event] = hub.bus.replay(since=success_result_of(published) - 1)
    assert event.payload == GadgetSignalled("still typed")
    stop(hub, clock)


# --- Adapters that fail -----------------------------------------------------------------------------------


def test_adapter_failing_to_start_is_restarted_after_backoff(tmp_path, clock, gadgets):
    """An adapter whose start raises is reported failed and restarted after its back-off; others run on."""
    host = make_host((gadgets, "gadget"))
    config = make_config(tmp_path, host)
    hub = make_hub(config, host, clock)
    gadgets.start_failures["gadget.north"] = 1

    start(hub, clock)

    assert topics(config, "gadget.north") == ["adapter.health.starting", "adapter.health.failed"]
    [failed] = [event for event in journal(config) if event["topic"] == "adapter.health.failed"]
    assert failed["payload"]["reason"] == "RuntimeError: gadget jammed"
    assert failed["payload"]["retry_in_s"] == 1.0
    assert hub.running
    assert hub.adapters["gadget.south"].status.state is AdapterState.RUNNING

    advance(clock, 0.5, step=0.5)
    assert topics(config, "gadget.north")[-1] == "adapter.health.failed"

    advance(clock, 0.5, step=0.5)
    assert topics(config, "gadget.north") == [
        "adapter.health.starting",
        "adapter.health.failed",
        "adapter.health.restarting",
        "adapter.health.running",
    ]
    assert hub.adapters["gadget.north"].status.state is AdapterState.RUNNING
    assert len(gadgets.built["gadget.north"]) == 2
    # The healthy adapter was never touched.
    assert topics(config, "gadget.south") == ["adapter.health.starting", "adapter.health.running"]
    assert len(gadgets.built["gadget.south"]) == 1
    stop(hub, clock)


# --- Stopping ---------------------------------------------------------------------------------------------


def test_stop_announces_stops_adapters_and_closes_the_journal(tmp_path, clock, gadgets):
    """Stopping journals hub.process.stopping, stops each adapter, closes the journal and leaves no timer."""
    host = make_host((gadgets, "gadget"))
    config = make_config(tmp_path, host)
    hub = make_hub(config, host, clock)
    start(hub, clock)

    stop(hub, clock)

    recorded = topics(config)
    assert recorded[-3:].count("adapter.health.stopped") == 2
    assert recorded.index("hub.process.stopping") < recorded.index("adapter.health.stopped")
    assert [event["source"] for event in journal(config) if event["topic"] == "adapter.health.stopped"] == [
        "gadget.south",  # MultiService stops its children in reverse order
        "gadget.north",
    ]
    assert not hub.running
    assert not any(service.running for services in gadgets.built.values() for service in services)
    late = gadgets.current("gadget.north").signal("too late")
    assert isinstance(failure_result_of(late).value, BusClosed)
    assert_no_pending_timers(clock)


def test_stop_while_an_adapter_waits_to_restart_leaves_no_timer(tmp_path, clock, gadgets):
    """Stopping while an adapter waits out its back-off cancels the restart."""
    host = make_host((gadgets, "gadget"))
    config = make_config(tmp_path, host)
    hub = make_hub(config, host, clock)
    gadgets.start_failures["gadget.north"] = 1
    start(hub, clock)

    stop(hub, clock)

    assert_no_pending_timers(clock)
    assert "adapter.health.restarting" not in topics(config, "gadget.north")


def test_stop_waits_for_hub_stopping_plugins(tmp_path, clock, gadgets):
    """Stopping waits for each plugin's hub_stopping Deferred before it stops the adapters."""
    slow = SlowStoppingPlugin()
    host = make_host((gadgets, "gadget"), (slow, "slow"))
    config = make_config(tmp_path, host)
    hub = make_hub(config, host, clock)
    start(hub, clock)

    stopped = hub.stopService()
    settle(clock)

    assert slow.told == [hub]
    assert has_no_result(stopped)
    assert "adapter.health.stopped" not in topics(config)
    assert all(adapter.status.state is AdapterState.RUNNING for adapter in hub.adapters.values())

    slow.done.callback(None)
    settle(clock)

    assert success_result_of(stopped) is None
    assert topics(config).count("adapter.health.stopped") == 2
    assert_no_pending_timers(clock)


def test_stop_abandons_a_plugin_that_overruns_the_grace_period(tmp_path, clock, gadgets):
    """A hub_stopping that never finishes is given up on after shutdown_grace_s, and the stop completes."""
    slow = SlowStoppingPlugin()
    host = make_host((gadgets, "gadget"), (slow, "slow"))
    config = make_config(tmp_path, host, hub={"shutdown_grace_s": 5})
    hub = make_hub(config, host, clock)
    start(hub, clock)

    stopped = hub.stopService()
    settle(clock)
    advance(clock, 4.5, step=0.5)
    assert has_no_result(stopped)

    advance(clock, 0.5, step=0.5)

    assert success_result_of(stopped) is None
    assert topics(config).count("adapter.health.stopped") == 2
    assert_no_pending_timers(clock)


# --- Simulators -----------------------------------------------------------------------------------------


@pytest.fixture
def workshop(gadgets) -> WorkshopPlugin:
    return WorkshopPlugin(gadgets)


def simulator_hub(tmp_path, clock, gadgets, workshop, simulators: dict[str, Any]) -> tuple[Hub, HubConfig]:
    host = make_host((gadgets, "gadget"), (workshop, "workshop"))
    config = make_config(tmp_path, host, simulators=simulators)
    return make_hub(config, host, clock), config


def simulator_failures(config: HubConfig) -> list[dict[str, Any]]:
    return [event["payload"] for event in journal(config) if event["topic"] == "hub.simulator.failed"]


def test_simulators_start_before_any_adapter_and_the_hub_waits_for_them(tmp_path, clock, gadgets, workshop):
    """Adapters are started only once every simulator's startService Deferred has fired, in file order."""
    hub, config = simulator_hub(tmp_path, clock, gadgets, workshop,
                                {"radio": {"type": "workshop", "start": "waits"}, "panel": {"type": "workshop"}})
    starting = hub.startService()
    settle(clock)

    assert has_no_result(starting)
    assert list(workshop.built) == ["radio"] and gadgets.built == {}

    workshop.built["radio"].starting.callback(None)
    settle(clock)

    assert success_result_of(starting) is None
    assert [(what, name) for what, name, _adapters in workshop.diary] == [
        ("simulator starting", "radio"), ("simulator starting", "panel")]
    assert all(adapters == [] for _what, _name, adapters in workshop.diary)
    assert list(hub.simulators) == ["radio", "panel"] and hub.simulator_failures == {}
    assert sorted(gadgets.built) == ["gadget.north", "gadget.south"]
    stop(hub, clock)


def test_a_simulator_is_given_its_name_config_reactor_log_and_folder(tmp_path, clock, gadgets, workshop,
                                                                     captured_logs):
    """The SimulatorContext carries the instance name, its validated config, the hub's reactor and a bound log."""
    hub, _config = simulator_hub(tmp_path, clock, gadgets, workshop, {"radio": {"type": "workshop"}})
    start(hub, clock)
    context = workshop.built["radio"].context
    assert (context.name, context.config, context.reactor, context.base_dir) == (
        "radio", WorkshopConfig(), clock, tmp_path)
    context.log.info("handset_pressed")
    [entry] = [entry for entry in captured_logs if entry["event"] == "handset_pressed"]
    assert (entry["simulator"], entry["simulator_type"]) == ("radio", "workshop")
    stop(hub, clock)


def test_an_async_start_is_waited_for(tmp_path, clock, gadgets, workshop):
    """A startService that returns a coroutine is run and waited for like a Deferred."""
    hub, _config = simulator_hub(tmp_path, clock, gadgets, workshop, {"radio": {"type": "workshop", "start": "async"}})
    starting = hub.startService()
    settle(clock)
    assert has_no_result(starting) and gadgets.built == {}
    workshop.built["radio"].starting.callback(None)
    settle(clock)
    assert success_result_of(starting) is None
    stop(hub, clock)


def test_a_disabled_simulator_is_not_built(tmp_path, clock, gadgets, workshop):
    """enabled = false keeps a simulator table in the file without running it."""
    hub, _config = simulator_hub(tmp_path, clock, gadgets, workshop,
                                 {"radio": {"type": "workshop", "enabled": False}})
    start(hub, clock)
    assert workshop.built == {} and hub.simulators == {}
    stop(hub, clock)


@pytest.mark.parametrize(
    ("start_as", "error"),
    [
        ("raises", "OSError: no pseudo-terminals left"),
        ("unbuildable", "ValueError: cannot build the workshop"),
    ],
)
def test_a_simulator_that_fails_is_reported_and_the_hub_runs_without_it(
    tmp_path, clock, gadgets, workshop, captured_logs, start_as, error
):
    """A failed simulator is logged and journaled as hub.simulator.failed (high); the rest start as usual."""
    hub, config = simulator_hub(tmp_path, clock, gadgets, workshop,
                                {"broken": {"type": "workshop", "start": start_as}, "radio": {"type": "workshop"}})
    start(hub, clock)

    assert simulator_failures(config) == [{"simulator": "broken", "simulator_type": "workshop", "error": error}]
    [event] = [event for event in journal(config) if event["topic"] == "hub.simulator.failed"]
    assert event["severity"] == "high" and event["subject"] == {"kind": "simulator", "id": "broken", "name": None}
    assert event["summary"] == f"Simulator broken (workshop) could not start: {error}"
    [entry] = [entry for entry in captured_logs if entry["event"] == "simulator_failed"]
    assert (entry["simulator"], entry["error"], entry["log_level"]) == ("broken", error, "error")
    assert hub.simulator_failures == {"broken": error}
    assert list(hub.simulators) == ["radio"]
    assert all(adapter.status.state is AdapterState.RUNNING for adapter in hub.adapters.values())
    stop(hub, clock)


def test_a_simulator_that_never_starts_is_given_up_on(tmp_path, clock, gadgets, workshop):
    """After SIMULATOR_START_TIMEOUT_S on the hub's clock the start is cancelled, reported, and the hub goes on."""
    hub, config = simulator_hub(tmp_path, clock, gadgets, workshop, {"radio": {"type": "workshop", "start": "never"}})
    starting = hub.startService()
    settle(clock)
    advance(clock, SIMULATOR_START_TIMEOUT_S - 1)
    assert has_no_result(starting)

    advance(clock, 1)

    assert success_result_of(starting) is None
    assert simulator_failures(config) == [{"simulator": "radio", "simulator_type": "workshop",
                                           "error": f"TimeoutError: did not start within {SIMULATOR_START_TIMEOUT_S:g} s"}]
    assert hub.simulators == {} and sorted(gadgets.built) == ["gadget.north", "gadget.south"]
    stop(hub, clock)


def test_simulators_stop_after_every_adapter_has_stopped(tmp_path, clock, gadgets, workshop):
    """On shutdown the adapters stop first; then the simulators, last started first, each waited for."""
    hub, config = simulator_hub(tmp_path, clock, gadgets, workshop,
                                {"radio": {"type": "workshop"}, "panel": {"type": "workshop", "stop": "waits"}})
    start(hub, clock)

    stopped = hub.stopService()
    settle(clock)

    assert has_no_result(stopped)
    assert workshop.diary[-1] == ("simulator stopping", "panel", [False, False])
    workshop.built["panel"].stopping.callback(None)
    settle(clock)

    assert success_result_of(stopped) is None
    assert [(what, name) for what, name, _adapters in workshop.diary[-2:]] == [
        ("simulator stopping", "panel"), ("simulator stopping", "radio")]
    assert topics(config).count("adapter.health.stopped") == 2
    assert_no_pending_timers(clock)


def test_a_simulator_that_does_not_stop_is_abandoned_after_the_grace_period(tmp_path, clock, gadgets, workshop,
                                                                            captured_logs):
    """A simulator stop that never finishes is given up after shutdown_grace_s, logged, and the hub stops."""
    hub, _config = simulator_hub(tmp_path, clock, gadgets, workshop, {"radio": {"type": "workshop", "stop": "never"}})
    start(hub, clock)
    stopped = hub.stopService()
    settle(clock)
    advance(clock, 4.5, step=0.5)
    assert has_no_result(stopped)

    advance(clock, 0.5, step=0.5)

    assert success_result_of(stopped) is None
    [entry] = [entry for entry in captured_logs if entry["event"] == "simulator_stop_failed"]
    assert entry["error"] == "TimeoutError: did not stop within 5 s"
    assert_no_pending_timers(clock)


# --- Retention --------------------------------------------------------------------------------------------


def test_retention_prunes_events_older_than_retention_days(tmp_path, clock, gadgets):
    """Each prune interval, events older than retention_days are deleted and newer ones kept."""
    host = make_host((gadgets, "gadget"))
    # 1000 s of retention, pruned every 100 s.
    config = make_config(
        tmp_path, host, journal={"retention_days": 1000 / 86_400, "prune_interval_s": 100}
    )
    hub = make_hub(config, host, clock)
    start(hub, clock)
    at_start = len(journal(config))

    advance(clock, 500, step=100)
    gadgets.current("gadget.north").signal("half way")
    settle(clock)
    # At START + 1000 nothing is older than 1000 s yet.
    advance(clock, 500, step=100)
    assert len(journal(config)) == at_start + 1

    advance(clock, 100, step=100)

    remaining = journal(config)
    assert [event["topic"] for event in remaining] == ["gadget.signal.received"]
    assert remaining[0]["seq"] == at_start + 1
    stop(hub, clock)


# --- One hub per data directory ---------------------------------------------------------------------------


def test_second_hub_on_the_same_data_dir_fails_to_start(tmp_path, clock, gadgets):
    """A second hub on a data directory in use fails with DataDirInUse naming the pid; the first runs on."""
    host = make_host((gadgets, "gadget"))
    config = make_config(tmp_path, host)
    first = make_hub(config, host, clock)
    start(first, clock)

    second_host = make_host((GadgetPlugin(), "gadget"))
    second = make_hub(make_config(tmp_path, second_host), second_host, clock)
    starting = second.startService()
    settle(clock)

    error = failure_result_of(starting).value
    assert isinstance(error, DataDirInUse)
    assert f"pid {os.getpid()}" in str(error)
    assert first.running
    published = gadgets.current("gadget.north").signal("first hub still writes")
    settle(clock)
    assert success_result_of(published) > 0
    assert "gadget.signal.received" in topics(config)
    assert topics(config).count("hub.process.started") == 1
    success_result_of(second.stopService())
    stop(first, clock)


def test_a_stopped_hub_releases_its_data_dir(tmp_path, clock, gadgets):
    """Once a hub has stopped, another starts on its data directory and carries on its journal."""
    host = make_host((gadgets, "gadget"))
    config = make_config(tmp_path, host)
    first = make_hub(config, host, clock)
    start(first, clock)
    stop(first, clock)
    head = len(journal(config))

    second = make_hub(config, host, clock)
    start(second, clock)

    assert second.started_seq is not None and second.started_seq > head
    assert topics(config).count("hub.process.started") == 2
    stop(second, clock)


# --- Plugins' own tables ----------------------------------------------------------------------------------


class GadgetTablesPlugin:
    """Keeps a table of gadget sightings; ``migrations`` is its schema history as installed."""

    def __init__(self, *migrations: Any) -> None:
        self.migrations = migrations

    @hookimpl
    def hub_register_schemas(self) -> list[PluginSchema]:
        return [PluginSchema(name="gadget", migrations=self.migrations)]


def create_sightings(connection: Any) -> None:
    connection.execute("CREATE TABLE gadget_sightings (gadget TEXT NOT NULL, at REAL NOT NULL)")


def add_sighting_notes(connection: Any) -> None:
    connection.execute("ALTER TABLE gadget_sightings ADD COLUMN note TEXT")


def test_start_migrates_plugin_tables_and_adapters_reach_them_through_their_context(tmp_path, clock, gadgets):
    """hub_register_schemas tables exist before any adapter runs; context.database writes and reads them."""
    host = make_host((gadgets, "gadget"), (GadgetTablesPlugin(create_sightings), "gadget_tables"))
    config = make_config(tmp_path, host)
    hub = make_hub(config, host, clock)

    start(hub, clock)

    database = gadgets.current("gadget.north").context.database
    assert database is hub.database and database is not None
    written = database.write(lambda connection: connection.execute(
        "INSERT INTO gadget_sightings VALUES ('north', ?)", (clock.seconds(),)).rowcount)
    settle(clock)
    assert success_result_of(written) == 1
    assert database.read(lambda c: c.execute("SELECT gadget, at FROM gadget_sightings").fetchall()) == [
        ("north", START)]
    assert database.read(lambda c: c.execute("SELECT name, version, updated_at FROM plugin_schemas").fetchall()) == [
        ("gadget", 1, START)]
    stop(hub, clock)
    with pytest.raises(DatabaseClosed):
        database.read(lambda c: c.execute("SELECT 1").fetchall())


def test_an_upgraded_plugin_has_its_new_migrations_run_at_the_next_start(tmp_path, clock, gadgets):
    """A restart with a newer plugin runs only what it adds; the rows already there are kept."""
    host = make_host((gadgets, "gadget"), (GadgetTablesPlugin(create_sightings), "gadget_tables"))
    config = make_config(tmp_path, host)
    first = make_hub(config, host, clock)
    start(first, clock)
    first.database.write(lambda c: c.execute("INSERT INTO gadget_sightings VALUES ('north', 1.0)"))
    stop(first, clock)

    upgraded = make_host((GadgetPlugin(), "gadget"),
                         (GadgetTablesPlugin(create_sightings, add_sighting_notes), "gadget_tables"))
    second = make_hub(config, upgraded, clock)
    start(second, clock)

    assert second.database.read(lambda c: c.execute("SELECT gadget, note FROM gadget_sightings").fetchall()) == [
        ("north", None)]
    assert second.database.read(lambda c: c.execute("SELECT version FROM plugin_schemas").fetchall()) == [(2,)]
    stop(second, clock)


def test_tables_newer_than_the_installed_plugin_stop_the_start_naming_the_plugin(tmp_path, clock, gadgets):
    """A downgraded plugin does not start on tables it does not know; the data folder is let go."""
    newer = make_host((gadgets, "gadget"),
                      (GadgetTablesPlugin(create_sightings, add_sighting_notes), "gadget_tables"))
    config = make_config(tmp_path, newer)
    first = make_hub(config, newer, clock)
    start(first, clock)
    stop(first, clock)

    older = make_host((GadgetPlugin(), "gadget"), (GadgetTablesPlugin(create_sightings), "gadget_tables"))
    second = make_hub(config, older, clock)
    starting = second.startService()
    settle(clock)

    error = failure_result_of(starting).value
    assert isinstance(error, PluginSchemaError)
    assert "plugin 'gadget_tables'" in str(error) and "version 2" in str(error)
    assert second.adapters == {}
    assert topics(config).count("hub.process.started") == 1  # nothing was published by the refused start
    third = make_hub(config, newer, clock)  # the data folder's lock was released
    start(third, clock)
    stop(third, clock)
