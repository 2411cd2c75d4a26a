"""Events for the rules' tests: made directly, at the moment each test names, about what it names."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from hub.events import Event, GenericPayload, Location, Severity, Subject
from hub.ids import encode_id

#: A Saturday night in November (GMT): 23:14 in the room.
NIGHT = datetime(2026, 11, 21, 23, 14, tzinfo=timezone.utc)

THE_CROWN = Subject(kind="radio_unit", id="shopwatch.pubwatch.100-1001", name="The Crown")

_count = iter(range(1, 1_000_000))


def event(
    topic: str = "shopwatch.emergency.raised",
    *,
    at: datetime = NIGHT,
    severity: Severity = Severity.CRITICAL,
    source: str = "shopwatch.pubwatch",
    subject: Subject = THE_CROWN,
    location: Location | None = None,
    payload: dict[str, Any] | None = None,
    incident_id: str | None = None,
) -> Event:
    return Event(
        id=encode_id(int(at.timestamp() * 1000), next(_count)),
        topic=topic,
        source=source,
        occurred_at=at,
        received_at=at,
        severity=severity,
        subject=subject,
        summary=topic,
        payload=GenericPayload(type_name=topic, data=payload or {}),
        location=location,
        incident_id=incident_id,
    )


def camera(number: str, topic: str = "onvif.tamper.started", **kwargs: Any) -> Event:
    """An event about camera ``number`` from the ONVIF adapter."""
    kwargs.setdefault("severity", Severity.HIGH)
    return event(topic, source="onvif.cameras", subject=Subject(kind="camera", id=number),
                 location=Location(camera=number), **kwargs)


def node_down(node: str, cameras: tuple[str, ...], behind: tuple[str, ...] = (), **kwargs: Any) -> Event:
    """A root-cause fibre outage at ``node``, covering its cameras and the nodes behind it."""
    covers = [f"camera:{c}" for c in cameras] + [f"fibre_node:{n}" for n in behind]
    kwargs.setdefault("severity", Severity.HIGH)
    return event("fibre.node.down", source="fibre.fibre", subject=Subject(kind="fibre_node", id=node),
                 payload={"covers": covers}, **kwargs)
