"""The directory: the assets adapters make known, in the order people read them."""

from __future__ import annotations

import pytest

from hub.directory import Asset, Directory


def test_assets_are_listed_by_kind_then_number_as_people_count():
    """Camera 9 comes before camera 10, and each kind lists only its own."""
    directory = Directory()
    for number in ("10", "9", "2a", "100"):
        directory.put(Asset(kind="camera", id=number, source="onvif.town"))
    directory.put(Asset(kind="fibre_node", id="cab-3", source="fibre.core"))
    assert [a.id for a in directory.list("camera")] == ["2a", "9", "10", "100"]
    assert [a.id for a in directory.list("fibre_node")] == ["cab-3"]
    assert len(directory.list()) == 5


def test_a_state_change_keeps_the_rest_of_what_is_known():
    """set_state replaces state and its start time only; an unknown asset gives None."""
    directory = Directory()
    directory.put(Asset(kind="camera", id="42", name="Market Place", latitude=53.2, longitude=-1.4,
                        state="online", attributes={"presets": ["home"]}))
    changed = directory.set_state("camera", "42", "offline", since=1000.0)
    assert changed is not None and directory.get("camera", "42") == changed
    assert (changed.state, changed.state_since, changed.name, changed.attributes) == (
        "offline", 1000.0, "Market Place", {"presets": ["home"]})
    assert directory.set_state("camera", "43", "offline") is None


def test_an_adapter_removed_from_the_config_takes_its_assets_with_it():
    """remove_source forgets one adapter's assets and keeps the others'."""
    directory = Directory()
    directory.put(Asset(kind="camera", id="1", source="onvif.north"))
    directory.put(Asset(kind="camera", id="2", source="onvif.south"))
    directory.remove_source("onvif.north")
    assert [a.id for a in directory.list()] == ["2"]


def test_an_unknown_kind_is_refused_and_json_is_plain():
    """Kinds come from a fixed list; to_json gives plain values for the API."""
    with pytest.raises(ValueError):
        Asset(kind="lamp_post", id="1")
    asset = Asset(kind="site", id="Market Place", latitude=53.2351, longitude=-1.4216)
    assert asset.to_json() == {"kind": "site", "id": "Market Place", "name": None, "source": None,
                               "latitude": 53.2351, "longitude": -1.4216, "state": None,
                               "state_since": None, "attributes": {}}
