"""The network's declared assets: each node (with every camera behind it) and span, as the running adapter
lists them, without probing anything."""

from __future__ import annotations

import attrs
import structlog
from twisted.internet.task import Clock

from hub.directory import Directory
from plugins.dark_fibre_health.config import FibreConfig, NodeConfig, SpanConfig
from plugins.dark_fibre_health.outage import OutageReporter, declared_assets
from plugins.dark_fibre_health.plugin import plugin
from plugins.dark_fibre_health.topology import Topology

SOURCE = "fibre.town"


def config() -> FibreConfig:
    """head end -> node-02 -> node-03 -> node-04, and node-05 off node-02 (not probed)."""
    return FibreConfig(
        nodes={
            "node-01": NodeConfig(address="10.30.0.1", name="Head end"),
            "node-02": NodeConfig(address="10.30.0.2", upstream="node-01", cameras=("17", "42")),
            "node-03": NodeConfig(address="10.30.0.3", upstream="node-02", cameras=("23", "24"), site="Low Pavement",
                                  latitude=53.2346, longitude=-1.4229),
            "node-04": NodeConfig(address="10.30.0.4", upstream="node-03", cameras=("31",)),
            "node-05": NodeConfig(address="10.30.0.5", upstream="node-02", cameras=("50",), enabled=False),
        },
        spans=(SpanConfig(name="span-2-3", a="node-02", b="node-03", length_m=420.0, cores=12),),
    )


def test_a_nodes_cameras_include_those_behind_the_nodes_further_out():
    """node-03 takes 23 and 24 (its own) and 31 (behind node-04) with it; node-02 every camera but its
    head end's."""
    nodes = {a.id: a for a in declared_assets(config(), SOURCE) if a.kind == "fibre_node"}
    assert nodes["node-03"].attributes["cameras"] == ["23", "24", "31"]
    assert nodes["node-03"].attributes["cameras_on"] == ["23", "24"]
    assert sorted(nodes["node-02"].attributes["cameras"]) == ["17", "23", "24", "31", "42", "50"]
    assert nodes["node-04"].attributes["cameras"] == ["31"]
    assert (nodes["node-03"].latitude, nodes["node-03"].longitude) == (53.2346, -1.4229)
    assert {a.id: a.state for a in nodes.values()} == {
        "node-01": "unknown", "node-02": "unknown", "node-03": "unknown", "node-04": "unknown",
        "node-05": "disabled"}


def test_the_declared_nodes_and_spans_are_what_the_running_adapter_first_lists():
    """The adapter's outage reporter puts exactly these in the directory at start (their time apart)."""
    directory = Directory()
    clock = Clock()
    clock.advance(1_000)
    reporter = OutageReporter(config=config(), topology=Topology.build(config().nodes, config().spans),
                              events=None, publish=lambda _event: None, directory=directory, clock=clock,
                              source=SOURCE, log=structlog.get_logger())
    reporter.put_assets()
    running = sorted((attrs.evolve(a, state_since=None) for a in directory.list()), key=lambda a: (a.kind, a.id))
    declared = sorted(declared_assets(config(), SOURCE), key=lambda a: (a.kind, a.id))
    assert running == declared
    # The configured span names its link; every other link is a span of its own, named by its ends.
    spans = {a.attributes["carries"]: a.id for a in declared if a.kind == "fibre_span"}
    assert spans["node-03"] == "span-2-3" and set(spans) == {"node-02", "node-03", "node-04", "node-05"}


def test_the_adapter_type_offers_them():
    """The fibre adapter type's assets is this function, for hub rules test."""
    (adapter_type,) = plugin.hub_register_adapter_types()
    assert {a.id for a in adapter_type.assets(config(), SOURCE) if a.kind == "fibre_node"} == {
        "node-01", "node-02", "node-03", "node-04", "node-05"}
