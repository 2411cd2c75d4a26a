"""Incidents: the engine that raises them from events, their lifecycle, storage and escalation.

See docs/incidents.md. ``IncidentEngine`` (engine.py) is the service; ``Incident`` and the actions
(model.py) are what the API and console use; ``IncidentChanged`` (events.py) is the payload of every
``incident.*`` event; ``create_incidents`` (store.py) is the schema migration.
"""

from hub.incidents.events import INCIDENT_EVENT_TYPES, TOPICS, IncidentChanged
from hub.incidents.model import (
    CLEAR,
    TRANSITIONS,
    Acknowledge,
    AddNote,
    Assign,
    ChangeState,
    CheckStep,
    HistoryEntry,
    Incident,
    IncidentAction,
    IncidentDetail,
    IncidentNote,
    IncidentNotFound,
    IncidentState,
    SopStep,
    TransitionRefused,
    Update,
)

__all__ = [
    "INCIDENT_EVENT_TYPES",
    "TOPICS",
    "CLEAR",
    "TRANSITIONS",
    "Acknowledge",
    "AddNote",
    "Assign",
    "ChangeState",
    "CheckStep",
    "HistoryEntry",
    "Incident",
    "IncidentAction",
    "IncidentChanged",
    "IncidentDetail",
    "IncidentNote",
    "IncidentNotFound",
    "IncidentState",
    "SopStep",
    "TransitionRefused",
    "Update",
]
