"""The hub's own plugin: contributes the core event types through the same hooks as any other plugin."""

from __future__ import annotations

from hub.events import CORE_EVENT_TYPES
from hub.hookspecs import hookimpl
from hub.incidents.events import INCIDENT_EVENT_TYPES


@hookimpl
def hub_register_event_types() -> list[type]:
    return [*CORE_EVENT_TYPES, *INCIDENT_EVENT_TYPES]
