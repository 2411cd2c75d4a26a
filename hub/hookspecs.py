"""Every hook a hub plugin can implement, in one place.

A plugin is a module or object with functions decorated by ``hub.hookimpl`` whose names match the
functions below. The hub calls each plugin's implementation separately, so a plugin that raises is
logged, recorded as a ``hub.plugin.failed`` event and left out, and the others go on.
None of these hooks is ``firstresult``: every plugin's answer is collected. docs/writing-a-plugin.md
describes each hook with an example; tests/hub/test_hookspecs.py keeps that page and this module in step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred

    from hub.api import AdapterType, Benchmark, CliCommand, ConsolePanel, PluginSchema, SimulatorType, WebRoute
    from hub.app import Hub

PROJECT_NAME = "hub"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


# --- What a plugin contributes (called once, while the hub starts) --------------------------------


@hookspec
def hub_register_adapter_types() -> "list[AdapterType]":
    """Return the adapter types this plugin offers.

    Called once at start-up, before configuration is validated, so each ``[adapters.NAME]`` table can
    be checked against its type's config class. Two plugins offering the same adapter type name is a
    start-up error naming both. Must return a list (possibly empty), never a Deferred.
    """


@hookspec
def hub_register_event_types() -> "list[type]":
    """Return the event payload classes this plugin publishes.

    Each is a frozen attrs class with a ``TYPE: ClassVar[str]`` naming it. Called once at start-up;
    registered types are read back from the journal as themselves, unregistered ones as
    ``GenericPayload``. Must return a list, never a Deferred.
    """


@hookspec
def hub_register_web_routes() -> "list[WebRoute]":
    """Return the JSON API routes this plugin adds, mounted under ``/api/plugins/<plugin>/``.

    Called once when the web server is built. Every route must name the roles allowed to use it.
    Must return a list, never a Deferred.
    """


@hookspec
def hub_register_console_panels() -> "list[ConsolePanel]":
    """Return the panels this plugin adds to the operator console.

    Called once when the web server is built. Must return a list, never a Deferred.
    """


@hookspec
def hub_register_cli_commands() -> "list[CliCommand]":
    """Return the ``hub`` sub-commands this plugin adds.

    Called every time the ``hub`` command runs, before arguments are parsed, so it must be cheap and
    must not touch the network or the reactor. A name that clashes with a built-in command or another
    plugin's is refused with an error naming both. Must return a list, never a Deferred.
    """


@hookspec
def hub_register_benchmarks() -> "list[Benchmark]":
    """Return the ``hub bench`` benchmarks this plugin adds (``hub bench <name> [--json]``).

    Called every time the ``hub`` command runs, before arguments are parsed, so it must be cheap and
    must not touch the network or the reactor (``Benchmark.run`` does the work, on the reactor it is
    given). A name that clashes with a built-in benchmark (``bus``, ``console``) or another plugin's is
    refused with an error naming both. Must return a list, never a Deferred.
    """


@hookspec
def hub_register_simulators() -> "list[SimulatorType]":
    """Return the simulator types this plugin offers, for demos and trials without the real device.

    Called once at start-up, before configuration is validated, so each ``[simulators.NAME]`` table can
    be checked against its type's config class. The hub starts every configured simulator before any
    adapter and stops it after them. Two plugins offering the same simulator type name is a start-up
    error naming both. Must return a list (possibly empty), never a Deferred.
    """


@hookspec
def hub_register_schemas() -> "list[PluginSchema]":
    """Return the schemas of the tables this plugin keeps in the hub's database, beside the journal.

    Called once at start-up, after the hub's own migrations and before anything else uses the database:
    each schema's migrations not yet applied run then, oldest first, each in its own transaction, and the
    version reached is kept in the ``plugin_schemas`` table. A database whose tables are newer than the
    installed plugin knows, a migration that fails, or two plugins offering the same schema name is a
    start-up error naming them. Adapters reach the tables through ``AdapterContext.database``. Must
    return a list (possibly empty), never a Deferred.
    """


# --- The hub's life (called with the running hub) --------------------------------------------------


@hookspec
def hub_started(hub: "Hub") -> "Deferred[None] | None":
    """Called once the journal is open and every adapter instance has been started.

    Use it to subscribe to the bus for cross-cutting work (metrics, forwarding). May return a Deferred;
    the hub waits for it, and a failure is logged and recorded without stopping the hub.
    """


@hookspec
def hub_stopping(hub: "Hub") -> "Deferred[None] | None":
    """Called when the hub begins a clean shutdown, before adapters are stopped.

    May return a Deferred; the hub waits for it (at most the configured shutdown grace period).
    """
