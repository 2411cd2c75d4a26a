"""The police link's tables in the hub's database, beside the journal they are written with.

Every message to the force is an outbox row written in the same transaction as the journal event that
records it (``police.alert.queued``, ``police.request.answered``), so the outbox is kept in the journal: a
message is durable before it is sent and never sent without its record. Every message from the force that
was processed is an inbox row written with the event it caused, which is how repeats are recognised after a
restart. Requests, holds, alerts and the disclosure log are the rest of what the link must remember.

``POLICE_SCHEMA`` is this plugin's schema history, oldest first: append, never edit a released migration.
"""

from __future__ import annotations

import sqlite3

from hub.api import PluginSchema


_STATEMENTS: tuple[str, ...] = (
    """
    CREATE TABLE police_outbox (
        link TEXT NOT NULL,
        link_seq INTEGER NOT NULL,
        transaction_id TEXT NOT NULL UNIQUE,
        content_type TEXT NOT NULL,
        body TEXT NOT NULL,
        incident_id TEXT,
        queued_at REAL NOT NULL,
        deadline REAL,
        acked_at REAL,
        status TEXT,
        reason TEXT,
        PRIMARY KEY (link, link_seq)
    )
    """,
    # What is still to send, in order, is read at every start: keep that read cheap.
    """
    CREATE INDEX police_outbox_pending ON police_outbox (link, link_seq) WHERE acked_at IS NULL
    """,
    """
    CREATE TABLE police_inbox (
        link TEXT NOT NULL,
        transaction_id TEXT NOT NULL,
        link_seq INTEGER NOT NULL,
        content_type TEXT NOT NULL,
        received_at REAL NOT NULL,
        status TEXT NOT NULL,
        PRIMARY KEY (link, transaction_id)
    )
    """,
    """
    CREATE INDEX police_inbox_seq ON police_inbox (link, link_seq)
    """,
    # One row per CAP message sent about an incident: the chain of references, and the force's answer.
    """
    CREATE TABLE police_alerts (
        link TEXT NOT NULL,
        identifier TEXT NOT NULL,
        incident_id TEXT NOT NULL,
        msg_type TEXT NOT NULL,
        sent TEXT NOT NULL,
        transaction_id TEXT NOT NULL,
        queued_at REAL NOT NULL,
        delivered_at REAL,
        answer TEXT,
        answered_at REAL,
        reason TEXT,
        force_reference TEXT,
        incident_state TEXT,
        unanswered_reported INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (link, identifier)
    )
    """,
    """
    CREATE INDEX police_alerts_incident ON police_alerts (link, incident_id)
    """,
    """
    CREATE TABLE police_requests (
        link TEXT NOT NULL,
        request_id TEXT NOT NULL,
        request_type TEXT NOT NULL,
        version INTEGER NOT NULL,
        transaction_id TEXT NOT NULL,
        received_at REAL NOT NULL,
        deadline REAL,
        state TEXT NOT NULL,
        needs_consent INTEGER NOT NULL,
        payload TEXT NOT NULL,
        answered_at REAL,
        outcome TEXT,
        detail TEXT,
        answered_by TEXT,
        expires_at REAL,
        PRIMARY KEY (link, request_id)
    )
    """,
    """
    CREATE INDEX police_requests_open ON police_requests (link, state)
    """,
    """
    CREATE TABLE police_holds (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        link TEXT NOT NULL,
        request_id TEXT NOT NULL,
        crime_reference TEXT NOT NULL,
        cameras TEXT NOT NULL,
        start TEXT NOT NULL,
        end TEXT NOT NULL,
        retain_until TEXT,
        created_at REAL NOT NULL,
        state TEXT NOT NULL,
        completed_at REAL,
        completed_by TEXT,
        export_reference TEXT,
        manifest TEXT
    )
    """,
    """
    CREATE INDEX police_holds_reference ON police_holds (crime_reference)
    """,
    # The disclosure log: append-only, like the audit log. Nothing the hub does may change a row.
    """
    CREATE TABLE police_disclosures (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        link TEXT NOT NULL,
        recipient TEXT NOT NULL,
        what TEXT NOT NULL,
        item TEXT NOT NULL,
        why TEXT NOT NULL,
        request_id TEXT,
        crime_reference TEXT,
        released_by TEXT NOT NULL,
        expires_at REAL,
        sha256 TEXT,
        detail TEXT NOT NULL
    )
    """,
    """
    CREATE TRIGGER police_disclosures_no_update BEFORE UPDATE ON police_disclosures
    BEGIN SELECT RAISE(ABORT, 'the disclosure log is append-only'); END
    """,
    """
    CREATE TRIGGER police_disclosures_no_delete BEFORE DELETE ON police_disclosures
    BEGIN SELECT RAISE(ABORT, 'the disclosure log is append-only'); END
    """,
)


def create_police_tables(connection: sqlite3.Connection) -> None:
    """Migration 1: outbox, inbox, alerts, requests, holds and the disclosure log."""
    # One statement at a time: executescript would commit the migration's transaction half-way.
    for statement in _STATEMENTS:
        connection.execute(statement)


POLICE_SCHEMA = PluginSchema(
    name="police_link",
    migrations=(create_police_tables,),
    description="outbox, inbox, alerts, requests, footage holds and the disclosure log of each police link",
)
