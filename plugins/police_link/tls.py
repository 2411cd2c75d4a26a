"""Mutual TLS for the police link: the hub's client side (the force's certificate trusted by its CA, by its
pinned SHA-256 fingerprint, or both) and the force end's server side (a client certificate required, issued by
the configured CA, optionally pinned), each presenting its own certificate; TLS 1.2 at least.

Files are checked when the options are made, so a bad setting is a clear ``TlsSetupError`` at start-up rather
than a failed handshake later: a file missing or unreadable, not PEM, a key that is not the certificate's, a
key others may read, a certificate out of its validity (when ``now`` is given; OpenSSL checks the peer's
validity at each handshake against the system clock). A certificate the peer presents and we refuse ends the
connection with a ``CertificateRefused`` reason that says why. No message names a key's content.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from OpenSSL import SSL, crypto
from service_identity import CertificateError, VerificationError
from service_identity.hazmat import DNS_ID, IPAddress_ID, verify_service_identity
from service_identity.pyopenssl import extract_patterns
from twisted.internet.abstract import isIPAddress, isIPv6Address
from twisted.internet.interfaces import (
    IOpenSSLClientConnectionCreator,
    IOpenSSLContextFactory,
    IOpenSSLServerConnectionCreator,
)
from twisted.python.failure import Failure
from zope.interface import implementer

from plugins.police_link.config import normalise_fingerprint

#: Ciphers for TLS 1.2 (1.3 has its own, all good): forward secrecy and AEAD only.
CIPHERS_TLS12 = b"ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL:!MD5:!DSS"

# OpenSSL's X509_V_ERR_* codes we explain in words.
_VERIFY_ERRORS = {
    2: "its issuer's certificate is not among the trusted ones",
    7: "its signature does not verify",
    9: "it is not valid yet",
    10: "it has expired",
    18: "it is self-signed and not trusted",
    19: "its chain ends in a self-signed certificate that is not trusted",
    20: "it was not issued by a trusted CA",
    21: "it was not issued by a trusted CA",
    24: "its issuer is not a CA",
    26: "it is not meant for this use (extended key usage)",
    27: "its issuer is not trusted",
    28: "its issuer is not trusted for this use",
}
_VALIDITY_ERRORS = frozenset({9, 10})


class TlsSetupError(ValueError):
    """A certificate, key or CA file cannot be used as set: the message says which file and what to do."""


class CertificateRefused(Exception):
    """The peer's certificate was refused during the handshake: the reason a connection is lost with."""


def client_tls(
    *,
    hostname: str,
    client_certificate: Path,
    client_key: Path,
    ca_certificate: Path | None = None,
    server_fingerprint: str | None = None,
    now: datetime | None = None,
) -> IOpenSSLClientConnectionCreator:
    """TLS options for the hub's connection to the force.

    The force's certificate must be issued by ``ca_certificate`` and carry ``hostname`` (a DNS name or an IP
    address), or have the SHA-256 fingerprint ``server_fingerprint`` (then it may be self-signed, and names
    are not checked), or both when both are given. The hub presents ``client_certificate``. With ``now``, the
    hub's own certificate and the CA must be valid then.
    """
    if ca_certificate is None and server_fingerprint is None:
        raise TlsSetupError("the force's certificate must be trusted by a CA certificate, a pinned fingerprint or both")
    pin = _pin(server_fingerprint, "server_fingerprint") if server_fingerprint is not None else None
    context = _context(client_certificate, client_key, now=now)
    trusted = _load_certificates(Path(ca_certificate), "CA certificate", now=now) if ca_certificate else None
    if trusted:
        _trust(context, trusted)
    if not isinstance(hostname, str) or not hostname:
        raise TlsSetupError("the force's host name (or address) to verify its certificate against is missing")
    return _ClientCreator(context, hostname=hostname, by_ca=trusted is not None, pins=(pin,) if pin else ())


def server_tls(
    *,
    certificate: Path,
    key: Path,
    client_ca: Path,
    client_fingerprints: tuple[str, ...] = (),
    now: datetime | None = None,
) -> Any:
    """TLS options for the force end: presents ``certificate``; requires a client certificate issued by
    ``client_ca`` and valid now, and, when ``client_fingerprints`` are given, one of those.

    The result is an ``IOpenSSLServerConnectionCreator`` and an ``IOpenSSLContextFactory`` (``getContext``), for
    endpoints, ``listenSSL`` and autobahn alike.
    """
    pins = tuple(_pin(value, "client fingerprint") for value in client_fingerprints)
    context = _context(certificate, key, now=now)
    trusted = _load_certificates(Path(client_ca), "client CA certificate", now=now)
    _trust(context, trusted)
    for authority in trusted:
        context.add_client_ca(authority)  # named in the certificate request, so a client picks the right one
    creator = _ServerCreator(context, pins=pins)
    context.set_verify(_REQUIRE_PEER | SSL.VERIFY_CLIENT_ONCE, creator.verifier(None))
    return creator


def peer_fingerprint(transport: Any) -> str | None:
    """The SHA-256 fingerprint (``AB:CD:...``) of the certificate the peer presented on a TLS ``transport``;
    None when there is none (not TLS, or the handshake has not finished)."""
    getter = getattr(transport, "getPeerCertificate", None) or getattr(transport, "get_peer_certificate", None)
    if getter is None:
        return None
    try:
        certificate = getter()
    except (SSL.Error, AttributeError, TypeError):
        return None
    if certificate is None:
        return None
    if isinstance(certificate, crypto.X509):
        certificate = certificate.to_cryptography()
    return _fingerprint(certificate)


# --- connection creators ------------------------------------------------------------------------------------

_REQUIRE_PEER = SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT
_Verifier = Callable[[SSL.Connection, crypto.X509, int, int, int], bool]


@implementer(IOpenSSLClientConnectionCreator)
class _ClientCreator:
    def __init__(self, context: SSL.Context, *, hostname: str, by_ca: bool, pins: tuple[str, ...]) -> None:
        self._context = context
        self._by_ca = by_ca
        self._pins = pins
        self.hostname = hostname
        if isIPAddress(hostname) or isIPv6Address(hostname):
            self._identity: Any = IPAddress_ID(hostname)
            self._server_name: bytes | None = None  # SNI carries names only
        else:
            ascii_name = hostname.encode("idna").decode("ascii")
            self._identity = DNS_ID(ascii_name)
            self._server_name = ascii_name.encode("ascii")

    def __repr__(self) -> str:
        trust = " and ".join(([ "CA"] if self._by_ca else []) + (["pinned fingerprint"] if self._pins else []))
        return f"<client_tls for {self.hostname} trusting the server by {trust}>"

    def clientConnectionForTLS(self, tlsProtocol: Any) -> SSL.Connection:
        connection = SSL.Connection(self._context, None)
        if self._server_name is not None:
            connection.set_tlsext_host_name(self._server_name)
        connection.set_verify(_REQUIRE_PEER, _verifier(
            tlsProtocol, who="the force's", by_ca=self._by_ca, pins=self._pins,
            identity=self._identity if self._by_ca else None, hostname=self.hostname))
        return connection


@implementer(IOpenSSLServerConnectionCreator, IOpenSSLContextFactory)
class _ServerCreator:
    def __init__(self, context: SSL.Context, *, pins: tuple[str, ...]) -> None:
        self._context = context
        self._pins = pins

    def __repr__(self) -> str:
        pinned = f", {len(self._pins)} pinned client fingerprint(s)" if self._pins else ""
        return f"<server_tls requiring a client certificate from the client CA{pinned}>"

    def verifier(self, protocol: Any) -> _Verifier:
        return _verifier(protocol, who="the client", by_ca=True, pins=self._pins, identity=None, hostname=None)

    def getContext(self) -> SSL.Context:
        return self._context

    def serverConnectionForTLS(self, tlsProtocol: Any) -> SSL.Connection:
        connection = SSL.Connection(self._context, None)
        # Per connection, so that a refusal reaches the protocol with its reason.
        connection.set_verify(_REQUIRE_PEER | SSL.VERIFY_CLIENT_ONCE, self.verifier(tlsProtocol))
        return connection


def _verifier(
    protocol: Any, *, who: str, by_ca: bool, pins: tuple[str, ...], identity: Any, hostname: str | None
) -> _Verifier:
    """OpenSSL's verify callback: called for each certificate of the peer's chain, the peer's own (depth 0)
    last. Never raises (an exception in an OpenSSL callback is lost): anything unexpected refuses."""
    refused: list[str] = []

    def refuse(reason: str) -> bool:
        # Only a verifier of one connection remembers (a context's is shared by every connection). OpenSSL,
        # told False, ends the handshake with an alert the peer can read ("bad certificate", "unknown CA"),
        # where failVerification would drop the line unexplained; the reason our side gives its protocol is
        # put where TLSMemoryBIOProtocol keeps the first reason for connectionLost.
        if protocol is not None and not refused:
            refused.append(reason)
            if getattr(protocol, "_reason", False) is None:
                protocol._reason = Failure(CertificateRefused(reason))
        return False

    def verify(_connection: SSL.Connection, certificate: crypto.X509, error: int, depth: int, ok: int) -> bool:
        try:
            if refused:
                return False
            if by_ca:
                if not ok:
                    subject = "" if depth == 0 else f" (its chain, {depth} up)"
                    return refuse(f"{who} certificate{subject} is refused: "
                                  f"{_VERIFY_ERRORS.get(error, f'OpenSSL verify error {error}')}")
                if depth != 0:
                    return True
            else:
                # Pinned alone: the chain (if any) is not ours to judge; the certificate's validity is.
                if depth != 0:
                    return True
                if not ok and error in _VALIDITY_ERRORS:
                    return refuse(f"{who} certificate is refused: {_VERIFY_ERRORS[error]}")
            cryptography_certificate = certificate.to_cryptography()
            if pins:
                seen = _fingerprint(cryptography_certificate)
                if seen not in pins:
                    return refuse(f"{who} certificate has SHA-256 fingerprint {seen}, not the pinned "
                                  + " or ".join(pins))
            if identity is not None:
                try:
                    verify_service_identity(extract_patterns(certificate), [identity], [])
                except (VerificationError, CertificateError):
                    return refuse(f"{who} certificate is not for {hostname} (it names "
                                  f"{_names(cryptography_certificate)})")
            return True
        except Exception as problem:  # noqa: BLE001 - see the docstring
            return refuse(f"{who} certificate could not be checked ({type(problem).__name__})")

    return verify


def _names(certificate: x509.Certificate) -> str:
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        listed = [str(name.value) for name in names]
    except x509.ExtensionNotFound:
        listed = []
    return ", ".join(listed) or "no subject alternative name"


# --- loading and checking files -----------------------------------------------------------------------------


def _context(certificate_path: Path, key_path: Path, *, now: datetime | None) -> SSL.Context:
    chain = _load_certificates(Path(certificate_path), "certificate", now=now)
    key = _load_key(Path(key_path))
    if _public_der(key.public_key()) != _public_der(chain[0].public_key()):
        raise TlsSetupError(f"{key_path} is not the key of the certificate {certificate_path} "
                            "(each certificate goes with the key it was issued for)")
    context = SSL.Context(SSL.TLS_METHOD)
    context.set_min_proto_version(SSL.TLS1_2_VERSION)
    context.set_options(SSL.OP_NO_COMPRESSION | SSL.OP_NO_TICKET | SSL.OP_CIPHER_SERVER_PREFERENCE
                        | SSL.OP_NO_RENEGOTIATION)
    context.set_cipher_list(CIPHERS_TLS12)
    context.set_session_cache_mode(SSL.SESS_CACHE_OFF)
    context.set_session_id(b"police-link")
    context.use_certificate(chain[0])
    context.use_privatekey(key)
    for extra in chain[1:]:
        context.add_extra_chain_cert(extra)
    context.check_privatekey()
    return context


def _trust(context: SSL.Context, authorities: Sequence[x509.Certificate]) -> None:
    store = context.get_cert_store()
    assert store is not None
    for authority in authorities:
        store.add_cert(crypto.X509.from_cryptography(authority))
    context.set_verify_depth(4)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise TlsSetupError(f"{what} {path} does not exist") from None
    except IsADirectoryError:
        raise TlsSetupError(f"{what} {path} is a directory, not a PEM file") from None
    except PermissionError:
        raise TlsSetupError(f"{what} {path} cannot be read by this user (uid {os.getuid()})") from None
    except OSError as error:
        raise TlsSetupError(f"{what} {path} cannot be read: {error.strerror}") from None


def _load_certificates(path: Path, what: str, *, now: datetime | None) -> list[x509.Certificate]:
    data = _read(path, what)
    if b"-----BEGIN CERTIFICATE-----" not in data:
        hint = " (it holds a private key: certificate and key files swapped?)" if b"PRIVATE KEY-----" in data else ""
        raise TlsSetupError(f"{what} {path} is not a PEM certificate (no BEGIN CERTIFICATE block){hint}")
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError as error:
        raise TlsSetupError(f"{what} {path} is not a readable PEM certificate: {error}") from None
    if now is not None:
        if now.tzinfo is None:
            raise TlsSetupError("now must carry a time zone")
        for certificate in certificates:
            name = certificate.subject.rfc4514_string() or "(no subject)"
            if now < certificate.not_valid_before_utc:
                raise TlsSetupError(f"{what} {path} ({name}) is not valid until "
                                    f"{certificate.not_valid_before_utc.isoformat()}")
            if now > certificate.not_valid_after_utc:
                raise TlsSetupError(f"{what} {path} ({name}) expired on {certificate.not_valid_after_utc.isoformat()}")
    return certificates


def _load_key(path: Path) -> Any:
    data = _read(path, "key")
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if mode & 0o077:
        raise TlsSetupError(f"key {path} may be read by others than its owner (mode {mode:04o}): "
                            f"run `chmod 600 {path}`")
    if b"-----BEGIN" not in data or b"PRIVATE KEY-----" not in data:
        hint = " (it holds a certificate: certificate and key files swapped?)" if b"CERTIFICATE-----" in data else ""
        raise TlsSetupError(f"key {path} is not a PEM private key{hint}")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise TlsSetupError(f"key {path} is encrypted: give the key unencrypted, readable by its owner alone") from None
    except (ValueError, Exception) as error:  # noqa: BLE001 - cryptography's errors name no secret
        raise TlsSetupError(f"key {path} is not a readable PEM private key ({type(error).__name__})") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
                      | ed448.Ed448PrivateKey):
        raise TlsSetupError(f"key {path} is of a kind TLS cannot use here ({type(key).__name__})")
    return key


def _pin(value: str, what: str) -> str:
    digits = value.replace(":", "") if isinstance(value, str) else ""
    if len(digits) != 64 or any(character not in "0123456789abcdefABCDEF" for character in digits):
        raise TlsSetupError(f"{what} {value!r} is not a SHA-256 fingerprint (32 hex pairs, AB:CD:...)")
    return normalise_fingerprint(value)


def _fingerprint(certificate: x509.Certificate) -> str:
    der = certificate.public_bytes(serialization.Encoding.DER)
    return ":".join(f"{byte:02X}" for byte in hashlib.sha256(der).digest())


def _public_der(public: Any) -> bytes:
    return public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
