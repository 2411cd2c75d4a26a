"""``hub pki init DIR``: what it makes, what it prints, and how it refuses (exit 2, nothing written)."""

from __future__ import annotations

import io
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509

from hub.cli import build_parser
from plugins.police_link import cli, pki

NOW = datetime(2026, 11, 22, 10, 15, 30, tzinfo=UTC)


def hub_pki(*argv: str | Path) -> tuple[int, str, str]:
    """Run ``hub pki ...`` as the hub's own parser reads it (the plugin's command wired in), at ``NOW``."""
    args = build_parser([("police_link", cli.PKI_COMMAND)]).parse_args(["pki", *map(str, argv)])
    assert args.handler is cli.PKI_COMMAND.run
    out, err = io.StringIO(), io.StringIO()
    code = cli.run_init(args, now=NOW, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_init_makes_the_pki_and_prints_each_file_and_the_fingerprints(tmp_path):
    code, out, err = hub_pki("init", tmp_path / "pki")
    files = pki.pki_files(tmp_path / "pki")
    assert (code, err) == (0, "")
    assert out.startswith(f"Made a test PKI for the police link in {files.directory} (certificates valid 825 days):\n")
    for path in (files.ca_certificate, files.ca_key, files.server_certificate, files.server_key,
                 files.client_certificate, files.client_key, files.readme):
        assert path.exists()
        assert f"  {path.name:<18} " in out
    server_print = pki.fingerprint_sha256(files.server_certificate)
    assert f"force-server.pem   {server_print}  (the hub's server_fingerprint, to pin it)" in out
    assert pki.fingerprint_sha256(files.client_certificate) in out
    assert "for localhost, 127.0.0.1" in out
    assert "PRIVATE KEY" not in out
    assert stat.S_IMODE(files.client_key.stat().st_mode) == 0o600


def test_names_days_and_server_names_are_taken_from_the_options(tmp_path):
    code, out, _err = hub_pki("init", tmp_path, "--server-name", "link.force.example", "--server-name", "10.9.8.7",
                              "--client-name", "chesterfield-cctv", "--force-name", "derbyshire", "--days", "30")
    assert code == 0
    files = pki.pki_files(tmp_path)
    server = x509.load_pem_x509_certificate(files.server_certificate.read_bytes())
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["link.force.example"]
    assert (server.not_valid_after_utc - NOW).days == 30
    client = x509.load_pem_x509_certificate(files.client_certificate.read_bytes())
    assert client.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "chesterfield-cctv"
    assert "(chesterfield-cctv)" in out and "for link.force.example, 10.9.8.7" in out


def test_existing_files_are_kept_and_named_with_exit_2(tmp_path):
    assert hub_pki("init", tmp_path)[0] == 0
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    code, out, err = hub_pki("init", tmp_path)
    assert (code, out) == (2, "")
    assert err.startswith(f"hub pki init: {tmp_path / 'ca.pem'} exists; nothing was written. Give --overwrite")
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == before


def test_overwrite_replaces_them(tmp_path):
    hub_pki("init", tmp_path)
    old = pki.fingerprint_sha256(tmp_path / "ca.pem")
    code, _out, _err = hub_pki("init", tmp_path, "--overwrite")
    assert code == 0
    assert pki.fingerprint_sha256(tmp_path / "ca.pem") != old


def test_a_directory_that_cannot_be_made_is_refused_with_exit_2(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    code, out, err = hub_pki("init", blocker / "pki")
    assert (code, out) == (2, "")
    assert err == f"hub pki init: cannot write in {blocker / 'pki'}: {blocker / 'pki'} is not a directory\n"
    code, _out, err = hub_pki("init", blocker)
    assert code == 2
    assert err == f"hub pki init: cannot make {blocker}: {blocker} is in the way\n"


def test_a_directory_not_writable_is_refused_with_exit_2(tmp_path, monkeypatch):
    (tmp_path / "pki").mkdir()

    def refuse(*_args: object, **kwargs: object) -> None:  # what the kernel says in a folder mode 0500
        raise PermissionError(13, "Permission denied", str(Path(str(kwargs["dir"])) / ".ca.key.x1y2"))

    monkeypatch.setattr(pki.tempfile, "mkstemp", refuse)
    code, out, err = hub_pki("init", tmp_path / "pki")
    assert (code, out) == (2, "")
    assert err == f"hub pki init: cannot write in {tmp_path / 'pki'}: Permission denied\n"
    assert list((tmp_path / "pki").iterdir()) == []


@pytest.mark.parametrize(("argv", "message"), [
    (("--days", "0"), "--days must be from 1 to 3650, not 0"),
    (("--days", "5000"), "--days must be from 1 to 3650, not 5000"),
    (("--server-name", "not a name"), "'not a name' is neither a DNS name nor an IP address"),
    (("--client-name", "x" * 65), "a name of 1 to 64 characters"),
])
def test_bad_options_are_refused_with_exit_2_and_nothing_written(tmp_path, argv, message):
    code, out, err = hub_pki("init", tmp_path / "pki", *argv)
    assert (code, out) == (2, "")
    assert message in err
    assert not (tmp_path / "pki").exists()


def test_init_needs_a_directory():
    with pytest.raises(SystemExit) as exited:
        build_parser([("police_link", cli.PKI_COMMAND)]).parse_args(["pki", "init"])
    assert exited.value.code == 2


def test_the_files_made_work_for_the_tls_options(tmp_path):
    """What init makes is what client_tls and server_tls take, unchanged."""
    from plugins.police_link.tls import client_tls, server_tls

    hub_pki("init", tmp_path)
    files = pki.pki_files(tmp_path)
    assert client_tls(hostname="localhost", client_certificate=files.client_certificate, client_key=files.client_key,
                      ca_certificate=files.ca_certificate, now=NOW)
    assert server_tls(certificate=files.server_certificate, key=files.server_key, client_ca=files.ca_certificate,
                      now=NOW)
