"""What the police link remembers of the force's requests, the footage held for them, and every release.

``PoliceRecords`` reads and writes the tables ``police_requests``, ``police_holds`` and
``police_disclosures`` (plugins/police_link/schema.py). Writes are *jobs*, functions of a
``sqlite3.Connection``, that go in the same transaction as the event recording them (``LinkSender.send(also=...)``
or ``bus.publish(event, also=together(...))``): a row and its event are kept together or not at all. Reads run
on the hub database's reader connection.

The disclosure log is append-only (triggers refuse UPDATE and DELETE): rows are only ever inserted. An event
about a new row (``police.disclosure.recorded``, ``police.hold.created``) must carry the row's id, and the
event is serialised before its transaction runs, so the id is chosen first (``next_disclosure_id``,
``next_hold_id``) and the job inserts exactly that id. Should another link of the same hub have taken it
meanwhile, the insert fails with ``sqlite3.IntegrityError``, nothing of the transaction is kept, and the
caller tries again with a fresh id. Ids only grow; a gap is a write that failed (and so a release that was
never made).

``export_csv`` writes the log for an auditor: the columns of ``DISCLOSURE_COLUMNS``, times as ISO 8601 UTC,
``detail`` as JSON. A spreadsheet runs a cell that starts with ``=``, ``+``, ``-``, ``@`` (or a tab or
carriage return) as a formula, and the text in the log partly comes from the force (a request's reason):
such a cell is written with a leading apostrophe, which spreadsheets show as text.
"""

from __future__ import annotations

import csv
import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TextIO

from attrs import frozen

from hub.clock import iso

Job = Callable[[sqlite3.Connection], Any]

DISCLOSURE_COLUMNS = ("id", "at", "link", "recipient", "what", "item", "why", "request_id", "crime_reference",
                      "released_by", "expires_at", "sha256", "detail")

#: Where a request stands, as its row and the link's snapshot say.
AWAITING_CONSENT = "awaiting_consent"   # an operator must approve or refuse it
WORKING = "working"                     # being carried out (a camera asked, an answer not yet queued)
ACTIVE = "active"                       # accepted and still running: a live view, a monitoring period, a hold
CLOSED = "closed"                       # finished: done, refused, stale, failed, expired
REQUEST_STATES = (AWAITING_CONSENT, WORKING, ACTIVE, CLOSED)

HOLD_OPEN = "open"
HOLD_COMPLETED = "completed"

#: Released by the hub itself (configuration allowed it without an operator).
RELEASED_BY_HUB = "hub (automatic)"

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

_UNCHANGED: Any = object()


@frozen
class Disclosure:
    """One release to the police: ``what`` (``live_view``, ``footage``, ``still``), ``item`` (a camera
    number, an export reference, an evidence hash), to ``recipient`` (the force), ``why``, under which
    ``request_id`` and ``crime_reference``, ``released_by`` whom, valid until ``expires_at`` (POSIX seconds;
    a live view), ``sha256`` of what was released where there is one (a footage manifest, a still);
    ``detail`` anything else, JSON-ready. ``id`` is the log's row (None before it is written)."""

    id: int | None
    at: float
    link: str
    recipient: str
    what: str
    item: str
    why: str
    request_id: str | None
    crime_reference: str | None
    released_by: str
    expires_at: float | None
    sha256: str | None
    detail: dict[str, Any]


@frozen
class RequestRecord:
    """A request from the force as the hub keeps it: ``payload`` is the request's JSON as the force sent
    it; ``deadline`` and the times are POSIX seconds; ``expires_at`` is when what it started ends (a live
    view's expiry, a monitoring period's end)."""

    link: str
    request_id: str
    request_type: str
    version: int
    transaction_id: str
    received_at: float
    deadline: float | None
    state: str
    needs_consent: bool
    payload: dict[str, Any]
    answered_at: float | None = None
    outcome: str | None = None
    detail: str | None = None
    answered_by: str | None = None
    expires_at: float | None = None


@frozen
class HoldRecord:
    """Footage held for a crime reference until an operator exports it. ``start``, ``end`` and
    ``retain_until`` are ISO 8601 text as the force sent them; ``manifest`` the exported files, each
    ``{"name", "sha256"}``."""

    id: int | None
    link: str
    request_id: str
    crime_reference: str
    cameras: tuple[str, ...]
    start: str
    end: str
    retain_until: str | None
    created_at: float
    state: str = HOLD_OPEN
    completed_at: float | None = None
    completed_by: str | None = None
    export_reference: str | None = None
    manifest: tuple[dict[str, Any], ...] = ()


def together(*jobs: Job | None) -> Callable[[sqlite3.Connection, int], None]:
    """Jobs as one ``also`` for ``bus.publish`` (which passes the event's seq too): run in order, in the
    event's transaction."""
    chosen = tuple(job for job in jobs if job is not None)

    def run(connection: sqlite3.Connection, _seq: int) -> None:
        for job in chosen:
            job(connection)

    return run


def spreadsheet_safe(text: str) -> str:
    """``text`` as a CSV cell a spreadsheet shows as text: a leading apostrophe when it would start a
    formula."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


class PoliceRecords:
    """The requests, holds and disclosures of one link (``link`` is the adapter instance's name) in the
    hub's database. The disclosure log is shared by every link; reading it may span them all."""

    def __init__(self, database: Any, link: str) -> None:
        self._database = database
        self.link = link
        self._given: dict[str, int] = {}

    def apply(self, job: Job) -> Any:
        """Run a job on its own through the hub's writer (a Deferred of its result), for a change that no
        event of this link records (an approval: the operator's command event is the record)."""
        return self._database.write(job)

    # --- ids chosen before the transaction ------------------------------------------------------------

    def next_disclosure_id(self) -> int:
        """The id the next disclosure row takes (see the module's docstring)."""
        return self._next_id("police_disclosures")

    def next_hold_id(self) -> int:
        """The id the next hold row takes."""
        return self._next_id("police_holds")

    def _next_id(self, table: str) -> int:
        def query(connection: sqlite3.Connection) -> int:
            # sqlite_sequence remembers ids that were taken even if their rows are gone; MAX(id) covers
            # a table that never had one.
            row = connection.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)).fetchone()
            highest = connection.execute(f"SELECT MAX(id) FROM {table}").fetchone()[0]
            return max(row[0] if row else 0, highest or 0)

        chosen = max(self._database.read(query), self._given.get(table, 0)) + 1
        self._given[table] = chosen
        return chosen

    # --- the disclosure log ----------------------------------------------------------------------------

    def disclosure_job(self, disclosure: Disclosure) -> Job:
        """Insert ``disclosure`` (with its id when given, else the next); the job returns the row's id."""
        values = (disclosure.id, disclosure.at, disclosure.link, disclosure.recipient, disclosure.what,
                  disclosure.item, disclosure.why, disclosure.request_id, disclosure.crime_reference,
                  disclosure.released_by, disclosure.expires_at, disclosure.sha256, _json(disclosure.detail))

        def job(connection: sqlite3.Connection) -> int:
            cursor = connection.execute(
                f"INSERT INTO police_disclosures ({', '.join(DISCLOSURE_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(DISCLOSURE_COLUMNS))})", values)
            return int(cursor.lastrowid)  # type: ignore[arg-type]

        return job

    def disclosures(self, *, after_id: int = 0, limit: int = 500, link: str | None = None,
                    request_id: str | None = None) -> list[Disclosure]:
        """Rows after ``after_id`` in id order, at most ``limit``; of one link (None: every link) and
        request when given."""
        where, parameters = ["id > ?"], [after_id]
        if link is not None:
            where.append("link = ?")
            parameters.append(link)  # type: ignore[arg-type]
        if request_id is not None:
            where.append("request_id = ?")
            parameters.append(request_id)  # type: ignore[arg-type]
        sql = (f"SELECT {', '.join(DISCLOSURE_COLUMNS)} FROM police_disclosures WHERE {' AND '.join(where)} "
               "ORDER BY id LIMIT ?")
        rows = self._database.read(lambda connection: connection.execute(sql, (*parameters, limit)).fetchall())
        return [_disclosure(row) for row in rows]

    def export_csv(self, out: TextIO, *, after_id: int = 0, link: str | None = None) -> int:
        """Write the log (after ``after_id``; one link or all) to ``out`` as CSV with a header row; returns
        the number of rows written. ``out`` should be opened with ``newline=""``."""
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(DISCLOSURE_COLUMNS)
        written = 0
        while True:
            page = self.disclosures(after_id=after_id, limit=500, link=link)
            for disclosure in page:
                writer.writerow(_csv_row(disclosure))
            written += len(page)
            if len(page) < 500:
                return written
            after_id = page[-1].id  # type: ignore[assignment]

    # --- requests ---------------------------------------------------------------------------------------

    def request_job(self, record: RequestRecord) -> Job:
        """Insert a request as received (``IntegrityError`` if this link has its id already)."""
        values = (self.link, record.request_id, record.request_type, record.version, record.transaction_id,
                  record.received_at, record.deadline, record.state, int(record.needs_consent),
                  _json(record.payload), record.answered_at, record.outcome, record.detail, record.answered_by,
                  record.expires_at)

        def job(connection: sqlite3.Connection) -> None:
            connection.execute(
                "INSERT INTO police_requests (link, request_id, request_type, version, transaction_id, "
                "received_at, deadline, state, needs_consent, payload, answered_at, outcome, detail, "
                "answered_by, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", values)

        return job

    def request_state_job(self, request_id: str, state: str, *, at: float | None = None,
                          outcome: str | None = None, detail: str | None = None,
                          answered_by: str | None = _UNCHANGED, expires_at: float | None = _UNCHANGED) -> Job:
        """Move a request to ``state``; with ``outcome``, record the answer given (at ``at``, its
        ``detail``, by ``answered_by``). ``expires_at`` is changed only when given."""
        if state not in REQUEST_STATES:
            raise ValueError(f"request state {state!r} is not one of {', '.join(REQUEST_STATES)}")
        assignments, values = ["state = ?"], [state]
        if outcome is not None:
            assignments += ["outcome = ?", "detail = ?", "answered_at = ?"]
            values += [outcome, detail, at]  # type: ignore[list-item]
        if answered_by is not _UNCHANGED:
            assignments.append("answered_by = ?")
            values.append(answered_by)  # type: ignore[arg-type]
        if expires_at is not _UNCHANGED:
            assignments.append("expires_at = ?")
            values.append(expires_at)  # type: ignore[arg-type]
        sql = f"UPDATE police_requests SET {', '.join(assignments)} WHERE link = ? AND request_id = ?"
        parameters = (*values, self.link, request_id)

        def job(connection: sqlite3.Connection) -> None:
            if connection.execute(sql, parameters).rowcount != 1:
                raise LookupError(f"no request {request_id!r} on {self.link}")

        return job

    def request(self, request_id: str) -> RequestRecord | None:
        rows = self._database.read(lambda connection: connection.execute(
            f"SELECT {_REQUEST_COLUMNS} FROM police_requests WHERE link = ? AND request_id = ?",
            (self.link, request_id)).fetchall())
        return _request(rows[0]) if rows else None

    def request_ids(self) -> set[str]:
        """Every request id this link has received."""
        rows = self._database.read(lambda connection: connection.execute(
            "SELECT request_id FROM police_requests WHERE link = ?", (self.link,)).fetchall())
        return {row[0] for row in rows}

    def open_requests(self) -> list[RequestRecord]:
        """This link's requests not yet closed, oldest first."""
        rows = self._database.read(lambda connection: connection.execute(
            f"SELECT {_REQUEST_COLUMNS} FROM police_requests WHERE link = ? AND state != ? "
            "ORDER BY received_at, request_id", (self.link, CLOSED)).fetchall())
        return [_request(row) for row in rows]

    # --- holds ----------------------------------------------------------------------------------------

    def hold_job(self, hold: HoldRecord) -> Job:
        """Insert a hold (with its id when given); the job returns the row's id."""
        values = (hold.id, self.link, hold.request_id, hold.crime_reference, _json(list(hold.cameras)), hold.start,
                  hold.end, hold.retain_until, hold.created_at, hold.state)

        def job(connection: sqlite3.Connection) -> int:
            cursor = connection.execute(
                "INSERT INTO police_holds (id, link, request_id, crime_reference, cameras, start, end, "
                "retain_until, created_at, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", values)
            return int(cursor.lastrowid)  # type: ignore[arg-type]

        return job

    def hold_done_job(self, hold_id: int, *, at: float, completed_by: str, export_reference: str,
                      manifest: Sequence[dict[str, Any]]) -> Job:
        """Mark an open hold exported (``LookupError`` if it is not open)."""
        values = (HOLD_COMPLETED, at, completed_by, export_reference, _json(list(manifest)), hold_id, HOLD_OPEN)

        def job(connection: sqlite3.Connection) -> None:
            updated = connection.execute(
                "UPDATE police_holds SET state = ?, completed_at = ?, completed_by = ?, export_reference = ?, "
                "manifest = ? WHERE id = ? AND state = ?", values).rowcount
            if updated != 1:
                raise LookupError(f"hold {hold_id} is not open")

        return job

    def holds(self, *, open_only: bool = False, request_id: str | None = None) -> list[HoldRecord]:
        """This link's holds, oldest first: only the open ones, or those of one request, when asked."""
        where, parameters = ["link = ?"], [self.link]
        if open_only:
            where.append("state = ?")
            parameters.append(HOLD_OPEN)
        if request_id is not None:
            where.append("request_id = ?")
            parameters.append(request_id)
        sql = f"SELECT {_HOLD_COLUMNS} FROM police_holds WHERE {' AND '.join(where)} ORDER BY id"
        rows = self._database.read(lambda connection: connection.execute(sql, parameters).fetchall())
        return [_hold(row) for row in rows]


_REQUEST_COLUMNS = ("link, request_id, request_type, version, transaction_id, received_at, deadline, state, "
                    "needs_consent, payload, answered_at, outcome, detail, answered_by, expires_at")
_HOLD_COLUMNS = ("id, link, request_id, crime_reference, cameras, start, end, retain_until, created_at, state, "
                 "completed_at, completed_by, export_reference, manifest")


def _request(row: Sequence[Any]) -> RequestRecord:
    (link, request_id, request_type, version, transaction_id, received_at, deadline, state, needs_consent,
     payload, answered_at, outcome, detail, answered_by, expires_at) = row
    return RequestRecord(link=link, request_id=request_id, request_type=request_type, version=version,
                         transaction_id=transaction_id, received_at=received_at, deadline=deadline, state=state,
                         needs_consent=bool(needs_consent), payload=json.loads(payload), answered_at=answered_at,
                         outcome=outcome, detail=detail, answered_by=answered_by, expires_at=expires_at)


def _hold(row: Sequence[Any]) -> HoldRecord:
    (hold_id, link, request_id, crime_reference, cameras, start, end, retain_until, created_at, state,
     completed_at, completed_by, export_reference, manifest) = row
    return HoldRecord(id=hold_id, link=link, request_id=request_id, crime_reference=crime_reference,
                      cameras=tuple(json.loads(cameras)), start=start, end=end, retain_until=retain_until,
                      created_at=created_at, state=state, completed_at=completed_at, completed_by=completed_by,
                      export_reference=export_reference,
                      manifest=tuple(json.loads(manifest)) if manifest else ())


def _disclosure(row: Sequence[Any]) -> Disclosure:
    values = dict(zip(DISCLOSURE_COLUMNS, row))
    values["detail"] = json.loads(values["detail"])
    return Disclosure(**values)


def _csv_row(disclosure: Disclosure) -> list[str]:
    cells: Iterable[Any] = (
        disclosure.id, iso(disclosure.at), disclosure.link, disclosure.recipient, disclosure.what, disclosure.item,
        disclosure.why, disclosure.request_id, disclosure.crime_reference, disclosure.released_by,
        iso(disclosure.expires_at), disclosure.sha256, _json(disclosure.detail))
    return ["" if cell is None else spreadsheet_safe(str(cell)) for cell in cells]
