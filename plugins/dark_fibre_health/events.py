"""What the fibre network reports, as event payloads, and the topics they are published under.

Partners read these from the journal as JSON: add fields with defaults, never rename or remove one.
Subjects: ``fibre_node`` with the node's name for node, optics and interface events; ``camera`` with the
camera's number for ``fibre.camera.still_dark``. One event per change of state, never one per probe.
"""

from __future__ import annotations

from typing import ClassVar

from attrs import frozen

# Node states (NodeStateChanged.state, and the node's and its upstream span's state in the directory).
UP = "up"
DEGRADED = "degraded"
DOWN = "down"
UNREACHABLE = "unreachable"
FLAPPING = "flapping"
NODE_STATES = (UP, DEGRADED, DOWN, UNREACHABLE, FLAPPING)
#: Configured but not yet judged, or not probed (directory only; no event says it).
UNKNOWN = "unknown"
DISABLED = "disabled"

# Optical levels (OpticalLevelChanged.level).
OPTICS_OK = "ok"
OPTICS_WARNING = "warning"
OPTICS_ALARM = "alarm"
OPTICS_NO_LIGHT = "no_light"
OPTICS_LEVELS = (OPTICS_OK, OPTICS_WARNING, OPTICS_ALARM, OPTICS_NO_LIGHT)

STILL_DARK = "fibre.camera.still_dark"
RX_TREND = "fibre.optics.trend"


def node_topic(state: str) -> str:
    """``fibre.node.down`` and its siblings."""
    return f"fibre.node.{state}"


def optics_topic(level: str) -> str:
    """``fibre.optics.alarm`` and its siblings."""
    return f"fibre.optics.{level}"


def interface_topic(up: bool) -> str:
    return "fibre.interface.up" if up else "fibre.interface.down"


@frozen
class NodeRef:
    """Which node: its ``name``, management ``address``, ``site`` and ``upstream`` node."""

    name: str
    address: str
    site: str | None = None
    upstream: str | None = None


@frozen
class NodeStateChanged:
    """A node changed state (topic ``fibre.node.<state>``): ``up``, ``degraded`` (answering, but with
    loss, slow round trips or weak light), ``down`` (no answer), ``unreachable`` (its upstream is down, so
    nothing can be said of it) or ``flapping`` (changing state too often to alarm on each change).

    ``root_cause`` is true for a down node whose own upstream path still answers: the failure is here,
    at this node or on ``span`` (the fibre from its upstream). ``cameras`` lists every camera behind the
    node (its own and those on nodes further out) and ``nodes_behind`` every node behind it; for a root
    cause these are what the outage takes with it. ``because_of`` names the failed node an unreachable
    one sits behind. ``loss_pct``, ``rtt_ms`` and ``jitter_ms`` are the probes' figures over the loss
    window; ``failed_probes`` the rounds in a row without an answer.

    Severity: high for a root-cause down and for flapping, medium for degraded, info otherwise.
    """

    TYPE: ClassVar[str] = "fibre.node.state"

    node: NodeRef
    state: str
    previous: str | None = None
    reason: str | None = None
    span: str | None = None
    root_cause: bool = False
    because_of: str | None = None
    cameras: tuple[str, ...] = ()
    nodes_behind: tuple[str, ...] = ()
    loss_pct: float | None = None
    rtt_ms: float | None = None
    jitter_ms: float | None = None
    failed_probes: int = 0

    @property
    def covers(self) -> tuple[str, ...]:
        """What a root-cause outage takes down with it, as incident subject keys: its cameras' alarms and
        the nodes behind it join its incident instead of raising their own (docs/incidents.md)."""
        if self.state != DOWN or not self.root_cause:
            return ()
        return tuple(f"camera:{camera}" for camera in self.cameras) + tuple(
            f"fibre_node:{node}" for node in self.nodes_behind
        )

    @property
    def recovered(self) -> bool:
        """True when the node answers again after an outage: its incident is resolved by the hub."""
        return self.state in (UP, DEGRADED) and self.previous in (DOWN, UNREACHABLE, FLAPPING)


@frozen
class Thresholds:
    """Optical power limits in dBm, and where they came from: ``device`` (the optic's own), ``config``
    (the adapter's configuration, for a device that reports none) or ``none``."""

    low_alarm: float | None = None
    low_warning: float | None = None
    high_warning: float | None = None
    high_alarm: float | None = None
    source: str = "none"


@frozen
class OpticalLevelChanged:
    """A port's optical power changed level (topic ``fibre.optics.<level>``): ``ok``, ``warning`` (past a
    warning threshold), ``alarm`` (past an alarm threshold, whatever the device's own status column
    says) or ``no_light`` (the port is down and reads nothing: not 0 dBm).

    ``direction`` is ``rx`` (received) or ``tx`` (transmitted); ``dbm`` the reading (None for no light).
    Severity: high for alarm and no_light on a watched port, medium for warning, info for ok.
    """

    TYPE: ClassVar[str] = "fibre.optics.level"

    node: NodeRef
    port: str
    direction: str
    level: str
    previous: str | None = None
    dbm: float | None = None
    ifindex: int | None = None
    thresholds: Thresholds = Thresholds()
    reason: str | None = None


@frozen
class RxPowerTrend:
    """A port's receive power is falling steadily and will cross its low alarm threshold within the
    configured warning time (topic ``fibre.optics.trend``): a dirty connector or a bent fibre, before it
    is an outage. ``slope_db_per_day`` is negative; ``crossing_in_s`` the forecast time to the threshold;
    ``points`` how many readings the trend rests on. Raised once per port until the trend clears or the
    port reaches the alarm. Severity medium."""

    TYPE: ClassVar[str] = "fibre.optics.trend"

    node: NodeRef
    port: str
    dbm_now: float
    slope_db_per_day: float
    threshold_dbm: float
    crossing_in_s: float
    points: int
    ifindex: int | None = None


@frozen
class InterfaceChanged:
    """A watched interface went down or came up (topic ``fibre.interface.<up|down>``), as IF-MIB's
    ``ifOperStatus`` says (1 up, 2 down, 7 lowerLayerDown...). ``last_change`` is ``ifLastChange`` in
    hundredths of a second of the device's uptime; ``in_errors`` the ``ifInErrors`` counter. Severity:
    medium for down, info for up."""

    TYPE: ClassVar[str] = "fibre.interface.changed"

    node: NodeRef
    port: str
    ifindex: int
    oper_status: int
    up: bool
    last_change: int | None = None
    in_errors: int | None = None


@frozen
class CameraStillDark:
    """A camera behind a node that failed and recovered is still offline ``dark_for_s`` after the node
    came back (topic ``fibre.camera.still_dark``, subject the camera): its own fault, not the fibre's, so
    it gets an incident of its own. ``root_incident`` names the outage's incident when known. Severity
    high."""

    TYPE: ClassVar[str] = "fibre.camera.still_dark"

    camera: str
    node: str
    offline_since: float | None = None
    dark_for_s: float | None = None
    root_incident: str | None = None


EVENT_TYPES = (NodeStateChanged, OpticalLevelChanged, RxPowerTrend, InterfaceChanged, CameraStillDark)
