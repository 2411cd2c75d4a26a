"""Hostile and broken documents given to decode_alert (the police end reads alerts with it): each is a
CapError saying why, quickly, with nothing expanded or fetched, and no part of the document echoed."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from lxml import etree

from plugins.police_link.codec import cap
from plugins.police_link.codec.cap import (
    CAP_NAMESPACE,
    CapError,
    decode_alert,
    encode_alert,
)
from tests.plugins.police_link import cap_samples as samples

pytestmark = pytest.mark.timeout(30)

VALID = encode_alert(samples.alert())
BODY = VALID.split("?>", 1)[1]  # the alert without its XML declaration

BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE alert ['
    '<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{n} "{("&lol%s;" % ("" if n == 1 else n - 1)) * 10}">' for n in range(1, 10))
    + f']><alert xmlns="{CAP_NAMESPACE}"><identifier>&lol9;</identifier></alert>'
)
QUADRATIC_BLOWUP = (
    f'<?xml version="1.0"?><!DOCTYPE alert [<!ENTITY a "{"x" * 50_000}">]>'
    f'<alert xmlns="{CAP_NAMESPACE}"><note>{"&a;" * 10_000}</note></alert>'
)
EXTERNAL_ENTITY = (
    '<?xml version="1.0"?><!DOCTYPE alert [<!ENTITY secret SYSTEM "file:///etc/passwd">]>'
    + BODY.replace("<note>", "<note>&secret;").replace("<source>cctv-hub", "<source>&secret;")
)
PARAMETER_ENTITY = (
    '<?xml version="1.0"?><!DOCTYPE alert [<!ENTITY % remote SYSTEM "http://127.0.0.1:{port}/evil.dtd"> %remote;]>'
    + BODY
)
EXTERNAL_DTD = '<?xml version="1.0"?><!DOCTYPE alert SYSTEM "http://127.0.0.1:{port}/cap.dtd">' + BODY
BARE_DOCTYPE = '<?xml version="1.0"?><!DOCTYPE alert>' + BODY
SPACED_DOCTYPE = '<?xml version="1.0"?><! DOCTYPE alert>' + BODY


@contextmanager
def listener() -> Iterator[tuple[int, list[bytes]]]:
    """A loopback TCP port recording whether anything connects (it must not)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.settimeout(0.2)
    seen: list[bytes] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                continue
            with connection:
                connection.settimeout(0.5)
                try:
                    seen.append(connection.recv(1024) or b"connected")
                except OSError:
                    seen.append(b"connected")

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1], seen
    finally:
        stop.set()
        thread.join(2)
        server.close()


@pytest.mark.parametrize(
    "document",
    [BILLION_LAUGHS, QUADRATIC_BLOWUP, EXTERNAL_ENTITY, BARE_DOCTYPE, SPACED_DOCTYPE],
    ids=["billion-laughs", "quadratic-blowup", "external-entity", "bare-doctype", "spaced-doctype"],
)
@pytest.mark.parametrize("as_bytes", [False, True], ids=["text", "bytes"])
def test_a_document_type_declaration_is_refused_before_anything_is_expanded(document, as_bytes):
    with pytest.raises(CapError, match="document type declaration, which is refused") as caught:
        decode_alert(document.encode() if as_bytes else document)
    assert "root:" not in str(caught.value) and "lol" not in str(caught.value)


@pytest.mark.parametrize("document", [PARAMETER_ENTITY, EXTERNAL_DTD], ids=["parameter-entity", "external-dtd"])
def test_an_external_dtd_or_entity_is_never_fetched(document):
    """Nothing connects to the address the document names, and the document is refused."""
    with listener() as (port, seen), pytest.raises(CapError, match="document type declaration"):
        decode_alert(document.replace("{port}", str(port)))
    assert seen == []


@pytest.mark.parametrize("document", [PARAMETER_ENTITY, EXTERNAL_DTD], ids=["parameter-entity", "external-dtd"])
def test_the_parser_itself_never_fetches_a_dtd_or_entity(document):
    """Belt and braces: were a declaration to reach the parser, it would load nothing over the network."""
    with listener() as (port, seen):
        try:
            root = etree.fromstring(document.replace("{port}", str(port)).encode(), cap._PARSER)
        except etree.XMLSyntaxError as error:
            assert "network" in str(error)
        else:
            assert root.getroottree().docinfo.externalDTD is None
    assert seen == []


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32", "cp037"])
def test_a_doctype_hidden_from_a_text_search_by_its_encoding_never_reaches_the_parser(encoding):
    """UTF-16, UTF-32 (with or without a byte order mark) and EBCDIC hide "<!DOCTYPE" from a byte search;
    the link carries UTF-8 only, so they are refused before parsing."""
    document = EXTERNAL_ENTITY.replace('<?xml version="1.0"?>', f'<?xml version="1.0" encoding="{encoding.upper()}"?>')
    data = document.encode(encoding)
    assert b"DOCTYPE" not in data
    with pytest.raises(CapError, match="not UTF-8|U\\+0000"):
        decode_alert(data)


@pytest.mark.parametrize("declared", ["ISO-8859-1", "UTF-16", "us-ascii", ""])
def test_an_alert_declaring_another_encoding_is_refused(declared):
    document = VALID.replace("encoding='UTF-8'", f"encoding='{declared}'")
    with pytest.raises(CapError, match="declares the encoding .* UTF-8 only"):
        decode_alert(document)
    with pytest.raises(CapError, match="declares the encoding"):
        decode_alert(document.encode())


def test_utf_8_with_or_without_declaration_or_byte_order_mark_is_read():
    assert decode_alert(BODY) == samples.alert()
    assert decode_alert(b"\xef\xbb\xbf" + VALID.encode()) == samples.alert()
    assert decode_alert(VALID.replace("encoding='UTF-8'", 'encoding="utf-8"').encode()) == samples.alert()


def test_an_alert_over_the_size_cap_is_refused_before_parsing():
    data = VALID.encode()
    assert decode_alert(data, max_bytes=len(data)) == samples.alert()
    with pytest.raises(CapError, match=f"is {len(data)} bytes, over the {len(data) - 1}-byte cap"):
        decode_alert(data, max_bytes=len(data) - 1)
    huge = VALID.replace("<note>", "<note>" + "x" * 1_100_000) if "<note>" in VALID else VALID.replace(
        "<source>cctv-hub</source>", "<source>cctv-hub</source><note>" + "x" * 1_100_000 + "</note>")
    with pytest.raises(CapError, match="over the 1048576-byte cap"):
        decode_alert(huge)


def test_deep_nesting_is_refused_by_the_parsers_depth_limit():
    depth = 100_000
    document = f'<alert xmlns="{CAP_NAMESPACE}">' + "<x>" * depth + "</x>" * depth + "</alert>"
    with pytest.raises(CapError, match="not well-formed XML"):
        decode_alert(document)


@pytest.mark.parametrize(
    "document, reason",
    [
        ("", "the alert is empty"),
        ("   \n", "the alert is empty"),
        ("not xml at all", "not well-formed XML"),
        ("{\"identifier\": \"x\"}", "not well-formed XML"),
        ("<alert>", "not well-formed XML"),
        (VALID[: len(VALID) // 2], "not well-formed XML"),
        ("<a>&undefined;</a>", "not well-formed XML"),
        (b"\x00\x01\x02\xff\xfe", "not UTF-8 \\(byte 3\\)"),
        (b"\xff\xfe<\x00a\x00", "not UTF-8 \\(byte 0\\)"),
        (VALID.encode("utf-8").replace(b"Fight in progress", b"Fight \xc3 progress"), "not UTF-8"),
        ("<alert>\ud800</alert>", "not Unicode scalar values"),
        ("<alert>\x00</alert>", "holds U\\+0000 at 7, which XML 1.0 forbids"),
        ("<alert>\x1b[31m</alert>", "holds U\\+001B"),
    ],
    ids=["empty", "blank", "prose", "json", "unclosed", "truncated", "undefined-entity", "binary", "bad-bom",
         "bad-utf8", "lone-surrogate", "nul", "escape"],
)
def test_what_is_not_xml_is_refused(document, reason):
    with pytest.raises(CapError, match=reason):
        decode_alert(document)


@pytest.mark.parametrize(
    "document, reason",
    [
        (VALID.replace(CAP_NAMESPACE, "urn:oasis:names:tc:emergency:cap:1.1"),
         "root element is {urn:oasis:names:tc:emergency:cap:1.1}alert, not a CAP 1.2 <alert>"),
        (VALID.replace(f' xmlns="{CAP_NAMESPACE}"', ""), "root element is alert, not a CAP 1.2 <alert>"),
        (f'<feed xmlns="{CAP_NAMESPACE}"/>', "root element is .*feed, not a CAP 1.2 <alert>"),
        (f'<alert xmlns="{CAP_NAMESPACE}"/>', "alert: <identifier> is missing"),
    ],
    ids=["cap-1.1", "no-namespace", "other-root", "empty-alert"],
)
def test_a_document_that_is_not_a_cap_1_2_alert_is_refused(document, reason):
    with pytest.raises(CapError, match=reason):
        decode_alert(document)


def test_input_that_is_neither_text_nor_bytes_is_refused():
    with pytest.raises(CapError, match="must be text or bytes, not dict"):
        decode_alert({"identifier": "x"})  # type: ignore[arg-type]


def test_the_reason_never_repeats_free_text_and_clips_a_refused_value():
    """A refusal is logged and sent back: it names the element, and quotes at most 60 characters of a refused
    structured value, never the alert's free text."""
    secret = "Witness Jane Roe, 07700 900123"
    broken = VALID.replace("Fight in progress", f"{secret}<")
    with pytest.raises(CapError) as caught:
        decode_alert(broken)
    assert "Jane Roe" not in str(caught.value)
    with_secret = VALID.replace("Seen on TC-04", secret).replace("<status>Actual", "<status>" + "Real" * 50)
    with pytest.raises(CapError, match="alert: status must be one of .*got 'RealReal") as caught:
        decode_alert(with_secret)
    assert "Jane Roe" not in str(caught.value)
    assert "Real" * 15 not in str(caught.value)


def test_comments_and_processing_instructions_are_ignored():
    decorated = VALID.replace("<sender>", "<!-- hello --><?pi data?><sender>")
    assert decode_alert(decorated) == samples.alert()


def test_a_failed_document_does_not_change_the_verdict_on_the_next():
    for broken in ("<a><b></a>", "<a>&x;</a>", "\x00", BILLION_LAUGHS):
        with pytest.raises(CapError):
            decode_alert(broken)
    assert decode_alert(VALID) == samples.alert()
