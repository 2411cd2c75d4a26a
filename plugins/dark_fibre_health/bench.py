"""``hub bench fibre``: the hub's ICMP probing beside fping doing the same, and the time from a fibre link
going down to the node judged down.

**Part A (CPU).** ``--nodes`` loopback addresses (127.0.x.y, all distinct) are each pinged once a second
for ``--seconds``: first by the hub's own ``IcmpPinger`` paced by its ``ProbeScheduler``, every result fed
to a ``NodeJudge`` per node, exactly as the adapter does; then, in the same run, by fping (Debian's, C)
at the same rate: one packet every millisecond, each target every 1,000 ms, same timeout and payload.
The hub's figure is this process's CPU (user + system) over its window; fping's is its own process's,
read from ``wait4``. Both count the kernel's work for the echo replies on loopback in their system time,
so the ratio compares the programs, not the kernel. As root, both run inside a network namespace made
for the run, so that nobody else's ICMP on the host reaches either raw socket.

**Part B (link down).** A node in its own network namespace, joined to a head-end namespace by a veth
pair, probed once a second with ``down_after`` 3; the node's end of the link is taken down inside its
namespace at a random point of the interval, and the time until the node is judged down is measured,
over ``--link-trials`` trials; the link comes back and is seen up again between trials. Needs root.

Timing uses ``time.monotonic``; the pinger and scheduler only see the reactor's clock.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import platform
import random
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from hub.bench import cpu_seconds, percentile

#: Echo payload of both sides: ping's and fping's default.
PAYLOAD_BYTES = 56
TIMEOUT_S = 0.8
TICK_S = 0.01
_CLONE_NEWNET = 0x40000000


def add_arguments(parser: Any) -> None:
    parser.add_argument("--nodes", type=int, default=1000, help="targets, each pinged once a second (default 1000)")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured seconds per side (default 30)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between probes of a target (default 1)")
    parser.add_argument("--link-trials", type=int, default=3, help="link-down trials in part B (default 3)")
    parser.add_argument("--no-fping", action="store_true", help="measure the hub only")
    parser.add_argument("--no-link-down", action="store_true", help="skip part B")


# --- network namespaces ----------------------------------------------------------------------------------


def namespaces_usable() -> str | None:
    """Why this process cannot make network namespaces, or None when it can."""
    if sys.platform != "linux":
        return "network namespaces are Linux only"
    if os.geteuid() != 0:
        return "needs root"
    if shutil.which("ip") is None:
        return "needs the ip command (Debian package iproute2)"
    return None


def _run(*argv: str) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()}")
    return done.stdout


_namespace_numbers = iter(range(1, 1 << 30))


class Namespace:
    """A network namespace made with ``ip netns add`` (loopback up), removed by ``close``.

    Named ``hubprobe-<pid>-<n>``: unique to this process, and telling whose it is if one is left behind.
    """

    def __init__(self, *, ping_group_range: tuple[int, int] | None = None) -> None:
        self.name = f"hubprobe-{os.getpid()}-{next(_namespace_numbers)}"
        _run("ip", "netns", "add", self.name)
        try:
            self.ip("link", "set", "lo", "up")
            if ping_group_range is not None:
                self.sysctl("net.ipv4.ping_group_range", f"{ping_group_range[0]} {ping_group_range[1]}")
        except Exception:
            self.close()
            raise

    def ip(self, *argv: str) -> str:
        return _run("ip", "-n", self.name, *argv)

    def sysctl(self, key: str, value: str) -> None:
        _run("ip", "netns", "exec", self.name, "sysctl", "-qw", f"{key}={value}")

    def exec_argv(self, argv: Sequence[str]) -> list[str]:
        """``argv`` run inside the namespace (``ip netns exec`` execs it: same process)."""
        return ["ip", "netns", "exec", self.name, *argv]

    def socket(self, family: int, kind: int, protocol: int) -> socket.socket:
        """A socket that lives in this namespace, made from a thread that enters it (a network namespace is
        per thread; the socket keeps its namespace for life, whichever thread uses it)."""
        made: dict[str, Any] = {}

        def enter_and_make() -> None:
            try:
                descriptor = os.open(f"/run/netns/{self.name}", os.O_RDONLY)
                try:
                    libc = ctypes.CDLL(None, use_errno=True)
                    if libc.setns(descriptor, _CLONE_NEWNET) != 0:
                        code = ctypes.get_errno()
                        raise OSError(code, f"setns {self.name}: {os.strerror(code)}")
                finally:
                    os.close(descriptor)
                made["socket"] = socket.socket(family, kind, protocol)
            except OSError as error:
                made["error"] = error

        thread = threading.Thread(target=enter_and_make, name=f"setns-{self.name}")
        thread.start()
        thread.join()
        if "error" in made:
            raise made["error"]
        return made["socket"]

    def close(self) -> None:
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=20, check=False)


def veth(a: Namespace, a_name: str, a_address: str, b: Namespace, b_name: str, b_address: str) -> None:
    """A veth pair from ``a`` to ``b``, both ends up with their ``address/prefix``."""
    a.ip("link", "add", a_name, "type", "veth", "peer", "name", b_name, "netns", b.name)
    a.ip("addr", "add", a_address, "dev", a_name)
    b.ip("addr", "add", b_address, "dev", b_name)
    a.ip("link", "set", a_name, "up")
    b.ip("link", "set", b_name, "up")


@contextlib.contextmanager
def namespaces(count: int, **settings: Any) -> Iterator[list[Namespace]]:
    """``count`` namespaces for the time of a ``with``; all removed after, whatever happened."""
    made: list[Namespace] = []
    try:
        for _ in range(count):
            made.append(Namespace(**settings))
        yield made
    finally:
        for namespace in made:
            namespace.close()


# --- part A: CPU per probe, the hub beside fping -------------------------------------------------------------


def loopback_targets(count: int) -> dict[str, str]:
    """``count`` distinct loopback addresses by node name: 127.0.0.1 ... 127.0.3.250 for a thousand."""
    if count > 250 * 256:
        raise ValueError("at most 64,000 loopback targets")
    return {f"FN-{number + 1:05d}": f"127.0.{number // 250}.{number % 250 + 1}" for number in range(count)}


def _rtt_figures(rtts_ms: list[float]) -> dict[str, float | None]:
    ordered = sorted(rtts_ms)
    if not ordered:
        return {"rtt_p50_ms": None, "rtt_p99_ms": None}
    return {"rtt_p50_ms": round(percentile(ordered, 0.5), 4), "rtt_p99_ms": round(percentile(ordered, 0.99), 4)}


def _consumer(targets: Sequence[str]) -> tuple[str, Callable[[Any], Any]]:
    """What the adapter does with each result: a ``NodeJudge`` per node (a counter if there is none)."""
    try:
        from plugins.dark_fibre_health.config import JudgeConfig
        from plugins.dark_fibre_health.judge import NodeJudge
    except ImportError:  # pragma: no cover - only while the judge is being written
        return "counter", lambda result: None
    judges = {name: NodeJudge(name, JudgeConfig(), methods=("icmp",)) for name in targets}

    def observe(result: Any) -> Any:
        return judges[result.node].observe(result)

    return "NodeJudge", observe


async def _sleep(reactor: Any, seconds: float) -> None:
    from twisted.internet.task import deferLater

    await deferLater(reactor, seconds, lambda: None)


async def hub_side(reactor: Any, targets: dict[str, str], *, seconds: float, interval_s: float,
                   namespace: Namespace | None, judge: bool = True) -> dict[str, Any]:
    """The hub's pinger and scheduler probing ``targets`` for ``seconds``, each result judged; CPU of this
    process over that window and the settling of the last probes after it."""
    from plugins.dark_fibre_health.icmp import IcmpPinger
    from plugins.dark_fibre_health.scheduler import ProbeScheduler

    consumer_name, consume = _consumer(list(targets)) if judge else ("counter", lambda result: None)
    rtts: list[float] = []
    keep_rtt = rtts.append

    def on_result(result: Any) -> None:
        if result.ok:
            keep_rtt(result.rtt_s)
        consume(result)

    pinger = IcmpPinger(reactor, timeout_s=TIMEOUT_S, on_result=on_result, payload_size=PAYLOAD_BYTES,
                        socket_factory=namespace.socket if namespace is not None else None)
    pinger.start()
    ping = pinger.ping
    addresses = targets

    def send(name: str) -> None:
        ping(name, addresses[name])

    scheduler = ProbeScheduler(reactor, interval_s=interval_s, tick_s=TICK_S, send=send, on_tick=pinger.sweep)
    scheduler.set_targets(list(targets))
    # As the hub does once it has started: what exists now is frozen out of collections, so that a full
    # collection of the thousand judges just made does not stall the first second of the window.
    gc.collect()
    gc.freeze()
    started = time.monotonic()
    cpu_before = cpu_seconds()
    usage_before = resource.getrusage(resource.RUSAGE_SELF)
    try:
        scheduler.start()
        await _sleep(reactor, seconds)
        scheduler.stop()
        # The last probes are answered or time out, as fping waits for its last ones.
        await _sleep(reactor, TIMEOUT_S + 2 * TICK_S)
        pinger.sweep(reactor.seconds())
        cpu_used = cpu_seconds() - cpu_before
        usage_after = resource.getrusage(resource.RUSAGE_SELF)
        elapsed = time.monotonic() - started
    finally:
        scheduler.stop()
        stats = pinger.stats()
        pinger.stop()
    sent = stats["sent"] + stats["send_errors"]
    return {
        "icmp_mode": pinger.mode_in_use, "consumer": consumer_name,
        "probes_sent": sent, "answered": stats["answered"], "lost": sent - stats["answered"],
        "timed_out": stats["timed_out"], "send_errors": stats["send_errors"], "strays": stats["strays"],
        "decode_errors": stats["decode_errors"], "skipped_slots": scheduler.skipped,
        "cpu_s": round(cpu_used, 3), "cpu_user_s": round(usage_after.ru_utime - usage_before.ru_utime, 3),
        "cpu_sys_s": round(usage_after.ru_stime - usage_before.ru_stime, 3), "wall_s": round(elapsed, 3),
        "cpu_s_per_1000_probes": round(cpu_used / max(1, sent) * 1000, 5),
        **_rtt_figures([rtt * 1000.0 for rtt in rtts]),
    }


def fping_side(targets: dict[str, str], *, seconds: float, interval_s: float,
               namespace: Namespace | None) -> dict[str, Any]:
    """fping probing the same addresses at the same rate (every target each ``interval_s``, one packet
    every ``interval_s / n``), same timeout and payload, quiet, each round trip reported (``-C``); its
    CPU from ``wait4``. Blocks: nothing else of the benchmark runs meanwhile."""
    fping = shutil.which("fping")
    if fping is None:
        return {"skipped": "fping is not installed (Debian package fping)"}
    count = max(1, round(seconds / interval_s))
    spacing_ms = interval_s * 1000.0 / len(targets)
    with tempfile.TemporaryDirectory(prefix="hub-bench-fibre-") as folder:
        listing = os.path.join(folder, "targets")
        with open(listing, "w") as file:
            file.write("\n".join(targets.values()) + "\n")
        argv = [fping, "-C", str(count), "-p", f"{interval_s * 1000:g}", "-i", f"{spacing_ms:g}",
                "-t", f"{TIMEOUT_S * 1000:g}", "-b", str(PAYLOAD_BYTES), "-q", "-f", listing]
        if namespace is not None:
            argv = namespace.exec_argv(argv)
        output_path = os.path.join(folder, "output")
        started = time.monotonic()
        with open(output_path, "w") as output:  # a file, not a pipe: -C prints everything at the end
            child = subprocess.Popen(argv, stdout=output, stderr=subprocess.STDOUT)
            _pid, status, usage = os.wait4(child.pid, 0)
        elapsed = time.monotonic() - started
        with open(output_path) as file:
            lines = file.read().splitlines()
    code = os.waitstatus_to_exitcode(status)
    sent, rtts = parse_fping_counts(lines)
    lost = sent - len(rtts)
    if code not in (0, 1) or sent == 0:  # 1: some target did not answer every probe
        return {"error": f"fping exited {code}: {' '.join(lines[-5:])}"}
    cpu_used = usage.ru_utime + usage.ru_stime
    return {
        "version": _fping_version(fping), "argv": " ".join(argv[argv.index(fping):argv.index("-f")]),
        "probes_sent": sent, "answered": sent - lost, "lost": lost,
        "cpu_s": round(cpu_used, 3), "cpu_user_s": round(usage.ru_utime, 3), "cpu_sys_s": round(usage.ru_stime, 3),
        "wall_s": round(elapsed, 3), "cpu_s_per_1000_probes": round(cpu_used / max(1, sent) * 1000, 5),
        **_rtt_figures(rtts),
    }


def parse_fping_counts(lines: Sequence[str]) -> tuple[int, list[float]]:
    """Probes sent and the round trips (ms) of those answered, from fping's ``-C`` report: a line per
    target, ``address : rtt rtt - rtt`` with ``-`` for each probe unanswered."""
    sent = 0
    rtts: list[float] = []
    for line in lines:
        if " : " not in line:
            continue
        for value in line.split(" : ", 1)[1].split():
            sent += 1
            if value != "-":
                rtts.append(float(value))
    return sent, rtts


def _fping_version(path: str) -> str:
    done = subprocess.run([path, "-v"], capture_output=True, text=True, timeout=10, check=False)
    return (done.stdout or done.stderr).strip().splitlines()[0] if (done.stdout or done.stderr) else "?"


# --- part B: a link taken down, until the node is judged down -----------------------------------------------


class JudgeWatch:
    """Watches one node the way the adapter does, up to the judge: pinger and scheduler in the head-end
    namespace, a ``NodeJudge`` with ``down_after``; tells ``on_state`` every state the judge gives.

    This is the boundary to move: the full adapter plus the incident engine, calling ``on_state("down")``
    when the root-cause incident opens, measures what the issue asks for end to end.
    """

    def __init__(self, reactor: Any, head: Namespace, address: str, on_state: Callable[[str], None], *,
                 interval_s: float, down_after: int, timeout_s: float) -> None:
        from plugins.dark_fibre_health.config import JudgeConfig
        from plugins.dark_fibre_health.icmp import IcmpPinger
        from plugins.dark_fibre_health.judge import NodeJudge
        from plugins.dark_fibre_health.scheduler import ProbeScheduler

        self.judge = NodeJudge("FN-B", JudgeConfig(down_after=down_after), methods=("icmp",))

        def on_result(result: Any) -> None:
            verdict = self.judge.observe(result, reactor.seconds())
            if verdict is not None:
                on_state(verdict.state)

        self.pinger = IcmpPinger(reactor, timeout_s=timeout_s, on_result=on_result, socket_factory=head.socket)
        self.scheduler = ProbeScheduler(reactor, interval_s=interval_s, tick_s=TICK_S,
                                        send=lambda name: self.pinger.ping(name, address), on_tick=self.pinger.sweep)
        self.scheduler.set_targets(["FN-B"])

    def start(self) -> None:
        self.pinger.start()
        self.scheduler.start()

    def stop(self) -> None:
        self.scheduler.stop()
        self.pinger.stop()


class IncidentWatch:
    """The whole path the issue times: the real ``FibreAdapter`` (its own pinger, scheduler, judge and
    correlator) inside a real ``Hub`` with its journal, bus and incident engine on a temporary folder, the
    node's link reaching the root namespace (where the hub runs) by a veth pair. ``on_state("down")`` when
    the root-cause incident about the node opens, ``on_state("up")`` when the node is up (again).
    """

    MEASURES = "the root-cause incident opening (real FibreAdapter, bus, journal and incident engine)"

    def __init__(self, reactor: Any, head: Any, address: str, on_state: Callable[[str], None], *,
                 interval_s: float, down_after: int, timeout_s: float) -> None:
        import tempfile

        from hub.app import Hub
        from hub.config import validate
        from hub.plugins import make_plugin_manager
        from hub.sqlite_writer import InlineSqliteWriter
        from plugins.dark_fibre_health.plugin import plugin as fibre_plugin

        self._folder = tempfile.TemporaryDirectory(prefix="hub-bench-fibre-")
        host = make_plugin_manager(load_entry_points=False, extra_plugins=[(fibre_plugin, "dark_fibre_health")])
        raw = {
            "hub": {"name": "fibre bench", "data_dir": self._folder.name, "shutdown_grace_s": 5},
            "web": {"enabled": False},
            "adapters": {"ring": {"type": "fibre", "interval_s": interval_s, "probe_timeout_s": timeout_s,
                                  "judge": {"down_after": down_after},
                                  "nodes": {"FN-B": {"address": address, "cameras": ["1", "2"]}}}},
        }
        config = validate(raw, Path(self._folder.name) / "hub.toml", host.adapter_types(), environ={},
                          simulator_types=host.simulator_types())

        def writer(path: Any, settings: Any, clock: Any, migrations: Any) -> Any:
            return InlineSqliteWriter(path, settings, clock, migrations)

        self.hub = Hub(config, host, reactor, writer_factory=writer, rng=random.Random(6))
        self._on_state = on_state
        self._reactor = reactor

    def _seen(self, event: Any) -> None:
        if event.topic == "incident.opened":
            subject = getattr(event.payload, "incident", {}).get("subject") or {}
            if subject.get("kind") == "fibre_node" and subject.get("id") == "FN-B":
                self._on_state("down")
        elif event.topic == "fibre.node.up" and event.subject.id == "FN-B":
            self._on_state("up")

    def start(self) -> None:
        starting = self.hub.startService()
        self.hub.bus.subscribe("#", self._seen, name="bench-watch")
        self._starting = starting

    def stop(self) -> None:
        self.hub.stopService()
        self._folder.cleanup()


def _root_veth(node: Namespace, root_name: str, root_address: str, node_name: str, node_address: str) -> None:
    """A veth pair from the root namespace (where the hub runs) to ``node``."""
    subprocess.run(["ip", "link", "add", root_name, "type", "veth", "peer", "name", node_name, "netns", node.name],
                   check=True, capture_output=True)
    subprocess.run(["ip", "addr", "add", root_address, "dev", root_name], check=True, capture_output=True)
    node.ip("addr", "add", node_address, "dev", node_name)
    subprocess.run(["ip", "link", "set", root_name, "up"], check=True, capture_output=True)
    node.ip("link", "set", node_name, "up")


async def measure_link_down_to_root_cause_incident(reactor: Any, *, trials: int = 3, interval_s: float = 1.0,
                                                   down_after: int = 3,
                                                   timeout_s: float = TIMEOUT_S) -> dict[str, Any]:
    """As ``measure_link_down_to_incident``, through the whole hub: a node namespace joined to the root
    namespace (where the hub, its adapter and its raw ICMP socket are), its link taken down inside the
    node's namespace, timed to the incident the engine opens for the root cause."""
    why = namespaces_usable()
    if why is not None:
        return {"skipped": why}
    root_end = f"fbh{os.getpid() % 100000}"
    with namespaces(1) as (node,):
        _root_veth(node, root_end, "10.63.0.1/30", "uplink", "10.63.0.2/30")
        try:
            states = _States(reactor)
            watch = IncidentWatch(reactor, None, "10.63.0.2", states, interval_s=interval_s,
                                  down_after=down_after, timeout_s=timeout_s)
            delays = await _cut_trials(reactor, watch, states, node, trials=trials, interval_s=interval_s,
                                       down_after=down_after)
        finally:
            subprocess.run(["ip", "link", "del", root_end], capture_output=True)
    return _delays_report(delays, interval_s=interval_s, down_after=down_after, timeout_s=timeout_s,
                          measured_until=IncidentWatch.MEASURES)


async def _cut_trials(reactor: Any, watch: Any, states: Any, node: Namespace, *, trials: int, interval_s: float,
                      down_after: int) -> list[float]:
    """Per trial: wait for up, cut the node's uplink inside its namespace at a random point of the interval,
    time until the watch says down, mend the link."""
    delays: list[float] = []
    watch.start()
    try:
        for _trial in range(trials):
            await states.reach("up", within_s=10 * interval_s + 10)
            await _sleep(reactor, interval_s * (1 + random.random()))
            cut_at = time.monotonic()
            node.ip("link", "set", "uplink", "down")
            seen_at = await states.reach("down", within_s=(down_after + 5) * interval_s + 10)
            delays.append(seen_at - cut_at)
            node.ip("link", "set", "uplink", "up")
    finally:
        watch.stop()
    return delays


def _delays_report(delays: list[float], *, interval_s: float, down_after: int, timeout_s: float,
                   measured_until: str) -> dict[str, Any]:
    return {
        "trials_s": [round(delay, 3) for delay in delays], "max_s": round(max(delays), 3),
        "mean_s": round(sum(delays) / len(delays), 3), "interval_s": interval_s, "down_after": down_after,
        "probe_timeout_s": timeout_s, "measured_until": measured_until,
    }


class _States:
    """The states a watch reported, and a way to wait for the next one wanted."""

    def __init__(self, reactor: Any) -> None:
        self._reactor = reactor
        self.current: str | None = None
        self.at = 0.0
        self._waiting: tuple[str, Any] | None = None

    def __call__(self, state: str) -> None:
        self.current, self.at = state, time.monotonic()
        if self._waiting is not None and self._waiting[0] == state:
            _state, deferred = self._waiting
            self._waiting = None
            deferred.callback(self.at)

    async def reach(self, state: str, within_s: float) -> float:
        """When (monotonic) the watch reported ``state``; now if it is in it already."""
        from twisted.internet.defer import Deferred

        if self.current == state:
            return self.at
        deferred: Deferred[float] = Deferred()
        self._waiting = (state, deferred)
        timer = self._reactor.callLater(within_s, lambda: deferred.called or deferred.errback(
            TimeoutError(f"not {state} within {within_s:g} s (last state {self.current})")))
        try:
            return await deferred
        finally:
            self._waiting = None
            if timer.active():
                timer.cancel()


async def measure_link_down_to_incident(reactor: Any, *, trials: int = 3, interval_s: float = 1.0,
                                        down_after: int = 3, timeout_s: float = TIMEOUT_S,
                                        make_watch: Callable[..., Any] = JudgeWatch) -> dict[str, Any]:
    """A node in its own namespace behind a veth pair from a head-end namespace; per trial the node's end
    of the link is taken down (inside its namespace, at a random point of the interval) and the time until
    the watch reports ``down`` is measured; then the link comes back and the node is seen up again.

    ``make_watch(reactor, head, address, on_state, interval_s=, down_after=, timeout_s=)`` makes something
    with ``start()`` and ``stop()`` that calls ``on_state(state)`` on every change (see ``JudgeWatch``).
    """
    why = namespaces_usable()
    if why is not None:
        return {"skipped": why}
    with namespaces(2) as (head, node):
        veth(head, "up0", "10.62.0.1/30", node, "uplink", "10.62.0.2/30")
        states = _States(reactor)
        watch = make_watch(reactor, head, "10.62.0.2", states, interval_s=interval_s, down_after=down_after,
                           timeout_s=timeout_s)
        delays = await _cut_trials(reactor, watch, states, node, trials=trials, interval_s=interval_s,
                                   down_after=down_after)
    return _delays_report(delays, interval_s=interval_s, down_after=down_after, timeout_s=timeout_s,
                          measured_until=getattr(make_watch, "MEASURES", "the judge's down verdict"))


# --- the benchmark -------------------------------------------------------------------------------------------


async def run_benchmark(args: Any, reactor: Any) -> dict[str, Any]:
    """Part A (hub, then fping) and part B, as ``hub bench fibre`` prints them."""
    targets = loopback_targets(args.nodes)
    result: dict[str, Any] = {"nodes": args.nodes, "seconds": args.seconds, "interval_s": args.interval,
                              "probe_timeout_s": TIMEOUT_S, "payload_bytes": PAYLOAD_BYTES}
    why = namespaces_usable()
    result["isolated_namespace"] = why is None
    with contextlib.ExitStack() as stack:
        namespace = stack.enter_context(namespaces(1))[0] if why is None else None
        result["hub"] = await hub_side(reactor, targets, seconds=args.seconds, interval_s=args.interval,
                                       namespace=namespace)
        if not args.no_fping:
            fping = fping_side(targets, seconds=args.seconds, interval_s=args.interval, namespace=namespace)
            result["fping"] = fping
            if "cpu_s_per_1000_probes" in fping and fping["cpu_s_per_1000_probes"] > 0:
                result["hub_cpu_s_per_1000_probes"] = result["hub"]["cpu_s_per_1000_probes"]
                result["fping_cpu_s_per_1000_probes"] = fping["cpu_s_per_1000_probes"]
                result["cpu_ratio"] = round(result["hub"]["cpu_s_per_1000_probes"]
                                            / fping["cpu_s_per_1000_probes"], 3)
    if not args.no_link_down:
        result["link_down"] = await measure_link_down_to_root_cause_incident(reactor, trials=args.link_trials)
    result["goals"] = {"cpu_ratio_max": 2.0, "link_down_max_s": 4.0}
    result["python"] = platform.python_version()
    result["cpus"] = os.cpu_count()
    result["load_average"] = [round(value, 2) for value in os.getloadavg()]
    return result
