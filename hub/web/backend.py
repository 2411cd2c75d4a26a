"""Everything the web layer uses from the rest of the hub, gathered behind one object.

Handlers reach the bus, incidents, users, sessions, the audit log and the directory only through a
``WebBackend``, so tests can swap in small fakes (tests/hub/web/fakes.py) and the real pieces are wired
in one place (``WebBackend.build``). ``IncidentDesk`` is the incidents part as the API needs it: the
engine's actions by name, with its errors turned into API errors.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

from attrs import define

from hub.api import AdapterType
from hub.web.http import conflict, invalid, not_found


class IncidentDesk(Protocol):
    """The incidents as the API sees them."""

    def list(self, **filters: Any) -> list[Any]: ...

    def get(self, incident_id: str) -> Any | None: ...

    def detail(self, incident_id: str) -> Any | None: ...

    async def act(self, incident_id: str, verb: str, arguments: dict[str, Any], actor: Any) -> Any: ...

    def counts_by_state(self) -> dict[str, int]: ...


#: The incident actions the API offers, each a path under /api/incidents/{id}/.
INCIDENT_VERBS = ("acknowledge", "assign", "notes", "state", "update", "sop")


class EngineDesk:
    """``IncidentDesk`` over helper A's ``IncidentEngine``."""

    is_desk = True

    def __init__(self, engine: Any) -> None:
        from hub.incidents import model

        self._engine = engine
        self._model = model

    def list(self, **filters: Any) -> list[Any]:
        return self._engine.list(**filters)

    def get(self, incident_id: str) -> Any | None:
        return self._engine.get(incident_id)

    def detail(self, incident_id: str) -> Any | None:
        try:
            return self._engine.detail(incident_id)
        except self._model.IncidentNotFound:
            return None

    async def act(self, incident_id: str, verb: str, arguments: dict[str, Any], actor: Any) -> Any:
        model = self._model
        try:
            if verb == "acknowledge":
                action: Any = model.Acknowledge()
            elif verb == "assign":
                action = model.Assign(owner=arguments.get("owner"))
            elif verb == "notes":
                action = model.AddNote(text=arguments["text"])
            elif verb == "state":
                action = model.ChangeState(state=arguments["state"])
            elif verb == "update":
                # Left out keeps a field; sent as null clears it.
                action = model.Update(**{
                    name: (model.CLEAR if arguments[name] is None else arguments[name])
                    for name in ("category", "priority") if name in arguments
                })
            elif verb == "sop":
                action = model.CheckStep(step=arguments["step"], done=arguments["done"])
            else:  # pragma: no cover - the route table only offers INCIDENT_VERBS
                raise ValueError(verb)
            return await self._engine.act(incident_id, action, actor)
        except model.IncidentNotFound:
            raise not_found(f"no incident {incident_id}") from None
        except model.TransitionRefused as refused:
            raise conflict(str(refused)) from None
        except ValueError as error:
            raise invalid(str(error)) from None

    def counts_by_state(self) -> dict[str, int]:
        return dict(self._engine.counts_by_state())

    def rule_counts(self) -> dict[str, tuple[int, int]]:
        return dict(self._engine.rule_counts())


def _real_actor(name: str, role: str, address: str | None) -> Any:
    from hub.audit import Actor

    return Actor(name=name, role=role, address=address)


@define
class WebBackend:
    """The hub pieces the web layer uses. See ``WebService`` for what each one is."""

    bus: Any
    codec: Any
    events: Any  # EventFactory for the web's own events (source hub.api)
    clock: Any
    log: Any
    incidents: IncidentDesk
    users: Any
    sessions: Any
    throttle: Any
    partners: Any
    audit: Any
    directory: Any
    adapters: Callable[[], list[Any]]
    adapter_types: dict[str, AdapterType]
    web: Any  # WebConfig
    map: Any  # MapConfig
    hub_name: str = "CCTV control room"
    plugins: Any = None
    plugin_context: Any = None
    evidence: Any = None  # EvidenceStore, or None when the hub keeps none
    actor: Callable[[str, str, str | None], Any] = _real_actor
    hub_version: str = "0"
    #: The ``[incidents]`` config (its rules and maintenance windows, for /api/rules; None: none shown) and
    #: the room's time zone (``[hub] timezone``) they are read in.
    rules: Any = None
    timezone: str = "Europe/London"
    #: (instance name, its service or None) for each adapter: /metrics reads their ``metrics()``.
    adapter_services: Callable[[], list[tuple[str, Any]]] = list

    @classmethod
    def build(cls, *, incidents: Any, **pieces: Any) -> "WebBackend":
        """A backend over the real engine (wrapped in ``EngineDesk``) and the other real pieces."""
        desk = incidents if getattr(incidents, "is_desk", False) else EngineDesk(incidents)
        return cls(incidents=desk, **pieces)

    def also(self, *jobs: Callable[..., Any]) -> Callable[[Any, int], None]:
        """One ``bus.publish(also=...)`` job running each audit-style ``job(connection)`` in turn."""

        def run(connection: Any, _seq: int) -> None:
            for job in jobs:
                job(connection)

        return run
