"""Device service: the camera's clock before auth, its services, and what it is."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lxml import etree

from plugins.onvif.codec import device
from plugins.onvif.codec import namespaces as ns
from plugins.onvif.codec.soap import ReplyError, SoapFault, envelope
from plugins.onvif.codec.xml import parse_untrusted
from tests.plugins.onvif import codec_samples as samples


def request_body(body_xml: str) -> etree._Element:
    """The body element of the enveloped request, parsed strictly."""
    root = etree.fromstring(envelope(body_xml))
    return root.find(f"{{{ns.SOAP_ENV}}}Body")[0]


def parse(reply: bytes) -> etree._Element:
    return parse_untrusted(reply)


# --- requests ---------------------------------------------------------------------------------------


def test_requests_are_the_device_operations_with_their_arguments():
    """Each builder gives a well-formed tds element; GetServices asks for no capabilities, GetCapabilities
    for all of them."""
    assert request_body(device.get_system_date_and_time()).tag == f"{{{ns.TDS}}}GetSystemDateAndTime"
    assert request_body(device.get_device_information()).tag == f"{{{ns.TDS}}}GetDeviceInformation"
    services = request_body(device.get_services())
    assert services.tag == f"{{{ns.TDS}}}GetServices"
    assert services.findtext(f"{{{ns.TDS}}}IncludeCapability") == "false"
    capabilities = request_body(device.get_capabilities())
    assert capabilities.findtext(f"{{{ns.TDS}}}Category") == "All"


# --- GetSystemDateAndTime ---------------------------------------------------------------------------


def test_the_camera_time_is_read_from_utc_date_time():
    """UTCDateTime wins over LocalDateTime and the time zone."""
    assert device.parse_system_date_and_time(parse(samples.SYSTEM_DATE_AND_TIME)) == datetime(
        2026, 11, 22, 9, 5, 7, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("local", "tz", "daylight_savings", "expected_hour"),
    [
        ("2026 11 22 18 00 00", "CST-8", "false", 10),  # POSIX: west positive, so CST-8 is UTC+8
        ("2026 11 22 18 00 00", "CST-8:00:00", "false", 10),
        ("2026 11 22 05 00 00", "EST5EDT,M3.2.0,M11.1.0", "false", 10),
        ("2026 07 22 06 00 00", "EST5EDT,M3.2.0,M11.1.0", "true", 10),  # DST on: UTC-4
        ("2026 07 22 11 00 00", "GMT0BST,M3.5.0/1,M10.5.0", "true", 10),
        ("2026 11 22 15 30 00", "<+0530>-5:30", "false", 10),
    ],
)
def test_without_utc_the_local_time_and_posix_zone_give_the_time(local, tz, daylight_savings, expected_hour):
    """A camera that sends only LocalDateTime is read through its POSIX TZ and DaylightSavings flag."""
    reply = samples.system_date_and_time("", local=local, tz=tz, daylight_savings=daylight_savings)
    moment = device.parse_system_date_and_time(parse(reply))
    assert moment is not None
    assert (moment.hour, moment.minute) == (expected_hour, 0)


@pytest.mark.parametrize(
    ("utc", "local", "tz"),
    [
        ("0 0 0 0 0 0", "", "GMT0"),  # 0000-00-00: a clock that lost its battery
        ("2026 11 22 10 61 00", "", "GMT0"),  # minute 61
        ("2026 02 30 10 00 00", "", "GMT0"),
        ("2026 11 22 10 xx 00", "", "GMT0"),
        ("", "2026 11 22 10 00 00", "not a zone"),
        ("", "", "GMT0"),
    ],
)
def test_a_malformed_clock_is_none(utc, local, tz):
    """Impossible or unreadable times give None (the client then signs with its own clock)."""
    reply = samples.system_date_and_time(utc, local=local, tz=tz)
    assert device.parse_system_date_and_time(parse(reply)) is None


def test_a_malformed_utc_time_falls_back_to_a_good_local_time():
    reply = samples.system_date_and_time("0 0 0 0 0 0", local="2026 11 22 11 00 00", tz="CET-1")
    assert device.parse_system_date_and_time(parse(reply)) == datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def test_a_date_and_time_reply_without_its_element_is_a_reply_error():
    reply = samples.odd(f'<x:GetSystemDateAndTimeResponse xmlns:x="{ns.TDS}"/>')
    with pytest.raises(ReplyError, match="SystemDateAndTime"):
        device.parse_system_date_and_time(parse(reply))


def test_a_camera_demanding_auth_for_its_clock_raises_the_fault():
    """Some cameras fault NotAuthorized even on GetSystemDateAndTime: the parser raises it for the client."""
    with pytest.raises(SoapFault) as caught:
        device.parse_system_date_and_time(parse(samples.FAULT_NOT_AUTHORIZED_HIK))
    assert caught.value.not_authorized


# --- GetServices and GetCapabilities ----------------------------------------------------------------


def test_services_map_each_namespace_to_its_address_as_the_camera_wrote_it():
    """Addresses are returned as sent, doubled port and private address included (rewriting is the
    client's job); vendor services are kept too."""
    services = device.parse_services(parse(samples.SERVICES))
    assert services[ns.TDS] == "http://192.168.0.90/onvif/device_service"
    assert services[ns.TRT] == "http://192.168.0.90:8106:8106/onvif/media_service"
    assert services[ns.TR2] == "http://192.168.0.90/onvif/media2_service"
    assert services[ns.TPTZ] == "http://192.168.0.90/onvif/ptz_service"
    assert services[ns.TEV] == "http://10.0.0.5:80/onvif/event_service"
    assert services["http://www.axis.com/vapix/ws/action1"] == "http://192.168.0.90/vapix/services"
    assert len(services) == 6


def test_services_with_no_usable_entry_are_a_reply_error():
    """A GetServices answer naming nothing makes the client fall back to GetCapabilities."""
    reply = samples.odd(
        f'<t:GetServicesResponse xmlns:t="{ns.TDS}"><t:Service><t:Namespace>{ns.TRT}</t:Namespace>'
        "</t:Service></t:GetServicesResponse>"
    )
    with pytest.raises(ReplyError, match="no service"):
        device.parse_services(parse(reply))


def test_capabilities_give_the_same_shape_with_media2_from_the_extension():
    """Media, PTZ, Events... by their service namespace, Media2 and DeviceIO from Capabilities/Extension."""
    services = device.parse_capabilities(parse(samples.CAPABILITIES))
    assert services == {
        ns.TDS: "http://10.1.2.42/onvif/device_service",
        ns.TRT: "http://10.1.2.42/onvif/Media",
        ns.TPTZ: "http://10.1.2.42/onvif/PTZ",
        ns.TEV: "http://10.1.2.42/onvif/Events",
        "http://www.onvif.org/ver20/imaging/wsdl": "http://10.1.2.42/onvif/Imaging",
        "http://www.onvif.org/ver20/analytics/wsdl": "http://10.1.2.42/onvif/Analytics",
        "http://www.onvif.org/ver10/deviceIO/wsdl": "http://10.1.2.42/onvif/DeviceIO",
        ns.TR2: "http://10.1.2.42/onvif/Media2",
    }


def test_capabilities_without_ptz_or_media2_leave_them_out():
    """A fixed camera's capabilities have no PTZ entry at all (not an empty one)."""
    reply = samples.odd(
        f'<d:GetCapabilitiesResponse xmlns:d="{ns.TDS}" xmlns:t="{ns.TT}"><d:Capabilities>'
        "<t:Media><t:XAddr>http://cam/media</t:XAddr></t:Media><t:PTZ><t:XAddr></t:XAddr></t:PTZ>"
        "</d:Capabilities></d:GetCapabilitiesResponse>"
    )
    assert device.parse_capabilities(parse(reply)) == {ns.TRT: "http://cam/media"}


def test_capabilities_answering_the_wrong_question_are_a_reply_error():
    with pytest.raises(ReplyError, match="GetCapabilitiesResponse"):
        device.parse_capabilities(parse(samples.SERVICES))
    reply = samples.odd(f'<d:GetCapabilitiesResponse xmlns:d="{ns.TDS}"/>')
    with pytest.raises(ReplyError, match="no Capabilities"):
        device.parse_capabilities(parse(reply))


# --- GetDeviceInformation ---------------------------------------------------------------------------


def test_device_information_is_read_with_empty_fields_as_none():
    info = device.parse_device_information(parse(samples.DEVICE_INFORMATION))
    assert info == device.DeviceInformation(
        manufacturer="ACME Vision",
        model="PTZ-4000",
        firmware_version="V5.7.3 build 230101",
        serial_number="DS-123456",
        hardware_id=None,
    )


def test_device_information_fields_are_bounded():
    """A camera cannot make the hub carry a megabyte model name into the directory."""
    reply = samples.odd(
        f'<d:GetDeviceInformationResponse xmlns:d="{ns.TDS}"><d:Model>{"M" * 5000}</d:Model>'
        "</d:GetDeviceInformationResponse>"
    )
    info = device.parse_device_information(parse(reply))
    assert info.model == "M" * 200
    assert info.manufacturer is None
