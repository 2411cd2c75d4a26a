"""The settings of one radio scheme's base radio: an ``[adapters.NAME]`` table with ``type = "shopwatch"``.

The serial line, the dialect the radio speaks, how patiently the hub talks to it, the scheme's members
(who each unit is) and what each preset status code means.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from attrs import field, frozen
from attrs.validators import optional

from hub.config import Expected, between, one_of
from plugins.shopwatch.codec import DIALECTS, LineSettings

#: The rates Tait radios are programmed with (115200 on TM8200) and the common higher ones of USB adapters.
BAUD_RATES = (1200, 2400, 4800, 9600, 14400, 19200, 28800, 38400, 57600, 115200)
SEVERITIES = ("info", "low", "medium", "high", "critical")

_CCDI_UNIT = re.compile(r"^[A-Za-z0-9]{1,8}$")
_CCDI_GROUP = re.compile(r"^[A-Za-z0-9*]{8}$")
_CCDI_STATUS = re.compile(r"^[0-9A-F]{2}$")
_FLEETSYNC_UNIT = re.compile(r"^\d{3}-\d{4}$")
_FLEETSYNC_STATUS = re.compile(r"^\d{2}$")
# A Linux device (/dev/ttyUSB0, /dev/serial/by-id/...), a Windows COM port, or a relative test path.
_DEVICE = re.compile(r"^\S{1,4096}$")


def _text(limit: int) -> Any:
    def check(_instance: object, _attribute: object, value: str) -> None:
        if not value.strip() or len(value) > limit:
            raise Expected(f"text of 1 to {limit} characters")

    return check


def _device(_instance: object, _attribute: object, value: Path) -> None:
    if not _DEVICE.match(str(value)):
        raise Expected('a serial device path without spaces, e.g. "/dev/ttyUSB0" or "COM3"')


def _keepalive(_instance: object, _attribute: object, value: float) -> None:
    if not (value == 0 or 5 <= value <= 3600):
        raise Expected("0 (off) or a number of seconds from 5 to 3600")


def _group_address(instance: Any, _attribute: object, value: str | None) -> None:
    # Reading instance.dialect raises AttributeError when the dialect itself is wrong; the config
    # reader then skips this check, and reports the dialect alone.
    if value is None:
        return
    if instance.dialect == "ccdi" and not _CCDI_GROUP.match(value):
        raise Expected('an 8-character CCDI SDM address, "*" as a wildcard, e.g. "1234****"')
    if instance.dialect == "fleetsync" and not _FLEETSYNC_UNIT.match(value):
        raise Expected('a FleetSync fleet and unit written FFF-UUUU, "000-0000" for all')


def _unit_ids(instance: Any, _attribute: object, value: dict[str, Any]) -> None:
    pattern, example = (
        (_CCDI_UNIT, 'CCDI unit ids of 1 to 8 letters or digits, as the radio shows the caller, e.g. "12345"')
        if instance.dialect == "ccdi"
        else (_FLEETSYNC_UNIT, 'FleetSync unit ids written FFF-UUUU, e.g. "100-1001"')
    )
    wrong = sorted(unit for unit in value if not pattern.match(unit))
    if wrong:
        raise Expected(f"{example} (not {', '.join(repr(unit) for unit in wrong[:5])})")


def _status_codes(instance: Any, _attribute: object, value: dict[str, Any]) -> None:
    if instance.dialect == "ccdi":
        wrong = sorted(code for code in value if not _CCDI_STATUS.match(code) or code == "FF")
        example = 'CCDI status codes as two upper-case hex digits, e.g. "0A" ("FF" means no status)'
    else:
        wrong = sorted(code for code in value if not _FLEETSYNC_STATUS.match(code))
        example = 'FleetSync status codes as two decimal digits, e.g. "12"'
    if wrong:
        raise Expected(f"{example} (not {', '.join(repr(code) for code in wrong[:5])})")


def _cameras(_instance: object, _attribute: object, value: tuple[str, ...]) -> None:
    if any(not camera.strip() or len(camera) > 40 for camera in value):
        raise Expected('camera names of 1 to 40 characters, nearest first, e.g. ["42", "43"]')


@frozen
class MemberConfig:
    """One scheme member: the shop or pub whose handset has this unit id.

    ``address`` is the street address shown to operators (and the event's location name); ``cameras``
    the room's cameras nearest to it, nearest first. ``scheme`` overrides the adapter's scheme name for a
    member of a neighbouring scheme sharing the channel.
    """

    name: str = field(validator=_text(100))
    scheme: str | None = field(default=None, validator=optional(_text(60)))
    address: str | None = field(default=None, validator=optional(_text(200)))
    cameras: tuple[str, ...] = field(default=(), validator=_cameras)
    latitude: float | None = field(default=None, validator=optional(between(-90, 90)))
    longitude: float | None = field(default=None, validator=optional(between(-180, 180)))


@frozen
class StatusCodeConfig:
    """What one preset status button means ("shop theft"), how urgent it is, and whether it is an emergency."""

    meaning: str = field(validator=_text(100))
    severity: Literal["info", "low", "medium", "high", "critical"] = field(
        default="medium", validator=one_of(*SEVERITIES)
    )
    emergency: bool = False


@frozen
class ShopwatchConfig:
    """One base radio on a serial port, and the scheme it serves.

    ``stop_bits`` and ``group_address`` left out take the dialect's own (CCDI: 1 stop bit and
    ``********``; FleetSync: 2 stop bits and ``000-0000``). ``keepalive_s = 0`` turns the CCDI
    keep-alive query off. ``members`` is keyed by unit id as the radio reports it; ``status_codes`` by
    the code as the radio sends it.
    """

    # A Path, so a relative one (the demo's pseudo-terminal link) is read against the config file's folder.
    port: Path = field(validator=_device)
    dialect: Literal["ccdi", "fleetsync"] = field(default="ccdi", validator=one_of("ccdi", "fleetsync"))
    baud: int = field(default=9600, validator=one_of(*BAUD_RATES))
    bytesize: int = field(default=8, validator=one_of(7, 8))
    parity: Literal["none", "even", "odd"] = field(default="none", validator=one_of("none", "even", "odd"))
    stop_bits: int | None = field(default=None, validator=optional(one_of(1, 2)))
    flow_control: Literal["none", "xonxoff", "rtscts"] = field(
        default="none", validator=one_of("none", "xonxoff", "rtscts")
    )
    scheme: str = field(default="Shopwatch", validator=_text(60))
    group_address: str | None = field(default=None, validator=_group_address)
    lead_in: int = field(default=0, validator=between(0, 255))
    command_timeout_s: float = field(default=2.0, validator=between(0.1, 60))
    command_retries: int = field(default=3, validator=between(0, 10))
    not_ready_retry_s: float = field(default=0.5, validator=between(0.05, 10))
    delivery_timeout_s: float = field(default=30.0, validator=between(1, 600))
    keepalive_s: float = field(default=60.0, validator=_keepalive)
    max_queue: int = field(default=50, validator=between(1, 1000))
    checksum_alarm: int = field(default=5, validator=between(1, 1000))
    line_error_window_s: float = field(default=60.0, validator=between(1, 86400))
    members: dict[str, MemberConfig] = field(factory=dict, validator=_unit_ids)
    status_codes: dict[str, StatusCodeConfig] = field(factory=dict, validator=_status_codes)

    def line(self) -> LineSettings:
        """The serial line as configured, the dialect's default filling in the stop bits."""
        return LineSettings(
            baud=self.baud,
            bytesize=self.bytesize,
            parity=self.parity,
            stop_bits=self.stop_bits if self.stop_bits is not None else DIALECTS[self.dialect].line.stop_bits,
        )

    def group(self) -> str:
        """The address a broadcast goes to."""
        return self.group_address if self.group_address is not None else DIALECTS[self.dialect].group_address
