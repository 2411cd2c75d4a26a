"""``hub bench console``: publish-to-browser latency of the live stream, beside a bare WebSocket fan-out.

Two runs in one command, each with the same clients (``hub.bench.stream_clients``, in a process of
their own so their CPU is not counted as the hub's) at the same offered rate:

(a) the hub: a whole hub (journal with the production durability, incident engine, web server, the
    real ``/api/stream`` with session auth) on a temporary data folder; events published on its bus;
(b) the peer that bounds it: a bare Twisted WebSocket server that writes the same frames to the same
    number of clients with nothing else (no journal, no fsync, no auth, no per-client bookkeeping).

Latency is from the moment the event is handed to ``bus.publish`` (or to the bare server) to the
moment a client has decoded it, both read from ``CLOCK_MONOTONIC``, which the processes share. Hub
CPU is this process's user+system time over the publishing window (the reactor, the writer thread and
the publisher, which is a small part of it). Timing uses ``time`` because a benchmark measures
elapsed time; hub logic never does.
"""

from __future__ import annotations

import os
import platform
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, ClassVar

import attrs
import orjson
from twisted.internet.defer import Deferred
from twisted.internet.protocol import ProcessProtocol
from twisted.internet.task import LoopingCall, deferLater

from hub.bench import cpu_seconds
from hub.bench.stream_clients import END_TOPIC
from hub.events import Severity, Subject

TICK_TOPIC = "bench.console.tick"
GOAL_P99_MS = 100.0


@attrs.frozen
class StreamTick:
    """The benchmark's payload: when it was published (monotonic ns) and a line of text like a report."""

    TYPE: ClassVar[str] = "bench.console.tick"

    sent_ns: int
    text: str


class _Clients(ProcessProtocol):
    """The client process: says ``ready`` once every client is connected, then one JSON line at the end."""

    def __init__(self) -> None:
        self.ready: Deferred[None] = Deferred()
        self.ended: Deferred[None] = Deferred()
        self.lines: list[str] = []
        self._buffer = b""
        self.errors = b""

    def outReceived(self, data: bytes) -> None:  # noqa: N802 - Twisted's name
        self._buffer += data
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            text = line.decode()
            self.lines.append(text)
            if text == "ready" and not self.ready.called:
                self.ready.callback(None)

    def errReceived(self, data: bytes) -> None:  # noqa: N802 - Twisted's name
        self.errors += data

    def processEnded(self, reason: Any) -> None:  # noqa: N802 - Twisted's name
        if not self.ready.called:
            self.ready.errback(RuntimeError(f"stream clients failed: {self.errors.decode()[-2000:]}"))
        self.ended.callback(None)

    def summary(self) -> dict[str, Any]:
        for line in reversed(self.lines):
            if line.startswith("{"):
                return orjson.loads(line)
        raise RuntimeError(f"stream clients printed no summary: {self.errors.decode()[-2000:]}")


class ConsoleBenchmark:
    def __init__(self, clients: int = 50, rate: float = 500.0, seconds: float = 30.0) -> None:
        self.clients = clients
        self.rate = rate
        self.seconds = seconds

    async def run(self, reactor: Any) -> dict[str, Any]:
        bare = await self._bare(reactor)
        with tempfile.TemporaryDirectory(prefix="hub-bench-console-") as folder:
            hub = await self._hub(reactor, Path(folder))
        return {
            "hub": hub,
            "bare_websocket": bare,
            "goal_p99_ms": GOAL_P99_MS,
            "goal_met": hub["latency_ms_p99"] <= GOAL_P99_MS and hub["clients_behind"] == 0,
            "clients": self.clients,
            "offered_rate": self.rate,
            "seconds": self.seconds,
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            "cpus": os.cpu_count(),
        }

    # --- the clients and the steady publisher, shared by both runs ------------------------------------

    async def _with_clients(self, reactor: Any, port: int, cookie: str, publish: Any) -> dict[str, Any]:
        clients = _Clients()
        command = [sys.executable, "-m", "hub.bench.stream_clients", "--port", str(port),
                   "--clients", str(self.clients), "--cookie", "-", "--timeout", str(self.seconds + 60)]
        process = reactor.spawnProcess(clients, sys.executable, command, env=dict(os.environ))
        process.write(cookie.encode() + b"\n")
        await clients.ready
        # Let the clients' hello frames and the hub's catch-up settle before the clock starts.
        await deferLater(reactor, 0.5, lambda: None)
        cpu_before = cpu_seconds()
        started = time.monotonic()
        published = 0

        def tick() -> None:
            nonlocal published
            due = int(self.rate * (time.monotonic() - started))
            while published < due:
                published += 1
                publish(published, time.monotonic_ns())

        loop = LoopingCall(tick)
        loop.clock = reactor
        loop.start(0.002)
        await deferLater(reactor, self.seconds, lambda: None)
        loop.stop()
        elapsed = time.monotonic() - started
        cpu = cpu_seconds() - cpu_before
        publish(None, time.monotonic_ns())  # the end marker
        await clients.ended
        summary = clients.summary()
        summary.update(
            events_published=published,
            achieved_rate=round(published / elapsed, 1),
            cpu_seconds=round(cpu, 2),
            cpu_percent_of_one_core=round(100 * cpu / elapsed, 1),
            # A client that missed any event by the end marker fell behind (or lost something).
            clients_behind=sum(1 for count in summary.pop("events_received_per_client") if count < published),
        )
        for key in ("latency_ms_p50", "latency_ms_p99", "latency_ms_max"):
            summary[key] = round(summary[key], 2)
        return summary

    # --- (a) the hub ---------------------------------------------------------------------------------

    async def _hub(self, reactor: Any, folder: Path) -> dict[str, Any]:
        from hub.app import Hub
        from hub.config import HubConfig, HubSection, LoggingConfig, WebConfig
        from hub.plugins import make_plugin_manager

        config = HubConfig(
            path=folder / "bench.toml",
            hub=HubSection(name="bench", data_dir=folder),
            logging=LoggingConfig(level="warning"),
            web=WebConfig(listen="127.0.0.1:0"),
        )
        hub = Hub(config, make_plugin_manager(), reactor)
        hub.registry.register(StreamTick)
        await hub.startService()
        try:
            assert hub.users is not None and hub.sessions is not None and hub.web is not None
            user = await hub.users.add("bench", "operator", "bench-password-not-secret")
            token, _session = hub.sessions.create(user, "127.0.0.1")
            events = hub.events.for_source("bench.publisher")
            publishing: list[Deferred[int]] = []

            def publish(number: int | None, sent_ns: int) -> None:
                topic = END_TOPIC if number is None else TICK_TOPIC
                event = events(
                    topic,
                    StreamTick(sent_ns=sent_ns, text=f"Report {number}: male, grey hoodie, heading to the market"),
                    severity=Severity.INFO,
                    subject=Subject(kind="radio_unit", id=str((number or 0) % 40)),
                    summary=f"Bench report {number}",
                )
                publishing.append(hub.bus.publish(event))

            result = await self._with_clients(reactor, hub.web.port, f"hub_session={token}", publish)
            result["journal_commits"] = hub.bus.journal.flushes
            return result
        finally:
            await hub.stopService()

    # --- (b) the bare WebSocket fan-out ------------------------------------------------------------------

    async def _bare(self, reactor: Any) -> dict[str, Any]:
        from twisted.web.resource import Resource
        from twisted.web.server import Site
        from twisted.web.websocket import WebSocketResource

        connected: list[Any] = []

        class Peer:
            def negotiationStarted(self, transport: Any) -> None:  # noqa: N802 - Twisted's name
                self.transport = transport

            def negotiationFinished(self) -> None:  # noqa: N802 - Twisted's name
                connected.append(self.transport)

            def textMessageReceived(self, message: str) -> None:  # noqa: N802 - Twisted's name
                pass

            def bytesMessageReceived(self, data: bytes) -> None:  # noqa: N802 - Twisted's name
                pass

            def pongReceived(self, payload: bytes) -> None:  # noqa: N802 - Twisted's name
                pass

            def connectionLost(self, reason: Any) -> None:  # noqa: N802 - Twisted's name
                # By identity: the transport's own equality is not meant for this.
                connected[:] = [t for t in connected if t is not self.transport]

        class Factory:
            def buildProtocol(self, request: Any) -> Peer:  # noqa: N802 - Twisted's name
                return Peer()

        root = Resource()
        root.putChild(b"api", api := Resource())
        api.putChild(b"stream", WebSocketResource(Factory()))
        port = reactor.listenTCP(0, Site(root), interface="127.0.0.1")
        seq = 0

        def publish(number: int | None, sent_ns: int) -> None:
            nonlocal seq
            seq += 1
            topic = END_TOPIC if number is None else TICK_TOPIC
            frame = orjson.dumps({"type": "events", "events": [
                {"seq": seq, "topic": topic, "summary": f"Bench report {number}",
                 "payload": {"sent_ns": sent_ns, "text": f"Report {number}"}}]}).decode()
            for transport in tuple(connected):
                transport.sendTextMessage(frame)

        try:
            return await self._with_clients(reactor, port.getHost().port, "", publish)
        finally:
            await port.stopListening()
