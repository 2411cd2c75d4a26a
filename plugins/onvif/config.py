"""The settings of one ONVIF camera fleet: an ``[adapters.NAME]`` table with ``type = "onvif"``.

How hard the hub may talk to the cameras (request caps, back-off, hysteresis), how events are pulled,
and the cameras themselves, each under the number the room knows it by: ``[adapters.NAME.cameras."42"]``.
Credentials are given once for the fleet and may be overridden per camera; passwords are secrets.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Literal

from attrs import field, frozen
from attrs.validators import optional

from hub.config import Expected, between, one_of
from hub.secrets import Secret

#: A camera number as the room writes it on the wall monitor: "42", "0042", "NCP-7", "A12.3".
_CAMERA_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,19}$")
_HOST_NAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                        r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$")
_DEVICE_PATH = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]{0,500}$")
_USERNAME = re.compile(r"^[^\s:]{1,64}$")


def _text(limit: int) -> Any:
    def check(_instance: object, _attribute: object, value: str) -> None:
        if not value.strip() or len(value) > limit:
            raise Expected(f"text of 1 to {limit} characters")

    return check


def _host(_instance: object, _attribute: object, value: str) -> None:
    try:
        ipaddress.ip_address(value)
        return
    except ValueError:
        pass
    if not _HOST_NAME.match(value) or value.replace(".", "").isdigit():
        raise Expected('a host name or IP address alone, no scheme, port or path, e.g. "10.1.2.42"')


def _device_path(_instance: object, _attribute: object, value: str) -> None:
    if not _DEVICE_PATH.match(value):
        raise Expected('the device service path, starting with "/", e.g. "/onvif/device_service"')


def _username(_instance: object, _attribute: object, value: str | None) -> None:
    if value is not None and not _USERNAME.match(value):
        raise Expected("a user name of 1 to 64 characters without spaces or colons")


def _at_least(other: str) -> Any:
    def check(instance: Any, _attribute: object, value: float) -> None:
        # Reading the other field raises AttributeError when it is itself wrong: the config reader then
        # reports that field alone.
        if value < getattr(instance, other):
            raise Expected(f"a number at least {other} ({getattr(instance, other):g})")

    return check


@frozen
class CameraConfig:
    """One camera, as the room knows it.

    ``host`` and ``port`` are where the hub reaches the camera; with ``override_addresses`` (the
    default) they also replace whatever scheme, host and port the camera reports for its services, since
    cameras behind NAT or with broken firmware report addresses the hub cannot use. ``username`` and
    ``password`` override the fleet's. ``profile`` picks a media profile by token; by default the first
    profile with PTZ, else the first. ``enabled = false`` keeps a camera in the file (and the directory)
    while it is out of service, without the hub talking to it.
    """

    host: str = field(validator=_host)
    name: str | None = field(default=None, validator=optional(_text(200)))
    port: int = field(default=80, validator=between(1, 65535))
    scheme: Literal["http", "https"] = field(default="http", validator=one_of("http", "https"))
    path: str = field(default="/onvif/device_service", validator=_device_path)
    username: str | None = field(default=None, validator=_username)
    password: Secret | None = None
    override_addresses: bool = True
    latitude: float | None = field(default=None, validator=optional(between(-90, 90)))
    longitude: float | None = field(default=None, validator=optional(between(-180, 180)))
    site: str | None = field(default=None, validator=optional(_text(200)))
    fibre_node: str | None = field(default=None, validator=optional(_text(100)))
    profile: str | None = field(default=None, validator=optional(_text(64)))
    enabled: bool = True


def _cameras(instance: Any, _attribute: object, value: dict[str, CameraConfig]) -> None:
    if not value:
        raise Expected('at least one camera, as a table [adapters.NAME.cameras."42"] with its host')
    wrong = sorted(str(number) for number in value if not isinstance(number, str) or not _CAMERA_NUMBER.match(number))
    if wrong:
        raise Expected(
            'camera numbers of 1 to 20 letters, digits, ".", "_" or "-", starting with a letter or digit, '
            f"as the room writes them, e.g. \"42\" (not {', '.join(repr(number) for number in wrong[:5])})"
        )
    # Reading the fleet's credentials raises AttributeError when they are themselves wrong: the reader
    # then reports those alone.
    username, password = instance.username, instance.password
    half = sorted(
        number for number, camera in value.items()
        if ((camera.username or username) is None) != ((camera.password or password) is None)
    )
    if half:
        raise Expected(
            "a username and a password together, for the fleet or the camera, or neither for a camera that "
            f"asks for none (camera{'s' if len(half) > 1 else ''} {', '.join(half[:5])} "
            f"{'have' if len(half) > 1 else 'has'} only one of them)"
        )


@frozen
class OnvifConfig:
    """A fleet of ONVIF cameras served by one adapter instance.

    The hub never has more than ``max_requests_overall`` requests in flight to all cameras together, nor
    more than ``max_requests_per_camera`` to one (long polls for events are not counted: each camera
    always has one). A camera is called offline after ``failures_before_offline`` failed attempts in a
    row and online again after ``recoveries_before_online`` successes; between attempts it waits from
    ``retry_min_s``, doubling up to ``retry_max_s``. Cameras start spread over ``startup_spread_s`` so
    that a thousand of them do not connect in the same instant. A motion or field detection that has not
    ended after ``motion_stuck_after_s`` is ended by the hub and marked stale (cameras lose the clearing
    event). ``ptz_speed`` is the speed of ``move`` (0 to 1 of the camera's range).
    """

    cameras: dict[str, CameraConfig] = field(validator=_cameras)
    username: str | None = field(default=None, validator=_username)
    password: Secret | None = None
    max_requests_overall: int = field(default=32, validator=between(1, 1000))
    max_requests_per_camera: int = field(default=2, validator=between(1, 16))
    failures_before_offline: int = field(default=3, validator=between(1, 100))
    recoveries_before_online: int = field(default=1, validator=between(1, 100))
    retry_min_s: float = field(default=5.0, validator=between(0.1, 3600))
    retry_max_s: float = field(default=300.0, validator=[between(0.1, 86400), _at_least("retry_min_s")])
    request_timeout_s: float = field(default=10.0, validator=between(1, 120))
    connect_timeout_s: float = field(default=5.0, validator=between(0.5, 60))
    poll_timeout_s: float = field(default=30.0, validator=between(1, 600))
    subscription_s: float = field(default=60.0, validator=between(10, 86400))
    motion_stuck_after_s: float = field(default=600.0, validator=between(1, 86400))
    startup_spread_s: float = field(default=10.0, validator=between(0, 3600))
    max_reply_bytes: int = field(default=1_048_576, validator=between(4096, 64 * 1_048_576))
    max_snapshot_bytes: int = field(default=8 * 1_048_576, validator=between(4096, 64 * 1_048_576))
    ptz_speed: float = field(default=0.5, validator=between(0.05, 1))

    def credentials(self, number: str) -> tuple[str | None, Secret | None]:
        """The user name and password camera ``number`` is reached with: its own, else the fleet's."""
        camera = self.cameras[number]
        return camera.username or self.username, camera.password or self.password
