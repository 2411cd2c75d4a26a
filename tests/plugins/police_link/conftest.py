"""Fixtures shared by the police link's tests."""

from __future__ import annotations

import functools

import pytest
from lxml import etree

from tests.plugins.police_link.cap_schema import SchemaUnavailable, cap_schema_path

# --- CAP 1.2 -------------------------------------------------------------------------------------------------


@functools.cache
def _load_cap_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(cap_schema_path())))


@pytest.fixture(scope="session")
def cap_schema() -> etree.XMLSchema:
    """The official OASIS CAP 1.2 XML schema (see cap_schema.py for where it comes from)."""
    try:
        return _load_cap_schema()
    except SchemaUnavailable as error:
        pytest.fail(str(error), pytrace=False)


def assert_valid_cap(xml_text: str | bytes) -> None:
    """Fail, listing the schema's complaints, unless ``xml_text`` is a CAP 1.2 alert valid against the XSD."""
    data = xml_text.encode("utf-8") if isinstance(xml_text, str) else xml_text
    document = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True)).getroottree()
    schema = _load_cap_schema()
    if not schema.validate(document):
        problems = "\n".join(f"line {entry.line}: {entry.message}" for entry in schema.error_log)
        raise AssertionError(f"not valid CAP 1.2:\n{problems}\n---\n{data.decode('utf-8', 'replace')[:4000]}")
