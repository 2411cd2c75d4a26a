"""HTTP to cameras on the hub's reactor: SOAP posts and snapshot gets, bounded in size and time.

One ``HttpTransport`` serves every camera. It is Twisted's ``Agent`` over a persistent connection pool, so
a thousand cameras cost a thousand sockets and no threads, and a camera's next request reuses the
connection its last one left open. Every exchange has a deadline (``timeout_s``, covering connect, request
and reply) and every reply a size cap: the body is read piece by piece and the connection dropped as soon
as the cap is passed, so a camera (or something pretending to be one) cannot fill the hub's memory.

HTTP Digest (RFC 7616) is answered when a camera asks for it with a 401: the request is sent once more
with an ``Authorization`` header. The challenge is kept per host and reused with an incrementing nonce
count, so later requests carry the header from the start instead of costing a 401 each. Basic is never
answered: it would send the password in the clear.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

from attrs import frozen
from twisted.internet import error as internet_error
from twisted.internet.defer import CancelledError, Deferred, succeed
from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure
from twisted.web.client import (
    URI,
    Agent,
    BrowserLikePolicyForHTTPS,
    HTTPConnectionPool,
    RequestNotSent,
    RequestTransmissionFailed,
    ResponseDone,
    ResponseFailed,
    ResponseNeverReceived,
)
from twisted.web.error import SchemeNotSupported
from twisted.web.http import PotentialDataLoss
from twisted.web.http_headers import Headers
from twisted.web.iweb import UNKNOWN_LENGTH, IAgentEndpointFactory, IBodyProducer
from zope.interface import implementer

from hub.secrets import Secret
from plugins.onvif.codec import digest as http_digest

#: SOAP 1.2 says the action travels as a parameter of the media type (RFC 3902), not in a SOAPAction header.
SOAP_CONTENT_TYPE = "application/soap+xml; charset=utf-8"

#: Idle persistent connections are closed by the hub after this long. Cameras close theirs after 5 to 60 s;
#: a short limit keeps the hub from sending on a connection the camera is just closing.
IDLE_CONNECTION_S = 20.0


class TransportError(Exception):
    """An exchange that gave no usable reply. Messages name the URL's host, never credentials."""


class ConnectionFailed(TransportError):
    """No connection could be made (refused, unreachable, connect time-out, name not found)."""


class Timeout(TransportError):
    """The whole exchange took longer than its deadline."""


class ConnectionClosed(TransportError):
    """The camera closed the connection before its reply was complete. ``before_reply``: before any of
    it arrived (the camera may not have seen the request at all, or had nothing to say: quirk 6)."""

    def __init__(self, message: str, *, before_reply: bool) -> None:
        super().__init__(message)
        self.before_reply = before_reply


class ReplyTooLarge(TransportError):
    """The reply passed the size cap; the connection was dropped."""


class HttpError(TransportError):
    """The camera answered with a status other than 2xx. ``body`` is the (capped) reply, since a SOAP
    fault arrives as a 400 or 500 with the fault in it."""

    def __init__(self, status: int, body: bytes = b"", content_type: str | None = None,
                 date: str | None = None) -> None:
        super().__init__(f"HTTP status {status}")
        self.status = status
        self.body = body
        self.content_type = content_type
        #: The reply's Date header: the camera's clock, when nothing else tells it (see client.sync_clock).
        self.date = date


@frozen
class DigestCredentials:
    """Who the hub is when a camera asks for HTTP Digest."""

    username: str
    password: Secret


@frozen
class _Target:
    """A URL as the agent wants it, with the parts digest and the challenge cache use."""

    uri: bytes
    host_key: tuple[bytes, bytes, int]
    request_target: str  # path and query, what digest signs as "uri"


@functools.lru_cache(maxsize=8192)
def _target(url: str) -> _Target:
    # Cached: a camera has a handful of service URLs and one pull point, used over and over.
    try:
        raw = url.encode("ascii")
        parsed = URI.fromBytes(raw)
    except (UnicodeEncodeError, ValueError) as error:
        raise TransportError(f"unusable URL ({type(error).__name__})") from None
    if parsed.scheme not in (b"http", b"https") or not parsed.host:
        raise TransportError("unusable URL (not http or https with a host)")
    return _Target(raw, (parsed.scheme, parsed.host, parsed.port), parsed.originForm.decode("ascii"))


@implementer(IBodyProducer)
class _BytesBody:
    """A request body already in memory. (``FileBodyProducer`` would use the global cooperator.)"""

    def __init__(self, body: bytes) -> None:
        self._body = body
        self.length = len(body)

    def startProducing(self, consumer: Any) -> Deferred[None]:
        consumer.write(self._body)
        return succeed(None)

    def pauseProducing(self) -> None:
        pass

    def resumeProducing(self) -> None:
        pass

    def stopProducing(self) -> None:
        pass


class _CappedBody(Protocol):
    """Collects a reply body up to ``limit`` bytes; past it, drops the connection and fails."""

    def __init__(self, limit: int, expected: int | None) -> None:
        self._limit = limit
        self._expected = expected
        self.done: Deferred[bytes] = Deferred(self.abort)  # cancelled on time-out: drop the connection
        self._parts: list[bytes] = []
        self._size = 0
        self._settled = False

    def connectionMade(self) -> None:
        if self._expected is not None and self._expected > self._limit:
            self._fail(ReplyTooLarge(f"reply of {self._expected} bytes announced, over the {self._limit}-byte cap"))

    def dataReceived(self, data: bytes) -> None:
        if self._settled:
            return
        self._size += len(data)
        if self._size > self._limit:
            self._fail(ReplyTooLarge(f"reply passed the {self._limit}-byte cap"))
            return
        self._parts.append(data)

    def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
        if self._settled:
            return
        self._settled = True
        # PotentialDataLoss: a reply with neither length nor chunking ends when the camera closes the
        # connection, which is how HTTP/1.0-style cameras say "that was all".
        if reason is None or reason.check(ResponseDone, PotentialDataLoss):
            self.done.callback(b"".join(self._parts))
        else:
            self.done.errback(
                ConnectionClosed("camera closed the connection in the middle of its reply", before_reply=False))

    def abort(self, _deferred: Any = None) -> None:
        """Stop reading and drop the connection (the Deferred's canceller, and past the cap)."""
        self._settled = True
        self._parts = []
        if self.transport is not None:
            self.transport.stopProducing()  # the response's transport: stops reading and closes

    def _fail(self, error: TransportError) -> None:
        self.abort()
        self.done.errback(error)


@implementer(IAgentEndpointFactory)
class _CachedEndpoints:
    """Endpoints per scheme, host and port, made once: the agent's own factory makes a new one for every
    request, IDNA-encoding the host each time, which cost more than the rest of a long poll's bookkeeping."""

    _MAX = 8192

    def __init__(self, reactor: Any, connect_timeout_s: float, tls_policy: Any) -> None:
        self._reactor = reactor
        self._connect_timeout_s = connect_timeout_s
        self._tls_policy = tls_policy
        self._endpoints: dict[tuple[bytes, bytes, int], Any] = {}

    def endpointForURI(self, uri: URI) -> Any:
        key = (uri.scheme, uri.host, uri.port)
        endpoint = self._endpoints.get(key)
        if endpoint is None:
            if uri.scheme not in (b"http", b"https"):
                raise SchemeNotSupported(f"unsupported scheme {uri.scheme!r}")
            endpoint = HostnameEndpoint(self._reactor, uri.host.decode("ascii"), uri.port,
                                        timeout=self._connect_timeout_s)
            if uri.scheme == b"https":
                endpoint = wrapClientTLS(self._tls_policy.creatorForNetloc(uri.host, uri.port), endpoint)
            if len(self._endpoints) >= self._MAX:  # pull-point hosts come and go; never grow without bound
                self._endpoints.clear()
            self._endpoints[key] = endpoint
        return endpoint


@frozen
class _Reply:
    status: int
    headers: Headers
    body: bytes

    @property
    def content_type(self) -> str | None:
        return self.header(b"content-type")

    def header(self, name: bytes) -> str | None:
        values = self.headers.getRawHeaders(name)
        return values[0].decode("latin-1") if values else None


class _DigestState:
    """The last Digest challenge a host sent and how many times its nonce has been used."""

    __slots__ = ("challenge", "nonce_count")

    def __init__(self, challenge: Any) -> None:
        self.challenge = challenge
        self.nonce_count = 0


class HttpTransport:
    """SOAP and snapshot HTTP for every camera (see the module)."""

    def __init__(self, reactor: Any, *, max_reply_bytes: int, connect_timeout_s: float, pool_per_host: int = 2,
                 random_bytes: Callable[[int], bytes] = os.urandom, tls_policy: Any = None) -> None:
        self._reactor = reactor
        self.max_reply_bytes = max_reply_bytes
        self._random_bytes = random_bytes
        self._pool = HTTPConnectionPool(reactor, persistent=True)
        self._pool.maxPersistentPerHost = pool_per_host
        self._pool.cachedConnectionTimeout = IDLE_CONNECTION_S
        # POSTs are never retried by the pool anyway; saying so keeps GETs (snapshots) the same.
        self._pool.retryAutomatically = False
        endpoints = _CachedEndpoints(reactor, connect_timeout_s, tls_policy or BrowserLikePolicyForHTTPS())
        self._agent = Agent.usingEndpointFactory(reactor, endpoints, pool=self._pool)
        # Many embedded camera servers speak HTTP/1.0: they close the connection after each reply without
        # saying "Connection: close", and Twisted's client would keep the socket for the next request, which
        # then dies on it. Hosts seen answering so get a connection per request instead.
        self._one_shot_agent = Agent.usingEndpointFactory(reactor, endpoints,
                                                          pool=HTTPConnectionPool(reactor, persistent=False))
        self._closing_hosts: set[tuple[bytes, bytes, int]] = set()
        self._challenges: dict[tuple[bytes, bytes, int], _DigestState] = {}
        self._soap_headers: dict[str | None, Headers] = {}

    async def post(self, url: str, body: bytes, *, action: str | None, timeout_s: float,
                   digest: DigestCredentials | None) -> bytes:
        """The body of the camera's 2xx reply to a SOAP 1.2 request; ``HttpError`` for any other status."""
        reply = await self._bounded(self._exchange(b"POST", url, self._soap_headers_for(action), body, digest,
                                                   self.max_reply_bytes), timeout_s)
        return reply.body

    async def get(self, url: str, *, timeout_s: float, digest: DigestCredentials | None,
                  max_bytes: int) -> tuple[str, bytes]:
        """The content type and body of a 2xx reply to a GET (a snapshot)."""
        reply = await self._bounded(self._exchange(b"GET", url, None, None, digest, max_bytes), timeout_s)
        return reply.content_type or "application/octet-stream", reply.body

    def close(self) -> Deferred[None]:
        """Close the idle connections; fires when they are closed."""
        return self._pool.closeCachedConnections()

    # --- one exchange ----------------------------------------------------------------------------------

    def _soap_headers_for(self, action: str | None) -> Headers:
        # Built once per action: the agent copies the headers before adding its own.
        headers = self._soap_headers.get(action)
        if headers is None:
            content_type = SOAP_CONTENT_TYPE if action is None else f'{SOAP_CONTENT_TYPE}; action="{action}"'
            headers = Headers({b"content-type": [content_type.encode("ascii")]})
            self._soap_headers[action] = headers
        return headers

    async def _bounded(self, exchange: Any, timeout_s: float) -> _Reply:
        running = Deferred.fromCoroutine(exchange)
        timed_out = False

        def time_out() -> None:
            nonlocal timed_out
            timed_out = True
            running.cancel()

        timer = self._reactor.callLater(timeout_s, time_out)
        try:
            return await running
        except CancelledError:
            if timed_out:
                raise Timeout(f"no complete reply within {timeout_s:g} s") from None
            raise
        finally:
            if timer.active():
                timer.cancel()

    async def _exchange(self, method: bytes, url: str, headers: Headers | None, body: bytes | None,
                        digest: DigestCredentials | None, max_bytes: int) -> _Reply:
        target = _target(url)
        state = self._challenges.get(target.host_key) if digest is not None else None
        reply = await self._send(method, target, headers, body, max_bytes,
                                 self._authorization(state, digest, method, target) if state else None)
        if reply.status == 401 and digest is not None:
            challenge = self._challenge_in(reply.headers)
            if challenge is None:
                self._challenges.pop(target.host_key, None)
            else:
                state = self._challenges[target.host_key] = _DigestState(challenge)
                reply = await self._send(method, target, headers, body, max_bytes,
                                         self._authorization(state, digest, method, target))
                if reply.status == 401:
                    # Refused with a fresh challenge: the credentials are wrong, so stop sending them unasked.
                    self._challenges.pop(target.host_key, None)
        if not 200 <= reply.status < 300:
            raise HttpError(reply.status, reply.body, reply.content_type, reply.header(b"date"))
        return reply

    async def _send(self, method: bytes, target: _Target, headers: Headers | None, body: bytes | None,
                    max_bytes: int, authorization: str | None) -> _Reply:
        if authorization is not None:
            headers = headers.copy() if headers is not None else Headers()
            headers.setRawHeaders(b"authorization", [authorization.encode("latin-1")])
        agent = self._one_shot_agent if target.host_key in self._closing_hosts else self._agent
        try:
            response = await agent.request(method, target.uri, headers, _BytesBody(body) if body is not None else None)
        except CancelledError:
            raise
        except (internet_error.ConnectError, internet_error.DNSLookupError) as error:
            raise ConnectionFailed(f"cannot connect ({_describe(error)})") from None
        except Exception as error:  # noqa: BLE001 - anything the agent raises is a failed exchange
            if _wraps(error, CancelledError):  # the deadline (or the caller) cancelled the request
                raise CancelledError() from None
            if _is_closed(error):
                raise ConnectionClosed("camera closed the connection before replying", before_reply=True) from None
            raise TransportError(f"request failed ({_describe(error)})") from None
        if _closes_after_reply(response):
            self._closing_hosts.add(target.host_key)
        expected = None if response.length is UNKNOWN_LENGTH else response.length
        reader = _CappedBody(max_bytes, expected)
        response.deliverBody(reader)
        return _Reply(response.code, response.headers, await reader.done)

    # --- digest ----------------------------------------------------------------------------------------

    @staticmethod
    def _challenge_in(headers: Headers) -> Any:
        # A camera may offer several; SHA-256 is preferred over MD5 when both are there.
        found = []
        for raw in headers.getRawHeaders(b"www-authenticate", ()):
            challenge = http_digest.parse_challenge(raw.decode("latin-1"))
            if challenge is not None:
                found.append(challenge)
        for challenge in found:
            if challenge.algorithm.upper().startswith("SHA-256"):
                return challenge
        return found[0] if found else None

    def _authorization(self, state: _DigestState, credentials: DigestCredentials | None, method: bytes,
                       target: _Target) -> str | None:
        if credentials is None:
            return None
        state.nonce_count += 1
        try:
            return http_digest.authorization(
                state.challenge, username=credentials.username, password=credentials.password.reveal(),
                method=method.decode("ascii"), uri=target.request_target, nc=state.nonce_count,
                cnonce=self._random_bytes(8).hex(),
            )
        except ValueError as error:  # a username with control characters; the message names no value
            raise TransportError(f"cannot answer the camera's digest challenge ({error})") from None


def _closes_after_reply(response: Any) -> bool:
    """An HTTP/1.0 reply without ``Connection: keep-alive``: the server closes after it."""
    if tuple(response.version[1:]) != (1, 0):
        return False
    connection = b",".join(response.headers.getRawHeaders(b"connection", ())).lower()
    return b"keep-alive" not in connection


def _wraps(error: BaseException, kind: type) -> bool:
    """True if the agent's wrapped exception (ResponseFailed and kin) was caused by ``kind``."""
    reasons = getattr(error, "reasons", None) or ()
    return any(reason.check(kind) for reason in reasons)


def _is_closed(error: BaseException) -> bool:
    """True for the agent's ways of saying the connection went away before the reply was complete."""
    if isinstance(error, RequestNotSent):
        return True
    if isinstance(error, (ResponseNeverReceived, RequestTransmissionFailed, ResponseFailed)):
        return any(reason.check(internet_error.ConnectionDone, internet_error.ConnectionLost)
                   for reason in error.reasons)
    return False


def _describe(error: BaseException) -> str:
    # Twisted's messages are about sockets, never about credentials; keep them short.
    text = str(error) or type(error).__name__
    return text if len(text) <= 160 else text[:159] + "…"
