"""From a node's judged state to what the room sees: the event, the directory, and the cameras left dark.

The correlator says which nodes changed state and which of them is the root cause; this module says it
to the room. A root-cause ``fibre.node.down`` names the node, the span from its upstream and every camera
and node behind it, and its payload ``covers`` them, so the incident engine folds their own alarms into
its one incident. When the node comes back, each camera behind it gets ``camera_grace_s`` to come back
too; one still offline after that is its own fault and gets ``fibre.camera.still_dark`` (an incident of
its own).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import attrs

from hub.directory import Asset
from hub.events import Event, EventFactory, Location, Severity, Subject
from plugins.dark_fibre_health.config import FibreConfig
from plugins.dark_fibre_health.events import (
    DEGRADED,
    DISABLED,
    DOWN,
    FLAPPING,
    STILL_DARK,
    UNKNOWN,
    UNREACHABLE,
    UP,
    CameraStillDark,
    NodeRef,
    NodeStateChanged,
    node_topic,
)
from plugins.dark_fibre_health.topology import Topology

#: Camera states (as the ONVIF adapter puts them in the directory) that count as dark.
DARK_CAMERA_STATES = frozenset({"offline"})
#: How many camera numbers a summary names before "and N more".
SUMMARY_CAMERAS = 12


def _listed(items: tuple[str, ...]) -> str:
    shown = ", ".join(items[:SUMMARY_CAMERAS])
    return shown + (f" and {len(items) - SUMMARY_CAMERAS} more" if len(items) > SUMMARY_CAMERAS else "")


@attrs.frozen
class NodeFigures:
    """The probe figures that go with a state change (from the node's judge)."""

    reason: str | None = None
    loss_pct: float | None = None
    rtt_ms: float | None = None
    jitter_ms: float | None = None
    failed_probes: int = 0


def node_asset(config: FibreConfig, topology: Topology, name: str, *, source: str, state: str | None,
               since: float | None, figures: NodeFigures | None = None,
               cameras: tuple[str, ...] | None = None) -> Asset:
    """A node's directory entry. ``cameras`` are every camera behind it (its own and those on nodes further
    out, ``Topology.cameras_behind``), what its outage takes dark; ``cameras_on`` its own."""
    node = config.nodes[name]
    figures = figures or NodeFigures()
    behind = cameras if cameras is not None else topology.cameras_behind(name)
    return Asset(
        kind="fibre_node", id=name, name=node.name, source=source, latitude=node.latitude,
        longitude=node.longitude, state=state, state_since=since,
        attributes={
            "address": node.address, "upstream": node.upstream, "site": node.site,
            "span": topology.span_to_upstream(name), "cameras": list(behind),
            "cameras_on": list(node.cameras), "probes": list(node.probes),
            "reason": figures.reason, "loss_pct": figures.loss_pct, "rtt_ms": figures.rtt_ms,
            "jitter_ms": figures.jitter_ms,
        },
    )


def span_asset(topology: Topology, name: str, *, source: str, state: str | None, since: float | None) -> Asset:
    """A span's directory entry: its ends, length, cores and the node whose upstream link it is."""
    span = topology.span(name)
    assert span is not None
    return Asset(
        kind="fibre_span", id=name, source=source, state=state, state_since=since,
        attributes={"a": span.a, "b": span.b, "length_m": span.length_m, "cores": span.cores,
                    "carries": topology.node_of_span(name)},
    )


def declared_assets(config: FibreConfig, source: str) -> list[Asset]:
    """Every configured node and span as the running adapter first puts them in the directory (unknown
    until judged, disabled when not probed), without probing anything (``AdapterType.assets``)."""
    topology = Topology.build(config.nodes, config.spans)
    states = {name: UNKNOWN if config.nodes[name].enabled else DISABLED for name in topology.order}
    nodes = [node_asset(config, topology, name, source=source, state=states[name], since=None)
             for name in topology.order]
    spans = [span_asset(topology, span.name, source=source, since=None,
                        state=states.get(topology.node_of_span(span.name) or "", UNKNOWN))
             for span in topology.spans]
    return nodes + spans


class OutageReporter:
    """Publishes node state changes, keeps the directory's nodes and spans in step, and follows up the
    cameras of a recovered node. ``publish`` is the adapter's outbox; ``clock`` its reactor."""

    def __init__(
        self,
        *,
        config: FibreConfig,
        topology: Topology,
        events: EventFactory,
        publish: Callable[[Event], None],
        directory: Any,
        clock: Any,
        source: str,
        log: Any,
    ) -> None:
        self._config = config
        self._topology = topology
        self._events = events
        self._publish = publish
        self._directory = directory
        self._clock = clock
        self._source = source
        self._log = log
        self.states: dict[str, str] = {}
        self._since: dict[str, float] = {}
        self._follow_ups: dict[str, Any] = {}  # node -> pending still-dark check
        self._cameras_of: Mapping[str, tuple[str, ...]] = {
            node: topology.cameras_behind(node) for node in topology.order
        }

    # --- the directory ---------------------------------------------------------------------------------

    def put_assets(self) -> None:
        """Every node and span, in its starting state: unknown until judged, disabled when not probed."""
        now = self._clock.seconds()
        for name in self._topology.order:
            node = self._config.nodes[name]
            state = UNKNOWN if node.enabled else DISABLED
            self.states[name] = state
            self._since[name] = now
            self._put_node(name, state, now, None)
        for span in self._topology.spans:
            downstream = self._topology.node_of_span(span.name)
            self._put_span(span.name, self.states.get(downstream or "", UNKNOWN), now)

    def _put_node(self, name: str, state: str, since: float, figures: NodeFigures | None) -> None:
        if self._directory is None:
            return
        self._directory.put(node_asset(self._config, self._topology, name, source=self._source, state=state,
                                       since=since, figures=figures, cameras=self._cameras_of[name]))

    def _put_span(self, name: str, state: str, since: float) -> None:
        if self._directory is None:
            return
        self._directory.put(span_asset(self._topology, name, source=self._source, state=state, since=since))

    # --- state changes ---------------------------------------------------------------------------------

    def changed(self, node: str, state: str, *, root_cause: bool, because_of: str | None,
                figures: NodeFigures) -> Event:
        """Say that ``node`` is now ``state``; returns the published event."""
        now = self._clock.seconds()
        previous = self.states.get(node)
        self.states[node] = state
        self._since[node] = now
        config = self._config.nodes[node]
        span = self._topology.span_to_upstream(node)
        cameras = self._cameras_of[node]
        behind = self._topology.descendants(node)
        payload = NodeStateChanged(
            node=NodeRef(name=node, address=config.address, site=config.site, upstream=config.upstream),
            state=state, previous=previous if previous not in (UNKNOWN, DISABLED) else None,
            reason=figures.reason if state != UNREACHABLE else f"its upstream {because_of} is down",
            span=span, root_cause=root_cause, because_of=because_of, cameras=cameras, nodes_behind=behind,
            loss_pct=figures.loss_pct, rtt_ms=figures.rtt_ms, jitter_ms=figures.jitter_ms,
            failed_probes=figures.failed_probes,
        )
        event = self._events(
            node_topic(state), payload, severity=self._severity(payload), subject=self.subject(node),
            summary=self._summary(payload), location=self._location(node),
        )
        self._publish(event)
        self._put_node(node, state, now, figures)
        if span is not None:
            self._put_span(span, state, now)
        if state in (DOWN, UNREACHABLE):
            self._cancel_follow_up(node)
        elif payload.recovered and self._topology.cameras_on(node):
            # Each node follows up its own cameras: the nodes behind a recovered one recover too, and
            # check theirs.
            self._follow_up(node, event)
        self._log.info("fibre_node_state", node=node, state=state, previous=previous, root_cause=root_cause,
                       cameras=len(cameras))
        return event

    def subject(self, node: str) -> Subject:
        return Subject(kind="fibre_node", id=node, name=self._config.nodes[node].name)

    def _location(self, node: str) -> Location | None:
        config = self._config.nodes[node]
        return Location(name=config.site or config.name or node, latitude=config.latitude,
                        longitude=config.longitude)

    @staticmethod
    def _severity(payload: NodeStateChanged) -> Severity:
        if payload.state == DOWN:
            return Severity.HIGH if payload.root_cause else Severity.MEDIUM
        if payload.state == FLAPPING:
            return Severity.HIGH
        if payload.state == DEGRADED:
            return Severity.MEDIUM
        return Severity.INFO

    @staticmethod
    def _summary(payload: NodeStateChanged) -> str:
        name = payload.node.name
        cameras = payload.cameras
        affected = (f"{len(cameras)} camera{'s' if len(cameras) != 1 else ''} affected: {_listed(cameras)}"
                    if cameras else "no cameras behind it")
        if payload.state == DOWN:
            where = f" (span {payload.span})" if payload.span else ""
            nodes = (f"; {len(payload.nodes_behind)} node{'s' if len(payload.nodes_behind) != 1 else ''} "
                     f"behind it unreachable" if payload.nodes_behind else "")
            return f"Fibre node {name} down{where}, {affected}{nodes}"
        if payload.state == UNREACHABLE:
            return f"Fibre node {name} unreachable: its upstream {payload.because_of} is down"
        if payload.state == FLAPPING:
            return f"Fibre node {name} flapping: {payload.reason or 'changing state too often'}; {affected}"
        if payload.state == DEGRADED:
            return f"Fibre node {name} degraded: {payload.reason or 'answering poorly'}"
        back = " again" if payload.recovered else ""
        return f"Fibre node {name} up{back}"

    # --- cameras still dark after a recovery ----------------------------------------------------------

    def _follow_up(self, node: str, recovery: Event) -> None:
        self._cancel_follow_up(node)
        self._follow_ups[node] = self._clock.callLater(
            self._config.camera_grace_s, self._check_cameras, node, recovery.id
        )

    def _cancel_follow_up(self, node: str) -> None:
        for name in (node, *self._topology.descendants(node)):
            call = self._follow_ups.pop(name, None)
            if call is not None and call.active():
                call.cancel()

    def _check_cameras(self, node: str, recovery_id: str) -> None:
        self._follow_ups.pop(node, None)
        if self._directory is None:
            return
        now = self._clock.seconds()
        if self.states.get(node) not in (UP, DEGRADED):
            return  # out again: that outage speaks for its cameras
        for camera in self._topology.cameras_on(node):
            asset = self._directory.get("camera", camera)
            if asset is None or asset.state not in DARK_CAMERA_STATES:
                continue
            if self._config.camera_sources and asset.source not in self._config.camera_sources:
                continue
            payload = CameraStillDark(
                camera=camera, node=node, offline_since=asset.state_since,
                dark_for_s=None if asset.state_since is None else now - asset.state_since,
            )
            self._publish(self._events(
                STILL_DARK, payload, severity=Severity.HIGH,
                subject=Subject(kind="camera", id=camera, name=asset.name),
                summary=(f"Camera {camera} still offline {self._config.camera_grace_s:g} s after fibre node "
                         f"{node} recovered: a fault of its own"),
                location=Location(camera=camera, latitude=asset.latitude, longitude=asset.longitude),
                causation_id=recovery_id,
            ))

    def stop(self) -> None:
        for call in self._follow_ups.values():
            if call.active():
                call.cancel()
        self._follow_ups.clear()
