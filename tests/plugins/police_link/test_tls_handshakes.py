"""Mutual TLS on real sockets on loopback: who ``server_tls`` and ``client_tls`` let in, and who they refuse.

Each scene runs a tiny line echo server with ``server_tls`` and connects to it with ``client_tls``. A refused
client never gets an echo and its connection ends with an SSL error (with TLS 1.3 the client finishes its side
of the handshake before the server has judged its certificate, so it learns of the refusal when it next
reads). A server certificate the client refuses ends the connection with ``CertificateRefused``, saying why.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from OpenSSL import SSL
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import (
    SSL4ServerEndpoint,
    TCP4ClientEndpoint,
    connectProtocol,
    wrapClientTLS,
)
from twisted.internet.protocol import Factory
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure

from plugins.police_link import pki
from plugins.police_link.tls import (
    CertificateRefused,
    client_tls,
    peer_fingerprint,
    server_tls,
)

DEADLINE_S = 5.0
LINE = b"hello force"


class Echo(LineReceiver):
    def __init__(self, seen: list[Any]) -> None:
        self.seen = seen

    def lineReceived(self, line: bytes) -> None:
        self.seen.append(("line", line, peer_fingerprint(self.transport)))
        self.sendLine(line)

    def connectionLost(self, reason: Failure = None) -> None:
        self.seen.append(("lost", reason))


class Caller(LineReceiver):
    """Sends one line at once and records every line back and how the connection ended."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self.fingerprint: str | None = None
        self.reason: Failure | None = None
        self.lost: Deferred[None] = Deferred()
        self.echoed: Deferred[bytes | None] = Deferred()  # the echo, or None when the connection ended first

    def connectionMade(self) -> None:
        self.sendLine(LINE)

    def lineReceived(self, line: bytes) -> None:
        self.lines.append(line)
        self.fingerprint = peer_fingerprint(self.transport)
        if not self.echoed.called:
            self.echoed.callback(line)

    def connectionLost(self, reason: Failure = None) -> None:
        self.reason = reason
        if not self.echoed.called:
            self.echoed.callback(None)
        self.lost.callback(None)


@pytest.fixture(scope="module")
def now() -> datetime:
    # OpenSSL judges validity against the system clock, so these certificates are made for it.
    return datetime.now(UTC)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, now: datetime) -> pki.PkiFiles:
    return pki.init_pki(tmp_path_factory.mktemp("pki"), now=now)


@pytest.fixture(scope="module")
def other(tmp_path_factory: pytest.TempPathFactory, now: datetime) -> pki.PkiFiles:
    """A second, unrelated PKI: its certificates are nobody's here."""
    return pki.init_pki(tmp_path_factory.mktemp("other-pki"), now=now, force_name="impostor")


async def serve(options: Any) -> tuple[int, list[Any], Any]:
    seen: list[Any] = []
    endpoint = SSL4ServerEndpoint(reactor, 0, options, interface="127.0.0.1")
    port = await endpoint.listen(Factory.forProtocol(lambda: Echo(seen)))
    return port.getHost().port, seen, port


async def call(port: int, creator: Any) -> Caller:
    caller = Caller()
    await connectProtocol(wrapClientTLS(creator, TCP4ClientEndpoint(reactor, "127.0.0.1", port)), caller)
    return caller


async def ended(caller: Caller) -> Failure:
    await caller.lost.addTimeout(DEADLINE_S, reactor)
    assert caller.reason is not None
    return caller.reason


async def scene(server_options: Any, client_options: Any) -> tuple[Caller, list[Any], Failure]:
    """Connect, let the handshake and one echo happen (or not), and return once the client's connection ended."""
    port_number, seen, port = await serve(server_options)
    try:
        caller = await call(port_number, client_options)
        if await caller.echoed.addTimeout(DEADLINE_S, reactor) is not None:
            caller.transport.loseConnection()
        reason = await ended(caller)
    finally:
        await port.stopListening()
    return caller, seen, reason


def hub_options(files: pki.PkiFiles, **overrides: Any) -> Any:
    settings: dict[str, Any] = {
        "hostname": "localhost", "client_certificate": files.client_certificate, "client_key": files.client_key,
        "ca_certificate": files.ca_certificate,
    }
    settings.update(overrides)
    return client_tls(**settings)


def force_options(files: pki.PkiFiles, **overrides: Any) -> Any:
    settings: dict[str, Any] = {
        "certificate": files.server_certificate, "key": files.server_key, "client_ca": files.ca_certificate,
    }
    settings.update(overrides)
    return server_tls(**settings)


def refused_by_server(caller: Caller, seen: list[Any], reason: Failure) -> None:
    assert caller.lines == []
    assert [entry for entry in seen if entry[0] == "line"] == []
    assert reason.check(SSL.Error), reason


# --- accepted -----------------------------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_a_client_certificate_from_the_ca_is_accepted_and_data_flows_both_ways(files):
    """Each end sees the other's certificate fingerprint, and the echo comes back."""
    caller, seen, reason = await scene(force_options(files), hub_options(files))
    assert caller.lines == [LINE]
    assert caller.fingerprint == pki.fingerprint_sha256(files.server_certificate)
    assert seen[0] == ("line", LINE, pki.fingerprint_sha256(files.client_certificate))
    assert not reason.check(SSL.Error)


@pytest_twisted.ensureDeferred
async def test_the_server_is_trusted_by_its_ip_address_when_the_certificate_names_it(files):
    caller, _seen, _reason = await scene(force_options(files), hub_options(files, hostname="127.0.0.1"))
    assert caller.lines == [LINE]


@pytest_twisted.ensureDeferred
async def test_a_pinned_fingerprint_and_the_ca_together_accept_the_right_server(files):
    pin = pki.fingerprint_sha256(files.server_certificate)
    caller, _seen, _reason = await scene(force_options(files), hub_options(files, server_fingerprint=pin))
    assert caller.lines == [LINE]


@pytest_twisted.ensureDeferred
async def test_a_matching_pin_trusts_a_self_signed_server_certificate(files, tmp_path, now):
    """Pinned alone, the certificate itself is the trust: no CA, and no name to match."""
    certificate, key = pki.make_ca(tmp_path, "force self-signed", now=now, days=30, stem="self")
    pin = pki.fingerprint_sha256(certificate).replace(":", "").lower()  # any spelling openssl prints
    caller, _seen, _reason = await scene(
        force_options(files, certificate=certificate, key=key),
        hub_options(files, ca_certificate=None, server_fingerprint=pin, hostname="link.force.example"),
    )
    assert caller.lines == [LINE]
    assert caller.fingerprint == pki.fingerprint_sha256(certificate)


@pytest_twisted.ensureDeferred
async def test_a_pinned_client_fingerprint_lets_that_client_in(files):
    pinned = (pki.fingerprint_sha256(files.client_certificate),)
    caller, _seen, _reason = await scene(force_options(files, client_fingerprints=pinned), hub_options(files))
    assert caller.lines == [LINE]


# --- refused by the server ----------------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_a_client_without_a_certificate_is_refused(files):
    from twisted.internet.ssl import Certificate, optionsForClientTLS

    anonymous = optionsForClientTLS("localhost", trustRoot=Certificate.loadPEM(files.ca_certificate.read_bytes()))
    caller, seen, reason = await scene(force_options(files), anonymous)
    refused_by_server(caller, seen, reason)


@pytest_twisted.ensureDeferred
async def test_an_expired_client_certificate_is_refused(files, tmp_path, now):
    certificate, key = tmp_path / "expired.pem", tmp_path / "expired.key"
    pki.issue_certificate(files.ca_certificate, files.ca_key, certificate, key, common_name="cctv-hub",
                          not_before=now - timedelta(days=30), not_after=now - timedelta(days=1))
    caller, seen, reason = await scene(
        force_options(files), hub_options(files, client_certificate=certificate, client_key=key))
    refused_by_server(caller, seen, reason)
    [(_, server_reason)] = [entry for entry in seen if entry[0] == "lost"]
    assert server_reason.check(CertificateRefused)
    assert "the client certificate is refused: it has expired" in str(server_reason.value)


@pytest_twisted.ensureDeferred
async def test_a_client_certificate_from_another_ca_is_refused(files, other):
    caller, seen, reason = await scene(
        force_options(files),
        hub_options(files, client_certificate=other.client_certificate, client_key=other.client_key))
    refused_by_server(caller, seen, reason)
    [(_, server_reason)] = [entry for entry in seen if entry[0] == "lost"]
    assert "not issued by a trusted CA" in str(server_reason.value)


@pytest_twisted.ensureDeferred
async def test_a_client_certificate_from_the_ca_but_not_the_pinned_one_is_refused(files, tmp_path, now):
    certificate, key = tmp_path / "second.pem", tmp_path / "second.key"
    pki.issue_certificate(files.ca_certificate, files.ca_key, certificate, key, common_name="another-room",
                          not_before=now - timedelta(hours=1), not_after=now + timedelta(days=1))
    pinned = (pki.fingerprint_sha256(files.client_certificate),)
    caller, seen, reason = await scene(
        force_options(files, client_fingerprints=pinned),
        hub_options(files, client_certificate=certificate, client_key=key))
    refused_by_server(caller, seen, reason)
    [(_, server_reason)] = [entry for entry in seen if entry[0] == "lost"]
    assert f"fingerprint {pki.fingerprint_sha256(certificate)}, not the pinned {pinned[0]}" in str(server_reason.value)


# --- refused by the client ----------------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_a_server_certificate_from_a_ca_the_hub_does_not_trust_is_refused(files, other):
    caller, seen, reason = await scene(
        force_options(files, certificate=other.server_certificate, key=other.server_key), hub_options(files))
    assert caller.lines == []
    assert [entry for entry in seen if entry[0] == "line"] == []
    assert reason.check(CertificateRefused)
    assert "the force's certificate is refused: it was not issued by a trusted CA" in str(reason.value)


@pytest_twisted.ensureDeferred
async def test_a_server_certificate_that_does_not_match_the_pin_is_refused(files, other):
    """Even issued by the trusted CA: with both set, both must hold."""
    pin = pki.fingerprint_sha256(other.server_certificate)
    caller, _seen, reason = await scene(force_options(files), hub_options(files, server_fingerprint=pin))
    assert caller.lines == []
    assert reason.check(CertificateRefused)
    assert f"not the pinned {pin}" in str(reason.value)


@pytest_twisted.ensureDeferred
async def test_a_self_signed_server_certificate_that_does_not_match_the_pin_is_refused(files, other, tmp_path, now):
    certificate, key = pki.make_ca(tmp_path, "force self-signed", now=now, days=30, stem="self")
    pin = pki.fingerprint_sha256(other.server_certificate)
    caller, _seen, reason = await scene(
        force_options(files, certificate=certificate, key=key),
        hub_options(files, ca_certificate=None, server_fingerprint=pin))
    assert caller.lines == []
    assert reason.check(CertificateRefused)
    assert f"fingerprint {pki.fingerprint_sha256(certificate)}, not the pinned {pin}" in str(reason.value)


@pytest_twisted.ensureDeferred
async def test_a_server_certificate_for_another_host_name_is_refused(files):
    caller, _seen, reason = await scene(force_options(files), hub_options(files, hostname="link.force.example"))
    assert caller.lines == []
    assert reason.check(CertificateRefused)
    assert "is not for link.force.example (it names localhost, 127.0.0.1)" in str(reason.value)


@pytest_twisted.ensureDeferred
async def test_an_expired_pinned_server_certificate_is_refused(files, tmp_path, now):
    certificate, key = tmp_path / "old.pem", tmp_path / "old.key"
    pki.issue_certificate(files.ca_certificate, files.ca_key, certificate, key, common_name="police-link",
                          server_names=("localhost",), client=False, server=True,
                          not_before=now - timedelta(days=30), not_after=now - timedelta(days=1))
    caller, _seen, reason = await scene(
        force_options(files, certificate=certificate, key=key),
        hub_options(files, ca_certificate=None, server_fingerprint=pki.fingerprint_sha256(certificate)))
    assert caller.lines == []
    assert reason.check(CertificateRefused)
    assert "it has expired" in str(reason.value)


def test_peer_fingerprint_is_none_without_tls():
    assert peer_fingerprint(object()) is None
    assert peer_fingerprint(type("Plain", (), {"getPeerCertificate": lambda self: None})()) is None


def test_the_options_say_how_they_trust_and_hold_no_secret(files):
    text = repr(hub_options(files, server_fingerprint=pki.fingerprint_sha256(files.server_certificate)))
    assert text == "<client_tls for localhost trusting the server by CA and pinned fingerprint>"
    assert "pinned" in repr(force_options(files, client_fingerprints=(pki.fingerprint_sha256(files.client_certificate),)))
    assert Path(files.client_key).read_text() not in text


# --- a certificate used for what it is not meant for ------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_a_server_certificate_shown_as_a_client_certificate_is_refused(files):
    """The force's own certificate (server use only) does not get a client in, though its CA is right."""
    caller, seen, reason = await scene(
        force_options(files),
        hub_options(files, client_certificate=files.server_certificate, client_key=files.server_key))
    refused_by_server(caller, seen, reason)
    [(_, server_reason)] = [entry for entry in seen if entry[0] == "lost"]
    assert "it is not meant for this use" in str(server_reason.value)


@pytest_twisted.ensureDeferred
async def test_a_client_certificate_shown_as_a_server_certificate_is_refused(files, tmp_path, now):
    certificate, key = tmp_path / "client-only.pem", tmp_path / "client-only.key"
    pki.issue_certificate(files.ca_certificate, files.ca_key, certificate, key, common_name="police-link",
                          server_names=("localhost",), client=True, server=False,
                          not_before=now - timedelta(hours=1), not_after=now + timedelta(days=1))
    caller, _seen, reason = await scene(force_options(files, certificate=certificate, key=key), hub_options(files))
    assert caller.lines == []
    assert reason.check(CertificateRefused)
    assert "it is not meant for this use" in str(reason.value)


@pytest_twisted.ensureDeferred
async def test_an_expired_server_certificate_from_the_trusted_ca_is_refused(files, tmp_path, now):
    certificate, key = tmp_path / "old.pem", tmp_path / "old.key"
    pki.issue_certificate(files.ca_certificate, files.ca_key, certificate, key, common_name="police-link",
                          server_names=("localhost",), client=False, server=True,
                          not_before=now - timedelta(days=30), not_after=now - timedelta(days=1))
    caller, _seen, reason = await scene(force_options(files, certificate=certificate, key=key), hub_options(files))
    assert caller.lines == []
    assert reason.check(CertificateRefused)
    assert str(reason.value) == "the force's certificate is refused: it has expired"
