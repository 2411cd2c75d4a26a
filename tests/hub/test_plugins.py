"""The plugin host finds plugins, checks their hooks, and calls each one on its own."""

from __future__ import annotations

import importlib.metadata
import sys
import textwrap
from typing import Any, ClassVar

import pytest
from attrs import frozen
from twisted.application.service import Service
from twisted.internet.defer import Deferred, fail, succeed

from hub.api import AdapterType, Benchmark, CliCommand, ConsolePanel, PluginSchema, SimulatorType, WebRoute
from hub.events import CORE_EVENT_TYPES
from hub.hookspecs import hookimpl
from hub.plugins import (
    CORE_PLUGIN_NAME,
    ENTRY_POINT_GROUP,
    PluginError,
    PluginFailure,
    PluginInfo,
    hook_names,
    make_plugin_manager,
)
from hub.testing import success_result_of

# --- Throwaway plugins ------------------------------------------------------------------------------


@frozen
class DoorConfig:
    host: str = "192.0.2.10"


@frozen
class DoorOpened:
    """A payload a throwaway plugin contributes."""

    TYPE: ClassVar[str] = "door.contact.opened"

    door: str


def door_adapter(context: Any) -> Service:
    return Service()


DOOR = AdapterType(name="door", config_class=DoorConfig, factory=door_adapter, description="door contacts")
DOOR_SIMULATOR = SimulatorType(name="door", config_class=DoorConfig, factory=door_adapter,
                               description="a door that opens now and then")
ROUTE = WebRoute(path="doors", resource_factory=lambda hub: None, roles=("operator",))
PANEL = ConsolePanel(name="doors", title="Doors", script_path="doors.js")
DOOR_SCHEMA = PluginSchema(name="doors", migrations=(lambda connection: connection.execute("CREATE TABLE doors_seen (door TEXT)"),))


def command(name: str) -> CliCommand:
    return CliCommand(name=name, help=f"the {name} command", add_arguments=lambda parser: None,
                      run=lambda args: 0)


def benchmark(name: str) -> Benchmark:
    return Benchmark(name=name, help=f"the {name} benchmark", add_arguments=lambda parser: None,
                     run=lambda args, reactor: {"doors_per_s": 1.0})


class DoorPlugin:
    """A plugin implementing every hook, recording the lifecycle calls it gets."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    @hookimpl
    def hub_register_adapter_types(self) -> list[AdapterType]:
        return [DOOR]

    @hookimpl
    def hub_register_event_types(self) -> list[type]:
        return [DoorOpened]

    @hookimpl
    def hub_register_web_routes(self) -> list[WebRoute]:
        return [ROUTE]

    @hookimpl
    def hub_register_console_panels(self) -> list[ConsolePanel]:
        return [PANEL]

    @hookimpl
    def hub_register_cli_commands(self) -> list[CliCommand]:
        return [command("door-test")]

    @hookimpl
    def hub_register_benchmarks(self) -> list[Benchmark]:
        return [benchmark("doors")]

    @hookimpl
    def hub_register_simulators(self) -> list[SimulatorType]:
        return [DOOR_SIMULATOR]

    @hookimpl
    def hub_register_schemas(self) -> list[PluginSchema]:
        return [DOOR_SCHEMA]

    @hookimpl
    def hub_started(self, hub: Any) -> None:
        self.calls.append(("hub_started", hub))

    @hookimpl
    def hub_stopping(self, hub: Any) -> None:
        self.calls.append(("hub_stopping", hub))


class Returns:
    """A plugin whose every hook returns (or raises) what the test says."""

    def __init__(self, answer: Any = None, *, raises: BaseException | None = None) -> None:
        self._answer = answer
        self._raises = raises

    def _give(self) -> Any:
        if self._raises is not None:
            raise self._raises
        return self._answer() if callable(self._answer) else self._answer

    @hookimpl
    def hub_register_adapter_types(self) -> Any:
        return self._give()

    @hookimpl
    def hub_register_event_types(self) -> Any:
        return self._give()

    @hookimpl
    def hub_register_web_routes(self) -> Any:
        return self._give()

    @hookimpl
    def hub_register_console_panels(self) -> Any:
        return self._give()

    @hookimpl
    def hub_register_cli_commands(self) -> Any:
        return self._give()

    @hookimpl
    def hub_register_benchmarks(self) -> Any:
        return self._give()

    @hookimpl
    def hub_register_simulators(self) -> Any:
        return self._give()

    @hookimpl
    def hub_register_schemas(self) -> Any:
        return self._give()

    @hookimpl
    def hub_started(self, hub: Any) -> Any:
        return self._give()

    @hookimpl
    def hub_stopping(self, hub: Any) -> Any:
        return self._give()


class OffersCommands:
    def __init__(self, *names: str) -> None:
        self._names = names

    @hookimpl
    def hub_register_cli_commands(self) -> list[CliCommand]:
        return [command(name) for name in self._names]


class OffersBenchmarks:
    def __init__(self, *names: str) -> None:
        self._names = names

    @hookimpl
    def hub_register_benchmarks(self) -> list[Benchmark]:
        return [benchmark(name) for name in self._names]


class OffersSimulatorType:
    def __init__(self, simulator_type: SimulatorType) -> None:
        self._simulator_type = simulator_type

    @hookimpl
    def hub_register_simulators(self) -> list[SimulatorType]:
        return [self._simulator_type]


class OffersAdapterType:
    def __init__(self, adapter_type: AdapterType) -> None:
        self._adapter_type = adapter_type

    @hookimpl
    def hub_register_adapter_types(self) -> list[AdapterType]:
        return [self._adapter_type]


def host_with(*plugins: tuple[object, str], **kwargs: Any) -> Any:
    return make_plugin_manager(load_entry_points=False, extra_plugins=plugins, **kwargs)




# --- The core plugin ------------------------------------------------------------------------------


def test_the_core_plugin_is_always_registered():
    """A new host holds the hub's own plugin, even with no entry points loaded."""
    host = host_with()
    assert host.plugin_names() == [CORE_PLUGIN_NAME]
    assert host.failures == []


def test_the_core_plugin_contributes_the_core_event_types():
    """The hub's own event types come in through hub_register_event_types like any plugin's."""
    assert set(CORE_EVENT_TYPES) <= set(host_with().event_types())


def test_the_plugin_manager_fixture_is_a_fresh_host_with_the_core_plugin(plugin_manager):
    """The author kit's plugin_manager fixture holds only the core plugin and accepts a throwaway one."""
    plugin_manager.manager.register(DoorPlugin(), name="doors")
    assert plugin_manager.plugin_names() == ["doors", CORE_PLUGIN_NAME]
    assert plugin_manager.adapter_types() == {"door": DOOR}


def test_hook_names_lists_every_hookspec():
    """hook_names() gives every hook in hub/hookspecs.py, and nothing else."""
    assert hook_names() == [
        "hub_register_adapter_types",
        "hub_register_benchmarks",
        "hub_register_cli_commands",
        "hub_register_console_panels",
        "hub_register_event_types",
        "hub_register_schemas",
        "hub_register_simulators",
        "hub_register_web_routes",
        "hub_started",
        "hub_stopping",
    ]


# --- What a plugin contributes ------------------------------------------------------------------


def test_a_plugin_contributes_adapter_types_by_name():
    """hub_register_adapter_types answers are collected into a dict keyed by adapter type name."""
    assert host_with((DoorPlugin(), "doors")).adapter_types() == {"door": DOOR}


def test_a_plugin_contributes_event_types_beside_the_core_ones():
    """hub_register_event_types answers are added to the core event types."""
    event_types = host_with((DoorPlugin(), "doors")).event_types()
    assert DoorOpened in event_types
    assert set(CORE_EVENT_TYPES) <= set(event_types)


def test_a_plugin_contributes_web_routes_labelled_with_the_plugin():
    """hub_register_web_routes answers come back with the name of the plugin that gave them."""
    assert host_with((DoorPlugin(), "doors")).web_routes() == [("doors", ROUTE)]


def test_a_plugin_contributes_console_panels_labelled_with_the_plugin():
    """hub_register_console_panels answers come back with the name of the plugin that gave them."""
    assert host_with((DoorPlugin(), "doors")).console_panels() == [("doors", PANEL)]


def test_a_plugin_contributes_cli_commands_labelled_with_the_plugin():
    """hub_register_cli_commands answers come back with the name of the plugin that gave them."""
    [(plugin, found)] = host_with((DoorPlugin(), "doors")).cli_commands(reserved=("run",))
    assert (plugin, found.name) == ("doors", "door-test")


def test_a_plugin_contributes_benchmarks_labelled_with_the_plugin():
    """hub_register_benchmarks answers come back with the name of the plugin that gave them."""
    [(plugin, found)] = host_with((DoorPlugin(), "doors")).benchmarks(reserved=("bus", "console"))
    assert (plugin, found.name) == ("doors", "doors")
    assert found.run(None, None) == {"doors_per_s": 1.0}


def test_a_plugin_contributes_simulator_types_by_name():
    """hub_register_simulators answers are collected into a dict keyed by simulator type name."""
    assert host_with((DoorPlugin(), "doors")).simulator_types() == {"door": DOOR_SIMULATOR}


def test_a_plugin_contributes_table_schemas_by_name_and_is_named_as_their_owner():
    """hub_register_schemas answers are collected into a dict keyed by schema name; the owner is known."""
    host = host_with((DoorPlugin(), "doors"))
    assert host.plugin_schemas() == {"doors": DOOR_SCHEMA}
    assert host.schema_owner("doors") == "doors"
    assert host.schema_owner("windows") is None


def test_hub_started_and_hub_stopping_are_given_the_hub():
    """started() and stopping() call each plugin's lifecycle hook with the hub and fire when done."""
    plugin = DoorPlugin()
    host = host_with((plugin, "doors"))
    hub = object()
    assert success_result_of(host.started(hub)) is None
    assert success_result_of(host.stopping(hub)) is None
    assert plugin.calls == [("hub_started", hub), ("hub_stopping", hub)]


def test_lifecycle_hooks_are_waited_for_when_they_return_a_deferred():
    """started() fires only once every Deferred a plugin returned has fired."""
    waiting: Deferred[None] = Deferred()
    host = host_with((Returns(waiting), "slow"))
    started = host.started(object())
    assert not started.called
    waiting.callback(None)
    assert started.called
    assert host.failures == []


def test_an_async_def_lifecycle_hook_is_run_and_waited_for():
    """A coroutine returned by an ``async def`` hub_started is run as a Deferred, not dropped."""
    gate: Deferred[None] = Deferred()
    ran: list[str] = []

    class AsyncPlugin:
        @hookimpl
        async def hub_started(self, hub: Any) -> None:
            await gate
            ran.append("after the gate")

    host = host_with((AsyncPlugin(), "async"))
    started = host.started(object())
    assert not started.called
    gate.callback(None)
    assert ran == ["after the gate"]
    assert started.called


# --- One failing plugin leaves the others alone -------------------------------------------------


@pytest.mark.parametrize(
    ("method", "hook"),
    [
        ("adapter_types", "hub_register_adapter_types"),
        ("event_types", "hub_register_event_types"),
        ("web_routes", "hub_register_web_routes"),
        ("console_panels", "hub_register_console_panels"),
        ("cli_commands", "hub_register_cli_commands"),
        ("benchmarks", "hub_register_benchmarks"),
        ("simulator_types", "hub_register_simulators"),
        ("plugin_schemas", "hub_register_schemas"),
    ],
)
def test_a_plugin_that_raises_is_recorded_and_the_others_are_kept(method, hook, captured_logs):
    """A registration hook that raises is recorded and logged; another plugin's answer still counts."""
    host = host_with((DoorPlugin(), "doors"), (Returns(raises=RuntimeError("no panel")), "broken"))
    kept = getattr(host, method)()
    assert kept, "the working plugin's contribution was lost"
    assert host.failures == [PluginFailure("broken", hook, "RuntimeError: no panel")]
    [entry] = [entry for entry in captured_logs if entry["event"] == "plugin_failed"]
    assert entry == {
        "event": "plugin_failed",
        "log_level": "error",
        "plugin": "broken",
        "hook": hook,
        "error": "RuntimeError: no panel",
    }


@pytest.mark.parametrize(
    "answer",
    [DOOR, "door", {"door": DOOR}, [DOOR, "door"], [DoorConfig()], succeed([DOOR])],
    ids=["one item", "a string", "a dict", "a mixed list", "wrong items", "a deferred"],
)
def test_a_hook_returning_the_wrong_shape_is_recorded(answer):
    """A registration hook must return a list of its kind; anything else is a recorded failure."""
    host = host_with((DoorPlugin(), "doors"), (Returns(answer), "odd"))
    assert host.adapter_types() == {"door": DOOR}
    [failure] = host.failures
    assert (failure.plugin, failure.hook) == ("odd", "hub_register_adapter_types")
    assert failure.error.startswith("TypeError: returned ")
    assert "expected a list of AdapterType" in failure.error


def test_a_hook_returning_none_contributes_nothing_and_is_not_a_failure():
    """None from a registration hook means "nothing to add"."""
    host = host_with((Returns(None), "quiet"))
    assert host.adapter_types() == {}
    assert host.failures == []


def test_asking_again_does_not_record_the_same_failure_twice():
    """Registration hooks are asked more than once; each failure is recorded once."""
    host = host_with((Returns(raises=RuntimeError("no panel")), "broken"))
    host.adapter_types()
    host.adapter_types()
    host.describe()
    host.describe()
    assert host.failures == [PluginFailure("broken", "hub_register_adapter_types", "RuntimeError: no panel"),
                             PluginFailure("broken", "hub_register_simulators", "RuntimeError: no panel")]


def test_a_lifecycle_hook_that_raises_is_recorded_not_raised():
    """hub_started raising is recorded; started() still fires and other plugins were still called."""
    good = DoorPlugin()
    host = host_with((good, "doors"), (Returns(raises=RuntimeError("no metrics")), "broken"))
    assert success_result_of(host.started(object())) is None
    assert host.failures == [PluginFailure("broken", "hub_started", "RuntimeError: no metrics")]
    assert [call for call, _hub in good.calls] == ["hub_started"]


@pytest.mark.parametrize(("method", "hook"), [("started", "hub_started"), ("stopping", "hub_stopping")])
def test_a_failed_lifecycle_deferred_is_recorded_not_raised(method, hook):
    """A Deferred that fails from hub_started or hub_stopping is recorded; the host's Deferred succeeds."""
    host = host_with((Returns(lambda: fail(ValueError("feed gone"))), "broken"), (DoorPlugin(), "doors"))
    assert success_result_of(getattr(host, method)(object())) is None
    assert host.failures == [PluginFailure("broken", hook, "ValueError: feed gone")]


def test_a_lifecycle_deferred_that_fails_later_is_recorded_when_it_fails():
    """started() waits for a slow Deferred and records its failure once it comes."""
    waiting: Deferred[None] = Deferred()
    host = host_with((Returns(waiting), "slow"))
    started = host.started(object())
    assert host.failures == []
    waiting.errback(ConnectionError("broker refused"))
    assert success_result_of(started) is None
    assert host.failures == [PluginFailure("slow", "hub_started", "ConnectionError: broker refused")]


# --- Problems that stop the start ------------------------------------------------------------------


class OffersSchema:
    def __init__(self, schema: PluginSchema) -> None:
        self._schema = schema

    @hookimpl
    def hub_register_schemas(self) -> list[PluginSchema]:
        return [self._schema]


def test_two_plugins_offering_one_schema_name_is_an_error_naming_both():
    """Two plugins may not keep tables under one schema name: their versions would be one row."""
    other = PluginSchema(name="doors", migrations=())
    host = host_with((OffersSchema(DOOR_SCHEMA), "doors"), (OffersSchema(other), "more_doors"))
    with pytest.raises(PluginError) as raised:
        host.plugin_schemas()
    message = str(raised.value)
    assert "plugin schema 'doors'" in message
    assert "'doors'" in message and "'more_doors'" in message


def test_two_plugins_offering_one_adapter_type_name_is_an_error_naming_both():
    """Two plugins may not both offer adapter type "door": the error names each, and how to fix it."""
    other = AdapterType(name="door", config_class=DoorConfig, factory=door_adapter)
    host = host_with((OffersAdapterType(DOOR), "doors"), (OffersAdapterType(other), "more_doors"))
    with pytest.raises(PluginError) as raised:
        host.adapter_types()
    message = str(raised.value)
    assert "'door'" in message
    assert "'doors'" in message and "'more_doors'" in message
    assert "block one of them" in message


def test_two_plugins_offering_one_simulator_type_name_is_an_error_naming_both():
    """Two plugins may not both offer simulator type "door": the error names each, and how to fix it."""
    other = SimulatorType(name="door", config_class=DoorConfig, factory=door_adapter)
    host = host_with((OffersSimulatorType(DOOR_SIMULATOR), "doors"), (OffersSimulatorType(other), "more_doors"))
    with pytest.raises(PluginError) as raised:
        host.simulator_types()
    message = str(raised.value)
    assert "simulator type 'door'" in message
    assert "'doors'" in message and "'more_doors'" in message
    assert "block one of them" in message


def test_a_misspelt_hook_stops_the_start_naming_the_plugin():
    """A hook implementation with no matching hookspec makes make_plugin_manager raise, naming its plugin."""

    class Misspelt:
        @hookimpl
        def hub_register_adapter_type(self) -> list[AdapterType]:
            return [DOOR]

    with pytest.raises(PluginError) as raised:
        host_with((Misspelt(), "door_typo"))
    message = str(raised.value)
    assert "'door_typo'" in message
    assert "hub_register_adapter_type" in message
    assert "hub/hookspecs.py" in message


# --- Blocking ------------------------------------------------------------------------------------------


def test_a_blocked_plugin_is_not_registered():
    """A plugin named in blocked is left out: its hooks are never called."""
    host = host_with((DoorPlugin(), "doors"), blocked=["doors"])
    assert host.plugin_names() == [CORE_PLUGIN_NAME]
    assert host.adapter_types() == {}


def test_describe_lists_blocked_plugins_as_blocked():
    """describe() shows installed plugins with their adapter types, then the blocked ones."""
    host = host_with((DoorPlugin(), "doors"), (DoorPlugin(), "spare_doors"), blocked=["spare_doors"])
    infos = host.describe()
    assert [(info.name, info.adapter_types, info.blocked) for info in infos] == [
        ("doors", ("door",), False),
        (CORE_PLUGIN_NAME, (), False),
        ("spare_doors", (), True),
    ]
    assert infos[-1] == PluginInfo("spare_doors", "-", None, (), blocked=True)


def test_describe_lists_each_plugins_simulator_types():
    """describe() names the simulator types a plugin offers beside its adapter types."""
    [doors, _core] = host_with((DoorPlugin(), "doors")).describe()
    assert (doors.adapter_types, doors.simulator_types) == (("door",), ("door",))


# --- CLI commands -------------------------------------------------------------------------------------


def test_a_cli_command_clashing_with_a_built_in_is_refused():
    """A plugin command named like a built-in one is left out and recorded, naming the hub."""
    host = host_with((OffersCommands("run", "doors"), "doors"))
    assert [found.name for _plugin, found in host.cli_commands(reserved=("run", "demo"))] == ["doors"]
    [failure] = host.failures
    assert (failure.plugin, failure.hook) == ("doors", "hub_register_cli_commands")
    assert "'run'" in failure.error and "the hub" in failure.error


def test_a_cli_command_clashing_with_another_plugins_is_refused():
    """Two plugins offering one command name: one keeps it, the other is refused naming the keeper."""
    host = host_with((OffersCommands("doors"), "first"), (OffersCommands("doors"), "second"))
    [(keeper, found)] = host.cli_commands()
    assert found.name == "doors"
    [failure] = host.failures
    assert {keeper, failure.plugin} == {"first", "second"}
    assert failure.hook == "hub_register_cli_commands"
    assert "'doors'" in failure.error and repr(keeper) in failure.error


# --- Benchmarks ----------------------------------------------------------------------------------------


def test_a_benchmark_clashing_with_a_built_in_is_refused_naming_the_hub():
    """A plugin benchmark named bus is left out and recorded, naming the hub; its others are kept."""
    host = host_with((OffersBenchmarks("bus", "doors"), "doors"))
    assert [found.name for _plugin, found in host.benchmarks(reserved=("bus", "console"))] == ["doors"]
    assert host.failures == [PluginFailure(
        "doors", "hub_register_benchmarks", "ValueError: benchmark 'bus' is already provided by the hub")]


def test_a_benchmark_clashing_with_another_plugins_is_refused_naming_both():
    """Two plugins offering one benchmark name: one keeps it, the other is refused naming the keeper."""
    host = host_with((OffersBenchmarks("doors"), "first"), (OffersBenchmarks("doors"), "second"))
    [(keeper, found)] = host.benchmarks()
    host.benchmarks()  # asked again, the refusal is not recorded twice
    [failure] = host.failures
    assert {keeper, failure.plugin} == {"first", "second"}
    assert failure.hook == "hub_register_benchmarks"
    assert failure.error == f"ValueError: benchmark 'doors' is already provided by plugin {keeper!r}"


# --- Entry points ---------------------------------------------------------------------------------------


@pytest.fixture
def plugin_modules(tmp_path, monkeypatch):
    """Writes plugin modules into a folder on sys.path; they are forgotten again after the test."""
    monkeypatch.syspath_prepend(str(tmp_path))
    written: list[str] = []

    def write(name: str, source: str) -> None:
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        written.append(name)

    yield write
    for name in written:
        sys.modules.pop(name, None)


@pytest.fixture
def entry_points(monkeypatch):
    """Makes the host see these ``(name, "module:attr")`` pairs as the hub.plugins entry points."""

    def install(*pairs: tuple[str, str]) -> None:
        found = [importlib.metadata.EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP)
                 for name, value in pairs]

        def fake_entry_points(*, group: str) -> list[importlib.metadata.EntryPoint]:
            return found if group == ENTRY_POINT_GROUP else []

        monkeypatch.setattr(importlib.metadata, "entry_points", fake_entry_points)

    return install


DOOR_PLUGIN_MODULE = """
    from attrs import frozen
    from twisted.application.service import Service

    from hub.api import AdapterType
    from hub.hookspecs import hookimpl


    @frozen
    class Config:
        host: str = "192.0.2.10"


    @hookimpl
    def hub_register_adapter_types():
        return [AdapterType(name="door", config_class=Config, factory=lambda context: Service())]
"""


def test_entry_point_plugins_are_loaded(plugin_modules, entry_points):
    """Each entry point in the hub.plugins group is imported and registered under its name."""
    plugin_modules("hub_test_door_plugin", DOOR_PLUGIN_MODULE)
    entry_points(("doors", "hub_test_door_plugin"))
    host = make_plugin_manager()
    assert host.plugin_names() == ["doors", CORE_PLUGIN_NAME]
    assert list(host.adapter_types()) == ["door"]
    assert host.failures == []


def test_an_entry_point_that_fails_to_import_is_recorded_and_the_others_load(
    plugin_modules, entry_points, captured_logs
):
    """A plugin whose import raises is recorded as a load failure; the plugins after it still load."""
    plugin_modules("hub_test_broken_plugin", "raise ImportError('no module named panelsdk')\n")
    plugin_modules("hub_test_door_plugin", DOOR_PLUGIN_MODULE)
    entry_points(("broken", "hub_test_broken_plugin"), ("doors", "hub_test_door_plugin"),
                 ("missing", "hub_test_no_such_module:plugin"))
    host = make_plugin_manager()
    assert host.plugin_names() == ["doors", CORE_PLUGIN_NAME]
    assert [(failure.plugin, failure.hook) for failure in host.failures] == [
        ("broken", "load"),
        ("missing", "load"),
    ]
    assert host.failures[0].error == "ImportError: no module named panelsdk"
    assert host.failures[1].error.startswith("ModuleNotFoundError: ")
    assert [entry["plugin"] for entry in captured_logs if entry["event"] == "plugin_failed"] == [
        "broken",
        "missing",
    ]


def test_a_blocked_entry_point_is_never_imported(plugin_modules, entry_points):
    """Blocking a plugin by name keeps its module from being imported at all."""
    plugin_modules("hub_test_explosive_plugin", "raise SystemExit('imported a blocked plugin')\n")
    entry_points(("explosive", "hub_test_explosive_plugin"))
    host = make_plugin_manager(blocked=["explosive"])
    assert "hub_test_explosive_plugin" not in sys.modules
    assert host.failures == []
    assert [info.name for info in host.describe() if info.blocked] == ["explosive"]


def test_a_misspelt_hook_in_an_entry_point_plugin_stops_the_start(plugin_modules, entry_points):
    """check_pending runs after the entry points load, so their misspelt hooks stop the start too."""
    plugin_modules("hub_test_typo_plugin", """
        from hub.hookspecs import hookimpl

        @hookimpl
        def hub_start(hub):
            pass
    """)
    entry_points(("typo", "hub_test_typo_plugin"))
    with pytest.raises(PluginError, match="'typo'.*hub_start"):
        make_plugin_manager()


def test_an_entry_point_without_a_distribution_has_an_unknown_version(plugin_modules, entry_points):
    """describe() says "unknown" for a plugin whose entry point names no distribution."""
    plugin_modules("hub_test_door_plugin", DOOR_PLUGIN_MODULE)
    entry_points(("doors", "hub_test_door_plugin"))
    [doors] = [info for info in make_plugin_manager().describe() if info.name == "doors"]
    assert (doors.version, doors.distribution, doors.adapter_types) == ("unknown", None, ("door",))


def test_the_core_plugin_is_listed_with_the_hubs_version(entry_points):
    """describe() gives the core plugin the hub's own version."""
    from hub import __version__

    entry_points()
    [core] = [info for info in make_plugin_manager().describe() if info.name == CORE_PLUGIN_NAME]
    assert core.version == __version__

