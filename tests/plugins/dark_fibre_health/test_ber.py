"""BER as SNMP uses it: the encodings X.690 fixes, what the decoder accepts (net-snmp's long-form lengths)
and what it refuses (indefinite lengths, high tags, overlong lengths and integers, deep nesting, broken
OIDs), and fuzzing: hostile or truncated input raises SnmpDecodeError and nothing else."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plugins.dark_fibre_health.codec import ber, snmp
from plugins.dark_fibre_health.codec.ber import Reader, SnmpDecodeError


@pytest.mark.parametrize(("value", "encoded"), [
    (0, "020100"), (127, "02017f"), (128, "02020080"), (256, "02020100"), (-1, "0201ff"), (-128, "020180"),
    (-129, "0202ff7f"), (2**31 - 1, "02047fffffff"), (-(2**31), "020480000000"),
])
def test_integers_take_the_fewest_octets(value, encoded):
    assert ber.encode_integer(value).hex() == encoded
    assert Reader(bytes.fromhex(encoded)).read_integer() == value


def test_unsigned_values_get_a_sign_octet_when_the_top_bit_is_set():
    """Counter32 4294967295 is five octets (00 ff ff ff ff); an agent's four-octet form is read too."""
    assert ber.encode_unsigned(ber.COUNTER32, 2**32 - 1, 32).hex() == "410500ffffffff"
    assert ber.decode_unsigned(bytes.fromhex("ffffffff"), 0, 4, 32, "counter32") == 2**32 - 1
    with pytest.raises(SnmpDecodeError):
        ber.decode_unsigned(bytes.fromhex("0100000000"), 0, 5, 32, "counter32")
    with pytest.raises(ValueError):
        ber.encode_unsigned(ber.GAUGE32, 2**32, 32)


@pytest.mark.parametrize(("length", "encoded"), [(0, "00"), (127, "7f"), (128, "8180"), (255, "81ff"),
                                                 (256, "820100"), (65535, "82ffff")])
def test_lengths_short_and_long_form(length, encoded):
    assert ber.encode_length(length).hex() == encoded


@pytest.mark.parametrize(("oid", "encoded"), [
    ((1, 3, 6, 1, 2, 1, 1, 1, 0), "06082b06010201010100"),
    ((1, 3, 6, 1, 4, 1, 2636, 3, 60), "06092b06010401944c033c"),
    ((2, 999, 3), "0603883703"),
    ((1, 3, 2**32 - 1), "06062b8fffffff7f"),
    ((0, 0), "060100"),
])
def test_oids_as_x690_encodes_them(oid, encoded):
    assert ber.encode_oid(oid).hex() == encoded
    assert Reader(bytes.fromhex(encoded)).read_oid() == oid


def test_net_snmp_three_octet_sequence_lengths_are_accepted():
    """net-snmp writes SEQUENCE lengths as 82 00 nn; they are not minimal but they are definite."""
    reader = Reader(bytes.fromhex("30820003020105"))
    assert reader.enter(ber.SEQUENCE, "a sequence").read_integer() == 5


@pytest.mark.parametrize(("data", "complaint"), [
    ("3080020105000", "indefinite"),
    ("1f0100", "multi-octet tag"),
    ("0485000000000100", "length of 5 octets"),
    ("040541", "claims 5 bytes"),
    ("04", "truncated"),
    ("0482", "truncated"),
    ("0200", "no content"),
    ("020a00000000000000000001", "10 octets"),
    ("0603808001", "leading 0x80"),
    ("06022b86", "ends inside"),
    ("0600", "empty"),
    ("06082b90808080808001", "too large"),
    ("06062b9080808000", "above"),
])
def test_malformed_values_are_refused(data, complaint):
    with pytest.raises(SnmpDecodeError, match=complaint):
        reader = Reader(bytes.fromhex(data if len(data) % 2 == 0 else data + "0"))
        tag = reader.peek_tag()
        if tag == ber.SEQUENCE:
            reader.enter(ber.SEQUENCE, "a sequence")
        elif tag == ber.OBJECT_IDENTIFIER:
            reader.read_oid()
        elif tag == ber.INTEGER:
            reader.read_integer()
        else:
            reader.read_octets()


def test_oid_longer_than_128_arcs_is_refused():
    encoded = bytes.fromhex("06") + ber.encode_length(130) + b"\x2b" + b"\x01" * 129
    with pytest.raises(SnmpDecodeError, match="128"):
        Reader(encoded).read_oid()


def test_nesting_is_capped():
    """Sequences nested deeper than MAX_DEPTH are refused before they are read."""
    data = b"\x05\x00"
    for _ in range(ber.MAX_DEPTH + 2):
        data = ber.encode_sequence(data)
    reader = Reader(data)
    with pytest.raises(SnmpDecodeError, match="nesting"):
        for _ in range(ber.MAX_DEPTH + 2):
            reader = reader.enter(ber.SEQUENCE, "a sequence")


def test_oversized_message_is_refused_at_once():
    with pytest.raises(SnmpDecodeError, match="longer than"):
        Reader(bytes(ber.MAX_MESSAGE + 1))


@given(st.integers(-(2**63), 2**64 - 1))
def test_integers_round_trip(value):
    encoded = ber.encode_integer(value)
    assert Reader(encoded).read_integer() == value


@given(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=126).map(lambda rest: (1, 3, *rest)))
def test_oids_round_trip(oid):
    assert Reader(ber.encode_oid(oid)).read_oid() == oid


# --- Fuzzing the whole decoder ------------------------------------------------------------------------

SAMPLES = [
    snmp.encode_community_message(snmp.CommunityMessage("2c", b"public", snmp.Pdu.get_bulk(
        77, [(1, 3, 6, 1, 2, 1, 2, 2, 1)], max_repetitions=10))),
    snmp.encode_community_message(snmp.CommunityMessage("2c", b"public", snmp.Pdu("response", 77, (
        snmp.VarBind((1, 3, 6, 1, 2, 1, 1, 1, 0), snmp.octets("Cisco IOS")),
        snmp.VarBind((1, 3, 6, 1, 2, 1, 1, 3, 0), snmp.SnmpValue("timeticks", 123456)),
        snmp.VarBind((1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 6, 1), snmp.SnmpValue("counter64", 2**64 - 1)),
        snmp.VarBind((1, 3, 6, 1, 2, 1, 4, 20, 1, 1, 10, 0, 0, 1), snmp.SnmpValue("ipaddress", b"\n\x00\x00\x01")),
        snmp.VarBind((1, 3, 6, 1, 2, 1, 99), snmp.SnmpValue("end_of_mib_view")),
    )))),
    snmp.encode_v3_message(snmp.V3Message(
        snmp.HeaderData(5, flags=7), snmp.UsmSecurityParameters(b"\x80\x00\x1f\x88\x80x", 3, 400, b"ops",
                                                                bytes(24), bytes(8)),
        encrypted_pdu=bytes(range(60)))),
]


def _decodes_or_refuses(data: bytes) -> None:
    try:
        snmp.decode_message(data)
    except SnmpDecodeError:
        pass


@given(st.binary(max_size=400))
@settings(max_examples=500)
def test_random_bytes_only_ever_raise_snmp_decode_error(data):
    _decodes_or_refuses(data)


@given(st.sampled_from(SAMPLES), st.data())
@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
def test_mutated_messages_only_ever_raise_snmp_decode_error(sample, data):
    """Truncations, flipped bytes, insertions and deletions of real messages."""
    mutated = bytearray(sample)
    for _ in range(data.draw(st.integers(1, 4))):
        action = data.draw(st.sampled_from(["flip", "truncate", "insert", "delete"]))
        position = data.draw(st.integers(0, max(len(mutated) - 1, 0)))
        if action == "flip" and mutated:
            mutated[position] = data.draw(st.integers(0, 255))
        elif action == "truncate":
            del mutated[position:]
        elif action == "insert":
            mutated[position:position] = data.draw(st.binary(min_size=1, max_size=8))
        elif mutated:
            del mutated[position]
    _decodes_or_refuses(bytes(mutated))


@pytest.mark.parametrize("sample", SAMPLES)
def test_every_truncation_is_refused(sample):
    """A datagram cut anywhere is refused, never half-read."""
    for cut in range(len(sample)):
        with pytest.raises(SnmpDecodeError):
            snmp.decode_message(sample[:cut])
