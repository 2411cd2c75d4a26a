"""The force's requests to the room: checked, recorded, carried out (at once or once an operator agrees),
answered, and every release written to the disclosure log.

A request is answered twice: at link level at once (``Verdict``, after its row and ``police.request.received``
are durable), and with a business answer (``request-answer`` JSON, journaled as ``police.request.answered``
with the request's new state in the same transaction) when there is something to say:

- ``live_view``: the camera's adapter is asked for its stream address (``stream_uri``); the force gets it with
  an expiry (``min(minutes, live_view_max_minutes)``), signed when ``stream_signing_key`` is set (see
  ``sign_stream_uri``); a disclosure row is written before the answer goes, and at the expiry
  ``police.live_view.expired`` closes the request.
- ``point_camera``: the camera's adapter is asked to ``goto_preset``; the answer says whether it turned.
- ``retain_footage``: a hold row and ``police.hold.created`` (a task for an operator) and an answer at once;
  the operator's ``complete_retention`` (export reference, ``sha256sum`` manifest) closes the hold, writes
  the disclosure and answers ``done`` with the manifest.
- ``monitor_location``: ``police.monitor.started`` and an answer at once; at ``until``,
  ``police.monitor.ended`` and a ``done`` answer.

``live_view`` and ``point_camera`` wait for an operator's ``approve_request`` when configured ``consent``;
``refuse_request`` refuses one; either after the request's deadline answers ``stale`` instead.

Nothing is lost across a restart: ``start`` re-arms the live-view expiries and monitoring ends from the
records (one already past fires at once) and carries on with any request that was being carried out. A
request is ``working`` until its answer is journaled, and the answer moves it on in the same transaction, so
a request interrupted half-way is carried out again: the worst case is a second disclosure row or
``police.monitor.started`` for it, never a release without a record. Answers have a transaction id made of
the link, the request and the outcome, so one answer is never queued twice.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import sqlite3
from collections.abc import Awaitable, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import attrs
from twisted.internet.defer import CancelledError, Deferred

from hub.clock import iso, utc_from_seconds
from hub.events import (
    CommandOutcomeKind,
    CommandRequested,
    Event,
    GenericPayload,
    Location,
    Severity,
    Subject,
)
from plugins.police_link import events as ev
from plugins.police_link.codec.frames import REQUEST_ANSWER, format_time
from plugins.police_link.codec.messages import (
    LiveViewRequest,
    MessageError,
    MonitorLocationRequest,
    PointCameraRequest,
    RequestAnswer,
    RetainFootageRequest,
    StreamGrant,
    decode_request,
    encode_request,
    encode_request_answer,
)
from plugins.police_link.link import Inbound, Verdict
from plugins.police_link.records import (
    ACTIVE,
    AWAITING_CONSENT,
    CLOSED,
    HOLD_OPEN,
    RELEASED_BY_HUB,
    WORKING,
    Disclosure,
    HoldRecord,
    PoliceRecords,
    RequestRecord,
    together,
)

#: How many times a row id chosen before its transaction is chosen again when another link took it.
_ID_ATTEMPTS = 5
_SHA256SUM_LINE = re.compile(r"^([0-9A-Fa-f]{64}) [ *](.+)$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: What the request-answer schema allows a manifest, and an answer's detail.
MAX_MANIFEST_FILES = 10_000
MAX_MANIFEST_NAME = 500
MAX_DETAIL = 1000
#: The query parameters a signed stream address carries; any already in the camera's address are dropped.
SIGNATURE_PARAMETERS = ("expires", "signature")


class ManifestError(ValueError):
    """A manifest that is not ``sha256sum`` output; the message names the line and what is wrong."""


def parse_manifest(text: str) -> tuple[dict[str, str], ...]:
    """``sha256sum`` output as ``({"name", "sha256"}, ...)``, in order.

    Each line is 64 hex digits, a space, a space or ``*`` (binary mode), and the file name; a line starting
    with a backslash has escapes in its name, as GNU sha256sum writes a name with a backslash in it. Blank
    lines are skipped; a name listed twice, or with control characters (the answer's schema refuses them), is
    refused.
    """
    files: list[dict[str, str]] = []
    seen: set[str] = set()
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        escaped = line.startswith("\\")
        match = _SHA256SUM_LINE.match(line[1:] if escaped else line)
        if match is None:
            shown = line if len(line) <= 80 else line[:77] + "..."
            raise ManifestError(f"manifest line {number} is not '<64 hex digits>  <file name>' as sha256sum "
                                f"prints it: {shown!r}")
        digest, name = match.group(1).lower(), match.group(2)
        if escaped:
            name = _unescape(name, number)
        if _CONTROL.search(name) or not name.strip():
            raise ManifestError(f"manifest line {number}: a file name must be printable text")
        if len(name) > MAX_MANIFEST_NAME:
            raise ManifestError(f"manifest line {number}: the file name is longer than {MAX_MANIFEST_NAME} characters")
        if name in seen:
            raise ManifestError(f"manifest line {number}: {name!r} is listed twice")
        seen.add(name)
        files.append({"name": name, "sha256": digest})
        if len(files) > MAX_MANIFEST_FILES:
            raise ManifestError(f"the manifest lists more than {MAX_MANIFEST_FILES} files; export in parts")
    return tuple(files)


def _unescape(name: str, number: int) -> str:
    out, index = [], 0
    while index < len(name):
        char = name[index]
        if char == "\\":
            following = name[index + 1:index + 2]
            if following not in ("\\", "n", "r"):
                raise ManifestError(f"manifest line {number}: unknown escape in the file name {name!r}")
            out.append({"\\": "\\", "n": "\n", "r": "\r"}[following])
            index += 2
        else:
            out.append(char)
            index += 1
    return "".join(out)


def manifest_text(files: Sequence[dict[str, str]]) -> str:
    """The manifest as ``sha256sum`` writes it (``hex  name`` lines, each ending in a newline): its SHA-256
    is the one the disclosure log records, so an auditor can check it against the export's SHA256SUMS."""
    lines = []
    for item in files:
        name = item["name"]
        if "\\" in name or "\n" in name or "\r" in name:
            escaped = name.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
            lines.append(f"\\{item['sha256']}  {escaped}\n")
        else:
            lines.append(f"{item['sha256']}  {name}\n")
    return "".join(lines)


def sign_stream_uri(uri: str, expires: int, key: str) -> str:
    """``uri`` with ``expires=<POSIX seconds>`` and ``signature=<hex HMAC-SHA256>`` query parameters added.

    The signature is HMAC-SHA256 with ``key`` over the UTF-8 text ``"<uri without these two parameters>\\n
    <expires>"``: a media gateway holding the same key recomputes it (``stream_signature_valid``) and refuses
    the stream after ``expires``. Any ``expires`` or ``signature`` the address had already are dropped first.
    """
    base = _without_signature(uri)
    signature = hmac.new(key.encode(), f"{base}\n{expires}".encode(), hashlib.sha256).hexdigest()
    parts = urlsplit(base)
    extra = urlencode({"expires": str(expires), "signature": signature})
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def stream_signature_valid(uri: str, key: str, now: float) -> bool:
    """Whether a signed stream address is genuine and not yet expired at ``now`` (what a gateway checks)."""
    parameters = dict(parse_qsl(urlsplit(uri).query, keep_blank_values=True))
    expires, signature = parameters.get("expires", ""), parameters.get("signature", "")
    if not expires.isdigit() or not signature:
        return False
    wanted = hmac.new(key.encode(), f"{_without_signature(uri)}\n{expires}".encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(wanted, signature) and now < int(expires)


def _without_signature(uri: str) -> str:
    parts = urlsplit(uri)
    kept = [(name, value) for name, value in parse_qsl(parts.query, keep_blank_values=True)
            if name not in SIGNATURE_PARAMETERS]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(kept, safe="/:"), parts.fragment))


def _detail(text: str) -> str:
    """An answer's detail as its schema takes it: no control characters but line breaks and tabs, 1 to
    ``MAX_DETAIL`` characters (an adapter's error may be longer, an operator's reason odd)."""
    cleaned = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", " ", text).strip() or "no detail given"
    return cleaned if len(cleaned) <= MAX_DETAIL else cleaned[:MAX_DETAIL - 3] + "..."


def _cameras(request: Any) -> tuple[str, ...]:
    if isinstance(request, (LiveViewRequest, PointCameraRequest)):
        return (request.camera,)
    return tuple(request.cameras)


def _request_type(request: Any) -> str:
    return {LiveViewRequest: "live_view", RetainFootageRequest: "retain_footage",
            PointCameraRequest: "point_camera", MonitorLocationRequest: "monitor_location"}[type(request)]


def _officer(officer: Any) -> ev.Officer:
    return ev.Officer(name=officer.name, force=officer.force, collar_number=officer.collar_number, role=officer.role)


def _who(officer: Any) -> str:
    collar = f" {officer.collar_number}" if officer.collar_number else ""
    return f"{officer.name}{collar} ({officer.force})"


def _payload_field(payload: Any, name: str) -> Any:
    if isinstance(payload, GenericPayload):
        return payload.data.get(name)
    return getattr(payload, name, None)


@attrs.frozen
class _Answered:
    """The business answer a piece of work ended with, for the operator's command outcome."""

    outcome: str
    detail: str


class RequestDesk:
    """The requests of one link: what the force asked, what the room did, and what it released."""

    def __init__(self, *, clock: Any, config: Any, records: PoliceRecords, link: str, events: Any, sender: Any,
                 store: Any, requester: Any, directory: Any, evidence: Any, bus: Any, log: Any) -> None:
        self._clock = clock
        self._config = config
        self._records = records
        self._link = link
        self._events = events
        self._sender = sender
        self._store = store
        self._requester = requester
        self._directory = directory
        self._evidence = evidence
        self._bus = bus
        self._log = log
        self._timers: dict[str, Any] = {}
        self._running: set[Deferred[Any]] = set()
        #: Requests an action or a command is working on now: a second command waits its turn by refusal.
        self._busy: set[str] = set()
        self._started = False

    # --- life --------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Re-arm the expiries and monitoring ends the records hold; carry on with interrupted work."""
        self._started = True
        for record in self._records.open_requests():
            if record.state == ACTIVE and record.expires_at is not None and record.request_type in (
                    "live_view", "monitor_location"):
                self._arm(record)
            elif record.state == WORKING:
                self._log.info("request_resumed", request_id=record.request_id, request_type=record.request_type)
                self._spawn(self._resume(record))

    def stop(self) -> None:
        """Cancel every timer and the work under way; what was not answered is carried on at the next start."""
        self._started = False
        for timer in self._timers.values():
            if timer.active():
                timer.cancel()
        self._timers.clear()
        for running in list(self._running):
            running.cancel()

    # --- requests from the force ---------------------------------------------------------------------------

    async def received(self, inbound: Inbound, request: Any) -> Verdict:
        """Check and record a decoded request; the verdict comes before the work, which goes on behind it."""
        request_type = _request_type(request)
        log = self._log.bind(request_id=request.request_id, request_type=request_type,
                             transaction_id=inbound.transaction_id)
        known = self._records.request(request.request_id)
        if known is not None:
            if known.transaction_id == inbound.transaction_id:
                return Verdict("duplicate", f"request {request.request_id} was received already")
            return await self._invalid(inbound, request.request_id, "/request_id",
                                       f"request id {request.request_id} was used already, by message "
                                       f"{known.transaction_id}", log)
        for index, camera in enumerate(_cameras(request)):
            if self._camera(camera) is None:
                path = "/camera" if isinstance(request, (LiveViewRequest, PointCameraRequest)) else f"/cameras/{index}"
                return await self._invalid(inbound, request.request_id, path,
                                           f"camera {camera} is not one of the room's cameras", log)
        needs_consent = ((request_type == "live_view" and self._config.live_view == "consent")
                         or (request_type == "point_camera" and self._config.point_camera == "consent"))
        person_must_act = needs_consent or request_type in ("retain_footage", "monitor_location")
        payload = inbound.payload if isinstance(inbound.payload, dict) else encode_request(request)
        record = RequestRecord(
            link=self._link, request_id=request.request_id, request_type=request_type,
            version=int(payload.get("version", 1)), transaction_id=inbound.transaction_id,
            received_at=inbound.received_at, deadline=inbound.deadline,
            state=AWAITING_CONSENT if needs_consent else WORKING, needs_consent=needs_consent, payload=payload)
        event = self._events(
            ev.REQUEST_RECEIVED,
            ev.RequestReceived(
                request_id=request.request_id, request_type=request_type, version=record.version,
                reason=request.reason, requested_by=_officer(request.requested_by), needs_consent=needs_consent,
                details=payload, cameras=_cameras(request), deadline=iso(inbound.deadline),
                transaction_id=inbound.transaction_id),
            severity=Severity.MEDIUM if person_must_act else Severity.INFO,
            subject=self._subject(record), location=self._location(request),
            summary=self._received_summary(request, request_type, needs_consent),
        )
        try:
            await self._bus.publish(event, also=together(self._store.inbox_job(inbound, "ok"),
                                                         self._records.request_job(record)))
        except sqlite3.IntegrityError:
            # The same request id arrived in another message at the same moment, and that one was kept.
            known = self._records.request(request.request_id)
            if known is not None and known.transaction_id == inbound.transaction_id:
                return Verdict("duplicate", f"request {request.request_id} was received already")
            return await self._invalid(inbound, request.request_id, "/request_id",
                                       f"request id {request.request_id} was used already", log)
        log.info("request_received", needs_consent=needs_consent)
        if not needs_consent:
            self._spawn(self._carry_out(record, request, operator=None, command=None))
        return Verdict("ok")

    async def _invalid(self, inbound: Inbound, request_id: str, path: str | None, reason: str, log: Any) -> Verdict:
        log.warning("request_invalid", reason=reason)
        event = self._events(
            ev.REQUEST_INVALID,
            ev.RequestInvalid(transaction_id=inbound.transaction_id, reason=reason, path=path, request_id=request_id),
            severity=Severity.LOW, subject=Subject(kind="police_request", id=request_id),
            summary=f"Police request {request_id} refused: {reason}",
        )
        await self._bus.publish(event, also=together(self._store.inbox_job(inbound, "error")))
        return Verdict("error", reason)

    # --- carrying a request out ------------------------------------------------------------------------------

    async def _resume(self, record: RequestRecord) -> None:
        try:
            request = decode_request(record.payload)
        except MessageError as error:
            # Accepted once, unreadable now: a newer schema refuses what an older one took. Say so and close.
            await self._answer(record, "failed", f"the hub can no longer read this request ({error})",
                               state=CLOSED, answered_by=record.answered_by)
            return
        await self._carry_out(record, request, operator=record.answered_by, command=None)

    async def _carry_out(self, record: RequestRecord, request: Any, *, operator: str | None,
                         command: Event | None) -> _Answered:
        self._busy.add(record.request_id)
        try:
            if isinstance(request, LiveViewRequest):
                return await self._live_view(record, request, operator, command)
            if isinstance(request, PointCameraRequest):
                return await self._point_camera(record, request, operator, command)
            if isinstance(request, RetainFootageRequest):
                return await self._retain(record, request)
            return await self._monitor(record, request)
        finally:
            self._busy.discard(record.request_id)

    async def _ask(self, camera: str, verb: str, arguments: dict[str, Any], title: str,
                   command: Event | None) -> tuple[Any, str | None]:
        """Ask the camera's adapter; (the answer, None) when it delivered, else (answer or None, why not)."""
        asset = self._camera(camera)
        if asset is None or not asset.source:
            return None, f"camera {camera} is no longer known to the hub"
        adapter = asset.source
        answer = await self._requester.ask(
            adapter, adapter.split(".", 1)[0], verb, arguments, title=title,
            incident_id=command.incident_id if command is not None else None,
            causation_id=command.id if command is not None else None,
            timeout_s=self._config.command_timeout_s)
        if answer.outcome is None:
            return answer, f"camera {camera} did not answer within {self._config.command_timeout_s:g} s"
        if answer.kind is not CommandOutcomeKind.DELIVERED:
            detail = _payload_field(answer.outcome.payload, "detail") or "no reason given"
            return answer, f"camera {camera}: {detail}"
        return answer, None

    async def _live_view(self, record: RequestRecord, request: LiveViewRequest, operator: str | None,
                         command: Event | None) -> _Answered:
        answer, why_not = await self._ask(request.camera, "stream_uri", {"camera": request.camera},
                                          f"Share camera {request.camera} with the police", command)
        uri = None
        if why_not is None:
            for related in answer.related:
                if related.topic == "onvif.stream.shared":
                    uri = _payload_field(related.payload, "uri")
            if not uri:
                why_not = f"camera {request.camera}'s adapter gave no stream address"
        if why_not is not None:
            return await self._answer(record, "failed", f"live view not possible: {why_not}", state=CLOSED,
                                      answered_by=operator, command=command)
        minutes = min(request.minutes, self._config.live_view_max_minutes)
        expires = int(self._clock.seconds()) + minutes * 60
        key = self._config.stream_signing_key
        shared = sign_stream_uri(uri, expires, key.reveal()) if key is not None else uri
        released_by = operator or RELEASED_BY_HUB
        await self._disclose(Disclosure(
            id=None, at=self._clock.seconds(), link=self._link, recipient=self._config.force, what="live_view",
            item=request.camera, why=request.reason, request_id=request.request_id, crime_reference=None,
            released_by=released_by, expires_at=float(expires), sha256=None,
            detail={"uri": _without_signature(uri), "signed": key is not None, "minutes": minutes,
                    "requested_by": attrs.asdict(_officer(request.requested_by)),
                    "force_reference": request.force_reference}), record, command)
        capped = f" (capped from {request.minutes})" if minutes < request.minutes else ""
        detail = f"camera {request.camera} shared for {minutes} min{capped}, until {iso(expires)}"
        answered = await self._answer(
            record, "accepted", detail, state=ACTIVE, answered_by=operator, command=command,
            stream=StreamGrant(camera=request.camera, uri=shared, expires_at=utc_from_seconds(expires)),
            expires_at=float(expires))
        self._arm(attrs.evolve(record, state=ACTIVE, expires_at=float(expires)))
        return answered

    async def _point_camera(self, record: RequestRecord, request: PointCameraRequest, operator: str | None,
                            command: Event | None) -> _Answered:
        answer, why_not = await self._ask(request.camera, "goto_preset",
                                          {"camera": request.camera, "preset": request.preset},
                                          f"Point camera {request.camera} for the police", command)
        if why_not is not None:
            return await self._answer(record, "failed", f"camera not pointed: {why_not}", state=CLOSED,
                                      answered_by=operator, command=command)
        detail = _payload_field(answer.outcome.payload, "detail") or f"camera {request.camera} pointed at {request.preset}"
        return await self._answer(record, "accepted", detail, state=CLOSED, answered_by=operator, command=command)

    async def _retain(self, record: RequestRecord, request: RetainFootageRequest) -> _Answered:
        held = self._records.holds(request_id=request.request_id)
        if held:
            hold = held[0]  # made before a restart interrupted the answer: the same hold, not a second
        else:
            hold = await self._make_hold(record, request)
        detail = (f"hold H-{hold.id} made for crime reference {request.crime_reference}; footage of camera(s) "
                  f"{', '.join(request.cameras)} from {hold.start} to {hold.end} to be exported")
        return await self._answer(record, "accepted", detail, state=ACTIVE, answered_by=None,
                                  hold=self._hold_json(hold))

    async def _make_hold(self, record: RequestRecord, request: RetainFootageRequest) -> HoldRecord:
        start, end = format_time(request.start), format_time(request.end)
        retain_until = format_time(request.retain_until) if request.retain_until is not None else None

        def build(hold_id: int) -> tuple[HoldRecord, Event]:
            hold = HoldRecord(id=hold_id, link=self._link, request_id=request.request_id,
                              crime_reference=request.crime_reference, cameras=tuple(request.cameras), start=start,
                              end=end, retain_until=retain_until, created_at=self._clock.seconds())
            event = self._events(
                ev.HOLD_CREATED,
                ev.HoldCreated(hold_id=hold_id, request_id=request.request_id, crime_reference=request.crime_reference,
                               cameras=tuple(request.cameras), start=start, end=end, retain_until=retain_until),
                severity=Severity.MEDIUM, subject=self._subject(record),
                summary=(f"Export footage for the police: camera(s) {', '.join(request.cameras)} from {start} to "
                         f"{end}, crime reference {request.crime_reference} (hold H-{hold_id})"),
            )
            return hold, event

        for _attempt in range(_ID_ATTEMPTS):
            hold, event = build(self._records.next_hold_id())
            try:
                await self._bus.publish(event, also=together(self._records.hold_job(hold)))
                return hold
            except sqlite3.IntegrityError:
                continue  # another link of this hub took the id meanwhile
        raise RuntimeError("no free hold id after several attempts")

    async def _monitor(self, record: RequestRecord, request: MonitorLocationRequest) -> _Answered:
        until = request.until.timestamp()
        payload = ev.MonitoringChanged(request_id=request.request_id, place=request.location.name,
                                       until=format_time(request.until), cameras=tuple(request.cameras))
        await self._bus.publish(self._events(
            ev.MONITOR_STARTED, payload, severity=Severity.LOW, subject=self._subject(record),
            location=self._location(request),
            summary=(f"Watch {request.location.name} for the police until {format_time(request.until)}: "
                     f"{request.reason}")))
        answered = await self._answer(
            record, "accepted", f"the room watches {request.location.name} until {format_time(request.until)}",
            state=ACTIVE, answered_by=None, expires_at=until)
        self._arm(attrs.evolve(record, state=ACTIVE, expires_at=until))
        return answered

    # --- timers ------------------------------------------------------------------------------------------

    def _arm(self, record: RequestRecord) -> None:
        if not self._started or record.expires_at is None:
            return
        previous = self._timers.pop(record.request_id, None)
        if previous is not None and previous.active():
            previous.cancel()
        delay = max(0.0, record.expires_at - self._clock.seconds())
        self._timers[record.request_id] = self._clock.callLater(delay, self._timer_fired, record.request_id)

    def _timer_fired(self, request_id: str) -> None:
        self._timers.pop(request_id, None)
        self._spawn(self._ended(request_id))

    async def _ended(self, request_id: str) -> None:
        record = self._records.request(request_id)
        if record is None or record.state != ACTIVE:
            return
        log = self._log.bind(request_id=request_id, request_type=record.request_type)
        if record.request_type == "live_view":
            camera = str(record.payload.get("camera"))
            await self._bus.publish(self._events(
                ev.LIVE_VIEW_EXPIRED,
                ev.LiveViewExpired(request_id=request_id, camera=camera, expired_at=iso(record.expires_at) or ""),
                severity=Severity.INFO, subject=self._subject(record), location=Location(camera=camera),
                summary=f"The police's live view of camera {camera} has expired"),
                also=together(self._records.request_state_job(request_id, CLOSED)))
            log.info("live_view_expired")
            return
        request = decode_request(record.payload)
        await self._bus.publish(self._events(
            ev.MONITOR_ENDED,
            ev.MonitoringChanged(request_id=request_id, place=request.location.name,
                                 until=format_time(request.until), cameras=tuple(request.cameras)),
            severity=Severity.INFO, subject=self._subject(record), location=self._location(request),
            summary=f"Watching {request.location.name} for the police has ended"))
        await self._answer(record, "done", f"the room's watch of {request.location.name} ended at "
                                           f"{format_time(request.until)}", state=CLOSED, answered_by=None)
        log.info("monitoring_ended")

    # --- operators' commands ------------------------------------------------------------------------------

    async def command(self, command: Event) -> tuple[CommandOutcomeKind, str]:
        """``approve_request``, ``refuse_request`` or ``complete_retention``: how it ended, for the outcome."""
        request: CommandRequested = command.payload
        arguments = request.arguments
        operator = request.requested_by
        request_id = arguments.get("request_id")
        if not isinstance(request_id, str) or not request_id:
            return CommandOutcomeKind.REFUSED, f"{request.verb} needs the request's id (request_id)"
        record = self._records.request(request_id)
        if record is None:
            return CommandOutcomeKind.REFUSED, f"there is no police request {request_id}"
        if request_id in self._busy:
            return CommandOutcomeKind.REFUSED, f"request {request_id} is being handled already; try again shortly"
        log = self._log.bind(request_id=request_id, verb=request.verb, requested_by=operator)
        self._busy.add(request_id)
        try:
            if request.verb in ("approve_request", "refuse_request"):
                return await self._decide(record, command, operator, log)
            if request.verb == "complete_retention":
                return await self._complete_retention(record, command, operator, log)
            return CommandOutcomeKind.REFUSED, f"the police link has no command {request.verb!r}"
        finally:
            self._busy.discard(request_id)

    async def _decide(self, record: RequestRecord, command: Event, operator: str,
                      log: Any) -> tuple[CommandOutcomeKind, str]:
        verb = command.payload.verb
        if record.state != AWAITING_CONSENT:
            return CommandOutcomeKind.REFUSED, (f"request {record.request_id} is not waiting for consent "
                                                f"(it is {record.state.replace('_', ' ')})")
        now = self._clock.seconds()
        if record.deadline is not None and now > record.deadline:
            too_late = f"too late: the force's deadline passed at {iso(record.deadline)}"
            await self._answer(record, "stale", too_late, state=CLOSED, answered_by=operator, command=command)
            log.info("request_decided_too_late")
            return CommandOutcomeKind.FAILED, f"{too_late}; the force is told the request lapsed"
        if verb == "refuse_request":
            reason = str(command.payload.arguments.get("reason") or "refused by the control room")
            await self._answer(record, "refused", reason, state=CLOSED, answered_by=operator, command=command)
            log.info("request_refused")
            return CommandOutcomeKind.DELIVERED, f"refused; the force is told: {reason}"
        # The approval is kept before the work starts: a restart half-way carries it out, as approved.
        approved = self._records.request_state_job(record.request_id, WORKING, answered_by=operator)
        await self._records.apply(approved)
        log.info("request_approved")
        record = attrs.evolve(record, state=WORKING, answered_by=operator)
        answered = await self._carry_out(record, decode_request(record.payload), operator=operator, command=command)
        kind = CommandOutcomeKind.DELIVERED if answered.outcome in ("accepted", "done") else CommandOutcomeKind.FAILED
        return kind, answered.detail

    async def _complete_retention(self, record: RequestRecord, command: Event, operator: str,
                                  log: Any) -> tuple[CommandOutcomeKind, str]:
        arguments = command.payload.arguments
        if record.request_type != "retain_footage":
            return CommandOutcomeKind.REFUSED, f"request {record.request_id} is not a footage retention"
        export_reference = str(arguments.get("export_reference") or "").strip()
        if not export_reference:
            return CommandOutcomeKind.REFUSED, "complete_retention needs the export's reference (export_reference)"
        try:
            files = parse_manifest(str(arguments.get("manifest") or ""))
        except ManifestError as error:
            return CommandOutcomeKind.REFUSED, str(error)
        holds = self._records.holds(request_id=record.request_id)
        if record.state != ACTIVE or not holds:
            return CommandOutcomeKind.REFUSED, (f"request {record.request_id} has no footage on hold to complete "
                                                f"(it is {record.state.replace('_', ' ')})")
        hold = holds[0]
        if hold.state != HOLD_OPEN and hold.export_reference != export_reference:
            return CommandOutcomeKind.REFUSED, (f"hold H-{hold.id} was completed already, with export "
                                                f"{hold.export_reference}")
        now = self._clock.seconds()
        if hold.state == HOLD_OPEN:
            await self._bus.publish(self._events(
                ev.HOLD_COMPLETED,
                ev.HoldCompleted(hold_id=hold.id, request_id=record.request_id, crime_reference=hold.crime_reference,
                                 export_reference=export_reference, completed_by=operator, manifest=files),
                severity=Severity.INFO, subject=self._subject(record),
                summary=(f"Footage for crime reference {hold.crime_reference} exported as {export_reference} "
                         f"({len(files)} file(s)) by {operator}"),
                incident_id=command.incident_id, causation_id=command.id),
                also=together(self._records.hold_done_job(hold.id, at=now, completed_by=operator,
                                                          export_reference=export_reference, manifest=files)))
        else:
            files = hold.manifest  # completed before a restart interrupted the rest: go on with what was kept
        # An interrupted completion may have written its disclosure already: one release, one row.
        released = any(d.what == "footage" and d.item == export_reference
                       for d in self._records.disclosures(request_id=record.request_id, link=self._link))
        digest = hashlib.sha256(manifest_text(files).encode()).hexdigest() if files else None
        if not released:
            await self._disclose(Disclosure(
                id=None, at=now, link=self._link, recipient=self._config.force, what="footage",
                item=export_reference, why=str(record.payload.get("reason", "")), request_id=record.request_id,
                crime_reference=hold.crime_reference, released_by=operator, expires_at=None, sha256=digest,
                detail={"hold_id": hold.id, "cameras": list(hold.cameras), "start": hold.start, "end": hold.end,
                        "files": list(files)}), record, command)
        detail = (f"footage for crime reference {hold.crime_reference} exported as {export_reference}: "
                  f"{len(files)} file(s)" + (f", manifest SHA-256 {digest}" if digest else ", no manifest given"))
        await self._answer(record, "done", detail, state=CLOSED, answered_by=operator, command=command,
                           hold=self._hold_json(attrs.evolve(hold, export_reference=export_reference)),
                           manifest=tuple(files))
        log.info("retention_completed", export_reference=export_reference, files=len(files))
        return CommandOutcomeKind.DELIVERED, detail

    # --- acknowledgements and the snapshot -------------------------------------------------------------

    def acknowledged(self, acks: Sequence[Any]) -> None:
        """The force's link-level answers to request answers: those it refused are reported."""
        for ack in acks:
            try:
                request_id = json.loads(ack.message.body).get("request_id")
            except (ValueError, AttributeError):
                request_id = None
            log = self._log.bind(transaction_id=ack.message.transaction_id, request_id=request_id)
            if ack.status not in ("error", "stale"):
                log.info("answer_delivered", status=ack.status)
                continue
            log.warning("answer_refused", status=ack.status, reason=ack.reason)
            said = f": {ack.reason}" if ack.reason else ""
            event = self._events(
                ev.MESSAGE_REFUSED,
                ev.MessageRefused(transaction_id=ack.message.transaction_id, link_seq=ack.message.link_seq,
                                  status=ack.status, what="answer", reason=ack.reason,
                                  request_id=request_id if isinstance(request_id, str) else None),
                severity=Severity.MEDIUM,
                subject=Subject(kind="police_request", id=str(request_id or ack.message.transaction_id)),
                summary=(f"The force refused the answer to request {request_id} ({ack.status}{said}); "
                         "phone them if it matters"))
            self._spawn(self._bus.publish(event))

    def snapshot_items(self) -> list[dict[str, Any]]:
        """The requests not finished, as the link's snapshot lists them."""
        return [{"request_id": record.request_id, "request_type": record.request_type, "state": record.state}
                for record in self._records.open_requests()]

    def known_requests(self) -> set[str]:
        """Every request id this link has received, finished or not."""
        return self._records.request_ids()

    # --- helpers ------------------------------------------------------------------------------------------

    async def _answer(self, record: RequestRecord, outcome: str, detail: str, *, state: str,
                      answered_by: str | None, command: Event | None = None, stream: StreamGrant | None = None,
                      hold: dict[str, Any] | None = None, manifest: tuple[dict[str, Any], ...] = (),
                      expires_at: float | None = None) -> _Answered:
        detail = _detail(detail)
        answer = RequestAnswer(request_id=record.request_id, request_type=record.request_type, outcome=outcome,
                               detail=detail, stream=stream, hold=hold, manifest=manifest)
        body = json.dumps(encode_request_answer(answer), ensure_ascii=False, separators=(",", ":"))
        transaction_id = "answer-" + hashlib.sha256(
            f"{self._link}\n{record.request_id}\n{outcome}".encode()).hexdigest()[:32]
        event = self._events(
            ev.REQUEST_ANSWERED,
            ev.RequestAnswered(request_id=record.request_id, request_type=record.request_type, outcome=outcome,
                               detail=detail, answered_by=answered_by, transaction_id=transaction_id,
                               expires_at=iso(expires_at)),
            severity=Severity.LOW if outcome in ("refused", "failed") else Severity.INFO,
            subject=self._subject(record),
            summary=f"Police request {record.request_id} answered {outcome}: {detail}",
            incident_id=command.incident_id if command is not None else None,
            causation_id=command.id if command is not None else None,
        )
        changes: dict[str, Any] = {"at": self._clock.seconds(), "outcome": outcome, "detail": detail,
                                   "answered_by": answered_by}
        if expires_at is not None:
            changes["expires_at"] = expires_at
        await self._sender.send(REQUEST_ANSWER, body, event=event, transaction_id=transaction_id,
                                also=(self._records.request_state_job(record.request_id, state, **changes),))
        self._log.info("request_answered", request_id=record.request_id, outcome=outcome, state=state)
        return _Answered(outcome, detail)

    async def _disclose(self, disclosure: Disclosure, record: RequestRecord, command: Event | None) -> int:
        """Write a disclosure row with its ``police.disclosure.recorded`` event, in one transaction."""
        for _attempt in range(_ID_ATTEMPTS):
            chosen = attrs.evolve(disclosure, id=self._records.next_disclosure_id())
            event = self._events(
                ev.DISCLOSURE_RECORDED,
                ev.DisclosureRecorded(
                    disclosure_id=chosen.id, what=chosen.what, item=chosen.item, recipient=chosen.recipient,
                    why=chosen.why, released_by=chosen.released_by, request_id=chosen.request_id,
                    crime_reference=chosen.crime_reference, expires_at=iso(chosen.expires_at), sha256=chosen.sha256),
                severity=Severity.INFO, subject=self._subject(record),
                summary=(f"Released to {chosen.recipient}: {chosen.what.replace('_', ' ')} {chosen.item}, "
                         f"by {chosen.released_by} (disclosure {chosen.id})"),
                incident_id=command.incident_id if command is not None else None,
                causation_id=command.id if command is not None else None,
            )
            try:
                await self._bus.publish(event, also=together(self._records.disclosure_job(chosen)))
            except sqlite3.IntegrityError:
                continue  # another link of this hub took the id meanwhile
            return chosen.id  # type: ignore[return-value]
        raise RuntimeError("no free disclosure id after several attempts")

    def _hold_json(self, hold: HoldRecord) -> dict[str, Any]:
        data = {"hold_id": hold.id, "crime_reference": hold.crime_reference, "cameras": list(hold.cameras),
                "start": hold.start, "end": hold.end, "retain_until": hold.retain_until,
                "export_reference": hold.export_reference}
        return {name: value for name, value in data.items() if value is not None}

    def _camera(self, number: str) -> Any:
        return self._directory.get("camera", number) if self._directory is not None else None

    def _subject(self, record: RequestRecord) -> Subject:
        return Subject(kind="police_request", id=record.request_id,
                       name=f"{record.request_type.replace('_', ' ')} for {self._config.force}")

    def _location(self, request: Any) -> Location | None:
        if isinstance(request, (LiveViewRequest, PointCameraRequest)):
            return Location(camera=request.camera)
        if isinstance(request, MonitorLocationRequest):
            place = request.location
            return Location(name=place.name, latitude=place.latitude, longitude=place.longitude, uprn=place.uprn,
                            camera=request.cameras[0] if request.cameras else None)
        return None

    def _received_summary(self, request: Any, request_type: str, needs_consent: bool) -> str:
        who = _who(request.requested_by)
        if isinstance(request, LiveViewRequest):
            asked = f"to view camera {request.camera} live for {request.minutes} min"
        elif isinstance(request, PointCameraRequest):
            asked = f"to point camera {request.camera} at preset {request.preset}"
        elif isinstance(request, RetainFootageRequest):
            asked = (f"to keep footage of camera(s) {', '.join(request.cameras)} for crime reference "
                     f"{request.crime_reference}")
        else:
            asked = f"to watch {request.location.name} until {format_time(request.until)}"
        then = "; approve or refuse" if needs_consent else ""
        return f"Police request from {who} {asked}: {request.reason}{then}"

    def _spawn(self, work: Awaitable[Any] | Deferred[Any]) -> None:
        running = work if isinstance(work, Deferred) else Deferred.fromCoroutine(work)  # type: ignore[arg-type]
        self._running.add(running)

        def finished(result: Any) -> Any:
            self._running.discard(running)
            return result

        def failed(failure: Any) -> None:
            if not failure.check(CancelledError):
                self._log.error("request_work_failed", error=failure.getErrorMessage(),
                                exception=failure.getTraceback())

        running.addBoth(finished)
        running.addErrback(failed)
