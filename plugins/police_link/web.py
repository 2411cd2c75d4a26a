"""What people see of the police links over the hub's web API, under ``/api/plugins/police_link/``.

- ``disclosures``: the disclosure log, newest first (auditor, supervisor, admin);
- ``disclosures.csv``: the log as a file for an auditor; every export is a row in the hub's audit log;
- ``requests``: the force's requests still open and the latest closed ones, with their state;
- ``holds``: footage held for the force, awaiting export first;
- ``link``: each police link's state, backlog, what is in flight, when the force was last heard, who it is.

The routes read the hub's database (``hub.database``) and the running adapters (``hub.adapters``); they
change nothing. The web server checks the session and the role before a resource here sees the request, and
sets ``request.hub_actor`` (who asks, as the audit log names them).
"""

from __future__ import annotations

import io
import json
import sqlite3
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import structlog
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure
from twisted.web import server
from twisted.web.resource import Resource

from hub.api import WebRoute
from hub.clock import iso
from hub.web.http import ApiError, Response, invalid, json_response
from plugins.police_link.records import (
    CLOSED,
    DISCLOSURE_COLUMNS,
    HOLD_OPEN,
    Disclosure,
    HoldRecord,
    PoliceRecords,
    RequestRecord,
)

ADAPTER_TYPE = "police_link"
AUDITORS = ("auditor", "supervisor", "admin")
EVERYONE = ("operator", "supervisor", "admin", "auditor")
#: The most rows one page of the disclosure log holds.
MAX_PAGE = 500
#: Closed requests and completed holds shown after the open ones, by default and at most.
RECENT_DEFAULT, RECENT_MAX = 20, 200
_TEXT_LIMIT = 200

log = structlog.get_logger("plugins.police_link.web")


# --- reading the request ------------------------------------------------------------------------------


class _Query:
    """The query string of a request, read strictly: a bad value is a 400 naming the parameter."""

    def __init__(self, request: Any) -> None:
        raw = request.uri.partition(b"?")[2]
        self._values = {key.decode("utf-8", "replace"): [v.decode("utf-8", "replace") for v in values]
                        for key, values in parse_qs(raw, keep_blank_values=True).items()}

    def text(self, name: str) -> str | None:
        values = self._values.get(name)
        value = values[-1] if values else None
        if value is None or value == "":
            return None
        if len(value) > _TEXT_LIMIT:
            raise invalid(f"{name} is longer than {_TEXT_LIMIT} characters",
                          [{"field": name, "message": "too long"}], status=400)
        return value

    def number(self, name: str, default: int | None, *, low: int = 0, high: int = 2**62) -> int | None:
        text = self.text(name)
        if text is None:
            return default
        try:
            value = int(text)
        except ValueError:
            raise invalid(f"{name} must be a whole number", [{"field": name, "message": "not a whole number"}],
                          status=400) from None
        if not low <= value <= high:
            raise invalid(f"{name} must be from {low} to {high}", [{"field": name, "message": "out of range"}],
                          status=400)
        return value


def _write(request: Any, response: Response) -> None:
    if request.finished or getattr(request, "_disconnected", False):
        return
    request.setResponseCode(response.status)
    if response.content_type is not None:
        request.setHeader("Content-Type", response.content_type)
    for name, value in response.headers.items():
        request.setHeader(name, value)
    request.setHeader("Content-Length", str(len(response.body)))
    request.write(response.body)
    request.finish()


class _JsonRoute(Resource):
    """A read-only route answering JSON from ``answer(query)``; a bad query is a 400 in the hub's error shape."""

    isLeaf = True

    def __init__(self, hub: Any) -> None:
        super().__init__()
        self._hub = hub

    def answer(self, query: _Query) -> Any:
        raise NotImplementedError

    def render_GET(self, request: Any) -> bytes:  # noqa: N802 - Twisted's name
        try:
            response = json_response(self.answer(_Query(request)))
        except ApiError as error:
            response = error.response()
        _write(request, response)
        return server.NOT_DONE_YET

    @property
    def database(self) -> Any:
        database = self._hub.database
        if database is None:
            raise ApiError(503, "unavailable", "the hub's database is not open yet")
        return database

    def links(self) -> list[str]:
        """The police links configured in this hub, by adapter instance name."""
        return sorted(name for name, adapter in self._hub.adapters.items()
                      if adapter.status.adapter_type == ADAPTER_TYPE)

    def records(self, link: str) -> PoliceRecords:
        return PoliceRecords(self.database, link)

    def chosen_links(self, query: _Query) -> list[str]:
        link = query.text("link")
        links = self.links()
        if link is None:
            return links
        if link not in links:
            raise ApiError(404, "not_found", f"there is no police link {link}")
        return [link]


# --- the disclosure log ---------------------------------------------------------------------------------


def disclosure_json(disclosure: Disclosure) -> dict[str, Any]:
    return {
        "id": disclosure.id, "at": iso(disclosure.at), "link": disclosure.link, "recipient": disclosure.recipient,
        "what": disclosure.what, "item": disclosure.item, "why": disclosure.why,
        "request_id": disclosure.request_id, "crime_reference": disclosure.crime_reference,
        "released_by": disclosure.released_by, "expires_at": iso(disclosure.expires_at),
        "sha256": disclosure.sha256, "detail": disclosure.detail,
    }


def newest_disclosures(connection: sqlite3.Connection, *, limit: int, after_id: int = 0,
                       before_id: int | None = None, link: str | None = None, request_id: str | None = None,
                       crime_reference: str | None = None) -> list[Disclosure]:
    """Rows of the disclosure log, newest first: ids after ``after_id`` and before ``before_id``, of one
    link, request or crime reference when given."""
    where, parameters = ["id > ?"], [after_id]
    for column, value in (("link", link), ("request_id", request_id), ("crime_reference", crime_reference)):
        if value is not None:
            where.append(f"{column} = ?")
            parameters.append(value)
    if before_id is not None:
        where.append("id < ?")
        parameters.append(before_id)
    rows = connection.execute(
        f"SELECT {', '.join(DISCLOSURE_COLUMNS)} FROM police_disclosures WHERE {' AND '.join(where)} "
        "ORDER BY id DESC LIMIT ?", (*parameters, limit)).fetchall()
    found = []
    for row in rows:
        values = dict(zip(DISCLOSURE_COLUMNS, row))
        values["detail"] = json.loads(values["detail"])
        found.append(Disclosure(**values))
    return found


class DisclosuresRoute(_JsonRoute):
    """``GET disclosures?limit=&after_id=&before_id=&request_id=&crime_reference=&link=``: the log, newest
    first. ``next_before_id`` fetches the page after this one (None: this was the last)."""

    def answer(self, query: _Query) -> Any:
        limit = query.number("limit", 100, low=1, high=MAX_PAGE)
        assert limit is not None
        found = self.database.read(lambda connection: newest_disclosures(
            connection, limit=limit, after_id=query.number("after_id", 0) or 0,
            before_id=query.number("before_id", None), link=query.text("link"),
            request_id=query.text("request_id"), crime_reference=query.text("crime_reference")))
        last = found[-1].id if len(found) == limit else None
        return {"disclosures": [disclosure_json(item) for item in found], "next_before_id": last}


class DisclosuresCsvRoute(_JsonRoute):
    """``GET disclosures.csv?after_id=&link=``: the log as CSV, oldest first, with its header row.

    The export is recorded in the hub's audit log (``police.disclosures.export``, who, how many rows) before
    the file leaves: an export the audit log could not take is not served.
    """

    def render_GET(self, request: Any) -> Any:  # noqa: N802 - Twisted's name
        Deferred.fromCoroutine(self._export(request)).addErrback(self._failed, request)
        return server.NOT_DONE_YET

    async def _export(self, request: Any) -> None:
        try:
            query = _Query(request)
            after_id = query.number("after_id", 0) or 0
            link = query.text("link")
            out = io.StringIO(newline="")
            rows = PoliceRecords(self.database, link or "").export_csv(out, after_id=after_id, link=link)
            audit = self._hub.audit
            actor = getattr(request, "hub_actor", None)
            if audit is None or actor is None:
                raise ApiError(503, "unavailable", "the export cannot be recorded in the audit log now")
            await audit.record(actor, "police.disclosures.export", "police_disclosures",
                               {"format": "csv", "rows": rows, "after_id": after_id, "link": link})
        except ApiError as error:
            _write(request, error.response())
            return
        name = f"disclosures-{link}.csv" if link else "disclosures.csv"
        _write(request, Response(200, out.getvalue().encode("utf-8"), "text/csv; charset=utf-8",
                                 {"Content-Disposition": f'attachment; filename="{name}"',
                                  "Cache-Control": "private, no-store"}))

    def _failed(self, failure: Failure, request: Any) -> None:
        log.error("police_disclosure_export_failed", error=failure.getErrorMessage(),
                  exc_info=(failure.type, failure.value, failure.getTracebackObject()))
        _write(request, ApiError(500, "internal", "the export failed; it has been logged").response())


# --- requests and holds -----------------------------------------------------------------------------------


def _officer(payload: dict[str, Any]) -> str | None:
    officer = payload.get("requested_by")
    if not isinstance(officer, dict):
        return None
    parts = [str(officer.get(key)) for key in ("name", "collar_number", "force") if officer.get(key)]
    return ", ".join(parts) or None


def describe_request(request_type: str, payload: dict[str, Any]) -> str:
    """What the force asked for, in a line for an operator."""
    cameras = ", ".join(str(camera) for camera in payload.get("cameras") or ())
    if request_type == "live_view":
        return f"Live view of camera {payload.get('camera')} for {payload.get('minutes')} min"
    if request_type == "retain_footage":
        return (f"Keep footage of camera(s) {cameras} from {payload.get('start')} to {payload.get('end')} "
                f"for crime reference {payload.get('crime_reference')}")
    if request_type == "point_camera":
        return f"Point camera {payload.get('camera')} at preset {payload.get('preset')}"
    if request_type == "monitor_location":
        place = payload.get("location")
        name = place.get("name") if isinstance(place, dict) else None
        return f"Watch {name or 'a place'} until {payload.get('until')}" + (f" (cameras {cameras})" if cameras else "")
    return request_type


def request_json(record: RequestRecord) -> dict[str, Any]:
    payload = record.payload if isinstance(record.payload, dict) else {}
    return {
        "link": record.link, "request_id": record.request_id, "request_type": record.request_type,
        "version": record.version, "state": record.state, "needs_consent": record.needs_consent,
        "summary": describe_request(record.request_type, payload), "reason": payload.get("reason"),
        "requested_by": _officer(payload), "crime_reference": payload.get("crime_reference"),
        "force_reference": payload.get("force_reference"), "received_at": iso(record.received_at),
        "deadline": iso(record.deadline), "answered_at": iso(record.answered_at), "outcome": record.outcome,
        "detail": record.detail, "answered_by": record.answered_by, "expires_at": iso(record.expires_at),
        "payload": payload,
    }


def _recent_closed(connection: sqlite3.Connection, link: str, limit: int) -> list[str]:
    rows = connection.execute(
        "SELECT request_id FROM police_requests WHERE link = ? AND state = ? "
        "ORDER BY COALESCE(answered_at, received_at) DESC, request_id DESC LIMIT ?", (link, CLOSED, limit)).fetchall()
    return [row[0] for row in rows]


class RequestsRoute(_JsonRoute):
    """``GET requests?recent=&link=``: each link's open requests (oldest first: the longest waiting on top),
    then its ``recent`` latest closed ones (newest first)."""

    def answer(self, query: _Query) -> Any:
        recent = query.number("recent", RECENT_DEFAULT, low=0, high=RECENT_MAX)
        assert recent is not None
        found: list[dict[str, Any]] = []
        for link in self.chosen_links(query):
            records = self.records(link)
            found += [request_json(record) for record in records.open_requests()]
            closed = self.database.read(lambda connection, link=link: _recent_closed(connection, link, recent))
            for request_id in closed:
                record = records.request(request_id)
                if record is not None:
                    found.append(request_json(record))
        return {"requests": found}


def hold_json(hold: HoldRecord) -> dict[str, Any]:
    return {
        "id": hold.id, "link": hold.link, "request_id": hold.request_id, "crime_reference": hold.crime_reference,
        "cameras": list(hold.cameras), "start": hold.start, "end": hold.end, "retain_until": hold.retain_until,
        "created_at": iso(hold.created_at), "state": hold.state, "completed_at": iso(hold.completed_at),
        "completed_by": hold.completed_by, "export_reference": hold.export_reference,
        "manifest": [dict(item) for item in hold.manifest],
    }


class HoldsRoute(_JsonRoute):
    """``GET holds?recent=&link=``: footage held awaiting export (oldest first), then the ``recent`` latest
    exported (newest first)."""

    def answer(self, query: _Query) -> Any:
        recent = query.number("recent", RECENT_DEFAULT, low=0, high=RECENT_MAX)
        found: list[dict[str, Any]] = []
        for link in self.chosen_links(query):
            holds = self.records(link).holds()
            found += [hold_json(hold) for hold in holds if hold.state == HOLD_OPEN]
            done = [hold for hold in holds if hold.state != HOLD_OPEN]
            done.sort(key=lambda hold: (hold.completed_at or 0, hold.id or 0), reverse=True)
            found += [hold_json(hold) for hold in done[:recent]]
        return {"holds": found}


# --- the links themselves -----------------------------------------------------------------------------------

#: The session's states as people say them.
LINK_STATE_LABELS = {"up": "up", "fault": "line fault", "disconnected": "down", "resuming": "connecting"}


def link_json(name: str, adapter: Any) -> dict[str, Any]:
    """One link as the running adapter service knows it; a stopped adapter has no session (all None)."""
    status = adapter.status
    service = adapter.service
    session = getattr(service, "session", None)
    config = getattr(service, "config", None)
    state = getattr(getattr(session, "state", None), "value", None) if session is not None else None
    return {
        "name": name,
        "force": getattr(config, "force", None),
        "url": getattr(config, "url", None),
        "adapter_state": getattr(status.state, "value", status.state),
        "last_error": status.last_error,
        "state": state,
        "state_label": LINK_STATE_LABELS.get(state, "not running") if state else "not running",
        "backlog": getattr(session, "backlog", None),
        "in_flight": getattr(session, "in_flight", None),
        "last_heard_at": iso(getattr(session, "last_heard_at", None)),
        "peer": getattr(service, "peer", None),
        "fingerprint": getattr(service, "fingerprint", None),
    }


class LinkRoute(_JsonRoute):
    """``GET link``: every police link of this hub, by adapter instance name."""

    def answer(self, query: _Query) -> Any:
        return {"links": [link_json(name, self._hub.adapters[name]) for name in self.links()]}


def _route(path: str, resource: Callable[[Any], Resource], roles: tuple[str, ...], description: str) -> WebRoute:
    return WebRoute(path=path, resource_factory=resource, roles=roles, description=description)


WEB_ROUTES: tuple[WebRoute, ...] = (
    _route("disclosures", DisclosuresRoute, AUDITORS,
           "Police link: the disclosure log, newest first (?limit, after_id, before_id, request_id, "
           "crime_reference, link)"),
    _route("disclosures.csv", DisclosuresCsvRoute, AUDITORS,
           "Police link: the disclosure log as CSV (?after_id, link); each export is in the audit log"),
    _route("requests", RequestsRoute, EVERYONE,
           "Police link: the force's open requests and the latest closed ones (?recent, link)"),
    _route("holds", HoldsRoute, EVERYONE,
           "Police link: footage held for the force, awaiting export first (?recent, link)"),
    _route("link", LinkRoute, EVERYONE, "Police link: each link's state, backlog, last heard, peer and fingerprint"),
)
