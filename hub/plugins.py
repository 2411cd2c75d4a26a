"""The plugin host: finds plugins, checks their hooks, and calls each one in isolation.

Plugins come from the entry-point group ``hub.plugins`` (the built-in adapters too, through setup.cfg)
plus the hub's own core plugin. A plugin named in ``[plugins] blocked`` is never imported. A misspelt
hook implementation stops the start with an error naming it (``check_pending``). At run time each
plugin's hook implementation is called separately: one that raises or returns nonsense is logged and
recorded, and the others' contributions are kept.
"""

from __future__ import annotations

import importlib.metadata
import inspect
from typing import Any, Iterable

import attrs
import pluggy
import structlog
from twisted.internet.defer import Deferred, DeferredList, succeed

from hub import hookspecs
from hub.api import AdapterType, Benchmark, CliCommand, ConsolePanel, PluginSchema, SimulatorType, WebRoute

ENTRY_POINT_GROUP = "hub.plugins"
CORE_PLUGIN_NAME = "hub.core"


class PluginError(Exception):
    """A plugin problem that must stop the hub from starting (a misspelt hook, a name clash)."""


@attrs.frozen
class PluginFailure:
    """A plugin that failed to load or raised in a hook; the hub went on without that part."""

    plugin: str
    hook: str
    error: str


@attrs.frozen
class PluginInfo:
    """One installed plugin, for ``hub plugins``."""

    name: str
    version: str
    distribution: str | None
    adapter_types: tuple[str, ...]
    blocked: bool = False
    simulator_types: tuple[str, ...] = ()


def make_plugin_manager(
    *,
    blocked: Iterable[str] = (),
    load_entry_points: bool = True,
    extra_plugins: Iterable[tuple[object, str]] = (),
    log: Any = None,
) -> "PluginHost":
    """A new plugin host: hookspecs added, core plugin registered, entry points loaded, hooks checked.

    ``extra_plugins`` are ``(plugin, name)`` pairs registered after the entry points: tests use it to
    add a throwaway plugin.
    """
    from hub import core_plugin

    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    host = PluginHost(manager, log=log)
    for name in blocked:
        manager.set_blocked(name)
        host.blocked.add(name)
    manager.register(core_plugin, name=CORE_PLUGIN_NAME)
    host.versions[CORE_PLUGIN_NAME] = (_own_version(), None)
    if load_entry_points:
        host.load_entry_points()
    for plugin, name in extra_plugins:
        if not manager.is_blocked(name):
            manager.register(plugin, name=name)
    try:
        manager.check_pending()
    except pluggy.PluginValidationError as error:
        # pluggy's error carries the plugin object, not the name it was registered under.
        name = manager.get_name(error.plugin) or repr(error.plugin)
        raise PluginError(
            f"plugin {name!r} implements a hook that does not exist: {error}. "
            "Hook names are listed in hub/hookspecs.py"
        ) from None
    return host


def _own_version() -> str:
    from hub import __version__

    return __version__


class PluginHost:
    """A typed facade over the pluggy manager: one method per hook, each plugin called on its own."""

    def __init__(self, manager: pluggy.PluginManager, log: Any = None) -> None:
        self.manager = manager
        self.log = log if log is not None else structlog.get_logger("hub.plugins")
        self.failures: list[PluginFailure] = []
        self.blocked: set[str] = set()
        self.versions: dict[str, tuple[str, str | None]] = {}
        # Registration hooks are asked once (as hookspecs.py promises); later callers (the config check,
        # the Hub, `hub plugins`) share the answers, and a failure is recorded once.
        self._collected: dict[str, list[tuple[str, Any]]] = {}

    # --- loading -------------------------------------------------------------------------------------

    def load_entry_points(self) -> None:
        """Import every plugin in the entry-point group; one that fails to import is left out."""
        for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            name = entry_point.name
            if self.manager.is_blocked(name) or self.manager.has_plugin(name):
                continue
            try:
                plugin = entry_point.load()
                self.manager.register(plugin, name=name)
            except Exception as error:  # noqa: BLE001 - one broken plugin must not stop the rest
                self._record(name, "load", error)
                continue
            distribution = entry_point.dist
            self.versions[name] = (
                distribution.version if distribution is not None else "unknown",
                distribution.name if distribution is not None else None,
            )

    def plugin_names(self) -> list[str]:
        # pluggy lists a blocked name with None for its plugin; it is not installed, so not named here.
        return sorted(name for name, plugin in self.manager.list_name_plugin() if plugin is not None)

    # --- calling hooks one plugin at a time ------------------------------------------------------

    def _call_each(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        hook = getattr(self.manager.hook, hook_name)
        answers: list[tuple[str, Any]] = []
        for implementation in reversed(hook.get_hookimpls()):
            arguments = {name: kwargs[name] for name in implementation.argnames}
            try:
                answer = implementation.function(**arguments)
            except Exception as error:  # noqa: BLE001 - isolate the plugin
                self._record(implementation.plugin_name, hook_name, error)
                continue
            answers.append((implementation.plugin_name, answer))
        return answers

    def _collect(self, hook_name: str, kind: type) -> list[tuple[str, Any]]:
        """Call a ``hub_register_*`` hook and keep the well-formed items of each plugin's list."""
        if hook_name in self._collected:
            return self._collected[hook_name]
        collected: list[tuple[str, Any]] = []
        for plugin, answer in self._call_each(hook_name):
            if answer is None:
                continue
            if not isinstance(answer, (list, tuple)) or not all(
                isinstance(item, kind) for item in answer
            ):
                self._record(
                    plugin,
                    hook_name,
                    TypeError(f"returned {answer!r}; expected a list of {kind.__name__}"),
                )
                continue
            collected.extend((plugin, item) for item in answer)
        self._collected[hook_name] = collected
        return collected

    def _record(self, plugin: str, hook: str, error: BaseException) -> None:
        failure = PluginFailure(plugin=plugin, hook=hook, error=f"{type(error).__name__}: {error}")
        self.failures.append(failure)
        self.log.error("plugin_failed", plugin=plugin, hook=hook, error=failure.error)

    # --- one method per hook ---------------------------------------------------------------------------

    def _named(self, hook_name: str, kind: type, what: str) -> dict[str, Any]:
        """Every ``kind`` the hook offers, by name; two plugins offering one name is a PluginError."""
        found: dict[str, tuple[str, Any]] = {}
        for plugin, offered in self._collect(hook_name, kind):
            if offered.name in found and found[offered.name][0] != plugin:
                raise PluginError(
                    f"{what} {offered.name!r} is offered by both "
                    f"{found[offered.name][0]!r} and {plugin!r}; block one of them in [plugins]"
                )
            found[offered.name] = (plugin, offered)
        return {name: offered for name, (_plugin, offered) in found.items()}

    def adapter_types(self) -> dict[str, AdapterType]:
        """Every adapter type offered, by name; two plugins offering one name is a PluginError."""
        return self._named("hub_register_adapter_types", AdapterType, "adapter type")

    def simulator_types(self) -> dict[str, SimulatorType]:
        """Every simulator type offered, by name; two plugins offering one name is a PluginError."""
        return self._named("hub_register_simulators", SimulatorType, "simulator type")

    def plugin_schemas(self) -> dict[str, PluginSchema]:
        """Every plugin's table schema, by name; two plugins offering one name is a PluginError."""
        return self._named("hub_register_schemas", PluginSchema, "plugin schema")

    def schema_owner(self, name: str) -> str | None:
        """The plugin that offers the schema called ``name`` (None if none does)."""
        return next((plugin for plugin, schema in self._collect("hub_register_schemas", PluginSchema)
                     if schema.name == name), None)

    def adapter_types_by_plugin(self) -> dict[str, list[str]]:
        by_plugin: dict[str, list[str]] = {}
        for plugin, adapter_type in self._collect("hub_register_adapter_types", AdapterType):
            by_plugin.setdefault(plugin, []).append(adapter_type.name)
        return by_plugin

    def event_types(self) -> list[type]:
        return [payload for _plugin, payload in self._collect("hub_register_event_types", type)]

    def web_routes(self) -> list[tuple[str, WebRoute]]:
        return self._collect("hub_register_web_routes", WebRoute)

    def console_panels(self) -> list[tuple[str, ConsolePanel]]:
        return self._collect("hub_register_console_panels", ConsolePanel)

    def cli_commands(self, reserved: Iterable[str] = ()) -> list[tuple[str, CliCommand]]:
        """Plugin sub-commands; a name clashing with a built-in or another plugin's is refused."""
        return self._unique("hub_register_cli_commands", CliCommand, "command", reserved)

    def benchmarks(self, reserved: Iterable[str] = ()) -> list[tuple[str, Benchmark]]:
        """Plugin benchmarks; a name clashing with a built-in one or another plugin's is refused."""
        return self._unique("hub_register_benchmarks", Benchmark, "benchmark", reserved)

    def _unique(self, hook_name: str, kind: type, noun: str, reserved: Iterable[str]) -> list[tuple[str, Any]]:
        # The first to claim a name keeps it; a later claimant is recorded as failed, its error naming
        # the first, so both plugins are named (the failure carries the later one's).
        taken = {name: "the hub" for name in reserved}
        kept: list[tuple[str, Any]] = []
        for plugin, item in self._collect(hook_name, kind):
            if item.name in taken:
                error = ValueError(f"{noun} {item.name!r} is already provided by {taken[item.name]}")
                if PluginFailure(plugin, hook_name, f"ValueError: {error}") not in self.failures:
                    self._record(plugin, hook_name, error)  # once, however often the list is asked for
                continue
            taken[item.name] = f"plugin {plugin!r}"
            kept.append((plugin, item))
        return kept

    def started(self, hub: Any) -> "Deferred[None]":
        return self._lifecycle("hub_started", hub)

    def stopping(self, hub: Any) -> "Deferred[None]":
        return self._lifecycle("hub_stopping", hub)

    def _lifecycle(self, hook_name: str, hub: Any) -> "Deferred[None]":
        waits: list[Deferred] = []
        for plugin, answer in self._call_each(hook_name, hub=hub):
            if inspect.iscoroutine(answer):
                # An ``async def`` hook is the house style; left as a bare coroutine it would never run.
                answer = Deferred.fromCoroutine(answer)
            if isinstance(answer, Deferred):
                answer.addErrback(self._lifecycle_failed, plugin, hook_name)
                waits.append(answer)
        if not waits:
            return succeed(None)
        return DeferredList(waits, consumeErrors=True).addCallback(lambda _results: None)

    def _lifecycle_failed(self, failure: Any, plugin: str, hook_name: str) -> None:
        self._record(plugin, hook_name, failure.value)

    def describe(self) -> list[PluginInfo]:
        """Every installed plugin, blocked ones included, for ``hub plugins``."""
        adapter_names = self.adapter_types_by_plugin()
        simulator_names: dict[str, list[str]] = {}
        for plugin, simulator_type in self._collect("hub_register_simulators", SimulatorType):
            simulator_names.setdefault(plugin, []).append(simulator_type.name)
        infos = []
        for name in self.plugin_names():
            version, distribution = self.versions.get(name, ("unknown", None))
            infos.append(
                PluginInfo(name, version, distribution, tuple(sorted(adapter_names.get(name, ()))),
                           simulator_types=tuple(sorted(simulator_names.get(name, ()))))
            )
        for name in sorted(self.blocked):
            infos.append(PluginInfo(name, "-", None, (), blocked=True))
        return infos


def hook_names() -> list[str]:
    """Every hook name in hub/hookspecs.py."""
    return sorted(
        name for name, value in vars(hookspecs).items() if name.startswith("hub_") and callable(value)
    )


