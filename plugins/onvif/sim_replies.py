"""What a simulated ONVIF camera writes: SOAP 1.2 envelopes, faults, times and a snapshot PNG.

The simulator is an independent peer of the hub's codec (the two check each other), so nothing here comes
from the codec's request builders or reply parsers: replies are XML text written to the shapes of the ONVIF
schemas (elements in schema order, so that a strict client such as zeep reads them), with values escaped.
"""

from __future__ import annotations

import functools
import math
import re
import struct
import zlib
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Literal
from xml.sax.saxutils import escape, quoteattr

from plugins.onvif.codec.namespaces import (
    SOAP_ENV,
    TDS,
    TER,
    TEV,
    TNS1,
    TPTZ,
    TR2,
    TRT,
    TT,
    WSA,
    WSNT,
)

WSTOP = "http://docs.oasis-open.org/wsn/t-1"
WSRF_RW = "http://docs.oasis-open.org/wsrf/rw-2"
WSRF_R = "http://docs.oasis-open.org/wsrf/r-2"
XS = "http://www.w3.org/2001/XMLSchema"
#: Where topics that are not ONVIF's own (``tns1``) live; a vendor's namespace on a real camera.
VENDOR_TOPICS = "http://www.example.com/onvif-sim/topics"
CONCRETE_SET = "http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet"

SOAP_CONTENT_TYPE = "application/soap+xml; charset=utf-8"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Where a camera's clock starts after a power cut when it has no battery-backed clock.
FACTORY_EPOCH_S = (datetime(2000, 1, 1, tzinfo=UTC) - _EPOCH).total_seconds()

# Every prefix a reply uses is declared once, on the envelope.
_ENVELOPE_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    f'<s:Envelope xmlns:s="{SOAP_ENV}" xmlns:tt="{TT}" xmlns:tds="{TDS}" xmlns:trt="{TRT}" '
    f'xmlns:tr2="{TR2}" xmlns:tptz="{TPTZ}" xmlns:tev="{TEV}" xmlns:wsnt="{WSNT}" xmlns:wsa="{WSA}" '
    f'xmlns:wstop="{WSTOP}" xmlns:ter="{TER}" xmlns:tns1="{TNS1}" xmlns:wsrf-rw="{WSRF_RW}" '
    f'xmlns:wsrf-r="{WSRF_R}" xmlns:xs="{XS}"><s:Body>'
).encode()
_ENVELOPE_TAIL = b"</s:Body></s:Envelope>"


def envelope(body_xml: str) -> bytes:
    """A SOAP 1.2 envelope around ``body_xml`` (which may use any prefix declared above)."""
    return _ENVELOPE_HEAD + body_xml.encode("utf-8") + _ENVELOPE_TAIL


def unparseable(reply: bytes) -> bytes:
    """A reply cut off half-way, as a camera with a broken XML writer sends it: never well-formed."""
    head = len(_ENVELOPE_HEAD)
    return reply[: head + max(1, (len(reply) - head) // 2)]


# --- faults ----------------------------------------------------------------------------------------------

Side = Literal["Sender", "Receiver"]


def fault(side: Side, subcodes: Iterable[str], reason: str, detail_xml: str = "") -> bytes:
    """A SOAP 1.2 fault: ``side`` (``Sender`` or ``Receiver``), nested subcodes as QNames, a reason."""
    subcode_xml = ""
    for subcode in reversed(tuple(subcodes)):
        subcode_xml = f"<s:Subcode><s:Value>{subcode}</s:Value>{subcode_xml}</s:Subcode>"
    detail = f"<s:Detail>{detail_xml}</s:Detail>" if detail_xml else ""
    return envelope(
        f"<s:Fault><s:Code><s:Value>s:{side}</s:Value>{subcode_xml}</s:Code>"
        f'<s:Reason><s:Text xml:lang="en">{escape(reason)}</s:Text></s:Reason>{detail}</s:Fault>'
    )


def not_authorized(reason: str = "Sender not Authorized") -> bytes:
    return fault("Sender", ("ter:NotAuthorized",), reason)


def unknown_subscription(address: str) -> bytes:
    """What a camera answers on a pull point it no longer has (expired, unsubscribed, lost in a reboot)."""
    return fault(
        "Sender",
        ("wsrf-rw:ResourceUnknownFault",),
        "Unknown subscription: the pull point does not exist",
        f"<wsrf-r:ResourceUnknownFault><wsa:Address>{escape(address)}</wsa:Address></wsrf-r:ResourceUnknownFault>",
    )


def invalid_argument(reason: str) -> bytes:
    return fault("Sender", ("ter:InvalidArgVal",), reason)


def action_not_supported(operation: str) -> bytes:
    return fault("Receiver", ("ter:ActionNotSupported",), f"{operation} is not supported")


def too_many_pull_points(limit: int) -> bytes:
    return fault(
        "Receiver",
        ("ter:Action", "ter:TooManySubscriptions"),
        f"Maximum number of pull points reached ({limit})",
        "<wsnt:SubscribeCreationFailedFault/>",
    )


# --- times -----------------------------------------------------------------------------------------------

Malformed = Literal["none", "minute_61", "dash", "zeros"]


def moment(epoch_s: float) -> datetime:
    """The UTC moment ``epoch_s`` seconds after 1970 (before it too)."""
    return _EPOCH + timedelta(seconds=epoch_s)


def xsd_datetime(epoch_s: float, malformed: Malformed = "none") -> str:
    """An xsd:dateTime in UTC with ``Z``, or one of the broken forms cameras are seen sending."""
    return _xsd_datetime(math.floor(epoch_s), malformed)


@functools.lru_cache(maxsize=4096)  # a busy fleet writes the same second into hundreds of replies
def _xsd_datetime(epoch_s: int, malformed: Malformed) -> str:
    if malformed == "zeros":
        return "0000-00-00T00:00:00Z"
    at = moment(epoch_s)
    if malformed == "minute_61":
        return f"{at:%Y-%m-%dT%H}:61:{at:%S}Z"
    separator = "-" if malformed == "dash" else "T"
    return f"{at:%Y-%m-%d}{separator}{at:%H:%M:%S}Z"


_DURATION = re.compile(
    r"^P(?:(?P<d>\d+)D)?(?:T(?=\d)(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
_DATETIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})?$"
)


def parse_duration(text: str) -> float | None:
    """Seconds in an xsd:duration of days, hours, minutes and seconds (``PT60S``, ``P0DT0H1M0S``)."""
    match = _DURATION.match(text.strip())
    if match is None or text.strip() == "P":
        return None
    parts = {key: float(value) if value else 0.0 for key, value in match.groupdict().items()}
    return parts["d"] * 86400 + parts["h"] * 3600 + parts["m"] * 60 + parts["s"]


@functools.lru_cache(maxsize=4096)  # clients sign many requests within the same second
def parse_datetime(text: str) -> tuple[float, bool] | None:
    """An absolute xsd:dateTime as (epoch seconds, whether it ended in ``Z``); no zone is read as UTC."""
    match = _DATETIME.match(text.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(group) for group in match.groups()[:6])
    fraction, zone = match.group(7), match.group(8)
    try:
        at = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None
    seconds = (at - _EPOCH).total_seconds() + (float(fraction) if fraction else 0.0)
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        seconds -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    return seconds, zone == "Z"


def date_time_xml(epoch_s: float) -> str:
    """A tt:DateTime (Time before Date, as the schema orders them)."""
    at = moment(epoch_s)
    return (
        f"<tt:Time><tt:Hour>{at.hour}</tt:Hour><tt:Minute>{at.minute}</tt:Minute>"
        f"<tt:Second>{at.second}</tt:Second></tt:Time>"
        f"<tt:Date><tt:Year>{at.year}</tt:Year><tt:Month>{at.month}</tt:Month><tt:Day>{at.day}</tt:Day></tt:Date>"
    )


# --- device, media, PTZ, events bodies ----------------------------------------------------------------


def system_date_and_time(camera_epoch_s: float) -> str:
    stamp = date_time_xml(camera_epoch_s)
    return (
        "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
        "<tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>"
        "<tt:TimeZone><tt:TZ>GMT0</tt:TZ></tt:TimeZone>"
        f"<tt:UTCDateTime>{stamp}</tt:UTCDateTime><tt:LocalDateTime>{stamp}</tt:LocalDateTime>"
        "</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
    )


def services(xaddrs: dict[str, str]) -> str:
    """GetServicesResponse for ``namespace -> XAddr`` (without capabilities: the hub asks without)."""
    versions = {TR2: (2, 60), TPTZ: (2, 50), TEV: (2, 60)}
    items = []
    for namespace, xaddr in xaddrs.items():
        major, minor = versions.get(namespace, (2, 60))
        items.append(
            f"<tds:Service><tds:Namespace>{escape(namespace)}</tds:Namespace><tds:XAddr>{escape(xaddr)}</tds:XAddr>"
            f"<tds:Version><tt:Major>{major}</tt:Major><tt:Minor>{minor}</tt:Minor></tds:Version></tds:Service>"
        )
    return f"<tds:GetServicesResponse>{''.join(items)}</tds:GetServicesResponse>"


def capabilities(*, device: str, events: str, media: str | None, ptz: str | None) -> str:
    media_xml = (
        f"<tt:Media><tt:XAddr>{escape(media)}</tt:XAddr><tt:StreamingCapabilities>"
        "<tt:RTPMulticast>false</tt:RTPMulticast><tt:RTP_TCP>true</tt:RTP_TCP>"
        "<tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP></tt:StreamingCapabilities></tt:Media>"
        if media else ""
    )
    ptz_xml = f"<tt:PTZ><tt:XAddr>{escape(ptz)}</tt:XAddr></tt:PTZ>" if ptz else ""
    return (
        "<tds:GetCapabilitiesResponse><tds:Capabilities>"
        f"<tt:Device><tt:XAddr>{escape(device)}</tt:XAddr></tt:Device>"
        f"<tt:Events><tt:XAddr>{escape(events)}</tt:XAddr><tt:WSSubscriptionPolicySupport>false"
        "</tt:WSSubscriptionPolicySupport><tt:WSPullPointSupport>true</tt:WSPullPointSupport>"
        "<tt:WSPausableSubscriptionManagerInterfaceSupport>false</tt:WSPausableSubscriptionManagerInterfaceSupport>"
        f"</tt:Events>{media_xml}{ptz_xml}"
        "</tds:Capabilities></tds:GetCapabilitiesResponse>"
    )


def device_information(*, manufacturer: str, model: str, firmware: str, serial: str, hardware: str) -> str:
    return (
        "<tds:GetDeviceInformationResponse>"
        f"<tds:Manufacturer>{escape(manufacturer)}</tds:Manufacturer><tds:Model>{escape(model)}</tds:Model>"
        f"<tds:FirmwareVersion>{escape(firmware)}</tds:FirmwareVersion>"
        f"<tds:SerialNumber>{escape(serial)}</tds:SerialNumber><tds:HardwareId>{escape(hardware)}</tds:HardwareId>"
        "</tds:GetDeviceInformationResponse>"
    )


def scopes(items: Iterable[str]) -> str:
    body = "".join(
        f"<tds:Scopes><tt:ScopeDef>Fixed</tt:ScopeDef><tt:ScopeItem>{escape(item)}</tt:ScopeItem></tds:Scopes>"
        for item in items
    )
    return f"<tds:GetScopesResponse>{body}</tds:GetScopesResponse>"


def media1_profile(token: str, name: str, *, width: int, height: int, ptz: bool) -> str:
    ptz_xml = (
        '<tt:PTZConfiguration token="PTZ_1"><tt:Name>PTZ</tt:Name><tt:UseCount>2</tt:UseCount>'
        "<tt:NodeToken>PTZNode_1</tt:NodeToken><tt:DefaultPTZTimeout>PT10S</tt:DefaultPTZTimeout>"
        "</tt:PTZConfiguration>"
        if ptz else ""
    )
    return (
        f'<trt:Profiles token={quoteattr(token)} fixed="true"><tt:Name>{escape(name)}</tt:Name>'
        '<tt:VideoSourceConfiguration token="VideoSourceConfig_1"><tt:Name>VideoSource</tt:Name>'
        "<tt:UseCount>2</tt:UseCount><tt:SourceToken>VideoSource_1</tt:SourceToken>"
        f'<tt:Bounds x="0" y="0" width="1920" height="1080"/></tt:VideoSourceConfiguration>'
        f'<tt:VideoEncoderConfiguration token="VideoEncoder_{escape(token)}"><tt:Name>{escape(name)}</tt:Name>'
        "<tt:UseCount>1</tt:UseCount><tt:Encoding>H264</tt:Encoding>"
        f"<tt:Resolution><tt:Width>{width}</tt:Width><tt:Height>{height}</tt:Height></tt:Resolution>"
        "<tt:Quality>5</tt:Quality><tt:SessionTimeout>PT60S</tt:SessionTimeout></tt:VideoEncoderConfiguration>"
        f"{ptz_xml}</trt:Profiles>"
    )


def media2_profile(token: str, name: str, *, width: int, height: int, ptz: bool) -> str:
    ptz_xml = (
        '<tr2:PTZ token="PTZ_1"><tt:Name>PTZ</tt:Name><tt:UseCount>2</tt:UseCount>'
        "<tt:NodeToken>PTZNode_1</tt:NodeToken></tr2:PTZ>"
        if ptz else ""
    )
    return (
        f'<tr2:Profiles token={quoteattr(token)} fixed="true"><tr2:Name>{escape(name)}</tr2:Name>'
        '<tr2:Configurations><tr2:VideoSource token="VideoSourceConfig_1"><tt:Name>VideoSource</tt:Name>'
        "<tt:UseCount>2</tt:UseCount><tt:SourceToken>VideoSource_1</tt:SourceToken>"
        '<tt:Bounds x="0" y="0" width="1920" height="1080"/></tr2:VideoSource>'
        f'<tr2:VideoEncoder token="VideoEncoder_{escape(token)}"><tt:Name>{escape(name)}</tt:Name>'
        "<tt:UseCount>1</tt:UseCount><tt:Encoding>H264</tt:Encoding>"
        f"<tt:Resolution><tt:Width>{width}</tt:Width><tt:Height>{height}</tt:Height></tt:Resolution>"
        f"<tt:Quality>5</tt:Quality></tr2:VideoEncoder>{ptz_xml}</tr2:Configurations></tr2:Profiles>"
    )


def profiles(media: Literal["media1", "media2"], profile_xml: Iterable[str]) -> str:
    prefix = "trt" if media == "media1" else "tr2"
    return f"<{prefix}:GetProfilesResponse>{''.join(profile_xml)}</{prefix}:GetProfilesResponse>"


def media_uri(media: Literal["media1", "media2"], operation: str, uri: str | None) -> str:
    """GetStreamUri / GetSnapshotUri answers; ``uri`` None leaves the Uri out (a quirk)."""
    if media == "media2":
        uri_xml = f"<tr2:Uri>{escape(uri)}</tr2:Uri>" if uri is not None else ""
        return f"<tr2:{operation}Response>{uri_xml}</tr2:{operation}Response>"
    uri_xml = f"<tt:Uri>{escape(uri)}</tt:Uri>" if uri is not None else ""
    return (
        f"<trt:{operation}Response><trt:MediaUri>{uri_xml}"
        "<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false</tt:InvalidAfterReboot>"
        f"<tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></trt:{operation}Response>"
    )


def ptz_vector(pan: float, tilt: float, zoom: float) -> str:
    return f'<tt:PanTilt x="{pan:.4f}" y="{tilt:.4f}"/><tt:Zoom x="{zoom:.4f}"/>'


def presets(items: Iterable[tuple[str, str, tuple[float, float, float]]]) -> str:
    body = "".join(
        f"<tptz:Preset token={quoteattr(token)}><tt:Name>{escape(name)}</tt:Name>"
        f"<tt:PTZPosition>{ptz_vector(*position)}</tt:PTZPosition></tptz:Preset>"
        for token, name, position in items
    )
    return f"<tptz:GetPresetsResponse>{body}</tptz:GetPresetsResponse>"


def ptz_status(position: tuple[float, float, float], moving: bool, camera_epoch_s: float) -> str:
    state = "MOVING" if moving else "IDLE"
    return (
        f"<tptz:GetStatusResponse><tptz:PTZStatus><tt:Position>{ptz_vector(*position)}</tt:Position>"
        f"<tt:MoveStatus><tt:PanTilt>{state}</tt:PanTilt><tt:Zoom>{state}</tt:Zoom></tt:MoveStatus>"
        f"<tt:UtcTime>{xsd_datetime(camera_epoch_s)}</tt:UtcTime></tptz:PTZStatus></tptz:GetStatusResponse>"
    )


def empty(prefix: str, operation: str) -> str:
    return f"<{prefix}:{operation}Response/>"


def event_properties(topics: Iterable[str]) -> str:
    """GetEventPropertiesResponse announcing ``topics`` (``tns1:A/B/C`` paths) as a wstop topic tree."""
    tree: dict[str, dict] = {}
    for topic in topics:
        node = tree
        for part in topic.split(":", 1)[1].split("/"):
            node = node.setdefault(part, {})

    def render(name: str, children: dict, first: bool) -> str:
        tag = f"tns1:{name}" if first else name
        inner = "".join(render(child, grand, False) for child, grand in children.items())
        leaf = ' wstop:topic="true"' if not children else ""
        return f"<{tag}{leaf}>{inner}</{tag}>"

    topic_set = "".join(render(name, children, True) for name, children in tree.items())
    return (
        "<tev:GetEventPropertiesResponse>"
        "<tev:TopicNamespaceLocation>http://www.onvif.org/onvif/ver10/topics/topicns.xml</tev:TopicNamespaceLocation>"
        f"<wsnt:FixedTopicSet>true</wsnt:FixedTopicSet><wstop:TopicSet>{topic_set}</wstop:TopicSet>"
        f"<wsnt:TopicExpressionDialect>{CONCRETE_SET}</wsnt:TopicExpressionDialect>"
        "<wsnt:TopicExpressionDialect>http://docs.oasis-open.org/wsn/t-1/TopicExpression/ConcreteSet"
        "</wsnt:TopicExpressionDialect>"
        "<tev:MessageContentFilterDialect>http://www.onvif.org/ver10/tev/messageContentFilter/ItemFilter"
        "</tev:MessageContentFilterDialect>"
        "<tev:MessageContentSchemaLocation>http://www.onvif.org/onvif/ver10/schema/onvif.xsd"
        "</tev:MessageContentSchemaLocation></tev:GetEventPropertiesResponse>"
    )


def event_service_capabilities(max_pull_points: int) -> str:
    return (
        '<tev:GetServiceCapabilitiesResponse><tev:Capabilities WSSubscriptionPolicySupport="false" '
        'WSPullPointSupport="true" WSPausableSubscriptionManagerInterfaceSupport="false" '
        f'MaxNotificationProducers="0" MaxPullPoints="{max_pull_points}" PersistentNotificationStorage="false"/>'
        "</tev:GetServiceCapabilitiesResponse>"
    )


#: Where the SubscriptionId reference parameter lives (a camera maker's namespace on a real camera).
SUBSCRIPTION_ID_NS = "http://www.example.com/onvif-sim/subscription"


def subscription_created(address: str, current: str, termination: str, *, subscription_id: str | None = None) -> str:
    parameters = (
        f'<wsa:ReferenceParameters><sim:SubscriptionId xmlns:sim="{SUBSCRIPTION_ID_NS}">{escape(subscription_id)}'
        "</sim:SubscriptionId></wsa:ReferenceParameters>"
        if subscription_id else ""
    )
    return (
        f"<tev:CreatePullPointSubscriptionResponse><tev:SubscriptionReference><wsa:Address>{escape(address)}"
        f"</wsa:Address>{parameters}</tev:SubscriptionReference><wsnt:CurrentTime>{current}</wsnt:CurrentTime>"
        f"<wsnt:TerminationTime>{termination}</wsnt:TerminationTime></tev:CreatePullPointSubscriptionResponse>"
    )


def renewed(current: str, termination: str) -> str:
    return (
        f"<wsnt:RenewResponse><wsnt:TerminationTime>{termination}</wsnt:TerminationTime>"
        f"<wsnt:CurrentTime>{current}</wsnt:CurrentTime></wsnt:RenewResponse>"
    )


def pulled(current: str, termination: str, messages: Iterable[str]) -> str:
    return (
        f"<tev:PullMessagesResponse><tev:CurrentTime>{current}</tev:CurrentTime>"
        f"<tev:TerminationTime>{termination}</tev:TerminationTime>{''.join(messages)}</tev:PullMessagesResponse>"
    )


Items = Iterable[tuple[str, str]]


def _simple_items(items: Items) -> str:
    return "".join(f"<tt:SimpleItem Name={quoteattr(name)} Value={quoteattr(value)}/>" for name, value in items)


def notification(topic: str, utc_time: str, operation: str | None, source: Items, data: Items,
                 *, namespace: str | None = None) -> str:
    """One wsnt:NotificationMessage, rendered once and shared by every pull point that gets it.

    ``topic`` is ``prefix:path``; ``tns1`` is ONVIF's namespace, any other prefix is declared on the Topic
    element as ``namespace`` (a vendor's). The optional SubscriptionReference is left out, which is what
    lets one rendering serve every pull point.
    """
    prefix = topic.split(":", 1)[0] if ":" in topic else ""
    declaration = ""
    if prefix and prefix != "tns1":
        declaration = f" xmlns:{prefix}={quoteattr(namespace or VENDOR_TOPICS)}"
    operation_attr = f" PropertyOperation={quoteattr(operation)}" if operation else ""
    return (
        f'<wsnt:NotificationMessage><wsnt:Topic Dialect="{CONCRETE_SET}"{declaration}>{escape(topic)}</wsnt:Topic>'
        f"<wsnt:Message><tt:Message UtcTime={quoteattr(utc_time)}{operation_attr}>"
        f"<tt:Source>{_simple_items(source)}</tt:Source><tt:Data>{_simple_items(data)}</tt:Data>"
        "</tt:Message></wsnt:Message></wsnt:NotificationMessage>"
    )


# --- snapshot --------------------------------------------------------------------------------------------

# Digits 3 wide and 5 high, one string of 15 pixels each: enough to show a camera number in a snapshot.
_DIGITS = {
    "0": "111101101101111", "1": "010110010010111", "2": "111001111100111", "3": "111001111001111",
    "4": "101101111001001", "5": "111100111001111", "6": "111100111101111", "7": "111001010010010",
    "8": "111101111101111", "9": "111101111001111", "?": "111001011000010",
}


def snapshot_png(label: str, *, width: int = 160, height: int = 90, scale: int = 6) -> bytes:
    """A small RGB PNG with ``label`` (a camera number) in white on a colour that varies by label."""
    seed = zlib.crc32(label.encode("utf-8"))
    background = bytes((64 + seed % 128, 64 + (seed >> 8) % 128, 64 + (seed >> 16) % 128))
    glyphs = [_DIGITS.get(character, _DIGITS["?"]) for character in label[:6]]
    text_width = (len(glyphs) * 4 - 1) * scale
    left, top = max(0, (width - text_width) // 2), max(0, (height - 5 * scale) // 2)
    rows = []
    for y in range(height):
        row = bytearray(background * width)
        glyph_row = (y - top) // scale
        if 0 <= glyph_row < 5:
            for index, glyph in enumerate(glyphs):
                for column in range(3):
                    if glyph[glyph_row * 3 + column] == "1":
                        x0 = left + (index * 4 + column) * scale
                        for x in range(x0, min(width, x0 + scale)):
                            row[x * 3 : x * 3 + 3] = b"\xff\xff\xff"
        rows.append(b"\x00" + bytes(row))  # filter type 0 (None) for every scanline

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
            + chunk(b"IEND", b""))
