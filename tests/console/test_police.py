"""The police link in a real browser, against a real hub process running the police link (with no force at
the other end) and a fixture adapter that writes its records and reports its line (tests/console/police_hub.py):
an auditor's Police link panel with the disclosure log and its CSV, and an operator's status panel showing
the line fault."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.console.conftest import HUB, Console, _free_port, run_hub
from tests.console.police_hub import CRIME_REFERENCE, DISCLOSED_ITEM, REQUEST_ID

POLICE_HUB = Path(__file__).with_name("police_hub.py")
LINK = "police_link.force"


@pytest.fixture(scope="module")
def police_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("police-hub")
    pki = folder / "pki"
    subprocess.run([str(HUB), "pki", "init", str(pki)], check=True, capture_output=True, timeout=60)
    # Nothing listens on the force's port: the link stays down, as with a force that is unreachable.
    config = (
        '[hub]\nname = "Police test room"\ndata_dir = "data"\nshutdown_grace_s = 2\n'
        '[logging]\nlevel = "info"\nformat = "json"\n'
        f'[web]\nlisten = "127.0.0.1:{_free_port()}"\n'
        '[adapters.force]\ntype = "police_link"\n'
        f'url = "wss://127.0.0.1:{_free_port()}/cctv"\n'
        f'client_certificate = "{pki / "hub-client.pem"}"\nclient_key = "{pki / "hub-client.key"}"\n'
        f'ca_certificate = "{pki / "ca.pem"}"\n'
        'force = "Derbyshire Constabulary"\nsender = "cctv@test.example"\n'
        'line_fault_after_s = 3600\n'
        '[adapters.fixture]\ntype = "police_fixture"\n'
        f'link = "{LINK}"\n'
    )
    with run_hub(folder, config, {"olive": "operator", "audrey": "auditor"},
                 command=(sys.executable, str(POLICE_HUB))) as url:
        yield url


def open_console(chromium: Any, url: str, user: str) -> tuple[Console, list[str], Any]:
    context = chromium.new_context(base_url=url, viewport={"width": 1400, "height": 900}, accept_downloads=True)
    context.set_default_timeout(5000)
    page = context.new_page()
    view = Console(page=page)
    page.on("pageerror", lambda error: view.errors.append(str(error)))
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text)
            if "Content Security Policy" in message.text else None)
    view.sign_in(user)
    return view, refused, context


def test_an_auditor_sees_the_police_panel_with_the_disclosure_log_and_its_csv(chromium: Any, police_hub: str) -> None:
    """The panel shows the link, the open request, the hold and the disclosure (its text as text), and its
    Download CSV link gives the log as a file."""
    view, refused, context = open_console(chromium, police_hub, "audrey")
    try:
        view.page.keyboard.press("3")
        panel = view.page.locator("section.plugin-panel[data-plugin=police_link]")
        expect(panel.locator("h3")).to_have_text("Police link")
        expect(panel.locator(f"tr[data-link='{LINK}']")).to_contain_text("Derbyshire Constabulary")
        expect(panel.locator(f"tr[data-request='{REQUEST_ID}']")).to_contain_text("awaiting consent")
        expect(panel.locator("[data-part=holds] tbody tr")).to_contain_text(CRIME_REFERENCE)
        row = panel.locator("[data-part=disclosures] tr[data-disclosure]")
        expect(row).to_have_count(1)
        expect(row).to_contain_text(DISCLOSED_ITEM)
        expect(row).to_contain_text("suspect seen near the <b>market</b>")
        assert panel.locator("[data-part=disclosures] b").count() == 0
        link = panel.get_by_role("link", name="Download CSV")
        expect(link).to_have_attribute("href", "/api/plugins/police_link/disclosures.csv")
        with view.page.expect_download() as download:
            link.click()
        text = Path(download.value.path()).read_text(encoding="utf-8")
        assert text.splitlines()[0].startswith("id,at,link,recipient,what,item")
        assert DISCLOSED_ITEM in text and CRIME_REFERENCE in text
        assert view.errors == [] and refused == []
    finally:
        context.close()


def test_an_operator_sees_a_line_fault_on_the_status_panel_and_no_disclosure_log(chromium: Any, police_hub: str) -> None:
    """A police.link.fault event turns the link's row to "line fault" (bad) live; a loss meanwhile keeps the
    fault; restored turns it "up" (good). The operator's panel has no disclosure log."""
    view, refused, context = open_console(chromium, police_hub, "olive")
    try:
        view.page.keyboard.press("3")
        row = view.page.locator(f"#status-view tr[data-adapter='{LINK}']")
        expect(row).to_be_visible()
        panel = view.page.locator("section.plugin-panel[data-plugin=police_link]")
        expect(panel.locator(f"tr[data-request='{REQUEST_ID}']")).to_be_visible()
        expect(panel.locator("[data-part=disclosures]")).to_have_count(0)

        def report(state: str) -> None:
            status = view.page.evaluate("""async (state) => {
                const session = await (await fetch('/api/session')).json();
                const reply = await fetch('/api/commands', {method: 'POST', headers: {
                    'Content-Type': 'application/json', 'X-CSRF-Token': session.csrf_token},
                    body: JSON.stringify({adapter: 'police_fixture.fixture', verb: 'link_state', arguments: {state}})});
                return reply.status;
            }""", state)
            assert status == 202

        report("fault")
        fault = row.locator(".link-state")
        expect(fault).to_have_text("line fault")
        expect(fault).to_have_class(re.compile(r"\bbad\b"))
        report("lost")
        # The stream is live on loopback: a second is ample for the loss to arrive, and it must not hide the fault.
        view.page.wait_for_timeout(1000)
        expect(fault).to_have_text("line fault")
        report("restored")
        expect(fault).to_have_text("up")
        expect(fault).to_have_class(re.compile(r"\bgood\b"))
        assert view.errors == [] and refused == []
    finally:
        context.close()
