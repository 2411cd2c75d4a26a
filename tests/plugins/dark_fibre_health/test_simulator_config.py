"""The fibre simulator's config table, its SimulatorType, and ``hub fibre-sim``: the command line, the node
table and the adapter tables it prints, which the hub's own fibre config reads as they are."""

from __future__ import annotations

import argparse
import tomllib

import pytest
import structlog
from twisted.internet.testing import MemoryReactorClock

from hub.api import AdapterType, SimulatorContext
from hub.config import ConfigError, validate
from hub.secrets import Secret
from plugins.dark_fibre_health.config import FibreConfig, UsmConfig
from plugins.dark_fibre_health.sim_faults import FaultConfig
from plugins.dark_fibre_health.simulator import (
    FIBRE_SIMULATOR,
    FibreSimulator,
    FibreSimulatorConfig,
    SimulatedNodeConfig,
    adapter_tables,
    add_arguments,
    build_nodes,
    chains_of,
    config_from_arguments,
    node_table,
    ready_line,
)
from tests.plugins.dark_fibre_health.test_simulator_network import FakeReactor

ENVIRON = {"FIBRE_COMMUNITY": "c0mmunity-s3cret", "FIBRE_AUTH_PASSWORD": "auth-s3cret-pass",
           "FIBRE_PRIV_PASSWORD": "priv-s3cret-pass"}
USM = {"user": "hub", "auth_password": {"env": "FIBRE_AUTH_PASSWORD"},
       "priv_password": {"env": "FIBRE_PRIV_PASSWORD"}}


def read(table: dict, tmp_path) -> FibreSimulatorConfig:
    raw = {"simulators": {"ring": {"type": "fibre", **table}}}
    config = validate(raw, tmp_path / "hub.toml", {}, ENVIRON, simulator_types={"fibre": FIBRE_SIMULATOR})
    [simulator] = config.simulators
    return simulator.settings


def problems(table: dict, tmp_path) -> str:
    with pytest.raises(ConfigError) as raised:
        read(table, tmp_path)
    return " | ".join(str(problem) for problem in raised.value.problems)


def test_a_table_with_a_community_is_four_nodes_from_port_16101_in_turn_cisco_juniper_entity(tmp_path):
    config = read({"community": {"env": "FIBRE_COMMUNITY"}}, tmp_path)
    assert (config.nodes, config.host, config.base_port, config.vendors) == (
        4, "127.0.0.1", 16100, ("cisco", "juniper", "entity"))
    assert config.community == Secret("c0mmunity-s3cret") and config.usm is None
    assert [node.vendor for node in build_nodes(config)] == ["cisco", "juniper", "entity", "cisco"]


def test_faults_nodes_and_a_v3_user_are_read_from_the_table(tmp_path):
    config = read({
        "nodes": 6, "chains": 2, "usm": USM, "repeat_s": 600, "time_scale": 1440,
        "faults": [{"node": "node-03", "at_s": 60, "for_s": 120, "kind": "down"},
                   {"node": "node-05", "kind": "rx_decline", "db_per_day": 2.5, "start_dbm": -7}],
        "node": {"node-02": {"vendor": "entity", "rx_dbm": -9.5}},
    }, tmp_path)
    assert config.faults == (FaultConfig(node="node-03", kind="down", at_s=60, for_s=120),
                             FaultConfig(node="node-05", kind="rx_decline", db_per_day=2.5, start_dbm=-7))
    assert config.usm.user == "hub" and config.usm.priv_password == Secret("priv-s3cret-pass")
    assert config.node["node-02"] == SimulatedNodeConfig(vendor="entity", rx_dbm=-9.5)
    assert chains_of(config) == [["node-01", "node-02", "node-03"], ["node-04", "node-05", "node-06"]]
    second = build_nodes(config)[1]
    assert (second.vendor, second.rx_dbm, second.upstream, second.downstream) == ("entity", -9.5, "node-01", "node-03")
    assert build_nodes(config)[3].upstream is None  # the second chain starts at the head end


def test_bad_settings_are_named_and_no_secret_is_shown(tmp_path):
    text = problems({"community": {"env": "FIBRE_COMMUNITY"}, "nodes": 0, "vendors": ["huawei"],
                     "faults": [{"node": "node-01", "kind": "melted"}], "time_scale": 0, "host": "localhost"},
                    tmp_path)
    for expected in ("nodes", "vendors", "faults", "melted", "time_scale", "an IPv4 address to listen on"):
        assert expected in text
    assert "c0mmunity-s3cret" not in text


def test_without_a_community_or_a_user_the_agents_would_answer_nobody(tmp_path):
    assert "a community (v2c) or a [....usm] user (v3)" in problems({}, tmp_path)


def test_faults_for_nodes_the_ring_has_not_are_refused_naming_them(tmp_path):
    text = problems({"community": {"env": "FIBRE_COMMUNITY"}, "nodes": 3,
                     "faults": [{"node": "node-09", "kind": "down"}], "node": {"FN-1": {}}}, tmp_path)
    assert "node-01 to node-03" in text and "node-09" in text and "FN-1" in text


def test_faults_that_do_not_fit_in_a_round_are_refused(tmp_path):
    text = problems({"community": {"env": "FIBRE_COMMUNITY"}, "repeat_s": 100,
                     "faults": [{"node": "node-01", "kind": "loss", "at_s": 90, "for_s": 20}]}, tmp_path)
    assert "within the round of repeat_s = 100 s" in text


def test_the_config_and_a_user_never_show_their_secrets():
    config = FibreSimulatorConfig(community=Secret("c0mmunity-s3cret"), usm=UsmConfig(
        user="hub", auth_password=Secret("auth-s3cret-pass"), priv_password=Secret("priv-s3cret-pass")))
    assert "s3cret" not in repr(config) and "s3cret" not in repr(build_nodes(config))


def test_the_simulator_type_makes_a_service_from_the_hubs_context(tmp_path):
    config = FibreSimulatorConfig(community=Secret("x"), nodes=2)
    service = FIBRE_SIMULATOR.factory(SimulatorContext(
        name="ring", reactor=MemoryReactorClock(), log=structlog.get_logger(), config=config, base_dir=tmp_path))
    assert isinstance(service, FibreSimulator) and [node.name for node in service.nodes] == ["node-01", "node-02"]
    assert FIBRE_SIMULATOR.name == "fibre" and FIBRE_SIMULATOR.config_class is FibreSimulatorConfig


# --- hub fibre-sim ------------------------------------------------------------------------------------


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_the_command_line_reads_nodes_ports_faults_and_v3_secrets_from_the_environment():
    config = config_from_arguments(parse(
        "--nodes", "12", "--base-port", "16200", "--chains", "2", "--time-scale", "1440", "--repeat-s", "900",
        "--fault", "node-03:down:60:120", "--fault", "node-07:rx_decline:0::db_per_day=2,start_dbm=-6",
        "--fault", "node-09:loss:30:60:loss_pct=25"), ENVIRON)
    assert (config.nodes, config.base_port, config.chains, config.time_scale, config.repeat_s) == (
        12, 16200, 2, 1440, 900)
    assert config.faults == (
        FaultConfig(node="node-03", kind="down", at_s=60, for_s=120),
        FaultConfig(node="node-07", kind="rx_decline", at_s=0, db_per_day=2, start_dbm=-6),
        FaultConfig(node="node-09", kind="loss", at_s=30, for_s=60, loss_pct=25))
    assert config.usm.auth_password == Secret("auth-s3cret-pass") and config.community == Secret("c0mmunity-s3cret")


@pytest.mark.parametrize("argv, environ, expected", [
    ((), {}, r"set FIBRE_COMMUNITY \(v2c\) or FIBRE_AUTH_PASSWORD"),
    ((), {"FIBRE_AUTH_PASSWORD": "a-password"}, "set FIBRE_PRIV_PASSWORD"),
    (("--nodes", "2", "--fault", "node-05:down:1"), {"FIBRE_COMMUNITY": "c"}, "node-05"),
])
def test_the_command_line_says_what_is_missing_or_wrong(argv, environ, expected):
    with pytest.raises(ValueError, match=expected):
        config_from_arguments(parse(*argv), environ)


def test_a_malformed_fault_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit):
        parse("--fault", "node-03:explodes:5")
    assert "NODE:KIND:AT_S" in capsys.readouterr().err


def started(config: FibreSimulatorConfig) -> FibreSimulator:
    simulator = FibreSimulator(FakeReactor(), config, log=structlog.get_logger())
    simulator.startService()
    return simulator


def fibre_adapter_config(tables: str) -> FibreConfig:
    raw = tomllib.loads(tables)
    fibre = AdapterType(name="fibre", config_class=FibreConfig, factory=lambda context: None)
    config = validate(raw, "/tmp/hub.toml", {"fibre": fibre}, ENVIRON)
    [adapter] = config.adapters
    return adapter.settings


def test_the_printed_adapter_tables_are_a_fibre_config_pointing_at_every_node_over_v3():
    config = config_from_arguments(parse("--nodes", "4", "--chains", "2", "--cameras-per-node", "2",
                                         "--fault", "node-02:down:5:5"), ENVIRON)
    simulator = started(config)
    tables = adapter_tables(simulator, secrets={"community": "FIBRE_COMMUNITY",
                                                "auth_password": "FIBRE_AUTH_PASSWORD",
                                                "priv_password": "FIBRE_PRIV_PASSWORD"})
    assert "s3cret" not in tables
    fibre = fibre_adapter_config(tables)
    assert list(fibre.nodes) == ["node-01", "node-02", "node-03", "node-04"]
    second = fibre.nodes["node-02"]
    assert (second.address, second.tcp_port, second.upstream, second.probes) == (
        "127.0.0.1", 16102, "node-01", ("snmp",))
    assert second.cameras == ("3", "4") and fibre.nodes["node-03"].upstream is None
    assert (second.snmp.version, second.snmp.port, second.snmp.usm.user) == ("3", 16102, "hub")
    assert second.snmp.usm.priv_password == Secret("priv-s3cret-pass")
    table = node_table(simulator)
    assert "node-02" in table and "juniper" in table and "fault: node-02 down at 5 s for 5 s" in table
    assert ready_line(simulator) == "fibre-sim ready nodes=4 host=127.0.0.1 first_port=16101 last_port=16104"


def test_with_a_community_only_the_tables_use_v2c():
    simulator = started(FibreSimulatorConfig(nodes=1, community=Secret("c0mmunity-s3cret"), base_port=0))
    tables = adapter_tables(simulator, adapter="ring", secrets={"community": "FIBRE_COMMUNITY"})
    node = fibre_adapter_config(tables).nodes["node-01"]
    assert (node.snmp.version, node.snmp.community) == ("2c", Secret("c0mmunity-s3cret"))
    assert node.snmp.port == simulator.network.nodes["node-01"].snmp_port
    assert " snmp_ports=" in ready_line(simulator) and " tcp_ports=" in ready_line(simulator)
