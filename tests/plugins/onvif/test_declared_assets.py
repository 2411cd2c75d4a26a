"""The fleet's declared assets: each configured camera as the running adapter lists it, without asking any."""

from __future__ import annotations

import attrs

from hub.directory import Directory
from plugins.onvif.adapter import declared_assets
from plugins.onvif.plugin import plugin
from tests.plugins.onvif.adapter_fakes import NAME, Harness, camera_config, fleet


def config():
    return fleet({
        "42": camera_config(name="High St / Market Sq", latitude=53.2355, longitude=-1.4212, site="High Street",
                            fibre_node="node-02"),
        "9": camera_config(host="10.1.2.9", name="Low Pavement"),
        "43": camera_config(host="10.1.2.43", enabled=False, fibre_node="node-09"),
    })


def test_every_camera_is_declared_with_its_place_site_and_node_in_natural_order():
    """Cameras 9, 42, 43 (as people count), each with where it is and its fibre node; no presets known yet."""
    assets = declared_assets(config(), "onvif.cameras")
    assert [(a.kind, a.id, a.source, a.state) for a in assets] == [
        ("camera", "9", "onvif.cameras", None), ("camera", "42", "onvif.cameras", None),
        ("camera", "43", "onvif.cameras", "disabled")]
    high_street = assets[1]
    assert (high_street.name, high_street.latitude, high_street.longitude) == ("High St / Market Sq", 53.2355, -1.4212)
    assert high_street.attributes == {"fibre_node": "node-02", "site": "High Street", "ptz": False, "presets": []}


def test_the_declared_cameras_are_what_the_running_adapter_first_lists(captured_logs, hub_bus):
    """Apart from their state (the adapter says connecting once it tries), the entries are the same."""
    harness = Harness(hub_bus, config())
    for camera in harness.cameras.values():
        camera.held.add("GetSystemDateAndTime")
    harness.start()
    running = {a.id: attrs.evolve(a, state=None, state_since=None) for a in harness.directory.list("camera")}
    declared = {a.id: attrs.evolve(a, state=None, state_since=None) for a in declared_assets(config(), NAME)}
    assert running == declared
    harness.stop()


def test_the_adapter_type_offers_them():
    """The onvif adapter type's assets is this function, for hub rules test."""
    (adapter_type,) = plugin.hub_register_adapter_types()
    directory = Directory()
    for asset in adapter_type.assets(config(), "onvif.cameras"):
        directory.put(asset)
    assert directory.get("camera", "42").source == "onvif.cameras"
