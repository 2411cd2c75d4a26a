"""The simulated cameras' small HTTP/1.1 server: requests read in order, limits kept, connections closed
when HTTP says so, on an in-memory transport."""

from __future__ import annotations

from twisted.internet.testing import StringTransport

from plugins.onvif.sim_http import MAX_BODY_BYTES, CameraConnection, HttpRequest


class Recorder:
    """A handler that keeps the requests and answers each at once, or holds them when told to."""

    def __init__(self, hold: bool = False) -> None:
        self.requests: list[HttpRequest] = []
        self.hold = hold
        self.held: list[CameraConnection] = []

    def __call__(self, connection: CameraConnection, request: HttpRequest) -> None:
        self.requests.append(request)
        if self.hold:
            self.held.append(connection)
        else:
            connection.respond(200, request.body.upper() or b"ok", "text/plain", (("X-Path", request.path),))


def connect(handler) -> tuple[CameraConnection, StringTransport, set]:
    connections: set = set()
    connection = CameraConnection(handler, connections)
    transport = StringTransport()
    connection.makeConnection(transport)
    return connection, transport, connections


def post(path: str, body: bytes, *extra: str) -> bytes:
    head = "\r\n".join([f"POST {path} HTTP/1.1", "Host: camera", f"Content-Length: {len(body)}", *extra])
    return head.encode() + b"\r\n\r\n" + body


def test_a_request_in_pieces_is_read_once_whole_and_answered_with_its_length():
    handler = Recorder()
    connection, transport, connections = connect(handler)
    assert connections == {connection}
    data = post("/onvif/device_service?x=1", b"<soap/>", "Authorization: Digest a=b")
    for index in range(len(data)):
        connection.dataReceived(data[index:index + 1])
    [request] = handler.requests
    assert (request.method, request.target, request.path, request.body) == (
        "POST", "/onvif/device_service?x=1", "/onvif/device_service", b"<soap/>")
    assert request.header("authorization") == "Digest a=b"
    assert transport.value() == (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 7\r\n"
                                 b"Server: onvif-sim\r\nX-Path: /onvif/device_service\r\n\r\n<SOAP/>")
    assert not transport.disconnecting


def test_pipelined_requests_wait_for_the_one_being_answered():
    """Two requests in one read while the first is held: the second is read only after the first's answer."""
    handler = Recorder(hold=True)
    connection, transport, _ = connect(handler)
    connection.dataReceived(post("/a", b"1") + post("/b", b"2"))
    assert [request.path for request in handler.requests] == ["/a"]
    connection.respond(200, b"first", "text/plain")
    assert [request.path for request in handler.requests] == ["/a", "/b"]
    connection.respond(200, b"second", "text/plain")
    assert transport.value().count(b"HTTP/1.1 200 OK") == 2 and transport.value().endswith(b"second")


def test_connection_close_and_http_1_0_close_after_the_answer():
    for extra, version in (("Connection: close", "HTTP/1.1"), ("", "HTTP/1.0")):
        connection, transport, _ = connect(Recorder())
        request = post("/", b"x", extra).replace(b"HTTP/1.1", version.encode())
        connection.dataReceived(request)
        assert b"Connection: close" in transport.value() and transport.disconnecting


def test_limits_and_malformed_requests_are_refused_and_the_connection_closed():
    cases = {
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n": b"411",
        post("/", b"x" * (MAX_BODY_BYTES + 1))[:200]: b"413",
        b"POST / HTTP/1.1\r\nX: " + b"y" * 20_000: b"431",
        b"NONSENSE\r\n\r\n": b"400",
        b"POST / HTTP/1.1\r\nContent-Length: -4\r\n\r\n": b"400",
        b"POST / HTTP/1.1\r\nno colon here\r\n\r\n": b"400",
    }
    for data, status in cases.items():
        handler = Recorder()
        connection, transport, _ = connect(handler)
        connection.dataReceived(data)
        assert transport.value().startswith(b"HTTP/1.1 " + status), (data[:40], transport.value()[:40])
        assert transport.disconnecting and not handler.requests


def test_expect_100_continue_is_answered_before_the_body_comes():
    handler = Recorder()
    connection, transport, _ = connect(handler)
    data = post("/", b"body", "Expect: 100-continue")
    connection.dataReceived(data[:-4])
    assert transport.value() == b"HTTP/1.1 100 Continue\r\n\r\n" and not handler.requests
    connection.dataReceived(data[-4:])
    assert transport.value().endswith(b"BODY")


def test_head_gets_the_headers_only():
    connection, transport, _ = connect(lambda c, r: c.respond(200, b"png-bytes", "image/png"))
    connection.dataReceived(b"HEAD /snapshot/Profile_1.png HTTP/1.1\r\nHost: camera\r\n\r\n")
    assert b"Content-Length: 9" in transport.value() and not transport.value().endswith(b"png-bytes")


def test_a_lost_connection_tells_whoever_waits_and_leaves_the_set():
    handler = Recorder(hold=True)
    connection, _transport, connections = connect(handler)
    told = []
    connection.dataReceived(post("/", b"x"))
    connection.on_lost = lambda: told.append(True)
    connection.connectionLost()
    assert told == [True] and connections == set() and connection.closed
    connection.respond(200, b"late", "text/plain")  # an answer after the client went is dropped, not raised


def test_absolute_form_targets_keep_their_path():
    handler = Recorder()
    connection, _, _ = connect(handler)
    connection.dataReceived(post("http://10.0.0.7:80/onvif/ptz_service?a=b", b"x"))
    assert handler.requests[0].path == "/onvif/ptz_service" and handler.requests[0].target.endswith("?a=b")
