"""CAP alerts as the hub makes them about one incident: an Alert, its Update and its Cancel, for tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from plugins.police_link.codec.cap import (
    CapAlert,
    CapArea,
    CapInfo,
    CapReference,
    CapResource,
    cap_listing,
    identifier_for,
)

SENDER = "cctv@chesterfield.gov.uk"
INCIDENT = "01JDXQ4T8M3K6C2V9B7N5R1A0F"
FORCE = "Derbyshire Constabulary"
SENT = datetime(2026, 11, 22, 10, 15, 30, tzinfo=UTC)
STILL_SHA256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
STILL_SHA1 = "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"
STILL_URI = f"https://cctv-hub.chesterfield.gov.uk/api/evidence/{STILL_SHA256}"


def still(**changes: object) -> CapResource:
    values = {"description": "Still from camera TC-04 at 10:14:58", "mime_type": "image/jpeg", "size": 183_224,
                  "uri": STILL_URI, "sha1": STILL_SHA1, "sha256": STILL_SHA256}
    values.update(changes)
    return CapResource(**values)  # type: ignore[arg-type]


def high_street(**changes: object) -> CapArea:
    values = {"description": "High Street by the Market Hall, Chesterfield", "circle": (53.2355, -1.4266, 0.1),
                  "geocodes": (("UPRN", "74012345"),)}
    values.update(changes)
    return CapArea(**values)  # type: ignore[arg-type]


def fight_info(**changes: object) -> CapInfo:
    values = {
        "event": "Fight in progress",
        "urgency": "Immediate",
        "severity": "Severe",
        "certainty": "Observed",
        "headline": "Fight outside the Market Hall: 4 people, one on the ground",
        "description": "Seen on TC-04 from 10:14. Two men & two women; one man kicked while down.",
        "instruction": "Operator keeps TC-04 on the scene and records.",
        "sender_name": "Chesterfield CCTV control room",
        "contact": "Control room 01246 000000",
        "parameters": (("incident_severity", "high"), ("camera", "TC-04")),
        "resources": (still(),),
        "areas": (high_street(),),
    }
    values.update(changes)
    return CapInfo(**values)  # type: ignore[arg-type]


def alert(number: int = 1, **changes: object) -> CapAlert:
    values = {
        "identifier": identifier_for(SENDER, INCIDENT, number),
        "sender": SENDER,
        "sent": SENT,
        "status": "Actual",
        "msg_type": "Alert",
        "addresses": cap_listing([FORCE]),
        "source": "cctv-hub",
        "incidents": (INCIDENT,),
        "info": (fight_info(),),
    }
    values.update(changes)
    return CapAlert(**values)  # type: ignore[arg-type]


def reference_to(earlier: CapAlert) -> CapReference:
    return CapReference(earlier.sender, earlier.identifier, earlier.sent)


def update_of(earlier: CapAlert, **changes: object) -> CapAlert:
    number = int(earlier.identifier.rsplit("/", 1)[1]) + 1
    values: dict[str, object] = {"msg_type": "Update", "sent": earlier.sent + timedelta(minutes=2),
                                     "references": (*earlier.references, reference_to(earlier))}
    values.update(changes)
    return alert(number, **values)


def cancel_of(earlier: CapAlert, **changes: object) -> CapAlert:
    values: dict[str, object] = {"msg_type": "Cancel", "note": "Withdrawn by the operator: a false alarm", "info": ()}
    values.update(changes)
    return update_of(earlier, **values)
