"""A node's own state from its probes: down and up with hysteresis, degraded with separate enter and clear
levels (loss, round trip, optics), flapping as one verdict, and the reasons given. Times are made up."""

from __future__ import annotations

import re
from itertools import pairwise

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plugins.dark_fibre_health.config import JudgeConfig
from plugins.dark_fibre_health.judge import (
    BASELINE_ROUNDS,
    NodeJudge,
    Verdict,
    figure,
    flap_percent,
    percentile,
)
from plugins.dark_fibre_health.probes import ProbeResult

INTERVAL = 1.0


class Node:
    """A node probed once a second by ``methods``, its results fed to a judge in the order they come."""

    def __init__(self, config: JudgeConfig | None = None, *, methods: tuple[str, ...] | None = ("icmp",),
                 start: float = 1000.0) -> None:
        self.judge = NodeJudge("FN-07", config or JudgeConfig(), methods=methods)
        self.t = start
        self.verdicts: list[Verdict] = []

    def feed(self, result: ProbeResult, now: float | None = None) -> Verdict | None:
        verdict = self.judge.observe(result, now)
        if verdict is not None:
            self.verdicts.append(verdict)
        return verdict

    def round(self, **outcomes: object) -> list[Verdict]:
        """One interval: ``icmp=True`` answered (1 ms), ``=False`` timed out, ``="refused"`` a TCP reset,
        a float an answer with that round trip in ms."""
        found = []
        for method, outcome in outcomes.items():
            if outcome is True:
                result = ProbeResult("FN-07", method, self.t, True, 0.001)
            elif outcome is False:
                result = ProbeResult("FN-07", method, self.t, False, None, "timeout")
            elif isinstance(outcome, str):
                result = ProbeResult("FN-07", method, self.t, False, None, outcome)
            else:
                result = ProbeResult("FN-07", method, self.t, True, float(outcome) / 1000.0)  # type: ignore[arg-type]
            verdict = self.feed(result)
            if verdict is not None:
                found.append(verdict)
        self.t += INTERVAL
        return found

    def answers(self, count: int = 1, rtt_ms: float = 1.0) -> list[Verdict]:
        return [v for _ in range(count) for v in self.round(icmp=rtt_ms)]

    def fails(self, count: int = 1) -> list[Verdict]:
        return [v for _ in range(count) for v in self.round(icmp=False)]

    def play(self, pattern: str) -> list[Verdict]:
        """``+`` an answered ping, ``-`` an unanswered one, spaces ignored."""
        return [v for mark in pattern if mark != " " for v in (self.answers() if mark == "+" else self.fails())]

    @property
    def state(self) -> str | None:
        return self.judge.state


def states(verdicts: list[Verdict]) -> list[str]:
    return [verdict.state for verdict in verdicts]


# --- down and up --------------------------------------------------------------------------------------


def test_the_first_answer_makes_a_new_node_up_at_once():
    """There is no earlier verdict to be sure against: one answered round says "up"."""
    node = Node()
    [verdict] = node.answers(1, rtt_ms=1.2)
    assert (verdict.node, verdict.state, verdict.previous) == ("FN-07", "up", None)
    assert verdict.reason == "answering (round trip 1.2 ms)"
    assert node.answers(5) == []


def test_a_node_that_never_answers_is_down_after_three_rounds():
    """Its first verdict is "down", with no previous state."""
    node = Node()
    assert node.fails(2) == []
    assert node.state is None
    [verdict] = node.fails(1)
    assert (verdict.state, verdict.previous, verdict.failed_in_row) == ("down", None, 3)


def test_a_node_goes_down_after_three_unanswered_probes_in_a_row_and_says_so_once():
    """Two failures change nothing, the third is one verdict with the reason, more say nothing."""
    node = Node()
    node.answers(5)
    assert node.fails(2) == []
    assert node.judge.failing == 2
    [verdict] = node.fails(1)
    assert (verdict.state, verdict.previous) == ("down", "up")
    assert verdict.reason == "3 probes in a row unanswered (icmp: timeout)"
    assert verdict.failed_in_row == 3
    assert verdict.at == node.t - INTERVAL  # the sent time of the probe that decided it (no answer, no trip)
    assert node.fails(20) == []
    assert node.judge.failing == 23


def test_an_answer_between_failures_starts_the_count_again():
    """Two lost, one answered, two lost...: never three in a row, never down."""
    node = Node()
    node.answers(1)
    assert node.play("--+--+--+--") == []
    assert node.state == "up"


def test_coming_back_takes_two_answered_rounds_in_a_row():
    """One answer after an outage is not enough, nor answer-loss-answer; two in a row are."""
    node = Node()
    node.answers(1)
    node.fails(3)
    assert node.play("+-+-") == []
    assert node.state == "down"
    [verdict] = node.play("++")
    assert (verdict.state, verdict.previous) == ("up", "down")
    assert verdict.reason == "answering again (2 rounds in a row answered)"
    assert verdict.failed_in_row == 0


def test_the_counts_are_configurable():
    """down_after 5 and up_after 1: four failures are a blip, one answer ends an outage."""
    node = Node(JudgeConfig(down_after=5, up_after=1))
    node.answers(1)
    assert node.fails(4) == []
    assert states(node.fails(1)) == ["down"]
    assert states(node.answers(1)) == ["up"]


def test_verdict_time_is_when_the_deciding_result_came_in():
    """``now`` when given; else the sent time plus the round trip (an answer) or the sent time."""
    node = Node()
    verdict = node.feed(ProbeResult("FN-07", "icmp", 50.0, True, 0.004))
    assert verdict is not None and verdict.at == pytest.approx(50.004)
    node.feed(ProbeResult("FN-07", "icmp", 51.0, False, None, "timeout"))
    node.feed(ProbeResult("FN-07", "icmp", 52.0, False, None, "timeout"))
    verdict = node.feed(ProbeResult("FN-07", "icmp", 53.0, False, None, "timeout"), now=53.8)
    assert verdict is not None and verdict.at == 53.8


# --- rounds of several methods ------------------------------------------------------------------------


def test_a_round_of_ping_and_tcp_is_answered_when_either_answers():
    """A node that drops ICMP but accepts the TCP connection is up; it fails only when both fail."""
    node = Node(methods=("icmp", "tcp"))
    assert states(node.round(icmp=False, tcp=True)) == ["up"]
    for _ in range(10):
        assert node.round(icmp=False, tcp=True) == []
    assert node.judge.failing == 0
    node.round(icmp=False, tcp=False)
    node.round(icmp=False, tcp=False)
    [verdict] = node.round(tcp=False, icmp=False)  # in any order
    assert verdict.state == "down"
    assert verdict.reason == "3 probe rounds in a row unanswered (icmp: timeout; tcp: timeout)"


def test_a_tcp_reset_is_an_answer():
    """A refused connection comes from the node: it is there, only the port is shut."""
    node = Node(methods=("tcp",))
    assert states(node.round(tcp="refused")) == ["up"]
    assert node.round(tcp="refused") == [] and node.judge.failing == 0
    assert node.judge.loss_pct == 0.0


def test_a_round_is_judged_when_its_last_method_reports_not_before():
    """The ping's failure alone is not a failed round while the TCP probe of the same round is out."""
    node = Node(methods=("icmp", "tcp"))
    node.round(icmp=True, tcp=True)
    node.round(icmp=False, tcp=False)
    node.round(icmp=False, tcp=False)
    sent = node.t
    assert node.feed(ProbeResult("FN-07", "icmp", sent, False, None, "timeout")) is None
    assert node.judge.failing == 2
    verdict = node.feed(ProbeResult("FN-07", "tcp", sent + 0.0004, False, None, "EHOSTUNREACH"))
    assert verdict is not None and verdict.state == "down"
    assert verdict.reason.endswith("(icmp: timeout; tcp: EHOSTUNREACH)")


def test_a_result_the_prober_lost_does_not_stall_the_judge():
    """A round whose TCP result never came is judged when the next round's first result arrives."""
    node = Node(methods=("icmp", "tcp"))
    node.round(icmp=True, tcp=True)
    node.round(icmp=False)  # the TCP result of this round is lost
    node.round(icmp=False)
    assert node.judge.failing == 1  # the second is still waiting for its TCP result
    [verdict] = node.round(icmp=False, tcp=False)
    assert verdict.state == "down"


def test_the_methods_are_learnt_when_not_given():
    """Without ``methods`` the judge learns ICMP and TCP from the first results: a node that answers TCP
    only is never down, however many pings it drops."""
    node = Node(methods=None)
    node.round(icmp=True, tcp=True)
    assert node.play("") == []
    for _ in range(10):
        assert node.round(icmp=False, tcp=True) == []
    assert node.state == "up"
    node.round(icmp=False, tcp=False)
    node.round(icmp=False, tcp=False)
    assert states(node.round(icmp=False, tcp=False)) == ["down"]


def test_the_round_trip_is_the_pings_when_a_node_is_pinged_too():
    """One series, never ICMP and TCP mixed: a TCP handshake takes longer than an echo."""
    node = Node(methods=None)
    node.feed(ProbeResult("FN-07", "tcp", 0.0, True, 0.004))
    for _ in range(5):
        node.round(tcp=4.0, icmp=1.0)
    assert node.judge.rtt_ms == 1.0


# --- SNMP ---------------------------------------------------------------------------------------------


def snmp(node: Node, ok: bool, *, sent_at: float | None = None) -> Verdict | None:
    sent = node.t - 0.5 if sent_at is None else sent_at
    return node.feed(ProbeResult("FN-07", "snmp", sent, ok, 0.02 if ok else None, None if ok else "timeout"))


def test_an_answered_snmp_poll_is_proof_of_life():
    """Two pings lost, an SNMP poll answered, a third ping lost: the third round counts as answered."""
    node = Node(methods=("icmp", "snmp"))
    node.answers(1)
    node.fails(2)
    assert snmp(node, True) is None
    assert node.fails(1) == []
    assert (node.judge.failing, node.state) == (0, "up")


def test_an_unanswered_snmp_poll_says_nothing_about_a_pinged_node():
    """An agent too busy for SNMP is not a node down: failed polls neither fail rounds nor count as loss."""
    node = Node(methods=("icmp", "snmp"))
    node.answers(1)
    for _ in range(5):
        assert snmp(node, False) is None
        node.answers(1)
    assert (node.judge.failing, node.judge.loss_pct, node.state) == (0, 0.0, "up")


def test_an_snmp_answer_older_than_the_last_round_is_no_news():
    """A poll sent before the last judged round (answered late) does not rescue the next round."""
    node = Node(methods=("icmp", "snmp"))
    node.answers(1)
    node.fails(2)
    snmp(node, True, sent_at=node.t - 1.5)  # sent before the last ping
    assert states(node.fails(1)) == ["down"]


def test_a_node_probed_by_snmp_alone_is_judged_poll_by_poll():
    """Three unanswered polls in a row make it down."""
    node = Node(methods=("snmp",))
    assert states([v for v in [snmp(node, True, sent_at=0.0)] if v]) == ["up"]
    assert snmp(node, False, sent_at=60.0) is None
    assert snmp(node, False, sent_at=120.0) is None
    verdict = snmp(node, False, sent_at=180.0)
    assert verdict is not None and verdict.reason == "3 probes in a row unanswered (snmp: timeout)"


# --- loss ---------------------------------------------------------------------------------------------


def test_loss_makes_a_node_degraded_once_the_window_is_full():
    """One ping in four lost: 25% over the last 20 probes, degraded at the 20th round, not before."""
    node = Node()
    verdicts = node.play("+++- +++- +++- +++- +++")
    assert states(verdicts) == ["up"]
    [verdict] = node.play("-")
    assert (verdict.state, verdict.previous) == ("degraded", "up")
    assert verdict.reason == "loss 25% over the last 20 probes"
    assert verdict.loss_pct == 25.0


def test_loss_between_the_clear_and_enter_levels_changes_nothing():
    """Degraded at 25%, then 10% for a long while: still degraded (it clears below 5%, not below 20%)."""
    node = Node()
    node.play("+++- " * 5)
    assert node.state == "degraded"
    assert node.play("+++++++++-" * 10) == []
    assert node.judge.loss_pct == 10.0


def test_loss_clears_only_below_the_clear_level():
    """At 5% (one in 20) it is still degraded; when the last lost probe leaves the window it is up."""
    node = Node()
    node.play("+++- " * 5)
    assert node.play("+" * 19) == []
    assert node.judge.loss_pct == 5.0
    [verdict] = node.play("+")
    assert (verdict.state, verdict.previous) == ("up", "degraded")
    assert verdict.reason == "back to normal: loss 0% over the last 20 probes, round trip 1 ms"


def test_loss_just_under_the_enter_level_never_degrades():
    """Three in 20 lost is 15%: never degraded, however long."""
    node = Node()
    assert states(node.play("++++++-+++++-++++++-" * 10)) == ["up"]


def test_an_outage_is_not_counted_as_loss_afterwards():
    """A node back from a ten-round outage is up, with the outage's rounds out of its loss window."""
    node = Node()
    node.answers(20)
    node.fails(10)
    assert node.state == "down"
    [verdict] = node.answers(2)
    assert verdict.state == "up"
    assert node.judge.loss_pct == 0.0
    assert node.answers(20) == []


def test_loss_short_of_an_outage_is_loss():
    """Two in a row lost is not an outage: it stays in the window."""
    node = Node()
    node.answers(18)
    node.fails(2)
    assert node.judge.loss_pct == 10.0


def test_multi_method_loss_counts_each_probe():
    """ICMP lost every other round while TCP answers: no round fails, but a quarter of the probes do."""
    node = Node(methods=("icmp", "tcp"))
    for index in range(20):
        node.round(icmp=index % 2 == 0, tcp=True)
    assert node.judge.loss_pct == 25.0
    assert node.state == "degraded"
    assert node.judge.reason == "loss 25% over the last 40 probes"


# --- round trip ---------------------------------------------------------------------------------------


def test_a_round_trip_three_times_its_baseline_makes_the_node_degraded():
    """Learnt at 2 ms, then 10 ms: degraded once the median of the window is over 6 ms (and over 5 ms)."""
    node = Node()
    node.answers(30, rtt_ms=2.0)
    assert node.judge.baseline_ms == 2.0
    assert node.answers(10, rtt_ms=10.0) == []
    [verdict] = node.answers(1, rtt_ms=10.0)
    assert verdict.state == "degraded"
    assert verdict.reason == "round trip 10 ms (median of the last 20), over 3x its 2 ms baseline"
    assert verdict.rtt_ms == 10.0


def test_a_slow_round_trip_clears_below_half_way_to_the_enter_level():
    """Baseline 2 ms, enter over 6 ms, clear under 4 ms: a median of 5 ms keeps it degraded."""
    node = Node()
    node.answers(30, rtt_ms=2.0)
    node.answers(20, rtt_ms=10.0)
    assert node.state == "degraded"
    assert node.answers(40, rtt_ms=5.0) == []
    assert node.judge.baseline_ms == 2.0  # not learnt while degraded
    assert states(node.answers(11, rtt_ms=2.0)) == ["up"]


def test_a_few_milliseconds_are_never_slow():
    """0.3 ms to 3 ms is ten times the baseline, but under 5 ms: a busy switch CPU, not a fault."""
    node = Node()
    node.answers(30, rtt_ms=0.3)
    assert node.answers(40, rtt_ms=3.0) == []
    assert node.state == "up"


def test_the_baseline_follows_a_slow_rise_but_not_a_jump():
    """From 10 ms, rising to 25 ms over an hour: never degraded, and the baseline follows. A jump from
    there to three times the new figure is degraded."""
    node = Node()
    node.answers(20, rtt_ms=10.0)
    for step in range(3600):
        assert node.answers(1, rtt_ms=10.0 + 15.0 * step / 3600) == []
    # It trails the rise by the rise over BASELINE_ROUNDS rounds: 1.25 ms here.
    assert node.judge.baseline_ms == pytest.approx(25.0 - 15.0 / 3600 * BASELINE_ROUNDS, abs=0.2)
    assert states(node.answers(20, rtt_ms=80.0)) == ["degraded"]


def test_a_lower_round_trip_becomes_the_baseline_at_once():
    node = Node()
    node.answers(20, rtt_ms=8.0)
    node.answers(20, rtt_ms=1.0)
    assert node.judge.baseline_ms == 1.0


def test_configured_round_trip_levels_are_used_instead_of_the_baseline():
    """Enter over 20 ms, clear under 10 ms: 25 ms degrades, 15 ms keeps it, 8 ms clears."""
    node = Node(JudgeConfig(rtt_enter_ms=20.0, rtt_clear_ms=10.0))
    node.answers(10, rtt_ms=15.0)
    assert states(node.answers(20, rtt_ms=25.0)) == ["degraded"]
    assert node.judge.reason.endswith("over the configured 20 ms")
    assert node.answers(40, rtt_ms=15.0) == []
    assert states(node.answers(20, rtt_ms=8.0)) == ["up"]


def test_without_a_clear_level_a_configured_one_clears_at_four_fifths():
    node = Node(JudgeConfig(rtt_enter_ms=20.0))
    node.answers(20, rtt_ms=25.0)
    assert node.state == "degraded"
    assert node.answers(20, rtt_ms=16.5) == []
    assert states(node.answers(20, rtt_ms=15.5)) == ["up"]


def test_jitter_is_the_mean_difference_of_consecutive_round_trips():
    """1, 3, 1, 3 ms: every step is 2 ms. And the median is what the verdicts carry."""
    node = Node()
    for rtt in (1.0, 3.0, 1.0, 3.0):
        node.answers(1, rtt_ms=rtt)
    assert node.judge.jitter_ms == 2.0
    assert node.judge.rtt_ms == 2.0


def test_jitter_is_none_before_two_round_trips():
    node = Node()
    assert node.judge.jitter_ms is None
    node.answers(1)
    assert node.judge.jitter_ms is None


# --- optics -------------------------------------------------------------------------------------------


def test_an_optical_warning_makes_the_node_degraded_and_an_alarm_never_down():
    """Warning: degraded, with the reason. Alarm: still degraded, no new verdict. The node answers."""
    node = Node()
    node.answers(3)
    verdict = node.judge.optics("warning", 2000.0)
    assert verdict is not None
    assert (verdict.state, verdict.previous, verdict.at) == ("degraded", "up", 2000.0)
    assert verdict.reason == "receive power warning"
    assert node.judge.optics("alarm", 2060.0) is None
    assert node.answers(5) == []
    assert node.state == "degraded"


def test_no_light_on_a_watched_port_of_an_answering_node_is_degraded():
    """The node answers the other way round the ring: degraded, not down."""
    node = Node()
    node.answers(1)
    verdict = node.judge.optics("no_light", 10.0)
    assert verdict is not None and verdict.reason == "no light received"


def test_an_optical_degradation_clears_after_two_ok_readings_in_a_row():
    """A power sitting on its warning threshold reads warning, ok, warning...: that stays degraded."""
    node = Node()
    node.answers(1)
    node.judge.optics("warning", 0.0)
    for at in range(1, 11):
        assert node.judge.optics("ok" if at % 2 else "warning", float(at)) is None
    assert node.judge.optics("ok", 11.0) is None
    verdict = node.judge.optics("ok", 12.0)
    assert verdict is not None and (verdict.state, verdict.previous) == ("up", "degraded")
    assert verdict.reason == "receive power ok again"


def test_an_unusable_optical_level_changes_nothing():
    node = Node()
    node.answers(1)
    node.judge.optics("warning", 0.0)
    assert node.judge.optics("unavailable", 1.0) is None
    assert node.judge.optics("ok", 2.0) is None
    assert node.judge.optics("ok", 3.0) is not None


def test_optics_read_before_the_first_probe_show_in_the_first_verdict():
    node = Node()
    assert node.judge.optics("warning", 0.0) is None
    [verdict] = node.answers(1)
    assert (verdict.state, verdict.previous) == ("degraded", None)


def test_a_down_node_stays_down_whatever_its_optics_said():
    node = Node()
    node.answers(1)
    node.judge.optics("warning", 0.0)
    assert states(node.fails(3)) == ["down"]
    assert node.judge.optics("ok", 1.0) is None
    assert node.judge.optics("ok", 2.0) is None
    assert states(node.answers(2)) == ["up"]


# --- flapping -----------------------------------------------------------------------------------------


def test_the_percent_state_change_weighs_recent_changes_more():
    """Nagios: over 21 results, one change weighs 0.75 when oldest and 1.25 when newest, out of 20."""
    steady = ["up"] * 21
    assert flap_percent(steady, 21) == 0.0
    assert flap_percent(["up"] * 20 + ["down"], 21) == pytest.approx(100 * 1.25 / 20)
    assert flap_percent(["up"] + ["down"] * 20, 21) == pytest.approx(100 * 0.75 / 20)
    alternating = ["up", "down"] * 10 + ["up"]
    assert flap_percent(alternating, 21) == pytest.approx(100.0)
    assert flap_percent(["up", "down"], 21) == pytest.approx(100 * 1.25 / 20)  # a short history is steady


def test_an_ordinary_outage_is_not_flapping():
    node = Node()
    node.answers(5)
    verdicts = node.play("---- ++ +++++")
    assert states(verdicts) == ["down", "up"]


def test_a_node_going_down_and_up_again_and_again_is_one_flapping_verdict():
    """Down three rounds, up two, over and over: a few verdicts, then "flapping" once, then silence."""
    node = Node()
    node.answers(5)
    verdicts = node.play("---++ " * 12)
    shown = states(verdicts)
    assert shown.count("flapping") == 1
    before = shown[:shown.index("flapping")]
    assert before == ["down", "up"] * (len(before) // 2) + ["down"] * (len(before) % 2)
    assert len(before) <= 5
    assert shown[-1] == "flapping"
    flapping = verdicts[-1]
    assert flapping.reason.startswith("changed state ")
    assert "% weighted state change), now " in flapping.reason
    assert node.judge.summary()["flapping"] is True


def test_a_flapping_node_that_settles_says_its_state_once():
    """Steady answers: once the percent state change is below the clear level, one verdict: up."""
    node = Node()
    node.answers(5)
    node.play("---++ " * 8)
    assert node.state == "flapping"
    verdicts = node.answers(30)
    assert [(v.state, v.previous) for v in verdicts] == [("up", "flapping")]
    assert verdicts[0].reason.startswith("no longer flapping (")
    assert node.judge.flap_pct < 15.0


def test_a_flapping_node_that_settles_down_says_down():
    node = Node()
    node.answers(5)
    node.play("---++ " * 8)
    verdicts = node.fails(30)
    assert [(v.state, v.previous) for v in verdicts] == [("down", "flapping")]
    assert re.fullmatch(r"no longer flapping \(\d+(\.\d)?% state change over the last 21 rounds\); "
                        r"\d+ probes in a row unanswered \(icmp: timeout\)", verdicts[0].reason)


def test_the_flapping_levels_are_configurable():
    """With flapping from 60%, the same cycle is never flapping."""
    node = Node(JudgeConfig(flap_enter_pct=60.0, flap_clear_pct=50.0))
    node.answers(5)
    assert "flapping" not in states(node.play("---++ " * 12))


# --- figures ------------------------------------------------------------------------------------------


def test_the_summary_holds_what_the_adapter_shows():
    node = Node()
    node.answers(4, rtt_ms=2.0)
    node.fails(1)
    summary = node.judge.summary()
    assert summary["state"] == "up"
    assert summary["reason"] == "answering (round trip 2 ms)"
    assert summary["loss_pct"] == 20.0
    assert summary["rtt_ms"] == 2.0
    assert summary["jitter_ms"] == 0.0
    assert summary["failing"] == 1
    assert summary["degraded_by"] == []


def test_figures_read_as_an_operator_writes_them():
    assert [figure(25.0), figure(2.5), figure(0.25), figure(100.0)] == ["25", "2.5", "0.2", "100"]


def test_percentile_is_nearest_rank():
    assert percentile([5, 1, 4, 2, 3, 6, 7, 8, 9, 10], 10) == 1
    assert percentile(range(1, 21), 10) == 2
    assert percentile([7.0], 10) == 7.0


def test_a_verdict_is_frozen():
    verdict = Verdict(node="x", state="up", previous=None, at=0.0, reason="r")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        verdict.state = "down"  # type: ignore[misc]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.floats(0.1, 50.0)), max_size=120),
       st.lists(st.sampled_from(["ok", "warning", None]), max_size=120))
def test_the_running_figures_match_the_windows_they_summarise(rounds, optics):
    """Loss sums and the flap history's change count are kept as rounds come and go; whatever the
    sequence, they equal a count over the windows themselves."""
    node = Node(JudgeConfig(loss_window=7, flap_window=5))
    for (ok, rtt), level in zip(rounds, optics + [None] * len(rounds)):
        node.answers(1, rtt_ms=rtt) if ok else node.fails(1)
        if level is not None:
            node.judge.optics(level, node.t)
        loss = list(node.judge._loss)
        assert len(loss) <= 7
        probes = sum(entry[0] for entry in loss)
        expected = None if not probes else 100.0 * sum(entry[1] for entry in loss) / probes
        assert node.judge.loss_pct == expected
        history = list(node.judge._history)
        assert len(history) <= 5
        assert node.judge.flap_pct == pytest.approx(flap_percent(history, 5))
        assert node.judge._history_changes == sum(1 for a, b in pairwise(history) if a != b)
