"""A scripted stand-in for ``HttpTransport`` and small camera replies, for client and pull-point tests.

``FakeTransport`` answers each request with the next reply scripted for its operation (taken from the
SOAP action): bytes for a 200, an exception to raise, a Deferred to wait for (a long poll the test ends
when it likes), or a function of the request giving any of those. An unscripted request fails the test.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

import attrs
import structlog
from lxml import etree
from twisted.internet.defer import Deferred

from hub.secrets import Secret
from plugins.onvif.client import CameraClient, CameraEndpoint
from plugins.onvif.codec.namespaces import TDS, TEV, TPTZ, TR2, TRT, WSA, WSSE, WSU
from plugins.onvif.limiter import Limiter

PASSWORD = "s3cret-Pa55"

NAMESPACES = (
    'xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tt="http://www.onvif.org/ver10/schema" '
    f'xmlns:tds="{TDS}" xmlns:trt="{TRT}" xmlns:tr2="{TR2}" xmlns:tptz="{TPTZ}" xmlns:tev="{TEV}" '
    'xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" xmlns:wsa="http://www.w3.org/2005/08/addressing" '
    'xmlns:tns1="http://www.onvif.org/ver10/topics" xmlns:ter="http://www.onvif.org/ver10/error"'
)


# --- replies ------------------------------------------------------------------------------------------


def envelope(body: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope {NAMESPACES}><s:Body>{body}</s:Body>'
            "</s:Envelope>").encode()


def fault(subcode: str = "ter:ActionNotSupported", reason: str = "no", code: str = "s:Sender") -> bytes:
    return envelope(
        f"<s:Fault><s:Code><s:Value>{code}</s:Value><s:Subcode><s:Value>{subcode}</s:Value></s:Subcode></s:Code>"
        f'<s:Reason><s:Text xml:lang="en">{escape(reason)}</s:Text></s:Reason></s:Fault>'
    )


NOT_AUTHORIZED = fault("ter:NotAuthorized", "Sender not Authorized")
UNKNOWN_SUBSCRIPTION = fault("wsrf-bf:ResourceUnknownFault", "Resource unknown")


def system_time(moment: datetime) -> bytes:
    return envelope(
        "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>Manual</tt:DateTimeType>"
        "<tt:DaylightSavings>false</tt:DaylightSavings><tt:UTCDateTime>"
        f"<tt:Time><tt:Hour>{moment.hour}</tt:Hour><tt:Minute>{moment.minute}</tt:Minute>"
        f"<tt:Second>{moment.second}</tt:Second></tt:Time>"
        f"<tt:Date><tt:Year>{moment.year}</tt:Year><tt:Month>{moment.month}</tt:Month><tt:Day>{moment.day}</tt:Day>"
        "</tt:Date></tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
    )


def services(addresses: dict[str, str]) -> bytes:
    entries = "".join(
        f"<tds:Service><tds:Namespace>{namespace}</tds:Namespace><tds:XAddr>{escape(address)}</tds:XAddr>"
        "<tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service>"
        for namespace, address in addresses.items()
    )
    return envelope(f"<tds:GetServicesResponse>{entries}</tds:GetServicesResponse>")


def capabilities(media: str, ptz: str | None = None, events: str | None = None) -> bytes:
    parts = f"<tt:Media><tt:XAddr>{escape(media)}</tt:XAddr></tt:Media>"
    if ptz:
        parts += f"<tt:PTZ><tt:XAddr>{escape(ptz)}</tt:XAddr></tt:PTZ>"
    if events:
        parts += f"<tt:Events><tt:XAddr>{escape(events)}</tt:XAddr></tt:Events>"
    return envelope(f"<tds:GetCapabilitiesResponse><tds:Capabilities>{parts}</tds:Capabilities>"
                    "</tds:GetCapabilitiesResponse>")


def profiles(prefix: str, *tokens: str) -> bytes:
    items = "".join(f'<{prefix}:Profiles token="{token}"><tt:Name>{token}</tt:Name></{prefix}:Profiles>'
                    for token in tokens)
    return envelope(f"<{prefix}:GetProfilesResponse>{items}</{prefix}:GetProfilesResponse>")


def stream_uri(uri: str) -> bytes:
    return envelope(f"<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>{escape(uri)}</tt:Uri></trt:MediaUri>"
                    "</trt:GetStreamUriResponse>")


def snapshot_uri(uri: str | None) -> bytes:
    inner = f"<tt:Uri>{escape(uri)}</tt:Uri>" if uri else ""
    return envelope(f"<trt:GetSnapshotUriResponse><trt:MediaUri>{inner}</trt:MediaUri></trt:GetSnapshotUriResponse>")


def empty(operation: str, prefix: str = "tptz") -> bytes:
    return envelope(f"<{prefix}:{operation}Response/>")


def _time(moment: datetime | None, tag: str) -> str:
    return f"<{tag}>{moment.strftime('%Y-%m-%dT%H:%M:%SZ')}</{tag}>" if moment is not None else ""


def subscription(address: str, current: datetime | None, termination: datetime | None) -> bytes:
    return envelope(
        "<tev:CreatePullPointSubscriptionResponse><tev:SubscriptionReference>"
        f"<wsa:Address>{escape(address)}</wsa:Address></tev:SubscriptionReference>"
        f"{_time(current, 'wsnt:CurrentTime')}{_time(termination, 'wsnt:TerminationTime')}"
        "</tev:CreatePullPointSubscriptionResponse>"
    )


def pulled(current: datetime | None, termination: datetime | None, *topics: str) -> bytes:
    messages = "".join(
        "<wsnt:NotificationMessage>"
        f'<wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">{topic}</wsnt:Topic>'
        '<wsnt:Message><tt:Message UtcTime="2026-11-22T09:05:07Z" PropertyOperation="Changed">'
        '<tt:Source><tt:SimpleItem Name="VideoSourceToken" Value="V1"/></tt:Source>'
        '<tt:Data><tt:SimpleItem Name="State" Value="true"/></tt:Data></tt:Message></wsnt:Message>'
        "</wsnt:NotificationMessage>"
        for topic in topics
    )
    return envelope(f"<tev:PullMessagesResponse>{_time(current, 'tev:CurrentTime')}"
                    f"{_time(termination, 'tev:TerminationTime')}{messages}</tev:PullMessagesResponse>")


def renewed(termination: datetime | None) -> bytes:
    return envelope(f"<wsnt:RenewResponse>{_time(termination, 'wsnt:TerminationTime')}</wsnt:RenewResponse>")


# --- the fake transport ------------------------------------------------------------------------------


@attrs.frozen
class Sent:
    """One request the client made."""

    url: str
    body: bytes
    action: str | None
    timeout_s: float
    digest: Any

    @property
    def operation(self) -> str:
        name = (self.action or "").rsplit("/", 1)[-1]
        return name.removesuffix("Request")

    @property
    def root(self) -> etree._Element:
        return etree.fromstring(self.body)

    @property
    def created(self) -> str | None:
        """The WS-Security token's Created time, or None for an unsigned request."""
        found = self.root.find(f".//{{{WSSE}}}UsernameToken/{{{WSU}}}Created")
        return found.text if found is not None else None

    @property
    def nonce(self) -> str | None:
        found = self.root.find(f".//{{{WSSE}}}UsernameToken/{{{WSSE}}}Nonce")
        return found.text if found is not None else None

    @property
    def wsa_to(self) -> str | None:
        found = self.root.find(f".//{{{WSA}}}To")
        return found.text if found is not None else None

    def body_names(self) -> list[str]:
        """Local names of every element under the SOAP body, in document order."""
        body = self.root.find("{http://www.w3.org/2003/05/soap-envelope}Body")
        return [etree.QName(element).localname for element in body.iter() if element is not body]


Reply = Any  # bytes | BaseException | Deferred | Callable[[Sent], ...]


class FakeTransport:
    """Answers requests from a script, per operation, in order (see the module)."""

    max_reply_bytes = 1024 * 1024

    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self.gets: list[tuple[str, Any, int]] = []
        self._script: dict[str, deque[Reply]] = defaultdict(deque)
        self._snapshots: deque[Reply] = deque()

    def on(self, operation: str, *replies: Reply) -> FakeTransport:
        self._script[operation].extend(replies)
        return self

    def on_get(self, *replies: Reply) -> FakeTransport:
        self._snapshots.extend(replies)
        return self

    def operations(self) -> list[str]:
        return [sent.operation for sent in self.sent]

    def unanswered(self) -> dict[str, int]:
        return {operation: len(queue) for operation, queue in self._script.items() if queue}

    async def post(self, url: str, body: bytes, *, action: str | None, timeout_s: float, digest: Any) -> bytes:
        sent = Sent(url, body, action, timeout_s, digest)
        self.sent.append(sent)
        queue = self._script.get(sent.operation)
        if not queue:
            raise AssertionError(f"unscripted request {sent.operation} to {url}")
        return await _resolve(queue.popleft(), sent)

    async def get(self, url: str, *, timeout_s: float, digest: Any, max_bytes: int) -> tuple[str, bytes]:
        self.gets.append((url, digest, max_bytes))
        if not self._snapshots:
            raise AssertionError(f"unscripted GET {url}")
        return await _resolve(self._snapshots.popleft(), url)


async def _resolve(reply: Reply, request: Any) -> Any:
    if callable(reply) and not isinstance(reply, (bytes, Deferred, BaseException)):
        reply = reply(request)
    if isinstance(reply, Deferred):
        reply = await reply
    if isinstance(reply, BaseException):
        raise reply
    return reply


def endpoint(**changes: Any) -> CameraEndpoint:
    values: dict[str, Any] = {"camera": "42", "host": "10.1.2.42", "port": 80, "scheme": "http",
                              "username": "hub", "password": Secret(PASSWORD)}
    values.update(changes)
    return CameraEndpoint(**values)


def make_client(clock: Any, transport: FakeTransport | None = None, *, limiter: Limiter | None = None,
                **endpoint_changes: Any) -> CameraClient:
    counter = iter(range(1, 1_000_000))
    return CameraClient(
        endpoint(**endpoint_changes), transport or FakeTransport(), limiter or Limiter(overall=8, per_camera=2),
        clock, structlog.get_logger().bind(camera="42"),
        random_bytes=lambda size: next(counter).to_bytes(size, "big"),
    )


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def call_of(coroutine_or_deferred: Any) -> Deferred:
    """A Deferred for a coroutine (so success_result_of and friends can look at it)."""
    if isinstance(coroutine_or_deferred, Deferred):
        return coroutine_or_deferred
    return Deferred.fromCoroutine(coroutine_or_deferred)


Call = Callable[..., Any]
