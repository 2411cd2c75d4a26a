"""A plugin's view of the hub's one SQLite database, and the schema history of each plugin's tables.

A plugin keeps its tables beside the journal (``PluginSchema``, from the ``hub_register_schemas`` hook) so
that a row and the event that records it are written in one transaction. ``Database`` writes through the
hub's one writer (group commit, a savepoint per job) and reads on a read-only connection of its own.
``migrate_plugin_schemas`` brings each plugin's tables to the version its installed code knows, keeping the
versions reached in the ``plugin_schemas`` table (core migration 7).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

from twisted.internet.defer import Deferred

from hub.api import PluginSchema
from hub.journal import open_reader

T = TypeVar("T")


def create_plugin_schemas(connection: sqlite3.Connection) -> None:
    """Core migration 7: the version each plugin's tables have reached, by schema name."""
    connection.execute(
        """CREATE TABLE plugin_schemas (
               name TEXT PRIMARY KEY,
               version INTEGER NOT NULL,
               updated_at REAL
           )"""
    )


class DatabaseClosed(RuntimeError):
    """The hub has stopped; its database is no longer read through this object."""


class Database:
    """The hub's database as an adapter uses it: writes through the one writer, reads on a reader.

    ``write(job)`` runs ``job(connection)`` in the writer's next batch (its own savepoint: a job that
    raises undoes only its own changes) and fires with its result once committed. To write a row together
    with the event that records it, pass the job to ``bus.publish(event, also=...)`` instead.
    ``read(query)`` runs ``query(connection)`` at once on a read-only connection, inside one read
    transaction, so several statements see one committed state.
    """

    def __init__(self, writer: Any, path: Path | None = None) -> None:
        self._writer = writer
        self.path = Path(path) if path is not None else Path(writer.path)
        self._reader: sqlite3.Connection | None = None
        self._closed = False

    def write(self, job: Callable[[sqlite3.Connection], T]) -> "Deferred[T]":
        """Run ``job`` through the hub's writer; the Deferred fires with its result once it is durable."""
        return self._writer.submit(job)

    def read(self, query: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``query`` now on the read-only connection and return what it returns."""
        connection = self._require_reader()
        if connection.in_transaction:
            return query(connection)  # a read inside a read shares its snapshot
        connection.execute("BEGIN")
        try:
            return query(connection)
        finally:
            connection.execute("COMMIT")

    def close(self) -> None:
        """Close the reader; later reads raise ``DatabaseClosed``. Writes end with the hub's writer."""
        self._closed = True
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def _require_reader(self) -> sqlite3.Connection:
        if self._closed:
            raise DatabaseClosed(f"the database {self.path.name} is closed")
        if self._reader is None:
            reader = open_reader(self.path)
            # A query that tries to write fails instead of racing the writer for the lock.
            reader.execute("PRAGMA query_only = ON")
            self._reader = reader
        return self._reader


class PluginSchemaError(RuntimeError):
    """A plugin's tables cannot be brought to its version; the hub must not start. ``schema`` names them."""

    def __init__(self, schema: str, message: str) -> None:
        super().__init__(message)
        self.schema = schema


def migrate_plugin_schemas(
    connection: sqlite3.Connection, schemas: Sequence[PluginSchema], *, now: float | None = None
) -> dict[str, int]:
    """Bring each schema's tables to ``len(schema.migrations)``; return the version of each, by name.

    Each migration runs atomically with the update of its version in ``plugin_schemas``: in its own
    transaction on a connection not in one, in a savepoint inside the caller's transaction otherwise (a
    job of the hub's writer). A stored version newer than the installed plugin knows is refused, as is a
    migration that ends the transaction itself (``executescript`` commits first).
    """
    names = [schema.name for schema in schemas]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise PluginSchemaError(repeated[0], f"plugin schema {repeated[0]!r} is given more than once")
    stored = dict(connection.execute("SELECT name, version FROM plugin_schemas").fetchall())
    versions: dict[str, int] = {}
    for schema in schemas:
        known = len(schema.migrations)
        current = stored.get(schema.name, 0)
        if current > known:
            raise PluginSchemaError(
                schema.name,
                f"the database's tables of plugin schema {schema.name!r} are at version {current}, newer "
                f"than the installed plugin knows ({known}); install the newer plugin again",
            )
        for version in range(current, known):
            _apply(connection, schema, version, now)
        versions[schema.name] = known
    return versions


def _apply(connection: sqlite3.Connection, schema: PluginSchema, index: int, now: float | None) -> None:
    """Run migration ``index`` (0-based) of ``schema`` and record version ``index + 1``, all or nothing."""
    nested = connection.in_transaction
    connection.execute("SAVEPOINT plugin_schema" if nested else "BEGIN IMMEDIATE")
    try:
        schema.migrations[index](connection)
        if not connection.in_transaction:
            raise PluginSchemaError(
                schema.name,
                f"migration {index + 1} of plugin schema {schema.name!r} ended the transaction itself "
                "(executescript commits first): run each statement with execute",
            )
        connection.execute(
            "INSERT INTO plugin_schemas (name, version, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT(name) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at",
            (schema.name, index + 1, now),
        )
    except BaseException as error:
        if connection.in_transaction:
            connection.execute("ROLLBACK TO plugin_schema" if nested else "ROLLBACK")
            if nested:
                connection.execute("RELEASE plugin_schema")
        if isinstance(error, PluginSchemaError):
            raise
        if isinstance(error, Exception):
            raise PluginSchemaError(
                schema.name,
                f"migration {index + 1} of plugin schema {schema.name!r} failed: {type(error).__name__}: {error}",
            ) from error
        raise
    connection.execute("RELEASE plugin_schema" if nested else "COMMIT")
