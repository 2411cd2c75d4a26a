"""What the police link reports, as event payloads, and the topics they are published under.

Partners and auditors read these from the journal as JSON: add fields with defaults, never rename or remove
one. Three subjects recur:

- the link itself: subject ``partner_link`` with the adapter instance's name (``police_link.force``), for
  ``police.link.*``;
- an incident shared with the force: the incident's own id is the envelope's ``incident_id``, so every
  ``police.alert.*`` event lands on that incident's timeline;
- a request from the force: subject ``police_request`` with the request id, so the incident a request opens
  gathers everything that follows from it (answers, holds, disclosures, the end of a monitoring period).

Times in payloads are ISO 8601 text with a UTC offset (what the force sent, or the hub clock's).
"""

from __future__ import annotations

from typing import Any, ClassVar

from attrs import field, frozen

# --- topics ---------------------------------------------------------------------------------------------

LINK_CONNECTED = "police.link.connected"
LINK_LOST = "police.link.lost"
LINK_FAULT = "police.link.fault"
LINK_RESTORED = "police.link.restored"
LINK_GAP = "police.link.gap"
LINK_FRAME_REFUSED = "police.link.frame_refused"
LINK_SNAPSHOT = "police.link.snapshot"

ALERT_QUEUED = "police.alert.queued"
ALERT_DELIVERED = "police.alert.delivered"
ALERT_ACCEPTED = "police.alert.accepted"
ALERT_REJECTED = "police.alert.rejected"
ALERT_UNANSWERED = "police.alert.unanswered"
MESSAGE_REFUSED = "police.message.refused"

REQUEST_RECEIVED = "police.request.received"
REQUEST_ANSWERED = "police.request.answered"
REQUEST_STALE = "police.request.stale"
REQUEST_INVALID = "police.request.invalid"
DISCLOSURE_RECORDED = "police.disclosure.recorded"
HOLD_CREATED = "police.hold.created"
HOLD_COMPLETED = "police.hold.completed"
MONITOR_STARTED = "police.monitor.started"
MONITOR_ENDED = "police.monitor.ended"
LIVE_VIEW_EXPIRED = "police.live_view.expired"

# --- the link -------------------------------------------------------------------------------------------


@frozen
class LinkConnected:
    """The link is up (``police.link.connected``): TLS and the WebSocket are open and both ends have said
    where they stand (``resume``). ``peer`` is host:port, ``fingerprint`` the SHA-256 of the force's
    certificate; ``backlog`` the messages still to send and ``resend_from`` the first link sequence number
    resent (None when nothing was waiting). Severity info."""

    TYPE: ClassVar[str] = "police.link.connected"

    peer: str
    fingerprint: str | None
    backlog: int
    peer_last_seq_received: int
    resend_from: int | None = None


@frozen
class LinkLost:
    """The connection ended or could not be made (``police.link.lost``): ``reason`` says why for a person
    (a refused certificate names which side refused it); ``backlog`` is what waits to be sent. Messages wait
    in the journal and go when the link is back; the hub reconnects with back-off. A line fault is reported
    separately, once the silence passes ``line_fault_after_s``. Severity low."""

    TYPE: ClassVar[str] = "police.link.lost"

    reason: str
    backlog: int


@frozen
class LineFault:
    """Nothing heard from the force for ``silent_for_s`` (``police.link.fault``): the line is declared at
    fault and the operator should phone the force control room. ``backlog`` counts what waits; ``last_heard``
    when anything last came (None: never since the hub started). Severity high."""

    TYPE: ClassVar[str] = "police.link.fault"

    silent_for_s: float
    backlog: int
    last_heard: str | None = None


@frozen
class LinkRestored:
    """The line is heard again after a fault (``police.link.restored``). Severity info."""

    TYPE: ClassVar[str] = "police.link.restored"

    fault_lasted_s: float
    backlog: int


@frozen
class SequenceGap:
    """The force's messages skipped link sequence numbers (``police.link.gap``): ``expected`` came next but
    ``received`` arrived. The message received is processed; the ones between were lost on the force's side
    and someone should ask them. Severity medium."""

    TYPE: ClassVar[str] = "police.link.gap"

    expected: int
    received: int


@frozen
class FrameRefused:
    """A frame from the force could not be read (``police.link.frame_refused``): ``code`` is ``malformed``,
    ``unknown_type``, ``oversized`` or ``invalid``; the force was answered with an error and the link stays
    up. Rate-limited: ``count`` frames refused since the last such event. Severity low."""

    TYPE: ClassVar[str] = "police.link.frame_refused"

    code: str
    reason: str
    count: int = 1


@frozen
class SnapshotCompared:
    """The force's snapshot after a resume, compared with the hub's records (``police.link.snapshot``).

    ``unknown_requests``: requests the force holds open that the hub never received; ``answered_requests``:
    ones the force still holds open that the hub has answered; ``missing_incidents``: incidents the hub shared
    that the force does not hold open. All empty: both ends agree. Severity info, medium when they differ."""

    TYPE: ClassVar[str] = "police.link.snapshot"

    force_incidents: int
    force_requests: int
    unknown_requests: tuple[str, ...] = ()
    answered_requests: tuple[str, ...] = ()
    missing_incidents: tuple[str, ...] = ()


# --- alerts to the force ---------------------------------------------------------------------------------


@frozen
class AlertQueued:
    """A CAP message about an incident was journaled to go to the force (``police.alert.queued``).

    ``identifier`` is the CAP identifier, ``msg_type`` Alert, Update or Cancel, ``references`` the CAP
    identifiers it supersedes; ``transaction_id`` and ``link_seq`` its place on the link; ``automatic`` true
    when configuration sent it, false when ``requested_by`` pressed "send to police"; ``reason`` why it was
    sent (the rule, the operator's note, the change that made the update); ``evidence`` the SHA-256 of every
    still it carries. Severity info."""

    TYPE: ClassVar[str] = "police.alert.queued"

    identifier: str
    msg_type: str
    transaction_id: str
    link_seq: int
    automatic: bool
    reason: str
    references: tuple[str, ...] = ()
    requested_by: str | None = None
    evidence: tuple[str, ...] = ()


@frozen
class AlertDelivered:
    """The force's end acknowledged a CAP message (``police.alert.delivered``): it is in their system. A
    business answer (accepted or rejected) follows for an Alert. Severity info."""

    TYPE: ClassVar[str] = "police.alert.delivered"

    identifier: str
    msg_type: str
    transaction_id: str
    link_seq: int
    waited_s: float


@frozen
class AlertAnswered:
    """The force accepted or rejected an incident (``police.alert.accepted`` / ``police.alert.rejected``).

    ``reason`` is theirs (always given with a rejection), ``force_reference`` their own log number, and
    ``answered_by`` who answered. Severity info when accepted, medium when rejected."""

    TYPE: ClassVar[str] = "police.alert.answered"

    identifier: str
    answer: str
    reason: str | None = None
    force_reference: str | None = None
    answered_by: str | None = None
    waited_s: float | None = None


@frozen
class AlertUnanswered:
    """The force has not accepted or rejected an alert within ``answer_timeout_s`` (``police.alert.unanswered``):
    phone them. ``delivered`` says whether their end at least acknowledged it. Severity high."""

    TYPE: ClassVar[str] = "police.alert.unanswered"

    identifier: str
    waited_s: float
    delivered: bool


@frozen
class MessageRefused:
    """The force's end refused a message at link level (``police.message.refused``): ``status`` is ``error``
    (it will never take it; ``reason`` says why) or ``stale`` (it arrived after its deadline). It is not
    resent. ``what`` is ``alert`` or ``answer``. Severity medium."""

    TYPE: ClassVar[str] = "police.message.refused"

    transaction_id: str
    link_seq: int
    status: str
    what: str
    reason: str | None = None
    identifier: str | None = None
    request_id: str | None = None


# --- requests from the force -------------------------------------------------------------------------------


@frozen
class Officer:
    """Who at the force asked: name, force, and collar number and role where given."""

    name: str
    force: str
    collar_number: str | None = None
    role: str | None = None


@frozen
class RequestReceived:
    """The force asked something of the room (``police.request.received``).

    ``request_type`` is ``live_view``, ``retain_footage``, ``point_camera`` or ``monitor_location``;
    ``details`` the request's own fields as the force sent them (its versioned JSON schema); ``needs_consent``
    true when an operator must agree (the request opens an incident with "approve" and "refuse" on it);
    ``deadline`` when the force stops caring. Severity medium when a person must act, else info."""

    TYPE: ClassVar[str] = "police.request.received"

    request_id: str
    request_type: str
    version: int
    reason: str
    requested_by: Officer
    needs_consent: bool
    details: dict[str, Any] = field(factory=dict)
    cameras: tuple[str, ...] = ()
    deadline: str | None = None
    transaction_id: str | None = None


@frozen
class RequestAnswered:
    """The room answered a request (``police.request.answered``): ``outcome`` is ``accepted`` (done or being
    done), ``done`` (a task finished), ``refused`` (with why), ``stale`` (asked or agreed too late) or
    ``failed`` (tried, could not: a camera did not answer). ``detail`` says what for a person; ``answered_by``
    the operator, or None when the hub answered by itself. Severity info, low when refused or failed."""

    TYPE: ClassVar[str] = "police.request.answered"

    request_id: str
    request_type: str
    outcome: str
    detail: str
    answered_by: str | None = None
    transaction_id: str | None = None
    expires_at: str | None = None


@frozen
class RequestStale:
    """A request arrived after its deadline (``police.request.stale``) and was answered so, not carried out.
    Severity low."""

    TYPE: ClassVar[str] = "police.request.stale"

    request_id: str | None
    transaction_id: str
    deadline: str
    received_at: str


@frozen
class RequestInvalid:
    """A request the hub could not accept as sent (``police.request.invalid``): unknown type or version, a
    field wrong for its schema (``path`` is a JSON pointer), or a camera the room does not have. The force
    got an error answer saying the same. Severity low."""

    TYPE: ClassVar[str] = "police.request.invalid"

    transaction_id: str
    reason: str
    path: str | None = None
    request_id: str | None = None


@frozen
class DisclosureRecorded:
    """Something was released to the force (``police.disclosure.recorded``), and the disclosure log has a
    row for it: ``what`` (``live_view``, ``footage``, ``still``), ``item`` (camera number, evidence hash,
    export reference), ``recipient``, ``why``, under which ``request_id`` and ``crime_reference``, released
    by whom, until when (``expires_at`` for a live view). ``disclosure_id`` is the log's row. Severity info."""

    TYPE: ClassVar[str] = "police.disclosure.recorded"

    disclosure_id: int
    what: str
    item: str
    recipient: str
    why: str
    released_by: str
    request_id: str | None = None
    crime_reference: str | None = None
    expires_at: str | None = None
    sha256: str | None = None


@frozen
class HoldCreated:
    """Footage is on hold for a crime reference (``police.hold.created``): a retention task for an operator
    to export ``cameras`` from ``start`` to ``end`` before the recorder overwrites it; ``hold_id`` is the hold
    record. Severity medium (a person must act before the recorder's retention runs out)."""

    TYPE: ClassVar[str] = "police.hold.created"

    hold_id: int
    request_id: str
    crime_reference: str
    cameras: tuple[str, ...]
    start: str
    end: str
    retain_until: str | None = None


@frozen
class HoldCompleted:
    """The footage on hold was exported (``police.hold.completed``): ``export_reference`` names the export,
    ``manifest`` lists each file with its SHA-256 as the operator gave it. Severity info."""

    TYPE: ClassVar[str] = "police.hold.completed"

    hold_id: int
    request_id: str
    crime_reference: str
    export_reference: str
    completed_by: str
    manifest: tuple[dict[str, Any], ...] = ()


@frozen
class MonitoringChanged:
    """The room watches a place for the force until ``until`` (``police.monitor.started``), or the period
    is over (``police.monitor.ended``). Severity low when it starts, info when it ends."""

    TYPE: ClassVar[str] = "police.monitor.changed"

    request_id: str
    place: str
    until: str
    cameras: tuple[str, ...] = ()


@frozen
class LiveViewExpired:
    """A stream address shared with the force has passed its expiry (``police.live_view.expired``).
    Severity info."""

    TYPE: ClassVar[str] = "police.live_view.expired"

    request_id: str
    camera: str
    expired_at: str


EVENT_TYPES: tuple[type, ...] = (
    LinkConnected, LinkLost, LineFault, LinkRestored, SequenceGap, FrameRefused, SnapshotCompared,
    AlertQueued, AlertDelivered, AlertAnswered, AlertUnanswered, MessageRefused,
    RequestReceived, RequestAnswered, RequestStale, RequestInvalid, DisclosureRecorded, HoldCreated,
    HoldCompleted, MonitoringChanged, LiveViewExpired,
)
