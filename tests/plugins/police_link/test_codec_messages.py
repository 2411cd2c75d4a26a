"""The police link's messages: every request type and answer is checked against its own JSON Schema, read
into typed classes and written back the same; anything else is a MessageError pointing at the member at
fault, in words the force's IT can act on."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from plugins.police_link.codec.messages import (
    REQUEST_TYPES, SUPPORTED_VERSIONS, AlertAnswer, LiveViewRequest, MessageError, MonitoredPlace,
    MonitorLocationRequest, Officer, PointCameraRequest, RequestAnswer, RetainFootageRequest, StreamGrant,
    decode_alert_answer, decode_request, decode_request_answer, encode_alert_answer, encode_request,
    encode_request_answer, schema_for,
)

SCHEMA_NAMES = (*REQUEST_TYPES, "alert_answer", "request_answer")
OFFICER = {"name": "Sgt Priya Shah", "force": "Derbyshire Constabulary"}
T0 = datetime(2026, 11, 22, 22, 30, tzinfo=UTC)


def example(name: str) -> dict:
    return copy.deepcopy(schema_for(name)["examples"][0])


def decode(name: str, payload: dict):
    if name in REQUEST_TYPES:
        return decode_request(payload)
    return decode_alert_answer(payload) if name == "alert_answer" else decode_request_answer(payload)


def encode(name: str, message) -> dict:
    if name in REQUEST_TYPES:
        return encode_request(message)
    return encode_alert_answer(message) if name == "alert_answer" else encode_request_answer(message)


# --- the schema files --------------------------------------------------------------------------------------


def test_the_schema_files_are_the_ones_documented():
    """One file per request type and version, and one per answer, shipped inside the package."""
    folder = resources.files("plugins.police_link").joinpath("schemas")
    assert sorted(entry.name for entry in folder.iterdir() if entry.name.endswith(".json")) == sorted(
        f"{name}.v1.json" for name in SCHEMA_NAMES)


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_each_schema_is_a_valid_draft_2020_12_schema_closed_to_unknown_members(name):
    """The files are JSON Schema 2020-12, and a message may carry no member its schema does not name."""
    schema = schema_for(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False
    assert schema["title"] and schema["description"]


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_each_schemas_own_example_is_read_and_written_back_unchanged(name):
    """The example inside each schema file fits it, and survives decode then encode."""
    for sample in schema_for(name)["examples"]:
        assert encode(name, decode(name, copy.deepcopy(sample))) == sample


@pytest.mark.parametrize("kind", REQUEST_TYPES)
def test_every_request_has_the_common_members(kind):
    """request_type, version 1, request_id, reason and requested_by are required of every request."""
    schema = schema_for(kind)
    assert {"request_type", "version", "request_id", "reason", "requested_by"} <= set(schema["required"])
    assert schema["properties"]["request_type"] == {"const": kind}
    assert schema["properties"]["version"]["const"] == 1


def test_schema_for_gives_a_copy_and_refuses_what_it_does_not_have():
    """Changing the returned document changes nothing; unknown types and versions are a MessageError."""
    schema_for("live_view")["required"].append("nonsense")
    assert "nonsense" not in schema_for("live_view")["required"]
    with pytest.raises(MessageError, match="supported: 1"):
        schema_for("live_view", 2)
    with pytest.raises(MessageError, match="unknown request type"):
        schema_for("make_tea")
    with pytest.raises(MessageError, match="supported: 1"):
        schema_for("request_answer", 3)


# --- requests ------------------------------------------------------------------------------------------


def test_a_live_view_request_is_read_into_its_class():
    """Every member lands on its field; the officer is the events module's Officer."""
    request = decode_request({"request_type": "live_view", "version": 1, "request_id": "R-1",
                              "reason": "Fight reported", "requested_by": {**OFFICER, "collar_number": "2291"},
                              "camera": "42", "minutes": 30})
    assert request == LiveViewRequest(request_id="R-1", camera="42", minutes=30, reason="Fight reported",
                                      requested_by=Officer("Sgt Priya Shah", "Derbyshire Constabulary", "2291"))
    assert (request.request_type, request.version) == ("live_view", 1)


def test_a_retain_footage_request_keeps_its_times_and_their_offsets():
    """start, end and retain_until are aware datetimes at the instants sent; cameras a tuple."""
    request = decode_request({"request_type": "retain_footage", "version": 1, "request_id": "R-2",
                              "reason": "Assault", "requested_by": OFFICER, "crime_reference": "DBY/26/1",
                              "cameras": ["42", "43"], "start": "2026-11-22T23:30:00+01:00",
                              "end": "2026-11-22T23:15:00Z"})
    assert isinstance(request, RetainFootageRequest)
    assert request.cameras == ("42", "43")
    assert request.start == T0 and request.start.utcoffset() == timedelta(hours=1)
    assert request.end == T0 + timedelta(minutes=45)
    assert request.retain_until is None


def test_a_monitor_location_request_reads_its_place():
    """The place's coordinates are floats even when sent as whole numbers; cameras may be left out."""
    request = decode_request({"request_type": "monitor_location", "version": 1, "request_id": "R-3",
                              "reason": "Arrest planned", "requested_by": OFFICER,
                              "location": {"name": "Market Place", "latitude": 53, "longitude": -1.4},
                              "until": "2026-11-23T02:00:00Z"})
    assert request == MonitorLocationRequest(
        request_id="R-3", location=MonitoredPlace("Market Place", 53.0, -1.4), until=T0 + timedelta(hours=3, minutes=30),
        reason="Arrest planned", requested_by=Officer("Sgt Priya Shah", "Derbyshire Constabulary"))
    assert isinstance(request.location.latitude, float)


REQUESTS = [
    LiveViewRequest("R-1", camera="42", minutes=1, reason="why", requested_by=Officer("A", "F")),
    LiveViewRequest("R-1", camera="42", minutes=1440, reason="why\nand more", force_reference="CAD 1",
                    requested_by=Officer("A", "F", collar_number="1", role="Inspector")),
    RetainFootageRequest("R-2", crime_reference="C/1", cameras=("1",), start=T0, end=T0 + timedelta(seconds=1),
                         reason="why", requested_by=Officer("A", "F")),
    RetainFootageRequest("R-2", crime_reference="C/1", cameras=tuple(str(n) for n in range(64)),
                         start=T0.astimezone(timezone(timedelta(hours=-3))), end=T0 + timedelta(days=2),
                         retain_until=T0 + timedelta(days=400, microseconds=7), reason="why",
                         requested_by=Officer("A", "F")),
    PointCameraRequest("R-3", camera="17", preset="1", reason="why", requested_by=Officer("A", "F")),
    PointCameraRequest("R-3", camera="17", preset="Bus station", reason="why", force_reference="x",
                       requested_by=Officer("A", "F")),
    MonitorLocationRequest("R-4", location=MonitoredPlace("Here"), until=T0, reason="why",
                           requested_by=Officer("A", "F")),
    MonitorLocationRequest("R-4", location=MonitoredPlace("Here", 53.2, -1.42, "100030987654"), until=T0,
                           reason="why", requested_by=Officer("A", "F"), cameras=("1", "2"), force_reference="y"),
]


@pytest.mark.parametrize("request_", REQUESTS, ids=lambda request: type(request).__name__)
def test_every_request_round_trips(request_):
    """decode_request(encode_request(r)) == r, with optional members left out of the JSON when empty."""
    data = encode_request(request_)
    assert decode_request(json.loads(json.dumps(data))) == request_
    assert None not in data.values() and [] not in data.values()
    assert data["request_type"] == request_.request_type and data["version"] == 1


def test_a_version_written_as_1_point_0_is_version_1():
    """JSON does not tell 1 from 1.0; both are version 1, and whole minutes may be written 30.0."""
    request = decode_request({**example("live_view"), "version": 1.0, "minutes": 30.0})
    assert request.minutes == 30 and type(request.minutes) is int


def test_an_unknown_request_type_names_the_ones_this_hub_takes():
    """The error points at /request_type and lists every type."""
    with pytest.raises(MessageError) as caught:
        decode_request({**example("live_view"), "request_type": "make_tea"})
    assert caught.value.path == "/request_type"
    assert caught.value.reason == ('unknown request type "make_tea"; this hub takes live_view, retain_footage, '
                                   "point_camera, monitor_location")


@pytest.mark.parametrize("version", [2, 0, "1", None, True, 1.5])
def test_an_unsupported_version_says_which_versions_are_supported(version):
    """The error points at /version and says which versions of that type this hub reads."""
    with pytest.raises(MessageError) as caught:
        decode_request({**example("point_camera"), "version": version})
    assert caught.value.path == "/version"
    assert caught.value.reason.endswith("of point_camera is not supported; supported: 1")
    assert SUPPORTED_VERSIONS["point_camera"] == (1,)


@pytest.mark.parametrize(("payload", "path", "reason"), [
    ([], "", "a request is a JSON object"),
    ("live_view", "", "a request is a JSON object"),
    ({}, "/request_type", "required"),
    ({"request_type": "live_view"}, "/version", "required"),
])
def test_what_is_not_a_request_object_is_refused(payload, path, reason):
    """A request is an object naming its type and version before anything else is looked at."""
    with pytest.raises(MessageError) as caught:
        decode_request(payload)
    assert (caught.value.path, caught.value.reason) == (path, reason)


def without(data: dict, *names: str) -> dict:
    return {name: value for name, value in data.items() if name not in names}


BAD_REQUESTS = [
    # common members
    ("live_view", lambda d: without(d, "request_id"), "/request_id", "required"),
    ("live_view", lambda d: without(d, "reason"), "/reason", "required"),
    ("live_view", lambda d: without(d, "requested_by"), "/requested_by", "required"),
    ("live_view", lambda d: {**d, "request_id": ""}, "/request_id", "does not fit"),
    ("live_view", lambda d: {**d, "request_id": "has space"}, "/request_id", "does not fit"),
    ("live_view", lambda d: {**d, "request_id": "-leading"}, "/request_id", "does not fit"),
    ("live_view", lambda d: {**d, "request_id": "x" * 101}, "/request_id", "does not fit"),
    ("live_view", lambda d: {**d, "request_id": 42}, "/request_id", "must be text"),
    ("live_view", lambda d: {**d, "reason": ""}, "/reason", "must not be empty"),
    ("live_view", lambda d: {**d, "reason": "   \n "}, "/reason", "does not fit"),
    ("live_view", lambda d: {**d, "reason": "x" * 1001}, "/reason", "must be at most 1000 characters"),
    ("live_view", lambda d: {**d, "reason": "bell\x07"}, "/reason", "does not fit"),
    ("live_view", lambda d: {**d, "requested_by": "Sgt Shah"}, "/requested_by", "must be an object"),
    ("live_view", lambda d: {**d, "requested_by": {"name": "A"}}, "/requested_by/force", "required"),
    ("live_view", lambda d: {**d, "requested_by": {**OFFICER, "rank": "Sgt"}}, "/requested_by/rank",
     "not a member here"),
    ("live_view", lambda d: {**d, "requested_by": {**OFFICER, "collar_number": "x" * 21}},
     "/requested_by/collar_number", "at most 20"),
    ("live_view", lambda d: {**d, "requested_by": {**OFFICER, "name": "two\nlines"}}, "/requested_by/name",
     "does not fit"),
    ("live_view", lambda d: {**d, "priority": "high"}, "/priority", "not a member here"),
    # live_view
    ("live_view", lambda d: without(d, "camera"), "/camera", "required"),
    ("live_view", lambda d: {**d, "camera": ""}, "/camera", "must not be empty"),
    ("live_view", lambda d: {**d, "camera": 42}, "/camera", "must be text"),
    ("live_view", lambda d: {**d, "minutes": 0}, "/minutes", "must be from 1 to 1440, not 0"),
    ("live_view", lambda d: {**d, "minutes": 1441}, "/minutes", "must be from 1 to 1440"),
    ("live_view", lambda d: {**d, "minutes": 2.5}, "/minutes", "must be a whole number"),
    ("live_view", lambda d: {**d, "minutes": "30"}, "/minutes", "must be a whole number"),
    ("live_view", lambda d: {**d, "minutes": True}, "/minutes", "must be a whole number"),
    ("live_view", lambda d: {**d, "request_type": "retain_footage"}, "/camera", "not a member here"),
    # retain_footage
    ("retain_footage", lambda d: {**d, "cameras": []}, "/cameras", "must list at least 1"),
    ("retain_footage", lambda d: {**d, "cameras": [str(n) for n in range(65)]}, "/cameras", "at most 64"),
    ("retain_footage", lambda d: {**d, "cameras": ["42", "42"]}, "/cameras", "must not list anything twice"),
    ("retain_footage", lambda d: {**d, "cameras": ["42", ""]}, "/cameras/1", "must not be empty"),
    ("retain_footage", lambda d: {**d, "cameras": "42"}, "/cameras", "must be an array"),
    ("retain_footage", lambda d: without(d, "crime_reference"), "/crime_reference", "required"),
    ("retain_footage", lambda d: {**d, "start": "2026-11-22T22:30:00"}, "/start",
     "is not an ISO 8601 time with a UTC offset"),
    ("retain_footage", lambda d: {**d, "start": "2026-11-31T22:30:00Z"}, "/start", "is not a real time"),
    ("retain_footage", lambda d: {**d, "start": "22/11/2026 22:30"}, "/start", "is not an ISO 8601 time"),
    ("retain_footage", lambda d: {**d, "end": 1795393800}, "/end", "must be text"),
    ("retain_footage", lambda d: {**d, "end": d["start"]}, "/end", "must be after start"),
    ("retain_footage", lambda d: {**d, "start": "2026-11-22T23:30:00Z", "end": "2026-11-22T23:15:00Z"}, "/end",
     "must be after start"),
    ("retain_footage", lambda d: {**d, "retain_until": d["end"]}, "/retain_until", "must be after end"),
    ("retain_footage", lambda d: {**d, "force_reference": "x"}, "/force_reference", "not a member here"),
    # point_camera
    ("point_camera", lambda d: without(d, "preset"), "/preset", "required"),
    ("point_camera", lambda d: {**d, "preset": 3}, "/preset", "must be text"),
    ("point_camera", lambda d: {**d, "preset": "x" * 101}, "/preset", "at most 100"),
    # monitor_location
    ("monitor_location", lambda d: without(d, "until"), "/until", "required"),
    ("monitor_location", lambda d: {**d, "until": "tomorrow"}, "/until", "is not an ISO 8601 time"),
    ("monitor_location", lambda d: {**d, "location": {"latitude": 53.2, "longitude": -1.4}}, "/location/name",
     "required"),
    ("monitor_location", lambda d: {**d, "location": {"name": "x", "latitude": 53.2}}, "/location",
     "latitude and longitude go together"),
    ("monitor_location", lambda d: {**d, "location": {"name": "x", "longitude": -1.4}}, "/location",
     "latitude and longitude go together"),
    ("monitor_location", lambda d: {**d, "location": {"name": "x", "latitude": 91, "longitude": 0}},
     "/location/latitude", "must be from -90 to 90, not 91"),
    ("monitor_location", lambda d: {**d, "location": {"name": "x", "latitude": 0, "longitude": -181}},
     "/location/longitude", "must be from -180 to 180"),
    ("monitor_location", lambda d: {**d, "location": {"name": "x", "uprn": 10023}}, "/location/uprn",
     "must be text"),
    ("monitor_location", lambda d: {**d, "location": {"name": "x", "uprn": "1002-3"}}, "/location/uprn",
     "does not fit"),
    ("monitor_location", lambda d: {**d, "location": {"name": "x", "postcode": "S40 1AA"}},
     "/location/postcode", "not a member here"),
    ("monitor_location", lambda d: {**d, "cameras": ["1", "1"]}, "/cameras", "must not list anything twice"),
]


@pytest.mark.parametrize(("kind", "change", "path", "reason"), BAD_REQUESTS,
                         ids=[f"{case[0]}-{case[2]}-{index}" for index, case in enumerate(BAD_REQUESTS)])
def test_each_bad_request_is_refused_with_a_pointer_and_a_reason(kind, change, path, reason):
    """The pointer names the member at fault, the reason says what is wrong with it."""
    with pytest.raises(MessageError) as caught:
        decode_request(change(example(kind)))
    assert caught.value.path == path
    assert reason in caught.value.reason
    assert str(caught.value) == f"{path}: {caught.value.reason}"


def test_a_reason_never_quotes_a_long_value():
    """Whatever was sent, the reason stays short enough for a log line and an error answer."""
    for bad in ({**example("live_view"), "request_id": "x" * 100_000},
                {**example("live_view"), "camera": "\x00" * 100_000},
                {**example("live_view"), "reason": " " * 100_000},
                {**example("retain_footage"), "start": "9" * 100_000}):
        with pytest.raises(MessageError) as caught:
            decode_request(bad)
        assert len(caught.value.reason) < 400


def test_encode_request_refuses_what_decode_would_refuse():
    """Nothing invalid is ever sent: encoding checks the same schema and rules."""
    with pytest.raises(MessageError, match="/minutes"):
        encode_request(LiveViewRequest("R-1", camera="42", minutes=0, reason="why", requested_by=Officer("A", "F")))
    with pytest.raises(MessageError, match="/end: must be after start"):
        encode_request(RetainFootageRequest("R-2", crime_reference="C", cameras=("1",), start=T0, end=T0,
                                            reason="why", requested_by=Officer("A", "F")))
    with pytest.raises(MessageError, match="/location/latitude"):
        encode_request(MonitorLocationRequest("R-4", location=MonitoredPlace("x", float("nan"), 0.0), until=T0,
                                              reason="why", requested_by=Officer("A", "F")))
    with pytest.raises(TypeError):
        encode_request(Officer("A", "F"))  # type: ignore[arg-type]


# --- answers --------------------------------------------------------------------------------------------


ALERT_ANSWERS = [
    AlertAnswer(identifier="cctv@x/01KAJ/1", incident_id="01KAJ", answer="accepted"),
    AlertAnswer(identifier="cctv@x/01KAJ/1", incident_id="01KAJ", answer="rejected", reason="No units free",
                force_reference="CAD 12", answered_by="PC 1 Smith"),
]


@pytest.mark.parametrize("answer", ALERT_ANSWERS, ids=lambda answer: answer.answer)
def test_alert_answers_round_trip(answer):
    """decode_alert_answer(encode_alert_answer(a)) == a."""
    assert decode_alert_answer(encode_alert_answer(answer)) == answer


@pytest.mark.parametrize(("payload", "path", "reason"), [
    ({"identifier": "a", "incident_id": "b", "answer": "rejected"}, "/reason", "required when answer is rejected"),
    ({"identifier": "a", "incident_id": "b", "answer": "maybe"}, "/answer", "must be one of"),
    ({"identifier": "a", "incident_id": "b"}, "/answer", "required"),
    ({"identifier": "a b", "incident_id": "b", "answer": "accepted"}, "/identifier", "does not fit"),
    ({"identifier": "a,b", "incident_id": "b", "answer": "accepted"}, "/identifier", "does not fit"),
    ({"identifier": "a", "incident_id": "b", "answer": "accepted", "by": "x"}, "/by", "not a member here"),
    ([], "", "an alert answer is a JSON object"),
])
def test_bad_alert_answers_are_refused(payload, path, reason):
    """A rejection without its reason, an unknown answer or member: a MessageError at the member."""
    with pytest.raises(MessageError) as caught:
        decode_alert_answer(payload)
    assert caught.value.path == path
    assert reason in caught.value.reason


def test_an_alert_answer_that_breaks_its_schema_cannot_be_encoded():
    """The force's side (the peer) never sends a rejection without a reason."""
    with pytest.raises(MessageError, match="/reason"):
        encode_alert_answer(AlertAnswer(identifier="a", incident_id="b", answer="rejected"))


HOLD = {"hold_id": 7, "crime_reference": "DBY/26/1", "cameras": ["42"], "start": "2026-11-22T22:30:00+00:00",
        "end": "2026-11-22T23:15:00+00:00"}
SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

REQUEST_ANSWERS = [
    RequestAnswer("R-1", "live_view", "accepted", "Camera 42 shared for 30 minutes.",
                  stream=StreamGrant("42", "rtsps://media.example:8322/cam42?exp=1&sig=ab", T0)),
    RequestAnswer("R-1", "live_view", "refused", "No operator could agree in time."),
    RequestAnswer("R-1", "live_view", "stale", "Asked after its deadline."),
    RequestAnswer("R-2", "retain_footage", "accepted", "Footage on hold.", hold=HOLD),
    RequestAnswer("R-2", "retain_footage", "done", "Exported.",
                  hold={**HOLD, "export_reference": "EXP-2026-0042", "retain_until": "2027-11-22T00:00:00+00:00"},
                  manifest=({"name": "cam42.mp4", "sha256": SHA, "size": 1048576}, {"name": "notes.txt", "sha256": SHA})),
    RequestAnswer("R-3", "point_camera", "failed", "Camera 17 did not answer."),
    RequestAnswer("R-4", "monitor_location", "done", "Monitoring ended at 02:00."),
]


@pytest.mark.parametrize("answer", REQUEST_ANSWERS, ids=lambda answer: f"{answer.request_type}-{answer.outcome}")
def test_request_answers_round_trip(answer):
    """decode_request_answer(encode_request_answer(a)) == a; the stream's expiry keeps its instant."""
    assert decode_request_answer(json.loads(json.dumps(encode_request_answer(answer)))) == answer


def test_a_hold_given_with_python_values_is_written_as_json():
    """Times in a hold become ISO 8601 text with their offset, tuples become arrays."""
    answer = RequestAnswer("R-2", "retain_footage", "accepted", "On hold.",
                           hold={"hold_id": 7, "crime_reference": "C", "cameras": ("42", "43"), "start": T0,
                                 "end": T0 + timedelta(hours=1)})
    assert encode_request_answer(answer)["hold"] == {
        "hold_id": 7, "crime_reference": "C", "cameras": ["42", "43"], "start": "2026-11-22T22:30:00+00:00",
        "end": "2026-11-22T23:30:00+00:00"}


@pytest.mark.parametrize(("answer", "path", "reason"), [
    (RequestAnswer("R-1", "live_view", "accepted", "Shared."), "/stream",
     "required when request_type is live_view and outcome is accepted"),
    (RequestAnswer("R-2", "retain_footage", "accepted", "On hold."), "/hold",
     "required when request_type is retain_footage and outcome is accepted or done"),
    (RequestAnswer("R-2", "retain_footage", "done", "Exported.", hold={**HOLD, "hold_id": 0}), "/hold/hold_id",
     "must be at least 1"),
    (RequestAnswer("R-2", "retain_footage", "done", "Exported.", hold={**HOLD, "note": "x"}), "/hold/note",
     "not a member here"),
    (RequestAnswer("R-2", "retain_footage", "done", "Exported.", hold=HOLD,
                   manifest=({"name": "a.mp4", "sha256": "abc"},)), "/manifest/0/sha256", "does not fit"),
    (RequestAnswer("R-1", "live_view", "accepted", "Shared.", stream=StreamGrant("42", "not a uri", T0)),
     "/stream/uri", "does not fit"),
    (RequestAnswer("R-1", "live_view", "approved", "Shared."), "/outcome", "must be one of"),
    (RequestAnswer("R-1", "make_tea", "refused", "No."), "/request_type", "must be one of"),
    (RequestAnswer("R-1", "live_view", "refused", ""), "/detail", "must not be empty"),
])
def test_an_answer_that_breaks_its_schema_cannot_be_encoded(answer, path, reason):
    """An accepted live view carries its stream, retained footage its hold; the rest of the schema holds."""
    with pytest.raises(MessageError) as caught:
        encode_request_answer(answer)
    assert caught.value.path == path
    assert reason in caught.value.reason


def test_a_request_answer_is_read_with_its_stream_grant():
    """The stream's expiry is an aware datetime."""
    answer = decode_request_answer(example("request_answer"))
    assert answer.stream is not None
    assert answer.stream.expires_at == datetime(2026, 11, 22, 23, 10, tzinfo=UTC)
    assert answer.stream.uri.startswith("rtsps://")


# --- anything at all -----------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=10,
)


def _only_message_errors(read, payload) -> None:
    try:
        read(payload)
    except MessageError as error:
        assert isinstance(error.path, str) and (error.path == "" or error.path.startswith("/"))
        assert error.reason


@given(json_values)
@settings(max_examples=200, deadline=None)
def test_random_json_raises_nothing_but_message_error(payload):
    for read in (decode_request, decode_alert_answer, decode_request_answer):
        _only_message_errors(read, payload)


@given(st.sampled_from(SCHEMA_NAMES), st.data())
@settings(max_examples=200, deadline=None)
def test_examples_with_one_member_changed_are_read_or_refused_with_message_error(name, data):
    """Dropping or replacing a member (at the top or one level down) never raises anything else."""
    payload = example(name)
    target = payload
    nested = [key for key, value in payload.items() if isinstance(value, dict)]
    if nested and data.draw(st.booleans()):
        target = payload[data.draw(st.sampled_from(nested))]
    key = data.draw(st.sampled_from(sorted(target)))
    if data.draw(st.booleans()):
        del target[key]
    else:
        target[key] = data.draw(json_values)
    read = {"alert_answer": decode_alert_answer, "request_answer": decode_request_answer}.get(name, decode_request)
    _only_message_errors(read, payload)
