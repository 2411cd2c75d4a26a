"""``poll_node``: what it walks of a node, and what it leaves alone. An in-memory agent answers walks from a
recording (as the real client would: the varbinds under the prefix, at most ``limit``) and keeps a list
of what it was asked."""

from __future__ import annotations

from typing import Any

import pytest
from structlog.testing import capture_logs
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from hub.secrets import Secret
from plugins.dark_fibre_health.codec.optics import (
    ARISTA_THRESHOLD,
    CISCO_SENSOR,
    CISCO_THRESHOLD,
    ENT_PHYSICAL_NAME,
    ENT_SENSOR,
    JUNIPER_DOM,
    interpret,
)
from plugins.dark_fibre_health.codec.snmp import OID, VarBind
from plugins.dark_fibre_health.optics_poll import WALK_LIMIT, WALKED_SUBTREES, poll_node
from plugins.dark_fibre_health.snmp_client import SnmpResponseError, SnmpTarget, SnmpTimeout
from tests.plugins.dark_fibre_health.snmprec import varbinds

TARGET = SnmpTarget("192.0.2.7", version="2c", community=Secret("public"))


class RecordedAgent:
    """Stands in for ``SnmpClient``: walks answered from a recording's varbinds."""

    def __init__(self, recorded: list[VarBind], *, refuse: OID | None = None, silent: bool = False) -> None:
        self.recorded = recorded
        self.walks: list[tuple[OID, int]] = []
        self.refuse = refuse
        self.silent = silent

    async def walk(self, target: SnmpTarget, prefix: OID, *, limit: int = 10000) -> list[VarBind]:
        assert target is TARGET
        self.walks.append((prefix, limit))
        if self.silent:
            raise SnmpTimeout("192.0.2.7:161 did not answer")
        if prefix == self.refuse:
            raise SnmpResponseError("192.0.2.7:161 answered genErr (varbind 1)", 5, 1)
        return [varbind for varbind in self.recorded if varbind.oid[:len(prefix)] == prefix][:limit]

    def walked(self, table: OID) -> list[OID]:
        return [prefix for prefix, _limit in self.walks if prefix[:len(table)] == table]


def run(coroutine: Any) -> Any:
    """The result of a coroutine that never waits on the reactor (the agent answers at once)."""
    outcome: list[Any] = []
    Deferred.fromCoroutine(coroutine).addBoth(outcome.append)
    assert len(outcome) == 1, "the poll waited on something"
    if isinstance(outcome[0], Failure):
        outcome[0].raiseException()
    return outcome[0]


def recorded(name: str) -> list[VarBind]:
    return varbinds(name, WALKED_SUBTREES)


@pytest.mark.parametrize("name", ["cisco-unknown-01", "cisco-c3750", "juniper-mx960-16-1r6-7-a",
                                  "arista-dcs-7150s-52-cl"])
def test_a_poll_reads_what_interpreting_the_whole_recording_does(name):
    agent = RecordedAgent(recorded(name))
    readings = run(poll_node(agent, TARGET, config_thresholds=None))
    assert readings == interpret(recorded(name), config_thresholds=None)
    assert readings.optics and readings.interfaces


def test_the_sensor_tables_are_walked_first():
    agent = RecordedAgent(recorded("cisco-c3750"))
    run(poll_node(agent, TARGET, config_thresholds=None))
    assert [prefix for prefix, _limit in agent.walks[:3]] == [CISCO_SENSOR + (1,), ENT_SENSOR + (1,),
                                                              JUNIPER_DOM + (5,)]


def test_a_juniper_is_not_asked_for_the_rest_of_tables_it_has_not_got():
    agent = RecordedAgent(recorded("juniper-mx960-16-1r6-7-a"))
    run(poll_node(agent, TARGET, config_thresholds=None))
    assert agent.walked(CISCO_SENSOR) == [CISCO_SENSOR + (1,)]
    assert agent.walked(ENT_SENSOR) == [ENT_SENSOR + (1,)]
    assert agent.walked(CISCO_THRESHOLD) == agent.walked(ARISTA_THRESHOLD) == []
    assert agent.walked(ENT_PHYSICAL_NAME) == []  # its table is indexed by ifIndex: no names needed
    assert len(agent.walked(JUNIPER_DOM)) == 11
    assert len(agent.walks) == 3 + 10 + 5


def test_a_cisco_is_asked_for_thresholds_and_entity_names_but_nothing_of_aristas_or_junipers():
    agent = RecordedAgent(recorded("cisco-unknown-01"))
    run(poll_node(agent, TARGET, config_thresholds=None))
    assert len(agent.walked(CISCO_SENSOR)) == 5
    assert len(agent.walked(CISCO_THRESHOLD)) == 3
    assert agent.walked(ENT_PHYSICAL_NAME) == [ENT_PHYSICAL_NAME]
    assert agent.walked(JUNIPER_DOM) == [JUNIPER_DOM + (5,)]
    assert agent.walked(ARISTA_THRESHOLD) == []


def test_an_arista_is_asked_for_its_thresholds():
    agent = RecordedAgent(recorded("arista-dcs-7150s-52-cl"))
    run(poll_node(agent, TARGET, config_thresholds=None))
    assert agent.walked(ARISTA_THRESHOLD) == [ARISTA_THRESHOLD + (column,) for column in (1, 2, 3, 4)]
    assert agent.walked(CISCO_SENSOR) == [CISCO_SENSOR + (1,)]


def test_every_walk_is_bounded():
    agent = RecordedAgent(recorded("cisco-unknown-01"))
    run(poll_node(agent, TARGET, config_thresholds=None))
    assert {limit for _prefix, limit in agent.walks} == {WALK_LIMIT}
    bounded = RecordedAgent(recorded("cisco-unknown-01"))
    readings = run(poll_node(bounded, TARGET, config_thresholds=None, walk_limit=40))
    assert {limit for _prefix, limit in bounded.walks} == {40}
    assert len(readings.interfaces) == 40


def test_a_subtree_the_agent_refuses_is_left_out_and_logged():
    agent = RecordedAgent(recorded("cisco-unknown-01"), refuse=CISCO_THRESHOLD + (2,))
    with capture_logs() as logs:
        readings = run(poll_node(agent, TARGET, config_thresholds=None))
    refused = [entry for entry in logs if entry["event"] == "fibre_snmp_subtree_refused"]
    assert refused == [{"event": "fibre_snmp_subtree_refused", "log_level": "info", "agent": "192.0.2.7:161",
                        "subtree": "1.3.6.1.4.1.9.9.91.1.2.1.1.2", "status": 5}]
    # Without severities the relations still place Te3/3's thresholds.
    te33 = next(reading for reading in readings.optics if reading.port == "Te3/3" and reading.direction == "rx")
    assert te33.level == "alarm"


def test_an_agent_that_does_not_answer_fails_the_poll():
    agent = RecordedAgent([], silent=True)
    with pytest.raises(SnmpTimeout):
        run(poll_node(agent, TARGET, config_thresholds=None))
    assert len(agent.walks) == 1


def test_watched_ports_and_configured_thresholds_reach_the_reading():
    from plugins.dark_fibre_health.config import OpticalThresholds

    agent = RecordedAgent(recorded("cisco-c3750"))
    readings = run(poll_node(agent, TARGET, config_thresholds=OpticalThresholds(high_warning_dbm=-5.5),
                             ports=("GigabitEthernet1/0/6",)))
    assert [(reading.port, reading.direction, reading.level) for reading in readings.optics] == [
        ("GigabitEthernet1/0/6", "rx", "warning"), ("GigabitEthernet1/0/6", "tx", "ok")]


def test_every_walked_subtree_is_one_interpret_reads():
    from plugins.dark_fibre_health.codec import optics

    tables = (optics.IF_DESCR, optics.IF_OPER_STATUS, optics.IF_LAST_CHANGE, optics.IF_IN_ERRORS, optics.IF_NAME,
              optics.ENT_PHYSICAL_DESCR, optics.ENT_PHYSICAL_CONTAINED_IN, optics.ENT_PHYSICAL_NAME,
              optics.ENT_ALIAS_MAPPING, ENT_SENSOR, CISCO_SENSOR, CISCO_THRESHOLD, JUNIPER_DOM, ARISTA_THRESHOLD)
    for subtree in WALKED_SUBTREES:
        assert any(subtree[:len(table)] == table for table in tables), subtree
    assert len(set(WALKED_SUBTREES)) == len(WALKED_SUBTREES)
