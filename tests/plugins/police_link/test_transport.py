"""The police link's WebSocket over mutual TLS, on real sockets on loopback.

A ``listen_link`` server (the force's end) and a ``LinkClientService`` (the hub's end), each with the
certificates ``pki.init_pki`` makes, hand every open WebSocket to a recording endpoint. Each test says what the
session above would see: text both ways, binary answered with an error frame, the link staying up, the hub
coming back after the force went away, refusals with a reason a person can act on, and nothing left behind.
Every wait is for a condition, with a deadline. The back-off is checked on a fake clock at the end.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_twisted
import structlog
from autobahn.twisted.websocket import (
    WebSocketClientFactory,
    WebSocketClientProtocol,
    WebSocketServerFactory,
    WebSocketServerProtocol,
)
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import (
    SSL4ServerEndpoint,
    TCP4ClientEndpoint,
    wrapClientTLS,
)
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.task import deferLater
from twisted.internet.testing import MemoryReactorClock
from twisted.python.failure import Failure

from hub.testing import assert_no_pending_timers
from plugins.police_link import pki
from plugins.police_link.codec.frames import ErrorFrame, decode_frame
from plugins.police_link.tls import client_tls, server_tls
from plugins.police_link.transport import (
    BINARY_REFUSED_REASON,
    SUBPROTOCOL,
    LinkClientService,
    backoff_delay,
    connect_failure_reason,
    listen_link,
)

DEADLINE_S = 5.0
PATH = "/police-link"


class Endpoint:
    """A ``LinkEndpoint`` that records what the transport hands it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.transport: Any = None
        self.attached = 0
        self.texts: list[str] = []
        self.detached: list[str] = []

    def attach(self, transport: Any) -> None:
        assert self.transport is None, f"{self.name}: attached twice without a detach"
        self.transport = transport
        self.attached += 1

    def text_received(self, text: str) -> None:
        self.texts.append(text)

    def detach(self, reason: str) -> None:
        assert self.transport is not None, f"{self.name}: detached without being attached"
        self.transport = None
        self.detached.append(reason)


def pause(seconds: float) -> Deferred[None]:
    return deferLater(reactor, seconds, lambda: None)


async def until(condition: Callable[[], Any], what: str, deadline_s: float = DEADLINE_S) -> Any:
    """Poll ``condition`` until it is truthy (its value is returned), or fail saying ``what``."""
    give_up = reactor.seconds() + deadline_s
    while True:
        value = condition()
        if value:
            return value
        if reactor.seconds() >= give_up:
            raise AssertionError(f"not within {deadline_s:g} s: {what}")
        await pause(0.01)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> pki.PkiFiles:
    # OpenSSL judges validity against the system clock, so the certificates are made for it.
    return pki.init_pki(tmp_path_factory.mktemp("pki"), now=datetime.now(UTC))


@pytest.fixture(scope="module")
def other(tmp_path_factory: pytest.TempPathFactory) -> pki.PkiFiles:
    """An unrelated PKI: its CA and certificates are nobody's here."""
    return pki.init_pki(tmp_path_factory.mktemp("other-pki"), now=datetime.now(UTC), force_name="impostor")


def hub_tls(files: pki.PkiFiles, ca: pki.PkiFiles | None = None) -> Any:
    return client_tls(hostname="127.0.0.1", client_certificate=files.client_certificate,
                      client_key=files.client_key, ca_certificate=(ca or files).ca_certificate)


class Scene:
    """The force's server on a loopback port, and the hub's clients of it; everything stopped at the end."""

    def __init__(self, files: pki.PkiFiles) -> None:
        self.files = files
        self.port: Any = None
        self.port_number = 0
        self.servers: list[Endpoint] = []
        self.offered: list[Any] = []
        self.refuse = False
        self.clients: list[LinkClientService] = []
        self.failures: list[str] = []

    def endpoint_for(self, transport: Any) -> Endpoint | None:
        self.offered.append(transport)
        if self.refuse:
            return None
        endpoint = Endpoint(f"server {len(self.servers)}")
        self.servers.append(endpoint)
        return endpoint

    async def listen(self) -> None:
        options = server_tls(certificate=self.files.server_certificate, key=self.files.server_key,
                             client_ca=self.files.ca_certificate)
        self.port = await listen_link(reactor, port=self.port_number, interface="127.0.0.1", tls_options=options,
                                      endpoint_for=self.endpoint_for, log=structlog.get_logger().bind(end="force"))
        self.port_number = self.port.getHost().port

    async def stop_listening(self) -> None:
        port, self.port = self.port, None
        if port is not None:
            await port.stopListening()

    @property
    def url(self) -> str:
        return f"wss://127.0.0.1:{self.port_number}{PATH}"

    def client(self, tls_options: Any = None, name: str = "hub") -> tuple[LinkClientService, Endpoint]:
        endpoint = Endpoint(name)
        service = LinkClientService(
            reactor=reactor, url=self.url, tls_options=tls_options or hub_tls(self.files), endpoint=endpoint,
            log=structlog.get_logger().bind(end="hub"), rng=random.Random(7), backoff_initial_s=0.05,
            backoff_max_s=0.2, connect_timeout_s=2.0, on_failure=self.failures.append)
        self.clients.append(service)
        service.startService()
        return service, endpoint

    async def linked(self, tls_options: Any = None) -> tuple[LinkClientService, Endpoint, Endpoint]:
        """A hub client connected: its endpoint and the server's, both attached."""
        before = len(self.servers)
        service, hub = self.client(tls_options)
        await until(lambda: hub.transport and len(self.servers) > before and self.servers[before].transport,
                    "both ends attached")
        return service, hub, self.servers[before]

    async def close(self) -> None:
        for service in self.clients:
            if service.running:
                await service.stopService()
        for endpoint in self.servers:
            if endpoint.transport is not None:
                endpoint.transport.close("the test is over")
        await until(lambda: all(endpoint.transport is None for endpoint in self.servers), "server ends closed")
        await self.stop_listening()


@pytest_twisted.async_yield_fixture
async def scene(files):
    scene = Scene(files)
    await scene.listen()
    yield scene
    await scene.close()


# --- text, binary, size ---------------------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_text_goes_both_ways_and_each_end_knows_the_other_by_address_and_certificate(scene, files):
    """Text goes both ways; each end knows the other's address and certificate fingerprint."""
    _service, hub, force = await scene.linked()

    hub.transport.send_text('{"type":"ping","clock":1.5}')
    force.transport.send_text('{"type":"pong","clock":2.0,"echo":1.5}')
    await until(lambda: force.texts and hub.texts, "a message each way")

    assert force.texts == ['{"type":"ping","clock":1.5}']
    assert hub.texts == ['{"type":"pong","clock":2.0,"echo":1.5}']
    assert hub.transport.peer == f"127.0.0.1:{scene.port_number}"
    assert force.transport.peer.startswith("127.0.0.1:") and force.transport.peer != hub.transport.peer
    assert hub.transport.fingerprint == pki.fingerprint_sha256(files.server_certificate)
    assert force.transport.fingerprint == pki.fingerprint_sha256(files.client_certificate)


@pytest_twisted.ensureDeferred
async def test_a_binary_message_is_answered_with_an_error_frame_and_the_link_stays_up(scene):
    """A binary message is answered with a ``malformed`` error frame, never delivered, and the link stays up."""
    _service, hub, force = await scene.linked()

    hub.transport._protocol.sendMessage(b"\x00\x01binary", isBinary=True)
    await until(lambda: hub.texts, "the force's answer to a binary message")
    force.transport.send_text("still here")
    hub.transport.send_text("me too")
    await until(lambda: len(hub.texts) == 2 and force.texts, "text after the binary message")

    assert decode_frame(hub.texts[0]) == ErrorFrame(code="malformed", reason=BINARY_REFUSED_REASON)
    assert hub.texts[1] == "still here" and force.texts == ["me too"]
    assert hub.detached == [] and force.detached == []


@pytest_twisted.ensureDeferred
async def test_a_two_megabyte_text_message_reaches_the_endpoint_whose_codec_judges_its_size(scene):
    """A 2 MiB text message reaches the endpoint whole: how big a frame may be is the codec's business."""
    _service, hub, force = await scene.linked()
    big = json.dumps({"type": "event", "payload": "x" * (2 * 1_048_576)})

    hub.transport.send_text(big)
    await until(lambda: force.texts, "the big message")

    assert force.texts == [big]
    assert force.detached == []


# --- going away, coming back, stopping ----------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_when_the_force_goes_away_the_hub_detaches_and_reconnects_once_it_is_back(scene):
    """The force going away detaches the hub's end, refused attempts are reported, and the hub reconnects once
    the force listens again on the same port."""
    _service, hub, force = await scene.linked()

    await scene.stop_listening()
    force.transport.close("the force is restarting")
    await until(lambda: hub.detached, "the hub's end detached")
    await until(lambda: "connection refused" in scene.failures, "a refused attempt reported")
    await scene.listen()
    await until(lambda: hub.transport is not None and len(scene.servers) == 2, "the hub back", deadline_s=3.0)

    assert hub.detached == ["closed by the force (code 1000: the force is restarting)"]
    assert force.detached == ["closed by this end: the force is restarting"]
    assert hub.attached == 2
    hub.transport.send_text("back")
    await until(lambda: scene.servers[1].texts == ["back"], "text on the new connection")


@pytest_twisted.ensureDeferred
async def test_a_connection_cut_without_a_close_is_detached_and_reconnected(scene):
    """A connection cut without a close handshake is detached at both ends and the hub reconnects by itself."""
    _service, hub, force = await scene.linked()

    force.transport._protocol.transport.abortConnection()
    await until(lambda: hub.detached and force.detached, "both ends detached")
    await until(lambda: hub.transport is not None and len(scene.servers) == 2, "the hub back")

    assert hub.detached[0].startswith("connection lost")
    assert hub.attached == 2


@pytest_twisted.ensureDeferred
async def test_stopping_the_client_closes_the_websocket_cleanly_and_leaves_no_timer(scene):
    """Stopping the hub's client closes the WebSocket with "going away" and leaves no timer behind."""
    before = set(reactor.getDelayedCalls())
    service, hub, force = await scene.linked()

    await service.stopService()
    await until(lambda: force.detached, "the force's end detached")

    assert hub.detached == ["closed by this end: the hub is stopping"]
    assert force.detached == ["closed by the hub (code 1001: the hub is stopping)"]
    left = [call for call in reactor.getDelayedCalls() if call not in before and call.active()]
    assert left == []
    await pause(0.3)  # longer than any back-off here: no new attempt
    assert len(scene.servers) == 1 and hub.attached == 1


@pytest_twisted.ensureDeferred
async def test_stopping_the_client_while_it_waits_to_reconnect_cancels_the_wait(scene):
    """Stopping while the next attempt is pending cancels it: no attempt, no timer, no report afterwards."""
    before = set(reactor.getDelayedCalls())
    await scene.stop_listening()
    service, hub = scene.client()
    await until(lambda: scene.failures, "an attempt refused")

    await service.stopService()
    reported = len(scene.failures)
    await pause(0.3)

    assert [call for call in reactor.getDelayedCalls() if call not in before and call.active()] == []
    assert len(scene.failures) == reported and hub.attached == 0


# --- refusals -------------------------------------------------------------------------------------------------


class PlainWebSocket(WebSocketClientProtocol):
    """An autobahn client that offers no sub-protocol."""

    def onOpen(self) -> None:
        self.factory.opened.append(self)

    def connectionLost(self, reason: Failure) -> None:
        super().connectionLost(reason)
        self.factory.lost.callback(self.wasNotCleanReason)


@pytest_twisted.ensureDeferred
async def test_a_client_that_does_not_offer_the_sub_protocol_is_refused_at_the_http_handshake(scene, files):
    """A WebSocket client that does not offer the sub-protocol gets an HTTP error and never reaches an endpoint."""
    factory = WebSocketClientFactory(url=scene.url, reactor=reactor)
    factory.protocol = PlainWebSocket
    factory.opened, factory.lost = [], Deferred()
    endpoint = wrapClientTLS(hub_tls(files), TCP4ClientEndpoint(reactor, "127.0.0.1", scene.port_number))
    await endpoint.connect(factory)

    reason = await factory.lost.addTimeout(DEADLINE_S, reactor)

    assert factory.opened == [] and scene.offered == []
    assert "400" in reason and SUBPROTOCOL in reason


@pytest_twisted.ensureDeferred
async def test_a_websocket_the_server_refuses_is_closed_with_a_policy_code(scene):
    """A WebSocket the server's ``endpoint_for`` refuses is closed with code 1008, and the hub says so."""
    scene.refuse = True
    service, hub = scene.client()
    await until(lambda: hub.detached, "the hub's end closed by the force")
    await service.stopService()

    assert scene.servers == [] and len(scene.offered) >= 1
    assert hub.detached[0].startswith("closed by the force (code 1008")


@pytest_twisted.ensureDeferred
async def test_a_force_certificate_the_hub_does_not_trust_ends_in_a_reason_and_no_link(scene, files, other):
    """A server certificate from a CA the hub does not trust: the attempt fails saying so, nothing attaches."""
    service, hub = scene.client(hub_tls(files, ca=other))
    await until(lambda: scene.failures, "the failed attempt reported")
    await service.stopService()

    assert hub.attached == 0 and scene.offered == []
    assert scene.failures[0].startswith("the force's certificate")
    assert "refused" in scene.failures[0] and "not trusted" in scene.failures[0]


@pytest_twisted.ensureDeferred
async def test_a_hub_without_a_client_certificate_is_refused_and_told_why(scene, files):
    """A hub that shows no client certificate is refused by the force: no link, and the reason says so."""
    from twisted.internet.ssl import Certificate, optionsForClientTLS

    anonymous = optionsForClientTLS("127.0.0.1", trustRoot=Certificate.loadPEM(files.ca_certificate.read_bytes()))
    service, hub = scene.client(anonymous)
    await until(lambda: scene.failures, "the failed attempt reported")
    await service.stopService()

    assert hub.attached == 0 and scene.offered == []
    assert "the force" in scene.failures[0] and "certificate" in scene.failures[0]


@pytest_twisted.ensureDeferred
async def test_a_hub_certificate_from_another_ca_is_refused_and_told_why(scene, files, other):
    """A hub certificate the force's CA did not issue is refused: no link, and the reason says the force refused."""
    service, hub = scene.client(client_tls(
        hostname="127.0.0.1", client_certificate=other.client_certificate, client_key=other.client_key,
        ca_certificate=files.ca_certificate))
    await until(lambda: scene.failures, "the failed attempt reported")
    await service.stopService()

    assert hub.attached == 0 and scene.offered == []
    assert "the force refused" in scene.failures[0]


class AnyProtocolServer(WebSocketServerProtocol):
    """An autobahn server that picks no sub-protocol."""

    def onConnect(self, request: Any) -> None:
        return None


@pytest_twisted.ensureDeferred
async def test_a_server_that_does_not_agree_to_the_sub_protocol_is_left_with_a_reason(files):
    """A server that answers without the sub-protocol is not linked to: the attempt fails saying so."""
    factory = WebSocketServerFactory(reactor=reactor)
    factory.protocol = AnyProtocolServer
    options = server_tls(certificate=files.server_certificate, key=files.server_key, client_ca=files.ca_certificate)
    port = await SSL4ServerEndpoint(reactor, 0, options, interface="127.0.0.1").listen(factory)
    scene = Scene(files)
    scene.port_number = port.getHost().port
    try:
        service, hub = scene.client()
        await until(lambda: scene.failures, "the failed attempt reported")
        await service.stopService()
    finally:
        await port.stopListening()

    assert hub.attached == 0
    assert scene.failures[0].startswith(f"the force did not agree to sub-protocol {SUBPROTOCOL}")


@pytest_twisted.ensureDeferred
async def test_autobahn_schedules_nothing_on_txaio_s_global_reactor(scene, monkeypatch):
    """Every timer autobahn sets for the link is on the reactor the link was given, never txaio's global one."""
    from txaio import tx

    def no_global_reactor(_api: Any) -> Any:
        raise AssertionError("autobahn asked txaio for the global reactor")

    monkeypatch.setattr(tx._TxApi, "_get_loop", no_global_reactor)
    service, hub, force = await scene.linked()
    hub.transport.send_text("hello")
    await until(lambda: force.texts == ["hello"], "a message")
    force.transport.close("closed by the force first")  # the client then waits for the server to drop TCP
    await until(lambda: hub.detached, "the hub's end detached")
    await service.stopService()

    assert hub.detached == ["closed by the force (code 1000: closed by the force first)"]


# --- back-off, on a fake clock ----------------------------------------------------------------------------------


class FixedRandom(random.Random):
    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


def test_the_back_off_doubles_from_the_initial_delay_up_to_the_cap_less_a_random_half():
    """Waits double from the initial delay up to the cap; the jitter takes up to half of each off."""
    most = [backoff_delay(attempt, initial_s=1.0, max_s=20.0, rng=FixedRandom(0.999999)) for attempt in range(1, 8)]
    least = [backoff_delay(attempt, initial_s=1.0, max_s=20.0, rng=FixedRandom(0.0)) for attempt in range(1, 8)]

    assert [round(delay, 3) for delay in most] == [1.0, 2.0, 4.0, 8.0, 16.0, 20.0, 20.0]
    assert least == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert backoff_delay(10_000, initial_s=1.0, max_s=60.0, rng=FixedRandom(0.5)) == 45.0


def test_connect_failures_are_told_in_words():
    """Connection failures are told in words, and a cancelled attempt is not a failure."""
    from twisted.internet.defer import CancelledError
    from twisted.internet.error import DNSLookupError, TCPTimedOutError

    assert connect_failure_reason(Failure(ConnectionRefusedError()), "force") == "connection refused"
    assert connect_failure_reason(Failure(TCPTimedOutError()), "force") == "timed out"
    assert "link.force" in connect_failure_reason(Failure(DNSLookupError()), "link.force")
    assert connect_failure_reason(Failure(CancelledError()), "force") is None


def test_failed_attempts_wait_longer_each_time_and_stopping_leaves_no_timer(files):
    """On a fake clock: each refused attempt is reported and the next waits longer, up to the cap; stopping
    cancels the wait."""
    clock = MemoryReactorClock()
    failures: list[str] = []
    service = LinkClientService(reactor=clock, url="wss://127.0.0.1:9/link", tls_options=hub_tls(files),
                                endpoint=Endpoint("hub"), log=structlog.get_logger(), rng=FixedRandom(0.999999),
                                backoff_initial_s=1.0, backoff_max_s=4.0, on_failure=failures.append)
    service.startService()
    waits = []
    for attempt in range(5):
        clock.advance(0)
        assert len(clock.tcpClients) == attempt + 1, "one attempt at a time"
        _host, _port, factory, _timeout, _bind = clock.tcpClients[-1]
        factory.clientConnectionFailed(None, Failure(ConnectionRefusedError()))
        while len(failures) == attempt:  # HostnameEndpoint gives up on its one address at its next step
            clock.advance(0.1)
        [retry] = clock.getDelayedCalls()
        waits.append(round(retry.getTime() - clock.seconds(), 3))
        clock.advance(retry.getTime() - clock.seconds())

    assert waits == [1.0, 2.0, 4.0, 4.0, 4.0]
    assert failures == ["connection refused"] * 5
    stopped = service.stopService()
    assert stopped.called
    assert_no_pending_timers(clock)
