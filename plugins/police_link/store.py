"""The hub's side of a police link's memory: its outbox and inbox rows in the hub's database.

An outbox row is written in the transaction of the event that records the message (``outbox_job``, passed
to ``bus.publish(event, also=...)``), so a message is never sent without its record nor recorded without
being owed. An inbox row is written with the event a received message caused (``inbox_job``), or alone for
a message that causes none (``record``: stale, refused). ``load`` reads back, at every start, what a new
``LinkSession`` needs: what is still owed, in order, and what was already taken.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from twisted.internet.defer import Deferred, succeed

from plugins.police_link.link import Acknowledged, Inbound, LinkMemory, Outbound

#: A write for the hub's writer: ``job(connection)`` through ``Database.write``, or ``job(connection, seq)``
#: as ``bus.publish(event, also=job)`` calls it (the event's journal seq, unused here).
Job = Callable[..., None]

_OUTBOUND_COLUMNS = "link_seq, transaction_id, content_type, body, queued_at, deadline, incident_id"


def _outbound(row: Sequence[Any]) -> Outbound:
    return Outbound(link_seq=row[0], transaction_id=row[1], content_type=row[2], body=row[3], queued_at=row[4],
                    deadline=row[5], incident_id=row[6])


class HubLinkStore:
    """The ``LinkStore`` of one link (``link`` is the adapter instance's name) over the tables
    ``police_outbox`` and ``police_inbox`` (schema.py)."""

    def __init__(self, database: Any, link: str) -> None:
        self._database = database
        self.link = link

    def load(self) -> LinkMemory:
        """What a new session starts from.

        ``seen`` holds every transaction id ever received on this link, so a repeat is answered
        ``duplicate`` however old: about 100 bytes of memory each (a million messages, some 100 MB). A
        control room's link carries far fewer; pruning ids older than any resend could be is future work.
        """
        link = self.link

        def query(connection: sqlite3.Connection) -> LinkMemory:
            pending = tuple(_outbound(row) for row in connection.execute(
                f"SELECT {_OUTBOUND_COLUMNS} FROM police_outbox WHERE link = ? AND acked_at IS NULL "
                "ORDER BY link_seq", (link,)))
            # Over every row, answered or not: a link_seq is never given out twice.
            highest_sent = connection.execute(
                "SELECT MAX(link_seq) FROM police_outbox WHERE link = ?", (link,)).fetchone()[0]
            highest_received = connection.execute(
                "SELECT MAX(link_seq) FROM police_inbox WHERE link = ?", (link,)).fetchone()[0]
            seen = frozenset(row[0] for row in connection.execute(
                "SELECT transaction_id FROM police_inbox WHERE link = ?", (link,)))
            return LinkMemory(pending=pending, next_seq=(highest_sent or 0) + 1,
                              last_seq_received=highest_received or 0, seen=seen)

        return self._database.read(query)

    def outbox_job(self, message: Outbound) -> Job:
        """The write that makes ``message`` owed; a transaction id already in the outbox fails it (and the
        event it goes with), so one cause is never sent twice."""
        row = (self.link, message.link_seq, message.transaction_id, message.content_type, message.body,
               message.incident_id, message.queued_at, message.deadline)

        def insert(connection: sqlite3.Connection, _seq: int | None = None) -> None:
            connection.execute(
                "INSERT INTO police_outbox (link, link_seq, transaction_id, content_type, body, incident_id, "
                "queued_at, deadline) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row)

        return insert

    def inbox_job(self, inbound: Inbound, status: str) -> Job:
        """The write that marks ``inbound`` taken with ``status``, run with the event it caused. A repeat
        fails it: the session answers repeats itself, so one reaching here is a fault to see, not hide."""
        row = (self.link, inbound.transaction_id, inbound.link_seq, inbound.content_type, inbound.received_at,
               status)

        def insert(connection: sqlite3.Connection, _seq: int | None = None) -> None:
            connection.execute(
                "INSERT INTO police_inbox (link, transaction_id, link_seq, content_type, received_at, status) "
                "VALUES (?, ?, ?, ?, ?, ?)", row)

        return insert

    def acknowledge(self, acks: Sequence[Acknowledged]) -> Deferred[None]:
        """Mark each message answered (when, with what status and reason), all in one write."""
        if not acks:
            return succeed(None)
        rows = [(ack.at, ack.status, ack.reason, self.link, ack.message.transaction_id) for ack in acks]

        def update(connection: sqlite3.Connection) -> None:
            connection.executemany(
                "UPDATE police_outbox SET acked_at = ?, status = ?, reason = ? "
                "WHERE link = ? AND transaction_id = ? AND acked_at IS NULL", rows)

        return self._database.write(update)

    def record(self, inbound: Inbound, status: str) -> Deferred[None]:
        """An inbox row alone, for a message that causes no event (stale, refused); recording one twice
        keeps the first."""
        row = (self.link, inbound.transaction_id, inbound.link_seq, inbound.content_type, inbound.received_at,
               status)

        def insert(connection: sqlite3.Connection, _seq: int | None = None) -> None:
            connection.execute(
                "INSERT OR IGNORE INTO police_inbox (link, transaction_id, link_seq, content_type, received_at, "
                "status) VALUES (?, ?, ?, ?, ?, ?)", row)

        return self._database.write(insert)

    def find_outbound(self, transaction_id: str) -> Outbound | None:
        """The message with this transaction id on this link, answered or not."""
        link = self.link

        def query(connection: sqlite3.Connection) -> Outbound | None:
            row = connection.execute(
                f"SELECT {_OUTBOUND_COLUMNS} FROM police_outbox WHERE link = ? AND transaction_id = ?",
                (link, transaction_id)).fetchone()
            return None if row is None else _outbound(row)

        return self._database.read(query)

    def counts(self) -> dict[str, int]:
        """For metrics and the status panel: ``queued`` (owed), ``delivered`` (ok or duplicate), ``refused``
        (error), ``stale`` (both sent, by the other end's answer), and ``received``, ``received_refused``,
        ``received_stale`` (taken from the other end)."""
        link = self.link

        def query(connection: sqlite3.Connection) -> dict[str, int]:
            out = dict(connection.execute(
                "SELECT COALESCE(status, 'queued'), COUNT(*) FROM police_outbox WHERE link = ? "
                "GROUP BY COALESCE(status, 'queued')", (link,)).fetchall())
            into = dict(connection.execute(
                "SELECT status, COUNT(*) FROM police_inbox WHERE link = ? GROUP BY status", (link,)).fetchall())
            return {
                "queued": out.get("queued", 0),
                "delivered": out.get("ok", 0) + out.get("duplicate", 0),
                "refused": out.get("error", 0),
                "stale": out.get("stale", 0),
                "received": sum(into.values()),
                "received_refused": into.get("error", 0),
                "received_stale": into.get("stale", 0),
            }

        return self._database.read(query)
