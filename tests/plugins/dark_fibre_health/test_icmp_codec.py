"""The ICMP codec: echo requests with a correct Internet checksum, and what each kind of socket receives
read as a reply, an error quoting one of our requests, something to ignore, or a clear decode error."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plugins.dark_fibre_health.codec.icmp import (
    EchoRequests,
    IcmpDecodeError,
    checksum,
    checksum_is_valid,
    echo_request,
    parse_dgram,
    parse_raw,
    payload,
)


def reference_checksum(data: bytes) -> int:
    """RFC 1071 done the long way: add 16-bit words, fold the carries back in, complement."""
    if len(data) % 2:
        data += b"\x00"
    total = 0
    for index in range(0, len(data), 2):
        total += data[index] << 8 | data[index + 1]
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ipv4(icmp: bytes, source: str = "127.0.0.2", destination: str = "127.0.0.1", options: bytes = b"",
         protocol: int = 1) -> bytes:
    """An IPv4 header (with ``options``, a multiple of 4 bytes) in front of ``icmp``."""
    words = 5 + len(options) // 4
    header = struct.pack("!BBHHHBBH4s4s", 0x40 | words, 0, words * 4 + len(icmp), 1, 0, 64, protocol, 0,
                         bytes(int(part) for part in source.split(".")),
                         bytes(int(part) for part in destination.split("."))) + options
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return header + icmp


def icmp_message(kind: int, code: int, rest: bytes) -> bytes:
    """An ICMP message of ``kind``/``code`` whose bytes after the checksum are ``rest``, checksummed."""
    message = struct.pack("!BBH", kind, code, 0) + rest
    return message[:2] + struct.pack("!H", checksum(message)) + message[4:]


def echo_reply(identifier: int, sequence: int, data: bytes = b"abc") -> bytes:
    return icmp_message(0, 0, struct.pack("!HH", identifier, sequence) + data)


# --- the checksum ------------------------------------------------------------------------------------------


def test_the_checksum_of_the_rfc_1071_example_words():
    """RFC 1071's worked example: the words 0001 f203 f4f5 f6f7 sum to ddf2, so the checksum is 220d."""
    assert checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D


@given(st.binary(max_size=300))
def test_the_checksum_agrees_with_adding_words_one_by_one(data):
    """Whatever the bytes, odd lengths and all-0xFF runs included, the fast checksum is RFC 1071's."""
    assert checksum(data) == reference_checksum(data)


@given(st.binary(min_size=1, max_size=300).filter(any))
def test_a_message_carrying_its_checksum_verifies(data):
    """Data with its checksum appended as a word sums to all ones, which is what a receiver checks."""
    if len(data) % 2:
        data += b"\x00"
    assert checksum_is_valid(data + struct.pack("!H", checksum(data)))


def test_a_flipped_bit_fails_the_checksum():
    request = bytearray(echo_request(0x1234, 7, payload()))
    assert checksum_is_valid(request)
    request[20] ^= 0x01
    assert not checksum_is_valid(request)


# --- echo requests -----------------------------------------------------------------------------------------


def test_an_echo_request_has_type_8_code_0_the_identifier_and_the_sequence():
    request = echo_request(0xBEEF, 0x0102, b"hello!")
    assert request[:2] == b"\x08\x00"
    assert struct.unpack("!HH", request[4:8]) == (0xBEEF, 0x0102)
    assert request[8:] == b"hello!"
    assert checksum_is_valid(request)


def test_the_default_payload_is_pings_56_bytes():
    assert len(payload()) == 56
    assert payload(3) == b"\x08\x09\x0a"


@given(identifier=st.integers(0, 0xFFFF), sequence=st.integers(0, 0xFFFF), size=st.integers(0, 64))
def test_requests_rewritten_in_place_equal_requests_built_whole(identifier, sequence, size):
    """The incremental checksum (RFC 1624) gives the same bytes as building the request from scratch."""
    requests = EchoRequests(identifier, payload(size))
    assert bytes(requests.next(sequence)) == echo_request(identifier, sequence, payload(size))


def test_requests_wrap_at_16_bits_without_a_wrong_checksum():
    requests = EchoRequests(0xFFFF, payload())
    for sequence in (0xFFFE, 0xFFFF, 0, 1):
        assert checksum_is_valid(requests.next(sequence))
        assert struct.unpack("!H", requests.next(sequence)[6:8]) == (sequence,)


# --- what a raw socket receives ------------------------------------------------------------------------------


def test_a_raw_echo_reply_gives_identifier_and_sequence():
    assert parse_raw(ipv4(echo_reply(0x1234, 77))) == (0x1234, 77, None)


def test_a_raw_reply_behind_ip_options_is_found_by_the_header_length():
    """IHL says where ICMP starts: a header with 8 bytes of options puts it at byte 28, not 20."""
    packet = ipv4(echo_reply(0x1234, 78), options=b"\x01\x01\x01\x00" * 2)
    assert packet[0] == 0x47
    assert parse_raw(packet) == (0x1234, 78, None)


def test_our_own_echo_request_seen_on_loopback_is_ignored():
    """A raw socket receives the requests the host sends to itself; they are not answers."""
    assert parse_raw(ipv4(echo_request(0x1234, 79, payload()))) is None


def test_other_icmp_types_are_ignored():
    assert parse_raw(ipv4(icmp_message(13, 0, bytes(16)))) is None  # a timestamp request
    assert parse_raw(ipv4(icmp_message(5, 1, bytes(4) + ipv4(echo_request(1, 1))[:28]))) is None  # a redirect


@pytest.mark.parametrize(("kind", "code", "name"), [
    (3, 0, "net-unreachable"), (3, 1, "host-unreachable"), (3, 13, "admin-prohibited"),
    (3, 3, "port-unreachable"), (3, 15, "unreachable-code-15"), (11, 0, "ttl-exceeded"),
    (12, 0, "parameter-problem"),
])
def test_an_icmp_error_quoting_our_request_names_the_error(kind, code, name):
    """A router's error carries our request's IP header and first 8 bytes: identifier and sequence."""
    quoted = ipv4(echo_request(0x4242, 900, payload()), source="10.0.0.1", destination="10.9.9.9")[:28]
    error = ipv4(icmp_message(kind, code, bytes(4) + quoted), source="10.0.0.254", destination="10.0.0.1")
    assert parse_raw(error) == (0x4242, 900, name)


def test_an_icmp_error_quoting_something_else_is_ignored():
    quoted_udp = ipv4(struct.pack("!HHHH", 5000, 53, 8, 0), protocol=17)[:28]
    assert parse_raw(ipv4(icmp_message(3, 3, bytes(4) + quoted_udp))) is None
    assert parse_raw(ipv4(icmp_message(3, 1, bytes(4) + b"\x45\x00"))) is None  # quote cut short


@pytest.mark.parametrize(("garbage", "says"), [
    (b"", "shorter than the 20-byte header"),
    (b"\x45" + bytes(10), "shorter than the 20-byte header"),
    (b"\x65" + bytes(27), "IP version 6"),
    (b"\x44" + bytes(27), "header length 16"),
    (b"\x4f" + bytes(27), "header length 60 in a packet of 28 bytes"),
    (ipv4(echo_reply(1, 1))[:24], "shorter than its 8-byte header"),
    (ipv4(struct.pack("!HHHH", 1, 2, 8, 0), protocol=17), "protocol 17, not ICMP"),
])
def test_raw_garbage_is_a_decode_error_that_says_what_is_wrong(garbage, says):
    with pytest.raises(IcmpDecodeError, match=says):
        parse_raw(garbage)


def test_a_raw_reply_with_a_wrong_checksum_is_a_decode_error():
    reply = bytearray(ipv4(echo_reply(5, 6)))
    reply[-1] ^= 0xFF
    with pytest.raises(IcmpDecodeError, match="wrong checksum"):
        parse_raw(bytes(reply))
    assert parse_raw(bytes(reply), verify=False) == (5, 6, None)


@given(st.binary(max_size=120))
def test_no_bytes_make_the_raw_parser_raise_anything_but_a_decode_error(data):
    try:
        answer = parse_raw(data)
    except IcmpDecodeError:
        return
    assert answer is None or (len(answer) == 3 and 0 <= answer[0] <= 0xFFFF and 0 <= answer[1] <= 0xFFFF)


# --- what a datagram socket receives -------------------------------------------------------------------------


def test_a_datagram_reply_has_no_ip_header():
    """The kernel strips the IP header and puts its own identifier in: the sequence is what matches."""
    assert parse_dgram(echo_reply(0x0007, 12, payload())) == (0x0007, 12, None)


def test_a_short_datagram_is_a_decode_error():
    with pytest.raises(IcmpDecodeError, match="3 bytes"):
        parse_dgram(b"\x00\x00\x00")


@given(st.binary(max_size=80))
def test_no_bytes_make_the_datagram_parser_raise_anything_but_a_decode_error(data):
    try:
        parse_dgram(data, verify=True)
    except IcmpDecodeError:
        pass
