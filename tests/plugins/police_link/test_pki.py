"""``pki``: the test PKI ``hub pki init`` makes: which files, who may read them, what the certificates say, and
that each certificate verifies against the CA."""

from __future__ import annotations

import hashlib
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from OpenSSL import crypto

from plugins.police_link import pki

NOW = datetime(2026, 11, 22, 10, 15, 30, tzinfo=UTC)


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def extension(certificate: x509.Certificate, kind: type) -> object:
    return certificate.extensions.get_extension_for_class(kind)


def verifies(ca: Path, certificate: Path, *, at: datetime) -> bool:
    """OpenSSL's own chain verification of ``certificate`` against ``ca``, at time ``at``."""
    store = crypto.X509Store()
    store.add_cert(crypto.X509.from_cryptography(load(ca)))
    store.set_time(at.replace(tzinfo=None))
    try:
        crypto.X509StoreContext(store, crypto.X509.from_cryptography(load(certificate))).verify_certificate()
    except crypto.X509StoreContextError:
        return False
    return True


@pytest.fixture
def files(tmp_path: Path) -> pki.PkiFiles:
    return pki.init_pki(tmp_path / "pki", now=NOW)


def test_init_makes_the_six_files_and_a_readme_in_a_new_owner_only_folder(files, tmp_path):
    assert files == pki.pki_files(tmp_path / "pki")
    assert sorted(path.name for path in files.directory.iterdir()) == [
        "README.txt", "ca.key", "ca.pem", "force-server.key", "force-server.pem", "hub-client.key", "hub-client.pem",
    ]
    assert stat.S_IMODE(files.directory.stat().st_mode) & 0o077 == 0


def test_keys_are_readable_by_their_owner_alone_and_certificates_by_all(files):
    for key in (files.ca_key, files.server_key, files.client_key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
    for certificate in (files.ca_certificate, files.server_certificate, files.client_certificate):
        assert stat.S_IMODE(certificate.stat().st_mode) == 0o644, certificate


def test_keys_are_unencrypted_p256(files):
    for path in (files.ca_key, files.server_key, files.client_key):
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        assert key.curve.name == "secp256r1"


def test_a_key_is_never_readable_by_others_even_with_a_permissive_umask(tmp_path):
    """Created 0600, not chmod-ed after writing: there is no moment it can be read."""
    previous = os.umask(0)
    try:
        files = pki.init_pki(tmp_path / "pki", now=NOW)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(files.client_key.stat().st_mode) == 0o600
    assert not list(files.directory.glob(".*")), "no temporary file is left behind"


def test_the_ca_is_a_ca_that_signs_certificates_and_nothing_else(files):
    ca = load(files.ca_certificate)
    assert ca.issuer == ca.subject
    constraints = extension(ca, x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca is True and constraints.value.path_length == 0
    usage = extension(ca, x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign
    assert not usage.value.digital_signature
    assert extension(ca, x509.SubjectKeyIdentifier).value == x509.SubjectKeyIdentifier.from_public_key(ca.public_key())


def test_the_server_certificate_is_for_tls_servers_with_its_names_and_addresses(files):
    server = load(files.server_certificate)
    assert extension(server, x509.BasicConstraints).value.ca is False
    assert list(extension(server, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.SERVER_AUTH]
    names = extension(server, x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(address) for address in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert server.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "police-link"


def test_the_client_certificate_is_for_tls_clients_and_names_the_room(files):
    client = load(files.client_certificate)
    assert list(extension(client, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert client.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "cctv-hub"
    with pytest.raises(x509.ExtensionNotFound):
        extension(client, x509.SubjectAlternativeName)


def test_each_certificate_names_its_issuer_key_and_verifies_against_the_ca(files):
    ca = load(files.ca_certificate)
    ca_key_id = extension(ca, x509.SubjectKeyIdentifier).value.digest
    for path in (files.server_certificate, files.client_certificate):
        certificate = load(path)
        assert certificate.issuer == ca.subject
        assert extension(certificate, x509.AuthorityKeyIdentifier).value.key_identifier == ca_key_id
        assert verifies(files.ca_certificate, path, at=NOW + timedelta(days=1))


def test_certificates_are_valid_from_an_hour_before_now_for_the_days_asked(tmp_path):
    files = pki.init_pki(tmp_path, now=NOW, days=10)
    server = load(files.server_certificate)
    assert server.not_valid_before_utc == NOW.replace(microsecond=0) - timedelta(hours=1)
    assert server.not_valid_after_utc == NOW + timedelta(days=10)
    assert load(files.ca_certificate).not_valid_after_utc > server.not_valid_after_utc
    assert not verifies(files.ca_certificate, files.server_certificate, at=NOW + timedelta(days=11))


def test_names_given_are_used(tmp_path):
    files = pki.init_pki(tmp_path, now=NOW, server_names=("link.force.example", "::1", "10.0.0.7"),
                         client_name="chesterfield-cctv", force_name="derbyshire")
    names = extension(load(files.server_certificate), x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["link.force.example"]
    assert [str(address) for address in names.get_values_for_type(x509.IPAddress)] == ["::1", "10.0.0.7"]
    client = load(files.client_certificate)
    assert client.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "chesterfield-cctv"


def test_init_refuses_to_replace_an_existing_file_and_names_it(files):
    before = files.client_key.read_bytes()
    files.server_key.unlink()
    with pytest.raises(FileExistsError, match=r"ca\.pem exists"):
        pki.init_pki(files.directory, now=NOW)
    assert files.client_key.read_bytes() == before
    assert not files.server_key.exists(), "nothing is written when anything would be replaced"


def test_init_replaces_everything_when_told_to(files):
    old = pki.fingerprint_sha256(files.ca_certificate)
    again = pki.init_pki(files.directory, now=NOW, overwrite=True)
    assert pki.fingerprint_sha256(again.ca_certificate) != old
    assert verifies(again.ca_certificate, again.client_certificate, at=NOW)
    assert stat.S_IMODE(again.ca_key.stat().st_mode) == 0o600


def test_the_readme_says_which_file_goes_to_which_end_with_the_fingerprints(files):
    text = files.readme.read_text()
    hub_part, force_part = text.split("At the force end")
    assert f'client_certificate = "{files.client_certificate}"' in hub_part
    assert f'client_key         = "{files.client_key}"' in hub_part
    assert f'server_fingerprint = "{pki.fingerprint_sha256(files.server_certificate)}"' in hub_part
    assert str(files.server_key) in force_part and str(files.ca_certificate) in force_part
    assert pki.fingerprint_sha256(files.client_certificate) in force_part
    assert "PRIVATE KEY" not in text


def test_fingerprint_is_the_sha256_of_the_der_in_upper_case_pairs(files):
    der = load(files.ca_certificate).public_bytes(serialization.Encoding.DER)
    expected = ":".join(f"{byte:02X}" for byte in hashlib.sha256(der).digest())
    assert pki.fingerprint_sha256(files.ca_certificate) == expected
    assert pki.fingerprint_sha256(files.ca_certificate.read_bytes()) == expected
    assert pki.fingerprint_sha256(der) == expected


def test_issue_certificate_can_make_an_expired_certificate_for_both_uses(tmp_path):
    ca, ca_key = pki.make_ca(tmp_path, "Older CA", now=NOW - timedelta(days=30))
    certificate, key = tmp_path / "old.pem", tmp_path / "old.key"
    pki.issue_certificate(ca, ca_key, certificate, key, common_name="old", server_names=("localhost",),
                          client=True, server=True, not_before=NOW - timedelta(days=9),
                          not_after=NOW - timedelta(days=1))
    usages = list(extension(load(certificate), x509.ExtendedKeyUsage).value)
    assert usages == [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    assert verifies(ca, certificate, at=NOW - timedelta(days=2))
    assert not verifies(ca, certificate, at=NOW)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_a_certificate_from_another_ca_does_not_verify(files, tmp_path):
    other_ca, _other_key = pki.make_ca(tmp_path / "other", "Other CA", now=NOW, stem="other")
    assert other_ca.name == "other.pem"
    assert not verifies(other_ca, files.client_certificate, at=NOW)


@pytest.mark.parametrize(("arguments", "message"), [
    ({"now": datetime(2026, 11, 22)}, "time zone"),
    ({"now": NOW, "days": 0}, "days must be 1 or more"),
    ({"now": NOW, "server_names": ()}, "at least one server name"),
    ({"now": NOW, "server_names": ("two words",)}, "neither a DNS name nor an IP address"),
    ({"now": NOW, "client_name": ""}, "a name of 1 to 64 characters"),
])
def test_bad_arguments_are_refused_before_anything_is_written(tmp_path, arguments, message):
    with pytest.raises(ValueError, match=message):
        pki.init_pki(tmp_path / "pki", **arguments)
    assert not (tmp_path / "pki").exists()


def test_issuing_needs_the_cas_own_key(files, tmp_path):
    _other, other_key = pki.make_ca(tmp_path, "Other", now=NOW, stem="other")
    with pytest.raises(ValueError, match="is not the key of"):
        pki.issue_certificate(files.ca_certificate, other_key, tmp_path / "x.pem", tmp_path / "x.key",
                              common_name="x", not_before=NOW, not_after=NOW + timedelta(days=1))
    assert not (tmp_path / "x.key").exists()
