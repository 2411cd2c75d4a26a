"""The ONVIF adapter: every configured camera of one fleet, run as one supervised Twisted service.

Each camera has its own ``CameraRunner`` (connect, identify, subscribe, reconnect with back-off), all
sharing one HTTP transport and one request limiter, so the fleet never has more requests in flight than
the config allows. The adapter never fails as a whole because a camera does: a camera's trouble is its
own state in the directory and its own health events. Commands from the bus go to the command handler.
Stopping gives every pull point back to its camera (each within a bounded time) and leaves no timer.
"""

from __future__ import annotations

import random as random_module
from collections.abc import Callable
from typing import Any, Protocol

from twisted.application.service import Service
from twisted.internet.defer import Deferred, DeferredList, maybeDeferred, succeed
from twisted.internet.task import LoopingCall

from hub.api import AdapterContext
from hub.commands import subscribe_commands
from hub.directory import Asset, natural_key
from hub.outbox import Outbox
from plugins.onvif.camera import CameraRunner
from plugins.onvif.commands import CommandHandler
from plugins.onvif.config import CameraConfig, OnvifConfig
from plugins.onvif.events import DISABLED, ONLINE

#: How long one camera may take to give its pull point back when the adapter stops.
CLOSE_TIMEOUT_S = 5.0


class Connections(Protocol):
    """How the adapter reaches cameras: one client per camera, one subscription per client."""

    def client(self, number: str, camera: CameraConfig) -> Any: ...

    def subscription(self, client: Any, on_notifications: Callable[[tuple[Any, ...]], None],
                     on_state: Callable[[str, str], None]) -> Any: ...

    def close(self) -> Any: ...


class HttpConnections:
    """The real thing: one ``HttpTransport`` and ``Limiter`` for the fleet, a ``CameraClient`` per camera,
    a ``PullPointSubscription`` per camera."""

    def __init__(self, context: AdapterContext) -> None:
        from plugins.onvif.limiter import Limiter
        from plugins.onvif.transport import HttpTransport

        config: OnvifConfig = context.config
        self._context = context
        self._config = config
        self._transport = HttpTransport(context.reactor, max_reply_bytes=config.max_reply_bytes,
                                        connect_timeout_s=config.connect_timeout_s)
        self._limiter = Limiter(config.max_requests_overall, config.max_requests_per_camera)

    def client(self, number: str, camera: CameraConfig) -> Any:
        from plugins.onvif.client import CameraClient, CameraEndpoint

        username, password = self._config.credentials(number)
        endpoint = CameraEndpoint(camera=number, host=camera.host, port=camera.port, scheme=camera.scheme,
                                  device_path=camera.path, username=username, password=password,
                                  override_addresses=camera.override_addresses)
        return CameraClient(endpoint, self._transport, self._limiter, self._context.reactor,
                            self._context.log.bind(camera=number), request_timeout_s=self._config.request_timeout_s,
                            max_snapshot_bytes=self._config.max_snapshot_bytes)

    def subscription(self, client: Any, on_notifications: Callable[[tuple[Any, ...]], None],
                     on_state: Callable[[str, str], None]) -> Any:
        from plugins.onvif.pullpoint import PullPointSubscription

        config = self._config
        log = self._context.log.bind(camera=client.endpoint.camera)
        return PullPointSubscription(client, self._context.reactor, log, on_notifications=on_notifications,
                                     on_state=on_state, termination_s=config.subscription_s,
                                     pull_timeout_s=config.poll_timeout_s, unsubscribe_timeout_s=CLOSE_TIMEOUT_S)

    def close(self) -> Any:
        close = getattr(self._transport, "close", None)
        return close() if close is not None else None


class OnvifAdapter(Service):
    """One fleet of cameras. Built by the runtime with its ``AdapterContext`` on every (re)start.

    ``connections(context)`` gives the clients and subscriptions (tests pass fakes); ``random`` the
    jitter of back-off waits.
    """

    def __init__(
        self,
        context: AdapterContext,
        *,
        connections: Callable[[AdapterContext], Connections] = HttpConnections,
        random: Callable[[], float] | None = None,
    ) -> None:
        self.context = context
        self.config: OnvifConfig = context.config
        self._connections_factory = connections
        self._random = random if random is not None else random_module.Random().random
        self._log = context.log
        self._outbox = Outbox(context.bus, self._log)
        self._connections: Connections | None = None
        self.cameras: dict[str, CameraRunner] = {}
        self._commands: CommandHandler | None = None
        self._subscription: Any = None
        self._heartbeat: LoopingCall | None = None

    # --- Service --------------------------------------------------------------------------------------

    def startService(self) -> None:
        super().startService()
        context, config = self.context, self.config
        connections = self._connections = self._connections_factory(context)
        numbers = sorted(config.cameras, key=natural_key)
        enabled = [number for number in numbers if config.cameras[number].enabled]
        for number in numbers:
            if not config.cameras[number].enabled:
                self._put_disabled(number, config.cameras[number])
        for index, number in enumerate(enabled):
            camera = config.cameras[number]
            _username, password = config.credentials(number)
            runner = CameraRunner(
                number=number, camera=camera, fleet=config, client=connections.client(number, camera),
                make_subscription=connections.subscription, clock=context.reactor, events=context.events,
                publish=self._outbox.publish, directory=context.directory, source=context.name,
                heard=context.heard, random=self._random, log=self._log,
                # Spread evenly, so that a thousand cameras do not all connect in the same instant.
                start_delay_s=config.startup_spread_s * index / len(enabled),
                close_timeout_s=CLOSE_TIMEOUT_S, password=password,
            )
            self.cameras[number] = runner
        self._commands = CommandHandler(
            adapter_type=context.adapter_type, cameras=self.cameras,
            disabled=[number for number in numbers if number not in self.cameras], events=context.events,
            publish=self._outbox.publish, evidence=context.evidence, clock=context.reactor,
            ptz_speed=config.ptz_speed, log=self._log,
        )
        self._subscription = subscribe_commands(context, self._commands)
        for runner in self.cameras.values():
            runner.start()
        # A camera with nothing to report answers each long poll empty, which nobody hears about: while
        # any camera is online the adapter is hearing from its cameras.
        self._heartbeat = LoopingCall(self._beat)
        self._heartbeat.clock = context.reactor
        self._heartbeat.start(self.config.poll_timeout_s, now=False)
        self._log.info("onvif_adapter_started", cameras=len(self.cameras), disabled=len(numbers) - len(enabled))

    def stopService(self) -> Deferred[None]:
        super().stopService()
        if self._subscription is not None:
            self._subscription.cancel()
            self._subscription = None
        if self._heartbeat is not None and self._heartbeat.running:
            self._heartbeat.stop()
        self._heartbeat = None
        if self._commands is not None:
            self._commands.close()
        stops = [Deferred.fromCoroutine(runner.stop()) for runner in self.cameras.values()]
        stopped = DeferredList(stops, consumeErrors=True)
        stopped.addCallback(lambda _results: self._close_connections())
        stopped.addCallback(lambda _result: self._outbox.drain())
        stopped.addCallback(lambda _result: self._log.info("onvif_adapter_stopped"))
        return stopped

    def _close_connections(self) -> Deferred[Any]:
        connections, self._connections = self._connections, None
        if connections is None:
            return succeed(None)
        closing = maybeDeferred(connections.close)
        closing.addErrback(lambda failure: self._log.warning("transport_close_failed",
                                                             error=failure.getErrorMessage()))
        return closing

    def _beat(self) -> None:
        if any(runner.state == ONLINE for runner in self.cameras.values()):
            self.context.heard()

    def _put_disabled(self, number: str, camera: CameraConfig) -> None:
        directory = self.context.directory
        if directory is None:
            return
        directory.put(camera_asset(number, camera, self.context.name, state=DISABLED,
                                   since=self.context.reactor.seconds()))


def camera_asset(number: str, camera: CameraConfig, source: str, *, state: str | None = None,
                 since: float | None = None) -> Asset:
    """A camera's directory entry as its configuration says it: where it is, its site and fibre node; no
    presets or PTZ until the camera has been asked (the runner adds what it says of itself)."""
    return Asset(
        kind="camera", id=number, name=camera.name, source=source, latitude=camera.latitude,
        longitude=camera.longitude, state=state, state_since=since,
        attributes={"fibre_node": camera.fibre_node, "site": camera.site, "ptz": False, "presets": []},
    )


def declared_assets(config: OnvifConfig, source: str) -> list[Asset]:
    """Every configured camera of the fleet, without asking any of them (``AdapterType.assets``): a
    disabled one says so, the others' state is not known yet."""
    return [
        camera_asset(number, config.cameras[number], source,
                     state=None if config.cameras[number].enabled else DISABLED)
        for number in sorted(config.cameras, key=natural_key)
    ]
