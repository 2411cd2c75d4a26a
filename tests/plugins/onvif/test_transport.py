"""HTTP to cameras over real loopback sockets: SOAP 1.2 posts, the size cap, the deadline, connections
closed mid-reply, persistent connections, and HTTP Digest answered on a 401 and reused afterwards."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.protocol import Protocol, ServerFactory
from twisted.internet.task import deferLater
from twisted.web import resource, server

from hub.secrets import Secret
from plugins.onvif.transport import (
    ConnectionClosed,
    ConnectionFailed,
    DigestCredentials,
    HttpError,
    HttpTransport,
    ReplyTooLarge,
    Timeout,
    TransportError,
)

PASSWORD = "digest-Pa55word"
REALM = "camera@10.1.2.42"
SOAP_REPLY = (b'<?xml version="1.0"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">'
              b"<s:Body/></s:Envelope>")
CAP = 4096


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


class Camera(resource.Resource):
    """A tiny HTTP server standing in for a camera's web server, one behaviour per path."""

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[dict[str, Any]] = []
        self.nonces_issued = 0
        self.silent_requests_lost: list[str] = []

    def render_GET(self, request: server.Request) -> bytes:
        return self.render_POST(request)

    def render_POST(self, request: server.Request) -> Any:
        path = request.path.decode()
        self.requests.append({
            "path": path, "method": request.method.decode(),
            "content_type": (request.getHeader("content-type") or ""),
            "authorization": request.getHeader("authorization"),
            "body": request.content.read(), "client_port": request.getClientAddress().port,
            "uri": request.uri.decode(),
        })
        if path == "/ok":
            request.setHeader("content-type", "application/soap+xml; charset=utf-8")
            return SOAP_REPLY
        if path == "/snapshot.jpg":
            request.setHeader("content-type", "image/jpeg")
            return b"\xff\xd8\xff" + b"j" * 100
        if path == "/big":
            return b"x" * (CAP + 1)
        if path == "/big-stream":  # no length given: chunked, so only counting finds the excess
            for _ in range(8):
                request.write(b"y" * 1024)
            request.finish()
            return server.NOT_DONE_YET
        if path == "/fault":
            request.setResponseCode(500)
            request.setHeader("content-type", "application/soap+xml")
            return SOAP_REPLY
        if path == "/silent":
            request.notifyFinish().addErrback(lambda failure: self.silent_requests_lost.append(path))
            return server.NOT_DONE_YET
        if path == "/cut-mid-body":
            request.setHeader("content-length", "1000")
            request.write(b"partial")
            reactor.callLater(0, request.channel.transport.loseConnection)
            return server.NOT_DONE_YET
        if path == "/close-at-once":
            request.channel.transport.loseConnection()
            return server.NOT_DONE_YET
        if path.startswith("/digest"):
            return self._digest(request)
        request.setResponseCode(404)
        return b"no"

    def _digest(self, request: server.Request) -> bytes:
        header = request.getHeader("authorization")
        if header and self._valid(header, request.method.decode(), request.uri.decode()):
            return SOAP_REPLY
        self.nonces_issued += 1
        request.setResponseCode(401)
        request.setHeader("www-authenticate", f'Digest realm="{REALM}", qop="auth", algorithm=MD5, '
                                              f'nonce="nonce{self.nonces_issued}", opaque="op"')
        return b"who are you"

    def _valid(self, header: str, method: str, uri: str) -> bool:
        fields = {key: quoted or bare for key, quoted, bare in re.findall(r'(\w+)=(?:"([^"]*)"|([^,\s]*))', header)}
        if fields.get("username") != "hub" or fields.get("uri") != uri:
            return False
        ha1 = _md5(f"hub:{REALM}:{PASSWORD}")
        ha2 = _md5(f"{method}:{uri}")
        expected = _md5(f"{ha1}:{fields['nonce']}:{fields['nc']}:{fields['cnonce']}:auth:{ha2}")
        return fields.get("response") == expected and fields.get("opaque") == "op"


@pytest.fixture
def camera():
    site = server.Site(Camera())
    site.displayTracebacks = False
    port = reactor.listenTCP(0, site, interface="127.0.0.1")
    yield site.resource, f"http://127.0.0.1:{port.getHost().port}"
    pytest_twisted.blockon(port.stopListening())


class Http10Camera(Protocol):
    """An embedded camera server speaking HTTP/1.0: one reply per connection, closed with no
    ``Connection: close`` said (ipycam and many cheap cameras)."""

    def __init__(self, connections: list[int]) -> None:
        self._buffer = b""
        connections.append(1)

    def dataReceived(self, data: bytes) -> None:
        self._buffer += data
        head, separator, body = self._buffer.partition(b"\r\n\r\n")
        if not separator:
            return
        length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1)) if b"ength" in head else 0
        if len(body) < length:
            return
        self.transport.write(b"HTTP/1.0 200 OK\r\nContent-Type: application/soap+xml\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(SOAP_REPLY), SOAP_REPLY))
        self.transport.loseConnection()


@pytest.fixture
def transport():
    transport = HttpTransport(reactor, max_reply_bytes=CAP, connect_timeout_s=2)
    yield transport
    pytest_twisted.blockon(transport.close())


DIGEST = DigestCredentials("hub", Secret(PASSWORD))


@pytest_twisted.ensureDeferred
async def test_a_soap_post_carries_the_soap_12_content_type_with_its_action(camera, transport):
    resource_, base = camera
    reply = await transport.post(f"{base}/ok", b"<request/>",
                                 action="http://www.onvif.org/ver10/device/wsdl/GetServices", timeout_s=5, digest=None)
    assert reply == SOAP_REPLY
    sent = resource_.requests[0]
    assert sent["content_type"] == ('application/soap+xml; charset=utf-8; '
                                    'action="http://www.onvif.org/ver10/device/wsdl/GetServices"')
    assert sent["body"] == b"<request/>" and sent["method"] == "POST"


@pytest_twisted.ensureDeferred
async def test_requests_reuse_one_persistent_connection(camera, transport):
    resource_, base = camera
    for _ in range(3):
        await transport.post(f"{base}/ok", b"<r/>", action=None, timeout_s=5, digest=None)
    assert len({sent["client_port"] for sent in resource_.requests}) == 1


@pytest_twisted.ensureDeferred
async def test_an_http_10_camera_gets_a_fresh_connection_for_each_request(transport):
    """Requests right after each other to a server that closes after every reply all succeed: the hub
    does not write the next request on the connection the camera is closing."""
    connections: list[int] = []
    factory = ServerFactory.forProtocol(lambda: Http10Camera(connections))
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    try:
        url = f"http://127.0.0.1:{port.getHost().port}/onvif/device_service"
        for _ in range(4):
            assert await transport.post(url, b"<r/>", action=None, timeout_s=5, digest=None) == SOAP_REPLY
        assert len(connections) == 4
    finally:
        await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_a_reply_over_the_cap_is_refused_whether_announced_or_streamed(camera, transport):
    _resource, base = camera
    with pytest.raises(ReplyTooLarge):
        await transport.post(f"{base}/big", b"<r/>", action=None, timeout_s=5, digest=None)
    with pytest.raises(ReplyTooLarge):
        await transport.post(f"{base}/big-stream", b"<r/>", action=None, timeout_s=5, digest=None)
    # The transport is still usable afterwards.
    assert await transport.post(f"{base}/ok", b"<r/>", action=None, timeout_s=5, digest=None) == SOAP_REPLY


@pytest_twisted.ensureDeferred
async def test_a_camera_that_never_answers_times_out_and_its_connection_is_dropped(camera, transport):
    resource_, base = camera
    started = reactor.seconds()
    with pytest.raises(Timeout):
        await transport.post(f"{base}/silent", b"<r/>", action=None, timeout_s=0.3, digest=None)
    assert 0.25 <= reactor.seconds() - started < 2
    for _ in range(100):  # the camera's side sees the connection go
        if resource_.silent_requests_lost:
            break
        await deferLater(reactor, 0.01, lambda: None)
    assert resource_.silent_requests_lost == ["/silent"]


@pytest_twisted.ensureDeferred
async def test_a_connection_closed_mid_body_is_connection_closed(camera, transport):
    _resource, base = camera
    with pytest.raises(ConnectionClosed) as closed:
        await transport.post(f"{base}/cut-mid-body", b"<r/>", action=None, timeout_s=5, digest=None)
    assert closed.value.before_reply is False


@pytest_twisted.ensureDeferred
async def test_a_connection_closed_before_any_reply_says_so(camera, transport):
    _resource, base = camera
    with pytest.raises(ConnectionClosed) as closed:
        await transport.post(f"{base}/close-at-once", b"<r/>", action=None, timeout_s=5, digest=None)
    assert closed.value.before_reply is True


@pytest_twisted.ensureDeferred
async def test_an_error_status_keeps_its_body_for_the_fault_in_it(camera, transport):
    _resource, base = camera
    with pytest.raises(HttpError) as error:
        await transport.post(f"{base}/fault", b"<r/>", action=None, timeout_s=5, digest=None)
    assert error.value.status == 500 and error.value.body == SOAP_REPLY
    assert error.value.date  # twisted.web sends a Date header; it is kept for the clock fall-back


@pytest_twisted.ensureDeferred
async def test_a_refused_connection_is_connection_failed(transport):
    port = reactor.listenTCP(0, server.Site(resource.Resource()), interface="127.0.0.1")
    number = port.getHost().port
    await port.stopListening()
    with pytest.raises(ConnectionFailed):
        await transport.post(f"http://127.0.0.1:{number}/ok", b"<r/>", action=None, timeout_s=5, digest=None)


@pytest_twisted.ensureDeferred
async def test_an_unusable_url_is_a_transport_error(transport):
    for url in ("ftp://127.0.0.1/x", "http:///x", "http://caméra/x"):
        with pytest.raises(TransportError):
            await transport.post(url, b"<r/>", action=None, timeout_s=5, digest=None)


@pytest_twisted.ensureDeferred
async def test_digest_is_answered_on_a_401_and_the_challenge_reused_with_a_growing_count(camera, transport):
    """The first request costs a 401; later ones to the same host carry Authorization from the start."""
    resource_, base = camera
    assert await transport.post(f"{base}/digest/a?x=1", b"<r/>", action=None, timeout_s=5,
                                digest=DIGEST) == SOAP_REPLY
    assert await transport.post(f"{base}/digest/b", b"<r/>", action=None, timeout_s=5, digest=DIGEST) == SOAP_REPLY
    authorizations = [sent["authorization"] for sent in resource_.requests]
    assert authorizations[0] is None and authorizations[1] and authorizations[2]
    assert len(resource_.requests) == 3  # one 401 in all
    assert "nc=00000001" in authorizations[1] and "nc=00000002" in authorizations[2]
    assert 'uri="/digest/a?x=1"' in authorizations[1]
    assert PASSWORD not in " ".join(authorizations[1:])


@pytest_twisted.ensureDeferred
async def test_wrong_digest_credentials_end_in_a_401_after_one_retry(camera, transport):
    resource_, base = camera
    wrong = DigestCredentials("hub", Secret("not-it"))
    with pytest.raises(HttpError) as error:
        await transport.post(f"{base}/digest/a", b"<r/>", action=None, timeout_s=5, digest=wrong)
    assert error.value.status == 401 and len(resource_.requests) == 2


@pytest_twisted.ensureDeferred
async def test_a_401_without_credentials_is_not_retried(camera, transport):
    resource_, base = camera
    with pytest.raises(HttpError):
        await transport.post(f"{base}/digest/a", b"<r/>", action=None, timeout_s=5, digest=None)
    assert len(resource_.requests) == 1


@pytest_twisted.ensureDeferred
async def test_a_snapshot_get_returns_its_content_type_and_bytes_under_its_own_cap(camera, transport):
    _resource, base = camera
    content_type, body = await transport.get(f"{base}/snapshot.jpg", timeout_s=5, digest=None, max_bytes=200)
    assert content_type == "image/jpeg" and body.startswith(b"\xff\xd8\xff")
    with pytest.raises(ReplyTooLarge):
        await transport.get(f"{base}/snapshot.jpg", timeout_s=5, digest=None, max_bytes=50)
