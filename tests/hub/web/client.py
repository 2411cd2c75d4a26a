"""Test clients for a real listening web server: HTTP through Twisted's Agent, WebSocket through wsproto.

The WebSocket client is a plain protocol speaking wsproto, because Twisted's own client cannot send the
session cookie or an Origin header; it also records the close code the server sends.
"""

from __future__ import annotations

import io
import json
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlsplit

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.protocol import Factory, Protocol
from twisted.web.client import Agent, FileBodyProducer, HTTPConnectionPool
from twisted.web.http_headers import Headers
from twisted.web.iweb import IPolicyForHTTPS
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Ping,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)
from zope.interface import implementer


class _Collect(Protocol):
    def __init__(self, done: Deferred) -> None:
        self._done, self._parts = done, []

    def dataReceived(self, data: bytes) -> None:  # noqa: N802
        self._parts.append(data)

    def connectionLost(self, reason: Any) -> None:  # noqa: N802
        self._done.callback(b"".join(self._parts))


def _read_body(response: Any) -> Deferred:
    done: Deferred[bytes] = Deferred()
    response.deliverBody(_Collect(done))
    return done


class Reply:
    """A response, read whole."""

    def __init__(self, status: int, headers: Headers, body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name: str) -> str | None:
        values = self.headers.getRawHeaders(name)
        return values[-1].decode() if values and isinstance(values[-1], bytes) else (values[-1] if values else None)

    def all(self, name: str) -> list[str]:
        return [v.decode() if isinstance(v, bytes) else v for v in self.headers.getRawHeaders(name) or []]

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def error_code(self) -> str | None:
        try:
            return self.json["error"]["code"]
        except (ValueError, KeyError, TypeError):
            return None

    def __repr__(self) -> str:
        return f"Reply({self.status}, {self.body[:300]!r})"


@implementer(IPolicyForHTTPS)
class TrustOne:
    """Trust exactly one (self-signed) certificate, for the TLS test."""

    def __init__(self, pem: bytes, hostname: str = "localhost") -> None:
        from twisted.internet import ssl

        self._options = ssl.optionsForClientTLS(hostname, trustRoot=ssl.Certificate.loadPEM(pem))

    def creatorForNetloc(self, hostname: bytes, port: int) -> Any:  # noqa: N802
        return self._options


class WebClient:
    """One browser-like client: keeps the session cookie, sends Origin, and the CSRF token when it has one."""

    def __init__(self, base_url: str, *, policy: Any = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.cookie: str | None = None
        self.csrf: str | None = None
        self.origin: str | None = None
        pool = HTTPConnectionPool(reactor, persistent=False)
        self.agent = Agent(reactor, pool=pool) if policy is None else Agent(reactor, policy, pool=pool)

    async def request(self, method: str, path: str, body: Any = None, *, headers: dict[str, str] | None = None,
                      raw: bytes | None = None, csrf: bool = True, cookie: bool = True) -> Reply:
        sent = Headers()
        for name, value in (headers or {}).items():
            sent.addRawHeader(name, value)
        if cookie and self.cookie is not None:
            sent.addRawHeader("Cookie", f"hub_session={self.cookie}")
        if csrf and self.csrf is not None and method not in ("GET", "HEAD") and not sent.hasHeader("X-CSRF-Token"):
            sent.addRawHeader("X-CSRF-Token", self.csrf)
        if self.origin is not None and not sent.hasHeader("Origin"):
            sent.addRawHeader("Origin", self.origin)
        producer = None
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        if data is not None:
            if not sent.hasHeader("Content-Type"):
                sent.addRawHeader("Content-Type", "application/json")
            producer = FileBodyProducer(io.BytesIO(data))
        response = await self.agent.request(method.encode(), (self.base_url + path).encode(), sent, producer)
        content = await _read_body(response)
        for header in response.headers.getRawHeaders("set-cookie") or []:
            parsed = SimpleCookie(header.decode() if isinstance(header, bytes) else header)
            if "hub_session" in parsed:
                morsel = parsed["hub_session"]
                self.cookie = None if morsel["max-age"] == "0" else morsel.value
        return Reply(response.code, response.headers, content)

    async def login(self, username: str, password: str = "correct horse battery") -> Reply:
        reply = await self.request("POST", "/api/session", {"username": username, "password": password})
        if reply.status == 200:
            self.csrf = reply.json["csrf_token"]
        return reply

    def get(self, path: str, **kwargs: Any) -> Any:
        return Deferred.fromCoroutine(self.request("GET", path, **kwargs))

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return Deferred.fromCoroutine(self.request("POST", path, {} if body is None else body, **kwargs))


class WsClient(Protocol):
    """A WebSocket client that records every message and how the connection closed."""

    def __init__(self, host: str, target: str, headers: list[tuple[bytes, bytes]]) -> None:
        self._host, self._target, self._headers = host, target, headers
        self._ws = WSConnection(ConnectionType.CLIENT)
        self._parts: list[str] = []
        self.messages: list[dict[str, Any]] = []
        self.accepted: Deferred[WsClient] = Deferred()
        self.closed: Deferred[int | None] = Deferred()
        self.close_code: int | None = None
        self.rejected_status: int | None = None
        self._waiters: list[tuple[Any, Deferred[None]]] = []
        self.paused_reading = False

    def connectionMade(self) -> None:  # noqa: N802
        self.transport.write(self._ws.send(Request(host=self._host, target=self._target,
                                                   extra_headers=self._headers)))

    def dataReceived(self, data: bytes) -> None:  # noqa: N802
        self._ws.receive_data(data)
        for event in self._ws.events():
            if isinstance(event, AcceptConnection):
                self.accepted.callback(self)
            elif isinstance(event, RejectConnection):
                self.rejected_status = event.status_code
                if not self.accepted.called:
                    self.accepted.errback(ConnectionError(f"rejected with {event.status_code}"))
            elif isinstance(event, RejectData):
                pass
            elif isinstance(event, TextMessage):
                self._parts.append(event.data)
                if event.message_finished:
                    self.messages.append(json.loads("".join(self._parts)))
                    self._parts = []
                    self._check()
            elif isinstance(event, Ping):
                self.transport.write(self._ws.send(event.response()))
            elif isinstance(event, CloseConnection):
                self.close_code = event.code
                try:
                    self.transport.write(self._ws.send(event.response()))
                except Exception:  # noqa: BLE001 - already closing
                    pass
                self.transport.loseConnection()

    def connectionLost(self, reason: Any) -> None:  # noqa: N802
        if not self.accepted.called:
            self.accepted.errback(ConnectionError("closed before the upgrade"))
        if not self.closed.called:
            self.closed.callback(self.close_code)
        self._check()

    def events(self) -> list[dict[str, Any]]:
        return [event for message in self.messages if message["type"] == "events" for event in message["events"]]

    def seqs(self) -> list[int]:
        return [event["seq"] for event in self.events()]

    def when(self, predicate: Any) -> Deferred[None]:
        """Fires once ``predicate(self)`` holds (checked after every message)."""
        waiter: Deferred[None] = Deferred()
        self._waiters.append((predicate, waiter))
        self._check()
        return waiter

    def _check(self) -> None:
        for entry in tuple(self._waiters):
            predicate, waiter = entry
            if predicate(self):
                self._waiters.remove(entry)
                waiter.callback(None)

    def close(self) -> None:
        self.transport.write(self._ws.send(CloseConnection(1000)))


async def open_stream(base_url: str, query: str = "", *, cookie: str | None, origin: str | None = "same",
                      extra: list[tuple[bytes, bytes]] = ()) -> WsClient:
    parts = urlsplit(base_url)
    host = f"{parts.hostname}:{parts.port}"
    headers = list(extra)
    if cookie is not None:
        headers.append((b"cookie", f"hub_session={cookie}".encode()))
    if origin is not None:
        headers.append((b"origin", (base_url if origin == "same" else origin).encode()))
    client = WsClient(host, "/api/stream" + query, headers)
    endpoint = TCP4ClientEndpoint(reactor, parts.hostname, parts.port)
    await endpoint.connect(Factory.forProtocol(lambda: client))
    return client
