"""What a scheme's base radio reports, as event payloads. Each is published under the topic its TYPE names.

Partners read these from the journal as JSON: add fields with defaults, never rename or remove one.
Command outcomes are the hub's own ``shopwatch.command.<outcome>`` events (``hub.commands.outcome_event``).
"""

from __future__ import annotations

from typing import ClassVar

from attrs import frozen

# Why an emergency was raised (RadioEmergencyRaised.trigger).
EMERGENCY_CALL = "emergency_call"  # a ring with emergency priority (the handset's emergency button)
ALARM_REQUEST = "alarm_request"  # a ring whose TYPE4 is 9, an emergency alarm request
BASE_EMERGENCY_MODE = "base_emergency_mode"  # the base radio said it went into emergency mode (PROGRESS 03)
EMERGENCY_STATUS = "emergency_status"  # a status code configured (or, on FleetSync, reserved) as an emergency

# Who ended an emergency (RadioEmergencyEnded.ended_by).
ENDED_BY_RADIO = "radio"
ENDED_BY_OPERATOR = "operator"

# What went wrong on the line (RadioLineError.kind).
NOISE = "noise"  # bytes outside any frame
CHECKSUM = "checksum"  # frames whose checksum did not match
MALFORMED = "malformed"  # frames with nonsense fields, or too long to be a frame
RADIO_ERROR = "radio_error"  # the radio refused a command
NOT_ANSWERING = "not_answering"  # the radio stopped answering commands
FATAL = "fatal"  # the radio reported a fatal error


@frozen
class RadioMember:
    """Who a radio unit is, as the scheme's member list says.

    ``unit`` is the unit id as the radio reports it (CCDI: the caller id, e.g. ``12345``; FleetSync:
    ``FFF-UUUU``). A unit not in the member list has ``known`` false and no ``name``; it is reported all
    the same. ``address`` is the member's street address; ``cameras`` the room's nearest, nearest first.
    """

    unit: str
    known: bool
    name: str | None
    scheme: str
    address: str | None = None
    cameras: tuple[str, ...] = ()


@frozen
class RadioEmergencyRaised:
    """A member's emergency: the handset's emergency button, an alarm request, or the base in emergency mode.

    ``trigger`` is ``emergency_call``, ``alarm_request``, ``base_emergency_mode`` or ``emergency_status``;
    ``status`` the status code that raised it, for ``emergency_status``. Published once per unit while
    the emergency lasts. Severity critical.
    """

    TYPE: ClassVar[str] = "shopwatch.emergency.raised"

    member: RadioMember
    trigger: str
    status: int | None = None


@frozen
class RadioEmergencyEnded:
    """An emergency is over: the base radio left emergency mode (``ended_by`` ``radio``) or an operator
    ended it (``operator``). ``detail`` says how. Severity info."""

    TYPE: ClassVar[str] = "shopwatch.emergency.ended"

    member: RadioMember
    ended_by: str
    detail: str = ""


@frozen
class RadioReportReceived:
    """A member pressed a status button or sent a text.

    ``status_code`` is the code as the radio sends it (CCDI ``0A``, FleetSync ``12``) and
    ``status_meaning`` what the configuration says it means (None when it says nothing); ``text`` is a
    text message, exactly as received. Severity comes from the status code's configuration (medium by
    default, and for texts).
    """

    TYPE: ClassVar[str] = "shopwatch.report.received"

    member: RadioMember
    status_code: str | None = None
    status_meaning: str | None = None
    text: str | None = None


@frozen
class RadioRestarted:
    """The base radio restarted (CCDI PROGRESS 1F) and lost its settings; ``reinitialised`` says whether
    the hub set them again (RING and PROGRESS output, SDM push). Severity medium."""

    TYPE: ClassVar[str] = "shopwatch.radio.restarted"

    reinitialised: bool


@frozen
class RadioLineError:
    """Something is wrong on the serial line or with the radio.

    ``kind``: ``noise``, ``checksum``, ``malformed``, ``radio_error``, ``not_answering`` or ``fatal``;
    ``count`` how many times it happened in the adapter's ``line_error_window_s`` (one event per kind
    per window); ``detail`` what happened, for a person. Severity medium, high for ``not_answering`` and
    ``fatal``.
    """

    TYPE: ClassVar[str] = "shopwatch.line.error"

    kind: str
    count: int
    detail: str


@frozen
class RadioIdentified:
    """The base radio's model and serial number, asked for at start-up (CCDI only). Severity info."""

    TYPE: ClassVar[str] = "shopwatch.radio.identified"

    model: str
    serial: str


EVENT_TYPES: tuple[type, ...] = (
    RadioEmergencyRaised,
    RadioEmergencyEnded,
    RadioReportReceived,
    RadioRestarted,
    RadioLineError,
    RadioIdentified,
)
