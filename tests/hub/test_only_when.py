"""``only_when = "root" | "not_root"`` on an adapter or simulator table: one config for a hub run as root
and one run without (the demo's fibre nodes in network namespaces, or simulated on loopback); the instance
whose condition is false is skipped, said so in the log and the demo banner, and never reported as failed."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from hub.app import Hub
from hub.cli import DEMO_USERS, _demo_banner
from hub.config import ConfigError, HubConfig, only_when_holds
from tests.hub.test_app import (
    GadgetPlugin,
    WorkshopPlugin,
    clock,  # noqa: F401 - the fixture
    gadgets,  # noqa: F401 - the fixture
    inline_writer,
    journal,
    make_config,
    make_host,
    start,
    stop,
    workshop,  # noqa: F401 - the fixture
)

TWINS = {
    "adapters": {"ring": {"type": "gadget", "only_when": "not_root"},
                 "ring_ns": {"type": "gadget", "only_when": "root"},
                 "always": {"type": "gadget"}},
    "simulators": {"nodes": {"type": "workshop", "only_when": "not_root"},
                   "nodes_ns": {"type": "workshop", "only_when": "root"}},
}


def twin_hub(tmp_path: Path, clock: Any, gadgets: GadgetPlugin, workshop: WorkshopPlugin, *,
             root: bool) -> tuple[Hub, HubConfig]:
    host = make_host((gadgets, "gadget"), (workshop, "workshop"))
    config = make_config(tmp_path, host, TWINS["adapters"], simulators=TWINS["simulators"])
    return Hub(config, host, clock, writer_factory=inline_writer, rng=random.Random(0), root=root), config


def test_the_condition_holds_as_written():
    """No only_when always runs; "root" only as root; "not_root" only without."""
    assert [only_when_holds(None, root=True), only_when_holds(None, root=False)] == [True, True]
    assert [only_when_holds("root", root=True), only_when_holds("root", root=False)] == [True, False]
    assert [only_when_holds("not_root", root=True), only_when_holds("not_root", root=False)] == [False, True]


def test_the_key_is_read_on_adapter_and_simulator_tables(tmp_path, gadgets, workshop):
    """only_when is the hub's key, not the type's: it reaches the instance config and nowhere else."""
    host = make_host((gadgets, "gadget"), (workshop, "workshop"))
    config = make_config(tmp_path, host, TWINS["adapters"], simulators=TWINS["simulators"])
    assert {a.name: a.only_when for a in config.adapters} == {"ring": "not_root", "ring_ns": "root", "always": None}
    assert {s.name: s.only_when for s in config.simulators} == {"nodes": "not_root", "nodes_ns": "root"}


def test_a_value_other_than_root_or_not_root_is_refused(tmp_path, gadgets, workshop):
    """A misspelt condition is a config error naming the two allowed, never silently "always"."""
    host = make_host((gadgets, "gadget"), (workshop, "workshop"))
    with pytest.raises(ConfigError) as raised:
        make_config(tmp_path, host, {"ring": {"type": "gadget", "only_when": "as_root"}},
                    simulators={"nodes": {"type": "workshop", "only_when": True}})
    text = str(raised.value)
    assert "adapters.ring.only_when" in text and "simulators.nodes.only_when" in text
    assert "one of: root, not_root" in text


@pytest.mark.parametrize("root", [True, False])
def test_only_the_instances_whose_condition_holds_run(tmp_path, clock, gadgets, workshop, captured_logs, root):  # noqa: F811
    """As root the "root" twins run, without root the "not_root" ones; the others are skipped with a log line."""
    hub, config = twin_hub(tmp_path, clock, gadgets, workshop, root=root)
    start(hub, clock)
    running, skipped = ("ring_ns", "nodes_ns") if root else ("ring", "nodes")
    other_adapter, other_simulator = ("ring", "nodes") if root else ("ring_ns", "nodes_ns")
    assert sorted(hub.adapters) == sorted([f"gadget.{running}", "gadget.always"])
    assert list(hub.simulators) == [skipped] and list(workshop.built) == [skipped]
    assert list(hub.skipped_adapters) == [other_adapter] and list(hub.skipped_simulators) == [other_simulator]
    assert hub.simulator_failures == {}
    assert not [event for event in journal(config) if event["topic"].endswith(".failed")]
    logged = {(entry["event"], entry.get("adapter") or entry.get("simulator")): entry["reason"]
              for entry in captured_logs if entry["event"] in ("adapter_skipped", "simulator_skipped")}
    condition = "not_root" if root else "root"
    why = f'only_when = "{condition}" and the hub runs {"as root" if root else "without root"}'
    assert logged == {("adapter_skipped", other_adapter): why, ("simulator_skipped", other_simulator): why}
    stop(hub, clock)


def test_the_demo_banner_shows_skipped_instances_as_skipped_not_failed(tmp_path, clock, gadgets, workshop):  # noqa: F811
    """The banner lists the running twins as adapters and simulators, and the others on a line of their own."""
    hub, config = twin_hub(tmp_path, clock, gadgets, workshop, root=False)
    start(hub, clock)
    banner = _demo_banner(tmp_path / "hub.toml", config, hub, {name: "pw" for name, _role in DEMO_USERS})
    lines = {line.split(":", 1)[0].strip(): line for line in banner.splitlines()}
    assert lines["adapters"].endswith("gadget.ring, gadget.always")
    assert lines["simulators"].endswith("nodes (workshop)")
    assert "FAILED" not in banner
    assert lines["skipped (without root)"].endswith("adapter ring_ns, simulator nodes_ns (their only_when says so)")
    stop(hub, clock)
