"""The police link's wire: one WebSocket (RFC 6455) over mutual TLS, autobahn on the injected reactor.

The hub dials the force with ``LinkClientService`` (one connection at a time, reconnecting with capped,
jittered back-off); the force end, and the hub's reference peer, accept with ``listen_link``. Each open
WebSocket is handed to a ``LinkEndpoint`` (the link session) as a ``FrameTransport``: text in and out, nothing
else. What the text means is the codec's and the session's business, including how big a frame may be:
autobahn's own limit is set far above the codec's so that an oversized frame gets the codec's error answer
and the link stays up. A binary message is not part of the protocol: it is answered here with an ``error``
frame, and the link stays up too. Both ends speak sub-protocol ``SUBPROTOCOL``; a client that does not offer
it is refused at the HTTP handshake.

autobahn schedules its timers through txaio, which falls back on the global reactor: every timer it uses
here is routed to the injected reactor instead (see ``_ReactorTimer``), and the one it would schedule on txaio
directly (a client waiting for the server to drop TCP after the close handshake) is replaced by our own.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urlsplit

from autobahn.twisted.websocket import (
    WebSocketClientFactory,
    WebSocketClientProtocol,
    WebSocketServerFactory,
    WebSocketServerProtocol,
)
from autobahn.util import encode_truncate
from autobahn.websocket.protocol import WebSocketProtocol
from autobahn.websocket.types import ConnectionDeny
from OpenSSL import SSL
from twisted.application.internet import ClientService
from twisted.application.service import Service
from twisted.internet import error as internet_error
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.endpoints import HostnameEndpoint, SSL4ServerEndpoint, wrapClientTLS
from twisted.internet.interfaces import IListeningPort, IStreamClientEndpoint
from twisted.python.failure import Failure
from zope.interface import implementer

from plugins.police_link.codec.frames import ErrorFrame, encode_frame
from plugins.police_link.tls import CertificateRefused, peer_fingerprint

SUBPROTOCOL = "cctv-hub.police-link.v1"

#: autobahn's own message and frame limit: far above any frame the codec reads (its default is 1 MiB, at most
#: 16 MiB by config), so the codec, not autobahn, answers an oversized frame and keeps the link up.
MAX_MESSAGE_BYTES = 16 * 1_048_576 + 65_536
#: From TCP connected to WebSocket open (the TLS handshake and the HTTP upgrade).
OPEN_HANDSHAKE_TIMEOUT_S = 10.0
#: How long a closing end waits for the other's close frame, and a client for the server to drop TCP.
CLOSE_HANDSHAKE_TIMEOUT_S = 5.0

#: RFC 6455 close codes used here.
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_POLICY_VIOLATION = 1008
CLOSE_INTERNAL_ERROR = 1011

#: The answer to a binary message: the ``error`` frame of codec/frames.py, code ``malformed``.
BINARY_REFUSED_REASON = "binary messages are not part of this protocol"


class FrameTransport(Protocol):
    """One open WebSocket, as the link session sees it."""

    peer: str  # "host:port"
    fingerprint: str | None  # SHA-256 of the peer's certificate, "AB:CD:..."

    def send_text(self, text: str) -> None: ...

    def close(self, reason: str) -> None: ...


class LinkEndpoint(Protocol):
    """What an open WebSocket is handed to (``LinkSession`` implements it).

    ``attach`` when the WebSocket opens, ``text_received`` for each text message, ``detach`` once when it is
    gone (with a reason for people). Binary messages never reach it: the transport answers them itself.
    Every attach is followed by exactly one detach, also when the endpoint closed the transport itself, and
    only once the connection is really gone: a server endpoint that replaces an older connection with a newer
    one (``listen_link``'s ``endpoint_for``) may hear the older one's detach after the newer one's attach.
    """

    def attach(self, transport: FrameTransport) -> None: ...

    def text_received(self, text: str) -> None: ...

    def detach(self, reason: str) -> None: ...


def backoff_delay(attempt: int, *, initial_s: float, max_s: float, rng: random.Random) -> float:
    """Seconds to wait before connection attempt ``attempt`` + 1 (``attempt`` counts from 1).

    The capped exponential ``min(max_s, initial_s * 2 ** (attempt - 1))``, of which a random half is taken off
    ("equal jitter"), so that many hubs cut off together do not all come back in the same second, and no wait
    is ever longer than ``max_s``.
    """
    if attempt < 1:
        raise ValueError("attempts count from 1")
    ceiling = min(max_s, initial_s * 2.0 ** min(attempt - 1, 64))
    return ceiling / 2 + rng.random() * ceiling / 2


def error_frame_text(code: str, reason: str) -> str:
    """The ``error`` frame the transport itself sends (for a binary message)."""
    return encode_frame(ErrorFrame(code=code, reason=reason))


# --- autobahn, on our reactor ---------------------------------------------------------------------------------


class _ReactorTimer:
    """Stands in for the batched timer autobahn makes from txaio (which uses the global reactor): its
    handshake timeouts are delayed calls on our reactor, cancelled exactly when autobahn cancels them."""

    def __init__(self, reactor: Any) -> None:
        self._reactor = reactor

    def call_later(self, delay: float, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return self._reactor.callLater(delay, function, *args, **kwargs)


def _configure(factory: Any, reactor: Any) -> None:
    factory._batched_timer = _ReactorTimer(reactor)
    factory.setProtocolOptions(
        maxFramePayloadSize=MAX_MESSAGE_BYTES,
        maxMessagePayloadSize=MAX_MESSAGE_BYTES,
        autoPingInterval=0,  # the session pings, with clocks, and judges the line itself
        openHandshakeTimeout=OPEN_HANDSHAKE_TIMEOUT_S,
        closeHandshakeTimeout=CLOSE_HANDSHAKE_TIMEOUT_S,
        failByDrop=True,
    )


def _address(transport: Any) -> str:
    try:
        address = transport.getPeer()
        host, port = address.host, address.port
    except AttributeError:
        return "unknown"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class _Link:
    """The ``FrameTransport`` of one open WebSocket."""

    def __init__(self, protocol: _LinkProtocolMixin, peer: str, fingerprint: str | None) -> None:
        self._protocol = protocol
        self.peer = peer
        self.fingerprint = fingerprint

    def __repr__(self) -> str:
        return f"<police link WebSocket with {self.peer}>"

    def send_text(self, text: str) -> None:
        # After the close started the text is dropped: nothing was acknowledged, so the session sends it
        # again after the next resume.
        if self._protocol.state == WebSocketProtocol.STATE_OPEN:
            self._protocol.sendMessage(text.encode("utf-8"), isBinary=False)

    def close(self, reason: str) -> None:
        self._protocol.close_link(reason)


class _LinkProtocolMixin:
    """What the client and the server WebSocket share: messages to the endpoint, binary refused, closing
    bounded in time, and one account of why the connection ended."""

    #: Who is at the other end, in reasons for people: "the force" or "the hub".
    other_end = "the peer"
    endpoint: LinkEndpoint | None = None
    _closing_reason: str | None = None
    _drop_guard: Any = None
    _refusal: str | None = None
    _tls_failure: str | None = None

    def link(self) -> _Link:
        return _Link(self, _address(self.transport), peer_fingerprint(self.transport))

    def onMessage(self, payload: bytes, isBinary: bool) -> None:  # noqa: N802 - autobahn's name
        endpoint = self.endpoint
        if endpoint is None:
            return  # refused, closing
        if isBinary:
            self.factory.link_log.info("link_binary_refused", peer=_address(self.transport), size=len(payload))
            self.sendMessage(error_frame_text("malformed", BINARY_REFUSED_REASON).encode("utf-8"), isBinary=False)
            return
        # autobahn has checked the text is UTF-8 (RFC 6455 fails the connection otherwise).
        try:
            endpoint.text_received(payload.decode("utf-8"))
        except Exception:  # noqa: BLE001 - a fault in the session must not leave the link half-working
            self.factory.link_log.exception("link_message_failed", peer=_address(self.transport))
            self.close_link("the receiving end failed on a message", code=CLOSE_INTERNAL_ERROR)

    def close_link(self, reason: str, code: int = CLOSE_NORMAL) -> None:
        """The RFC 6455 close handshake, bounded: the connection is dropped if it is not over in time."""
        if self.state == WebSocketProtocol.STATE_OPEN:
            self._closing_reason = reason
            # sendCloseFrame, not sendClose: autobahn's sendClose allows applications 1000 and 3000-4999 only,
            # and RFC 6455 gives 1001 (going away) and 1008 (policy) the meanings used here.
            self.sendCloseFrame(code=code, reasonUtf8=encode_truncate(reason, 123), isReply=False)
        elif self.state in (WebSocketProtocol.STATE_CONNECTING, WebSocketProtocol.STATE_PROXY_CONNECTING):
            self._closing_reason = reason
            self.dropConnection(abort=True)

    def onCloseFrame(self, code: int, reasonRaw: bytes) -> bool | None:  # noqa: N802 - autobahn's name
        result = super().onCloseFrame(code, reasonRaw)  # type: ignore[misc]
        if not self.factory.isServer and self.state == WebSocketProtocol.STATE_CLOSING:
            # The close handshake is done; RFC 6455 has the server drop TCP. autobahn's own timer for a
            # server that does not is on txaio's (global) reactor, so it is off and this one stands in.
            self._arm_drop_guard()
        return result

    def _arm_drop_guard(self) -> None:
        if self._drop_guard is None:
            self._drop_guard = self.factory.reactor.callLater(CLOSE_HANDSHAKE_TIMEOUT_S, self._drop_late)

    def _drop_late(self) -> None:
        self._drop_guard = None
        self.wasClean = False
        self.dropConnection(abort=True)

    def connectionLost(self, reason: Failure) -> None:  # noqa: N802 - Twisted's name
        if self._drop_guard is not None:
            self._drop_guard.cancel()
            self._drop_guard = None
        # autobahn leaves its close handshake timer behind when the peer drops TCP without a close frame.
        if getattr(self, "closeHandshakeTimeoutCall", None) is not None:
            self.closeHandshakeTimeoutCall.cancel()
            self.closeHandshakeTimeoutCall = None
        self._tls_failure = _tls_reason(reason, self.other_end)
        super().connectionLost(reason)  # type: ignore[misc]
        endpoint, self.endpoint = self.endpoint, None
        if endpoint is not None:
            why = self._why_closed()
            self.factory.link_log.info("link_closed", peer=_address(self.transport), reason=why)
            endpoint.detach(why)
        else:
            self._never_opened(self._why_not_opened(reason))
        self._gone()

    def _never_opened(self, reason: str) -> None:
        raise NotImplementedError

    def _gone(self) -> None:
        """After the connection is lost and the endpoint told."""

    def _why_closed(self) -> str:
        if self._closing_reason is not None:
            return f"closed by this end: {self._closing_reason}"
        if self.remoteCloseCode is not None:
            said = f": {self.remoteCloseReason}" if self.remoteCloseReason else ""
            return f"closed by {self.other_end} (code {self.remoteCloseCode}{said})"
        if self._tls_failure is not None:
            return f"connection lost: {self._tls_failure}"
        if self.wasNotCleanReason:
            return f"connection lost: {self.wasNotCleanReason}"
        return "connection lost"

    def _why_not_opened(self, reason: Failure) -> str:
        if self._refusal is not None:
            return self._refusal
        if self._tls_failure is not None:
            return self._tls_failure
        if self._closing_reason is not None:
            return f"closed by this end before the WebSocket opened: {self._closing_reason}"
        if getattr(self, "wasOpenHandshakeTimeout", False):
            return (f"timed out: the TLS and WebSocket handshakes with {self.other_end} took longer than "
                    f"{OPEN_HANDSHAKE_TIMEOUT_S:g} s")
        if self.wasNotCleanReason:
            return f"the WebSocket handshake failed: {self.wasNotCleanReason}"
        return f"{self.other_end} closed the connection before the WebSocket opened"


def _tls_reason(reason: Failure, other_end: str) -> str | None:
    """Why the TLS handshake failed, for people; None when it did not."""
    if reason.check(CertificateRefused):
        return str(reason.value)  # tls.py's own words: whose certificate and why
    if not reason.check(SSL.Error):
        return None
    failures = reason.value.args[0] if reason.value.args else []
    texts = [entry[2] for entry in failures if isinstance(entry, tuple) and len(entry) == 3 and entry[2]]
    detail = "; ".join(texts) or str(reason.value)
    if "alert" in detail:
        # The other end sent an alert: it refused this end's certificate (or the handshake).
        if "certificate required" in detail:
            return f"{other_end} requires a client certificate and got none it accepts ({detail})"
        return f"{other_end} refused the TLS handshake, most likely this end's certificate ({detail})"
    if "certificate verify failed" in detail:
        return f"{other_end}'s certificate was not trusted: {detail}"
    if "peer did not return a certificate" in detail:
        return f"{other_end} presented no certificate ({detail})"
    return f"the TLS handshake failed: {detail}"


# --- the hub's side: a client that reconnects ----------------------------------------------------------------


class _ClientProtocol(_LinkProtocolMixin, WebSocketClientProtocol):
    other_end = "the force"

    def onConnect(self, response: Any) -> None:  # noqa: N802 - autobahn's name
        if response.protocol != SUBPROTOCOL:
            self._refusal = (f"the force did not agree to sub-protocol {SUBPROTOCOL} "
                             f"(it answered {response.protocol or 'none'})")
            raise ConnectionDeny(ConnectionDeny.BAD_REQUEST, self._refusal)

    def onOpen(self) -> None:  # noqa: N802 - autobahn's name
        link = self.link()
        self.factory.service._opened(self, link)

    def _never_opened(self, reason: str) -> None:
        self.factory.service._failed(reason)

    def _gone(self) -> None:
        self.factory.service._closed(self)


class _ClientFactory(WebSocketClientFactory):
    protocol = _ClientProtocol
    noisy = False  # "Starting factory ..." on every reconnect says nothing link_opened does not

    def __init__(self, *, url: str, reactor: Any, service: LinkClientService, log: Any) -> None:
        super().__init__(url=url, protocols=[SUBPROTOCOL], reactor=reactor)
        self.service = service
        self.link_log = log
        _configure(self, reactor)
        # Off: txaio would schedule it on the global reactor; _LinkProtocolMixin.onCloseFrame stands in.
        self.setProtocolOptions(serverConnectionDropTimeout=0)


@implementer(IStreamClientEndpoint)
class _ReportingEndpoint:
    """An endpoint that tells the service why a connection attempt failed before it reached TLS."""

    def __init__(self, inner: Any, failed: Callable[[Failure], None]) -> None:
        self._inner = inner
        self._failed = failed

    def connect(self, factory: Any) -> Deferred[Any]:
        connecting: Deferred[Any] = self._inner.connect(factory)

        def report(failure: Failure) -> Failure:
            self._failed(failure)
            return failure

        return connecting.addErrback(report)


def connect_failure_reason(failure: Failure, host: str) -> str | None:
    """A failed TCP connection, for people; None when the attempt was cancelled (the service is stopping)."""
    if failure.check(CancelledError, internet_error.ConnectingCancelledError):
        return None
    if failure.check(internet_error.ConnectionRefusedError):
        return "connection refused"
    if failure.check(internet_error.TimeoutError, internet_error.TCPTimedOutError):
        return "timed out"
    if failure.check(internet_error.DNSLookupError):
        return f"the force's address {host} could not be resolved"
    if failure.check(internet_error.NoRouteError):
        return "no route to the force's address"
    return f"could not connect: {failure.getErrorMessage()}"


class LinkClientService(Service):
    """The hub's WebSocket to the force, kept up: one connection at a time, reconnecting with back-off.

    An open WebSocket is handed to ``endpoint`` (``attach``); when it goes, ``detach(reason)`` and a new
    attempt after a back-off delay (``backoff_delay``: the waits grow from ``backoff_initial_s`` to
    ``backoff_max_s`` while attempts fail, and start again from the first once a WebSocket opens). An attempt
    that fails before the WebSocket opens (TCP, TLS, the HTTP upgrade) is told to ``on_failure`` with a
    reason for people. ``stopService`` cancels an attempt, closes an open WebSocket with the close handshake,
    and leaves no timer behind.
    """

    def __init__(self, *, reactor: Any, url: str, tls_options: Any, endpoint: LinkEndpoint, log: Any,
                 rng: random.Random, backoff_initial_s: float = 1.0, backoff_max_s: float = 60.0,
                 connect_timeout_s: float = 10.0, on_failure: Callable[[str], None] = lambda reason: None) -> None:
        parts = urlsplit(url)
        if parts.scheme != "wss" or not parts.hostname:
            raise ValueError(f"the link's address must be wss://host[:port]/path, not {url!r}")
        self._reactor = reactor
        self._host = parts.hostname
        self._endpoint = endpoint
        self._log = log.bind(url=url)
        self._rng = rng
        self._backoff_initial_s = backoff_initial_s
        self._backoff_max_s = backoff_max_s
        self._on_failure = on_failure
        self._waits = 0
        self._stopping = False
        self._open: _ClientProtocol | None = None
        self._lost: list[Deferred[None]] = []
        self._factory = _ClientFactory(url=url, reactor=reactor, service=self, log=self._log)
        tcp = HostnameEndpoint(reactor, self._host, parts.port or 443, timeout=connect_timeout_s)
        connector = _ReportingEndpoint(wrapClientTLS(tls_options, tcp), self._connect_failed)
        self._clients = ClientService(connector, self._factory, retryPolicy=self._next_delay, clock=reactor)

    @property
    def connected(self) -> bool:
        """Whether a WebSocket to the force is open now."""
        return self._open is not None

    def startService(self) -> None:  # noqa: N802 - Twisted's name
        super().startService()
        self._stopping = False
        self._waits = 0
        self._clients.startService()

    def stopService(self) -> Deferred[None]:  # noqa: N802 - Twisted's name
        super().stopService()
        return Deferred.fromCoroutine(self._stop())

    async def _stop(self) -> None:
        self._stopping = True
        protocol = self._open
        if protocol is not None:
            lost: Deferred[None] = Deferred()
            self._lost.append(lost)
            protocol.close_link("the hub is stopping", code=CLOSE_GOING_AWAY)
            await lost
        await self._clients.stopService()

    # --- from the connection's protocol ---

    def _opened(self, protocol: _ClientProtocol, link: _Link) -> None:
        if self._stopping:
            protocol.close_link("the hub is stopping", code=CLOSE_GOING_AWAY)
            return
        self._waits = 0
        self._open = protocol
        protocol.endpoint = self._endpoint
        self._log.info("link_opened", peer=link.peer, fingerprint=link.fingerprint)
        self._endpoint.attach(link)

    def _closed(self, protocol: _ClientProtocol) -> None:
        if self._open is protocol:
            self._open = None
        lost, self._lost = self._lost, []
        for waiting in lost:
            # Later, not now: ClientService learns of the loss after this protocol, and must before it stops.
            self._reactor.callLater(0, waiting.callback, None)

    def _failed(self, reason: str) -> None:
        if self._stopping:
            return
        self._log.warning("link_connect_failed", reason=reason)
        self._on_failure(reason)

    def _connect_failed(self, failure: Failure) -> None:
        reason = connect_failure_reason(failure, self._host)
        if reason is not None:
            self._failed(reason)

    def _next_delay(self, _attempt: int) -> float:
        # ClientService counts attempts from its TCP connection; a TLS or handshake failure comes after that,
        # so the count that matters (failures since a WebSocket last opened) is kept here.
        self._waits += 1
        delay = backoff_delay(self._waits, initial_s=self._backoff_initial_s, max_s=self._backoff_max_s,
                              rng=self._rng)
        if not self._stopping:
            self._log.info("link_reconnect_scheduled", attempt=self._waits, delay_s=round(delay, 3))
        return delay


# --- the force's side (and the reference peer's): a server ----------------------------------------------------


class _ServerProtocol(_LinkProtocolMixin, WebSocketServerProtocol):
    other_end = "the hub"

    def onConnect(self, request: Any) -> str:  # noqa: N802 - autobahn's name
        if SUBPROTOCOL not in request.protocols:
            self._refusal = f"refused: the client did not offer sub-protocol {SUBPROTOCOL}"
            raise ConnectionDeny(ConnectionDeny.BAD_REQUEST, f"sub-protocol {SUBPROTOCOL} required")
        return SUBPROTOCOL

    def onOpen(self) -> None:  # noqa: N802 - autobahn's name
        link = self.link()
        log = self.factory.link_log
        try:
            endpoint = self.factory.endpoint_for(link)
        except Exception:  # noqa: BLE001 - the connection is refused, the server carries on
            log.exception("link_endpoint_failed", peer=link.peer)
            self._refusal = "refused: the server failed to take the connection"
            self.close_link("the server failed to take the connection", code=CLOSE_INTERNAL_ERROR)
            return
        if endpoint is None:
            self._refusal = "refused by the server"
            log.info("link_refused", peer=link.peer, fingerprint=link.fingerprint, reason=self._refusal)
            self.close_link("connection refused", code=CLOSE_POLICY_VIOLATION)
            return
        self.endpoint = endpoint
        log.info("link_opened", peer=link.peer, fingerprint=link.fingerprint)
        endpoint.attach(link)

    def _never_opened(self, reason: str) -> None:
        self.factory.link_log.info("link_not_opened", peer=_address(self.transport), reason=reason)


class _ServerFactory(WebSocketServerFactory):
    protocol = _ServerProtocol
    noisy = False

    def __init__(self, *, reactor: Any, endpoint_for: Callable[[FrameTransport], LinkEndpoint | None],
                 log: Any) -> None:
        super().__init__(protocols=[SUBPROTOCOL], server="cctv-hub police link", reactor=reactor)
        self.endpoint_for = endpoint_for
        self.link_log = log
        _configure(self, reactor)
        self.setProtocolOptions(webStatus=False)  # a plain HTTP GET gets an error, not autobahn's status page


async def listen_link(reactor: Any, *, port: int, interface: str, tls_options: Any,
                      endpoint_for: Callable[[FrameTransport], LinkEndpoint | None], log: Any) -> IListeningPort:
    """Accept police link WebSockets over TLS on ``interface:port`` (0: any free port).

    ``endpoint_for(transport)`` is asked for each WebSocket when it opens and returns the endpoint to attach,
    or None to refuse it (closed with code 1008). Stopping the returned port stops accepting; open
    connections stay until their endpoints close them.
    """
    factory = _ServerFactory(reactor=reactor, endpoint_for=endpoint_for, log=log)
    endpoint = SSL4ServerEndpoint(reactor, port, tls_options, interface=interface)
    return await endpoint.listen(factory)
