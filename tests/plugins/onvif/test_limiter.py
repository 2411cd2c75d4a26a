"""The request limiter: a cap per camera and overall, first come first served, fair between cameras."""

from __future__ import annotations

import pytest
from twisted.internet.defer import CancelledError, Deferred

from hub.testing import assert_no_result, failure_result_of, success_result_of
from plugins.onvif.limiter import Limiter, LimiterBusy


class Works:
    """Work items that finish when the test says; records the order in which they started."""

    def __init__(self, limiter: Limiter) -> None:
        self.limiter = limiter
        self.started: list[str] = []
        self.gates: dict[str, Deferred] = {}

    def submit(self, camera: str, name: str) -> Deferred:
        gate: Deferred = Deferred()
        self.gates[name] = gate

        def work() -> Deferred:
            self.started.append(name)
            return gate

        return Deferred.fromCoroutine(self.limiter.run(camera, work))

    def finish(self, name: str, result: object = None) -> None:
        self.gates[name].callback(result if result is not None else name)


def test_a_camera_never_has_more_requests_running_than_its_cap():
    """The third request for a camera with a cap of two waits until one of the first two ends."""
    works = Works(Limiter(overall=10, per_camera=2))
    first, _second, third = (works.submit("42", name) for name in ("a", "b", "c"))
    assert works.started == ["a", "b"]
    assert works.limiter.running("42") == 2 and works.limiter.waiting("42") == 1
    assert_no_result(third)
    works.finish("a")
    assert success_result_of(first) == "a"
    assert works.started == ["a", "b", "c"]


def test_the_overall_cap_holds_across_cameras_in_arrival_order():
    """With room for two requests in all, the third camera's request runs when one ends, before a later one."""
    works = Works(Limiter(overall=2, per_camera=2))
    for camera in ("1", "2", "3", "4"):
        works.submit(camera, camera)
    assert works.started == ["1", "2"]
    assert works.limiter.running() == 2 and works.limiter.waiting() == 2
    works.finish("2")
    assert works.started == ["1", "2", "3"]
    works.finish("1")
    assert works.started == ["1", "2", "3", "4"]


def test_a_camera_with_a_long_queue_does_not_starve_another():
    """A camera with many requests queued holds at most its cap of places in the overall line."""
    works = Works(Limiter(overall=2, per_camera=2))
    for index in range(6):
        works.submit("busy", f"busy{index}")
    works.submit("quiet", "quiet")
    assert works.started == ["busy0", "busy1"]
    works.finish("busy0")
    assert works.started == ["busy0", "busy1", "quiet"]  # the quiet camera's one request goes next
    works.finish("busy1")
    assert works.started[-1] == "busy2"


def test_a_full_camera_queue_refuses_at_once():
    """Past the bound on waiting requests, a request fails with LimiterBusy and never runs."""
    works = Works(Limiter(overall=10, per_camera=1, max_waiting_per_camera=2))
    for name in ("a", "b", "c"):
        works.submit("42", name)
    refused = works.submit("42", "d")
    failure_result_of(refused).trap(LimiterBusy)
    assert works.started == ["a"]
    other_camera = works.submit("43", "e")
    assert works.started == ["a", "e"]  # the bound is per camera
    works.finish("e")
    assert success_result_of(other_camera) == "e"


def test_a_cancelled_waiting_request_leaves_the_line_without_running():
    """Cancelling a waiting request frees its place; the slot goes to the next one."""
    works = Works(Limiter(overall=1, per_camera=1))
    works.submit("1", "a")
    waiting_for_camera = works.submit("1", "b")
    waiting_overall = works.submit("2", "c")
    later = works.submit("3", "d")
    waiting_for_camera.cancel()
    waiting_overall.cancel()
    failure_result_of(waiting_for_camera).trap(CancelledError)
    failure_result_of(waiting_overall).trap(CancelledError)
    assert works.limiter.waiting() == 1
    works.finish("a")
    assert works.started == ["a", "d"]
    works.finish("d")
    assert success_result_of(later) == "d"
    assert works.limiter.running() == 0 and works.limiter.waiting() == 0


def test_a_failing_request_gives_its_slots_back():
    """A request that raises frees both its camera slot and its overall slot."""
    works = Works(Limiter(overall=1, per_camera=1))
    failing = works.submit("1", "a")
    next_one = works.submit("1", "b")
    works.gates["a"].errback(RuntimeError("camera said no"))
    assert failure_result_of(failing).check(RuntimeError)
    assert works.started == ["a", "b"]
    works.finish("b")
    success_result_of(next_one)
    assert works.limiter.running() == 0 and works.limiter.running("1") == 0


def test_limits_below_one_are_refused():
    """A cap of zero would block every camera forever: it is a configuration error."""
    with pytest.raises(ValueError):
        Limiter(overall=0, per_camera=1)
    with pytest.raises(ValueError):
        Limiter(overall=1, per_camera=0)
