"""Replies as real cameras write them, for the codec's tests and fuzzing: each vendor's own prefixes
(``SOAP-ENV``, ``env``, ``ns2``...), extra elements the hub ignores, Media1 and Media2 shapes.

They are written here from the ONVIF schemas and the shapes public issue trackers show cameras sending;
no vendor's bytes are copied.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"

# A Hikvision-like header of namespace declarations: every prefix declared on the envelope.
HIK_NAMESPACES = (
    'xmlns:env="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:tt="http://www.onvif.org/ver10/schema" '
    'xmlns:tds="http://www.onvif.org/ver10/device/wsdl" '
    'xmlns:trt="http://www.onvif.org/ver10/media/wsdl" '
    'xmlns:tr2="http://www.onvif.org/ver20/media/wsdl" '
    'xmlns:tptz="http://www.onvif.org/ver20/ptz/wsdl" '
    'xmlns:tev="http://www.onvif.org/ver10/events/wsdl" '
    'xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" '
    'xmlns:wsa="http://www.w3.org/2005/08/addressing" '
    'xmlns:tns1="http://www.onvif.org/ver10/topics" '
    'xmlns:ter="http://www.onvif.org/ver10/error" '
    'xmlns:xsd="http://www.w3.org/2001/XMLSchema"'
)


def hik(body: str) -> bytes:
    """A reply with every namespace on an ``env:Envelope``, and a Header the hub ignores."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<env:Envelope {HIK_NAMESPACES}>'
        f"<env:Header/><env:Body>{body}</env:Body></env:Envelope>"
    ).encode()


def axis(body: str) -> bytes:
    """A reply in ``SOAP-ENV`` with the namespaces declared where they are used."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<SOAP-ENV:Envelope xmlns:SOAP-ENV="{SOAP12}" xmlns:SOAP-ENC="http://www.w3.org/2003/05/soap-encoding" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<SOAP-ENV:Body>{body}</SOAP-ENV:Body></SOAP-ENV:Envelope>"
    ).encode()


def odd(body: str) -> bytes:
    """A reply with numbered prefixes (``s``, ``ns2``...), as gSOAP-built firmware writes them."""
    return (
        f'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{SOAP12}">'
        f'<s:Header><ns9:Extra xmlns:ns9="urn:vendor">ignored</ns9:Extra></s:Header>'
        f"<s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


# --- Device -----------------------------------------------------------------------------------------

SYSTEM_DATE_AND_TIME = hik(
    "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
    "<tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>"
    "<tt:TimeZone><tt:TZ>CST-8:00:00</tt:TZ></tt:TimeZone>"
    "<tt:UTCDateTime><tt:Time><tt:Hour>9</tt:Hour><tt:Minute>5</tt:Minute><tt:Second>7</tt:Second></tt:Time>"
    "<tt:Date><tt:Year>2026</tt:Year><tt:Month>11</tt:Month><tt:Day>22</tt:Day></tt:Date></tt:UTCDateTime>"
    "<tt:LocalDateTime><tt:Time><tt:Hour>17</tt:Hour><tt:Minute>5</tt:Minute><tt:Second>7</tt:Second></tt:Time>"
    "<tt:Date><tt:Year>2026</tt:Year><tt:Month>11</tt:Month><tt:Day>22</tt:Day></tt:Date></tt:LocalDateTime>"
    "</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
)


def system_date_and_time(utc: str, local: str = "", tz: str = "GMT0", daylight_savings: str = "false") -> bytes:
    """GetSystemDateAndTime with the UTCDateTime and LocalDateTime given as ``Y M D h m s`` (empty: absent)."""

    def block(tag: str, values: str) -> str:
        if not values:
            return ""
        year, month, day, hour, minute, second = values.split()
        return (
            f"<tt:{tag}><tt:Time><tt:Hour>{hour}</tt:Hour><tt:Minute>{minute}</tt:Minute>"
            f"<tt:Second>{second}</tt:Second></tt:Time><tt:Date><tt:Year>{year}</tt:Year>"
            f"<tt:Month>{month}</tt:Month><tt:Day>{day}</tt:Day></tt:Date></tt:{tag}>"
        )

    return odd(
        '<tds:GetSystemDateAndTimeResponse xmlns:tds="http://www.onvif.org/ver10/device/wsdl" '
        'xmlns:tt="http://www.onvif.org/ver10/schema"><tds:SystemDateAndTime>'
        f"<tt:DateTimeType>Manual</tt:DateTimeType><tt:DaylightSavings>{daylight_savings}</tt:DaylightSavings>"
        f"<tt:TimeZone><tt:TZ>{escape(tz)}</tt:TZ></tt:TimeZone>"
        f"{block('UTCDateTime', utc)}{block('LocalDateTime', local)}"
        "<tt:Extension/></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
    )


SERVICES = axis(
    '<tds:GetServicesResponse xmlns:tds="http://www.onvif.org/ver10/device/wsdl" '
    'xmlns:tt="http://www.onvif.org/ver10/schema">'
    "<tds:Service><tds:Namespace>http://www.onvif.org/ver10/device/wsdl</tds:Namespace>"
    "<tds:XAddr>http://192.168.0.90/onvif/device_service</tds:XAddr>"
    "<tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service>"
    "<tds:Service><tds:Namespace>http://www.onvif.org/ver10/media/wsdl</tds:Namespace>"
    "<tds:XAddr>http://192.168.0.90:8106:8106/onvif/media_service</tds:XAddr>"
    "<tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service>"
    "<tds:Service><tds:Namespace>http://www.onvif.org/ver20/media/wsdl</tds:Namespace>"
    "<tds:XAddr>http://192.168.0.90/onvif/media2_service</tds:XAddr>"
    "<tds:Version><tt:Major>16</tt:Major><tt:Minor>12</tt:Minor></tds:Version></tds:Service>"
    "<tds:Service><tds:Namespace>http://www.onvif.org/ver20/ptz/wsdl</tds:Namespace>"
    "<tds:XAddr>http://192.168.0.90/onvif/ptz_service</tds:XAddr>"
    "<tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service>"
    "<tds:Service><tds:Namespace>http://www.onvif.org/ver10/events/wsdl</tds:Namespace>"
    "<tds:XAddr>http://10.0.0.5:80/onvif/event_service</tds:XAddr>"
    "<tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service>"
    "<tds:Service><tds:Namespace>http://www.axis.com/vapix/ws/action1</tds:Namespace>"
    "<tds:XAddr>http://192.168.0.90/vapix/services</tds:XAddr>"
    "<tds:Version><tt:Major>1</tt:Major><tt:Minor>0</tt:Minor></tds:Version></tds:Service>"
    "</tds:GetServicesResponse>"
)

CAPABILITIES = hik(
    "<tds:GetCapabilitiesResponse><tds:Capabilities>"
    "<tt:Analytics><tt:XAddr>http://10.1.2.42/onvif/Analytics</tt:XAddr>"
    "<tt:RuleSupport>true</tt:RuleSupport></tt:Analytics>"
    "<tt:Device><tt:XAddr>http://10.1.2.42/onvif/device_service</tt:XAddr>"
    "<tt:Network><tt:IPFilter>true</tt:IPFilter></tt:Network></tt:Device>"
    "<tt:Events><tt:XAddr>http://10.1.2.42/onvif/Events</tt:XAddr><tt:WSSubscriptionPolicySupport>true"
    "</tt:WSSubscriptionPolicySupport><tt:WSPullPointSupport>true</tt:WSPullPointSupport></tt:Events>"
    "<tt:Imaging><tt:XAddr>http://10.1.2.42/onvif/Imaging</tt:XAddr></tt:Imaging>"
    "<tt:Media><tt:XAddr>http://10.1.2.42/onvif/Media</tt:XAddr><tt:StreamingCapabilities>"
    "<tt:RTPMulticast>true</tt:RTPMulticast></tt:StreamingCapabilities></tt:Media>"
    "<tt:PTZ><tt:XAddr>http://10.1.2.42/onvif/PTZ</tt:XAddr></tt:PTZ>"
    "<tt:Extension><tt:DeviceIO><tt:XAddr>http://10.1.2.42/onvif/DeviceIO</tt:XAddr>"
    "<tt:VideoSources>1</tt:VideoSources></tt:DeviceIO>"
    "<tt:Media2><tt:XAddr>http://10.1.2.42/onvif/Media2</tt:XAddr></tt:Media2>"
    "<tt:Extensions><tt:TelexCapabilities/></tt:Extensions></tt:Extension>"
    "</tds:Capabilities></tds:GetCapabilitiesResponse>"
)

DEVICE_INFORMATION = odd(
    '<tds:GetDeviceInformationResponse xmlns:tds="http://www.onvif.org/ver10/device/wsdl">'
    "<tds:Manufacturer>ACME Vision</tds:Manufacturer><tds:Model>PTZ-4000 </tds:Model>"
    "<tds:FirmwareVersion>V5.7.3 build 230101</tds:FirmwareVersion><tds:SerialNumber>DS-123456</tds:SerialNumber>"
    "<tds:HardwareId></tds:HardwareId></tds:GetDeviceInformationResponse>"
)

# --- Media ------------------------------------------------------------------------------------------

PROFILES_MEDIA1 = hik(
    "<trt:GetProfilesResponse>"
    '<trt:Profiles fixed="true" token="Profile_1"><tt:Name>mainStream</tt:Name>'
    '<tt:VideoSourceConfiguration token="VideoSourceToken"><tt:Name>VideoSourceConfig</tt:Name>'
    "<tt:UseCount>2</tt:UseCount><tt:SourceToken>VideoSource_1</tt:SourceToken>"
    '<tt:Bounds x="0" y="0" width="1920" height="1080"/></tt:VideoSourceConfiguration>'
    '<tt:VideoEncoderConfiguration token="VideoEncoderToken_1"><tt:Name>VideoEncoder_1</tt:Name>'
    "<tt:UseCount>1</tt:UseCount><tt:Encoding>H264</tt:Encoding>"
    "<tt:Resolution><tt:Width>1920</tt:Width><tt:Height>1080</tt:Height></tt:Resolution>"
    "<tt:Quality>3.000000</tt:Quality></tt:VideoEncoderConfiguration>"
    '<tt:PTZConfiguration token="PTZToken"><tt:Name>PTZ</tt:Name><tt:UseCount>2</tt:UseCount>'
    "<tt:NodeToken>PTZNODETOKEN</tt:NodeToken></tt:PTZConfiguration>"
    "<tt:Extension/></trt:Profiles>"
    '<trt:Profiles fixed="true" token="Profile_2"><tt:Name>subStream</tt:Name>'
    '<tt:VideoEncoderConfiguration token="VideoEncoderToken_2"><tt:Name>VideoEncoder_2</tt:Name>'
    "<tt:Encoding>JPEG</tt:Encoding><tt:Resolution><tt:Width>640</tt:Width><tt:Height>360</tt:Height>"
    "</tt:Resolution></tt:VideoEncoderConfiguration></trt:Profiles>"
    '<trt:Profiles token=""><tt:Name>broken</tt:Name></trt:Profiles>'
    "</trt:GetProfilesResponse>"
)

PROFILES_MEDIA2 = axis(
    '<ns2:GetProfilesResponse xmlns:ns2="http://www.onvif.org/ver20/media/wsdl" '
    'xmlns:ns1="http://www.onvif.org/ver10/schema">'
    '<ns2:Profiles token="profile_1_h265" fixed="true"><ns2:Name>profile_1 h265</ns2:Name>'
    '<ns2:Configurations><ns2:VideoSource token="0"><ns1:Name>user0</ns1:Name><ns1:UseCount>4</ns1:UseCount>'
    "<ns1:SourceToken>0</ns1:SourceToken></ns2:VideoSource>"
    '<ns2:VideoEncoder token="h265_1" GovLength="32" Profile="Main"><ns1:Name>enc</ns1:Name>'
    "<ns1:UseCount>1</ns1:UseCount><ns1:Encoding>H265</ns1:Encoding>"
    "<ns1:Resolution><ns1:Width>3840</ns1:Width><ns1:Height>2160</ns1:Height></ns1:Resolution>"
    '<ns1:RateControl ConstantBitRate="false"><ns1:FrameRateLimit>25</ns1:FrameRateLimit></ns1:RateControl>'
    "</ns2:VideoEncoder>"
    '<ns2:PTZ token="0"><ns1:Name>ptz0</ns1:Name><ns1:NodeToken>0</ns1:NodeToken></ns2:PTZ>'
    "</ns2:Configurations></ns2:Profiles>"
    '<ns2:Profiles token="profile_2_jpeg" fixed="false"><ns2:Name>snapshots</ns2:Name>'
    "<ns2:Configurations/></ns2:Profiles>"
    "</ns2:GetProfilesResponse>"
)

STREAM_URI_MEDIA1 = hik(
    "<trt:GetStreamUriResponse><trt:MediaUri>"
    "<tt:Uri>rtsp://10.1.2.42:554/Streaming/Channels/101?transportmode=unicast&amp;profile=Profile_1</tt:Uri>"
    "<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false</tt:InvalidAfterReboot>"
    "<tt:Timeout>PT60S</tt:Timeout></trt:MediaUri></trt:GetStreamUriResponse>"
)
STREAM_URI_MEDIA2 = axis(
    '<tr2:GetStreamUriResponse xmlns:tr2="http://www.onvif.org/ver20/media/wsdl">'
    "<tr2:Uri>rtsp://192.168.0.90/onvif-media/media.amp?profile=profile_1_h265&amp;sessiontimeout=60</tr2:Uri>"
    "</tr2:GetStreamUriResponse>"
)
SNAPSHOT_URI_MEDIA1 = hik(
    "<trt:GetSnapshotUriResponse><trt:MediaUri>"
    "<tt:Uri>http://10.1.2.42/onvif-http/snapshot?Profile_1</tt:Uri>"
    "<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false</tt:InvalidAfterReboot>"
    "<tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></trt:GetSnapshotUriResponse>"
)
SNAPSHOT_URI_MEDIA2 = axis(
    '<tr2:GetSnapshotUriResponse xmlns:tr2="http://www.onvif.org/ver20/media/wsdl">'
    "<tr2:Uri>http://192.168.0.90/onvif-cgi/jpg/image.cgi?resolution=1920x1080&amp;compression=30</tr2:Uri>"
    "</tr2:GetSnapshotUriResponse>"
)
# Quirk 9: a camera that "answers" GetSnapshotUri with no Uri at all, or an empty one.
SNAPSHOT_URI_MISSING = hik(
    "<trt:GetSnapshotUriResponse><trt:MediaUri><tt:InvalidAfterConnect>false</tt:InvalidAfterConnect>"
    "<tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></trt:GetSnapshotUriResponse>"
)
SNAPSHOT_URI_EMPTY = hik(
    "<trt:GetSnapshotUriResponse><trt:MediaUri><tt:Uri> </tt:Uri></trt:MediaUri></trt:GetSnapshotUriResponse>"
)

# --- PTZ --------------------------------------------------------------------------------------------

PRESETS = hik(
    "<tptz:GetPresetsResponse>"
    '<tptz:Preset token="1"><tt:Name>Market Square</tt:Name><tt:PTZPosition>'
    '<tt:PanTilt x="0.5" y="-0.2" space="http://www.onvif.org/ver10/tptz/PanTiltSpaces/PositionGenericSpace"/>'
    '<tt:Zoom x="0.1"/></tt:PTZPosition></tptz:Preset>'
    '<tptz:Preset token="2"><tt:Name>Bus station &amp; taxi rank</tt:Name></tptz:Preset>'
    '<tptz:Preset token="33"/>'
    "<tptz:Preset><tt:Name>no token</tt:Name></tptz:Preset>"
    "</tptz:GetPresetsResponse>"
)


def empty_response(operation: str) -> bytes:
    return odd(f'<ns5:{operation}Response xmlns:ns5="http://www.onvif.org/ver20/ptz/wsdl"/>')


# --- Events -----------------------------------------------------------------------------------------

# Axis-like: a subscription reference with a parameter to echo, times with fractions.
CREATE_PULL_POINT_AXIS = axis(
    '<tev:CreatePullPointSubscriptionResponse xmlns:tev="http://www.onvif.org/ver10/events/wsdl" '
    'xmlns:wsa5="http://www.w3.org/2005/08/addressing" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2">'
    "<tev:SubscriptionReference><wsa5:Address>http://192.168.0.90/onvif/services</wsa5:Address>"
    '<wsa5:ReferenceParameters><dom0:SubscriptionId xmlns:dom0="http://www.axis.com/2009/event">7</dom0:SubscriptionId>'
    "</wsa5:ReferenceParameters></tev:SubscriptionReference>"
    "<wsnt:CurrentTime>2026-11-22T10:00:00.123Z</wsnt:CurrentTime>"
    "<wsnt:TerminationTime>2026-11-22T10:01:00.123Z</wsnt:TerminationTime>"
    "</tev:CreatePullPointSubscriptionResponse>"
)


def create_pull_point(address: str, current: str, termination: str) -> bytes:
    """Hikvision-like CreatePullPointSubscription reply with the given address and times (raw text)."""
    return hik(
        "<tev:CreatePullPointSubscriptionResponse><tev:SubscriptionReference>"
        f"<wsa:Address>{address}</wsa:Address></tev:SubscriptionReference>"
        f"<wsnt:CurrentTime>{current}</wsnt:CurrentTime><wsnt:TerminationTime>{termination}</wsnt:TerminationTime>"
        "</tev:CreatePullPointSubscriptionResponse>"
    )


def notification(
    topic: str,
    data: str = "",
    source: str = "",
    *,
    utc_time: str = "2026-11-22T10:00:05Z",
    operation: str | None = "Changed",
    topic_ns: str = 'xmlns:tns1="http://www.onvif.org/ver10/topics"',
    key: str = "",
) -> str:
    """One wsnt:NotificationMessage (as text) with SimpleItems given as ``Name=Value`` comma lists."""

    def items(text: str) -> str:
        return "".join(
            f'<tt:SimpleItem Name="{name}" Value="{value}"/>'
            for name, value in (pair.split("=", 1) for pair in text.split(",") if pair)
        )

    operation_attribute = f' PropertyOperation="{operation}"' if operation is not None else ""
    return (
        "<wsnt:NotificationMessage>"
        f'<wsnt:Topic {topic_ns} Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">'
        f"{topic}</wsnt:Topic>"
        "<wsnt:ProducerReference><wsa:Address>uri://5bd24b60-1dd2-11b2-8021-a4144b13c7ab/ProducerReference"
        "</wsa:Address></wsnt:ProducerReference>"
        f'<wsnt:Message><tt:Message UtcTime="{utc_time}"{operation_attribute}>'
        f"<tt:Source>{items(source)}</tt:Source><tt:Key>{items(key)}</tt:Key><tt:Data>{items(data)}</tt:Data>"
        "</tt:Message></wsnt:Message></wsnt:NotificationMessage>"
    )


def pull_messages(
    *messages: str, current: str = "2026-11-22T10:00:06Z", termination: str = "2026-11-22T10:01:06Z"
) -> bytes:
    return hik(
        f"<tev:PullMessagesResponse><tev:CurrentTime>{current}</tev:CurrentTime>"
        f"<tev:TerminationTime>{termination}</tev:TerminationTime>{''.join(messages)}</tev:PullMessagesResponse>"
    )


PULL_MESSAGES = pull_messages(
    notification("tns1:VideoSource/MotionAlarm", "State=true", "Source=VideoSource_1", operation="Initialized"),
    notification("tns1:Device/Trigger/DigitalInput", "LogicalState=false", "InputToken=DIGIT_INPUT_000"),
    notification(
        "tnsaxis:CameraApplicationPlatform/VMD/Camera1ProfileANY",
        "active=1",
        topic_ns='xmlns:tnsaxis="http://www.axis.com/2009/event/topics"',
        operation=None,
    ),
)

RENEW = axis(
    '<wsnt:RenewResponse xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2">'
    "<wsnt:TerminationTime>2026-11-22T10:02:00Z</wsnt:TerminationTime>"
    "<wsnt:CurrentTime>2026-11-22T10:01:00Z</wsnt:CurrentTime></wsnt:RenewResponse>"
)

# --- Faults -----------------------------------------------------------------------------------------

FAULT_NOT_AUTHORIZED_HIK = hik(
    "<env:Fault><env:Code><env:Value>env:Sender</env:Value><env:Subcode><env:Value>ter:NotAuthorized</env:Value>"
    '</env:Subcode></env:Code><env:Reason><env:Text xml:lang="en">Sender not Authorized</env:Text></env:Reason>'
    "</env:Fault>"
)
# Axis-like: the error namespace under another prefix, the reason in two languages.
FAULT_NOT_AUTHORIZED_AXIS = axis(
    '<SOAP-ENV:Fault xmlns:aterr="http://www.onvif.org/ver10/error"><SOAP-ENV:Code><SOAP-ENV:Value>SOAP-ENV:Sender'
    "</SOAP-ENV:Value><SOAP-ENV:Subcode><SOAP-ENV:Value>aterr:NotAuthorized</SOAP-ENV:Value></SOAP-ENV:Subcode>"
    '</SOAP-ENV:Code><SOAP-ENV:Reason><SOAP-ENV:Text xml:lang="de">Nicht autorisiert</SOAP-ENV:Text>'
    '<SOAP-ENV:Text xml:lang="en">The action requested requires authorization and the sender is not authorized'
    "</SOAP-ENV:Text></SOAP-ENV:Reason><SOAP-ENV:Detail><SOAP-ENV:Text>no token</SOAP-ENV:Text></SOAP-ENV:Detail>"
    "</SOAP-ENV:Fault>"
)
# Dahua-like: WS-Security's FailedAuthentication as the subcode.
FAULT_FAILED_AUTHENTICATION = odd(
    '<s:Fault xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">'
    "<s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>wsse:FailedAuthentication</s:Value></s:Subcode>"
    "</s:Code><s:Reason><s:Text>The security token could not be authenticated or authorized</s:Text></s:Reason>"
    "</s:Fault>"
)
# A camera that says only, in its reason, that the digest's time was off.
FAULT_TIME_CHECK = odd(
    "<s:Fault><s:Code><s:Value>s:Receiver</s:Value></s:Code>"
    "<s:Reason><s:Text>Time check failed</s:Text></s:Reason></s:Fault>"
)
FAULT_RESOURCE_UNKNOWN = hik(
    "<env:Fault><env:Code><env:Value>env:Receiver</env:Value><env:Subcode><env:Value>ter:Action</env:Value>"
    '</env:Subcode></env:Code><env:Reason><env:Text xml:lang="en">Subscription gone</env:Text></env:Reason>'
    '<env:Detail><wsrf-r:ResourceUnknownFault xmlns:wsrf-r="http://docs.oasis-open.org/wsrf/r-2">'
    '<wsrf-bf:Timestamp xmlns:wsrf-bf="http://docs.oasis-open.org/wsrf/bf-2">2026-11-22T10:00:00Z</wsrf-bf:Timestamp>'
    "</wsrf-r:ResourceUnknownFault></env:Detail></env:Fault>"
)
FAULT_ACTION_NOT_SUPPORTED = hik(
    "<env:Fault><env:Code><env:Value>env:Receiver</env:Value><env:Subcode><env:Value>ter:ActionNotSupported"
    "</env:Value><env:Subcode><env:Value>ter:NoSuchService</env:Value></env:Subcode></env:Subcode></env:Code>"
    '<env:Reason><env:Text xml:lang="en">Optional Action Not Implemented</env:Text></env:Reason></env:Fault>'
)
FAULT_SOAP11 = (
    '<?xml version="1.0"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:ter="http://www.onvif.org/ver10/error"><SOAP-ENV:Body><SOAP-ENV:Fault>'
    "<faultcode>ter:NotAuthorized</faultcode><faultstring>Sender not authorized</faultstring>"
    "</SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>"
).encode()

#: Every valid sample, with the parser (by name) that reads it: the fuzz tests mutate these.
VALID_REPLIES = {
    "system_date_and_time": SYSTEM_DATE_AND_TIME,
    "services": SERVICES,
    "capabilities": CAPABILITIES,
    "device_information": DEVICE_INFORMATION,
    "profiles_media1": PROFILES_MEDIA1,
    "profiles_media2": PROFILES_MEDIA2,
    "stream_uri_media1": STREAM_URI_MEDIA1,
    "stream_uri_media2": STREAM_URI_MEDIA2,
    "snapshot_uri_media1": SNAPSHOT_URI_MEDIA1,
    "snapshot_uri_media2": SNAPSHOT_URI_MEDIA2,
    "presets": PRESETS,
    "create_pull_point": CREATE_PULL_POINT_AXIS,
    "pull_messages": PULL_MESSAGES,
    "renew": RENEW,
    "fault": FAULT_NOT_AUTHORIZED_AXIS,
}
