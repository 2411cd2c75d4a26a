"""Partner intake: ``POST /api/intake/reports`` turns a partner's incident report into a bus event.

The partner is known by its key (checked by the dispatcher) and limited by its token bucket. A report
is validated strictly against ``intake_schema()``, published as ``partner.report.received`` from
source ``partner.<name>``, and audited in the same transaction. A report that repeats an earlier
``reference`` from the same partner is the same report: the answer is the first one's event id and seq,
and nothing is published again (partners retry when a network drops the answer).
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from typing import Any

import attrs

from twisted.internet.defer import Deferred

from hub.events import Location, PartnerReportReceived, Severity, Subject
from hub.journal import open_reader
from hub.web import schema as s
from hub.web.http import RequestContext, Response, json_response, throttled

TOPIC = "partner.report.received"
_TABLE = "web_intake_references"
_CREATE = (
    f"CREATE TABLE IF NOT EXISTS {_TABLE} ("
    " partner TEXT NOT NULL, reference TEXT NOT NULL, event_id TEXT NOT NULL, seq INTEGER NOT NULL,"
    " at REAL NOT NULL, PRIMARY KEY (partner, reference))"
)


def intake_schema() -> dict[str, Any]:
    return s.obj(
        {
            "reference": s.text(100, 1, nullable=True),
            "summary": s.text(500, 1),
            "details": s.text(4000, nullable=True),
            "category": s.text(64, nullable=True),
            "severity": {"type": "string", "enum": ["low", "medium", "high", "critical"]},
            "occurred_at": {"type": "string", "format": "date-time", "maxLength": 40},
            "location": s.obj({
                "name": s.text(200, nullable=True),
                "latitude": {"type": ["number", "null"], "minimum": -90, "maximum": 90},
                "longitude": {"type": ["number", "null"], "minimum": -180, "maximum": 180},
                "camera": s.text(32, nullable=True),
                "uprn": s.text(12, nullable=True),
            }),
            "reporter": s.text(100, nullable=True),
        },
        ("summary",),
    )


def create_intake_references(connection: sqlite3.Connection) -> None:
    """Migration: the table that answers a repeated (partner, reference) with the first report."""
    connection.execute(_CREATE)


def _record_reference(partner: str, reference: str, event_id: str, at: float) -> Any:
    def job(connection: sqlite3.Connection, seq: int) -> None:
        connection.execute(f"INSERT INTO {_TABLE} (partner, reference, event_id, seq, at) VALUES (?, ?, ?, ?, ?)",
                           (partner, reference, event_id, seq, at))

    return job


class Intake:
    """Receives partner reports: rate limit, repeat detection, event, audit."""

    def __init__(self, backend: Any) -> None:
        self._backend = backend
        self._reader: sqlite3.Connection | None = None
        self._in_flight: dict[tuple[str, str], Deferred[Any]] = {}

    def _earlier(self, partner: str, reference: str) -> tuple[str, int] | None:
        if self._reader is None:
            self._reader = open_reader(self._backend.bus.journal.path)
        row = self._reader.execute(f"SELECT event_id, seq FROM {_TABLE} WHERE partner = ? AND reference = ?",
                                   (partner, reference)).fetchone()
        return (row[0], row[1]) if row else None

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    async def receive(self, ctx: RequestContext) -> Response:
        b = self._backend
        partner = ctx.principal.name
        wait = b.partners.take(partner)
        if wait is not None:
            b.log.warning("partner_throttled", partner=partner, retry_after_s=round(wait, 1))
            raise throttled(wait, f"partner {partner} is sending reports too fast")
        body = ctx.body
        reference = body.get("reference")
        if reference is not None:
            key = (partner, reference)
            earlier = self._earlier(partner, reference)
            if earlier is None and key in self._in_flight:
                # The same report is being published right now: wait for it, then answer as a repeat.
                waiting: Deferred[None] = Deferred()

                def signal(result: Any) -> Any:
                    waiting.callback(None)
                    return result

                self._in_flight[key].addBoth(signal)
                await waiting
                earlier = self._earlier(partner, reference)
            if earlier is not None:
                return json_response({"event_id": earlier[0], "seq": earlier[1], "repeat": True}, 200)
        display = b.partners.display_name(partner)
        location = body.get("location") or {}
        event = b.events.for_source(f"partner.{partner}")(
            TOPIC,
            PartnerReportReceived(partner=partner, reference=reference, summary=body["summary"],
                                  details=body.get("details"), category=body.get("category"),
                                  reporter=body.get("reporter")),
            severity=Severity.parse(body.get("severity", "medium")),
            subject=Subject(kind="partner_report", id=f"{partner}:{reference}", name=display),
            summary=f"{display}: {body['summary']}",
            occurred_at=_when(body.get("occurred_at")),
            location=Location(**location) if any(v is not None for v in location.values()) else None,
        )
        if reference is None:
            # The subject is the report, not the partner: two thefts reported by one app are two
            # incidents, while updates to one report (same reference) join the first.
            event = attrs.evolve(event, subject=attrs.evolve(event.subject, id=f"{partner}:{event.id}"))
        actor = b.actor(partner, "partner", ctx.client)
        audit_job = b.audit.job(actor, "partner.report", f"event:{event.id}",
                                {"reference": reference, "severity": event.severity.label})
        remember = (_record_reference(partner, reference, event.id, b.clock.seconds())
                    if reference is not None else None)

        def also(connection: Any, seq: int) -> None:
            if remember is not None:
                remember(connection, seq)
            audit_job(connection)

        published = b.bus.publish(event, also=also)
        if reference is not None:
            self._in_flight[(partner, reference)] = published

            def forget(result: Any, key: tuple[str, str] = (partner, reference)) -> Any:
                self._in_flight.pop(key, None)
                return result

            published.addBoth(forget)
        seq = await published
        b.log.info("partner_report", partner=partner, event_id=event.id, seq=seq)
        return json_response({"event_id": event.id, "seq": seq}, 202)


def _when(text: str | None) -> datetime | None:
    if text is None:
        return None
    value = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    return value.astimezone(timezone.utc)
