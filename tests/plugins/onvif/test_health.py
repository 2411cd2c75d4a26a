"""A camera's health: hysteresis on failures and recoveries, one transition per change, growing back-off."""

from __future__ import annotations

import pytest
from twisted.internet.task import Clock

from plugins.onvif.health import (
    REFUSED_LOGIN,
    UNREACHABLE,
    UNUSABLE,
    BackOff,
    CameraHealth,
)


def health(clock: Clock | None = None, *, failures: int = 3, recoveries: int = 2, random: float = 0.0) -> CameraHealth:
    return CameraHealth(clock=clock or Clock(), failures_before_offline=failures, recoveries_before_online=recoveries,
                        retry_min_s=5, retry_max_s=300, random=lambda: random)


def test_the_first_success_makes_a_new_camera_online_at_once():
    """No earlier verdict to be sure against: one good connection is enough for the first one."""
    clock = Clock()
    clock.advance(100)
    camera = health(clock)
    transition = camera.succeeded("connected")
    assert (transition.state, transition.previous, transition.since) == ("online", None, 100)
    assert camera.succeeded() is None


def test_a_camera_goes_offline_only_after_n_failures_in_a_row():
    """Two failures change nothing; the third makes it offline, once; more failures say nothing."""
    camera = health()
    camera.succeeded()
    assert camera.failed(UNREACHABLE, "timeout") is None
    assert camera.failed(UNREACHABLE, "timeout") is None
    transition = camera.failed(UNREACHABLE, "connection refused")
    assert (transition.state, transition.previous, transition.reason, transition.failures) == (
        "offline", "online", "connection refused", 3)
    assert [camera.failed(UNREACHABLE, "timeout") for _ in range(10)] == [None] * 10
    assert camera.state == "offline"


def test_a_success_between_failures_starts_the_count_again():
    """Failure, failure, success, failure, failure: never three in a row, so never offline."""
    camera = health()
    camera.succeeded()
    camera.failed(UNREACHABLE, "x")
    camera.failed(UNREACHABLE, "x")
    camera.succeeded()
    assert camera.failed(UNREACHABLE, "x") is None
    assert camera.failed(UNREACHABLE, "x") is None
    assert camera.state == "online"


def test_coming_back_needs_the_configured_successes_in_a_row():
    """With recoveries_before_online 2: one success after offline is not enough, the second is."""
    camera = health(recoveries=2)
    camera.succeeded()
    for _ in range(3):
        camera.failed(UNREACHABLE, "x")
    assert camera.succeeded() is None
    assert camera.state == "offline"
    transition = camera.succeeded("back")
    assert (transition.state, transition.previous) == ("online", "offline")


def test_a_refused_login_is_auth_failed_at_once():
    """The client already re-read the camera's clock and retried: one refusal is a verdict."""
    camera = health()
    camera.succeeded()
    transition = camera.failed(REFUSED_LOGIN, "NotAuthorized")
    assert (transition.state, transition.previous) == ("auth_failed", "online")
    assert camera.failed(REFUSED_LOGIN, "NotAuthorized") is None


def test_a_camera_that_answers_without_events_is_degraded_after_n_attempts():
    """Unusable replies count like failures; the state they lead to is degraded."""
    camera = health()
    camera.succeeded()
    assert camera.failed(UNUSABLE, "no pull point") is None
    assert camera.failed(UNUSABLE, "no pull point") is None
    assert camera.failed(UNUSABLE, "no pull point").state == "degraded"


def test_an_offline_camera_that_answers_but_cannot_be_subscribed_is_degraded_at_once():
    """The count is already past the threshold: the latest failure's meaning wins straight away."""
    camera = health()
    for _ in range(3):
        camera.failed(UNREACHABLE, "x")
    transition = camera.failed(UNUSABLE, "pull point answers 401")
    assert (transition.state, transition.previous) == ("degraded", "offline")


def test_the_first_verdict_of_a_camera_never_reached_is_offline_after_n_failures():
    """A camera that never answered goes from no state to offline, after the same hysteresis."""
    camera = health()
    assert camera.failed(UNREACHABLE, "x") is None
    assert camera.failed(UNREACHABLE, "x") is None
    assert camera.failed(UNREACHABLE, "x").previous is None


@pytest.mark.parametrize(("failures", "full"), [(0, 0), (1, 5), (2, 10), (3, 20), (6, 160), (7, 300), (500, 300)])
def test_back_off_doubles_from_the_minimum_up_to_the_maximum(failures, full):
    """5, 10, 20 ... capped at 300, even after hundreds of failures."""
    assert BackOff(5, 300, lambda: 0.0).delay(failures) == full


def test_jitter_only_ever_shortens_the_wait_by_up_to_a_fifth():
    """random 1.0 gives 80% of the wait, 0.5 gives 90%; the maximum is never exceeded."""
    assert BackOff(5, 300, lambda: 1.0).delay(3) == pytest.approx(16)
    assert BackOff(5, 300, lambda: 0.5).delay(10) == pytest.approx(270)


def test_the_wait_follows_the_failures_in_a_row():
    """retry_in_s grows with each failure and is 0 again after a success."""
    camera = health()
    waits = []
    for _ in range(4):
        camera.failed(UNREACHABLE, "x")
        waits.append(camera.retry_in_s())
    assert waits == [5, 10, 20, 40]
    camera.succeeded()
    assert camera.retry_in_s() == 0
