"""Plugins keep their own tables in the hub's database: migrated by schema version, written through the hub's
one writer, read on a read-only connection."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from hub.api import PluginSchema
from hub.database import (
    Database,
    DatabaseClosed,
    PluginSchemaError,
    migrate_plugin_schemas,
)
from hub.journal import JOURNAL_MIGRATIONS
from hub.sqlite_writer import (
    InlineSqliteWriter,
    WriterSettings,
    migrate,
    open_connection,
    run_batch,
)
from hub.store import HUB_MIGRATIONS
from hub.testing import BusHarness, failure_result_of, success_result_of


def create_doors(connection: sqlite3.Connection) -> None:
    connection.execute("CREATE TABLE doors_seen (door TEXT PRIMARY KEY, opened INTEGER NOT NULL DEFAULT 0)")


def add_door_notes(connection: sqlite3.Connection) -> None:
    connection.execute("ALTER TABLE doors_seen ADD COLUMN note TEXT")


def half_then_fail(connection: sqlite3.Connection) -> None:
    connection.execute("CREATE TABLE doors_half (x)")
    raise ValueError("the second statement is wrong")


def commits_by_itself(connection: sqlite3.Connection) -> None:
    connection.executescript("CREATE TABLE doors_script (x);")


DOORS_V1 = PluginSchema(name="doors", migrations=(create_doors,))
DOORS_V2 = PluginSchema(name="doors", migrations=(create_doors, add_door_notes))


def hub_file(tmp_path: Path) -> sqlite3.Connection:
    """A hub database as the hub's own migrations leave it, on an autocommit connection."""
    connection = open_connection(tmp_path / "journal.sqlite3", WriterSettings())
    migrate(connection, HUB_MIGRATIONS)
    return connection


def tables(connection: sqlite3.Connection) -> set[str]:
    return {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def stored_versions(connection: sqlite3.Connection) -> dict[str, tuple[int, float | None]]:
    return {name: (version, at) for name, version, at in
            connection.execute("SELECT name, version, updated_at FROM plugin_schemas")}


# --- Migrating plugin schemas ---------------------------------------------------------------------------


def test_the_hubs_own_migrations_create_the_table_of_plugin_schema_versions(tmp_path):
    """Core migration 7 makes plugin_schemas (name, version, updated_at), empty."""
    connection = hub_file(tmp_path)
    columns = [row[1] for row in connection.execute("PRAGMA table_info(plugin_schemas)")]
    assert columns == ["name", "version", "updated_at"]
    assert stored_versions(connection) == {}


def test_a_new_schema_runs_every_migration_and_records_its_version(tmp_path):
    """A plugin seen for the first time gets its tables and its version, with the time it was reached."""
    connection = hub_file(tmp_path)
    assert migrate_plugin_schemas(connection, [DOORS_V2], now=1_750_000_000.0) == {"doors": 2}
    assert "doors_seen" in tables(connection)
    assert "note" in [row[1] for row in connection.execute("PRAGMA table_info(doors_seen)")]
    assert stored_versions(connection) == {"doors": (2, 1_750_000_000.0)}
    assert not connection.in_transaction


def test_only_the_migrations_not_yet_applied_run(tmp_path):
    """An upgraded plugin runs its new migrations alone; its rows are kept."""
    connection = hub_file(tmp_path)
    migrate_plugin_schemas(connection, [DOORS_V1], now=1.0)
    connection.execute("INSERT INTO doors_seen (door) VALUES ('back')")
    assert migrate_plugin_schemas(connection, [DOORS_V2], now=2.0) == {"doors": 2}
    assert migrate_plugin_schemas(connection, [DOORS_V2], now=3.0) == {"doors": 2}  # nothing left to do
    assert connection.execute("SELECT door, note FROM doors_seen").fetchall() == [("back", None)]
    assert stored_versions(connection) == {"doors": (2, 2.0)}


def test_a_schema_with_no_migrations_is_at_version_0_and_stores_nothing(tmp_path):
    """A plugin that declares a schema but no migration yet has nothing recorded."""
    connection = hub_file(tmp_path)
    assert migrate_plugin_schemas(connection, [PluginSchema(name="empty", migrations=())]) == {"empty": 0}
    assert stored_versions(connection) == {}


def test_tables_newer_than_the_installed_plugin_knows_are_refused_by_name(tmp_path):
    """A database from a newer plugin is not guessed at: the error names the schema and both versions."""
    connection = hub_file(tmp_path)
    migrate_plugin_schemas(connection, [DOORS_V2])
    with pytest.raises(PluginSchemaError) as raised:
        migrate_plugin_schemas(connection, [DOORS_V1])
    assert raised.value.schema == "doors"
    assert "'doors'" in str(raised.value) and "version 2" in str(raised.value) and "(1)" in str(raised.value)
    assert stored_versions(connection)["doors"][0] == 2


def test_a_failing_migration_leaves_nothing_of_itself_and_keeps_the_ones_before(tmp_path):
    """Each migration is atomic: the failing one is undone whole, the earlier ones stay applied."""
    connection = hub_file(tmp_path)
    broken = PluginSchema(name="doors", migrations=(create_doors, half_then_fail))
    with pytest.raises(PluginSchemaError) as raised:
        migrate_plugin_schemas(connection, [broken])
    assert "migration 2 of plugin schema 'doors' failed: ValueError: the second statement is wrong" in str(raised.value)
    assert "doors_half" not in tables(connection)
    assert "doors_seen" in tables(connection)
    assert stored_versions(connection)["doors"][0] == 1
    assert not connection.in_transaction


def test_inside_a_writer_job_each_migration_is_a_savepoint_not_a_nested_begin(tmp_path):
    """Run as a job of the hub's writer (already in a transaction), migrations still apply and fail alone."""
    connection = hub_file(tmp_path)
    broken = PluginSchema(name="broken", migrations=(half_then_fail,))
    [(ok, versions)] = run_batch(connection, [lambda c: migrate_plugin_schemas(c, [DOORS_V2])])
    assert ok and versions == {"doors": 2}
    [(ok, failure)] = run_batch(connection, [lambda c: migrate_plugin_schemas(c, [broken])])
    assert not ok and failure.check(PluginSchemaError)
    assert "doors_half" not in tables(connection)
    assert stored_versions(connection) == {"doors": (2, None)}


def test_a_migration_that_commits_by_itself_is_reported(tmp_path):
    """executescript commits first, so the migration is no longer atomic: the error says what to do."""
    connection = hub_file(tmp_path)
    with pytest.raises(PluginSchemaError, match="ended the transaction itself.*run each statement with execute"):
        migrate_plugin_schemas(connection, [PluginSchema(name="script", migrations=(commits_by_itself,))])
    assert "script" not in stored_versions(connection)


def test_one_schema_name_given_twice_is_refused(tmp_path):
    """Two schemas under one name would share a version row: refused before anything runs."""
    connection = hub_file(tmp_path)
    with pytest.raises(PluginSchemaError, match="'doors' is given more than once"):
        migrate_plugin_schemas(connection, [DOORS_V1, DOORS_V2])
    assert "doors_seen" not in tables(connection)


# --- Database: writes through the writer, reads on a reader ------------------------------------------


@pytest.fixture
def doors(tmp_path, hub_clock):
    harness = BusHarness(tmp_path, hub_clock, plugin_schemas=(DOORS_V1,))
    yield harness
    harness.close()


def insert(door: str):
    def job(connection: sqlite3.Connection) -> int:
        return connection.execute("INSERT INTO doors_seen (door) VALUES (?)", (door,)).rowcount

    return job


def doors_seen(connection: sqlite3.Connection) -> list[str]:
    return [row[0] for row in connection.execute("SELECT door FROM doors_seen ORDER BY door")]


def test_the_bus_harness_gives_a_database_holding_the_plugins_tables(doors):
    """BusHarness(plugin_schemas=...) migrates them after the hub's own, as the hub does at start-up."""
    assert isinstance(doors.database, Database)
    assert doors.database.path == doors.journal_path
    assert doors.database.read(doors_seen) == []
    assert doors.database.read(stored_versions) == {"doors": (1, 0.0)}


def test_a_write_is_committed_at_the_writers_next_turn_and_fires_with_the_jobs_result(doors):
    """write() goes through the hub's writer: nothing is readable before the commit, everything after."""
    written = doors.database.write(insert("front"))
    assert doors.database.read(doors_seen) == []
    doors.settle()
    assert success_result_of(written) == 1
    assert doors.database.read(doors_seen) == ["front"]


def test_a_failing_write_fails_alone(doors):
    """A job that raises undoes only its own changes; the others in the same batch are kept."""
    first = doors.database.write(insert("front"))
    repeated = doors.database.write(insert("front"))
    second = doors.database.write(insert("back"))
    doors.settle()
    assert success_result_of(first) == 1 and success_result_of(second) == 1
    assert failure_result_of(repeated).check(sqlite3.IntegrityError)
    assert doors.database.read(doors_seen) == ["back", "front"]


def test_a_row_and_its_event_are_committed_together(doors):
    """bus.publish(event, also=job) writes a plugin's row in the event's own transaction."""
    published = doors.bus.publish(doors.note("front door opened"),
                                  also=lambda connection, seq: insert("front")(connection))
    doors.settle()
    assert success_result_of(published) >= 1
    assert doors.database.read(doors_seen) == ["front"]


def test_reads_are_read_only(doors):
    """A query that tries to write is refused rather than racing the writer."""
    with pytest.raises(sqlite3.OperationalError, match="readonly|read-only|query_only"):
        doors.database.read(insert("front"))
    doors.settle()
    assert doors.database.read(doors_seen) == []


def test_a_read_sees_one_committed_state_across_its_statements(doors):
    """Several statements in one read see the same snapshot, even if the writer commits meanwhile."""
    def counted_twice(connection: sqlite3.Connection) -> tuple[int, int]:
        first = connection.execute("SELECT count(*) FROM doors_seen").fetchone()[0]
        doors.database.write(insert("side"))
        doors.settle()  # commits on the writer's connection while this read is open
        return first, connection.execute("SELECT count(*) FROM doors_seen").fetchone()[0]

    assert doors.database.read(counted_twice) == (0, 0)
    assert doors.database.read(doors_seen) == ["side"]


def test_a_closed_database_refuses_reads(doors):
    """After the hub stops, a read raises DatabaseClosed instead of touching a file the hub let go."""
    doors.database.read(doors_seen)
    doors.database.close()
    with pytest.raises(DatabaseClosed):
        doors.database.read(doors_seen)


def test_a_restarted_harness_keeps_rows_and_migrates_nothing_twice(doors):
    """After restart() the database is a new one on the same file; the tables and rows are there."""
    doors.database.write(insert("front"))
    doors.settle()
    before = doors.database
    doors.restart()
    assert doors.database is not before
    assert doors.database.read(doors_seen) == ["front"]
    with pytest.raises(DatabaseClosed):
        before.read(doors_seen)


def test_a_harness_with_only_journal_migrations_still_works_without_plugin_schemas(tmp_path, hub_clock):
    """plugin_schemas is optional: a harness on a partial history (no plugin_schemas table) still opens."""
    harness = BusHarness(tmp_path, hub_clock, migrations=JOURNAL_MIGRATIONS)
    try:
        assert harness.database.read(lambda c: c.execute("SELECT count(*) FROM events").fetchone()[0]) == 0
    finally:
        harness.close()


def test_a_database_over_a_writer_knows_the_writers_file(tmp_path, hub_clock):
    """Database(writer) reads the path from the writer when none is given."""
    writer = InlineSqliteWriter(tmp_path / "hub.sqlite3", WriterSettings(), hub_clock, HUB_MIGRATIONS)
    writer.start()
    try:
        assert Database(writer).path == tmp_path / "hub.sqlite3"
    finally:
        writer.stop()
