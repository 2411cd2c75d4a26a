"""The single SQLite writer: group commit, per-job isolation, clean stop, schema versions."""

from __future__ import annotations

import sqlite3
import threading

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import DeferredList

from hub.sqlite_writer import (
    InlineSqliteWriter,
    ThreadedSqliteWriter,
    WriterClosed,
    WriterSettings,
    migrate,
    open_connection,
)
from twisted.internet.testing import MemoryReactorClock


def _create(connection: sqlite3.Connection) -> None:
    connection.execute("CREATE TABLE notes (text TEXT NOT NULL)")


def _insert(text):
    def job(connection):
        connection.execute("INSERT INTO notes (text) VALUES (?)", (text,))
        return text

    return job


def _count(path) -> int:
    return sqlite3.connect(path).execute("SELECT count(*) FROM notes").fetchone()[0]


@pytest_twisted.ensureDeferred
async def test_the_threaded_writer_commits_jobs_queued_during_a_commit_together(tmp_path):
    """While one commit runs, everything submitted waits and goes into the next transaction."""
    writer = ThreadedSqliteWriter(tmp_path / "db.sqlite3", WriterSettings(), reactor, (_create,))
    writer.start()
    running, gate = threading.Event(), threading.Event()

    def blocking(connection):
        running.set()
        gate.wait(10)
        return "first"

    first = writer.submit(blocking)
    assert running.wait(10)
    rest = [writer.submit(_insert(str(index))) for index in range(100)]
    gate.set()
    assert await first == "first"
    results = await DeferredList(rest, fireOnOneErrback=True)
    assert [value for _ok, value in results] == [str(index) for index in range(100)]
    assert writer.batches_committed == 2
    await writer.stop()
    assert _count(tmp_path / "db.sqlite3") == 100


@pytest_twisted.ensureDeferred
async def test_a_failing_job_fails_alone(tmp_path):
    """A job that raises is rolled back to its savepoint; its neighbours in the batch commit."""
    writer = ThreadedSqliteWriter(tmp_path / "db.sqlite3", WriterSettings(), reactor, (_create,))
    writer.start()

    def broken(connection):
        connection.execute("INSERT INTO notes (text) VALUES ('half-done')")
        raise RuntimeError("job bug")

    before, failing, after = writer.submit(_insert("before")), writer.submit(broken), writer.submit(_insert("after"))
    assert await before == "before"
    with pytest.raises(RuntimeError, match="job bug"):
        await failing
    assert await after == "after"
    await writer.stop()
    texts = [row[0] for row in sqlite3.connect(tmp_path / "db.sqlite3").execute("SELECT text FROM notes")]
    assert texts == ["before", "after"]


@pytest_twisted.ensureDeferred
async def test_stop_finishes_what_was_submitted_then_refuses_more(tmp_path):
    """Jobs submitted before stop are written; a job after it fails with WriterClosed."""
    writer = ThreadedSqliteWriter(tmp_path / "db.sqlite3", WriterSettings(), reactor, (_create,))
    writer.start()
    submitted = [writer.submit(_insert(str(index))) for index in range(50)]
    await writer.stop()
    await DeferredList(submitted, fireOnOneErrback=True)
    assert _count(tmp_path / "db.sqlite3") == 50
    with pytest.raises(WriterClosed):
        await writer.submit(_insert("late"))


def test_the_inline_writer_batches_until_the_clock_turns(tmp_path):
    """The test writer commits everything submitted so far on the next turn of its clock."""
    clock = MemoryReactorClock()
    writer = InlineSqliteWriter(tmp_path / "db.sqlite3", WriterSettings(), clock, (_create,))
    writer.start()
    results = [writer.submit(_insert(str(index))) for index in range(10)]
    assert not any(result.called for result in results)
    clock.advance(0)
    assert [result.result for result in results] == [str(index) for index in range(10)]
    assert writer.batches_committed == 1
    writer.stop()


def test_a_database_from_a_newer_hub_is_refused(tmp_path):
    """A schema version above what this hub knows stops the start instead of being guessed at."""
    connection = open_connection(tmp_path / "db.sqlite3", WriterSettings())
    migrate(connection, (_create, lambda c: c.execute("CREATE TABLE later (x)")))
    connection.close()
    older = ThreadedSqliteWriter(tmp_path / "db.sqlite3", WriterSettings(), reactor, (_create,))
    with pytest.raises(RuntimeError, match="schema version 2 is newer"):
        older.start()


def test_migrations_run_once_each_in_order(tmp_path):
    """Re-opening runs only the migrations not yet applied."""
    calls = []
    steps = (lambda c: calls.append(1), lambda c: calls.append(2))
    for _ in range(2):
        connection = open_connection(tmp_path / "db.sqlite3", WriterSettings())
        assert migrate(connection, steps) == 2
        connection.close()
    assert calls == [1, 2]
    connection = open_connection(tmp_path / "db.sqlite3", WriterSettings())
    assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
