"""The simulated ring in real network namespaces: each node a namespace of its own, joined to the one
before it by a veth pair, in chains from the head end (the root namespace, where the hub runs).

Node ``i`` (from 1, in chain order) has the ``i``-th /30 of the ``subnet``: the end towards the head end
(the root namespace, or the node before it) takes the first address, the node's ``uplink`` the second,
which is the node's address. Each node forwards for the nodes behind it and routes everything else back
up its uplink; the head end and every node on the way have a route to each link further down. So the
hub's ICMP echo is answered by the node's own kernel, and its SNMP by the node's agent, whose socket the
simulator makes inside the namespace (``sockets``: ``udp`` and ``tcp``, as ``sim_agent.LoopbackSockets``)
and hands to the reactor.

A node ``down`` is its uplink down: the node and everything behind it are cut off, as by a broken fibre.
``loss`` is an nftables rule in the node's namespace dropping that share of what comes in over its uplink
(to the node, and on its way to the nodes behind it). Both change at run time by commands run as child
processes of the reactor, one after another in the order asked.

Everything is named ``<prefix>-<pid>-<tag>-<i>`` (namespaces; the root ends of the veths, ``fs<tag><i>``,
carry ``<prefix>-<pid>-<tag>`` as their alias), so that a ring that died without cleaning up is swept away
at the next start (``netns.sweep``) and two rings running at once never meet. Building and tearing down
run ``ip`` to completion (a few dozen milliseconds for a handful of nodes); only root can do either.
"""

from __future__ import annotations

import ipaddress
import os
import random
import shutil
import socket
from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from twisted.internet.defer import Deferred, succeed
from twisted.internet.utils import getProcessOutputAndValue

from plugins.dark_fibre_health import netns
from plugins.dark_fibre_health.netns import NetnsError, bound_socket, command, in_namespace

__all__ = ["LOSS_TABLE", "NamespaceChain", "NetnsError", "UPLINK", "DOWNLINK", "why_not_usable"]

UPLINK = "uplink"
DOWNLINK = "downlink"
LOSS_TABLE = "fibresim_loss"
#: Addresses per node: a /30 each.
_BLOCK = 4


def why_not_usable(*, loss: bool = False) -> str | None:
    """Why the ring cannot be built in namespaces here, or None; ``loss``: nftables is needed too."""
    reason = netns.why_not_usable(*(("nft",) if loss else ()))
    if reason is None:
        return None
    return f"fibre nodes in network namespaces: {reason}; run the hub as root, or use network = \"loopback\""


def addresses(subnet: ipaddress.IPv4Network, count: int) -> list[tuple[str, str]]:
    """For ``count`` nodes, each node's (upstream side, node) addresses: the first two hosts of its /30."""
    base = int(subnet.network_address)
    return [(str(ipaddress.IPv4Address(base + _BLOCK * n + 1)), str(ipaddress.IPv4Address(base + _BLOCK * n + 2)))
            for n in range(count)]


class NamespaceChain:
    """The namespaces, veths, addresses and routes of a ring of ``chains`` (lists of node names, each
    from the head end outwards) in ``subnet``; ``build()`` makes them, ``destroy()`` removes them."""

    def __init__(self, reactor: Any, chains: Sequence[Sequence[str]], subnet: str, *, prefix: str,
                 log: Any = None) -> None:
        self._reactor = reactor
        self._log = log if log is not None else structlog.get_logger()
        self.prefix = prefix
        self.subnet = ipaddress.IPv4Network(subnet)
        self.tag = f"{random.getrandbits(20):05x}"
        self.owner = f"{prefix}-{os.getpid()}-{self.tag}"
        self.chains = [list(chain) for chain in chains]
        self.order = [name for chain in self.chains for name in chain]
        if len(self.order) * _BLOCK > self.subnet.num_addresses:
            raise ValueError(f"{len(self.order)} nodes need a /30 each: {self.subnet} holds "
                             f"{self.subnet.num_addresses // _BLOCK}")
        pairs = addresses(self.subnet, len(self.order))
        self._index = {name: number for number, name in enumerate(self.order, start=1)}
        self.upstream_addresses = {name: pairs[n - 1][0] for name, n in self._index.items()}
        self.addresses = {name: pairs[n - 1][1] for name, n in self._index.items()}
        self._made_namespaces: list[str] = []
        self._made_links: list[str] = []
        self._queue: Deferred[Any] = succeed(None)
        #: What the network is now: nodes whose uplink is down, and each node's loss (%) where not 0.
        self.links_down: set[str] = set()
        self.loss: dict[str, float] = {}
        self.built = False

    # --- names ----------------------------------------------------------------------------------------

    def namespace(self, node: str) -> str:
        return f"{self.owner}-{self._index[node]}"

    def root_interface(self, node: str) -> str:
        """The head end's end of the link to ``node`` (a chain's first node): at most 15 characters."""
        return f"fs{self.tag}{self._index[node]}"

    def link_subnet(self, node: str) -> str:
        """The /30 of ``node``'s link to its upstream."""
        return str(ipaddress.IPv4Network(f"{self.upstream_addresses[node]}/30", strict=False))

    # --- building and tearing down ----------------------------------------------------------------------

    def build(self) -> list[str]:
        """Sweep what dead runs with this prefix left, check the subnet is free, then make every namespace,
        veth, address and route (blocking). Returns what the sweep removed. Half-built is torn down."""
        swept = netns.sweep(self.prefix)
        self._check_subnet_free()
        try:
            self._build()
        except BaseException:
            self.destroy()
            raise
        self.built = True
        return swept

    def _check_subnet_free(self) -> None:
        text = (command(["ip", "-4", "-o", "addr", "show"]).stdout + "\n"
                + command(["ip", "-4", "route", "show", "table", "all"]).stdout)
        for word in text.split():
            try:
                found = ipaddress.ip_network(word, strict=False)
            except ValueError:
                continue
            # Anything inside the subnet clashes; a wider route (a VPN's 10.0.0.0/8) is overridden by ours.
            if found.version == 4 and found.subnet_of(self.subnet):
                raise NetnsError(f"{self.subnet} is already in use on this machine ({word} in the root "
                                 "namespace): another fibre simulator running? Give this one another subnet")

    def _batch(self, namespace: str | None, lines: Sequence[str]) -> None:
        if lines:
            command(["ip", *(["-n", namespace] if namespace else []), "-batch", "-"], input="\n".join(lines) + "\n")

    def _build(self) -> None:
        for name in self.order:
            namespace = self.namespace(name)
            command(["ip", "netns", "add", namespace])
            self._made_namespaces.append(namespace)
        root: list[str] = []
        for chain in self.chains:
            head = chain[0]
            outside = self.root_interface(head)
            root += [f"link add {outside} type veth peer name {UPLINK} netns {self.namespace(head)}",
                     f"link set {outside} alias {self.owner}",
                     f"addr add {self.upstream_addresses[head]}/30 dev {outside}",
                     f"link set {outside} up"]
            self._made_links.append(outside)
        self._batch(None, root)
        for chain in self.chains:
            for position, name in enumerate(chain):
                lines = ["link set lo up",
                         f"addr add {self.addresses[name]}/30 dev {UPLINK}",
                         f"link set {UPLINK} up",
                         f"route add default via {self.upstream_addresses[name]}"]
                if position + 1 < len(chain):
                    after = chain[position + 1]
                    lines += [f"link add {DOWNLINK} type veth peer name {UPLINK} netns {self.namespace(after)}",
                              f"addr add {self.upstream_addresses[after]}/30 dev {DOWNLINK}",
                              f"link set {DOWNLINK} up"]
                    lines += [f"route add {self.link_subnet(further)} via {self.addresses[after]}"
                              for further in chain[position + 2:]]
                self._batch(self.namespace(name), lines)
                in_namespace(self.namespace(name), _forward)
        self._batch(None, [f"route add {self.link_subnet(further)} via {self.addresses[chain[0]]}"
                           for chain in self.chains for further in chain[1:]])

    def destroy(self) -> list[str]:
        """Remove every veth and namespace made (safe on a half-built ring, and twice); the errors, if any,
        everything being attempted whatever fails."""
        errors: list[str] = []
        for link in self._made_links:
            done = command(["ip", "link", "del", link], check=False)
            if done.returncode != 0 and "Cannot find device" not in done.stderr:
                errors.append(f"ip link del {link}: {done.stderr.strip()}")
        for namespace in reversed(self._made_namespaces):
            netns.kill_namespace_processes(namespace)
            done = command(["ip", "netns", "del", namespace], check=False)
            if done.returncode != 0 and "No such file" not in done.stderr:
                errors.append(f"ip netns del {namespace}: {done.stderr.strip()}")
        self._made_links.clear()
        self._made_namespaces.clear()
        self.links_down.clear()
        self.loss.clear()
        self.built = False
        return errors

    def leftovers(self) -> list[str]:
        """This ring's namespaces and root links that still exist (none once destroyed)."""
        found = [name for name in netns.namespaces() if name.startswith(f"{self.owner}-")]
        found += [link["ifname"] for link in netns.root_links()
                  if link.get("ifalias") == self.owner or link["ifname"].startswith(f"fs{self.tag}")]
        return found

    # --- the nodes' sockets (sim_agent.NodeNetwork's ``sockets``) ---------------------------------------

    def udp(self, node: str, host: str, port: int, protocol: Any) -> Any:
        made = in_namespace(self.namespace(node), lambda: bound_socket(socket.SOCK_DGRAM, host, port))
        try:
            return self._reactor.adoptDatagramPort(made.fileno(), socket.AF_INET, protocol)
        finally:
            made.close()  # the reactor has its own copy of the descriptor

    def tcp(self, node: str, host: str, port: int, factory: Any) -> Any:
        made = in_namespace(self.namespace(node), lambda: bound_socket(socket.SOCK_STREAM, host, port, backlog=50))
        try:
            return self._reactor.adoptStreamPort(made.fileno(), socket.AF_INET, factory)
        finally:
            made.close()

    # --- faults at run time ---------------------------------------------------------------------------

    def follow(self, down: Mapping[str, bool], loss: Mapping[str, float]) -> Deferred[None]:
        """Make each node's uplink down or up and its loss what is asked, changing only what differs; the
        commands run one after another, after any still running. Fires once the network is so (a command
        that fails is logged, and the next change tries again)."""
        steps: list[tuple[list[str], Any]] = []
        for name in self.order:
            if name in down and down[name] != (name in self.links_down):
                steps.append((["ip", "-n", self.namespace(name), "link", "set", UPLINK,
                               "down" if down[name] else "up"], ("link", name, down[name])))
                if not down[name]:
                    # Taking a link down deletes the routes through it: the node's way back to the head end.
                    steps.append((["ip", "-n", self.namespace(name), "route", "replace", "default", "via",
                                   self.upstream_addresses[name]], ("route", name, "default")))
                (self.links_down.add if down[name] else self.links_down.discard)(name)
            wanted = float(loss.get(name, 0.0))
            if name in loss and wanted != self.loss.get(name, 0.0):
                steps.append((self._loss_argv(name, wanted), ("loss", name, wanted)))
                if wanted:
                    self.loss[name] = wanted
                else:
                    self.loss.pop(name, None)
        for argv, what in steps:
            self._queue.addCallback(lambda _, argv=argv, what=what: self._run(argv, what))
        return self.idle()

    def _loss_argv(self, node: str, percent: float) -> list[str]:
        # Create-then-delete empties whatever was there (the table may not exist yet) in one transaction.
        script = f"add table inet {LOSS_TABLE}; delete table inet {LOSS_TABLE}"
        if percent > 0:
            share = "" if percent >= 100 else f"numgen random mod 100 < {round(percent)} "
            chains = " ".join(
                f"chain {hook} {{ type filter hook {hook} priority 0; policy accept; "
                f'iifname "{UPLINK}" {share}drop; }};' for hook in ("input", "forward"))
            script += f"; add table inet {LOSS_TABLE} {{ {chains} }}"
        return ["ip", "netns", "exec", self.namespace(node), "nft", script]

    def _run(self, argv: list[str], what: tuple[Any, ...]) -> Deferred[None]:
        executable = shutil.which(argv[0]) or argv[0]
        path = os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        running = getProcessOutputAndValue(executable, argv[1:], env={"PATH": path}, reactor=self._reactor)

        def finished(result: tuple[bytes, bytes, int]) -> None:
            _out, err, code = result
            if code != 0:
                self._log.error("netns_change_failed", change=what[0], node=what[1], value=what[2],
                                error=err.decode("utf-8", "replace").strip())
                self._forget(what)
            else:
                self._log.info("netns_changed", change=what[0], node=what[1], value=what[2])

        def failed(failure: Any) -> None:
            self._log.error("netns_change_failed", change=what[0], node=what[1], value=what[2],
                            error=failure.getErrorMessage())
            self._forget(what)

        return running.addCallbacks(finished, failed)

    def _forget(self, what: tuple[Any, ...]) -> None:
        """A change that failed: the state is as before, so the next ``follow`` asks for it again."""
        kind, name, value = what
        if kind == "route":
            self.links_down.add(name)  # so that the next follow brings the link up and the route back
        elif kind == "link" and value:
            self.links_down.discard(name)
        elif kind == "link":
            self.links_down.add(name)
        else:
            self.loss[name] = -1.0  # unknown: differs from anything asked

    def idle(self) -> Deferred[None]:
        """Fires once every change asked for so far has run."""
        done: Deferred[None] = Deferred()
        self._queue.addCallback(lambda _: done.callback(None))
        return done


def _forward() -> None:
    with open("/proc/sys/net/ipv4/ip_forward", "w") as setting:
        setting.write("1\n")
