"""Media (Profile S, ver10) and Media2 (Profile T, ver20): profiles, stream URIs and snapshot URIs.

The two services ask and answer the same questions in different shapes: Media1 nests a profile's parts
directly in it and wraps URIs in MediaUri; Media2 puts the parts under Configurations (and only when asked
for ``Type All``) and answers a bare Uri. The parsers read either shape whichever service was asked, since
some cameras mix them.
"""

from __future__ import annotations

from typing import Literal
from xml.sax.saxutils import escape

from attrs import frozen
from lxml import etree

from plugins.onvif.codec import namespaces as ns
from plugins.onvif.codec.soap import ReplyError, expect
from plugins.onvif.codec.xml import child, children, path, text_of

Media = Literal["media1", "media2"]

_TRT = f'xmlns:trt="{ns.TRT}"'
_TR2 = f'xmlns:tr2="{ns.TR2}"'
_TT = f'xmlns:tt="{ns.TT}"'


def _check(media: str) -> None:
    if media not in ("media1", "media2"):
        raise ValueError(f"media must be 'media1' or 'media2', not {media!r}")


@frozen
class Profile:
    """A media profile: what the camera streams and whether it can move (``has_ptz``).

    ``ptz_configuration_token`` is None when the profile has no PTZ; encoding and resolution are the
    video encoder's, None when the profile has none or the camera leaves them out."""

    token: str
    name: str | None
    has_ptz: bool
    ptz_configuration_token: str | None
    encoding: str | None
    width: int | None
    height: int | None


def get_profiles(media: Media) -> str:
    _check(media)
    if media == "media1":
        return f"<trt:GetProfiles {_TRT}/>"
    # Without Type All a Media2 camera answers bare tokens and names, nothing about encoders or PTZ.
    return f"<tr2:GetProfiles {_TR2}><tr2:Type>All</tr2:Type></tr2:GetProfiles>"


def _dimension(element: etree._Element | None) -> int | None:
    text = text_of(element)
    if text is None or not text.isdigit() or len(text) > 6:
        return None
    return int(text)


def _profile(element: etree._Element) -> Profile | None:
    token = (element.get("token") or "").strip()
    if not token:
        return None
    configurations = child(element, "Configurations")  # Media2
    encoder = child(element, "VideoEncoderConfiguration")
    if encoder is None:
        encoder = child(configurations, "VideoEncoder")
    ptz = child(element, "PTZConfiguration")
    if ptz is None:
        ptz = child(configurations, "PTZ")
    ptz_token = None
    if ptz is not None:
        ptz_token = (ptz.get("token") or "").strip() or None
    resolution = child(encoder, "Resolution")
    return Profile(
        token=token,
        name=text_of(child(element, "Name")),
        has_ptz=ptz is not None,
        ptz_configuration_token=ptz_token,
        encoding=text_of(child(encoder, "Encoding")),
        width=_dimension(child(resolution, "Width")),
        height=_dimension(child(resolution, "Height")),
    )


def parse_profiles(root: etree._Element, media: Media) -> tuple[Profile, ...]:
    """Every profile with a token, in the camera's order (profiles without a token cannot be used)."""
    _check(media)
    body = expect(root, "GetProfilesResponse")
    profiles = (_profile(element) for element in children(body, "Profiles"))
    return tuple(profile for profile in profiles if profile is not None)


def get_stream_uri(media: Media, profile_token: str) -> str:
    """Ask for an RTSP URI: Media1 as RTP-Unicast over RTSP, Media2 as the RtspUnicast protocol."""
    _check(media)
    token = escape(profile_token)
    if media == "media1":
        return (
            f"<trt:GetStreamUri {_TRT} {_TT}>"
            "<trt:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream>"
            "<tt:Transport><tt:Protocol>RTSP</tt:Protocol></tt:Transport></trt:StreamSetup>"
            f"<trt:ProfileToken>{token}</trt:ProfileToken></trt:GetStreamUri>"
        )
    return (
        f"<tr2:GetStreamUri {_TR2}><tr2:Protocol>RtspUnicast</tr2:Protocol>"
        f"<tr2:ProfileToken>{token}</tr2:ProfileToken></tr2:GetStreamUri>"
    )


def _uri(body: etree._Element) -> str | None:
    # Media1 answers MediaUri/Uri, Media2 a bare Uri; take whichever the camera sent.
    return text_of(path(body, "MediaUri", "Uri")) or text_of(child(body, "Uri"))


def parse_stream_uri(root: etree._Element, media: Media) -> str:
    """The stream URI, as the camera wrote it. ``ReplyError`` when the answer holds none."""
    _check(media)
    uri = _uri(expect(root, "GetStreamUriResponse"))
    if uri is None:
        raise ReplyError("GetStreamUriResponse has no Uri")
    return uri


def get_snapshot_uri(media: Media, profile_token: str) -> str:
    _check(media)
    token = escape(profile_token)
    if media == "media1":
        return f"<trt:GetSnapshotUri {_TRT}><trt:ProfileToken>{token}</trt:ProfileToken></trt:GetSnapshotUri>"
    return f"<tr2:GetSnapshotUri {_TR2}><tr2:ProfileToken>{token}</tr2:ProfileToken></tr2:GetSnapshotUri>"


def parse_snapshot_uri(root: etree._Element, media: Media) -> str | None:
    """The snapshot URI, or None when the camera answers without one (some do, instead of a fault)."""
    _check(media)
    return _uri(expect(root, "GetSnapshotUriResponse"))


__all__ = [
    "Media",
    "Profile",
    "get_profiles",
    "get_snapshot_uri",
    "get_stream_uri",
    "parse_profiles",
    "parse_snapshot_uri",
    "parse_stream_uri",
]
