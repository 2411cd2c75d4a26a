"""The ICMP pinger on real sockets: a raw socket pinging loopback addresses, the unprivileged datagram
socket inside a network namespace whose ping_group_range allows it, and real failures: a link taken down,
no route at all, and a router that answers with net-unreachable.

Each namespace is made for the test (named hubprobe-<pid>-<n>) and removed after it; the pinger's socket
is made inside the head-end namespace from a thread that enters it, then read by the test's reactor."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.task import deferLater

from plugins.dark_fibre_health.bench import (
    Namespace,
    namespaces,
    namespaces_usable,
    veth,
)
from plugins.dark_fibre_health.icmp import IcmpPinger, PingerUnavailable
from plugins.dark_fibre_health.probes import ProbeResult

WHY_NOT = namespaces_usable()
pytestmark = pytest.mark.skipif(WHY_NOT is not None, reason=f"raw sockets and network namespaces: {WHY_NOT}")

ALL_GROUPS = (0, 2147483647)


class Net:
    """Head end and node namespaces joined by a veth pair: head 10.61.0.1/24 (``up0``), node 10.61.0.2/24
    (``dn0``). The head routes everything else through the node; the node forwards, with no route
    beyond, so it answers for 10.99.0.0/16 with ICMP net-unreachable."""

    def __init__(self, head: Namespace, node: Namespace) -> None:
        self.head, self.node = head, node
        veth(head, "up0", "10.61.0.1/24", node, "dn0", "10.61.0.2/24")
        head.ip("route", "add", "default", "via", "10.61.0.2")
        node.sysctl("net.ipv4.ip_forward", "1")


@pytest.fixture
def net() -> Iterator[Net]:
    with namespaces(2, ping_group_range=ALL_GROUPS) as (head, node):
        yield Net(head, node)


def pinger_in(namespace: Namespace | None, mode: str, results: list[ProbeResult],
              timeout_s: float = 0.5) -> IcmpPinger:
    factory = namespace.socket if namespace is not None else None
    pinger = IcmpPinger(reactor, mode=mode, timeout_s=timeout_s, on_result=results.append, socket_factory=factory)
    pinger.start()
    return pinger


async def settled(pinger: IcmpPinger, results: list[ProbeResult], count: int, within_s: float = 10.0) -> None:
    """Until ``count`` results are in (sweeping timeouts as the scheduler's tick would), or fail."""
    waited = 0.0
    while len(results) < count and waited < within_s:
        await deferLater(reactor, 0.02, lambda: None)
        waited += 0.02
        pinger.sweep(reactor.seconds())
    assert len(results) == count, f"{len(results)} results of {count} in {within_s} s: {results}"


@pytest_twisted.ensureDeferred
async def test_a_raw_socket_pings_loopback_addresses():
    results: list[ProbeResult] = []
    pinger = pinger_in(None, "raw", results)
    try:
        assert pinger.mode_in_use == "raw"
        for number, address in enumerate(("127.0.0.1", "127.0.0.2", "127.3.4.5")):
            pinger.ping(f"FN-{number}", address)
        await settled(pinger, results, 3)
    finally:
        pinger.stop()
    assert sorted(result.node for result in results) == ["FN-0", "FN-1", "FN-2"]
    assert all(result.ok and result.method == "icmp" and result.rtt_s > 0 for result in results), results


@pytest_twisted.ensureDeferred
async def test_the_datagram_socket_pings_inside_a_namespace_that_allows_it(net):
    """Replies come without an IP header and with the kernel's identifier: matched by sequence."""
    results: list[ProbeResult] = []
    pinger = pinger_in(net.head, "dgram", results)
    try:
        assert pinger.mode_in_use == "dgram"
        pinger.ping("loopback", "127.0.0.1")
        pinger.ping("FN-02", "10.61.0.2")
        pinger.ping("FN-02-again", "10.61.0.2")
        await settled(pinger, results, 3)
    finally:
        pinger.stop()
    assert {result.node for result in results} == {"loopback", "FN-02", "FN-02-again"}
    assert all(result.ok and result.rtt_s > 0 for result in results), results


@pytest_twisted.ensureDeferred
async def test_auto_takes_the_datagram_socket_where_allowed_and_raw_where_not(net):
    with namespaces(1) as (closed,):  # the default range, "1 0", allows no group at all
        allowed = pinger_in(net.head, "auto", [])
        refused = pinger_in(closed, "auto", [])
        try:
            assert (allowed.mode_in_use, refused.mode_in_use) == ("dgram", "raw")
            with pytest.raises(PingerUnavailable, match="ping_group_range"):
                pinger_in(closed, "dgram", [])
        finally:
            allowed.stop()
            refused.stop()


@pytest.mark.parametrize("mode", ["dgram", "raw"])
@pytest_twisted.ensureDeferred
async def test_a_node_whose_link_is_taken_down_stops_answering(net, mode):
    """Every probe after the link goes down fails: by timeout, or at once where the datagram socket's send
    is refused with ENOBUFS (the head's end of the veth has lost its carrier; a raw socket is not told)."""
    results: list[ProbeResult] = []
    pinger = pinger_in(net.head, mode, results, timeout_s=0.3)
    try:
        pinger.ping("FN-02", "10.61.0.2")
        await settled(pinger, results, 1)
        assert results[0].ok, results
        net.node.ip("link", "set", "dn0", "down")
        for _ in range(3):
            pinger.ping("FN-02", "10.61.0.2")
        await settled(pinger, results, 4)
    finally:
        pinger.stop()
    assert [result.ok for result in results[1:]] == [False] * 3
    assert {result.error for result in results[1:]} <= {"timeout", "ENOBUFS"}
    if mode == "raw":
        assert {result.error for result in results[1:]} == {"timeout"}


@pytest.mark.parametrize("mode", ["dgram", "raw"])
@pytest_twisted.ensureDeferred
async def test_an_address_with_no_route_fails_at_once_with_the_errno(net, mode):
    """The node has no default route: sendto refuses at once, before any sweep."""
    results: list[ProbeResult] = []
    pinger = pinger_in(net.node, mode, results)
    try:
        pinger.ping("FN-far", "10.200.0.1")
    finally:
        pinger.stop()
    assert [(result.node, result.ok, result.error) for result in results] == [("FN-far", False, "ENETUNREACH")]


@pytest_twisted.ensureDeferred
async def test_a_routers_net_unreachable_fails_the_probe_before_its_timeout(net):
    """On a raw socket, the node's ICMP error quoting our request arrives long before the 5 s timeout."""
    results: list[ProbeResult] = []
    pinger = pinger_in(net.head, "raw", results, timeout_s=5.0)
    try:
        pinger.ping("FN-beyond", "10.99.0.1")
        await settled(pinger, results, 1, within_s=3.0)
    finally:
        pinger.stop()
    assert [(result.ok, result.error) for result in results] == [(False, "net-unreachable")]


def test_namespaces_made_here_are_gone_after():
    with namespaces(1) as (made,):
        name = made.name
        assert name in os.listdir("/run/netns")
    assert name not in os.listdir("/run/netns")
