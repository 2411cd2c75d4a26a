"""WS-Discovery on the reactor: the Probe client on a fake clock and fake UDP ports, the responder for
simulated cameras, and the two together over real loopback sockets."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted
import structlog
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock

from hub.testing import assert_no_pending_timers
from plugins.onvif import discovery
from plugins.onvif.codec import discovery as codec

LOG = structlog.get_logger()
GROUP = (codec.MULTICAST_GROUP, codec.DISCOVERY_PORT)


class FakeUdpPort:
    """A listening UDP port that records what is written and what was asked of it."""

    def __init__(self, protocol: Any, number: int, interface: str) -> None:
        self.protocol = protocol
        self.number = number
        self.interface = interface
        self.written: list[tuple[bytes, tuple[str, int]]] = []
        self.ttl: int | None = None
        self.outgoing_interface: str | None = None
        self.groups: list[tuple[str, str]] = []
        self.listening = True
        self.fail_writes = False

    def write(self, datagram: bytes, addr: tuple[str, int]) -> None:
        assert self.listening, "write after stopListening"
        if self.fail_writes:
            raise OSError("Network is unreachable")
        self.written.append((datagram, addr))

    def setTTL(self, ttl: int) -> None:
        self.ttl = ttl

    def setOutgoingInterface(self, address: str) -> Deferred[int]:
        self.outgoing_interface = address
        return succeed(1)

    def joinGroup(self, group: str, interface: str = "") -> Deferred[int]:
        self.groups.append((group, interface))
        return succeed(1)

    def getHost(self) -> Any:
        return type("Address", (), {"port": self.number or 40000})()

    def stopListening(self) -> None:
        self.listening = False
        self.protocol.doStop()

    def receive(self, datagram: bytes, sender: tuple[str, int]) -> None:
        self.protocol.datagramReceived(datagram, sender)


class FakeUdpReactor(Clock):
    """A clock that also hands out fake UDP ports, remembering how each was asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.ports: list[tuple[str, FakeUdpPort]] = []

    def _listen(self, kind: str, number: int, protocol: Any, interface: str) -> FakeUdpPort:
        port = FakeUdpPort(protocol, number, interface)
        self.ports.append((kind, port))
        protocol.makeConnection(port)
        return port

    def listenUDP(self, number: int, protocol: Any, interface: str = "", maxPacketSize: int = 8192) -> FakeUdpPort:
        return self._listen("unicast", number, protocol, interface)

    def listenMulticast(
        self, number: int, protocol: Any, interface: str = "", maxPacketSize: int = 8192, listenMultiple: bool = False
    ) -> FakeUdpPort:
        return self._listen("multicast", number, protocol, interface)


def camera(number: int, *, host: str = "10.1.2.3", name: str | None = None) -> codec.ProbeMatch:
    return discovery.device_match(
        address=f"urn:uuid:00000000-0000-4000-8000-{number:012d}",
        xaddrs=[f"http://{host}:{8000 + number}/onvif/device_service"],
        name=name or f"Camera {number}",
        location="city/Leeds",
        hardware="SIM-PTZ",
    )


def answer(relates_to: str | None, *matches: codec.ProbeMatch, message_id: str = "urn:uuid:reply") -> bytes:
    data = codec.probe_matches(message_id, relates_to or "", list(matches))
    if relates_to is None:
        data = data.replace(b"<wsa:RelatesTo></wsa:RelatesTo>", b"")
    return data


@pytest.fixture
def reactor() -> FakeUdpReactor:
    return FakeUdpReactor()


def start_discovery(reactor: FakeUdpReactor, **options: Any) -> tuple[Deferred[list[Any]], FakeUdpPort]:
    options.setdefault("wait_s", 3.0)
    deferred = Deferred.fromCoroutine(discovery.discover(reactor, message_id="urn:uuid:probe", log=LOG, **options))
    return deferred, reactor.ports[-1][1]


# --- The Probe client --------------------------------------------------------------------------------------


def test_the_probe_is_multicast_three_times_on_the_local_network(reactor):
    """Three copies of one Probe (same message id) go to 239.255.255.250:3702 with TTL 1, then nothing."""
    found, port = start_discovery(reactor)
    assert reactor.ports[-1][0] == "multicast"
    assert port.ttl == 1
    reactor.advance(0)
    assert len(port.written) == 1
    reactor.advance(0.2)
    reactor.advance(0.4)
    assert len(port.written) == 3
    assert {addr for _, addr in port.written} == {GROUP}
    assert {codec.parse_probe(codec.parse_datagram(data)).message_id for data, _ in port.written} == {"urn:uuid:probe"}
    reactor.advance(2.4)
    assert found.result == []
    assert not port.listening
    assert_no_pending_timers(reactor)


def test_the_probe_leaves_by_the_interface_asked_for_and_hops_as_far_as_asked(reactor):
    start_discovery(reactor, interface="192.168.7.1", ttl=4)
    port = reactor.ports[-1][1]
    assert port.outgoing_interface == "192.168.7.1"
    assert port.ttl == 4


def test_a_target_is_probed_by_unicast(reactor):
    """A camera across a router is probed at its own address; no multicast socket is opened."""
    found, port = start_discovery(reactor, target=("10.9.9.9", 3702), wait_s=1.0)
    assert reactor.ports[-1][0] == "unicast"
    reactor.advance(0)
    port.receive(answer("urn:uuid:probe", camera(1, host="10.9.9.9")), ("10.9.9.9", 3702))
    reactor.advance(1.0)
    assert port.written[0][1] == ("10.9.9.9", 3702)
    assert [device.answered_from for device in found.result] == ["10.9.9.9"]


def test_each_device_is_kept_once_in_the_order_it_first_answered(reactor):
    """Repeated Probes bring repeated answers; a device is listed once, with its first answer."""
    found, port = start_discovery(reactor)
    reactor.advance(0)
    port.receive(answer("urn:uuid:probe", camera(2)), ("10.1.2.3", 3702))
    port.receive(answer("urn:uuid:probe", camera(1), camera(2)), ("10.1.2.3", 3702))
    reactor.advance(0.2)
    port.receive(answer("urn:uuid:probe", camera(2, name="Renamed")), ("10.1.2.3", 3702))
    reactor.advance(3)
    devices = found.result
    assert [device.match.address for device in devices] == [camera(2).address, camera(1).address]
    assert devices[0].match.name == "Camera 2"


def test_answers_that_are_not_for_this_probe_or_not_cameras_are_ignored(reactor):
    """Another client's answers, Hellos, printers and garbage do not become cameras, and do not stop it."""
    found, port = start_discovery(reactor)
    reactor.advance(0)
    printer = codec.ProbeMatch("urn:uuid:printer", ("{urn:printers}Printer",), (), ("http://10.0.0.8/",), 1)
    port.receive(answer("urn:uuid:someone-else", camera(3)), ("10.1.2.3", 3702))
    port.receive(answer("urn:uuid:probe", printer), ("10.0.0.8", 3702))
    port.receive(b"<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>", ("10.6.6.6", 3702))
    port.receive(b"\x00\xff garbage", ("10.6.6.6", 3702))
    port.receive(codec.probe("urn:uuid:other-client"), ("10.0.0.7", 3702))
    port.receive(answer(None, camera(4)), ("10.1.2.3", 3702))  # no RelatesTo: taken at its word
    reactor.advance(3)
    assert [device.match.address for device in found.result] == [camera(4).address]


def test_a_flood_of_devices_is_capped(reactor):
    """Fake endpoint references by the thousand stop being kept at the cap."""
    deferred = Deferred.fromCoroutine(discovery.discover(reactor, message_id="urn:uuid:probe", log=LOG, wait_s=1))
    port = reactor.ports[-1][1]
    port.protocol._max_devices = 5
    for number in range(20):
        port.receive(answer("urn:uuid:probe", camera(number)), ("10.1.2.3", 3702))
    reactor.advance(1)
    assert len(deferred.result) == 5


def test_a_probe_that_cannot_be_sent_is_tried_again_by_the_next_copy(reactor, captured_logs):
    found, port = start_discovery(reactor)
    port.fail_writes = True
    reactor.advance(0)
    port.fail_writes = False
    reactor.advance(0.2)
    assert len(port.written) == 1
    assert any(entry["event"] == "discovery_probe_not_sent" for entry in captured_logs)
    reactor.advance(3)
    assert found.result == []


def test_cancelling_a_discovery_closes_the_socket_and_leaves_no_timer(reactor):
    found, port = start_discovery(reactor)
    found.cancel()
    assert not port.listening
    assert_no_pending_timers(reactor)
    found.addErrback(lambda failure: None)


def test_the_address_to_configure_is_where_the_answer_came_from_when_the_camera_reports_another():
    """Quirk 4: the camera says 192.168.0.64, its answer came from 10.1.2.3: the XAddr on the answering
    host wins when there is one; the reported XAddr's port and path are kept either way."""
    nat = discovery.DiscoveredDevice(camera(1, host="192.168.0.64"), answered_from="10.1.2.3")
    assert nat.device_address == codec.DeviceAddress("http", "192.168.0.64", 8001, "/onvif/device_service")
    both = codec.ProbeMatch("a", (), (), ("http://192.168.0.64/x", "http://10.1.2.3/y"), 1)
    assert discovery.DiscoveredDevice(both, "10.1.2.3").device_address.path == "/y"


def test_message_ids_are_random_uuid_urns():
    assert discovery.new_message_id(lambda n: b"\x00" * n) == "urn:uuid:00000000-0000-4000-8000-000000000000"
    assert discovery.new_message_id() != discovery.new_message_id()


# --- The responder -----------------------------------------------------------------------------------------


def responder_on(reactor: FakeUdpReactor, matches: list[codec.ProbeMatch], **options: Any) -> tuple[Any, FakeUdpPort]:
    delays = iter([0.05, 0.3, 0.45, 0.1, 0.2] * 100)
    responder = discovery.DiscoveryResponder(
        reactor, lambda: matches, uniform=lambda low, high: next(delays), log=LOG, **options
    )
    responder.startService()
    return responder, reactor.ports[-1][1]


def test_the_responder_joins_the_group_on_the_discovery_port(reactor):
    responder, port = responder_on(reactor, [camera(1)], interface="10.1.2.3")
    assert reactor.ports[-1][0] == "multicast"
    assert port.number == 3702
    assert port.groups == [(codec.MULTICAST_GROUP, "10.1.2.3")]
    responder.stopService()
    assert not port.listening


def test_the_responder_answers_each_camera_once_spread_over_half_a_second_and_repeats_each(reactor):
    """One ProbeMatches per camera to the prober's address, after a random delay, each sent twice."""
    cameras = [camera(1), camera(2), camera(3)]
    _responder, port = responder_on(reactor, cameras)
    port.receive(codec.probe("urn:uuid:p1"), ("10.5.5.5", 50000))
    assert port.written == []
    reactor.advance(0.05)
    assert len(port.written) == 1
    reactor.advance(0.5)
    assert len(port.written) == 6
    assert {addr for _, addr in port.written} == {("10.5.5.5", 50000)}
    replies = [codec.parse_probe_matches(codec.parse_datagram(data)) for data, _ in port.written]
    assert {reply.relates_to for reply in replies} == {"urn:uuid:p1"}
    assert sorted(match.address for reply in replies for match in reply.matches) == sorted(
        [c.address for c in cameras] * 2
    )
    assert_no_pending_timers(reactor)


def test_copies_of_one_probe_are_answered_once(reactor):
    """The client's retransmissions carry the same message id; answering each would triple the traffic."""
    responder, port = responder_on(reactor, [camera(1)])
    for _ in range(3):
        port.receive(codec.probe("urn:uuid:same"), ("10.5.5.5", 50000))
    reactor.advance(1)
    assert len(port.written) == 2
    port.receive(codec.probe("urn:uuid:next"), ("10.5.5.5", 50000))
    reactor.advance(1)
    assert len(port.written) == 4
    assert responder.probes_answered == 2


def test_the_responder_answers_only_probes_for_its_types_and_ignores_other_traffic(reactor):
    _responder, port = responder_on(reactor, [camera(1)])
    port.receive(codec.probe("urn:uuid:printers", types=("{urn:printers}Printer",)), ("10.5.5.5", 50000))
    port.receive(codec.probe("urn:uuid:devices", types=(codec.DEVICE,)), ("10.5.5.6", 50000))
    port.receive(answer("urn:uuid:x", camera(9)), ("10.5.5.7", 3702))
    port.receive(b"<<<", ("10.5.5.8", 3702))
    reactor.advance(1)
    assert {addr for _, addr in port.written} == {("10.5.5.6", 50000)}


def test_stopping_the_responder_cancels_answers_not_yet_sent(reactor):
    responder, port = responder_on(reactor, [camera(1), camera(2)])
    port.receive(codec.probe("urn:uuid:p"), ("10.5.5.5", 50000))
    reactor.advance(0.05)
    responder.stopService()
    assert_no_pending_timers(reactor)
    assert len(port.written) == 1


def test_the_responder_asks_for_the_camera_list_at_each_probe(reactor):
    """Cameras added to the simulator after it started are found by the next probe."""
    cameras = [camera(1)]
    _responder, port = responder_on(reactor, cameras)
    cameras.append(camera(2))
    port.receive(codec.probe("urn:uuid:p"), ("10.5.5.5", 50000))
    reactor.advance(1)
    assert len(port.written) == 4


def test_device_match_percent_encodes_its_scopes():
    match = discovery.device_match(address="urn:uuid:x", xaddrs=["http://h/"], name="High St / Market Sq")
    assert "onvif://www.onvif.org/name/High%20St%20/%20Market%20Sq" in match.scopes
    assert match.name == "High St / Market Sq"
    assert match.is_video_device


# --- Over real sockets -------------------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_a_thousand_simulated_cameras_are_found_over_loopback():
    """Real UDP on 127.0.0.1: every camera of a thousand answers once and is listed once."""
    from twisted.internet import reactor as real_reactor

    cameras = [camera(number, host="127.0.0.1") for number in range(1000)]
    responder = discovery.DiscoveryResponder(
        real_reactor, lambda: cameras, interface="127.0.0.1", port=0, group=None, log=LOG
    )
    responder.startService()
    try:
        found = await discovery.discover(
            real_reactor, target=("127.0.0.1", responder.listening_port), wait_s=1.5, log=LOG
        )
    finally:
        await responder.stopService()
    assert sorted(device.match.address for device in found) == sorted(c.address for c in cameras)
    assert {device.answered_from for device in found} == {"127.0.0.1"}
    assert responder.probes_answered == 1


def test_a_simulated_camera_answers_with_the_address_it_reports_and_a_stable_reference():
    """The reported (possibly wrong, by quirk) address is the XAddr; the reference depends on number and port."""

    class Camera:
        number = "7"
        host = "127.0.0.1"
        port = 18006
        base_url = "http://127.0.0.1:18006:18006"
        quirks = type("Quirks", (), {"ptz": True})()

    match = discovery.simulated_camera_match(Camera())
    assert match.xaddrs == ("http://127.0.0.1:18006:18006/onvif/device_service",)
    assert match.name == "Simulated camera 7"
    assert match.hardware == "SIM-PTZ-1"
    assert match.address == discovery.simulated_camera_match(Camera()).address
    Camera.port = 18007
    assert match.address != discovery.simulated_camera_match(Camera()).address
    assert codec.preferred_address(match).port == 18006


class FakeUdpMemoryReactor(FakeUdpReactor):
    """A memory reactor (TCP listens recorded, never opened) with the fake UDP ports above."""

    def __init__(self) -> None:
        from twisted.internet.testing import MemoryReactor

        super().__init__()
        self._memory = MemoryReactor()

    def listenTCP(self, *args: Any, **kwargs: Any) -> Any:
        return self._memory.listenTCP(*args, **kwargs)


def test_the_simulator_answers_discovery_for_its_cameras_only_when_asked():
    """With ``discovery = true`` the simulator joins the group after its cameras listen and answers for
    each with its own port; without it, no UDP port is opened."""
    from hub.secrets import Secret
    from plugins.onvif.simulator import OnvifSimulator, OnvifSimulatorConfig

    reactor = FakeUdpMemoryReactor()
    quiet = OnvifSimulator(reactor, OnvifSimulatorConfig(password=Secret("pw"), cameras=2), log=LOG)
    quiet.startService()
    assert reactor.ports == []
    quiet.stopService()

    config = OnvifSimulatorConfig(password=Secret("pw"), cameras=2, first_number=7, base_port=18100, discovery=True)
    simulator = OnvifSimulator(reactor, config, log=LOG)
    simulator.startService()
    (kind, port), = reactor.ports
    assert (kind, port.number, port.groups) == ("multicast", 3702, [(codec.MULTICAST_GROUP, "0.0.0.0")])
    port.receive(codec.probe("urn:uuid:p"), ("10.5.5.5", 50000))
    reactor.advance(1)
    replies = [codec.parse_probe_matches(codec.parse_datagram(data)) for data, _ in port.written]
    assert {match.name: match.xaddrs for reply in replies for match in reply.matches} == {
        "Simulated camera 7": ("http://127.0.0.1:18100/onvif/device_service",),
        "Simulated camera 8": ("http://127.0.0.1:18101/onvif/device_service",),
    }
    simulator.stopService()
    assert not port.listening
