"""The simulator's fault script: which fault is on when, played once or in rounds, on elapsed time alone."""

from __future__ import annotations

import math

import pytest

from hub.config import Expected
from plugins.dark_fibre_health.sim_faults import (
    FaultConfig,
    FaultScript,
    Windows,
    dark_in_slot,
)


def fault(node="node-03", kind="down", at_s=60.0, for_s=120.0, **settings) -> FaultConfig:
    return FaultConfig(node=node, kind=kind, at_s=at_s, for_s=for_s, **settings)


def test_a_fault_is_on_from_its_start_until_just_before_its_end():
    script = FaultScript([fault()])
    assert [bool(script.active("node-03", t)) for t in (0, 59.999, 60, 179.999, 180, 10_000)] == [
        False, False, True, True, False, False]
    assert script.active("node-02", 100) == ()


def test_a_fault_without_a_length_lasts_for_ever_without_rounds():
    script = FaultScript([fault(for_s=None)])
    assert script.active("node-03", 1e9) == (fault(for_s=None),)
    assert script.windows("node-03", "down").time_in(1060) == pytest.approx(1000)


def test_rounds_play_the_script_again_and_a_fault_without_a_length_ends_with_its_round():
    script = FaultScript([fault(), fault(kind="loss", at_s=250, for_s=None)], repeat_s=300)
    assert bool(script.active("node-03", 300 + 61)) and bool(script.active("node-03", 600 + 179))
    assert [f.kind for f in script.active("node-03", 300 + 299)] == ["loss"]
    assert script.active("node-03", 600 + 10) == ()
    assert script.since_start(fault(), 900 + 70) == pytest.approx(10)


def test_the_next_change_is_the_next_start_or_end_and_none_once_the_script_is_over():
    script = FaultScript([fault(), fault(node="node-01", kind="port_down", at_s=100, for_s=10)])
    assert [script.next_change(t) for t in (0, 60, 100, 110, 179, 180)] == [60, 100, 110, 180, 180, None]


def test_the_next_change_wraps_into_the_next_round():
    script = FaultScript([fault()], repeat_s=300)
    assert script.next_change(200) == 360
    assert script.next_change(360) == 480
    assert FaultScript([]).next_change(5) is None


def test_windows_merge_overlaps_and_say_when_the_condition_last_changed():
    windows = Windows([(10, 20), (15, 30), (50, 60)])
    assert windows.intervals == ((10, 30), (50, 60))
    assert [windows.last_change(t) for t in (5, 10, 25, 30, 55, 100)] == [None, 10, 10, 30, 50, 60]
    assert windows.time_in(55) == pytest.approx(25)


def test_in_rounds_the_last_change_of_an_earlier_round_is_remembered():
    windows = Windows([(10, 20)], period=100)
    assert windows.last_change(105) == 20  # the round's own change is yet to come
    assert windows.last_change(115) == 110
    assert windows.time_in(215) == pytest.approx(25)


def test_a_condition_running_across_the_round_boundary_does_not_change_there():
    windows = Windows([(0, 10), (90, 100)], period=100)
    assert windows.last_change(0) == 0  # the very start is a change: the simulator starts with it on
    assert windows.last_change(105) == 90
    assert windows.holds(99.9) and windows.holds(100) and not windows.holds(110)


def test_about_the_given_share_of_loss_slots_are_dark_and_the_same_each_run():
    dark = [dark_in_slot(7, "node-02", slot, 30.0) for slot in range(2000)]
    assert 0.25 < sum(dark) / len(dark) < 0.35
    assert dark == [dark_in_slot(7, "node-02", slot, 30.0) for slot in range(2000)]
    assert dark != [dark_in_slot(8, "node-02", slot, 30.0) for slot in range(2000)]


@pytest.mark.parametrize("settings, expected", [
    ({"kind": "unplugged"}, "one of: down, loss, rx_decline, port_down"),
    ({"for_s": 0}, "a number above 0"),
    ({"at_s": -1}, "a number from 0"),
    ({"loss_pct": 0}, "a number above 0 and at most 100"),
    ({"port": "access"}, "one of: uplink, downlink"),
])
def test_a_fault_that_makes_no_sense_is_refused_saying_what_was_expected(settings, expected):
    with pytest.raises(Expected, match=expected):
        fault(**settings)


def test_windows_without_rounds_never_give_nan():
    windows = Windows([(0, math.inf)])
    assert windows.last_change(5) == 0 and windows.time_in(5) == 5
