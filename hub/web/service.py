"""``WebService``: the hub's web server as a Twisted service, over plain TCP or TLS.

It is given every hub piece it serves explicitly (nothing global), builds the route table, the live
stream and the site, and listens on ``[web] listen``. Port 0 picks a free port; ``port`` says which.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable, Iterable

import structlog
from twisted.application.service import Service
from twisted.internet import endpoints
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.python.failure import Failure

from hub.events import EventFactory
from hub.web.api import Api, build_routes
from hub.web.auth import WebAuth
from hub.web.backend import WebBackend
from hub.web.http import Takeover
from hub.web.metrics import WebMetrics
from hub.web.resource import HubResource, content_security_policy, make_site
from hub.web.routes import USER_ROLES, Route
from hub.web.stream import LiveStream

STATIC_DIR = Path(__file__).parent / "static"
_LISTEN = re.compile(r"^(?P<host>\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):(?P<port>\d{1,5})$")


def session_alive(sessions: Any) -> Callable[[str], bool]:
    """Whether a session still exists, asked without counting as activity where the manager allows."""
    return lambda token: sessions.lookup(token, touch=False) is not None


def tls_options(certificate: Path, private_key: Path) -> Any:
    """Twisted TLS options from PEM files; the certificate file may carry the chain after the leaf."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    from twisted.internet import ssl

    pem = Path(certificate).read_bytes()
    blocks = re.findall(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", pem, re.DOTALL)
    if not blocks:
        raise ValueError(f"{certificate} holds no PEM certificate")
    key = load_pem_private_key(Path(private_key).read_bytes(), password=None)
    leaf, *chain = [x509.load_pem_x509_certificate(block) for block in blocks]
    return ssl.CertificateOptions(privateKey=key, certificate=leaf, extraCertChain=chain)


def _plugin_routes(plugins: Any, context: Any, log: Any,
                   actor: Callable[[str, str, str | None], Any] | None = None) -> list[Route]:
    routes: list[Route] = []
    if plugins is None:
        return routes
    for plugin, web_route in plugins.web_routes():
        try:
            resource = web_route.resource_factory(context)
        except Exception as error:  # noqa: BLE001 - one plugin's broken route never stops the server
            log.error("plugin_route_failed", plugin=plugin, path=web_route.path, error=str(error))
            continue
        roles = tuple(role for role in web_route.roles if role in USER_ROLES)
        if not roles:
            log.error("plugin_route_without_roles", plugin=plugin, path=web_route.path)
            continue
        methods = [m for m in ("GET", "POST", "PUT", "PATCH", "DELETE") if hasattr(resource, f"render_{m}")]
        path = f"/api/plugins/{plugin}/{web_route.path.strip('/')}"

        async def handler(ctx: Any, resource: Any = resource) -> Takeover:
            # Who asks, as the audit log names them, for a resource that records what it hands out.
            if actor is not None and ctx.request is not None and ctx.principal is not None:
                ctx.request.hub_actor = actor(ctx.principal.name, ctx.principal.role, ctx.client)
            return Takeover(resource.render)

        for method in methods or ["GET"]:
            routes.append(Route(method, path, handler, roles, web_route.description or f"{plugin}: {path}",
                                tag=f"plugin:{plugin}", produces="*/*"))
    return routes


class WebService(Service):
    """Serves the API, the live stream, intake, health, metrics and the console.

    Pieces (keyword arguments):

    - ``bus``: the ``hub.bus.Bus``; ``codec``: its ``EventCodec``; ``events``: an ``EventFactory`` (its
      source becomes ``hub.api`` for commands and ``partner.<name>`` for reports).
    - ``incidents``: the ``IncidentEngine`` (or an ``IncidentDesk`` with ``is_desk = True``).
    - ``users``, ``sessions``, ``throttle``, ``partners``: ``UserStore``, ``SessionManager``,
      ``LoginThrottle``, ``PartnerGate``; ``audit``: the ``AuditLog``.
    - ``directory``: the ``Directory``; ``evidence``: the ``EvidenceStore`` (None: no evidence served);
      ``adapters``: a callable returning every adapter's
      ``AdapterStatus``; ``adapter_types``: name to ``AdapterType`` (for their commands);
      ``adapter_services``: a callable returning (instance name, its service or None) for each adapter,
      whose ``metrics()`` ``/metrics`` reads.
    - ``plugins``: the ``PluginHost`` (web routes, console panels); ``plugin_context``: what a plugin
      route's ``resource_factory`` is called with (the Hub).
    - ``config``: the ``HubConfig`` (its ``web``, ``map``, ``partners``, ``incidents``, ``hub.name`` and
      ``hub.timezone`` are read).
    - ``reactor``: listens and times; ``log``: a structlog logger.
    """

    name = "web"

    def __init__(
        self,
        *,
        bus: Any,
        incidents: Any,
        users: Any,
        sessions: Any,
        throttle: Any,
        partners: Any,
        audit: Any,
        directory: Any,
        adapters: Callable[[], Iterable[Any]],
        adapter_types: dict[str, Any],
        plugins: Any,
        config: Any,
        reactor: Any,
        events: EventFactory,
        codec: Any = None,
        log: Any = None,
        evidence: Any = None,
        plugin_context: Any = None,
        static_dir: Path | None = STATIC_DIR,
        actor: Callable[[str, str, str | None], Any] | None = None,
        version: str | None = None,
        adapter_services: Callable[[], Iterable[tuple[str, Any]]] | None = None,
    ) -> None:
        from hub import __version__

        self.config = config
        self.reactor = reactor
        self.log = (log if log is not None else structlog.get_logger("hub.web")).bind(component="web")
        extra: dict[str, Any] = {"actor": actor} if actor is not None else {}
        if adapter_services is not None:
            extra["adapter_services"] = lambda: list(adapter_services())
        self.backend = WebBackend.build(
            bus=bus, codec=codec if codec is not None else bus.codec, events=events.for_source("hub.api"),
            clock=reactor, log=self.log, incidents=incidents, users=users, sessions=sessions,
            throttle=throttle, partners=partners, audit=audit, directory=directory, evidence=evidence,
            adapters=lambda: list(adapters()), adapter_types=dict(adapter_types), web=config.web,
            map=config.map, hub_name=config.hub.name, rules=config.incidents, timezone=config.hub.timezone,
            plugins=plugins, plugin_context=plugin_context, hub_version=version or __version__, **extra,
        )
        self.metrics = WebMetrics()
        self.stream = LiveStream(bus, reactor, self.log.bind(part="stream"), on_event=self.metrics.event_seen,
                                 session_alive=session_alive(sessions))
        self.api = Api(self.backend, self.stream, self.metrics, static_dir)
        self.table = build_routes(self.api, _plugin_routes(plugins, plugin_context, self.log, self.backend.actor))
        self.resource = HubResource(self.table, WebAuth(self.backend), self.metrics, self.log,
                                    csp=content_security_policy(config.map.tile_url))
        self.site = make_site(self.resource, config.web.max_request_bytes)
        self.listening: Any = None
        self._started: Deferred[Any] | None = None

    @property
    def secure(self) -> bool:
        return self.config.web.tls_certificate is not None

    @property
    def port(self) -> int:
        """The port listened on (the one picked, when the config says 0)."""
        if self.listening is None:
            raise RuntimeError("the web service is not listening")
        return self.listening.getHost().port

    @property
    def url(self) -> str:
        host = self.listening.getHost().host if self.listening is not None else "127.0.0.1"
        host = f"[{host}]" if ":" in host else host
        return f"{'https' if self.secure else 'http'}://{host}:{self.port}"

    def endpoint(self) -> Any:
        match = _LISTEN.match(self.config.web.listen)
        if match is None:
            raise ValueError(f"[web] listen {self.config.web.listen!r} is not HOST:PORT")
        host, port = match.group("host").strip("[]"), int(match.group("port"))
        if self.secure:
            options = tls_options(self.config.web.tls_certificate, self.config.web.tls_private_key)
            return endpoints.SSL4ServerEndpoint(self.reactor, port, options, interface=host)
        if ":" in host:
            return endpoints.TCP6ServerEndpoint(self.reactor, port, interface=host)
        return endpoints.TCP4ServerEndpoint(self.reactor, port, interface=host)

    def startService(self) -> "Deferred[Any]":  # noqa: N802 - Twisted's name
        Service.startService(self)
        self.stream.start()
        self._started = Deferred.fromCoroutine(self._listen())
        return self._started

    def when_listening(self) -> "Deferred[Any]":
        """Fires with the listening port once the server accepts connections."""
        if self._started is None:
            raise RuntimeError("start the web service first")
        done: Deferred[Any] = Deferred()

        def fire(result: Any) -> Any:
            if isinstance(result, Failure):
                done.errback(result)
                return None  # handed on to ``done``
            done.callback(result)
            return result

        self._started.addBoth(fire)
        return done

    async def _listen(self) -> Any:
        try:
            self.listening = await self.endpoint().listen(self.site)
        except Exception as error:
            self.log.error("web_listen_failed", listen=self.config.web.listen, error=str(error))
            raise
        self.log.info("web_listening", url=self.url, tls=self.secure, routes=len(self.table.routes))
        return self.listening

    def stopService(self) -> "Deferred[None]":  # noqa: N802 - Twisted's name
        Service.stopService(self)
        return Deferred.fromCoroutine(self._stop())

    async def _stop(self) -> None:
        self.stream.stop()
        self.api.intake.close()
        if self.listening is not None:
            listening, self.listening = self.listening, None
            # A real port answers with a Deferred; a test reactor's fake port with None.
            await maybeDeferred(listening.stopListening)
        self.log.info("web_stopped")
