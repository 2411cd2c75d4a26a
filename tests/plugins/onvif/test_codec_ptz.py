"""PTZ: presets listed and gone to, continuous moves, stop and home, as the schema orders them."""

from __future__ import annotations

import pytest
from lxml import etree

from plugins.onvif.codec import namespaces as ns
from plugins.onvif.codec import ptz
from plugins.onvif.codec.ptz import Preset
from plugins.onvif.codec.soap import ReplyError, SoapFault, envelope
from plugins.onvif.codec.xml import parse_untrusted
from tests.plugins.onvif import codec_samples as samples

TPTZ = f"{{{ns.TPTZ}}}"
TT = f"{{{ns.TT}}}"


def request_body(body_xml: str) -> etree._Element:
    root = etree.fromstring(envelope(body_xml))
    return root.find(f"{{{ns.SOAP_ENV}}}Body")[0]


def names(element: etree._Element) -> list[str]:
    return [etree.QName(part).localname for part in element]


def test_presets_are_read_in_order_with_names_and_untokened_ones_skipped():
    assert ptz.parse_presets(parse_untrusted(samples.PRESETS)) == (
        Preset("1", "Market Square"),
        Preset("2", "Bus station & taxi rank"),
        Preset("33", None),
    )


def test_get_presets_names_the_profile():
    body = request_body(ptz.get_presets("Profile_1"))
    assert body.tag == f"{TPTZ}GetPresets"
    assert body.findtext(f"{TPTZ}ProfileToken") == "Profile_1"


def test_goto_preset_sends_no_speed_unless_asked():
    """Some cameras fault on any Speed (quirk 9): it is sent only when the caller gives one."""
    body = request_body(ptz.goto_preset("Profile_1", "7"))
    assert names(body) == ["ProfileToken", "PresetToken"]
    assert body.findtext(f"{TPTZ}PresetToken") == "7"
    with_speed = request_body(ptz.goto_preset("Profile_1", "7", speed=0.5))
    assert names(with_speed) == ["ProfileToken", "PresetToken", "Speed"]
    speed = with_speed.find(f"{TPTZ}Speed")
    assert speed.find(f"{TT}PanTilt").attrib == {"x": "0.5", "y": "0.5"}
    assert speed.find(f"{TT}Zoom").attrib == {"x": "0.5"}


@pytest.mark.parametrize(
    ("pan", "tilt", "zoom", "pan_tilt", "zoom_x"),
    [
        (0.5, 0.0, 0.0, {"x": "0.5", "y": "0"}, None),
        (0.0, -1.0, 0.0, {"x": "0", "y": "-1"}, None),
        (0.0, 0.0, 0.25, None, "0.25"),
        (-0.3333333, 0.1, -0.5, {"x": "-0.3333", "y": "0.1"}, "-0.5"),
        (0.0, 0.0, 0.0, {"x": "0", "y": "0"}, "0"),
        (-0.0, 0.0, -0.0, {"x": "0", "y": "0"}, "0"),
    ],
)
def test_continuous_move_sends_only_the_axes_that_move(pan, tilt, zoom, pan_tilt, zoom_x):
    """A zoom-only move leaves PanTilt out (and a pan leaves Zoom out, which lens-less cameras fault on)."""
    body = request_body(ptz.continuous_move("P", pan=pan, tilt=tilt, zoom=zoom, timeout_s=None))
    assert names(body) == ["ProfileToken", "Velocity"]
    velocity = body.find(f"{TPTZ}Velocity")
    found_pan_tilt = velocity.find(f"{TT}PanTilt")
    found_zoom = velocity.find(f"{TT}Zoom")
    assert (None if found_pan_tilt is None else dict(found_pan_tilt.attrib)) == pan_tilt
    assert (None if found_zoom is None else found_zoom.get("x")) == zoom_x


def test_continuous_move_carries_its_timeout_as_a_duration():
    body = request_body(ptz.continuous_move("P", pan=1, tilt=0, zoom=0, timeout_s=2.5))
    assert names(body) == ["ProfileToken", "Velocity", "Timeout"]
    assert body.findtext(f"{TPTZ}Timeout") == "PT2.5S"


@pytest.mark.parametrize("value", [1.01, -2, float("nan"), float("inf"), "0.5"])
def test_velocities_outside_the_generic_space_are_refused(value):
    with pytest.raises(ValueError, match="from -1 to 1"):
        ptz.continuous_move("P", pan=value, tilt=0, zoom=0, timeout_s=None)


def test_stop_names_which_axes_stop():
    body = request_body(ptz.stop("P"))
    assert [(etree.QName(part).localname, part.text) for part in body] == [
        ("ProfileToken", "P"),
        ("PanTilt", "true"),
        ("Zoom", "true"),
    ]
    assert request_body(ptz.stop("P", zoom=False)).findtext(f"{TPTZ}Zoom") == "false"


def test_home_names_the_profile():
    body = request_body(ptz.goto_home_position("Profile_1"))
    assert body.tag == f"{TPTZ}GotoHomePosition"
    assert body.findtext(f"{TPTZ}ProfileToken") == "Profile_1"


@pytest.mark.parametrize("operation", ["GotoPreset", "ContinuousMove", "Stop", "GotoHomePosition"])
def test_an_empty_answer_is_checked_by_name(operation):
    assert ptz.parse_empty(parse_untrusted(samples.empty_response(operation)), operation) is None
    with pytest.raises(ReplyError, match=f"expected {operation}Response"):
        ptz.parse_empty(parse_untrusted(samples.empty_response("Other")), operation)


def test_a_fault_to_a_command_is_raised():
    with pytest.raises(SoapFault):
        ptz.parse_empty(parse_untrusted(samples.FAULT_ACTION_NOT_SUPPORTED), "GotoPreset")
