"""Fixtures shared by the fibre adapter's tests.

Network namespaces (tests/plugins/dark_fibre_health/netns.py), which need root, iproute2 and nftables:

- ``fibre_network(*nodes)``: builds a ``FibreNetwork`` of ``NodeSpec`` nodes; torn down after the test,
  and the test fails if anything of it is left behind. Skips the test when namespaces cannot be made here.
- ``snmpd_agent(network, node, **settings)``: net-snmp's snmpd inside ``node``'s namespace (``SnmpdAgent``),
  its receive power set with ``agent.set_rx(dbm)``. Skips the test when snmpd or snmp is not installed.

Leftovers of earlier runs that died (namespaces of processes no longer running) are swept once per session.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.plugins.dark_fibre_health.netns import (
    FibreNetwork,
    NodeSpec,
    SnmpdAgent,
    start_snmpd,
    sweep,
    why_not_usable,
)


@pytest.fixture(scope="session")
def netns_swept() -> list[str]:
    """What a session-start sweep of dead runs' namespaces removed (nothing when namespaces are unusable)."""
    if why_not_usable() is not None:
        return []
    return sweep()


@pytest.fixture
def fibre_network(netns_swept: list[str]) -> Iterator[Callable[..., FibreNetwork]]:
    reason = why_not_usable("nft", "ping")
    if reason is not None:
        pytest.skip(f"network namespace test skipped: {reason}")
    built: list[FibreNetwork] = []

    def build(*nodes: NodeSpec) -> FibreNetwork:
        network = FibreNetwork(nodes)
        built.append(network)
        return network.build()

    yield build
    problems: list[str] = []
    for network in built:
        problems += network.destroy()
        problems += [f"left behind: {name}" for name in network.leftovers()]
    assert not problems, problems


@pytest.fixture
def snmpd_agent(tmp_path: Path) -> Iterator[Callable[..., SnmpdAgent]]:
    reason = why_not_usable("snmpd", "snmpget", "snmpwalk")
    if reason is not None:
        pytest.skip(f"snmpd test skipped: {reason}")
    started: list[SnmpdAgent] = []

    def start(network: FibreNetwork, node: str, **settings: Any) -> SnmpdAgent:
        agent = start_snmpd(network, node, tmp_path / f"snmpd-{node}", **settings)
        started.append(agent)
        return agent

    yield start
    for agent in started:
        agent.stop()
