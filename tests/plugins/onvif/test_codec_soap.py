"""SOAP envelopes the hub sends, and bodies and faults out of what cameras answer."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lxml import etree

from plugins.onvif.codec import namespaces as ns
from plugins.onvif.codec.soap import (
    ACTIONS,
    MEDIA2_ACTIONS,
    ReplyError,
    SoapFault,
    action_for,
    body_of,
    envelope,
    expect,
)
from plugins.onvif.codec.wsse import username_token
from plugins.onvif.codec.xml import parse_untrusted
from tests.plugins.onvif import codec_samples as samples

BODY = f'<tds:GetDeviceInformation xmlns:tds="{ns.TDS}"/>'


def parsed_request(data: bytes) -> etree._Element:
    """A request read back the way a strict server would (lxml, no recovery)."""
    return etree.fromstring(data, etree.XMLParser(recover=False))


# --- envelope ---------------------------------------------------------------------------------------


def test_an_envelope_is_soap_12_with_the_body_inside():
    """The request is a SOAP 1.2 Envelope whose Body holds exactly the body given."""
    data = envelope(BODY)
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = parsed_request(data)
    assert root.tag == f"{{{ns.SOAP_ENV}}}Envelope"
    body = root.find(f"{{{ns.SOAP_ENV}}}Body")
    assert [child.tag for child in body] == [f"{{{ns.TDS}}}GetDeviceInformation"]
    assert root.find(f"{{{ns.SOAP_ENV}}}Header") is None


def test_an_envelope_carries_security_action_and_to_headers_when_asked():
    """UsernameToken, wsa:Action and wsa:To go in the Header, in that order, values escaped."""
    token = username_token(
        "hub&co", "secret", camera_time=datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC), nonce=b"\x01" * 16
    )
    data = envelope(BODY, security=token, action=ACTIONS["GetDeviceInformation"], to="http://cam/?a=1&b=2")
    root = parsed_request(data)
    header = root.find(f"{{{ns.SOAP_ENV}}}Header")
    assert [child.tag for child in header] == [
        f"{{{ns.WSSE}}}Security",
        f"{{{ns.WSA}}}Action",
        f"{{{ns.WSA}}}To",
    ]
    assert header.findtext(f"{{{ns.WSA}}}To") == "http://cam/?a=1&b=2"
    assert header.findtext(f"{{{ns.WSA}}}Action") == "http://www.onvif.org/ver10/device/wsdl/GetDeviceInformation"
    security = header[0]
    assert security.get(f"{{{ns.SOAP_ENV}}}mustUnderstand") == "1"
    assert security.findtext(f"{{{ns.WSSE}}}UsernameToken/{{{ns.WSSE}}}Username") == "hub&co"
    assert security.findtext(f"{{{ns.WSSE}}}UsernameToken/{{{ns.WSU}}}Created") == "2026-11-22T10:00:00Z"
    assert b"secret" not in data


def test_reference_parameters_are_echoed_as_headers():
    """Header elements a subscription asked for are placed in the Header as given."""
    parameter = (
        f'<dom0:SubscriptionId xmlns:dom0="urn:x" xmlns:wsa="{ns.WSA}" wsa:IsReferenceParameter="true">'
        "7</dom0:SubscriptionId>"
    )
    root = parsed_request(envelope(BODY, to="http://cam/sub", reference_parameters=(parameter,)))
    header = root.find(f"{{{ns.SOAP_ENV}}}Header")
    assert header[-1].tag == "{urn:x}SubscriptionId"
    assert header[-1].text == "7"


def test_actions_name_each_operation_in_its_service():
    """Device, Media, PTZ actions are namespace/operation; events use the WSDL's port-type actions."""
    assert ACTIONS["GetSystemDateAndTime"] == f"{ns.TDS}/GetSystemDateAndTime"
    assert ACTIONS["GetProfiles"] == f"{ns.TRT}/GetProfiles"
    assert MEDIA2_ACTIONS["GetProfiles"] == f"{ns.TR2}/GetProfiles"
    assert action_for(ns.TR2, "GetStreamUri") == f"{ns.TR2}/GetStreamUri"
    assert ACTIONS["GotoPreset"] == f"{ns.TPTZ}/GotoPreset"
    assert ACTIONS["PullMessages"] == f"{ns.TEV}/PullPointSubscription/PullMessagesRequest"
    assert ACTIONS["CreatePullPointSubscription"] == f"{ns.TEV}/EventPortType/CreatePullPointSubscriptionRequest"
    assert ACTIONS["Renew"] == "http://docs.oasis-open.org/wsn/bw-2/SubscriptionManager/RenewRequest"
    assert action_for(ns.TEV, "Unsubscribe") == ACTIONS["Unsubscribe"]


# --- body_of ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("reply", [samples.SERVICES, samples.CAPABILITIES, samples.DEVICE_INFORMATION])
def test_the_body_is_found_whatever_prefix_the_camera_uses(reply):
    """env:, SOAP-ENV: and s: envelopes all give their body's first element (a Header is skipped)."""
    body = body_of(parse_untrusted(reply))
    assert body.tag.endswith("Response")


def test_a_soap_11_envelope_is_read_too():
    """An old camera's SOAP 1.1 envelope still gives its body."""
    reply = (
        b'<E:Envelope xmlns:E="http://schemas.xmlsoap.org/soap/envelope/"><E:Body>'
        b'<r:GetDeviceInformationResponse xmlns:r="http://www.onvif.org/ver10/device/wsdl"/></E:Body></E:Envelope>'
    )
    assert body_of(parse_untrusted(reply)).tag == f"{{{ns.TDS}}}GetDeviceInformationResponse"


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (b"<html><body>404</body></html>", "not a SOAP envelope"),
        (b'<e:Envelope xmlns:e="urn:not-soap"><e:Body><x/></e:Body></e:Envelope>', "not a SOAP envelope"),
        (f'<s:Envelope xmlns:s="{ns.SOAP_ENV}"><s:Header/></s:Envelope>'.encode(), "no SOAP Body"),
        (f'<s:Envelope xmlns:s="{ns.SOAP_ENV}"><s:Body>  </s:Body></s:Envelope>'.encode(), "Body is empty"),
    ],
)
def test_a_reply_that_is_not_a_soap_answer_is_a_reply_error(reply, message):
    """HTML error pages, foreign envelopes, missing and empty bodies are ReplyErrors saying which."""
    with pytest.raises(ReplyError, match=message):
        body_of(parse_untrusted(reply))


def test_expect_checks_the_response_name():
    """A body that answers another operation is refused by name."""
    root = parse_untrusted(samples.SERVICES)
    assert expect(root, "GetServicesResponse") is body_of(root)
    with pytest.raises(ReplyError, match="expected GetCapabilitiesResponse.*got GetServicesResponse"):
        expect(root, "GetCapabilitiesResponse")


# --- faults -----------------------------------------------------------------------------------------


def fault_of(reply: bytes) -> SoapFault:
    with pytest.raises(SoapFault) as caught:
        body_of(parse_untrusted(reply))
    return caught.value


@pytest.mark.parametrize(
    "reply",
    [
        samples.FAULT_NOT_AUTHORIZED_HIK,
        samples.FAULT_NOT_AUTHORIZED_AXIS,
        samples.FAULT_FAILED_AUTHENTICATION,
        samples.FAULT_TIME_CHECK,
        samples.FAULT_SOAP11,
    ],
    ids=["hikvision", "axis", "dahua-wsse", "time-check", "soap11"],
)
def test_not_authorized_is_recognised_in_each_vendors_form(reply):
    """ter:NotAuthorized under any prefix, wsse:FailedAuthentication and "time check failed" all mean
    the credentials or their time were refused."""
    fault = fault_of(reply)
    assert fault.not_authorized
    assert not fault.is_unknown_subscription


def test_fault_codes_are_written_with_the_hubs_prefixes():
    """A camera's own prefix for the ONVIF error namespace becomes ter:; SOAP's becomes s:."""
    fault = fault_of(samples.FAULT_NOT_AUTHORIZED_AXIS)
    assert fault.code == "s:Sender"
    assert fault.subcodes == ("ter:NotAuthorized",)
    assert fault.reason.startswith("The action requested requires authorization")  # English preferred


def test_nested_subcodes_are_all_kept_in_order():
    """Subcode inside Subcode gives every level, and an unrelated fault is neither auth nor subscription."""
    fault = fault_of(samples.FAULT_ACTION_NOT_SUPPORTED)
    assert fault.code == "s:Receiver"
    assert fault.subcodes == ("ter:ActionNotSupported", "ter:NoSuchService")
    assert not fault.not_authorized
    assert not fault.is_unknown_subscription
    assert str(fault) == (
        "SOAP fault s:Receiver / ter:ActionNotSupported / ter:NoSuchService: Optional Action Not Implemented"
    )


def test_a_resource_unknown_fault_in_the_detail_means_the_subscription_is_gone():
    """WS-ResourceFramework's ResourceUnknownFault, sent in Detail, marks an unknown subscription."""
    fault = fault_of(samples.FAULT_RESOURCE_UNKNOWN)
    assert fault.is_unknown_subscription
    assert fault.details == ("wsrf-r:ResourceUnknownFault",)
    assert not fault.not_authorized


@pytest.mark.parametrize(
    "reason", ["Unknown subscription", "Resource unknown", "The subscription does not exist", "No such subscription"]
)
def test_an_unknown_subscription_is_recognised_by_its_reason(reason):
    """Cameras that only say so in words are recognised too."""
    fault = SoapFault(code="s:Receiver", subcodes=(), reason=reason)
    assert fault.is_unknown_subscription


def test_a_fault_is_an_exception_that_can_be_raised_and_chained():
    """SoapFault is frozen yet raisable: Python can still set its traceback and cause."""
    fault = SoapFault(code="s:Sender", subcodes=("ter:NotAuthorized",), reason="x")
    with pytest.raises(SoapFault) as caught:
        try:
            raise ValueError("cause")
        except ValueError as cause:
            raise fault from cause
    assert caught.value is fault
    assert caught.value.__cause__.args == ("cause",)
    assert caught.value.__traceback__ is not None


def test_a_long_reason_is_cut_and_its_whitespace_collapsed():
    """A camera's whole error page in a Reason is kept short and on one line."""
    reply = samples.odd(
        "<s:Fault><s:Code><s:Value>s:Receiver</s:Value></s:Code><s:Reason><s:Text>"
        + "line\n\t" * 200
        + "</s:Text></s:Reason></s:Fault>"
    )
    fault = fault_of(reply)
    assert len(fault.reason) <= 240
    assert "\n" not in fault.reason and "\t" not in fault.reason


# --- every request builder --------------------------------------------------------------------------


def every_request() -> dict[str, tuple[str, str]]:
    """Each request body the codec builds, with the namespace its element must be in."""
    from plugins.onvif.codec import device, events, media, ptz

    return {
        "GetSystemDateAndTime": (device.get_system_date_and_time(), ns.TDS),
        "GetServices": (device.get_services(), ns.TDS),
        "GetCapabilities": (device.get_capabilities(), ns.TDS),
        "GetDeviceInformation": (device.get_device_information(), ns.TDS),
        "GetProfiles/media1": (media.get_profiles("media1"), ns.TRT),
        "GetProfiles/media2": (media.get_profiles("media2"), ns.TR2),
        "GetStreamUri/media1": (media.get_stream_uri("media1", "P&1"), ns.TRT),
        "GetStreamUri/media2": (media.get_stream_uri("media2", "P<1>"), ns.TR2),
        "GetSnapshotUri/media1": (media.get_snapshot_uri("media1", "P1"), ns.TRT),
        "GetSnapshotUri/media2": (media.get_snapshot_uri("media2", "P1"), ns.TR2),
        "GetPresets": (ptz.get_presets("P1"), ns.TPTZ),
        "GotoPreset": (ptz.goto_preset("P1", "3", speed=1.0), ns.TPTZ),
        "ContinuousMove": (ptz.continuous_move("P1", pan=0.1, tilt=-0.1, zoom=0.5, timeout_s=1), ns.TPTZ),
        "Stop": (ptz.stop("P1"), ns.TPTZ),
        "GotoHomePosition": (ptz.goto_home_position("P1"), ns.TPTZ),
        "CreatePullPointSubscription": (events.create_pull_point_subscription(termination="PT60S"), ns.TEV),
        "PullMessages": (events.pull_messages(timeout_s=30, message_limit=100), ns.TEV),
        "SetSynchronizationPoint": (events.set_synchronization_point(), ns.TEV),
        "Renew": (events.renew(termination="2026-11-22T10:01:00Z"), ns.WSNT),
        "Unsubscribe": (events.unsubscribe(), ns.WSNT),
    }


@pytest.mark.parametrize("operation", sorted(every_request()))
def test_every_request_is_a_well_formed_soap_12_message_in_its_service_namespace(operation):
    """Each body parses strictly on its own (namespaces declared on it) and inside a signed envelope, and
    its element is the operation in the service's namespace; every descendant is in a namespace."""
    body_xml, namespace = every_request()[operation]
    alone = etree.fromstring(body_xml)  # no prefix relies on the envelope
    name = operation.split("/")[0]
    assert alone.tag == f"{{{namespace}}}{name}"
    assert all(etree.QName(element).namespace for element in alone.iter())
    token = username_token("u", "p", camera_time=datetime(2026, 11, 22, tzinfo=UTC), nonce=b"n" * 16)
    root = parsed_request(envelope(body_xml, security=token, action=action_for(namespace, name), to="http://c/x"))
    (body,) = root.find(f"{{{ns.SOAP_ENV}}}Body")
    assert etree.tostring(body, method="c14n", exclusive=True) == etree.tostring(alone, method="c14n", exclusive=True)


def test_ipycam_like_not_authorized_without_a_subcode_is_recognised():
    """s:Receiver, no subcode, reason "Sender not authorized": recognisable by its reason alone."""
    fault = fault_of(
        samples.odd(
            "<s:Fault><s:Code><s:Value>s:Receiver</s:Value></s:Code>"
            "<s:Reason><s:Text>Sender not authorized</s:Text></s:Reason></s:Fault>"
        )
    )
    assert fault.not_authorized and fault.subcodes == ()


def test_action_not_supported_without_a_subcode_is_neither_auth_nor_subscription():
    fault = fault_of(
        samples.odd(
            "<s:Fault><s:Code><s:Value>s:Receiver</s:Value></s:Code>"
            "<s:Reason><s:Text>Action not supported: </s:Text></s:Reason></s:Fault>"
        )
    )
    assert not fault.not_authorized and not fault.is_unknown_subscription
    assert fault.reason == "Action not supported:"
