"""The fibre adapter's configuration: the topology a network engineer draws, checked before anything runs."""

from __future__ import annotations

import pytest

from hub.api import AdapterType
from hub.config import ConfigError, validate
from hub.secrets import Secret
from plugins.dark_fibre_health.config import FibreConfig, JudgeConfig, NodeConfig, SpanConfig
from plugins.dark_fibre_health.topology import SPAN_JOIN, Topology, TopologyError

ADAPTER_TYPES = {"fibre": AdapterType(name="fibre", config_class=FibreConfig, factory=lambda c: None)}
ENVIRON = {"FIBRE_COMMUNITY": "c0mmunity-s3cret", "FIBRE_AUTH": "auth-s3cret-pass", "FIBRE_PRIV": "priv-s3cret-pass"}


def read(table: dict) -> FibreConfig:
    raw = {"adapters": {"fibre": {"type": "fibre", **table}}}
    return validate(raw, "hub.toml", ADAPTER_TYPES, ENVIRON).adapters[0].settings


def problems(table: dict) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        read(table)
    return [str(problem) for problem in raised.value.problems]


RING = {
    "nodes": {
        "FN-01": {"address": "10.20.0.1", "cameras": ["1", "2"], "probes": ["icmp", "snmp"],
                  "snmp": {"version": "3", "usm": {"user": "hubmon", "auth_password": {"env": "FIBRE_AUTH"},
                                                   "priv_password": {"env": "FIBRE_PRIV"}},
                           "interfaces": ["Te1/1"], "thresholds": {"low_alarm_dbm": -14.0, "low_warning_dbm": -12}}},
        "FN-02": {"address": "10.20.0.2", "upstream": "FN-01", "cameras": ["3"], "probes": ["tcp"], "tcp_port": 830},
        "FN-03": {"address": "fn03.fibre.example.net", "upstream": "FN-02", "cameras": ["4", "5"],
                  "snmp": {"version": "2c", "community": {"env": "FIBRE_COMMUNITY"}}, "probes": ["tcp", "snmp"]},
    },
    "spans": [{"name": "S-12", "a": "FN-01", "b": "FN-02", "length_m": 1840, "cores": 24}],
}


def test_a_chain_of_nodes_reads_whole_with_the_defaults_the_notes_give():
    """Down after 3 failed probes, up after 2 good ones, probed once a second with an 0.8 s timeout."""
    config = read(RING)
    assert sorted(config.nodes) == ["FN-01", "FN-02", "FN-03"]
    assert config.judge == JudgeConfig()
    assert (config.judge.down_after, config.judge.up_after) == (3, 2)
    assert (config.interval_s, config.probe_timeout_s, config.icmp_mode) == (1.0, 0.8, "auto")
    first = config.nodes["FN-01"]
    assert first.snmp is not None and first.snmp.usm is not None
    assert first.snmp.usm.auth_password == Secret("auth-s3cret-pass")
    assert (first.snmp.usm.auth_protocol, first.snmp.usm.priv_protocol) == ("sha256", "aes")
    assert first.snmp.thresholds.low_alarm_dbm == -14.0
    assert config.nodes["FN-03"].snmp.community == Secret("c0mmunity-s3cret")  # type: ignore[union-attr]
    assert config.spans == (SpanConfig(name="S-12", a="FN-01", b="FN-02", length_m=1840, cores=24),)


def test_no_secret_shows_in_the_config_repr():
    text = repr(read(RING))
    for secret in ENVIRON.values():
        assert secret not in text


def test_the_topology_orders_parents_before_children_and_assumes_unnamed_spans():
    topology = Topology.build(read(RING).nodes, read(RING).spans)
    assert topology.order == ("FN-01", "FN-02", "FN-03")
    assert topology.span_to_upstream("FN-02") == "S-12"
    assert topology.span_to_upstream("FN-03") == f"FN-02{SPAN_JOIN}FN-03"
    assert topology.span_to_upstream("FN-01") is None
    assert topology.cameras_behind("FN-02") == ("3", "4", "5")
    assert topology.cameras_behind("FN-01") == ("1", "2", "3", "4", "5")
    assert topology.ancestors("FN-03") == ("FN-02", "FN-01")
    assert topology.descendants("FN-01") == ("FN-02", "FN-03")
    assert topology.node_of_camera("4") == "FN-03"
    assert topology.node_of_span("S-12") == "FN-02"


def test_a_tree_is_ordered_by_depth_then_by_name_as_people_sort_them():
    nodes = {
        "n10": NodeConfig(address="10.0.0.10", upstream="n1"),
        "n2": NodeConfig(address="10.0.0.2", upstream="n1"),
        "n1": NodeConfig(address="10.0.0.1"),
        "n3": NodeConfig(address="10.0.0.3", upstream="n2"),
        "m1": NodeConfig(address="10.0.0.4"),
    }
    topology = Topology.build(nodes)
    assert topology.order == ("m1", "n1", "n2", "n10", "n3")
    assert [topology.depth(name) for name in topology.order] == [0, 0, 1, 1, 2]
    assert topology.children("n1") == ("n2", "n10")


def _nodes(**upstreams: str | None) -> dict[str, NodeConfig]:
    return {name: NodeConfig(address=f"10.0.0.{index}", upstream=up)
            for index, (name, up) in enumerate(upstreams.items(), start=1)}


@pytest.mark.parametrize(
    ("nodes", "spans", "message"),
    [
        (_nodes(a="b", b="c", c="a"), (), "the upstreams form a loop: a -> b -> c -> a"),
        (_nodes(a=None, b="zz"), (), "upstream names a node that is not configured: b (upstream zz)"),
        (_nodes(a="a"), (), "a node cannot be its own upstream: a"),
        (_nodes(a=None, b="a", c="a"), (SpanConfig(name="ring", a="b", b="c"),),
         "ring (b\u2013c) joins nodes neither of which names the other as upstream"),
        (_nodes(a=None, b="a"), (SpanConfig(name="s1", a="a", b="b"), SpanConfig(name="s1", a="b", b="a")),
         "span names must be unique: s1"),
        (_nodes(a=None, b="a"), (SpanConfig(name="s1", a="a", b="b"), SpanConfig(name="s2", a="b", b="a")),
         "spans s1 and s2 both join b and a"),
        (_nodes(a=None), (SpanConfig(name="s9", a="a", b="q"),), "a span ends at a node that is not configured: s9 (q)"),
    ],
)
def test_a_topology_that_is_not_a_forest_is_refused_naming_what_is_wrong(nodes, spans, message):
    with pytest.raises(TopologyError) as raised:
        Topology.build(nodes, spans)
    assert message in str(raised.value)


def test_a_camera_on_two_nodes_is_refused_naming_both():
    nodes = {"a": NodeConfig(address="10.0.0.1", cameras=("7", "8")),
             "b": NodeConfig(address="10.0.0.2", cameras=("8",), upstream="a")}
    with pytest.raises(TopologyError, match="camera 8 on a and b"):
        Topology.build(nodes)


def test_the_config_file_reports_a_broken_topology_at_start_up():
    table = {"nodes": {"a": {"address": "10.0.0.1", "upstream": "b"}, "b": {"address": "10.0.0.2", "upstream": "a"}}}
    found = problems(table)
    assert any("the upstreams form a loop" in problem for problem in found), found


@pytest.mark.parametrize(
    ("table", "fragment"),
    [
        ({"nodes": {}}, "at least one node"),
        ({"nodes": {"bad name!": {"address": "10.0.0.1"}}}, "node names of 1 to 64"),
        ({"nodes": {"a": {"address": "10.0.0.1:22"}}}, "a management IPv4 address or host name"),
        ({"nodes": {"a": {"address": "fe80::1"}}}, "IPv4"),
        ({"nodes": {"a": {"address": "10.0.0.1", "probes": ["ping"]}}}, '"icmp", "tcp", "snmp"'),
        ({"nodes": {"a": {"address": "10.0.0.1", "probes": ["snmp"]}}}, "snmp] table for a node probed"),
        ({"nodes": {"a": {"address": "fn01.fibre.example.net"}}}, 'an IPv4 address for a node probed by "icmp"'),
        ({"nodes": {"a": {"address": "10.0.0.1", "cameras": [17]}}}, "expected a string"),
        ({"nodes": {"a": {"address": "10.0.0.1", "cameras": ["no 7"]}}}, "camera numbers"),
        ({"nodes": {"a": {"address": "10.0.0.1", "snmp": {"version": "2c"}}}}, "a community for SNMP v2c"),
        ({"nodes": {"a": {"address": "10.0.0.1", "snmp": {"version": "3"}}}}, "a USM user for SNMP v3"),
        ({"nodes": {"a": {"address": "10.0.0.1", "snmp": {"community": {"env": "FIBRE_COMMUNITY"}, "version": "2c",
                                                           "thresholds": {"low_alarm_dbm": -5, "low_warning_dbm": -9}}}}},
         "low_alarm_dbm <= low_warning_dbm"),
        ({"nodes": {"a": {"address": "10.0.0.1"}}, "judge": {"loss_enter_pct": 10, "loss_clear_pct": 20}},
         "no greater than loss_enter_pct"),
        ({"nodes": {"a": {"address": "10.0.0.1", "snmp": {"version": "3", "usm": {
            "user": "u", "auth_password": {"env": "FIBRE_AUTH"}}}}}}, "priv_password with a priv_protocol"),
    ],
)
def test_wrong_settings_are_refused_with_what_was_expected(table, fragment):
    found = problems(table)
    assert any(fragment in problem for problem in found), found


def test_an_error_about_a_community_never_shows_the_community():
    table = {"nodes": {"a": {"address": "10.0.0.1", "snmp": {"version": "2c", "community": {"env": "FIBRE_COMMUNITY"},
                                                              "port": 0}}}}
    for problem in problems(table):
        assert "c0mmunity-s3cret" not in problem
