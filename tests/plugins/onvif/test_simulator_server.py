"""The simulated fleet on real loopback sockets: one port per camera, long polls, hang-ups, reboots, digest."""

from __future__ import annotations

import random
import socket
from io import BytesIO

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.error import CannotListenError, ConnectError
from twisted.internet.protocol import Protocol
from twisted.internet.task import Clock
from twisted.web.client import (
    Agent,
    FileBodyProducer,
    HTTPConnectionPool,
    ResponseDone,
    ResponseFailed,
)
from twisted.web.http_headers import Headers

from hub.secrets import Secret
from hub.testing import assert_no_pending_timers
from plugins.onvif.sim_camera import CameraQuirks, Reply
from plugins.onvif.sim_server import EventGenerator, SimulatedFleet
from plugins.onvif.simulator import OnvifSimulatorConfig
from tests.plugins.onvif.simulator_client import (
    DEVICE,
    EVENTS,
    PASSWORD,
    digest_authorization,
    envelope,
    fault_subcodes,
    make_camera,
    operation,
    texts,
)

INFO = operation("tds", "GetDeviceInformation")
MOTION = "tns1:VideoSource/MotionAlarm"


def fleet_config(**settings) -> OnvifSimulatorConfig:
    return OnvifSimulatorConfig(password=Secret(PASSWORD), **{"cameras": 3, "base_port": 0, **settings})


@pytest_twisted.async_yield_fixture
async def fleet():
    fleet = SimulatedFleet(reactor, fleet_config(camera={
        "2": CameraQuirks(close_idle_polls=True), "3": CameraQuirks(auth="http_digest")}), random=random.Random(1))
    await fleet.start()
    yield fleet
    await fleet.stop()


async def http(method: str, url: str, body: bytes = b"", authorization: str | None = None) -> Reply:
    """One request on a connection of its own; the answer as a Reply (status, body, type, headers)."""
    pool = HTTPConnectionPool(reactor, persistent=False)
    headers = Headers({b"content-type": [b"application/soap+xml; charset=utf-8"]})
    if authorization:
        headers.addRawHeader(b"authorization", authorization.encode())
    response = await Agent(reactor, pool=pool).request(
        method.encode(), url.encode(), headers, FileBodyProducer(BytesIO(body)) if body else None)
    content = await read_body(response)
    extra = tuple((name.decode(), value.decode()) for name, values in response.headers.getAllRawHeaders()
                  for value in values if name.lower() == b"www-authenticate")
    content_type = (response.headers.getRawHeaders(b"content-type") or [b""])[0].decode()
    return Reply(response.code, content, content_type, extra)


def read_body(response) -> Deferred[bytes]:
    # readBody warns about the transport the Agent gives it; this collects the body without that.
    done: Deferred[bytes] = Deferred()
    chunks: list[bytes] = []

    class Collect(Protocol):
        def dataReceived(self, data: bytes) -> None:
            chunks.append(data)

        def connectionLost(self, reason) -> None:
            if reason.check(ResponseDone):
                done.callback(b"".join(chunks))
            else:
                done.errback(reason)

    response.deliverBody(Collect())
    return done


async def soap(camera, path: str, body_xml: str, **kwargs) -> Reply:
    return await http("POST", f"http://127.0.0.1:{camera.port}{path}",
                      envelope(body_xml, signed_at=camera.now()), **kwargs)


async def subscribe(camera) -> str:
    created = await soap(camera, EVENTS, operation(
        "tev", "CreatePullPointSubscription", "<tev:InitialTerminationTime>PT60S</tev:InitialTerminationTime>"))
    [address] = texts(created, "//wsa:Address/text()")
    return "/" + address.split("/", 3)[3]


def pull_body(timeout: str) -> str:
    return operation("tev", "PullMessages", f"<tev:Timeout>{timeout}</tev:Timeout><tev:MessageLimit>10"
                     "</tev:MessageLimit>")


@pytest_twisted.ensureDeferred
async def test_each_camera_listens_on_a_port_of_its_own_and_answers_as_itself(fleet):
    ports = {camera.port for camera in fleet.cameras.values()}
    assert len(ports) == 3 and 0 not in ports
    for number in ("1", "2"):
        reply = await soap(fleet.camera(number), DEVICE, INFO)
        assert texts(reply, "//tds:SerialNumber/text()") == [f"SIM00000{number}"]
    assert fleet.camera(1).requests["GetDeviceInformation"] == 1


@pytest_twisted.ensureDeferred
async def test_a_waiting_pull_is_answered_as_soon_as_an_event_is_raised(fleet):
    camera = fleet.camera("1")
    path = await subscribe(camera)
    reactor.callLater(0.2, camera.raise_event, MOTION, state=True)
    started = reactor.seconds()
    reply = await soap(camera, path, pull_body("PT20S"))
    waited = reactor.seconds() - started
    assert 0.15 < waited < 3
    assert texts(reply, "//wsnt:Topic/text()") == [MOTION]


@pytest_twisted.ensureDeferred
async def test_a_pull_with_nothing_to_say_is_answered_empty_at_its_timeout(fleet):
    camera = fleet.camera("1")
    path = await subscribe(camera)
    started = reactor.seconds()
    reply = await soap(camera, path, pull_body("PT0.3S"))
    assert reactor.seconds() - started >= 0.25
    assert reply.status == 200 and texts(reply, "//wsnt:NotificationMessage") == []
    assert camera.pull_points[path].waiter is None


@pytest_twisted.ensureDeferred
async def test_close_idle_polls_the_connection_is_closed_instead_of_an_empty_answer(fleet):
    camera = fleet.camera("2")
    path = await subscribe(camera)
    with pytest.raises(ResponseFailed):
        await soap(camera, path, pull_body("PT0.3S"))
    assert camera.live_pull_points() == 1  # the pull point is still there for the next poll


@pytest_twisted.ensureDeferred
async def test_a_reboot_drops_the_waiting_poll_and_forgets_the_pull_point(fleet):
    camera = fleet.camera("1")
    path = await subscribe(camera)
    reactor.callLater(0.2, camera.reboot)
    with pytest.raises(ResponseFailed):
        await soap(camera, path, pull_body("PT20S"))
    assert fault_subcodes(await soap(camera, path, pull_body("PT1S"))) == ["wsrf-rw:ResourceUnknownFault"]


@pytest_twisted.ensureDeferred
async def test_a_reboot_with_downtime_is_unreachable_then_back(fleet):
    camera = fleet.camera("1")
    camera.reboot(downtime_s=0.3)
    with pytest.raises(ConnectError):
        await soap(camera, DEVICE, INFO)
    await sleep(0.5)
    assert (await soap(camera, DEVICE, INFO)).status == 200


@pytest_twisted.ensureDeferred
async def test_a_camera_can_go_offline_and_come_back_on_the_same_port(fleet):
    camera = fleet.camera("1")
    port = camera.port
    await camera.go_offline()
    with pytest.raises(ConnectError):
        await soap(camera, DEVICE, INFO)
    assert (await soap(fleet.camera("2"), DEVICE, INFO)).status == 200  # the others are still there
    await camera.come_back()
    assert camera.port == port and (await soap(camera, DEVICE, INFO)).status == 200


@pytest_twisted.ensureDeferred
async def test_http_digest_over_the_wire_for_soap_and_the_snapshot(fleet):
    camera = fleet.camera("3")
    url = f"http://127.0.0.1:{camera.port}"
    challenged = await http("POST", url + DEVICE, envelope(INFO))
    assert challenged.status == 401
    challenge = dict(challenged.headers)["WWW-Authenticate"]
    answer = digest_authorization(challenge, method="POST", uri=DEVICE)
    assert (await http("POST", url + DEVICE, envelope(INFO), authorization=answer)).status == 200
    snapshot = "/snapshot/Profile_1.png"
    challenge = dict((await http("GET", url + snapshot)).headers)["WWW-Authenticate"]
    image = await http("GET", url + snapshot, authorization=digest_authorization(challenge, method="GET", uri=snapshot))
    assert image.status == 200 and image.content_type == "image/png" and image.body.startswith(b"\x89PNG")


@pytest_twisted.ensureDeferred
async def test_stopping_the_fleet_closes_ports_and_answers_no_waiting_poll():
    fleet = SimulatedFleet(reactor, fleet_config(cameras=1))
    await fleet.start()
    camera = fleet.camera("1")
    path = await subscribe(camera)
    waiting = Deferred.fromCoroutine(soap(camera, path, pull_body("PT20S")))
    await sleep(0.2)
    held = camera.pull_points[path].waiter
    assert held is not None
    await fleet.stop()
    with pytest.raises(ResponseFailed):
        await waiting
    assert not held._timer.active()  # its timer went with it
    with pytest.raises(ConnectError):
        await soap(camera, DEVICE, INFO)


@pytest_twisted.ensureDeferred
async def test_a_taken_port_fails_the_start_and_leaves_nothing_listening():
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    taken = blocker.getsockname()[1]
    try:
        fleet = SimulatedFleet(reactor, fleet_config(cameras=2, base_port=taken - 1))
        with pytest.raises(CannotListenError):
            await fleet.start()
        assert not any(network.online for network in fleet._networks)
    finally:
        blocker.close()


def test_the_event_generator_keeps_its_rate_across_the_fleet_and_stops_cleanly():
    """50 events/s for 4 s over three cameras: about 200, mostly motion starting and ending, on every camera."""
    clock = Clock()
    cameras = [make_camera(clock, number=str(n)) for n in (1, 2, 3)]
    generator = EventGenerator(clock, cameras, 50, random.Random(5))
    generator.start()
    for _ in range(400):
        clock.advance(0.01)
    generator.stop()
    assert 195 <= generator.raised <= 200
    assert sum(camera.events_raised for camera in cameras) == generator.raised
    assert all(camera.events_raised > 30 for camera in cameras)
    assert all(camera.property_state(MOTION) is not None for camera in cameras)
    assert_no_pending_timers(clock)


def test_the_event_generator_does_not_burst_after_a_stall():
    clock = Clock()
    generator = EventGenerator(clock, [make_camera(clock)], 10, random.Random(5))
    generator.start()
    clock.advance(60)  # one tick after a minute's stall
    assert generator.raised <= 10
    generator.stop()


def sleep(seconds: float) -> Deferred[None]:
    done: Deferred[None] = Deferred()
    reactor.callLater(seconds, done.callback, None)
    return done
