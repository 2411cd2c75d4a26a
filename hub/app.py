"""The running hub: the journal and bus, every configured adapter under supervision, and retention.

``Hub`` is the root ``MultiService``. Starting it opens (or creates, or migrates) the journal, records
any plugin that failed to load, starts the configured simulators (for demos and trials), then each
adapter instance under its own supervisor, and tells the plugins. Stopping it reverses that: the
simulators stop after the adapters, and the journal writes everything it holds before it closes.
"""

from __future__ import annotations

import fcntl
import gc
import inspect
import os
import random
from pathlib import Path
from typing import Any, Callable

import structlog
from twisted.application.service import MultiService
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.task import LoopingCall

from hub import __version__
from hub.api import AdapterType, SimulatorContext, SimulatorType
from hub.bus import Bus
from hub.config import HubConfig, only_when_holds
from hub.events import (
    EventCodec,
    EventFactory,
    EventTypeRegistry,
    HubStarted,
    HubStopping,
    PluginFailed,
    Severity,
    SimulatorFailed,
    Subject,
)
from hub.audit import AuditLog
from hub.auth.partners import PartnerGate
from hub.auth.sessions import SessionManager
from hub.auth.throttle import LoginThrottle
from hub.auth.users import UserStore
from hub.database import Database, PluginSchemaError, migrate_plugin_schemas
from hub.directory import Directory
from hub.evidence import EvidenceStore, thread_pool_runner
from hub.ids import EventIdGenerator
from hub.incidents.actions import RuleActionService, check_rule_targets
from hub.incidents.engine import IncidentEngine
from hub.incidents.store import IncidentStore
from hub.journal import Journal
from hub.plugins import PluginHost
from hub.runtime import SupervisedAdapter
from hub.secrets import collect_secrets, redact
from hub.sqlite_writer import ThreadedSqliteWriter, WriterSettings, open_connection
from hub.store import HUB_MIGRATIONS

JOURNAL_FILE = "journal.sqlite3"
EVIDENCE_DIR = "evidence"
WriterFactory = Callable[..., Any]
#: How long a simulator may take to start before the hub gives up on it and starts the adapters anyway.
SIMULATOR_START_TIMEOUT_S = 10.0


def tune_garbage_collector() -> None:
    """Collect garbage less often than CPython's defaults, for a long-running process.

    Every event makes a few dozen short-lived objects. With the default generation-0 threshold (700
    allocations) a collection runs every few events, and halves publish throughput (measured with
    ``hub bench bus``). Reference counting frees almost all of them anyway; the collector only has to
    find cycles, so running it a hundred times less often costs little memory. Objects that exist once
    start-up is done are frozen out of collections altogether.
    """
    gc.set_threshold(100_000, 50, 100)
    gc.freeze()


def journal_path(config: HubConfig) -> Path:
    """Where a configuration's journal lives (tidied: ``config/../data`` becomes ``data``)."""
    return Path(os.path.normpath(config.hub.data_dir)) / JOURNAL_FILE


class DataDirInUse(RuntimeError):
    """Another hub process already runs on this data directory."""


class DataDirLock:
    """An exclusive lock on a data directory, so two hubs never share one journal.

    The operating system drops the lock when the process dies, however it dies, so a crash never leaves
    a stale lock behind.
    """

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / "hub.lock"
        self._file: Any = None

    def acquire(self) -> None:
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise DataDirInUse(
                f"another hub (pid {holder}) is running on {self.path.parent}; stop it first"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


class Hub(MultiService):
    """One hub process's services, built from a validated configuration and a plugin host."""

    def __init__(
        self,
        config: HubConfig,
        plugins: PluginHost,
        reactor: Any,
        *,
        adapter_types: dict[str, AdapterType] | None = None,
        simulator_types: dict[str, SimulatorType] | None = None,
        writer_factory: WriterFactory = ThreadedSqliteWriter,
        log: Any = None,
        rng: random.Random | None = None,
        root: bool | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        #: Whether the hub runs as root, for the instances' ``only_when`` (the process's euid unless given).
        self.root = root if root is not None else hasattr(os, "geteuid") and os.geteuid() == 0
        self.plugins = plugins
        self.reactor = reactor
        self.log = log if log is not None else structlog.get_logger("hub")
        self._writer_factory = writer_factory
        self._random = rng if rng is not None else random.Random()
        self.adapter_types = adapter_types if adapter_types is not None else plugins.adapter_types()
        self.simulator_types = simulator_types if simulator_types is not None else plugins.simulator_types()
        self.registry = EventTypeRegistry()
        for payload_class in plugins.event_types():
            try:
                self.registry.register(payload_class)
            except (TypeError, ValueError) as error:
                self.log.error("event_type_refused", payload=repr(payload_class), error=str(error))
        self.codec = EventCodec(self.registry)
        self._ids = EventIdGenerator(reactor)
        self.events = EventFactory(reactor, "hub.core", self._ids)
        self.bus: Bus | None = None
        #: The database as plugins use it (their own tables beside the journal); None until start-up.
        self.database: Database | None = None
        self.directory = Directory()
        # Snapshots and other evidence, beside the journal that records the events naming them.
        self.evidence = EvidenceStore(journal_path(config).parent / EVIDENCE_DIR,
                                      run_in_thread=thread_pool_runner(reactor))
        # Built once the database is open (start-up); None before that and in a hub that never started.
        self.incidents: IncidentEngine | None = None
        self.rule_actions: RuleActionService | None = None
        self.audit: AuditLog | None = None
        self.users: UserStore | None = None
        self.sessions: SessionManager | None = None
        self.web: Any = None
        self._incident_store: IncidentStore | None = None
        self.adapters: dict[str, SupervisedAdapter] = {}
        #: The simulators running, by instance name, in the order they started.
        self.simulators: dict[str, Any] = {}
        #: Why each configured simulator that is not running failed, by instance name.
        self.simulator_failures: dict[str, str] = {}
        #: The adapter and simulator instances left out by their ``only_when``, by instance name: why.
        self.skipped_adapters: dict[str, str] = {}
        self.skipped_simulators: dict[str, str] = {}
        self._retention: LoopingCall | None = None
        self._lock: DataDirLock | None = None
        #: The seq of this run's hub.process.started event.
        self.started_seq: int | None = None

    # --- starting --------------------------------------------------------------------------------------

    def startService(self) -> "Deferred[None]":  # noqa: N802 - Twisted's name
        return Deferred.fromCoroutine(self._start())

    async def _start(self) -> None:
        # A rule whose action names an adapter that cannot do it stops the start, naming the rule.
        check_rule_targets(self.config, self.adapter_types)
        data_dir = journal_path(self.config).parent
        data_dir.mkdir(parents=True, exist_ok=True)
        self._lock = DataDirLock(data_dir)
        self._lock.acquire()
        settings = WriterSettings(
            synchronous=self.config.journal.synchronous, max_batch=self.config.journal.max_batch
        )
        path = journal_path(self.config)
        writer = self._writer_factory(path, settings, self.reactor, HUB_MIGRATIONS)
        journal = Journal(writer)
        journal.open()
        try:
            self._migrate_plugin_schemas(path, settings)
        except BaseException:
            await journal.close()
            self._lock.release()
            raise
        self.database = Database(writer, path)
        self.bus = Bus(journal, self.codec, self.reactor, self.log.bind(component="bus"))
        self.log.info("journal_opened", path=str(journal.path), head=self.bus.head)
        self.audit = AuditLog(writer, self.reactor, path)
        self.users = UserStore(writer, self.reactor, path)

        for failure in self.plugins.failures:
            await self._publish_plugin_failure(failure.plugin, failure.hook, failure.error)
        # Before any adapter: an adapter's device (a pseudo-terminal, a port) must exist when it opens it.
        for simulator in self.config.simulators:
            if simulator.enabled and self._runs_here(simulator, "simulator", self.skipped_simulators):
                await self._start_simulator(simulator)
        # Children start in the order added and stop in reverse: the incident engine first (so it is
        # listening before any adapter speaks) and the web server last (so it is the first to stop).
        self._incident_store = IncidentStore(path)
        self.incidents = IncidentEngine(
            bus=self.bus,
            store=self._incident_store,
            config=self.config.incidents,
            clock=self.reactor,
            events=self.events.for_source("hub.incidents"),
            audit=self.audit,
            log=self.log.bind(component="incidents"),
            timezone=self.config.hub.timezone,
        )
        self.incidents.setName("incidents")
        self.incidents.setServiceParent(self)
        # After the engine, so it stops first: it carries out what rules ask when they open an incident.
        self.rule_actions = RuleActionService(
            bus=self.bus,
            config=self.config,
            adapter_types=self.adapter_types,
            directory=self.directory,
            adapters=lambda: [adapter.status for adapter in self.adapters.values()],
            clock=self.reactor,
            events=self.events.for_source("hub.rules"),
            skipped=self.skipped_adapters,
            log=self.log.bind(component="rule_actions"),
        )
        self.rule_actions.setName("rule-actions")
        self.rule_actions.setServiceParent(self)
        for instance in self.config.adapters:
            if instance.enabled and self._runs_here(instance, "adapter", self.skipped_adapters):
                self._add_adapter(instance)
        if self.config.web.enabled:
            self._add_web()
        self._retention = LoopingCall(self._prune)
        self._retention.clock = self.reactor
        self._retention.start(self.config.journal.prune_interval_s, now=True).addErrback(
            lambda failure: self.log.error("retention_stopped", error=failure.getErrorMessage())
        )

        super().startService()
        if self.web is not None:
            # A port already taken or an unreadable certificate stops start-up with its reason.
            await self.web.when_listening()
        self.started_seq = await self.bus.publish(
            self.events(
                "hub.process.started",
                HubStarted(
                    version=__version__,
                    plugins=tuple(self.plugins.plugin_names()),
                    adapters=tuple(self.adapters),
                ),
                severity=Severity.INFO,
                subject=Subject(kind="hub", id=self.config.hub.name),
                summary=f"Hub started with {len(self.adapters)} adapter(s)",
            )
        )
        failures_before = len(self.plugins.failures)
        await self.plugins.started(self)
        for failure in self.plugins.failures[failures_before:]:
            await self._publish_plugin_failure(failure.plugin, failure.hook, failure.error)

    def _migrate_plugin_schemas(self, path: Path, settings: WriterSettings) -> None:
        """Bring every plugin's tables to the version its installed code knows, before anything uses them.

        On a connection of its own, each migration in its own transaction: the writer has nothing to do
        yet, and a migration that fails (or ends the transaction itself) is reported as it is, rather than
        inside a batch of the writer's.
        """
        schemas = self.plugins.plugin_schemas()
        connection = open_connection(path, settings)
        try:
            versions = migrate_plugin_schemas(connection, list(schemas.values()), now=self.reactor.seconds())
        except PluginSchemaError as error:
            owner = self.plugins.schema_owner(error.schema)
            raise PluginSchemaError(error.schema, f"plugin {owner!r}: {error}" if owner else str(error)) from error
        finally:
            connection.close()
        if versions:
            self.log.info("plugin_schemas_ready", versions=versions)

    def _runs_here(self, instance: Any, kind: str, skipped: dict[str, str]) -> bool:
        """Whether ``instance``'s ``only_when`` lets it run in this hub; if not, the reason is logged and
        kept in ``skipped`` (shown as skipped, not failed: the config has a twin for the other case)."""
        if only_when_holds(instance.only_when, root=self.root):
            return True
        reason = (f'only_when = "{instance.only_when}" and the hub runs '
                  f'{"as root" if self.root else "without root"}')
        skipped[instance.name] = reason
        self.log.info(f"{kind}_skipped", **{kind: instance.name}, reason=reason)
        return False

    async def _start_simulator(self, instance: Any) -> None:
        """Build and start one simulator, waiting for its start; a failure is logged and published, not raised.

        A demo with one broken simulator still shows everything else, and the operator sees why that one
        is missing: in the log, as a ``hub.simulator.failed`` event (which opens an incident), and in the
        ``hub demo`` banner.
        """
        assert self.bus is not None
        secrets = collect_secrets(instance.settings)
        log = self.log.bind(simulator=instance.name, simulator_type=instance.type)
        try:
            simulator_type = self.simulator_types.get(instance.type)
            if simulator_type is None:
                raise LookupError(f"no installed plugin offers simulator type {instance.type!r}")
            context = SimulatorContext(name=instance.name, reactor=self.reactor, log=log,
                                       config=instance.settings, base_dir=self.config.path.parent)
            service = simulator_type.factory(context)
            await self._within(SIMULATOR_START_TIMEOUT_S, _as_deferred(service.startService),
                               f"did not start within {SIMULATOR_START_TIMEOUT_S:g} s")
        except Exception as error:  # noqa: BLE001 - a demo goes on without the simulator that failed
            reason = redact(f"{type(error).__name__}: {error}", secrets)
            self.simulator_failures[instance.name] = reason
            log.error("simulator_failed", error=reason)
            await self.bus.publish(
                self.events(
                    SimulatorFailed.TYPE,
                    SimulatorFailed(simulator=instance.name, simulator_type=instance.type, error=reason),
                    severity=Severity.HIGH,
                    subject=Subject(kind="simulator", id=instance.name),
                    summary=f"Simulator {instance.name} ({instance.type}) could not start: {reason}",
                )
            )
            return
        self.simulators[instance.name] = service
        log.info("simulator_started")

    async def _within(self, seconds: float, waiting: "Deferred[Any]", what: str) -> Any:
        """``waiting``'s result, or ``TimeoutError(what)`` once ``seconds`` have passed on the hub's clock."""
        timer = self.reactor.callLater(seconds, waiting.cancel)
        try:
            return await waiting
        except Exception as error:
            if not timer.active():
                raise TimeoutError(what) from error
            raise
        finally:
            if timer.active():
                timer.cancel()

    async def _stop_simulators(self) -> None:
        # Last started, first stopped; each is waited for (within the grace period) before the next.
        for name, service in reversed(list(self.simulators.items())):
            try:
                await self._within(self.config.hub.shutdown_grace_s, _as_deferred(service.stopService),
                                   f"did not stop within {self.config.hub.shutdown_grace_s:g} s")
            except Exception as error:  # noqa: BLE001 - the hub stops whatever a simulator does
                self.log.warning("simulator_stop_failed", simulator=name, error=f"{type(error).__name__}: {error}")
            else:
                self.log.info("simulator_stopped", simulator=name)
        self.simulators.clear()

    def _add_adapter(self, instance: Any) -> None:
        assert self.bus is not None
        secrets = collect_secrets(instance.settings)
        adapter = SupervisedAdapter(
            name=instance.source,
            adapter_type=self.adapter_types[instance.type],
            config=instance.settings,
            supervision=instance.supervision,
            reactor=self.reactor,
            bus=self.bus,
            log=self.log,
            events=self.events.for_source(instance.source),
            random=self._random,
            redact=lambda text: redact(text, secrets),
            directory=self.directory,
            evidence=self.evidence,
            database=self.database,
        )
        adapter.setName(instance.source)
        adapter.setServiceParent(self)
        self.adapters[instance.source] = adapter

    def _add_web(self) -> None:
        from hub.web.service import WebService

        assert self.bus is not None and self.users is not None
        web = self.config.web
        users = self.users
        # A user disabled from the command line is logged out at their next request.
        self.sessions = SessionManager(
            self.reactor,
            idle_timeout_s=web.session_idle_minutes * 60,
            max_age_s=web.session_max_hours * 3600,
            still_allowed=users.is_enabled,
        )
        self.web = WebService(
            bus=self.bus,
            incidents=self.incidents,
            users=users,
            sessions=self.sessions,
            throttle=LoginThrottle(
                self.reactor, web.login_max_failures, web.login_window_s, web.login_lockout_s
            ),
            partners=PartnerGate(self.config.partners, self.reactor),
            audit=self.audit,
            directory=self.directory,
            evidence=self.evidence,
            adapters=lambda: [adapter.status for adapter in self.adapters.values()],
            adapter_services=lambda: [(name, adapter.service) for name, adapter in self.adapters.items()],
            adapter_types=self.adapter_types,
            plugins=self.plugins,
            config=self.config,
            reactor=self.reactor,
            events=self.events,
            codec=self.codec,
            log=self.log,
            plugin_context=self,
        )
        self.web.setServiceParent(self)

    async def _publish_plugin_failure(self, plugin: str, hook: str, error: str) -> None:
        assert self.bus is not None
        await self.bus.publish(
            self.events(
                "hub.plugin.failed",
                PluginFailed(plugin=plugin, hook=hook, error=error),
                severity=Severity.HIGH,
                subject=Subject(kind="plugin", id=plugin),
                summary=f"Plugin {plugin} failed in {hook}: {error}",
            )
        )

    def _prune(self) -> Deferred:
        assert self.bus is not None
        cutoff = self.reactor.seconds() - self.config.journal.retention_days * 86_400
        pruned = self.bus.journal.prune(before=cutoff)

        def report(count: int) -> None:
            if count:
                self.log.info("journal_pruned", events=count, retention_days=self.config.journal.retention_days)

        # A failed prune is logged and tried again at the next interval; it must not stop the loop.
        return pruned.addCallbacks(report, lambda failure: self.log.error(
            "journal_prune_failed", error=failure.getErrorMessage()
        ))

    # --- stopping --------------------------------------------------------------------------------------

    def stopService(self) -> "Deferred[None]":  # noqa: N802 - Twisted's name
        return Deferred.fromCoroutine(self._stop())

    async def _stop(self) -> None:
        if self.bus is None:
            return
        try:
            await self.bus.publish(
                self.events(
                    "hub.process.stopping",
                    HubStopping(reason="shutdown requested"),
                    severity=Severity.INFO,
                    subject=Subject(kind="hub", id=self.config.hub.name),
                    summary="Hub stopping",
                )
            )
        except Exception as error:  # noqa: BLE001 - a stop must go on even if the journal is broken
            self.log.error("stop_event_failed", error=str(error))
        grace = self.plugins.stopping(self)
        timeout = self.reactor.callLater(self.config.hub.shutdown_grace_s, grace.cancel)
        try:
            await grace
        except Exception:  # noqa: BLE001 - a plugin that overruns its grace period is abandoned
            self.log.warning("plugins_slow_to_stop", grace_s=self.config.hub.shutdown_grace_s)
        if timeout.active():
            timeout.cancel()
        if self._retention is not None and self._retention.running:
            self._retention.stop()
        if self.running:
            await super().stopService()
        # After the adapters, so none of them sees its device vanish while it is still running.
        await self._stop_simulators()
        await self.bus.close()
        self.log.info("journal_closed", head=self.bus.head)
        for reader in (self.audit, self.users, self._incident_store, self.database):
            if reader is not None:
                reader.close()
        if self._lock is not None:
            self._lock.release()


def _as_deferred(call: Callable[[], Any]) -> "Deferred[Any]":
    """``call()``'s result as a Deferred, whether it returns a value, a Deferred or a coroutine, or raises."""

    def called() -> Any:
        result = call()
        return Deferred.fromCoroutine(result) if inspect.iscoroutine(result) else result

    return maybeDeferred(called)
