"""Simulated ONVIF cameras on real sockets: one twisted.web site per camera, one port each, many per process.

``SimulatedFleet`` builds the cameras (``sim_camera``), listens for each on ``base_port + index`` of one
host, holds PullMessages long polls until a message comes or the timeout passes (no thread, no timer per
message: a queued message answers the waiting poll at once), and plays a fleet-wide event generator at a
total rate. ``go_offline``/``come_back`` stop and restart one camera's listening; a reboot drops its
connections as a real restart does.
"""

from __future__ import annotations

import os
import random as random_module
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import structlog
from twisted.internet.defer import Deferred, fail, gatherResults, maybeDeferred, succeed
from twisted.internet.task import LoopingCall
from twisted.web.http import HTTPChannel
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site

from plugins.onvif.sim_camera import HANGUP, LongPoll, Reply, SimulatedCamera

if TYPE_CHECKING:
    from plugins.onvif.simulator import OnvifSimulatorConfig

#: Connections a camera keeps open with nothing said before it closes them, as cameras do.
IDLE_CONNECTION_S = 300


def _write(request: Request, reply: Reply) -> bytes:
    request.setResponseCode(reply.status)
    request.setHeader(b"content-type", reply.content_type.encode("ascii"))
    for name, value in reply.headers:
        request.setHeader(name.encode("ascii"), value.encode("latin-1"))
    return reply.body


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")


class _HeldPoll:
    """A PullMessages waiting on its pull point: answered by the first of a message, its timeout, or the
    pull point going; forgotten if the client hangs up first."""

    def __init__(self, reactor: Any, camera: SimulatedCamera, request: Request, poll: LongPoll) -> None:
        self._camera = camera
        self._request = request
        self._poll = poll
        self._done = False
        self._timer = reactor.callLater(poll.timeout_s, self._answer, True)
        poll.pull_point.waiter = self
        request.notifyFinish().addErrback(self._gone)

    def wake(self) -> None:
        self._answer(False)

    def drop(self) -> None:
        if not self._done:
            self._detach()
            self._request.transport.abortConnection()

    def _answer(self, timed_out: bool) -> None:
        if self._done:
            return
        self._detach()
        outcome = self._camera.answer_poll(self._poll, timed_out=timed_out)
        if outcome is HANGUP:
            self._request.transport.loseConnection()
            return
        body = _write(self._request, outcome)  # type: ignore[arg-type]
        self._request.setHeader(b"content-length", str(len(body)).encode("ascii"))
        self._request.write(body)
        self._request.finish()

    def _detach(self) -> None:
        self._done = True
        if self._timer.active():
            self._timer.cancel()
        if self._poll.pull_point.waiter is self:
            self._poll.pull_point.waiter = None

    def _gone(self, _failure: Any) -> None:
        self._detach()


class CameraResource(Resource):
    """Every path of one camera: SOAP by POST, snapshots by GET."""

    isLeaf = True

    def __init__(self, reactor: Any, camera: SimulatedCamera) -> None:
        super().__init__()
        self._reactor = reactor
        self._camera = camera

    def render_POST(self, request: Request) -> bytes | int:
        outcome = self._camera.handle(
            request.path.decode("latin-1"), request.content.read(), uri=request.uri.decode("latin-1"),
            authorization=_text(request.getHeader(b"authorization")))
        if isinstance(outcome, LongPoll):
            _HeldPoll(self._reactor, self._camera, request, outcome)
            return NOT_DONE_YET
        if outcome is HANGUP:
            request.transport.loseConnection()
            return NOT_DONE_YET
        return _write(request, outcome)  # type: ignore[arg-type]

    def render_GET(self, request: Request) -> bytes:
        return _write(request, self._camera.snapshot(
            request.path.decode("latin-1"), uri=request.uri.decode("latin-1"),
            authorization=_text(request.getHeader(b"authorization"))))


class CameraSite(Site):
    """A site that keeps no access log (a thousand of them would each tick a timer every second for its
    log's date) and remembers its connections, so that a reboot or going offline can drop them. Its channels
    are plain HTTP/1.1 ones: no protocol negotiation, one proxy fewer on every read."""

    protocol = HTTPChannel

    def __init__(self, resource: Resource, reactor: Any) -> None:
        super().__init__(resource, reactor=reactor, timeout=IDLE_CONNECTION_S)
        self.connections: set[Any] = set()

    def startFactory(self) -> None:
        pass

    def stopFactory(self) -> None:
        pass

    def log(self, request: Request) -> None:
        pass

    def buildProtocol(self, addr: Any) -> Any:
        protocol = super().buildProtocol(addr)
        self.connections.add(protocol)
        lost = protocol.connectionLost

        def connection_lost(reason: Any) -> None:
            self.connections.discard(protocol)
            lost(reason)

        protocol.connectionLost = connection_lost
        return protocol


class CameraNetwork:
    """One camera's place on the network: its listening port, its connections; offline and back."""

    def __init__(self, reactor: Any, camera: SimulatedCamera, interface: str) -> None:
        self._reactor = reactor
        self._camera = camera
        self._interface = interface
        self.site = CameraSite(CameraResource(reactor, camera), reactor)
        self._listening: Any = None
        camera.network = self

    @property
    def online(self) -> bool:
        return self._listening is not None

    def listen(self) -> None:
        if self._listening is None:
            self._listening = self._reactor.listenTCP(self._camera.port, self.site, interface=self._interface)
            self._camera.port = self._listening.getHost().port

    def go_offline(self) -> Deferred[None]:
        listening, self._listening = self._listening, None
        self.drop_connections()
        if listening is None:
            return succeed(None)
        return maybeDeferred(listening.stopListening)

    def come_back(self) -> Deferred[None]:
        self.listen()
        return succeed(None)

    def drop_connections(self) -> None:
        for protocol in list(self.site.connections):
            if protocol.transport is not None:
                protocol.transport.abortConnection()


# --- events across the fleet -----------------------------------------------------------------------------

MOTION = "tns1:VideoSource/MotionAlarm"
#: (share of events, topic, whether it is a property that starts and ends)
EVENT_MIX = (
    (0.80, MOTION, True),
    (0.08, "tns1:Device/Trigger/DigitalInput", True),
    (0.05, "tns1:VideoSource/ImageTooBlurry/AnalyticsService", True),
    (0.04, "tns1:RuleEngine/LineDetector/Crossed", False),
    (0.03, "tnssim:Analytics/Loitering", False),  # a vendor's topic, which the hub must not drop
)


class EventGenerator:
    """Camera events at ``rate_per_s`` in total, each on a camera picked at random: motion starting and
    ending, now and then a digital input, tamper, a line crossed or a vendor's topic."""

    def __init__(self, reactor: Any, cameras: Sequence[SimulatedCamera], rate_per_s: float,
                 random: random_module.Random) -> None:
        self._reactor = reactor
        self._cameras = list(cameras)
        self.rate_per_s = rate_per_s
        self._random = random
        self._loop: LoopingCall | None = None
        self._budget = 0.0
        self._last = 0.0
        self.raised = 0

    @property
    def running(self) -> bool:
        return self._loop is not None

    def start(self) -> None:
        if self._loop is not None or self.rate_per_s <= 0 or not self._cameras:
            return
        self._last = self._reactor.seconds()
        self._budget = 0.0
        self._loop = LoopingCall(self._tick)
        self._loop.clock = self._reactor
        # A tick per event up to 200/s, then several per tick: timestamps are taken per event anyway.
        self._loop.start(min(1.0, max(0.005, 1.0 / self.rate_per_s)), now=False)

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.stop()
            self._loop = None

    def _tick(self) -> None:
        now = self._reactor.seconds()
        # A stalled reactor does not make a burst of more than a second's events.
        self._budget = min(self._budget + (now - self._last) * self.rate_per_s, max(1.0, self.rate_per_s))
        self._last = now
        count = int(self._budget)
        self._budget -= count
        for _ in range(count):
            self.one()

    def one(self, camera: SimulatedCamera | None = None) -> int | None:
        """One event now, on ``camera`` or a random one; its SimSentNs (None if a stuck camera held it)."""
        camera = camera or self._random.choice(self._cameras)
        roll = self._random.random()
        for share, topic, is_property in EVENT_MIX:
            roll -= share
            if roll < 0:
                break
        self.raised += 1
        if is_property:
            return camera.raise_event(topic, state=not camera.property_state(topic))
        return camera.raise_event(topic)


# --- the fleet -------------------------------------------------------------------------------------------


class SimulatedFleet:
    """Cameras numbered ``first_number`` up, each on its own port of ``config.host``, and the event generator.

    ``start()`` listens for them all (a Deferred; it fails, closing what it opened, if a port is taken),
    ``stop()`` closes everything; ``camera("7")`` is one camera, for tests and the CLI.
    """

    def __init__(
        self,
        reactor: Any,
        config: OnvifSimulatorConfig,
        *,
        log: Any = None,
        random: random_module.Random | None = None,
        random_bytes: Callable[[int], bytes] = os.urandom,
        monotonic_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self.config = config
        self._log = log if log is not None else structlog.get_logger()
        self._random = random if random is not None else random_module.Random()
        self.cameras: dict[str, SimulatedCamera] = {}
        self._networks: list[CameraNetwork] = []
        for index in range(config.cameras):
            number = str(config.first_number + index)
            camera = SimulatedCamera(
                number, config.camera.get(number, config.quirks), clock=reactor, username=config.username,
                password=config.password, host=config.host, port=config.base_port + index if config.base_port else 0,
                random_bytes=random_bytes, monotonic_ns=monotonic_ns, log=self._log.bind(camera=number))
            self.cameras[number] = camera
            self._networks.append(CameraNetwork(reactor, camera, config.host))
        self.events = EventGenerator(reactor, list(self.cameras.values()), config.event_rate, self._random)

    def camera(self, number: str | int) -> SimulatedCamera:
        return self.cameras[str(number)]

    @property
    def ports(self) -> tuple[int, int]:
        """The first and last camera's ports (once started, when base_port is 0)."""
        cameras = list(self.cameras.values())
        return cameras[0].port, cameras[-1].port

    def start(self) -> Deferred[None]:
        try:
            for network in self._networks:
                network.listen()
        except Exception:  # noqa: BLE001 - a port taken or an address not ours: undo, and say so
            for network in self._networks:
                network.go_offline()
            return fail()
        self.events.start()
        first, last = self.ports
        self._log.info("camera_fleet_started", cameras=len(self.cameras), host=self.config.host,
                       first_port=first, last_port=last, event_rate=self.config.event_rate)
        return succeed(None)

    def stop(self) -> Deferred[Any]:
        self.events.stop()
        return gatherResults([network.go_offline() for network in self._networks])

    def stats(self) -> dict[str, int]:
        """Totals across the fleet: for the CLI's closing line and the benchmark's sanity checks."""
        cameras = self.cameras.values()
        return {
            "events_raised": sum(camera.events_raised for camera in cameras),
            "notifications_delivered": sum(camera.notifications_delivered for camera in cameras),
            "requests": sum(sum(camera.requests.values()) for camera in cameras),
            "auth_failures": sum(sum(camera.auth_failures.values()) for camera in cameras),
            "pull_points": sum(camera.live_pull_points() for camera in cameras),
        }
