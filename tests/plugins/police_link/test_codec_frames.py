"""The police link's frames: every frame survives a round trip as compact JSON, and whatever else arrives is
refused with a FrameError whose code is the error frame's and whose reason names the member at fault."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plugins.police_link.codec.frames import (
    ALERT_ANSWER,
    CAP_XML,
    CONTENT_TYPES,
    ERROR_CODES,
    FRAME_TYPES,
    MAX_FRAME_BYTES,
    MAX_SEQ,
    POLICE_REQUEST,
    REQUEST_ANSWER,
    STATUSES,
    ErrorFrame,
    EventFrame,
    EventResponse,
    FrameError,
    Ping,
    Pong,
    Resume,
    Snapshot,
    decode_frame,
    encode_frame,
    format_time,
    parse_time,
)

SENT = datetime(2026, 11, 22, 10, 15, 30, tzinfo=UTC)
BST = timezone(timedelta(hours=1))

FRAMES = [
    EventFrame(link_seq=1, transaction_id="01KAJ7Q3V4M5X8Z2C9R6T1B0NW", content_type=CAP_XML,
               payload="<alert>été</alert>", sent_at=SENT),
    EventFrame(link_seq=MAX_SEQ, transaction_id="t.1:a-b_c", content_type=POLICE_REQUEST,
               payload={"request_type": "live_view", "nested": {"list": [1, 2.5, None, True, "x"]}},
               sent_at=SENT.astimezone(BST), deadline=SENT + timedelta(minutes=5, microseconds=250)),
    EventFrame(link_seq=7, transaction_id="a", content_type="text/plain; charset=utf-8", payload="", sent_at=SENT),
    EventFrame(link_seq=8, transaction_id="b", content_type="application/json", payload={}, sent_at=SENT),
    *[EventResponse(transaction_id="01KAJ7Q3V4M5X8Z2C9R6T1B0NW", status=status, link_seq=3) for status in STATUSES],
    EventResponse(transaction_id="x", status="error", reason="unknown content type"),
    Resume(last_seq_received=0),
    Resume(last_seq_received=MAX_SEQ),
    Snapshot(sent_at=SENT, incidents=(), requests=()),
    Snapshot(sent_at=SENT.astimezone(timezone(-timedelta(hours=5, minutes=30))),
             incidents=({"incident_id": "01KAJ", "identifier": "cctv@x/01KAJ/2", "msg_type": "Update",
                         "state": "open", "answer": None},
                        {"incident_id": "01KAK", "identifier": "cctv@x/01KAK/0", "msg_type": "Alert",
                         "state": "open", "answer": "accepted", "note": "members beyond these are kept"}),
             requests=({"request_id": "DBY-1", "request_type": "live_view", "state": "awaiting_consent"},)),
    Ping(clock=1795393800.125),
    Ping(clock=0.0),
    Pong(clock=1795393800.5, echo=1795393800.125),
    *[ErrorFrame(code=code, reason="why") for code in ERROR_CODES],
    ErrorFrame(code="invalid", reason="deadline: not a time", transaction_id="t1"),
]


@pytest.mark.parametrize("frame", FRAMES, ids=lambda frame: f"{type(frame).__name__}")
def test_every_frame_round_trips(frame):
    """Decoding what encode_frame wrote gives the same frame, as text and as UTF-8 bytes."""
    text = encode_frame(frame)
    assert decode_frame(text) == frame
    assert decode_frame(text.encode("utf-8")) == frame


def test_frames_are_compact_json_with_the_type_first():
    """Frames carry no spaces between members and name their type before anything else."""
    assert encode_frame(Resume(last_seq_received=5)) == '{"type":"resume","last_seq_received":5}'
    assert encode_frame(EventResponse(transaction_id="t1", status="ok", link_seq=4)) == (
        '{"type":"event_response","transaction_id":"t1","link_seq":4,"status":"ok","reason":null}')
    for frame in FRAMES:
        assert next(iter(json.loads(encode_frame(frame)))) == "type"


def test_an_event_is_written_with_its_times_and_offsets():
    """sent_at and deadline are ISO 8601 with the offset they were given; no deadline is null."""
    frame = EventFrame(link_seq=2, transaction_id="t2", content_type=CAP_XML, payload="<alert/>",
                       sent_at=SENT.astimezone(BST), deadline=SENT + timedelta(seconds=90, microseconds=5))
    written = json.loads(encode_frame(frame))
    assert written == {"type": "event", "link_seq": 2, "transaction_id": "t2", "content_type": CAP_XML,
                       "sent_at": "2026-11-22T11:15:30+01:00", "deadline": "2026-11-22T10:17:00.000005+00:00",
                       "payload": "<alert/>"}
    plain = json.loads(encode_frame(frame.__class__(2, "t2", CAP_XML, "<alert/>", SENT)))
    assert plain["deadline"] is None


def test_content_types_are_the_four_the_link_carries():
    """The constants are the media types the protocol document names."""
    assert CONTENT_TYPES == (
        "application/cap+xml",
        "application/vnd.cctv-hub.police-request+json; version=1",
        "application/vnd.cctv-hub.request-answer+json; version=1",
        "application/vnd.cctv-hub.alert-answer+json; version=1",
    )
    assert (REQUEST_ANSWER, ALERT_ANSWER) == CONTENT_TYPES[2:]


# --- times -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-11-22T10:15:30Z", SENT),
    ("2026-11-22T10:15:30+00:00", SENT),
    ("2026-11-22T11:15:30+01:00", SENT),
    ("2026-11-22T04:45:30-05:30", SENT),
    ("2026-11-22T10:15:30.5Z", SENT + timedelta(milliseconds=500)),
    ("2026-11-22T10:15:30.123456789+00:00", SENT + timedelta(microseconds=123456)),
])
def test_times_with_an_offset_are_read_as_that_instant(text, expected):
    """Z and numeric offsets, with or without a fraction, give the instant they say, keeping the offset."""
    moment = parse_time(text)
    assert moment == expected
    assert moment.utcoffset() is not None


@pytest.mark.parametrize("text", [
    "2026-11-22T10:15:30",  # no offset
    "2026-11-22 10:15:30Z",
    "2026-11-22t10:15:30z",
    "2026-11-22T10:15Z",
    "2026-11-22",
    "2026-13-01T10:15:30Z",
    "2026-02-30T10:15:30Z",
    "2026-11-22T24:00:00Z",
    "2026-11-22T10:15:60Z",
    "2026-11-22T10:15:30+24:00",
    "2026-11-22T10:15:30+01:60",
    "2026-11-22T10:15:30+0100",
    "２０２６-11-22T10:15:30Z",  # full-width digits are digits to Python, not to ISO 8601
    "1795393800",
    "",
])
def test_times_without_an_offset_or_impossible_are_refused(text):
    """A time must be a real instant in the ISO 8601 form with an offset."""
    with pytest.raises(ValueError):
        parse_time(text)


def test_an_offset_the_wire_cannot_say_is_written_as_utc():
    """An offset with seconds in it becomes UTC; a time with no offset at all cannot be written."""
    odd = SENT.astimezone(timezone(timedelta(minutes=1, seconds=15)))
    assert format_time(odd) == "2026-11-22T10:15:30+00:00"
    with pytest.raises(ValueError):
        format_time(datetime(2026, 11, 22, 10, 15, 30))


# --- refusals ---------------------------------------------------------------------------------------------

EVENT = {"type": "event", "link_seq": 5, "transaction_id": "t5", "content_type": CAP_XML,
         "sent_at": "2026-11-22T10:15:30+00:00", "deadline": None, "payload": "<alert/>"}


def event(**changes):
    data = {**EVENT, **changes}
    return json.dumps({name: value for name, value in data.items() if value is not ...})


BAD = [
    # not a frame at all
    ("", "malformed", "not JSON"),
    ("   ", "malformed", "not JSON"),
    ("{", "malformed", "not JSON"),
    ('{"type":"ping","clock":1} {}', "malformed", "not JSON"),
    ("[1, 2]", "malformed", "JSON object, not an array"),
    ('"event"', "malformed", "JSON object, not a string"),
    ("null", "malformed", "JSON object, not null"),
    ("{}", "malformed", "type: required"),
    ('{"type": 3}', "malformed", "type: must be a string"),
    ('{"type": null}', "malformed", "type: required"),
    ('{"type":"ping","clock":NaN}', "malformed", "not JSON"),
    ('{"type":"ping","clock":Infinity}', "malformed", "not JSON"),
    ('{"type":"ping","clock":-Infinity}', "malformed", "not JSON"),
    ('{"type":"ping","clock":1e999}', "malformed", "not JSON"),
    ("\ufeff" + '{"type":"resume","last_seq_received":1}', "malformed", "not JSON"),
    ("{'type': 'resume'}", "malformed", "not JSON"),
    # unknown types
    ('{"type":"hello"}', "unknown_type", "'hello' is not a frame type"),
    ('{"type":"Event"}', "unknown_type", "'Event'"),
    ('{"type":""}', "unknown_type", "is not a frame type"),
    # members
    (event(link_seq=...), "invalid", "link_seq: required"),
    (event(payload=...), "invalid", "payload: required"),
    (event(extra=1), "invalid", "'extra': not a member of event frames"),
    (event(link_seq=0), "invalid", "link_seq: must be from 1"),
    (event(link_seq=-1), "invalid", "link_seq: must be from 1"),
    (event(link_seq=MAX_SEQ + 1), "invalid", "link_seq: must be from 1"),
    (event(link_seq=2**64), "invalid", "link_seq: must be an integer"),
    (event(link_seq=1.5), "invalid", "link_seq: must be an integer"),
    (event(link_seq=3.0), "invalid", "link_seq: must be an integer"),
    (event(link_seq="3"), "invalid", "link_seq: must be an integer"),
    (event(link_seq=True), "invalid", "link_seq: must be an integer"),
    (event(transaction_id=""), "invalid", "transaction_id: must be 1 to 128"),
    (event(transaction_id="has space"), "invalid", "transaction_id:"),
    (event(transaction_id="x" * 129), "invalid", "transaction_id:"),
    (event(transaction_id=7), "invalid", "transaction_id:"),
    (event(content_type=""), "invalid", "content_type:"),
    (event(content_type="application/cap+xml\n"), "invalid", "content_type:"),
    (event(content_type=None), "invalid", "content_type:"),
    (event(payload={"a": 1}), "invalid", "payload: must be a string for application/cap+xml, not an object"),
    (event(payload=None), "invalid", "payload: must be a string"),
    (event(content_type=POLICE_REQUEST, payload="{}"), "invalid", "payload: must be a JSON object for"),
    (event(content_type=POLICE_REQUEST, payload=[]), "invalid", "payload: must be a JSON object"),
    (event(sent_at="2026-11-22T10:15:30"), "invalid", "sent_at: '2026-11-22T10:15:30' is not an ISO 8601 time"),
    (event(sent_at="yesterday"), "invalid", "sent_at:"),
    (event(sent_at=1795393800), "invalid", "sent_at: must be ISO 8601 text"),
    (event(sent_at=None), "invalid", "sent_at:"),
    (event(deadline="2026-02-30T00:00:00Z"), "invalid", "deadline: '2026-02-30T00:00:00Z' is not a real time"),
    ('{"type":"event_response","transaction_id":"t1","status":"okay"}', "invalid",
     "status: must be one of ok, duplicate, error, stale, busy, not 'okay'"),
    ('{"type":"event_response","transaction_id":"t1"}', "invalid", "status: required"),
    ('{"type":"event_response","transaction_id":"t1","status":"ok","link_seq":-4}', "invalid", "link_seq:"),
    ('{"type":"event_response","transaction_id":"t1","status":"ok","reason":5}', "invalid", "reason:"),
    ('{"type":"event_response","transaction_id":"t1","status":"error","reason":"' + "x" * 2001 + '"}',
     "invalid", "reason: must be text of at most 2000"),
    ('{"type":"resume"}', "invalid", "last_seq_received: required"),
    ('{"type":"resume","last_seq_received":-1}', "invalid", "last_seq_received: must be from 0"),
    ('{"type":"resume","last_seq_received":null}', "invalid", "last_seq_received: must be an integer"),
    ('{"type":"snapshot","sent_at":"2026-11-22T10:15:30Z","incidents":{},"requests":[]}', "invalid",
     "incidents: must be an array"),
    ('{"type":"snapshot","sent_at":"2026-11-22T10:15:30Z","incidents":[],"requests":[5]}', "invalid",
     "requests[0]: must be an object"),
    ('{"type":"snapshot","sent_at":"2026-11-22T10:15:30Z","incidents":[],"requests":[{"request_id":"r"}]}',
     "invalid", "requests[0].request_type: required"),
    (('{"type":"snapshot","sent_at":"2026-11-22T10:15:30Z","incidents":[{"incident_id":"i","identifier":"c",'
      '"msg_type":"Alert","state":"open","answer":7}],"requests":[]}'), "invalid", "incidents[0].answer:"),
    ('{"type":"snapshot","incidents":[],"requests":[]}', "invalid", "sent_at: required"),
    ('{"type":"ping"}', "invalid", "clock: required"),
    ('{"type":"ping","clock":"now"}', "invalid", "clock: must be a finite"),
    ('{"type":"ping","clock":-1}', "invalid", "clock: must be a finite, non-negative"),
    ('{"type":"ping","clock":true}', "invalid", "clock:"),
    ('{"type":"ping","clock":1,"echo":1}', "invalid", "'echo': not a member of ping frames"),
    ('{"type":"pong","clock":1}', "invalid", "echo: required"),
    ('{"type":"error","code":"broken","reason":"x"}', "invalid",
     "code: must be one of malformed, unknown_type, oversized, invalid"),
    ('{"type":"error","code":"malformed"}', "invalid", "reason: required"),
]


@pytest.mark.parametrize(("text", "code", "reason"), BAD, ids=[f"{index}-{case[1]}" for index, case in enumerate(BAD)])
def test_each_bad_frame_is_refused_with_its_code_and_a_reason_naming_the_member(text, code, reason):
    """The code is the one the error frame answers with; the reason says which member and why."""
    with pytest.raises(FrameError) as caught:
        decode_frame(text)
    assert caught.value.code == code
    assert reason in caught.value.reason
    assert str(caught.value) == f"{code}: {caught.value.reason}"


def test_a_bad_event_carries_its_transaction_id_and_link_seq_for_an_event_response():
    """Where the ids are readable the error has them, so the session answers with event_response error."""
    with pytest.raises(FrameError) as caught:
        decode_frame(event(deadline="soon"))
    assert (caught.value.code, caught.value.transaction_id, caught.value.link_seq) == ("invalid", "t5", 5)
    with pytest.raises(FrameError) as caught:
        decode_frame('{"type":"evnt","transaction_id":"t9","link_seq":9}')
    assert (caught.value.code, caught.value.transaction_id, caught.value.link_seq) == ("unknown_type", "t9", 9)


def test_ids_that_are_themselves_bad_are_never_carried_back():
    """A transaction id or link_seq that breaks the rules is not echoed in the error (None instead)."""
    with pytest.raises(FrameError) as caught:
        decode_frame(event(transaction_id="<script>" + "x" * 500, link_seq=-3))
    assert (caught.value.transaction_id, caught.value.link_seq) == (None, None)
    with pytest.raises(FrameError) as caught:
        decode_frame(event(link_seq=...))
    assert (caught.value.transaction_id, caught.value.link_seq) == ("t5", None)


def test_an_unreadable_frame_carries_no_ids():
    """Text that is not a JSON object has no ids to give."""
    with pytest.raises(FrameError) as caught:
        decode_frame('{"transaction_id": "t1", "link_seq": 1')
    assert (caught.value.code, caught.value.transaction_id, caught.value.link_seq) == ("malformed", None, None)


# --- size, encoding, nesting ------------------------------------------------------------------------------


def test_a_frame_of_max_bytes_is_read_and_one_byte_more_is_oversized():
    """The limit counts UTF-8 bytes, inclusive."""
    head = '{"type":"event_response","transaction_id":"t1","status":"error","reason":"'
    filler = 2000 - len(head) - 2
    exact = head + "x" * filler + '"}'
    assert len(exact.encode()) == 2000
    assert decode_frame(exact, max_bytes=2000).status == "error"
    with pytest.raises(FrameError) as caught:
        decode_frame(exact, max_bytes=1999)
    assert caught.value.code == "oversized"


def test_size_is_checked_before_parsing():
    """A huge frame is oversized even when it is not JSON: nothing of it is parsed."""
    for huge in ("{" * (MAX_FRAME_BYTES + 1), b"\xff" * (MAX_FRAME_BYTES + 1)):
        with pytest.raises(FrameError) as caught:
            decode_frame(huge)
        assert caught.value.code == "oversized"
        assert str(MAX_FRAME_BYTES) in caught.value.reason


def test_multibyte_text_is_measured_in_bytes_not_characters():
    """1,000 characters of three bytes each are 3,000 bytes: over a 2,000 byte limit."""
    text = '{"type":"error","code":"invalid","reason":"' + "€" * 1000 + '"}'
    assert len(text) < 2000 < len(text.encode())
    with pytest.raises(FrameError) as caught:
        decode_frame(text, max_bytes=2000)
    assert caught.value.code == "oversized"
    assert decode_frame(text).reason == "€" * 1000


@pytest.mark.parametrize("data", [
    b'{"type":"error","code":"invalid","reason":"\xff"}',
    b'{"type":"error","code":"invalid","reason":"\xc3"}',
    b'{"type":"error","code":"invalid","reason":"\xed\xa0\x80"}',  # an encoded surrogate
    '{"type":"error","code":"invalid","reason":"é"}'.encode("latin-1"),
    '{"type":"resume","last_seq_received":1}'.encode("utf-16"),
    '{"type":"error","code":"invalid","reason":"\ud800"}',  # a lone surrogate in text
])
def test_bytes_that_are_not_utf8_are_malformed(data):
    """Only UTF-8 is read; Latin-1, UTF-16 and surrogates are refused, not guessed at."""
    with pytest.raises(FrameError) as caught:
        decode_frame(data)
    assert caught.value.code == "malformed"


def test_an_escaped_lone_surrogate_is_malformed():
    """JSON's \\ud800 escape without its pair is not text either."""
    with pytest.raises(FrameError) as caught:
        decode_frame('{"type":"error","code":"invalid","reason":"\\ud800"}')
    assert caught.value.code == "malformed"


@pytest.mark.parametrize("depth", [2000, 100_000])
def test_deep_nesting_is_malformed_not_a_recursion_error(depth):
    """Arrays or objects nested thousands deep, in the frame or its payload, give a FrameError."""
    cases = ["[" * depth + "]" * depth,
             '{"a":' * depth + "1" + "}" * depth,
             event(content_type=POLICE_REQUEST, payload=None).replace('"payload": null',
                                                                      '"payload": {"a":' + "[" * depth + "]" * depth + "}")]
    for text in cases:
        with pytest.raises(FrameError) as caught:
            decode_frame(text)
        assert caught.value.code == "malformed"


def test_member_names_are_exact():
    """Members are matched by their exact name: a differently cased one is unknown."""
    with pytest.raises(FrameError) as caught:
        decode_frame('{"type":"resume","Last_Seq_Received":1}')
    assert "last_seq_received: required" in caught.value.reason


def test_optional_members_may_be_left_out_or_null():
    """deadline, link_seq and reason (in a response), transaction_id (in an error) may be absent or null."""
    assert decode_frame(event(deadline=...)).deadline is None
    assert decode_frame('{"type":"event_response","transaction_id":"t1","status":"ok"}') == EventResponse("t1", "ok")
    assert decode_frame('{"type":"error","code":"malformed","reason":"x","transaction_id":null}') == (
        ErrorFrame("malformed", "x"))


def test_numbers_in_pings_may_be_written_as_integers():
    """JSON has one number type: a clock of 5 is 5.0."""
    assert decode_frame('{"type":"ping","clock":5}') == Ping(5.0)
    assert decode_frame('{"type":"pong","clock":5,"echo":4.5}') == Pong(5.0, 4.5)


def test_content_types_other_than_json_carry_text_and_json_ones_objects():
    """The payload's kind follows the media type: +json (or application/json) an object, anything else text."""
    assert decode_frame(event(content_type="text/plain", payload="hi")).payload == "hi"
    assert decode_frame(event(content_type="application/json", payload={"a": 1})).payload == {"a": 1}
    assert decode_frame(event(content_type=ALERT_ANSWER, payload={"a": 1})).payload == {"a": 1}
    with pytest.raises(FrameError):
        decode_frame(event(content_type="Application/Problem+JSON", payload="{}"))


# --- building frames in code ------------------------------------------------------------------------------


@pytest.mark.parametrize("build", [
    lambda: EventFrame(0, "t", CAP_XML, "<a/>", SENT),
    lambda: EventFrame(1, "t", CAP_XML, "<a/>", datetime(2026, 11, 22)),
    lambda: EventFrame(1, "t", POLICE_REQUEST, "{}", SENT),
    lambda: EventFrame(1, "t t", CAP_XML, "<a/>", SENT),
    lambda: EventResponse("t", "fine"),
    lambda: Resume(-1),
    lambda: Resume(True),
    lambda: Ping(float("nan")),
    lambda: Pong(1.0, float("inf")),
    lambda: ErrorFrame("bad", "x"),
    lambda: Snapshot(sent_at=SENT, incidents=({"incident_id": "i"},)),
])
def test_a_frame_that_could_not_be_read_cannot_be_built(build):
    """The classes check what the reader checks, so encode_frame never writes what the other end refuses."""
    with pytest.raises(ValueError):
        build()


def test_decode_refuses_what_is_neither_text_nor_bytes():
    """A caller passing a parsed object is a programming error, not a peer's."""
    with pytest.raises(TypeError):
        decode_frame({"type": "ping", "clock": 1})  # type: ignore[arg-type]


# --- anything at all --------------------------------------------------------------------------------------


def _read(data):
    try:
        frame = decode_frame(data, max_bytes=4096)
    except FrameError as error:
        assert error.code in ERROR_CODES
        assert isinstance(error.reason, str) and error.reason
        return None
    assert decode_frame(encode_frame(frame)) == frame
    return frame


@given(st.binary(max_size=600))
@settings(max_examples=300, deadline=None)
def test_random_bytes_raise_nothing_but_frame_error(data):
    _read(data)


@given(st.text(max_size=600))
@settings(max_examples=300, deadline=None)
def test_random_text_raises_nothing_but_frame_error(text):
    _read(text)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
member_names = st.sampled_from(["type", "link_seq", "transaction_id", "content_type", "sent_at", "deadline",
                                "payload", "status", "reason", "last_seq_received", "incidents", "requests",
                                "clock", "echo", "code", "extra"])


@given(st.sampled_from(FRAME_TYPES), st.dictionaries(member_names, json_values, max_size=8))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_objects_of_every_type_with_random_members_raise_nothing_but_frame_error(kind, members):
    _read(json.dumps({**members, "type": kind}))


@given(st.sampled_from(FRAMES), st.data())
@settings(max_examples=200, deadline=None)
def test_valid_frames_with_one_member_changed_either_read_or_are_refused(frame, data):
    """Dropping or replacing one member of a good frame gives a frame that round-trips, or a FrameError."""
    members = json.loads(encode_frame(frame))
    name = data.draw(st.sampled_from(sorted(members)))
    if data.draw(st.booleans()):
        del members[name]
    else:
        members[name] = data.draw(json_values)
    _read(json.dumps(members))
