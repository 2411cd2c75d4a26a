"""Recorded walks of real devices (snmpsim-data's ``.snmprec`` files) for the optics tests.

The recordings come from the installed ``snmpsim_data`` package (bz2-compressed, one ``oid|type|value`` a
line, sorted by OID); a test reads only the subtrees it needs. Types: 2 Integer32, 4 OCTET STRING (``4x``:
hex), 5 NULL, 6 OID, 64 IpAddress, 65 Counter32, 66 Gauge32, 67 TimeTicks, 68 Opaque, 70 Counter64. Lines
that drive snmpsim's variation modules (``type:module``) are skipped.
"""

from __future__ import annotations

import bz2
import functools
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from plugins.dark_fibre_health.codec.snmp import OID, SnmpValue, VarBind, parse_oid

_KINDS = {"2": "integer", "4": "octets", "5": "null", "6": "oid", "64": "ipaddress", "65": "counter32",
          "66": "gauge32", "67": "timeticks", "68": "opaque", "70": "counter64"}


def recording(name: str) -> Path:
    """The path of snmpsim-data's recording ``name`` (e.g. "cisco-c3750"); skips the test when the
    package is not installed."""
    data = pytest.importorskip("snmpsim_data")
    root = Path(data.__file__).parent / "data"
    found = sorted(root.rglob(f"{name}.snmprec*"))
    if not found:
        raise LookupError(f"snmpsim-data has no recording {name!r}")
    return found[0]


def lines(name: str) -> Iterator[str]:
    path = recording(name)
    opener = bz2.open if path.suffix == ".bz2" else open
    with opener(path, "rt", encoding="latin-1") as stream:  # values are hex where they are not ASCII
        yield from stream


def value_of(tag: str, text: str) -> SnmpValue:
    hexed = tag.endswith("x")
    kind = _KINDS[tag[:-1] if hexed else tag]
    if kind in ("octets", "opaque"):
        return SnmpValue(kind, bytes.fromhex(text) if hexed else text.encode("latin-1"))
    if kind == "ipaddress":
        return SnmpValue(kind, bytes.fromhex(text) if hexed else bytes(int(part) for part in text.split(".")))
    if kind == "oid":
        return SnmpValue(kind, parse_oid(text))
    if kind == "null":
        return SnmpValue(kind)
    return SnmpValue(kind, int(text))


def _matcher(prefixes: Sequence[str]) -> re.Pattern[str]:
    """Matches a line whose OID is one of ``prefixes`` or under one (a regular expression: the Juniper
    recordings are 40 MB)."""
    return re.compile("(?:" + "|".join(re.escape(prefix) for prefix in prefixes) + r")[.|]")


@functools.lru_cache(maxsize=16)
def _varbinds(name: str, prefixes: tuple[str, ...]) -> tuple[VarBind, ...]:
    found = []
    wanted = _matcher(prefixes).match
    for line in lines(name):
        if not wanted(line):
            continue
        oid_text, _, rest = line.rstrip("\r\n").partition("|")
        tag, _, text = rest.partition("|")
        if ":" in tag:
            continue
        found.append(VarBind(parse_oid(oid_text), value_of(tag, text)))
    return tuple(found)


def varbinds(name: str, subtrees: Sequence[OID]) -> list[VarBind]:
    """The recording's varbinds under ``subtrees``, in the recording's (OID) order."""
    return list(_varbinds(name, tuple(".".join(map(str, oid)) for oid in subtrees)))


def write_uncompressed(name: str, path: Path, subtrees: Sequence[OID] | None = None) -> int:
    """Writes the recording (or only ``subtrees`` of it, plus sysDescr and sysObjectID) to ``path``
    uncompressed, for snmpsim to serve; returns the number of lines written."""
    wanted = None if subtrees is None else _matcher(
        ("1.3.6.1.2.1.1.1", "1.3.6.1.2.1.1.2", *(".".join(map(str, oid)) for oid in subtrees))).match
    written = 0
    with path.open("w", encoding="latin-1") as out:
        for line in lines(name):
            if "|" not in line or (wanted is not None and not wanted(line)):
                continue
            out.write(line if line.endswith("\n") else line + "\n")
            written += 1
    return written
