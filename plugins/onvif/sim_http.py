"""A small HTTP/1.1 server protocol for the simulated cameras, on Twisted.

Why not twisted.web: a fleet of a thousand cameras answers hundreds of long polls a second beside the hub
on the same machine, and twisted.web's per-request machinery (request objects, header objects, resource
traversal, a Content-Type parse for form bodies) was about as costly as the camera's own work: with it the
simulator took 28% of a core at 400 polls/s (1,000 cameras, 200 events/s), with this 23%. A camera's HTTP is
small: one request at a time per connection, bodies with a Content-Length, keep-alive; this is that, with
limits on the sizes of heads and bodies, and nothing else (no chunked bodies: 411; no idle time-out: a
connection lasts until the client closes it, the camera reboots or goes offline).

``CameraConnection`` parses requests and hands each to its ``handler`` (``handler(connection, request)``),
which answers with ``respond`` at once or later (a long poll), or ``hang_up``; requests pipelined behind
one that waits are read once it is answered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from typing import Protocol as TypingProtocol

from attrs import frozen
from twisted.internet.protocol import Factory, Protocol

MAX_HEAD_BYTES = 16 * 1024
MAX_BODY_BYTES = 256 * 1024

REASONS = {100: "Continue", 200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
           405: "Method Not Allowed", 411: "Length Required", 413: "Content Too Large",
           431: "Request Header Fields Too Large", 500: "Internal Server Error", 501: "Not Implemented"}


@frozen
class HttpRequest:
    """One request as read: method, target (path and query), path alone, headers by lower-case name."""

    method: str
    target: str
    path: str
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


class RequestHandler(TypingProtocol):
    def __call__(self, connection: CameraConnection, request: HttpRequest) -> None: ...


def response_bytes(status: int, body: bytes, content_type: str, headers: tuple[tuple[str, str], ...] = (),
                   *, close: bool = False, head_only: bool = False) -> bytes:
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}", f"Content-Type: {content_type}",
             f"Content-Length: {len(body)}", "Server: onvif-sim"]
    lines += [f"{name}: {value}" for name, value in headers]
    if close:
        lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if head_only else head + body


class CameraConnection(Protocol):
    """One client connection to one camera."""

    def __init__(self, handler: RequestHandler, connections: set[CameraConnection]) -> None:
        self._handler = handler
        self._connections = connections
        self._buffer = bytearray()
        self._busy = False  # a request is being answered: further ones wait in the buffer
        self._reading = False
        self._keep_alive = True
        self._head_only = False
        self._continued = False
        self.closed = False
        #: Called once if the connection goes while a request waits (a long poll's clean-up).
        self.on_lost: Callable[[], None] | None = None

    def connectionMade(self) -> None:
        self._connections.add(self)

    def connectionLost(self, reason: Any = None) -> None:
        self.closed = True
        self._connections.discard(self)
        on_lost, self.on_lost = self.on_lost, None
        if on_lost is not None:
            on_lost()

    def dataReceived(self, data: bytes) -> None:
        self._buffer += data
        self._read()

    # --- answering ---------------------------------------------------------------------------------------

    def respond(self, status: int, body: bytes, content_type: str,
                headers: tuple[tuple[str, str], ...] = ()) -> None:
        """Answer the request being handled; then read the next, if one came meanwhile."""
        if self.closed or not self._busy:
            return
        self.on_lost = None
        self._busy = False
        self.transport.write(response_bytes(status, body, content_type, headers, close=not self._keep_alive,
                                            head_only=self._head_only))
        if not self._keep_alive:
            self.hang_up()
        elif not self._reading and self._buffer:
            self._read()

    def hang_up(self) -> None:
        """Close the connection, after what is already written (FIN, as a camera that is done)."""
        if not self.closed:
            self.closed = True
            self.transport.loseConnection()

    def abort(self) -> None:
        """Drop the connection at once (RST), as a camera that lost power does."""
        if not self.closed:
            self.closed = True
            self.transport.abortConnection()

    def _refuse(self, status: int) -> None:
        self._busy, self._keep_alive = True, False
        self.respond(status, f"{status} {REASONS[status]}\n".encode(), "text/plain")

    # --- reading -----------------------------------------------------------------------------------------

    def _read(self) -> None:
        self._reading = True
        try:
            while not self._busy and not self.closed:
                request = self._next_request()
                if request is None:
                    return
                self._busy = True
                self._handler(self, request)
        finally:
            self._reading = False

    def _next_request(self) -> HttpRequest | None:
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > MAX_HEAD_BYTES:
                self._refuse(431)
            return None
        if end > MAX_HEAD_BYTES:
            self._refuse(431)
            return None
        lines = bytes(self._buffer[:end]).decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            self._refuse(400)
            return None
        method, target, version = parts
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon or not name or name != name.strip():
                self._refuse(400)
                return None
            headers[name.lower()] = value.strip()
        if "transfer-encoding" in headers:
            self._refuse(411)  # cameras want a Content-Length; so does this one
            return None
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            length = -1
        if length < 0:
            self._refuse(400)
            return None
        if length > MAX_BODY_BYTES:
            self._refuse(413)
            return None
        start = end + 4
        if len(self._buffer) < start + length:
            if headers.get("expect", "").lower() == "100-continue" and not self._continued:
                self._continued = True
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            return None
        body = bytes(self._buffer[start:start + length])
        del self._buffer[:start + length]
        self._continued = False
        connection = headers.get("connection", "").lower()
        self._keep_alive = "close" not in connection and (version == "HTTP/1.1" or "keep-alive" in connection)
        self._head_only = method == "HEAD"
        if target.startswith(("http://", "https://")):  # absolute form: keep the path and query
            target = "/" + target.split("/", 3)[3] if target.count("/") >= 3 else "/"
        return HttpRequest(method, target, target.partition("?")[0], headers, body)


class CameraFactory(Factory):
    """Makes the connections of one camera and remembers them, so a reboot or going offline can drop them."""

    noisy = False  # a thousand "Starting factory" lines help nobody

    def __init__(self, handler: RequestHandler) -> None:
        self._handler = handler
        self.connections: set[CameraConnection] = set()

    def buildProtocol(self, addr: Any) -> CameraConnection:
        return CameraConnection(self._handler, self.connections)
