"""TLS serving with a configured certificate: the API over HTTPS, and a cookie marked Secure."""

from __future__ import annotations

import datetime

import pytest
import pytest_twisted
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hub.web.service import tls_options
from tests.hub.web.client import TrustOne, WebClient


def self_signed(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    import ipaddress

    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "hub.crt", tmp_path / "hub.key"
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM)
    cert_path.write_bytes(cert_pem)
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path, cert_pem


@pytest_twisted.ensureDeferred
async def test_the_hub_serves_https_with_its_configured_certificate_and_secure_cookies(harness_factory, tmp_path):
    """Login over TLS sets a cookie marked Secure; the session works over the same TLS connection."""
    cert_path, key_path, cert_pem = self_signed(tmp_path)
    web = await harness_factory(web_settings={"tls_certificate": cert_path, "tls_private_key": key_path}).start()
    try:
        assert web.url.startswith("https://")
        client = WebClient(web.url, policy=TrustOne(cert_pem))
        health = await client.request("GET", "/healthz")
        assert health.status == 200
        reply = await client.login("olive")
        assert reply.status == 200
        cookie = reply.header("set-cookie")
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert (await client.request("GET", "/api/session")).json["user"]["name"] == "olive"
    finally:
        await web.stop()


def test_a_certificate_file_without_a_certificate_is_refused_by_name(tmp_path):
    """A misconfigured PEM path fails at start with the file named, not a TLS stack trace later."""
    empty = tmp_path / "empty.pem"
    empty.write_text("nothing here\n")
    with pytest.raises(ValueError, match="empty.pem"):
        tls_options(empty, empty)
