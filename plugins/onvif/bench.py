"""``hub bench onvif``: a fleet of simulated cameras with live pull-point subscriptions, driven by the hub and,
in the same run, by onvif-zeep-async (the ONVIF library Home Assistant uses), side by side.

Three processes, so that nobody's CPU is counted for another:

- the **fleet**: ``--cameras`` simulated ONVIF cameras (``plugins.onvif.simulator``), each on its own port,
  raising ``--rate`` camera events per second in total once told to, each stamped with CLOCK_MONOTONIC;
- the **hub**: this process, running the real ``OnvifAdapter`` with a real bus whose journal is on disk
  (synchronous=FULL), exactly as ``hub run`` does; every camera keeps one pull point and a long poll;
- the **peer**: a child process running onvif-zeep-async's ``ONVIFCamera`` and ``PullPointManager`` for
  every camera, pulling the same way (same long-poll timeout and message limit, same subscription time).

Each phase subscribes every camera, lets events flow for a warm-up, then counts CPU-seconds (user +
system, all threads) and delivered events over ``--seconds``. The hub's figure includes its journal writer
and its own idle cost of keeping every long poll open; so does the peer's. Latency is from the fleet's
stamp on the event to the event delivered to a bus subscriber after its journal commit (the hub), or to
the parsed PullMessages reply (the peer, which has no journal). Both processes read CLOCK_MONOTONIC, one
clock for the whole machine.

Timing uses ``time.monotonic_ns`` and ``resource.getrusage``: a benchmark measures elapsed time and CPU;
the adapter's logic never does.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import sys
import time
from typing import Any

from hub.bench import cpu_seconds, percentile
from hub.limits import raise_open_file_limit

#: The data item the simulated cameras stamp each notification with (CLOCK_MONOTONIC, nanoseconds).
STAMP = "SimSentNs"
USERNAME = "bench"


def add_arguments(parser: Any) -> None:
    parser.add_argument("--cameras", type=int, default=1000, help="simulated cameras (default 1000)")
    parser.add_argument("--rate", type=float, default=200.0, help="camera events per second in total (default 200)")
    parser.add_argument("--seconds", type=float, default=60.0, help="measured seconds per phase (default 60)")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of events before measuring (default 5)")
    parser.add_argument("--no-peer", action="store_true", help="measure the hub only, without onvif-zeep-async")


# --- small helpers ----------------------------------------------------------------------------------------


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _latency_figures(latencies_ms: list[float]) -> dict[str, Any]:
    ordered = sorted(latencies_ms)
    if not ordered:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    return {"p50_ms": round(percentile(ordered, 0.5), 3), "p99_ms": round(percentile(ordered, 0.99), 3),
            "max_ms": round(ordered[-1], 3)}


# --- the orchestrator (the hub's process) ----------------------------------------------------------------


class _Child:
    """A child process spoken to in JSON lines over its stdin and stdout, on the reactor."""

    def __init__(self, reactor: Any, argv: list[str], environ: dict[str, str]) -> None:
        from twisted.internet.defer import Deferred
        from twisted.internet.protocol import ProcessProtocol

        child = self
        self._lines: list[dict[str, Any]] = []
        self._waiting: list[Deferred[dict[str, Any]]] = []
        self.ended: Deferred[int] = Deferred()
        self.stderr = bytearray()

        class Protocol(ProcessProtocol):
            buffer = b""

            def outReceived(self, data: bytes) -> None:
                self.buffer += data
                while b"\n" in self.buffer:
                    line, self.buffer = self.buffer.split(b"\n", 1)
                    if line.strip().startswith(b"{"):
                        child._line(json.loads(line))

            def errReceived(self, data: bytes) -> None:
                child.stderr.extend(data[-4096:])
                del child.stderr[:-8192]

            def processEnded(self, reason: Any) -> None:
                code = getattr(reason.value, "exitCode", None)
                for waiting in child._waiting:
                    waiting.errback(RuntimeError(
                        f"{argv[3]} child ended ({code}): {bytes(child.stderr[-2000:]).decode(errors='replace')}"))
                child._waiting.clear()
                child.ended.callback(code)

        self._protocol = Protocol()
        self._process = reactor.spawnProcess(self._protocol, sys.executable, [sys.executable, *argv[1:]],
                                             env=environ, path=os.getcwd())

    def _line(self, line: dict[str, Any]) -> None:
        if self._waiting:
            self._waiting.pop(0).callback(line)
        else:
            self._lines.append(line)

    def next_line(self) -> Any:
        from twisted.internet.defer import Deferred, succeed

        if self._lines:
            return succeed(self._lines.pop(0))
        waiting: Deferred[dict[str, Any]] = Deferred()
        self._waiting.append(waiting)
        return waiting

    async def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        self._process.write(json.dumps(request).encode() + b"\n")
        return await self.next_line()

    async def quit(self) -> None:
        if not self.ended.called:
            self._process.write(b'{"quit": true}\n')
            await self.ended


async def _sleep(reactor: Any, seconds: float) -> None:
    from twisted.internet.task import deferLater

    await deferLater(reactor, seconds, lambda: None)


async def _wait_for_pull_points(reactor: Any, fleet: _Child, wanted: int, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        stats = await fleet.ask({"stats": True})
        if stats["pull_points"] >= wanted:
            return stats
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {stats['pull_points']} of {wanted} cameras subscribed in {timeout_s:g} s")
        await _sleep(reactor, 0.5)


async def _hub_phase(reactor: Any, args: Any, fleet: _Child, ports: dict[str, int], password: str,
                     folder: str) -> dict[str, Any]:
    from pathlib import Path

    import structlog

    from hub.api import AdapterContext
    from hub.bus import Bus
    from hub.directory import Directory
    from hub.events import CORE_EVENT_TYPES, EventCodec, EventFactory, EventTypeRegistry
    from hub.journal import JOURNAL_MIGRATIONS, Journal
    from hub.secrets import Secret
    from hub.sqlite_writer import ThreadedSqliteWriter, WriterSettings
    from plugins.onvif.adapter import OnvifAdapter
    from plugins.onvif.config import CameraConfig, OnvifConfig
    from plugins.onvif.events import EVENT_TYPES

    registry = EventTypeRegistry()
    registry.register_all(CORE_EVENT_TYPES + tuple(EVENT_TYPES))
    writer = ThreadedSqliteWriter(Path(folder) / "journal.sqlite3", WriterSettings(synchronous="full"),
                                  reactor, JOURNAL_MIGRATIONS)
    journal = Journal(writer)
    journal.open()
    bus = Bus(journal, EventCodec(registry), reactor)
    window = {"open": False, "events": 0}
    latencies: list[float] = []

    def delivered(event: Any) -> None:
        stamp = _stamp_of(event.payload)
        if stamp is None or not window["open"]:
            return
        window["events"] += 1
        latencies.append((time.monotonic_ns() - stamp) / 1e6)

    bus.subscribe("onvif.#", delivered, name="bench-latency")
    config = OnvifConfig(
        cameras={number: CameraConfig(host="127.0.0.1", port=port) for number, port in ports.items()},
        username=USERNAME, password=Secret(password), startup_spread_s=min(10.0, args.cameras / 100),
        # The same long-poll and subscription settings the peer is given.
        poll_timeout_s=30.0, subscription_s=60.0, max_requests_overall=64,
    )
    name = "onvif.bench"
    failures: list[BaseException] = []
    context = AdapterContext(
        name=name, adapter_type="onvif", reactor=reactor, bus=bus, log=structlog.get_logger().bind(adapter=name),
        config=config, events=EventFactory(reactor, name), fail=failures.append, directory=Directory(),
    )
    adapter = OnvifAdapter(context)
    started = time.monotonic()
    adapter.startService()
    try:
        await _wait_for_pull_points(reactor, fleet, len(ports), timeout_s=120 + args.cameras / 10)
        setup_s = time.monotonic() - started
        await fleet.ask({"rate": args.rate})
        await _sleep(reactor, args.warmup)
        window["open"] = True
        cpu_before, raised_before = cpu_seconds(), (await fleet.ask({"stats": True}))["events_raised"]
        reactor_cpu_before = time.thread_time()
        await _sleep(reactor, args.seconds)
        cpu_used = cpu_seconds() - cpu_before
        reactor_cpu_used = time.thread_time() - reactor_cpu_before
        window["open"] = False
        raised = (await fleet.ask({"stats": True}))["events_raised"] - raised_before
        await fleet.ask({"rate": 0})
    finally:
        await adapter.stopService()
        await bus.close()
    if failures:
        raise RuntimeError(f"the adapter failed during the benchmark: {failures[0]!r}")
    return {
        "cpu_s": round(cpu_used, 3),
        "events": window["events"],
        "events_raised": raised,
        "cpu_s_per_1000_events": round(cpu_used / max(1, window["events"]) * 1000, 4),
        # The reactor thread's share; the rest is the journal's writer thread (and the thread pool).
        "reactor_thread_cpu_s": round(reactor_cpu_used, 3),
        **_latency_figures(latencies),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "setup_s": round(setup_s, 1),
    }


def _stamp_of(payload: Any) -> int | None:
    for group in ("data", "source"):
        for item in getattr(payload, group, ()) or ():
            if item.name == STAMP:
                try:
                    return int(item.value)
                except ValueError:
                    return None
    return None


async def _peer_phase(reactor: Any, args: Any, fleet: _Child, ports_file: str, environ: dict[str, str]) -> dict[str, Any]:
    peer = _Child(reactor, [sys.executable, "-m", "plugins.onvif.bench", "peer", ports_file], environ)
    try:
        subscribed = await peer.next_line()
        if subscribed.get("failed"):
            raise RuntimeError(f"onvif-zeep-async could not subscribe {subscribed['failed']} cameras: "
                               f"{subscribed.get('error')}")
        await _wait_for_pull_points(reactor, fleet, subscribed["subscribed"], timeout_s=60)
        await fleet.ask({"rate": args.rate})
        await _sleep(reactor, args.warmup)
        await peer.ask({"measure": True})
        raised_before = (await fleet.ask({"stats": True}))["events_raised"]
        await _sleep(reactor, args.seconds)
        report = await peer.ask({"report": True})
        raised = (await fleet.ask({"stats": True}))["events_raised"] - raised_before
        await fleet.ask({"rate": 0})
    finally:
        await peer.quit()
    return {**report, "events_raised": raised, "setup_s": subscribed["setup_s"]}


async def run_benchmark(args: Any, reactor: Any) -> dict[str, Any]:
    """Both phases on one fleet, as ``hub bench onvif`` prints them."""
    import secrets as random_source
    import tempfile

    raise_open_file_limit(args.cameras * 6 + 512)
    password = random_source.token_urlsafe(12)
    environ = {**os.environ, "ONVIF_BENCH_PASSWORD": password}
    fleet = _Child(reactor, [sys.executable, "-m", "plugins.onvif.bench", "fleet", str(args.cameras)], environ)
    result: dict[str, Any] = {"cameras": args.cameras, "rate_per_s": args.rate, "seconds": args.seconds}
    with tempfile.TemporaryDirectory(prefix="hub-bench-onvif-") as folder:
        try:
            ready = await fleet.next_line()
            ports = {number: int(port) for number, port in ready["ports"].items()}
            hub = await _hub_phase(reactor, args, fleet, ports, password, folder)
            result["hub"] = hub
            drained = await _wait_for_no_pull_points(reactor, fleet)
            result["hub"]["pull_points_left_after_stop"] = drained
            if not args.no_peer:
                ports_file = os.path.join(folder, "ports.json")
                with open(ports_file, "w") as file:
                    json.dump(ports, file)
                peer = await _peer_phase(reactor, args, fleet, ports_file, environ)
                result["peer"] = {"name": "onvif-zeep-async " + _peer_version(), **peer}
                result["cpu_ratio"] = round(hub["cpu_s_per_1000_events"] / peer["cpu_s_per_1000_events"], 3)
        finally:
            await fleet.quit()
    result["goals"] = {"cpu_ratio_max": 0.5, "p99_ms_max": 50, "peak_rss_mb_max": 300}
    result["journal_synchronous"] = "full"
    result["python"] = platform.python_version()
    result["cpus"] = os.cpu_count()
    result["load_average"] = [round(value, 2) for value in os.getloadavg()]
    return result


async def _wait_for_no_pull_points(reactor: Any, fleet: _Child) -> int:
    # The adapter gives every pull point back when it stops; this shows it did (a leak would stay).
    for _ in range(20):
        stats = await fleet.ask({"stats": True})
        if stats["pull_points"] == 0:
            return 0
        await _sleep(reactor, 0.25)
    return stats["pull_points"]


def _peer_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("onvif-zeep-async")
    except PackageNotFoundError:
        return "(not installed)"


# --- the fleet's process ---------------------------------------------------------------------------------


def fleet_main(cameras: int) -> int:
    """Serve ``cameras`` simulated cameras on free loopback ports; answer JSON lines on stdin."""
    import random

    import structlog
    from twisted.internet import stdio
    from twisted.internet.defer import Deferred
    from twisted.internet.task import react
    from twisted.protocols.basic import LineReceiver

    from hub.secrets import Secret
    from plugins.onvif.simulator import OnvifSimulatorConfig, SimulatedFleet

    raise_open_file_limit(cameras * 6 + 512)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))  # errors only
    config = OnvifSimulatorConfig(password=Secret(os.environ["ONVIF_BENCH_PASSWORD"]), cameras=cameras,
                                  host="127.0.0.1", base_port=0, username=USERNAME, event_rate=0.0)

    def main(reactor: Any) -> Deferred[None]:
        fleet = SimulatedFleet(reactor, config, random=random.Random(5))
        finished: Deferred[None] = Deferred()

        def finish(_: object = None) -> None:
            if not finished.called:
                fleet.stop().addBoth(lambda _: finished.callback(None))

        class Control(LineReceiver):
            delimiter = b"\n"

            def lineReceived(self, line: bytes) -> None:
                request = json.loads(line)
                if "rate" in request:
                    fleet.events.stop()
                    fleet.events.rate_per_s = float(request["rate"])
                    fleet.events.start()
                    self.sendLine(b'{"ok": true}')
                elif "stats" in request:
                    self.sendLine(json.dumps(fleet.stats()).encode())
                elif "quit" in request:
                    finish()

            def connectionLost(self, reason: Any = None) -> None:
                finish()

        def started(_: object) -> Deferred[None]:
            ports = {number: camera.port for number, camera in fleet.cameras.items()}
            print(json.dumps({"ready": True, "ports": ports}), flush=True)
            stdio.StandardIO(Control(), reactor=reactor)
            return finished

        return fleet.start().addCallback(started)

    react(main)
    return 0  # pragma: no cover - react exits the process


# --- the peer's process: onvif-zeep-async on asyncio --------------------------------------------------------


def peer_main(ports_file: str) -> int:
    import asyncio

    with open(ports_file) as file:
        ports = json.load(file)
    asyncio.run(_peer(ports, os.environ["ONVIF_BENCH_PASSWORD"]))
    return 0


async def _peer(ports: dict[str, int], password: str) -> None:
    import asyncio
    import datetime as dt
    import logging

    from onvif import ONVIFCamera

    logging.basicConfig(level=logging.ERROR)
    started = time.monotonic()
    counts = {"events": 0, "measuring": False}
    latencies: list[float] = []
    cameras: list[Any] = []
    managers: list[Any] = []
    # Connect as Home Assistant does, a bounded number at a time so the loop is not flooded.
    gate = asyncio.Semaphore(50)

    async def connect(port: int) -> Any:
        async with gate:
            camera = ONVIFCamera("127.0.0.1", port, USERNAME, password, adjust_time=True)
            await camera.update_xaddrs()
            manager = await camera.create_pullpoint_manager(dt.timedelta(seconds=60), lambda: None)
            await manager.set_synchronization_point()
            cameras.append(camera)
            managers.append(manager)
            return manager.get_service()

    results = await asyncio.gather(*(connect(port) for port in ports.values()), return_exceptions=True)
    services = [result for result in results if not isinstance(result, BaseException)]
    errors = [result for result in results if isinstance(result, BaseException)]

    async def pull(service: Any) -> None:
        request = {"MessageLimit": 100, "Timeout": dt.timedelta(seconds=30)}
        while True:
            try:
                reply = await service.PullMessages(request)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a poll the peer loses is simply polled again, as HA does
                await asyncio.sleep(0.1)
                continue
            now = time.monotonic_ns()
            for message in reply.NotificationMessage or ():
                stamp = _zeep_stamp(message)
                if stamp is not None and counts["measuring"]:
                    counts["events"] += 1
                    latencies.append((now - stamp) / 1e6)

    pulls = [asyncio.ensure_future(pull(service)) for service in services]
    print(json.dumps({"subscribed": len(services), "failed": len(errors),
                      "error": repr(errors[0]) if errors else None,
                      "setup_s": round(time.monotonic() - started, 1)}), flush=True)
    reader = asyncio.StreamReader()
    await asyncio.get_running_loop().connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    cpu_before = 0.0
    while True:
        line = await reader.readline()
        if not line:
            break
        request = json.loads(line)
        if "measure" in request:
            cpu_before = cpu_seconds()
            counts["measuring"] = True
            print('{"ok": true}', flush=True)
        elif "report" in request:
            cpu_used = cpu_seconds() - cpu_before
            counts["measuring"] = False
            print(json.dumps({
                "cpu_s": round(cpu_used, 3), "events": counts["events"],
                "cpu_s_per_1000_events": round(cpu_used / max(1, counts["events"]) * 1000, 4),
                **_latency_figures(latencies), "peak_rss_mb": round(_peak_rss_mb(), 1),
            }), flush=True)
        elif "quit" in request:
            break
    for task in pulls:
        task.cancel()
    await asyncio.gather(*pulls, return_exceptions=True)
    await asyncio.gather(*(manager.shutdown() for manager in managers), return_exceptions=True)
    await asyncio.gather(*(camera.close() for camera in cameras), return_exceptions=True)


def _zeep_stamp(message: Any) -> int | None:
    # zeep parses the notification's Message into an object: Message._value_1.Data.SimpleItem[...].
    try:
        items = message.Message._value_1.Data.SimpleItem or ()
    except AttributeError:
        return None
    for item in items:
        if item.Name == STAMP:
            try:
                return int(item.Value)
            except (TypeError, ValueError):
                return None
    return None


if __name__ == "__main__":  # pragma: no cover - the benchmark's child processes
    role = sys.argv[1]
    if role == "fleet":
        raise SystemExit(fleet_main(int(sys.argv[2])))
    raise SystemExit(peer_main(sys.argv[2]))
