"""Adapter commands in a real browser against a real hub process that runs a test radio adapter
(tests/console/radio_hub.py): sent from the status panel without an incident, and from an incident with
its fields prefilled from the incident's newest report, each showing the adapter's outcome."""

from __future__ import annotations

import re
import secrets
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from playwright.sync_api import expect

from tests.console.conftest import Console, _free_port, run_hub

RADIO_HUB = Path(__file__).with_name("radio_hub.py")
USERS = {"olive": "operator", "sam": "supervisor", "audrey": "auditor"}
APPEARS_S = 5


@pytest.fixture(scope="module")
def radio_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A hub (``hub run`` with the test radio plugin) running one console_radio adapter; yields its URL."""
    config = (
        '[hub]\nname = "Radio test room"\ndata_dir = "data"\nshutdown_grace_s = 2\n'
        '[logging]\nlevel = "info"\nformat = "json"\n'
        f'[web]\nlisten = "127.0.0.1:{_free_port()}"\n'
        '[adapters.town]\ntype = "console_radio"\nsite = "Market Place"\n'
    )
    with run_hub(tmp_path_factory.mktemp("radio-hub"), config, USERS, command=(sys.executable, str(RADIO_HUB))) as url:
        yield url


@pytest.fixture
def radio_console(chromium: Any, radio_hub: str) -> Iterator[Callable[[], Console]]:
    contexts = []

    def open_console() -> Console:
        context = chromium.new_context(base_url=radio_hub, viewport={"width": 1400, "height": 900})
        context.set_default_timeout(5000)
        contexts.append(context)
        page = context.new_page()
        opened = Console(page=page)
        page.on("pageerror", lambda error: opened.errors.append(str(error)))
        return opened

    yield open_console
    for context in contexts:
        context.close()


def status_command(view: Console, verb: str) -> Any:
    """The status panel's form for one of the radio's commands, opened."""
    view.page.keyboard.press("3")
    command = view.page.locator(f"#status-view details.command[data-adapter='console_radio.town'][data-verb={verb}]")
    expect(command).to_have_count(1)
    if command.get_attribute("open") is None:
        command.locator("summary").click()
    return command


def send_report(view: Console, unit: str, camera: str, text: str) -> None:
    report = status_command(view, "report")
    report.get_by_label("Unit").fill(unit)
    report.get_by_label("Camera (optional)").fill(camera)
    report.get_by_label("Report text").fill(text)
    report.get_by_role("button", name="Simulate a report").click()
    expect(report.locator(".command-status")).to_have_text("Outcome: sent", timeout=APPEARS_S * 1000)


def test_the_status_panel_sends_a_broadcast_without_an_incident_and_shows_its_outcome(
    radio_console: Callable[[], Console]
) -> None:
    """A supervisor broadcasts from the status panel; the form shows the outcome the adapter published."""
    view = radio_console()
    view.sign_in("sam")
    broadcast = status_command(view, "broadcast")
    expect(broadcast.locator("summary")).to_contain_text("Broadcast to the scheme")
    broadcast.get_by_label("Text").fill("Suspect heading north")
    broadcast.get_by_role("button", name="Broadcast to the scheme").click()
    status = broadcast.locator(".command-status")
    expect(status).to_have_text("Outcome: sent: to all units: Suspect heading north", timeout=APPEARS_S * 1000)
    expect(status).to_have_attribute("data-outcome", "sent")
    # The incident-only reply is offered too, with nothing to prefill it from.
    reply = status_command(view, "reply")
    expect(reply.get_by_label("Unit")).to_have_value("")
    assert view.errors == []


def test_a_reply_starts_with_the_unit_and_camera_of_the_incidents_newest_report(
    radio_console: Callable[[], Console]
) -> None:
    """On an incident, the reply's unit and camera come from the newest report; they stay editable."""
    view = radio_console()
    view.sign_in("olive")
    unit = str(1000 + secrets.randbelow(8000))
    text = f"Shoplifter leaving Boots {secrets.token_hex(3)}"
    send_report(view, unit, "7", text)
    send_report(view, unit, "42", f"{text}, now on Market Street")  # joins the same incident (same unit)

    view.page.keyboard.press("1")
    expect(view.row(text)).to_have_count(1)  # one incident holding both reports
    view.row(text).click()
    reply = view.page.locator("#detail details.command[data-verb=reply]")
    reply.locator("summary").click()
    expect(reply.get_by_label("Unit")).to_have_value(unit, timeout=APPEARS_S * 1000)
    expect(reply.get_by_label("Camera on it (optional)")).to_have_value("42", timeout=APPEARS_S * 1000)

    reply.get_by_label("Camera on it (optional)").fill("43")
    reply.get_by_label("Text").fill("CCTV has it")
    reply.get_by_role("button", name="Reply to the unit").click()
    expect(reply.locator(".command-status")).to_have_text(f"Outcome: delivered: unit {unit} has it",
                                                          timeout=APPEARS_S * 1000)
    assert view.errors == []


def test_an_auditor_is_offered_no_commands_on_the_status_panel(radio_console: Callable[[], Console]) -> None:
    """The status panel's commands are for the roles that may act; an auditor sees the adapters only."""
    view = radio_console()
    view.sign_in("audrey")
    view.page.keyboard.press("3")
    expect(view.page.locator("#status-view tr[data-adapter='console_radio.town']")).to_contain_text("running")
    expect(view.page.locator("#status-view details.command")).to_have_count(0)
    assert view.errors == []


def test_an_incident_shows_what_its_event_covers_and_the_adapter_reports_its_own_metrics(
    radio_console: Callable[[], Console]
) -> None:
    """A report whose payload covers cameras 7 and 8 (as a failed fibre node's would) opens an incident
    whose detail counts and lists them; /metrics carries the radio adapter's own counter, labelled with
    the adapter instance."""
    view = radio_console()
    view.sign_in("sam")
    unit = str(1000 + secrets.randbelow(8000))
    text = f"Cabinet power lost {secrets.token_hex(3)}"
    report = status_command(view, "report")
    report.get_by_label("Unit").fill(unit)
    report.get_by_label("Report text").fill(text)
    report.get_by_label("Covers cameras (optional)").fill("7 8")
    report.get_by_role("button", name="Simulate a report").click()
    expect(report.locator(".command-status")).to_have_text("Outcome: sent", timeout=APPEARS_S * 1000)

    view.page.keyboard.press("1")
    view.row(text).click()
    detail = view.page.locator("#detail")
    expect(detail.locator(".facts")).to_contain_text("2 cameras, 0 nodes")
    expect(detail.locator(".detail-covers li")).to_have_text(["Camera 7", "Camera 8"])
    expect(detail.locator(".cameras:not(.covers) li")).to_contain_text(["Camera 7", "Camera 8"])

    metrics = view.page.request.get("/metrics")
    assert metrics.status == 200
    counted = re.search(
        r'^console_radio_reports_total\{site="Market Place",adapter="console_radio\.town"\} (\d+)$',
        metrics.text(), flags=re.MULTILINE)
    assert counted is not None and int(counted.group(1)) >= 1, metrics.text()
    assert "# TYPE console_radio_reports_total counter" in metrics.text()
    assert view.errors == []
