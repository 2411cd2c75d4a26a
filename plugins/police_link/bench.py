"""``hub bench police``: the police link's outbox drained after an outage, beside the raw rate of WebSocket
round trips on the same kind of connection, and the latency of a new alert on an idle link.

Two processes, so that nobody's CPU is counted for another:

- the **force end**: ``hub police-peer`` (the reference peer, answers left to a person so it sends nothing
  of its own), a child process listening on loopback with mutual TLS, from a test PKI made for the run;
- the **hub**: this process, running a real ``hub.app.Hub`` on a temporary data folder exactly as ``hub
  run`` does (journal with ``synchronous=full``, the incident engine, the threaded writer), web off, with
  one ``police_link`` adapter pointed at the force end, sending incidents of severity high by themselves.

What is measured, in order, in one run:

1. **Queue** (the outage): the force end is not running yet. ``--alerts`` partner reports of severity high
   are published; the incident engine opens an incident for each, and the adapter turns each into a CAP
   Alert in its outbox, through the real path. Reported: the time until the outbox holds them all.
2. **Drain**: the force end starts. From the link coming up (state ``up``, after both resumes) to the last
   acknowledgement (nothing owed): ``drain_rate`` acknowledged alerts/s and the hub's CPU-seconds
   (user + system, every thread: the journal's writer included) in that window.
3. **Idle latency**: ``--latency-samples`` new reports, one at a time, each once the one before it is
   acknowledged and ``--latency-spacing-ms`` has passed: from the engine publishing the incident event to the
   force's acknowledgement of the incident's CAP message reaching the hub (``new_alert_*``), and the same
   from the report's own publication (``from_report_*``: one journal commit more, the engine's).
4. **Raw**: the hub stops; a bare ``LinkClientService`` (transport.py) connects to the same force end over
   the same mutual TLS and sends ``ping`` frames, which the force end's session answers with ``pong``:
   with the outbox's window in flight (``raw_round_trips_per_s``) and one at a time
   (``raw_sequential_round_trips_per_s``). A ping frame is much smaller than an alert's event frame:
   both sizes are reported. ``ratio`` = ``drain_rate`` / ``raw_round_trips_per_s`` (goal at least 0.3).

At the end the force end is stopped and its own database read: every alert must be there exactly once.
Timing uses ``time.monotonic`` and ``resource.getrusage`` (a benchmark measures elapsed time and CPU); the
adapter's logic never reads either.
"""

from __future__ import annotations

import contextlib
import cProfile
import io
import os
import platform
import pstats
import random
import socket
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hub.bench import cpu_seconds, percentile
from hub.clock import now_utc

ADAPTER = "police"
FORCE = "Bench Constabulary"
RATIO_GOAL = 0.3
NEW_ALERT_P99_GOAL_MS = 20.0
PEER_READY = "police-peer ready"
#: Reports are published in chunks of this many (each chunk awaited), as a busy partner would post them.
PUBLISH_CHUNK = 500


def add_arguments(parser: Any) -> None:
    parser.add_argument("--alerts", type=int, default=10_000, help="alerts queued during the outage (default 10000)")
    parser.add_argument("--latency-samples", type=int, default=200,
                        help="new alerts timed one at a time on the idle link (default 200)")
    parser.add_argument("--latency-spacing-ms", type=float, default=50.0,
                        help="pause between two timed alerts, after the first is acknowledged (default 50)")
    parser.add_argument("--window", type=int, default=256,
                        help="messages in flight: the adapter's window and the raw run's (default 256)")
    parser.add_argument("--round-trips", type=int, default=None,
                        help="raw round trips with the window in flight (default: as many as --alerts)")
    parser.add_argument("--sequential-round-trips", type=int, default=None,
                        help="raw round trips one at a time (default: --alerts / 5, at least 100)")
    parser.add_argument("--profile", type=Path, default=None, metavar="FILE",
                        help="cProfile the hub's reactor thread during the drain and the latency run; "
                             "pstats to FILE, the top functions to stderr")


# --- small helpers ----------------------------------------------------------------------------------------


def _free_port() -> int:
    # The force end takes a port number (no 0): one free now is free a moment later on loopback.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _latency_figures(prefix: str, latencies_ms: list[float]) -> dict[str, Any]:
    ordered = sorted(latencies_ms)
    if not ordered:
        return {f"{prefix}_p50_ms": None, f"{prefix}_p99_ms": None, f"{prefix}_max_ms": None}
    return {f"{prefix}_p50_ms": round(percentile(ordered, 0.5), 3),
            f"{prefix}_p99_ms": round(percentile(ordered, 0.99), 3),
            f"{prefix}_max_ms": round(ordered[-1], 3)}


async def _sleep(reactor: Any, seconds: float) -> None:
    from twisted.internet.task import deferLater

    await deferLater(reactor, seconds, lambda: None)


async def _until(reactor: Any, condition: Any, *, timeout_s: float, what: str, every_s: float = 0.02) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {timeout_s:g} s")
        await _sleep(reactor, every_s)


class _Waiter:
    """A Deferred fired by ``fire``, with a time limit on the reactor."""

    def __init__(self, reactor: Any) -> None:
        from twisted.internet.defer import Deferred

        self._reactor = reactor
        self.deferred: Deferred[Any] = Deferred()

    def fire(self, value: Any = None) -> None:
        if not self.deferred.called:
            self.deferred.callback(value)

    async def wait(self, timeout_s: float, what: str) -> Any:
        timer = self._reactor.callLater(timeout_s, lambda: self.deferred.called or self.deferred.errback(
            TimeoutError(f"{what} did not happen within {timeout_s:g} s")))
        try:
            return await self.deferred
        finally:
            if timer.active():
                timer.cancel()


# --- the force end: hub police-peer in a child process -------------------------------------------------------


class _ForceEnd:
    """``hub police-peer`` as a child process: started, waited for until it listens, its CPU read from /proc,
    stopped (SIGTERM, then SIGKILL) on every way out."""

    def __init__(self, reactor: Any, *, pki: Path, data: Path, port: int, profile: Path | None = None) -> None:
        self._reactor = reactor
        self.port = port
        self.data = data
        command = ["police-peer", "--pki", str(pki), "--listen", f"127.0.0.1:{port}", "--data", str(data),
                   "--force", FORCE, "--answer", "manual"]
        if profile is None:
            self._argv = [sys.executable, "-c", "import sys; from hub.cli import main; sys.exit(main())", *command]
        else:
            # Under cProfile, which writes its statistics when the peer exits (SIGTERM ends its reactor).
            # (In a folder of its own: the script's folder leads sys.path, and the hub's data folder is "hub".)
            script = data.parent / "profiled" / "force_end.py"
            script.parent.mkdir()
            script.write_text("import sys\nfrom hub.cli import main\nsys.exit(main())\n")
            self._argv = [sys.executable, "-m", "cProfile", "-o", str(profile), str(script), *command]
        self._process: Any = None
        self._ready = _Waiter(reactor)
        self._ended = _Waiter(reactor)
        self.stderr = bytearray()
        self.exit_code: int | None = None

    def start(self) -> None:
        from twisted.internet.protocol import ProcessProtocol

        force = self

        class Protocol(ProcessProtocol):
            buffer = b""

            def outReceived(self, data: bytes) -> None:
                # One line per alert received: read and let go, so the pipe never fills.
                self.buffer += data
                if b"\n" not in self.buffer:
                    return
                *lines, self.buffer = self.buffer.split(b"\n")
                if not force._ready.deferred.called:
                    for line in lines:
                        if line.startswith(PEER_READY.encode()):
                            force._ready.fire(line.decode(errors="replace"))

            def errReceived(self, data: bytes) -> None:
                force.stderr.extend(data)
                del force.stderr[:-8192]

            def processEnded(self, reason: Any) -> None:
                # A signal's death is told as minus its number, as subprocess does.
                code, signal = getattr(reason.value, "exitCode", None), getattr(reason.value, "signal", None)
                force.exit_code = code if code is not None else -(signal or 0)
                if not force._ready.deferred.called:
                    force._ready.deferred.errback(RuntimeError(
                        f"hub police-peer ended ({force.exit_code}) before it was ready: {force.tail()}"))
                force._ended.fire(force.exit_code)

        self._process = self._reactor.spawnProcess(Protocol(), sys.executable, self._argv, env=dict(os.environ),
                                                   path=os.getcwd())

    def tail(self) -> str:
        return bytes(self.stderr[-2000:]).decode(errors="replace").strip()

    async def ready(self, timeout_s: float = 30.0) -> str:
        return await self._ready.wait(timeout_s, "hub police-peer listening")

    def cpu_seconds(self) -> float | None:
        """The child's user + system CPU so far (Linux /proc), None where that cannot be read."""
        if self._process is None or self._process.pid is None:
            return None
        try:
            with open(f"/proc/{self._process.pid}/stat") as file:
                fields = file.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    async def stop(self) -> None:
        from twisted.internet.error import ProcessExitedAlready

        process = self._process
        if process is None or self._ended.deferred.called:
            return
        with contextlib.suppress(ProcessExitedAlready):
            process.signalProcess("TERM")
        try:
            await self._ended.wait(10.0, "hub police-peer stopping")
        except TimeoutError:
            with contextlib.suppress(ProcessExitedAlready):
                process.signalProcess("KILL")
            await self._ended.wait(10.0, "hub police-peer killed")

    def alerts_on_record(self, incidents: set[str] | None = None) -> dict[str, Any]:
        """What the force end's own database holds, once it has stopped: ``alerts`` and ``distinct_alerts`` (by
        incident) count the Alerts about ``incidents`` (all when None), ``others`` the Alerts about any other."""
        path = self.data / "police-peer.sqlite3"
        connection = sqlite3.connect(str(path))
        try:
            about = [row[0] for row in connection.execute("SELECT incident_id FROM alerts WHERE msg_type = 'Alert'")]
            ours = [incident for incident in about if incidents is None or incident in incidents]
            alerts, distinct, others = len(ours), len(set(ours)), len(about) - len(ours)
            kinds = dict(connection.execute("SELECT msg_type, COUNT(*) FROM alerts GROUP BY msg_type").fetchall())
            inbox = connection.execute("SELECT COUNT(*), COUNT(DISTINCT transaction_id) FROM inbox").fetchone()
            ordered = connection.execute(
                "SELECT COUNT(*) FROM alerts AS a JOIN alerts AS b ON b.seq = a.seq + 1 "
                "WHERE b.link_seq <= a.link_seq").fetchone()[0]
        finally:
            connection.close()
        return {"alerts": alerts, "distinct_alerts": distinct, "others": others, "kinds": kinds, "inbox": inbox[0], "distinct_inbox": inbox[1],
                "out_of_order": ordered}


# --- the hub ---------------------------------------------------------------------------------------------------


class _HubUnderTest:
    """A real ``Hub`` on ``folder`` with one police link to ``port``, and the watches the figures need.

    The watches are taken where the hub's own code runs, without changing it: the bus's ``publish`` (when the
    engine publishes ``incident.opened``) and the adapter's ``state_changed`` and ``acknowledged`` (what its
    link session tells it: the link up, the force's acknowledgements, at the turn of the reactor they came in).
    """

    def __init__(self, reactor: Any, folder: Path, pki: Any, port: int, window: int) -> None:
        from hub.app import Hub
        from hub.config import validate
        from hub.plugins import make_plugin_manager
        from plugins.police_link.plugin import plugin as police_plugin

        self._reactor = reactor
        host = make_plugin_manager(load_entry_points=False, extra_plugins=[(police_plugin, "police_link")])
        raw = {
            "hub": {"name": "police bench", "data_dir": str(folder / "hub"), "shutdown_grace_s": 10},
            "journal": {"synchronous": "full"},
            "web": {"enabled": False},
            # Nobody acknowledges the bench's incidents: no escalations in the middle of the figures.
            "incidents": {"escalation": {"critical": 0, "high": 0, "medium": 0}},
            "adapters": {ADAPTER: {
                "type": "police_link", "url": f"wss://127.0.0.1:{port}/cctv",
                "client_certificate": str(pki.client_certificate), "client_key": str(pki.client_key),
                "ca_certificate": str(pki.ca_certificate), "force": FORCE, "sender": "cctv@bench.example",
                "cap_status": "Exercise", "auto_send": {"min_severity": "high"}, "window": window,
                # The force answers nothing in the bench (the peer waits for a person): no answer alarms.
                "answer_timeout_s": 86_400,
                # Back within a second of the force end listening; the drain is timed from the link up.
                "reconnect_initial_s": 0.1, "reconnect_max_s": 1.0,
                # A line fault in a long outage is an incident of severity high, which would go to the force as
                # one alert more than the bench's own: the silence allowed is longer than any run.
                "line_fault_after_s": 3600,
            }},
        }
        config = validate(raw, folder / "hub.toml", host.adapter_types(), environ={},
                          simulator_types=host.simulator_types())
        self.hub = Hub(config, host, reactor, rng=random.Random(7))
        self.adapter: Any = None
        self.started = False
        self.stopped = False
        # Watches.
        self.report_published: dict[str, float] = {}   # report event id -> monotonic
        self.incident_published: dict[str, float] = {}   # incident id -> monotonic
        self.report_of_incident: dict[str, str | None] = {}   # incident id -> the report that opened it
        self.acked_at: dict[str, float] = {}   # incident id -> monotonic
        self.acks = 0
        self.acks_not_ok: dict[str, int] = {}
        self.up_at: float | None = None
        self.up_cpu: float | None = None
        self.up_thread_cpu = 0.0
        self.all_acked_thread_cpu = 0.0
        self.all_acked = _Waiter(reactor)
        self.all_acked_count: int | None = None
        self.all_acked_at: float | None = None
        self.all_acked_cpu: float | None = None
        self._ack_waiters: dict[str | None, _Waiter] = {}   # report id -> waiter

    async def start(self) -> None:
        await self.hub.startService()
        self.started = True
        bus = self.hub.bus
        assert bus is not None
        publish = bus.publish

        def watched_publish(event: Any, **kwargs: Any) -> Any:
            if event.topic == "incident.opened":
                detail = getattr(event.payload, "detail", None) or {}
                self.incident_published[event.incident_id] = time.monotonic()
                self.report_of_incident[event.incident_id] = detail.get("event_id")
            return publish(event, **kwargs)

        bus.publish = watched_publish  # type: ignore[method-assign]
        supervised = self.hub.adapters[f"police_link.{ADAPTER}"]
        await _until(self._reactor, lambda: supervised.service is not None
                     and getattr(supervised.service, "session", None) is not None,
                     timeout_s=30, what="the police link adapter starting")
        adapter = self.adapter = supervised.service
        state_changed, acknowledged = adapter.state_changed, adapter.acknowledged

        def watched_state(state: Any, reason: Any) -> None:
            if state.value == "up" and self.up_at is None:
                self.up_at, self.up_cpu, self.up_thread_cpu = time.monotonic(), cpu_seconds(), time.thread_time()
            state_changed(state, reason)

        def watched_acks(acks: Any) -> None:
            now = time.monotonic()
            for ack in acks:
                self.acks += 1
                if ack.status != "ok":
                    self.acks_not_ok[ack.status] = self.acks_not_ok.get(ack.status, 0) + 1
                incident = ack.message.incident_id
                if incident is not None:
                    self.acked_at[incident] = now
                    waiter = self._ack_waiters.pop(self.report_of_incident.get(incident), None)
                    if waiter is not None:
                        waiter.fire(incident)
            if self.all_acked_count is not None and self.acks >= self.all_acked_count \
                    and not self.all_acked.deferred.called:
                self.all_acked_at, self.all_acked_cpu = now, cpu_seconds()
                self.all_acked_thread_cpu = time.thread_time()
                self.all_acked.fire(now)
            acknowledged(acks)

        adapter.state_changed = watched_state
        adapter.acknowledged = watched_acks

    @property
    def backlog(self) -> int:
        return self.adapter.session.backlog

    def report(self, number: int) -> Any:
        """A partner's report of severity high about a place of its own: the engine opens an incident for it
        and the link sends it to the force by itself."""
        from hub.events import Location, PartnerReportReceived, Severity, Subject

        latitude, longitude = 53.2350 + (number % 100) * 0.0001, -1.4210 - (number // 100 % 100) * 0.0001
        return self.hub.events.for_source("partner.bench")(
            "partner.report.received",
            PartnerReportReceived(partner="bench", reference=f"BENCH-{number:06d}",
                                  summary=f"Disorder reported outside shop {number}",
                                  details="Group of six, one with a bottle; shop staff sheltering inside",
                                  category="disorder", reporter="Shopwatch member"),
            severity=Severity.HIGH, subject=Subject(kind="partner_report", id=f"bench-{number}",
                                                    name=f"Report {number}"),
            summary=f"Disorder reported outside shop {number}",
            location=Location(name=f"High Street {number}", latitude=latitude, longitude=longitude),
        )

    def publish_report(self, number: int) -> Any:
        event = self.report(number)
        self.report_published[event.id] = time.monotonic()
        return self.hub.bus.publish(event)

    def expect_ack(self, event_id: str) -> _Waiter:
        """A waiter fired with the incident id once the alert of the incident opened for report ``event_id``
        is acknowledged (ask before publishing the report)."""
        waiter = _Waiter(self._reactor)
        self._ack_waiters[event_id] = waiter
        return waiter

    def outbox_frames(self) -> dict[str, Any]:
        """The sizes of the event frames the alerts went in (as the session encodes them) and of an answer."""
        from plugins.police_link.codec import frames

        rows = self.hub.database.read(lambda connection: connection.execute(
            "SELECT link_seq, transaction_id, content_type, body FROM police_outbox WHERE link = ?",
            (f"police_link.{ADAPTER}",)).fetchall())
        sent_at = now_utc(self.hub.reactor)  # any time will do: only the frames' sizes are wanted
        sizes = [len(frames.encode_frame(frames.EventFrame(link_seq=row[0], transaction_id=row[1], content_type=row[2],
                                             payload=row[3], sent_at=sent_at)).encode("utf-8")) for row in rows]
        answer = frames.encode_frame(frames.EventResponse(transaction_id=rows[-1][1], link_seq=rows[-1][0], status="ok"))
        return {"alert_frame_mean_bytes": round(sum(sizes) / len(sizes)) if sizes else None,
                "alert_frame_max_bytes": max(sizes) if sizes else None,
                "alert_response_frame_bytes": len(answer.encode("utf-8"))}

    async def stop(self) -> None:
        if self.started and not self.stopped:
            self.stopped = True
            await self.hub.stopService()


# --- the raw connection: pings on a bare LinkClientService ----------------------------------------------------


class _PingEndpoint:
    """A ``LinkEndpoint`` that only pings and counts pongs: the least a peer can be asked over this wire."""

    def __init__(self, reactor: Any) -> None:
        from plugins.police_link.codec.frames import Ping, encode_frame

        self._reactor = reactor
        self._encode = lambda: encode_frame(Ping(clock=reactor.seconds()))
        self.transport: Any = None
        self.opened = _Waiter(reactor)
        self._done: _Waiter | None = None
        self._to_send = 0
        self._outstanding = 0
        self.received = 0

    def attach(self, transport: Any) -> None:
        self.transport = transport
        self.opened.fire(transport)

    def detach(self, reason: str) -> None:
        self.transport = None
        if self._done is not None and not self._done.deferred.called:
            self._done.deferred.errback(RuntimeError(f"the raw connection closed: {reason}"))

    def text_received(self, text: str) -> None:
        # The force end greets with its resume; only pongs count.
        if '"pong"' not in text:
            return
        self.received += 1
        self._outstanding -= 1
        if self._to_send > 0:
            self._send_one()
        elif self._outstanding == 0 and self._done is not None:
            self._done.fire(time.monotonic())

    def ping_frame_bytes(self) -> int:
        return len(self._encode().encode("utf-8"))

    def _send_one(self) -> None:
        self._to_send -= 1
        self._outstanding += 1
        self.transport.send_text(self._encode())

    async def round_trips(self, count: int, window: int) -> tuple[float, float]:
        """``count`` pings, at most ``window`` unanswered: (seconds, hub CPU-seconds)."""
        self._done = _Waiter(self._reactor)
        self._to_send = count
        started, cpu = time.monotonic(), cpu_seconds()
        for _ in range(min(window, count)):
            self._send_one()
        finished = await self._done.wait(120 + count / 100, f"{count} raw round trips")
        self._done = None
        return finished - started, cpu_seconds() - cpu


async def _raw(reactor: Any, pki: Any, port: int, *, window: int, count: int, sequential: int) -> dict[str, Any]:
    import structlog

    from plugins.police_link.tls import client_tls
    from plugins.police_link.transport import LinkClientService

    endpoint = _PingEndpoint(reactor)
    options = client_tls(hostname="127.0.0.1", client_certificate=pki.client_certificate,
                         client_key=pki.client_key, ca_certificate=pki.ca_certificate)
    service = LinkClientService(reactor=reactor, url=f"wss://127.0.0.1:{port}/cctv", tls_options=options,
                                endpoint=endpoint, log=structlog.get_logger().bind(component="bench-raw"),
                                rng=random.Random(3), backoff_initial_s=0.1, backoff_max_s=1.0)
    service.startService()
    try:
        await endpoint.opened.wait(30, "the raw WebSocket opening")
        await endpoint.round_trips(min(200, count), window)  # warm-up, not counted
        windowed_s, windowed_cpu = await endpoint.round_trips(count, window)
        sequential_s, _ = await endpoint.round_trips(sequential, 1)
    finally:
        await service.stopService()
    return {
        "raw_round_trips": count, "raw_round_trips_per_s": round(count / windowed_s, 1),
        "raw_cpu_s": round(windowed_cpu, 3), "raw_cpu_s_per_1000": round(windowed_cpu / count * 1000, 4),
        "raw_sequential_round_trips": sequential,
        "raw_sequential_round_trips_per_s": round(sequential / sequential_s, 1),
        "ping_frame_bytes": endpoint.ping_frame_bytes(),
    }


# --- the run ---------------------------------------------------------------------------------------------------


def _profile_report(profile: cProfile.Profile, path: Path) -> str:
    profile.dump_stats(str(path))
    text = io.StringIO()
    stats = pstats.Stats(profile, stream=text).sort_stats("tottime")
    stats.print_stats(30)
    return text.getvalue()


async def run_benchmark(args: Any, reactor: Any) -> dict[str, Any]:
    """Queue, drain, idle latency and raw round trips, as ``hub bench police`` prints them."""
    from plugins.police_link.pki import init_pki

    if args.alerts < 1 or args.latency_samples < 1 or args.window < 1:
        raise ValueError("--alerts, --latency-samples and --window must each be at least 1")
    count = args.alerts
    round_trips = args.round_trips or count
    sequential = args.sequential_round_trips or max(100, count // 5)
    result: dict[str, Any] = {
        "alerts": count, "latency_samples": args.latency_samples, "latency_spacing_ms": args.latency_spacing_ms,
        "window": args.window, "journal_synchronous": "full",
        "load_average_before": [round(value, 2) for value in os.getloadavg()],
    }
    profile = cProfile.Profile() if args.profile is not None else None
    latency_profile = cProfile.Profile() if args.profile is not None else None
    queue_profile = cProfile.Profile() if args.profile is not None else None
    with tempfile.TemporaryDirectory(prefix="hub-bench-police-") as name:
        folder = Path(name)
        pki = init_pki(folder / "pki", now=datetime.now(UTC))
        port = _free_port()
        force = _ForceEnd(reactor, pki=folder / "pki", data=folder / "force", port=port,
                          profile=None if args.profile is None else Path(f"{args.profile}.force"))
        hub = _HubUnderTest(reactor, folder, pki, port, args.window)
        try:
            await hub.start()

            # 1. Queue, while the force end is down.
            if queue_profile is not None:
                queue_profile.enable()
            started, cpu = time.monotonic(), cpu_seconds()
            for first in range(0, count, PUBLISH_CHUNK):
                for published in [hub.publish_report(number) for number in range(first, min(count, first + PUBLISH_CHUNK))]:
                    await published
            await _until(reactor, lambda: hub.backlog >= count, timeout_s=600 + count / 10,
                         what=f"{count} alerts in the outbox", every_s=0.01)
            result["queue_s"] = round(time.monotonic() - started, 3)
            result["queue_rate"] = round(count / result["queue_s"], 1)
            result["queue_cpu_s"] = round(cpu_seconds() - cpu, 3)
            if queue_profile is not None:
                queue_profile.disable()
            result["link_state_while_queued"] = hub.adapter.session.state.value
            if hub.acks:
                raise RuntimeError("alerts were acknowledged before the force end started")

            # 2. Drain, from the link up to the last acknowledgement.
            hub.all_acked_count = count
            if profile is not None:
                profile.enable()
            peer_started = time.monotonic()
            force.start()
            await force.ready()
            peer_cpu_before = force.cpu_seconds()
            await hub.all_acked.wait(600 + count / 10, f"{count} acknowledgements")
            peer_cpu_after = force.cpu_seconds()
            if profile is not None:
                profile.disable()
            assert hub.up_at is not None and hub.all_acked_at is not None
            drain_s = hub.all_acked_at - hub.up_at
            result["force_start_to_link_up_s"] = round(hub.up_at - peer_started, 3)
            result["drain_s"] = round(drain_s, 3)
            result["drain_rate"] = round(count / drain_s, 1)
            result["drain_cpu_s"] = round(hub.all_acked_cpu - hub.up_cpu, 3)
            result["drain_cpu_s_per_1000"] = round((hub.all_acked_cpu - hub.up_cpu) / count * 1000, 4)
            # The reactor thread's share (the rest is the journal's writer thread): near drain_s, it is the limit.
            result["drain_reactor_thread_cpu_s"] = round(hub.all_acked_thread_cpu - hub.up_thread_cpu, 3)
            if peer_cpu_before is not None and peer_cpu_after is not None:
                # From the force end listening (a little before the link is up) to the last acknowledgement.
                result["force_end_drain_cpu_s"] = round(peer_cpu_after - peer_cpu_before, 3)
            result["backlog_after_drain"] = hub.backlog
            # The delivered events the acknowledgements cause are journaled after them: let them settle.
            await _quiet(reactor, hub.hub.bus, timeout_s=120)

            # 3. Idle latency, one alert at a time.
            if latency_profile is not None:
                latency_profile.enable()
            from_incident, from_report = [], []
            for sample in range(args.latency_samples):
                await _sleep(reactor, args.latency_spacing_ms / 1000)
                event = hub.report(count + sample)
                waiter = hub.expect_ack(event.id)
                hub.report_published[event.id] = time.monotonic()
                await hub.hub.bus.publish(event)
                incident = await waiter.wait(30, f"the acknowledgement of latency sample {sample}")
                acked = hub.acked_at[incident]
                from_incident.append((acked - hub.incident_published[incident]) * 1000)
                from_report.append((acked - hub.report_published[event.id]) * 1000)
            if latency_profile is not None:
                latency_profile.disable()
            result.update(_latency_figures("new_alert", from_incident))
            result.update(_latency_figures("from_report", from_report))
            result["acknowledgements_not_ok"] = dict(hub.acks_not_ok)
            result.update(hub.outbox_frames())
            await hub.stop()

            # 4. Raw round trips to the same force end, the hub's link gone.
            result.update(await _raw(reactor, pki, port, window=args.window, count=round_trips,
                                     sequential=sequential))
        finally:
            try:
                await hub.stop()
            finally:
                await force.stop()
        if force.exit_code is not None or force.stderr:
            result["force_end_exit_code"] = force.exit_code
        ours = {incident for incident, report in hub.report_of_incident.items() if report in hub.report_published}
        received = force.alerts_on_record(ours)
        result["force_received_alerts"] = received["alerts"]
        result["force_received_other_alerts"] = received["others"]
        result["force_received_by_msg_type"] = received["kinds"]
        # Every incident's Alert once (an Update the link sends on its own counts apart), each message once.
        result["force_received_exactly_once"] = (received["alerts"] == received["distinct_alerts"]
                                                 == count + args.latency_samples
                                                 and received["inbox"] == received["distinct_inbox"])
        result["force_received_in_order"] = received["out_of_order"] == 0
    result["ratio"] = round(result["drain_rate"] / result["raw_round_trips_per_s"], 4)
    result["ratio_goal"] = RATIO_GOAL
    result["new_alert_p99_goal_ms"] = NEW_ALERT_P99_GOAL_MS
    result["goals_met"] = {"ratio": result["ratio"] >= RATIO_GOAL,
                           "new_alert_p99": result["new_alert_p99_ms"] <= NEW_ALERT_P99_GOAL_MS}
    result["frames_note"] = ("a CAP alert's event frame (alert_frame_mean_bytes) is far larger than a ping "
                             "(ping_frame_bytes); both answers are small")
    result["python"] = platform.python_version()
    result["cpus"] = os.cpu_count()
    result["machine"] = platform.machine()
    result["load_average_after"] = [round(value, 2) for value in os.getloadavg()]
    if profile is not None and latency_profile is not None:
        print("--- the hub's reactor thread during the drain ---", file=sys.stderr)
        print(_profile_report(profile, args.profile), file=sys.stderr)
        latency_profile.dump_stats(f"{args.profile}.latency")
        if queue_profile is not None:
            queue_profile.dump_stats(f"{args.profile}.queue")
        result["profiles"] = {"drain": str(args.profile), "latency": f"{args.profile}.latency",
                              "queue": f"{args.profile}.queue",
                              "force_end": f"{args.profile}.force"}
    return result


async def _quiet(reactor: Any, bus: Any, *, timeout_s: float, for_s: float = 0.3) -> None:
    """Until nothing has been journaled for ``for_s`` and every subscriber has caught up."""
    deadline = time.monotonic() + timeout_s
    head, since = bus.head, time.monotonic()
    while True:
        await _sleep(reactor, 0.05)
        now = time.monotonic()
        if bus.head != head:
            head, since = bus.head, now
        elif now - since >= for_s and all(stats.queue_depth == 0 and stats.state == "live"
                                          for stats in bus.stats()["subscribers"]):
            return
        if now > deadline:
            raise TimeoutError(f"the journal did not go quiet within {timeout_s:g} s")
