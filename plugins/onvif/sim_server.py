"""Simulated ONVIF cameras on real sockets: one port per camera, many cameras per process.

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

from plugins.onvif.sim_camera import HANGUP, LongPoll, Reply, SimulatedCamera
from plugins.onvif.sim_http import CameraConnection, CameraFactory, HttpRequest

if TYPE_CHECKING:
    from plugins.onvif.simulator import OnvifSimulatorConfig

class _HeldPoll:
    """A PullMessages waiting on its pull point: answered by the first of a message, its timeout, or the
    pull point going; forgotten if the client hangs up first."""

    def __init__(self, reactor: Any, camera: SimulatedCamera, connection: CameraConnection, poll: LongPoll) -> None:
        self._camera = camera
        self._connection = connection
        self._poll = poll
        self._done = False
        self._timer = reactor.callLater(poll.timeout_s, self._answer, True)
        poll.pull_point.waiter = self
        connection.on_lost = self._detach

    def wake(self) -> None:
        self._answer(False)

    def drop(self) -> None:
        if not self._done:
            self._detach()
            self._connection.abort()

    def _answer(self, timed_out: bool) -> None:
        if self._done:
            return
        self._detach()
        _send(self._connection, self._camera.answer_poll(self._poll, timed_out=timed_out))

    def _detach(self) -> None:
        self._done = True
        if self._timer.active():
            self._timer.cancel()
        if self._poll.pull_point.waiter is self:
            self._poll.pull_point.waiter = None


def _send(connection: CameraConnection, outcome: Reply | object) -> None:
    if outcome is HANGUP:
        connection.hang_up()
    else:
        assert isinstance(outcome, Reply)
        connection.respond(outcome.status, outcome.body, outcome.content_type, outcome.headers)


class CameraHttp:
    """Every path of one camera: SOAP by POST, snapshots by GET; long polls held until they are due."""

    def __init__(self, reactor: Any, camera: SimulatedCamera, log: Any) -> None:
        self._reactor = reactor
        self._camera = camera
        self._log = log

    def __call__(self, connection: CameraConnection, request: HttpRequest) -> None:
        try:
            if request.method == "POST":
                outcome = self._camera.handle(request.path, request.body, uri=request.target,
                                              authorization=request.header("authorization"))
            elif request.method in ("GET", "HEAD"):
                outcome = self._camera.snapshot(request.path, uri=request.target,
                                                authorization=request.header("authorization"))
            else:
                outcome = Reply(405, b"405 Method Not Allowed\n", "text/plain", (("Allow", "GET, HEAD, POST"),))
        except Exception:  # noqa: BLE001 - a bug in the simulator answers 500 and is logged, the fleet goes on
            self._log.exception("camera_request_failed", path=request.path)
            outcome = Reply(500, b"500 Internal Server Error\n", "text/plain")
        if isinstance(outcome, LongPoll):
            _HeldPoll(self._reactor, self._camera, connection, outcome)
        else:
            _send(connection, outcome)


class CameraNetwork:
    """One camera's place on the network: its listening port, its connections; offline and back."""

    def __init__(self, reactor: Any, camera: SimulatedCamera, interface: str, log: Any) -> None:
        self._reactor = reactor
        self._camera = camera
        self._interface = interface
        self.factory = CameraFactory(CameraHttp(reactor, camera, log))
        self._listening: Any = None
        camera.network = self

    @property
    def online(self) -> bool:
        return self._listening is not None

    def listen(self) -> None:
        if self._listening is None:
            self._listening = self._reactor.listenTCP(self._camera.port, self.factory, interface=self._interface)
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
        for connection in list(self.factory.connections):
            connection.abort()


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
#: The kinds of event in the mix, by the names a simulator's ``event_kinds`` lists, in EVENT_MIX's order.
EVENT_KINDS = ("motion", "input", "tamper", "line", "vendor")


def event_mix(kinds: Sequence[str]) -> tuple[tuple[float, str, bool], ...]:
    """The part of EVENT_MIX of these ``kinds``, its shares scaled to add up to one again."""
    chosen = [entry for kind, entry in zip(EVENT_KINDS, EVENT_MIX) if kind in kinds]
    total = sum(share for share, _topic, _property in chosen)
    return tuple((share / total, topic, is_property) for share, topic, is_property in chosen) if total else ()


class EventGenerator:
    """Camera events at ``rate_per_s`` in total, each on a camera picked at random: motion starting and
    ending, now and then a digital input, tamper, a line crossed or a vendor's topic."""

    def __init__(self, reactor: Any, cameras: Sequence[SimulatedCamera], rate_per_s: float,
                 random: random_module.Random, mix: Sequence[tuple[float, str, bool]] = EVENT_MIX) -> None:
        self._reactor = reactor
        self._cameras = list(cameras)
        self._mix = tuple(mix) or EVENT_MIX
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
        for share, topic, is_property in self._mix:
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
            camera_log = self._log.bind(camera=number)
            camera = SimulatedCamera(
                number, config.camera.get(number, config.quirks), clock=reactor, username=config.username,
                password=config.password, host=config.host, port=config.base_port + index if config.base_port else 0,
                random_bytes=random_bytes, monotonic_ns=monotonic_ns, presets=config.presets, log=camera_log)
            self.cameras[number] = camera
            self._networks.append(CameraNetwork(reactor, camera, config.host, camera_log))
        self.events = EventGenerator(reactor, list(self.cameras.values()), config.event_rate, self._random,
                                     event_mix(config.event_kinds))

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
