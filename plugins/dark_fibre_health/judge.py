"""One node's own state from its probe results: up, degraded, down or flapping, each change said once.

Pure logic: every time comes in with a probe result or an optical reading and nothing reads a clock, so
each rule below is a test with made-up times. What the node's upstream does is not judged here (that is
the correlator's work): this is what the node's own probes say.

**Rounds.** Each interval a node gets one probe of each of its fast methods (ICMP echo, TCP connect),
sent together; the results of one sending are a *round*, grouped by ``sent_at`` (within
``ROUND_TOLERANCE_S``). The node answers a round when any of its probes is answered, a TCP reset
included (something is there, only the port is shut), and fails it when none is. A round is judged as
soon as every method has reported, or when a result of another sending arrives first (a result the
prober lost must not stall the judge). The methods are those given to the constructor, else those seen
so far. SNMP polls run minutes apart on their own schedule, so they are not rounds: an answered poll is
proof of life and makes the round it falls in answered (the one open, else the next one judged), and an
unanswered poll says nothing a missed ping does not say sooner (a busy agent drops SNMP long before the
node is unreachable). A node probed by SNMP alone is judged poll by poll.

**Down and up.** ``down_after`` failed rounds in a row make a node down; ``up_after`` answered rounds in
a row bring it back. A node never judged is "up" at its first answered round: there is no earlier
verdict to be sure against.

**Degraded**, with enter and clear levels apart so that a figure sitting on a threshold does not flap:

- Loss: the share of unanswered probes over the last ``loss_window`` rounds, judged once the window is
  full; it enters at ``loss_enter_pct`` or more and clears below ``loss_clear_pct``. The rounds of an
  outage are taken out of the window, so a node that comes back is not called lossy for the outage it
  just had.
- Round trip: the median over the same window (of ICMP when the node is pinged, else of TCP connect),
  judged from ``RTT_MIN_SAMPLES`` answers. With ``rtt_enter_ms`` it enters above that and clears below
  ``rtt_clear_ms`` (or ``RTT_CLEAR_SHARE`` of the enter level). Without it, it enters above
  ``rtt_baseline_factor`` times the node's baseline and above ``RTT_FLOOR_MS`` (a switch answers pings
  from a busy CPU: a few milliseconds are noise, not a fault), and clears below half way between the
  baseline and that level, and below ``RTT_CLEAR_FLOOR_MS``. The baseline is the 10th percentile of the
  window, learnt while the node is up and not degraded: it follows a lower figure at once and a higher
  one by 1/``BASELINE_ROUNDS`` of the difference per round, so a path that got three times slower within
  minutes is degraded instead of becoming the new normal.
- Optics: a receive power at warning or alarm, or no light, makes the node degraded, never down (it
  still answers: the traffic found another way, or the margin is going). It clears after
  ``OPTICS_CLEAR_READINGS`` ok readings in a row, since a level reads the same on every poll while a
  power sits on its threshold.

**Jitter** is the mean absolute difference of consecutive round trips in the window: RFC 3550's measure
without its 1/16 smoothing, so that it is exact over a window the operator can reason about.

**Flapping.** After each round the node's state goes into a history of the last ``flap_window`` rounds,
as Nagios keeps its last 21 check results. The percent state change weights each change from 0.75 (the
oldest) to 1.25 (the newest), so recent changes count more, and divides by the changes the window could
hold. At ``flap_enter_pct`` or more the node is flapping: one verdict says so and the changes underneath
say nothing; below ``flap_clear_pct`` one verdict gives its state again.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Iterable
from itertools import pairwise
from typing import Any

from attrs import frozen

from plugins.dark_fibre_health.config import JudgeConfig
from plugins.dark_fibre_health.events import (
    DEGRADED,
    DOWN,
    FLAPPING,
    OPTICS_ALARM,
    OPTICS_NO_LIGHT,
    OPTICS_OK,
    OPTICS_WARNING,
    UP,
)
from plugins.dark_fibre_health.probes import REFUSED, ProbeResult

#: The methods probed every interval, in the order their round trip is preferred.
FAST_METHODS = ("icmp", "tcp")
#: Results sent this close together belong to one round (the adapter sends a node's probes in one call;
#: the shortest interval allowed is 0.1 s).
ROUND_TOLERANCE_S = 0.05
#: Below this a round trip is never called slow (baseline mode), and a slow one clears below the other.
RTT_FLOOR_MS = 5.0
RTT_CLEAR_FLOOR_MS = 4.0
#: With ``rtt_enter_ms`` but no ``rtt_clear_ms``: clear below this share of the enter level.
RTT_CLEAR_SHARE = 0.8
#: The baseline's percentile of the window, and how slowly it follows a rising round trip.
BASELINE_PERCENTILE = 10
BASELINE_ROUNDS = 300
#: Ok optical readings in a row that clear an optical degradation.
OPTICS_CLEAR_READINGS = 2
#: Optical levels that make a node degraded.
OPTICS_BAD = frozenset({OPTICS_WARNING, OPTICS_ALARM, OPTICS_NO_LIGHT})
#: Nagios's weights for the oldest and the newest state change in the window.
FLAP_OLDEST_WEIGHT = 0.75
FLAP_NEWEST_WEIGHT = 1.25


@frozen
class Verdict:
    """``node``'s own state changed from ``previous`` (None: its first verdict) to ``state`` at ``at``.

    ``reason`` is a short sentence for the operator; the figures are those of the loss window at the
    time (None when there is nothing to say yet), ``failed_in_row`` the failed rounds in a row.
    """

    node: str
    state: str
    previous: str | None
    at: float
    reason: str
    loss_pct: float | None = None
    rtt_ms: float | None = None
    jitter_ms: float | None = None
    failed_in_row: int = 0


def answered(result: ProbeResult) -> bool:
    """The node answered this probe: a reply, an accepted connection, or a TCP reset."""
    return result.ok or (result.method == "tcp" and result.error == REFUSED)


def figure(value: float) -> str:
    """A figure as the operator reads it: ``25``, ``2.5``, ``0.3`` (one decimal at most)."""
    text = f"{value:.1f}"
    return text.removesuffix(".0")


def flap_percent(history: Iterable[str], window: int) -> float:
    """Nagios's weighted percent state change of ``history`` (oldest first) in a window of ``window``.

    The newest change weighs ``FLAP_NEWEST_WEIGHT``, each older one less, down to ``FLAP_OLDEST_WEIGHT``
    for the oldest change a full window can hold; the sum is divided by the changes a full window can
    hold, so a history not yet full counts as steady where it is empty.
    """
    states = list(history)
    slots = window - 1
    if slots < 1:
        return 0.0
    total = 0.0
    for age, (older, newer) in enumerate(zip(reversed(states[:-1]), reversed(states[1:]))):
        if older != newer:
            step = (FLAP_NEWEST_WEIGHT - FLAP_OLDEST_WEIGHT) / (slots - 1) if slots > 1 else 0.0
            total += FLAP_NEWEST_WEIGHT - age * step
    return 100.0 * total / slots


def percentile(values: Iterable[float], pct: float) -> float:
    """The nearest-rank percentile: the smallest value with at least ``pct`` % of the values at or below it."""
    return sorted_percentile(sorted(values), pct)


def sorted_percentile(ordered: list[float], pct: float) -> float:
    return ordered[max(1, math.ceil(pct / 100.0 * len(ordered))) - 1]


def sorted_median(ordered: list[float]) -> float:
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2.0


class NodeJudge:
    """The own state of node ``name`` from its probe results and optical readings.

    ``observe`` and ``optics`` return a ``Verdict`` when the published state changes, else None. ``state``
    is None until the first verdict; ``failing`` counts the failed rounds in a row so far (the correlator
    reads it to hold a child's verdict while its parent is failing too). ``methods`` (the node's
    configured probes) lets the first round be judged complete; without it the methods are learnt.
    """

    def __init__(self, name: str, config: JudgeConfig, *, methods: Iterable[str] | None = None) -> None:
        self.name = name
        self._config = config
        given = tuple(methods or ())
        #: The fast methods, known or learnt, in the order of FAST_METHODS (the first gives the round trip).
        self._fast: list[str] = [method for method in FAST_METHODS if method in given]
        self.state: str | None = None
        self.reason: str | None = None
        self.failing = 0
        self._answered_in_row = 0
        self._down = False
        self._errors = ""
        self._round: dict[str, ProbeResult] = {}
        self._round_sent_at = -math.inf
        self._last_round_sent_at = -math.inf
        self._last_round_size = 1
        self._snmp_answered = False
        #: (probes, unanswered) per round over the loss window; an outage's rounds are taken out.
        self._loss: deque[tuple[int, int]] = deque()
        #: Their sums, kept as rounds come and go: the judge runs for every probe of every node.
        self._loss_probes = 0
        self._loss_unanswered = 0
        #: Answered rounds while down, put into the loss window once the node is up again.
        self._recovering: list[tuple[int, int]] = []
        self._rtts: deque[float] = deque(maxlen=config.loss_window)
        self.baseline_ms: float | None = None
        self._lossy = False
        self._slow = False
        self._optics_level = OPTICS_OK
        self._optics_bad = False
        self._optics_ok_in_row = 0
        self._history: deque[str] = deque()
        #: Changes between neighbours in the history, kept as it moves (most rounds change nothing).
        self._history_changes = 0
        self._flapping = False

    # --- what comes in -------------------------------------------------------------------------------

    def observe(self, result: ProbeResult, now: float | None = None) -> Verdict | None:
        """One probe result. ``now`` is when it came in (default: ``sent_at`` plus its round trip)."""
        at = now if now is not None else result.sent_at + (result.rtt_s or 0.0)
        before = self.state
        if result.method in FAST_METHODS:
            self._fast_result(result)
        elif self._fast:
            # Proof of life only: the round it falls in (or the next one judged) is answered. A poll sent
            # before the last round was judged is older news than that round.
            if result.ok and result.sent_at >= self._last_round_sent_at:
                self._snmp_answered = True
        else:
            self._judge_round([result], result.sent_at)
        return self._verdict(before, at)

    def optics(self, worst_level: str, at: float) -> Verdict | None:
        """The worst receive level of the node's watched ports in one SNMP poll (``ok``, ``warning``,
        ``alarm``, ``no_light``); any other level is no information and changes nothing."""
        if worst_level in OPTICS_BAD:
            self._optics_level = worst_level
            self._optics_bad = True
            self._optics_ok_in_row = 0
        elif worst_level == OPTICS_OK:
            self._optics_ok_in_row += 1
            if self._optics_bad and self._optics_ok_in_row >= OPTICS_CLEAR_READINGS:
                self._optics_bad = False
                self._optics_level = OPTICS_OK
        else:
            return None
        before = self.state
        if self.state is not None and not self._flapping:
            underlying = self._underlying()
            if underlying == UP and before == DEGRADED:
                self._set(UP, "receive power ok again")
            else:
                self._publish(underlying)
        return self._verdict(before, at)

    # --- rounds --------------------------------------------------------------------------------------

    def _fast_result(self, result: ProbeResult) -> None:
        if result.method not in self._fast:
            self._fast = [method for method in FAST_METHODS if method in self._fast or method == result.method]
        if self._round and (result.method in self._round
                            or abs(result.sent_at - self._round_sent_at) > ROUND_TOLERANCE_S):
            self._close_round()
        if not self._round and abs(result.sent_at - self._last_round_sent_at) <= ROUND_TOLERANCE_S:
            return  # a late member of the round just judged (a method learnt after it was judged)
        if not self._round:
            self._round_sent_at = result.sent_at
        self._round[result.method] = result
        if all(method in self._round for method in self._fast):
            self._close_round()

    def _close_round(self) -> None:
        results = [self._round[method] for method in self._fast if method in self._round]
        self._round = {}
        self._judge_round(results, self._round_sent_at)

    def _judge_round(self, results: list[ProbeResult], sent_at: float) -> None:
        config = self._config
        self._last_round_sent_at = sent_at
        self._last_round_size = len(results)
        probes = len(results)
        unanswered = sum(1 for result in results if not answered(result))
        if unanswered < probes or self._snmp_answered:
            self.failing = 0
            self._answered_in_row += 1
        else:
            self.failing += 1
            self._answered_in_row = 0
            self._errors = "; ".join(f"{result.method}: {result.error or 'no answer'}" for result in results)
        self._snmp_answered = False
        rtt = self._round_trip(results)
        if rtt is not None:
            self._rtts.append(rtt)

        came_back = False
        if self._down:
            if self.failing:
                self._recovering.clear()
            else:
                self._recovering.append((probes, unanswered))
            if self._answered_in_row >= config.up_after:
                self._down = False
                came_back = True
                for entry in self._recovering:
                    self._add_loss(entry)
                self._recovering.clear()
        else:
            self._add_loss((probes, unanswered))
            if self.failing >= config.down_after:
                self._down = True
                # The streak that made it down is the outage, not loss.
                for _ in range(min(config.down_after, len(self._loss))):
                    gone = self._loss.pop()
                    self._loss_probes -= gone[0]
                    self._loss_unanswered -= gone[1]

        self._judge_loss()
        ordered = sorted(self._rtts) if len(self._rtts) >= self.rtt_min_samples else None
        if ordered is not None:
            self._judge_rtt(ordered)
        underlying = self._underlying()
        if underlying == UP and ordered is not None:
            self._learn_baseline(ordered)
        if underlying is None:
            return  # never answered, not yet down: nothing to say
        self._add_history(underlying)
        percent = self.flap_pct
        if self._flapping:
            if percent < config.flap_clear_pct:
                self._flapping = False
                reason = (f"no longer flapping ({figure(percent)}% state change over the last "
                          f"{len(self._history)} rounds)")
                if underlying != UP:
                    reason += "; " + self._describe(underlying, came_back=False)
                self._set(underlying, reason)
        elif self.state is not None and underlying != self.state and percent >= config.flap_enter_pct:
            self._flapping = True
            self._set(FLAPPING, f"changed state {self._history_changes} times in the last {len(self._history)} rounds "
                                f"({figure(percent)}% weighted state change), now {underlying}")
        else:
            self._publish(underlying, came_back=came_back)

    def _add_loss(self, entry: tuple[int, int]) -> None:
        self._loss.append(entry)
        self._loss_probes += entry[0]
        self._loss_unanswered += entry[1]
        if len(self._loss) > self._config.loss_window:
            gone = self._loss.popleft()
            self._loss_probes -= gone[0]
            self._loss_unanswered -= gone[1]

    def _add_history(self, state: str) -> None:
        history = self._history
        if history and history[-1] != state:
            self._history_changes += 1
        history.append(state)
        if len(history) > self._config.flap_window:
            gone = history.popleft()
            if gone != history[0]:
                self._history_changes -= 1

    def _round_trip(self, results: list[ProbeResult]) -> float | None:
        """The round trip in ms of the node's first method (one series, never ICMP and TCP mixed)."""
        method = self._fast[0] if self._fast else results[0].method
        for result in results:
            if result.method == method and result.ok and result.rtt_s is not None:
                return result.rtt_s * 1000.0
        return None

    # --- degraded ------------------------------------------------------------------------------------

    def _judge_loss(self) -> None:
        if len(self._loss) < self._config.loss_window:
            return
        loss = self.loss_pct
        assert loss is not None
        if not self._lossy and loss >= self._config.loss_enter_pct:
            self._lossy = True
        elif self._lossy and loss < self._config.loss_clear_pct:
            self._lossy = False

    def _rtt_levels(self) -> tuple[float, float] | None:
        """The (enter, clear) levels in ms, or None while there is no baseline to judge against."""
        config = self._config
        if config.rtt_enter_ms is not None:
            clear = config.rtt_clear_ms if config.rtt_clear_ms is not None else RTT_CLEAR_SHARE * config.rtt_enter_ms
            return config.rtt_enter_ms, clear
        if self.baseline_ms is None:
            return None
        factor = config.rtt_baseline_factor
        return (max(factor * self.baseline_ms, RTT_FLOOR_MS),
                max((1.0 + factor) / 2.0 * self.baseline_ms, RTT_CLEAR_FLOOR_MS))

    def _judge_rtt(self, ordered: list[float]) -> None:
        if self._down:
            return
        levels = self._rtt_levels()
        if levels is None:
            return
        median = sorted_median(ordered)
        enter, clear = levels
        if not self._slow and median > enter:
            self._slow = True
        elif self._slow and median < clear:
            self._slow = False

    def _learn_baseline(self, ordered: list[float]) -> None:
        low = sorted_percentile(ordered, BASELINE_PERCENTILE)
        if self.baseline_ms is None or low < self.baseline_ms:
            self.baseline_ms = low
        else:
            self.baseline_ms += (low - self.baseline_ms) / BASELINE_ROUNDS

    @property
    def rtt_min_samples(self) -> int:
        return max(3, self._config.loss_window // 2)

    def _underlying(self) -> str | None:
        if self._down:
            return DOWN
        if self.state is None and self.failing:
            return None
        if self._lossy or self._slow or self._optics_bad:
            return DEGRADED
        return UP

    # --- verdicts ------------------------------------------------------------------------------------

    def _publish(self, state: str | None, *, came_back: bool = False) -> None:
        if state is None or state == self.state:
            return
        self._set(state, self._describe(state, came_back))

    def _set(self, state: str, reason: str) -> None:
        self.state = state
        self.reason = reason

    def _describe(self, state: str, came_back: bool) -> str:
        if state == DOWN:
            what = "probes" if self._last_round_size == 1 else "probe rounds"
            return f"{self.failing} {what} in a row unanswered ({self._errors})"
        if state == DEGRADED:
            return "; ".join(self.degraded_by())
        # up
        if came_back:
            return f"answering again ({self._config.up_after} rounds in a row answered)"
        if self.state is None:
            rtt = self._rtts[-1] if self._rtts else None
            return "answering" + (f" (round trip {figure(rtt)} ms)" if rtt is not None else "")
        figures = [f"loss {figure(self.loss_pct)}% over {self._last_probes()}"
                   if self.loss_pct is not None else None,
                   f"round trip {figure(self.rtt_ms)} ms" if self.rtt_ms is not None else None]
        shown = ", ".join(text for text in figures if text)
        return "back to normal" + (f": {shown}" if shown else "")

    def _verdict(self, before: str | None, at: float) -> Verdict | None:
        if self.state == before or self.state is None:
            return None
        return Verdict(node=self.name, state=self.state, previous=before, at=at, reason=self.reason or "",
                       loss_pct=self.loss_pct, rtt_ms=self.rtt_ms, jitter_ms=self.jitter_ms,
                       failed_in_row=self.failing)

    # --- figures -------------------------------------------------------------------------------------

    def degraded_by(self) -> list[str]:
        """Why the node is degraded now, one phrase per cause (empty when it is not)."""
        causes = []
        if self._lossy:
            causes.append(f"loss {figure(self.loss_pct or 0.0)}% over {self._last_probes()}")
        if self._slow and self.rtt_ms is not None:
            config = self._config
            if config.rtt_enter_ms is not None:
                over = f"over the configured {figure(config.rtt_enter_ms)} ms"
            else:
                over = f"over {figure(config.rtt_baseline_factor)}x its {figure(self.baseline_ms or 0.0)} ms baseline"
            causes.append(f"round trip {figure(self.rtt_ms)} ms (median of the last {len(self._rtts)}), {over}")
        if self._optics_bad:
            causes.append(f"receive power {self._optics_level.replace('_', ' ')}" if self._optics_level != OPTICS_NO_LIGHT
                          else "no light received")
        return causes

    def _last_probes(self) -> str:
        probes = self._probes_in_window()
        return "the last probe" if probes == 1 else f"the last {probes} probes"

    def _probes_in_window(self) -> int:
        return self._loss_probes

    @property
    def loss_pct(self) -> float | None:
        """Unanswered probes over the loss window, in percent (None before the first round)."""
        probes = self._probes_in_window()
        if not probes:
            return None
        return 100.0 * self._loss_unanswered / probes

    @property
    def rtt_ms(self) -> float | None:
        """The median round trip over the window."""
        return statistics.median(self._rtts) if self._rtts else None

    @property
    def jitter_ms(self) -> float | None:
        """The mean absolute difference of consecutive round trips in the window."""
        if len(self._rtts) < 2:
            return None
        return sum(abs(b - a) for a, b in pairwise(self._rtts)) / (len(self._rtts) - 1)

    @property
    def flap_pct(self) -> float:
        if not self._history_changes:
            return 0.0
        return flap_percent(self._history, self._config.flap_window)

    @property
    def flapping(self) -> bool:
        return self._flapping

    def summary(self) -> dict[str, Any]:
        """The figures the adapter shows: state, reason, loss, round trip, jitter, baseline, flapping."""
        return {
            "state": self.state,
            "reason": self.reason,
            "failing": self.failing,
            "loss_pct": self.loss_pct,
            "rtt_ms": self.rtt_ms,
            "jitter_ms": self.jitter_ms,
            "baseline_ms": self.baseline_ms,
            "flap_pct": self.flap_pct,
            "flapping": self._flapping,
            "degraded_by": self.degraded_by(),
            "optics": self._optics_level,
        }
