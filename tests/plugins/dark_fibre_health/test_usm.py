"""USM: keys by RFC 3414's own vectors and by pysnmp as an independent oracle (every auth protocol, the
AES key extensions), HMAC over the whole message, AES-CFB with RFC 3826's IV, and the agent side's reports
(discovery, unknown user, wrong digest, time window, decryption) with a manager's messages."""

from __future__ import annotations

from hashlib import md5, sha1

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyasn1.type import univ
from pysnmp.proto.secmod.rfc3414 import (
    localkey,  # first: pysnmp's eso modules import it circularly
)

from pysnmp.proto.secmod.eso.priv import aes192, aes256  # isort: skip
from pysnmp.proto.secmod.rfc3414.auth import hmacmd5, hmacsha
from pysnmp.proto.secmod.rfc3826.priv import aes as pysnmp_aes
from pysnmp.proto.secmod.rfc7860.auth import hmacsha2

from plugins.dark_fibre_health.codec import snmp, usm
from plugins.dark_fibre_health.codec.snmp import (
    FLAG_AUTH,
    FLAG_PRIV,
    FLAG_REPORTABLE,
    HeaderData,
    Pdu,
    ScopedPdu,
    UsmSecurityParameters,
    V3Message,
    VarBind,
    parse_oid,
)

RFC_ENGINE = bytes.fromhex("000000000000000000000002")
SYS_DESCR = parse_oid("1.3.6.1.2.1.1.1.0")

PYSNMP_AUTH = {
    "md5": (hmacmd5.HmacMd5.SERVICE_ID, md5),
    "sha": (hmacsha.HmacSha.SERVICE_ID, sha1),
    "sha224": (hmacsha2.HmacSha2.SHA224_SERVICE_ID, hmacsha2.HmacSha2.HASH_ALGORITHM[hmacsha2.HmacSha2.SHA224_SERVICE_ID]),
    "sha256": (hmacsha2.HmacSha2.SHA256_SERVICE_ID, hmacsha2.HmacSha2.HASH_ALGORITHM[hmacsha2.HmacSha2.SHA256_SERVICE_ID]),
    "sha384": (hmacsha2.HmacSha2.SAH384_SERVICE_ID, hmacsha2.HmacSha2.HASH_ALGORITHM[hmacsha2.HmacSha2.SAH384_SERVICE_ID]),
    "sha512": (hmacsha2.HmacSha2.SHA512_SERVICE_ID, hmacsha2.HmacSha2.HASH_ALGORITHM[hmacsha2.HmacSha2.SHA512_SERVICE_ID]),
}


def test_rfc_3414_md5_key_vectors():
    """Password "maplesyrup" gives RFC 3414 A.3.1's Ku, and its Kul for engine 00..02."""
    auth = usm.AUTH_PROTOCOLS["md5"]
    ku = usm.password_to_key(auth, b"maplesyrup")
    assert ku.hex() == "9faf3283884e92834ebc9847d8edd963"
    assert usm.localize_key(auth, ku, RFC_ENGINE).hex() == "526f5eed9fcce26f8964c2930787d82b"


def test_rfc_3414_sha_key_vectors():
    """The same for SHA-1 (A.3.2)."""
    auth = usm.AUTH_PROTOCOLS["sha"]
    ku = usm.password_to_key(auth, b"maplesyrup")
    assert ku.hex() == "9fb5cc0381497b3793528939ff788d5d79145211"
    assert usm.localize_key(auth, ku, RFC_ENGINE).hex() == "6695febc9288e36282235fc7151f128497b38f3f"


@pytest.mark.parametrize("name", sorted(PYSNMP_AUTH))
def test_keys_and_hmac_match_pysnmp(name):
    """Every auth protocol's Ku, Kul and truncated HMAC are pysnmp's (RFC 7860 lengths for SHA-2)."""
    auth = usm.AUTH_PROTOCOLS[name]
    _oid, hash_function = PYSNMP_AUTH[name]
    ku = usm.password_to_key(auth, b"a fibre ring password")
    assert ku == localkey.hash_passphrase(b"a fibre ring password", hash_function).asOctets()
    kul = usm.localize_key(auth, ku, b"\x80\x00\x1f\x88\x04engine")
    assert kul == localkey.localize_key(ku, univ.OctetString(b"\x80\x00\x1f\x88\x04engine"), hash_function).asOctets()
    assert auth.key_length == len(kul)
    service = {"md5": hmacmd5.HmacMd5, "sha": hmacsha.HmacSha}.get(name)
    service = service() if service else hmacsha2.HmacSha2(PYSNMP_AUTH[name][0])
    whole = b"\x30\x10" + bytes(auth.mac_length) + b"rest of the message"
    signed = service.authenticate_outgoing_message(univ.OctetString(kul), whole)
    mac = usm.authenticate(auth, kul, whole)
    assert len(mac) == {"md5": 12, "sha": 12, "sha224": 16, "sha256": 24, "sha384": 32, "sha512": 48}[name]
    assert signed == whole[:2] + mac + whole[2 + len(mac):]


@pytest.mark.parametrize("auth_name", ["md5", "sha", "sha256"])
@pytest.mark.parametrize(("priv_name", "oracle"), [
    ("aes192", aes192.AesBlumenthal192), ("aes256", aes256.AesBlumenthal256),
    ("aes192c", aes192.Aes192), ("aes256c", aes256.Aes256),
])
def test_extended_priv_keys_match_pysnmp(auth_name, priv_name, oracle):
    """AES-192/256 keys are extended as Blumenthal's draft says (net-snmp's AES-192/AES-256), and as
    Reeder's for the Cisco variants, as pysnmp does both."""
    auth = usm.AUTH_PROTOCOLS[auth_name]
    priv = usm.PRIV_PROTOCOLS[priv_name]
    engine = b"\x80\x00\x1f\x88\x80node-7"
    master = usm.password_to_key(auth, b"priv password 9")
    ours = usm.localize_priv_key(auth, priv, master, engine)
    theirs = oracle().localize_key(PYSNMP_AUTH[auth_name][0], univ.OctetString(master), univ.OctetString(engine))
    assert len(ours) == priv.key_length
    assert ours == bytes(theirs)


def test_blumenthal_and_reeder_differ_where_the_hash_is_short():
    """With MD5 the two extensions give different keys (choosing the wrong one is a decryption error)."""
    auth = usm.AUTH_PROTOCOLS["md5"]
    master = usm.password_to_key(auth, b"priv password 9")
    blumenthal = usm.localize_priv_key(auth, usm.PRIV_PROTOCOLS["aes256"], master, b"engine")
    reeder = usm.localize_priv_key(auth, usm.PRIV_PROTOCOLS["aes256c"], master, b"engine")
    assert blumenthal[:16] == reeder[:16] and blumenthal != reeder


@given(boots=st.integers(0, 2**31 - 1), time=st.integers(0, 2**31 - 1), salt=st.binary(min_size=8, max_size=8),
       plaintext=st.binary(max_size=300))
@settings(max_examples=50, deadline=None)
def test_aes_cfb_is_what_pysnmp_decrypts(boots, time, salt, plaintext):
    """AES-128-CFB with IV = boots || time || salt: pysnmp decrypts what we encrypt, and we decrypt it back."""
    key = bytes(range(16))
    priv = usm.PRIV_PROTOCOLS["aes"]
    ciphertext = usm.encrypt(priv, key, boots, time, salt, plaintext)
    assert len(ciphertext) == len(plaintext)
    theirs = pysnmp_aes.Aes().decrypt_data(univ.OctetString(key), (boots, time, univ.OctetString(salt)),
                                          univ.OctetString(ciphertext))
    assert theirs == plaintext
    assert usm.decrypt(priv, key, boots, time, salt, ciphertext) == plaintext


def _keys(engine: bytes, user: bytes = b"ops", auth: str = "sha256", priv: str | None = "aes") -> usm.UsmKeys:
    return usm.UsmKeys.from_passwords(user, engine, auth=auth, auth_password=b"auth-secret-1",
                                      priv=priv, priv_password=b"priv-secret-2")


def _request(keys: usm.UsmKeys, engine: bytes, *, boots: int = 1, time: int = 100, msg_id: int = 7,
             flags: int | None = None) -> bytes:
    flags = keys.flags | FLAG_REPORTABLE if flags is None else flags
    return usm.protect(HeaderData(msg_id, flags=flags), UsmSecurityParameters(engine, boots, time, keys.user_name),
                       ScopedPdu(engine, b"", Pdu.get(msg_id, [SYS_DESCR])), keys, salt=b"\x00" * 7 + b"\x01")


@pytest.mark.parametrize("auth", ["md5", "sha", "sha224", "sha256", "sha384", "sha512"])
@pytest.mark.parametrize("priv", [None, "aes", "aes192", "aes256"])
def test_protected_message_round_trips(auth, priv):
    """What protect() signs (and encrypts) unprotect() accepts with the same keys, and the PDU survives."""
    engine = b"\x80\x00\x00\x01\x02"
    keys = _keys(engine, auth=auth, priv=priv)
    data = _request(keys, engine)
    message = snmp.decode_message(data)
    assert message.header.auth and message.header.priv == (priv is not None)
    assert (message.encrypted_pdu is not None) == (priv is not None)
    assert len(message.security.auth_params) == keys.auth.mac_length
    assert usm.unprotect(message, data, keys).pdu == Pdu.get(7, [SYS_DESCR])


def test_tampered_message_fails_its_digest():
    """A flipped bit in the varbind's OID is a wrongDigests refusal."""
    engine = b"engine-a"
    keys = _keys(engine, priv=None)
    data = bytearray(_request(keys, engine))
    data[-3] ^= 0x01  # the last arc of the varbind's OID
    message = snmp.decode_message(bytes(data))
    with pytest.raises(usm.UsmError) as caught:
        usm.unprotect(message, bytes(data), keys)
    assert caught.value.report == "wrongDigests"


def test_keys_never_show_in_repr():
    """UsmKeys names the user and protocols, never the key bytes."""
    keys = _keys(b"engine-a")
    assert "ops" in repr(keys) and "sha256" in repr(keys)
    assert keys.auth_key.hex() not in repr(keys) and repr(keys.priv_key) not in repr(keys)


# --- The agent side ---------------------------------------------------------------------------------

ENGINE = b"\x80\x00\x1f\x88\x80sim-node"


def _agent(**users: usm.UsmKeys) -> usm.UsmAgent:
    return usm.UsmAgent(ENGINE, {name.encode(): keys for name, keys in users.items()}, engine_boots=3)


def _report(data: bytes, keys: usm.UsmKeys | None = None) -> tuple[V3Message, str, bool]:
    message = snmp.decode_message(data)
    scoped = usm.unprotect(message, data, keys)
    assert scoped.pdu.kind == "report"
    return message, snmp.report_name(scoped.pdu.varbinds[0].oid), message.header.auth


def test_discovery_probe_gets_engine_id_boots_and_time():
    """An empty-engine-id probe is answered by an unauthenticated unknownEngineIDs report with the
    engine's id, boots and time."""
    agent = _agent(ops=_keys(ENGINE))
    reply = agent.receive(usm.discovery_request(msg_id=42, request_id=42), engine_time=500)
    message, name, authenticated = _report(reply)
    assert name == "unknownEngineIDs" and not authenticated
    assert message.header.msg_id == 42
    assert (message.security.engine_id, message.security.engine_boots, message.security.engine_time) == (
        ENGINE, 3, 500)


def test_request_in_time_is_answered_at_its_security_level():
    """A good authPriv request comes out as an AgentRequest; the response is encrypted and signed for
    the same user, and carries the request's id."""
    keys = _keys(ENGINE)
    agent = _agent(ops=keys)
    incoming = agent.receive(_request(keys, ENGINE, boots=3, time=510, msg_id=9), engine_time=500)
    assert isinstance(incoming, usm.AgentRequest)
    assert incoming.pdu == Pdu.get(9, [SYS_DESCR])
    reply = agent.respond(incoming, incoming.pdu.response([VarBind(SYS_DESCR, snmp.octets("node"))]), 500)
    message = snmp.decode_message(reply)
    assert message.header.flags == FLAG_AUTH | FLAG_PRIV
    assert message.header.msg_id == 9
    assert usm.unprotect(message, reply, keys).pdu.varbinds == (VarBind(SYS_DESCR, snmp.octets("node")),)


@pytest.mark.parametrize(("sent", "expected"), [
    ({"user": b"nobody"}, "unknownUserNames"),
    ({"auth_password": b"wrong-password"}, "wrongDigests"),
    ({"priv_password": b"wrong-privacy"}, "decryptionErrors"),
])
def test_refusals_are_reported(sent, expected):
    """An unknown user, a wrong auth password and a wrong privacy password each give their report."""
    agent = _agent(ops=_keys(ENGINE))
    manager = usm.UsmKeys.from_passwords(
        sent.get("user", b"ops"), ENGINE, auth="sha256", auth_password=sent.get("auth_password", b"auth-secret-1"),
        priv="aes", priv_password=sent.get("priv_password", b"priv-secret-2"))
    reply = agent.receive(_request(manager, ENGINE, boots=3, time=500), engine_time=500)
    _message, name, authenticated = _report(reply)
    assert name == expected and not authenticated
    assert agent.stats[expected] == 1


def test_time_window_report_is_authenticated_and_carries_the_clock():
    """A request 151 s off the engine's clock is refused with notInTimeWindows, signed with the user's
    key so the manager may trust the boots and time in it."""
    keys = _keys(ENGINE)
    agent = _agent(ops=keys)
    reply = agent.receive(_request(keys, ENGINE, boots=3, time=349), engine_time=500)
    message, name, authenticated = _report(reply, keys)
    assert name == "notInTimeWindows" and authenticated
    assert (message.security.engine_boots, message.security.engine_time) == (3, 500)
    assert isinstance(agent.receive(_request(keys, ENGINE, boots=3, time=350), engine_time=500), usm.AgentRequest)


def test_wrong_boots_is_out_of_the_time_window():
    keys = _keys(ENGINE)
    agent = _agent(ops=keys)
    _message, name, _auth = _report(agent.receive(_request(keys, ENGINE, boots=2, time=500), engine_time=500), keys)
    assert name == "notInTimeWindows"


def test_security_level_the_user_lacks_is_unsupported():
    """authPriv for an authNoPriv user is unsupportedSecLevels."""
    agent = _agent(ops=_keys(ENGINE, priv=None))
    reply = agent.receive(_request(_keys(ENGINE), ENGINE, boots=3, time=500), engine_time=500)
    assert _report(reply)[1] == "unsupportedSecLevels"


def test_unreportable_refusal_and_garbage_are_dropped():
    """Without the reportable flag a refusal is only counted; garbage is dropped."""
    keys = _keys(ENGINE)
    agent = _agent(ops=keys)
    assert agent.receive(_request(keys, ENGINE, boots=3, time=0, flags=keys.flags), engine_time=500) is None
    assert agent.stats["notInTimeWindows"] == 1
    assert agent.receive(b"\x30\x03\x02\x01", engine_time=500) is None
