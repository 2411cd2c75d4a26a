"""One simulated ONVIF camera, sans-IO: a request's path, headers and body in, an outcome out.

``SimulatedCamera`` holds what a camera holds (its clock, pull points, property states, PTZ position,
presets) and answers Device, Media, Media2, PTZ and Events operations, with each of the misbehaviours of
real cameras switchable in ``CameraQuirks``. It never touches a socket: ``sim_server`` puts it on HTTP. Its
clock is the injected reactor's ``seconds()`` plus the camera's own offset (skew, or a reset after a reboot).

Outcomes: a ``Reply`` to write; a ``LongPoll`` (PullMessages with nothing queued) that the server holds
until ``answer_poll`` is due (a message came, or the timeout passed); ``HANGUP`` (close the connection).
"""

from __future__ import annotations

import os
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal, Protocol

import attrs
import structlog
from attrs import define, field, frozen
from lxml import etree

from hub.config import Expected, between
from hub.secrets import Secret
from plugins.onvif import sim_replies as replies
from plugins.onvif.codec.namespaces import SOAP_ENV, TDS, TEV, TPTZ, TR2, TRT, WSNT
from plugins.onvif.codec.xml import XmlRejected, local_name, parse_untrusted
from plugins.onvif.sim_auth import DigestGate, UsernameTokenCheck
from plugins.onvif.sim_replies import SOAP_CONTENT_TYPE, envelope

Media = Literal["media1", "media2"]

#: A pull point's life when the client names none (the ONVIF default is a minute).
DEFAULT_TERMINATION_S = 60.0
#: What a camera that ignores relative times gives instead: its own short default.
IGNORED_RELATIVE_TERMINATION_S = 10.0
MAX_TERMINATION_S = 24 * 3600.0
#: The longest PullMessages wait a camera grants; ONVIF asks for at least a minute.
MAX_POLL_S = 600.0
DEFAULT_PTZ_TIMEOUT_S = 10.0
#: Notifications a pull point keeps for a client that does not pull; older ones are lost, as on a camera.
QUEUE_LIMIT = 256
MAX_REQUEST_BYTES = 256 * 1024
#: Normalised PTZ units moved per second at full speed.
PTZ_UNITS_PER_S = 0.5

SERVICE_PATHS = {
    "device": "/onvif/device_service",
    "media1": "/onvif/media_service",
    "media2": "/onvif/media2_service",
    "ptz": "/onvif/ptz_service",
    "events": "/onvif/events_service",
}
SUBSCRIPTION_PREFIX = "/onvif/subscription/"
_ID_MARK = "#SubscriptionId="
SNAPSHOT_PREFIX = "/snapshot/"

PROFILES = (("Profile_1", "MainStream", 1920, 1080), ("Profile_2", "SubStream", 640, 360))
PRESET_NAMES = ("Market Square", "High Street", "Car Park", "Bus Station")

#: The data item that carries a property topic's state; ``State`` for the rest.
STATE_ITEMS = {
    "tns1:RuleEngine/CellMotionDetector/Motion": "IsMotion",
    "tns1:RuleEngine/FieldDetector/ObjectsInside": "IsInside",
    "tns1:Device/Trigger/DigitalInput": "LogicalState",
    "tns1:Device/Trigger/Relay": "LogicalState",
}
#: What the camera says it has (GetEventProperties).
TOPICS = (
    "tns1:VideoSource/MotionAlarm",
    "tns1:RuleEngine/CellMotionDetector/Motion",
    "tns1:VideoSource/ImageTooBlurry/AnalyticsService",
    "tns1:VideoSource/ImageTooDark/AnalyticsService",
    "tns1:VideoSource/GlobalSceneChange/AnalyticsService",
    "tns1:VideoSource/SignalLoss",
    "tns1:Device/Trigger/DigitalInput",
    "tns1:Device/Trigger/Relay",
    "tns1:RuleEngine/LineDetector/Crossed",
    "tns1:RuleEngine/FieldDetector/ObjectsInside",
    "tns1:Device/HardwareFailure/StorageFailure",
    "tns1:PTZController/PTZPresets/Reached",
)

Items = Mapping[str, str] | Iterable[tuple[str, str]]
Pairs = tuple[tuple[str, str], ...]


def default_source(topic: str) -> tuple[tuple[str, str], ...]:
    """The Source items a camera puts on ``topic`` when the caller names none."""
    if topic.startswith("tns1:VideoSource/"):
        return (("Source", "VideoSource_1"),)
    if topic.startswith("tns1:RuleEngine/"):
        return (("VideoSourceConfigurationToken", "VideoSourceConfig_1"),
                ("VideoAnalyticsConfigurationToken", "VideoAnalyticsConfig_1"), ("Rule", "Rule_1"))
    if topic == "tns1:Device/Trigger/DigitalInput":
        return (("InputToken", "DigitalInput_1"),)
    if topic == "tns1:Device/Trigger/Relay":
        return (("RelayToken", "Relay_1"),)
    if topic.startswith("tns1:PTZController/"):
        return (("PTZConfigurationToken", "PTZ_1"),)
    return ()


def _operation_names(instance: Any, _attribute: object, value: tuple[str, ...]) -> None:
    if any(not name.isidentifier() for name in value):
        raise Expected('operation names such as "GetProfiles" or "PullMessages"')


@frozen(kw_only=True)
class CameraQuirks:
    """How one simulated camera is built and how it misbehaves; every misbehaviour is off by default.

    Build: ``auth`` is which proof it wants (``ws_security`` UsernameToken, ``http_digest``, ``both``, or
    ``either``), checked against a clock window of ``auth_window_s``; ``media`` which media services it has;
    ``ptz`` whether it moves; ``max_pull_points`` how many pull points it can hold at once.

    Misbehaviours, as the protocol notes number them: (1) ``clock_skew_s``, ``clock_resets_on_reboot``,
    ``time_needs_auth``; (2) ``relative_termination`` (honour, ignore, reject), ``absolute_termination_needs_z``,
    ``missing_termination_is_500``; (3) ``leaked_pull_points`` held until ``leaked_for_s`` after start-up,
    ``unsubscribe_drops_all``, ``subscription_id_header`` (every pull point at the event service's address,
    told apart by a SubscriptionId reference parameter the client must send back as a header); (4) ``doubled_port``, ``reported_host``/``reported_port`` (what it says its
    address is), ``new_pull_point_address``; (5) ``malformed_times`` in notifications; (6) ``close_idle_polls``;
    (7) ``pull_point_answers_401``, ``unparseable`` (operations answered with broken XML); (8) ``stuck_events``
    (a clearing event is never sent); (9) ``snapshot_uri_missing``, ``presets_change_on_reboot``,
    ``goto_preset_rejects_speed``, ``stop_ignored`` (only a zero-velocity ContinuousMove stops it).
    """

    auth: Literal["ws_security", "http_digest", "both", "either"] = "ws_security"
    digest_algorithm: Literal["MD5", "SHA-256"] = "MD5"
    auth_window_s: float = field(default=10.0, validator=between(0, 86400))
    media: Literal["both", "media1", "media2"] = "both"
    ptz: bool = True
    max_pull_points: int = field(default=2, validator=between(1, 64))

    clock_skew_s: float = field(default=0.0, validator=between(-1e10, 1e10))
    clock_resets_on_reboot: bool = False
    time_needs_auth: bool = False
    relative_termination: Literal["honour", "ignore", "reject"] = "honour"
    absolute_termination_needs_z: bool = False
    missing_termination_is_500: bool = False
    leaked_pull_points: int = field(default=0, validator=between(0, 64))
    leaked_for_s: float = field(default=60.0, validator=between(0, 86400))
    unsubscribe_drops_all: bool = False
    subscription_id_header: bool = False
    doubled_port: bool = False
    reported_host: str | None = None
    reported_port: int | None = field(default=None, validator=attrs.validators.optional(between(1, 65535)))
    new_pull_point_address: bool = False
    malformed_times: Literal["none", "minute_61", "dash", "zeros"] = "none"
    close_idle_polls: bool = False
    pull_point_answers_401: bool = False
    unparseable: tuple[str, ...] = field(default=(), validator=_operation_names)
    stuck_events: bool = False
    snapshot_uri_missing: bool = False
    presets_change_on_reboot: bool = False
    goto_preset_rejects_speed: bool = False
    stop_ignored: bool = False


# --- outcomes --------------------------------------------------------------------------------------------


@frozen
class Reply:
    """An HTTP answer: status, body, content type and any other headers."""

    status: int
    body: bytes
    content_type: str = SOAP_CONTENT_TYPE
    headers: tuple[tuple[str, str], ...] = ()


class _Hangup:
    def __repr__(self) -> str:
        return "HANGUP"


#: Close the connection without answering (a camera with nothing to say, quirk 6).
HANGUP = _Hangup()


class PollWaiter(Protocol):
    """What the server hangs on a pull point while a PullMessages waits."""

    def wake(self) -> None:
        """Messages were queued, or the pull point went: answer now (``answer_poll``)."""

    def drop(self) -> None:
        """The camera rebooted: close the connection without an answer."""


@define(eq=False)
class PullPoint:
    """One pull point: where it answers, when it ends (reactor seconds), what is queued for it."""

    slot: int
    path: str
    termination: float
    leaked: bool = False
    queue: deque[str] = field(factory=lambda: deque(maxlen=QUEUE_LIMIT))
    waiter: PollWaiter | None = None
    closed: bool = False


@frozen
class LongPoll:
    """A PullMessages with nothing to answer yet: the server waits up to ``timeout_s`` for a message."""

    pull_point: PullPoint
    timeout_s: float
    limit: int


Outcome = Reply | LongPoll | _Hangup


@define
class PtzState:
    """Where the head points, worked out from the last move when asked (no timer runs while it moves)."""

    pan: float = 0.0
    tilt: float = 0.0
    zoom: float = 0.0
    velocity: tuple[float, float, float] = (0.0, 0.0, 0.0)
    since: float = 0.0
    until: float = 0.0

    def position(self, now: float) -> tuple[float, float, float]:
        elapsed = max(0.0, min(now, self.until) - self.since) * PTZ_UNITS_PER_S
        pan_speed, tilt_speed, zoom_speed = self.velocity
        return (_clamp(self.pan + pan_speed * elapsed, -1, 1), _clamp(self.tilt + tilt_speed * elapsed, -1, 1),
                _clamp(self.zoom + zoom_speed * elapsed, 0, 1))

    def moving(self, now: float) -> bool:
        return any(self.velocity) and now < self.until

    def move(self, now: float, velocity: tuple[float, float, float], timeout_s: float) -> None:
        self.pan, self.tilt, self.zoom = self.position(now)
        self.velocity, self.since, self.until = velocity, now, now + timeout_s

    def stop(self, now: float) -> None:
        self.move(now, (0.0, 0.0, 0.0), 0.0)

    def goto(self, now: float, position: tuple[float, float, float]) -> None:
        self.pan, self.tilt, self.zoom = position
        self.velocity, self.since, self.until = (0.0, 0.0, 0.0), now, now


def _clamp(value: float, low: float, high: float) -> float:
    return low if value < low else min(value, high)


# --- the camera ------------------------------------------------------------------------------------------


class SimulatedCamera:
    """One camera's state and its answers. ``clock`` is the reactor (``seconds()``, ``callLater``).

    For tests: ``raise_event`` (a notification now), ``reboot``, ``go_offline``/``come_back`` (once served),
    ``update_quirks``; and what it saw: ``requests`` (operation -> count), ``auth_failures`` (reason ->
    count), ``live_pull_points()``, ``ptz_status()``, ``events_raised``, ``notifications_delivered``.
    """

    def __init__(
        self,
        number: str,
        quirks: CameraQuirks,
        *,
        clock: Any,
        username: str,
        password: Secret,
        host: str = "127.0.0.1",
        port: int = 80,
        random_bytes: Callable[[int], bytes] = os.urandom,
        monotonic_ns: Callable[[], int] = time.monotonic_ns,
        presets: tuple[str, ...] = PRESET_NAMES,
        log: Any = None,
    ) -> None:
        self.number = number
        #: The names of its presets, tokens "1" up in this order (quirk 9 adds 100 per reboot).
        self.preset_names = tuple(presets) or PRESET_NAMES
        self.quirks = quirks
        self.host = host
        self._port = port
        self._clock = clock
        self._username = username
        self._password = password
        self._random_bytes = random_bytes
        self._monotonic_ns = monotonic_ns
        self._log = log if log is not None else structlog.get_logger().bind(camera=number)
        self.boot_count = 0
        self.requests: Counter[str] = Counter()
        self.auth_failures: Counter[str] = Counter()
        self.events_raised = 0
        self.notifications_delivered = 0
        self.pull_points: dict[str, PullPoint] = {}
        #: (topic, source items) -> (data items, topic namespace): the property states a sync re-sends.
        self.properties: dict[tuple[str, Pairs], tuple[Pairs, str | None]] = {}
        self.ptz = PtzState()
        #: Set by the server: ``go_offline()``/``come_back()`` returning Deferreds, ``drop_connections()``.
        self.network: Any = None
        self._offset_s = quirks.clock_skew_s
        self._pull_point_serial = 0
        self._cache: dict[str, bytes] = {}
        self._snapshot: bytes | None = None
        self._build_auth()
        now = clock.seconds()
        for slot in range(1, min(quirks.leaked_pull_points, quirks.max_pull_points) + 1):
            path = self._pull_point_path(slot)
            self.pull_points[path] = PullPoint(slot, path, now + quirks.leaked_for_s, leaked=True)

    # --- clock, addresses --------------------------------------------------------------------------------

    def now(self) -> float:
        """The camera's clock, in seconds since 1970 (its skew and resets included)."""
        return self._clock.seconds() + self._offset_s

    @property
    def port(self) -> int:
        return self._port

    @port.setter
    def port(self, value: int) -> None:
        self._port = value
        self._cache.clear()

    @property
    def base_url(self) -> str:
        """``http://host:port`` as this camera reports itself: wrong, when a quirk says so."""
        host = self.quirks.reported_host or self.host
        port = self.quirks.reported_port or self._port
        doubled = f":{port}" if self.quirks.doubled_port else ""
        return f"http://{host}:{port}{doubled}"

    @property
    def device_url(self) -> str:
        """Where the camera really answers (not what it reports): for configuring a client."""
        return f"http://{self.host}:{self._port}{SERVICE_PATHS['device']}"

    def _build_auth(self) -> None:
        secret = self._password.reveal()
        self._tokens = UsernameTokenCheck(self._username, secret, window_s=self.quirks.auth_window_s)
        self._digest = DigestGate(self._username, secret, realm=f"camera-{self.number}",
                                  algorithm=self.quirks.digest_algorithm, random_bytes=self._random_bytes)

    def update_quirks(self, **changes: Any) -> None:
        """Change how the camera behaves from now on (a test switching a quirk on mid-run)."""
        self.quirks = attrs.evolve(self.quirks, **changes)
        if "clock_skew_s" in changes:
            self._offset_s = self.quirks.clock_skew_s
        self._build_auth()
        self._cache.clear()

    # --- lifecycle ---------------------------------------------------------------------------------------

    def reboot(self, *, downtime_s: float = 0.0) -> None:
        """Restart: pull points, property states and connections are lost, PTZ goes home; the clock resets
        (quirk) and preset tokens change (quirk). With ``downtime_s`` it is unreachable for that long."""
        self.boot_count += 1
        for pull_point in list(self.pull_points.values()):
            self._close(pull_point, answer=False)
        self.properties.clear()
        self.ptz = PtzState()
        if self.quirks.clock_resets_on_reboot:
            self._offset_s = replies.FACTORY_EPOCH_S - self._clock.seconds()
        self._build_auth()
        self._cache.clear()
        self._log.info("camera_rebooted", boot=self.boot_count)
        if self.network is not None:
            self.network.drop_connections()
            if downtime_s > 0:
                self.network.go_offline()
                self._clock.callLater(downtime_s, self.network.come_back)

    def go_offline(self) -> Any:
        """Stop answering: stop listening and drop every connection (a Deferred, once served)."""
        if self.network is None:
            raise RuntimeError(f"camera {self.number} is not being served")
        return self.network.go_offline()

    def come_back(self) -> Any:
        """Listen again on the same port (a Deferred, once served)."""
        if self.network is None:
            raise RuntimeError(f"camera {self.number} is not being served")
        return self.network.come_back()

    # --- events ------------------------------------------------------------------------------------------

    def raise_event(
        self,
        topic: str,
        *,
        state: bool | None = None,
        source: Items | None = None,
        data: Items = (),
        operation: str | None = None,
        namespace: str | None = None,
        **items: str,
    ) -> int | None:
        """A notification now, to every live pull point; its ``SimSentNs`` data item (returned) is the
        monotonic clock in nanoseconds, for measuring camera-event-to-bus latency.

        ``state`` makes it a property event (``PropertyOperation="Changed"``, the state in the topic's
        state item, remembered for SetSynchronizationPoint). ``source`` defaults to what a camera sends for
        the topic; ``data`` and keyword ``items`` are further data items. With ``stuck_events`` a clearing
        event (``state=False``) is never sent and the property stays active: None is returned.
        """
        if state is False and self.quirks.stuck_events:
            return None
        source_items = default_source(topic) if source is None else _pairs(source)
        data_items = list(_pairs(data)) + [(name, str(value)) for name, value in items.items()]
        if state is not None:
            data_items.insert(0, (STATE_ITEMS.get(topic, "State"), "true" if state else "false"))
            self.properties[(topic, source_items)] = (tuple(data_items), namespace)
            operation = operation or "Changed"
        sent_ns = self._monotonic_ns()
        data_items.append(("SimSentNs", str(sent_ns)))
        message = replies.notification(topic, self._utc_time(), operation, source_items, data_items,
                                       namespace=namespace)
        self.events_raised += 1
        now = self._clock.seconds()
        for pull_point in self.pull_points.values():
            if not pull_point.leaked and pull_point.termination > now:
                self._queue(pull_point, message)
        return sent_ns

    def property_state(self, topic: str, source: Items | None = None) -> bool | None:
        """The camera's current state of a property topic (None if it never changed since boot)."""
        key = (topic, default_source(topic) if source is None else _pairs(source))
        found = self.properties.get(key)
        if found is None:
            return None
        return dict(found[0]).get(STATE_ITEMS.get(topic, "State")) == "true"

    def _utc_time(self) -> str:
        return replies.xsd_datetime(self.now(), self.quirks.malformed_times)

    def _queue(self, pull_point: PullPoint, message: str) -> None:
        pull_point.queue.append(message)
        if pull_point.waiter is not None:
            pull_point.waiter.wake()

    def _queue_initialized(self, pull_point: PullPoint) -> None:
        # Every property's current state, as a client that just subscribed or asked to sync needs it.
        for (topic, source_items), (data_items, namespace) in self.properties.items():
            stamped = data_items + (("SimSentNs", str(self._monotonic_ns())),)
            pull_point.queue.append(replies.notification(topic, self._utc_time(), "Initialized", source_items,
                                                         stamped, namespace=namespace))
        if pull_point.queue and pull_point.waiter is not None:
            pull_point.waiter.wake()

    def live_pull_points(self) -> int:
        """Pull points open now, leaked ones included."""
        now = self._clock.seconds()
        return sum(1 for pull_point in self.pull_points.values() if pull_point.termination > now)

    def ptz_status(self) -> tuple[tuple[float, float, float], bool]:
        """(pan, tilt, zoom), and whether the head is moving."""
        now = self._clock.seconds()
        return self.ptz.position(now), self.ptz.moving(now)

    def preset_tokens(self) -> tuple[str, ...]:
        return tuple(token for token, _name, _position in self._presets())

    # --- requests ----------------------------------------------------------------------------------------

    def handle(self, path: str, body: bytes, *, uri: str | None = None, authorization: str | None = None,
               method: str = "POST") -> Outcome:
        """Answer one SOAP request sent to ``path`` (``uri`` is path and query, for HTTP Digest)."""
        try:
            root = parse_untrusted(body, max_bytes=MAX_REQUEST_BYTES)
        except XmlRejected as error:
            return self._fault(replies.fault("Sender", ("ter:WellFormed",), str(error)))
        if root.tag != f"{{{SOAP_ENV}}}Envelope":
            return self._fault(replies.fault("Sender", ("ter:VersionMismatch",), "a SOAP 1.2 envelope is expected"))
        header = root.find(f"{{{SOAP_ENV}}}Header")
        soap_body = root.find(f"{{{SOAP_ENV}}}Body")
        request = None if soap_body is None else next((c for c in soap_body if isinstance(c.tag, str)), None)
        if request is None:
            return self._fault(replies.fault("Sender", ("ter:InvalidArgVal",), "the SOAP body is empty"))
        qname = etree.QName(request)
        entry = _OPERATIONS.get((qname.namespace, qname.localname))
        operation = qname.localname
        self.requests[operation] += 1
        if entry is None:
            return self._fault(replies.action_not_supported(operation))
        service, handler = entry
        pull_point = None
        if service == "subscription":
            if self.quirks.pull_point_answers_401:
                return self._challenge()
            key = self._pull_point_key(path, header)
            pull_point = self._pull_point_at(key)
            every = operation == "SetSynchronizationPoint" and key == SERVICE_PATHS["events"]
            if pull_point is None and not every:
                refusal = self._authorise(operation, header, authorization, method, uri or path)
                return refusal or self._fault(replies.unknown_subscription(self.base_url + path))
        elif not self._offers(service) or path != SERVICE_PATHS[service]:
            return Reply(404, b"no such service here\n", "text/plain")
        refusal = self._authorise(operation, header, authorization, method, uri or path)
        if refusal is not None:
            return refusal
        outcome = handler(self, request, pull_point)
        if (isinstance(outcome, Reply) and outcome.status == 200 and operation in self.quirks.unparseable):
            return attrs.evolve(outcome, body=replies.unparseable(outcome.body))
        return outcome

    def snapshot(self, path: str, *, uri: str | None = None, authorization: str | None = None) -> Reply:
        """Answer an HTTP GET for a snapshot: a PNG showing the camera number."""
        token = path[len(SNAPSHOT_PREFIX):].removesuffix(".png") if path.startswith(SNAPSHOT_PREFIX) else None
        if token not in {profile[0] for profile in PROFILES}:
            return Reply(404, b"not found\n", "text/plain")
        self.requests["snapshot"] += 1
        if self.quirks.auth != "ws_security":
            verdict = self._digest.check(authorization, "GET", uri or path)
            if verdict != "ok":
                self.auth_failures[f"http_digest_{verdict}"] += 1
                return self._challenge(stale=verdict == "stale")
        if self._snapshot is None:
            self._snapshot = replies.snapshot_png(self.number)
        return Reply(200, self._snapshot, "image/png")

    def answer_poll(self, poll: LongPoll, *, timed_out: bool) -> Reply | _Hangup:
        """What a waiting PullMessages gets now: messages, an empty answer at the timeout (or a hang-up,
        quirk 6), or a fault if its pull point went meanwhile."""
        pull_point = poll.pull_point
        if pull_point.closed or pull_point.termination <= self._clock.seconds():
            self._close(pull_point, answer=False)
            return self._fault(replies.unknown_subscription(self._address(pull_point)))
        if not pull_point.queue and timed_out and self.quirks.close_idle_polls:
            return HANGUP
        return self._pulled(pull_point, poll.limit)

    # --- auth --------------------------------------------------------------------------------------------

    def _authorise(self, operation: str, header: etree._Element | None, authorization: str | None,
                   method: str, uri: str) -> Reply | None:
        if operation == "GetSystemDateAndTime" and not self.quirks.time_needs_auth:
            return None
        mode = self.quirks.auth
        digest = "missing"
        if mode != "ws_security":
            digest = self._digest.check(authorization, method, uri)
            if mode in ("http_digest", "both") and digest != "ok":
                self.auth_failures[f"http_digest_{digest}"] += 1
                return self._challenge(stale=digest == "stale")
            if mode == "http_digest" or (mode == "either" and digest == "ok"):
                return None
        token = self._tokens.check(header, self.now())
        if token == "ok":
            return None
        self.auth_failures[token] += 1
        if mode == "either" and token == "missing":
            return self._challenge(stale=digest == "stale")
        reason = "Sender not Authorized: the time check failed" if token == "time_check" else "Sender not Authorized"
        return self._fault(replies.not_authorized(reason))

    def _challenge(self, *, stale: bool = False) -> Reply:
        return Reply(401, b"401 Unauthorized\n", "text/plain",
                     (("WWW-Authenticate", self._digest.challenge(stale=stale)),))

    @staticmethod
    def _fault(body: bytes) -> Reply:
        # ONVIF: HTTP 400 for a sender's fault, 500 for the receiver's.
        return Reply(400 if b"<s:Value>s:Sender</s:Value>" in body else 500, body)

    def _offers(self, service: str) -> bool:
        if service in ("media1", "media2"):
            return self.quirks.media in (service, "both")
        if service == "ptz":
            return self.quirks.ptz
        return True

    # --- device ------------------------------------------------------------------------------------------

    def _get_system_date_and_time(self, _request: etree._Element, _pp: Any) -> Reply:
        return Reply(200, envelope(replies.system_date_and_time(self.now())))

    def _get_services(self, _request: etree._Element, _pp: Any) -> Reply:
        return self._cached("GetServices", lambda: replies.services(self._xaddrs()))

    def _xaddrs(self) -> dict[str, str]:
        names = {"device": TDS, "media1": TRT, "media2": TR2, "ptz": TPTZ, "events": TEV}
        return {names[service]: self.base_url + path for service, path in SERVICE_PATHS.items()
                if self._offers(service)}

    def _get_capabilities(self, _request: etree._Element, _pp: Any) -> Reply:
        def render() -> str:
            xaddrs = self._xaddrs()
            return replies.capabilities(device=xaddrs[TDS], events=xaddrs[TEV], media=xaddrs.get(TRT),
                                        ptz=xaddrs.get(TPTZ))
        return self._cached("GetCapabilities", render)

    def _get_device_information(self, _request: etree._Element, _pp: Any) -> Reply:
        model = "SIM-PTZ-1" if self.quirks.ptz else "SIM-FIXED-1"
        return self._cached("GetDeviceInformation", lambda: replies.device_information(
            manufacturer="Hub Simulated Cameras", model=model, firmware="2.4.1",
            serial=f"SIM{self.number.zfill(6)}", hardware="sim-1"))

    def _get_scopes(self, _request: etree._Element, _pp: Any) -> Reply:
        kind = "ptz" if self.quirks.ptz else "video_encoder"
        return self._cached("GetScopes", lambda: replies.scopes((
            "onvif://www.onvif.org/Profile/Streaming", "onvif://www.onvif.org/Profile/T",
            f"onvif://www.onvif.org/type/{kind}", f"onvif://www.onvif.org/name/Camera_{self.number}",
            "onvif://www.onvif.org/hardware/SIM-1", "onvif://www.onvif.org/location/simulated")))

    # --- media -------------------------------------------------------------------------------------------

    def _get_profiles(self, request: etree._Element, _pp: Any) -> Reply:
        media: Media = "media1" if etree.QName(request).namespace == TRT else "media2"
        render = replies.media1_profile if media == "media1" else replies.media2_profile
        return self._cached(f"GetProfiles:{media}", lambda: replies.profiles(media, (
            render(token, name, width=width, height=height, ptz=self.quirks.ptz)
            for token, name, width, height in PROFILES)))

    def _media_uri(self, request: etree._Element, _pp: Any) -> Reply:
        media: Media = "media1" if etree.QName(request).namespace == TRT else "media2"
        operation = local_name(request)
        token = _child_text(request, "ProfileToken")
        if token not in {profile[0] for profile in PROFILES}:
            return self._fault(replies.fault("Sender", ("ter:InvalidArgVal", "ter:NoProfile"),
                                             "no such profile"))
        if operation == "GetStreamUri":
            host = self.quirks.reported_host or self.host
            uri: str | None = f"rtsp://{host}:554/stream/{self.number}/{token}"
        elif self.quirks.snapshot_uri_missing:
            uri = None
        else:
            uri = f"{self.base_url}{SNAPSHOT_PREFIX}{token}.png"
        return self._cached(f"{operation}:{media}:{token}", lambda: replies.media_uri(media, operation, uri))

    # --- PTZ ---------------------------------------------------------------------------------------------

    def _presets(self) -> list[tuple[str, str, tuple[float, float, float]]]:
        base = 100 * self.boot_count if self.quirks.presets_change_on_reboot else 0
        # Spread over the head's range: four presets sit at pan -0.75, -0.25, 0.25, 0.75.
        step = 1.5 / max(1, len(self.preset_names) - 1)
        return [(str(base + n), name, (-0.75 + step * (n - 1), min(1.0, 0.1 * n), min(1.0, 0.2 * n)))
                for n, name in enumerate(self.preset_names, start=1)]

    def _ptz_profile(self, request: etree._Element) -> Reply | None:
        if _child_text(request, "ProfileToken") not in {profile[0] for profile in PROFILES}:
            return self._fault(replies.fault("Sender", ("ter:InvalidArgVal", "ter:NoProfile"), "no such profile"))
        return None

    def _get_presets(self, request: etree._Element, _pp: Any) -> Reply:
        return self._ptz_profile(request) or self._cached("GetPresets", lambda: replies.presets(self._presets()))

    def _goto_preset(self, request: etree._Element, _pp: Any) -> Reply:
        refusal = self._ptz_profile(request)
        if refusal is not None:
            return refusal
        if self.quirks.goto_preset_rejects_speed and _child(request, "Speed") is not None:
            return self._fault(replies.fault("Sender", ("ter:InvalidArgVal",), "Speed is not supported"))
        token = _child_text(request, "PresetToken")
        found = next((preset for preset in self._presets() if preset[0] == token), None)
        if found is None:
            return self._fault(replies.fault("Sender", ("ter:InvalidArgVal", "ter:NoToken"), "no such preset"))
        self.ptz.goto(self._clock.seconds(), found[2])
        self.raise_event("tns1:PTZController/PTZPresets/Reached", PresetToken=found[0], PresetName=found[1])
        return Reply(200, envelope(replies.empty("tptz", "GotoPreset")))

    def _continuous_move(self, request: etree._Element, _pp: Any) -> Reply:
        refusal = self._ptz_profile(request)
        if refusal is not None:
            return refusal
        velocity = _child(request, "Velocity")
        pan_tilt = None if velocity is None else _child(velocity, "PanTilt")
        zoom = None if velocity is None else _child(velocity, "Zoom")
        try:
            speeds = (float(pan_tilt.get("x", 0)) if pan_tilt is not None else 0.0,
                      float(pan_tilt.get("y", 0)) if pan_tilt is not None else 0.0,
                      float(zoom.get("x", 0)) if zoom is not None else 0.0)
        except ValueError:
            return self._fault(replies.invalid_argument("velocity is not a number"))
        timeout_text = _child_text(request, "Timeout")
        timeout_s = DEFAULT_PTZ_TIMEOUT_S if timeout_text is None else replies.parse_duration(timeout_text)
        if timeout_s is None:
            return self._fault(replies.invalid_argument("Timeout is not an xsd:duration"))
        pan, tilt, zoom = (_clamp(speed, -1, 1) for speed in speeds)
        self.ptz.move(self._clock.seconds(), (pan, tilt, zoom), timeout_s)
        return Reply(200, envelope(replies.empty("tptz", "ContinuousMove")))

    def _stop(self, request: etree._Element, _pp: Any) -> Reply:
        refusal = self._ptz_profile(request)
        if refusal is not None:
            return refusal
        if not self.quirks.stop_ignored:
            self.ptz.stop(self._clock.seconds())
        return Reply(200, envelope(replies.empty("tptz", "Stop")))

    def _goto_home(self, request: etree._Element, _pp: Any) -> Reply:
        refusal = self._ptz_profile(request)
        if refusal is not None:
            return refusal
        self.ptz.goto(self._clock.seconds(), (0.0, 0.0, 0.0))
        return Reply(200, envelope(replies.empty("tptz", "GotoHomePosition")))

    def _get_status(self, request: etree._Element, _pp: Any) -> Reply:
        refusal = self._ptz_profile(request)
        if refusal is not None:
            return refusal
        position, moving = self.ptz_status()
        return Reply(200, envelope(replies.ptz_status(position, moving, self.now())))

    # --- events ------------------------------------------------------------------------------------------

    def _get_event_properties(self, _request: etree._Element, _pp: Any) -> Reply:
        return self._cached("GetEventProperties", lambda: replies.event_properties(TOPICS))

    def _get_event_capabilities(self, _request: etree._Element, _pp: Any) -> Reply:
        return self._cached("GetServiceCapabilities:events",
                            lambda: replies.event_service_capabilities(self.quirks.max_pull_points))

    def _termination(self, text: str | None) -> float | Reply:
        """When a pull point asked to live until ``text`` ends, in reactor seconds; or the fault."""
        now = self._clock.seconds()
        if text is None:
            return now + DEFAULT_TERMINATION_S
        if text.startswith("P"):
            if self.quirks.relative_termination == "reject":
                return self._fault(replies.fault("Sender", ("ter:InvalidArgVal",),
                                                 "relative termination times are not supported",
                                                 "<wsnt:UnacceptableInitialTerminationTimeFault/>"))
            seconds = replies.parse_duration(text)
            if seconds is None:
                return self._fault(replies.invalid_argument("termination time is not an xsd:duration"))
            if self.quirks.relative_termination == "ignore":
                return now + IGNORED_RELATIVE_TERMINATION_S
            return now + min(seconds, MAX_TERMINATION_S)
        parsed = replies.parse_datetime(text)
        if parsed is None or (self.quirks.absolute_termination_needs_z and not parsed[1]):
            return self._fault(replies.fault("Sender", ("ter:InvalidArgVal",), "termination time is not valid",
                                             "<wsnt:UnacceptableInitialTerminationTimeFault/>"))
        real = parsed[0] - self._offset_s
        if real <= now:
            return self._fault(replies.fault("Sender", ("ter:InvalidArgVal",), "termination time is in the past",
                                             "<wsnt:UnacceptableInitialTerminationTimeFault/>"))
        return min(real, now + MAX_TERMINATION_S)

    def _pull_point_path(self, slot: int) -> str:
        # The key a pull point is found by: its path, and with subscription_id_header the id the client
        # must send back in a header (all of them then share the event service's address).
        if self.quirks.subscription_id_header:
            self._pull_point_serial += 1
            return f"{SERVICE_PATHS['events']}{_ID_MARK}{self._pull_point_serial}"
        if self.quirks.new_pull_point_address:
            self._pull_point_serial += 1
            return f"/onvif/pull_point/{self.boot_count}-{self._pull_point_serial}"
        return f"{SUBSCRIPTION_PREFIX}{slot}"

    def _pull_point_key(self, path: str, header: etree._Element | None) -> str:
        if not self.quirks.subscription_id_header or header is None:
            return path
        found = next((child for child in header if isinstance(child.tag, str)
                      and local_name(child) == "SubscriptionId"), None)
        if found is None or not (found.text or "").strip():
            return path
        return f"{path}{_ID_MARK}{found.text.strip()}"

    def _address(self, pull_point: PullPoint) -> str:
        return self.base_url + pull_point.path.partition(_ID_MARK)[0]

    def _pull_point_at(self, path: str) -> PullPoint | None:
        pull_point = self.pull_points.get(path)
        if pull_point is not None and pull_point.termination <= self._clock.seconds():
            self._close(pull_point, answer=True)
            return None
        return pull_point

    def _reap(self) -> None:
        now = self._clock.seconds()
        for pull_point in [p for p in self.pull_points.values() if p.termination <= now]:
            self._close(pull_point, answer=True)

    def _close(self, pull_point: PullPoint, *, answer: bool) -> None:
        pull_point.closed = True
        if self.pull_points.get(pull_point.path) is pull_point:
            del self.pull_points[pull_point.path]
        waiter, pull_point.waiter = pull_point.waiter, None
        if waiter is not None:
            waiter.wake() if answer else waiter.drop()

    def _create_pull_point(self, request: etree._Element, _pp: Any) -> Reply:
        text = _child_text(request, "InitialTerminationTime")
        if text is None and self.quirks.missing_termination_is_500:
            return Reply(500, b"500 Internal Server Error\n", "text/plain")
        termination = self._termination(text)
        if isinstance(termination, Reply):
            return termination
        self._reap()
        if len(self.pull_points) >= self.quirks.max_pull_points:
            return self._fault(replies.too_many_pull_points(self.quirks.max_pull_points))
        used = {pull_point.slot for pull_point in self.pull_points.values()}
        slot = next(n for n in range(1, self.quirks.max_pull_points + 1) if n not in used)
        pull_point = PullPoint(slot, self._pull_point_path(slot), termination)
        self.pull_points[pull_point.path] = pull_point
        self._queue_initialized(pull_point)
        return Reply(200, envelope(replies.subscription_created(
            self._address(pull_point), replies.xsd_datetime(self.now()), self._camera_time(termination),
            subscription_id=pull_point.path.partition(_ID_MARK)[2] or None)))

    def _camera_time(self, reactor_seconds: float) -> str:
        return replies.xsd_datetime(reactor_seconds + self._offset_s)

    def _pull_messages(self, request: etree._Element, pull_point: PullPoint) -> Outcome:
        timeout_text = _child_text(request, "Timeout")
        timeout_s = replies.parse_duration(timeout_text) if timeout_text else 0.0
        try:
            limit = int(_child_text(request, "MessageLimit") or "1")
        except ValueError:
            limit = -1
        if timeout_s is None or limit < 1:
            return self._fault(replies.invalid_argument("Timeout and MessageLimit are a duration and a count"))
        if pull_point.queue or timeout_s <= 0:
            return self._pulled(pull_point, limit)
        if pull_point.waiter is not None:
            # One poll at a time per pull point: the one waiting already is answered, empty, to make way.
            waiter, pull_point.waiter = pull_point.waiter, None
            waiter.wake()
        return LongPoll(pull_point, min(timeout_s, MAX_POLL_S), limit)

    def _pulled(self, pull_point: PullPoint, limit: int) -> Reply:
        messages = [pull_point.queue.popleft() for _ in range(min(limit, len(pull_point.queue)))]
        self.notifications_delivered += len(messages)
        body = envelope(replies.pulled(replies.xsd_datetime(self.now()), self._camera_time(pull_point.termination),
                                       messages))
        if "PullMessages" in self.quirks.unparseable:
            body = replies.unparseable(body)
        return Reply(200, body)

    def _renew(self, request: etree._Element, pull_point: PullPoint) -> Reply:
        text = _child_text(request, "TerminationTime")
        termination = self._termination(text)
        if isinstance(termination, Reply):
            return termination
        pull_point.termination = termination
        return Reply(200, envelope(replies.renewed(replies.xsd_datetime(self.now()), self._camera_time(termination))))

    def _unsubscribe(self, _request: etree._Element, pull_point: PullPoint) -> Reply:
        doomed = list(self.pull_points.values()) if self.quirks.unsubscribe_drops_all else [pull_point]
        for each in doomed:
            self._close(each, answer=True)
        return Reply(200, envelope(replies.empty("wsnt", "Unsubscribe")))

    def _set_synchronization_point(self, _request: etree._Element, pull_point: PullPoint | None) -> Reply:
        targets = [pull_point] if pull_point is not None else [
            p for p in self.pull_points.values() if not p.leaked and p.termination > self._clock.seconds()]
        for target in targets:
            self._queue_initialized(target)
        return Reply(200, envelope(replies.empty("tev", "SetSynchronizationPoint")))

    # --- helpers -----------------------------------------------------------------------------------------

    def _cached(self, key: str, render: Callable[[], str]) -> Reply:
        # Constant answers are rendered once (and again only after a reboot or a change of quirks).
        body = self._cache.get(key)
        if body is None:
            body = self._cache[key] = envelope(render())
        return Reply(200, body)


def _pairs(items: Items) -> tuple[tuple[str, str], ...]:
    pairs = items.items() if isinstance(items, Mapping) else items
    return tuple((str(name), str(value)) for name, value in pairs)


def _child(element: etree._Element, name: str) -> etree._Element | None:
    # By local name: clients disagree on which namespace a request's children are in.
    for child in element:
        if isinstance(child.tag, str) and local_name(child) == name:
            return child
    return None


def _child_text(element: etree._Element, name: str) -> str | None:
    child = _child(element, name)
    if child is None or child.text is None:
        return None
    return child.text.strip() or None


Handler = Callable[[SimulatedCamera, etree._Element, Any], Outcome]

#: (namespace, operation) -> (service, handler). The service decides the path the request must come to.
_OPERATIONS: dict[tuple[str, str], tuple[str, Handler]] = {
    (TDS, "GetSystemDateAndTime"): ("device", SimulatedCamera._get_system_date_and_time),
    (TDS, "GetServices"): ("device", SimulatedCamera._get_services),
    (TDS, "GetCapabilities"): ("device", SimulatedCamera._get_capabilities),
    (TDS, "GetDeviceInformation"): ("device", SimulatedCamera._get_device_information),
    (TDS, "GetScopes"): ("device", SimulatedCamera._get_scopes),
    (TRT, "GetProfiles"): ("media1", SimulatedCamera._get_profiles),
    (TRT, "GetStreamUri"): ("media1", SimulatedCamera._media_uri),
    (TRT, "GetSnapshotUri"): ("media1", SimulatedCamera._media_uri),
    (TR2, "GetProfiles"): ("media2", SimulatedCamera._get_profiles),
    (TR2, "GetStreamUri"): ("media2", SimulatedCamera._media_uri),
    (TR2, "GetSnapshotUri"): ("media2", SimulatedCamera._media_uri),
    (TPTZ, "GetPresets"): ("ptz", SimulatedCamera._get_presets),
    (TPTZ, "GotoPreset"): ("ptz", SimulatedCamera._goto_preset),
    (TPTZ, "ContinuousMove"): ("ptz", SimulatedCamera._continuous_move),
    (TPTZ, "Stop"): ("ptz", SimulatedCamera._stop),
    (TPTZ, "GotoHomePosition"): ("ptz", SimulatedCamera._goto_home),
    (TPTZ, "GetStatus"): ("ptz", SimulatedCamera._get_status),
    (TEV, "GetEventProperties"): ("events", SimulatedCamera._get_event_properties),
    (TEV, "GetServiceCapabilities"): ("events", SimulatedCamera._get_event_capabilities),
    (TEV, "CreatePullPointSubscription"): ("events", SimulatedCamera._create_pull_point),
    (TEV, "PullMessages"): ("subscription", SimulatedCamera._pull_messages),
    (TEV, "SetSynchronizationPoint"): ("subscription", SimulatedCamera._set_synchronization_point),
    (WSNT, "Renew"): ("subscription", SimulatedCamera._renew),
    (WSNT, "Unsubscribe"): ("subscription", SimulatedCamera._unsubscribe),
}
