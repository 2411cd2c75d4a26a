"""Device service: the camera's clock, its services and their addresses, and what the camera is.

Addresses are returned exactly as the camera wrote them (doubled ports, private addresses and all):
replacing host and port with the configured ones is the client's decision, not the codec's.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from attrs import frozen
from lxml import etree

from plugins.onvif.codec import namespaces as ns
from plugins.onvif.codec.soap import ReplyError, expect
from plugins.onvif.codec.xml import child, children, path, text_of

_TDS = f'xmlns:tds="{ns.TDS}"'

# --- GetSystemDateAndTime ---------------------------------------------------------------------------


def get_system_date_and_time() -> str:
    """The request the hub sends before any auth, to learn the camera's clock."""
    return f"<tds:GetSystemDateAndTime {_TDS}/>"


def parse_system_date_and_time(root: etree._Element) -> datetime | None:
    """The camera's time as an aware UTC datetime: from UTCDateTime, else from LocalDateTime and the
    POSIX TZ string; None when neither holds a real time (a camera whose clock reads year 0 is common
    enough after a power cut)."""
    body = expect(root, "GetSystemDateAndTimeResponse")
    system = child(body, "SystemDateAndTime")
    if system is None:
        raise ReplyError("GetSystemDateAndTimeResponse has no SystemDateAndTime")
    utc = _date_time(child(system, "UTCDateTime"), UTC)
    if utc is not None:
        return utc
    daylight_saving = _is_true(text_of(child(system, "DaylightSavings")))
    offset = _posix_offset(text_of(path(system, "TimeZone", "TZ")), daylight_saving)
    if offset is None:
        return None
    return _date_time(child(system, "LocalDateTime"), offset)


def _int(element: etree._Element | None) -> int | None:
    text = text_of(element)
    if text is None or len(text) > 6:
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _date_time(element: etree._Element | None, zone: timezone) -> datetime | None:
    if element is None:
        return None
    date, time = child(element, "Date"), child(element, "Time")
    values = [_int(child(date, "Year")), _int(child(date, "Month")), _int(child(date, "Day"))]
    values += [_int(child(time, "Hour")), _int(child(time, "Minute")), _int(child(time, "Second"))]
    if any(value is None for value in values):
        return None
    year, month, day, hour, minute, second = values
    try:
        return datetime(year, month, day, hour, minute, min(second, 59), tzinfo=zone).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _is_true(text: str | None) -> bool:
    return text is not None and text.strip().lower() in ("true", "1")


# POSIX TZ: std name (letters, or <...> quoted), offset west of UTC as [+-]hh[:mm[:ss]], then optionally a
# DST name and its own offset, then the rules (ignored: the camera's DaylightSavings says whether DST is on).
_POSIX_TZ = re.compile(
    r"""\s*(?:<[^>]{1,16}>|[A-Za-z]{3,16})
    (?P<std>[+-]?\d{1,2}(?::\d{1,2}){0,2})
    (?:(?P<dst_name><[^>]{1,16}>|[A-Za-z]{3,16})(?P<dst>[+-]?\d{1,2}(?::\d{1,2}){0,2})?)?
    (?:,.*)?\s*""",
    re.VERBOSE,
)


def _posix_seconds(text: str) -> int:
    sign = -1 if text.startswith("-") else 1
    fields = [int(part) for part in text.lstrip("+-").split(":")]
    fields += [0] * (3 - len(fields))
    return sign * (fields[0] * 3600 + fields[1] * 60 + fields[2])


def _posix_offset(tz: str | None, daylight_saving: bool) -> timezone | None:
    """The UTC offset a POSIX TZ string gives (note POSIX counts west as positive: ``CST-8`` is UTC+8)."""
    if not tz or len(tz) > 100:
        return None
    match = _POSIX_TZ.fullmatch(tz)
    if match is None:
        return None
    west = _posix_seconds(match["std"])
    if daylight_saving and match["dst_name"]:
        west = _posix_seconds(match["dst"]) if match["dst"] else west - 3600
    if abs(west) > 15 * 3600:
        return None
    return timezone(timedelta(seconds=-west))


# --- GetServices and GetCapabilities -----------------------------------------------------------------


def get_services() -> str:
    """GetServices without capabilities: the hub needs the namespaces and addresses only."""
    return f"<tds:GetServices {_TDS}><tds:IncludeCapability>false</tds:IncludeCapability></tds:GetServices>"


def parse_services(root: etree._Element) -> dict[str, str]:
    """Service namespace -> XAddr, as the camera wrote them. ``ReplyError`` when it lists none (the
    client then asks GetCapabilities)."""
    body = expect(root, "GetServicesResponse")
    services: dict[str, str] = {}
    for service in children(body, "Service"):
        namespace, address = text_of(child(service, "Namespace")), text_of(child(service, "XAddr"))
        if namespace and address:
            services.setdefault(namespace, address)
    if not services:
        raise ReplyError("GetServicesResponse lists no service with a namespace and an address")
    return services


def get_capabilities() -> str:
    """GetCapabilities for every category (the fall-back for cameras without GetServices)."""
    return f"<tds:GetCapabilities {_TDS}><tds:Category>All</tds:Category></tds:GetCapabilities>"


#: GetCapabilities category element -> the service namespace GetServices would have named it with.
_CAPABILITY_SERVICES = {
    "Device": ns.TDS,
    "Media": ns.TRT,
    "PTZ": ns.TPTZ,
    "Events": ns.TEV,
    "Imaging": "http://www.onvif.org/ver20/imaging/wsdl",
    "Analytics": "http://www.onvif.org/ver20/analytics/wsdl",
}
#: The same, for categories found under Capabilities/Extension (Media2 is among them on cameras that
#: offer Profile T through the old call).
_EXTENSION_SERVICES = {
    "Media2": ns.TR2,
    "DeviceIO": "http://www.onvif.org/ver10/deviceIO/wsdl",
    "Recording": "http://www.onvif.org/ver10/recording/wsdl",
    "Search": "http://www.onvif.org/ver10/search/wsdl",
    "Replay": "http://www.onvif.org/ver10/replay/wsdl",
}


def parse_capabilities(root: etree._Element) -> dict[str, str]:
    """Service namespace -> XAddr from GetCapabilities, in the same shape as ``parse_services``."""
    body = expect(root, "GetCapabilitiesResponse")
    capabilities = child(body, "Capabilities")
    if capabilities is None:
        raise ReplyError("GetCapabilitiesResponse has no Capabilities")
    services: dict[str, str] = {}
    for category, namespace in _CAPABILITY_SERVICES.items():
        address = text_of(path(capabilities, category, "XAddr"))
        if address:
            services[namespace] = address
    extension = child(capabilities, "Extension")
    for category, namespace in _EXTENSION_SERVICES.items():
        address = text_of(path(extension, category, "XAddr"))
        if address:
            services.setdefault(namespace, address)
    if not services:
        raise ReplyError("GetCapabilitiesResponse names no service address")
    return services


# --- GetDeviceInformation ----------------------------------------------------------------------------


def get_device_information() -> str:
    return f"<tds:GetDeviceInformation {_TDS}/>"


@frozen
class DeviceInformation:
    """What the camera says it is; any field a camera leaves out or empty is None."""

    manufacturer: str | None
    model: str | None
    firmware_version: str | None
    serial_number: str | None
    hardware_id: str | None


def _bounded(text: str | None, limit: int = 200) -> str | None:
    return text if text is None or len(text) <= limit else text[:limit]


def parse_device_information(root: etree._Element) -> DeviceInformation:
    body = expect(root, "GetDeviceInformationResponse")
    return DeviceInformation(
        manufacturer=_bounded(text_of(child(body, "Manufacturer"))),
        model=_bounded(text_of(child(body, "Model"))),
        firmware_version=_bounded(text_of(child(body, "FirmwareVersion"))),
        serial_number=_bounded(text_of(child(body, "SerialNumber"))),
        hardware_id=_bounded(text_of(child(body, "HardwareId"))),
    )
