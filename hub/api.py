"""What a plugin hands the hub (adapter types, simulator types, web routes, console panels, CLI commands,
benchmarks) and what the hub hands each adapter or simulator instance it runs (its context).

These are the only hub types a plugin needs besides the events in ``hub.events``.
"""

from __future__ import annotations

import argparse
import re
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from attrs import field, frozen
from twisted.application.service import IService

if TYPE_CHECKING:
    from hub.bus import Bus
    from hub.events import EventFactory


@frozen
class CommandArgument:
    """One argument of an adapter command, described so the console can draw a form for it.

    ``kind`` is ``text``, ``integer``, ``choice`` (one of ``choices``) or ``camera`` (a camera number).

    ``prefill`` is a dotted path into the JSON form of an event (``hub.events.EventCodec.to_dict``):
    ``"payload.member.unit"``, ``"location.camera"``, ``"subject.id"``. When the console offers the
    command on an incident, the field starts with that value read from the newest event of the
    incident the command applies to; the operator can still change it. A path the event does not
    have leaves the field empty.

    ``options_from`` names a list in the chosen camera's directory attributes (``"presets"``): the console
    draws the field as a drop-down of that camera's entries, each ``{"token": ..., "name": ...}``, and
    sends the chosen ``token``. It applies to a command that also has a ``camera`` argument; without a
    camera chosen, or when the camera has no such list, the field stays free text.
    """

    name: str
    title: str
    kind: str = "text"
    required: bool = True
    max_length: int = 200
    choices: tuple[str, ...] = ()
    prefill: str | None = None
    options_from: str | None = None


@frozen
class CommandSpec:
    """A command an adapter type accepts, published as ``command.<adapter type>.<verb>``.

    ``applies_to`` lists topic patterns: the console offers the command as an action on an incident
    that holds an event from the same adapter instance matching one of them (a radio reply on a radio
    report). The console's status panel offers every command of a running adapter, without an incident;
    commands with no patterns are offered there only.

    ``any_source`` offers the command on any incident holding an event that matches ``applies_to``,
    whoever published it (the police link's "send to police", ``applies_to=("#",)``, is on every incident):
    once per configured instance of the adapter type, its fields prefilled from the newest such event.
    """

    verb: str
    title: str
    description: str = ""
    arguments: tuple[CommandArgument, ...] = ()
    applies_to: tuple[str, ...] = ()
    roles: tuple[str, ...] = ("operator", "supervisor", "admin")
    any_source: bool = False


@frozen
class AdapterType:
    """A kind of adapter a plugin offers; configuration makes named instances of it.

    ``config_class`` is a frozen attrs class: each ``[adapters.NAME]`` table whose ``type`` is this
    adapter's name is validated into one (see docs/configuration.md). ``factory`` is called with an
    ``AdapterContext`` every time the instance (re)starts and returns a Twisted ``IService``.

    ``assets`` (optional) lists what an instance's configuration declares, as ``hub.directory.Asset``
    entries (cameras with their places, radio members with their cameras, fibre nodes with the cameras
    behind them), without starting anything: it is called as ``assets(config, source)`` with the
    validated config and the instance's source name, by tools that work from the config alone
    (``hub rules test`` finds the cameras nearest an event with it).
    """

    name: str
    config_class: type
    factory: Callable[["AdapterContext"], IService]
    description: str = ""
    commands: tuple[CommandSpec, ...] = ()
    assets: Callable[[Any, str], Any] | None = None


@frozen
class PluginSchema:
    """Tables a plugin keeps in the hub's database, beside the journal (so a row and the event that records
    it are written in one transaction).

    ``migrations`` are functions of a ``sqlite3.Connection``, oldest first; each runs once, in its own
    transaction, and the version reached is kept under ``name`` in the ``plugin_schemas`` table. Append new
    migrations, never edit a released one; prefix table names with the plugin's name.
    """

    name: str
    migrations: tuple[Callable[[sqlite3.Connection], None], ...]
    description: str = ""


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
class Benchmark:
    """A ``hub bench <name>`` benchmark a plugin adds, beside the hub's own ``bus`` and ``console``.

    ``add_arguments(parser)`` fills in the benchmark's own argparse parser (the hub adds ``--json``).
    ``run(args, reactor)`` measures on the running reactor and returns the figures as a dict of
    JSON-serialisable values: directly, as a Deferred, or as a coroutine (``async def``). ``hub bench
    <name> --json`` prints that dict as one JSON object.
    """

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, Any], Any]
    description: str = ""


@frozen
class SimulatorType:
    """A kind of simulator a plugin offers, for demos and trials: a stand-in for a device or partner.

    Each ``[simulators.NAME]`` table whose ``type`` is this name is validated into ``config_class`` (a
    frozen attrs class, read exactly like an adapter's). ``factory`` is called with a
    ``SimulatorContext`` and returns a Twisted ``IService``; the hub starts it before any adapter (and
    waits for a Deferred from ``startService``) and stops it after every adapter has stopped.
    """

    name: str
    config_class: type
    factory: Callable[["SimulatorContext"], IService]
    description: str = ""


class CueRefused(ValueError):
    """A scripted cue a simulator cannot play: an unknown cue, or arguments it cannot use (the message says)."""


@frozen
class CueSpec:
    """One thing a demo's script may ask a simulator to do (``hub.scenario``): its ``name``, what it does,
    and the arguments it takes (names only; the simulator checks their values and raises ``CueRefused``).

    A simulator service that can be scripted has a ``cues`` attribute (a tuple of these) and a method
    ``cue(name, arguments) -> Deferred | None`` that starts it: a handset pressing its emergency button, a
    camera reporting tamper, the force asking for footage, a fibre node going dark.
    """

    name: str
    description: str
    arguments: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()


@frozen
class SimulatorContext:
    """Everything one simulator instance is given by the hub; like an adapter, it reaches nothing global.

    - ``name``: the instance's name, the ``NAME`` of its ``[simulators.NAME]`` table.
    - ``reactor``: the reactor to use for timers, connections and file descriptors.
    - ``log``: a structlog logger already bound with ``simulator=name``.
    - ``config``: the validated instance of the simulator type's config class.
    - ``base_dir``: the configuration file's folder, for anything the simulator makes on disk
      (``Path`` fields of the config class are already made absolute against it).
    """

    name: str
    reactor: Any
    log: Any
    config: Any
    base_dir: Path


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
    - ``evidence``: where the adapter keeps evidence for incidents, such as camera snapshots
      (``hub.evidence.EvidenceStore``); ``await context.evidence.put(content, content_type)`` gives an
      ``EvidenceItem`` whose ``to_json()`` goes in an event payload's ``evidence`` field. None when the
      hub runs without one (unit tests).
    - ``database``: the hub's database (``hub.database.Database``), where the plugin's own tables live
      (declared with the ``hub_register_schemas`` hook): ``read(query)`` now on a read-only connection,
      ``write(job)`` through the hub's one writer. None when the hub runs without one (unit tests).
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
    evidence: Any = None
    database: Any = None


#: Names an adapter's metric may have: Prometheus's, lower case. ``hub_`` is the hub's own.
METRIC_NAME = re.compile(r"[a-z_:][a-z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def _metric_name(_instance: object, _attribute: object, value: object) -> None:
    if not isinstance(value, str) or not METRIC_NAME.fullmatch(value):
        raise ValueError(f"metric name {value!r} must match [a-z_:][a-z0-9_:]*")
    if value.startswith("hub_"):
        raise ValueError(f"metric name {value!r}: names starting hub_ are the hub's own")


def _metric_kind(_instance: object, _attribute: object, value: object) -> None:
    if value not in ("gauge", "counter"):
        raise ValueError(f"metric kind {value!r} must be gauge or counter")


def _metric_labels(value: Mapping[str, object]) -> dict[str, str]:
    return {str(key): str(text) for key, text in dict(value).items()}


def _check_labels(_instance: object, _attribute: object, value: Mapping[str, str]) -> None:
    for key in value:
        if not _LABEL_NAME.fullmatch(key) or key.startswith("__"):
            raise ValueError(f"metric label {key!r} must match [a-zA-Z_][a-zA-Z0-9_]* and not start with __")
        if key == "adapter":
            raise ValueError("metric label 'adapter' is the hub's: it names the adapter instance")


@frozen
class MetricSample:
    """One value an adapter reports for the hub's ``/metrics`` (Prometheus text format).

    An adapter's service (what its type's ``factory`` returned) may have a method ``metrics()`` that
    returns an iterable of these; the hub calls it at every scrape while the adapter is running, so it
    must be quick and must not block (read counters the adapter keeps, do no I/O).

    - ``name``: the metric's name, exported as it is: ``[a-z_:][a-z0-9_:]*``, not starting ``hub_``;
      start it with the adapter type (``fibre_node_up``). Samples of one name from every adapter are one
      family; counters end in ``_total`` by convention.
    - ``kind``: ``gauge`` (a value that goes up and down) or ``counter`` (only ever goes up, from 0 at
      the adapter's start).
    - ``help``: one line saying what it measures (the family's ``# HELP``, from its first sample).
    - ``value``: a number (NaN and infinities are allowed, as Prometheus allows them).
    - ``labels``: label names to values (text). The hub adds ``adapter`` with the instance's name, so an
      adapter may not use that label itself.

    A bad name, kind or label is refused when the sample is made (``ValueError``).
    """

    name: str = field(validator=_metric_name)
    kind: str = field(validator=_metric_kind)
    help: str
    value: float = field(converter=float)
    labels: Mapping[str, str] = field(factory=dict, converter=_metric_labels, validator=_check_labels)
