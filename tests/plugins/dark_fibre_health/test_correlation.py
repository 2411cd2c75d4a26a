"""Correlation: one root cause per outage, the nodes behind it unreachable, children's early verdicts held
until their parents are judged, and recovery handing each node back its own state. Times are made up."""

from __future__ import annotations

import heapq
from collections.abc import Mapping

from hypothesis import given, settings
from hypothesis import strategies as st

from plugins.dark_fibre_health.config import JudgeConfig, NodeConfig
from plugins.dark_fibre_health.correlation import Correlator, Effective
from plugins.dark_fibre_health.judge import NodeJudge, Verdict
from plugins.dark_fibre_health.probes import ProbeResult
from plugins.dark_fibre_health.topology import Topology

INTERVAL = 1.0
TIMEOUT = 0.8
HOLD = 2 * INTERVAL + TIMEOUT


def topology(**upstreams: str | None) -> Topology:
    """``A=None, B="A"``: nodes and their upstreams."""
    return Topology.build({name: NodeConfig(address=f"10.0.0.{index + 1}", upstream=up)
                           for index, (name, up) in enumerate(upstreams.items())})


def chain() -> Topology:
    """head end -> A -> B -> C."""
    return topology(A=None, B="A", C="B")


def tree() -> Topology:
    """head end -> R; R -> A -> A1, A2; R -> B -> B1."""
    return topology(R=None, A="R", A1="A", A2="A", B="R", B1="B")


def verdict(node: str, state: str, at: float, previous: str | None = "up") -> Verdict:
    return Verdict(node=node, state=state, previous=previous, at=at, reason="")


def shown(changes: list[Effective]) -> list[tuple[str, str, bool, str | None]]:
    return [(change.node, change.state, change.root_cause, change.because_of) for change in changes]


def all_up(correlator: Correlator, nodes, at: float = 0.0) -> None:
    for node in nodes:
        correlator.update(verdict(node, "up", at, previous=None), {})


# --- one outage, one root cause -----------------------------------------------------------------------


def test_a_node_down_is_the_root_cause_and_the_nodes_behind_it_are_unreachable():
    """Parents before children: A down, then B and C unreachable because of A."""
    correlator = Correlator(chain(), max_hold_s=HOLD)
    all_up(correlator, "ABC")
    changes = correlator.update(verdict("A", "down", 10.0), {"A": 3})
    assert shown(changes) == [("A", "down", True, None), ("B", "unreachable", False, "A"),
                              ("C", "unreachable", False, "A")]
    assert correlator.effective("C") == Effective("C", "unreachable", False, "A")


def test_the_children_counting_their_failures_first_are_held_until_the_parent_is_judged():
    """C, then B reach "down" while A has failed twice: nothing is said; A's down then says it all, with
    one root cause."""
    correlator = Correlator(chain(), max_hold_s=HOLD)
    all_up(correlator, "ABC")
    assert correlator.update(verdict("C", "down", 10.1), {"A": 2, "B": 2, "C": 3}) == []
    assert correlator.update(verdict("B", "down", 10.4), {"A": 2, "B": 3, "C": 3}) == []
    assert correlator.holding
    assert correlator.held() == ("B", "C")
    assert correlator.effective("B").state == "up"
    changes = correlator.update(verdict("A", "down", 10.9), {"A": 3, "B": 3, "C": 3})
    assert shown(changes) == [("A", "down", True, None), ("B", "unreachable", False, "A"),
                              ("C", "unreachable", False, "A")]
    assert not correlator.holding


def test_a_child_whose_upstream_is_failing_is_held_for_a_bounded_time_only():
    """A failed once and answers again (a lost ping); B really is down: its down comes out as a root
    cause once the hold has run out, not before."""
    correlator = Correlator(chain(), max_hold_s=HOLD)
    all_up(correlator, "ABC")
    assert correlator.update(verdict("B", "down", 10.0), {"A": 1, "B": 3}) == []
    failing = {"A": 0, "B": 4, "C": 4}
    assert correlator.release(failing, 10.0 + HOLD - 0.01) == []
    changes = correlator.release(failing, 10.0 + HOLD + 0.01)
    assert shown(changes) == [("B", "down", True, None), ("C", "unreachable", False, "B")]
    assert not correlator.holding


def test_a_held_child_that_answers_again_was_never_down():
    """B's down is held while A fails; A recovers, and B's own up comes before the hold runs out: the room
    hears nothing about B."""
    correlator = Correlator(chain(), max_hold_s=HOLD)
    all_up(correlator, "ABC")
    correlator.update(verdict("B", "down", 10.0), {"A": 2, "B": 3})
    assert correlator.release({"A": 0, "B": 0}, 11.0) == []
    assert correlator.update(verdict("B", "up", 11.5, previous="down"), {"A": 0, "B": 0}) == []
    assert not correlator.holding
    assert correlator.effective("B") == Effective("B", "up")


def test_a_child_down_with_its_upstream_answering_is_a_root_cause_at_once():
    correlator = Correlator(chain(), max_hold_s=HOLD)
    all_up(correlator, "ABC")
    changes = correlator.update(verdict("B", "down", 10.0), {"A": 0, "B": 3})
    assert shown(changes) == [("B", "down", True, None), ("C", "unreachable", False, "B")]


def test_a_node_never_judged_behind_a_down_node_is_unreachable():
    """At start-up the fibre is already cut: A's down makes B and C unreachable before they are judged."""
    correlator = Correlator(chain(), max_hold_s=HOLD)
    changes = correlator.update(verdict("A", "down", 3.0, previous=None), {"A": 3, "B": 2, "C": 1})
    assert shown(changes) == [("A", "down", True, None), ("B", "unreachable", False, "A"),
                              ("C", "unreachable", False, "A")]
    assert Correlator(chain()).effective("B") == Effective("B", "unknown")


def test_a_node_not_judged_is_passed_over():
    """B is not probed (disabled): it is never given a state, and C behind it hangs off A."""
    correlator = Correlator(chain(), max_hold_s=HOLD, judged=["A", "C"])
    all_up(correlator, "AC")
    changes = correlator.update(verdict("A", "down", 10.0), {"A": 3})
    assert shown(changes) == [("A", "down", True, None), ("C", "unreachable", False, "A")]
    assert correlator.effective("B").state == "unknown"
    changes = correlator.update(verdict("C", "down", 10.5), {"A": 0, "C": 3})
    changes += correlator.update(verdict("A", "up", 20.0, previous="down"), {"A": 0, "C": 9})
    changes += correlator.release({"A": 0, "C": 9}, 20.0 + HOLD + 0.01)
    assert shown(changes) == [("A", "up", False, None), ("C", "down", True, None)]


def test_only_changes_are_returned():
    correlator = Correlator(chain(), max_hold_s=HOLD)
    all_up(correlator, "ABC")
    correlator.update(verdict("A", "down", 10.0), {"A": 3})
    assert correlator.update(verdict("B", "down", 10.5), {"A": 4, "B": 3}) == []  # already unreachable
    assert correlator.update(verdict("A", "down", 11.0), {"A": 4}) == []
    assert not correlator.holding


def test_two_independent_branches_failing_are_two_root_causes():
    """A and B fail on their own: two root causes, each with its own unreachable nodes; R is fine."""
    correlator = Correlator(tree(), max_hold_s=HOLD)
    all_up(correlator, ["R", "A", "A1", "A2", "B", "B1"])
    changes = correlator.update(verdict("A", "down", 10.0), {"A": 3})
    changes += correlator.update(verdict("B", "down", 10.3), {"A": 3, "B": 3})
    assert shown(changes) == [("A", "down", True, None), ("A1", "unreachable", False, "A"),
                              ("A2", "unreachable", False, "A"), ("B", "down", True, None),
                              ("B1", "unreachable", False, "B")]


def test_the_root_of_a_tree_failing_is_one_root_cause_for_everything():
    correlator = Correlator(tree(), max_hold_s=HOLD)
    all_up(correlator, ["R", "A", "A1", "A2", "B", "B1"])
    failing = {"R": 2, "A": 3, "A1": 3, "A2": 2, "B": 3, "B1": 3}
    for node in ("A1", "B", "B1", "A"):
        assert correlator.update(verdict(node, "down", 10.0), failing) == []
    changes = correlator.update(verdict("R", "down", 10.5), {**failing, "R": 3})
    assert [(c.node, c.state, c.root_cause) for c in changes] == [
        ("R", "down", True), ("A", "unreachable", False), ("B", "unreachable", False),
        ("A1", "unreachable", False), ("A2", "unreachable", False), ("B1", "unreachable", False)]
    assert {c.because_of for c in changes[1:]} == {"R"}


# --- recovery -----------------------------------------------------------------------------------------


def cut_at_a() -> Correlator:
    """The chain with A down and B and C unreachable, their own judges saying down too."""
    correlator = Correlator(chain(), max_hold_s=HOLD)
    all_up(correlator, "ABC")
    correlator.update(verdict("A", "down", 10.0), {"A": 3})
    correlator.update(verdict("B", "down", 10.2), {"A": 4, "B": 3})
    correlator.update(verdict("C", "down", 10.4), {"A": 4, "B": 4, "C": 3})
    return correlator


def test_when_the_root_cause_recovers_the_nodes_behind_it_recover_with_their_own_verdicts():
    """A up: B and C still show unreachable (their probes catch up a round later); their own ups then
    bring them back, and nothing in between was a root cause."""
    correlator = cut_at_a()
    changes = correlator.update(verdict("A", "up", 30.0, previous="down"), {"A": 0, "B": 0, "C": 1})
    assert shown(changes) == [("A", "up", False, None)]
    assert correlator.held() == ("B",)
    changes = correlator.update(verdict("B", "up", 30.4, previous="down"), {"A": 0, "B": 0, "C": 0})
    assert shown(changes) == [("B", "up", False, None)]
    changes = correlator.update(verdict("C", "up", 30.7, previous="down"), {"A": 0, "B": 0, "C": 0})
    assert shown(changes) == [("C", "up", False, None)]
    assert not correlator.holding


def test_a_node_still_down_after_its_upstream_recovers_becomes_its_own_root_cause():
    """A and B come back; C stays down: once its hold runs out, C is the root cause of its own outage."""
    correlator = cut_at_a()
    correlator.update(verdict("A", "up", 30.0, previous="down"), {"A": 0, "B": 0, "C": 5})
    changes = correlator.update(verdict("B", "up", 30.4, previous="down"), {"A": 0, "B": 0, "C": 5})
    assert shown(changes) == [("B", "up", False, None)]
    assert correlator.effective("C").state == "unreachable"
    assert correlator.release({"C": 6}, 30.4 + HOLD - 0.01) == []
    changes = correlator.release({"C": 6}, 30.4 + HOLD + 0.01)
    assert shown(changes) == [("C", "down", True, None)]


def test_a_hold_goes_on_while_the_held_node_answers():
    """At the end of the hold C answers again (its up verdict needs one more round): the hold goes on, so
    a node that came back with its upstream is never called a root cause."""
    correlator = cut_at_a()
    correlator.update(verdict("A", "up", 30.0, previous="down"), {"A": 0, "B": 0, "C": 5})
    correlator.update(verdict("B", "up", 30.4, previous="down"), {"A": 0, "B": 0, "C": 5})
    assert correlator.release({"C": 0}, 40.0) == []
    assert correlator.holding
    changes = correlator.update(verdict("C", "up", 40.5, previous="down"), {"C": 0})
    assert shown(changes) == [("C", "up", False, None)]


def test_a_node_recovering_under_a_still_down_upstream_stays_unreachable():
    correlator = cut_at_a()
    assert correlator.update(verdict("C", "up", 20.0, previous="down"), {"A": 9, "B": 9, "C": 0}) == []
    assert correlator.effective("C") == Effective("C", "unreachable", False, "A")


def test_a_deeper_root_cause_shows_once_the_one_above_it_recovers():
    """A and B both broken: A is the root cause; when A is repaired, B becomes one (after the hold) and
    C is unreachable because of B."""
    correlator = cut_at_a()
    correlator.update(verdict("A", "up", 30.0, previous="down"), {"A": 0, "B": 5, "C": 5})
    changes = correlator.release({"A": 0, "B": 6, "C": 6}, 30.0 + HOLD + 0.01)
    assert shown(changes) == [("B", "down", True, None), ("C", "unreachable", False, "B")]


# --- flapping -----------------------------------------------------------------------------------------


def test_the_nodes_behind_a_flapping_node_keep_their_states_but_are_not_root_causes():
    """A flaps: B down is shown as down, not a root cause, because of A; C behind B is unreachable."""
    correlator = Correlator(chain(), max_hold_s=HOLD)
    all_up(correlator, "ABC")
    assert shown(correlator.update(verdict("A", "flapping", 10.0), {"A": 0})) == [("A", "flapping", False, None)]
    changes = correlator.update(verdict("B", "down", 11.0), {"A": 1, "B": 3})
    assert shown(changes) == [("B", "down", False, "A"), ("C", "unreachable", False, "B")]


def test_a_flapping_node_going_down_for_good_is_the_root_cause():
    correlator = Correlator(chain(), max_hold_s=HOLD)
    all_up(correlator, "ABC")
    correlator.update(verdict("A", "flapping", 10.0), {"A": 0})
    correlator.update(verdict("B", "down", 11.0), {"A": 1, "B": 3})
    changes = correlator.update(verdict("A", "down", 40.0, previous="flapping"), {"A": 30, "B": 30})
    assert shown(changes) == [("A", "down", True, None), ("B", "unreachable", False, "A"),
                              ("C", "unreachable", False, "A")]


def test_when_the_flapping_stops_a_down_child_becomes_a_root_cause():
    correlator = Correlator(chain(), max_hold_s=HOLD)
    all_up(correlator, "ABC")
    correlator.update(verdict("A", "flapping", 10.0), {"A": 0})
    correlator.update(verdict("B", "down", 11.0), {"A": 1, "B": 3})
    changes = correlator.update(verdict("A", "up", 50.0, previous="flapping"), {"A": 0, "B": 40})
    assert shown(changes) == [("A", "up", False, None), ("B", "down", True, None)]


# --- the property: random trees, random cuts and repairs, realistic interleavings ----------------------


@st.composite
def networks(draw):
    """A forest of up to eight nodes, each probed at its own point of the interval; some spans cut at a
    random moment, some of those repaired later."""
    count = draw(st.integers(1, 8))
    parents = [None] + [draw(st.one_of(st.none(), st.integers(0, index - 1))) for index in range(1, count)]
    offsets = draw(st.lists(st.floats(0.0, 0.99), min_size=count, max_size=count))
    rtts = draw(st.lists(st.floats(0.0002, 0.02), min_size=count, max_size=count))
    broken = draw(st.sets(st.integers(0, count - 1), min_size=1))
    repaired = draw(st.sets(st.sampled_from(sorted(broken))))
    cut_at = draw(st.floats(5.0, 6.0))
    repair_at = draw(st.floats(15.0, 16.0))
    judge_told_now = draw(st.booleans())
    return parents, offsets, rtts, broken, repaired, cut_at, repair_at, judge_told_now


def ancestors_of(index: int, parents: list[int | None]) -> list[int]:
    found = []
    up = parents[index]
    while up is not None:
        found.append(up)
        up = parents[up]
    return found


def topmost(dead: set[int], parents: list[int | None]) -> set[int]:
    return {node for node in dead if parents[node] not in dead}


def check_consistent(correlator: Correlator, names: list[str], parents: list[int | None]) -> None:
    """Never a root cause with an upstream node down, unreachable or flapping."""
    for index, name in enumerate(names):
        if correlator.effective(name).root_cause:
            for up in ancestors_of(index, parents):
                assert correlator.effective(names[up]).state not in ("down", "unreachable", "flapping")


@settings(max_examples=250, deadline=None)
@given(networks())
def test_every_outage_has_exactly_its_topmost_failed_nodes_as_root_causes(network):
    """Simulated probes (a reply after its round trip, a timeout after 0.8 s) in the order they come in,
    judged and correlated as the adapter does: every list of changes has parents before children; at
    every step no root cause has a failed upstream; no node
    is ever called a root cause unless it is a topmost failed node of the moment; and once things
    settle, the root causes are exactly the topmost failed nodes and everything else behind them is
    unreachable, before the repair and after it."""
    parents, offsets, rtts, broken, repaired, cut_at, repair_at, judge_told_now = network
    names = [f"n{index}" for index in range(len(parents))]
    topo = Topology.build({name: NodeConfig(address=f"10.0.0.{index + 1}",
                                            upstream=None if parents[index] is None else names[parents[index]])
                           for index, name in enumerate(names)})
    judges = {name: NodeJudge(name, JudgeConfig(), methods=("icmp",)) for name in names}
    failing: Mapping[str, int] = _Failing(judges)
    correlator = Correlator(topo, max_hold_s=HOLD)

    def dead_at(index: int, t: float) -> bool:
        path = [index, *ancestors_of(index, parents)]
        return any(node in broken and cut_at <= t and (node not in repaired or t < repair_at) for node in path)

    dead_before = {index for index in range(len(names)) if dead_at(index, repair_at - 0.001)}
    dead_after = {index for index in range(len(names)) if dead_at(index, 100.0)}

    events: list[tuple[float, int, str, ProbeResult | None]] = []
    sequence = 0
    for k in range(32):
        for index, name in enumerate(names):
            sent = k * INTERVAL + offsets[index]
            if dead_at(index, sent):
                result = ProbeResult(name, "icmp", sent, False, None, "timeout")
                arrives = sent + TIMEOUT
            else:
                result = ProbeResult(name, "icmp", sent, True, rtts[index])
                arrives = sent + rtts[index]
            events.append((arrives, sequence, name, result))
            sequence += 1
        for tick in range(10):
            events.append((k * INTERVAL + tick / 10, sequence, "", None))
            sequence += 1
    heapq.heapify(events)

    published_root_causes: list[tuple[float, str]] = []
    settled_before = False
    while events:
        now, _sequence, name, result = heapq.heappop(events)
        if not settled_before and now >= repair_at:
            settle_check(correlator, names, parents, dead_before)
            settled_before = True
        if result is not None:
            found = judges[name].observe(result, now if judge_told_now else None)
            changes = correlator.update(found, failing) if found is not None else []
        else:
            changes = correlator.release(failing, now)
        ranks = [topo.order.index(change.node) for change in changes]
        assert ranks == sorted(ranks), "parents before children"
        for change in changes:
            if change.root_cause:
                published_root_causes.append((now, change.node))
        check_consistent(correlator, names, parents)

    settle_check(correlator, names, parents, dead_after)
    for at, node in published_root_causes:
        allowed = topmost(dead_before if at < repair_at else dead_after, parents)
        assert names.index(node) in allowed, (at, node)


def settle_check(correlator: Correlator, names: list[str], parents: list[int | None], dead: set[int]) -> None:
    roots = {index for index, name in enumerate(names) if correlator.effective(name).root_cause}
    assert roots == topmost(dead, parents)
    for index, name in enumerate(names):
        effective = correlator.effective(name)
        if index in dead and index not in roots:
            assert effective.state == "unreachable"
        elif index in roots:
            assert effective.state == "down"
        else:
            assert effective.state == "up"
    assert not correlator.holding


class _Failing(Mapping[str, int]):
    def __init__(self, judges: dict[str, NodeJudge]) -> None:
        self._judges = judges

    def __getitem__(self, node: str) -> int:
        return self._judges[node].failing

    def __iter__(self):
        return iter(self._judges)

    def __len__(self) -> int:
        return len(self._judges)
