"""The one writer of a SQLite database: runs write jobs in batches, one transaction (one fsync) per batch.

Every job submitted while a commit is running goes into the next batch together (group commit), so
the cost of making data durable is shared by everything that arrived meanwhile. Jobs are functions of
the connection; each runs in a savepoint, so one failing job fails alone. Results come back as
Deferreds that fire on the reactor thread only after the batch has committed.

``ThreadedSqliteWriter`` does the work on its own thread (production). ``InlineSqliteWriter`` does the
same work on the reactor thread, on the next turn of an injected clock, so tests are deterministic.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

import attrs
from twisted.internet.defer import Deferred, succeed
from twisted.python.failure import Failure

T = TypeVar("T")
WriteJob = Callable[[sqlite3.Connection], Any]
Migration = Callable[[sqlite3.Connection], None]

SYNCHRONOUS_MODES = ("full", "normal")


class WriterClosed(RuntimeError):
    """The writer has been stopped; nothing more is written."""


@attrs.frozen
class WriterSettings:
    """How a database is opened: durability and how many jobs one transaction may carry."""

    synchronous: str = attrs.field(default="full", validator=attrs.validators.in_(SYNCHRONOUS_MODES))
    max_batch: int = 2000


def open_connection(path: Path, settings: WriterSettings) -> sqlite3.Connection:
    """A connection in WAL mode with the chosen durability, managing its own transactions."""
    connection = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30)
    connection.execute("PRAGMA journal_mode=WAL")
    # FULL syncs the WAL on every commit: survives power loss, not only a killed process.
    connection.execute(f"PRAGMA synchronous={settings.synchronous.upper()}")
    connection.execute("PRAGMA busy_timeout=30000")
    return connection


def migrate(connection: sqlite3.Connection, migrations: Sequence[Migration]) -> int:
    """Bring the schema to ``len(migrations)`` using ``PRAGMA user_version``; return the version.

    A database from a newer hub (a higher version than we know) is refused rather than guessed at.
    """
    current = connection.execute("PRAGMA user_version").fetchone()[0]
    if current > len(migrations):
        raise RuntimeError(
            f"database schema version {current} is newer than this hub knows ({len(migrations)}); "
            "upgrade the hub"
        )
    for version in range(current, len(migrations)):
        connection.execute("BEGIN IMMEDIATE")
        try:
            migrations[version](connection)
            connection.execute(f"PRAGMA user_version={version + 1}")
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
    return len(migrations)


def run_batch(connection: sqlite3.Connection, jobs: Sequence[WriteJob]) -> list[tuple[bool, Any]]:
    """Run ``jobs`` in one transaction; each result is ``(True, value)`` or ``(False, Failure)``.

    If the commit itself fails, every job fails with that error: nothing in the batch was written.
    """
    results: list[tuple[bool, Any]] = []
    try:
        connection.execute("BEGIN IMMEDIATE")
        for job in jobs:
            connection.execute("SAVEPOINT job")
            try:
                value = job(connection)
            except Exception:  # noqa: BLE001 - the job's caller gets the failure
                connection.execute("ROLLBACK TO job")
                connection.execute("RELEASE job")
                results.append((False, Failure()))
            else:
                connection.execute("RELEASE job")
                results.append((True, value))
        connection.execute("COMMIT")
    except Exception:  # noqa: BLE001 - the whole batch is lost, so every job fails
        failure = Failure()
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        return [(False, failure) for _ in jobs]
    return results


class _WriterBase:
    def __init__(
        self, path: Path, settings: WriterSettings, migrations: Sequence[Migration] = ()
    ) -> None:
        self.path = Path(path)
        self.settings = settings
        self._migrations = migrations
        self.batches_committed = 0
        self.jobs_committed = 0

    def _deliver(self, pending: Sequence[tuple[WriteJob, Deferred]], results: list[tuple[bool, Any]]) -> None:
        self.batches_committed += 1
        self.jobs_committed += len(pending)
        for (_job, deferred), (ok, value) in zip(pending, results):
            if ok:
                deferred.callback(value)
            else:
                deferred.errback(value)


class ThreadedSqliteWriter(_WriterBase):
    """The production writer: a dedicated thread owns the connection; results return via the reactor."""

    def __init__(
        self,
        path: Path,
        settings: WriterSettings,
        reactor: Any,
        migrations: Sequence[Migration] = (),
    ) -> None:
        super().__init__(path, settings, migrations)
        self._reactor = reactor
        self._queue: "queue.SimpleQueue[tuple[WriteJob, Deferred] | None]" = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._stopped: Deferred[None] | None = None

    def start(self) -> None:
        """Open the database and migrate it, then start the thread. Errors are raised here, at once."""
        connection = open_connection(self.path, self.settings)
        try:
            migrate(connection, self._migrations)
        except BaseException:
            connection.close()
            raise
        self._thread = threading.Thread(
            target=self._run, args=(connection,), name=f"sqlite-writer:{self.path.name}", daemon=True
        )
        self._thread.start()

    def submit(self, job: Callable[[sqlite3.Connection], T]) -> "Deferred[T]":
        if self._closed:
            deferred: Deferred[T] = Deferred()
            deferred.errback(WriterClosed(f"writer for {self.path.name} is stopped"))
            return deferred
        deferred = Deferred()
        self._queue.put((job, deferred))
        return deferred

    def stop(self) -> "Deferred[None]":
        """Finish every job already submitted, then close the connection."""
        if self._stopped is None:
            self._closed = True
            self._stopped = Deferred()
            if self._thread is None:
                self._stopped.callback(None)
            else:
                self._queue.put(None)
        return self._stopped

    def _run(self, connection: sqlite3.Connection) -> None:
        limit = self.settings.max_batch
        stopping = False
        try:
            while not stopping:
                item = self._queue.get()
                pending: list[tuple[WriteJob, Deferred]] = []
                while item is not None:
                    pending.append(item)
                    if len(pending) >= limit:
                        break
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                else:
                    stopping = True
                if pending:
                    results = run_batch(connection, [job for job, _ in pending])
                    self._reactor.callFromThread(self._deliver, pending, results)
        finally:
            self._closed = True
            connection.close()
            self._reactor.callFromThread(self._thread_ended)

    def _thread_ended(self) -> None:
        if self._stopped is None:
            self._stopped = Deferred()
        if not self._stopped.called:
            self._stopped.callback(None)


class InlineSqliteWriter(_WriterBase):
    """The test writer: same batches and savepoints, run on the reactor thread at the clock's next turn.

    Every job submitted before the clock advances goes into one batch, as in production.
    """

    def __init__(
        self,
        path: Path,
        settings: WriterSettings,
        clock: Any,
        migrations: Sequence[Migration] = (),
    ) -> None:
        super().__init__(path, settings, migrations)
        self._clock = clock
        self._pending: list[tuple[WriteJob, Deferred]] = []
        self._scheduled: Any = None
        self._connection: sqlite3.Connection | None = None
        self._closed = False

    def start(self) -> None:
        self._connection = open_connection(self.path, self.settings)
        migrate(self._connection, self._migrations)

    def submit(self, job: Callable[[sqlite3.Connection], T]) -> "Deferred[T]":
        deferred: Deferred[T] = Deferred()
        if self._closed or self._connection is None:
            deferred.errback(WriterClosed(f"writer for {self.path.name} is not running"))
            return deferred
        self._pending.append((job, deferred))
        if self._scheduled is None:
            self._scheduled = self._clock.callLater(0, self._flush)
        return deferred

    def _flush(self) -> None:
        self._scheduled = None
        while self._pending:
            pending = self._pending[: self.settings.max_batch]
            del self._pending[: self.settings.max_batch]
            assert self._connection is not None
            results = run_batch(self._connection, [job for job, _ in pending])
            self._deliver(pending, results)

    def stop(self) -> "Deferred[None]":
        if self._scheduled is not None:
            self._scheduled.cancel()
        self._flush()
        self._closed = True
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        return succeed(None)
