"""The API's handlers and ``build_routes``, the one table of every route the web server answers.

Each handler is ``async def (ctx) -> Response``; who may call it is declared on its ``Route``, and the
dispatcher has checked that before the handler runs. Handlers reach the hub only through the
``WebBackend``.
"""

from __future__ import annotations

import io
import mimetypes
import re
from pathlib import Path
from typing import Any, Iterable

from hub.clock import iso
from hub.commands import CommandRefused, command_event, outcome_event
from hub.evidence import CONTENT_TYPES, EvidenceCorrupt, is_sha256
from hub.events import CommandOutcomeKind, Severity
from hub.topics import TopicMatcher, TopicPatternError, parse_pattern
from hub.web import schema as s
from hub.web.auth import COOKIE, origin_allowed
from hub.web.backend import INCIDENT_VERBS, WebBackend
from hub.web.http import (
    ApiError,
    Cookie,
    RequestContext,
    Response,
    Takeover,
    conflict,
    forbidden,
    invalid,
    json_response,
    no_content,
    not_found,
    throttled,
    unauthenticated,
)
from hub.web.intake import Intake, intake_schema
from hub.web.metrics import WebMetrics, render_metrics
from hub.web.routes import (
    ACTORS,
    ADMINS,
    AUDITORS,
    METRICS,
    PARTNER,
    PUBLIC,
    READERS,
    USER_ROLES,
    Route,
    RouteTable,
)
from hub.web.stream import SESSION_ENDED, LiveStream

INCIDENT_STATES = ("new", "acknowledged", "in_progress", "resolved", "closed")
SEVERITIES = tuple(severity.label for severity in Severity)
PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_STATIC_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".ico": "image/x-icon",
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
}


def _user_json(principal: Any) -> dict[str, str]:
    return {"name": principal.name, "role": principal.role}


def _command_json(adapter: Any, spec: Any, *, running: bool,
                  event: dict[str, Any] | None = None) -> dict[str, Any]:
    """A command as the console draws it; ``event`` (JSON) is the one whose values prefill its fields."""
    return {
        "adapter": adapter.name,
        "adapter_type": adapter.adapter_type,
        "verb": spec.verb,
        "title": spec.title,
        "description": spec.description,
        "running": running,
        "applies_to": list(spec.applies_to),
        "arguments": [
            {
                "name": argument.name,
                "title": argument.title,
                "kind": argument.kind,
                "required": argument.required,
                "max_length": argument.max_length,
                "choices": list(argument.choices),
                "prefill": argument.prefill,
                "options_from": argument.options_from,
                "value": _prefill_value(event, argument.prefill),
            }
            for argument in spec.arguments
        ],
    }


def _prefill_value(event: dict[str, Any] | None, path: str | None) -> str | None:
    """The text at dotted ``path`` in an event's JSON ("payload.member.unit"); None when it is not there.

    Only a string, number or boolean is a field's value; a missing key, a null, a table or a list is none.
    """
    if event is None or not path:
        return None
    value: Any = event
    for key in path.split("."):
        if isinstance(value, dict) and key in value:
            value = value[key]
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    return None


def _state_of(status: Any) -> str:
    return getattr(status.state, "value", status.state)


def _link_state(service: Any) -> str | None:
    """The state of an adapter's link to its partner (``up``, ``down``, ``fault``), for an adapter service
    that keeps one as ``link_state``; None for the rest."""
    state = getattr(service, "link_state", None)
    return state if isinstance(state, str) else None


class Api:
    """The handlers, sharing the backend, the live stream, the web metrics and the route table."""

    def __init__(self, backend: WebBackend, stream: LiveStream, metrics: WebMetrics,
                 static_dir: Path | None) -> None:
        self.backend = backend
        self.stream = stream
        self.metrics = metrics
        self.static_dir = static_dir
        self.intake = Intake(backend)
        self.table: RouteTable | None = None
        self.log = backend.log

    def actor(self, ctx: RequestContext) -> Any:
        principal = ctx.principal
        assert principal is not None
        return self.backend.actor(principal.name, principal.role, ctx.client)

    # --- session -------------------------------------------------------------------------------------

    async def login(self, ctx: RequestContext) -> Response:
        b = self.backend
        username, password = ctx.body["username"], ctx.body["password"]
        wait = b.throttle.retry_after(username, ctx.client)
        if wait is not None:
            await self._audit_anonymous(username, ctx, "session.login_failed", {"reason": "throttled"})
            raise throttled(wait)
        authenticate_in_thread = getattr(b.users, "authenticate_in_thread", None)
        if authenticate_in_thread is not None and hasattr(b.clock, "getThreadPool"):
            # Password hashing takes a tenth of a second: off the reactor thread, streams keep flowing.
            user = await authenticate_in_thread(b.clock, username, password)
        else:
            user = b.users.authenticate(username, password)
        if user is None:
            b.throttle.failed(username, ctx.client)
            await self._audit_anonymous(username, ctx, "session.login_failed", {"reason": "bad credentials"})
            wait = b.throttle.retry_after(username, ctx.client)
            if wait is not None:
                raise throttled(wait)
            raise unauthenticated("the user name or password is not right")
        b.throttle.succeeded(username, ctx.client)
        if ctx.principal is not None and ctx.principal.token:
            # Logging in again ends the session the browser had: one browser, one session.
            b.sessions.revoke(ctx.principal.token)
        # Always a fresh session id: a cookie planted before login (session fixation) is never reused.
        token, session = b.sessions.create(user, ctx.client)
        await b.audit.record(b.actor(user.name, user.role, ctx.client), "session.login", f"user:{user.name}",
                             {"session": session.id})
        b.log.info("login", user=user.name, role=user.role, session=session.id, address=ctx.client)
        return json_response(
            {"user": {"name": user.name, "role": user.role}, "csrf_token": session.csrf_token,
             "idle_timeout_s": b.web.session_idle_minutes * 60},
            cookies=(Cookie(COOKIE, token, secure=ctx.secure),),
        )

    async def _audit_anonymous(self, username: str, ctx: RequestContext, action: str,
                               detail: dict[str, Any]) -> None:
        b = self.backend
        # The person at the keyboard is not known yet: the actor is anonymous. The name typed is kept only
        # when it is a real user's (the target of the attempt); anything else may be a password typed into
        # the wrong box, and the audit log can never forget it.
        known = b.users.get(username)
        target = f"user:{known.name}" if known is not None else "user:(unknown)"
        await b.audit.record(b.actor("(unknown)", "anonymous", ctx.client), action, target, detail)

    async def session(self, ctx: RequestContext) -> Response:
        principal = ctx.principal
        assert principal is not None
        return json_response({"user": _user_json(principal), "csrf_token": principal.session.csrf_token,
                              "idle_timeout_s": self.backend.web.session_idle_minutes * 60})

    async def logout(self, ctx: RequestContext) -> Response:
        principal = ctx.principal
        assert principal is not None and principal.token is not None
        b = self.backend
        b.sessions.revoke(principal.token)
        token = principal.token
        self.stream.close_where(lambda client: client.token == token, SESSION_ENDED, "logged out")
        await b.audit.record(self.actor(ctx), "session.logout", f"user:{principal.name}",
                             {"session": principal.session.id})
        return no_content(cookies=(Cookie(COOKIE, "", secure=ctx.secure, expire=True),))

    # --- incidents -----------------------------------------------------------------------------------

    async def incidents(self, ctx: RequestContext) -> Response:
        states = [state for state in (ctx.arg("state") or "").split(",") if state]
        bad = [state for state in states if state not in INCIDENT_STATES]
        if bad:
            raise invalid(f"state must be among {', '.join(INCIDENT_STATES)}", [{"field": "state",
                          "message": f"unknown state {bad[0][:40]}"}], status=400)
        severity = ctx.arg("severity") or None
        if severity is not None and severity not in SEVERITIES:
            raise invalid(f"severity must be one of {', '.join(SEVERITIES)}", status=400)
        found = self.backend.incidents.list(
            states=states or None,
            source=ctx.arg("source") or None,
            location=ctx.arg("location") or None,
            min_severity=severity,
            text=ctx.arg("q") or None,
            limit=ctx.int_arg("limit", 200, low=1, high=1000),
        )
        return json_response({"incidents": [incident.to_json() for incident in found]})

    async def incident(self, ctx: RequestContext) -> Response:
        detail = self.backend.incidents.detail(ctx.params["id"])
        if detail is None:
            raise not_found(f"no incident {ctx.params['id']}")
        codec = self.backend.codec
        incident = detail.incident
        events = [codec.to_dict(event) for event in detail.events]
        return json_response({
            "incident": incident.to_json(),
            "events": events,
            "notes": [{"at": iso(note.at), "author": note.author, "text": note.text} for note in detail.notes],
            "history": [{"at": iso(entry.at), "actor": entry.actor, "action": entry.action,
                         "detail": dict(entry.detail)} for entry in detail.history],
            "folded": sorted(getattr(detail, "folded", ())),
            "actions": self._actions_for(list(zip(detail.events, events)), ctx.principal.role),
            "cameras": self._cameras_for(incident, detail.events),
        })

    def _actions_for(self, events: list[tuple[Any, dict[str, Any]]], role: str) -> list[dict[str, Any]]:
        """The commands offered on an incident: ``events`` are its events, each with its JSON form.

        A command is offered once per adapter instance; its fields are prefilled from the newest event that
        the command applies to (the latest report, not the first). That event must come from the instance
        itself, unless the command is ``any_source``: then every configured instance of its type offers it
        on an event from anyone (the police link's "send to police" on any incident).
        """
        newest: dict[tuple[str, str], tuple[Any, Any, Any, dict[str, Any]]] = {}
        statuses = {status.name: status for status in self.backend.adapters()}

        def offered(status: Any) -> list[Any]:
            adapter_type = self.backend.adapter_types.get(status.adapter_type)
            return [spec for spec in (adapter_type.commands if adapter_type else ()) if role in spec.roles]

        from_anyone = [(status, spec) for status in statuses.values() for spec in offered(status) if spec.any_source]
        for event, event_json in events:
            status = statuses.get(event.source)
            own = [(status, spec) for spec in offered(status) if not spec.any_source] if status is not None else []
            for adapter, spec in own + from_anyone:
                if not any(TopicMatcher(pattern)(event.topic) for pattern in spec.applies_to):
                    continue
                key = (adapter.name, spec.verb)
                if key not in newest or (event.seq or 0) >= (newest[key][0].seq or 0):
                    newest[key] = (event, adapter, spec, event_json)
        # Offered in the order the commands first apply, as the incident's events came.
        return [
            _command_json(status, spec, running=_state_of(status) == "running", event=event_json)
            for _event, status, spec, event_json in newest.values()
        ]

    def _cameras_for(self, incident: Any, events: Iterable[Any]) -> list[dict[str, Any]]:
        from hub.directory import Asset

        ids = list(getattr(incident, "cameras", ()) or ())
        for event in events:
            if event.location is not None and event.location.camera:
                ids.append(event.location.camera)
        cameras = []
        for camera in dict.fromkeys(ids):
            asset = self.backend.directory.get("camera", camera)
            cameras.append((asset or Asset(kind="camera", id=camera)).to_json())
        return cameras

    def incident_action(self, verb: str) -> Any:
        async def act(ctx: RequestContext) -> Response:
            incident = await self.backend.incidents.act(ctx.params["id"], verb, dict(ctx.body or {}),
                                                        self.actor(ctx))
            return json_response({"incident": incident.to_json()})

        act.__name__ = f"incident_{verb}"
        return act

    async def incident_command(self, ctx: RequestContext) -> Response:
        body = ctx.body
        return await self._send_command(ctx, body["adapter"], body["verb"], body.get("arguments") or {},
                                        ctx.params["id"])

    # --- commands ------------------------------------------------------------------------------------

    async def commands(self, ctx: RequestContext) -> Response:
        role = ctx.principal.role
        offered = []
        for status in self.backend.adapters():
            adapter_type = self.backend.adapter_types.get(status.adapter_type)
            for spec in adapter_type.commands if adapter_type else ():
                if role in spec.roles:
                    offered.append(_command_json(status, spec, running=_state_of(status) == "running"))
        return json_response({"commands": offered})

    async def send_command(self, ctx: RequestContext) -> Response:
        body = ctx.body
        return await self._send_command(ctx, body["adapter"], body["verb"], body.get("arguments") or {},
                                        body.get("incident_id"))

    async def _send_command(self, ctx: RequestContext, adapter: str, verb: str, arguments: dict[str, Any],
                            incident_id: str | None) -> Response:
        b = self.backend
        status = next((status for status in b.adapters() if status.name == adapter), None)
        if status is None:
            raise invalid(f"there is no adapter {adapter[:200]}", [{"field": "adapter", "message": "unknown"}])
        adapter_type = b.adapter_types.get(status.adapter_type)
        spec = next((spec for spec in (adapter_type.commands if adapter_type else ()) if spec.verb == verb), None)
        if spec is None:
            raise invalid(f"{adapter} has no command {verb[:64]}", [{"field": "verb", "message": "unknown"}])
        if ctx.principal.role not in spec.roles:
            raise forbidden(f"a {ctx.principal.role} may not ask {adapter} to {spec.title.lower()}")
        if incident_id is not None and b.incidents.get(incident_id) is None:
            raise not_found(f"no incident {incident_id}")
        events = b.events
        try:
            event = command_event(events, adapter=adapter, adapter_type=status.adapter_type, spec=spec,
                                  arguments=arguments, requested_by=ctx.principal.name,
                                  incident_id=incident_id)
        except CommandRefused as refused:
            raise invalid(str(refused), [{"field": "arguments", "message": str(refused)}]) from None
        audit = b.audit.job(self.actor(ctx), "command.request", f"adapter:{adapter}",
                            {"verb": verb, "arguments": event.payload.arguments, "command_id": event.id,
                             "incident_id": incident_id})
        seq = await b.bus.publish(event, also=b.also(audit))
        state = _state_of(status)
        if state != "running":
            # Adapters only take live commands; one that is down would never answer, so say so now.
            await b.bus.publish(outcome_event(events, status.adapter_type, event, CommandOutcomeKind.REFUSED,
                                              f"{adapter} is {state}, not running"))
        b.log.info("command_requested", adapter=adapter, verb=verb, user=ctx.principal.name, seq=seq)
        return json_response({"command_id": event.id, "seq": seq}, 202)

    # --- events, adapters, assets, map ---------------------------------------------------------------

    async def events(self, ctx: RequestContext) -> Response:
        bus = self.backend.bus
        limit = ctx.int_arg("limit", 200, low=1, high=1000)
        since = ctx.int_arg("since", max(0, bus.head - limit))
        topic = ctx.arg("topic") or "#"
        try:
            parse_pattern(topic)
        except TopicPatternError as error:
            raise invalid(str(error), [{"field": "topic", "message": "not a topic pattern"}], status=400) from None
        events = bus.replay(since=since, pattern=topic, limit=limit)
        codec = self.backend.codec
        return json_response({"events": [codec.to_dict(event) for event in events], "head": bus.head})

    async def adapters(self, ctx: RequestContext) -> Response:
        b = self.backend
        services = dict(b.adapter_services())
        adapters = [
            {"name": status.name, "type": status.adapter_type, "state": _state_of(status),
             "attempt": status.attempt, "last_error": status.last_error,
             "last_heard_at": iso(status.last_heard_at), "started_at": iso(status.started_at),
             "link": _link_state(services.get(status.name))}
            for status in b.adapters()
        ]
        partners = [
            {"name": name, "display_name": b.partners.display_name(name), "enabled": b.partners.enabled(name),
             "last_report_at": iso(b.partners.last_report_at(name))}
            for name in b.partners.names()
        ]
        stats = b.bus.stats()
        bus = {
            "head": stats["head"],
            "published": stats["published"],
            "publish_failures": stats["publish_failures"],
            "subscribers": [
                {"name": sub.name, "pattern": sub.pattern, "state": sub.state, "queue_depth": sub.queue_depth,
                 "position": sub.position, "delivered": sub.delivered, "failed": sub.failed,
                 "overflows": sub.overflows, "dropped": sub.dropped}
                for sub in stats["subscribers"]
            ],
        }
        return json_response({"adapters": adapters, "partners": partners, "bus": bus,
                              "stream": {"clients": len(self.stream.clients)}})

    async def cameras(self, ctx: RequestContext) -> Response:
        return json_response({"cameras": [a.to_json() for a in self.backend.directory.list("camera")]})

    async def fibre_nodes(self, ctx: RequestContext) -> Response:
        return json_response({"fibre_nodes": [a.to_json() for a in self.backend.directory.list("fibre_node")]})

    async def fibre_spans(self, ctx: RequestContext) -> Response:
        return json_response({"fibre_spans": [a.to_json() for a in self.backend.directory.list("fibre_span")]})

    def _placed_spans(self) -> list[dict[str, Any]]:
        """Fibre spans whose two end nodes both have coordinates, each with ``ends``: [[lat, lon], [lat, lon]]
        (node ``a`` then ``b``), so every reader of the map draws the same line."""
        directory = self.backend.directory
        spans = []
        for asset in directory.list("fibre_span"):
            ends = [directory.get("fibre_node", str(asset.attributes.get(end))) for end in ("a", "b")]
            if all(node is not None and node.latitude is not None and node.longitude is not None
                   for node in ends):
                spans.append({**asset.to_json(), "ends": [[node.latitude, node.longitude] for node in ends]})
        return spans

    async def map(self, ctx: RequestContext) -> Response:
        b = self.backend
        config = b.map
        placed = [a.to_json() for a in b.directory.list() if a.latitude is not None and a.longitude is not None]
        open_states = [state for state in INCIDENT_STATES if state not in ("resolved", "closed")]
        incidents = []
        for incident in b.incidents.list(states=open_states, limit=1000):
            data = incident.to_json()
            location = data.get("location") or {}
            if location.get("latitude") is not None and location.get("longitude") is not None:
                incidents.append(data)
        return json_response({
            "map": {"image_url": "/api/map/image" if config.image is not None else None,
                    "bounds": list(config.bounds) if config.bounds is not None else None,
                    "tile_url": config.tile_url},
            "sites": [{"name": site.name, "lat": site.lat, "lon": site.lon, "kind": site.kind}
                      for site in config.sites],
            "cameras": [a for a in placed if a["kind"] == "camera"],
            "fibre_nodes": [a for a in placed if a["kind"] == "fibre_node"],
            "fibre_spans": self._placed_spans(),
            "incidents": incidents,
        })

    async def map_image(self, ctx: RequestContext) -> Response:
        image = self.backend.map.image
        if image is None:
            raise not_found("no map image is configured")
        content_type = mimetypes.guess_type(str(image))[0] or ""
        if not content_type.startswith("image/"):
            raise not_found("the configured map image is not an image file")
        try:
            data = Path(image).read_bytes()
        except OSError:
            raise not_found("the configured map image cannot be read") from None
        return Response(200, data, content_type, {"Cache-Control": "private, max-age=300"})

    # --- evidence ------------------------------------------------------------------------------------

    async def evidence(self, ctx: RequestContext) -> Response:
        """One stored piece of evidence, checked against its hash; every fetch is in the audit log."""
        b = self.backend
        sha256 = ctx.params["sha256"]
        if not is_sha256(sha256):
            raise invalid("evidence is named by its SHA-256: 64 lowercase hex digits",
                          [{"field": "sha256", "message": "not a SHA-256"}], status=400)
        incident = ctx.arg("incident") or None
        if incident is not None and not _INCIDENT_ID.fullmatch(incident):
            raise invalid("incident is not an incident id", [{"field": "incident", "message": "not an id"}],
                          status=400)
        if b.evidence is None:
            raise not_found("this hub keeps no evidence")
        try:
            found = await b.evidence.read(sha256)
        except EvidenceCorrupt:
            # Never serve altered bytes as evidence; the IT team needs to know, and so does the auditor.
            b.log.error("evidence_corrupt", sha256=sha256, user=ctx.principal.name)
            await b.audit.record(self.actor(ctx), "evidence.corrupt", f"evidence:{sha256}",
                                 {"incident": incident})
            raise ApiError(500, "evidence_corrupt",
                           "the stored file no longer matches its SHA-256; it has been logged") from None
        if found is None:
            raise not_found(f"no evidence {sha256}")
        item, content = found
        # Recorded before the bytes leave: a fetch the audit log could not take is not served.
        await b.audit.record(self.actor(ctx), "evidence.view", f"evidence:{sha256}",
                             {"content_type": item.content_type, "size": item.size, "incident": incident})
        disposition = "inline" if item.content_type.startswith("image/") else "attachment"
        filename = f"{sha256}{CONTENT_TYPES[item.content_type]}"
        return Response(200, content, item.content_type, {
            "Content-Disposition": f'{disposition}; filename="{filename}"',
            # Opened on its own, the file is a document that can run nothing and load nothing else.
            "Content-Security-Policy": "default-src 'none'; img-src 'self'; sandbox",
            "Cache-Control": "private, no-store",
            "ETag": f'"{sha256}"',
        })

    # --- audit and users -----------------------------------------------------------------------------

    async def audit(self, ctx: RequestContext) -> Response:
        entries = self.backend.audit.read(
            after_id=ctx.int_arg("after", 0), limit=ctx.int_arg("limit", 200, low=1, high=1000),
            actor=ctx.arg("actor") or None, action=ctx.arg("action") or None)
        return json_response({"entries": [_audit_json(entry) for entry in entries]})

    async def audit_export(self, ctx: RequestContext) -> Response:
        fmt = ctx.arg("format", "csv")
        if fmt not in ("csv", "jsonl"):
            raise invalid("format must be csv or jsonl", [{"field": "format", "message": "csv or jsonl"}],
                          status=400)
        out = io.StringIO()
        rows = self.backend.audit.export(out, format=fmt, after_id=ctx.int_arg("after", 0))
        data = out.getvalue()
        content_type = "text/csv; charset=utf-8" if fmt == "csv" else "application/x-ndjson; charset=utf-8"
        await self.backend.audit.record(self.actor(ctx), "audit.export", "audit_log",
                                        {"format": fmt, "rows": rows})
        return Response(200, data.encode(), content_type,
                        {"Content-Disposition": f'attachment; filename="audit.{fmt}"'})

    async def users(self, ctx: RequestContext) -> Response:
        return json_response({"users": [
            {"name": user.name, "role": user.role, "disabled": user.disabled, "created_at": iso(user.created_at)}
            for user in self.backend.users.list()
        ]})

    async def add_user(self, ctx: RequestContext) -> Response:
        b = self.backend
        body = ctx.body
        try:
            # The store writes the user.add audit row in the same transaction as the user.
            user = await b.users.add(body["name"], body["role"], body["password"], actor=self.actor(ctx))
        except Exception as error:  # noqa: BLE001 - UserExists and ValueError come from the store
            if type(error).__name__ == "UserExists":
                raise conflict(f"there is already a user {body['name']}") from None
            if isinstance(error, ValueError):
                raise invalid(str(error)) from None
            raise
        return json_response({"user": {"name": user.name, "role": user.role, "disabled": user.disabled,
                                       "created_at": iso(user.created_at)}}, 201)

    async def disable_user(self, ctx: RequestContext) -> Response:
        b = self.backend
        name = ctx.params["name"]
        if b.users.get(name) is None:
            raise not_found(f"there is no user {name}")
        # The store writes the user.disable audit row in the same transaction.
        await b.users.disable(name, actor=self.actor(ctx))
        ended = b.sessions.revoke_user(name)
        closed = self.stream.close_where(lambda client: client.user.get("name") == name, SESSION_ENDED,
                                         "user disabled")
        b.log.info("user_disabled", user=name, by=ctx.principal.name, sessions=ended, streams=closed)
        return no_content()

    # --- partners ------------------------------------------------------------------------------------

    async def report(self, ctx: RequestContext) -> Response:
        return await self.intake.receive(ctx)

    # --- rules ----------------------------------------------------------------------------------------

    async def rules(self, ctx: RequestContext) -> Response:
        from hub.config import IncidentsConfig
        from hub.incidents.overview import overview

        b = self.backend
        # Counted from the incident store when the desk can (the real engine's); a fake desk gives none.
        counts_of = getattr(b.incidents, "rule_counts", None)
        rules = b.rules if b.rules is not None else IncidentsConfig(rules=())
        return json_response(overview(rules, timezone=b.timezone, now=b.clock.seconds(),
                                      counts=counts_of() if counts_of is not None else None))

    # --- health, metrics, the API's own description --------------------------------------------------

    async def healthz(self, ctx: RequestContext) -> Response:
        counts: dict[str, int] = {}
        for status in self.backend.adapters():
            counts[_state_of(status)] = counts.get(_state_of(status), 0) + 1
        healthy = all(state == "running" for state in counts)
        return json_response({"status": "ok" if healthy else "degraded", "head": self.backend.bus.head,
                              "adapters": counts})

    async def prometheus(self, ctx: RequestContext) -> Response:
        b = self.backend
        text = render_metrics(bus=b.bus, metrics=self.metrics, adapters=list(b.adapters()),
                              incident_counts=b.incidents.counts_by_state(),
                              websocket_clients=len(self.stream.clients), sessions_active=b.sessions.active(),
                              incident_states=INCIDENT_STATES, adapter_services=b.adapter_services(), log=b.log)
        return Response(200, text.encode(), PROMETHEUS_TYPE)

    async def openapi(self, ctx: RequestContext) -> Response:
        assert self.table is not None
        return json_response(self.table.openapi(title=f"Partner hub API ({self.backend.hub_name})",
                                                version=self.backend.hub_version))

    async def panels(self, ctx: RequestContext) -> Response:
        plugins = self.backend.plugins
        found = plugins.console_panels() if plugins is not None else []
        return json_response({"panels": [
            {"plugin": plugin, "name": panel.name, "title": panel.title, "description": panel.description,
             "script_url": f"/plugins/{plugin}/{panel.name}.js"}
            for plugin, panel in found
        ]})

    async def panel_script(self, ctx: RequestContext) -> Response:
        plugins = self.backend.plugins
        for plugin, panel in plugins.console_panels() if plugins is not None else []:
            if plugin == ctx.params["plugin"] and panel.name == ctx.params["name"]:
                try:
                    data = Path(panel.script_path).read_bytes()
                except OSError:
                    break
                return Response(200, data, _STATIC_TYPES[".js"], {"Cache-Control": "no-cache"})
        raise not_found("no such panel")

    # --- the live stream -------------------------------------------------------------------------------

    async def live(self, ctx: RequestContext) -> Response | Takeover:
        if not origin_allowed(ctx.headers, ctx.secure):
            raise ApiError(403, "csrf", "the stream must be opened from this server's own pages")
        since = ctx.int_arg("since", None)
        topics = ctx.arg("topics") or None
        patterns = None
        if topics is not None:
            patterns = tuple(pattern.strip() for pattern in topics.split(",") if pattern.strip())
            try:
                for pattern in patterns:
                    parse_pattern(pattern)
            except TopicPatternError as error:
                raise invalid(str(error), [{"field": "topics", "message": "not a topic pattern"}],
                              status=400) from None
        client = self.stream.client(user=_user_json(ctx.principal), since=since, patterns=patterns,
                                    token=ctx.principal.token)
        return Takeover(self.stream.resource_for(client))

    # --- the console's static files --------------------------------------------------------------------

    async def index(self, ctx: RequestContext) -> Response:
        return self._static("index.html")

    async def static(self, ctx: RequestContext) -> Response:
        return self._static(ctx.params["file"])

    def _static(self, name: str) -> Response:
        if self.static_dir is None:
            raise not_found("the console is not installed")
        root = self.static_dir.resolve()
        try:
            path = (root / name).resolve()
        except (OSError, ValueError):
            raise not_found("no such file") from None
        if not path.is_relative_to(root) or not path.is_file() or any(p.startswith(".") for p in
                                                                         path.relative_to(root).parts):
            raise not_found("no such file")
        content_type = _STATIC_TYPES.get(path.suffix.lower())
        if content_type is None:
            raise not_found("no such file")
        return Response(200, path.read_bytes(), content_type, {"Cache-Control": "no-cache"})


def _audit_json(entry: Any) -> dict[str, Any]:
    if hasattr(entry, "to_json"):
        return entry.to_json()
    return {"id": entry.id, "at": iso(entry.at), "actor": entry.actor, "role": entry.role,
            "address": entry.address, "action": entry.action, "target": entry.target,
            "detail": dict(entry.detail), "prev_hash": entry.prev_hash, "hash": entry.hash}


# --- The table ---------------------------------------------------------------------------------------

_LOGIN = s.obj({"username": s.text(100, 1), "password": s.text(1024, 1)}, ("username", "password"))
_EMPTY = s.obj({})
_COMMAND_FIELDS = {
    "adapter": s.text(200, 1),
    "verb": s.text(64, 1),
    "arguments": {"type": "object", "maxProperties": 32},
}
_INCIDENT_BODIES = {
    "acknowledge": (_EMPTY, "Acknowledge an incident: someone is on it."),
    "assign": (s.obj({"owner": s.text(100, 1, nullable=True)}, ("owner",)),
               "Give an incident to a user (null: to nobody)."),
    "notes": (s.obj({"text": s.text(4000, 1)}, ("text",)), "Add a note to an incident."),
    "state": (s.obj({"state": {"type": "string", "enum": list(INCIDENT_STATES)}}, ("state",)),
              "Move an incident through its lifecycle."),
    "update": (s.obj({"category": s.text(64, nullable=True),
                      "priority": {"type": ["integer", "null"], "minimum": 1, "maximum": 5}}),
               "Change an incident's category or priority."),
    "sop": (s.obj({"step": {"type": "integer", "minimum": 1, "maximum": 1000}, "done": {"type": "boolean"}},
                  ("step", "done")),
            "Tick (done: true) or untick a step of the incident's SOP checklist; step 1 is the first."),
}
_LIMIT = ("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "at most this many")
_INCIDENT_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def build_routes(api: Api, plugin_routes: Iterable[Route] = ()) -> RouteTable:
    """Every route the server answers, in matching order; the API's ``openapi`` handler reads it too."""
    routes = [
        Route("POST", "/api/session", api.login, (PUBLIC,), "Log in; sets the hub_session cookie",
              body=_LOGIN, tag="session",
              responses={"200": "logged in: the user and the CSRF token", "401": "bad user name or password",
                         "429": "too many failed attempts (Retry-After)"}),
        Route("GET", "/api/session", api.session, USER_ROLES, "Who is logged in, and the CSRF token",
              tag="session"),
        Route("DELETE", "/api/session", api.logout, USER_ROLES, "Log out", tag="session",
              responses={"204": "logged out; live streams of this session are closed"}),
        Route("GET", "/api/incidents", api.incidents, READERS, "Incidents, worst and oldest first", tag="incidents",
              query=(("state", {"type": "string"}, "comma-separated states"),
                     ("source", {"type": "string"}, "source (adapter instance) of an event in it"),
                     ("location", {"type": "string"}, "location name"),
                     ("severity", {"type": "string", "enum": list(SEVERITIES)}, "this severity or worse"),
                     ("q", {"type": "string"}, "text search"), _LIMIT)),
        Route("GET", "/api/incidents/{id}", api.incident, READERS,
              "One incident with its events, notes, history, actions and cameras", tag="incidents",
              responses={"200": "OK", "404": "no such incident"}),
    ]
    for verb in INCIDENT_VERBS:
        body, summary = _INCIDENT_BODIES[verb]
        routes.append(Route("POST", f"/api/incidents/{{id}}/{verb}", api.incident_action(verb), ACTORS, summary,
                            body=body, tag="incidents",
                            responses={"200": "the incident as it now is", "404": "no such incident",
                                       "409": "not allowed in the incident's state"
                                       + (", or no such step" if verb == "sop" else "")}))
    routes += [
        Route("POST", "/api/incidents/{id}/commands", api.incident_command, ACTORS,
              "Ask an adapter to do something about an incident", body=s.obj(_COMMAND_FIELDS, ("adapter", "verb")),
              tag="commands", responses={"202": "published: command_id and seq", "404": "no such incident"}),
        Route("GET", "/api/commands", api.commands, ACTORS, "Commands the adapters offer to your role",
              tag="commands"),
        Route("POST", "/api/commands", api.send_command, ACTORS, "Ask an adapter to do something",
              body=s.obj({**_COMMAND_FIELDS, "incident_id": s.text(64, nullable=True)}, ("adapter", "verb")),
              tag="commands", responses={"202": "published: command_id and seq"}),
        Route("GET", "/api/events", api.events, READERS, "Journaled events after a sequence number",
              tag="events", query=(("since", {"type": "integer", "minimum": 0}, "events after this seq"),
                                   ("topic", {"type": "string"}, "topic pattern (* and #)"), _LIMIT)),
        Route("GET", "/api/stream", api.live, READERS,
              "Live events over a WebSocket, resuming after ?since=N with no gap and no duplicate",
              tag="events", query=(("since", {"type": "integer", "minimum": 0}, "resume after this seq"),
                                   ("topics", {"type": "string"}, "comma-separated topic patterns")),
              responses={"101": "switching to the WebSocket protocol", "400": "not a WebSocket request"}),
        Route("GET", "/api/adapters", api.adapters, READERS, "Adapters, partners and the bus", tag="status"),
        Route("GET", "/api/cameras", api.cameras, READERS, "Cameras the adapters know", tag="assets"),
        Route("GET", "/api/fibre-nodes", api.fibre_nodes, READERS, "Fibre nodes the adapters know", tag="assets"),
        Route("GET", "/api/fibre-spans", api.fibre_spans, READERS,
              "Fibre spans the adapters know: the two nodes each joins and the state of its downstream node",
              tag="assets"),
        Route("GET", "/api/map", api.map, READERS, "Everything the map draws", tag="assets"),
        Route("GET", "/api/map/image", api.map_image, READERS, "The configured map image", tag="assets",
              produces="image/*", responses={"200": "the image", "404": "none configured"}),
        Route("GET", "/api/evidence/{sha256}", api.evidence, READERS,
              "One piece of evidence (a camera snapshot) by its SHA-256, as stored (audited)", tag="evidence",
              produces="image/jpeg", description="Served with the content type it was stored with (image/jpeg, "
              "image/png or application/octet-stream), X-Content-Type-Options: nosniff, never cached. Every "
              "fetch is an evidence.view row in the audit log, naming the incident given in ?incident=.",
              query=(("incident", {"type": "string", "maxLength": 64},
                      "the incident it is viewed for, recorded in the audit log"),),
              responses={"200": "the stored bytes", "400": "not a SHA-256", "404": "no such evidence",
                         "500": "the stored file no longer matches its SHA-256"}),
        Route("GET", "/api/rules", api.rules, READERS,
              "The incident rules in order and the maintenance windows, as in force now", tag="rules",
              description="Each rule with what it matches, what it does and how many incidents it has opened "
              "and acted on (from the incident store; null when not known); each maintenance window with what "
              "it covers, whether it is active by the hub's clock, and its current and next stretch."),
        Route("GET", "/api/panels", api.panels, READERS, "Console panels plugins add", tag="console"),
        Route("GET", "/api/audit", api.audit, AUDITORS, "Audit log entries after an id", tag="audit",
              query=(("after", {"type": "integer", "minimum": 0}, "entries after this id"), _LIMIT,
                     ("actor", {"type": "string"}, "by this actor"),
                     ("action", {"type": "string"}, "of this action"))),
        Route("GET", "/api/audit/export", api.audit_export, AUDITORS, "The audit log as a file (audited)",
              tag="audit", produces="text/csv",
              query=(("format", {"type": "string", "enum": ["csv", "jsonl"]}, "file format"),
                     ("after", {"type": "integer", "minimum": 0}, "entries after this id"))),
        Route("GET", "/api/users", api.users, ADMINS, "Users", tag="users"),
        Route("POST", "/api/users", api.add_user, ADMINS, "Add a user", tag="users",
              body=s.obj({"name": s.text(64, 1), "role": {"type": "string", "enum": list(USER_ROLES)},
                          "password": s.text(1024, 12)}, ("name", "role", "password")),
              responses={"201": "added", "409": "the name is taken"}),
        Route("POST", "/api/users/{name}/disable", api.disable_user, ADMINS,
              "Disable a user and end their sessions", tag="users", body=_EMPTY,
              responses={"204": "disabled", "404": "no such user"}),
        Route("POST", "/api/intake/reports", api.report, (PARTNER,), "A partner reports an incident",
              tag="partners", body=intake_schema(),
              responses={"202": "accepted: event_id and seq", "200": "a repeat of a report already accepted",
                         "401": "no or unknown partner key", "429": "too many reports (Retry-After)"}),
        Route("GET", "/api/openapi.json", api.openapi, USER_ROLES, "This document", tag="meta"),
        Route("GET", "/healthz", api.healthz, (PUBLIC,), "Is the hub up", tag="meta"),
        Route("GET", "/metrics", api.prometheus, (METRICS,), "Prometheus metrics", tag="meta",
              produces="text/plain"),
        Route("GET", "/", api.index, (PUBLIC,), "The operator console", tag="console", produces="text/html"),
        Route("GET", "/static/{file:path}", api.static, (PUBLIC,), "The console's files", tag="console",
              produces="*/*"),
        Route("GET", "/plugins/{plugin}/{name}.js", api.panel_script, READERS, "A plugin panel's script",
              tag="console", produces="text/javascript"),
        *plugin_routes,
    ]
    table = RouteTable(routes)
    api.table = table
    return table
