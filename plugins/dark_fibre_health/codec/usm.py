"""The User-based Security Model, pure: keys from passwords, message authentication and privacy, and the
security processing of whole SNMPv3 messages for a manager and for an agent.

- Keys: RFC 3414 password-to-key (a megabyte of the repeated password through the hash) and localisation
  to an engine id, for MD5 and SHA-1, and the same for SHA-2 (RFC 7860).
- Authentication: HMAC over the whole message with the auth field zeroed, truncated to 12 octets (MD5,
  SHA-1), 16 (SHA-224), 24 (SHA-256), 32 (SHA-384) or 48 (SHA-512).
- Privacy: AES in CFB-128 (RFC 3826): the IV is engine boots, engine time and an 8-octet salt sent as the
  privacy parameters. AES-192 and AES-256 need more key than a short hash gives; ``aes192``/``aes256``
  extend it as draft-blumenthal-aes-usm-04 says (Kul = Kul || H(Kul), what net-snmp's AES-192/AES-256 do),
  ``aes192c``/``aes256c`` as draft-reeder (the localised key run through password-to-key and localised
  again), which Cisco devices use.

Keys are bytes here; they never appear in a repr or in an error's text.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from typing import Literal

from attrs import define, field, frozen
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

try:  # CFB moved to the "decrepit" package in cryptography 47; the old place is going away
    from cryptography.hazmat.decrepit.ciphers.modes import CFB
except ImportError:  # pragma: no cover - older cryptography
    from cryptography.hazmat.primitives.ciphers.modes import CFB

from plugins.dark_fibre_health.codec import snmp
from plugins.dark_fibre_health.codec.ber import SnmpDecodeError
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
)

#: Seconds either side of the authoritative engine's clock a message may be (RFC 3414 section 3.2).
TIME_WINDOW_S = 150
#: Largest engine boots value; at it the engine is stuck and a key change is needed.
MAX_BOOTS = 2**31 - 1
_PASSWORD_EXPANSION = 1024 * 1024


@frozen
class AuthProtocol:
    name: str
    hash_name: str
    mac_length: int

    def hash(self, data: bytes) -> bytes:
        return hashlib.new(self.hash_name, data).digest()

    @property
    def key_length(self) -> int:
        return hashlib.new(self.hash_name).digest_size


@frozen
class PrivProtocol:
    name: str
    key_length: int
    extension: Literal["blumenthal", "reeder"] | None = None


AUTH_PROTOCOLS: Mapping[str, AuthProtocol] = {
    "md5": AuthProtocol("md5", "md5", 12),
    "sha": AuthProtocol("sha", "sha1", 12),
    "sha224": AuthProtocol("sha224", "sha224", 16),
    "sha256": AuthProtocol("sha256", "sha256", 24),
    "sha384": AuthProtocol("sha384", "sha384", 32),
    "sha512": AuthProtocol("sha512", "sha512", 48),
}
PRIV_PROTOCOLS: Mapping[str, PrivProtocol] = {
    "aes": PrivProtocol("aes", 16),
    "aes192": PrivProtocol("aes192", 24, "blumenthal"),
    "aes256": PrivProtocol("aes256", 32, "blumenthal"),
    "aes192c": PrivProtocol("aes192c", 24, "reeder"),
    "aes256c": PrivProtocol("aes256c", 32, "reeder"),
}


class UsmError(Exception):
    """A message USM refuses. ``report`` names the usmStats counter the refusal counts in
    (``wrongDigests``, ``decryptionErrors``, ...). The text never holds a key."""

    def __init__(self, report: str, message: str) -> None:
        super().__init__(message)
        self.report = report


# --- Keys ------------------------------------------------------------------------------------------


def password_to_key(auth: AuthProtocol, password: bytes) -> bytes:
    """Ku: the hash of the password repeated to one megabyte (RFC 3414 A.2)."""
    if not password:
        raise ValueError("an empty password gives no key")
    repeated = password * (_PASSWORD_EXPANSION // len(password) + 1)
    return auth.hash(repeated[:_PASSWORD_EXPANSION])


def localize_key(auth: AuthProtocol, key: bytes, engine_id: bytes) -> bytes:
    """Kul: the key bound to one authoritative engine, H(Ku || engineID || Ku)."""
    return auth.hash(key + engine_id + key)


def localize_priv_key(auth: AuthProtocol, priv: PrivProtocol, master: bytes, engine_id: bytes) -> bytes:
    """The privacy key for ``engine_id`` from the priv password's Ku (made with the auth hash), extended
    to the cipher's key length when the hash is shorter, and cut to it."""
    key = localize_key(auth, master, engine_id)
    if priv.extension == "blumenthal":
        while len(key) < priv.key_length:
            key += auth.hash(key)
    elif priv.extension == "reeder":
        while len(key) < priv.key_length:
            key += localize_key(auth, password_to_key(auth, key), engine_id)
    elif len(key) < priv.key_length:
        raise ValueError(f"{auth.name} gives too short a key for {priv.name}")
    return key[:priv.key_length]


@frozen(repr=False)
class UsmKeys:
    """One user's localised keys for one engine. ``auth`` None is noAuthNoPriv; ``priv`` None no privacy."""

    user_name: bytes
    auth: AuthProtocol | None = None
    auth_key: bytes = field(default=b"", repr=False)
    priv: PrivProtocol | None = None
    priv_key: bytes = field(default=b"", repr=False)

    def __attrs_post_init__(self) -> None:
        if self.priv is not None and self.auth is None:
            raise ValueError("privacy needs authentication")

    def __repr__(self) -> str:
        auth = self.auth.name if self.auth else "none"
        priv = self.priv.name if self.priv else "none"
        return f"UsmKeys(user_name={self.user_name!r}, auth={auth}, priv={priv})"

    @property
    def flags(self) -> int:
        return (FLAG_AUTH if self.auth else 0) | (FLAG_PRIV if self.priv else 0)

    @classmethod
    def from_passwords(cls, user_name: bytes, engine_id: bytes, *, auth: str | None = None,
                       auth_password: bytes = b"", priv: str | None = None, priv_password: bytes = b"",
                       master_key: Callable[[AuthProtocol, bytes], bytes] = password_to_key) -> UsmKeys:
        """Keys for ``engine_id``; ``master_key`` lets a caller cache password-to-key, the costly step."""
        if auth is None or auth == "none":
            return cls(user_name)
        auth_protocol = AUTH_PROTOCOLS[auth]
        auth_key = localize_key(auth_protocol, master_key(auth_protocol, auth_password), engine_id)
        if priv is None or priv == "none":
            return cls(user_name, auth_protocol, auth_key)
        priv_protocol = PRIV_PROTOCOLS[priv]
        priv_key = localize_priv_key(auth_protocol, priv_protocol, master_key(auth_protocol, priv_password),
                                     engine_id)
        return cls(user_name, auth_protocol, auth_key, priv_protocol, priv_key)


# --- Authentication and privacy ---------------------------------------------------------------------


def authenticate(auth: AuthProtocol, key: bytes, whole_message: bytes) -> bytes:
    """The HMAC of a message whose auth field is zeroed, truncated to the protocol's length."""
    return hmac.new(key, whole_message, auth.hash_name).digest()[:auth.mac_length]


def _iv(boots: int, time: int, salt: bytes) -> bytes:
    return boots.to_bytes(4, "big") + time.to_bytes(4, "big") + salt


def encrypt(priv: PrivProtocol, key: bytes, boots: int, time: int, salt: bytes, plaintext: bytes) -> bytes:
    """AES-CFB128 with IV = boots || time || salt (RFC 3826 section 3.1.2.1); ``salt`` is 8 octets."""
    if len(salt) != 8:
        raise ValueError("the AES salt is 8 octets")
    encryptor = Cipher(algorithms.AES(key[:priv.key_length]), CFB(_iv(boots, time, salt))).encryptor()
    return encryptor.update(plaintext) + encryptor.finalize()


def decrypt(priv: PrivProtocol, key: bytes, boots: int, time: int, salt: bytes, ciphertext: bytes) -> bytes:
    if len(salt) != 8:
        raise UsmError("decryptionErrors", f"privacy parameters of {len(salt)} octets, expected 8")
    decryptor = Cipher(algorithms.AES(key[:priv.key_length]), CFB(_iv(boots, time, salt))).decryptor()
    return decryptor.update(ciphertext) + decryptor.finalize()


# --- Whole messages --------------------------------------------------------------------------------


def protect(header: HeaderData, security: UsmSecurityParameters, scoped_pdu: ScopedPdu, keys: UsmKeys | None,
            salt: bytes = b"") -> bytes:
    """An outgoing message's bytes: the scoped PDU encrypted when ``header`` asks for privacy (with
    ``salt``), then signed when it asks for authentication. ``security``'s auth and priv parameters are
    filled in here."""
    auth = header.flags & FLAG_AUTH
    priv = header.flags & FLAG_PRIV
    if (auth or priv) and (keys is None or keys.auth is None or (priv and keys.priv is None)):
        raise ValueError("the security level asks for keys this user does not have")
    encrypted = None
    scoped: ScopedPdu | None = scoped_pdu
    priv_params = b""
    if priv:
        encrypted = encrypt(keys.priv, keys.priv_key, security.engine_boots,  # type: ignore[union-attr,arg-type]
                            security.engine_time, salt, scoped_pdu.encode())
        scoped = None
        priv_params = salt
    mac_length = keys.auth.mac_length if auth else 0  # type: ignore[union-attr]
    security = UsmSecurityParameters(security.engine_id, security.engine_boots, security.engine_time,
                                     security.user_name, bytes(mac_length), priv_params)
    data, offset = snmp.encode_v3_with_offset(V3Message(header, security, scoped, encrypted))
    if not auth:
        return data
    mac = authenticate(keys.auth, keys.auth_key, data)  # type: ignore[union-attr,arg-type]
    return data[:offset] + mac + data[offset + mac_length:]


def verify(message: V3Message, data: bytes, keys: UsmKeys) -> None:
    """Checks a decoded message's HMAC (``data`` is what it was decoded from); raises ``UsmError``."""
    auth = keys.auth
    if auth is None:
        raise UsmError("unsupportedSecLevels", "an authenticated message for a user without authentication")
    given = message.security.auth_params
    offset = message.auth_offset
    if offset is None or len(given) != auth.mac_length:
        raise UsmError("wrongDigests", f"authentication parameters of {len(given)} octets, expected "
                                       f"{auth.mac_length} for {auth.name}")
    zeroed = data[:offset] + bytes(len(given)) + data[offset + len(given):]
    if not hmac.compare_digest(authenticate(auth, keys.auth_key, zeroed), given):
        raise UsmError("wrongDigests", "the message's HMAC does not match")


def unprotect(message: V3Message, data: bytes, keys: UsmKeys | None) -> ScopedPdu:
    """The scoped PDU of a received message, after checking its HMAC and decrypting it as its flags say.
    ``keys`` None accepts only noAuthNoPriv messages. Raises ``UsmError``."""
    header = message.header
    if header.auth:
        if keys is None:
            raise UsmError("unsupportedSecLevels", "an authenticated message without a user's keys")
        verify(message, data, keys)
    if header.priv:
        if keys is None or keys.priv is None:
            raise UsmError("unsupportedSecLevels", "an encrypted message for a user without privacy")
        security = message.security
        plaintext = decrypt(keys.priv, keys.priv_key, security.engine_boots, security.engine_time,
                            security.priv_params, message.encrypted_pdu or b"")
        try:
            return snmp.decode_scoped_pdu(plaintext, allow_trailing=True)
        except SnmpDecodeError:
            raise UsmError("decryptionErrors", "the decrypted scoped PDU is not BER") from None
    if message.scoped_pdu is None:
        raise UsmError("decryptionErrors", "no scoped PDU")
    return message.scoped_pdu


# --- Agent side ------------------------------------------------------------------------------------


@frozen
class AgentRequest:
    """A request that passed USM: what to answer and with which keys."""

    message: V3Message
    scoped_pdu: ScopedPdu
    keys: UsmKeys

    @property
    def pdu(self) -> Pdu:
        return self.scoped_pdu.pdu


@define
class UsmAgent:
    """The authoritative side of USM for a simulated agent, pure: ``receive`` takes a datagram and the
    engine's time now (seconds since it booted) and gives an ``AgentRequest`` to answer with ``respond``,
    the bytes of a report to send back (discovery, unknown user, wrong digest, time window, decryption),
    or None to drop it. ``stats`` counts the reports by usmStats name."""

    engine_id: bytes
    users: Mapping[bytes, UsmKeys]
    engine_boots: int = 1
    salt: int = 0
    stats: dict[str, int] = field(factory=dict)

    def _next_salt(self) -> bytes:
        self.salt = (self.salt + 1) % 2**64
        return self.salt.to_bytes(8, "big")

    def receive(self, data: bytes, engine_time: int) -> AgentRequest | bytes | None:
        try:
            message = snmp.decode_message(data)
        except SnmpDecodeError:
            self._count("snmpInASNParseErrs")
            return None
        if not isinstance(message, V3Message):
            return None
        header, security = message.header, message.security
        request_id = message.scoped_pdu.pdu.request_id if message.scoped_pdu else 0
        context = message.scoped_pdu.context_name if message.scoped_pdu else b""
        if security.engine_id != self.engine_id:
            return self._report(message, snmp.UNKNOWN_ENGINE_IDS, request_id, context, None, engine_time)
        keys = self.users.get(security.user_name)
        if keys is None:
            return self._report(message, snmp.UNKNOWN_USER_NAMES, request_id, context, None, engine_time)
        if (header.auth and keys.auth is None) or (header.priv and keys.priv is None):
            return self._report(message, snmp.UNSUPPORTED_SEC_LEVELS, request_id, context, None, engine_time)
        if header.auth:
            try:
                verify(message, data, keys)
            except UsmError:
                return self._report(message, snmp.WRONG_DIGESTS, request_id, context, None, engine_time)
            if (security.engine_boots != self.engine_boots or self.engine_boots == MAX_BOOTS
                    or abs(security.engine_time - engine_time) > TIME_WINDOW_S):
                return self._report(message, snmp.NOT_IN_TIME_WINDOWS, request_id, context, keys, engine_time)
        try:
            scoped = unprotect(message, data, keys)
        except UsmError:
            return self._report(message, snmp.DECRYPTION_ERRORS, request_id, context, None, engine_time)
        if scoped.pdu.kind not in snmp.REQUEST_KINDS:
            return None
        return AgentRequest(message, scoped, keys)

    def respond(self, request: AgentRequest, pdu: Pdu, engine_time: int) -> bytes:
        """The bytes of ``pdu`` (a Response) answering ``request``, at its security level."""
        header = HeaderData(request.message.header.msg_id, snmp.MAX_MESSAGE_SIZE,
                            request.message.header.flags & (FLAG_AUTH | FLAG_PRIV))
        security = UsmSecurityParameters(self.engine_id, self.engine_boots, engine_time, request.keys.user_name)
        scoped = ScopedPdu(self.engine_id, request.scoped_pdu.context_name, pdu)
        salt = self._next_salt() if header.priv else b""
        return protect(header, security, scoped, request.keys, salt)

    def _count(self, name: str) -> int:
        self.stats[name] = self.stats.get(name, 0) + 1
        return self.stats[name]

    def _report(self, message: V3Message, oid: snmp.OID, request_id: int, context: bytes,
                keys: UsmKeys | None, engine_time: int) -> bytes | None:
        count = self._count(snmp.report_name(oid))
        if not message.header.reportable:
            return None
        # notInTimeWindow goes back authenticated so that the manager can trust the clock in it.
        flags = FLAG_AUTH if keys is not None else 0
        header = HeaderData(message.header.msg_id, snmp.MAX_MESSAGE_SIZE, flags)
        security = UsmSecurityParameters(self.engine_id, self.engine_boots, engine_time,
                                         message.security.user_name)
        pdu = Pdu("report", request_id, (VarBind(oid, snmp.SnmpValue("counter32", count % 2**32)),))
        return protect(header, security, ScopedPdu(self.engine_id, context, pdu), keys)


def discovery_request(msg_id: int, request_id: int) -> bytes:
    """The probe that asks an agent for its engine id, boots and time: noAuthNoPriv, reportable, an empty
    engine id and user, and an empty GetRequest (RFC 3414 section 4, RFC 5343)."""
    header = HeaderData(msg_id, snmp.MAX_MESSAGE_SIZE, FLAG_REPORTABLE)
    return protect(header, UsmSecurityParameters(), ScopedPdu(b"", b"", Pdu("get", request_id)), None)
