"""Local users of the console: name, role, argon2id password hash, disabled or not, in the hub's database.

``UserStore`` is what the running hub uses (writes through the single writer, reads on a connection of
its own). The ``*_offline`` functions are for the ``hub user`` command, which opens the database file
itself and may run while the hub runs: SQLite's WAL and busy timeout let the two take turns, and the
audit row is chained inside the same transaction, so the chain stays whole whichever process writes.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import attrs
from argon2 import PasswordHasher
from attrs import frozen
from twisted.internet.defer import Deferred, fail

from hub.audit import CLI_ACTOR, USER_ROLES, Actor, audit_job
from hub.auth.passwords import (
    DEFAULT_HASHER,
    dummy_hash,
    hash_password,
    verify_password,
)
from hub.logging_setup import get_logger

ROLES: tuple[str, ...] = USER_ROLES

#: A user name: 1 to 64 of letters, digits, ``_``, ``.`` and ``-``; compared without regard to case.
NAME_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}")
MIN_PASSWORD_LENGTH = 12
#: Far above any pass-phrase; bounds the work one request can ask of the hasher.
MAX_PASSWORD_LENGTH = 1024

log = get_logger(component="users")


class UserExists(Exception):
    """A user of that name (in any case) already exists."""


class UnknownUser(LookupError):
    """No user of that name."""


@frozen
class User:
    """A console user. ``created_at`` is POSIX seconds. The password hash never leaves the store."""

    name: str
    role: str
    disabled: bool
    created_at: float


def create_users(connection: sqlite3.Connection) -> None:
    """Migration: the ``users`` table, names unique regardless of case."""
    roles = ", ".join(f"'{role}'" for role in ROLES)
    connection.execute(
        f"""
        CREATE TABLE users (
            name TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
            role TEXT NOT NULL CHECK (role IN ({roles})),
            password_hash TEXT NOT NULL,
            disabled INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL,
            disabled_at REAL
        )
        """
    )


def check_new_user(name: object, role: object, password: object) -> None:
    """Raise ValueError saying what is wrong with a new user's name, role or password (never the password)."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise ValueError("a user name is 1 to 64 letters, digits, '_', '.' or '-'")
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    check_password(password)


def check_password(password: object) -> None:
    """Raise ValueError if ``password`` is too short or too long; the message never contains it."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"a password has at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValueError(f"a password has at most {MAX_PASSWORD_LENGTH} characters")


_COLUMNS = "name, role, disabled, created_at"


def _user(row: Sequence[Any]) -> User:
    return User(name=row[0], role=row[1], disabled=bool(row[2]), created_at=row[3])


def insert_user_job(
    name: str, role: str, password_hash: str, now: float, actor: Actor | None,
    audit_detail: Mapping[str, Any] | None = None,
) -> Callable[[sqlite3.Connection], User]:
    """A write job inserting a user (and, given an actor, its ``user.add`` audit row in the same transaction)."""
    audit = (
        audit_job(actor, "user.add", f"user:{name}", {"role": role, **(audit_detail or {})}, now)
        if actor is not None else None
    )

    def insert(connection: sqlite3.Connection) -> User:
        try:
            connection.execute(
                "INSERT INTO users (name, role, password_hash, disabled, created_at) VALUES (?, ?, ?, 0, ?)",
                (name, role, password_hash, now),
            )
        except sqlite3.IntegrityError:
            raise UserExists(f"a user named {name!r} already exists") from None
        if audit is not None:
            audit(connection)
        return User(name=name, role=role, disabled=False, created_at=now)

    return insert


def disable_user_job(
    name: str, now: float, actor: Actor | None, audit_detail: Mapping[str, Any] | None = None
) -> Callable[[sqlite3.Connection], User]:
    """A write job disabling a user (and auditing ``user.disable``); disabling twice changes nothing more."""
    audit = audit_job(actor, "user.disable", f"user:{name}", dict(audit_detail or {}), now) if actor is not None else None

    def disable(connection: sqlite3.Connection) -> User:
        row = connection.execute(f"SELECT {_COLUMNS} FROM users WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise UnknownUser(f"no user named {name!r}")
        if not row[2]:
            connection.execute("UPDATE users SET disabled = 1, disabled_at = ? WHERE name = ?", (now, name))
        if audit is not None:
            audit(connection)
        return attrs.evolve(_user(row), disabled=True)

    return disable


def enable_user_job(
    name: str, now: float, actor: Actor | None, audit_detail: Mapping[str, Any] | None = None
) -> Callable[[sqlite3.Connection], User]:
    """A write job enabling a disabled user again (and auditing ``user.enable``)."""
    audit = audit_job(actor, "user.enable", f"user:{name}", dict(audit_detail or {}), now) if actor is not None else None

    def enable(connection: sqlite3.Connection) -> User:
        row = connection.execute(f"SELECT {_COLUMNS} FROM users WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise UnknownUser(f"no user named {name!r}")
        connection.execute("UPDATE users SET disabled = 0, disabled_at = NULL WHERE name = ?", (name,))
        if audit is not None:
            audit(connection)
        return attrs.evolve(_user(row), disabled=False)

    return enable


def set_password_job(
    name: str, password_hash: str, now: float, actor: Actor | None, audit_detail: Mapping[str, Any] | None = None
) -> Callable[[sqlite3.Connection], User]:
    """A write job replacing a user's password hash (and auditing ``user.password``, without either)."""
    audit = audit_job(actor, "user.password", f"user:{name}", dict(audit_detail or {}), now) if actor is not None else None

    def set_password(connection: sqlite3.Connection) -> User:
        row = connection.execute(f"SELECT {_COLUMNS} FROM users WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise UnknownUser(f"no user named {name!r}")
        connection.execute("UPDATE users SET password_hash = ? WHERE name = ?", (password_hash, name))
        if audit is not None:
            audit(connection)
        return _user(row)

    return set_password


class UserStore:
    """Users for the running hub: writes through the hub's single writer, reads on a connection of its own."""

    def __init__(
        self, writer: Any, clock: Any, reader_path: Path, *, hasher: PasswordHasher = DEFAULT_HASHER
    ) -> None:
        self._writer = writer
        self._clock = clock
        self._reader_path = Path(reader_path)
        self._reader: sqlite3.Connection | None = None
        self._hasher = hasher

    def _connection(self) -> sqlite3.Connection:
        if self._reader is None:
            from hub.journal import open_reader

            self._reader = open_reader(self._reader_path)
        return self._reader

    def add(self, name: str, role: str, password: str, *, actor: Actor | None = None) -> "Deferred[User]":
        """Add a user; fails with ValueError (bad name, role or password) or UserExists.

        Given ``actor`` (the admin who adds), the ``user.add`` audit row is written in the same
        transaction. Hashing takes about 0.1 s on this thread; adding users is rare.
        """
        try:
            check_new_user(name, role, password)
        except ValueError as error:
            return fail(error)
        password_hash = hash_password(password, hasher=self._hasher)
        added = self._writer.submit(insert_user_job(name, role, password_hash, self._clock.seconds(), actor))

        def logged(user: User) -> User:
            log.info("user_added", user=user.name, role=user.role)
            return user

        return added.addCallback(logged)

    def disable(self, name: str, *, actor: Actor | None = None) -> "Deferred[None]":
        """Disable a user, so they can no longer log in (fails with UnknownUser).

        Their open sessions are the session manager's to end (``SessionManager.revoke_user``).
        """
        disabled = self._writer.submit(disable_user_job(name, self._clock.seconds(), actor))

        def logged(user: User) -> None:
            log.info("user_disabled", user=user.name)

        return disabled.addCallback(logged)

    def get(self, name: str) -> User | None:
        row = self._connection().execute(f"SELECT {_COLUMNS} FROM users WHERE name = ?", (name,)).fetchone()
        return None if row is None else _user(row)

    def list(self) -> list[User]:
        return [_user(row) for row in self._connection().execute(f"SELECT {_COLUMNS} FROM users ORDER BY name")]

    def is_enabled(self, name: str) -> bool:
        """Whether ``name`` exists and is not disabled (for checking a session against the database)."""
        user = self.get(name)
        return user is not None and not user.disabled

    def authenticate(self, name: str, password: str) -> User | None:
        """The user if ``password`` is theirs and they are enabled, else None.

        An unknown name is checked against a dummy hash and a disabled user's password is still
        checked, so the time taken does not tell which names exist. This blocks for about 0.1 s; on the
        reactor thread prefer ``authenticate_in_thread``.
        """
        stored = self._stored(name)
        return self._check(stored, password)

    def authenticate_in_thread(self, reactor: Any, name: str, password: str) -> "Deferred[User | None]":
        """``authenticate`` with the hashing done on the reactor's thread pool, so the reactor keeps serving."""
        from twisted.internet.threads import deferToThreadPool

        stored = self._stored(name)  # the database read stays on this thread, which owns the connection
        return deferToThreadPool(reactor, reactor.getThreadPool(), self._check, stored, password)

    def _stored(self, name: str) -> tuple[User, str] | None:
        if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
            return None
        row = self._connection().execute(
            f"SELECT {_COLUMNS}, password_hash FROM users WHERE name = ?", (name,)
        ).fetchone()
        return None if row is None else (_user(row), row[4])

    def _check(self, stored: tuple[User, str] | None, password: str) -> User | None:
        if not isinstance(password, str) or len(password) > MAX_PASSWORD_LENGTH:
            password = ""
        if stored is None:
            verify_password(dummy_hash(hasher=self._hasher), password, hasher=self._hasher)
            return None
        user, password_hash = stored
        matches = verify_password(password_hash, password, hasher=self._hasher)
        return user if matches and not user.disabled else None

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None


# --- for the hub user command: the database file opened directly ----------------------------------------


def open_database(db_path: Path, migrations: Sequence[Any] | None = None) -> sqlite3.Connection:
    """The hub's database, created and migrated if need be, as the running hub would open it."""
    from hub.sqlite_writer import WriterSettings, migrate, open_connection

    if migrations is None:
        from hub.store import HUB_MIGRATIONS

        migrations = HUB_MIGRATIONS
    Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    connection = open_connection(Path(db_path), WriterSettings())
    try:
        migrate(connection, migrations)
    except BaseException:
        connection.close()
        raise
    return connection


def _in_transaction(connection: sqlite3.Connection, job: Callable[[sqlite3.Connection], Any]) -> Any:
    # IMMEDIATE takes the write lock first, so the audit chain's last row cannot change under us.
    connection.execute("BEGIN IMMEDIATE")
    try:
        result = job(connection)
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
    return result


def add_user_offline(
    db_path: Path, name: str, role: str, password: str, now: float, *,
    actor: Actor = CLI_ACTOR, audit_detail: Mapping[str, Any] | None = None,
    migrations: Sequence[Any] | None = None, hasher: PasswordHasher = DEFAULT_HASHER,
) -> User:
    """Add a user straight to the database file (``hub user add``), audited as ``user.add`` by ``actor``."""
    check_new_user(name, role, password)
    password_hash = hash_password(password, hasher=hasher)
    connection = open_database(db_path, migrations)
    try:
        return _in_transaction(connection, insert_user_job(name, role, password_hash, now, actor, audit_detail))
    finally:
        connection.close()


def disable_user_offline(
    db_path: Path, name: str, now: float, *, actor: Actor = CLI_ACTOR,
    audit_detail: Mapping[str, Any] | None = None, migrations: Sequence[Any] | None = None,
) -> User:
    """Disable a user straight in the database file (``hub user disable``), audited as ``user.disable``."""
    connection = open_database(db_path, migrations)
    try:
        return _in_transaction(connection, disable_user_job(name, now, actor, audit_detail))
    finally:
        connection.close()


def enable_user_offline(
    db_path: Path, name: str, now: float, *, actor: Actor = CLI_ACTOR,
    audit_detail: Mapping[str, Any] | None = None, migrations: Sequence[Any] | None = None,
) -> User:
    """Enable a disabled user straight in the database file (``hub user enable``), audited as ``user.enable``."""
    connection = open_database(db_path, migrations)
    try:
        return _in_transaction(connection, enable_user_job(name, now, actor, audit_detail))
    finally:
        connection.close()


def set_password_offline(
    db_path: Path, name: str, password: str, now: float, *, actor: Actor = CLI_ACTOR,
    audit_detail: Mapping[str, Any] | None = None, migrations: Sequence[Any] | None = None,
    hasher: PasswordHasher = DEFAULT_HASHER,
) -> User:
    """Give a user a new password (``hub user password``), audited as ``user.password``."""
    check_password(password)
    password_hash = hash_password(password, hasher=hasher)
    connection = open_database(db_path, migrations)
    try:
        return _in_transaction(connection, set_password_job(name, password_hash, now, actor, audit_detail))
    finally:
        connection.close()


def list_users_offline(db_path: Path, *, migrations: Sequence[Any] | None = None) -> list[User]:
    """Every user in the database file, by name."""
    connection = open_database(db_path, migrations)
    try:
        return [_user(row) for row in connection.execute(f"SELECT {_COLUMNS} FROM users ORDER BY name")]
    finally:
        connection.close()
