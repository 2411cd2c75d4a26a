"""The fibre simulator in network namespaces (``network = "namespaces"``, root only): each node a namespace
of its own in a chain from the head end (this process, in the root namespace), with a real address. The
hub's own pinger and SNMP client, as the adapter uses them, reach every node from the root namespace; a
node cued down takes itself and the nodes behind it off the network until cued up; loss is real loss;
everything is gone after the stop, and what a dead run left behind is swept at the next start."""

from __future__ import annotations

import ipaddress
import random
import subprocess
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_twisted
import structlog
from twisted.internet import reactor
from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.task import deferLater

from hub.secrets import Secret
from plugins.dark_fibre_health import netns
from plugins.dark_fibre_health.codec.snmp import parse_oid
from plugins.dark_fibre_health.config import UsmConfig
from plugins.dark_fibre_health.icmp import IcmpPinger
from plugins.dark_fibre_health.probes import ProbeResult
from plugins.dark_fibre_health.simulator import FibreSimulator, FibreSimulatorConfig, adapter_tables
from plugins.dark_fibre_health.snmp_client import SnmpClient, SnmpError, SnmpTarget

REASON = netns.why_not_usable("nft")
pytestmark = [pytest.mark.skipif(REASON is not None, reason=f"network namespace test: {REASON}"),
              pytest.mark.timeout(60)]

COMMUNITY = Secret("ring-c0mmunity")
USM = UsmConfig(user="hub", auth_password=Secret("auth-pass-phrase"), priv_password=Secret("priv-pass-phrase"))
SYS_NAME = parse_oid("1.3.6.1.2.1.1.5.0")
NODES = ("node-01", "node-02", "node-03", "node-04")
#: Long enough for a link just brought up to carry traffic (the kernel settles a carrier within a second).
DEADLINE_S = 10.0


def free_subnet() -> str:
    """A /24 of 198.18.0.0/15 (RFC 2544's test range) that nothing on this machine uses."""
    used = netns.command(["ip", "-4", "-o", "addr", "show"]).stdout + netns.command(
        ["ip", "-4", "route", "show", "table", "all"]).stdout
    while True:
        candidate = f"198.{random.choice((18, 19))}.{random.randrange(256)}.0/24"
        prefix = candidate.rsplit(".", 1)[0] + "."
        if prefix not in used:
            return candidate


def ring_config(**settings: Any) -> FibreSimulatorConfig:
    return FibreSimulatorConfig(**{"nodes": 4, "network": "namespaces", "subnet": free_subnet(),
                                   "netns_prefix": "fibsimtest", "community": COMMUNITY, "usm": USM, **settings})


class Probes:
    """The hub's pinger and SNMP client on the reactor, as the fibre adapter uses them."""

    def __init__(self) -> None:
        self.results: list[ProbeResult] = []
        self.pinger = IcmpPinger(reactor, timeout_s=0.5, on_result=self.results.append)
        self.snmp = SnmpClient(reactor)

    async def icmp(self, addresses: dict[str, str]) -> dict[str, bool]:
        """Which nodes answer an echo request within the timeout."""
        self.results.clear()
        for name, address in addresses.items():
            self.pinger.ping(name, address)
        while len(self.results) < len(addresses):
            await deferLater(reactor, 0.05, lambda: None)
            self.pinger.sweep(reactor.seconds())  # the adapter's scheduler times out unanswered probes so
        return {result.node: result.ok for result in self.results}

    async def snmp_get(self, address: str, version: str) -> str | None:
        """The node's sysName by SNMP (v2c or v3), or None when it does not answer."""
        target = SnmpTarget(address, 161, version, community=COMMUNITY if version == "2c" else None,
                            usm=USM if version == "3" else None, timeout_s=0.5, retries=0)
        try:
            [varbind] = await self.snmp.get(target, [SYS_NAME])
        except SnmpError:
            return None
        return varbind.value.value.decode()

    async def answering(self, addresses: dict[str, str]) -> dict[str, tuple[bool, bool]]:
        """Per node: (answers ICMP, answers SNMP v2c)."""
        icmp = await self.icmp(addresses)
        snmp = await gatherResults([Deferred.fromCoroutine(self.snmp_get(address, "2c"))
                                    for address in addresses.values()])
        return {name: (icmp[name], answer is not None) for name, answer in zip(addresses, snmp)}

    async def until(self, addresses: dict[str, str], expected: dict[str, tuple[bool, bool]]) -> None:
        """Probe until the nodes answer as ``expected``, or fail with what they did last."""
        give_up = reactor.seconds() + DEADLINE_S
        while True:
            seen = await self.answering(addresses)
            if seen == expected:
                return
            if reactor.seconds() > give_up:
                raise AssertionError(f"not within {DEADLINE_S:g} s: expected {expected}, saw {seen}")
            await deferLater(reactor, 0.2, lambda: None)


def both(*dark: str) -> dict[str, tuple[bool, bool]]:
    return {name: (name not in dark, name not in dark) for name in NODES}


def made_by(simulator: FibreSimulator) -> list[str]:
    assert simulator.chain is not None
    return simulator.chain.leftovers()


def routes_in(subnet: str) -> list[str]:
    network = ipaddress.ip_network(subnet)
    lines = netns.command(["ip", "-4", "route", "show", "table", "all"]).stdout.splitlines()
    return [line for line in lines
            if (word := line.split()[0]) != "default" and _inside(word, network)]


def _inside(word: str, network: Any) -> bool:
    try:
        return ipaddress.ip_network(word, strict=False).subnet_of(network)
    except (TypeError, ValueError):
        return False


@pytest_twisted.async_yield_fixture
async def probes() -> AsyncIterator[Probes]:
    probing = Probes()
    probing.pinger.start()
    probing.snmp.start()
    yield probing
    probing.pinger.stop()
    await probing.snmp.stop()


@pytest_twisted.async_yield_fixture
async def started() -> AsyncIterator[Any]:
    """Start rings (``await started(config)``); each is stopped after the test, which then checks that
    nothing of it is left."""
    rings: list[FibreSimulator] = []

    async def start(config: FibreSimulatorConfig) -> FibreSimulator:
        simulator = FibreSimulator(reactor, config, log=structlog.get_logger())
        rings.append(simulator)
        await simulator.startService()
        return simulator

    yield start
    for simulator in rings:
        if simulator.running:
            await simulator.stopService()
        assert made_by(simulator) == []


@pytest_twisted.ensureDeferred
async def test_every_node_answers_icmp_and_snmp_at_its_own_address_from_the_root_namespace(started, probes):
    """Four namespaces in a chain; the head end pings each node's address and reads its sysName (v2c, v3)."""
    simulator = await started(ring_config())
    chain = simulator.chain
    addresses = chain.addresses
    base = ipaddress.ip_network(simulator.config.subnet).network_address
    assert list(addresses.values()) == [str(base + 2), str(base + 6), str(base + 10), str(base + 14)]
    assert len({chain.namespace(name) for name in NODES}) == 4
    assert all(chain.namespace(name) in netns.namespaces() for name in NODES)
    assert await probes.icmp(addresses) == dict.fromkeys(NODES, True)
    for name in NODES:
        assert await probes.snmp_get(addresses[name], "2c") == name
        assert await probes.snmp_get(addresses[name], "3") == name


@pytest_twisted.ensureDeferred
async def test_node_down_silences_the_node_and_those_behind_it_until_node_up(started, probes):
    """node-03's link goes down: node-03 and node-04 stop answering ICMP and SNMP, node-01 and 02 do not;
    node_up brings both back."""
    simulator = await started(ring_config())
    addresses = simulator.chain.addresses
    await probes.until(addresses, both())
    await simulator.cue("node_down", {"node": "node-03"})
    assert simulator.chain.links_down == {"node-03"}
    assert await probes.answering(addresses) == both("node-03", "node-04")
    await simulator.cue("node_up", {"node": "node-03"})
    await probes.until(addresses, both())


@pytest_twisted.ensureDeferred
async def test_a_node_down_for_a_while_comes_back_by_itself(started, probes):
    """node_down with for_s: node-02 and everything behind it dark, then back, on the reactor's clock."""
    simulator = await started(ring_config())
    addresses = simulator.chain.addresses
    await simulator.cue("node_down", {"node": "node-02", "for_s": 3})
    assert await probes.answering(addresses) == both("node-02", "node-03", "node-04")
    await probes.until(addresses, both())
    assert simulator.chain.links_down == set()


@pytest_twisted.ensureDeferred
async def test_loss_is_dropped_by_the_node_for_itself_and_those_behind_it(started, probes):
    """loss 100 % on node-02: nothing reaches node-02, 03 or 04; clear lets everything through again."""
    simulator = await started(ring_config())
    addresses = simulator.chain.addresses
    await simulator.cue("loss", {"node": "node-02", "loss_pct": 100})
    assert await probes.answering(addresses) == both("node-02", "node-03", "node-04")
    await simulator.cue("clear", {"node": "node-02"})
    await probes.until(addresses, both())


@pytest_twisted.ensureDeferred
async def test_the_script_takes_a_node_down_at_its_time_in_namespaces_too(started, probes):
    """A down fault of the configured script cuts the node's link at its time and restores it at its end."""
    from plugins.dark_fibre_health.sim_faults import FaultConfig

    simulator = await started(ring_config(faults=(FaultConfig(node="node-04", kind="down", at_s=0.5, for_s=2),)))
    addresses = simulator.chain.addresses
    await probes.until(addresses, both("node-04"))
    await probes.until(addresses, both())


@pytest_twisted.ensureDeferred
async def test_the_stop_removes_every_namespace_veth_and_route(started):
    """After the stop no namespace, root link or route of the ring is left."""
    config = ring_config()
    simulator = await started(config)
    assert len(made_by(simulator)) == 5  # four namespaces, one root veth end
    assert routes_in(config.subnet)
    await simulator.stopService()
    assert made_by(simulator) == []
    assert routes_in(config.subnet) == []


@pytest_twisted.ensureDeferred
async def test_what_a_dead_run_left_is_swept_at_the_start_and_a_live_ones_is_not(started):
    """Namespaces and a root veth named for a process that has died are removed; those of a live one stay."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = [f"fibsimtest-{dead.pid}-abcde-1", f"fibsimtest-{dead.pid}-abcde-2"]
    alive = f"fibsimtest-{netns.os.getppid()}-abcde-1"
    for name in [*stale, alive]:
        netns.command(["ip", "netns", "add", name])
    netns.command(["ip", "link", "add", "fsabcde1", "type", "veth", "peer", "name", "uplink", "netns", stale[0]])
    netns.command(["ip", "link", "set", "fsabcde1", "alias", f"fibsimtest-{dead.pid}-abcde"])
    try:
        await started(ring_config())
        assert not set(stale) & set(netns.namespaces())
        assert "fsabcde1" not in {link["ifname"] for link in netns.root_links()}
        assert alive in netns.namespaces()
    finally:
        for name in [*stale, alive]:
            netns.command(["ip", "netns", "del", name], check=False)
        netns.command(["ip", "link", "del", "fsabcde1"], check=False)


@pytest_twisted.ensureDeferred
async def test_a_subnet_already_in_use_is_refused_and_nothing_is_left(started):
    """A second ring on the first one's subnet fails to start, saying so, and leaves nothing of its own."""
    first = await started(ring_config())
    second = FibreSimulator(reactor, ring_config(subnet=first.config.subnet), log=structlog.get_logger())
    with pytest.raises(netns.NetnsError, match="already in use on this machine"):
        await second.startService()
    assert made_by(second) == []
    assert len(made_by(first)) == 5


@pytest_twisted.ensureDeferred
async def test_the_printed_adapter_tables_probe_each_node_by_icmp_and_snmp_at_its_address(started):
    """hub fibre-sim's tables for a ring in namespaces: the node's address, port 161, ICMP and SNMP."""
    simulator = await started(ring_config(nodes=2))
    text = adapter_tables(simulator, secrets={"community": "C", "auth_password": "A", "priv_password": "P"})
    for name in ("node-01", "node-02"):
        section = text.split(f'[adapters.fibre.nodes."{name}"]')[1].split("\n\n")[0]
        assert f'address = "{simulator.chain.addresses[name]}"' in section
        assert 'probes = ["icmp", "snmp"]' in section and "port = 161" in section

