"""SNMP messages, pure: OIDs, values and varbinds; the PDUs of RFC 3416; v1/v2c community messages and v3
messages (RFC 3412) with USM security parameters (RFC 3414) and a plaintext or encrypted scoped PDU.

Both sides are here: a manager encodes requests and decodes responses and reports, an agent (the simulator)
decodes requests and encodes responses. Authentication and privacy are in ``usm``; this module only puts the
fields where they belong. Decoding raises only ``SnmpDecodeError``.
"""

from __future__ import annotations

from typing import Literal

from attrs import field, frozen

from plugins.dark_fibre_health.codec import ber
from plugins.dark_fibre_health.codec.ber import SnmpDecodeError

__all__ = [
    "OID",
    "CommunityMessage",
    "HeaderData",
    "Pdu",
    "ScopedPdu",
    "SnmpDecodeError",
    "SnmpValue",
    "UsmSecurityParameters",
    "V3Message",
    "VarBind",
    "decode_message",
    "encode_community_message",
    "encode_v3_message",
    "format_oid",
    "parse_oid",
]

OID = tuple[int, ...]

VERSION_1, VERSION_2C, VERSION_3 = 0, 1, 3
SECURITY_MODEL_USM = 3
FLAG_AUTH, FLAG_PRIV, FLAG_REPORTABLE = 0x01, 0x02, 0x04
#: The largest message this side accepts, announced as msgMaxSize.
MAX_MESSAGE_SIZE = 65507
MAX_ENGINE_ID = 32
MAX_USER_NAME = 32
MAX_AUTH_PARAMS = 64  # HMAC-SHA-512's 48 octets, with room
MAX_VARBINDS = 5000

# Error statuses (RFC 3416 section 3).
NO_ERROR, TOO_BIG, NO_SUCH_NAME, BAD_VALUE, READ_ONLY, GEN_ERR = range(6)
ERROR_NAMES = ("noError", "tooBig", "noSuchName", "badValue", "readOnly", "genErr", "noAccess",
               "wrongType", "wrongLength", "wrongEncoding", "wrongValue", "noCreation", "inconsistentValue",
               "resourceUnavailable", "commitFailed", "undoFailed", "authorizationError", "notWritable",
               "inconsistentName")

# Report OIDs (usmStats, RFC 3414 section 5; snmpMPDStats and contexts, RFC 3412 / 3413).
USM_STATS = (1, 3, 6, 1, 6, 3, 15, 1, 1)
UNSUPPORTED_SEC_LEVELS = USM_STATS + (1, 0)
NOT_IN_TIME_WINDOWS = USM_STATS + (2, 0)
UNKNOWN_USER_NAMES = USM_STATS + (3, 0)
UNKNOWN_ENGINE_IDS = USM_STATS + (4, 0)
WRONG_DIGESTS = USM_STATS + (5, 0)
DECRYPTION_ERRORS = USM_STATS + (6, 0)
UNKNOWN_SECURITY_MODELS = (1, 3, 6, 1, 6, 3, 11, 2, 1, 1, 0)
UNAVAILABLE_CONTEXTS = (1, 3, 6, 1, 6, 3, 12, 1, 4, 0)
UNKNOWN_CONTEXTS = (1, 3, 6, 1, 6, 3, 12, 1, 5, 0)
REPORT_NAMES = {
    UNSUPPORTED_SEC_LEVELS: "unsupportedSecLevels",
    NOT_IN_TIME_WINDOWS: "notInTimeWindows",
    UNKNOWN_USER_NAMES: "unknownUserNames",
    UNKNOWN_ENGINE_IDS: "unknownEngineIDs",
    WRONG_DIGESTS: "wrongDigests",
    DECRYPTION_ERRORS: "decryptionErrors",
    UNKNOWN_SECURITY_MODELS: "unknownSecurityModels",
    UNAVAILABLE_CONTEXTS: "unavailableContexts",
    UNKNOWN_CONTEXTS: "unknownContexts",
}


def parse_oid(text: str) -> OID:
    """``"1.3.6.1.2.1.1.1.0"`` (a leading dot allowed) as a tuple of ints."""
    digits = text.removeprefix(".")
    try:
        oid = tuple(int(part) for part in digits.split("."))
    except ValueError:
        raise ValueError(f"not a numeric OID: {text!r}") from None
    if len(oid) < 2 or any(arc < 0 or arc > ber.MAX_SUBID for arc in oid) or len(oid) > ber.MAX_OID_ARCS:
        raise ValueError(f"not a numeric OID: {text!r}")
    return oid


def format_oid(oid: OID) -> str:
    return ".".join(map(str, oid))


# --- Values ----------------------------------------------------------------------------------------

ValueKind = Literal["integer", "octets", "null", "oid", "ipaddress", "counter32", "gauge32", "timeticks",
                    "opaque", "counter64", "no_such_object", "no_such_instance", "end_of_mib_view"]

_KIND_TAGS = {
    "integer": ber.INTEGER, "octets": ber.OCTET_STRING, "null": ber.NULL, "oid": ber.OBJECT_IDENTIFIER,
    "ipaddress": ber.IP_ADDRESS, "counter32": ber.COUNTER32, "gauge32": ber.GAUGE32,
    "timeticks": ber.TIMETICKS, "opaque": ber.OPAQUE, "counter64": ber.COUNTER64,
    "no_such_object": ber.NO_SUCH_OBJECT, "no_such_instance": ber.NO_SUCH_INSTANCE,
    "end_of_mib_view": ber.END_OF_MIB_VIEW,
}
_TAG_KINDS = {tag: kind for kind, tag in _KIND_TAGS.items()}
_UNSIGNED_BITS = {"counter32": 32, "gauge32": 32, "timeticks": 32, "counter64": 64}
_EMPTY_KINDS = frozenset({"null", "no_such_object", "no_such_instance", "end_of_mib_view"})
#: Kinds that say "no value here" in a response (RFC 3416 exceptions).
EXCEPTION_KINDS = frozenset({"no_such_object", "no_such_instance", "end_of_mib_view"})


def _check_value(instance: SnmpValue, _attribute: object, value: object) -> None:
    kind = instance.kind
    if kind in _EMPTY_KINDS:
        ok = value is None
    elif kind in ("octets", "opaque"):
        ok = isinstance(value, bytes)
    elif kind == "ipaddress":
        ok = isinstance(value, bytes) and len(value) == 4
    elif kind == "oid":
        ok = isinstance(value, tuple) and all(isinstance(arc, int) for arc in value)
    elif kind == "integer":
        ok = isinstance(value, int) and -(2**31) <= value < 2**31
    else:
        ok = isinstance(value, int) and 0 <= value < 1 << _UNSIGNED_BITS[kind]
    if not ok:
        raise ValueError(f"{value!r} is not a valid {kind} value")


@frozen
class SnmpValue:
    """A varbind's value: ``kind`` names the SMI type, ``value`` is an int (integer and the unsigned
    types), bytes (octets, opaque, ipaddress's four octets), an OID tuple, or None (null and the three
    exceptions)."""

    kind: ValueKind = field(validator=lambda i, a, v: _kind_known(v))
    value: int | bytes | OID | None = field(default=None, validator=_check_value)

    @property
    def is_exception(self) -> bool:
        return self.kind in EXCEPTION_KINDS

    def encode(self) -> bytes:
        kind, value = self.kind, self.value
        tag = _KIND_TAGS[kind]
        if kind in _EMPTY_KINDS:
            return ber.encode_null(tag)
        if kind == "integer":
            return ber.encode_integer(value)  # type: ignore[arg-type]
        if kind in _UNSIGNED_BITS:
            return ber.encode_unsigned(tag, value, _UNSIGNED_BITS[kind])  # type: ignore[arg-type]
        if kind == "oid":
            return ber.encode_oid(value)  # type: ignore[arg-type]
        return ber.encode_octets(value, tag)  # type: ignore[arg-type]


def _kind_known(kind: object) -> None:
    if kind not in _KIND_TAGS:
        raise ValueError(f"unknown SNMP value kind {kind!r}")


NULL = SnmpValue("null")


def integer(value: int) -> SnmpValue:
    return SnmpValue("integer", value)


def octets(value: bytes | str) -> SnmpValue:
    return SnmpValue("octets", value.encode() if isinstance(value, str) else value)


@frozen
class VarBind:
    oid: OID
    value: SnmpValue = NULL


def _read_value(reader: ber.Reader) -> SnmpValue:
    tag, start, end = reader.read_tlv()
    kind = _TAG_KINDS.get(tag)
    data = reader.data
    if kind is None:
        raise SnmpDecodeError(f"unknown value tag 0x{tag:02x} at offset {start}")
    if kind in _EMPTY_KINDS:
        if end != start:
            raise SnmpDecodeError(f"{kind} with content at offset {start}")
        return SnmpValue(kind)
    if kind == "integer":
        value = ber.decode_integer(data, start, end)
        if not -(2**31) <= value < 2**31:
            raise SnmpDecodeError(f"INTEGER {value} outside Integer32 at offset {start}")
        return SnmpValue(kind, value)
    if kind in _UNSIGNED_BITS:
        return SnmpValue(kind, ber.decode_unsigned(data, start, end, _UNSIGNED_BITS[kind], kind))
    if kind == "oid":
        return SnmpValue(kind, ber.decode_oid(data, start, end))
    if kind == "ipaddress" and end - start != 4:
        raise SnmpDecodeError(f"IpAddress of {end - start} octets at offset {start}")
    return SnmpValue(kind, data[start:end])


def _encode_varbinds(varbinds: tuple[VarBind, ...]) -> bytes:
    return ber.encode_sequence(*(ber.encode_sequence(ber.encode_oid(vb.oid), vb.value.encode())
                                 for vb in varbinds))


def _read_varbinds(reader: ber.Reader) -> tuple[VarBind, ...]:
    items = reader.enter(ber.SEQUENCE, "the varbind list")
    varbinds = []
    while not items.at_end():
        if len(varbinds) >= MAX_VARBINDS:
            raise SnmpDecodeError(f"more than {MAX_VARBINDS} varbinds")
        item = items.enter(ber.SEQUENCE, "a varbind")
        oid = item.read_oid("a varbind's name")
        value = _read_value(item)
        item.expect_end("a varbind")
        varbinds.append(VarBind(oid, value))
    return tuple(varbinds)


# --- PDUs ------------------------------------------------------------------------------------------

PduKind = Literal["get", "get_next", "response", "set", "get_bulk", "inform", "trap_v2", "report"]
_PDU_TAGS = {"get": 0xA0, "get_next": 0xA1, "response": 0xA2, "set": 0xA3, "get_bulk": 0xA5, "inform": 0xA6,
             "trap_v2": 0xA7, "report": 0xA8}
_TAG_PDUS = {tag: kind for kind, tag in _PDU_TAGS.items()}
REQUEST_KINDS = frozenset({"get", "get_next", "get_bulk", "set", "inform"})


@frozen
class Pdu:
    """One PDU. For ``get_bulk`` the two middle fields are non-repeaters and max-repetitions (RFC 3416
    shares them with error-status and error-index); the properties name them."""

    kind: PduKind
    request_id: int
    varbinds: tuple[VarBind, ...] = ()
    error_status: int = 0
    error_index: int = 0

    @property
    def non_repeaters(self) -> int:
        return self.error_status

    @property
    def max_repetitions(self) -> int:
        return self.error_index

    @classmethod
    def get(cls, request_id: int, oids: tuple[OID, ...] | list[OID]) -> Pdu:
        return cls("get", request_id, tuple(VarBind(oid) for oid in oids))

    @classmethod
    def get_next(cls, request_id: int, oids: tuple[OID, ...] | list[OID]) -> Pdu:
        return cls("get_next", request_id, tuple(VarBind(oid) for oid in oids))

    @classmethod
    def get_bulk(cls, request_id: int, oids: tuple[OID, ...] | list[OID], *, non_repeaters: int = 0,
                 max_repetitions: int = 25) -> Pdu:
        return cls("get_bulk", request_id, tuple(VarBind(oid) for oid in oids), non_repeaters, max_repetitions)

    def response(self, varbinds: tuple[VarBind, ...] | list[VarBind], error_status: int = 0,
                 error_index: int = 0) -> Pdu:
        """The Response to this request (same request id)."""
        return Pdu("response", self.request_id, tuple(varbinds), error_status, error_index)

    def encode(self) -> bytes:
        return ber.encode_sequence(
            ber.encode_integer(self.request_id), ber.encode_integer(self.error_status),
            ber.encode_integer(self.error_index), _encode_varbinds(self.varbinds), tag=_PDU_TAGS[self.kind])


def _read_pdu(reader: ber.Reader) -> Pdu:
    tag = reader.peek_tag()
    kind = _TAG_PDUS.get(tag)
    if kind is None:
        raise SnmpDecodeError(f"unknown or unsupported PDU tag 0x{tag:02x} at offset {reader.pos}")
    body = reader.enter(tag, "a PDU")
    request_id = body.read_bounded("request-id", -(2**31), 2**31 - 1)
    status = body.read_bounded("error-status", 0, 2**31 - 1)
    index = body.read_bounded("error-index", 0, 2**31 - 1)
    varbinds = _read_varbinds(body)
    body.expect_end("a PDU")
    return Pdu(kind, request_id, varbinds, status, index)


def decode_pdu(data: bytes) -> Pdu:
    """A PDU on its own (the content of a scoped PDU, for tests and tools)."""
    reader = ber.Reader(data)
    pdu = _read_pdu(reader)
    reader.expect_end("the PDU")
    return pdu


# --- Community messages (v1, v2c) ------------------------------------------------------------------


@frozen
class CommunityMessage:
    """An SNMPv1 or v2c message. The community is a password: it is never shown by repr."""

    version: Literal["1", "2c"]
    community: bytes = field(repr=False)
    pdu: Pdu


def encode_community_message(message: CommunityMessage) -> bytes:
    version = VERSION_1 if message.version == "1" else VERSION_2C
    return ber.encode_sequence(ber.encode_integer(version), ber.encode_octets(message.community),
                               message.pdu.encode())


# --- SNMPv3 messages -------------------------------------------------------------------------------


@frozen
class HeaderData:
    """msgGlobalData: message id, the sender's largest acceptable message, flags (auth 1, priv 2,
    reportable 4) and the security model (3, USM)."""

    msg_id: int
    max_size: int = MAX_MESSAGE_SIZE
    flags: int = 0
    security_model: int = SECURITY_MODEL_USM

    @property
    def auth(self) -> bool:
        return bool(self.flags & FLAG_AUTH)

    @property
    def priv(self) -> bool:
        return bool(self.flags & FLAG_PRIV)

    @property
    def reportable(self) -> bool:
        return bool(self.flags & FLAG_REPORTABLE)


@frozen
class UsmSecurityParameters:
    """UsmSecurityParameters (RFC 3414 section 2.4): the authoritative engine's id, boots and time, the
    user, the HMAC (``auth_params``) and the privacy salt (``priv_params``)."""

    engine_id: bytes = b""
    engine_boots: int = 0
    engine_time: int = 0
    user_name: bytes = b""
    auth_params: bytes = b""
    priv_params: bytes = b""

    def encode(self) -> bytes:
        return ber.encode_sequence(
            ber.encode_octets(self.engine_id), ber.encode_integer(self.engine_boots),
            ber.encode_integer(self.engine_time), ber.encode_octets(self.user_name),
            ber.encode_octets(self.auth_params), ber.encode_octets(self.priv_params))


@frozen
class ScopedPdu:
    context_engine_id: bytes
    context_name: bytes
    pdu: Pdu

    def encode(self) -> bytes:
        return ber.encode_sequence(ber.encode_octets(self.context_engine_id),
                                   ber.encode_octets(self.context_name), self.pdu.encode())


@frozen
class V3Message:
    """An SNMPv3 message with USM. Exactly one of ``scoped_pdu`` (plaintext) and ``encrypted_pdu``
    (the encrypted scoped PDU's octets) is set. ``auth_offset`` is where the auth parameters' content
    starts in the bytes the message was decoded from (None when it was not decoded), so that ``usm`` can
    check the HMAC over the whole message with that field zeroed."""

    header: HeaderData
    security: UsmSecurityParameters
    scoped_pdu: ScopedPdu | None = None
    encrypted_pdu: bytes | None = field(default=None, repr=False)
    auth_offset: int | None = field(default=None, eq=False, repr=False)


def encode_v3_message(message: V3Message) -> bytes:
    """The message's bytes as given (``auth_params`` is written as it is: zeros for ``usm`` to sign)."""
    return encode_v3_with_offset(message)[0]


def encode_v3_with_offset(message: V3Message) -> tuple[bytes, int]:
    """The message's bytes and the offset of the auth parameters' content in them."""
    header = message.header
    global_data = ber.encode_sequence(ber.encode_integer(header.msg_id), ber.encode_integer(header.max_size),
                                      ber.encode_octets(bytes((header.flags,))),
                                      ber.encode_integer(header.security_model))
    if (message.scoped_pdu is None) == (message.encrypted_pdu is None):
        raise ValueError("a v3 message has either a scoped PDU or an encrypted one")
    if message.scoped_pdu is not None:
        data = message.scoped_pdu.encode()
    else:
        data = ber.encode_octets(message.encrypted_pdu)  # type: ignore[arg-type]
    security = message.security
    # The security parameters' SEQUENCE, built in pieces to know where the auth parameters land.
    before_auth = (ber.encode_octets(security.engine_id) + ber.encode_integer(security.engine_boots)
                   + ber.encode_integer(security.engine_time) + ber.encode_octets(security.user_name))
    auth = ber.encode_octets(security.auth_params)
    after_auth = ber.encode_octets(security.priv_params)
    usm_inner = before_auth + auth + after_auth
    usm_seq_head = bytes((ber.SEQUENCE,)) + ber.encode_length(len(usm_inner))
    usm_octets_head = bytes((ber.OCTET_STRING,)) + ber.encode_length(len(usm_seq_head) + len(usm_inner))
    body = (ber.encode_integer(VERSION_3) + global_data + usm_octets_head + usm_seq_head + usm_inner + data)
    head = bytes((ber.SEQUENCE,)) + ber.encode_length(len(body))
    offset = (len(head) + len(ber.encode_integer(VERSION_3)) + len(global_data) + len(usm_octets_head)
              + len(usm_seq_head) + len(before_auth) + (len(auth) - len(security.auth_params)))
    return head + body, offset


def decode_scoped_pdu(data: bytes, *, allow_trailing: bool = False) -> ScopedPdu:
    """A scoped PDU, such as one just decrypted (``allow_trailing``: block-cipher padding after it)."""
    reader = ber.Reader(data)
    scoped = _read_scoped_pdu(reader)
    if not allow_trailing:
        reader.expect_end("the scoped PDU")
    return scoped


def _read_scoped_pdu(reader: ber.Reader) -> ScopedPdu:
    body = reader.enter(ber.SEQUENCE, "a scoped PDU")
    engine_id = body.read_octets("contextEngineID", max_length=MAX_ENGINE_ID)
    name = body.read_octets("contextName", max_length=255)
    pdu = _read_pdu(body)
    body.expect_end("the scoped PDU")
    return ScopedPdu(engine_id, name, pdu)


def _read_v3(body: ber.Reader) -> V3Message:
    global_data = body.enter(ber.SEQUENCE, "msgGlobalData")
    msg_id = global_data.read_bounded("msgID", 0, 2**31 - 1)
    max_size = global_data.read_bounded("msgMaxSize", 484, 2**31 - 1)
    flags_octets = global_data.read_octets("msgFlags")
    if len(flags_octets) != 1:
        raise SnmpDecodeError(f"msgFlags of {len(flags_octets)} octets")
    flags = flags_octets[0]
    if flags & FLAG_PRIV and not flags & FLAG_AUTH:
        raise SnmpDecodeError("msgFlags asks for privacy without authentication")
    model = global_data.read_bounded("msgSecurityModel", 1, 2**31 - 1)
    global_data.expect_end("msgGlobalData")
    if model != SECURITY_MODEL_USM:
        raise SnmpDecodeError(f"security model {model} is not USM")
    octets_start, octets_end = body.read_expected(ber.OCTET_STRING, "msgSecurityParameters")
    wrapped = ber.Reader(body.data, octets_start, octets_end, body.depth)
    usm = wrapped.enter(ber.SEQUENCE, "UsmSecurityParameters")
    wrapped.expect_end("UsmSecurityParameters")
    engine_id = usm.read_octets("msgAuthoritativeEngineID", max_length=MAX_ENGINE_ID)
    boots = usm.read_bounded("msgAuthoritativeEngineBoots", 0, 2**31 - 1)
    time = usm.read_bounded("msgAuthoritativeEngineTime", 0, 2**31 - 1)
    user = usm.read_octets("msgUserName", max_length=MAX_USER_NAME)
    auth_offset, auth_end = usm.read_expected(ber.OCTET_STRING, "msgAuthenticationParameters")
    if auth_end - auth_offset > MAX_AUTH_PARAMS:
        raise SnmpDecodeError(f"msgAuthenticationParameters of {auth_end - auth_offset} octets")
    priv = usm.read_octets("msgPrivacyParameters", max_length=32)
    usm.expect_end("UsmSecurityParameters")
    security = UsmSecurityParameters(engine_id, boots, time, user, body.data[auth_offset:auth_end], priv)
    header = HeaderData(msg_id, max_size, flags, model)
    if flags & FLAG_PRIV:
        encrypted = body.read_octets("the encrypted scoped PDU")
        body.expect_end("the message")
        return V3Message(header, security, None, encrypted, auth_offset)
    scoped = _read_scoped_pdu(body)
    body.expect_end("the message")
    return V3Message(header, security, scoped, None, auth_offset)


def decode_message(data: bytes) -> CommunityMessage | V3Message:
    """Any SNMP message: v1/v2c with their PDU, or v3 (its scoped PDU still encrypted when private)."""
    reader = ber.Reader(data)
    body = reader.enter(ber.SEQUENCE, "an SNMP message")
    reader.expect_end("the message")
    version = body.read_integer("the SNMP version")
    if version == VERSION_3:
        return _read_v3(body)
    if version not in (VERSION_1, VERSION_2C):
        raise SnmpDecodeError(f"SNMP version {version} is not supported")
    community = body.read_octets("the community", max_length=255)
    pdu = _read_pdu(body)
    body.expect_end("the message")
    if version == VERSION_1 and pdu.kind in ("get_bulk", "inform", "trap_v2", "report"):
        raise SnmpDecodeError(f"{pdu.kind} PDU in an SNMPv1 message")
    return CommunityMessage("1" if version == VERSION_1 else "2c", community, pdu)


def report_name(oid: OID) -> str:
    return REPORT_NAMES.get(oid, format_oid(oid))
