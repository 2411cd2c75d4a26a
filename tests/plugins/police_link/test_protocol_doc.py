"""docs/police-link-protocol.md stays true: every example in it is read by the hub's own decoders (frames,
the messages they carry, the CAP alert against the OASIS schema), every frame type, request type and answer
outcome has an example, and every schema file is linked."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from plugins.police_link.codec.cap import decode_alert
from plugins.police_link.codec.frames import (
    ALERT_ANSWER, CAP_XML, CONTENT_TYPES, ERROR_CODES, FRAME_TYPES, POLICE_REQUEST, REQUEST_ANSWER, STATUSES,
    EventFrame, decode_frame, encode_frame,
)
from plugins.police_link.codec.messages import (
    OUTCOMES, REQUEST_TYPES, decode_alert_answer, decode_request, decode_request_answer, encode_alert_answer,
    encode_request, encode_request_answer,
)
from plugins.police_link.transport import SUBPROTOCOL
from tests.plugins.police_link.conftest import assert_valid_cap

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "police-link-protocol.md"
SCHEMAS = ROOT / "plugins" / "police_link" / "schemas"

#: What each marked block is, and how it is read.
READERS = {
    "frame": decode_frame,
    "request": decode_request,
    "alert-answer": decode_alert_answer,
    "request-answer": decode_request_answer,
}
WRITERS = {
    "request": encode_request,
    "alert-answer": encode_alert_answer,
    "request-answer": encode_request_answer,
}
_FENCE = re.compile(r"^```(?P<info>[^\n`]*)\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)


def blocks(language: str) -> list[tuple[str, str]]:
    """(role, text) of every fenced block in the document in ``language``."""
    found = []
    for match in _FENCE.finditer(DOC.read_text("utf-8")):
        words = match["info"].split()
        if words and words[0] == language:
            found.append((" ".join(words[1:]), match["body"]))
    return found


def test_every_json_block_is_a_marked_example():
    """No JSON in the document escapes checking: each block says what it is an example of."""
    roles = [role for role, _ in blocks("json")]
    assert len(roles) >= 20
    assert set(roles) <= set(READERS), f"unmarked or unknown: {sorted(set(roles) - set(READERS))}"


@pytest.mark.parametrize(("role", "text"), blocks("json"),
                         ids=lambda value: value if value in READERS else None)
def test_each_example_is_read_by_the_hubs_decoder(role, text):
    """Frames decode; messages decode, and encode back to what the document shows."""
    message = READERS[role](text) if role == "frame" else READERS[role](json.loads(text))
    if role == "frame":
        assert decode_frame(encode_frame(message)) == message
    else:
        assert WRITERS[role](message) == json.loads(text)


def test_the_payload_of_each_example_event_is_read_as_its_content_type(cap_schema):
    """A request, an answer or a CAP alert carried in an example event is itself valid."""
    events = [decode_frame(text) for role, text in blocks("json") if role == "frame"]
    events = [frame for frame in events if isinstance(frame, EventFrame)]
    kinds = set()
    for event in events:
        kinds.add(event.content_type)
        if event.content_type == POLICE_REQUEST:
            decode_request(event.payload)
        elif event.content_type == REQUEST_ANSWER:
            decode_request_answer(event.payload)
        elif event.content_type == ALERT_ANSWER:
            decode_alert_answer(event.payload)
        elif event.content_type == CAP_XML:
            assert_valid_cap(event.payload)
            decode_alert(event.payload)
        else:
            pytest.fail(f"an example event of content type {event.content_type!r}, which the hub does not take")
    assert {POLICE_REQUEST, CAP_XML} <= kinds


def test_the_cap_example_is_valid_cap_and_is_what_the_cap_event_carries(cap_schema):
    """The XML shown is valid against the OASIS schema, and equals the CAP event's payload."""
    [(role, xml)] = blocks("xml")
    assert role == "cap"
    assert_valid_cap(xml)
    decode_alert(xml)
    payloads = [frame.payload for frame in map(decode_frame, (t for r, t in blocks("json") if r == "frame"))
                if isinstance(frame, EventFrame) and frame.content_type == CAP_XML]
    assert payloads == [xml]


def test_every_frame_type_request_type_and_outcome_has_an_example():
    """A reader finds an example of each thing the protocol names."""
    frames = [json.loads(text) for role, text in blocks("json") if role == "frame"]
    assert {frame["type"] for frame in frames} == set(FRAME_TYPES)
    requests = [json.loads(text) for role, text in blocks("json") if role == "request"]
    assert [request["request_type"] for request in requests] == list(REQUEST_TYPES)
    answers = [json.loads(text) for role, text in blocks("json") if role == "request-answer"]
    assert {answer["outcome"] for answer in answers} == set(OUTCOMES)
    assert {json.loads(text)["answer"] for role, text in blocks("json") if role == "alert-answer"} == {
        "accepted", "rejected"}


def test_the_document_names_every_status_code_content_type_and_the_subprotocol():
    """The tables list what the code has: no status, error code or content type is left out."""
    text = DOC.read_text("utf-8")
    for word in (*STATUSES, *ERROR_CODES):
        assert f"| `{word}` |" in text, word
    for content_type in CONTENT_TYPES:
        assert f"`{content_type}`" in text, content_type
    assert f"`{SUBPROTOCOL}`" in text


def test_every_schema_file_is_linked_and_every_link_resolves():
    """Each schema file is linked from the document, and each relative link points at a file that exists."""
    text = DOC.read_text("utf-8")
    links = re.findall(r"\]\((\.\./[^)]+)\)", text)
    for link in links:
        assert (DOC.parent / link).resolve().is_file(), link
    linked = {Path(link).name for link in links}
    assert {path.name for path in SCHEMAS.glob("*.json")} <= linked
