"""The shopwatch plugin's hooks: its adapter type with commands, its events, the simulator and the CLI tool."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest
from twisted.application.service import IService
from twisted.internet.task import Clock

from hub.events import EventCodec, EventFactory, EventTypeRegistry, Location, Severity, Subject
from hub.topics import TopicMatcher
from plugins.shopwatch import simulator
from plugins.shopwatch.adapter import ShopwatchAdapter
from plugins.shopwatch.config import ShopwatchConfig
from plugins.shopwatch.events import EVENT_TYPES, RadioEmergencyRaised, RadioMember
from plugins.shopwatch.plugin import ShopwatchPlugin, plugin
from tests.plugins.shopwatch.adapter_fakes import Harness


@pytest.fixture
def host(plugin_manager):
    plugin_manager.manager.register(ShopwatchPlugin(), name="shopwatch")
    return plugin_manager


def test_the_plugin_offers_the_shopwatch_adapter_type_with_its_four_commands(host):
    """Adapter type shopwatch: ShopwatchConfig, built by ShopwatchAdapter, commands broadcast, message,
    acknowledge and end_emergency."""
    adapter_type = host.adapter_types()["shopwatch"]
    assert (adapter_type.config_class, adapter_type.factory) == (ShopwatchConfig, ShopwatchAdapter)
    assert [spec.verb for spec in adapter_type.commands] == ["broadcast", "message", "acknowledge", "end_emergency"]
    assert "CCDI" in adapter_type.description and "FleetSync" in adapter_type.description
    assert host.failures == []


def test_the_plugin_registers_its_events_simulator_and_cli_tool(host):
    """Every payload class, simulator type shopwatch and the hub shopwatch-sim command."""
    assert set(EVENT_TYPES) <= set(host.event_types())
    assert host.simulator_types()["shopwatch"] is simulator.SHOPWATCH_SIMULATOR
    [(_plugin, command)] = host.cli_commands()
    assert (command.name, command.add_arguments, command.run) == ("shopwatch-sim", simulator.add_arguments,
                                                                  simulator.run)
    assert host.failures == []


def test_the_installed_entry_point_names_the_plugin_object():
    """hub.plugins has shopwatch = plugins.shopwatch.plugin:plugin."""
    [point] = [point for point in entry_points(group="hub.plugins") if point.name == "shopwatch"]
    assert point.value == "plugins.shopwatch.plugin:plugin"
    assert point.load() is plugin


def test_the_factory_builds_a_service_from_a_context(hub_bus):
    """The adapter type's factory returns an IService for a context, as the runtime needs."""
    harness = Harness(hub_bus, ShopwatchConfig(port="/dev/ttyUSB0"))
    assert IService.providedBy(ShopwatchAdapter(harness.context))


def _walk(data, path):
    for key in path.split("."):
        data = data[key]
    return data


def test_prefilled_arguments_find_their_values_in_a_real_event():
    """payload.member.unit and location.camera read the unit and nearest camera from an emergency's JSON."""
    registry = EventTypeRegistry()
    registry.register_all(EVENT_TYPES)
    member = RadioMember(unit="1001", known=True, name="Boots", scheme="Shopwatch", cameras=("42",))
    event = EventFactory(Clock(), "shopwatch.town")(
        RadioEmergencyRaised.TYPE, RadioEmergencyRaised(member=member, trigger="emergency_call"),
        severity=Severity.CRITICAL, subject=Subject(kind="radio_unit", id="shopwatch.town.1001"),
        location=Location(name="12 High St", camera="42"), summary="-",
    )
    data = EventCodec(registry).to_dict(event)
    prefills = {argument.name: argument.prefill
                for spec in plugin.hub_register_adapter_types()[0].commands for argument in spec.arguments
                if argument.prefill is not None}
    assert prefills == {"unit": "payload.member.unit", "camera": "location.camera"}
    assert {name: _walk(data, path) for name, path in prefills.items()} == {"unit": "1001", "camera": "42"}


@pytest.mark.parametrize(
    ("verb", "offered_on"),
    [
        ("broadcast", {"shopwatch.report.received", "shopwatch.emergency.raised", "shopwatch.line.error"}),
        ("message", {"shopwatch.report.received", "shopwatch.emergency.raised", "shopwatch.emergency.ended"}),
        ("acknowledge", {"shopwatch.report.received", "shopwatch.emergency.raised"}),
        ("end_emergency", {"shopwatch.emergency.raised"}),
    ],
)
def test_each_command_is_offered_on_the_incidents_it_suits(verb, offered_on):
    """applies_to matches exactly the shopwatch topics the command makes sense on."""
    topics = {payload_class.TYPE for payload_class in EVENT_TYPES} | {"shopwatch.emergency.ended"}
    [spec] = [spec for spec in plugin.hub_register_adapter_types()[0].commands if spec.verb == verb]
    matchers = [TopicMatcher(pattern) for pattern in spec.applies_to]
    offered = {topic for topic in topics if any(match(topic) for match in matchers)}
    assert offered_on <= offered
    if verb != "broadcast":
        assert offered == offered_on
