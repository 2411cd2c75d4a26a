"""The ICMP pinger: one socket for every node, read by the reactor, a result per echo request sent.

The socket is the unprivileged ICMP datagram socket where the system allows it (the process's group in
``net.ipv4.ping_group_range`` of its network namespace) and a raw socket otherwise (root or CAP_NET_RAW);
``mode`` forces one. Either way it is a non-blocking file descriptor the reactor watches with
``addReader``, drained completely on every wake-up. Twisted's ``adoptDatagramPort`` is not used: it
assumes a datagram socket, and the raw one is not.

A probe is ``(node, address, sent_at)`` under its 16-bit sequence number until its reply, an ICMP error
quoting it, or ``sweep(now)`` (the scheduler's tick) finds it older than ``timeout_s``: no timer per
probe. A send the system refuses at once (no route, a local firewall) is a failed result at once, named
by its errno. The pinger is built to run a thousand probes a second at little CPU: the request is one
buffer rewritten in place, a reply costs one ``recvfrom``, a parse and one ``ProbeResult``, and nothing
is logged per probe (the counters in ``stats()`` say what happened).
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
from collections.abc import Callable
from typing import Any, Literal

from twisted.internet.interfaces import IReadDescriptor
from zope.interface import implementer

from plugins.dark_fibre_health.codec.icmp import (
    DEFAULT_PAYLOAD_SIZE,
    DESTINATION_UNREACHABLE,
    ECHO_REPLY,
    PARAMETER_PROBLEM,
    TIME_EXCEEDED,
    EchoRequests,
    IcmpDecodeError,
    parse_dgram,
    parse_raw,
    payload,
)
from plugins.dark_fibre_health.probes import TIMEOUT, ProbeResult

SocketFactory = Callable[[int, int, int], socket.socket]

#: Linux raw-socket option: a bit mask of ICMP types the kernel should not hand this socket (linux/icmp.h).
_SOL_RAW = 255
_ICMP_FILTER = 1
#: Only replies and the errors that can quote a request: a raw socket sees every ICMP packet the host gets,
#: our own echo requests to loopback addresses among them.
_WANTED_TYPES = (ECHO_REPLY, DESTINATION_UNREACHABLE, TIME_EXCEEDED, PARAMETER_PROBLEM)
#: Room for replies the reactor has not read yet (a collector pause at a thousand probes a second).
_RECEIVE_BUFFER_BYTES = 1 << 20
_MAX_DATAGRAM = 4096
_identifiers = iter(range(1, 1 << 30))


class PingerUnavailable(OSError):
    """Neither kind of ICMP socket may be opened here (or not the one ``mode`` asked for)."""


@implementer(IReadDescriptor)
class IcmpPinger:
    """Pings nodes by address; every ``ping`` gives exactly one ``on_result`` call, now or later.

    ``stop`` forgets the probes still out: they give no result.
    """

    def __init__(self, reactor: Any, *, mode: Literal["auto", "dgram", "raw"] = "auto", timeout_s: float,
                 on_result: Callable[[ProbeResult], None], log: Any = None,
                 socket_factory: SocketFactory | None = None, payload_size: int = DEFAULT_PAYLOAD_SIZE,
                 identifier: int | None = None) -> None:
        if mode not in ("auto", "dgram", "raw"):
            raise ValueError(f"ICMP mode {mode!r} is not auto, dgram or raw")
        self._reactor = reactor
        self._mode = mode
        self._timeout_s = timeout_s
        self._on_result = on_result
        self._log = log
        self._socket_factory: SocketFactory = socket_factory or socket.socket
        # The identifier tells our replies from other pingers' on a raw socket (the datagram socket's
        # kernel replaces it); one per pinger, different between processes.
        if identifier is None:
            identifier = (os.getpid() * 7919 + next(_identifiers)) & 0xFFFF
        self._requests = EchoRequests(identifier, payload(payload_size))
        self._socket: socket.socket | None = None
        self._parse: Callable[[Any], Any] = parse_raw
        self._sequence = 0
        #: sequence -> (node, address, sent_at), in the order sent.
        self._pending: dict[int, tuple[str, str, float]] = {}
        self._addresses: set[str] = set()
        self.mode_in_use: Literal["dgram", "raw"] | None = None
        self.sent = 0
        self.answered = 0
        self.timed_out = 0
        self.send_errors = 0
        self.icmp_errors = 0
        self.decode_errors = 0
        self.strays = 0

    # --- life ----------------------------------------------------------------------------------------

    def start(self) -> None:
        """Open the socket and start reading it. Raises ``PingerUnavailable`` when no mode is allowed."""
        if self._socket is not None:
            return
        sock, mode = self._open()
        sock.setblocking(False)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RECEIVE_BUFFER_BYTES)
        except OSError:  # pragma: no cover - the default buffer still works, only with less room
            pass
        if mode == "raw":
            wanted = 0
            for kind in _WANTED_TYPES:
                wanted |= 1 << kind
            try:
                sock.setsockopt(_SOL_RAW, _ICMP_FILTER, (~wanted & 0xFFFFFFFF).to_bytes(4, "little"))
            except OSError:  # pragma: no cover - not Linux: the parser drops the rest, at more cost
                pass
        self._socket = sock
        self._fileno = sock.fileno()
        self.mode_in_use = mode
        self._parse = parse_raw if mode == "raw" else parse_dgram
        self._reactor.addReader(self)
        if self._log is not None:
            self._log.info("icmp_pinger_started", mode=mode, identifier=self._requests.identifier)

    def _open(self) -> tuple[socket.socket, Literal["dgram", "raw"]]:
        refusals: list[str] = []
        if self._mode in ("auto", "dgram"):
            try:
                return self._socket_factory(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP), "dgram"
            except OSError as error:
                refusals.append(f"datagram ICMP socket: {_errno_name(error)} (is the group in "
                                f"net.ipv4.ping_group_range?)")
        if self._mode in ("auto", "raw"):
            try:
                return self._socket_factory(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP), "raw"
            except OSError as error:
                refusals.append(f"raw ICMP socket: {_errno_name(error)} (needs root or CAP_NET_RAW)")
        raise PingerUnavailable(errno.EPERM, "no ICMP socket may be opened: " + "; ".join(refusals))

    def stop(self) -> None:
        """Stop reading and close the socket; the probes still out are forgotten."""
        sock, self._socket = self._socket, None
        if sock is None:
            return
        self._reactor.removeReader(self)
        sock.close()
        self._pending.clear()

    # --- probes --------------------------------------------------------------------------------------

    def ping(self, node: str, address: str) -> None:
        """Send one echo request to ``address`` (an IPv4 address) for ``node``."""
        sent_at = self._reactor.seconds()
        sock = self._socket
        if sock is None:
            raise RuntimeError("the pinger is not started")
        if address not in self._addresses and not self._is_address(address):
            self._fail(node, sent_at, "bad-address")
            return
        sequence = self._sequence = (self._sequence + 1) & 0xFFFF
        pending = self._pending
        if sequence in pending:  # 65,536 probes out at once: the oldest has waited long enough
            self._time_out(sequence)
        try:
            sock.sendto(self._requests.next(sequence), (address, 0))
        except OSError as error:
            self.send_errors += 1
            self._fail(node, sent_at, _errno_name(error))
            return
        self.sent += 1
        pending[sequence] = (node, address, sent_at)

    def _is_address(self, address: str) -> bool:
        # sendto with a name would look it up, blocking, on every probe: addresses only.
        try:
            ipaddress.IPv4Address(address)
        except ValueError:
            return False
        if len(self._addresses) < 1_000_000:
            self._addresses.add(address)
        return True

    def sweep(self, now: float) -> int:
        """Give a failed result for every probe older than the timeout; how many there were."""
        pending = self._pending
        if not pending:
            return 0
        oldest_allowed = now - self._timeout_s
        expired = []
        for sequence, probe in pending.items():
            if probe[2] > oldest_allowed:
                break
            expired.append(sequence)
        for sequence in expired:
            self._time_out(sequence)
        return len(expired)

    def _time_out(self, sequence: int) -> None:
        node, _address, sent_at = self._pending.pop(sequence)
        self.timed_out += 1
        self._on_result(ProbeResult(node, "icmp", sent_at, False, None, TIMEOUT))

    def _fail(self, node: str, sent_at: float, error: str) -> None:
        self._on_result(ProbeResult(node, "icmp", sent_at, False, None, error))

    @property
    def pending(self) -> int:
        """Probes sent and not yet answered, failed or timed out."""
        return len(self._pending)

    def stats(self) -> dict[str, int]:
        return {"sent": self.sent, "answered": self.answered, "timed_out": self.timed_out,
                "send_errors": self.send_errors, "icmp_errors": self.icmp_errors,
                "decode_errors": self.decode_errors, "strays": self.strays, "pending": len(self._pending)}

    # --- IReadDescriptor -----------------------------------------------------------------------------

    def fileno(self) -> int:
        return self._fileno if self._socket is not None else -1

    def logPrefix(self) -> str:
        return "IcmpPinger"

    def connectionLost(self, reason: Any) -> None:
        if self._log is not None and self._socket is not None:
            self._log.warning("icmp_socket_lost", reason=str(getattr(reason, "value", reason)))

    def doRead(self) -> None:
        """Read every datagram waiting, not only one: a wake-up of the reactor costs more than a read."""
        sock = self._socket
        if sock is None:
            return
        recvfrom = sock.recvfrom
        parse = self._parse
        pending = self._pending
        seconds = self._reactor.seconds
        on_result = self._on_result
        raw = self.mode_in_use == "raw"
        identifier = self._requests.identifier
        while True:
            try:
                datagram, source = recvfrom(_MAX_DATAGRAM)
            except BlockingIOError:
                return
            except InterruptedError:
                continue
            except OSError as error:
                # A pending socket error (rare on ICMP): reading it cleared it; the next wake-up reads on.
                if self._log is not None:
                    self._log.warning("icmp_receive_failed", error=_errno_name(error))
                return
            try:
                answer = parse(datagram)
            except IcmpDecodeError:
                self.decode_errors += 1
                continue
            if answer is None:
                continue
            answer_identifier, sequence, error = answer
            if raw and answer_identifier != identifier:
                continue  # another pinger's, on the same host
            probe = pending.get(sequence)
            if probe is None or (error is None and probe[1] != source[0]):
                self.strays += 1  # late (after its timeout), or a reply from an address not pinged
                continue
            del pending[sequence]
            if error is None:
                self.answered += 1
                on_result(ProbeResult(probe[0], "icmp", probe[2], True, seconds() - probe[2], None))
            else:
                self.icmp_errors += 1
                on_result(ProbeResult(probe[0], "icmp", probe[2], False, None, error))


def _errno_name(error: OSError) -> str:
    return errno.errorcode.get(error.errno or 0, type(error).__name__)
