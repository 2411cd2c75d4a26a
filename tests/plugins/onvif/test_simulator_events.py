"""The simulated camera's events, sans-IO: pull points, long polls, property states and synchronisation."""

from __future__ import annotations

from plugins.onvif.sim_camera import HANGUP, LongPoll, Reply
from plugins.onvif.sim_replies import parse_datetime
from tests.plugins.onvif.simulator_client import (
    EVENTS,
    NS,
    START,
    call,
    fault_subcodes,
    make_camera,
    operation,
    root_of,
    texts,
)

MOTION = "tns1:VideoSource/MotionAlarm"


def create(camera, termination: str | None = "PT60S") -> Reply:
    inner = f"<tev:InitialTerminationTime>{termination}</tev:InitialTerminationTime>" if termination else ""
    return call(camera, EVENTS, operation("tev", "CreatePullPointSubscription", inner))


def address_path(reply: Reply) -> str:
    [address] = texts(reply, "//tev:SubscriptionReference/wsa:Address/text()")
    return "/" + address.split("/", 3)[3]


def pull(camera, path: str, timeout: str = "PT30S", limit: int = 10):
    return call(camera, path, operation("tev", "PullMessages", f"<tev:Timeout>{timeout}</tev:Timeout>"
                                        f"<tev:MessageLimit>{limit}</tev:MessageLimit>"))


def lifetime(reply: Reply, current: str = "//wsnt:CurrentTime/text()",
             termination: str = "//wsnt:TerminationTime/text()") -> float:
    now, end = (parse_datetime(texts(reply, xpath)[0]) for xpath in (current, termination))
    assert now is not None and end is not None
    return end[0] - now[0]


def topics(reply: Reply) -> list[str]:
    return texts(reply, "//wsnt:Topic/text()")


def items(reply: Reply, kind: str, name: str) -> list[str]:
    return texts(reply, f"//tt:Message/tt:{kind}/tt:SimpleItem[@Name='{name}']/@Value")


def test_a_pull_point_is_created_at_its_own_address_for_the_time_asked():
    """PT60S gives a pull point at /onvif/subscription/1 ending 60 s after the camera's current time."""
    camera = make_camera()
    created = create(camera)
    assert created.status == 200
    assert texts(created, "//wsa:Address/text()") == ["http://127.0.0.1:8080/onvif/subscription/1"]
    assert lifetime(created) == 60
    assert texts(created, "//wsnt:CurrentTime/text()") == ["2027-01-15T08:00:00Z"]
    assert camera.live_pull_points() == 1


def test_queued_messages_are_answered_at_once_up_to_the_limit():
    """Three events queued: a pull with MessageLimit 2 gets two at once, the next the third."""
    camera = make_camera()
    path = address_path(create(camera))
    for state in (True, False, True):
        camera.raise_event(MOTION, state=state)
    first, second = pull(camera, path, limit=2), pull(camera, path, limit=2)
    assert items(first, "Data", "State") == ["true", "false"] and items(second, "Data", "State") == ["true"]
    assert items(first, "Data", "SimSentNs") == ["424242", "424242"]
    assert texts(first, "//tt:Message/@PropertyOperation") == ["Changed", "Changed"]
    assert items(first, "Source", "Source") == ["VideoSource_1", "VideoSource_1"]
    assert lifetime(first, "//tev:CurrentTime/text()", "//tev:TerminationTime/text()") == 60
    assert camera.notifications_delivered == 3


def test_with_nothing_queued_a_pull_waits_and_the_next_event_answers_it():
    """An empty queue makes a LongPoll for the timeout asked; answer_poll after an event carries it."""
    camera = make_camera()
    path = address_path(create(camera))
    poll = pull(camera, path, timeout="PT45S")
    assert isinstance(poll, LongPoll) and poll.timeout_s == 45 and poll.limit == 10
    camera.raise_event("tns1:Device/Trigger/DigitalInput", state=True, source={"InputToken": "Help_1"})
    answer = camera.answer_poll(poll, timed_out=False)
    assert topics(answer) == ["tns1:Device/Trigger/DigitalInput"]
    assert items(answer, "Data", "LogicalState") == ["true"] and items(answer, "Source", "InputToken") == ["Help_1"]
    empty = camera.answer_poll(pull(camera, path), timed_out=True)
    assert empty.status == 200 and topics(empty) == []


def test_an_event_wakes_the_waiter_of_every_pull_point():
    """The server's waiter on each live pull point is woken by one raise_event."""
    camera = make_camera()
    woken = []

    class Waiter:
        def __init__(self, name):
            self.name = name

        def wake(self):
            woken.append(self.name)

        def drop(self):
            woken.append(f"dropped {self.name}")

    for name in ("a", "b"):
        poll = pull(camera, address_path(create(camera)))
        poll.pull_point.waiter = Waiter(name)
    camera.raise_event(MOTION, state=True)
    assert woken == ["a", "b"]


def test_a_second_pull_on_the_same_pull_point_answers_the_first_empty():
    camera = make_camera()
    path = address_path(create(camera))
    first = pull(camera, path)
    answered = []
    first.pull_point.waiter = type("W", (), {"wake": lambda self: answered.append(True), "drop": None})()
    assert isinstance(pull(camera, path), LongPoll)
    assert answered == [True] and first.pull_point.waiter is None


def test_a_vendor_topic_and_a_momentary_event_are_sent_as_they_are():
    """A non-tns1 prefix is declared on the Topic; an event without state has no PropertyOperation."""
    camera = make_camera()
    path = address_path(create(camera))
    camera.raise_event("acme:Analytics/Loitering", namespace="http://acme.example/topics", Zone="North")
    reply = pull(camera, path)
    assert topics(reply) == ["acme:Analytics/Loitering"]
    [topic] = root_of(reply).xpath("//wsnt:Topic", namespaces=NS)
    assert topic.nsmap["acme"] == "http://acme.example/topics"
    assert texts(reply, "//tt:Message/@PropertyOperation") == []
    assert items(reply, "Data", "Zone") == ["North"]


def test_a_new_subscription_and_a_synchronisation_point_resend_property_states_as_initialized():
    """Motion on: a pull point made later starts with it Initialized; SetSynchronizationPoint sends it again."""
    camera = make_camera()
    camera.raise_event(MOTION, state=True)
    camera.raise_event("tns1:VideoSource/SignalLoss", state=False)
    path = address_path(create(camera))
    first = pull(camera, path)
    assert texts(first, "//tt:Message/@PropertyOperation") == ["Initialized", "Initialized"]
    assert items(first, "Data", "State") == ["true", "false"]
    assert isinstance(pull(camera, path), LongPoll)
    reply = call(camera, path, operation("tev", "SetSynchronizationPoint"))
    assert reply.status == 200 and b"SetSynchronizationPointResponse" in reply.body
    again = pull(camera, path)
    assert topics(again) == [MOTION, "tns1:VideoSource/SignalLoss"]
    assert camera.property_state(MOTION) is True


def test_renew_moves_the_end_and_a_pull_point_past_it_is_gone():
    """Renew PT120S from 50 s in ends it at 170 s; at 171 s PullMessages is a ResourceUnknown fault."""
    camera = make_camera()
    path = address_path(create(camera))
    camera._clock.advance(50)
    renewed = call(camera, path, operation("wsnt", "Renew", "<wsnt:TerminationTime>PT120S</wsnt:TerminationTime>"))
    assert lifetime(renewed) == 120
    camera._clock.advance(119)
    assert pull(camera, path, timeout="PT0S").status == 200
    camera._clock.advance(2)
    gone = pull(camera, path)
    assert gone.status == 400 and fault_subcodes(gone) == ["wsrf-rw:ResourceUnknownFault"]
    assert camera.live_pull_points() == 0


def test_a_waiting_poll_whose_pull_point_expires_gets_a_fault_not_messages():
    camera = make_camera()
    path = address_path(create(camera, "PT10S"))
    poll = pull(camera, path, timeout="PT30S")
    camera._clock.advance(30)
    assert fault_subcodes(camera.answer_poll(poll, timed_out=True)) == ["wsrf-rw:ResourceUnknownFault"]


def test_only_max_pull_points_at_once_and_one_freed_by_unsubscribe_can_be_had_again():
    """Two pull points by default: a third faults (TooManySubscriptions); Unsubscribe frees a place."""
    camera = make_camera()
    first, second = address_path(create(camera)), address_path(create(camera))
    assert (first, second) == ("/onvif/subscription/1", "/onvif/subscription/2")
    refused = create(camera)
    assert refused.status == 500 and "ter:TooManySubscriptions" in fault_subcodes(refused)
    assert call(camera, first, operation("wsnt", "Unsubscribe")).status == 200
    assert pull(camera, first).status == 400
    assert isinstance(pull(camera, second), LongPoll)  # the other one is untouched
    assert address_path(create(camera)) == "/onvif/subscription/1"


def test_an_expired_pull_point_frees_its_place():
    camera = make_camera(max_pull_points=1)
    create(camera, "PT20S")
    assert create(camera).status == 500
    camera._clock.advance(20)
    assert create(camera).status == 200


def test_termination_times_absolute_and_absent_are_honoured():
    """An absolute time with Z or +01:00 is honoured; none at all means the ONVIF default of a minute."""
    camera = make_camera(max_pull_points=3)
    assert lifetime(create(camera, "2027-01-15T08:05:00Z")) == 300
    assert lifetime(create(camera, "2027-01-15T09:02:00+01:00")) == 120
    assert lifetime(create(camera, None)) == 60


def test_a_termination_in_the_past_or_not_a_time_is_refused():
    camera = make_camera()
    for termination in ("2027-01-15T07:59:00Z", "soon"):
        refused = create(camera, termination)
        assert refused.status == 400 and fault_subcodes(refused) == ["ter:InvalidArgVal"]
    assert camera.live_pull_points() == 0


def test_a_reboot_loses_pull_points_properties_and_drops_waiting_polls():
    """After reboot(): the pull point is unknown, motion is no longer on, a waiting poll is dropped."""
    camera = make_camera()
    path = address_path(create(camera))
    camera.raise_event(MOTION, state=True)
    pull(camera, path)
    poll = pull(camera, path)
    dropped = []
    poll.pull_point.waiter = type("W", (), {"wake": None, "drop": lambda self: dropped.append(True)})()
    camera.reboot()
    assert dropped == [True] and camera.boot_count == 1
    assert fault_subcodes(pull(camera, path)) == ["wsrf-rw:ResourceUnknownFault"]
    assert camera.property_state(MOTION) is None
    assert camera.live_pull_points() == 0


def test_the_event_service_describes_its_topics_and_pull_point_limit():
    camera = make_camera(max_pull_points=3)
    properties = call(camera, EVENTS, operation("tev", "GetEventProperties"))
    assert b'<MotionAlarm wstop:topic="true">' in properties.body
    assert b"<tns1:VideoSource>" in properties.body and b"<tns1:PTZController>" in properties.body
    capabilities = call(camera, EVENTS, operation("tev", "GetServiceCapabilities"))
    assert texts(capabilities, "//tev:Capabilities/@MaxPullPoints") == ["3"]


def test_a_bad_pull_request_is_refused():
    camera = make_camera()
    path = address_path(create(camera))
    bad = call(camera, path, operation("tev", "PullMessages", "<tev:Timeout>soon</tev:Timeout>"
                                       "<tev:MessageLimit>0</tev:MessageLimit>"))
    assert fault_subcodes(bad) == ["ter:InvalidArgVal"]


def test_hangup_is_only_for_an_idle_poll_of_a_camera_that_does_so():
    """Without close_idle_polls the timeout gives an empty answer, not a hang-up (see the quirk tests)."""
    camera = make_camera()
    poll = pull(camera, address_path(create(camera)))
    assert camera.answer_poll(poll, timed_out=True) is not HANGUP


def test_the_camera_clock_starts_where_the_reactor_is():
    assert make_camera().now() == START
