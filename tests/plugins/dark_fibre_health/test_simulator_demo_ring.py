"""The demo's fibre ring, as ``hub demo`` runs it as root: the whole hub with the demo's two fibre simulator
tables and two fibre adapter tables (``only_when`` picks the namespace pair), the adapter pinging and
polling the four nodes in their namespaces, and the scenario's cue taking node-03 down: one root-cause
incident naming node-03 and the six cameras behind it (three on node-03, three on node-04), resolved by the
hub when the node is cued back up."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor

from hub.app import Hub
from hub.config import validate
from hub.incidents.model import IncidentState
from hub.plugins import make_plugin_manager
from plugins.dark_fibre_health import netns
from plugins.dark_fibre_health.plugin import plugin as fibre_plugin
from tests.plugins.dark_fibre_health.netns_scene import Watch, inline_writer, until
from tests.plugins.dark_fibre_health.test_simulator_netns import free_subnet

REASON = netns.why_not_usable()
pytestmark = [pytest.mark.skipif(REASON is not None, reason=f"network namespace test: {REASON}"),
              pytest.mark.timeout(60)]

CAMERAS = {"node-01": ["17", "42", "43"], "node-02": ["23", "24"], "node-03": ["31", "38", "39"],
           "node-04": ["35", "36", "37"]}
ENVIRON = {"DEMO_FIBRE_AUTH": "auth-pass-phrase", "DEMO_FIBRE_PRIV": "priv-pass-phrase"}
USM = {"user": "hub", "auth_password": {"env": "DEMO_FIBRE_AUTH"}, "priv_password": {"env": "DEMO_FIBRE_PRIV"}}


def demo_tables(subnet: str) -> dict[str, Any]:
    """The fibre part of config/demo.toml (/tmp/issue8/fibre-demo.toml when written), on ``subnet`` and
    with a test's pace: five probe rounds a second."""
    base = subnet.rsplit(".", 1)[0]
    simulator = {"type": "fibre", "nodes": 4, "vendors": ["cisco", "juniper", "entity"], "usm": USM,
                 "netns_prefix": "fibdemotest"}

    def adapter(only_when: str, addresses: list[str], probes: list[str], ports: list[int]) -> dict[str, Any]:
        nodes = {}
        for number, name in enumerate(CAMERAS):
            nodes[name] = {"address": addresses[number], "probes": probes, "cameras": CAMERAS[name],
                           "snmp": {"port": ports[number], "interval_s": 1, "timeout_s": 0.3, "retries": 0,
                                    "version": "3", "usm": USM}}
            if number:
                nodes[name]["upstream"] = f"node-0{number}"
        return {"type": "fibre", "only_when": only_when, "interval_s": 0.2, "probe_timeout_s": 0.15,
                "judge": {"down_after": 3, "up_after": 2}, "nodes": nodes}

    return {
        "simulators": {
            "fibre": {**simulator, "only_when": "not_root", "base_port": 16100},
            "fibre_ns": {**simulator, "only_when": "root", "network": "namespaces", "subnet": subnet},
        },
        "adapters": {
            "fibre": adapter("not_root", ["127.0.0.1"] * 4, ["snmp"], [16101, 16102, 16103, 16104]),
            "fibre_ns": adapter("root", [f"{base}.{n}" for n in (2, 6, 10, 14)], ["icmp", "snmp"], [161] * 4),
        },
    }


@pytest_twisted.async_yield_fixture
async def demo_hub(tmp_path: Path):
    host = make_plugin_manager(load_entry_points=False, extra_plugins=[(fibre_plugin, "dark_fibre_health")])
    raw = {"hub": {"name": "Demo ring test", "data_dir": str(tmp_path / "data"), "shutdown_grace_s": 5},
           "web": {"enabled": False}, "incidents": {"rules": [{"name": "high", "min_severity": "high"}]},
           **demo_tables(free_subnet())}
    config = validate(raw, tmp_path / "hub.toml", host.adapter_types(), environ=ENVIRON,
                      simulator_types=host.simulator_types())
    hub = Hub(config, host, reactor, writer_factory=inline_writer, rng=random.Random(8), root=True)
    starting = hub.startService()
    watch = Watch(hub.bus)
    await starting
    try:
        yield hub, watch
    finally:
        chain = hub.simulators["fibre_ns"].chain
        await hub.stopService()
        assert chain.leftovers() == []


@pytest_twisted.ensureDeferred
async def test_node_03_failing_is_one_incident_with_the_six_cameras_behind_it(demo_hub):
    """As root the namespace twins run; node_down on node-03 gives one incident naming node-03, node-04
    behind it and cameras 31, 38, 39, 35, 36 and 37; node_up resolves it."""
    hub, watch = demo_hub
    assert list(hub.simulators) == ["fibre_ns"] and list(hub.adapters) == ["fibre.fibre_ns"]
    assert hub.skipped_simulators.keys() == {"fibre"} and hub.skipped_adapters.keys() == {"fibre"}
    for node in CAMERAS:
        await watch.first("fibre.node.up", "fibre_node", node)
    mark = watch.mark()

    await hub.simulators["fibre_ns"].cue("node_down", {"node": "node-03"})

    down = await watch.first("fibre.node.down", "fibre_node", "node-03", since=mark)
    assert down.payload.root_cause is True
    assert set(down.payload.cameras) == {"31", "38", "39", "35", "36", "37"}
    assert down.payload.nodes_behind == ("node-04",)
    await watch.first("fibre.node.unreachable", "fibre_node", "node-04", since=mark)
    incident = await until(lambda: next(iter(hub.incidents.list()), None), "an incident")
    assert [(i.subject.kind, i.subject.id) for i in hub.incidents.list()] == [("fibre_node", "node-03")]
    assert {f"camera:{n}" for n in ("31", "38", "39", "35", "36", "37")} <= set(incident.covers)
    assert watch.find("fibre.node.down", "fibre_node", "node-02", since=mark) == []

    back = watch.mark()
    await hub.simulators["fibre_ns"].cue("node_up", {"node": "node-03"})
    up = await watch.first("fibre.node.up", "fibre_node", "node-03", since=back)
    assert up.payload.recovered is True
    await until(lambda: hub.incidents.list()[0].state == IncidentState.RESOLVED, "the incident resolved")
    assert len(hub.incidents.list()) == 1
