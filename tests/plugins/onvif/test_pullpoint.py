"""The pull-point subscription: one pull point at a time, renewed in time by the camera's own clock,
reopened when lost, never leaked, and every camera misbehaviour around it survived."""

from __future__ import annotations

from typing import Any

import pytest
import structlog
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from hub.testing import assert_no_pending_timers, assert_no_result, failure_result_of, success_result_of
from plugins.onvif.client import AuthFailed, CameraReplyError, CameraUnreachable
from plugins.onvif.codec.namespaces import TEV
from plugins.onvif.pullpoint import (
    STATE_CLOSED,
    STATE_DEGRADED,
    STATE_FAILED,
    STATE_POLL_FAILED,
    STATE_RENEWED,
    STATE_RESUBSCRIBING,
    STATE_SUBSCRIBED,
    PullPointHeld,
    PullPointRefused,
    PullPointSubscription,
)
from plugins.onvif.transport import ConnectionClosed, ConnectionFailed, HttpError
from tests.plugins.onvif.client_fakes import (
    NOT_AUTHORIZED,
    UNKNOWN_SUBSCRIPTION,
    FakeTransport,
    at,
    call_of,
    envelope,
    fault,
    make_client,
    pulled,
    renewed,
    subscription,
    system_time,
)

HUB_T0 = 1_790_000_000.0
SKEW_S = -7 * 3600 - 5  # the camera's clock is hours behind: lifetimes must come from its own times
EVENTS_URL = "http://10.1.2.42:80/onvif/events"
REPORTED_PULL_POINT = "http://192.168.0.9:8106:8106/onvif/pull/1"  # NAT-private, doubled port (quirk 4)
PULL_POINT = "http://10.1.2.42:80/onvif/pull/1"
SECOND_PULL_POINT = "http://10.1.2.42:80/onvif/pull/2"
DEVICE_INFORMATION = envelope("<tds:GetDeviceInformationResponse/>")
SYNCHRONIZED = envelope("<tev:SetSynchronizationPointResponse/>")
UNSUBSCRIBED = envelope("<wsnt:UnsubscribeResponse/>")


class Harness:
    """A subscription over a scripted camera on a fake clock, recording what it delivers and reports."""

    def __init__(self, clock: Clock, **options: Any) -> None:
        self.clock = clock
        self.transport = FakeTransport()
        self.client = make_client(clock, self.transport)
        self.client.clock_offset_s = SKEW_S
        self.client.services[TEV] = EVENTS_URL
        self.delivered: list = []
        self.states: list[tuple[str, str]] = []
        self.subscription = PullPointSubscription(
            self.client, clock, structlog.get_logger(), on_notifications=self.delivered.extend,
            on_state=lambda kind, detail: self.states.append((kind, detail)), **options)

    def camera(self, plus: float = 0) -> Any:
        return at(self.clock.seconds() + SKEW_S + plus)

    def created(self, address: str = REPORTED_PULL_POINT, lifetime: float = 60) -> Any:
        return lambda _sent: subscription(address, self.camera(), self.camera(lifetime))

    def pull_reply(self, remaining: float, *topics: str) -> Any:
        return lambda _sent: pulled(self.camera(), self.camera(remaining), *topics)

    def kinds(self) -> list[str]:
        return [kind for kind, _detail in self.states]

    def sent(self, operation: str) -> list:
        return [sent for sent in self.transport.sent if sent.operation == operation]

    def opened(self, lifetime: float = 60) -> None:
        self.transport.on("CreatePullPointSubscription", self.created(lifetime=lifetime))
        self.transport.on("SetSynchronizationPoint", SYNCHRONIZED)
        success_result_of(call_of(self.subscription.open()))

    def close(self) -> None:
        self.transport.on("Unsubscribe", UNSUBSCRIBED)
        success_result_of(call_of(self.subscription.close()))


@pytest.fixture
def clock() -> Clock:
    clock = Clock()
    clock.advance(HUB_T0)
    yield clock
    assert_no_pending_timers(clock)


def closed_before_reply() -> ConnectionClosed:
    return ConnectionClosed("camera closed the connection before replying", before_reply=True)


def termination_sent(sent) -> str | None:
    found = sent.root.find(f".//{{{TEV}}}InitialTerminationTime")
    return found.text if found is not None else None


def pull_timeout_sent(sent) -> str:
    return sent.root.find(f".//{{{TEV}}}Timeout").text


# --- opening ------------------------------------------------------------------------------------------


def test_opening_subscribes_for_a_minute_then_sets_a_synchronization_point(clock):
    """Relative PT60S first; the rewritten pull-point address gets SetSynchronizationPoint with wsa:To."""
    harness = Harness(clock)
    harness.opened()
    create, = harness.sent("CreatePullPointSubscription")
    assert create.url == EVENTS_URL and termination_sent(create) == "PT60S"
    synchronize, = harness.sent("SetSynchronizationPoint")
    assert synchronize.url == PULL_POINT and synchronize.wsa_to == PULL_POINT
    assert harness.subscription.subscription.address == PULL_POINT
    assert harness.kinds() == [STATE_SUBSCRIBED]
    # Renewal 15 s before the end the camera's own times give, whatever its clock says.
    assert harness.subscription.renew_at == HUB_T0 + 45


def test_a_camera_refusing_relative_times_gets_an_absolute_one_with_z_in_its_own_time(clock):
    """Quirk 2: relative refused, so InitialTerminationTime is the camera's now + 60 s, written with Z;
    the style that worked is tried first next time."""
    harness = Harness(clock)
    harness.transport.on("CreatePullPointSubscription", fault("ter:InvalidArgVal", "bad time"), harness.created())
    harness.transport.on("SetSynchronizationPoint", SYNCHRONIZED)
    success_result_of(call_of(harness.subscription.open()))
    first, second = harness.sent("CreatePullPointSubscription")
    assert termination_sent(first) == "PT60S"
    assert termination_sent(second) == harness.camera(60).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert harness.subscription.style_in_use == "absolute"
    harness.transport.on("Unsubscribe", UNSUBSCRIBED)
    harness.transport.on("CreatePullPointSubscription", harness.created())
    harness.transport.on("SetSynchronizationPoint", SYNCHRONIZED)
    success_result_of(call_of(harness.subscription.open()))
    assert termination_sent(harness.sent("CreatePullPointSubscription")[-1]).endswith("Z")
    harness.close()


def test_a_camera_refusing_both_times_is_subscribed_without_one(clock):
    """Quirk 2 again: relative and absolute both refused (an HTTP 500 among them): no InitialTerminationTime."""
    harness = Harness(clock)
    harness.transport.on("CreatePullPointSubscription", fault(), HttpError(500), harness.created())
    harness.transport.on("SetSynchronizationPoint", SYNCHRONIZED)
    success_result_of(call_of(harness.subscription.open()))
    assert [termination_sent(sent) is None for sent in harness.sent("CreatePullPointSubscription")] == [
        False, False, True]
    assert harness.subscription.style_in_use == "absent"


def test_a_fixed_termination_style_is_the_only_one_tried(clock):
    harness = Harness(clock, termination_style="relative")
    harness.transport.on("CreatePullPointSubscription", fault())
    failure_result_of(call_of(harness.subscription.open())).trap(CameraReplyError)
    assert len(harness.sent("CreatePullPointSubscription")) == 1
    assert harness.subscription.subscription is None


def test_a_refused_synchronization_point_does_not_stop_the_subscription(clock):
    """Cameras vary on SetSynchronizationPoint; a fault there is logged and the pull point used."""
    harness = Harness(clock)
    harness.transport.on("CreatePullPointSubscription", harness.created())
    harness.transport.on("SetSynchronizationPoint", fault("ter:ActionNotSupported"))
    success_result_of(call_of(harness.subscription.open()))
    assert harness.kinds() == [STATE_SUBSCRIBED]


def test_unreadable_subscription_times_fall_back_to_the_lifetime_asked_for(clock):
    """Quirk 5: minute 61 in TerminationTime; the hub assumes the 60 s it asked for."""
    harness = Harness(clock)
    harness.transport.on("CreatePullPointSubscription", envelope(
        "<tev:CreatePullPointSubscriptionResponse><tev:SubscriptionReference>"
        f"<wsa:Address>{REPORTED_PULL_POINT}</wsa:Address></tev:SubscriptionReference>"
        "<wsnt:CurrentTime>0000-00-00T00:00:00Z</wsnt:CurrentTime>"
        "<wsnt:TerminationTime>2026-11-22T10:61:00Z</wsnt:TerminationTime>"
        "</tev:CreatePullPointSubscriptionResponse>"))
    harness.transport.on("SetSynchronizationPoint", SYNCHRONIZED)
    success_result_of(call_of(harness.subscription.open()))
    assert harness.subscription.renew_at == HUB_T0 + 45


def test_a_short_lifetime_is_renewed_halfway(clock):
    """A camera granting 10 s, less than the 15 s margin, is renewed after 5 s."""
    harness = Harness(clock)
    harness.opened(lifetime=10)
    assert harness.subscription.renew_at == HUB_T0 + 5


def test_opening_again_unsubscribes_the_old_pull_point_first(clock):
    """Never two pull points: the old one is unsubscribed before the new one is created (quirk 3)."""
    harness = Harness(clock)
    harness.opened()
    harness.transport.on("Unsubscribe", UNSUBSCRIBED)
    harness.transport.on("CreatePullPointSubscription", harness.created(SECOND_PULL_POINT))
    harness.transport.on("SetSynchronizationPoint", SYNCHRONIZED)
    success_result_of(call_of(harness.subscription.open()))
    operations = harness.transport.operations()
    assert operations[-3:] == ["Unsubscribe", "CreatePullPointSubscription", "SetSynchronizationPoint"]
    assert harness.sent("Unsubscribe")[0].url == PULL_POINT
    assert harness.subscription.subscription.address == SECOND_PULL_POINT


def test_a_pull_point_the_camera_refuses_to_give_back_is_waited_out_before_another(clock):
    """Unsubscribe answered with a fault: the camera keeps that pull point until it expires, so no second
    one is made before then (else every retry would take another, quirk 3); after it, one is."""
    harness = Harness(clock)
    harness.opened(lifetime=60)
    harness.transport.on("Unsubscribe", fault("ter:ActionNotSupported"))
    error = failure_result_of(call_of(harness.subscription.open())).value
    assert isinstance(error, PullPointHeld) and "expires" in str(error) and "ActionNotSupported" in str(error)
    assert "CreatePullPointSubscription" not in harness.transport.operations()[1:]
    clock.advance(30)
    assert isinstance(failure_result_of(call_of(harness.subscription.open())).value, PullPointHeld)
    clock.advance(31)
    harness.transport.on("CreatePullPointSubscription", harness.created(SECOND_PULL_POINT))
    harness.transport.on("SetSynchronizationPoint", SYNCHRONIZED)
    success_result_of(call_of(harness.subscription.open()))
    assert harness.subscription.subscription.address == SECOND_PULL_POINT
    assert harness.transport.operations().count("CreatePullPointSubscription") == 2


@pytest.mark.parametrize("gone", [UNKNOWN_SUBSCRIPTION, HttpError(404, b"Not Found")])
def test_a_pull_point_the_camera_no_longer_has_is_replaced_at_once(clock, gone):
    harness = Harness(clock)
    harness.opened()
    harness.transport.on("Unsubscribe", gone)
    harness.transport.on("CreatePullPointSubscription", harness.created(SECOND_PULL_POINT))
    harness.transport.on("SetSynchronizationPoint", SYNCHRONIZED)
    success_result_of(call_of(harness.subscription.open()))
    assert harness.subscription.subscription.address == SECOND_PULL_POINT


def test_a_camera_without_an_events_service_is_told_plainly(clock):
    harness = Harness(clock)
    del harness.client.services[TEV]
    error = failure_result_of(call_of(harness.subscription.open())).value
    assert isinstance(error, CameraReplyError) and "Events" in str(error)
    assert harness.transport.sent == []


# --- running ------------------------------------------------------------------------------------------


def test_pulls_deliver_notifications_and_end_in_time_for_the_renewal(clock):
    """A first poll of 2 s (it settles whether the pull point works), long polls of 30 s, then one shortened
    to the renewal; Renew asks for PT60S; pulling goes on."""
    harness = Harness(clock)
    harness.opened()
    first, second, third = Deferred(), Deferred(), Deferred()
    harness.transport.on("PullMessages", first, second, third, Deferred())
    harness.transport.on("Renew", lambda _sent: renewed(harness.camera(60)))
    running = call_of(harness.subscription.run())
    clock.advance(2)
    first.callback(pulled(harness.camera(), harness.camera(58), "tns1:VideoSource/MotionAlarm"))
    assert [notification.topic for notification in harness.delivered] == ["tns1:VideoSource/MotionAlarm"]
    clock.advance(30)
    second.callback(pulled(harness.camera(), harness.camera(28)))
    clock.advance(13)
    third_sent = harness.sent("PullMessages")
    assert [pull_timeout_sent(sent) for sent in third_sent] == ["PT2S", "PT30S", "PT13S"]
    assert all(sent.url == PULL_POINT for sent in third_sent)
    assert third_sent[1].timeout_s > 30
    third.callback(pulled(harness.camera(), harness.camera(15)))
    renew, = harness.sent("Renew")
    assert renew.url == PULL_POINT and "PT60S" in renew.body.decode()
    assert harness.kinds()[-1] == STATE_RENEWED
    assert harness.subscription.renew_at == clock.seconds() + 45
    assert_no_result(running)
    harness.close()
    assert success_result_of(running) is None
    assert harness.kinds()[-1] == STATE_CLOSED


def test_a_camera_that_extends_on_each_pull_is_not_renewed(clock):
    """Termination times moving on with every pull push the renewal back."""
    harness = Harness(clock)
    harness.opened()
    replies = [Deferred() for _ in range(3)]
    harness.transport.on("PullMessages", *replies)
    running = call_of(harness.subscription.run())
    for reply in replies[:2]:
        clock.advance(30)
        reply.callback(pulled(harness.camera(), harness.camera(60)))
    assert harness.sent("Renew") == []
    assert harness.subscription.renew_at == clock.seconds() + 45
    harness.close()
    success_result_of(running)


def test_a_connection_held_then_closed_is_the_cameras_empty_answer(clock):
    """Quirk 6: closed after being held 20 s with nothing to say: polled again at once, not a failure."""
    harness = Harness(clock, max_consecutive_failures=2)
    harness.opened(lifetime=600)
    held = [Deferred() for _ in range(4)]
    harness.transport.on("PullMessages", *held)
    running = call_of(harness.subscription.run())
    for index in range(3):
        clock.advance(20)
        held[index].errback(closed_before_reply())
        assert len(harness.sent("PullMessages")) == index + 2  # asked again at once
    assert STATE_POLL_FAILED not in harness.kinds()
    harness.close()
    success_result_of(running)


def test_failures_in_a_row_end_the_run_so_a_dead_camera_is_noticed(clock):
    """Closed at once, refused, closed at once: counted, spaced out, and the third ends the run."""
    harness = Harness(clock, max_consecutive_failures=3, retry_delay_s=1.0)
    harness.opened()
    harness.transport.on("PullMessages", closed_before_reply(), ConnectionFailed("refused"),
                         closed_before_reply())
    running = call_of(harness.subscription.run())
    assert len(harness.sent("PullMessages")) == 1
    clock.advance(1)
    assert len(harness.sent("PullMessages")) == 2
    clock.advance(1.9)
    assert len(harness.sent("PullMessages")) == 2  # the second wait is longer
    clock.advance(0.1)
    error = failure_result_of(running).value
    assert isinstance(error, CameraUnreachable)
    assert harness.kinds()[-4:] == [STATE_POLL_FAILED] * 3 + [STATE_FAILED]
    # The pull point is still known, so a later close (or open) unsubscribes it.
    harness.close()
    assert harness.sent("Unsubscribe")[0].url == PULL_POINT


def test_a_successful_pull_starts_the_failure_count_again(clock):
    harness = Harness(clock, max_consecutive_failures=2)
    harness.opened()
    last: Deferred = Deferred()
    harness.transport.on("PullMessages", ConnectionFailed("refused"), harness.pull_reply(50),
                         ConnectionFailed("refused"), last)
    running = call_of(harness.subscription.run())
    clock.advance(1)
    clock.advance(1)
    assert len(harness.sent("PullMessages")) == 4
    assert harness.subscription.consecutive_failures == 1
    harness.close()
    success_result_of(running)


@pytest.mark.parametrize("lost", [UNKNOWN_SUBSCRIPTION, HttpError(404, b"Not Found"), HttpError(400),
                                  HttpError(500, UNKNOWN_SUBSCRIPTION)])
def test_a_lost_pull_point_is_unsubscribed_and_replaced(clock, lost):
    """After a reboot the pull point is unknown (fault, 404 or 400): unsubscribe it, open another,
    synchronize, and pull from the new address."""
    harness = Harness(clock)
    harness.opened()
    waiting: Deferred = Deferred()
    harness.transport.on("PullMessages", lost, waiting)
    harness.transport.on("Unsubscribe", fault("wsrf-bf:ResourceUnknownFault"))
    harness.transport.on("CreatePullPointSubscription", harness.created(SECOND_PULL_POINT))
    harness.transport.on("SetSynchronizationPoint", SYNCHRONIZED)
    running = call_of(harness.subscription.run())
    assert harness.transport.operations()[2:] == [
        "PullMessages", "Unsubscribe", "CreatePullPointSubscription", "SetSynchronizationPoint", "PullMessages"]
    assert harness.sent("Unsubscribe")[0].url == PULL_POINT
    assert harness.sent("PullMessages")[-1].url == SECOND_PULL_POINT
    assert STATE_RESUBSCRIBING in harness.kinds()
    harness.close()
    success_result_of(running)
    assert harness.sent("Unsubscribe")[-1].url == SECOND_PULL_POINT


def test_an_unreadable_pull_reply_is_asked_again_without_reopening(clock):
    """Quirk 7: a pull point that answers junk is still there; it counts, and is asked again."""
    harness = Harness(clock)
    harness.opened()
    waiting: Deferred = Deferred()
    harness.transport.on("PullMessages", b"<PullMessagesResponse", waiting)
    running = call_of(harness.subscription.run())
    clock.advance(1)
    assert len(harness.sent("PullMessages")) == 2 and harness.sent("CreatePullPointSubscription")[1:] == []
    harness.close()
    success_result_of(running)


def test_a_refused_renewal_opens_a_new_pull_point(clock):
    harness = Harness(clock)
    harness.opened(lifetime=4)  # renewal due after 2 s
    first: Deferred = Deferred()
    harness.transport.on("PullMessages", first, Deferred())
    harness.transport.on("Renew", fault("wsnt:UnacceptableTerminationTimeFault"))
    harness.transport.on("Unsubscribe", UNSUBSCRIBED)
    harness.transport.on("CreatePullPointSubscription", harness.created(SECOND_PULL_POINT))
    harness.transport.on("SetSynchronizationPoint", SYNCHRONIZED)
    running = call_of(harness.subscription.run())
    assert pull_timeout_sent(harness.sent("PullMessages")[0]) == "PT2S"
    clock.advance(2)
    first.callback(pulled(harness.camera(), None))
    assert harness.transport.operations()[-5:] == [
        "Renew", "Unsubscribe", "CreatePullPointSubscription", "SetSynchronizationPoint", "PullMessages"]
    harness.close()
    success_result_of(running)


def test_a_pull_point_refusing_what_the_device_accepts_is_degraded(clock):
    """Quirk 7: the advertised pull point answers 401 while the device answers: PullPointRefused."""
    harness = Harness(clock)
    harness.opened()
    harness.transport.on("PullMessages", HttpError(401), HttpError(401))
    harness.transport.on("GetSystemDateAndTime", lambda _sent: system_time(harness.camera()))
    harness.transport.on("GetDeviceInformation", DEVICE_INFORMATION)
    error = failure_result_of(call_of(harness.subscription.run())).value
    assert isinstance(error, PullPointRefused)
    assert STATE_DEGRADED in harness.kinds() and harness.kinds()[-1] == STATE_FAILED
    harness.close()


def test_credentials_the_device_refuses_too_are_an_auth_failure(clock):
    harness = Harness(clock)
    harness.opened()
    harness.transport.on("PullMessages", NOT_AUTHORIZED, NOT_AUTHORIZED)
    harness.transport.on("GetSystemDateAndTime", lambda _sent: system_time(harness.camera()))
    harness.transport.on("GetDeviceInformation", NOT_AUTHORIZED, NOT_AUTHORIZED)
    harness.transport.on("GetSystemDateAndTime", lambda _sent: system_time(harness.camera()))
    error = failure_result_of(call_of(harness.subscription.run())).value
    assert isinstance(error, AuthFailed) and STATE_DEGRADED not in harness.kinds()
    harness.close()


def test_a_delivery_that_raises_does_not_end_the_events(clock):
    harness = Harness(clock)
    harness.subscription._on_notifications = lambda notifications: 1 / 0
    harness.opened()
    waiting: Deferred = Deferred()
    harness.transport.on("PullMessages", harness.pull_reply(50, "tns1:VideoSource/MotionAlarm"), waiting)
    running = call_of(harness.subscription.run())
    assert len(harness.sent("PullMessages")) == 2
    harness.close()
    success_result_of(running)


# --- closing ------------------------------------------------------------------------------------------


def test_run_opens_when_nothing_is_open_and_close_cancels_the_long_poll(clock):
    """close() ends the long poll at once, unsubscribes, and run() returns without error."""
    harness = Harness(clock)
    harness.transport.on("CreatePullPointSubscription", harness.created())
    harness.transport.on("SetSynchronizationPoint", SYNCHRONIZED)
    cancelled: list[Deferred] = []
    harness.transport.on("PullMessages", Deferred(cancelled.append))
    running = call_of(harness.subscription.run())
    assert_no_result(running)
    harness.close()
    assert len(cancelled) == 1
    assert success_result_of(running) is None
    assert harness.subscription.subscription is None
    assert harness.transport.operations()[-1] == "Unsubscribe"


def test_an_unsubscribe_that_never_answers_is_given_up_in_bounded_time(clock):
    harness = Harness(clock, unsubscribe_timeout_s=5)
    harness.opened()
    cancelled: list[Deferred] = []
    harness.transport.on("Unsubscribe", Deferred(cancelled.append))
    closing = call_of(harness.subscription.close())
    assert_no_result(closing)
    clock.advance(4.9)
    assert_no_result(closing)
    clock.advance(0.1)
    success_result_of(closing)
    assert len(cancelled) == 1


def test_closing_during_an_unsubscribe_before_reopening_opens_nothing(clock):
    """A close that arrives while a lost pull point is being unsubscribed must not leave a new one open."""
    harness = Harness(clock)
    harness.opened()
    unsubscribing: Deferred = Deferred()
    harness.transport.on("PullMessages", UNKNOWN_SUBSCRIPTION)
    harness.transport.on("Unsubscribe", unsubscribing)
    running = call_of(harness.subscription.run())
    closing = call_of(harness.subscription.close())
    unsubscribing.callback(UNSUBSCRIBED)
    success_result_of(closing)
    success_result_of(running)
    assert harness.sent("CreatePullPointSubscription")[1:] == []
    assert harness.subscription.subscription is None


def test_closing_twice_unsubscribes_once(clock):
    harness = Harness(clock)
    harness.opened()
    harness.close()
    success_result_of(call_of(harness.subscription.close()))
    assert len(harness.sent("Unsubscribe")) == 1
