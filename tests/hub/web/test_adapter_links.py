"""An adapter that keeps a link to a partner (the police link) says where the link stands in /api/adapters."""

from __future__ import annotations

from typing import Any

import pytest_twisted
from attrs import define


@define
class LinkService:
    link_state: Any


@pytest_twisted.ensureDeferred
async def test_adapters_report_their_link_state_when_their_service_keeps_one(harness_factory: Any) -> None:
    """A service's link_state is the adapter's ``link``; a service without one, or no service, gives null."""
    services = [("radio.town_centre", LinkService("fault")), ("radio.night", None)]
    web = await harness_factory(adapter_services=lambda: services).start()
    try:
        olive = await web.logged_in("olive")
        adapters = {row["name"]: row for row in (await olive.request("GET", "/api/adapters")).json["adapters"]}
        assert adapters["radio.town_centre"]["link"] == "fault"
        assert adapters["radio.night"]["link"] is None
        services[0] = ("radio.town_centre", LinkService(object()))  # not text: not a state
        adapters = {row["name"]: row for row in (await olive.request("GET", "/api/adapters")).json["adapters"]}
        assert adapters["radio.town_centre"]["link"] is None
    finally:
        await web.stop()
