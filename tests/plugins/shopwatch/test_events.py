"""The shopwatch event payloads: registered by type name and read back from JSON as their own classes."""

from __future__ import annotations

import pytest
from twisted.internet.task import Clock

from hub.events import EventCodec, EventFactory, EventTypeRegistry, GenericPayload, Severity, Subject
from plugins.shopwatch.events import (
    EVENT_TYPES,
    RadioEmergencyEnded,
    RadioEmergencyRaised,
    RadioIdentified,
    RadioLineError,
    RadioMember,
    RadioReportReceived,
    RadioRestarted,
)

BOOTS = RadioMember(unit="1001", known=True, name="Boots", scheme="Shopwatch", address="12 High St",
                    cameras=("42", "43"))
STRANGER = RadioMember(unit="2002", known=False, name=None, scheme="Shopwatch")

PAYLOADS = [
    RadioEmergencyRaised(member=BOOTS, trigger="emergency_call"),
    RadioEmergencyRaised(member=STRANGER, trigger="emergency_status", status=0x1F),
    RadioEmergencyEnded(member=BOOTS, ended_by="operator", detail="ended by olive"),
    RadioReportReceived(member=BOOTS, status_code="0A", status_meaning="Shop theft"),
    RadioReportReceived(member=STRANGER, text="Two lads, red hoodies, heading north"),
    RadioRestarted(reinitialised=True),
    RadioLineError(kind="checksum", count=7, detail="7 frames with bad checksums in 60 s"),
    RadioIdentified(model="TM8255", serial="19123456"),
]


def test_every_payload_type_is_listed_once_with_a_shopwatch_topic():
    """EVENT_TYPES holds the six payload classes, each TYPE under shopwatch."""
    assert len({payload_class.TYPE for payload_class in EVENT_TYPES}) == len(EVENT_TYPES) == 6
    assert all(payload_class.TYPE.startswith("shopwatch.") for payload_class in EVENT_TYPES)
    assert {type(payload) for payload in PAYLOADS} == set(EVENT_TYPES)


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda payload: type(payload).__name__)
def test_each_payload_round_trips_through_the_hub_codec(payload):
    """Registered, a payload is written to JSON and read back equal, member and tuples included."""
    registry = EventTypeRegistry()
    registry.register_all(EVENT_TYPES)
    codec = EventCodec(registry)
    event = EventFactory(Clock(), "shopwatch.town")(
        payload.TYPE, payload, severity=Severity.MEDIUM, subject=Subject(kind="radio_unit", id="shopwatch.town.1001"),
        summary="-",
    )
    decoded = codec.from_json(codec.to_json(event))
    assert decoded.payload == payload
    assert type(decoded.payload) is type(payload)
    assert decoded == event


def test_a_member_is_written_as_a_json_object_partners_can_read():
    """The member nests as an object with every field, cameras as a list."""
    codec = EventCodec(EventTypeRegistry())
    event = EventFactory(Clock(), "shopwatch.town")(
        RadioEmergencyRaised.TYPE, PAYLOADS[0], severity=Severity.CRITICAL,
        subject=Subject(kind="radio_unit", id="shopwatch.town.1001"), summary="-",
    )
    assert codec.to_dict(event)["payload"] == {
        "member": {"unit": "1001", "known": True, "name": "Boots", "scheme": "Shopwatch",
                   "address": "12 High St", "cameras": ["42", "43"]},
        "trigger": "emergency_call",
        "status": None,
    }
    # Unregistered, it is still kept whole.
    assert isinstance(codec.from_json(codec.to_json(event)).payload, GenericPayload)
