"""The simulated ring on real sockets: per node an SNMP agent on a UDP port and a management listener on a
TCP port, both on the injected reactor, and one timer for the whole ring that opens and closes the
management ports as the fault script says.

``NodeAgent.answer`` is the agent, sans-IO: datagram in, datagram (or nothing) out. It answers Get,
GetNext and GetBulk over v2c (the community) and v3 (USM: discovery, authentication, privacy, time window,
all by ``codec.usm.UsmAgent``), from the node's MIB (``sim_device``); a Set is refused as not writable. A
node that is dark (down, behind a down node, or in a dark slot of a loss fault) answers nothing, so the
hub's requests time out, and its management port is closed, so connections are refused.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import structlog
from twisted.internet.defer import Deferred, gatherResults, maybeDeferred, succeed
from twisted.internet.protocol import DatagramProtocol, Factory, Protocol

from plugins.dark_fibre_health.codec import ber, snmp, usm
from plugins.dark_fibre_health.codec.snmp import (
    CommunityMessage,
    Pdu,
    SnmpDecodeError,
    VarBind,
)
from plugins.dark_fibre_health.sim_device import NodeReading, SimulatedNode, vendor_mib
from plugins.dark_fibre_health.sim_mib import MibTree

__all__ = ["LoopbackSockets", "ManagementFactory", "NodeAgent", "NodeNetwork", "RingNetwork", "engine_id_for"]

#: The largest answer a node sends, as a typical device's agent keeps within one Ethernet frame; a GetBulk
#: gets fewer varbinds than it asked for rather than a bigger datagram (RFC 3416 4.2.3).
MAX_RESPONSE_SIZE = 1472
#: Room left for the message around the PDU: version, community or the v3 header and USM parameters.
_V2C_OVERHEAD = 16
_V3_OVERHEAD = 200

NOT_WRITABLE = 17
TOO_BIG = 1
AUTHORIZATION_ERROR = 16

#: The enterprise number a flavour's engine id carries (RFC 3411 SnmpEngineID, text format).
_ENTERPRISES = {"cisco": 9, "juniper": 2636, "entity": 30065}
#: What each flavour's management port says first, as its SSH server does.
_BANNERS = {"cisco": b"SSH-2.0-Cisco-1.25\r\n", "juniper": b"SSH-2.0-OpenSSH_7.5\r\n",
            "entity": b"SSH-2.0-OpenSSH_7.1\r\n"}


def engine_id_for(node: SimulatedNode) -> bytes:
    """The node's SNMP engine id: its vendor's enterprise number and, as text, its name (or a digest of a
    name too long for the 32 octets allowed)."""
    text = node.name.encode()
    if len(text) > 27:
        text = hashlib.blake2b(text, digest_size=13).hexdigest()[:27].encode()
    return (0x80000000 | _ENTERPRISES[node.vendor]).to_bytes(4, "big") + b"\x04" + text


class NodeAgent(DatagramProtocol):
    """One node's SNMP agent. ``elapsed`` gives the seconds since the ring started; ``community`` (v2c)
    and ``users`` (v3, localised to this node's engine) say whom it answers. A user answers at the
    security level it is configured for, not below (net-snmp's ``rouser NAME priv``)."""

    def __init__(self, node: SimulatedNode, elapsed: Callable[[], float], *, community: bytes | None = None,
                 users: Iterable[usm.UsmKeys] = (), log: Any = None, gated: bool = True) -> None:
        self.node = node
        #: Whether the agent itself stays silent while the node is dark (on loopback); in a network
        #: namespace the network does that, and a request that arrives is answered.
        self.gated = gated
        self._elapsed = elapsed
        self._community = community
        self._mib: MibTree[NodeReading] = vendor_mib(node.vendor)
        users = tuple(users)
        self.engine_id = engine_id_for(node)
        self._usm = usm.UsmAgent(self.engine_id, {keys.user_name: keys for keys in users}) if users else None
        self._log = log if log is not None else structlog.get_logger()
        self.stats = {"requests": 0, "answered": 0, "dropped_dark": 0, "bad_community": 0, "parse_errors": 0,
                      "reports": 0}

    def engine_time(self, elapsed: float) -> int:
        return int(self.node.uptime_offset_s + elapsed)

    def datagramReceived(self, data: bytes, addr: Any) -> None:
        elapsed = self._elapsed()
        self.stats["requests"] += 1
        if self.gated and self.node.dark(elapsed):
            self.stats["dropped_dark"] += 1
            return
        try:
            answer = self.answer(data, elapsed)
        except Exception:  # noqa: BLE001 - a bug in the simulator leaves this request unanswered, not the ring
            self._log.exception("agent_request_failed", node=self.node.name)
            return
        if answer is not None and self.transport is not None:
            self.transport.write(answer, addr)

    def answer(self, data: bytes, elapsed: float) -> bytes | None:
        """The datagram answering ``data`` at ``elapsed`` seconds, or None to stay silent (whether the
        node is dark is the caller's business)."""
        try:
            message = snmp.decode_message(data)
        except SnmpDecodeError:
            self.stats["parse_errors"] += 1
            return None
        if isinstance(message, CommunityMessage):
            return self._answer_community(message, elapsed)
        return self._answer_v3(data, elapsed)

    def _answer_community(self, message: CommunityMessage, elapsed: float) -> bytes | None:
        if message.version != "2c" or self._community is None or message.community != self._community:
            self.stats["bad_community"] += 1  # as snmpInBadCommunityNames: a real agent says nothing
            return None
        if message.pdu.kind not in snmp.REQUEST_KINDS:
            return None
        room = MAX_RESPONSE_SIZE - _V2C_OVERHEAD - len(message.community)
        response = self.process(message.pdu, elapsed, room)
        self.stats["answered"] += 1
        return snmp.encode_community_message(CommunityMessage("2c", message.community, response))

    def _answer_v3(self, data: bytes, elapsed: float) -> bytes | None:
        if self._usm is None:
            self.stats["parse_errors"] += 1
            return None
        engine_time = self.engine_time(elapsed)
        received = self._usm.receive(data, engine_time)
        if not isinstance(received, usm.AgentRequest):
            if received is not None:
                self.stats["reports"] += 1
            return received
        flags = received.message.header.flags & (snmp.FLAG_AUTH | snmp.FLAG_PRIV)
        if flags != received.keys.flags:
            response = received.pdu.response(received.pdu.varbinds, AUTHORIZATION_ERROR, 0)
        else:
            response = self.process(received.pdu, elapsed, MAX_RESPONSE_SIZE - _V3_OVERHEAD)
        self.stats["answered"] += 1
        return self._usm.respond(received, response, engine_time)

    def process(self, pdu: Pdu, elapsed: float, room: int = MAX_RESPONSE_SIZE) -> Pdu:
        """The Response to a request PDU, its encoding within ``room`` octets."""
        if pdu.kind not in ("get", "get_next", "get_bulk"):
            return pdu.response(pdu.varbinds, NOT_WRITABLE, 1)
        reading = self.node.reading(elapsed)
        oids = [varbind.oid for varbind in pdu.varbinds]
        if pdu.kind == "get":
            varbinds = [self._mib.get(oid, reading) for oid in oids]
        elif pdu.kind == "get_next":
            varbinds = [self._mib.next(oid, reading) for oid in oids]
        else:
            varbinds = self._mib.bulk(oids, pdu.non_repeaters, pdu.max_repetitions, reading)
            return pdu.response(_fit(varbinds, room))
        response = pdu.response(varbinds)
        if len(response.encode()) > room:
            return pdu.response((), TOO_BIG, 0)
        return response


def _fit(varbinds: list[VarBind], room: int) -> list[VarBind]:
    """As many varbinds from the start as fit in ``room`` octets of PDU (at least one)."""
    total = 24  # the PDU's own header: tag, request id, error status and index, the list's header
    for count, varbind in enumerate(varbinds):
        total += len(ber.encode_sequence(ber.encode_oid(varbind.oid), varbind.value.encode()))
        if total > room and count > 0:
            return varbinds[:count]
    return varbinds


# --- The management port -----------------------------------------------------------------------------


class _Management(Protocol):
    def connectionMade(self) -> None:
        self.factory.connections.add(self)
        self.transport.write(self.factory.banner)
        self.transport.loseConnection()

    def connectionLost(self, reason: object = None) -> None:
        self.factory.connections.discard(self)


class ManagementFactory(Factory):
    """A node's management port: it says its SSH banner and hangs up, which is all a TCP probe needs."""

    protocol = _Management

    def __init__(self, banner: bytes) -> None:
        self.banner = banner
        self.connections: set[_Management] = set()
        self.accepted = 0

    def buildProtocol(self, addr: Any) -> Protocol:
        self.accepted += 1
        return super().buildProtocol(addr)


# --- One node on the network, and the whole ring -------------------------------------------------------


class LoopbackSockets:
    """Where the nodes listen on loopback (or any one address of this host): the reactor's own ports.
    ``sim_netns.NamespaceChain`` offers the same two methods for nodes in network namespaces."""

    def __init__(self, reactor: Any) -> None:
        self._reactor = reactor

    def udp(self, node: str, host: str, port: int, protocol: DatagramProtocol) -> Any:
        return self._reactor.listenUDP(port, protocol, interface=host)

    def tcp(self, node: str, host: str, port: int, factory: Factory) -> Any:
        return self._reactor.listenTCP(port, factory, interface=host)


class NodeNetwork:
    """A node's two sockets: the agent's UDP port, open while the simulator runs (a dark node reads and
    ignores what comes, so requests time out as across a broken fibre), and the management TCP port, open
    only while the node is reachable (on loopback; in a network namespace it stays open, and the network
    decides what reaches it). ``sockets`` makes the listening ports (``LoopbackSockets``)."""

    def __init__(self, reactor: Any, agent: NodeAgent, host: str, snmp_port: int, tcp_port: int,
                 log: Any, sockets: Any = None) -> None:
        self._reactor = reactor
        self._sockets = sockets if sockets is not None else LoopbackSockets(reactor)
        self.agent = agent
        self.node = agent.node
        self.host = host
        self.snmp_port = snmp_port
        self.tcp_port = tcp_port
        self.management = ManagementFactory(_BANNERS[agent.node.vendor])
        self._log = log
        self._udp: Any = None
        self._tcp: Any = None
        self._closing: Deferred[Any] = succeed(None)
        self.reachable = False

    def start(self, reachable: bool) -> None:
        self._udp = self._sockets.udp(self.node.name, self.host, self.snmp_port, self.agent)
        self.snmp_port = self._udp.getHost().port
        self._listen_tcp()
        self.tcp_port = self._tcp.getHost().port  # the port is the node's even while it is dark
        if not reachable:
            self.set_reachable(False)
        self.reachable = reachable

    def _listen_tcp(self) -> None:
        self._tcp = self._sockets.tcp(self.node.name, self.host, self.tcp_port, self.management)

    def set_reachable(self, reachable: bool) -> None:
        """Open or close the management port; a close waits for nothing, an open for the last close."""
        self.reachable = reachable
        if not reachable and self._tcp is not None:
            listening, self._tcp = self._tcp, None
            for connection in list(self.management.connections):
                connection.transport.abortConnection()
            self._closing = maybeDeferred(listening.stopListening)
        elif reachable and self._tcp is None:
            self._closing.addCallback(lambda _: self._reopen())

    def _reopen(self) -> None:
        if self.reachable and self._tcp is None:
            try:
                self._listen_tcp()
            except Exception:  # noqa: BLE001 - someone took the port meanwhile: say so, the node stays dark
                self._log.exception("node_port_unavailable", node=self.node.name, port=self.tcp_port)

    def stop(self) -> Deferred[Any]:
        waits = [self._closing]
        self.reachable = False
        for port in (self._tcp, self._udp):
            if port is not None:
                waits.append(maybeDeferred(port.stopListening))
        self._tcp = self._udp = None
        return gatherResults(waits, consumeErrors=True)


class RingNetwork:
    """Every node's sockets, and the one timer that opens and closes management ports when the script
    changes (a fault begins or ends, a loss slot passes). ``started_at`` is the reactor time the script
    counts from.

    On loopback (``gated``) the agents and management ports play dark themselves. In network namespaces
    (``gated=False``: ``hosts`` gives each node's address, ``sockets`` makes its ports inside its namespace)
    they answer whatever reaches them, and at each change ``on_change(elapsed)`` makes the network itself
    follow the script (links down, loss)."""

    def __init__(self, reactor: Any, nodes: Iterable[SimulatedNode], *, host: str, ports: Mapping[str, int],
                 community: bytes | None, users: Callable[[bytes], Iterable[usm.UsmKeys]],
                 loss_slot_s: float, log: Any = None, hosts: Mapping[str, str] | None = None,
                 tcp_ports: Mapping[str, int] | None = None, sockets: Any = None, gated: bool = True,
                 on_change: Callable[[float], Any] | None = None) -> None:
        self._reactor = reactor
        self._log = log if log is not None else structlog.get_logger()
        self.host = host
        self.loss_slot_s = loss_slot_s
        self.gated = gated
        self._on_change = on_change
        self.started_at: float | None = None
        self.nodes: dict[str, NodeNetwork] = {}
        for node in nodes:
            agent = NodeAgent(node, self.elapsed, community=community, users=users(engine_id_for(node)),
                              log=self._log, gated=gated)
            port = ports.get(node.name, 0)
            tcp_port = tcp_ports.get(node.name, 0) if tcp_ports is not None else port
            address = hosts[node.name] if hosts is not None else host
            self.nodes[node.name] = NodeNetwork(reactor, agent, address, port, tcp_port, self._log, sockets)
        self._timer: Any = None

    def elapsed(self) -> float:
        return 0.0 if self.started_at is None else self._reactor.seconds() - self.started_at

    def start(self) -> None:
        """Listen for every node (synchronously: a port that cannot be had raises here)."""
        self.started_at = self._reactor.seconds()
        started: list[NodeNetwork] = []
        try:
            for network in self.nodes.values():
                network.start(reachable=not self.gated or not network.node.dark(0.0))
                started.append(network)
        except Exception:
            for network in started:
                network.stop()
            raise
        self._schedule()

    def stop(self) -> Deferred[Any]:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        return gatherResults([network.stop() for network in self.nodes.values()], consumeErrors=True)

    def _schedule(self) -> None:
        elapsed = self.elapsed()
        due = [when for when in (self._next_script_change(elapsed), self._next_loss_slot(elapsed))
               if when is not None]
        if due:
            # Should the clock read a hair short of the change when this fires, the tick finds nothing to
            # do and comes back for the same change at once.
            self._timer = self._reactor.callLater(max(0.0, min(due) - elapsed), self._tick)
        else:
            self._timer = None

    def _next_script_change(self, elapsed: float) -> float | None:
        script = next(iter(self.nodes.values())).node.script if self.nodes else None
        return script.next_change(elapsed) if script is not None else None

    def _next_loss_slot(self, elapsed: float) -> float | None:
        if not self.gated or not any(network.node.lossy(elapsed) for network in self.nodes.values()):
            return None
        return (math.floor(elapsed / self.loss_slot_s) + 1) * self.loss_slot_s

    def refresh(self) -> Any:
        """Opens and closes management ports for what changed by hand, at once; what ``on_change``
        returned (a Deferred that fires once the network follows), if there is one."""
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        return self._tick()

    def _tick(self) -> Any:
        self._timer = None
        elapsed = self.elapsed()
        for network in self.nodes.values():
            reachable = not network.node.dark(elapsed)
            if reachable != network.reachable:
                if self.gated:
                    network.set_reachable(reachable)
                else:
                    network.reachable = reachable
                # A lossy node changes every slot or so (and once more as its loss ends): that is for
                # debugging, not for the demo's log.
                lossy = network.node.lossy(elapsed) or network.node.lossy(max(0.0, elapsed - 1e-6))
                emit = self._log.debug if lossy else self._log.info
                emit("node_reachable" if reachable else "node_dark", node=network.node.name,
                     elapsed_s=round(elapsed, 3))
        self._schedule()
        return self._on_change(elapsed) if self._on_change is not None else None

    def stats(self) -> dict[str, int]:
        totals: dict[str, int] = {"nodes": len(self.nodes),
                                  "reachable": sum(network.reachable for network in self.nodes.values())}
        for network in self.nodes.values():
            for key, value in network.agent.stats.items():
                totals[key] = totals.get(key, 0) + value
            totals["tcp_accepted"] = totals.get("tcp_accepted", 0) + network.management.accepted
        return totals
