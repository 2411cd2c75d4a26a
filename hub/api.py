"""What a plugin hands the hub (adapter types, web routes, console panels, CLI commands) and what the hub
hands each adapter instance it runs (its context).

These are the only hub types a plugin needs besides the events in ``hub.events``.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any, Callable

from attrs import field, frozen
from twisted.application.service import IService

if TYPE_CHECKING:
    from hub.bus import Bus
    from hub.events import EventFactory


@frozen
class CommandArgument:
    """One argument of an adapter command, described so the console can draw a form for it.

    ``kind`` is ``text``, ``integer``, ``choice`` (one of ``choices``) or ``camera`` (a camera number).
    """

    name: str
    title: str
    kind: str = "text"
    required: bool = True
    max_length: int = 200
    choices: tuple[str, ...] = ()


@frozen
class CommandSpec:
    """A command an adapter type accepts, published as ``command.<adapter type>.<verb>``.

    ``applies_to`` lists topic patterns: the console offers the command as an action on an incident
    that holds an event from the same adapter instance matching one of them (a radio reply on a radio
    report). Commands with no patterns are offered on the status panel only.
    """

    verb: str
    title: str
    description: str = ""
    arguments: tuple[CommandArgument, ...] = ()
    applies_to: tuple[str, ...] = ()
    roles: tuple[str, ...] = ("operator", "supervisor", "admin")


@frozen
class AdapterType:
    """A kind of adapter a plugin offers; configuration makes named instances of it.

    ``config_class`` is a frozen attrs class: each ``[adapters.NAME]`` table whose ``type`` is this
    adapter's name is validated into one (see docs/configuration.md). ``factory`` is called with an
    ``AdapterContext`` every time the instance (re)starts and returns a Twisted ``IService``.
    """

    name: str
    config_class: type
    factory: Callable[["AdapterContext"], IService]
    description: str = ""
    commands: tuple[CommandSpec, ...] = ()


@frozen
class WebRoute:
    """A JSON API route a plugin adds under ``/api/plugins/<plugin>/``.

    ``resource_factory(hub)`` returns a ``twisted.web.resource.IResource``; ``roles`` are the user
    roles allowed to use it (operator, supervisor, admin, auditor).
    """

    path: str
    resource_factory: Callable[[Any], Any]
    roles: tuple[str, ...] = ("operator", "supervisor", "admin")
    description: str = ""


@frozen
class ConsolePanel:
    """A panel a plugin adds to the operator console: a title and a script served by the hub."""

    name: str
    title: str
    script_path: str
    description: str = ""


@frozen
class CliCommand:
    """A ``hub <name> ...`` sub-command a plugin adds (``hub onvif discover``, ``hub police-peer``).

    ``add_arguments(parser)`` fills in the sub-command's argparse parser; ``run(args)`` does the work and
    returns the process exit code.
    """

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


@frozen
class AdapterContext:
    """Everything one adapter instance is given by the runtime; it reaches nothing global.

    - ``name``: the instance's source name, ``<type>.<instance>`` (``shopwatch.town_centre``).
    - ``reactor``: the reactor to use for timers and connections (a fake clock reactor in tests).
    - ``bus``: publish events, subscribe to the commands addressed to this instance.
    - ``log``: a structlog logger already bound with ``adapter=name``.
    - ``config``: the validated instance of the adapter type's config class.
    - ``events``: makes events with this instance as their source.
    - ``heard``: call whenever the far end shows it is alive; feeds the silence watchdog.
    - ``fail``: call with the exception when the adapter cannot go on; the supervisor stops and
      restarts it with back-off, and records an ``adapter.health.failed`` event.
    - ``directory``: where the adapter makes its cameras, fibre nodes and other assets known to the
      console and the API (``hub.directory.Directory``).
    """

    name: str
    adapter_type: str
    reactor: Any
    bus: "Bus"
    log: Any
    config: Any
    events: "EventFactory"
    heard: Callable[[], None] = field(default=lambda: None)
    fail: Callable[[BaseException], None] = field(default=lambda error: None)
    directory: Any = None
