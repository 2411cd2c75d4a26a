"""The probe scheduler on a fake clock: every target once per interval, spread evenly, never a burst
(not at start, not when the list changes, not after the reactor was held up), one timer, none left."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import pytest
from twisted.internet.task import Clock

from hub.testing import assert_no_pending_timers
from plugins.dark_fibre_health.scheduler import ProbeScheduler


class Scheduled:
    """A scheduler on a fake clock, recording what each tick sent and when it ticked."""

    def __init__(self, targets: int, *, interval_s: float = 1.0, tick_s: float = 0.01) -> None:
        self.clock = Clock()
        self.clock.advance(1000.0)
        self.sent: list[tuple[float, str]] = []
        self.ticks: list[float] = []
        self.scheduler = ProbeScheduler(self.clock, interval_s=interval_s, tick_s=tick_s,
                                        send=lambda name: self.sent.append((self.clock.seconds(), name)),
                                        on_tick=self.ticks.append)
        self.scheduler.set_targets([f"FN-{number:04d}" for number in range(targets)])
        self.limit = math.ceil(targets * tick_s / interval_s) + 1

    def run(self, seconds: float, step: float = 0.01) -> None:
        for _ in range(round(seconds / step)):
            self.clock.advance(step)

    def per_tick(self) -> Counter[float]:
        return Counter(when for when, _name in self.sent)


@pytest.mark.parametrize(("targets", "interval_s", "tick_s"), [
    (1000, 1.0, 0.01), (7, 1.0, 0.01), (250, 2.0, 0.05), (3, 0.5, 0.2), (1, 1.0, 0.01),
])
def test_every_target_is_sent_once_per_interval(targets, interval_s, tick_s):
    """Five intervals send every target five times (six for those whose slot falls on the last tick),
    each probe of a target one interval after its previous one, give or take a tick."""
    scheduled = Scheduled(targets, interval_s=interval_s, tick_s=tick_s)
    scheduled.scheduler.start()
    scheduled.run(interval_s * 5, step=tick_s)
    times: dict[str, list[float]] = {}
    for when, name in scheduled.sent:
        times.setdefault(name, []).append(when)
    assert len(times) == targets
    assert {len(sent) for sent in times.values()} <= {5, 6}
    gaps = [later - earlier for sent in times.values() for earlier, later in itertools.pairwise(sent)]
    assert min(gaps) >= interval_s - tick_s - 1e-6 and max(gaps) <= interval_s + tick_s + 1e-6


def test_a_thousand_targets_are_spread_over_the_interval_and_no_tick_sends_more_than_its_share():
    """1,000 targets a second in ticks of 10 ms: ten a tick, at most ceil(n * tick / interval) + 1."""
    scheduled = Scheduled(1000)
    scheduled.scheduler.start()
    scheduled.run(10.0)
    per_tick = scheduled.per_tick()
    assert max(per_tick.values()) <= scheduled.limit == 11
    assert len(per_tick) >= 990  # nearly every tick of the ten seconds sends
    assert scheduled.scheduler.skipped == 0


def test_there_is_no_burst_at_start():
    """The first tick sends the first slot only; the first interval spreads all targets like the rest."""
    scheduled = Scheduled(1000)
    scheduled.scheduler.start()
    assert [name for _when, name in scheduled.sent] == ["FN-0000"]
    scheduled.run(0.1)
    assert len(scheduled.sent) == pytest.approx(100, abs=2)


def test_each_target_keeps_its_slot_in_every_interval():
    """Target i goes out at i * interval / n into each interval (to a tick), so its probes are one
    interval apart, not bunched."""
    scheduled = Scheduled(100, interval_s=1.0, tick_s=0.01)
    scheduled.scheduler.start()
    scheduled.run(3.0)
    times = [when for when, name in scheduled.sent if name == "FN-0042"]
    assert [round(later - earlier, 6) for earlier, later in itertools.pairwise(times)] == [1.0, 1.0]
    assert times[0] - 1000.0 == pytest.approx(0.42, abs=0.011)


def test_the_tick_hook_runs_every_tick_with_the_clock_time_even_with_no_targets():
    scheduled = Scheduled(0)
    scheduled.scheduler.start()
    scheduled.run(0.05)
    assert scheduled.ticks == pytest.approx([1000.0, 1000.01, 1000.02, 1000.03, 1000.04, 1000.05])
    assert scheduled.sent == []


def test_one_timer_runs_the_schedule_and_none_is_left_after_stop():
    scheduled = Scheduled(1000)
    scheduled.scheduler.start()
    scheduled.run(0.5)
    assert len(scheduled.clock.getDelayedCalls()) == 1
    scheduled.scheduler.stop()
    assert_no_pending_timers(scheduled.clock)
    sent = len(scheduled.sent)
    scheduled.run(1.0)
    assert len(scheduled.sent) == sent
    assert not scheduled.scheduler.running


def test_changing_the_targets_while_running_sends_no_burst_and_reaches_every_new_target():
    scheduled = Scheduled(1000)
    scheduled.scheduler.start()
    scheduled.run(0.37)
    scheduled.scheduler.set_targets([f"NEW-{number:04d}" for number in range(2000)])
    changed_at = len(scheduled.sent)
    scheduled.run(2.0)
    after = scheduled.sent[changed_at:]
    per_tick = Counter(when for when, _name in after)
    assert max(per_tick.values()) <= math.ceil(2000 * 0.01 / 1.0) + 1
    assert {name for _when, name in after} == {f"NEW-{number:04d}" for number in range(2000)}
    assert not any(name.startswith("FN-") for _when, name in after)


def test_shrinking_the_list_to_nothing_and_back_starts_afresh_without_a_burst():
    scheduled = Scheduled(10)
    scheduled.scheduler.start()
    scheduled.run(0.5)
    scheduled.scheduler.set_targets([])
    scheduled.run(0.5)
    before = len(scheduled.sent)
    scheduled.scheduler.set_targets([f"FN-{number}" for number in range(500)])
    scheduled.run(0.1)
    assert max(Counter(when for when, _name in scheduled.sent[before:]).values()) <= 6


def test_a_reactor_held_up_for_seconds_skips_what_it_missed_instead_of_sending_it_at_once():
    scheduled = Scheduled(1000)
    scheduled.scheduler.start()
    scheduled.run(0.5)
    before = len(scheduled.sent)
    scheduled.clock.advance(3.0)  # one late tick standing for three seconds of a blocked reactor
    assert len(scheduled.sent) - before <= scheduled.limit
    assert scheduled.scheduler.skipped >= 2900
    scheduled.run(1.0)
    assert max(scheduled.per_tick().values()) <= scheduled.limit


def test_targets_set_before_start_wait_for_it():
    scheduled = Scheduled(5)
    scheduled.run(1.0)
    assert scheduled.sent == [] and scheduled.clock.getDelayedCalls() == []


def test_ticks_that_come_late_skip_nothing_and_catch_up_at_no_more_than_twice_the_share():
    """A busy reactor runs ticks late: every slot is still sent, a tick catching up sends at most twice
    its share plus one, and the schedule is back on time a few ticks after the last late one."""
    scheduled = Scheduled(1000)
    scheduled.scheduler.start()
    scheduled.run(0.2)
    for _ in range(5):
        scheduled.clock.advance(0.004)
        scheduled.clock.advance(0.046)  # the tick ran 40 ms late; the next is due at once
    catching_up = len(scheduled.per_tick())
    scheduled.run(1.0)
    assert scheduled.scheduler.skipped == 0
    per_tick = list(scheduled.per_tick().values())
    assert max(per_tick) <= 2 * (scheduled.limit - 1) + 1
    assert max(per_tick[catching_up + 20:]) <= scheduled.limit  # caught up: back to its share
    counts = Counter(name for _when, name in scheduled.sent)
    assert len(counts) == 1000 and min(counts.values()) >= 1
    due_by_now = math.floor((scheduled.clock.seconds() - 1000.0) * 1000) + 1
    assert due_by_now - len(scheduled.sent) <= scheduled.limit
