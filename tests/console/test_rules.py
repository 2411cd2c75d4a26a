"""The console's Rules view in a real browser, against a real hub process configured with rules like the
demo's (a shop theft by status code with its SOP, a pub emergency that turns a camera and offers the police,
fights at closing time, partner reports) and two maintenance windows, one on all day and one next year: an
operator opens the view by keyboard, reads what each rule matches and does, unfolds an SOP, sees the active
window marked in words and colour, and sees the count of incidents a rule opened grow when the view is
opened again."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from typing import Any

import attrs
import pytest
from playwright.sync_api import expect

from tests.console.conftest import Console, _free_port, post_report, run_hub

RULES = """
[[incidents.rules]]
name = "pub emergency"
topics = ["shopwatch.emergency.raised"]
sources = ["shopwatch.pubwatch"]
category = "pub emergency"
priority = 1
sop = ["Put the pub's camera on the main monitor", "Call the licensee back on the radio", "Send to police if there is violence"]
move_cameras = { preset = "Pub doors", count = 1 }
police = "offer"
escalate_after_s = 60

[[incidents.rules]]
name = "shop theft"
topics = ["shopwatch.report.received"]
sources = ["shopwatch.shopwatch"]
payload = { status_code = "01" }
category = "shop theft"
priority = 2
sop = ["Find the shop on camera", "Follow the suspect"]

[[incidents.rules]]
name = "fights at closing time"
topics = ["shopwatch.report.received"]
payload = { status_code = "10" }
time_of_day = ["20:00-04:00"]
category = "disorder"

[[incidents.rules]]
name = "partner reports"
topics = ["partner.report.received"]
join_on = ["location"]
sop = ["Call the partner back"]

[[incidents.maintenance]]
name = "camera 43 lens cleaning"
daily = "00:00-24:00"
cameras = ["43"]
reason = "Works order WO-2291"

[[incidents.maintenance]]
name = "node-03 splicing"
starts = 2099-06-01T22:00:00Z
ends = 2099-06-02T04:00:00Z
subjects = ["fibre_node:node-03"]
"""


@attrs.frozen
class RulesHub:
    url: str
    key: str

    def report(self, place: str) -> None:
        post_report(self.url, self.key, summary=f"Trouble at {place}", location={"name": place})


@pytest.fixture(scope="module")
def rules_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RulesHub]:
    folder = tmp_path_factory.mktemp("rules-hub")
    key = secrets.token_urlsafe(24)
    config = (
        '[hub]\nname = "Rules test room"\ndata_dir = "data"\nshutdown_grace_s = 2\n'
        '[logging]\nlevel = "info"\nformat = "json"\n'
        f'[web]\nlisten = "127.0.0.1:{_free_port()}"\n'
        '[partners.shops]\nkey = {env = "HUB_RULES_TEST_KEY"}\ndisplay_name = "Shops"\n'
        'rate_per_minute = 600\nburst = 100\n' + RULES
    )
    environ = {**os.environ, "HUB_RULES_TEST_KEY": key}
    with run_hub(folder, config, {"olive": "operator", "audrey": "auditor"}, environ=environ) as url:
        yield RulesHub(url=url, key=key)


@pytest.fixture
def open_console(chromium: Any, rules_hub: RulesHub) -> Iterator[Any]:
    contexts = []

    def make(user: str) -> Console:
        context = chromium.new_context(base_url=rules_hub.url, viewport={"width": 1400, "height": 900})
        context.set_default_timeout(5000)
        contexts.append(context)
        view = Console(page=context.new_page())
        view.page.on("pageerror", lambda error: view.errors.append(str(error)))
        view.sign_in(user)
        return view

    yield make
    for context in contexts:
        context.close()


def test_an_operator_sees_the_rules_in_order_with_what_they_match_and_do(open_console):
    """Key 6 opens the Rules tab: the rules in their order, each with its criteria and actions in words."""
    view = open_console("olive")
    page = view.page
    page.keyboard.press("6")
    expect(page.locator("#rules-view")).to_be_visible()
    expect(page.locator("a.tab[data-view=rules]")).to_have_attribute("aria-current", "page")
    rows = page.locator(".rules-table tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.locator("th")).to_have_text(["pub emergency", "shop theft", "fights at closing time", "partner reports"])
    pub = page.locator(".rules-table tr[data-rule='pub emergency']")
    expect(pub.locator(".rule-matches li")).to_have_text(["topic shopwatch.emergency.raised", "from shopwatch.pubwatch"])
    expect(pub.locator(".rule-does .phrases li")).to_have_text([
        "Opens an incident", "joins by subject within 15 min", "category pub emergency, priority 1",
        'turns 1 camera to "Pub doors" (within 300 m)', 'offers "Send to police"',
        "escalates after 1 min unacknowledged",
    ])
    theft = page.locator(".rules-table tr[data-rule='shop theft']")
    expect(theft.locator(".rule-matches li")).to_contain_text(["status_code is 01"])
    fights = page.locator(".rules-table tr[data-rule='fights at closing time']")
    expect(fights.locator(".rule-matches li")).to_contain_text(["between 20:00-04:00"])
    assert view.errors == []


def test_an_sop_unfolds_from_the_keyboard(open_console):
    """A rule's SOP is folded to its step count; focusing it and pressing Enter lists the steps in order."""
    page = open_console("olive").page
    page.goto("/#rules")
    steps = page.locator(".rules-table tr[data-rule='pub emergency'] .rule-sop")
    summary = steps.locator("summary")
    expect(summary).to_have_text("SOP: 3 steps")
    expect(steps.locator("ol li").first).to_be_hidden()
    summary.focus()
    page.keyboard.press("Enter")
    expect(steps.locator("ol li")).to_have_text([
        "Put the pub's camera on the main monitor", "Call the licensee back on the radio",
        "Send to police if there is violence"])


def test_the_active_maintenance_window_is_marked_in_words_and_colour(open_console):
    """The all-day window reads "Active now" on an amber mark with its reason and what it covers; next year's
    splicing reads "Upcoming", unmarked, with its next stretch."""
    page = open_console("audrey").page
    page.goto("/#rules")
    active = page.locator(".windows li[data-window='camera 43 lens cleaning']")
    expect(active).to_have_attribute("data-state", "active")
    expect(active.locator(".window-state")).to_have_text("Active now")
    expect(active).to_contain_text("covers camera 43")
    expect(active).to_contain_text("Works order WO-2291")
    expect(active).to_contain_text("daily 00:00-24:00 (Europe/London)")
    later = page.locator(".windows li[data-window='node-03 splicing']")
    expect(later.locator(".window-state")).to_have_text("Upcoming")
    expect(later).to_contain_text("covers fibre_node:node-03")
    expect(later.locator(".window-times")).to_contain_text("next: 2099-06-0")
    colour = active.locator(".window-state").evaluate("node => getComputedStyle(node).backgroundColor")
    plain = later.locator(".window-state").evaluate("node => getComputedStyle(node).backgroundColor")
    assert colour == "rgb(227, 179, 65)" and plain != colour
    expect(page.locator("#rules-view [role=status]")).to_contain_text("1 of 2 maintenance windows active")


def test_opening_the_view_again_shows_the_incidents_a_rule_opened_since(open_console, rules_hub):
    """A partner report opens an incident by "partner reports": leaving the view and opening it again counts it."""
    page = open_console("olive").page
    page.goto("/#rules")
    row = page.locator(".rules-table tr[data-rule='partner reports']")
    before = int(row.locator("[data-count=opened]").inner_text())
    rules_hub.report(f"Shop {secrets.token_hex(3)}")
    expect(page.locator("#queue-body tr")).to_have_count(before + 1)  # the queue has it: the engine is done
    page.keyboard.press("1")
    page.keyboard.press("6")
    expect(row.locator("[data-count=opened]")).to_have_text(str(before + 1))
    expect(row.locator("[data-count=acted_on]")).to_have_text(str(before + 1))
    expect(page.locator(".rules-table tr[data-rule='shop theft'] [data-count=opened]")).to_have_text("0")
