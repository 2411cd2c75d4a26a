"""WS-Discovery over UDP on the injected reactor: find the cameras that answer a Probe, and answer Probes
for simulated ones.

``discover()`` multicasts a Probe (or sends it to one address, for tests and for cameras across a router),
repeats it because UDP is lossy, and collects the ProbeMatches that arrive within the wait, one per
device. ``DiscoveryResponder`` is the other side, for the simulator: it listens on the multicast group
and answers each Probe with one ProbeMatches per simulated camera, spread over a short random delay as
WS-Discovery asks, so a thousand cameras do not answer in the same millisecond.
"""

from __future__ import annotations

import os
import random
import socket
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote

import structlog
from attrs import frozen
from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.internet.protocol import DatagramProtocol
from twisted.internet.task import deferLater

from plugins.onvif.codec import discovery as codec
from plugins.onvif.codec.xml import XmlRejected

#: When the Probe is sent, in seconds from the start: three copies with growing gaps, as SOAP-over-UDP's
#: retransmission (same message id, so a device that heard the first ignores the others).
PROBE_SCHEDULE_S = (0.0, 0.2, 0.6)
#: Devices kept from one discovery at most: a flood of fake endpoint references must not exhaust memory.
MAX_DEVICES = 10_000
#: A thousand replies arrive inside half a second; the default socket buffer holds a couple of hundred.
RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024


def new_message_id(random_bytes: Callable[[int], bytes] = os.urandom) -> str:
    """A fresh ``urn:uuid:`` message id (random UUID, version 4)."""
    return uuid.UUID(bytes=random_bytes(16), version=4).urn


@frozen
class DiscoveredDevice:
    """One device that answered, with the UDP address its answer came from: what the device says about
    its own addresses may be wrong (NAT, several interfaces), where its answer came from is not."""

    match: codec.ProbeMatch
    answered_from: str

    @property
    def device_address(self) -> codec.DeviceAddress | None:
        return codec.preferred_address(self.match, answered_from=self.answered_from)


class ProbeClient(DatagramProtocol):
    """Sends one Probe on a schedule and keeps the video devices that answer it, once each.

    Replies to other probes (another client on the same network), Hellos, Byes and anything unreadable
    are counted and otherwise ignored.
    """

    def __init__(
        self,
        reactor: Any,
        *,
        message_id: str,
        target: tuple[str, int],
        log: Any,
        schedule_s: Sequence[float] = PROBE_SCHEDULE_S,
        max_devices: int = MAX_DEVICES,
    ) -> None:
        self._reactor = reactor
        self._message_id = message_id
        self._target = target
        self._log = log
        self._schedule_s = tuple(schedule_s)
        self._max_devices = max_devices
        self._probe = codec.probe(message_id)
        self._pending_sends: list[Any] = []
        self._devices: dict[str, DiscoveredDevice] = {}
        self.probes_sent = 0
        self.ignored = 0
        self.not_video = 0

    @property
    def devices(self) -> list[DiscoveredDevice]:
        """The devices that answered, in the order their first answer came."""
        return list(self._devices.values())

    def startProtocol(self) -> None:
        for delay in self._schedule_s:
            self._pending_sends.append(self._reactor.callLater(delay, self._send_probe))

    def stopProtocol(self) -> None:
        self.cancel_sends()

    def cancel_sends(self) -> None:
        for call in self._pending_sends:
            if call.active():
                call.cancel()
        self._pending_sends.clear()

    def _send_probe(self) -> None:
        if self.transport is None:
            return
        try:
            self.transport.write(self._probe, self._target)
        except OSError as error:  # no route to the group, interface down: the next copy may do better
            self._log.warning("discovery_probe_not_sent", target=_show(self._target), error=str(error))
            return
        self.probes_sent += 1
        self._log.debug("discovery_probe_sent", target=_show(self._target), copy=self.probes_sent)

    def datagramReceived(self, datagram: bytes, addr: tuple[str, int]) -> None:
        try:
            reply = codec.parse_probe_matches(codec.parse_datagram(datagram))
        except (XmlRejected, codec.DiscoveryError) as error:
            self.ignored += 1
            self._log.debug("discovery_reply_ignored", sender=_show(addr), reason=str(error))
            return
        # A reply that names no probe is taken (some devices leave RelatesTo out); one that names another
        # probe is someone else's.
        if reply.relates_to is not None and reply.relates_to != self._message_id:
            self.ignored += 1
            self._log.debug("discovery_reply_ignored", sender=_show(addr), reason="answers another probe")
            return
        for match in reply.matches:
            if not match.is_video_device:
                self.not_video += 1
                continue
            if match.address in self._devices:
                continue
            if len(self._devices) >= self._max_devices:
                self.ignored += 1
                continue
            self._devices[match.address] = DiscoveredDevice(match=match, answered_from=addr[0])
            self._log.debug("discovery_device_answered", device=match.address, sender=_show(addr))


async def discover(
    reactor: Any,
    *,
    wait_s: float = 3.0,
    target: tuple[str, int] | None = None,
    interface: str | None = None,
    ttl: int = 1,
    message_id: str | None = None,
    log: Any = None,
) -> list[DiscoveredDevice]:
    """The video devices that answer a Probe within ``wait_s`` seconds.

    ``target`` None multicasts to 239.255.255.250:3702 (with ``ttl`` hops, 1 by default as WS-Discovery
    asks: the local network only), out of ``interface`` (a local IPv4 address) when given; a
    ``(host, port)`` target is probed by unicast instead. The socket is always closed and every timer
    cancelled before this returns.
    """
    log = log if log is not None else structlog.get_logger()
    message_id = message_id if message_id is not None else new_message_id()
    multicast = target is None
    destination = (codec.MULTICAST_GROUP, codec.DISCOVERY_PORT) if target is None else target
    log = log.bind(probe=message_id)
    client = ProbeClient(reactor, message_id=message_id, target=destination, log=log)
    if multicast:
        port = reactor.listenMulticast(0, client, interface="", listenMultiple=False)
        port.setTTL(ttl)
        if interface:
            await port.setOutgoingInterface(interface)
    else:
        port = reactor.listenUDP(0, client, interface=interface or "")
    _enlarge_receive_buffer(port)
    try:
        await deferLater(reactor, wait_s, lambda: None)
    finally:
        client.cancel_sends()
        await Deferred.fromCoroutine(_stop(port))
    devices = client.devices
    log.info(
        "discovery_finished",
        devices=len(devices),
        probes_sent=client.probes_sent,
        ignored=client.ignored,
        not_video=client.not_video,
    )
    return devices


async def _stop(port: Any) -> None:
    result = port.stopListening()
    if isinstance(result, Deferred):
        await result


def _enlarge_receive_buffer(port: Any) -> None:
    handle = getattr(port, "getHandle", None)
    if handle is None:
        return
    try:
        handle().setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
    except (OSError, AttributeError):  # a smaller buffer still works, just less well under a flood
        pass


def _show(addr: tuple[str, int]) -> str:
    return f"{addr[0]}:{addr[1]}"


# ---------------------------------------------------------------------------------------------- responder


def device_match(
    *,
    address: str,
    xaddrs: Sequence[str],
    name: str | None = None,
    location: str | None = None,
    hardware: str | None = None,
    metadata_version: int = 1,
) -> codec.ProbeMatch:
    """The ProbeMatch a camera answers with, scopes percent-encoded as ONVIF writes them."""
    scopes = [
        f"{codec.ONVIF_SCOPE_PREFIX}type/video_encoder",
        f"{codec.ONVIF_SCOPE_PREFIX}type/ptz",
        f"{codec.ONVIF_SCOPE_PREFIX}Profile/Streaming",
    ]
    for kind, value in (("name", name), ("location", location), ("hardware", hardware)):
        if value:
            scopes.append(f"{codec.ONVIF_SCOPE_PREFIX}{kind}/{quote(value, safe='/')}")
    return codec.ProbeMatch(
        address=address,
        types=(codec.NETWORK_VIDEO_TRANSMITTER, codec.DEVICE),
        scopes=tuple(scopes),
        xaddrs=tuple(xaddrs),
        metadata_version=metadata_version,
    )


def simulated_camera_match(camera: Any) -> codec.ProbeMatch:
    """What a simulated camera (``sim_camera.SimulatedCamera``) answers a Probe with: its device service at
    the address it *reports* (so a wrong-address quirk shows in discovery too, as on real cameras), a
    name that carries its number, and an endpoint reference stable for that number, host and port."""
    reference = uuid.uuid5(uuid.NAMESPACE_URL, f"hub-onvif-sim://{camera.host}:{camera.port}/{camera.number}")
    ptz = bool(getattr(camera.quirks, "ptz", True))
    return device_match(
        address=reference.urn,
        xaddrs=[f"{camera.base_url}/onvif/device_service"],
        name=f"Simulated camera {camera.number}",
        location="simulator",
        hardware="SIM-PTZ-1" if ptz else "SIM-FIXED-1",
    )


class _ResponderProtocol(DatagramProtocol):
    def __init__(self, responder: DiscoveryResponder) -> None:
        self._responder = responder

    def datagramReceived(self, datagram: bytes, addr: tuple[str, int]) -> None:
        self._responder.probe_received(datagram, addr)


class DiscoveryResponder(Service):
    """Answers WS-Discovery Probes for devices that are not real: one ProbeMatches per device ``matches()``
    returns when it is asked, each sent after a random delay up to ``max_delay_s`` and repeated once
    (SOAP-over-UDP's unicast repeat). Copies of one probe are answered once.

    ``port`` 3702 and ``group`` as WS-Discovery fixes them; tests pass ``port=0`` and ``group=None`` to
    be probed by unicast on a free port (``listening_port`` tells which).
    """

    def __init__(
        self,
        reactor: Any,
        matches: Callable[[], Sequence[codec.ProbeMatch]],
        *,
        interface: str = "",
        port: int = codec.DISCOVERY_PORT,
        group: str | None = codec.MULTICAST_GROUP,
        max_delay_s: float = 0.5,
        repeat_after_s: float = 0.1,
        uniform: Callable[[float, float], float] = random.uniform,
        random_bytes: Callable[[int], bytes] = os.urandom,
        log: Any = None,
    ) -> None:
        self._reactor = reactor
        self._matches = matches
        self._interface = interface
        self._port_number = port
        self._group = group
        self._max_delay_s = max_delay_s
        self._repeat_after_s = repeat_after_s
        self._uniform = uniform
        self._random_bytes = random_bytes
        self._log = log if log is not None else structlog.get_logger().bind(component="onvif-discovery-responder")
        self._port: Any = None
        self._pending: set[Any] = set()
        self._recent_probes: OrderedDict[str, None] = OrderedDict()
        # WS-Discovery's AppSequence: an instance id fixed for this run and a number per message sent.
        self._instance_id = int.from_bytes(random_bytes(4), "big") or 1
        self._message_number = 0
        self.probes_answered = 0

    @property
    def listening_port(self) -> int | None:
        return None if self._port is None else self._port.getHost().port

    def startService(self) -> Deferred[None] | None:  # type: ignore[override]
        super().startService()
        protocol = _ResponderProtocol(self)
        if self._group is None:
            self._port = self._reactor.listenUDP(self._port_number, protocol, interface=self._interface)
            return None
        # Bound to every address: a socket bound to one would not see datagrams sent to the group.
        self._port = self._reactor.listenMulticast(self._port_number, protocol, interface="", listenMultiple=True)
        self._log.info("discovery_responder_listening", port=self.listening_port, group=self._group)
        return self._port.joinGroup(self._group, self._interface or "0.0.0.0")

    def stopService(self) -> Deferred[None] | None:  # type: ignore[override]
        super().stopService()
        for call in self._pending:
            if call.active():
                call.cancel()
        self._pending.clear()
        port, self._port = self._port, None
        if port is None:
            return None
        return port.stopListening()

    def probe_received(self, datagram: bytes, addr: tuple[str, int]) -> None:
        try:
            probe = codec.parse_probe(codec.parse_datagram(datagram))
        except (XmlRejected, codec.DiscoveryError):
            return  # our own ProbeMatches, Hellos, noise: nothing to answer
        if probe.message_id is None or probe.message_id in self._recent_probes:
            return
        self._recent_probes[probe.message_id] = None
        if len(self._recent_probes) > 256:
            self._recent_probes.popitem(last=False)
        wanted = [match for match in self._matches() if probe.wants(match)]
        self.probes_answered += 1
        self._log.info("discovery_probe_answered", sender=_show(addr), devices=len(wanted))
        for match in wanted:
            self._message_number += 1
            reply = codec.probe_matches(
                new_message_id(self._random_bytes),
                probe.message_id,
                [match],
                instance_id=self._instance_id,
                message_number=self._message_number,
            )
            delay = self._uniform(0.0, self._max_delay_s)
            for when in (delay, delay + self._repeat_after_s):
                self._schedule(when, reply, addr)

    def _schedule(self, delay: float, reply: bytes, addr: tuple[str, int]) -> None:
        def send() -> None:
            self._pending.discard(call)
            if self._port is None:
                return
            try:
                self._port.write(reply, addr)
            except OSError as error:
                self._log.warning("discovery_reply_not_sent", sender=_show(addr), error=str(error))

        call = self._reactor.callLater(delay, send)
        self._pending.add(call)
