"""SNMP messages: OIDs as text, every value type, PDUs and v1/v2c/v3 messages, checked byte for byte
against hand-assembled messages and against pysnmp's encoder and decoder as an independent oracle, both
ways. The v3 encoder says where the HMAC goes; the community never shows in a repr."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto import api

from plugins.dark_fibre_health.codec import snmp
from plugins.dark_fibre_health.codec.snmp import (
    CommunityMessage,
    HeaderData,
    Pdu,
    ScopedPdu,
    SnmpDecodeError,
    SnmpValue,
    UsmSecurityParameters,
    V3Message,
    VarBind,
    format_oid,
    parse_oid,
)

P = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
SYS_DESCR = (1, 3, 6, 1, 2, 1, 1, 1, 0)


def test_oid_text_both_ways():
    assert parse_oid("1.3.6.1.2.1.1.1.0") == SYS_DESCR
    assert parse_oid(".1.3.6.1.2.1.1.1.0") == SYS_DESCR
    assert format_oid(SYS_DESCR) == "1.3.6.1.2.1.1.1.0"
    for bad in ("", "1", "1.3.x", "1..3", "1.3.-1", "1.3.4294967296"):
        with pytest.raises(ValueError):
            parse_oid(bad)


def test_get_request_byte_for_byte():
    """A v2c GetRequest for sysDescr.0 with community "public" and request id 1, as assembled by hand."""
    message = CommunityMessage("2c", b"public", Pdu.get(1, [SYS_DESCR]))
    expected = bytes.fromhex(
        "3026" "020101" "04067075626c6963"  # message: version 2c, community
        "a019" "020101" "020100" "020100"  # GetRequest: request id, error status, error index
        "300e" "300c" "06082b06010201010100" "0500")  # varbind list: sysDescr.0 = NULL
    assert snmp.encode_community_message(message) == expected
    assert snmp.decode_message(expected) == message


def test_community_is_not_in_repr():
    message = CommunityMessage("2c", b"s3cret-community", Pdu.get(1, [SYS_DESCR]))
    assert "s3cret" not in repr(message)


@pytest.mark.parametrize("value", [
    SnmpValue("integer", -5), SnmpValue("integer", 2**31 - 1), snmp.octets(b"\x00\xffbytes"),
    SnmpValue("null"), SnmpValue("oid", (1, 3, 6, 1, 4, 1, 9)), SnmpValue("ipaddress", b"\xc0\xa8\x01\x01"),
    SnmpValue("counter32", 2**32 - 1), SnmpValue("gauge32", 1000), SnmpValue("timeticks", 8640000),
    SnmpValue("opaque", b"\x9f\x78\x04\x42\xf6\x00\x00"), SnmpValue("counter64", 2**64 - 1),
    SnmpValue("no_such_object"), SnmpValue("no_such_instance"), SnmpValue("end_of_mib_view"),
])
def test_every_value_type_round_trips_and_pysnmp_agrees(value):
    """Each value type in a Response: our bytes decode with pysnmp to the same message and re-encode to
    the same bytes, and decode back to the same value here."""
    pdu = Pdu("response", 321, (VarBind((1, 3, 6, 1, 2, 1, 1, 5, 0), value),))
    data = snmp.encode_community_message(CommunityMessage("2c", b"public", pdu))
    theirs, rest = decoder.decode(data, asn1Spec=P.Message())
    assert rest == b""
    assert encoder.encode(theirs) == data
    assert snmp.decode_message(data).pdu == pdu


def test_pysnmp_bulk_request_decodes_here():
    """A GetBulkRequest as pysnmp encodes it reads as one here, with its non-repeaters and repetitions."""
    pdu = P.GetBulkRequestPDU()
    P.apiBulkPDU.set_defaults(pdu)
    P.apiBulkPDU.set_request_id(pdu, 99)
    P.apiBulkPDU.set_non_repeaters(pdu, 1)
    P.apiBulkPDU.set_max_repetitions(pdu, 10)
    P.apiBulkPDU.set_varbinds(pdu, [((1, 3, 6, 1, 2, 1, 1, 3, 0), P.Null("")), ((1, 3, 6, 1, 2, 1, 2), P.Null(""))])
    message = P.Message()
    P.apiMessage.set_defaults(message)
    P.apiMessage.set_community(message, "private")
    P.apiMessage.set_pdu(message, pdu)
    data = encoder.encode(message)
    ours = snmp.decode_message(data)
    assert ours == CommunityMessage("2c", b"private", Pdu.get_bulk(
        99, [(1, 3, 6, 1, 2, 1, 1, 3, 0), (1, 3, 6, 1, 2, 1, 2)], non_repeaters=1, max_repetitions=10))
    assert ours.pdu.non_repeaters == 1 and ours.pdu.max_repetitions == 10
    assert snmp.encode_community_message(ours) == data


@given(st.lists(st.tuples(st.lists(st.integers(0, 2**32 - 1), max_size=20),
                          st.one_of(st.integers(-(2**31), 2**31 - 1).map(lambda v: SnmpValue("integer", v)),
                                    st.binary(max_size=64).map(snmp.octets),
                                    st.integers(0, 2**64 - 1).map(lambda v: SnmpValue("counter64", v)),
                                    st.integers(0, 2**32 - 1).map(lambda v: SnmpValue("gauge32", v)))),
                max_size=20),
       st.integers(-(2**31), 2**31 - 1))
@settings(max_examples=100)
def test_responses_round_trip_through_pysnmp(items, request_id):
    varbinds = tuple(VarBind((1, 3, 6, *arcs), value) for arcs, value in items)
    data = snmp.encode_community_message(CommunityMessage("2c", b"c", Pdu("response", request_id, varbinds)))
    theirs, _ = decoder.decode(data, asn1Spec=P.Message())
    their_pdu = P.apiMessage.get_pdu(theirs)
    # pyasn1 writes -128 and its like with a redundant sign octet, so compare values, not bytes.
    assert int(P.apiPDU.get_request_id(their_pdu)) == request_id
    assert [(tuple(oid), int(value) if value.tagSet[0][2] != 4 else bytes(value))
            for oid, value in P.apiPDU.get_varbinds(their_pdu)] == [(vb.oid, vb.value.value) for vb in varbinds]
    assert snmp.decode_message(data).pdu.varbinds == varbinds


def test_values_are_checked_when_made():
    for kind, value in [("integer", 2**31), ("counter32", -1), ("ipaddress", b"\x01\x02\x03"), ("null", 0),
                        ("octets", "text"), ("nonsense", None)]:
        with pytest.raises(ValueError):
            SnmpValue(kind, value)


def test_v1_message_cannot_carry_getbulk():
    data = snmp.encode_community_message(CommunityMessage("1", b"public", Pdu.get_bulk(1, [SYS_DESCR])))
    with pytest.raises(SnmpDecodeError, match="SNMPv1"):
        snmp.decode_message(data)


def test_response_answers_its_request():
    request = Pdu.get_next(55, [SYS_DESCR])
    response = request.response([VarBind(SYS_DESCR, snmp.octets("x"))], error_status=0)
    assert (response.kind, response.request_id) == ("response", 55)
    assert snmp.decode_pdu(response.encode()) == response


def _v3(scoped: ScopedPdu | None = None, encrypted: bytes | None = None, auth: bytes = bytes(12)) -> V3Message:
    return V3Message(HeaderData(1234, flags=snmp.FLAG_AUTH | snmp.FLAG_REPORTABLE | (
        snmp.FLAG_PRIV if encrypted is not None else 0)),
        UsmSecurityParameters(b"\x80\x00\x1f\x88\x80abc", 2, 3000, b"ops", auth, b"\x01" * 8 if encrypted else b""),
        scoped, encrypted)


def test_v3_message_round_trips_and_knows_where_the_hmac_goes():
    """Encoding tells where the auth parameters' content starts; decoding records the same offset."""
    message = _v3(ScopedPdu(b"\x80\x00\x1f\x88\x80abc", b"", Pdu.get(1234, [SYS_DESCR])), auth=b"\xaa" * 12)
    data, offset = snmp.encode_v3_with_offset(message)
    assert data[offset:offset + 12] == b"\xaa" * 12
    decoded = snmp.decode_message(data)
    assert decoded == message
    assert decoded.auth_offset == offset
    assert decoded.header.auth and decoded.header.reportable and not decoded.header.priv


def test_v3_encrypted_message_keeps_its_ciphertext():
    message = _v3(encrypted=b"\x13" * 40)
    decoded = snmp.decode_message(snmp.encode_v3_message(message))
    assert decoded.encrypted_pdu == b"\x13" * 40 and decoded.scoped_pdu is None


@pytest.mark.parametrize(("flags", "complaint"), [(0x02, "privacy without authentication")])
def test_v3_flags_are_checked(flags, complaint):
    message = V3Message(HeaderData(1, flags=flags), UsmSecurityParameters(), encrypted_pdu=b"x")
    with pytest.raises(SnmpDecodeError, match=complaint):
        snmp.decode_message(snmp.encode_v3_message(message))


def test_v3_other_security_model_is_refused():
    message = V3Message(HeaderData(1, security_model=2), UsmSecurityParameters(),
                        ScopedPdu(b"", b"", Pdu.get(1, [])))
    with pytest.raises(SnmpDecodeError, match="not USM"):
        snmp.decode_message(snmp.encode_v3_message(message))


def test_report_names():
    assert snmp.report_name(snmp.NOT_IN_TIME_WINDOWS) == "notInTimeWindows"
    assert snmp.report_name((1, 3, 6, 1, 9)) == "1.3.6.1.9"
