"""The subset of ASN.1 BER that SNMP uses, both ways: single-octet tags, definite lengths, INTEGER, OCTET
STRING, NULL, OBJECT IDENTIFIER, SEQUENCE and SNMP's application and context types.

Decoding is strict and bounded because every datagram is untrusted: no indefinite lengths, no high tag
numbers, at most four length octets, nothing longer than what is left, integers and OIDs within SNMP's
ranges, nesting at most ``MAX_DEPTH`` deep. Anything else is a ``SnmpDecodeError`` (a ``ValueError``), and
nothing else is ever raised on bad input. Lengths are accepted in non-minimal long form, since net-snmp
writes every SEQUENCE length in three octets.
"""

from __future__ import annotations

# Universal tags.
INTEGER = 0x02
OCTET_STRING = 0x04
NULL = 0x05
OBJECT_IDENTIFIER = 0x06
SEQUENCE = 0x30
# SNMP application tags (RFC 2578, RFC 3416).
IP_ADDRESS = 0x40
COUNTER32 = 0x41
GAUGE32 = 0x42
TIMETICKS = 0x43
OPAQUE = 0x44
COUNTER64 = 0x46
# Exceptions in a varbind (RFC 3416), context-specific primitive.
NO_SUCH_OBJECT = 0x80
NO_SUCH_INSTANCE = 0x81
END_OF_MIB_VIEW = 0x82

#: Deepest nesting of constructed values accepted (an SNMPv3 varbind value sits at depth 6).
MAX_DEPTH = 10
#: An OID has at most 128 sub-identifiers (RFC 2578 section 3.5), each below 2**32.
MAX_OID_ARCS = 128
MAX_SUBID = 2**32 - 1
#: Largest message handled: the largest UDP payload.
MAX_MESSAGE = 65535
#: INTEGER content longer than this is refused (a Counter64 with its sign octet needs nine).
MAX_INTEGER_OCTETS = 9


class SnmpDecodeError(ValueError):
    """Bytes that are not the SNMP they claim to be; the text says what was wrong and where."""


# --- Encoding --------------------------------------------------------------------------------------


def encode_length(length: int) -> bytes:
    if length < 0x80:
        return bytes((length,))
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def encode_tlv(tag: int, content: bytes) -> bytes:
    return bytes((tag,)) + encode_length(len(content)) + content


def encode_integer(value: int, tag: int = INTEGER) -> bytes:
    """A two's complement INTEGER in the fewest octets (an unsigned value gets a leading zero when needed)."""
    length = (value if value >= 0 else ~value).bit_length() // 8 + 1  # one spare bit for the sign
    return encode_tlv(tag, value.to_bytes(length, "big", signed=True))


def encode_unsigned(tag: int, value: int, bits: int) -> bytes:
    if not 0 <= value < 1 << bits:
        raise ValueError(f"{value} does not fit an unsigned {bits}-bit value")
    return encode_integer(value, tag)


def encode_octets(value: bytes, tag: int = OCTET_STRING) -> bytes:
    return encode_tlv(tag, bytes(value))


def encode_null(tag: int = NULL) -> bytes:
    return bytes((tag, 0))


def encode_subid(value: int) -> bytes:
    if value < 0x80:
        return bytes((value,))
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def encode_oid_content(oid: tuple[int, ...]) -> bytes:
    if len(oid) < 2 or oid[0] > 2 or (oid[0] < 2 and oid[1] > 39) or len(oid) > MAX_OID_ARCS:
        raise ValueError(f"not an encodable OID: {'.'.join(map(str, oid))}")
    if any(not 0 <= arc <= MAX_SUBID for arc in oid):
        raise ValueError("OID arcs must be between 0 and 2**32-1")
    return encode_subid(oid[0] * 40 + oid[1]) + b"".join(encode_subid(arc) for arc in oid[2:])


def encode_oid(oid: tuple[int, ...]) -> bytes:
    return encode_tlv(OBJECT_IDENTIFIER, encode_oid_content(oid))


def encode_sequence(*parts: bytes, tag: int = SEQUENCE) -> bytes:
    return encode_tlv(tag, b"".join(parts))


# --- Decoding --------------------------------------------------------------------------------------


class Reader:
    """Reads TLVs one after another from ``data[start:end]``; ``depth`` counts the constructed values
    entered on the way here. Every method raises only ``SnmpDecodeError`` on bad input."""

    __slots__ = ("data", "depth", "end", "pos")

    def __init__(self, data: bytes, start: int = 0, end: int | None = None, depth: int = 0) -> None:
        if not isinstance(data, bytes):
            data = bytes(data)
        if len(data) > MAX_MESSAGE:
            raise SnmpDecodeError(f"message of {len(data)} bytes is longer than {MAX_MESSAGE}")
        self.data = data
        self.pos = start
        self.end = len(data) if end is None else end
        self.depth = depth

    def at_end(self) -> bool:
        return self.pos >= self.end

    def expect_end(self, what: str) -> None:
        if self.pos != self.end:
            raise SnmpDecodeError(f"{self.end - self.pos} unexpected bytes after {what} at offset {self.pos}")

    def peek_tag(self) -> int:
        if self.pos >= self.end:
            raise SnmpDecodeError(f"expected a value at offset {self.pos}, found the end")
        return self.data[self.pos]

    def read_tlv(self) -> tuple[int, int, int]:
        """The next value's tag and the start and end offsets of its content; moves past it."""
        data, pos, end = self.data, self.pos, self.end
        if pos + 2 > end:
            raise SnmpDecodeError(f"truncated value at offset {pos}")
        tag = data[pos]
        if tag & 0x1F == 0x1F:
            raise SnmpDecodeError(f"multi-octet tag at offset {pos} is not used by SNMP")
        first = data[pos + 1]
        pos += 2
        if first < 0x80:
            length = first
        elif first == 0x80:
            raise SnmpDecodeError(f"indefinite length at offset {pos - 2} is not allowed")
        else:
            count = first & 0x7F
            if count > 4:
                raise SnmpDecodeError(f"length of {count} octets at offset {pos - 2}")
            if pos + count > end:
                raise SnmpDecodeError(f"truncated length at offset {pos - 2}")
            length = int.from_bytes(data[pos:pos + count], "big")
            pos += count
        if length > end - pos:
            raise SnmpDecodeError(f"value at offset {self.pos} claims {length} bytes, {end - pos} are left")
        self.pos = pos + length
        return tag, pos, pos + length

    def read_expected(self, tag: int, what: str) -> tuple[int, int]:
        found, start, end = self.read_tlv()
        if found != tag:
            raise SnmpDecodeError(f"expected {what} (tag 0x{tag:02x}), found tag 0x{found:02x} at offset {start}")
        return start, end

    def enter(self, tag: int, what: str) -> Reader:
        """A reader over the content of the next value, which must be the constructed ``tag``."""
        start, end = self.read_expected(tag, what)
        if self.depth + 1 > MAX_DEPTH:
            raise SnmpDecodeError(f"nesting deeper than {MAX_DEPTH} at offset {start}")
        return Reader(self.data, start, end, self.depth + 1)

    def read_integer(self, what: str = "an INTEGER", tag: int = INTEGER) -> int:
        start, end = self.read_expected(tag, what)
        return decode_integer(self.data, start, end, what)

    def read_bounded(self, what: str, low: int, high: int) -> int:
        value = self.read_integer(what)
        if not low <= value <= high:
            raise SnmpDecodeError(f"{what} {value} is outside {low}..{high}")
        return value

    def read_octets(self, what: str = "an OCTET STRING", tag: int = OCTET_STRING,
                    max_length: int = MAX_MESSAGE) -> bytes:
        start, end = self.read_expected(tag, what)
        if end - start > max_length:
            raise SnmpDecodeError(f"{what} of {end - start} bytes is longer than {max_length}")
        return self.data[start:end]

    def read_oid(self, what: str = "an OBJECT IDENTIFIER") -> tuple[int, ...]:
        start, end = self.read_expected(OBJECT_IDENTIFIER, what)
        return decode_oid(self.data, start, end)


def decode_integer(data: bytes, start: int, end: int, what: str = "an INTEGER") -> int:
    if end <= start:
        raise SnmpDecodeError(f"{what} with no content at offset {start}")
    if end - start > MAX_INTEGER_OCTETS:
        raise SnmpDecodeError(f"{what} of {end - start} octets at offset {start}")
    return int.from_bytes(data[start:end], "big", signed=True)


def decode_unsigned(data: bytes, start: int, end: int, bits: int, what: str) -> int:
    """An unsigned application value. Some agents leave out the sign octet (Counter32 0xFFFFFFFF in four
    octets), so the content is read as a magnitude; it must still fit ``bits``."""
    if end <= start:
        raise SnmpDecodeError(f"{what} with no content at offset {start}")
    if end - start > bits // 8 + 1:
        raise SnmpDecodeError(f"{what} of {end - start} octets at offset {start}")
    value = int.from_bytes(data[start:end], "big")
    if value >> bits:
        raise SnmpDecodeError(f"{what} {value} does not fit {bits} bits")
    return value


def decode_oid(data: bytes, start: int, end: int) -> tuple[int, ...]:
    if end <= start:
        raise SnmpDecodeError(f"empty OBJECT IDENTIFIER at offset {start}")
    arcs: list[int] = []
    value = 0
    fresh = True
    for pos in range(start, end):
        octet = data[pos]
        if fresh and octet == 0x80:
            raise SnmpDecodeError(f"OID sub-identifier with a leading 0x80 at offset {pos}")
        value = (value << 7) | (octet & 0x7F)
        if octet & 0x80:
            fresh = False
            if value > MAX_SUBID * 80:  # the first sub-identifier carries two arcs
                raise SnmpDecodeError(f"OID sub-identifier too large at offset {pos}")
            continue
        if not arcs:
            if value < 80:
                arcs.extend(divmod(value, 40))
            else:
                arcs.extend((2, value - 80))
        else:
            arcs.append(value)
        if arcs[-1] > MAX_SUBID:
            raise SnmpDecodeError(f"OID sub-identifier above 2**32-1 at offset {pos}")
        if len(arcs) > MAX_OID_ARCS:
            raise SnmpDecodeError(f"OID of more than {MAX_OID_ARCS} sub-identifiers at offset {start}")
        value = 0
        fresh = True
    if not fresh:
        raise SnmpDecodeError(f"OID ends inside a sub-identifier at offset {end}")
    return tuple(arcs)
