"""Incidents in the hub's SQLite file: the schema, the write job the engine runs with each change, and reads.

The engine never writes on its own: every change goes into the database inside the transaction that
journals its ``incident.*`` event (``bus.publish(event, also=job)``), together with the engine's input
position and, for an operator's action, the audit row. So the incident tables, the journal, the
position and the audit log never disagree, whenever the process dies.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import attrs

from hub.events import Location, Severity, Subject
from hub.incidents.model import (
    OPEN_STATES,
    HistoryEntry,
    Incident,
    IncidentNote,
    IncidentState,
    SopStep,
)
from hub.journal import open_reader

#: The bus cursor the engine saves its position under when it has passed events that changed nothing
#: (no incident transaction to carry it). See ``IncidentStore.engine_position``.
ENGINE_CURSOR = "incident-engine"


def create_incidents(connection: sqlite3.Connection) -> None:
    """Migration: the incident tables, and the engine's position starting at the journal's head.

    Starting at the head means a hub upgraded onto an old journal does not raise a month of past
    events as new incidents; a new database starts at 0.
    """
    connection.execute(
        """CREATE TABLE incidents (
               id TEXT PRIMARY KEY,
               number INTEGER NOT NULL UNIQUE,
               title TEXT NOT NULL,
               state TEXT NOT NULL,
               severity INTEGER NOT NULL,
               priority INTEGER,
               category TEXT,
               owner TEXT,
               source TEXT NOT NULL,
               subject TEXT NOT NULL,
               location TEXT,
               location_name TEXT,
               opened_at REAL NOT NULL,
               updated_at REAL NOT NULL,
               last_event_at REAL NOT NULL,
               acknowledged_at REAL,
               acknowledged_by TEXT,
               resolved_at REAL,
               closed_at REAL,
               event_count INTEGER NOT NULL,
               duplicate_count INTEGER NOT NULL,
               escalation_count INTEGER NOT NULL,
               last_escalated_at REAL,
               sources TEXT NOT NULL,
               cameras TEXT NOT NULL
           )"""
    )
    connection.execute("CREATE INDEX incidents_queue ON incidents(state, severity DESC, opened_at)")
    # event_seq is unique: an event belongs to at most one incident, and can be counted only once.
    connection.execute(
        """CREATE TABLE incident_events (
               incident_id TEXT NOT NULL REFERENCES incidents(id),
               event_seq INTEGER NOT NULL UNIQUE,
               event_id TEXT NOT NULL,
               topic TEXT NOT NULL,
               folded INTEGER NOT NULL,
               at REAL NOT NULL,
               subject_key TEXT NOT NULL,
               location_keys TEXT NOT NULL
           )"""
    )
    connection.execute("CREATE INDEX incident_events_by_incident ON incident_events(incident_id, event_seq)")
    connection.execute(
        """CREATE TABLE incident_notes (
               id INTEGER PRIMARY KEY,
               incident_id TEXT NOT NULL REFERENCES incidents(id),
               at REAL NOT NULL,
               author TEXT NOT NULL,
               text TEXT NOT NULL
           )"""
    )
    connection.execute("CREATE INDEX incident_notes_by_incident ON incident_notes(incident_id, id)")
    connection.execute(
        """CREATE TABLE incident_history (
               id INTEGER PRIMARY KEY,
               incident_id TEXT NOT NULL REFERENCES incidents(id),
               at REAL NOT NULL,
               actor TEXT,
               action TEXT NOT NULL,
               detail TEXT NOT NULL,
               event_seq INTEGER NOT NULL
           )"""
    )
    connection.execute("CREATE INDEX incident_history_by_incident ON incident_history(incident_id, id)")
    connection.execute(
        "CREATE TABLE incident_engine (id INTEGER PRIMARY KEY CHECK (id = 1), position INTEGER NOT NULL)"
    )
    connection.execute(
        "INSERT INTO incident_engine (id, position) VALUES "
        "(1, coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0))"
    )


def add_incident_covers(connection: sqlite3.Connection) -> None:
    """Migration: ``incidents.covers``, the subject keys a root-cause incident covers (a JSON list).

    Incidents stored before it cover nothing, which is what they did.
    """
    connection.execute("ALTER TABLE incidents ADD COLUMN covers TEXT NOT NULL DEFAULT '[]'")


def add_incident_rule_actions(connection: sqlite3.Connection) -> None:
    """Migration: what rules did to an incident: ``sop`` (its checklist, a JSON list of steps with who
    ticked each off when), ``offers`` and ``rules`` (JSON lists of names) and ``escalate_after_s``.

    Incidents stored before it have no checklist, offer nothing, were acted on by no rule and escalate
    by their severity, which is what they did.
    """
    connection.execute("ALTER TABLE incidents ADD COLUMN sop TEXT NOT NULL DEFAULT '[]'")
    connection.execute("ALTER TABLE incidents ADD COLUMN offers TEXT NOT NULL DEFAULT '[]'")
    connection.execute("ALTER TABLE incidents ADD COLUMN rules TEXT NOT NULL DEFAULT '[]'")
    connection.execute("ALTER TABLE incidents ADD COLUMN escalate_after_s REAL")


# --- keys the engine joins on ----------------------------------------------------------------------


def subject_key(subject: Subject) -> str:
    return f"{subject.kind}:{subject.id}"


def location_keys(location: Location | None) -> tuple[str, ...]:
    """The ways two events can be at the same place: the same property, camera or named site.

    Coordinates alone are not compared: two reports a street apart are not the same place.
    """
    if location is None:
        return ()
    keys = []
    if location.uprn:
        keys.append(f"uprn:{location.uprn.strip()}")
    if location.camera:
        keys.append(f"camera:{location.camera.strip()}")
    if location.name and location.name.strip():
        keys.append(f"name:{' '.join(location.name.lower().split())}")
    return tuple(keys)


# --- writing (inside the publish transaction) ----------------------------------------------------


@attrs.frozen
class EventLink:
    """An event gathered into an incident."""

    event_seq: int
    event_id: str
    topic: str
    folded: bool
    at: float
    subject_key: str
    location_keys: tuple[str, ...]


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _incident_row(incident: Incident) -> tuple[Any, ...]:
    location = incident.location
    return (
        incident.id,
        incident.number,
        incident.title,
        incident.state.value,
        int(incident.severity),
        incident.priority,
        incident.category,
        incident.owner,
        incident.source,
        _dumps(attrs.asdict(incident.subject)),
        _dumps(attrs.asdict(location)) if location is not None else None,
        location.name if location is not None else None,
        incident.opened_at,
        incident.updated_at,
        incident.last_event_at,
        incident.acknowledged_at,
        incident.acknowledged_by,
        incident.resolved_at,
        incident.closed_at,
        incident.event_count,
        incident.duplicate_count,
        incident.escalation_count,
        incident.last_escalated_at,
        _dumps(list(incident.sources)),
        _dumps(list(incident.cameras)),
        _dumps(list(incident.covers)),
        _dumps([[step.text, step.done_at, step.done_by] for step in incident.sop]),
        _dumps(list(incident.offers)),
        _dumps(list(incident.rules)),
        incident.escalate_after_s,
    )


_COLUMNS = (
    "id, number, title, state, severity, priority, category, owner, source, subject, location, "
    "location_name, opened_at, updated_at, last_event_at, acknowledged_at, acknowledged_by, resolved_at, "
    "closed_at, event_count, duplicate_count, escalation_count, last_escalated_at, sources, cameras, covers, "
    "sop, offers, rules, escalate_after_s"
)
_UPSERT = (
    f"INSERT OR REPLACE INTO incidents ({_COLUMNS}) VALUES ({', '.join('?' * len(_COLUMNS.split(',')))})"
)


def change_job(
    incident: Incident,
    *,
    history: HistoryEntry | None = None,
    link: EventLink | None = None,
    note: IncidentNote | None = None,
    position: int | None = None,
    audit: Callable[[sqlite3.Connection], Any] | None = None,
) -> Callable[[sqlite3.Connection, int], None]:
    """The work for ``bus.publish(event, also=...)``: store ``incident`` as it now is, and with it the
    event it gathered, the note, the history entry (tagged with the change event's seq), the engine's
    new input position and the audit row. Any failure undoes all of it and the event."""

    row = _incident_row(incident)

    def job(connection: sqlite3.Connection, seq: int) -> None:
        connection.execute(_UPSERT, row)
        if link is not None:
            connection.execute(
                "INSERT INTO incident_events (incident_id, event_seq, event_id, topic, folded, at, "
                "subject_key, location_keys) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    incident.id,
                    link.event_seq,
                    link.event_id,
                    link.topic,
                    int(link.folded),
                    link.at,
                    link.subject_key,
                    _dumps(list(link.location_keys)),
                ),
            )
        if note is not None:
            connection.execute(
                "INSERT INTO incident_notes (incident_id, at, author, text) VALUES (?, ?, ?, ?)",
                (incident.id, note.at, note.author, note.text),
            )
        if history is not None:
            connection.execute(
                "INSERT INTO incident_history (incident_id, at, actor, action, detail, event_seq) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (incident.id, history.at, history.actor, history.action, _dumps(dict(history.detail)), seq),
            )
        if position is not None:
            connection.execute(
                "UPDATE incident_engine SET position = max(position, ?) WHERE id = 1", (position,)
            )
        if audit is not None:
            audit(connection)

    return job


# --- reading ---------------------------------------------------------------------------------------


def _incident_from_row(row: Sequence[Any]) -> Incident:
    (
        id_, number, title, state, severity, priority, category, owner, source, subject, location,
        _location_name, opened_at, updated_at, last_event_at, acknowledged_at, acknowledged_by,
        resolved_at, closed_at, event_count, duplicate_count, escalation_count, last_escalated_at,
        sources, cameras, covers, sop, offers, rules, escalate_after_s,
    ) = row
    return Incident(
        id=id_,
        number=number,
        title=title,
        state=IncidentState(state),
        severity=Severity(severity),
        priority=priority,
        category=category,
        owner=owner,
        source=source,
        subject=Subject(**json.loads(subject)),
        location=Location(**json.loads(location)) if location is not None else None,
        opened_at=opened_at,
        updated_at=updated_at,
        last_event_at=last_event_at,
        acknowledged_at=acknowledged_at,
        acknowledged_by=acknowledged_by,
        resolved_at=resolved_at,
        closed_at=closed_at,
        event_count=event_count,
        duplicate_count=duplicate_count,
        escalation_count=escalation_count,
        last_escalated_at=last_escalated_at,
        sources=tuple(json.loads(sources)),
        cameras=tuple(json.loads(cameras)),
        covers=tuple(json.loads(covers)),
        sop=tuple(SopStep(text=text, done_at=done_at, done_by=done_by) for text, done_at, done_by in json.loads(sop)),
        offers=tuple(json.loads(offers)),
        rules=tuple(json.loads(rules)),
        escalate_after_s=escalate_after_s,
    )


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class IncidentStore:
    """Reads the incident tables through a connection of its own (WAL lets it read beside the writer).

    Every read sees the latest commit, so what it returns is what the engine has made durable.
    """

    def __init__(self, reader_path: Path | str) -> None:
        self.path = Path(reader_path)
        self._connection: sqlite3.Connection | None = open_reader(self.path)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            raise RuntimeError("the incident store is closed")
        return self._connection

    # --- incidents -------------------------------------------------------------------------------------

    def list(
        self,
        *,
        states: Iterable[IncidentState | str] | None = None,
        source: str | None = None,
        location: str | None = None,
        min_severity: Severity | str | None = None,
        text: str | None = None,
        limit: int = 200,
    ) -> list[Incident]:
        """Incidents matching every filter given, worst severity first, then oldest first.

        ``source`` matches an incident any of whose events came from that source, or from an instance of
        that adapter type (``shopwatch`` matches ``shopwatch.town_centre``). ``location`` matches the
        location name (case-insensitive, part of it) or the camera. ``text`` searches the id, title,
        category, owner, subject and location name.
        """
        where: list[str] = []
        params: list[Any] = []
        if states is not None:
            values = sorted({IncidentState.parse(state).value for state in states})
            if not values:
                return []
            where.append(f"state IN ({', '.join('?' * len(values))})")
            params.extend(values)
        if source:
            where.append(
                "EXISTS (SELECT 1 FROM json_each(incidents.sources) AS s "
                "WHERE s.value = ? OR s.value LIKE ? ESCAPE '\\')"
            )
            params.extend([source, source.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + ".%"])
        if location:
            where.append(
                "(location_name LIKE ? ESCAPE '\\' OR json_extract(location, '$.camera') = ? "
                "OR EXISTS (SELECT 1 FROM json_each(incidents.cameras) AS c WHERE c.value = ?))"
            )
            params.extend([_like(location), location, location])
        if min_severity is not None:
            floor = Severity.parse(min_severity) if isinstance(min_severity, str) else Severity(min_severity)
            where.append("severity >= ?")
            params.append(int(floor))
        if text:
            where.append(
                "(id LIKE ? ESCAPE '\\' OR title LIKE ? ESCAPE '\\' OR category LIKE ? ESCAPE '\\' "
                "OR owner LIKE ? ESCAPE '\\' OR subject LIKE ? ESCAPE '\\' OR location_name LIKE ? ESCAPE '\\')"
            )
            params.extend([_like(text)] * 6)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self._db().execute(
            f"SELECT {_COLUMNS} FROM incidents {clause} ORDER BY severity DESC, opened_at, number LIMIT ?",
            (*params, max(int(limit), 0)),
        ).fetchall()
        return [_incident_from_row(row) for row in rows]

    def get(self, incident_id: str) -> Incident | None:
        row = self._db().execute(f"SELECT {_COLUMNS} FROM incidents WHERE id = ?", (incident_id,)).fetchone()
        return _incident_from_row(row) if row is not None else None

    def open_incidents(self) -> list[Incident]:
        """Incidents that still gather events (new, acknowledged, in progress), by number."""
        values = sorted(state.value for state in OPEN_STATES)
        rows = self._db().execute(
            f"SELECT {_COLUMNS} FROM incidents WHERE state IN ({', '.join('?' * len(values))}) ORDER BY number",
            values,
        ).fetchall()
        return [_incident_from_row(row) for row in rows]

    def counts_by_state(self) -> dict[str, int]:
        """How many incidents are in each state; every state is present, 0 if none."""
        counts = {state.value: 0 for state in IncidentState}
        for state, count in self._db().execute("SELECT state, count(*) FROM incidents GROUP BY state"):
            counts[state] = count
        return counts

    def rule_counts(self) -> dict[str, tuple[int, int]]:
        """For each rule named on an incident: (how many incidents it opened, how many it acted on).

        Read from the incidents' opening history entries (their ``rule``) and their ``rules`` (those that
        acted on them): one pass over each table, never the journal. Rules that did neither are absent.
        """
        counts: dict[str, list[int]] = {}
        db = self._db()
        for rule, count in db.execute(
            "SELECT json_extract(detail, '$.rule'), count(*) FROM incident_history WHERE action = 'opened' "
            "GROUP BY 1"
        ):
            if isinstance(rule, str):
                counts.setdefault(rule, [0, 0])[0] = count
        for rule, count in db.execute(
            "SELECT r.value, count(*) FROM incidents, json_each(incidents.rules) AS r GROUP BY r.value"
        ):
            if isinstance(rule, str):
                counts.setdefault(rule, [0, 0])[1] = count
        return {rule: (opened, acted) for rule, (opened, acted) in counts.items()}

    def last_number(self) -> int:
        return self._db().execute("SELECT coalesce(max(number), 0) FROM incidents").fetchone()[0]

    # --- what an incident holds ------------------------------------------------------------------------

    def events(self, incident_id: str) -> list[int]:
        """The seqs of the events gathered into the incident, oldest first."""
        return [seq for seq, _folded in self.event_links(incident_id)]

    def event_links(self, incident_id: str) -> list[tuple[int, bool]]:
        """(seq, folded) for each event gathered into the incident, oldest first."""
        rows = self._db().execute(
            "SELECT event_seq, folded FROM incident_events WHERE incident_id = ? ORDER BY event_seq",
            (incident_id,),
        ).fetchall()
        return [(seq, bool(folded)) for seq, folded in rows]

    def links_of(self, incident_ids: Iterable[str]) -> list[tuple[str, str, str, tuple[str, ...], float]]:
        """(incident id, topic, subject key, location keys, at) of every event of these incidents,
        oldest first: what the engine needs to rebuild its join index after a restart."""
        ids = list(incident_ids)
        found: list[tuple[str, str, str, tuple[str, ...], float]] = []
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = self._db().execute(
                "SELECT incident_id, topic, subject_key, location_keys, at FROM incident_events "
                f"WHERE incident_id IN ({', '.join('?' * len(chunk))}) ORDER BY event_seq",
                chunk,
            ).fetchall()
            found.extend((row[0], row[1], row[2], tuple(json.loads(row[3])), row[4]) for row in rows)
        return found

    def has_event(self, seq: int) -> bool:
        """Whether the event at ``seq`` is already in an incident."""
        row = self._db().execute("SELECT 1 FROM incident_events WHERE event_seq = ?", (seq,)).fetchone()
        return row is not None

    def incident_of_event(self, seq: int) -> str | None:
        """The id of the incident the event at ``seq`` is in, or None."""
        row = self._db().execute(
            "SELECT incident_id FROM incident_events WHERE event_seq = ?", (seq,)
        ).fetchone()
        return row[0] if row is not None else None

    def last_event_seq(self) -> int:
        return self._db().execute("SELECT coalesce(max(event_seq), 0) FROM incident_events").fetchone()[0]

    def notes(self, incident_id: str) -> list[IncidentNote]:
        rows = self._db().execute(
            "SELECT at, author, text FROM incident_notes WHERE incident_id = ? ORDER BY id", (incident_id,)
        ).fetchall()
        return [IncidentNote(at=at, author=author, text=text) for at, author, text in rows]

    def history(self, incident_id: str) -> list[HistoryEntry]:
        rows = self._db().execute(
            "SELECT at, actor, action, detail FROM incident_history WHERE incident_id = ? ORDER BY id",
            (incident_id,),
        ).fetchall()
        return [
            HistoryEntry(at=at, actor=actor, action=action, detail=json.loads(detail))
            for at, actor, action, detail in rows
        ]

    def journal_bodies(self, seqs: Sequence[int]) -> list[tuple[int, str]]:
        """(seq, JSON) of those journaled events still kept (retention may have pruned some)."""
        found: list[tuple[int, str]] = []
        for start in range(0, len(seqs), 500):
            chunk = list(seqs[start : start + 500])
            found.extend(
                self._db().execute(
                    f"SELECT seq, body FROM events WHERE seq IN ({', '.join('?' * len(chunk))}) ORDER BY seq",
                    chunk,
                ).fetchall()
            )
        return found

    # --- the engine's input position -------------------------------------------------------------------

    def engine_position(self) -> int:
        """The seq up to which the engine has handled the journal.

        Changes record it in ``incident_engine`` in their own transaction; passing events that change
        nothing only advance the engine's bus cursor now and then. Both are safe to resume from, so the
        later one is.
        """
        own = self._db().execute("SELECT position FROM incident_engine WHERE id = 1").fetchone()
        cursor = self._db().execute("SELECT seq FROM cursors WHERE name = ?", (ENGINE_CURSOR,)).fetchone()
        return max(own[0] if own else 0, cursor[0] if cursor else 0)
