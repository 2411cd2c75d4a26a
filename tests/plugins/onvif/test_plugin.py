"""The onvif plugin's hooks: its adapter type with its commands and its events, found through the entry point."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest
from twisted.application.service import IService
from twisted.internet.task import Clock

from hub.events import (
    EventCodec,
    EventFactory,
    EventTypeRegistry,
    Location,
    Severity,
    Subject,
)
from hub.topics import TopicMatcher
from plugins.onvif.adapter import OnvifAdapter
from plugins.onvif.config import OnvifConfig
from plugins.onvif.events import EVENT_TYPES, CameraAlarmStarted, CameraRef
from plugins.onvif.plugin import OnvifPlugin, plugin
from tests.plugins.onvif.adapter_fakes import Harness, fleet


@pytest.fixture
def host(plugin_manager):
    plugin_manager.manager.register(OnvifPlugin(), name="onvif")
    return plugin_manager


def test_the_plugin_offers_the_onvif_adapter_type_with_its_commands(host):
    adapter_type = host.adapter_types()["onvif"]
    assert (adapter_type.config_class, adapter_type.factory) == (OnvifConfig, OnvifAdapter)
    assert [spec.verb for spec in adapter_type.commands] == [
        "goto_preset", "move", "stop", "home", "snapshot", "stream_uri"]
    assert "ONVIF" in adapter_type.description
    assert host.failures == []


def test_the_plugin_registers_every_event_payload(host):
    assert set(EVENT_TYPES) <= set(host.event_types())
    assert host.failures == []


def test_the_installed_entry_point_names_the_plugin_object():
    [point] = [point for point in entry_points(group="hub.plugins") if point.name == "onvif"]
    assert point.value == "plugins.onvif.plugin:plugin"
    assert point.load() is plugin


def test_the_factory_builds_a_service_from_a_context(hub_bus):
    harness = Harness(hub_bus, fleet())
    assert IService.providedBy(OnvifAdapter(harness.context))


def test_every_command_takes_the_camera_prefilled_from_the_incidents_camera_event():
    """location.camera reads the camera number from a motion event's JSON; preset lists come from the
    camera's presets in the directory."""
    registry = EventTypeRegistry()
    registry.register_all(EVENT_TYPES)
    event = EventFactory(Clock(), "onvif.town")(
        "onvif.motion.started", CameraAlarmStarted(camera=CameraRef("42"), kind="motion", topic="tns1:x"),
        severity=Severity.LOW, subject=Subject(kind="camera", id="42"), location=Location(camera="42"), summary="-")
    data = EventCodec(registry).to_dict(event)
    [adapter_type] = plugin.hub_register_adapter_types()
    for spec in adapter_type.commands:
        camera = spec.arguments[0]
        assert (camera.name, camera.kind, camera.prefill) == ("camera", "camera", "location.camera")
        assert data["location"]["camera"] == "42"
        assert any(TopicMatcher(pattern)("onvif.motion.started") for pattern in spec.applies_to)
    [preset] = [argument for argument in adapter_type.commands[0].arguments if argument.name == "preset"]
    assert preset.options_from == "presets"
