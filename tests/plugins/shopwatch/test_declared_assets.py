"""The scheme's declared assets: each member's radio unit as the running adapter lists it, without its radio."""

from __future__ import annotations

import attrs
import structlog
from twisted.internet.task import Clock

from hub.directory import Directory
from plugins.shopwatch.alerts import Alerts
from plugins.shopwatch.config import MemberConfig, ShopwatchConfig
from plugins.shopwatch.members import Members, declared_assets
from plugins.shopwatch.plugin import plugin

SOURCE = "shopwatch.pubwatch"


def config() -> ShopwatchConfig:
    return ShopwatchConfig(port="/dev/ttyUSB0", dialect="fleetsync", scheme="Pubwatch", members={
        "100-1001": MemberConfig(name="The Crown", address="3 Market Place", cameras=("23", "17"),
                                 latitude=53.23508, longitude=-1.42158),
        "100-1002": MemberConfig(name="The Swan"),
    })


def test_every_member_is_declared_with_its_unit_address_and_cameras():
    """The unit's id is the instance's source and the unit; its cameras are the member's, nearest first."""
    crown, swan = declared_assets(config(), SOURCE)
    assert (crown.kind, crown.id, crown.name, crown.source) == ("radio_unit", "shopwatch.pubwatch.100-1001",
                                                                "The Crown", SOURCE)
    assert (crown.latitude, crown.longitude) == (53.23508, -1.42158)
    assert crown.attributes == {"unit": "100-1001", "known": True, "scheme": "Pubwatch",
                                "address": "3 Market Place", "cameras": ["23", "17"]}
    assert swan.id == "shopwatch.pubwatch.100-1002" and swan.attributes["cameras"] == []


def test_the_declared_units_are_what_the_running_adapter_first_lists():
    """The adapter's alerts put the same entries in the directory at start (their time apart)."""
    directory = Directory()
    clock = Clock()
    clock.advance(1_000)
    Alerts(members=Members.from_config(SOURCE, config()), events=None, publish=lambda _event: None,
           directory=directory, clock=clock, log=structlog.get_logger()).start()
    running = [attrs.evolve(a, state_since=None) for a in directory.list("radio_unit")]
    assert running == declared_assets(config(), SOURCE)


def test_the_adapter_type_offers_them():
    """The shopwatch adapter type's assets is this function, for hub rules test."""
    (adapter_type,) = plugin.hub_register_adapter_types()
    assert [a.id for a in adapter_type.assets(config(), SOURCE)] == [
        "shopwatch.pubwatch.100-1001", "shopwatch.pubwatch.100-1002"]
