"""The radio scheme in a real browser: a real ``hub run`` with the shopwatch plugin, its simulated base radio
on a pseudo-terminal, and the adapter on the real serial port. An incident that came from the radio offers
the radio's commands, prefilled from the member's report, and shows how each ended."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
from playwright.sync_api import expect

from tests.console.conftest import Console, _free_port, run_hub

HUB = Path(sys.executable).parent / "hub"
APPEARS_S = 10


@pytest.fixture(scope="module")
def radio_room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A hub whose one handset (unit 1001, Boots) reports every second or so; yields the console's URL."""
    folder = tmp_path_factory.mktemp("radio-room")
    port = _free_port()
    config = f"""
[hub]
name = "Radio room"
data_dir = "data"
shutdown_grace_s = 2

[logging]
level = "info"
format = "json"

[web]
listen = "127.0.0.1:{port}"

[[incidents.rules]]
name = "radio"
topics = ["shopwatch.#"]
min_severity = "medium"
join_on = ["subject"]

[simulators.radio]
type = "shopwatch"
link = "radio-link"
period_s = 1
units = {{ "1001" = {{}} }}
status_codes = ["01"]

[adapters.shopwatch]
type = "shopwatch"
port = "radio-link"

[adapters.shopwatch.members."1001"]
name = "Boots"
address = "12 High Street"
cameras = ["42", "43"]

[adapters.shopwatch.status_codes."01"]
meaning = "Shop theft in progress"
severity = "high"
"""
    with run_hub(folder, config, {"olive": "operator"}) as url:
        yield url


@pytest.fixture
def operator(chromium: Any, radio_room: str) -> Iterator[Console]:
    context = chromium.new_context(base_url=radio_room, viewport={"width": 1400, "height": 900})
    context.set_default_timeout(5000)
    page = context.new_page()
    view = Console(page=page)
    page.on("pageerror", lambda error: view.errors.append(str(error)))
    view.sign_in("olive")
    yield view
    context.close()


def test_a_radio_incident_offers_the_radio_commands_prefilled_and_shows_the_delivery(operator: Console) -> None:
    """The member's incident offers broadcast, message and acknowledge; acknowledge names the unit and its
    nearest camera, and ends 'delivered' when the handset's radio confirms it."""
    row = operator.row("Boots")
    expect(row.first).to_be_visible(timeout=APPEARS_S * 1000)
    row.first.click()
    commands = operator.page.locator("#detail details.command")
    expect(commands.locator("summary")).to_contain_text(
        ["Broadcast to the scheme", "Message a unit", "Tell the unit CCTV has it"], timeout=APPEARS_S * 1000
    )
    acknowledge = operator.page.locator("#detail details.command[data-verb=acknowledge]")
    acknowledge.locator("summary").click()
    expect(acknowledge.get_by_label("Unit")).to_have_value("1001")
    expect(acknowledge.get_by_label("Camera (optional)")).to_have_value("42")
    acknowledge.get_by_role("button", name="Tell the unit CCTV has it").click()
    status = acknowledge.locator(".command-status")
    expect(status).to_have_attribute("data-outcome", "delivered", timeout=APPEARS_S * 1000)
    expect(status).to_contain_text("unit 1001 received it")
    # A report joining the incident redraws it; the form keeps the outcome it showed.
    timeline = operator.page.locator("#detail .timeline > li")
    expect(timeline.nth(timeline.count())).to_be_attached(timeout=APPEARS_S * 1000)
    expect(status).to_have_attribute("data-outcome", "delivered")
    assert operator.errors == []


def test_the_status_panel_broadcasts_to_the_scheme(operator: Console) -> None:
    """Without an incident, the status panel broadcasts to every unit; the radio accepts it and it is sent."""
    operator.page.keyboard.press("3")
    broadcast = operator.page.locator(
        "#status-view details.command[data-adapter='shopwatch.shopwatch'][data-verb=broadcast]")
    expect(broadcast).to_have_count(1)
    broadcast.locator("summary").click()
    broadcast.get_by_label("Text").fill("Male, red coat, Market St")
    broadcast.get_by_role("button", name="Broadcast to the scheme").click()
    expect(broadcast.locator(".command-status")).to_have_attribute("data-outcome", "sent", timeout=APPEARS_S * 1000)
    assert operator.errors == []
