"""The fibre adapter: every node of one fibre network probed, judged and correlated, as one Twisted service.

Data flow: the ``ProbeScheduler`` paces one ICMP and/or TCP probe per node per interval; each result goes
to that node's ``NodeJudge``; a judge's change of state goes to the ``Correlator``, which judges parents
before children and says which nodes are root causes and which are merely unreachable; the
``OutageReporter`` publishes each change and keeps the directory (the console's map) in step. SNMP polls
run on their own slower schedule; their readings feed the ``OpticsWatch`` (optical levels, interfaces,
receive-power trends) and, as proof of life, the judge.

Nothing is published per probe: only changes. The adapter hears its network (``context.heard``) while
any node answers, so the silence watchdog speaks when the whole network, or the hub's own link into it,
goes quiet.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred, DeferredList, DeferredSemaphore

from hub.api import AdapterContext
from hub.outbox import Outbox
from plugins.dark_fibre_health.config import FibreConfig
from plugins.dark_fibre_health.correlation import Correlator
from plugins.dark_fibre_health.events import DEGRADED, UP
from plugins.dark_fibre_health.judge import NodeJudge
from plugins.dark_fibre_health.optics_watch import OpticsWatch
from plugins.dark_fibre_health.outage import NodeFigures, OutageReporter
from plugins.dark_fibre_health.probes import ProbeResult
from plugins.dark_fibre_health.scheduler import ProbeScheduler
from plugins.dark_fibre_health.topology import Topology

#: SNMP polls in flight at once, whatever the number of nodes: a poll is a few walks.
MAX_SNMP_POLLS = 16
#: The watchdog is told the network answers at most this often.
HEARD_EVERY_S = 1.0


def max_hold_s(config: FibreConfig, topology: Topology) -> float:
    """How long the correlator may hold a node's down while a node upstream of it is still being judged:
    two rounds and a timeout of the slowest judged node with nodes behind it (a held verdict waits for
    theirs). A node probed by SNMP alone is judged poll by poll, so its round is its SNMP interval (seconds
    to minutes), not ``interval_s``: held only two of the latter, a node polled a few seconds before its
    upstream would be a root cause of its own."""
    longest = 2 * config.interval_s + config.probe_timeout_s
    for name in topology.order:
        node = config.nodes[name]
        if not node.enabled or not topology.children(name):
            continue
        if node.snmp is not None and not set(node.probes) & {"icmp", "tcp"}:
            snmp = node.snmp
            longest = max(longest, 2 * snmp.interval_s + snmp.timeout_s * (snmp.retries + 1))
    return longest


class _Failing(Mapping[str, int]):
    """Each node's failed rounds in a row, read from its judge only when the correlator asks."""

    def __init__(self, judges: Mapping[str, NodeJudge]) -> None:
        self._judges = judges

    def __getitem__(self, node: str) -> int:
        judge = self._judges.get(node)
        return 0 if judge is None else judge.failing

    def __iter__(self) -> Iterator[str]:
        return iter(self._judges)

    def __len__(self) -> int:
        return len(self._judges)


class Probers:
    """The real probes: one ICMP socket and one TCP prober for the whole network, one SNMP client."""

    def __init__(self, context: AdapterContext, on_result: Callable[[ProbeResult], None]) -> None:
        config: FibreConfig = context.config
        enabled = [node for node in config.nodes.values() if node.enabled]
        self._log = context.log
        self.icmp: Any = None
        self.tcp: Any = None
        self.snmp: Any = None
        if any("icmp" in node.probes for node in enabled):
            from plugins.dark_fibre_health.icmp import IcmpPinger

            self.icmp = IcmpPinger(context.reactor, mode=config.icmp_mode, timeout_s=config.probe_timeout_s,
                                   on_result=on_result, log=context.log)
        if any("tcp" in node.probes for node in enabled):
            from plugins.dark_fibre_health.tcp_probe import TcpProber

            self.tcp = TcpProber(context.reactor, timeout_s=config.probe_timeout_s, on_result=on_result,
                                 log=context.log)
        if any(node.snmp is not None and "snmp" in node.probes for node in enabled):
            from plugins.dark_fibre_health.snmp_client import SnmpClient

            self.snmp = SnmpClient(context.reactor, log=context.log)

    def start(self) -> None:
        if self.icmp is not None:
            self.icmp.start()
        if self.snmp is not None:
            self.snmp.start()

    def sweep(self, now: float) -> None:
        if self.icmp is not None:
            self.icmp.sweep(now)

    def poll(self, node: str, config: FibreConfig) -> "Deferred[Any]":
        from plugins.dark_fibre_health.optics_poll import poll_node
        from plugins.dark_fibre_health.snmp_client import SnmpTarget

        settings = config.nodes[node]
        assert settings.snmp is not None
        target = SnmpTarget.from_config(settings.address, settings.snmp)
        return Deferred.fromCoroutine(poll_node(
            self.snmp, target, config_thresholds=settings.snmp.thresholds, ports=settings.snmp.interfaces,
            log=self._log.bind(node=node),  # the adapter's logger, not the global one: its name and the node
        ))

    def stop(self) -> "Deferred[Any] | None":
        if self.icmp is not None:
            self.icmp.stop()
        if self.tcp is not None:
            self.tcp.stop()
        if self.snmp is not None:
            return self.snmp.stop()
        return None


class FibreAdapter(Service):
    """One fibre network. Built by the runtime with its ``AdapterContext`` on every (re)start.

    ``probers(context, on_result)`` makes the probes (tests pass fakes that report results by hand).
    """

    def __init__(
        self,
        context: AdapterContext,
        *,
        probers: Callable[[AdapterContext, Callable[[ProbeResult], None]], Any] = Probers,
    ) -> None:
        self.context = context
        self.config: FibreConfig = context.config
        self.topology = Topology.build(self.config.nodes, self.config.spans)
        self._probers_factory = probers
        self._log = context.log
        self._outbox = Outbox(context.bus, self._log)
        self.judges: dict[str, NodeJudge] = {
            name: NodeJudge(name, self.config.judge, methods=self.config.nodes[name].probes)
            for name in self.topology.order if self.config.nodes[name].enabled
        }
        self._failing = _Failing(self.judges)
        # A child's down is held while its parent is still being judged: two of the parent's rounds and a
        # timeout cover its next verdict whatever the phase of their probes.
        self.correlator = Correlator(self.topology, judged=self.judges, max_hold_s=max_hold_s(self.config, self.topology))
        self.reporter = OutageReporter(
            config=self.config, topology=self.topology, events=context.events, publish=self._outbox.publish,
            directory=context.directory, clock=context.reactor, source=context.name, log=self._log,
        )
        self.optics = OpticsWatch(config=self.config, events=context.events, publish=self._outbox.publish,
                                  clock=context.reactor, log=self._log)
        self._probers: Any = None
        self._probe_schedule: ProbeScheduler | None = None
        self._snmp_schedules: list[ProbeScheduler] = []
        self._snmp_slots = DeferredSemaphore(MAX_SNMP_POLLS)
        self._snmp_busy: set[str] = set()
        self._polls: set[Deferred[Any]] = set()
        self._last_heard = float("-inf")
        self._running = False
        self.probes_sent = 0
        self.probes_answered = 0
        self.snmp_polls = 0
        self.snmp_failures = 0

    # --- Service --------------------------------------------------------------------------------------

    def startService(self) -> None:
        super().startService()
        self._running = True
        config, reactor = self.config, self.context.reactor
        self.reporter.put_assets()
        self._probers = self._probers_factory(self.context, self._on_result)
        self._probers.start()
        probed = [name for name in self.judges if set(config.nodes[name].probes) & {"icmp", "tcp"}]
        self._probe_schedule = ProbeScheduler(reactor, interval_s=config.interval_s, tick_s=config.tick_s,
                                              send=self._probe, on_tick=self._tick)
        self._probe_schedule.set_targets(probed)
        self._probe_schedule.start()
        by_interval: dict[float, list[str]] = {}
        for name in self.judges:
            snmp = config.nodes[name].snmp
            if snmp is not None and "snmp" in config.nodes[name].probes:
                by_interval.setdefault(snmp.interval_s, []).append(name)
        for interval, names in sorted(by_interval.items()):
            schedule = ProbeScheduler(reactor, interval_s=interval, tick_s=min(1.0, interval / max(1, len(names))),
                                      send=self._poll)
            schedule.set_targets(names)
            schedule.start()
            self._snmp_schedules.append(schedule)
        self._log.info("fibre_adapter_started", nodes=len(config.nodes), probed=len(probed),
                       snmp=sum(len(names) for names in by_interval.values()),
                       icmp_mode=getattr(self._probers.icmp, "mode_in_use", None))

    def stopService(self) -> "Deferred[None]":
        super().stopService()
        self._running = False
        for schedule in (self._probe_schedule, *self._snmp_schedules):
            if schedule is not None:
                schedule.stop()
        self._probe_schedule = None
        self._snmp_schedules = []
        self.reporter.stop()
        polls = DeferredList(list(self._polls), consumeErrors=True)
        for poll in list(self._polls):
            poll.cancel()
        probers, self._probers = self._probers, None
        stopped: Deferred[Any] = polls
        if probers is not None:
            stopped.addCallback(lambda _result: probers.stop())
        stopped.addCallback(lambda _result: self._outbox.drain())
        stopped.addCallback(lambda _result: self._log.info("fibre_adapter_stopped"))
        return stopped

    # --- probes ---------------------------------------------------------------------------------------

    def _probe(self, name: str) -> None:
        node = self.config.nodes[name]
        probers = self._probers
        if probers is None:
            return
        if "icmp" in node.probes and probers.icmp is not None:
            self.probes_sent += 1
            probers.icmp.ping(name, node.address)
        if "tcp" in node.probes and probers.tcp is not None:
            self.probes_sent += 1
            probers.tcp.probe(name, node.address, node.tcp_port)

    def _tick(self, now: float) -> None:
        probers = self._probers
        if probers is not None:
            probers.sweep(now)
        if self.correlator.holding:
            self._report(self.correlator.release(self._failing, now))

    def _on_result(self, result: ProbeResult) -> None:
        if not self._running:
            return
        judge = self.judges.get(result.node)
        if judge is None:
            return
        if result.ok:
            self.probes_answered += 1
            now = result.sent_at + (result.rtt_s or 0.0)
            if now - self._last_heard >= HEARD_EVERY_S:
                self._last_heard = now
                self.context.heard()
        verdict = judge.observe(result, now=self.context.reactor.seconds())
        if verdict is not None:
            self._report(self.correlator.update(verdict, self._failing))

    def _report(self, changes: list[Any]) -> None:
        for change in changes:
            judge = self.judges.get(change.node)
            figures = NodeFigures()
            if judge is not None:
                summary = judge.summary()
                figures = NodeFigures(
                    reason=summary.get("reason"), loss_pct=summary.get("loss_pct"), rtt_ms=summary.get("rtt_ms"),
                    jitter_ms=summary.get("jitter_ms"), failed_probes=judge.failing,
                )
            self.reporter.changed(change.node, change.state, root_cause=change.root_cause,
                                  because_of=change.because_of, figures=figures)

    # --- SNMP -----------------------------------------------------------------------------------------

    def _poll(self, name: str) -> None:
        if name in self._snmp_busy or self._probers is None:
            return  # the last poll of this node is still going: never stack them up
        self._snmp_busy.add(name)
        poll = self._snmp_slots.run(self._poll_now, name)
        self._polls.add(poll)

        def done(result: Any) -> None:
            self._polls.discard(poll)
            self._snmp_busy.discard(name)

        poll.addBoth(done)

    def _poll_now(self, name: str) -> "Deferred[Any]":
        started = self.context.reactor.seconds()
        self.snmp_polls += 1
        polling = self._probers.poll(name, self.config)
        polling.addCallbacks(self._polled, self._poll_failed, callbackArgs=(name, started),
                             errbackArgs=(name, started))
        return polling

    def _polled(self, readings: Any, name: str, started: float) -> None:
        if not self._running:
            return
        now = self.context.reactor.seconds()
        # A poll is several walks, so its duration is no round trip: it only proves the node alive.
        self._on_result(ProbeResult(node=name, method="snmp", sent_at=started, ok=True))
        worst = self.optics.readings(name, readings)
        judge = self.judges.get(name)
        if judge is not None:
            verdict = judge.optics(worst, now)
            if verdict is not None:
                self._report(self.correlator.update(verdict, self._failing))

    def _poll_failed(self, failure: Any, name: str, started: float) -> None:
        from twisted.internet.defer import CancelledError

        if failure.check(CancelledError) or not self._running:
            return
        self.snmp_failures += 1
        error = failure.getErrorMessage() or type(failure.value).__name__
        self._log.info("fibre_snmp_poll_failed", node=name, error=error)
        self._on_result(ProbeResult(node=name, method="snmp", sent_at=started, ok=False, error=error))

    # --- figures --------------------------------------------------------------------------------------

    def metrics(self) -> list[Any]:
        """Samples for ``/metrics``: each node's state, probe counters, round trips and receive power."""
        from hub.api import MetricSample

        samples = [
            MetricSample("fibre_probes_sent_total", "counter", "ICMP and TCP probes sent.", self.probes_sent,
                         {}),
            MetricSample("fibre_probes_answered_total", "counter", "Probes answered (ICMP, TCP, SNMP).",
                         self.probes_answered, {}),
            MetricSample("fibre_snmp_polls_total", "counter", "SNMP polls started.", self.snmp_polls,
                         {}),
            MetricSample("fibre_snmp_poll_failures_total", "counter", "SNMP polls that failed.",
                         self.snmp_failures, {}),
        ]
        for name, state in self.reporter.states.items():
            samples.append(MetricSample("fibre_node_up", "gauge",
                                        "1 when the node is up or degraded, 0 otherwise.",
                                        1 if state in (UP, DEGRADED) else 0,
                                        {"node": name, "state": state}))
        for name, judge in self.judges.items():
            summary = judge.summary()
            if summary.get("rtt_ms") is not None:
                samples.append(MetricSample("fibre_node_rtt_ms", "gauge", "Median round trip over the loss window.",
                                            summary["rtt_ms"], {"node": name}))
            if summary.get("loss_pct") is not None:
                samples.append(MetricSample("fibre_node_loss_pct", "gauge", "Probe loss over the loss window.",
                                            summary["loss_pct"], {"node": name}))
        for (name, port), dbm in sorted(self.optics.last_rx.items()):
            samples.append(MetricSample("fibre_rx_power_dbm", "gauge", "Last receive power read.", dbm,
                                        {"node": name, "port": port}))
        return samples

    def state_of(self, node: str) -> str:
        return self.reporter.states.get(node, "unknown")

