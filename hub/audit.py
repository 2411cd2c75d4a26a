"""The audit log: who did what, when, from where; append-only and chained by hashes.

Every row carries the SHA-256 of the row before it, so that a row edited, deleted or cut from the end
is detected by ``verify_chain`` (``hub audit verify``). Triggers refuse UPDATE and DELETE, so nothing
the hub does, and no casual ``sqlite3`` session, can change a row; someone with the file and intent can
drop the triggers, and then the chain is what tells. docs/security.md gives the exact hash form so an
outside auditor can re-check the chain with their own tools.

Rows are written by jobs that run inside the single writer's transaction (``audit_job``): an action
and its audit row are kept together or not at all, and the previous hash is read in the same
transaction, so two writers never chain onto the same row.
"""

from __future__ import annotations

import csv
import hashlib
import json
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, TextIO

import attrs
from attrs import field, frozen

from hub.logging_setup import get_logger

#: Roles of users, then kinds of actor that are not users (``anonymous``: a failed login by a name
#: that is no user).
USER_ROLES: tuple[str, ...] = ("operator", "supervisor", "admin", "auditor")
ACTOR_KINDS: tuple[str, ...] = ("partner", "system", "cli", "anonymous")
ROLES_AND_KINDS: tuple[str, ...] = USER_ROLES + ACTOR_KINDS

#: The ``prev_hash`` of the first row.
GENESIS_HASH = "0" * 64

#: Detail keys that would hold a secret. Refused anywhere in ``detail``, so that a careless caller
#: fails loudly in tests rather than writing a password into a record that can never be deleted.
SECRET_DETAIL_KEYS = frozenset(
    {"password", "passwd", "new_password", "token", "session_token", "csrf_token", "secret", "key",
     "api_key", "partner_key", "authorization", "cookie", "bearer"}
)

#: The columns of an export, in order (also the CSV header).
EXPORT_COLUMNS: tuple[str, ...] = (
    "id", "at", "actor", "role", "address", "action", "target", "detail", "prev_hash", "hash"
)

_MAX_READ = 1000

log = get_logger(component="audit")


def _role(_instance: object, _attribute: object, value: object) -> None:
    if value not in ROLES_AND_KINDS:
        raise ValueError(f"role must be one of {', '.join(ROLES_AND_KINDS)}, not {value!r}")


@frozen
class Actor:
    """Who acts: a user (with their role), a partner, the hub itself (``system``) or the ``hub`` command.

    ``address`` is the client's IP address, ``"cli"`` for the command line, or None.
    """

    name: str = field(validator=attrs.validators.instance_of(str))
    role: str = field(validator=_role)
    address: str | None = None


#: The actor of ``hub user`` and ``hub audit`` commands.
CLI_ACTOR = Actor(name="cli", role="cli", address="cli")


@frozen
class AuditEntry:
    """One row of the audit log. ``at`` is POSIX seconds (stored as ISO 8601 UTC text, microseconds)."""

    id: int
    at: float
    actor: str
    role: str
    address: str | None
    action: str
    target: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str

    def to_json(self) -> dict[str, Any]:
        """The entry as JSON for the API and ``jsonl`` export: ``at`` as the stored ISO 8601 text."""
        return {
            "id": self.id,
            "at": format_at(self.at),
            "actor": self.actor,
            "role": self.role,
            "address": self.address,
            "action": self.action,
            "target": self.target,
            "detail": self.detail,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


@frozen
class ChainReport:
    """What ``verify_chain`` found: ``ok`` when ``problems`` is empty; ``head`` is the last row's hash."""

    ok: bool
    rows: int
    problems: tuple[str, ...]
    head: str | None = None


# --- schema -----------------------------------------------------------------------------------------------


def create_audit_log(connection: sqlite3.Connection) -> None:
    """Migration: the ``audit_log`` table and the triggers that refuse any UPDATE or DELETE of it."""
    connection.execute(
        """
        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            role TEXT NOT NULL,
            address TEXT,
            action TEXT NOT NULL,
            target TEXT NOT NULL,
            detail TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        )
        """
    )
    connection.execute("CREATE INDEX audit_log_by_actor ON audit_log (actor, id)")
    connection.execute("CREATE INDEX audit_log_by_action ON audit_log (action, id)")
    for verb in ("UPDATE", "DELETE"):
        connection.execute(
            f"""
            CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log
            BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END
            """
        )


#: The triggers ``create_audit_log`` makes; ``verify_chain`` reports any that are gone.
TRIGGERS: tuple[str, ...] = ("audit_log_no_update", "audit_log_no_delete")


# --- the hash ---------------------------------------------------------------------------------------------


def format_at(seconds: float) -> str:
    """POSIX seconds as the stored form: ``2024-05-01T12:00:00.123456Z`` (UTC, always microseconds)."""
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_at(text: str) -> float:
    """The stored form back to POSIX seconds."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


def canonical_json(value: Any) -> str:
    """JSON with sorted keys, no spaces, non-ASCII kept as UTF-8: one text for one value."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def row_hash(
    prev_hash: str, *, id: int, at: str, actor: str, role: str, address: str | None, action: str,
    target: str, detail: str,
) -> str:
    """The hash of one row, exactly as docs/security.md describes it.

    ``at`` and ``detail`` are the stored texts (not re-encoded values), so the hash covers the bytes an
    auditor reads from the file.
    """
    fields = {
        "id": id, "at": at, "actor": actor, "role": role, "address": address,
        "action": action, "target": target, "detail": detail,
    }
    return hashlib.sha256((prev_hash + canonical_json(fields)).encode("utf-8")).hexdigest()


def _check_detail(value: Any, path: str = "detail") -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{path} keys must be strings")
            if key.lower() in SECRET_DETAIL_KEYS:
                raise ValueError(f"{path}.{key} looks like a secret; secrets never go in the audit log")
            _check_detail(item, f"{path}.{key}")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check_detail(item, f"{path}[{index}]")
    elif not (value is None or isinstance(value, (str, int, float, bool))):
        # A Secret, a datetime, an attrs object: refused rather than turned into a string by accident.
        raise TypeError(f"{path} holds a {type(value).__name__}; only JSON values may be audited")


# --- writing ----------------------------------------------------------------------------------------------


def audit_job(
    actor: Actor, action: str, target: str, detail: Mapping[str, Any] | None, at: float
) -> Callable[[sqlite3.Connection], AuditEntry]:
    """A write job that appends one chained row inside the caller's transaction and returns it.

    Meant for the single writer (``writer.submit(job)``, or composed into ``bus.publish(event,
    also=...)``): the previous row is read in the same transaction, so the chain cannot fork. The
    detail is checked now, in the caller, so a mistake fails where it was made.
    """
    detail = dict(detail or {})
    _check_detail(detail)
    if not action or not isinstance(action, str):
        raise ValueError("an audit entry needs an action")
    detail_text = canonical_json(detail)
    at_text = format_at(at)

    def append(connection: sqlite3.Connection) -> AuditEntry:
        last = connection.execute("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
        sequence = connection.execute(
            "SELECT seq FROM sqlite_sequence WHERE name = 'audit_log'"
        ).fetchone()
        # The id is chosen here rather than by AUTOINCREMENT because it is part of the hash; it still
        # never reuses an id of a removed row (sqlite_sequence remembers the highest ever used).
        row_id = max(last[0] if last else 0, sequence[0] if sequence else 0) + 1
        prev_hash = last[1] if last else GENESIS_HASH
        digest = row_hash(
            prev_hash, id=row_id, at=at_text, actor=actor.name, role=actor.role, address=actor.address,
            action=action, target=target, detail=detail_text,
        )
        connection.execute(
            "INSERT INTO audit_log (id, at, actor, role, address, action, target, detail, prev_hash, hash)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (row_id, at_text, actor.name, actor.role, actor.address, action, target, detail_text,
             prev_hash, digest),
        )
        return AuditEntry(
            id=row_id, at=parse_at(at_text), actor=actor.name, role=actor.role, address=actor.address,
            action=action, target=target, detail=json.loads(detail_text), prev_hash=prev_hash, hash=digest,
        )

    return append


class AuditLog:
    """The hub's audit log: jobs for the single writer, and reads on a connection of its own."""

    def __init__(self, writer: Any, clock: Any, reader_path: Path) -> None:
        self._writer = writer
        self._clock = clock
        self._reader_path = Path(reader_path)
        self._reader: sqlite3.Connection | None = None

    def job(
        self, actor: Actor, action: str, target: str, detail: Mapping[str, Any] | None = None
    ) -> Callable[[sqlite3.Connection], AuditEntry]:
        """A job appending one row, timed now, for composing into another transaction."""
        return audit_job(actor, action, target, detail, self._clock.seconds())

    def record(self, actor: Actor, action: str, target: str, detail: Mapping[str, Any] | None = None) -> Any:
        """Append one row in a transaction of its own; the Deferred fires with the entry once committed."""
        entry = self._writer.submit(self.job(actor, action, target, detail))

        def logged(written: AuditEntry) -> AuditEntry:
            log.debug("audit_recorded", id=written.id, action=action, actor=actor.name)
            return written

        return entry.addCallback(logged)

    def read(
        self, *, after_id: int = 0, limit: int = 200, actor: str | None = None, action: str | None = None,
        before_id: int | None = None,
    ) -> list[AuditEntry]:
        """Rows after ``after_id`` in id order; with ``before_id``, the rows before it, newest first.

        ``action`` matches exactly or, ending in ``.*``, as a prefix (``session.*``). At most 1000 rows.
        """
        if self._reader is None:
            from hub.journal import open_reader

            self._reader = open_reader(self._reader_path)
        clauses = ["id > ?"]
        params: list[Any] = [after_id]
        if before_id is not None:
            clauses.append("id < ?")
            params.append(before_id)
        if actor is not None:
            clauses.append("actor = ?")
            params.append(actor)
        if action is not None:
            if action.endswith(".*"):
                clauses.append("substr(action, 1, ?) = ?")
                params.extend([len(action) - 1, action[:-1]])
            else:
                clauses.append("action = ?")
                params.append(action)
        order = "DESC" if before_id is not None else "ASC"
        params.append(max(0, min(limit, _MAX_READ)))
        rows = self._reader.execute(
            f"SELECT {', '.join(EXPORT_COLUMNS)} FROM audit_log WHERE {' AND '.join(clauses)}"
            f" ORDER BY id {order} LIMIT ?",
            params,
        ).fetchall()
        return [_entry(row) for row in rows]

    def export(self, out: TextIO, *, format: str = "csv", after_id: int = 0) -> int:
        """Write the rows after ``after_id`` to ``out`` as ``csv`` or ``jsonl``, exactly as stored; return how many.

        The caller records the ``audit.export`` itself (it knows who asked).
        """
        exporters = {"csv": export_csv, "jsonl": export_jsonl}
        if format not in exporters:
            raise ValueError("format must be csv or jsonl")
        if self._reader is None:
            from hub.journal import open_reader

            self._reader = open_reader(self._reader_path)
        return exporters[format](self._reader, out, after_id=after_id)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None


def _entry(row: tuple[Any, ...]) -> AuditEntry:
    id_, at, actor, role, address, action, target, detail, prev_hash, digest = row
    return AuditEntry(
        id=id_, at=parse_at(at), actor=actor, role=role, address=address, action=action, target=target,
        detail=json.loads(detail), prev_hash=prev_hash, hash=digest,
    )


# --- checking ---------------------------------------------------------------------------------------------


def verify_chain(connection: sqlite3.Connection) -> ChainReport:
    """Walk every row and name every problem by row id.

    Found: a row whose contents do not give its hash (edited), ids missing between rows (deleted),
    ids missing after the last row that SQLite had handed out (tail removed), a row whose ``prev_hash``
    is not the hash of the row before it (broken link, e.g. a row re-hashed after an edit), and the
    append-only triggers gone. The rows are streamed, so a long log needs little memory.
    """
    problems: list[str] = []
    present = {
        name for (name,) in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'"
        )
    }
    for trigger in TRIGGERS:
        if trigger not in present:
            problems.append(f"trigger {trigger} is missing: the table has been opened to edits")

    rows = 0
    previous_id = 0
    previous_hash = GENESIS_HASH
    for row in _rows(connection):
        row_id, at, actor, role, address, action, target, detail, prev_hash, digest = row
        rows += 1
        gap = row_id != previous_id + 1
        if gap:
            problems.append(f"{_ids(previous_id + 1, row_id - 1)} missing: deleted")
        expected = row_hash(
            prev_hash, id=row_id, at=at, actor=actor, role=role, address=address, action=action,
            target=target, detail=detail,
        )
        if expected != digest:
            problems.append(f"row {row_id}: edited (its contents do not give its hash)")
        # After a gap the link is broken by the deletion already named; saying it twice helps no one.
        if prev_hash != previous_hash and not gap:
            problems.append(f"row {row_id}: broken link (prev_hash is not the hash of row {previous_id})")
        previous_id = row_id
        previous_hash = digest

    sequence = connection.execute("SELECT seq FROM sqlite_sequence WHERE name = 'audit_log'").fetchone()
    highest = sequence[0] if sequence else 0
    if highest > previous_id:
        problems.append(f"{_ids(previous_id + 1, highest)} missing at the end: tail removed")
    return ChainReport(
        ok=not problems, rows=rows, problems=tuple(problems), head=previous_hash if rows else None
    )


def _ids(first: int, last: int) -> str:
    return f"row {first}" if first == last else f"rows {first}-{last}"


def _rows(connection: sqlite3.Connection, after_id: int = 0) -> Iterator[tuple[Any, ...]]:
    cursor = connection.execute(
        f"SELECT {', '.join(EXPORT_COLUMNS)} FROM audit_log WHERE id > ? ORDER BY id", (after_id,)
    )
    while chunk := cursor.fetchmany(1000):
        yield from chunk


# --- export -----------------------------------------------------------------------------------------------


def export_csv(connection: sqlite3.Connection, out: TextIO, *, after_id: int = 0) -> int:
    """Write the rows after ``after_id`` as CSV (header first) and return how many.

    Values are written exactly as stored (``at`` and ``detail`` as their texts), so the chain can be
    re-checked from the export. A spreadsheet should import every column as text: a value such as
    ``=HYPERLINK(...)`` in a partner's reference is data, not a formula.
    """
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    count = 0
    for row in _rows(connection, after_id):
        writer.writerow(["" if value is None else value for value in row])
        count += 1
    return count


def export_jsonl(connection: sqlite3.Connection, out: TextIO, *, after_id: int = 0) -> int:
    """Write the rows after ``after_id`` as JSON lines and return how many.

    ``at`` and ``detail`` are the stored texts (``detail`` a string holding JSON), so the hash can be
    re-computed from each line as it is.
    """
    count = 0
    for row in _rows(connection, after_id):
        out.write(canonical_json(dict(zip(EXPORT_COLUMNS, row))) + "\n")
        count += 1
    return count
