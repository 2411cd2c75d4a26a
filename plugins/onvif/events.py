"""What ONVIF cameras report, as event payloads, and the topics they are published under.

Partners read these from the journal as JSON: add fields with defaults, never rename or remove one.
Every payload names its camera (``CameraRef``); every event's subject is ``camera`` with the camera's
number, and its location names the camera (and its site and coordinates when configured). Command
outcomes are the hub's own ``onvif.command.<outcome>`` events (``hub.commands.outcome_event``).
"""

from __future__ import annotations

from typing import ClassVar

from attrs import frozen

# Camera states (CameraHealthChanged.state, and the camera's state in the directory).
ONLINE = "online"
OFFLINE = "offline"
AUTH_FAILED = "auth_failed"
DEGRADED = "degraded"
#: Configured but not yet heard from (directory only; no event says it).
CONNECTING = "connecting"
#: Configured with ``enabled = false`` (directory only).
DISABLED = "disabled"
CAMERA_STATES = (ONLINE, OFFLINE, AUTH_FAILED, DEGRADED)

#: Topics of alarms that start and end (property events), by what they are about (CameraAlarm.kind).
ALARM_TOPICS = {
    "motion": "onvif.motion",
    "tamper": "onvif.tamper",
    "video_loss": "onvif.video_loss",
    "digital_input": "onvif.input",
    "relay": "onvif.relay",
    "field": "onvif.field",
}
LINE_CROSSED = "onvif.line.crossed"
STORAGE_FAILED = "onvif.storage.failed"
PRESET_REACHED = "onvif.preset.reached"
CAMERA_EVENT = "onvif.camera.event"


def health_topic(state: str) -> str:
    """``onvif.camera.online`` and its siblings."""
    return f"onvif.camera.{state}"


@frozen
class CameraRef:
    """Which camera: its ``number`` as the room knows it, its ``name``, ``site`` and ``fibre_node``
    (the node of the fibre network it hangs off, for the engineer who has to go out to it)."""

    number: str
    name: str | None = None
    site: str | None = None
    fibre_node: str | None = None


@frozen
class Item:
    """One ONVIF SimpleItem: a name and its value, as the camera sent them."""

    name: str
    value: str


@frozen
class CameraHealthChanged:
    """A camera changed state (topic ``onvif.camera.<state>``): ``online``, ``offline``, ``auth_failed``
    (it refuses the hub's credentials, even after the hub re-read its clock) or ``degraded`` (it answers,
    but events cannot be subscribed or its replies cannot be read).

    ``previous`` is the state before (None for the first verdict after the adapter started);
    ``reason`` what happened last, for a person (never a secret); ``failures`` the failed attempts in a
    row; ``retry_in_s`` when the hub tries again. One event per change, never one per failed attempt.
    Severity info for online, medium for offline and auth_failed, low for degraded.
    """

    TYPE: ClassVar[str] = "onvif.camera.health"

    camera: CameraRef
    state: str
    previous: str | None = None
    reason: str | None = None
    failures: int = 0
    retry_in_s: float | None = None


@frozen
class ProfileInfo:
    """A media profile: its token (what ``profile`` in the config names), name, whether it has PTZ, and
    its video encoding and size."""

    token: str
    name: str | None = None
    ptz: bool = False
    encoding: str | None = None
    width: int | None = None
    height: int | None = None


@frozen
class PresetInfo:
    """A PTZ preset: the camera's token for it (which may change after a reboot) and its name."""

    token: str
    name: str | None = None


@frozen
class CameraIdentified:
    """What a camera is (topic ``onvif.camera.identified``): published when it is first reached and
    whenever what it says about itself changes (firmware, profiles, presets), e.g. after a reboot.

    ``media`` is ``media1`` or ``media2`` (the service the hub uses); ``profile`` the token of the
    profile the hub uses; ``ptz`` whether that profile has PTZ; ``snapshot`` whether the camera gives a
    snapshot URI; ``clock_offset_s`` the camera's clock minus the hub's. Severity info.
    """

    TYPE: ClassVar[str] = "onvif.camera.identified"

    camera: CameraRef
    manufacturer: str | None
    model: str | None
    firmware_version: str | None
    serial_number: str | None
    hardware_id: str | None = None
    media: str | None = None
    profile: str | None = None
    profiles: tuple[ProfileInfo, ...] = ()
    ptz: bool = False
    presets: tuple[PresetInfo, ...] = ()
    snapshot: bool = False
    clock_offset_s: float | None = None


@frozen
class CameraAlarmStarted:
    """A camera alarm came on (topics ``onvif.motion.started``, ``onvif.tamper.started``,
    ``onvif.video_loss.started``, ``onvif.input.started`` (a digital input: a help point's button),
    ``onvif.relay.started``, ``onvif.field.started``).

    ``kind`` is the alarm (``motion``, ``tamper``, ``video_loss``, ``digital_input``, ``relay``,
    ``field``); ``detail`` what the camera said beyond it (``ImageTooBlurry``, an input's token);
    ``topic`` the ONVIF topic; ``source`` the items that say which video source, rule or input it is;
    ``data`` the camera's data items as sent (``State`` among them, and any a vendor adds);
    ``camera_time`` the time as the camera wrote it (the event's ``occurred_at`` is that time corrected
    by the camera's clock offset). Severity: low for motion, relay and field; medium for video loss;
    high for tamper and digital inputs.
    """

    TYPE: ClassVar[str] = "onvif.alarm.started"

    camera: CameraRef
    kind: str
    topic: str
    detail: str | None = None
    source: tuple[Item, ...] = ()
    camera_time: str | None = None
    data: tuple[Item, ...] = ()


@frozen
class CameraAlarmEnded:
    """A camera alarm went off (``onvif.<alarm>.ended``, the alarms of ``CameraAlarmStarted``).

    ``stale`` is true when the camera never said so: the hub ended it after ``motion_stuck_after_s``
    (cameras lose clearing events); ``lasted_s`` how long it was on, as the hub saw it (None when the
    hub never saw it start); ``data`` the clearing notification's data items (none when stale).
    Severity info.
    """

    TYPE: ClassVar[str] = "onvif.alarm.ended"

    camera: CameraRef
    kind: str
    topic: str
    detail: str | None = None
    source: tuple[Item, ...] = ()
    camera_time: str | None = None
    stale: bool = False
    lasted_s: float | None = None
    data: tuple[Item, ...] = ()


@frozen
class CameraEventOccurred:
    """Something happened once (topics ``onvif.line.crossed``, ``onvif.storage.failed``,
    ``onvif.preset.reached``). ``kind`` is ``line_crossed``, ``storage_failure`` or ``preset``;
    ``data`` the camera's data items (a preset's token). Severity: medium for storage failure and
    line crossing, info for a preset reached."""

    TYPE: ClassVar[str] = "onvif.camera.occurred"

    camera: CameraRef
    kind: str
    topic: str
    detail: str | None = None
    source: tuple[Item, ...] = ()
    data: tuple[Item, ...] = ()
    camera_time: str | None = None


@frozen
class CameraEventReceived:
    """A camera event the hub has no meaning for (topic ``onvif.camera.event``), kept whole rather than
    dropped: ``topic`` as the camera sent it, ``operation`` (``Initialized``, ``Changed``, ``Deleted``
    or None), and every ``source``, ``key`` and ``data`` item. Severity info."""

    TYPE: ClassVar[str] = "onvif.camera.event"

    camera: CameraRef
    topic: str
    operation: str | None = None
    source: tuple[Item, ...] = ()
    key: tuple[Item, ...] = ()
    data: tuple[Item, ...] = ()
    camera_time: str | None = None


@frozen
class EvidenceRef:
    """Evidence kept by the hub: its SHA-256, content type, size in bytes and where the API serves it."""

    sha256: str
    content_type: str
    size: int
    url: str


@frozen
class SnapshotTaken:
    """An operator (or rule) took a snapshot from a camera (topic ``onvif.snapshot.taken``), kept as
    evidence on the command's incident. ``requested_by`` who asked; ``profile`` the media profile it
    came from. Severity info."""

    TYPE: ClassVar[str] = "onvif.snapshot.taken"

    camera: CameraRef
    evidence: EvidenceRef
    requested_by: str
    profile: str | None = None


@frozen
class StreamShared:
    """A camera's live stream URI was fetched for sharing (topic ``onvif.stream.shared``), e.g. with the
    police. ``uri`` never carries credentials (any the camera put in it are removed); whoever opens it
    needs their own. Severity info."""

    TYPE: ClassVar[str] = "onvif.stream.shared"

    camera: CameraRef
    uri: str
    requested_by: str
    profile: str | None = None


EVENT_TYPES: tuple[type, ...] = (
    CameraHealthChanged,
    CameraIdentified,
    CameraAlarmStarted,
    CameraAlarmEnded,
    CameraEventOccurred,
    CameraEventReceived,
    SnapshotTaken,
    StreamShared,
)
