"""A lean HTTP/1.1 client on the hub's reactor: prebuilt requests over pooled keep-alive connections.

The camera transport (transport.py) sends one request shape over and over: a SOAP POST to a handful of
URLs per camera, most of them the long poll of a pull point. Twisted's ``Agent`` spent several times the
rest of the hub's work per event on it (a ``Headers`` object and a producer per request, headers parsed line
by line through a ``LineReceiver``, a chain of Deferreds per response). Here the caller hands over the
request as bytes, written in one go, and the reply is read by one small state machine: the status line and
headers split at once when the blank line arrives, then the body by ``Content-Length``, chunked, or until
the camera closes (HTTP/1.0). The size cap is enforced while reading (the connection is dropped as soon as
it is passed, or at once when a larger length is announced), and every request has a deadline that aborts
its connection.

Connections are kept per (scheme, host, port) while the camera keeps them open: an HTTP/1.1 reply without
``Connection: close``, or an HTTP/1.0 one with ``Connection: keep-alive``. Anything else is closed after its
reply, so an HTTP/1.0 camera that hangs up after each reply gets a fresh connection each time instead of a
request written on a socket it is closing. An idle connection the camera closes leaves the pool at once; one
idle longer than ``idle_timeout_s`` is closed by the hub. Nothing is ever sent twice here: whether a request
may be repeated after a connection closed under it is the caller's decision (``ConnectionClosed.before_reply``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet import error as internet_error
from twisted.internet import tcp
from twisted.internet.defer import Deferred, DeferredList, succeed
from twisted.internet.protocol import Factory, Protocol
from twisted.python.failure import Failure


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


#: The status line and headers of a reply may not be longer than this (they are not part of the body cap).
MAX_HEAD_BYTES = 64 * 1024
#: A chunk-size line (with extensions) or trailer line may not be longer than this.
MAX_CHUNK_LINE_BYTES = 4096

Origin = tuple[bytes, bytes, int]  # scheme, host, port


class Response:
    """A complete reply: status, HTTP minor version, headers as (lower-case name, value) pairs, body."""

    __slots__ = ("body", "headers", "minor", "status")

    def __init__(self, status: int, minor: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.status = status
        self.minor = minor
        self.headers = headers
        self.body = body

    def header(self, name: bytes) -> str | None:
        """The first value of a header (``name`` in lower case), as text."""
        for key, value in self.headers:
            if key == name:
                return value.decode("latin-1")
        return None

    def header_values(self, name: bytes) -> list[str]:
        return [value.decode("latin-1") for key, value in self.headers if key == name]


# Reading states of a connection.
_IDLE, _HEAD, _LENGTH, _CHUNKED, _UNTIL_CLOSE = range(5)
# Chunked sub-states.
_CHUNK_SIZE, _CHUNK_DATA, _CHUNK_END, _TRAILER = range(4)


class _Request:
    """One request in flight: its bytes, cap, deadline and the Deferred its caller holds."""

    __slots__ = ("client", "connecting", "connection", "data", "done", "max_bytes", "result", "timeout_s",
                 "timer")

    def __init__(self, client: HttpClient, data: bytes, max_bytes: int, timeout_s: float) -> None:
        self.client = client
        self.data = data
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s
        self.result: Deferred[Response] = Deferred(self._cancelled)
        self.connection: _Connection | None = None
        self.connecting: Deferred[Any] | None = None
        self.done = False
        self.timer = client.reactor.callLater(timeout_s, self._timed_out)

    def succeed(self, response: Response) -> None:
        if self.done:
            return
        self.done = True
        self.connection = None
        if self.timer.active():
            self.timer.cancel()
        self.result.callback(response)

    def fail(self, error: BaseException) -> None:
        if self.done:
            return
        self.done = True
        self.connection = None
        if self.timer.active():
            self.timer.cancel()
        self.result.errback(Failure(error))

    def _stop(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            connection.drop()
        connecting, self.connecting = self.connecting, None
        if connecting is not None:
            connecting.cancel()

    def _timed_out(self) -> None:
        if self.done:
            return
        self._stop()
        self.fail(Timeout(f"no complete reply within {self.timeout_s:g} s"))

    def _cancelled(self, _result: Deferred[Response]) -> None:
        # The caller gave up (Deferred.cancel): drop the connection; the Deferred fails with CancelledError.
        if self.done:
            return
        self.done = True
        if self.timer.active():
            self.timer.cancel()
        self._stop()


class _Connection(Protocol):
    """One connection to a camera, carrying one request at a time and reading its reply."""

    def __init__(self, client: HttpClient, origin: Origin) -> None:
        self.client = client
        self.origin = origin
        self.request: _Request | None = None
        self.idle_since = 0.0
        self.pooled = False
        self.lost = False
        self._lost_waiters: list[Deferred[None]] = []
        self._state = _IDLE
        self._buffer = b""
        self._scanned = 0
        self._got_bytes = False

    # --- sending ------------------------------------------------------------------------------------

    def send(self, request: _Request) -> None:
        self.request = request
        request.connection = self
        self._state = _HEAD
        self._buffer = b""
        self._scanned = 0
        self._got_bytes = False
        _write_now(self.transport, request.data)

    def drop(self) -> None:
        """Abort the connection (deadline, cancel, cap): nothing more is read from it."""
        self.request = None
        self._state = _IDLE
        if not self.lost:
            self.transport.abortConnection()

    def close(self) -> Deferred[None]:
        """Close an idle connection; fires when it is gone."""
        if self.lost:
            return succeed(None)
        waiter: Deferred[None] = Deferred()
        self._lost_waiters.append(waiter)
        self.transport.loseConnection()
        return waiter

    # --- reading ------------------------------------------------------------------------------------

    def dataReceived(self, data: bytes) -> None:
        if self.request is None:
            # Nothing asked, something said (or a reply to an abandoned request): the connection is unusable.
            if not self.lost:
                self.transport.abortConnection()
            return
        self._got_bytes = True
        state = self._state
        if state == _LENGTH:
            self._read_length(data)
        elif state == _HEAD:
            self._read_head(data)
        elif state == _CHUNKED:
            self._chunk_buffer += data
            self._read_chunks()
        elif state == _UNTIL_CLOSE:
            self._body_size += len(data)
            if self._body_size > self.request.max_bytes:
                self._fail(ReplyTooLarge(f"reply passed the {self.request.max_bytes}-byte cap"))
                return
            self._parts.append(data)

    def _read_head(self, data: bytes) -> None:
        buffer = self._buffer + data if self._buffer else data
        end = buffer.find(b"\r\n\r\n", self._scanned)
        if end < 0:
            bare = buffer.find(b"\n\n", self._scanned)  # a server ending lines in LF alone
            if bare < 0:
                if len(buffer) > MAX_HEAD_BYTES:
                    self._fail(ReplyTooLarge("reply headers are too long"))
                    return
                self._buffer = buffer
                self._scanned = max(0, len(buffer) - 3)
                return
            end, skip = bare, 2
        else:
            skip = 4
        if end > MAX_HEAD_BYTES:
            self._fail(ReplyTooLarge("reply headers are too long"))
            return
        head = buffer[:end]
        rest = buffer[end + skip:]
        self._buffer = b""
        self._scanned = 0
        lines = head.split(b"\n")
        status_line = lines[0].rstrip(b"\r")
        if (len(status_line) < 12 or not status_line.startswith(b"HTTP/1.") or status_line[8:9] != b" "
                or not status_line[9:12].isdigit() or status_line[7:8] not in (b"0", b"1")):
            self._fail(TransportError("camera's reply is not HTTP"))
            return
        status = int(status_line[9:12])
        minor = 1 if status_line[7] == 49 else 0  # ord("1")
        headers: list[tuple[bytes, bytes]] = []
        length: bytes | None = None
        chunked = False
        connection = b""
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            if not colon:
                if line.strip():
                    self._fail(TransportError("camera's reply has a malformed header"))
                    return
                continue
            name = name.strip().lower()
            value = value.strip()
            headers.append((name, value))
            if name == b"content-length":
                if length is not None and length != value:
                    self._fail(TransportError("camera's reply has conflicting lengths"))
                    return
                length = value
            elif name == b"transfer-encoding":
                chunked = value.lower().endswith(b"chunked")
            elif name == b"connection":
                connection = connection + b"," + value.lower() if connection else value.lower()
        if 100 <= status < 200:  # 100 Continue and kin: the real reply follows
            if rest:
                self._read_head(rest)
            return
        if minor == 1:
            self._keep_alive = b"close" not in connection
        else:
            self._keep_alive = b"keep-alive" in connection
        self._response = Response(status, minor, headers, b"")
        max_bytes = self.request.max_bytes  # type: ignore[union-attr]
        if status in (204, 304):
            self._complete(b"", rest)
        elif chunked:
            self._state = _CHUNKED
            self._chunk_state = _CHUNK_SIZE
            self._chunk_left = 0
            self._chunk_buffer = rest
            self._parts = []
            self._body_size = 0
            self._read_chunks()
        elif length is not None:
            if not length.isdigit():
                self._fail(TransportError("camera's reply has an unreadable length"))
                return
            expected = int(length)
            if expected > max_bytes:
                self._fail(ReplyTooLarge(f"reply of {expected} bytes announced, over the {max_bytes}-byte cap"))
                return
            self._state = _LENGTH
            self._left = expected
            self._parts = []
            self._read_length(rest)
        else:
            self._keep_alive = False  # the body ends when the camera closes
            self._state = _UNTIL_CLOSE
            self._parts = []
            self._body_size = 0
            if rest:
                self.dataReceived(rest)

    def _read_length(self, data: bytes) -> None:
        left = self._left
        if len(data) < left:
            if data:
                self._parts.append(data)
                self._left = left - len(data)
            return
        parts = self._parts
        if parts:
            parts.append(data[:left] if len(data) > left else data)
            body = b"".join(parts)
        else:
            body = data[:left] if len(data) > left else data
        self._complete(body, data[left:] if len(data) > left else b"")

    def _read_chunks(self) -> None:
        request = self.request
        assert request is not None
        buffer = self._chunk_buffer
        position = 0
        while True:
            state = self._chunk_state
            if state == _CHUNK_DATA:
                available = len(buffer) - position
                if available <= 0:
                    break
                take = min(available, self._chunk_left)
                self._parts.append(buffer[position:position + take])
                position += take
                self._chunk_left -= take
                if self._chunk_left:
                    break
                self._chunk_state = _CHUNK_END
                continue
            end = buffer.find(b"\r\n", position)
            if end < 0:
                if len(buffer) - position > MAX_CHUNK_LINE_BYTES:
                    self._fail(TransportError("camera's chunked reply is malformed"))
                    return
                break
            line = buffer[position:end]
            position = end + 2
            if state == _CHUNK_END:
                if line:
                    self._fail(TransportError("camera's chunked reply is malformed"))
                    return
                self._chunk_state = _CHUNK_SIZE
            elif state == _CHUNK_SIZE:
                size_text = line.split(b";", 1)[0].strip()
                try:
                    size = int(size_text, 16)
                except ValueError:
                    size = -1
                if size < 0 or not size_text:
                    self._fail(TransportError("camera's chunked reply is malformed"))
                    return
                if size == 0:
                    self._chunk_state = _TRAILER
                    continue
                self._body_size += size
                if self._body_size > request.max_bytes:
                    self._fail(ReplyTooLarge(f"reply passed the {request.max_bytes}-byte cap"))
                    return
                self._chunk_left = size
                self._chunk_state = _CHUNK_DATA
            else:  # _TRAILER: header lines until an empty one
                if not line:
                    self._complete(b"".join(self._parts), buffer[position:])
                    return
        self._chunk_buffer = buffer[position:]

    def _complete(self, body: bytes, extra: bytes) -> None:
        request = self.request
        assert request is not None
        response = self._response
        response.body = body
        self.request = None
        self._state = _IDLE
        self._parts = []
        if self._keep_alive and not extra and not self.lost:
            self.client._release(self)  # before the caller's callback, which may send the next request
        elif not self.lost:
            self.transport.loseConnection()
        request.succeed(response)

    def _fail(self, error: TransportError) -> None:
        request = self.request
        self.drop()
        if request is not None:
            request.fail(error)

    def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
        self.lost = True
        if self.pooled:
            self.client._forget(self)
        waiters, self._lost_waiters = self._lost_waiters, []
        for waiter in waiters:
            waiter.callback(None)
        request = self.request
        if request is None:
            return
        self.request = None
        if self._state == _UNTIL_CLOSE:  # HTTP/1.0 style: closing is how the camera says "that was all"
            self._response.body = b"".join(self._parts)
            self._parts = []
            request.succeed(self._response)
            return
        if self._got_bytes:
            request.fail(ConnectionClosed("camera closed the connection in the middle of its reply",
                                          before_reply=False))
        else:
            request.fail(ConnectionClosed("camera closed the connection before replying", before_reply=True))


def _write_now(transport: Any, data: bytes) -> None:
    """``transport.write(data)``, but on a plain TCP connection with nothing queued the bytes go to the
    socket at once: Twisted's write queues them and waits for the next poll to say the socket is writable,
    which costs two epoll changes and a reactor round per request (several percent of a long poll's CPU).
    Whatever the socket does not take (or any other transport) goes the usual way."""
    if (type(transport) is tcp.Client and transport.connected and not transport.disconnecting
            and not transport._tempDataLen and transport.offset == len(transport.dataBuffer)
            and transport.producer is None):
        written = transport.writeSomeData(data)
        if type(written) is int and written >= 0:
            if written == len(data):
                return
            data = data[written:]
        # an error: transport.write below queues the bytes and the reactor finds the error on its next round
    transport.write(data)


class _ConnectionFactory(Factory):
    noisy = False

    def __init__(self, client: HttpClient, origin: Origin) -> None:
        self._client = client
        self._origin = origin

    def buildProtocol(self, addr: Any) -> _Connection:
        return _Connection(self._client, self._origin)


class HttpClient:
    """Requests as bytes to an origin, over pooled keep-alive connections (see the module).

    ``endpoint_for(origin)`` makes the client endpoint for a (scheme, host, port), TLS included; it is
    called once per origin (endpoints are kept)."""

    _MAX_ENDPOINTS = 8192

    def __init__(self, reactor: Any, endpoint_for: Callable[[Origin], Any], *, idle_per_origin: int = 2,
                 idle_timeout_s: float = 20.0) -> None:
        self.reactor = reactor
        self._endpoint_for = endpoint_for
        self._endpoints: dict[Origin, Any] = {}
        self.idle_per_origin = idle_per_origin
        self.idle_timeout_s = idle_timeout_s
        self._idle: dict[Origin, list[_Connection]] = {}
        self._sweep: Any = None

    def request(self, origin: Origin, data: bytes, *, max_bytes: int, timeout_s: float) -> Deferred[Response]:
        """Send ``data`` (a whole request) to ``origin``; the reply, its body at most ``max_bytes``.
        Fails with ``ConnectionFailed``, ``Timeout``, ``ConnectionClosed``, ``ReplyTooLarge`` or
        ``TransportError``; cancelling it drops the connection."""
        request = _Request(self, data, max_bytes, timeout_s)
        connection = self._take(origin)
        if connection is not None:
            connection.send(request)
        else:
            self._connect(origin, request)
        return request.result

    def close(self) -> Deferred[None]:
        """Close the idle connections; fires when they are closed."""
        if self._sweep is not None and self._sweep.active():
            self._sweep.cancel()
        self._sweep = None
        closing = [connection.close() for connections in list(self._idle.values()) for connection in connections]
        self._idle.clear()
        return DeferredList(closing).addCallback(lambda _: None)

    def idle_connections(self, origin: Origin | None = None) -> int:
        if origin is not None:
            return len(self._idle.get(origin, ()))
        return sum(len(connections) for connections in self._idle.values())

    # --- connections --------------------------------------------------------------------------------

    def _connect(self, origin: Origin, request: _Request) -> None:
        endpoint = self._endpoints.get(origin)
        if endpoint is None:
            if len(self._endpoints) >= self._MAX_ENDPOINTS:  # pull-point hosts come and go
                self._endpoints.clear()
            endpoint = self._endpoints[origin] = self._endpoint_for(origin)
        connecting = endpoint.connect(_ConnectionFactory(self, origin))
        request.connecting = connecting

        def connected(connection: _Connection) -> None:
            request.connecting = None
            if request.done:  # timed out or cancelled meanwhile
                connection.transport.loseConnection()
                return
            if connection.lost:  # closed by the camera as soon as it was made
                request.fail(ConnectionClosed("camera closed the connection before replying", before_reply=True))
                return
            connection.send(request)

        def not_connected(failure: Failure) -> None:
            request.connecting = None
            if request.done:
                return
            error = failure.value
            if isinstance(error, (internet_error.ConnectError, internet_error.DNSLookupError)):
                request.fail(ConnectionFailed(f"cannot connect ({_describe(error)})"))
            else:
                request.fail(ConnectionFailed(f"cannot connect ({type(error).__name__})"))

        connecting.addCallbacks(connected, not_connected)

    def _take(self, origin: Origin) -> _Connection | None:
        connections = self._idle.get(origin)
        if not connections:
            return None
        now = self.reactor.seconds()
        while connections:
            connection = connections.pop()
            connection.pooled = False
            if connection.lost:
                continue
            if now - connection.idle_since >= self.idle_timeout_s:
                connection.transport.loseConnection()
                continue
            if not connections:
                del self._idle[origin]
            return connection
        del self._idle[origin]
        return None

    def _release(self, connection: _Connection) -> None:
        connections = self._idle.get(connection.origin)
        if connections is None:
            connections = self._idle[connection.origin] = []
        elif len(connections) >= self.idle_per_origin:
            connection.transport.loseConnection()
            return
        connection.pooled = True
        connection.idle_since = self.reactor.seconds()
        connections.append(connection)
        if self._sweep is None:
            self._sweep = self.reactor.callLater(self.idle_timeout_s, self._sweep_idle)

    def _forget(self, connection: _Connection) -> None:
        """An idle connection the camera closed leaves the pool."""
        connection.pooled = False
        connections = self._idle.get(connection.origin)
        if connections is not None and connection in connections:
            connections.remove(connection)
            if not connections:
                del self._idle[connection.origin]

    def _sweep_idle(self) -> None:
        """Close connections idle longer than ``idle_timeout_s``; runs while any are idle."""
        self._sweep = None
        now = self.reactor.seconds()
        oldest = now
        for origin, connections in list(self._idle.items()):
            for connection in list(connections):
                if now - connection.idle_since >= self.idle_timeout_s:
                    connections.remove(connection)
                    connection.pooled = False
                    connection.transport.loseConnection()
                else:
                    oldest = min(oldest, connection.idle_since)
            if not connections:
                del self._idle[origin]
        if self._idle:
            self._sweep = self.reactor.callLater(max(0.1, oldest + self.idle_timeout_s - now), self._sweep_idle)


def _describe(error: BaseException) -> str:
    # Twisted's messages are about sockets, never about credentials; keep them short.
    text = str(error) or type(error).__name__
    return text if len(text) <= 160 else text[:159] + "…"
