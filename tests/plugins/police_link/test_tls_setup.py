"""``client_tls`` and ``server_tls`` check their files when made: each mistake is a ``TlsSetupError`` that names
the file and says what to do, and no message carries a key's content."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from OpenSSL import SSL
from twisted.internet.interfaces import (
    IOpenSSLClientConnectionCreator,
    IOpenSSLContextFactory,
    IOpenSSLServerConnectionCreator,
)

from plugins.police_link import pki
from plugins.police_link.tls import TlsSetupError, client_tls, server_tls

NOW = datetime(2026, 11, 22, 10, 15, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> pki.PkiFiles:
    return pki.init_pki(tmp_path_factory.mktemp("pki"), now=NOW)


@pytest.fixture
def files(made: pki.PkiFiles, tmp_path: Path) -> pki.PkiFiles:
    """A copy each test may spoil."""
    shutil.copytree(made.directory, tmp_path / "pki")
    return pki.pki_files(tmp_path / "pki")


def hub(files: pki.PkiFiles, **overrides: Any) -> Any:
    settings: dict[str, Any] = {"hostname": "localhost", "client_certificate": files.client_certificate,
                                "client_key": files.client_key, "ca_certificate": files.ca_certificate}
    settings.update(overrides)
    return client_tls(**settings)


def force(files: pki.PkiFiles, **overrides: Any) -> Any:
    settings: dict[str, Any] = {"certificate": files.server_certificate, "key": files.server_key,
                                "client_ca": files.ca_certificate}
    settings.update(overrides)
    return server_tls(**settings)


def refused(make: Any, files: pki.PkiFiles, **overrides: Any) -> str:
    with pytest.raises(TlsSetupError) as caught:
        make(files, **overrides)
    message = str(caught.value)
    for key in (files.client_key, files.server_key, files.ca_key):
        if key.exists() and key.read_bytes():
            assert key.read_text().splitlines()[1] not in message
    return message


def test_good_files_make_options_for_each_end(files):
    assert IOpenSSLClientConnectionCreator.providedBy(hub(files))
    server = force(files)
    assert IOpenSSLServerConnectionCreator.providedBy(server) and IOpenSSLContextFactory.providedBy(server)
    assert isinstance(server.getContext(), SSL.Context)


def test_pinned_alone_is_enough_to_trust_the_force(files):
    pin = pki.fingerprint_sha256(files.server_certificate)
    assert IOpenSSLClientConnectionCreator.providedBy(hub(files, ca_certificate=None, server_fingerprint=pin))


def test_the_force_must_be_trusted_somehow(files):
    assert "a CA certificate, a pinned fingerprint or both" in refused(hub, files, ca_certificate=None)


@pytest.mark.parametrize("pin", ["AB:CD", "zz" * 32, "AB:" * 31 + "ABC"])
def test_a_pin_that_is_no_sha256_fingerprint_is_refused(files, pin):
    assert "is not a SHA-256 fingerprint" in refused(hub, files, server_fingerprint=pin)
    assert "is not a SHA-256 fingerprint" in refused(force, files, client_fingerprints=(pin,))


def test_a_missing_file_is_named(files):
    files.client_certificate.unlink()
    assert refused(hub, files) == f"certificate {files.client_certificate} does not exist"
    assert refused(force, files, client_ca=files.directory / "nope.pem") == (
        f"client CA certificate {files.directory / 'nope.pem'} does not exist")


def test_an_unreadable_file_is_named(files, monkeypatch):
    real = Path.read_bytes

    def read_bytes(path: Path) -> bytes:
        if path == files.ca_certificate:  # as chmod 0 would, for anyone but root
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    assert refused(hub, files) == f"CA certificate {files.ca_certificate} cannot be read by this user (uid {os.getuid()})"


def test_a_directory_is_no_file(files):
    assert "is a directory" in refused(hub, files, ca_certificate=files.directory)


def test_a_file_that_is_not_pem_is_refused(files):
    files.ca_certificate.write_bytes(b"\x30\x82\x01\x0a not PEM")
    assert refused(hub, files) == f"CA certificate {files.ca_certificate} is not a PEM certificate (no BEGIN CERTIFICATE block)"


def test_a_broken_pem_certificate_is_refused(files):
    files.server_certificate.write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    assert "is not a readable PEM certificate" in refused(force, files)


def test_swapped_certificate_and_key_are_recognised(files):
    message = refused(hub, files, client_certificate=files.client_key)
    assert "holds a private key: certificate and key files swapped?" in message
    files.client_certificate.chmod(0o600)
    assert "holds a certificate: certificate and key files swapped?" in refused(hub, files, client_key=files.client_certificate)


def test_a_key_that_is_not_the_certificates_is_refused(files):
    message = refused(hub, files, client_key=files.server_key)
    assert message == (f"{files.server_key} is not the key of the certificate {files.client_certificate} "
                       "(each certificate goes with the key it was issued for)")


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660])
def test_a_key_others_may_read_is_refused_saying_the_chmod_to_run(files, mode):
    files.server_key.chmod(mode)
    assert refused(force, files) == (f"key {files.server_key} may be read by others than its owner "
                                     f"(mode {mode:04o}): run `chmod 600 {files.server_key}`")


def test_an_encrypted_key_is_refused(files):
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(files.client_key.read_bytes(), password=None)
    files.client_key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                   serialization.BestAvailableEncryption(b"secret-pass")))
    assert "is encrypted" in refused(hub, files)


def test_a_broken_key_is_refused_without_quoting_it(files):
    files.client_key.write_text("-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWJ5dGVz\n-----END PRIVATE KEY-----\n")
    message = refused(hub, files)
    assert message.startswith(f"key {files.client_key} is not a readable PEM private key")
    assert "c2VjcmV0" not in message


def test_an_own_certificate_out_of_its_validity_is_refused_when_now_is_given(files):
    after = NOW + timedelta(days=826)
    assert "expired on" in refused(hub, files, now=after)
    assert "is not valid until" in refused(force, files, now=NOW - timedelta(days=1))
    assert hub(files, now=NOW) is not None


def test_an_expired_ca_is_refused_when_now_is_given(files, tmp_path):
    ca, _key = pki.make_ca(tmp_path, "Short CA", now=NOW - timedelta(days=20), days=10, stem="short")
    message = refused(force, files, client_ca=ca, now=NOW)
    assert message.startswith(f"client CA certificate {ca} (CN=Short CA,O=")
    assert "expired on" in message


def test_now_without_a_time_zone_is_refused(files):
    assert "time zone" in refused(hub, files, now=datetime(2026, 11, 22))
