"""An incident's SOP checklist and the police offer in a real browser, against a real hub process whose rule
gives partner reports an SOP and offers the police, with a real police link configured (no force at the
other end): an operator ticks steps (by mouse and by keyboard) and sees who did; a supervisor watching the
same incident sees it live; the one-click "Send to police" on a queue row and in the detail publishes the
police link's command about the incident."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from collections.abc import Iterator
from typing import Any

import attrs
import pytest
from playwright.sync_api import expect

from tests.console.conftest import HUB, Console, _free_port, post_report, run_hub

LINK = "police_link.force"
STEPS = ("Find the shop on camera", "Call the shop back", "Log the outcome")


@attrs.frozen
class SopHub:
    url: str
    key: str

    def report(self, summary: str) -> None:
        post_report(self.url, self.key, summary=summary)


@pytest.fixture(scope="module")
def sop_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SopHub]:
    folder = tmp_path_factory.mktemp("sop-hub")
    pki = folder / "pki"
    subprocess.run([str(HUB), "pki", "init", str(pki)], check=True, capture_output=True, timeout=60)
    key = secrets.token_urlsafe(24)
    steps = ", ".join(json.dumps(step) for step in STEPS)
    config = (
        '[hub]\nname = "SOP test room"\ndata_dir = "data"\nshutdown_grace_s = 2\n'
        '[logging]\nlevel = "info"\nformat = "json"\n'
        f'[web]\nlisten = "127.0.0.1:{_free_port()}"\n'
        '[partners.shops]\nkey = {env = "HUB_SOP_TEST_KEY"}\ndisplay_name = "Shops"\n'
        'rate_per_minute = 600\nburst = 100\n'
        '[[incidents.rules]]\nname = "shop reports"\ntopics = ["partner.report.received"]\n'
        f'category = "theft"\nsop = [{steps}]\npolice = "offer"\n'
        '[adapters.force]\ntype = "police_link"\n'
        f'url = "wss://127.0.0.1:{_free_port()}/cctv"\n'
        f'client_certificate = "{pki / "hub-client.pem"}"\nclient_key = "{pki / "hub-client.key"}"\n'
        f'ca_certificate = "{pki / "ca.pem"}"\n'
        'force = "Derbyshire Constabulary"\nsender = "cctv@test.example"\n'
    )
    environ = {**os.environ, "HUB_SOP_TEST_KEY": key}
    with run_hub(folder, config, {"olive": "operator", "sam": "supervisor"}, environ=environ) as url:
        yield SopHub(url=url, key=key)


@pytest.fixture
def open_console(chromium: Any, sop_hub: SopHub) -> Iterator[Any]:
    contexts = []

    def make(user: str) -> tuple[Console, list[str]]:
        context = chromium.new_context(base_url=sop_hub.url, viewport={"width": 1400, "height": 900})
        context.set_default_timeout(5000)
        contexts.append(context)
        view = Console(page=context.new_page())
        view.page.on("pageerror", lambda error: view.errors.append(str(error)))
        refused: list[str] = []
        view.page.on("console", lambda message: refused.append(message.text)
                     if "Content Security Policy" in message.text else None)
        view.sign_in(user)
        return view, refused

    yield make
    for context in contexts:
        context.close()


def incident_id_of(view: Console, summary: str) -> str:
    row = view.row(summary)
    expect(row).to_have_count(1)
    return row.get_attribute("data-id")


def commands_sent(view: Console) -> list[dict[str, Any]]:
    answer = view.page.request.get("/api/events?topic=command.police_link.%23&since=0&limit=1000")
    assert answer.status == 200, answer.text()
    return answer.json()["events"]


def test_an_operator_ticks_steps_and_sees_who_did_while_a_supervisor_sees_it_live(open_console, sop_hub):
    """The detail lists the rule's three steps unticked; olive ticks step 2 with the mouse and step 1 with the
    keyboard, and each shows "done by olive"; sam, on the same incident, sees both ticked without reloading,
    and the queue row counts them."""
    summary = f"Shoplifter at Boots {secrets.token_hex(3)}"
    sop_hub.report(summary)
    olive, olive_refused = open_console("olive")
    sam, _ = open_console("sam")
    incident_id = incident_id_of(olive, summary)
    olive.row(summary).click()
    sam.row(summary).click()
    checklist = olive.page.locator("#detail .detail-sop")
    expect(checklist.get_by_role("heading")).to_contain_text("0 of 3 done")
    expect(checklist.locator("li.sop-step label")).to_have_text([f"{n}. {text}" for n, text in enumerate(STEPS, 1)])
    expect(checklist.get_by_role("checkbox")).to_have_count(3)

    checklist.get_by_label("Call the shop back").check()
    step_two = checklist.locator("li[data-step='2']")
    expect(step_two.locator(".sop-by")).to_contain_text("done by olive at")
    expect(step_two.get_by_role("checkbox")).to_be_checked()

    first = checklist.get_by_label("Find the shop on camera")
    first.focus()
    olive.page.keyboard.press("Space")
    expect(checklist.locator("li[data-step='1'] .sop-by")).to_contain_text("done by olive")
    expect(checklist.get_by_role("heading")).to_contain_text("2 of 3 done")

    watching = sam.page.locator("#detail .detail-sop")
    expect(watching.locator("li[data-step='2'] .sop-by")).to_contain_text("done by olive")
    expect(watching.locator("li[data-step='1'] .sop-by")).to_contain_text("done by olive")
    expect(watching.get_by_role("checkbox", name="Log the outcome")).not_to_be_checked()
    expect(sam.row(summary).locator("[data-testid=sop-count]")).to_have_text("SOP 2/3")

    # Unticking by mistake is undone the same way, and the hub has the last word.
    checklist.get_by_label("Call the shop back").uncheck()
    expect(step_two.locator(".sop-by")).to_have_count(0)
    expect(watching.locator("li[data-step='2'] .sop-by")).to_have_count(0)
    detail = olive.page.request.get(f"/api/incidents/{incident_id}").json()
    assert [step["done_by"] for step in detail["incident"]["sop"]] == ["olive", None, None]
    assert [entry["action"] for entry in detail["history"]].count("sop_checked") == 3
    assert olive.errors == [] and sam.errors == [] and olive_refused == []


def test_the_police_offer_is_one_click_on_the_queue_row_and_in_the_detail(open_console, sop_hub):
    """A report the rule offers the police shows "Send to police" on its row; one click publishes the police
    link's send_to_police about that incident, by olive, and the button says it was sent. Another such
    incident's detail has the same button."""
    olive, refused = open_console("olive")
    first = f"Till snatch at Greggs {secrets.token_hex(3)}"
    sop_hub.report(first)
    row_id = incident_id_of(olive, first)
    button = olive.row(first).get_by_role("button", name="Send to police")
    expect(button).to_be_visible()
    button.click()
    expect(olive.row(first).get_by_role("button", name="Send to police: sent")).to_be_disabled()
    # The click was the button's: the row did not open the incident.
    expect(olive.page.locator("#detail article.detail")).to_have_count(0)

    second = f"Abuse at the Co-op {secrets.token_hex(3)}"
    sop_hub.report(second)
    detail_id = incident_id_of(olive, second)
    olive.row(second).click()
    offers = olive.page.locator("#detail [aria-label='Offered by the rules']")
    offers.get_by_role("button", name="Send to police").click()
    expect(offers.locator(".command-status")).not_to_have_text("")
    expect(offers.get_by_role("button", name="Send to police: sent")).to_be_disabled()

    def sent() -> list[tuple[str, str, str, str]]:
        return [(event["incident_id"], event["payload"]["adapter"], event["payload"]["verb"],
                 event["payload"]["requested_by"]) for event in commands_sent(olive)]

    expect_sent = [(row_id, LINK, "send_to_police", "olive"), (detail_id, LINK, "send_to_police", "olive")]
    for _ in range(50):
        if all(item in sent() for item in expect_sent):
            break
        olive.page.wait_for_timeout(100)
    assert all(item in sent() for item in expect_sent), sent()
    assert sum(1 for item in sent() if item[0] == row_id) == 1
    assert olive.errors == [] and refused == []
