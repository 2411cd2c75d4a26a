"""A small certificate authority for trying the police link: a CA, the force end's server certificate and the
hub's client certificate, as PEM files (``hub pki init DIR``).

Keys are EC P-256, written readable by their owner alone from the moment the file exists. Every time is
passed in (``now``, ``not_before``, ``not_after``): nothing here reads the clock. A force in service issues
its own certificates; this is for trials, tests and the demo.
"""

from __future__ import annotations

import errno
import hashlib
import ipaddress
import os
import tempfile
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from attrs import frozen
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: How far back a new certificate's validity starts before ``now``, so that a peer whose clock is a little
#: behind does not refuse a certificate made a moment ago.
BACKDATE = timedelta(hours=1)

CA_CERTIFICATE = "ca.pem"
CA_KEY = "ca.key"
SERVER_CERTIFICATE = "force-server.pem"
SERVER_KEY = "force-server.key"
CLIENT_CERTIFICATE = "hub-client.pem"
CLIENT_KEY = "hub-client.key"
README = "README.txt"
ORGANISATION = "CCTV hub police link (test PKI)"


@frozen
class PkiFiles:
    """Where ``init_pki`` wrote each file."""

    directory: Path
    ca_certificate: Path
    ca_key: Path
    server_certificate: Path
    server_key: Path
    client_certificate: Path
    client_key: Path

    @property
    def readme(self) -> Path:
        return self.directory / README


def pki_files(directory: Path) -> PkiFiles:
    """The file names ``init_pki`` uses in ``directory``."""
    directory = Path(directory)
    return PkiFiles(
        directory=directory,
        ca_certificate=directory / CA_CERTIFICATE,
        ca_key=directory / CA_KEY,
        server_certificate=directory / SERVER_CERTIFICATE,
        server_key=directory / SERVER_KEY,
        client_certificate=directory / CLIENT_CERTIFICATE,
        client_key=directory / CLIENT_KEY,
    )


def init_pki(
    directory: Path,
    *,
    now: datetime,
    server_names: tuple[str, ...] = ("localhost", "127.0.0.1"),
    client_name: str = "cctv-hub",
    force_name: str = "police-link",
    days: int = 825,
    overwrite: bool = False,
) -> PkiFiles:
    """Make a CA, the force end's server certificate (for ``server_names``) and the hub's client certificate
    in ``directory`` (created, owner-only, if missing), with a README.txt saying which file goes where.

    Refuses (``FileExistsError`` naming the file) when one of the files exists, unless ``overwrite``.
    The CA lives ``days`` plus a year, so its certificates can be renewed without a new CA.
    """
    _aware(now, "now")
    if days < 1:
        raise ValueError(f"days must be 1 or more, not {days}")
    if not server_names:
        raise ValueError("at least one server name: the name or address the hub connects to")
    _general_names(server_names)
    for name in (client_name, force_name):
        _common_name(name)
    directory = Path(directory)
    files = pki_files(directory)
    if not overwrite:
        for path in _all_paths(files):
            if path.exists():
                raise FileExistsError(errno.EEXIST, f"{path} exists (overwrite to replace it)", str(path))
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)

    replace = overwrite
    _make_ca(directory, f"{force_name} link CA", now=now, days=days + 365, stem="ca", replace=replace)
    not_after = now + timedelta(days=days)
    _issue(files.ca_certificate, files.ca_key, files.server_certificate, files.server_key, common_name=force_name,
           server_names=tuple(server_names), client=False, server=True, not_before=now - BACKDATE,
           not_after=not_after, replace=replace)
    _issue(files.ca_certificate, files.ca_key, files.client_certificate, files.client_key, common_name=client_name,
           server_names=(), client=True, server=False, not_before=now - BACKDATE, not_after=not_after,
           replace=replace)
    _write(files.readme, readme_text(files, server_names=tuple(server_names), not_after=not_after).encode(),
           mode=0o644, replace=replace)
    return files


def make_ca(directory: Path, name: str, *, now: datetime, days: int = 3650, stem: str = "ca") -> tuple[Path, Path]:
    """A self-signed CA valid from ``now`` (less an hour) for ``days``: ``STEM.pem`` and ``STEM.key`` (0600) in
    ``directory``, replacing any there. Returns (certificate, key)."""
    return _make_ca(Path(directory), name, now=now, days=days, stem=stem, replace=True)


def issue_certificate(
    ca_certificate: Path,
    ca_key: Path,
    certificate: Path,
    key: Path,
    *,
    common_name: str,
    server_names: tuple[str, ...] = (),
    client: bool = True,
    server: bool = False,
    not_before: datetime,
    not_after: datetime,
) -> None:
    """Issue a certificate for a new P-256 key, signed by the CA; write both (the key 0600), replacing any.

    ``client``/``server`` set its extended key usage (TLS client and/or server authentication);
    ``server_names`` (DNS names or IP addresses) go in its subject alternative names. ``not_after`` may be in
    the past (an expired certificate, for tests of refusals).
    """
    _issue(Path(ca_certificate), Path(ca_key), Path(certificate), Path(key), common_name=common_name,
           server_names=tuple(server_names), client=client, server=server, not_before=not_before,
           not_after=not_after, replace=True)


def fingerprint_sha256(certificate: Path | bytes) -> str:
    """The SHA-256 of a certificate's DER form as ``AB:CD:...`` (as ``openssl x509 -fingerprint -sha256``
    prints it). ``certificate`` is a PEM file, or PEM or DER bytes; of a chain, the first certificate."""
    data = Path(certificate).read_bytes() if isinstance(certificate, (str, os.PathLike)) else bytes(certificate)
    if b"-----BEGIN CERTIFICATE-----" in data:
        der = x509.load_pem_x509_certificate(data).public_bytes(serialization.Encoding.DER)
    else:
        der = x509.load_der_x509_certificate(data).public_bytes(serialization.Encoding.DER)
    return ":".join(f"{byte:02X}" for byte in hashlib.sha256(der).digest())


def readme_text(files: PkiFiles, *, server_names: tuple[str, ...], not_after: datetime) -> str:
    """What README.txt says: which file goes to which end, and the fingerprints to pin."""
    server_print = fingerprint_sha256(files.server_certificate)
    client_print = fingerprint_sha256(files.client_certificate)
    ca_print = fingerprint_sha256(files.ca_certificate)
    host = server_names[0]
    return f"""\
Test certificates for the police link, made by `hub pki init`. For trials only: in service the force
issues (or approves) the certificates, and the CA key never sits on a hub.

Certificates (.pem) and keys (.key) valid until {not_after.isoformat(timespec="seconds")}.
Keys are readable by their owner alone; keep them so (chmod 600), or the hub refuses them.

On the hub (the [adapters.NAME] table with type = "police_link"):
  client_certificate = "{files.client_certificate}"
  client_key         = "{files.client_key}"
  ca_certificate     = "{files.ca_certificate}"      (trusts the force's certificate by its CA)
  server_fingerprint = "{server_print}"   (and/or pins it)
  url                = "wss://{_url_host(host)}:8443/..."   (the force's address: one of the server names)

At the force end (its link server, or `hub police-peer`):
  server certificate and key: {files.server_certificate}, {files.server_key}
  client CA (certificates of control rooms it accepts): {files.ca_certificate}
  pinned client fingerprint (optional): {client_print}

Nowhere but here: {files.ca_key}, the CA's key; needed only to issue more certificates.

Server names in {SERVER_CERTIFICATE}: {", ".join(server_names)}

SHA-256 fingerprints:
  {CA_CERTIFICATE:<18} {ca_print}
  {SERVER_CERTIFICATE:<18} {server_print}
  {CLIENT_CERTIFICATE:<18} {client_print}
"""


# --- making them --------------------------------------------------------------------------------------------


def _all_paths(files: PkiFiles) -> tuple[Path, ...]:
    return (files.ca_certificate, files.ca_key, files.server_certificate, files.server_key,
            files.client_certificate, files.client_key, files.readme)


def _make_ca(directory: Path, name: str, *, now: datetime, days: int, stem: str, replace: bool) -> tuple[Path, Path]:
    _aware(now, "now")
    if days < 1:
        raise ValueError(f"days must be 1 or more, not {days}")
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION),
                         x509.NameAttribute(NameOID.COMMON_NAME, _common_name(name))])
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(signing=False, certificates=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    certificate_path, key_path = directory / f"{stem}.pem", directory / f"{stem}.key"
    _write(key_path, _key_pem(key), mode=0o600, replace=replace)
    _write(certificate_path, certificate.public_bytes(serialization.Encoding.PEM), mode=0o644, replace=replace)
    return certificate_path, key_path


def _issue(
    ca_certificate: Path,
    ca_key: Path,
    certificate: Path,
    key: Path,
    *,
    common_name: str,
    server_names: tuple[str, ...],
    client: bool,
    server: bool,
    not_before: datetime,
    not_after: datetime,
    replace: bool,
) -> None:
    _aware(not_before, "not_before")
    _aware(not_after, "not_after")
    if not_after <= not_before:
        raise ValueError("not_after must come after not_before")
    if not (client or server):
        raise ValueError("a certificate for a TLS client, a TLS server, or both")
    if server and not server_names:
        raise ValueError("a server certificate needs at least one server name (DNS name or IP address)")
    issuer = x509.load_pem_x509_certificate(ca_certificate.read_bytes())
    issuer_key = serialization.load_pem_private_key(ca_key.read_bytes(), password=None)
    signs = isinstance(issuer_key, ec.EllipticCurvePrivateKey | _rsa_type())
    if not signs or _public_der(issuer_key.public_key()) != _public_der(issuer.public_key()):
        raise ValueError(f"{ca_key} is not the key of {ca_certificate}")

    new_key = ec.generate_private_key(ec.SECP256R1())
    public = new_key.public_key()
    usages = ([ExtendedKeyUsageOID.SERVER_AUTH] if server else []) + ([ExtendedKeyUsageOID.CLIENT_AUTH] if client else [])
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION),
                                 x509.NameAttribute(NameOID.COMMON_NAME, _common_name(common_name))]))
        .issuer_name(issuer.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(signing=True, certificates=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(_authority_key_identifier(issuer), critical=False)
    )
    if server_names:
        builder = builder.add_extension(x509.SubjectAlternativeName(_general_names(server_names)), critical=False)
    signed = builder.sign(issuer_key, hashes.SHA256())
    _write(key, _key_pem(new_key), mode=0o600, replace=replace)
    _write(certificate, signed.public_bytes(serialization.Encoding.PEM), mode=0o644, replace=replace)


def _rsa_type() -> type:
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.RSAPrivateKey


def _key_usage(*, signing: bool, certificates: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=signing, content_commitment=False, key_encipherment=False, data_encipherment=False,
        key_agreement=False, key_cert_sign=certificates, crl_sign=certificates, encipher_only=False,
        decipher_only=False,
    )


def _authority_key_identifier(issuer: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    try:
        ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key())  # type: ignore[arg-type]
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def _general_names(names: Sequence[str]) -> list[x509.GeneralName]:
    general: list[x509.GeneralName] = []
    for name in names:
        try:
            general.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            if not name or len(name) > 253 or any(character.isspace() for character in name):
                raise ValueError(f"{name!r} is neither a DNS name nor an IP address") from None
            general.append(x509.DNSName(name))
    return general


def _common_name(name: str) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > 64:
        raise ValueError(f"a name of 1 to 64 characters, not {name!r}")
    return name


def _aware(moment: datetime, what: str) -> None:
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be a datetime with a time zone (e.g. UTC), not {moment!r}")


def _url_host(host: str) -> str:
    try:
        return f"[{host}]" if ipaddress.ip_address(host).version == 6 else host
    except ValueError:
        return host


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _public_der(public: object) -> bytes:
    return public.public_bytes(serialization.Encoding.DER,  # type: ignore[attr-defined]
                               serialization.PublicFormat.SubjectPublicKeyInfo)


def _write(path: Path, data: bytes, *, mode: int, replace: bool) -> None:
    """Write ``path`` whole or not at all, created with ``mode`` (so a key is never readable by others, even
    for a moment). Without ``replace``, an existing file is left alone (FileExistsError)."""
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mkstemp: mode 0600
    try:
        try:
            os.fchmod(descriptor, mode)
            view, written = memoryview(data), 0
            while written < len(data):
                written += os.write(descriptor, view[written:])
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        if replace:
            os.replace(temporary, path)
        else:
            os.link(temporary, path)  # fails if path exists: no clobbering, even in a race
            os.unlink(temporary)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
