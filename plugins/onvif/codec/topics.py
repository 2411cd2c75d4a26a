"""What an event topic means to a control room: motion, tamper, video loss, a help-point input...

``classify`` turns a normalised notification into a ``CameraSignal``: a kind, a state for property events
(True when the condition starts, False when it ends) and a detail. Topics are matched without regard to
case (cameras differ) and only in the ONVIF topic namespace (``tns1:``); anything else, vendor topics
included, is kind ``other`` so the adapter records it as a generic camera event instead of dropping it.
"""

from __future__ import annotations

from attrs import frozen

from plugins.onvif.codec.events import Notification

KINDS = (
    "motion",
    "tamper",
    "video_loss",
    "digital_input",
    "relay",
    "line_crossed",
    "field",
    "storage_failure",
    "preset",
    "other",
)


@frozen
class CameraSignal:
    """``kind`` is one of ``KINDS``; ``state`` True/False for a property event starting/ending, None for a
    momentary one (or a property event whose state could not be read); ``detail`` says more: the tamper
    kind (``ImageTooBlurry``), the input or relay token, the rule name, the preset event (``Reached``)."""

    kind: str
    state: bool | None
    detail: str | None


OTHER = CameraSignal(kind="other", state=None, detail=None)

_TRUE = frozenset({"true", "1", "active", "on", "yes"})
_FALSE = frozenset({"false", "0", "inactive", "off", "no"})


def _boolean(text: str | None) -> bool | None:
    if text is None:
        return None
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    return None


def _state(notification: Notification, *names: str) -> bool | None:
    """The first of ``names`` found among the data items, read as a boolean."""
    for wanted in names:
        for name, value in notification.data:
            if name.lower() == wanted:
                return _boolean(value)
    return None


def _source(notification: Notification, *names: str) -> str | None:
    for wanted in names:
        for name, value in notification.source:
            if name.lower() == wanted:
                return value or None
    return None


_TAMPER_CONDITIONS = {
    "imagetooblurry": "ImageTooBlurry",
    "imagetoodark": "ImageTooDark",
    "imagetoobright": "ImageTooBright",
    "globalscenechange": "GlobalSceneChange",
}
_PRESET_EVENTS = {"reached": "Reached", "invoked": "Invoked", "aborted": "Aborted", "left": "Left"}


def classify(notification: Notification) -> CameraSignal:
    """The meaning of ``notification``; never raises, and an unknown topic is kind ``other``."""
    try:
        return _classify(notification)
    except Exception:  # noqa: BLE001 -- a camera's odd data must never stop an event being recorded
        return OTHER


def _classify(notification: Notification) -> CameraSignal:
    topic = notification.topic
    if topic[:5].lower() != "tns1:":
        return OTHER
    parts = tuple(part.lower() for part in topic[5:].split("/"))
    head = parts[:3]
    if parts == ("videosource", "motionalarm"):
        return CameraSignal("motion", _state(notification, "state"), None)
    if head in (("ruleengine", "cellmotiondetector", "motion"), ("ruleengine", "motionregiondetector", "motion")):
        return CameraSignal("motion", _state(notification, "ismotion", "state"), _source(notification, "rule"))
    if len(parts) >= 2 and parts[0] == "videosource" and parts[1] in _TAMPER_CONDITIONS:
        return CameraSignal("tamper", _state(notification, "state"), _TAMPER_CONDITIONS[parts[1]])
    if head == ("ruleengine", "tamperdetector", "tamper"):
        return CameraSignal("tamper", _state(notification, "istamper", "state"), "Tamper")
    if parts == ("videosource", "signalloss"):
        return CameraSignal("video_loss", _state(notification, "state"), None)
    if head == ("device", "trigger", "digitalinput"):
        token = _source(notification, "inputtoken", "digitalinputtoken", "token")
        return CameraSignal("digital_input", _state(notification, "logicalstate", "state"), token)
    if head == ("device", "trigger", "relay"):
        token = _source(notification, "relaytoken", "token")
        return CameraSignal("relay", _state(notification, "logicalstate", "state"), token)
    if head == ("ruleengine", "linedetector", "crossed"):
        return CameraSignal("line_crossed", None, _source(notification, "rule"))
    if head == ("ruleengine", "fielddetector", "objectsinside"):
        return CameraSignal("field", _state(notification, "isinside", "state"), _source(notification, "rule"))
    if head == ("device", "hardwarefailure", "storagefailure"):
        failed = _state(notification, "failed", "state")
        return CameraSignal("storage_failure", failed, _source(notification, "token"))
    if len(parts) == 3 and parts[:2] == ("ptzcontroller", "ptzpresets") and parts[2] in _PRESET_EVENTS:
        return CameraSignal("preset", None, _PRESET_EVENTS[parts[2]])
    return OTHER
