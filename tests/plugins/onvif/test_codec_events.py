"""Pull-point events: subscriptions in every termination style, notifications as cameras send them, and
renew/unsubscribe/synchronise."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lxml import etree

from plugins.onvif.codec import events
from plugins.onvif.codec import namespaces as ns
from plugins.onvif.codec.events import Notification, Subscription
from plugins.onvif.codec.soap import ReplyError, SoapFault, envelope
from plugins.onvif.codec.xml import parse_untrusted
from tests.plugins.onvif import codec_samples as samples
from tests.plugins.onvif.codec_samples import notification, pull_messages

TEV = f"{{{ns.TEV}}}"
WSNT = f"{{{ns.WSNT}}}"


def request_body(body_xml: str, **headers) -> etree._Element:
    root = etree.fromstring(envelope(body_xml, **headers))
    return root.find(f"{{{ns.SOAP_ENV}}}Body")[0]


def at(hour: int, minute: int, second: int = 0, microsecond: int = 0) -> datetime:
    return datetime(2026, 11, 22, hour, minute, second, microsecond, tzinfo=UTC)


def parse(reply: bytes):
    return events.parse_pull_messages(parse_untrusted(reply))


# --- CreatePullPointSubscription --------------------------------------------------------------------


@pytest.mark.parametrize("termination", ["PT60S", "2026-11-22T10:01:00Z", "2026-11-22T10:01:00"])
def test_a_subscription_request_carries_the_termination_as_written(termination):
    """Relative, absolute with Z and absolute without: the caller chooses, the codec sends it verbatim."""
    body = request_body(events.create_pull_point_subscription(termination=termination))
    assert body.tag == f"{TEV}CreatePullPointSubscription"
    assert body.findtext(f"{TEV}InitialTerminationTime") == termination


def test_a_subscription_request_can_leave_the_termination_out():
    body = request_body(events.create_pull_point_subscription(termination=None))
    assert body.tag == f"{TEV}CreatePullPointSubscription"
    assert len(body) == 0


def test_a_subscription_gives_its_address_times_and_reference_parameters():
    """Axis-like: a SubscriptionId to echo, times with fractions."""
    subscription = events.parse_create_pull_point_subscription(parse_untrusted(samples.CREATE_PULL_POINT_AXIS))
    assert subscription.address == "http://192.168.0.90/onvif/services"
    assert subscription.current_time == at(10, 0, 0, 123000)
    assert subscription.termination_time == at(10, 1, 0, 123000)
    (parameter,) = subscription.reference_parameters
    echoed = etree.fromstring(parameter)
    assert echoed.tag == "{http://www.axis.com/2009/event}SubscriptionId"
    assert echoed.text == "7"
    assert echoed.get(f"{{{ns.WSA}}}IsReferenceParameter") == "true"


def test_reference_parameters_go_back_as_headers_on_the_next_request():
    subscription = events.parse_create_pull_point_subscription(parse_untrusted(samples.CREATE_PULL_POINT_AXIS))
    data = envelope(
        events.pull_messages(timeout_s=30, message_limit=100),
        to=subscription.address,
        reference_parameters=subscription.reference_parameters,
    )
    header = etree.fromstring(data).find(f"{{{ns.SOAP_ENV}}}Header")
    assert [etree.QName(element).localname for element in header] == ["To", "SubscriptionId"]


@pytest.mark.parametrize(
    ("current", "termination", "expected_current", "expected_termination"),
    [
        ("2026-11-22T10:00:00Z", "2026-11-22T10:01:00Z", at(10, 0), at(10, 1)),
        ("2026-11-22T10:00:00", "2026-11-22T10:01:00", at(10, 0), at(10, 1)),  # Z-less
        ("2026-11-22T11:00:00+01:00", "2026-11-22T11:01:00+01:00", at(10, 0), at(10, 1)),
        ("2026-11-22-10:00:00", "2026-11-22T10:61:00Z", at(10, 0), None),  # '-' for 'T'; minute 61
        ("0000-00-00T00:00:00Z", "PT60S", None, None),  # impossible; a duration where a time belongs
        ("", "", None, None),
    ],
)
def test_subscription_times_are_read_leniently(current, termination, expected_current, expected_termination):
    """Quirks 2 and 5: whatever the camera writes, a time or None, never a crash."""
    reply = samples.create_pull_point("http://cam/onvif/pullpoint/1", current, termination)
    subscription = events.parse_create_pull_point_subscription(parse_untrusted(reply))
    assert (subscription.current_time, subscription.termination_time) == (expected_current, expected_termination)
    assert subscription.reference_parameters == ()


def test_a_doubled_port_in_the_subscription_address_is_kept_as_sent():
    """Quirk 4: rewriting is the client's job."""
    reply = samples.create_pull_point("http://10.1.2.42:8106:8106/onvif/Subscription?Idx=3", "", "")
    subscription = events.parse_create_pull_point_subscription(parse_untrusted(reply))
    assert subscription.address == "http://10.1.2.42:8106:8106/onvif/Subscription?Idx=3"


def test_a_subscription_without_an_address_is_a_reply_error():
    reply = samples.odd(
        f'<e:CreatePullPointSubscriptionResponse xmlns:e="{ns.TEV}"><e:SubscriptionReference/>'
        "</e:CreatePullPointSubscriptionResponse>"
    )
    with pytest.raises(ReplyError, match="Address"):
        events.parse_create_pull_point_subscription(parse_untrusted(reply))


def test_oversized_reference_parameters_are_refused():
    """They are echoed to the camera on every request: a camera cannot make the hub carry megabytes."""
    big = "x" * 5000
    reply = samples.odd(
        f'<e:CreatePullPointSubscriptionResponse xmlns:e="{ns.TEV}" xmlns:a="{ns.WSA}"><e:SubscriptionReference>'
        f"<a:Address>http://cam/sub</a:Address><a:ReferenceParameters><v:Id xmlns:v='urn:v'>{big}</v:Id>"
        "</a:ReferenceParameters></e:SubscriptionReference></e:CreatePullPointSubscriptionResponse>"
    )
    with pytest.raises(ReplyError, match="too large"):
        events.parse_create_pull_point_subscription(parse_untrusted(reply))


# --- PullMessages -----------------------------------------------------------------------------------


def test_pull_messages_asks_with_a_timeout_and_a_limit():
    body = request_body(events.pull_messages(timeout_s=30, message_limit=100))
    assert [(etree.QName(part).localname, part.text) for part in body] == [
        ("Timeout", "PT30S"),
        ("MessageLimit", "100"),
    ]
    with pytest.raises(ValueError, match="message_limit"):
        events.pull_messages(timeout_s=30, message_limit=0)


def test_notifications_are_read_with_topic_operation_time_and_items():
    result = parse(samples.PULL_MESSAGES)
    assert result.current_time == at(10, 0, 6)
    assert result.termination_time == at(10, 1, 6)
    motion, digital_input, vendor = result.notifications
    assert motion == Notification(
        topic="tns1:VideoSource/MotionAlarm",
        operation="Initialized",
        utc_time=at(10, 0, 5),
        raw_utc_time="2026-11-22T10:00:05Z",
        source=(("Source", "VideoSource_1"),),
        key=(),
        data=(("State", "true"),),
        producer="uri://5bd24b60-1dd2-11b2-8021-a4144b13c7ab/ProducerReference",
    )
    assert digital_input.topic == "tns1:Device/Trigger/DigitalInput"
    assert digital_input.source_value("InputToken") == "DIGIT_INPUT_000"
    assert digital_input.data_value("LogicalState") == "false"
    assert vendor.topic == "tnsaxis:CameraApplicationPlatform/VMD/Camera1ProfileANY"
    assert vendor.operation is None
    assert vendor.data_value("missing") is None


def test_an_empty_pull_is_an_empty_tuple():
    result = parse(pull_messages())
    assert result.notifications == ()
    assert result.termination_time == at(10, 1, 6)


@pytest.mark.parametrize(
    "topic_ns",
    [
        'xmlns:tns1="http://www.onvif.org/ver10/topics"',
        'xmlns:ns2="http://www.onvif.org/ver10/topics"',
        'xmlns:tnsonvif="http://www.onvif.org/ver10/topics/"',  # a trailing slash
    ],
)
def test_any_prefix_bound_to_the_onvif_topic_namespace_becomes_tns1(topic_ns):
    prefix = topic_ns.split(":")[1].split("=")[0]
    result = parse(pull_messages(notification(f"{prefix}:VideoSource/MotionAlarm", "State=true", topic_ns=topic_ns)))
    assert result.notifications[0].topic == "tns1:VideoSource/MotionAlarm"


def test_topic_prefixes_declared_on_the_envelope_are_resolved():
    """Hikvision declares tns1 once on the Envelope; the Topic element inherits it."""
    result = parse(
        pull_messages(notification("tns1:RuleEngine/CellMotionDetector/Motion", "IsMotion=true", topic_ns=""))
    )
    assert result.notifications[0].topic == "tns1:RuleEngine/CellMotionDetector/Motion"


def test_prefixes_on_every_segment_are_folded_into_one():
    result = parse(
        pull_messages(
            notification(
                "ns0:RuleEngine/ns0:FieldDetector/ns0:ObjectsInside",
                topic_ns='xmlns:ns0="http://www.onvif.org/ver10/topics"',
            )
        )
    )
    assert result.notifications[0].topic == "tns1:RuleEngine/FieldDetector/ObjectsInside"


def test_a_default_namespace_topic_gets_the_tns1_prefix():
    result = parse(
        pull_messages(notification("VideoSource/SignalLoss", topic_ns='xmlns="http://www.onvif.org/ver10/topics"'))
    )
    assert result.notifications[0].topic == "tns1:VideoSource/SignalLoss"


def test_vendor_topic_prefixes_are_kept_as_sent_and_undeclared_tns1_is_trusted():
    reply = pull_messages(
        notification("tnshik:Vendor/Thing", topic_ns='xmlns:tnshik="http://www.hikvision.com/2011/event/topics"'),
        notification("tns1:VideoSource/MotionAlarm", topic_ns='xmlns:tns1="urn:not-onvif"'),
    )
    vendor, foreign = parse(reply).notifications
    assert vendor.topic == "tnshik:Vendor/Thing"
    assert foreign.topic == "tns1:VideoSource/MotionAlarm"  # as sent: the camera's own business


@pytest.mark.parametrize(
    ("utc_time", "expected"),
    [
        ("2026-11-22T10:00:05Z", at(10, 0, 5)),
        ("2026-11-22T10:00:05", at(10, 0, 5)),
        ("2026-11-22T10:61:05Z", None),
        ("0000-00-00T00:00:00Z", None),
        ("2026-11-22-10:00:05Z", at(10, 0, 5)),
    ],
)
def test_a_malformed_utc_time_is_none_and_its_text_kept(utc_time, expected):
    (item,) = parse(
        pull_messages(notification("tns1:VideoSource/MotionAlarm", "State=true", utc_time=utc_time))
    ).notifications
    assert item.utc_time == expected
    assert item.raw_utc_time == utc_time


def test_key_items_and_element_items_are_kept():
    message = (
        '<wsnt:NotificationMessage><wsnt:Topic Dialect="x">tns1:RuleEngine/LineDetector/Crossed</wsnt:Topic>'
        '<wsnt:Message><tt:Message UtcTime="2026-11-22T10:00:05Z">'
        '<tt:Source><tt:SimpleItem Name="Rule" Value="North gate"/></tt:Source>'
        '<tt:Key><tt:SimpleItem Name="ObjectId" Value="12"/></tt:Key>'
        '<tt:Data><tt:ElementItem Name="Shape"><tt:Point x="1" y="2"/></tt:ElementItem>'
        '<tt:SimpleItem Value="nameless"/></tt:Data>'
        "</tt:Message></wsnt:Message></wsnt:NotificationMessage>"
    )
    (item,) = parse(pull_messages(message)).notifications
    assert item.key == (("ObjectId", "12"),)
    assert item.source == (("Rule", "North gate"),)
    assert item.data == (("Shape", '<Point x="1" y="2"/>'),)  # namespace-free, readable
    assert item.producer is None and item.operation is None


def test_a_notification_without_a_message_still_arrives_with_its_topic():
    """An event is never dropped for being thin: an unknown shape still gives its topic."""
    message = (
        '<wsnt:NotificationMessage><wsnt:Topic Dialect="x">tns1:Device/Odd</wsnt:Topic></wsnt:NotificationMessage>'
    )
    (item,) = parse(pull_messages(message)).notifications
    assert item.topic == "tns1:Device/Odd"
    assert (item.utc_time, item.source, item.data) == (None, (), ())


def test_items_and_texts_are_bounded():
    many = ",".join(f"N{index}=v" for index in range(100))
    long = "x" * 1000
    (item,) = parse(pull_messages(notification("tns1:" + long, many + f",Long={long}"))).notifications
    assert len(item.data) == events.MAX_ITEMS
    assert len(item.topic) <= events.MAX_TEXT
    assert all(len(value) <= events.MAX_TEXT for _, value in item.data)


def test_pull_answers_to_another_question_or_faults_are_raised():
    with pytest.raises(ReplyError, match="PullMessagesResponse"):
        parse(samples.RENEW)
    with pytest.raises(SoapFault) as caught:
        parse(samples.FAULT_RESOURCE_UNKNOWN)
    assert caught.value.is_unknown_subscription


# --- Renew, Unsubscribe, SetSynchronizationPoint ----------------------------------------------------


def test_renew_sends_the_termination_and_reads_the_new_one():
    body = request_body(events.renew(termination="PT60S"))
    assert body.tag == f"{WSNT}Renew"
    assert body.findtext(f"{WSNT}TerminationTime") == "PT60S"
    assert events.parse_renew(parse_untrusted(samples.RENEW)) == at(10, 2)


def test_a_renew_answer_without_a_good_time_is_none():
    for termination in ("", "<wsnt:TerminationTime>2026-11-22T10:61:00Z</wsnt:TerminationTime>"):
        reply = samples.axis(f'<wsnt:RenewResponse xmlns:wsnt="{ns.WSNT}">{termination}</wsnt:RenewResponse>')
        assert events.parse_renew(parse_untrusted(reply)) is None


def test_unsubscribe_and_synchronisation_point_requests():
    assert request_body(events.unsubscribe()).tag == f"{WSNT}Unsubscribe"
    assert request_body(events.set_synchronization_point()).tag == f"{TEV}SetSynchronizationPoint"


def test_subscription_is_a_frozen_value():
    subscription = Subscription("http://cam/sub", None, None)
    assert subscription.reference_parameters == ()
    with pytest.raises(AttributeError):
        subscription.address = "elsewhere"
