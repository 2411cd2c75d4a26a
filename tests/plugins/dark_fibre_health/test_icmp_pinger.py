"""The ICMP pinger on a fake socket and a fake clock: which socket it opens, what it sends, how replies,
errors, garbage and silence become exactly one result per probe. Real sockets: test_icmp_sockets.py."""

from __future__ import annotations

import errno
import socket
import struct
from collections import deque

import pytest
from twisted.internet.testing import MemoryReactorClock

from plugins.dark_fibre_health.codec.icmp import (
    checksum,
    checksum_is_valid,
    echo_request,
    payload,
)
from plugins.dark_fibre_health.icmp import IcmpPinger, PingerUnavailable
from plugins.dark_fibre_health.probes import ProbeResult


class FakeSocket:
    """A socket that records what is sent and hands out the datagrams a test queues."""

    def __init__(self, kind: int) -> None:
        self.kind = kind
        self.sent: list[tuple[bytes, tuple[str, int]]] = []
        self.inbox: deque[tuple[bytes, tuple[str, int]]] = deque()
        self.options: dict[tuple[int, int], object] = {}
        self.blocking = True
        self.closed = False
        self.send_error: OSError | None = None
        self.reads = 0

    def setblocking(self, flag: bool) -> None:
        self.blocking = flag

    def setsockopt(self, level: int, name: int, value: object) -> None:
        self.options[level, name] = value

    def fileno(self) -> int:
        return 99

    def sendto(self, data: bytes, address: tuple[str, int]) -> int:
        if self.send_error is not None:
            raise self.send_error
        self.sent.append((bytes(data), address))
        return len(data)

    def recvfrom(self, size: int) -> tuple[bytes, tuple[str, int]]:
        self.reads += 1
        if not self.inbox:
            raise BlockingIOError(errno.EAGAIN, "would block")
        return self.inbox.popleft()

    def close(self) -> None:
        self.closed = True


class Factory:
    """Makes FakeSockets; the kinds listed in ``refuse`` fail as the kernel would."""

    def __init__(self, refuse: dict[int, int] | None = None) -> None:
        self.refuse = refuse or {}
        self.tried: list[int] = []
        self.made: list[FakeSocket] = []

    def __call__(self, family: int, kind: int, protocol: int) -> FakeSocket:
        assert (family, protocol) == (socket.AF_INET, socket.IPPROTO_ICMP)
        self.tried.append(kind)
        if kind in self.refuse:
            raise PermissionError(self.refuse[kind], "refused")
        made = FakeSocket(kind)
        self.made.append(made)
        return made


def reply(sequence: int, identifier: int, *, with_ip: bool, source: str = "10.0.0.7") -> bytes:
    """An echo reply as a socket hands it over: behind an IPv4 header (raw) or bare (datagram)."""
    message = struct.pack("!BBHHH", 0, 0, 0, identifier, sequence) + payload()
    message = message[:2] + struct.pack("!H", checksum(message)) + message[4:]
    if not with_ip:
        return message
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(message), 0, 0, 64, 1, 0,
                         socket.inet_aton(source), socket.inet_aton("10.0.0.1"))
    return header + message


def unreachable(quoting: bytes, code: int = 1) -> bytes:
    """A router's destination-unreachable behind an IPv4 header, quoting an IP packet's first 28 bytes."""
    message = struct.pack("!BBHI", 3, code, 0, 0) + quoting[:28]
    message = message[:2] + struct.pack("!H", checksum(message)) + message[4:]
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(message), 0, 0, 64, 1, 0,
                         socket.inet_aton("10.0.0.254"), socket.inet_aton("10.0.0.1"))
    return header + message


class Pinging:
    """A pinger on a fake reactor and socket, with the results it gave."""

    def __init__(self, mode: str = "raw", refuse: dict[int, int] | None = None, timeout_s: float = 1.0) -> None:
        self.clock = MemoryReactorClock()
        self.results: list[ProbeResult] = []
        self.factory = Factory(refuse)
        self.pinger = IcmpPinger(self.clock, mode=mode, timeout_s=timeout_s, on_result=self.results.append,
                                 socket_factory=self.factory, identifier=0x5A5A)
        self.pinger.start()
        self.socket = self.factory.made[-1]

    def sent_sequence(self, index: int = -1) -> int:
        return struct.unpack("!H", self.socket.sent[index][0][6:8])[0]

    def answer(self, index: int = -1, *, identifier: int | None = None, source: str | None = None) -> None:
        _data, (address, _port) = self.socket.sent[index]
        raw = self.pinger.mode_in_use == "raw"
        self.socket.inbox.append((reply(self.sent_sequence(index), 0x5A5A if identifier is None else identifier,
                                        with_ip=raw, source=source or address), (source or address, 0)))


# --- which socket ------------------------------------------------------------------------------------------


def test_auto_takes_the_datagram_socket_when_the_system_allows_it():
    pinging = Pinging("auto")
    assert pinging.pinger.mode_in_use == "dgram"
    assert pinging.factory.tried == [socket.SOCK_DGRAM]


def test_auto_falls_back_to_a_raw_socket_when_the_group_is_not_in_ping_group_range():
    pinging = Pinging("auto", refuse={socket.SOCK_DGRAM: errno.EACCES})
    assert pinging.pinger.mode_in_use == "raw"
    assert pinging.factory.tried == [socket.SOCK_DGRAM, socket.SOCK_RAW]


def test_a_raw_socket_is_told_to_pass_only_replies_and_errors():
    """ICMP_FILTER keeps our own echo requests to loopback (and everything else) out of the socket."""
    pinging = Pinging("raw")
    mask = int.from_bytes(pinging.socket.options[255, 1], "little")
    passed = {kind for kind in range(32) if not mask & (1 << kind)}
    assert passed == {0, 3, 11, 12}


def test_no_socket_allowed_is_one_clear_error_naming_both_refusals():
    with pytest.raises(PingerUnavailable, match="ping_group_range.*CAP_NET_RAW"):
        Pinging("auto", refuse={socket.SOCK_DGRAM: errno.EACCES, socket.SOCK_RAW: errno.EPERM})


def test_a_forced_mode_tries_only_that_socket():
    with pytest.raises(PingerUnavailable, match="EACCES"):
        Pinging("dgram", refuse={socket.SOCK_DGRAM: errno.EACCES})
    assert Pinging("raw").factory.tried == [socket.SOCK_RAW]


def test_the_socket_is_non_blocking_and_read_by_the_reactor_until_stopped():
    pinging = Pinging()
    assert pinging.socket.blocking is False
    assert pinging.pinger in pinging.clock.getReaders()
    pinging.pinger.stop()
    assert pinging.pinger not in pinging.clock.getReaders()
    assert pinging.socket.closed


# --- requests and replies ----------------------------------------------------------------------------------


def test_a_ping_sends_an_echo_request_to_the_address():
    pinging = Pinging()
    pinging.pinger.ping("FN-01", "10.0.0.7")
    data, address = pinging.socket.sent[0]
    assert address == ("10.0.0.7", 0)
    assert data == echo_request(0x5A5A, pinging.sent_sequence(), payload())
    assert checksum_is_valid(data)


def test_a_reply_is_a_good_result_with_the_round_trip_on_the_reactor_clock():
    pinging = Pinging()
    pinging.clock.advance(100)
    pinging.pinger.ping("FN-01", "10.0.0.7")
    pinging.clock.advance(0.004)
    pinging.answer()
    pinging.pinger.doRead()
    assert pinging.results == [ProbeResult("FN-01", "icmp", 100.0, True, pytest.approx(0.004), None)]
    assert pinging.pinger.pending == 0


def test_every_datagram_waiting_is_read_in_one_wake_up():
    pinging = Pinging()
    for number in range(5):
        pinging.pinger.ping(f"FN-{number}", f"10.0.0.{number + 1}")
    for index in range(5):
        pinging.answer(index)
    pinging.pinger.doRead()
    assert [result.node for result in pinging.results] == [f"FN-{number}" for number in range(5)]
    assert pinging.socket.reads == 6  # five datagrams and the EAGAIN that ends the drain


def test_on_a_datagram_socket_the_sequence_matches_whatever_identifier_the_kernel_put_in():
    pinging = Pinging("dgram")
    pinging.pinger.ping("FN-01", "10.0.0.7")
    pinging.answer(identifier=0x0BAD)
    pinging.pinger.doRead()
    assert [result.ok for result in pinging.results] == [True]


def test_on_a_raw_socket_another_pingers_reply_is_not_ours():
    """Every raw ICMP socket on the host sees every reply: the identifier says whose it is."""
    pinging = Pinging("raw")
    pinging.pinger.ping("FN-01", "10.0.0.7")
    pinging.answer(identifier=0x0BAD)
    pinging.pinger.doRead()
    assert pinging.results == [] and pinging.pinger.pending == 1


def test_a_reply_from_an_address_not_pinged_is_a_stray():
    pinging = Pinging("raw")
    pinging.pinger.ping("FN-01", "10.0.0.7")
    pinging.answer(source="10.0.0.8")
    pinging.pinger.doRead()
    assert pinging.results == []
    assert pinging.pinger.stats()["strays"] == 1 and pinging.pinger.pending == 1


def test_garbage_is_counted_and_the_replies_after_it_still_count():
    pinging = Pinging("raw")
    pinging.pinger.ping("FN-01", "10.0.0.7")
    pinging.socket.inbox.append((b"\x45\x00\x00", ("10.0.0.7", 0)))
    pinging.socket.inbox.append((b"\x60" + bytes(40), ("10.0.0.7", 0)))
    pinging.answer()
    pinging.pinger.doRead()
    assert [result.ok for result in pinging.results] == [True]
    assert pinging.pinger.stats()["decode_errors"] == 2


def test_an_icmp_error_quoting_a_request_fails_that_probe_at_once():
    """A router that cannot forward says so: the probe fails with its reason, without waiting."""
    pinging = Pinging("raw")
    pinging.pinger.ping("FN-01", "10.0.0.7")
    request = pinging.socket.sent[0][0]
    quoted = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(request), 0, 0, 64, 1, 0,
                         socket.inet_aton("10.0.0.1"), socket.inet_aton("10.0.0.7")) + request
    pinging.socket.inbox.append((unreachable(quoted, code=1), ("10.0.0.254", 0)))
    pinging.pinger.doRead()
    assert pinging.results == [ProbeResult("FN-01", "icmp", 0.0, False, None, "host-unreachable")]


# --- failures ----------------------------------------------------------------------------------------------


def test_a_probe_unanswered_past_the_timeout_fails_on_the_sweep_and_only_once():
    pinging = Pinging(timeout_s=0.8)
    pinging.pinger.ping("FN-01", "10.0.0.7")
    pinging.clock.advance(0.5)
    pinging.pinger.ping("FN-02", "10.0.0.8")
    pinging.clock.advance(0.3)
    assert pinging.pinger.sweep(pinging.clock.seconds()) == 1
    assert pinging.results == [ProbeResult("FN-01", "icmp", 0.0, False, None, "timeout")]
    assert pinging.pinger.sweep(pinging.clock.seconds()) == 0
    pinging.answer(0)  # too late: the probe has failed already
    pinging.answer(1)
    pinging.pinger.doRead()
    assert [(result.node, result.ok) for result in pinging.results] == [("FN-01", False), ("FN-02", True)]
    assert pinging.pinger.stats()["strays"] == 1


def test_no_timer_is_made_per_probe():
    pinging = Pinging()
    for number in range(100):
        pinging.pinger.ping(f"FN-{number}", "10.0.0.7")
    assert pinging.clock.getDelayedCalls() == []


@pytest.mark.parametrize("code", [errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EPERM])
def test_a_send_the_system_refuses_is_a_failed_result_at_once_named_by_errno(code):
    pinging = Pinging()
    pinging.socket.send_error = OSError(code, "refused")
    pinging.pinger.ping("FN-01", "10.0.0.7")
    assert pinging.results == [ProbeResult("FN-01", "icmp", 0.0, False, None, errno.errorcode[code])]
    assert pinging.pinger.pending == 0


def test_a_name_instead_of_an_address_is_refused_without_a_lookup():
    """sendto would resolve a name on every probe, blocking the reactor: only addresses are pinged."""
    pinging = Pinging()
    pinging.pinger.ping("FN-01", "fn-01.fibre.example")
    assert pinging.results == [ProbeResult("FN-01", "icmp", 0.0, False, None, "bad-address")]
    assert pinging.socket.sent == []


def test_sequence_numbers_wrap_at_16_bits_and_still_match():
    pinging = Pinging()
    pinging.pinger._sequence = 0xFFFE
    for number in range(3):
        pinging.pinger.ping(f"FN-{number}", "10.0.0.7")
    assert [pinging.sent_sequence(index) for index in range(3)] == [0xFFFF, 0, 1]
    for index in (2, 0, 1):
        pinging.answer(index)
    pinging.pinger.doRead()
    assert [result.node for result in pinging.results] == ["FN-2", "FN-0", "FN-1"]
    assert all(result.ok for result in pinging.results)


def test_a_sequence_number_still_out_after_a_full_wrap_fails_its_old_probe_first():
    pinging = Pinging(timeout_s=1e9)
    for number in range(0x10000 + 1):
        pinging.pinger.ping("FN-old" if number == 0 else "FN", "10.0.0.7")
    assert [(result.node, result.error) for result in pinging.results] == [("FN-old", "timeout")]
    assert pinging.pinger.pending == 0x10000


def test_stop_forgets_the_probes_out():
    pinging = Pinging()
    pinging.pinger.ping("FN-01", "10.0.0.7")
    pinging.pinger.stop()
    pinging.clock.advance(10)
    assert pinging.pinger.sweep(pinging.clock.seconds()) == 0
    assert pinging.results == []
