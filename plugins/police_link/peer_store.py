"""What the reference force end remembers, in its own SQLite file: its side of the link (outbox and inbox,
so it too resends after a restart and recognises repeats) and what it received and asked.

The force end is a tool for demos, tests and a force's IT team, not a control room: it writes on the reactor
thread, one small transaction per message, with ``synchronous=NORMAL`` (durable across a killed process, not
a power cut), which keeps it from being the slow end of a benchmark.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, Callable, Sequence

from twisted.internet.defer import Deferred, succeed

from plugins.police_link.link import Acknowledged, Inbound, LinkMemory, Outbound

_STATEMENTS = (
    """
    CREATE TABLE IF NOT EXISTS outbox (
        link_seq INTEGER PRIMARY KEY,
        transaction_id TEXT NOT NULL UNIQUE,
        content_type TEXT NOT NULL,
        body TEXT NOT NULL,
        queued_at REAL NOT NULL,
        deadline REAL,
        acked_at REAL,
        status TEXT,
        reason TEXT
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS inbox (
        transaction_id TEXT PRIMARY KEY,
        link_seq INTEGER NOT NULL,
        content_type TEXT NOT NULL,
        received_at REAL NOT NULL,
        status TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS alerts (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        identifier TEXT NOT NULL UNIQUE,
        incident_id TEXT,
        msg_type TEXT NOT NULL,
        transaction_id TEXT NOT NULL,
        link_seq INTEGER NOT NULL,
        received_at REAL NOT NULL,
        headline TEXT,
        severity TEXT,
        xml TEXT NOT NULL,
        answer TEXT,
        answered_at REAL
    )
    """,
    """
    -- open_incidents finds each incident's newest message: without it that is a scan per incident.
    CREATE INDEX IF NOT EXISTS alerts_incident ON alerts (incident_id, seq)
    """,
    """
    CREATE TABLE IF NOT EXISTS requests (
        request_id TEXT PRIMARY KEY,
        request_type TEXT NOT NULL,
        payload TEXT NOT NULL,
        sent_at REAL NOT NULL,
        outcome TEXT,
        detail TEXT,
        answer TEXT,
        answered_at REAL
    )
    """,
)

Job = Callable[[sqlite3.Connection], Any]


class PeerStore:
    """The force end's link store (``link.LinkStore``) and its record of alerts and requests."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._connection = sqlite3.connect(str(self.path), isolation_level=None)
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute("PRAGMA synchronous=NORMAL")
        for statement in _STATEMENTS:
            self._connection.execute(statement)

    def close(self) -> None:
        self._connection.close()

    def run(self, *jobs: Job) -> list[Any]:
        """Run ``jobs`` in one transaction; all are kept or none."""
        connection = self._connection
        connection.execute("BEGIN IMMEDIATE")
        try:
            results = [job(connection) for job in jobs]
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
        return results

    # --- link.LinkStore ---------------------------------------------------------------------------------

    def load(self) -> LinkMemory:
        rows = self._connection.execute(
            "SELECT link_seq, transaction_id, content_type, body, queued_at, deadline FROM outbox "
            "WHERE acked_at IS NULL ORDER BY link_seq").fetchall()
        pending = tuple(Outbound(link_seq=row[0], transaction_id=row[1], content_type=row[2], body=row[3],
                                 queued_at=row[4], deadline=row[5]) for row in rows)
        next_seq = (self._connection.execute("SELECT MAX(link_seq) FROM outbox").fetchone()[0] or 0) + 1
        last = self._connection.execute("SELECT MAX(link_seq) FROM inbox").fetchone()[0] or 0
        seen = frozenset(row[0] for row in self._connection.execute("SELECT transaction_id FROM inbox"))
        return LinkMemory(pending=pending, next_seq=next_seq, last_seq_received=last, seen=seen)

    def outbox_job(self, message: Outbound) -> Job:
        def insert(connection: sqlite3.Connection) -> None:
            connection.execute(
                "INSERT INTO outbox (link_seq, transaction_id, content_type, body, queued_at, deadline) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (message.link_seq, message.transaction_id, message.content_type, message.body,
                 message.queued_at, message.deadline))

        return insert

    def inbox_job(self, inbound: Inbound, status: str) -> Job:
        def insert(connection: sqlite3.Connection) -> None:
            connection.execute(
                "INSERT OR IGNORE INTO inbox (transaction_id, link_seq, content_type, received_at, status) "
                "VALUES (?, ?, ?, ?, ?)",
                (inbound.transaction_id, inbound.link_seq, inbound.content_type, inbound.received_at, status))

        return insert

    def acknowledge(self, acks: Sequence[Acknowledged]) -> "Deferred[None]":
        def update(connection: sqlite3.Connection) -> None:
            connection.executemany(
                "UPDATE outbox SET acked_at = ?, status = ?, reason = ? WHERE transaction_id = ?",
                [(ack.at, ack.status, ack.reason, ack.message.transaction_id) for ack in acks])

        self.run(update)
        return succeed(None)

    def record(self, inbound: Inbound, status: str) -> "Deferred[None]":
        self.run(self.inbox_job(inbound, status))
        return succeed(None)

    def find_outbound(self, transaction_id: str) -> Outbound | None:
        row = self._connection.execute(
            "SELECT link_seq, transaction_id, content_type, body, queued_at, deadline FROM outbox "
            "WHERE transaction_id = ?", (transaction_id,)).fetchone()
        if row is None:
            return None
        return Outbound(link_seq=row[0], transaction_id=row[1], content_type=row[2], body=row[3],
                        queued_at=row[4], deadline=row[5])

    # --- alerts and requests -----------------------------------------------------------------------------

    def alert_job(self, *, identifier: str, incident_id: str | None, msg_type: str, inbound: Inbound,
                  headline: str | None, severity: str | None, xml: str) -> Job:
        def insert(connection: sqlite3.Connection) -> None:
            connection.execute(
                "INSERT INTO alerts (identifier, incident_id, msg_type, transaction_id, link_seq, received_at, "
                "headline, severity, xml) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (identifier, incident_id, msg_type, inbound.transaction_id, inbound.link_seq, inbound.received_at,
                 headline, severity, xml))

        return insert

    def answer_alert_job(self, identifier: str, answer: str, at: float) -> Job:
        def update(connection: sqlite3.Connection) -> None:
            connection.execute("UPDATE alerts SET answer = ?, answered_at = ? WHERE identifier = ?",
                               (answer, at, identifier))

        return update

    def request_job(self, request_id: str, request_type: str, payload: dict[str, Any], at: float) -> Job:
        def insert(connection: sqlite3.Connection) -> None:
            connection.execute(
                "INSERT INTO requests (request_id, request_type, payload, sent_at) VALUES (?, ?, ?, ?)",
                (request_id, request_type, json.dumps(payload, sort_keys=True), at))

        return insert

    def request_answer_job(self, request_id: str, outcome: str, detail: str, answer: dict[str, Any],
                           at: float) -> Job:
        def update(connection: sqlite3.Connection) -> None:
            connection.execute(
                "UPDATE requests SET outcome = ?, detail = ?, answer = ?, answered_at = ? WHERE request_id = ?",
                (outcome, detail, json.dumps(answer, sort_keys=True), at, request_id))

        return update

    def alerts(self, *, after: int = 0, limit: int = 100_000) -> list[dict[str, Any]]:
        """Alerts received, in the order they arrived (each once)."""
        rows = self._connection.execute(
            "SELECT seq, identifier, incident_id, msg_type, transaction_id, link_seq, received_at, headline, "
            "severity, answer FROM alerts WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)).fetchall()
        keys = ("seq", "identifier", "incident_id", "msg_type", "transaction_id", "link_seq", "received_at",
                "headline", "severity", "answer")
        return [dict(zip(keys, row)) for row in rows]

    def alert(self, identifier: str) -> dict[str, Any] | None:
        found = [a for a in self.alerts() if a["identifier"] == identifier]
        return found[0] if found else None

    def alert_count(self) -> int:
        return self._connection.execute("SELECT COUNT(*) FROM alerts").fetchone()[0]

    def requests(self) -> list[dict[str, Any]]:
        rows = self._connection.execute(
            "SELECT request_id, request_type, payload, sent_at, outcome, detail, answer, answered_at "
            "FROM requests ORDER BY sent_at, request_id").fetchall()
        keys = ("request_id", "request_type", "payload", "sent_at", "outcome", "detail", "answer", "answered_at")
        found = []
        for row in rows:
            item = dict(zip(keys, row))
            item["payload"] = json.loads(item["payload"])
            item["answer"] = json.loads(item["answer"]) if item["answer"] else None
            found.append(item)
        return found

    def open_incidents(self) -> list[dict[str, Any]]:
        """The newest message of every incident the force holds open (not cancelled), for its snapshot."""
        rows = self._connection.execute(
            "SELECT incident_id, identifier, msg_type, answer FROM alerts a WHERE seq = "
            "(SELECT MAX(seq) FROM alerts b WHERE b.incident_id = a.incident_id) AND msg_type != 'Cancel' "
            "ORDER BY seq").fetchall()
        return [{"incident_id": row[0], "identifier": row[1], "msg_type": row[2], "state": "open",
                 "answer": row[3]} for row in rows]
