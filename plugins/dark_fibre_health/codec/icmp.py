"""ICMP echo for IPv4, pure: build echo requests, check the Internet checksum, read what a socket received.

Two kinds of socket hand the pinger different bytes. A raw socket (``SOCK_RAW``, needs CAP_NET_RAW) gives
every ICMP packet the host receives, IP header included, so the pinger's own requests to a loopback
address come back too and replies are told apart by identifier. The unprivileged datagram socket
(``SOCK_DGRAM`` + ``IPPROTO_ICMP``, allowed by ``net.ipv4.ping_group_range``) gives only the replies to
that socket, without the IP header, and the kernel replaces the identifier with its own: there the
sequence number alone matches a reply to its request.

``parse_raw`` and ``parse_dgram`` return ``(identifier, sequence, error)`` for an echo reply (error None)
or for an ICMP error that quotes one of our echo requests (error names it: ``"host-unreachable"``...);
None for anything that is no answer to a ping (an echo request, another ICMP type); and raise
``IcmpDecodeError``, and nothing else, for bytes that are no ICMP message.
"""

from __future__ import annotations

import struct

ECHO_REPLY = 0
DESTINATION_UNREACHABLE = 3
ECHO_REQUEST = 8
TIME_EXCEEDED = 11
PARAMETER_PROBLEM = 12

#: How many bytes of payload an echo request carries by default: ping's and fping's 56.
DEFAULT_PAYLOAD_SIZE = 56

_UNREACHABLE = {
    0: "net-unreachable",
    1: "host-unreachable",
    2: "protocol-unreachable",
    3: "port-unreachable",
    4: "fragmentation-needed",
    5: "source-route-failed",
    6: "net-unknown",
    7: "host-unknown",
    9: "net-prohibited",
    10: "host-prohibited",
    11: "net-unreachable-for-tos",
    12: "host-unreachable-for-tos",
    13: "admin-prohibited",
}
_ECHO_HEADER = struct.Struct("!BBHHH")
_IPV4_PROTOCOL_ICMP = 1


class IcmpDecodeError(ValueError):
    """The bytes received are not an ICMP message the pinger can read (too short, not IPv4, bad checksum)."""


def checksum(data: bytes | bytearray | memoryview) -> int:
    """The Internet checksum of ``data`` (RFC 1071): the ones' complement of the ones' complement sum of
    its 16-bit big-endian words, an odd last byte padded with zero.

    The ones' complement sum of 16-bit words is the number they spell modulo 0xFFFF (2**16 is 1 modulo
    0xFFFF), which ``int.from_bytes`` computes in C; the sum is 0xFFFF, not 0, when that remainder is 0
    for data that is not all zeros (ones' complement has two zeros and the end-around carry never makes
    the positive one from non-zero words).
    """
    if len(data) % 2:
        data = bytes(data) + b"\x00"
    number = int.from_bytes(data, "big")
    total = number % 0xFFFF
    if total == 0 and number:
        total = 0xFFFF
    return ~total & 0xFFFF


def checksum_is_valid(message: bytes | bytearray | memoryview) -> bool:
    """True when ``message``, its checksum field included, sums to 0xFFFF (RFC 1071 section 1)."""
    if len(message) % 2:
        message = bytes(message) + b"\x00"
    number = int.from_bytes(message, "big")
    return number != 0 and number % 0xFFFF == 0


def payload(size: int = DEFAULT_PAYLOAD_SIZE) -> bytes:
    """An echo request's payload of ``size`` bytes: the same pattern as ping's, 0x08, 0x09, ... (wrapping)."""
    return bytes((8 + index) & 0xFF for index in range(size))


def echo_request(identifier: int, sequence: int, data: bytes = b"") -> bytes:
    """An ICMP echo request (type 8, code 0) with its checksum."""
    header = _ECHO_HEADER.pack(ECHO_REQUEST, 0, 0, identifier & 0xFFFF, sequence & 0xFFFF)
    return _ECHO_HEADER.pack(ECHO_REQUEST, 0, checksum(header + data), identifier & 0xFFFF,
                             sequence & 0xFFFF) + data


class EchoRequests:
    """Echo requests of one identifier and payload, made fast: one buffer rewritten in place per request,
    its checksum updated from the precomputed sum of everything but the sequence number (RFC 1624), so a
    request costs one ``pack_into`` and no new bytes.

    The buffer ``packet`` is only valid until the next ``next(sequence)``; send it before asking again.
    """

    __slots__ = ("_base", "identifier", "packet")

    def __init__(self, identifier: int, data: bytes = b"") -> None:
        self.identifier = identifier & 0xFFFF
        self.packet = bytearray(echo_request(self.identifier, 0, data))
        without_sequence = _ECHO_HEADER.pack(ECHO_REQUEST, 0, 0, self.identifier, 0) + data
        self._base = ~checksum(without_sequence) & 0xFFFF  # the ones' complement sum itself

    def next(self, sequence: int) -> bytearray:
        """The request with ``sequence`` (16 bits), in the shared buffer."""
        total = self._base + sequence
        total = (total & 0xFFFF) + (total >> 16)
        total = (total & 0xFFFF) + (total >> 16)
        _SUM_AND_SEQUENCE.pack_into(self.packet, 2, ~total & 0xFFFF, self.identifier, sequence)
        return self.packet


_SUM_AND_SEQUENCE = struct.Struct("!HHH")


def _icmp(message: bytes | memoryview, verify: bool) -> tuple[int, int, str | None] | None:
    """The answer an ICMP message (no IP header) gives to a ping, if any."""
    if len(message) < 8:
        raise IcmpDecodeError(f"ICMP message of {len(message)} bytes, shorter than its 8-byte header")
    kind = message[0]
    if kind == ECHO_REPLY:
        if verify and not checksum_is_valid(message):
            raise IcmpDecodeError("ICMP echo reply with a wrong checksum")
        return message[4] << 8 | message[5], message[6] << 8 | message[7], None
    if kind == DESTINATION_UNREACHABLE or kind == TIME_EXCEEDED or kind == PARAMETER_PROBLEM:
        if verify and not checksum_is_valid(message):
            raise IcmpDecodeError(f"ICMP type {kind} with a wrong checksum")
        quoted = _quoted_echo_request(message[8:])
        if quoted is None:
            return None
        return quoted[0], quoted[1], _error_name(kind, message[1])
    return None


def _error_name(kind: int, code: int) -> str:
    if kind == DESTINATION_UNREACHABLE:
        return _UNREACHABLE.get(code, f"unreachable-code-{code}")
    if kind == TIME_EXCEEDED:
        return "ttl-exceeded" if code == 0 else "reassembly-time-exceeded"
    return "parameter-problem"


def _quoted_echo_request(quoted: bytes | memoryview) -> tuple[int, int] | None:
    """Identifier and sequence of the echo request an ICMP error quotes (its IP header and first 8 bytes)."""
    if len(quoted) < 20:
        return None
    header_length = (quoted[0] & 0x0F) * 4
    if quoted[0] >> 4 != 4 or header_length < 20 or quoted[9] != _IPV4_PROTOCOL_ICMP:
        return None
    if len(quoted) < header_length + 8 or quoted[header_length] != ECHO_REQUEST:
        return None
    return (quoted[header_length + 4] << 8 | quoted[header_length + 5],
            quoted[header_length + 6] << 8 | quoted[header_length + 7])


def parse_raw(datagram: bytes | memoryview, verify: bool = True) -> tuple[int, int, str | None] | None:
    """What a raw ICMP socket received (IPv4 header, then ICMP), as an answer to a ping: see the module.

    The header length (IHL) is respected, options and all. ``verify`` checks the ICMP checksum, which the
    kernel does not do before handing a packet to a raw socket.
    """
    if len(datagram) < 20:
        raise IcmpDecodeError(f"IPv4 packet of {len(datagram)} bytes, shorter than the 20-byte header")
    first = datagram[0]
    header_length = (first & 0x0F) * 4
    if first >> 4 != 4:
        raise IcmpDecodeError(f"IP version {first >> 4}, not 4")
    if header_length < 20 or header_length > len(datagram):
        raise IcmpDecodeError(f"IPv4 header length {header_length} in a packet of {len(datagram)} bytes")
    if datagram[9] != _IPV4_PROTOCOL_ICMP:
        raise IcmpDecodeError(f"IPv4 protocol {datagram[9]}, not ICMP")
    return _icmp(datagram[header_length:], verify)


def parse_dgram(datagram: bytes | memoryview, verify: bool = False) -> tuple[int, int, str | None] | None:
    """What an ICMP datagram socket received (ICMP only), as an answer to a ping: see the module.

    The kernel has checked the checksum already (``verify`` checks it again); the identifier is the one
    the kernel chose for the socket, not the one sent, so match on the sequence number.
    """
    return _icmp(datagram, verify)
