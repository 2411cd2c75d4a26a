"""The plugin author kit: fakes and pytest fixtures for testing adapters against a real bus.

Installed as a pytest plugin (entry point ``pytest11``), so a plugin's tests can ask for these
fixtures by name:

- ``hub_clock``: a ``MemoryReactorClock``: a fake reactor whose time only moves when the test says.
- ``hub_bus``: a ``BusHarness``: a real bus on a real SQLite journal in a temporary folder, driven by
  ``hub_clock``; ``settle()`` runs everything due now (commits, deliveries, catch-up steps). Made with
  ``BusHarness(tmp_path, hub_clock, plugin_schemas=(MY_SCHEMA,))``, its ``database`` (what an adapter gets
  as ``context.database``) holds the plugin's own tables too.
- ``captured_logs``: the structlog entries logged during the test, as dicts.
- ``plugin_manager``: a fresh plugin manager with only the hub's own plugin; ``register`` a throwaway
  plugin object on it to test hooks.

docs/writing-a-plugin.md shows them in use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Iterator

import attrs
import pytest
import structlog
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock
from twisted.python.failure import Failure

from hub.api import PluginSchema
from hub.bus import Bus
from hub.database import Database, migrate_plugin_schemas
from hub.events import (
    CORE_EVENT_TYPES,
    Event,
    EventCodec,
    EventFactory,
    EventTypeRegistry,
    Severity,
    Subject,
)
from hub.journal import Journal
from hub.sqlite_writer import InlineSqliteWriter, WriterSettings, open_connection
from hub.store import HUB_MIGRATIONS


@attrs.frozen
class Note:
    """A payload for tests and examples: a line of text."""

    TYPE: ClassVar[str] = "test.note"

    text: str


class BusHarness:
    """A real bus and journal on a fake clock, with helpers to publish and to let time pass.

    ``plugin_schemas`` are migrated after the hub's own migrations, as the hub does at start-up;
    ``database`` is the ``hub.database.Database`` an adapter is given, writing through the same writer as
    the journal (so ``bus.publish(event, also=job)`` and ``database.write(job)`` commit at the clock's
    next turn, like everything else here).
    """

    def __init__(
        self,
        directory: Path,
        clock: Clock | None = None,
        event_types: tuple[type, ...] = (),
        default_queue_size: int = 10_000,
        migrations: tuple[Any, ...] | None = None,
        plugin_schemas: tuple[PluginSchema, ...] = (),
    ) -> None:
        self.directory = Path(directory)
        self.migrations = migrations if migrations is not None else HUB_MIGRATIONS
        self.plugin_schemas = tuple(plugin_schemas)
        self._database: Database | None = None
        self.clock = clock if clock is not None else MemoryReactorClock()
        self.registry = EventTypeRegistry()
        self.registry.register_all(CORE_EVENT_TYPES + (Note,) + tuple(event_types))
        self.codec = EventCodec(self.registry)
        self.events = EventFactory(self.clock, "test.harness")
        self.default_queue_size = default_queue_size
        self.journal_path = self.directory / "journal.sqlite3"
        self.bus = self._open()

    def _open(self) -> Bus:
        writer = InlineSqliteWriter(self.journal_path, WriterSettings(), self.clock, self.migrations)
        journal = Journal(writer)
        journal.open()
        if self.plugin_schemas:
            connection = open_connection(self.journal_path, WriterSettings())
            try:
                migrate_plugin_schemas(connection, self.plugin_schemas, now=self.clock.seconds())
            finally:
                connection.close()
        if self._database is not None:
            self._database.close()
        self._database = Database(writer, self.journal_path)
        return Bus(journal, self.codec, self.clock, default_queue_size=self.default_queue_size)

    @property
    def database(self) -> Database:
        """The hub's database as an adapter sees it (``context.database``); a new one after ``restart``."""
        assert self._database is not None
        return self._database

    def note(self, text: str, topic: str = "test.note.written", **envelope: Any) -> Event:
        """An event with a ``Note`` payload; envelope fields may be overridden."""
        envelope.setdefault("severity", Severity.INFO)
        envelope.setdefault("subject", Subject(kind="test", id="harness"))
        envelope.setdefault("summary", text)
        return self.events(topic, Note(text), **envelope)

    def publish(self, event: Event) -> Any:
        return self.bus.publish(event)

    def settle(self, turns: int = 10_000) -> None:
        """Run everything due at the current time, including what that schedules, until quiet."""
        settle(self.clock, turns)

    def restart(self) -> Bus:
        """Close the bus and open a new one on the same journal file, as a hub restart does."""
        closed = self.bus.close()
        self.settle()
        assert closed.called
        self.bus = self._open()
        return self.bus

    def close(self) -> None:
        self.bus.close()
        self.settle()
        if self._database is not None:
            self._database.close()


def settle(clock: Clock, turns: int = 10_000) -> None:
    """Run everything due at the clock's current time, including what that schedules, until quiet.

    Commits of the test journal writer, deliveries and catch-up steps are all scheduled "now".
    """
    for _ in range(turns):
        if not any(call.getTime() <= clock.seconds() for call in clock.getDelayedCalls()):
            return
        clock.advance(0)
    raise AssertionError(f"still busy after {turns} turns of the clock")


# --- Deferred assertions: the pytest spelling of twisted.trial's SynchronousTestCase helpers ---------


def success_result_of(deferred: Deferred) -> Any:
    """The result ``deferred`` already has; fails the test if it has none or failed."""
    results: list[Any] = []
    deferred.addBoth(results.append)
    assert results, f"{deferred!r} has no result yet"
    if isinstance(results[0], Failure):
        results[0].raiseException()
    return results[0]


def failure_result_of(deferred: Deferred) -> Failure:
    """The Failure ``deferred`` already has; fails the test if it has none or succeeded."""
    results: list[Any] = []
    deferred.addBoth(results.append)
    assert results, f"{deferred!r} has no result yet"
    assert isinstance(results[0], Failure), f"{deferred!r} succeeded with {results[0]!r}"
    return results[0]


def assert_no_result(deferred: Deferred) -> None:
    """Fail if ``deferred`` already has a result."""
    results: list[Any] = []

    def observe(result: Any) -> Any:
        results.append(result)
        return result  # passed on, so whoever fires it later still sees the result

    deferred.addBoth(observe)
    assert not results, f"{deferred!r} already has a result: {results[0]!r}"


def assert_no_pending_timers(clock: Clock) -> None:
    """Fail if anything is still scheduled on ``clock`` (a timer a service forgot to cancel)."""
    pending = clock.getDelayedCalls()
    assert not pending, f"timers left behind: {pending!r}"


@pytest.fixture
def hub_clock() -> MemoryReactorClock:
    """A fake reactor and clock, starting at time 0."""
    return MemoryReactorClock()


@pytest.fixture
def hub_bus(tmp_path: Path, hub_clock: MemoryReactorClock) -> Iterator[BusHarness]:
    """A real bus on a temporary journal, driven by ``hub_clock``."""
    harness = BusHarness(tmp_path, hub_clock)
    yield harness
    harness.close()


@pytest.fixture
def captured_logs() -> Iterator[list[dict[str, Any]]]:
    """Everything logged through structlog during the test."""
    with structlog.testing.capture_logs() as logs:
        yield logs


@pytest.fixture
def plugin_manager() -> Any:
    """A fresh plugin manager holding only the hub's own plugin (no entry points loaded)."""
    from hub.plugins import make_plugin_manager

    return make_plugin_manager(load_entry_points=False)
