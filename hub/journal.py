"""The event journal: every event the hub accepts, in order, in SQLite, with its sequence number.

Appends go through the database's single writer. All appends waiting when a batch starts are written
with one ``executemany`` in one transaction, so a burst of events costs one fsync. Reads (replay,
``hub events``) use a connection of their own, which WAL lets run beside the writer.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import attrs
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from hub.sqlite_writer import Migration


def _create_journal(connection: sqlite3.Connection) -> None:
    # AUTOINCREMENT keeps the highest seq in sqlite_sequence even after retention deletes every row,
    # so sequence numbers are never reused and a consumer's cursor stays meaningful.
    connection.execute(
        """CREATE TABLE events (
               seq INTEGER PRIMARY KEY AUTOINCREMENT,
               id TEXT NOT NULL UNIQUE,
               topic TEXT NOT NULL,
               received_at REAL NOT NULL,
               body TEXT NOT NULL
           )"""
    )
    connection.execute("CREATE INDEX events_received_at ON events(received_at)")
    connection.execute(
        """CREATE TABLE cursors (
               name TEXT PRIMARY KEY,
               seq INTEGER NOT NULL,
               updated_at REAL NOT NULL
           )"""
    )


#: Schema versions of the journal, oldest first. Append; never edit a released one.
JOURNAL_MIGRATIONS: tuple[Migration, ...] = (_create_journal,)


@attrs.frozen
class AppendRequest:
    """One event ready for the journal: its id, topic, hub receive time (POSIX seconds) and JSON."""

    event_id: str
    topic: str
    received_at: float
    body: str
    #: Written in the same transaction as the event: ``also(connection, seq)``. If it raises, neither
    #: the event nor anything it wrote is kept, and the append fails with its error.
    also: Callable[[sqlite3.Connection, int], Any] | None = None


@attrs.frozen
class Appended:
    """Where an event landed. ``new`` is False when an event with that id was already journaled."""

    seq: int
    new: bool = True


@attrs.frozen
class JournalRow:
    seq: int
    topic: str
    body: str


def _last_seq(connection: sqlite3.Connection) -> int:
    row = connection.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
    return row[0] if row else 0


class Journal:
    """Appends through a writer (``ThreadedSqliteWriter`` or ``InlineSqliteWriter``) and reads directly."""

    def __init__(self, writer: Any) -> None:
        self._writer = writer
        self._lock = threading.Lock()
        self._waiting: list[tuple[AppendRequest, Deferred[Appended]]] = []
        self._flush_queued = False
        self._reader: sqlite3.Connection | None = None
        # How appends were grouped into commits (the benchmark compares against the same batching).
        self.flushes = 0
        self.rows_flushed = 0

    @property
    def path(self) -> Path:
        return self._writer.path

    def open(self) -> None:
        """Start the writer (creating or migrating the file) and open the read connection."""
        self._writer.start()
        self._reader = open_reader(self.path)

    def close(self) -> "Deferred[None]":
        """Write what is waiting, then close both connections."""
        stopped = self._writer.stop()

        def close_reader(result: object) -> object:
            if self._reader is not None:
                self._reader.close()
                self._reader = None
            return result

        return stopped.addBoth(close_reader)

    # --- writing ---------------------------------------------------------------------------------

    def append(self, request: AppendRequest) -> "Deferred[Appended]":
        """Journal one event; the Deferred fires once it is durable."""
        deferred: Deferred[Appended] = Deferred()
        with self._lock:
            self._waiting.append((request, deferred))
            if self._flush_queued:
                return deferred
            self._flush_queued = True
        flush = _Flush(self)
        self._writer.submit(flush.run).addCallbacks(flush.resolve, flush.fail)
        return deferred

    def _take_waiting(self) -> list[tuple[AppendRequest, "Deferred[Appended]"]]:
        with self._lock:
            taken, self._waiting = self._waiting, []
            self._flush_queued = False
        return taken

    def save_cursor(self, name: str, seq: int, now: float) -> "Deferred[None]":
        """Record that consumer ``name`` has handled everything up to ``seq``."""

        def write(connection: sqlite3.Connection) -> None:
            connection.execute(
                "INSERT INTO cursors (name, seq, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at "
                "WHERE excluded.seq > cursors.seq",
                (name, seq, now),
            )

        return self._writer.submit(write)

    def prune(self, before: float) -> "Deferred[int]":
        """Delete events received before ``before`` (POSIX seconds); fires with how many."""

        def delete(connection: sqlite3.Connection) -> int:
            return connection.execute("DELETE FROM events WHERE received_at < ?", (before,)).rowcount

        return self._writer.submit(delete)

    # --- reading (reactor thread) ------------------------------------------------------------------

    def head(self) -> int:
        """The highest sequence number ever written (0 for a new journal)."""
        return _last_seq(self._require_reader())

    def read_after(self, seq: int, limit: int = 500) -> list[JournalRow]:
        """Up to ``limit`` events with sequence numbers above ``seq``, in order."""
        return read_after(self._require_reader(), seq, limit)

    def cursor(self, name: str) -> int | None:
        row = self._require_reader().execute(
            "SELECT seq FROM cursors WHERE name = ?", (name,)
        ).fetchone()
        return row[0] if row else None

    def _require_reader(self) -> sqlite3.Connection:
        if self._reader is None:
            raise RuntimeError("the journal is not open")
        return self._reader


class _Flush:
    """One write job that takes every append waiting when it runs, and answers each of them."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        self._taken: list[tuple[AppendRequest, Deferred[Appended]]] | None = None

    def run(self, connection: sqlite3.Connection) -> list[Appended | Failure]:
        # Runs on the writer thread: takes everything appended so far, however many arrived while the
        # previous commit was running.
        self._taken = taken = self._journal._take_waiting()
        results: list[Appended | Failure] = []
        plain: list[AppendRequest] = []
        for request, _deferred in taken:
            if request.also is None:
                plain.append(request)
                continue
            # An append with its own work runs alone, after the plain ones before it, so seqs keep the
            # order of the calls.
            results.extend(_append_many(connection, plain))
            plain = []
            results.append(_append_with_work(connection, request))
        results.extend(_append_many(connection, plain))
        return results

    def resolve(self, appended: list[Appended]) -> None:
        assert self._taken is not None
        self._journal.flushes += 1
        self._journal.rows_flushed += len(appended)
        for (_request, deferred), result in zip(self._taken, appended):
            if isinstance(result, Failure):
                deferred.errback(result)
            else:
                deferred.callback(result)

    def fail(self, failure: Any) -> None:
        # If the job never ran (writer stopped), the appends are still waiting: fail those.
        taken = self._taken if self._taken is not None else self._journal._take_waiting()
        for _request, deferred in taken:
            deferred.errback(failure)


def _append_many(connection: sqlite3.Connection, requests: list[AppendRequest]) -> list[Appended]:
    if not requests:
        return []
    first = _last_seq(connection) + 1
    rows = [
        (first + offset, request.event_id, request.topic, request.received_at, request.body)
        for offset, request in enumerate(requests)
    ]
    connection.execute("SAVEPOINT append")
    try:
        connection.executemany(
            "INSERT INTO events (seq, id, topic, received_at, body) VALUES (?, ?, ?, ?, ?)", rows
        )
    except sqlite3.IntegrityError:
        # An id seen before (a retried publish): write row by row so the rest still land, and
        # answer the repeat with the seq it already has.
        connection.execute("ROLLBACK TO append")
        connection.execute("RELEASE append")
        return [_append_one(connection, request) for request in requests]
    connection.execute("RELEASE append")
    return [Appended(row[0]) for row in rows]


def _append_with_work(connection: sqlite3.Connection, request: AppendRequest) -> Appended | Failure:
    assert request.also is not None
    connection.execute("SAVEPOINT append_with_work")
    try:
        appended = _append_one(connection, request)
        if appended.new:
            # A repeated id was already written with its work; doing the work again would double it.
            request.also(connection, appended.seq)
    except Exception:  # noqa: BLE001 - the publisher's work failed: it gets the error, others go on
        connection.execute("ROLLBACK TO append_with_work")
        connection.execute("RELEASE append_with_work")
        return Failure()
    connection.execute("RELEASE append_with_work")
    return appended


def _append_one(connection: sqlite3.Connection, request: AppendRequest) -> Appended:
    existing = connection.execute("SELECT seq FROM events WHERE id = ?", (request.event_id,)).fetchone()
    if existing is not None:
        return Appended(existing[0], new=False)
    seq = _last_seq(connection) + 1
    connection.execute(
        "INSERT INTO events (seq, id, topic, received_at, body) VALUES (?, ?, ?, ?, ?)",
        (seq, request.event_id, request.topic, request.received_at, request.body),
    )
    return Appended(seq)


def open_reader(path: Path) -> sqlite3.Connection:
    """A read connection to a journal file (autocommit: every query sees the latest commit)."""
    connection = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30)
    connection.execute("PRAGMA busy_timeout=30000")
    return connection


def read_after(connection: sqlite3.Connection, seq: int, limit: int = 500) -> list[JournalRow]:
    rows = connection.execute(
        "SELECT seq, topic, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)
    ).fetchall()
    return [JournalRow(*row) for row in rows]


def iter_journal(connection: sqlite3.Connection, since: int = 0, chunk: int = 1000) -> Iterator[JournalRow]:
    """Every event after ``since``, in order, read in chunks (for ``hub events``)."""
    while True:
        rows = read_after(connection, since, chunk)
        if not rows:
            return
        yield from rows
        since = rows[-1].seq
