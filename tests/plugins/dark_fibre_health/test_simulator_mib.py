"""The simulated agent's MIB tree: Get, GetNext and GetBulk by RFC 3416, with values worked out per request."""

from __future__ import annotations

import pytest

from plugins.dark_fibre_health.codec.snmp import SnmpValue, integer, octets
from plugins.dark_fibre_health.sim_mib import MibTree

A = (1, 3, 6, 1, 2, 1, 1, 1, 0)
B = (1, 3, 6, 1, 2, 1, 1, 3, 0)
C1 = (1, 3, 6, 1, 2, 1, 2, 2, 1, 8, 1)
C2 = (1, 3, 6, 1, 2, 1, 2, 2, 1, 8, 2)
LAST = (1, 3, 6, 1, 4, 1, 9, 9, 91, 1, 1, 1, 1, 4, 2020)


@pytest.fixture
def tree() -> MibTree[int]:
    return MibTree([
        (C2, integer(2)),
        (A, octets("a switch")),
        (B, lambda state: SnmpValue("timeticks", state * 100)),
        (LAST, integer(-26)),
        (C1, integer(1)),
    ])


def test_get_answers_the_exact_oid_with_a_value_worked_out_from_the_state(tree):
    assert tree.get(B, 42).value == SnmpValue("timeticks", 4200)
    assert tree.get(A, 0).value == octets("a switch")


def test_get_of_an_unknown_instance_of_a_known_object_is_no_such_instance(tree):
    assert tree.get(C1[:-1] + (3,), 0).value.kind == "no_such_instance"


def test_get_of_an_unknown_object_is_no_such_object(tree):
    assert tree.get((1, 3, 6, 1, 2, 1, 2, 2, 1, 99, 1), 0).value.kind == "no_such_object"
    assert tree.get((1, 3, 6, 1, 6), 0).value.kind == "no_such_object"


def test_getnext_gives_the_first_oid_after_the_one_asked_in_lexicographic_order(tree):
    assert tree.next((1, 3), 0).oid == A
    assert tree.next(A, 0).oid == B
    assert tree.next(B + (5,), 0).oid == C1  # between two: the next that exists
    assert tree.next(C1, 0).oid == C2
    assert tree.next((1, 3, 6, 1, 2, 1, 2, 2, 1, 8), 0).oid == C1  # a column's OID leads to its first row


def test_getnext_at_and_past_the_last_oid_is_end_of_mib_view_on_the_oid_asked(tree):
    at_end = tree.next(LAST, 0)
    assert (at_end.oid, at_end.value.kind) == (LAST, "end_of_mib_view")
    past = tree.next((2,), 0)
    assert (past.oid, past.value.kind) == ((2,), "end_of_mib_view")


def test_getbulk_repeats_each_repeater_from_its_last_answer(tree):
    answer = tree.bulk([A, C1], non_repeaters=0, max_repetitions=2, state=1)
    assert [varbind.oid for varbind in answer] == [B, C2, C1, LAST]


def test_getbulk_answers_non_repeaters_once_then_the_repetitions(tree):
    answer = tree.bulk([(1,), A], non_repeaters=1, max_repetitions=3, state=1)
    assert [varbind.oid for varbind in answer] == [A, B, C1, C2]


def test_getbulk_stops_once_every_repeater_is_past_the_end_with_that_round_given(tree):
    answer = tree.bulk([C2], non_repeaters=0, max_repetitions=10, state=0)
    assert [(varbind.oid, varbind.value.kind) for varbind in answer] == [
        (LAST, "integer"), (LAST, "end_of_mib_view")]


def test_getbulk_keeps_answering_end_of_mib_view_for_a_finished_repeater_while_another_goes_on(tree):
    answer = tree.bulk([LAST, A], non_repeaters=0, max_repetitions=2, state=0)
    assert [(varbind.oid, varbind.value.kind) for varbind in answer] == [
        (LAST, "end_of_mib_view"), (B, "timeticks"), (LAST, "end_of_mib_view"), (C1, "integer")]


def test_getbulk_with_no_repetitions_or_only_non_repeaters_answers_them_alone(tree):
    assert tree.bulk([A, B], non_repeaters=0, max_repetitions=0, state=0) == []
    assert [varbind.oid for varbind in tree.bulk([A, B], non_repeaters=5, max_repetitions=9, state=0)] == [B, C1]


def test_getbulk_stops_at_the_limit_in_whole_rounds(tree):
    answer = tree.bulk([(1,), A], non_repeaters=0, max_repetitions=10, state=0, limit=5)
    assert len(answer) == 4


def test_one_oid_served_twice_is_refused():
    with pytest.raises(ValueError, match="1.3.6.1.2.1.1.1.0 is served twice"):
        MibTree([(A, integer(1)), (A, integer(2))])
