"""PTZ service: presets (list and go to), continuous move, stop and home.

Speeds and velocities are in the generic spaces every PTZ camera supports (-1..1), so no space URI is
sent. GotoPreset carries a Speed only when asked: some cameras fault on any Speed at all.
"""

from __future__ import annotations

import math
from xml.sax.saxutils import escape

from attrs import frozen
from lxml import etree

from plugins.onvif.codec import namespaces as ns
from plugins.onvif.codec.soap import expect
from plugins.onvif.codec.times import format_duration
from plugins.onvif.codec.xml import child, children, text_of

_NAMESPACES = f'xmlns:tptz="{ns.TPTZ}" xmlns:tt="{ns.TT}"'


@frozen
class Preset:
    """A preset position: its token (what GotoPreset takes) and the name an operator gave it."""

    token: str
    name: str | None


def _number(value: float, what: str) -> str:
    """``value`` as an xsd:float in -1..1, written plainly (``0.5``, ``-1``, ``0``)."""
    if not isinstance(value, int | float) or not math.isfinite(value) or not -1.0 <= value <= 1.0:
        raise ValueError(f"{what} must be a number from -1 to 1, not {value!r}")
    text = f"{float(value):.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _token(profile_token: str) -> str:
    return f"<tptz:ProfileToken>{escape(profile_token)}</tptz:ProfileToken>"


def get_presets(profile_token: str) -> str:
    return f"<tptz:GetPresets {_NAMESPACES}>{_token(profile_token)}</tptz:GetPresets>"


def parse_presets(root: etree._Element) -> tuple[Preset, ...]:
    """Every preset with a token, in the camera's order."""
    body = expect(root, "GetPresetsResponse")
    presets = []
    for element in children(body, "Preset"):
        token = (element.get("token") or "").strip()
        if token:
            presets.append(Preset(token=token, name=text_of(child(element, "Name"))))
    return tuple(presets)


def goto_preset(profile_token: str, preset_token: str, *, speed: float | None = None) -> str:
    speed_xml = ""
    if speed is not None:
        value = _number(speed, "speed")
        speed_xml = f'<tptz:Speed><tt:PanTilt x="{value}" y="{value}"/><tt:Zoom x="{value}"/></tptz:Speed>'
    return (
        f"<tptz:GotoPreset {_NAMESPACES}>{_token(profile_token)}"
        f"<tptz:PresetToken>{escape(preset_token)}</tptz:PresetToken>{speed_xml}</tptz:GotoPreset>"
    )


def continuous_move(profile_token: str, *, pan: float, tilt: float, zoom: float, timeout_s: float | None) -> str:
    """Move at the given velocities until Stop (or ``timeout_s``, which the camera enforces itself).

    An axis left at zero is left out, so a zoom-only move does not also hold pan and tilt, and a camera
    with no zoom lens is not sent a Zoom it would fault on; all three zero sends both (a stop by velocity).
    """
    pan_text, tilt_text, zoom_text = _number(pan, "pan"), _number(tilt, "tilt"), _number(zoom, "zoom")
    still = pan_text == tilt_text == zoom_text == "0"
    velocity = ""
    if still or pan_text != "0" or tilt_text != "0":
        velocity += f'<tt:PanTilt x="{pan_text}" y="{tilt_text}"/>'
    if still or zoom_text != "0":
        velocity += f'<tt:Zoom x="{zoom_text}"/>'
    timeout = f"<tptz:Timeout>{format_duration(timeout_s)}</tptz:Timeout>" if timeout_s is not None else ""
    return (
        f"<tptz:ContinuousMove {_NAMESPACES}>{_token(profile_token)}"
        f"<tptz:Velocity>{velocity}</tptz:Velocity>{timeout}</tptz:ContinuousMove>"
    )


def stop(profile_token: str, *, pan_tilt: bool = True, zoom: bool = True) -> str:
    return (
        f"<tptz:Stop {_NAMESPACES}>{_token(profile_token)}"
        f"<tptz:PanTilt>{'true' if pan_tilt else 'false'}</tptz:PanTilt>"
        f"<tptz:Zoom>{'true' if zoom else 'false'}</tptz:Zoom></tptz:Stop>"
    )


def goto_home_position(profile_token: str) -> str:
    return f"<tptz:GotoHomePosition {_NAMESPACES}>{_token(profile_token)}</tptz:GotoHomePosition>"


def parse_empty(root: etree._Element, operation: str) -> None:
    """Check the reply is ``<operation>Response`` (GotoPreset, ContinuousMove, Stop... answer nothing else)."""
    expect(root, f"{operation}Response")
