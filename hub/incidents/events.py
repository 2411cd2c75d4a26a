"""The events the incident engine publishes: every change to an incident is itself an event on the bus.

Each has topic ``incident.<what happened>``, envelope ``incident_id`` = the incident's id, and an
``IncidentChanged`` payload carrying a snapshot of the incident after the change, so that a console or
a partner system can keep its own copy up to date from the stream alone.
"""

from __future__ import annotations

from typing import Any, ClassVar

from attrs import field, frozen

#: change name -> topic. The change name is also the history action.
TOPICS: dict[str, str] = {
    "opened": "incident.opened",
    "event_joined": "incident.event.joined",
    "duplicate_folded": "incident.duplicate.folded",
    "acknowledged": "incident.acknowledged",
    "assigned": "incident.assigned",
    "note_added": "incident.note.added",
    "state_changed": "incident.state.changed",
    "updated": "incident.updated",
    "escalated": "incident.escalated",
    "sop_checked": "incident.sop.checked",
}


@frozen
class IncidentChanged:
    """An incident changed (topic ``incident.*``, see ``TOPICS``).

    - ``change``: what happened (``opened``, ``event_joined``, ``duplicate_folded``, ``acknowledged``,
      ``assigned``, ``note_added``, ``state_changed``, ``updated``, ``escalated``, ``sop_checked``).
    - ``actor``: the user who made the change, or None when the hub did (opening, joining, escalating).
    - ``detail``: the change's particulars, e.g. ``{"from": "new", "to": "acknowledged"}``,
      ``{"event_id": ..., "seq": ..., "topic": ...}`` for a join, ``{"text": ...}`` for a note,
      ``{"step": 2, "text": ..., "done": true}`` for an SOP step ticked off; ``"actions": <rule name>``
      on an opening or a join when that rule's actions ran on the incident with it.
    - ``incident``: the incident after the change, as ``Incident.to_json`` gives it.
    """

    TYPE: ClassVar[str] = "incident.changed"

    change: str
    actor: str | None
    detail: dict[str, Any] = field(factory=dict)
    incident: dict[str, Any] = field(factory=dict)


INCIDENT_EVENT_TYPES: tuple[type, ...] = (IncidentChanged,)
