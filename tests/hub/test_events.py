"""The event envelope: validation, lossless JSON, unknown types kept generic, time-ordered ids."""

from __future__ import annotations

import enum
import json
from datetime import datetime, timedelta, timezone
from typing import ClassVar

import attrs
import hypothesis.strategies as st
import pytest
from hypothesis import given, settings
from twisted.internet.task import Clock

from hub.events import (
    CORE_EVENT_TYPES,
    Event,
    EventCodec,
    EventDecodeError,
    EventFactory,
    EventTypeRegistry,
    GenericPayload,
    Location,
    Severity,
    Subject,
)
from hub.ids import EventIdGenerator, id_milliseconds, is_event_id


class Direction(enum.Enum):
    IN = "in"
    OUT = "out"


@attrs.frozen
class Inner:
    name: str
    values: tuple[int, ...] = ()


@attrs.frozen
class RichPayload:
    """A payload using every kind of field plugins are expected to use."""

    TYPE: ClassVar[str] = "test.rich"

    text: str
    count: int
    ratio: float
    flag: bool
    when: datetime
    direction: Direction
    inner: Inner
    optional: str | None = None
    items: tuple[Inner, ...] = ()


def _codec(*types: type) -> EventCodec:
    registry = EventTypeRegistry()
    registry.register_all(CORE_EVENT_TYPES + types)
    return EventCodec(registry)


def _factory(seconds: float = 1_763_000_000.0) -> EventFactory:
    clock = Clock()
    clock.advance(seconds)
    return EventFactory(clock, "test.source")


def _rich_event(**payload_changes) -> Event:
    payload = RichPayload(
        text="Grey hoodie, heading to Market Place £5 ✓",
        count=3,
        ratio=0.1,
        flag=True,
        when=datetime(2026, 11, 21, 22, 5, 1, 250000, tzinfo=timezone.utc),
        direction=Direction.OUT,
        inner=Inner("a", (1, 2)),
        items=(Inner("b"),),
    )
    payload = attrs.evolve(payload, **payload_changes)
    return _factory()(
        "test.rich.happened",
        payload,
        severity=Severity.HIGH,
        subject=Subject("camera", "42", "Market Place PTZ"),
        summary="Something happened",
        location=Location(name="Market Place", camera="42", latitude=53.2351, longitude=-1.4216),
        incident_id="01KABCDEFGHJKMNPQRSTVWXYZ0",
    )


def test_an_event_round_trips_through_json_without_loss():
    """Every envelope field and every payload field comes back equal from JSON."""
    codec = _codec(RichPayload)
    event = _rich_event().with_seq(7)
    text = codec.to_json(event)
    assert codec.from_json(text) == event
    assert json.loads(text)["type"] == "test.rich"


@settings(max_examples=150, deadline=None)
@given(
    text=st.text(),
    count=st.integers(-(2**63), 2**63 - 1),
    ratio=st.floats(allow_nan=False, allow_infinity=False),
    flag=st.booleans(),
    offset=st.integers(0, 10**9),
    summary=st.text(),
)
def test_any_payload_values_round_trip(text, count, ratio, flag, offset, summary):
    """Arbitrary strings, 64-bit integers, floats and times survive the JSON form unchanged."""
    codec = _codec(RichPayload)
    when = datetime(2000, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=offset * 997)
    event = attrs.evolve(_rich_event(text=text, count=count, ratio=ratio, flag=flag, when=when), summary=summary)
    assert codec.from_json(codec.to_json(event)) == event


@pytest.mark.parametrize("number", [float("inf"), float("-inf"), float("nan")])
def test_numbers_json_cannot_carry_are_refused_when_serialised(number):
    """inf and NaN in a payload are an error naming the field, not a silent null."""
    with pytest.raises(ValueError, match="payload.ratio"):
        _codec(RichPayload).to_json(_rich_event(ratio=number))
    with pytest.raises(ValueError, match="latitude"):
        Location(latitude=number)


def test_an_unknown_type_reads_back_generic_and_writes_out_the_same():
    """A hub without the payload class keeps the data as a GenericPayload, byte for byte."""
    text = _codec(RichPayload).to_json(_rich_event())
    unaware = _codec()
    event = unaware.from_json(text)
    assert isinstance(event.payload, GenericPayload)
    assert event.payload.type_name == "test.rich"
    assert unaware.to_json(event) == text


def test_a_payload_that_no_longer_fits_its_class_is_kept_generic():
    """Schema drift (a field renamed since the event was written) never raises."""
    data = _codec(RichPayload).to_dict(_rich_event())
    data["payload"]["count"] = "not a number"
    event = _codec(RichPayload).from_dict(data)
    assert event.payload == GenericPayload("test.rich", data["payload"])


@pytest.mark.parametrize(
    "breakage",
    [
        lambda d: d.pop("topic"),
        lambda d: d.update(topic="Not A Topic"),
        lambda d: d.update(severity="apocalyptic"),
        lambda d: d.update(received_at="yesterday"),
        lambda d: d.update(occurred_at="2026-11-21T22:05:01"),
        lambda d: d.update(subject="camera 42"),
        lambda d: d.update(payload=[1, 2]),
        lambda d: d.update(id="not-an-id"),
    ],
)
def test_a_broken_envelope_is_a_decode_error(breakage):
    """An unreadable envelope raises EventDecodeError (a ValueError), never something else."""
    data = _codec(RichPayload).to_dict(_rich_event())
    breakage(data)
    with pytest.raises(EventDecodeError):
        _codec(RichPayload).from_dict(data)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(), st.binary()))
def test_garbage_never_decodes_to_anything_but_a_decode_error(garbage):
    """Random text or bytes give EventDecodeError or, by chance, an event; never a crash."""
    try:
        _codec().from_json(garbage)
    except EventDecodeError:
        pass


def test_envelope_fields_are_validated_when_made():
    """Bad topics, sources and naive times are refused at the publisher, not found later."""
    factory = _factory()
    make = lambda topic: factory(topic, Inner("x"), severity=Severity.INFO, subject=Subject("t", "1"), summary="s")  # noqa: E731
    with pytest.raises(ValueError, match="topic"):
        make("Shopwatch Emergency")
    with pytest.raises(ValueError, match="source"):
        EventFactory(Clock(), "Bad Source")
    event = make("test.ok.done")
    with pytest.raises(ValueError, match="timezone"):
        attrs.evolve(event, occurred_at=datetime(2026, 1, 1))


def test_severity_is_one_ordered_scale():
    """Severities compare, parse by name case-insensitively, and name the choices on error."""
    assert Severity.CRITICAL > Severity.HIGH > Severity.MEDIUM > Severity.LOW > Severity.INFO
    assert Severity.parse("Critical") is Severity.CRITICAL
    with pytest.raises(ValueError, match="info, low, medium, high, critical"):
        Severity.parse("urgent")


def test_the_factory_stamps_source_receive_time_and_defaults_occurred_at():
    """received_at comes from the injected clock; occurred_at is the device's time when given."""
    factory = _factory(1_000.5)
    device_time = datetime(1970, 1, 1, 0, 10, tzinfo=timezone.utc)
    event = factory("test.a.b", Inner("x"), severity=Severity.LOW, subject=Subject("t", "1"), summary="s")
    assert event.source == "test.source"
    assert event.received_at == event.occurred_at == datetime(1970, 1, 1, 0, 16, 40, 500000, tzinfo=timezone.utc)
    later = factory("test.a.b", Inner("x"), severity=Severity.LOW, subject=Subject("t", "1"), summary="s", occurred_at=device_time)
    assert later.occurred_at == device_time


def test_registering_two_classes_under_one_type_name_is_refused():
    """A type-name clash between plugins names both classes."""

    @attrs.frozen
    class Impostor:
        TYPE: ClassVar[str] = "test.rich"

    registry = EventTypeRegistry()
    registry.register(RichPayload)
    registry.register(RichPayload)  # the same class again is fine
    with pytest.raises(ValueError, match="RichPayload.*Impostor"):
        registry.register(Impostor)
    with pytest.raises(TypeError, match="TYPE"):
        registry.register(Inner)


def test_ids_sort_by_time_and_stay_increasing_when_the_clock_stalls_or_steps_back():
    """Ids from one generator are strictly increasing strings whatever the clock does."""
    clock = Clock()
    clock.advance(1_763_000_000)
    ids = EventIdGenerator(clock)
    made = [ids() for _ in range(1000)]
    clock.advance(0.001)
    made.append(ids())
    clock.rewind = clock.rightNow = clock.rightNow - 60  # an NTP step backwards
    made += [ids() for _ in range(10)]
    assert made == sorted(made) and len(set(made)) == len(made)
    assert all(is_event_id(value) for value in made)
    assert id_milliseconds(made[0]) == 1_763_000_000_000


def test_id_validation_rejects_lookalikes():
    """Only 26 Crockford base-32 characters with a leading 0-7 are ids."""
    assert not is_event_id("01KABCDEFGHJKMNPQRSTVWXYZI")  # I is not in the alphabet
    assert not is_event_id("81KABCDEFGHJKMNPQRSTVWXYZ0")  # beyond 48-bit time
    assert not is_event_id("01KABCDEFGHJKMNPQRSTVWXYZ")
    assert not is_event_id(None)
