"""The transport's own HTTP/1.1 client over real loopback sockets, against small servers written here that
answer in whatever shape a test needs: keep-alive reuse, the three ways a body ends, replies cut into
pieces, the size cap, interim and body-less statuses, servers that close between requests, deadlines,
cancellation and replies that are not HTTP."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor, tcp
from twisted.internet.defer import CancelledError
from twisted.internet.endpoints import HostnameEndpoint
from twisted.internet.protocol import Protocol, ServerFactory
from twisted.internet.task import deferLater

from plugins.onvif.http_client import (
    ConnectionClosed,
    ConnectionFailed,
    HttpClient,
    ReplyTooLarge,
    Timeout,
    TransportError,
)

CAP = 1000


def _request(body: bytes = b"<r/>", path: str = "/onvif/events") -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/soap+xml\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def _ok(body: bytes, *extra: str) -> bytes:
    headers = "".join(f"{line}\r\n" for line in extra)
    return f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{headers}\r\n".encode() + body


class Scripted(Protocol):
    """Reads whole requests (headers and Content-Length body) and lets the test's ``answer`` reply."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.buffer = b""
        self.number = len(server.connections)
        server.connections.append(self)
        self.lost = False

    def dataReceived(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head, separator, rest = self.buffer.partition(b"\r\n\r\n")
            if not separator:
                return
            found = re.search(rb"(?i)content-length:\s*(\d+)", head)
            length = int(found.group(1)) if found else 0
            if len(rest) < length:
                return
            request, self.buffer = head + b"\r\n\r\n" + rest[:length], rest[length:]
            self.server.requests.append((self.number, request))
            self.server.answer(self, len(self.server.requests) - 1)

    def connectionLost(self, reason: Any = None) -> None:
        self.lost = True

    def write_slowly(self, data: bytes, piece: int = 1, gap_s: float = 0.002) -> None:
        """Write ``data`` in ``piece``-byte writes spaced in time, so they arrive as separate reads."""
        def step(offset: int) -> None:
            if self.lost:
                return
            self.transport.write(data[offset:offset + piece])
            if offset + piece < len(data):
                reactor.callLater(gap_s, step, offset + piece)
        step(0)


class Server:
    def __init__(self, answer: Callable[[Scripted, int], None]) -> None:
        self.answer = answer
        self.connections: list[Scripted] = []
        self.requests: list[tuple[int, bytes]] = []
        self.port: Any = None

    @property
    def origin(self) -> tuple[bytes, bytes, int]:
        return (b"http", b"127.0.0.1", self.port.getHost().port)


@pytest.fixture
def serve():
    servers: list[Server] = []

    def start(answer: Callable[[Scripted, int], None]) -> Server:
        server = Server(answer)
        server.port = reactor.listenTCP(0, ServerFactory.forProtocol(lambda: Scripted(server)), interface="127.0.0.1")
        servers.append(server)
        return server

    yield start
    for server in servers:
        for connection in server.connections:
            if not connection.lost:
                connection.transport.abortConnection()
        pytest_twisted.blockon(server.port.stopListening())


def _endpoint(origin: tuple[bytes, bytes, int]) -> Any:
    return HostnameEndpoint(reactor, origin[1].decode(), origin[2], timeout=2)


@pytest.fixture
def client():
    client = HttpClient(reactor, _endpoint, idle_per_origin=2, idle_timeout_s=20)
    yield client
    pytest_twisted.blockon(client.close())


def _ours(before: set[Any]) -> list[Any]:
    """Timers scheduled since ``before`` that are still pending."""
    return [call for call in reactor.getDelayedCalls() if call not in before and call.active()]


async def _settle() -> None:
    await deferLater(reactor, 0.05, lambda: None)


# --- bodies and reuse -----------------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_keep_alive_replies_reuse_one_connection(serve, client):
    server = serve(lambda connection, index: connection.transport.write(_ok(b"reply %d" % index)))
    for index in range(3):
        response = await client.request(server.origin, _request(), max_bytes=CAP, timeout_s=5)
        assert response.status == 200 and response.body == b"reply %d" % index
    assert len(server.connections) == 1 and len(server.requests) == 3
    assert client.idle_connections(server.origin) == 1


@pytest_twisted.ensureDeferred
async def test_the_request_bytes_are_sent_as_given(serve, client):
    server = serve(lambda connection, index: connection.transport.write(_ok(b"")))
    data = _request(b"<Envelope/>", "/onvif/device_service?x=1")
    await client.request(server.origin, data, max_bytes=CAP, timeout_s=5)
    assert server.requests == [(0, data)]


@pytest_twisted.ensureDeferred
async def test_a_chunked_body_with_extensions_and_trailers_is_joined(serve, client):
    def answer(connection: Scripted, index: int) -> None:
        connection.transport.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                   b"5;name=value\r\nhello\r\n1\r\n \r\n6\r\nworld!\r\n0\r\nX-Trailer: 1\r\n\r\n")
    server = serve(answer)
    for _ in range(2):
        response = await client.request(server.origin, _request(), max_bytes=CAP, timeout_s=5)
        assert response.body == b"hello world!"
    assert len(server.connections) == 1  # the chunked reply ended cleanly, so the connection was kept


@pytest_twisted.ensureDeferred
async def test_an_http_10_body_without_length_ends_when_the_server_closes(serve, client):
    def answer(connection: Scripted, index: int) -> None:
        connection.transport.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/xml\r\n\r\nall of it")
        reactor.callLater(0.01, connection.transport.loseConnection)
    server = serve(answer)
    for _ in range(2):
        response = await client.request(server.origin, _request(), max_bytes=CAP, timeout_s=5)
        assert response.body == b"all of it" and response.minor == 0
        assert response.header(b"content-type") == "text/xml"
    assert len(server.connections) == 2 and client.idle_connections() == 0


@pytest_twisted.ensureDeferred
async def test_http_10_with_a_length_and_no_keep_alive_is_not_reused_but_keep_alive_is(serve, client):
    def answer(connection: Scripted, index: int) -> None:
        keep = "Connection: Keep-Alive" if index >= 2 else "X-Nothing: 1"
        connection.transport.write(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n%s\r\n\r\nok" % keep.encode())
    server = serve(answer)
    for _ in range(4):
        assert (await client.request(server.origin, _request(), max_bytes=CAP, timeout_s=5)).body == b"ok"
    # Requests 1 and 2 each had a connection the hub closed; 3 and 4 shared one.
    assert [number for number, _request_ in server.requests] == [0, 1, 2, 2]


@pytest_twisted.ensureDeferred
async def test_connection_close_is_honoured(serve, client):
    server = serve(lambda connection, index: connection.transport.write(_ok(b"bye", "Connection: close")))
    for _ in range(2):
        await client.request(server.origin, _request(), max_bytes=CAP, timeout_s=5)
    assert len(server.connections) == 2
    await _settle()
    assert all(connection.lost for connection in server.connections)


@pytest.mark.parametrize("reply", [
    _ok(b"<Envelope>one byte at a time</Envelope>", "Content-Type: application/soap+xml"),
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n",
], ids=["content_length", "chunked"])
@pytest_twisted.ensureDeferred
async def test_a_reply_arriving_one_byte_per_read_is_read_whole(serve, client, reply):
    server = serve(lambda connection, index: connection.write_slowly(reply))
    response = await client.request(server.origin, _request(), max_bytes=CAP, timeout_s=10)
    assert response.status == 200
    assert response.body in (b"<Envelope>one byte at a time</Envelope>", b"abcdefg")
    # and the connection is still good for the next request
    response = await client.request(server.origin, _request(), max_bytes=CAP, timeout_s=10)
    assert response.status == 200 and len(server.connections) == 1


@pytest_twisted.ensureDeferred
async def test_headers_split_across_reads_at_awkward_places(serve, client):
    pieces = [b"HTTP/1.1 200 OK\r\nContent-Le", b"ngth: 5\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r",
              b"\nhel", b"lo"]

    def answer(connection: Scripted, index: int) -> None:
        for number, piece in enumerate(pieces):
            reactor.callLater(0.01 * number, connection.transport.write, piece)
    server = serve(answer)
    response = await client.request(server.origin, _request(), max_bytes=CAP, timeout_s=5)
    assert response.body == b"hello" and response.header(b"date") == "Sun, 06 Nov 1994 08:49:37 GMT"


@pytest_twisted.ensureDeferred
async def test_interim_1xx_replies_are_skipped_and_204_has_no_body(serve, client):
    def answer(connection: Scripted, index: int) -> None:
        if index == 0:
            connection.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n" + _ok(b"after continue"))
        else:
            connection.transport.write(b"HTTP/1.1 204 No Content\r\n\r\n")
    server = serve(answer)
    assert (await client.request(server.origin, _request(), max_bytes=CAP, timeout_s=5)).body == b"after continue"
    response = await client.request(server.origin, _request(), max_bytes=CAP, timeout_s=5)
    assert response.status == 204 and response.body == b""
    assert len(server.connections) == 1


@pytest_twisted.ensureDeferred
async def test_error_statuses_come_back_with_their_body_and_repeated_headers(serve, client):
    def answer(connection: Scripted, index: int) -> None:
        connection.transport.write(
            b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"a\"\r\n"
            b"www-authenticate: Basic realm=\"b\"\r\nContent-Length: 5\r\n\r\nfault")
    server = serve(answer)
    response = await client.request(server.origin, _request(), max_bytes=CAP, timeout_s=5)
    assert response.status == 401 and response.body == b"fault"
    assert response.header_values(b"www-authenticate") == ['Digest realm="a"', 'Basic realm="b"']


# --- the size cap ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("reply", [
    _ok(b"x" * (CAP + 1)),
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"".join(b"64\r\n" + b"y" * 100 + b"\r\n"
                                                                         for _ in range(11)) + b"0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n" % (CAP * 10),  # announced in one chunk
    b"HTTP/1.0 200 OK\r\n\r\n" + b"z" * (CAP + 1),
], ids=["announced_length", "streamed_chunks", "announced_chunk", "until_close"])
@pytest_twisted.ensureDeferred
async def test_a_reply_over_the_cap_is_refused_and_its_connection_dropped(serve, client, reply):
    server = serve(lambda connection, index: connection.transport.write(reply))
    with pytest.raises(ReplyTooLarge):
        await client.request(server.origin, _request(), max_bytes=CAP, timeout_s=5)
    await _settle()
    assert server.connections[0].lost and client.idle_connections() == 0


@pytest_twisted.ensureDeferred
async def test_endless_headers_are_refused(serve, client):
    server = serve(lambda connection, index: connection.transport.write(
        b"HTTP/1.1 200 OK\r\n" + b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n" * 2000))
    with pytest.raises(ReplyTooLarge):
        await client.request(server.origin, _request(), max_bytes=CAP, timeout_s=5)


# --- closed connections ---------------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_an_idle_connection_the_server_closed_is_replaced_by_a_fresh_one(serve, client):
    def answer(connection: Scripted, index: int) -> None:
        connection.transport.write(_ok(b"ok"))  # keep-alive said, and then...
        reactor.callLater(0.01, connection.transport.loseConnection)  # ...closed anyway
    server = serve(answer)
    await client.request(server.origin, _request(), max_bytes=CAP, timeout_s=5)
    await _settle()
    assert client.idle_connections() == 0  # the close took it out of the pool
    assert (await client.request(server.origin, _request(), max_bytes=CAP, timeout_s=5)).body == b"ok"
    assert [number for number, _request_ in server.requests] == [0, 1]


@pytest_twisted.ensureDeferred
async def test_a_request_the_server_closes_on_is_never_sent_twice(serve, client):
    """The server takes the second request on a kept connection and closes without a word: the caller hears
    ConnectionClosed(before_reply=True) and decides itself whether to ask again; nothing is re-sent here."""
    def answer(connection: Scripted, index: int) -> None:
        if index == 0:
            connection.transport.write(_ok(b"first"))
        else:
            connection.transport.loseConnection()
    server = serve(answer)
    await client.request(server.origin, _request(b"<one/>"), max_bytes=CAP, timeout_s=5)
    with pytest.raises(ConnectionClosed) as closed:
        await client.request(server.origin, _request(b"<two/>"), max_bytes=CAP, timeout_s=5)
    assert closed.value.before_reply is True
    await _settle()
    assert len(server.requests) == 2 and server.requests[1][1].endswith(b"<two/>")


@pytest_twisted.ensureDeferred
async def test_a_close_in_the_middle_of_a_reply_is_not_before_reply(serve, client):
    def answer(connection: Scripted, index: int) -> None:
        connection.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
        reactor.callLater(0.01, connection.transport.loseConnection)
    server = serve(answer)
    with pytest.raises(ConnectionClosed) as closed:
        await client.request(server.origin, _request(), max_bytes=CAP, timeout_s=5)
    assert closed.value.before_reply is False


@pytest_twisted.ensureDeferred
async def test_a_refused_connection_is_connection_failed(client):
    port = reactor.listenTCP(0, ServerFactory.forProtocol(Protocol), interface="127.0.0.1")
    number = port.getHost().port
    await port.stopListening()
    with pytest.raises(ConnectionFailed):
        await client.request((b"http", b"127.0.0.1", number), _request(), max_bytes=CAP, timeout_s=5)


@pytest.mark.parametrize("reply", [
    b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
    b"HTTP/1.1 2xx OK\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/2 200\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: twelve\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc",
    b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
], ids=["not_http", "bad_status", "http2", "bad_length", "two_lengths", "bad_header", "bad_chunk"])
@pytest_twisted.ensureDeferred
async def test_a_reply_that_is_not_http_is_a_clear_transport_error(serve, client, reply):
    server = serve(lambda connection, index: connection.transport.write(reply))
    with pytest.raises(TransportError) as error:
        await client.request(server.origin, _request(), max_bytes=CAP, timeout_s=5)
    assert type(error.value) is TransportError and "camera's" in str(error.value)
    await _settle()
    assert server.connections[0].lost  # a connection in an unknown state is never reused


@pytest_twisted.ensureDeferred
async def test_unasked_bytes_on_an_idle_connection_make_it_unusable(serve, client):
    def answer(connection: Scripted, index: int) -> None:
        connection.transport.write(_ok(b"ok"))
        if index == 0:
            reactor.callLater(0.01, connection.transport.write, b"HTTP/1.1 200 OK\r\n")
    server = serve(answer)
    await client.request(server.origin, _request(), max_bytes=CAP, timeout_s=5)
    await _settle()
    assert client.idle_connections() == 0
    assert (await client.request(server.origin, _request(), max_bytes=CAP, timeout_s=5)).body == b"ok"
    assert len(server.connections) == 2


# --- deadlines, cancellation, idle connections ----------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_a_silent_server_times_out_leaving_no_timer_and_no_connection(serve, client):
    server = serve(lambda connection, index: None)
    before = set(reactor.getDelayedCalls())
    started = reactor.seconds()
    with pytest.raises(Timeout):
        await client.request(server.origin, _request(), max_bytes=CAP, timeout_s=0.2)
    assert 0.15 <= reactor.seconds() - started < 2
    await _settle()
    assert _ours(before) == [] and server.connections[0].lost and client.idle_connections() == 0


@pytest_twisted.ensureDeferred
async def test_a_reply_trickling_past_the_deadline_times_out(serve, client):
    server = serve(lambda connection, index: connection.write_slowly(_ok(b"x" * 200), gap_s=0.01))
    with pytest.raises(Timeout):
        await client.request(server.origin, _request(), max_bytes=CAP, timeout_s=0.3)
    await _settle()
    assert server.connections[0].lost


@pytest_twisted.ensureDeferred
async def test_a_completed_request_leaves_only_the_idle_sweep_which_close_cancels(serve):
    client = HttpClient(reactor, _endpoint, idle_timeout_s=20)
    server = serve(lambda connection, index: connection.transport.write(_ok(b"ok")))
    before = set(reactor.getDelayedCalls())
    await client.request(server.origin, _request(), max_bytes=CAP, timeout_s=5)
    assert len(_ours(before)) == 1  # the one sweep for idle connections, not one timer per request
    await client.close()
    await _settle()
    assert _ours(before) == [] and server.connections[0].lost


@pytest_twisted.ensureDeferred
async def test_cancelling_a_request_drops_its_connection(serve, client):
    server = serve(lambda connection, index: None)
    before = set(reactor.getDelayedCalls())
    pending = client.request(server.origin, _request(), max_bytes=CAP, timeout_s=30)
    await deferLater(reactor, 0.05, lambda: None)
    pending.cancel()
    with pytest.raises(CancelledError):
        await pending
    await _settle()
    assert server.connections[0].lost and _ours(before) == []


@pytest_twisted.ensureDeferred
async def test_connections_idle_past_the_limit_are_closed_by_the_hub(serve):
    client = HttpClient(reactor, _endpoint, idle_timeout_s=0.2)
    server = serve(lambda connection, index: connection.transport.write(_ok(b"ok")))
    await client.request(server.origin, _request(), max_bytes=CAP, timeout_s=5)
    assert client.idle_connections() == 1
    await deferLater(reactor, 0.5, lambda: None)
    assert client.idle_connections() == 0 and server.connections[0].lost
    await client.request(server.origin, _request(), max_bytes=CAP, timeout_s=5)
    assert len(server.connections) == 2
    await client.close()


@pytest_twisted.ensureDeferred
async def test_at_most_the_pool_size_of_idle_connections_are_kept(serve):
    client = HttpClient(reactor, _endpoint, idle_per_origin=2, idle_timeout_s=20)
    release: list[Any] = []
    server = serve(lambda connection, index: release.append(connection))
    pending = [client.request(server.origin, _request(), max_bytes=CAP, timeout_s=5) for _ in range(4)]
    for _ in range(100):
        if len(release) == 4:
            break
        await deferLater(reactor, 0.01, lambda: None)
    for connection in release:
        connection.transport.write(_ok(b"ok"))
    for request in pending:
        await request
    assert len(server.connections) == 4 and client.idle_connections(server.origin) == 2
    await client.close()


@pytest_twisted.ensureDeferred
async def test_a_request_goes_to_the_socket_at_once_not_through_twisteds_write_queue(serve, client, monkeypatch):
    queued: list[bytes] = []
    original = tcp.Client.write

    def write(self: Any, data: bytes) -> None:
        queued.append(data)
        original(self, data)
    monkeypatch.setattr(tcp.Client, "write", write)
    server = serve(lambda connection, index: connection.transport.write(_ok(b"ok")))
    for _ in range(2):
        assert (await client.request(server.origin, _request(), max_bytes=CAP, timeout_s=5)).body == b"ok"
    assert queued == [] and [request for _number, request in server.requests] == [_request(), _request()]
